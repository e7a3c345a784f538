//! The store's key-check record: which master key the store's secrets are sealed under, as a MAC
//! of a fixed label under that key (`MasterKey::key_check`), kept in the global namespace.
//!
//! `tessera serve` checks it right after opening the store and loading the key, before it writes
//! anything: a replica started with another key (on a shared Redis) exits with a clear message
//! instead of re-sealing shared secrets (an operator's root key, ...) under a key the other
//! replicas cannot open. The first start records it; two first starts racing agree through an
//! `Expect::Absent` check, so exactly one key wins.
//!
//! During a master-key rotation a server holds a key set (`--previous-master-key-file`): the store
//! may name its current key or a previous one, and `tessera admin rotate-master-key` moves the
//! record to the new key once every secret is sealed under it ([`rotate_to`]). From then on a server
//! holding only the old key refuses to start.

use serde_json::json;
use tessera_credentials::MasterKey;
use tessera_store::{Expect, Key, Kind, Namespace, Store, StoreError, Transaction, update};

const KEY_CHECK: Kind = Kind::new("key-check");

/// The one record (per store: one Redis database, or one embedded store).
pub fn key() -> Key {
    Key::new(&Namespace::global(), KEY_CHECK, "")
}

/// Why the master key was not accepted for this store.
#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    #[error(
        "the master key (key id {ours}) is not the key this store's secrets are sealed under (key id \
         {stored}): every server sharing a store must use the same master key (--master-key-file or \
         TESSERA_MASTER_KEY; during a rotation, the other key as --previous-master-key-file), and \
         once the store's key was rotated only the new key opens it; refusing to start, nothing was \
         written"
    )]
    WrongKey { ours: String, stored: String },
    #[error("the store's key-check record is corrupt ({0}); refusing to start, nothing was written")]
    Corrupt(&'static str),
    #[error("cannot read or record the store's key check: {0}")]
    Store(#[from] StoreError),
}

/// What [`verify_or_record`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    /// The store already named this key.
    Matched,
    /// The store named no key yet; it now names this one.
    Recorded,
    /// The store names a previous key of the key set (this key id): a rotation has yet to run.
    Previous(String),
}

/// Compares the store's key-check value with `master_key`'s or, for a key set, a previous key's
/// (in constant time), recording the current key's when the store has none. Writes nothing else,
/// and nothing at all unless the record is absent.
pub async fn verify_or_record<S: Store + ?Sized>(store: &S, master_key: &MasterKey) -> Result<KeyCheck, KeyCheckError> {
    if let Some(found) = store.get(&key()).await? {
        return compare_set(&found.value, master_key);
    }
    let record = json!({ "key_id": master_key.key_id(), "mac": hex(&master_key.key_check()) });
    let txn = Transaction::new().check(key(), Expect::Absent).put(key(), record.to_string().into_bytes());
    match store.commit(txn).await {
        Ok(()) => Ok(KeyCheck::Recorded),
        // Another first start recorded its key in between: the same rule applies to us.
        Err(StoreError::Conflict) => {
            let found = store.get(&key()).await?.ok_or(KeyCheckError::Corrupt("it vanished after being written"))?;
            compare_set(&found.value, master_key)
        }
        Err(error) => Err(error.into()),
    }
}

/// Which key of the set `master_key` a stored record names: the current one, or a previous one.
pub fn compare_set(stored: &[u8], master_key: &MasterKey) -> Result<KeyCheck, KeyCheckError> {
    let wrong = match compare(stored, master_key) {
        Ok(()) => return Ok(KeyCheck::Matched),
        Err(wrong @ KeyCheckError::WrongKey { .. }) => wrong,
        Err(other) => return Err(other),
    };
    for previous in master_key.previous() {
        if compare(stored, previous).is_ok() {
            return Ok(KeyCheck::Previous(previous.key_id().to_owned()));
        }
    }
    Err(wrong)
}

