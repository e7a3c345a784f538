//! Service-specific credentials (`CreateServiceSpecificCredential` and friends): a user name and
//! password for one service (CodeCommit's Git over HTTPS, Amazon Keyspaces, Bedrock API keys), at
//! most two per user and service. The password is shown once and kept as an argon2id hash, like a
//! console password. A global index (`service-credential:<service user name>`) names the owner,
//! so a service can present `ServiceUserName:password` (HTTP Basic) to the authorizer, which
//! answers as the user for that service only ([`Identity::authenticate_service_credential`]).
//!
//! The user record is the authority on which credentials exist; the index is written before the
//! credential and removed after it (as for access keys), so it never misses a live one.

use tessera_arn::{IdPrefix, unique_id};
use tessera_credentials::Secret;
use tessera_proto::error::ErrorCode;
use tessera_store::iam::{self, KeyStatus, Millis, ServiceCredentialIndexRecord, ServiceCredentialRecord, UserRecord};
use tessera_store::{Expect, Key, Namespace, Store, StoreError, Transaction, update};

use crate::access_keys::random_secret;
use crate::entity::{self, AnyEntity};
use crate::login::matches;
use crate::page::{Page, PageRequest, paginate};
use crate::user_credentials::user_credential;
use crate::{Account, Error, Identity, Result};

/// Credentials per user and service.
pub(crate) const MAX_PER_USER_AND_SERVICE: usize = 2;

/// The services that take service-specific credentials.
pub const SUPPORTED_SERVICES: &[&str] =
    &["codecommit.amazonaws.com", "cassandra.amazonaws.com", "bedrock.amazonaws.com", "logs.amazonaws.com"];

/// The services whose credentials are API keys (an alias and a secret, optionally expiring).
const API_KEY_SERVICES: &[&str] = &["bedrock.amazonaws.com", "logs.amazonaws.com"];

fn is_api_key_service(service: &str) -> bool {
    API_KEY_SERVICES.contains(&service)
}

/// Service user names tried for a new credential (`alice-at-…`, `alice+1-at-…`, …): two are
/// enough unless names of renamed users are still held.
const MAX_SERVICE_USER_NAMES: usize = 10;

/// Length of a generated password (AWS's CodeCommit passwords are 44 characters).
const PASSWORD_LEN: usize = 44;

/// A day in milliseconds (`CredentialAgeDays`).
const DAY_MILLIS: Millis = 86_400_000;

/// A credential as the API shows it; `password` only from Create and Reset.
#[derive(Debug, Clone)]
pub struct ServiceCredential {
    pub user_name: String,
    pub id: String,
    pub service_name: String,
    pub service_user_name: String,
    pub status: KeyStatus,
    pub create_date: Millis,
    pub expiration_date: Option<Millis>,
    /// The password (Create, Reset); `Secret` redacts it in `Debug`.
    pub password: Option<Secret>,
}

impl ServiceCredential {
    fn of(user: &UserRecord, c: &ServiceCredentialRecord, password: Option<Secret>) -> Self {
        Self {
            user_name: user.principal.name.clone(),
            id: c.id.clone(),
            service_name: c.service_name.clone(),
            service_user_name: c.service_user_name.clone(),
            status: c.status,
            create_date: c.create_date,
            expiration_date: c.expiration_date,
            password,
        }
    }

    /// Whether AWS shows this credential as an alias and secret (Bedrock and CloudWatch Logs API
    /// keys) rather than a user name and password.
    pub fn is_api_key(&self) -> bool {
        is_api_key_service(&self.service_name)
    }
}

/// Who a verified service-specific credential stands for.
#[derive(Debug, Clone)]
pub struct ServiceCredentialIdentity {
    pub account: Account,
    pub user: UserRecord,
    pub credential_id: String,
}

fn global() -> Namespace {
    Namespace::global()
}

/// The index entry of a service user name for one service: `<service>/<service user name>`.
/// AWS gives a user the same service user name for each service (`alice-at-123456789012` for
/// CodeCommit and for Keyspaces), so the name alone is not unique; with its service it is.
pub(crate) fn index_key(service: &str, service_user_name: &str) -> Key {
    Key::new(&global(), iam::SERVICE_CREDENTIAL, &format!("{service}/{service_user_name}"))
}

