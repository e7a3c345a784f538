//! Tessera as an OIDC issuer: ES256 identity tokens (JWTs) for authenticated callers, the discovery
//! document and the JWKS that third parties verify them with offline.
//!
//! The signing keys are shared by every replica through the store (global `jwt-keys:` record,
//! PKCS#8 sealed under the master key), so any replica's JWKS verifies any replica's tokens.
//!
//! Rotation (`tessera admin rotate-signing-keys`, [`rotate_jwt_keys`]) adds a key that every
//! replica publishes at once (replicas read the keys again every [`REFRESH_EVERY`]) but that signs
//! only [`ACTIVATE_AFTER_SECS`] later, so no relying party meets a token whose key the JWKS it
//! fetched lacks; a key that no longer signs stays published until the last token it signed has
//! expired, then the next rotation prunes it. Like the session-token ring, the record is named
//! after the master key and carried over by a master-key rotation ([`carry_over_jwt_keys`]).

use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tessera_credentials::jwt::{Expectations, Jwks, JwtKeyRing, JwtSigner};
use tessera_credentials::{SessionClaims, TokenError};
use tessera_identity::{Env, Error, Result};
use tessera_proto::ErrorCode;
use tessera_store::{Expect, Key, Kind, Namespace, Store, StoreError, Transaction, update};

use crate::Sts;
use crate::caller::CallerPrincipal;

const JWT_KEYS: Kind = Kind::new("jwt-keys");
const AAD: &[u8] = b"jwt-signing-keys";
/// Token lifetime bounds and default, seconds (as AWS's `GetWebIdentityToken`).
const MIN_LIFETIME: i32 = 60;
const MAX_LIFETIME: i32 = 3600;
const DEFAULT_LIFETIME: i32 = 300;
const MAX_AUDIENCES: usize = 10;
/// The claim that carries a session's own claims, sealed under the master key, in the identity
/// tokens of sessions: only Tessera can read it, and it lets a bearer of the token be decided
/// exactly as the session (its session policies, tags and MFA state), and revoked with it.
const SESSION_CLAIM: &str = "https://tessera.dev/session";
/// The associated data the sealed session is bound to.
const SESSION_AAD: &[u8] = b"identity-token-session";
/// Clock skew tolerated on an identity token's times, seconds.
const LEEWAY_SECS: u64 = 60;

/// How often a replica reads the signing keys again, to publish and use a rotation made elsewhere.
pub const REFRESH_EVERY: Duration = Duration::from_secs(10);
/// A new key is published this long before it signs: every replica refreshes in between.
pub const ACTIVATE_AFTER_SECS: u64 = 3 * REFRESH_EVERY.as_secs();
/// A key stays published this long after it stopped signing: the longest token, the leeway, and
/// replicas that have not refreshed yet.
const KEEP_RETIRED_SECS: u64 = MAX_LIFETIME.unsigned_abs() as u64 + LEEWAY_SECS + 2 * REFRESH_EVERY.as_secs();

#[derive(Serialize, Deserialize)]
struct StoredKeys {
    /// Base64 PKCS#8, newest first.
    keys: Vec<String>,
    /// Per key, the unix second from which it signs (missing: always, as before rotations).
    #[serde(default)]
    signs_from: Vec<u64>,
}

impl StoredKeys {
    fn signs_from(&self, index: usize) -> u64 {
        self.signs_from.get(index).copied().unwrap_or(0)
    }

    /// The key that signs at `now`: the newest whose time has come.
    fn active(&self, now: u64) -> usize {
        (0..self.keys.len()).find(|&i| self.signs_from(i) <= now).unwrap_or(self.keys.len().saturating_sub(1))
    }
}

/// The signing keys as loaded: the ring (current = the active key) and its public half.
struct Loaded {
    keys: JwtKeyRing,
    /// The public half of `keys`, to verify the tokens this issuer minted.
    jwks: Jwks,
}

