//! The session-token key ring, shared by every replica through the store (global `token-keys:`
//! record, sealed under the master key), cached here and reloaded when a token names a key this
//! replica has not seen.
//!
//! The record is named after the master key that seals it. During a master-key rotation a replica
//! holding the new key (and the old one as previous) carries the ring over: it copies the old
//! key's record, sealed again under the new key, to the new key's name, so tokens sealed by the
//! ring before keep opening on every replica; `tessera admin rotate-master-key` does the same and
//! removes the old record ([`carry_over_token_keys`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use tessera_credentials::{Secret, SessionClaims, TokenError, TokenKeyRing, constant_time_eq};
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

/// The ring's records under the previous master keys of a rotation, if any.
fn previous_keys(env: &Env) -> Vec<Key> {
    env.master_key
        .previous()
        .iter()
        .map(|previous| Key::new(&Namespace::global(), TOKEN_KEYS, previous.key_id()))
        .collect()
}

/// The ring to create when the store holds none under the current master key: the ring of a
/// previous master key when there is one (a rotation), else a new ring.
async fn initial_ring<S: Store + ?Sized>(store: &S, env: &Env) -> Result<TokenKeyRing> {
    for previous in previous_keys(env) {
        if let Some(found) = store.get(&previous).await? {
            return TokenKeys::decode(env, &found.value);
        }
    }
    let now = env.now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Ok(env.random.with(|r| TokenKeyRing::generate(r, now)))
}

/// A master-key rotation's step for the ring: makes sure the ring is stored under the current
/// master key (carried over from a previous key's record when needed), then removes the previous
/// keys' records. Returns whether it found a previous record to remove.
pub async fn carry_over_token_keys<S: Store + ?Sized>(store: &S, env: &Env) -> Result<bool> {
    TokenKeys::load_or_create(store, env).await?;
    let mut removed = false;
    for previous in previous_keys(env) {
        if store.get(&previous).await?.is_some() {
            store.commit(Transaction::new().delete(previous)).await?;
            removed = true;
        }
    }
    Ok(removed)
}

/// Rotates the session-token ring now, from outside a running service (`tessera admin
/// rotate-signing-keys`): a new current key; older keys stay until the last token they sealed
/// expires. Replicas seal under the new key once they reload the ring (on the first token they
/// see under it, or within [`RELOAD_RING_EVERY`]). Returns the new key's id and how many keys the ring holds.
pub async fn rotate_token_keys<S: Store + ?Sized>(store: &S, env: &Env) -> Result<(u32, usize)> {
    let keys = TokenKeys::load_or_create(store, env).await?;
    let id = keys.rotate(store, env, 0).await?;
    let count = keys.ring.read().unwrap_or_else(PoisonError::into_inner).keys().len();
    Ok((id, count))
}

fn internal(what: &str) -> Error {
    tracing::error!(what, "token key ring failure");
    Error::new(ErrorCode::ServiceFailure, "The request processing has failed because of an unknown error.")
}

/// The most verified sessions a replica keeps (each holds its token and claims, a few KB at most).
const VERIFIED_CAPACITY: usize = 10_000;

#[derive(Debug)]
pub(crate) struct TokenKeys {
    ring: RwLock<TokenKeyRing>,
    last_reload: Mutex<Option<Instant>>,
    verified: Verified,
}

/// Sessions this replica has opened, by access key id: the token (compared in constant time) and
/// its claims, so a session's later requests skip opening the token again. A token's claims never
/// change; expiry is checked on every use (and revocation by the caller, as for an opened token).
#[derive(Debug, Default)]
struct Verified {
    sessions: Mutex<HashMap<String, (Secret, SessionClaims)>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// How the verified-session cache is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedStats {
    pub entries: usize,
    pub hits: u64,
    pub misses: u64,
}

