//! The session-token key ring, shared by every replica through the store (global `token-keys:`
//! record, sealed under the master key), cached here and reloaded when a token names a key this
//! replica has not seen.

use std::sync::{Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use tessera_credentials::{SessionClaims, TokenError, TokenKeyRing};
use tessera_identity::{Env, Error, Result};
use tessera_proto::ErrorCode;
use tessera_store::{Expect, Key, Kind, Namespace, Store, StoreError, Transaction, update};

use crate::MAX_SESSION_SECS;

/// How long a key signs new tokens before a rotation replaces it.
pub(crate) const ROTATE_AFTER_SECS: u64 = 86_400;
/// Retired keys are kept this long past the longest session, for replicas still sealing with a
/// key they have not yet seen retired.
const PRUNE_MARGIN_SECS: u64 = 3600;

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

    /// Rotates the ring in the store when its current key is `min_age_secs` old or older (0 rotates
    /// unconditionally), pruning keys whose every token has expired; returns the current key id.
    /// Other replicas pick the new key up when they first see a token sealed with it.
    pub(crate) async fn rotate<S: Store + ?Sized>(&self, store: &S, env: &Env, min_age_secs: u64) -> Result<u32> {
        let now = env.now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let record = key(env);
        let ring = update(store, |tx| {
            let record = record.clone();
            async move {
                let sealed = tx.get(&record).await?.ok_or_else(|| internal("the ring vanished"))?;
                let mut ring = Self::decode(env, &sealed)?;
                if now.saturating_sub(ring.current().created_at()) >= min_age_secs {
                    env.random.with(|r| ring.rotate(r, now));
                }
                ring.prune(now, MAX_SESSION_SECS + PRUNE_MARGIN_SECS);
                let sealed = env
                    .random
                    .with(|r| env.master_key.seal(&ring.to_bytes(), AAD, r))
                    .map_err(|_| internal("cannot seal the ring"))?;
                tx.put(record, sealed.into_bytes());
                Ok::<_, Error>(ring)
            }
        })
        .await?;
        let id = ring.current().id();
        *self.ring.write().unwrap_or_else(PoisonError::into_inner) = ring;
        Ok(id)
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

/// Checks hourly whether the ring's current key is [`ROTATE_AFTER_SECS`] old, and rotates it if so;
/// ends when the service is dropped. Replicas racing to rotate are serialized by the store, and
/// the age check makes the losers no-ops.
pub(crate) fn rotate_periodically<S: Store>(store: Weak<S>, keys: Weak<TokenKeys>, env: Env) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let (Some(store), Some(keys)) = (store.upgrade(), keys.upgrade()) else { return };
            if let Err(error) = keys.rotate(&*store, &env, ROTATE_AFTER_SECS).await {
                tracing::warn!(error = %error.into_service_error(), "token key rotation failed");
            }
        }
    });
}
