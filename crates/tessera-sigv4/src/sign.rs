//! Signing, for tests, the load generator and Tessera's own clients: [`sign`] makes the
//! `Authorization` header of a request, [`presign`] its presigned query string. Both build the
//! canonical request with the verifier's code, so there is one canonicalisation in the crate.

use std::fmt;

use crate::ALGORITHM;
use crate::canonical::{Request, SigningKey, hex, string_to_sign_of, write_canonical_prefix};
use crate::encode::uri_encode;
use crate::parse::Credential;

/// Who signs, for which scope, at what time.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// Its secret access key.
    pub secret: &'a [u8],
    /// The region of the scope.
    pub region: &'a str,
    /// The service of the scope (`iam`, `sts`).
    pub service: &'a str,
    /// The request time, `yyyymmddThhmmssZ` ([`format_amz_date`](crate::format_amz_date)); the
    /// scope date is its first 8 characters. For [`sign`], the request must carry the same value
    /// in its `X-Amz-Date` header.
    pub amz_date: &'a str,
}

impl fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningParams")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"***")
            .field("region", &self.region)
            .field("service", &self.service)
            .field("amz_date", &self.amz_date)
            .finish()
    }
}

impl SigningParams<'_> {
    fn credential(&self) -> Credential {
        Credential {
            access_key_id: self.access_key_id.to_owned(),
            date: self.amz_date.get(..8).unwrap_or(self.amz_date).to_owned(),
            region: self.region.to_owned(),
            service: self.service.to_owned(),
        }
    }
}

/// The lower-case names of every header of `request` but `authorization`, sorted, without repeats.
fn headers_to_sign(request: &Request<'_>) -> Vec<String> {
    let mut names: Vec<String> = request
        .headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| name != "authorization")
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The `Authorization` header value that signs `request`: every header it carries (but
/// `Authorization`) is signed, so pass exactly the headers to sign, including `Host` and
/// `X-Amz-Date` (and `X-Amz-Security-Token` for temporary credentials). The payload line is the
/// `x-amz-content-sha256` header if present, else `request.body_sha256`, as botocore does.
///
/// Signing does not validate its inputs; a request without a `Host` header is signed but will
/// not verify.
pub fn sign(request: &Request<'_>, params: &SigningParams<'_>) -> String {
    let signed_headers = headers_to_sign(request);
    let credential = params.credential();
    let mut canonical = String::with_capacity(512);
    // Every signed name was taken from the request's own headers, so none is missing.
    let _ = write_canonical_prefix(&mut canonical, request, &signed_headers, false);
    match request.header("x-amz-content-sha256") {
        Some(sent) => canonical.push_str(sent.trim_matches([' ', '\t'])),
        None => canonical.push_str(request.body_sha256.as_str()),
    }
    let signature = SigningKey::for_credential(params.secret, &credential).sign(&string_to_sign_of(
        params.amz_date,
        &credential,
        &canonical,
    ));
    format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
        params.access_key_id,
        credential.scope(),
        signed_headers.join(";"),
        hex(&signature)
    )
}

/// The query string of a presigned `request`: its own query followed by `X-Amz-Algorithm`,
/// `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`,
/// `X-Amz-Security-Token` (when given) and finally `X-Amz-Signature`, botocore's order. Every
/// header of `request` is signed (normally just `Host`); the payload line is the body's hash.
pub fn presign(
    request: &Request<'_>,
    params: &SigningParams<'_>,
    expires_secs: u64,
    security_token: Option<&str>,
) -> String {
    let signed_headers = headers_to_sign(request);
    let credential = params.credential();
    let mut query = String::with_capacity(request.query.len() + 256);
    query.push_str(request.query);
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str("X-Amz-Algorithm=");
    query.push_str(ALGORITHM);
    query.push_str("&X-Amz-Credential=");
    query.push_str(&uri_encode(&format!("{}/{}", params.access_key_id, credential.scope())));
    query.push_str("&X-Amz-Date=");
    query.push_str(&uri_encode(params.amz_date));
    query.push_str(&format!("&X-Amz-Expires={expires_secs}&X-Amz-SignedHeaders="));
    query.push_str(&uri_encode(&signed_headers.join(";")));
    if let Some(token) = security_token {
        query.push_str("&X-Amz-Security-Token=");
        query.push_str(&uri_encode(token));
    }
    let unsigned = Request { query: &query, ..*request };
    let mut canonical = String::with_capacity(512);
    let _ = write_canonical_prefix(&mut canonical, &unsigned, &signed_headers, true);
    canonical.push_str(request.body_sha256.as_str());
    let signature = SigningKey::for_credential(params.secret, &credential).sign(&string_to_sign_of(
        params.amz_date,
        &credential,
        &canonical,
    ));
    query.push_str("&X-Amz-Signature=");
    query.push_str(&hex(&signature));
    query
}
