//! What the console keeps in the store, so every replica shares it: sign-in sessions (by a hash
//! of the cookie's id, never the id itself), the sign-in throttle per account and user name, and
//! the account root's console password.

use serde::{Deserialize, Serialize};
use tessera_credentials::{RandomSource, hash_password, verify_password};
use tessera_store::iam::{self, AccountRecord, Millis, Record, RootPasswordRecord};
use tessera_store::{Key, Kind, Namespace, Store, StoreError, update};

const SESSION: Kind = Kind::new("console-session");
const THROTTLE: Kind = Kind::new("console-throttle");

/// Failed sign-ins of one account and user name before the next ones are refused unchecked.
pub const SIGN_IN_MAX_FAILURES: u32 = 5;
const FIRST_LOCK_MILLIS: Millis = 60_000;
const MAX_LOCK_MILLIS: Millis = 3_600_000;

/// Where a session is in the sign-in sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Stage {
    /// Not signed in: the session exists for the sign-in form's CSRF token.
    Anonymous,
    /// The password was right; the code of this MFA device is still due.
    Mfa {
        serial: String,
    },
    /// Signed in, but the login profile requires a new password first.
    ChangePassword,
    Active,
}

/// A console session, stored under a hash of its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    pub(crate) stage: Stage,
    pub(crate) account: String,
    /// `None`: the account root (or nobody, while anonymous).
    pub(crate) user: Option<String>,
    pub(crate) csrf: String,
    pub(crate) created: Millis,
    pub(crate) last_seen: Millis,
    /// After "Switch role": the role session the console acts as.
    #[serde(default)]
    pub(crate) role: Option<RoleSession>,
}

/// The role session a console session switched to: the credentials AssumeRole issued (the secret
/// access key is not kept: the console never signs requests, it presents the token to the token
/// service's verification on every page, which checks expiry and revocation).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct RoleSession {
    pub(crate) role_arn: String,
    pub(crate) display_name: String,
    pub(crate) colour: String,
    pub(crate) access_key_id: String,
    pub(crate) session_token: String,
}

impl std::fmt::Debug for RoleSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleSession")
            .field("role_arn", &self.role_arn)
            .field("display_name", &self.display_name)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Record for SessionRecord {
    const KIND: Kind = SESSION;
}

/// Failed sign-ins of one account and user name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ThrottleRecord {
    pub(crate) failures: u32,
    pub(crate) lockouts: u32,
    pub(crate) locked_until: Option<Millis>,
}

impl Record for ThrottleRecord {
    const KIND: Kind = THROTTLE;
}

/// A random identifier or token: 32 bytes, hex.
pub(crate) fn token(random: &mut dyn RandomSource) -> String {
    let mut bytes = [0u8; 32];
    random.fill_bytes(&mut bytes);
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The store key of the session whose cookie holds `id`: a SHA-256 of it, so reading the store
/// gives no usable cookie.
fn session_key(id: &str) -> Key {
    let digest = ring::digest::digest(&ring::digest::SHA256, id.as_bytes());
    Key::new(&Namespace::global(), SESSION, &hex(digest.as_ref()))
}

pub(crate) async fn load_session<S: Store>(store: &S, id: &str) -> Result<Option<SessionRecord>, StoreError> {
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    iam::load(store, &session_key(id)).await
}

pub(crate) async fn save_session<S: Store>(store: &S, id: &str, record: &SessionRecord) -> Result<(), StoreError> {
    iam::put_blind(store, session_key(id), record).await
}

pub(crate) async fn delete_session<S: Store>(store: &S, id: &str) -> Result<(), StoreError> {
    store.commit(tessera_store::Transaction::new().delete(session_key(id))).await
}

/// Every console session in the store (the sessions page), each with the hash it is stored
/// under (which names it for [`delete_session_by_hash`] without being a usable cookie).
pub(crate) async fn all_sessions<S: Store>(store: &S) -> Result<Vec<(String, SessionRecord)>, StoreError> {
    iam::scan_all::<S, SessionRecord>(store, &Namespace::global()).await
}

/// Ends the session stored under `hash` (from [`all_sessions`]).
pub(crate) async fn delete_session_by_hash<S: Store>(store: &S, hash: &str) -> Result<(), StoreError> {
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(());
    }
    store.commit(tessera_store::Transaction::new().delete(Key::new(&Namespace::global(), SESSION, hash))).await
}

fn throttle_key(ns: &Namespace, user: Option<&str>) -> Key {
    match user {
        Some(user) => iam::named(ns, THROTTLE, &format!("user:{user}")),
        None => Key::new(ns, THROTTLE, "root"),
    }
}

