//! Long-term access keys of IAM users (reference §5.3): at most two per user, the secret shown once
//! and kept sealed under the master key, a global index from key id to owner for the gateway, and
//! when each key was last used.
//!
//! The user record is the authority on which keys exist. The global index (`access-key:<id>` in the
//! global namespace) is written before the key and removed after it, so the index never misses a
//! live key; an index entry whose key is not in the user record means nothing.

use tessera_arn::{RandomSource, access_key_id};
use tessera_credentials::Secret;
use tessera_proto::error::ErrorCode;
use tessera_store::iam::{
    self, AccessKeyIndexRecord, AccessKeyRecord, EntityKind, KEY_USED, KeyStatus, KeyUsedRecord, Millis, ROOT_KEYS,
    RootKeysRecord, UserRecord,
};
use tessera_store::{Expect, Key, Store, StoreError, Transaction, update};

use crate::entity::{self, AnyEntity};
use crate::page::{Page, PageRequest, paginate};
use crate::users::access_key_index;
use crate::{Account, Error, Identity, Result};

/// Access keys per user.
pub(crate) const MAX_ACCESS_KEYS_PER_USER: usize = 2;

/// Length of a secret access key.
pub(crate) const SECRET_LEN: usize = 40;

/// The secret's alphabet: 64 characters, so the low 6 bits of a uniform byte pick one uniformly.
const SECRET_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// What `GetAccessKeyLastUsed` reports for a key never used.
pub(crate) const NOT_USED: &str = "N/A";

/// `CreateAccessKey`'s output: the only time the secret leaves the service.
#[derive(Debug, Clone)]
pub struct CreatedAccessKey {
    pub user_name: String,
    pub access_key_id: String,
    pub status: KeyStatus,
    pub secret_access_key: Secret,
    pub create_date: Millis,
}

/// One entry of `ListAccessKeys` (no secret, not even sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyMetadata {
    pub user_name: String,
    pub access_key_id: String,
    pub status: KeyStatus,
    pub create_date: Millis,
}

/// `GetAccessKeyLastUsed`'s output; service and region are `N/A` for a key never used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyLastUsed {
    pub user_name: String,
    pub last_used_date: Option<Millis>,
    pub service_name: String,
    pub region: String,
}

/// Who an access key belongs to, for the gateway to verify a signature with.
#[derive(Debug, Clone)]
pub struct AccessKeyIdentity {
    pub account: Account,
    /// The IAM user owning the key; `None` for a key of the account root. Shared: every caller
    /// a cached key resolves to points at the one record.
    pub user: Option<std::sync::Arc<UserRecord>>,
    pub status: KeyStatus,
    pub secret: Secret,
}

/// AWS's wording for an unknown key.
fn key_not_found(key_id: &str) -> Error {
    Error::no_such_entity(format!("The Access Key with id {key_id} cannot be found"))
}

/// The associated data a key's secret is sealed with, binding the blob to its key id.
pub(crate) fn secret_aad(key_id: &str) -> String {
    format!("access-key:{key_id}")
}

fn key_used(account: &Account, key_id: &str) -> Key {
    Key::new(account.ns(), KEY_USED, key_id)
}

/// A new 40-character secret drawn from `rng`.
fn new_secret(rng: &mut dyn RandomSource) -> Secret {
    random_secret(rng, SECRET_LEN)
}

/// A new secret of `len` characters of the secret alphabet drawn from `rng` (access keys,
/// service-specific credential passwords).
pub(crate) fn random_secret(rng: &mut dyn RandomSource, len: usize) -> Secret {
    let mut bytes = vec![0u8; len];
    rng.fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| char::from(SECRET_ALPHABET[usize::from(b & 0x3f)])).collect();
    bytes.fill(0);
    Secret::new(secret)
}

/// A new long-term key: an `AKIA…` id and its 40-character secret.
pub(crate) fn generate_key(rng: &mut dyn RandomSource) -> (String, Secret) {
    let id = access_key_id(false, &mut &mut *rng);
    (id, new_secret(rng))
}

fn internal(what: &str) -> Error {
    Error::new(
        ErrorCode::ServiceFailure,
        format!("The request processing has failed because of an unknown error ({what})."),
    )
}

