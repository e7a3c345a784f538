//! Tessera as an OIDC issuer: ES256 identity tokens (JWTs) for authenticated callers, the discovery
//! document and the JWKS that third parties verify them with offline.
//!
//! The signing keys are shared by every replica through the store (global `jwt-keys:` record,
//! PKCS#8 sealed under the master key), so any replica's JWKS verifies any replica's tokens.

use std::sync::Arc;

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
use tessera_store::{Expect, Key, Kind, Namespace, Store, StoreError, Transaction};

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

#[derive(Serialize, Deserialize)]
struct StoredKeys {
    /// Base64 PKCS#8, current first.
    keys: Vec<String>,
}

fn internal(what: &str) -> Error {
    tracing::error!(what, "issuer key failure");
    Error::new(ErrorCode::ServiceFailure, "The request processing has failed because of an unknown error.")
}

/// The issuer: its URL (the `iss` of its tokens) and signing keys.
pub struct Issuer {
    url: String,
    keys: JwtKeyRing,
    /// The public half of `keys`, to verify the tokens this issuer minted.
    jwks: Jwks,
    rng: ring::rand::SystemRandom,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer").field("url", &self.url).field("kid", &self.keys.current().kid()).finish()
    }
}

impl Issuer {
    /// Loads the signing keys from the store, creating them on the first start.
    pub async fn load_or_create<S: Store + ?Sized>(store: &S, env: &Env, url: &str) -> Result<Self> {
        let rng = ring::rand::SystemRandom::new();
        // Named after the sealing master key, like the session-token ring (see keys.rs).
        let key = Key::new(&Namespace::global(), JWT_KEYS, env.master_key.key_id());
        let sealed = match store.get(&key).await? {
            Some(found) => found.value,
            None => {
                let signer = JwtSigner::generate(&rng).map_err(|_| internal("cannot generate a signing key"))?;
                let stored = StoredKeys { keys: vec![STANDARD.encode(signer.pkcs8())] };
                let text = serde_json::to_vec(&stored).map_err(|_| internal("cannot encode keys"))?;
                let sealed = env.random.with(|r| env.master_key.seal(&text, AAD, r)).map_err(|_| internal("seal"))?;
                let txn =
                    Transaction::new().check(key.clone(), Expect::Absent).put(key.clone(), sealed.clone().into_bytes());
                match store.commit(txn).await {
                    Ok(()) => sealed.into_bytes(),
                    Err(StoreError::Conflict) => store.get(&key).await?.ok_or_else(|| internal("keys vanished"))?.value,
                    Err(error) => return Err(error.into()),
                }
            }
        };
        let text = std::str::from_utf8(&sealed).map_err(|_| internal("stored keys are not text"))?;
        let plain = env.master_key.open(text, AAD).map_err(|_| internal("stored keys do not open"))?;
        let stored: StoredKeys = serde_json::from_slice(&plain).map_err(|_| internal("stored keys are malformed"))?;
        let mut signers = Vec::with_capacity(stored.keys.len());
        for encoded in &stored.keys {
            let pkcs8 = STANDARD.decode(encoded).map_err(|_| internal("stored key is not base64"))?;
            signers.push(JwtSigner::from_pkcs8(&pkcs8, &rng).map_err(|_| internal("stored key is invalid"))?);
        }
        let mut signers = signers.into_iter();
        let current = signers.next().ok_or_else(|| internal("no signing key"))?;
        let keys = JwtKeyRing::from_parts(current, signers.collect());
        let jwks = serde_json::to_vec(&keys.jwks()).map_err(|_| internal("cannot encode the JWKS"))?;
        let jwks = Jwks::parse(&jwks).map_err(|_| internal("the JWKS does not parse"))?;
        Ok(Self { url: url.trim_end_matches('/').to_owned(), keys, jwks, rng })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Value {
        self.keys.jwks()
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
        self.keys.sign(claims, &self.rng).map_err(|_| internal("cannot sign"))
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
        let verified = tessera_credentials::verify(token, &issuer.jwks, &expect).map_err(|error| match error {
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
            let caller = CallerPrincipal::of_session(claims, None)?;
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
            kind: crate::CallerKind::User(Box::new(user)),
            access_key_id: String::new(),
            source_ip: None,
        })
    }
}

fn invalid_identity_token() -> Error {
    Error::new(ErrorCode::InvalidIdentityToken, "The identity token included in the request is invalid")
}