fn not_found(id: &str) -> Error {
    Error::no_such_entity(format!("No such credential {id} exists"))
}

user_credential!(ServiceCredentialRecord, service_credentials, not_found);

fn not_supported(service: &str) -> Error {
    Error::new(
        ErrorCode::NotSupportedService,
        format!("Service {service} is not supported for service-specific credentials."),
    )
}

fn internal(what: &str) -> Error {
    Error::new(
        ErrorCode::ServiceFailure,
        format!("The request processing has failed because of an unknown error ({what})."),
    )
}

fn check_service(service: &str) -> Result<()> {
    if SUPPORTED_SERVICES.contains(&service) { Ok(()) } else { Err(not_supported(service)) }
}

impl<S: Store> Identity<S> {
    fn new_password(&self) -> Result<(Secret, String)> {
        let password = self.env.random.with(|r| random_secret(r, PASSWORD_LEN));
        let hash = self.hash(password.expose())?;
        Ok((password, hash))
    }

    /// `CreateServiceSpecificCredential`.
    pub async fn create_service_specific_credential(
        &self,
        account: &Account,
        user_name: &str,
        service_name: &str,
        age_days: Option<i32>,
    ) -> Result<ServiceCredential> {
        check_service(service_name)?;
        if age_days.is_some() && !is_api_key_service(service_name) {
            // AWS: "This field is only valid for Bedrock and CloudWatch Logs API keys".
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "CredentialAgeDays is only valid for Bedrock and CloudWatch Logs API keys, not {service_name}."
                ),
            ));
        }
        if let Some(days) = age_days
            && !(1..=36_600).contains(&days)
        {
            return Err(Error::new(
                ErrorCode::ValidationError,
                format!(
                    "1 validation error detected: Value '{days}' at 'credentialAgeDays' failed to satisfy constraint: Member must have value between 1 and 36600"
                ),
            ));
        }
        let user = self.get_user(account, user_name).await?;
        let existing: Vec<&ServiceCredentialRecord> =
            user.service_credentials.iter().filter(|c| c.service_name == service_name).collect();
        if existing.len() >= MAX_PER_USER_AND_SERVICE {
            return Err(Error::quota("ServiceSpecificCredentialsPerUserPerService", MAX_PER_USER_AND_SERVICE));
        }
        // `alice-at-123456789012`, then `alice+1-at-123456789012` for the second; a name still
        // held by another user's credential (a renamed user keeps its names) is skipped.
        let name = &user.principal.name;
        let candidates = (0..MAX_SERVICE_USER_NAMES).map(|n| match n {
            0 => format!("{name}-at-{}", account.id()),
            n => format!("{name}+{n}-at-{}", account.id()),
        });
        let (password, hash) = self.new_password()?;
        let now = self.env.now_millis();
        let id = self.env.random.with(|r| unique_id(IdPrefix::ContextCredential, &mut &mut *r));
        let index = ServiceCredentialIndexRecord {
            account: account.id().to_owned(),
            user: user.principal.name.clone(),
            id: id.clone(),
        };
        let value = serde_json::to_vec(&index).map_err(|_| internal("cannot encode the index"))?;
        // Claim the service user name in the global index first (a name freed by a deleted
        // credential may be claimed again).
        let mut claimed = None;
        for candidate in candidates {
            if existing.iter().any(|c| c.service_user_name == candidate) {
                continue;
            }
            let key = index_key(service_name, &candidate);
            let expect = match iam::load::<S, ServiceCredentialIndexRecord>(&*self.store, &key).await? {
                Some(stale) if self.index_is_live(&stale).await? => continue,
                Some(_) => Expect::Present,
                None => Expect::Absent,
            };
            match self.store.commit(Transaction::new().check(key.clone(), expect).put(key, value.clone())).await {
                Ok(()) => {
                    claimed = Some(candidate);
                    break;
                }
                Err(StoreError::Conflict) => {
                    return Err(Error::new(
                        ErrorCode::ConcurrentModification,
                        "The credential is being changed; retry.",
                    ));
                }
                Err(error) => return Err(error.into()),
            }
        }
        let service_user_name = claimed.ok_or_else(|| internal("no free service user name"))?;
        let record = ServiceCredentialRecord {
            id,
            service_name: service_name.to_owned(),
            service_user_name,
            password_hash: hash,
            status: KeyStatus::Active,
            create_date: now,
            expiration_date: age_days.map(|d| now + u64::try_from(d).unwrap_or(0) * DAY_MILLIS),
        };
        let record = &record;
        let created = update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, user_name).await?;
            let same = user.service_credentials.iter().filter(|c| c.service_name == record.service_name).count();
            if same >= MAX_PER_USER_AND_SERVICE {
                return Err(Error::quota("ServiceSpecificCredentialsPerUserPerService", MAX_PER_USER_AND_SERVICE));
            }
            user.service_credentials.push(record.clone());
            let shown = ServiceCredential::of(&user, record, None);
            entity::write(&tx, account, &AnyEntity::User(user));
            Ok(shown)
        })
        .await;
        match created {
            Ok(shown) => Ok(ServiceCredential { password: Some(password), ..shown }),
            Err(error) => {
                self.remove_service_index(account, &record.service_name, &record.service_user_name, &record.id).await;
                Err(error)
            }
        }
    }

    /// Whether an index entry names a credential that exists.
    async fn index_is_live(&self, index: &ServiceCredentialIndexRecord) -> Result<bool> {
        let Ok(account) = Account::new(&index.account) else { return Ok(false) };
        let user: Option<UserRecord> =
            iam::load(&*self.store, &entity::key(&account, tessera_store::iam::EntityKind::User, &index.user)).await?;
        Ok(user.is_some_and(|u| u.service_credentials.iter().any(|c| c.id == index.id)))
    }

    /// Removes an index entry if it still names this credential; a stale entry is harmless.
    async fn remove_service_index(&self, account: &Account, service: &str, service_user_name: &str, id: &str) {
        let removed = update(&*self.store, |tx| async move {
            let key = index_key(service, service_user_name);
            if let Some(index) = tx.read::<ServiceCredentialIndexRecord>(&key).await?
                && index.account == account.id()
                && index.id == id
            {
                tx.delete(key);
            }
            Ok::<_, StoreError>(())
        })
        .await;
        if let Err(error) = removed {
            tracing::warn!(%error, credential = id, "failed to remove a service credential index entry");
        }
    }

    /// `ResetServiceSpecificCredential`: a new password for the credential.
    pub async fn reset_service_specific_credential(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
    ) -> Result<ServiceCredential> {
        let (password, hash) = self.new_password()?;
        let hash = &hash;
        let shown = update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, user_name).await?;
            let c = user.service_credentials.iter_mut().find(|c| c.id == id).ok_or_else(|| not_found(id))?;
            c.password_hash = hash.clone();
            let c = c.clone();
            let shown = ServiceCredential::of(&user, &c, None);
            entity::write(&tx, account, &AnyEntity::User(user));
            Ok::<_, Error>(shown)
        })
        .await?;
        Ok(ServiceCredential { password: Some(password), ..shown })
    }

    /// `ListServiceSpecificCredentials`: the user's (or with `all_users`, every user's)
    /// credentials, of one service when `service_name` is given.
    pub async fn list_service_specific_credentials(
        &self,
        account: &Account,
        user_name: &str,
        service_name: Option<&str>,
        all_users: bool,
        page: &PageRequest,
    ) -> Result<Page<ServiceCredential>> {
        if let Some(service) = service_name {
            check_service(service)?;
        }
        let users = if all_users {
            iam::scan_all::<S, UserRecord>(&*self.store, account.ns()).await?.into_iter().map(|(_, u)| u).collect()
        } else {
            vec![self.get_user(account, user_name).await?]
        };
        let mut items: Vec<ServiceCredential> = users
            .iter()
            .flat_map(|u| {
                u.service_credentials
                    .iter()
                    .filter(|c| service_name.is_none_or(|s| c.service_name == s))
                    .map(|c| ServiceCredential::of(u, c, None))
            })
            .collect();
        items.sort_by(|a, b| a.id.cmp(&b.id));
        paginate(items, page, |c| c.id.clone())
    }

    /// `UpdateServiceSpecificCredential`: activates or deactivates a credential.
    pub async fn update_service_specific_credential(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        self.set_user_credential_status::<ServiceCredentialRecord>(account, user_name, id, status).await
    }

    /// `DeleteServiceSpecificCredential`: removes it from the user, then its index entry.
    pub async fn delete_service_specific_credential(&self, account: &Account, user_name: &str, id: &str) -> Result<()> {
        let removed = self.remove_user_credential::<ServiceCredentialRecord>(account, user_name, id).await?;
        self.remove_service_index(account, &removed.service_name, &removed.service_user_name, id).await;
        Ok(())
    }

    /// Points the index entries of a renamed user's credentials at its new name. A hint (the
    /// user record is the authority), so failures are logged.
    pub(crate) async fn rename_service_credential_index(&self, account: &Account, user: &UserRecord) {
        for c in &user.service_credentials {
            let index = ServiceCredentialIndexRecord {
                account: account.id().to_owned(),
                user: user.principal.name.clone(),
                id: c.id.clone(),
            };
            if let Err(error) =
                iam::put_blind(&*self.store, index_key(&c.service_name, &c.service_user_name), &index).await
            {
                tracing::warn!(%error, credential = %c.id, "failed to update the service credential index");
            }
        }
    }

    /// The account, user and index entry a service user name of `service` names, if any.
    async fn service_credential_owner(
        &self,
        service: &str,
        service_user_name: &str,
    ) -> Result<Option<(Account, UserRecord, ServiceCredentialIndexRecord)>> {
        let key = index_key(service, service_user_name);
        let Some(index) = iam::load::<S, ServiceCredentialIndexRecord>(&*self.store, &key).await? else {
            return Ok(None);
        };
        let Ok(account) = Account::new(&index.account) else { return Ok(None) };
        let key = entity::key(&account, tessera_store::iam::EntityKind::User, &index.user);
        let user: Option<UserRecord> = iam::load(&*self.store, &key).await?;
        Ok(user.map(|user| (account, user, index)))
    }

    /// The user a service-specific credential stands for, when `password` is its password, it is
    /// active and unexpired, and it was issued for `service`; `None` otherwise (which of these
    /// failed is not told). The password is compared by argon2's verification, in constant time.
    pub async fn authenticate_service_credential(
        &self,
        service_user_name: &str,
        password: &str,
        service: &str,
    ) -> Result<Option<ServiceCredentialIdentity>> {
        let found = self.service_credential_owner(service, service_user_name).await?;
        let Some((account, user, index)) = found else {
            // As much argon2 work as a real check, so timing does not tell an unknown name.
            let _ = self.hash(password);
            return Ok(None);
        };
        let Some(c) = user.service_credentials.iter().find(|c| c.id == index.id) else {
            let _ = self.hash(password);
            return Ok(None);
        };
        let now = self.env.now_millis();
        let usable = c.service_user_name == service_user_name
            && c.service_name == service
            && c.status == KeyStatus::Active
            && c.expiration_date.is_none_or(|at| now < at);
        // The hash is checked whatever the outcome, so timing does not tell which check failed.
        let good = matches(password, &c.password_hash)?;
        if !(usable && good) {
            return Ok(None);
        }
        let credential_id = c.id.clone();
        Ok(Some(ServiceCredentialIdentity { account, user, credential_id }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::testing::fixture;

    const CODECOMMIT: &str = "codecommit.amazonaws.com";
    const KEYSPACES: &str = "cassandra.amazonaws.com";
    const BEDROCK: &str = "bedrock.amazonaws.com";

    #[tokio::test]
    async fn create_authenticate_reset_delete() {
        let f = fixture();
        f.user("alice").await;
        let created =
            f.identity.create_service_specific_credential(&f.account, "alice", CODECOMMIT, None).await.unwrap();
        assert!(created.id.starts_with("ACCA"));
        assert_eq!(created.service_user_name, format!("alice-at-{}", f.account.id()));
        let password = created.password.clone().unwrap();
        assert_eq!(password.expose().len(), 44);
        assert!(!format!("{created:?}").contains(password.expose()));
        // An expiry is for API keys only.
        let err = f.identity.create_service_specific_credential(&f.account, "alice", CODECOMMIT, Some(1)).await;
        assert_eq!(err.unwrap_err().code(), ErrorCode::InvalidInput);
        let second =
            f.identity.create_service_specific_credential(&f.account, "alice", CODECOMMIT, None).await.unwrap();
        assert_eq!(second.service_user_name, format!("alice+1-at-{}", f.account.id()));
        assert!(second.expiration_date.is_none());
        // Another service gives the same service user name (AWS's `alice-at-<account>` for each).
        let keyspaces =
            f.identity.create_service_specific_credential(&f.account, "alice", KEYSPACES, None).await.unwrap();
        assert_eq!(keyspaces.service_user_name, created.service_user_name);
        let api_key =
            f.identity.create_service_specific_credential(&f.account, "alice", BEDROCK, Some(1)).await.unwrap();
        assert!(api_key.is_api_key() && api_key.expiration_date.is_some());
        let err = f.identity.create_service_specific_credential(&f.account, "alice", CODECOMMIT, None).await;
        assert_eq!(err.unwrap_err().code(), ErrorCode::LimitExceeded);
        let err = f.identity.create_service_specific_credential(&f.account, "alice", "s3.amazonaws.com", None).await;
        assert_eq!(err.unwrap_err().code(), ErrorCode::NotSupportedService);

        let auth = |name: String, password: String, service: &'static str| {
            let identity = f.identity.clone();
            async move { identity.authenticate_service_credential(&name, &password, service).await.unwrap() }
        };
        let found = auth(created.service_user_name.clone(), password.expose().to_owned(), CODECOMMIT).await.unwrap();
        assert_eq!(found.user.principal.name, "alice");
        assert!(
            auth(created.service_user_name.clone(), password.expose().to_owned(), "cassandra.amazonaws.com")
                .await
                .is_none()
        );
        assert!(auth(created.service_user_name.clone(), "wrong".into(), CODECOMMIT).await.is_none());
        let keyspaces_password = keyspaces.password.clone().unwrap().expose().to_owned();
        let found = auth(keyspaces.service_user_name.clone(), keyspaces_password, KEYSPACES).await.unwrap();
        assert_eq!(found.credential_id, keyspaces.id);

        f.identity
            .update_service_specific_credential(&f.account, "alice", &created.id, KeyStatus::Inactive)
            .await
            .unwrap();
        assert!(auth(created.service_user_name.clone(), password.expose().to_owned(), CODECOMMIT).await.is_none());
        f.identity
            .update_service_specific_credential(&f.account, "alice", &created.id, KeyStatus::Active)
            .await
            .unwrap();
        let reset = f.identity.reset_service_specific_credential(&f.account, "alice", &created.id).await.unwrap();
        let new_password = reset.password.unwrap();
        assert!(auth(created.service_user_name.clone(), password.expose().to_owned(), CODECOMMIT).await.is_none());
        assert!(auth(created.service_user_name.clone(), new_password.expose().to_owned(), CODECOMMIT).await.is_some());

        let listed = f
            .identity
            .list_service_specific_credentials(&f.account, "alice", None, false, &PageRequest::default())
            .await
            .unwrap();
        assert_eq!(listed.items.len(), 4);
        assert!(listed.items.iter().all(|c| c.password.is_none()));
        assert_eq!(f.identity.delete_user(&f.account, "alice").await.unwrap_err().code(), ErrorCode::DeleteConflict);
        for c in listed.items {
            f.identity.delete_service_specific_credential(&f.account, "alice", &c.id).await.unwrap();
        }
        assert!(auth(created.service_user_name.clone(), new_password.expose().to_owned(), CODECOMMIT).await.is_none());
        let err = f.identity.delete_service_specific_credential(&f.account, "alice", &created.id).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NoSuchEntity);
        // The freed service user name can be used again.
        f.identity.create_service_specific_credential(&f.account, "alice", CODECOMMIT, None).await.unwrap();
    }
}