fn now_secs(env: &Env) -> u64 {
    env.now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn record_key(key_id: &str) -> Key {
    Key::new(&Namespace::global(), JWT_KEYS, key_id)
}

fn open_stored(env: &Env, sealed: &[u8]) -> Result<StoredKeys> {
    let text = std::str::from_utf8(sealed).map_err(|_| internal("stored keys are not text"))?;
    let plain = env.master_key.open(text, AAD).map_err(|_| internal("stored keys do not open"))?;
    serde_json::from_slice(&plain).map_err(|_| internal("stored keys are malformed"))
}

fn seal_stored(env: &Env, stored: &StoredKeys) -> Result<Vec<u8>> {
    let text = serde_json::to_vec(stored).map_err(|_| internal("cannot encode keys"))?;
    let sealed = env.random.with(|r| env.master_key.seal(&text, AAD, r)).map_err(|_| internal("seal"))?;
    Ok(sealed.into_bytes())
}

/// The stored keys, created on the first start, or carried over from a previous master key's
/// record (sealed again under the current key) during a master-key rotation.
async fn read_or_create<S: Store + ?Sized>(store: &S, env: &Env, rng: &ring::rand::SystemRandom) -> Result<StoredKeys> {
    // Named after the sealing master key, like the session-token ring (see keys.rs).
    let key = record_key(env.master_key.key_id());
    if let Some(found) = store.get(&key).await? {
        return open_stored(env, &found.value);
    }
    let mut initial = None;
    for previous in env.master_key.previous() {
        if let Some(found) = store.get(&record_key(previous.key_id())).await? {
            initial = Some(open_stored(env, &found.value)?);
            break;
        }
    }
    let stored = match initial {
        Some(carried) => carried,
        None => {
            let signer = JwtSigner::generate(rng).map_err(|_| internal("cannot generate a signing key"))?;
            StoredKeys { keys: vec![STANDARD.encode(signer.pkcs8())], signs_from: vec![0] }
        }
    };
    let txn = Transaction::new().check(key.clone(), Expect::Absent).put(key.clone(), seal_stored(env, &stored)?);
    match store.commit(txn).await {
        Ok(()) => Ok(stored),
        Err(StoreError::Conflict) => {
            let found = store.get(&key).await?.ok_or_else(|| internal("keys vanished"))?;
            open_stored(env, &found.value)
        }
        Err(error) => Err(error.into()),
    }
}

fn build(stored: &StoredKeys, now: u64, rng: &ring::rand::SystemRandom) -> Result<Loaded> {
    let mut signers = Vec::with_capacity(stored.keys.len());
    for encoded in &stored.keys {
        let pkcs8 = STANDARD.decode(encoded).map_err(|_| internal("stored key is not base64"))?;
        signers.push(JwtSigner::from_pkcs8(&pkcs8, rng).map_err(|_| internal("stored key is invalid"))?);
    }
    if signers.is_empty() {
        return Err(internal("no signing key"));
    }
    let current = signers.remove(stored.active(now));
    let keys = JwtKeyRing::from_parts(current, signers);
    let jwks = serde_json::to_vec(&keys.jwks()).map_err(|_| internal("cannot encode the JWKS"))?;
    let jwks = Jwks::parse(&jwks).map_err(|_| internal("the JWKS does not parse"))?;
    Ok(Loaded { keys, jwks })
}

/// What [`rotate_jwt_keys`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtRotation {
    /// The new key's `kid`.
    pub kid: String,
    /// When it starts signing (unix seconds); it is published from now on.
    pub signs_from: u64,
    /// The keys published now (the JWKS), the new one included.
    pub published: usize,
    /// Keys dropped because every token they signed has expired.
    pub pruned: usize,
}

