//! Who is calling: the credentials the gateway verified a signature with, resolved again here
//! (long-term keys through the identity store, session tokens by opening them) into the
//! authorizer's [`CallerPrincipal`], and session-token verification for the gateway and the
//! authorizer.

use tessera_credentials::{SessionClaims, TokenError, constant_time_eq};
use tessera_identity::{Error, Result};
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::KeyStatus;

pub(crate) use tessera_authorizer::{CallerKind, CallerPrincipal};

use crate::Sts;

/// The credentials of a signed call.
#[derive(Debug, Clone, Default)]
pub struct CallerCredentials {
    pub access_key_id: String,
    /// For temporary credentials.
    pub session_token: Option<String>,
    pub source_ip: Option<String>,
}

/// AWS's answer to credentials it does not know.
pub(crate) fn invalid_token() -> Error {
    Error::new(ErrorCode::InvalidClientTokenId, "The security token included in the request is invalid.")
}

impl<S: Store> Sts<S> {
    /// Verifies a session token presented with `access_key_id`: it must open under the key ring,
    /// belong to that access key, be unexpired and not revoked. No storage read is needed unless the
    /// token names a key this replica has not loaded yet, and a token this replica verified before
    /// is not opened again (its claims are kept; expiry and revocation are checked every time).
    pub async fn verify_session(&self, access_key_id: &str, token: &str) -> Result<SessionClaims> {
        let opened = self.keys.open_presented(&*self.store, &self.env, access_key_id, token, self.now_secs()).await;
        let claims = opened.map_err(|error| match error {
            TokenError::Expired { .. } => {
                Error::new(ErrorCode::ExpiredToken, "The security token included in the request is expired")
            }
            _ => invalid_token(),
        })?;
        if !constant_time_eq(claims.access_key_id.as_bytes(), access_key_id.as_bytes()) {
            return Err(invalid_token());
        }
        if self.revocations.is_revoked(&claims) {
            return Err(Error::new(
                ErrorCode::InvalidClientTokenId,
                "The security token included in the request has been revoked.",
            ));
        }
        Ok(claims)
    }

    /// Resolves the caller of a signed request.
    pub async fn resolve_caller(&self, credentials: &CallerCredentials) -> Result<CallerPrincipal> {
        let source_ip = credentials.source_ip.clone();
        if let Some(token) = credentials.session_token.as_deref().filter(|t| !t.is_empty()) {
            let claims = self.verify_session(&credentials.access_key_id, token).await?;
            return CallerPrincipal::of_session(claims, Some(token), source_ip);
        }
        if credentials.access_key_id.starts_with("ASIA") {
            // Temporary keys are useless without their token.
            return Err(invalid_token());
        }
        let found = self.access_key(&credentials.access_key_id).await?;
        let Some(found) = found.filter(|k| k.status == KeyStatus::Active) else { return Err(invalid_token()) };
        Ok(CallerPrincipal::of_key(&found, &credentials.access_key_id, source_ip))
    }
}

impl<S> Sts<S> {
    /// How the cache of verified session tokens is doing.
    pub fn verified_sessions(&self) -> crate::VerifiedStats {
        self.keys.verified_stats()
    }
}
