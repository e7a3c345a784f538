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
use tessera_credentials::jwt::{JwtKeyRing, JwtSigner};
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
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            keys: JwtKeyRing::from_parts(current, signers.collect()),
            rng,
        })
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
        Ok(WebIdentityToken {
            token: tessera_credentials::Secret::new(issuer.sign(&claims)?),
            expiration: now + lifetime,
        })
    }
}