/// Adds a new signing key (published now, signing [`ACTIVATE_AFTER_SECS`] later) and drops the
/// keys whose every token has expired: `tessera admin rotate-signing-keys`.
pub async fn rotate_jwt_keys<S: Store + ?Sized>(store: &S, env: &Env) -> Result<JwtRotation> {
    let rng = ring::rand::SystemRandom::new();
    read_or_create(store, env, &rng).await?;
    let key = record_key(env.master_key.key_id());
    let now = now_secs(env);
    let signer = JwtSigner::generate(&rng).map_err(|_| internal("cannot generate a signing key"))?;
    let (encoded, kid) = (STANDARD.encode(signer.pkcs8()), signer.kid().to_owned());
    let signs_from = now + ACTIVATE_AFTER_SECS;
    update(store, |tx| {
        let (key, encoded, kid) = (key.clone(), encoded.clone(), kid.clone());
        async move {
            let sealed = tx.get(&key).await?.ok_or_else(|| internal("keys vanished"))?;
            let old = open_stored(env, &sealed)?;
            let active = old.active(now);
            // A key stopped signing when the next newer one started.
            let kept: Vec<usize> = (0..old.keys.len())
                .filter(|&i| i <= active || old.signs_from(i - 1) + KEEP_RETIRED_SECS > now)
                .collect();
            let mut stored = StoredKeys { keys: vec![encoded], signs_from: vec![signs_from] };
            for &i in &kept {
                stored.keys.push(old.keys[i].clone());
                stored.signs_from.push(old.signs_from(i));
            }
            tx.put(key, seal_stored(env, &stored)?);
            let pruned = old.keys.len() - kept.len();
            Ok::<_, Error>(JwtRotation { kid, signs_from, published: stored.keys.len(), pruned })
        }
    })
    .await
}

/// A master-key rotation's step for the signing keys: stores them under the current master key
/// (carried over when needed) and removes the previous keys' records. Returns whether it removed
/// one.
pub async fn carry_over_jwt_keys<S: Store + ?Sized>(store: &S, env: &Env) -> Result<bool> {
    read_or_create(store, env, &ring::rand::SystemRandom::new()).await?;
    let mut removed = false;
    for previous in env.master_key.previous() {
        let key = record_key(previous.key_id());
        if store.get(&key).await?.is_some() {
            store.commit(Transaction::new().delete(key)).await?;
            removed = true;
        }
    }
    Ok(removed)
}

/// Reads the signing keys again every [`REFRESH_EVERY`], so this replica publishes a key another
/// process added and signs with it once its time comes; ends when the issuer is dropped.
pub fn refresh_periodically<S: Store>(store: Weak<S>, issuer: Weak<Issuer>, env: Env) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REFRESH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let (Some(store), Some(issuer)) = (store.upgrade(), issuer.upgrade()) else { return };
            if let Err(error) = issuer.refresh(&*store, &env).await {
                tracing::warn!(error = %error.into_service_error(), "cannot read the identity-token signing keys");
            }
        }
    });
}

fn internal(what: &str) -> Error {
    tracing::error!(what, "issuer key failure");
    Error::new(ErrorCode::ServiceFailure, "The request processing has failed because of an unknown error.")
}

/// The issuer: its URL (the `iss` of its tokens) and signing keys.
pub struct Issuer {
    url: String,
    /// The keys, replaced whole when they are read again.
    loaded: RwLock<Arc<Loaded>>,
    rng: ring::rand::SystemRandom,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let loaded = self.loaded();
        f.debug_struct("Issuer").field("url", &self.url).field("kid", &loaded.keys.current().kid()).finish()
    }
}

impl Issuer {
    /// Loads the signing keys from the store, creating them on the first start.
    pub async fn load_or_create<S: Store + ?Sized>(store: &S, env: &Env, url: &str) -> Result<Self> {
        let rng = ring::rand::SystemRandom::new();
        let stored = read_or_create(store, env, &rng).await?;
        let loaded = build(&stored, now_secs(env), &rng)?;
        Ok(Self { url: url.trim_end_matches('/').to_owned(), loaded: RwLock::new(Arc::new(loaded)), rng })
    }