impl Verified {
    fn get(&self, access_key_id: &str, token: &str, now: u64) -> Option<Result<SessionClaims, TokenError>> {
        let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let found = sessions
            .get(access_key_id)
            .filter(|(known, _)| constant_time_eq(known.expose().as_bytes(), token.as_bytes()))
            .map(|(_, claims)| claims);
        let Some(claims) = found else {
            drop(sessions);
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        self.hits.fetch_add(1, Ordering::Relaxed);
        if claims.expires_at <= now {
            return Some(Err(TokenError::Expired { expired_at: claims.expires_at }));
        }
        Some(Ok(claims.clone()))
    }

    fn insert(&self, token: &str, claims: &SessionClaims, now: u64) {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if sessions.len() >= VERIFIED_CAPACITY {
            sessions.retain(|_, (_, claims)| claims.expires_at > now);
            if sessions.len() >= VERIFIED_CAPACITY * 9 / 10 {
                // Beyond what expiry frees: start afresh rather than track recency on every hit.
                sessions.clear();
            }
        }
        sessions.insert(claims.access_key_id.clone(), (Secret::new(token.to_owned()), claims.clone()));
    }
}

impl TokenKeys {
    fn decode(env: &Env, sealed: &[u8]) -> Result<TokenKeyRing> {
        let sealed = std::str::from_utf8(sealed).map_err(|_| internal("the stored ring is not text"))?;
        let bytes = env.master_key.open(sealed, AAD).map_err(|_| internal("the stored ring does not open"))?;
        TokenKeyRing::from_bytes(&bytes).map_err(|_| internal("the stored ring is malformed"))
    }

    /// Reads the ring, creating it (or carrying it over from a previous master key's record) if no
    /// replica has yet; the first writer wins a race.
    pub(crate) async fn load_or_create<S: Store + ?Sized>(store: &S, env: &Env) -> Result<Self> {
        let ring = match store.get(&key(env)).await? {
            Some(found) => Self::decode(env, &found.value)?,
            None => {
                let ring = initial_ring(store, env).await?;
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
        Ok(Self { ring: RwLock::new(ring), last_reload: Mutex::new(None), verified: Verified::default() })
    }

    pub(crate) fn seal(&self, claims: &SessionClaims, env: &Env) -> Result<String> {
        let ring = self.ring.read().unwrap_or_else(PoisonError::into_inner);
        env.random.with(|r| ring.seal(claims, r)).map_err(|error| {
            Error::new(ErrorCode::PackedPolicyTooLarge, format!("The session is too large to issue: {error}."))
        })
    }

    /// Opens the token presented with `access_key_id`, from the verified sessions when this
    /// replica opened it before; a token that opens but belongs to another access key is
    /// refused by the caller, and not remembered.
    pub(crate) async fn open_presented<S: Store + ?Sized>(
        &self,
        store: &S,
        env: &Env,
        access_key_id: &str,
        token: &str,
        now: u64,
    ) -> Result<SessionClaims, TokenError> {
        if let Some(known) = self.verified.get(access_key_id, token, now) {
            return known;
        }
        let claims = self.open(store, env, token, now).await?;
        if constant_time_eq(claims.access_key_id.as_bytes(), access_key_id.as_bytes()) {
            self.verified.insert(token, &claims, now);
        }
        Ok(claims)
    }

    pub(crate) fn verified_stats(&self) -> VerifiedStats {
        let entries = self.verified.sessions.lock().unwrap_or_else(PoisonError::into_inner).len();
        let (hits, misses) = (self.verified.hits.load(Ordering::Relaxed), self.verified.misses.load(Ordering::Relaxed));
        VerifiedStats { entries, hits, misses }
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

/// How often a replica reads the ring again, so that it seals under a key another process
/// rotated in (`tessera admin rotate-signing-keys`) within this long.
pub(crate) const RELOAD_RING_EVERY: Duration = Duration::from_secs(60);
/// Every how many reloads the age check below runs (hourly).
const RELOADS_PER_ROTATION_CHECK: u64 = 60;

/// Checks hourly whether the ring's current key is [`ROTATE_AFTER_SECS`] old, and rotates it if so,
/// and reads the ring again every [`RELOAD_RING_EVERY`] in between; ends when the service is
/// dropped. Replicas racing to rotate are serialized by the store, and the age check makes the
/// losers no-ops.
pub(crate) fn rotate_periodically<S: Store>(store: Weak<S>, keys: Weak<TokenKeys>, env: Env) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RELOAD_RING_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for round in 0u64.. {
            tick.tick().await;
            let (Some(store), Some(keys)) = (store.upgrade(), keys.upgrade()) else { return };
            if round % RELOADS_PER_ROTATION_CHECK == 0 {
                if let Err(error) = keys.rotate(&*store, &env, ROTATE_AFTER_SECS).await {
                    tracing::warn!(error = %error.into_service_error(), "token key rotation failed");
                }
            } else if let Ok(Some(found)) = store.get(&key(&env)).await
                && let Ok(ring) = TokenKeys::decode(&env, &found.value)
            {
                *keys.ring.write().unwrap_or_else(PoisonError::into_inner) = ring;
            }
        }
    });
}