impl<S: Store> Identity<S> {
    /// `CreateAccessKey`: a new active key for `user_name`; the third is `LimitExceeded`.
    pub async fn create_access_key(&self, account: &Account, user_name: &str) -> Result<CreatedAccessKey> {
        if user_name.is_empty() {
            return self.create_root_access_key(account).await;
        }
        // Fail fast (and leave no index entry behind) for the common errors; the transaction below
        // checks both again on the record it writes.
        let user = self.get_user(account, user_name).await?;
        if user.access_keys.len() >= MAX_ACCESS_KEYS_PER_USER {
            return Err(Error::quota("AccessKeysPerUser", MAX_ACCESS_KEYS_PER_USER));
        }
        let now = self.env.now_millis();

        // Reserve the key id in the global index. A collision of 80 random bits will not happen,
        // but if it did the guard would refuse it rather than steal another account's key.
        let mut reserved = None;
        for _ in 0..3 {
            let (id, secret, sealed) = self.env.random.with(|r| {
                let (id, secret) = generate_key(r);
                let sealed = self.env.master_key.seal(secret.expose().as_bytes(), secret_aad(&id).as_bytes(), r);
                (id, secret, sealed)
            });
            let sealed = sealed.map_err(|_| internal("cannot seal the secret"))?;
            let index = AccessKeyIndexRecord {
                account: account.id().to_owned(),
                user: user.principal.name.clone(),
                root: false,
            };
            let value = serde_json::to_vec(&index).map_err(|_| internal("cannot encode the key index"))?;
            let txn = Transaction::new().check(access_key_index(&id), Expect::Absent).put(access_key_index(&id), value);
            match self.store.commit(txn).await {
                Ok(()) => {
                    reserved = Some((id, secret, sealed));
                    break;
                }
                Err(StoreError::Conflict) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        let Some((id, secret, sealed)) = reserved else {
            return Err(internal("cannot allocate an access key id"));
        };

        let record =
            AccessKeyRecord { id: id.clone(), status: KeyStatus::Active, create_date: now, sealed_secret: sealed };
        let record = &record;
        let created = update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, user_name).await?;
            if user.access_keys.len() >= MAX_ACCESS_KEYS_PER_USER {
                return Err(Error::quota("AccessKeysPerUser", MAX_ACCESS_KEYS_PER_USER));
            }
            user.access_keys.push(record.clone());
            let name = user.principal.name.clone();
            entity::write(&tx, account, &AnyEntity::User(user));
            tx.bump_epoch(account.ns());
            Ok(name)
        })
        .await;
        let user_name = match created {
            Ok(name) => name,
            Err(error) => {
                self.remove_index(account, &id).await;
                return Err(error);
            }
        };
        self.published(account).await;
        Ok(CreatedAccessKey {
            user_name,
            access_key_id: id,
            status: KeyStatus::Active,
            secret_access_key: secret,
            create_date: now,
        })
    }

    /// `CreateAccessKey` by the account root without `UserName`: a key of the root itself (AWS
    /// documents that these operations manage the root's keys), at most two. Only the gateway
    /// reaches this, for a root caller: `user_name` is empty only then.
    async fn create_root_access_key(&self, account: &Account) -> Result<CreatedAccessKey> {
        let root_keys = Key::new(account.ns(), ROOT_KEYS, "");
        let existing: RootKeysRecord = iam::load(&*self.store, &root_keys).await?.unwrap_or_default();
        if existing.keys.len() >= MAX_ACCESS_KEYS_PER_USER {
            return Err(Error::quota("AccessKeysPerUser", MAX_ACCESS_KEYS_PER_USER));
        }
        let now = self.env.now_millis();
        let (id, secret, sealed) = self.env.random.with(|r| {
            let (id, secret) = generate_key(r);
            let sealed = self.env.master_key.seal(secret.expose().as_bytes(), secret_aad(&id).as_bytes(), r);
            (id, secret, sealed)
        });
        let sealed = sealed.map_err(|_| internal("cannot seal the secret"))?;
        let index = AccessKeyIndexRecord { account: account.id().to_owned(), user: String::new(), root: true };
        let value = serde_json::to_vec(&index).map_err(|_| internal("cannot encode the key index"))?;
        let txn = Transaction::new().check(access_key_index(&id), Expect::Absent).put(access_key_index(&id), value);
        match self.store.commit(txn).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(internal("cannot allocate an access key id")),
            Err(error) => return Err(error.into()),
        }
        let record =
            AccessKeyRecord { id: id.clone(), status: KeyStatus::Active, create_date: now, sealed_secret: sealed };
        let (record, root_keys) = (&record, &root_keys);
        let created = update(&*self.store, |tx| async move {
            let mut keys: RootKeysRecord = tx.read(root_keys).await?.unwrap_or_default();
            if keys.keys.len() >= MAX_ACCESS_KEYS_PER_USER {
                return Err(Error::quota("AccessKeysPerUser", MAX_ACCESS_KEYS_PER_USER));
            }
            keys.keys.push(record.clone());
            tx.write(root_keys.clone(), &keys);
            tx.bump_epoch(account.ns());
            Ok(())
        })
        .await;
        if let Err(error) = created {
            self.remove_root_index(account, &id).await;
            return Err(error);
        }
        self.published(account).await;
        Ok(CreatedAccessKey {
            user_name: String::new(),
            access_key_id: id,
            status: KeyStatus::Active,
            secret_access_key: secret,
            create_date: now,
        })
    }

    /// Removes a root key's index entry if it still names this account's root.
    async fn remove_root_index(&self, account: &Account, key_id: &str) {
        let removed = update(&*self.store, |tx| async move {
            let key = access_key_index(key_id);
            if let Some(index) = tx.read::<AccessKeyIndexRecord>(&key).await?
                && index.account == account.id()
                && index.root
            {
                tx.delete(key);
            }
            Ok::<_, StoreError>(())
        })
        .await;
        if let Err(error) = removed {
            tracing::warn!(%error, access_key_id = key_id, "failed to remove a root access key index entry");
        }
    }

    /// Changes the root's key `key_id` with `change` (false: remove it), one transaction.
    async fn change_root_key(&self, account: &Account, key_id: &str, status: Option<KeyStatus>) -> Result<()> {
        let root_keys = &Key::new(account.ns(), ROOT_KEYS, "");
        update(&*self.store, |tx| async move {
            let mut keys: RootKeysRecord = tx.read(root_keys).await?.unwrap_or_default();
            match status {
                Some(status) => {
                    let key = keys.keys.iter_mut().find(|k| k.id == key_id).ok_or_else(|| key_not_found(key_id))?;
                    key.status = status;
                }
                None => {
                    let before = keys.keys.len();
                    keys.keys.retain(|k| k.id != key_id);
                    if keys.keys.len() == before {
                        return Err(key_not_found(key_id));
                    }
                    tx.delete(key_used(account, key_id));
                }
            }
            tx.write(root_keys.clone(), &keys);
            tx.bump_epoch(account.ns());
            Ok::<_, Error>(())
        })
        .await?;
        if status.is_none() {
            self.remove_root_index(account, key_id).await;
        }
        self.published(account).await;
        Ok(())
    }

    /// Removes a key's index entry if it still names this account. Failures are logged: a stale
    /// entry is harmless (the user record is the authority), only untidy.
    async fn remove_index(&self, account: &Account, key_id: &str) {
        let removed = update(&*self.store, |tx| async move {
            let key = access_key_index(key_id);
            if let Some(index) = tx.read::<AccessKeyIndexRecord>(&key).await?
                && index.account == account.id()
                && !index.root
            {
                tx.delete(key);
            }
            Ok::<_, StoreError>(())
        })
        .await;
        if let Err(error) = removed {
            tracing::warn!(%error, access_key_id = key_id, "failed to remove an access key index entry");
        }
    }

    /// `ListAccessKeys`: the user's keys without their secrets.
    pub async fn list_access_keys(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<AccessKeyMetadata>> {
        if user_name.is_empty() {
            // The root's keys, which have no user name (as AWS answers the root).
            let root: Option<RootKeysRecord> = iam::load(&*self.store, &Key::new(account.ns(), ROOT_KEYS, "")).await?;
            let mut keys: Vec<AccessKeyMetadata> = root
                .map(|r| r.keys)
                .unwrap_or_default()
                .iter()
                .map(|k| AccessKeyMetadata {
                    user_name: String::new(),
                    access_key_id: k.id.clone(),
                    status: k.status,
                    create_date: k.create_date,
                })
                .collect();
            keys.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
            return paginate(keys, page, |k| k.access_key_id.clone());
        }
        let user = self.get_user(account, user_name).await?;
        let mut keys: Vec<AccessKeyMetadata> = user
            .access_keys
            .iter()
            .map(|k| AccessKeyMetadata {
                user_name: user.principal.name.clone(),
                access_key_id: k.id.clone(),
                status: k.status,
                create_date: k.create_date,
            })
            .collect();
        keys.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
        paginate(keys, page, |k| k.access_key_id.clone())
    }

    /// `UpdateAccessKey`: activates or deactivates a key of the user.
    pub async fn update_access_key(
        &self,
        account: &Account,
        user_name: &str,
        key_id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        if user_name.is_empty() {
            return self.change_root_key(account, key_id, Some(status)).await;
        }
        update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, user_name).await?;
            let key = user.access_keys.iter_mut().find(|k| k.id == key_id).ok_or_else(|| key_not_found(key_id))?;
            key.status = status;
            entity::write(&tx, account, &AnyEntity::User(user));
            tx.bump_epoch(account.ns());
            Ok::<_, Error>(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }

    /// `DeleteAccessKey`: removes the key from the user, then its last-used record and index entry.
    pub async fn delete_access_key(&self, account: &Account, user_name: &str, key_id: &str) -> Result<()> {
        if user_name.is_empty() {
            return self.change_root_key(account, key_id, None).await;
        }
        update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, user_name).await?;
            let before = user.access_keys.len();
            user.access_keys.retain(|k| k.id != key_id);
            if user.access_keys.len() == before {
                return Err(key_not_found(key_id));
            }
            entity::write(&tx, account, &AnyEntity::User(user));
            tx.delete(key_used(account, key_id));
            tx.bump_epoch(account.ns());
            Ok::<_, Error>(())
        })
        .await?;
        self.remove_index(account, key_id).await;
        self.published(account).await;
        Ok(())
    }

    /// `GetAccessKeyLastUsed`: the owner of a key of this account (an empty name for the account
    /// root's own keys) and when it was last used.
    pub async fn get_access_key_last_used(&self, account: &Account, key_id: &str) -> Result<AccessKeyLastUsed> {
        let index: Option<AccessKeyIndexRecord> = iam::load(&*self.store, &access_key_index(key_id)).await?;
        // A key of another account is reported as unknown: its existence is not this account's business.
        let index = index.filter(|i| i.account == account.id()).ok_or_else(|| key_not_found(key_id))?;
        // The owner's record is the authority, the root's keys as much as a user's.
        let user_name = if index.root {
            let root: Option<RootKeysRecord> = iam::load(&*self.store, &Key::new(account.ns(), ROOT_KEYS, "")).await?;
            if !root.is_some_and(|r| r.keys.iter().any(|k| k.id == key_id)) {
                return Err(key_not_found(key_id));
            }
            // Empty for the root, as `ListAccessKeys` has it; the gateway words it.
            String::new()
        } else {
            let user: Option<UserRecord> =
                iam::load(&*self.store, &entity::key(account, EntityKind::User, &index.user)).await?;
            let user =
                user.filter(|u| u.access_keys.iter().any(|k| k.id == key_id)).ok_or_else(|| key_not_found(key_id))?;
            user.principal.name
        };
        let used: Option<KeyUsedRecord> = iam::load(&*self.store, &key_used(account, key_id)).await?;
        Ok(match used {
            Some(used) => AccessKeyLastUsed {
                user_name,
                last_used_date: Some(used.date),
                service_name: used.service,
                region: used.region,
            },
            None => AccessKeyLastUsed {
                user_name,
                last_used_date: None,
                service_name: NOT_USED.to_owned(),
                region: NOT_USED.to_owned(),
            },
        })
    }

    /// Records that a key was just used for `service` (`s3`, `iam`, ...) in `region`. A blind write:
    /// it is called per request by the gateway, and the last writer is right by definition.
    pub async fn record_access_key_use(
        &self,
        account: &Account,
        key_id: &str,
        service: &str,
        region: &str,
    ) -> Result<()> {
        let record =
            KeyUsedRecord { date: self.env.now_millis(), service: service.to_owned(), region: region.to_owned() };
        iam::put_blind(&*self.store, key_used(account, key_id), &record).await?;
        Ok(())
    }

    /// The owner and secret of a long-term access key (a user's, or the account root's), for the
    /// gateway to check a signature with; `None` when the key does not exist. Inactive keys are
    /// returned with their status, so the caller chooses the error. The owner's record is the
    /// authority: an index entry whose key is not there is `None`.
    pub async fn authenticate_access_key(&self, key_id: &str) -> Result<Option<AccessKeyIdentity>> {
        let Some(index) = iam::load::<S, AccessKeyIndexRecord>(&*self.store, &access_key_index(key_id)).await? else {
            return Ok(None);
        };
        let Ok(account) = Account::new(&index.account) else {
            tracing::warn!(access_key_id = key_id, "access key index names an invalid account");
            return Ok(None);
        };
        let (user, keys) = if index.root {
            let root: Option<RootKeysRecord> = iam::load(&*self.store, &Key::new(account.ns(), ROOT_KEYS, "")).await?;
            (None, root.map(|r| r.keys).unwrap_or_default())
        } else {
            let user: Option<UserRecord> =
                iam::load(&*self.store, &entity::key(&account, EntityKind::User, &index.user)).await?;
            let Some(user) = user else { return Ok(None) };
            let keys = user.access_keys.clone();
            (Some(user), keys)
        };
        let Some(key) = keys.iter().find(|k| k.id == key_id) else { return Ok(None) };
        let plain = self.env.master_key.open(&key.sealed_secret, secret_aad(key_id).as_bytes()).map_err(|error| {
            tracing::error!(%error, access_key_id = key_id, "cannot open a sealed access key secret");
            internal("cannot open the secret")
        })?;
        let secret = Secret::new(String::from_utf8(plain).map_err(|_| internal("the secret is not text"))?);
        Ok(Some(AccessKeyIdentity { account, user: user.map(std::sync::Arc::new), status: key.status, secret }))
    }
}