    /// Reads the signing keys again (a rotation made by another process).
    pub async fn refresh<S: Store + ?Sized>(&self, store: &S, env: &Env) -> Result<()> {
        let stored = read_or_create(store, env, &self.rng).await?;
        let loaded = build(&stored, now_secs(env), &self.rng)?;
        *self.loaded.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded);
        Ok(())
    }

    fn loaded(&self) -> Arc<Loaded> {
        Arc::clone(&self.loaded.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The `kid` of the key that signs now.
    pub fn signing_kid(&self) -> String {
        self.loaded().keys.current().kid().to_owned()
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Value {
        self.loaded().keys.jwks()
    }

    /// The OpenID discovery document.
    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.url,
            "jwks_uri": format!("{}/.well-known/jwks.json", self.url),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "https://tessera.dev/principal"],
        })
    }

    fn sign(&self, claims: &Value) -> Result<String> {
        self.loaded().keys.sign(claims, &self.rng).map_err(|_| internal("cannot sign"))
    }
}

/// The HTTP routes of the issuer: discovery and JWKS.
pub fn routes(issuer: Arc<Issuer>) -> Router {
    let discovery = Arc::clone(&issuer);
    Router::new()
        .route("/.well-known/openid-configuration", get(move || async move { axum::Json(discovery.discovery()) }))
        .route("/.well-known/jwks.json", get(move || async move { axum::Json(issuer.jwks()) }))
}

/// A minted identity token.
#[derive(Debug, Clone)]
pub struct WebIdentityToken {
    pub token: tessera_credentials::Secret,
    /// Unix seconds.
    pub expiration: u64,
}

impl<S: Store> Sts<S> {
    /// Mints an identity token for the caller: `sub` is the caller's ARN, `aud` the audiences, and
    /// a `https://tessera.dev/principal` claim carries the account, user id and session details.
    pub async fn get_web_identity_token(
        &self,
        issuer: &Issuer,
        caller: &CallerPrincipal,
        audiences: &[String],
        duration_seconds: Option<i32>,
    ) -> Result<WebIdentityToken> {
        if audiences.is_empty()
            || audiences.len() > MAX_AUDIENCES
            || audiences.iter().any(|a| a.is_empty() || a.len() > 1024)
        {
            return Err(Error::new(
                ErrorCode::ValidationError,
                "Audience must list 1 to 10 values of 1 to 1024 characters.",
            ));
        }
        let lifetime = crate::assume::duration_between(duration_seconds, DEFAULT_LIFETIME, MIN_LIFETIME, MAX_LIFETIME)?;
        let now = self.now_secs();
        let jti = self.env.random.with(|r| tessera_credentials::new_session_id(r));
        let mut principal = json!({
            "account": caller.account.id(),
            "user_id": caller.user_id,
            "arn": caller.arn,
        });
        if let Some(claims) = caller.session() {
            principal["session_id"] = json!(claims.session_id);
            if let Some(role) = &claims.role_arn {
                principal["role_arn"] = json!(role);
            }
            if let Some(identity) = &claims.source_identity {
                principal["source_identity"] = json!(identity);
            }
        }
        let session = match caller.session() {
            Some(claims) => {
                let sealed = self.env.random.with(|r| self.env.master_key.seal(&claims.encode(), SESSION_AAD, r));
                Some(sealed.map_err(|_| internal("cannot seal the session"))?)
            }
            None => None,
        };
        let aud = if audiences.len() == 1 { json!(audiences[0]) } else { json!(audiences) };
        let claims = json!({
            "iss": issuer.url(),
            "sub": caller.arn,
            "aud": aud,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": jti,
            "https://tessera.dev/principal": principal,
        });
        let mut claims = claims;
        if let Some(sealed) = session {
            claims[SESSION_CLAIM] = json!(sealed);
        }
        Ok(WebIdentityToken {
            token: tessera_credentials::Secret::new(issuer.sign(&claims)?),
            expiration: now + lifetime,
        })
    }
}