/// Makes the store's record name `master_key`'s current key, when it names the current key or a
/// previous one of the set (a rotation's last step, once every secret is sealed under the current
/// key); refuses a store sealed under a key outside the set. Returns what it found before.
pub async fn rotate_to<S: Store + ?Sized>(store: &S, master_key: &MasterKey) -> Result<KeyCheck, KeyCheckError> {
    let record = json!({ "key_id": master_key.key_id(), "mac": hex(&master_key.key_check()) }).to_string();
    let found = update(store, |tx| {
        let record = record.clone();
        async move {
            let found = match tx.get(&key()).await? {
                Some(stored) => compare_set(&stored, master_key)?,
                None => KeyCheck::Recorded,
            };
            if found != KeyCheck::Matched {
                tx.put(key(), record.into_bytes());
            }
            Ok::<_, KeyCheckError>(found)
        }
    })
    .await?;
    Ok(found)
}

/// Whether a key-check record (as stored) names `master_key`.
pub fn compare(stored: &[u8], master_key: &MasterKey) -> Result<(), KeyCheckError> {
    let record: serde_json::Value = serde_json::from_slice(stored).map_err(|_| KeyCheckError::Corrupt("not JSON"))?;
    let mac = record["mac"].as_str().and_then(unhex).ok_or(KeyCheckError::Corrupt("no hex `mac`"))?;
    if master_key.matches_key_check(&mac) {
        return Ok(());
    }
    // The key id is public (every sealed blob carries it), so naming both helps the operator.
    let stored = record["key_id"].as_str().unwrap_or("unknown").chars().take(16).collect();
    Err(KeyCheckError::WrongKey { ours: master_key.key_id().to_owned(), stored })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use tessera_credentials::SeededRandom;
    use tessera_store::MemoryStore;

    use super::*;

    #[tokio::test]
    async fn the_first_key_is_recorded_and_only_it_is_accepted_afterwards() {
        let store = MemoryStore::new();
        let first = MasterKey::generate(&mut SeededRandom::new(1));
        let other = MasterKey::generate(&mut SeededRandom::new(2));
        assert_eq!(verify_or_record(&store, &first).await.unwrap(), KeyCheck::Recorded);
        assert_eq!(verify_or_record(&store, &first).await.unwrap(), KeyCheck::Matched);
        let error = verify_or_record(&store, &other).await.unwrap_err();
        assert!(matches!(&error, KeyCheckError::WrongKey { ours, stored }
            if ours == other.key_id() && stored == first.key_id()));
        let message = error.to_string();
        assert!(message.contains("same master key") && message.contains("nothing was written"), "{message}");
    }

    #[tokio::test]
    async fn a_key_set_accepts_a_store_under_its_previous_key_until_rotated_to_the_new_one() {
        let store = MemoryStore::new();
        let old = MasterKey::generate(&mut SeededRandom::new(1));
        let new = MasterKey::generate(&mut SeededRandom::new(2));
        let set = new.clone().with_previous(old.clone());
        assert_eq!(verify_or_record(&store, &old).await.unwrap(), KeyCheck::Recorded);
        assert_eq!(verify_or_record(&store, &set).await.unwrap(), KeyCheck::Previous(old.key_id().to_owned()));
        assert!(verify_or_record(&store, &new).await.is_err(), "the new key alone before the rotation");
        // Rotating needs the set: the new key alone does not name the store's key.
        assert!(matches!(rotate_to(&store, &new).await, Err(KeyCheckError::WrongKey { .. })));
        assert_eq!(rotate_to(&store, &set).await.unwrap(), KeyCheck::Previous(old.key_id().to_owned()));
        assert_eq!(rotate_to(&store, &set).await.unwrap(), KeyCheck::Matched, "a second run changes nothing");
        assert_eq!(verify_or_record(&store, &new).await.unwrap(), KeyCheck::Matched);
        assert_eq!(verify_or_record(&store, &set).await.unwrap(), KeyCheck::Matched);
        let error = verify_or_record(&store, &old).await.unwrap_err();
        assert!(matches!(&error, KeyCheckError::WrongKey { ours, stored }
            if ours == old.key_id() && stored == new.key_id()));
        assert!(error.to_string().contains("rotated"), "{error}");
    }

    #[tokio::test]
    async fn a_corrupt_record_refuses_every_key() {
        let store = MemoryStore::new();
        store.commit(Transaction::new().put(key(), b"{\"mac\":\"zz\"}".to_vec())).await.unwrap();
        let key = MasterKey::generate(&mut SeededRandom::new(1));
        assert!(matches!(verify_or_record(&store, &key).await, Err(KeyCheckError::Corrupt(_))));
    }
}
