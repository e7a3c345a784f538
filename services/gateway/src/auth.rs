//! Authentication: find the SigV4 signature (header or presigned query), look up the secret of
//! the key that made it (a long-term key through the identity store; a temporary key by opening its
//! session token), verify, and resolve the caller.

use tessera_identity::Error;
use tessera_proto::ErrorCode;
use tessera_sigv4::{Authorization, PayloadHash, Request, SigningKey, VerifyOptions, verify_with_key};
use tessera_store::Store;
use tessera_store::iam::KeyStatus;
use tessera_sts::{CallerCredentials, CallerPrincipal};

use crate::Gateway;
use crate::respond::{GatewayError, Incoming};

fn invalid_key() -> GatewayError {
    Error::new(ErrorCode::InvalidClientTokenId, "The security token included in the request is invalid.").into()
}

/// Verifies the request's signature and returns who made it. The credential scope must name the
/// action's service (`iam` or `sts`), as on AWS, though one URL serves both.
pub(crate) async fn authenticate<S: Store>(
    gateway: &Gateway<S>,
    incoming: &Incoming<'_>,
    service: &str,
) -> Result<(CallerPrincipal, CallerCredentials), GatewayError> {
    // Header values that are not visible ASCII cannot have been signed as sent; drop them (a
    // signed one then fails verification, an unsigned one does not matter).
    let headers: Vec<(&str, &str)> =
        incoming.headers.iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))).collect();
    let request = Request {
        method: incoming.method.as_str(),
        path: incoming.uri.path(),
        query: incoming.uri.query().unwrap_or(""),
        headers: &headers,
        body_sha256: PayloadHash::of(incoming.body),
    };
    let source_ip = Some(incoming.peer.ip().to_string());
    let (caller, credentials, verified) = verify_request(gateway, &request, Some(&[service]), source_ip).await?;
    // Rate is counted only for requests that proved they hold the key, so nobody can exhaust
    // another key's budget by sending garbage under its id.
    let principal = caller.principal();
    let principal_arn = principal.role_arn.as_deref().unwrap_or(&caller.arn);
    let now = std::time::Instant::now();
    if let Err(which) = gateway.limiter.admit(&credentials.access_key_id, principal_arn, caller.account.id(), now) {
        tracing::debug!(limit = which, principal = principal_arn, "request rate exceeded");
        return Err(Error::new(ErrorCode::Throttling, "Rate exceeded").into());
    }
    gateway.usage.note(&caller, &verified.service, &verified.region);
    Ok((caller, credentials))
}

/// Verifies a SigV4-signed request (this endpoint's, or one a service received and passes to the
/// authorizer API) with the secret of its key, and resolves the caller: the lookup that finds the
/// secret also finds the caller, so nothing is read twice. `services` are the scopes the
/// signature may name; `None` accepts the one it names.
pub(crate) async fn verify_request<S: Store>(
    gateway: &Gateway<S>,
    request: &Request<'_>,
    services: Option<&[&str]>,
    source_ip: Option<String>,
) -> Result<(CallerPrincipal, CallerCredentials, tessera_sigv4::Verified), GatewayError> {
    verify_with_sts(&gateway.sts, gateway.sts_now(), request, services, source_ip).await
}

/// [`verify_request`] with the token service and the time (unix seconds) given: the gRPC gate's
/// entry for SigV4-signed calls.
pub(crate) async fn verify_with_sts<S: Store>(
    sts: &tessera_sts::Sts<S>,
    now: u64,
    request: &Request<'_>,
    services: Option<&[&str]>,
    source_ip: Option<String>,
) -> Result<(CallerPrincipal, CallerCredentials, tessera_sigv4::Verified), GatewayError> {
    let authorization = Authorization::from_request(request)?;
    let access_key_id = authorization.access_key_id().to_owned();
    let token =
        request.header_values("x-amz-security-token").next().map(str::to_owned).or_else(|| match &authorization {
            Authorization::Presigned(params) => params.security_token.clone(),
            Authorization::Header(_) => None,
        });
    let (caller, secret) = match &token {
        Some(token) => {
            let claims = sts.verify_session(&access_key_id, token).await?;
            let secret = claims.secret_access_key.clone();
            (CallerPrincipal::of_session(claims, Some(token.as_str()), source_ip)?, secret)
        }
        None => match sts.access_key(&access_key_id).await? {
            Some(key) if key.status == KeyStatus::Active => {
                let secret = key.secret.clone();
                (CallerPrincipal::of_key(&key, &access_key_id, source_ip), secret)
            }
            _ => return Err(invalid_key()),
        },
    };
    let own_scope = [authorization.credential().service.as_str()];
    let options = VerifyOptions::new(services.unwrap_or(&own_scope));
    let secret = secret.expose().as_bytes();
    let verified = match signing_keys::get(secret, authorization.credential()) {
        Some(key) => verify_with_key(request, &authorization, &key, now, &options)?,
        None => {
            let key = SigningKey::for_credential(secret, authorization.credential());
            let verified = verify_with_key(request, &authorization, &key, now, &options)?;
            // Only a scope that verified is kept: a caller cannot fill the cache with others.
            signing_keys::keep(secret, authorization.credential(), key);
            verified
        }
    };
    let credentials = CallerCredentials { access_key_id, session_token: token, source_ip: caller.source_ip.clone() };
    Ok((caller, credentials, verified))
}

/// Signing keys derived before, per worker thread: a key is valid for its secret, date, region
/// and service, so a client signing many requests in a day costs four HMACs once, not per request
/// (SigV4's "kSigning may be cached"). Kept only for signatures that verified, and bounded.
mod signing_keys {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::sync::Arc;

    use tessera_sigv4::{Credential, SigningKey};

    /// Entries per thread before the map starts over.
    const MAX_KEYS: usize = 4096;

    thread_local! {
        static KEYS: RefCell<HashMap<Vec<u8>, Arc<SigningKey>>> = RefCell::new(HashMap::new());
    }

    /// The secret and the scope, as one key: NUL separates the parts (neither holds one).
    fn key_of(secret: &[u8], credential: &Credential) -> Vec<u8> {
        let scope = [credential.date.as_bytes(), credential.region.as_bytes(), credential.service.as_bytes()];
        let mut key = Vec::with_capacity(secret.len() + scope.iter().map(|p| p.len() + 1).sum::<usize>());
        key.extend_from_slice(secret);
        for part in scope {
            key.push(0);
            key.extend_from_slice(part);
        }
        key
    }

    pub(super) fn get(secret: &[u8], credential: &Credential) -> Option<Arc<SigningKey>> {
        KEYS.with_borrow(|keys| keys.get(&key_of(secret, credential)).cloned())
    }

    pub(super) fn keep(secret: &[u8], credential: &Credential, key: SigningKey) {
        KEYS.with_borrow_mut(|keys| {
            if keys.len() >= MAX_KEYS {
                keys.clear();
            }
            keys.insert(key_of(secret, credential), Arc::new(key));
        });
    }
}