impl<S: Store> Sts<S> {
    /// The caller an identity token this issuer minted stands for, when it is presented as a
    /// bearer credential to a service whose audience is `audience`: an IAM user (still the same
    /// user: a deleted and re-created one is another), or a session, decided as that session and
    /// refused once it is revoked or expired. The account root's tokens are refused: they would
    /// carry every permission to whoever holds them.
    pub async fn identity_token_caller(&self, issuer: &Issuer, token: &str, audience: &str) -> Result<CallerPrincipal> {
        let now = self.now_secs();
        let audiences = [audience.to_owned()];
        let expect = Expectations { issuer: &issuer.url, audiences: &audiences, now, leeway_secs: LEEWAY_SECS };
        let verified =
            tessera_credentials::verify(token, &issuer.loaded().jwks, &expect).map_err(|error| match error {
                tessera_credentials::JwtError::Expired { .. } => {
                    Error::new(ErrorCode::ExpiredToken, "The identity token included in the request is expired")
                }
                _ => invalid_identity_token(),
            })?;
        if let Some(sealed) = verified.claims.get(SESSION_CLAIM) {
            let sealed = sealed.as_str().ok_or_else(invalid_identity_token)?;
            let bytes = self.env.master_key.open(sealed, SESSION_AAD).map_err(|_| invalid_identity_token())?;
            let claims = SessionClaims::decode(&bytes).map_err(|_: TokenError| invalid_identity_token())?;
            if claims.expires_at <= now {
                return Err(Error::new(ErrorCode::ExpiredToken, "The session of the identity token is expired"));
            }
            if self.revocations.is_revoked(&claims) {
                return Err(Error::new(
                    ErrorCode::InvalidIdentityToken,
                    "The session of the identity token has been revoked",
                ));
            }
            let caller = CallerPrincipal::of_session(claims, None, None)?;
            if caller.is_root() {
                return Err(invalid_identity_token());
            }
            return Ok(caller);
        }
        let sub = verified.str_claim("sub").ok_or_else(invalid_identity_token)?;
        let user_id = verified
            .claims
            .get("https://tessera.dev/principal")
            .and_then(|p| p.get("user_id"))
            .and_then(serde_json::Value::as_str)
            .ok_or_else(invalid_identity_token)?;
        let arn = tessera_arn::Arn::parse(sub).map_err(|_| invalid_identity_token())?;
        let Ok(tessera_arn::IamEntity::User { name, .. }) = arn.entity() else { return Err(invalid_identity_token()) };
        let account = tessera_identity::Account::new(&arn.account).map_err(|_| invalid_identity_token())?;
        let user = self.identity.get_user(&account, &name).await.map_err(|_| invalid_identity_token())?;
        if !tessera_credentials::constant_time_eq(user.principal.id.as_bytes(), user_id.as_bytes()) {
            return Err(invalid_identity_token());
        }
        Ok(CallerPrincipal {
            account,
            arn: user.principal.arn.clone(),
            user_id: user.principal.id.clone(),
            kind: crate::CallerKind::User(std::sync::Arc::new(user)),
            access_key_id: String::new(),
            source_ip: None,
            session_token: None,
        })
    }
}