/// How long the `lockouts`th lock lasts: a minute, doubling per lock, at most an hour.
pub fn lock_period(lockouts: u32) -> Millis {
    FIRST_LOCK_MILLIS.saturating_mul(1 << lockouts.saturating_sub(1).min(32)).min(MAX_LOCK_MILLIS)
}

/// Counts a sign-in attempt before its password is checked (one transaction with the lock check,
/// as MFA codes are counted): `false` while locked, when the attempt is refused unchecked.
pub(crate) async fn count_attempt<S: Store>(
    store: &S,
    ns: &Namespace,
    user: Option<&str>,
    now: Millis,
) -> Result<bool, StoreError> {
    let key = &throttle_key(ns, user);
    update(store, |tx| async move {
        let mut record: ThrottleRecord = tx.read(key).await?.unwrap_or_default();
        if record.locked_until.is_some_and(|until| until > now) {
            return Ok(false);
        }
        if record.failures >= SIGN_IN_MAX_FAILURES {
            record.failures = 0;
            record.locked_until = None;
        }
        record.failures += 1;
        if record.failures >= SIGN_IN_MAX_FAILURES {
            record.lockouts = record.lockouts.saturating_add(1);
            record.locked_until = Some(now.saturating_add(lock_period(record.lockouts)));
        }
        tx.write(key.clone(), &record);
        Ok(true)
    })
    .await
}

/// A correct password forgets the failures.
pub(crate) async fn clear_attempts<S: Store>(store: &S, ns: &Namespace, user: Option<&str>) -> Result<(), StoreError> {
    store.commit(tessera_store::Transaction::new().delete(throttle_key(ns, user))).await
}

fn root_key(ns: &Namespace) -> Key {
    Key::new(ns, iam::ROOT_PASSWORD, "")
}

/// Whether `password` is the account root's console password (`false` when it has none).
pub(crate) async fn verify_root<S: Store>(store: &S, ns: &Namespace, password: &str) -> Result<bool, StoreError> {
    let Some(record) = iam::load::<S, RootPasswordRecord>(store, &root_key(ns)).await? else { return Ok(false) };
    Ok(verify_password(password, &record.password_hash).unwrap_or(false))
}

/// Why the root password could not be set.
#[derive(Debug)]
pub enum RootPasswordError {
    /// No account id given and no account in the store.
    NoAccount,
    InvalidAccount(String),
    /// Shorter than 8 characters or longer than 128.
    Weak,
    Hash,
    Store(StoreError),
}

impl std::fmt::Display for RootPasswordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoAccount => f.write_str("the store has no account yet: start the server once, or give --account-id"),
            Self::InvalidAccount(id) => write!(f, "`{id}` is not a valid account id"),
            Self::Weak => f.write_str("the root password must have 8 to 128 characters"),
            Self::Hash => f.write_str("cannot hash the password"),
            Self::Store(error) => write!(f, "store: {error}"),
        }
    }
}

impl std::error::Error for RootPasswordError {}

/// Sets the account root's console password (`tessera admin set-root-password`), for `account`
/// or the store's first account; returns the account id. With `only_if_unset`, an existing
/// password stays (a first start's password).
pub async fn set_root_password<S: Store>(
    store: &S,
    account: Option<&str>,
    password: &str,
    random: &mut (dyn RandomSource + Send),
    now: Millis,
    only_if_unset: bool,
) -> Result<(String, bool), RootPasswordError> {
    let length = password.chars().count();
    if !(8..=128).contains(&length) {
        return Err(RootPasswordError::Weak);
    }
    let id = match account {
        Some(id) => id.to_owned(),
        None => iam::scan::<S, AccountRecord>(store, &Namespace::global(), "", None, 1)
            .await
            .map_err(RootPasswordError::Store)?
            .pop()
            .map(|(_, record)| record.id)
            .ok_or(RootPasswordError::NoAccount)?,
    };
    let ns = Namespace::account(&id).map_err(|_| RootPasswordError::InvalidAccount(id.clone()))?;
    let key = root_key(&ns);
    if only_if_unset
        && iam::load::<S, RootPasswordRecord>(store, &key).await.map_err(RootPasswordError::Store)?.is_some()
    {
        return Ok((id, false));
    }
    let password_hash = hash_password(password, random).map_err(|_| RootPasswordError::Hash)?;
    let record = RootPasswordRecord { password_hash, password_last_changed: now };
    iam::put_blind(store, key, &record).await.map_err(RootPasswordError::Store)?;
    Ok((id, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_double_up_to_an_hour() {
        assert_eq!(lock_period(1), 60_000);
        assert_eq!(lock_period(2), 120_000);
        assert_eq!(lock_period(40), 3_600_000);
    }
}
