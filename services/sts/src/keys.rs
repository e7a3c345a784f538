//! The session-token key ring, shared by every replica through the store (global `token-keys:`
//! record, sealed under the master key), cached here and reloaded when a token names a key this
//! replica has not seen.

use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tessera_credentials::{SessionClaims, TokenError, TokenKeyRing};
use tessera_identity::{Env, Error, Result};
use tessera_proto::ErrorCode;
use tessera_store::{Expect, Key, Kind, Namespace, Store, StoreError, Transaction};

const TOKEN_KEYS: Kind = Kind::new("token-keys");
/// The associated data the sealed ring is bound to.
const AAD: &[u8] = b"token-key-ring";
/// How often a replica may reload the ring because of an unknown key id.
const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// The ring's record. It is named after the master key that seals it, so deployments that share a
/// Redis database but not a master key never trip over each other's rings.
fn key(env: &Env) -> Key {
    Key::new(&Namespace::global(), TOKEN_KEYS, env.master_key.key_id())
}

fn internal(what: &str) -> Error {
    tracing::error!(what, "token key ring failure");
    Error::new(ErrorCode::ServiceFailure, "The request processing has failed because of an unknown error.")
}

#[derive(Debug)]
pub(crate) struct TokenKeys {
    ring: RwLock<TokenKeyRing>,
    last_reload: Mutex<Option<Instant>>,
}

impl TokenKeys {
    fn decode(env: &Env, sealed: &[u8]) -> Result<TokenKeyRing> {
        let sealed = std::str::from_utf8(sealed).map_err(|_| internal("the stored ring is not text"))?;
        let bytes = env.master_key.open(sealed, AAD).map_err(|_| internal("the stored ring does not open"))?;
        TokenKeyRing::from_bytes(&bytes).map_err(|_| internal("the stored ring is malformed"))
    }

    /// Reads the ring, creating it if no replica has yet; the first writer wins a race.
    pub(crate) async fn load_or_create<S: Store + ?Sized>(store: &S, env: &Env) -> Result<Self> {
        let ring = match store.get(&key(env)).await? {
            Some(found) => Self::decode(env, &found.value)?,
            None => {
                let now = env.now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let ring = env.random.with(|r| TokenKeyRing::generate(r, now));
                let sealed = env
                    .random
                    .with(|r| env.master_key.seal(&ring.to_bytes(), AAD, r))
                    .map_err(|_| internal("cannot seal the ring"))?;
                let txn = Transaction::new().check(key(env), Expect::Absent).put(key(env), sealed.into_bytes());
                match store.commit(txn).await {
                    Ok(()) => ring,
                    Err(StoreError::Conflict) => {
                        let found = store.get(&key(env)).await?.ok_or_else(|| internal("the ring vanished"))?;
                        Self::decode(env, &found.value)?
                    }
                    Err(error) => return Err(error.into()),
                }
            }
        };
        Ok(Self { ring: RwLock::new(ring), last_reload: Mutex::new(None) })
    }

    pub(crate) fn seal(&self, claims: &SessionClaims, env: &Env) -> Result<String> {
        let ring = self.ring.read().unwrap_or_else(PoisonError::into_inner);
        env.random.with(|r| ring.seal(claims, r)).map_err(|error| {
            Error::new(ErrorCode::PackedPolicyTooLarge, format!("The session is too large to issue: {error}."))
        })
    }

    /// Opens a token; on an unknown key id, reloads the ring from the store (rate-limited) and
    /// tries once more.
    pub(crate) async fn open<S: Store + ?Sized>(
        &self,
        store: &S,
        env: &Env,
        token: &str,
        now: u64,
    ) -> Result<SessionClaims, TokenError> {
        let first = self.ring.read().unwrap_or_else(PoisonError::into_inner).open(token, now);
        match first {
            Err(TokenError::UnknownKey { .. }) if self.may_reload() => {
                if let Ok(Some(found)) = store.get(&key(env)).await
                    && let Ok(ring) = Self::decode(env, &found.value)
                {
                    *self.ring.write().unwrap_or_else(PoisonError::into_inner) = ring;
                }
                self.ring.read().unwrap_or_else(PoisonError::into_inner).open(token, now)
            }
            other => other,
        }
    }

    fn may_reload(&self) -> bool {
        let mut last = self.last_reload.lock().unwrap_or_else(PoisonError::into_inner);
        let due = last.is_none_or(|at| at.elapsed() >= RELOAD_EVERY);
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}