fn invalid_identity_token() -> Error {
    Error::new(ErrorCode::InvalidIdentityToken, "The identity token included in the request is invalid")
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::{SystemTime, UNIX_EPOCH};

    use tessera_credentials::{Argon2Params, MasterKey, SeededRandom};
    use tessera_identity::{Clock, Random};
    use tessera_store::MemoryStore;

    use super::*;

    #[derive(Debug)]
    struct At(Mutex<u64>);

    impl Clock for At {
        fn now(&self) -> SystemTime {
            UNIX_EPOCH + Duration::from_secs(*self.0.lock().unwrap())
        }
    }

    fn env(clock: &Arc<At>) -> Env {
        Env {
            clock: Arc::clone(clock) as Arc<dyn Clock>,
            random: Arc::new(Random::new(SeededRandom::new(1))),
            master_key: Arc::new(MasterKey::from_bytes([9; 32])),
            password_params: Argon2Params::FAST_FOR_TESTS,
        }
    }

    fn kids(issuer: &Issuer) -> Vec<String> {
        let jwks = issuer.jwks();
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
    }

    #[tokio::test]
    async fn a_new_key_is_published_before_it_signs_and_an_old_one_kept_until_its_tokens_expired() {
        let t0 = 1_800_000_000;
        let clock = Arc::new(At(Mutex::new(t0)));
        let set = |t: u64| *clock.0.lock().unwrap() = t;
        let (store, env) = (MemoryStore::new(), env(&clock));
        let issuer = Issuer::load_or_create(&store, &env, "https://issuer.test").await.unwrap();
        let first = issuer.signing_kid();
        assert_eq!(kids(&issuer), std::slice::from_ref(&first));

        let rotated = rotate_jwt_keys(&store, &env).await.unwrap();
        assert_eq!((rotated.published, rotated.pruned, rotated.signs_from), (2, 0, t0 + ACTIVATE_AFTER_SECS));
        issuer.refresh(&store, &env).await.unwrap();
        assert_eq!(issuer.signing_kid(), first, "published, not signing yet");
        assert!(kids(&issuer).contains(&rotated.kid) && kids(&issuer).contains(&first));
        set(t0 + ACTIVATE_AFTER_SECS);
        issuer.refresh(&store, &env).await.unwrap();
        assert_eq!(issuer.signing_kid(), rotated.kid, "signing once its time came");

        // The first key stopped signing at t0 + ACTIVATE_AFTER_SECS: kept while its tokens may live.
        set(t0 + ACTIVATE_AFTER_SECS + KEEP_RETIRED_SECS - 1);
        let kept = rotate_jwt_keys(&store, &env).await.unwrap();
        assert_eq!((kept.published, kept.pruned), (3, 0));
        set(t0 + ACTIVATE_AFTER_SECS + KEEP_RETIRED_SECS);
        let pruned = rotate_jwt_keys(&store, &env).await.unwrap();
        assert_eq!((pruned.published, pruned.pruned), (3, 1));
        issuer.refresh(&store, &env).await.unwrap();
        assert!(!kids(&issuer).contains(&first), "{:?}", kids(&issuer));
        assert!(kids(&issuer).contains(&rotated.kid));
    }

    #[tokio::test]
    async fn a_master_key_rotation_carries_the_keys_over_and_removes_the_old_record() {
        let clock = Arc::new(At(Mutex::new(1_800_000_000)));
        let (store, old_env) = (MemoryStore::new(), env(&clock));
        let before = Issuer::load_or_create(&store, &old_env, "https://issuer.test").await.unwrap();
        let old_key = MasterKey::from_bytes([9; 32]);
        let new_env = Env { master_key: Arc::new(MasterKey::from_bytes([10; 32]).with_previous(old_key)), ..old_env };
        let after = Issuer::load_or_create(&store, &new_env, "https://issuer.test").await.unwrap();
        assert_eq!(after.signing_kid(), before.signing_kid());
        assert!(carry_over_jwt_keys(&store, &new_env).await.unwrap());
        assert!(!carry_over_jwt_keys(&store, &new_env).await.unwrap(), "nothing left to remove");
        let new_only = Env { master_key: Arc::new(new_env.master_key.only_current()), ..new_env };
        let alone = Issuer::load_or_create(&store, &new_only, "https://issuer.test").await.unwrap();
        assert_eq!(alone.signing_kid(), before.signing_kid());
    }
}