#[cfg(test)]
mod tests {
    use tessera_credentials::constant_time_eq;

    use super::*;
    use crate::account::testing::fixture;

    #[tokio::test]
    async fn create_list_and_authenticate() {
        let f = fixture();
        f.user("alice").await;
        let created = f.identity.create_access_key(&f.account, "ALICE").await.unwrap();
        assert_eq!(created.user_name, "alice");
        assert!(created.access_key_id.starts_with("AKIA") && created.access_key_id.len() == 20);
        let secret = created.secret_access_key.expose().to_owned();
        assert_eq!(secret.len(), 40);
        assert!(secret.bytes().all(|b| SECRET_ALPHABET.contains(&b)));

        let listed = f.identity.list_access_keys(&f.account, "alice", &PageRequest::default()).await.unwrap();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].status, KeyStatus::Active);

        let found = f.identity.authenticate_access_key(&created.access_key_id).await.unwrap().expect("key is indexed");
        assert_eq!(found.account, f.account);
        let user = found.user.clone().expect("a user's key");
        assert_eq!(user.principal.name, "alice");
        assert!(constant_time_eq(found.secret.expose().as_bytes(), secret.as_bytes()));

        // Nothing prints the secret, sealed or not.
        let sealed = user.access_keys[0].sealed_secret.clone();
        for shown in [format!("{created:?}"), format!("{found:?}"), format!("{user:?}")] {
            assert!(!shown.contains(&secret), "{shown}");
            assert!(!shown.contains(&sealed), "{shown}");
        }
        assert!(f.identity.authenticate_access_key("AKIAUNKNOWNUNKNOWN00").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_third_key_exceeds_the_quota() {
        let f = fixture();
        f.user("alice").await;
        for _ in 0..2 {
            f.identity.create_access_key(&f.account, "alice").await.unwrap();
        }
        let err = f.identity.create_access_key(&f.account, "alice").await.unwrap_err().into_service_error();
        assert_eq!(err.code, ErrorCode::LimitExceeded);
        assert_eq!(err.message, "Cannot exceed quota for AccessKeysPerUser: 2");
        let err = f.identity.create_access_key(&f.account, "nobody").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NoSuchEntity);
    }

    #[tokio::test]
    async fn update_delete_and_unknown_keys() {
        let f = fixture();
        f.user("alice").await;
        let key = f.identity.create_access_key(&f.account, "alice").await.unwrap().access_key_id;
        f.identity.update_access_key(&f.account, "alice", &key, KeyStatus::Inactive).await.unwrap();
        let found = f.identity.authenticate_access_key(&key).await.unwrap().unwrap();
        assert_eq!(found.status, KeyStatus::Inactive);

        for err in [
            f.identity.update_access_key(&f.account, "alice", "AKIANOPE", KeyStatus::Active).await.unwrap_err(),
            f.identity.delete_access_key(&f.account, "alice", "AKIANOPE").await.unwrap_err(),
            f.identity.get_access_key_last_used(&f.account, "AKIANOPE").await.unwrap_err(),
        ] {
            let err = err.into_service_error();
            assert_eq!(err.code, ErrorCode::NoSuchEntity);
            assert_eq!(err.message, "The Access Key with id AKIANOPE cannot be found");
        }

        f.identity.record_access_key_use(&f.account, &key, "s3", "eu-west-1").await.unwrap();
        f.identity.delete_access_key(&f.account, "alice", &key).await.unwrap();
        assert!(f.identity.authenticate_access_key(&key).await.unwrap().is_none());
        let store = &**f.identity.store();
        assert!(iam::load::<_, AccessKeyIndexRecord>(store, &access_key_index(&key)).await.unwrap().is_none());
        assert!(iam::load::<_, KeyUsedRecord>(store, &key_used(&f.account, &key)).await.unwrap().is_none());
        // The user can be deleted again once the key is gone.
        f.identity.delete_user(&f.account, "alice").await.unwrap();
    }

    #[tokio::test]
    async fn last_used_is_na_until_recorded() {
        let f = fixture();
        f.user("alice").await;
        let key = f.identity.create_access_key(&f.account, "alice").await.unwrap().access_key_id;
        let unused = f.identity.get_access_key_last_used(&f.account, &key).await.unwrap();
        assert_eq!(unused.last_used_date, None);
        assert_eq!((unused.service_name.as_str(), unused.region.as_str()), ("N/A", "N/A"));
        f.identity.record_access_key_use(&f.account, &key, "iam", "us-east-1").await.unwrap();
        let used = f.identity.get_access_key_last_used(&f.account, &key).await.unwrap();
        assert_eq!(used.user_name, "alice");
        assert_eq!(used.last_used_date, Some(crate::account::testing::START_SECS * 1000));
        assert_eq!(used.service_name, "iam");
        // Another account cannot see the key.
        let other = Account::new("210987654321").unwrap();
        assert_eq!(
            f.identity.get_access_key_last_used(&other, &key).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
    }

    #[tokio::test]
    async fn a_stale_index_entry_authenticates_nothing() {
        let f = fixture();
        f.user("alice").await;
        let index = AccessKeyIndexRecord { account: f.account.id().to_owned(), user: "alice".into(), root: false };
        iam::put_blind(&**f.identity.store(), access_key_index("AKIASTALE"), &index).await.unwrap();
        assert!(f.identity.authenticate_access_key("AKIASTALE").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn root_keys_authenticate_without_a_user() {
        let f = fixture();
        let store = &**f.identity.store();
        let (id, secret) = f.identity.env().random.with(|r| generate_key(r));
        let sealed = f.identity.env().random.with(|r| {
            f.identity.env().master_key.seal(secret.expose().as_bytes(), secret_aad(&id).as_bytes(), r).unwrap()
        });
        let key = AccessKeyRecord { id: id.clone(), status: KeyStatus::Active, create_date: 0, sealed_secret: sealed };
        iam::put_blind(store, Key::new(f.account.ns(), ROOT_KEYS, ""), &RootKeysRecord { keys: vec![key] })
            .await
            .unwrap();
        let index = AccessKeyIndexRecord { account: f.account.id().to_owned(), user: String::new(), root: true };
        iam::put_blind(store, access_key_index(&id), &index).await.unwrap();
        let found = f.identity.authenticate_access_key(&id).await.unwrap().expect("the root key is found");
        assert!(found.user.is_none());
        assert!(found.secret.ct_eq(secret.expose().as_bytes()));
        // Cleaning up after a failed user key never touches a root key's entry.
        f.identity.remove_index(&f.account, &id).await;
        assert!(f.identity.authenticate_access_key(&id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn index_cleanup_only_removes_this_accounts_entries() {
        // `create_access_key` calls `remove_index` when the user commit fails after the index
        // entry was written; the entry must go, but never one that names another account.
        let f = fixture();
        let store = &**f.identity.store();
        let mine = AccessKeyIndexRecord { account: f.account.id().to_owned(), user: "alice".into(), root: false };
        let theirs = AccessKeyIndexRecord { account: "210987654321".into(), user: "bob".into(), root: false };
        iam::put_blind(store, access_key_index("AKIAMINE"), &mine).await.unwrap();
        iam::put_blind(store, access_key_index("AKIATHEIRS"), &theirs).await.unwrap();
        f.identity.remove_index(&f.account, "AKIAMINE").await;
        f.identity.remove_index(&f.account, "AKIATHEIRS").await;
        assert!(iam::load::<_, AccessKeyIndexRecord>(store, &access_key_index("AKIAMINE")).await.unwrap().is_none());
        assert_eq!(iam::load(store, &access_key_index("AKIATHEIRS")).await.unwrap(), Some(theirs));
    }
}
