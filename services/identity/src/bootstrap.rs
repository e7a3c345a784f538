//! First start: create the account and its root access key, or find them on later starts.
//!
//! The root key is written once to `root-credentials.json` by the server; here it is only created
//! and sealed. A root key given by the operator (`TESSERA_ROOT_ACCESS_KEY_ID` and
//! `TESSERA_ROOT_SECRET_ACCESS_KEY`) is installed instead, and re-installed on every start, so
//! automation can rely on it.

use tessera_credentials::Secret;
use tessera_store::iam::{self, AccessKeyIndexRecord, AccessKeyRecord, AccountRecord, KeyStatus, RootKeysRecord};
use tessera_store::{Expect, Key, Namespace, Store, Transaction, update};

use crate::{Account, Error, Identity, Result};

/// What [`Identity::bootstrap`] found or made.
#[derive(Debug)]
pub struct Bootstrapped {
    pub account_id: String,
    /// The root access key the operator can use.
    pub root_access_key_id: String,
    /// The new root secret, present only when this start generated it (to be written out once).
    pub new_root_secret: Option<Secret>,
}

/// Root access keys per account, as for users.
const MAX_ROOT_KEYS: usize = 2;

impl<S: Store> Identity<S> {
    /// Finds the account (the one named, else the first registered) or creates it, and makes sure
    /// it has a root key: `given` when the operator supplied one, else a generated one.
    pub async fn bootstrap(&self, account: Option<&Account>, given: Option<(String, Secret)>) -> Result<Bootstrapped> {
        let account = match account {
            Some(account) => account.clone(),
            None => match iam::scan::<S, AccountRecord>(&self.store, &Namespace::global(), "", None, 1).await?.pop() {
                Some((_, record)) => Account::new(&record.id)?,
                None => Account::new(&self.env.random.with(|r| random_account_id(r)))?,
            },
        };
        self.create_account(&account).await?;
        let existing: RootKeysRecord =
            iam::load(&*self.store, &Key::new(account.ns(), iam::ROOT_KEYS, "")).await?.unwrap_or_default();
        let operator_given = given.is_some();
        let (id, secret) = match given {
            Some((id, secret)) => {
                if !id.starts_with("AKIA") || id.len() < 16 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(Error::invalid_input(format!(
                        "`{id}` is not a valid access key id: expected AKIA and 12 or more letters or digits"
                    )));
                }
                if secret.len() < 16 {
                    return Err(Error::invalid_input("the root secret access key must have at least 16 characters"));
                }
                (id, secret)
            }
            None => match existing.keys.iter().find(|k| k.status == KeyStatus::Active) {
                Some(key) => {
                    return Ok(Bootstrapped {
                        account_id: account.id().to_owned(),
                        root_access_key_id: key.id.clone(),
                        new_root_secret: None,
                    });
                }
                None => self.env.random.with(|r| crate::access_keys::generate_key(r)),
            },
        };
        // Only a key made here is written out; the operator already holds theirs.
        let generated = !operator_given;
        let sealed = self
            .env
            .random
            .with(|r| {
                self.env.master_key.seal(secret.expose().as_bytes(), crate::access_keys::secret_aad(&id).as_bytes(), r)
            })
            .map_err(|error| Error::new(tessera_proto::error::ErrorCode::ServiceFailure, error.to_string()))?;
        // Claim the key id globally first (as CreateAccessKey does); a key id that belongs to someone
        // else is refused rather than taken over.
        let index = AccessKeyIndexRecord { account: account.id().to_owned(), user: String::new(), root: true };
        let index_key = crate::users::access_key_index(&id);
        match iam::load::<S, AccessKeyIndexRecord>(&self.store, &index_key).await? {
            Some(current) if current == index => {}
            Some(_) => {
                return Err(Error::already_exists(format!("access key `{id}` already belongs to another principal")));
            }
            None => {
                let txn = Transaction::new().check(index_key.clone(), Expect::Absent);
                self.store.commit(txn.put(index_key, serde_json::to_vec(&index).unwrap_or_default())).await?;
            }
        }
        let now = self.env.now_millis();
        let (id_ref, sealed, account) = (&id, &sealed, &account);
        update(&*self.store, |tx| async move {
            let key = Key::new(account.ns(), iam::ROOT_KEYS, "");
            let mut record: RootKeysRecord = tx.read(&key).await?.unwrap_or_default();
            match record.keys.iter_mut().find(|k| &k.id == id_ref) {
                Some(existing) => {
                    existing.status = KeyStatus::Active;
                    existing.sealed_secret.clone_from(sealed);
                }
                None => {
                    if record.keys.len() >= MAX_ROOT_KEYS {
                        record.keys.remove(0);
                    }
                    record.keys.push(AccessKeyRecord {
                        id: id_ref.clone(),
                        status: KeyStatus::Active,
                        create_date: now,
                        sealed_secret: sealed.clone(),
                    });
                }
            }
            tx.write(key, &record);
            tx.bump_epoch(account.ns());
            Ok::<_, Error>(())
        })
        .await?;
        self.published(account).await;
        Ok(Bootstrapped {
            account_id: account.id().to_owned(),
            root_access_key_id: id,
            new_root_secret: generated.then_some(secret),
        })
    }
}

/// Twelve random digits, not starting with 0.
fn random_account_id(rng: &mut dyn tessera_arn::RandomSource) -> String {
    let mut bytes = [0u8; 12];
    rng.fill_bytes(&mut bytes);
    bytes.iter().enumerate().map(|(i, b)| char::from(b'0' + if i == 0 { 1 + b % 9 } else { b % 10 })).collect()
}
