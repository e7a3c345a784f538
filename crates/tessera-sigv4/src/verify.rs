//! [`verify`]: checks a request's SigV4 signature against the secret of the access key that
//! signed it, at a given time, and returns who signed ([`Verified`]).
//!
//! The order of the checks decides which error a client sees when several apply: scope
//! (service), signed headers (`host`), request time and its agreement with the scope, clock skew
//! or presign expiry, payload hash, then the signature itself.

use std::fmt;

use crate::canonical::{Request, SigningKey, UNSIGNED_PAYLOAD, string_to_sign_of, write_canonical_prefix};
use crate::error::{SigV4Error, clip};
use crate::parse::{Authorization, MAX_PRESIGN_EXPIRES_SECS};
use crate::time::{format_amz_date, parse_amz_date, parse_http_date};

/// Optional whitespace around a header value (RFC 9110), which HTTP servers usually strip already.
const OWS: [char; 2] = [' ', '\t'];

/// What [`verify`] accepts beyond the AWS rules it always applies.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// The services a credential scope may name (Tessera: `["iam", "sts"]`, or the one the
    /// endpoint serves). Any region is accepted.
    pub allowed_services: &'a [&'a str],
    /// How far the request time may be from now, either way (AWS: 15 minutes).
    pub max_skew_secs: u64,
    /// The longest validity granted to a presigned URL, whatever its `X-Amz-Expires` says (AWS's
    /// generic maximum is a week; the reference notes STS may enforce 15 minutes).
    pub max_presign_expires_secs: u64,
    /// Whether `x-amz-content-sha256: UNSIGNED-PAYLOAD` is accepted for a non-empty body. Off by
    /// default: an IAM/STS body *is* the request, and leaving it unsigned would let anyone who
    /// saw a signed request replay its signature with another action for 15 minutes.
    pub allow_unsigned_payload: bool,
}

impl<'a> VerifyOptions<'a> {
    /// AWS's rules for the given services: 15 minutes of skew, presigned URLs up to a week,
    /// bodies always signed.
    pub const fn new(allowed_services: &'a [&'a str]) -> VerifyOptions<'a> {
        VerifyOptions {
            allowed_services,
            max_skew_secs: 15 * 60,
            max_presign_expires_secs: MAX_PRESIGN_EXPIRES_SECS,
            allow_unsigned_payload: false,
        }
    }
}

/// A request whose signature verified: who signed it, for which scope, and when.
#[derive(Clone, PartialEq, Eq)]
pub struct Verified {
    /// The access key id that signed.
    pub access_key_id: String,
    /// The region of the credential scope.
    pub region: String,
    /// The service of the credential scope (one of the allowed services).
    pub service: String,
    /// The session token sent with temporary credentials (`X-Amz-Security-Token` header or query
    /// parameter): the caller must check it belongs to `access_key_id`.
    pub security_token: Option<String>,
    /// The request time, unix seconds.
    pub signed_at: u64,
    /// For a presigned request, when it stops being valid (unix seconds).
    pub expires_at: Option<u64>,
}

impl fmt::Debug for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("security_token", &self.security_token.as_ref().map(|_| "***"))
            .field("signed_at", &self.signed_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Verifies the signature of `request` (found by [`Authorization::from_request`]) made with
/// `secret`, the secret access key of `auth.access_key_id()`, at `now` (unix seconds).
///
/// ```
/// use tessera_sigv4::{Authorization, PayloadHash, Request, SigningParams, VerifyOptions, sign, verify};
///
/// let body = b"Action=GetCallerIdentity&Version=2011-06-15";
/// let to_sign = [
///     ("Host", "sts.example.internal"),
///     ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
///     ("X-Amz-Date", "20261123T101500Z"),
/// ];
/// let request = Request { method: "POST", path: "/", query: "", headers: &to_sign, body_sha256: PayloadHash::of(body) };
/// let params = SigningParams {
///     access_key_id: "AKIAIOSFODNN7EXAMPLE",
///     secret: b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
///     region: "us-east-1",
///     service: "sts",
///     amz_date: "20261123T101500Z",
/// };
/// let authorization = sign(&request, &params);
/// let mut headers = to_sign.to_vec();
/// headers.push(("Authorization", &authorization));
///
/// let request = Request { headers: &headers, ..request };
/// let auth = Authorization::from_request(&request)?;
/// // The caller looks the secret up by `auth.access_key_id()`.
/// let now = 1_795_428_900 + 60;
/// let verified = verify(&request, &auth, params.secret, now, &VerifyOptions::new(&["iam", "sts"]))?;
/// assert_eq!(verified.access_key_id, "AKIAIOSFODNN7EXAMPLE");
/// assert_eq!(verified.service, "sts");
/// # Ok::<(), tessera_sigv4::SigV4Error>(())
/// ```
pub fn verify(
    request: &Request<'_>,
    auth: &Authorization,
    secret: &[u8],
    now: u64,
    options: &VerifyOptions<'_>,
) -> Result<Verified, SigV4Error> {
    let checked = check(request, auth, now, options)?;
    let key = SigningKey::for_credential(secret, auth.credential());
    finish(request, auth, &key, checked)
}

/// [`verify`] with a signing key the caller derived (and perhaps cached) for `auth`'s credential
/// scope with [`SigningKey::for_credential`]. A key for another scope fails to verify.
pub fn verify_with_key(
    request: &Request<'_>,
    auth: &Authorization,
    key: &SigningKey,
    now: u64,
    options: &VerifyOptions<'_>,
) -> Result<Verified, SigV4Error> {
    let checked = check(request, auth, now, options)?;
    finish(request, auth, key, checked)
}

/// What [`check`] established before any cryptography.
struct Checked {
    amz_date: String,
    signed_at: u64,
    expires_at: Option<u64>,
    payload: PayloadLine,
    /// Whether to try `UNSIGNED-PAYLOAD` as the payload line when `payload` fails (presigned
    /// requests only).
    try_unsigned: bool,
}

/// The last line of the canonical request.
enum PayloadLine {
    /// The body's hash.
    Body,
    /// The `x-amz-content-sha256` header, verbatim (already checked against the body).
    Sent(String),
}

/// Every check but the signature.
fn check(
    request: &Request<'_>,
    auth: &Authorization,
    now: u64,
    options: &VerifyOptions<'_>,
) -> Result<Checked, SigV4Error> {
    let credential = auth.credential();
    if !options.allowed_services.contains(&credential.service.as_str()) {
        return Err(SigV4Error::WrongService {
            service: clip(&credential.service),
            expected: options.allowed_services.iter().map(|s| (*s).to_owned()).collect(),
        });
    }
    if !auth.signed_headers().iter().any(|name| name == "host") {
        return Err(SigV4Error::HostNotSigned);
    }
    let (amz_date, signed_at) = request_time(request, auth)?;
    if amz_date.get(..8) != Some(credential.date.as_str()) {
        return Err(SigV4Error::ScopeDateMismatch { scope_date: credential.date.clone(), amz_date });
    }
    let skew_minutes = options.max_skew_secs / 60;
    if signed_at.saturating_add(options.max_skew_secs) < now && !auth.is_presigned() {
        return Err(SigV4Error::SignatureExpired {
            signed_at: amz_date,
            earliest: format_amz_date(now - options.max_skew_secs),
            now: format_amz_date(now),
            skew_minutes,
        });
    }
    if signed_at > now.saturating_add(options.max_skew_secs) {
        return Err(SigV4Error::SignatureNotYetCurrent {
            signed_at: amz_date,
            latest: format_amz_date(now.saturating_add(options.max_skew_secs)),
            now: format_amz_date(now),
            skew_minutes,
        });
    }
    let expires_at = match auth {
        Authorization::Header(_) => None,
        Authorization::Presigned(presigned) => {
            let expires_at = signed_at + presigned.expires_secs.min(options.max_presign_expires_secs);
            if now > expires_at {
                return Err(SigV4Error::PresignExpired {
                    expired_at: format_amz_date(expires_at),
                    now: format_amz_date(now),
                });
            }
            Some(expires_at)
        }
    };

    let body_empty = request.body_sha256.is_empty_body();
    let mut try_unsigned = false;
    let payload = match request.header("x-amz-content-sha256") {
        Some(sent) => {
            let sent = sent.trim_matches(OWS);
            let accepted = if sent == UNSIGNED_PAYLOAD {
                // An empty body has nothing to leave unsigned.
                body_empty || options.allow_unsigned_payload
            } else {
                sent.eq_ignore_ascii_case(request.body_sha256.as_str())
            };
            if !accepted {
                return Err(SigV4Error::PayloadHashMismatch);
            }
            PayloadLine::Sent(sent.to_owned())
        }
        None => {
            // botocore hashes the (empty) body of a non-S3 presigned URL; S3-style signers write
            // UNSIGNED-PAYLOAD. Both are safe to accept when there is no body to leave unsigned.
            try_unsigned = auth.is_presigned() && (body_empty || options.allow_unsigned_payload);
            PayloadLine::Body
        }
    };
    Ok(Checked { amz_date, signed_at, expires_at, payload, try_unsigned })
}

/// Builds the canonical request and string to sign, and compares signatures.
fn finish(
    request: &Request<'_>,
    auth: &Authorization,
    key: &SigningKey,
    checked: Checked,
) -> Result<Verified, SigV4Error> {
    let mut canonical = String::with_capacity(512);
    write_canonical_prefix(&mut canonical, request, auth.signed_headers(), auth.is_presigned())?;
    let prefix_len = canonical.len();
    match &checked.payload {
        PayloadLine::Body => canonical.push_str(request.body_sha256.as_str()),
        PayloadLine::Sent(sent) => canonical.push_str(sent),
    }
    let credential = auth.credential();
    let mut verified = key.verify(&string_to_sign_of(&checked.amz_date, credential, &canonical), auth.signature());
    if !verified && checked.try_unsigned {
        canonical.truncate(prefix_len);
        canonical.push_str(UNSIGNED_PAYLOAD);
        verified = key.verify(&string_to_sign_of(&checked.amz_date, credential, &canonical), auth.signature());
    }
    if !verified {
        return Err(SigV4Error::SignatureMismatch);
    }
    let security_token = match auth {
        Authorization::Header(_) => {
            request.header("x-amz-security-token").map(|token| token.trim_matches(OWS).to_owned())
        }
        Authorization::Presigned(presigned) => presigned.security_token.clone(),
    };
    Ok(Verified {
        access_key_id: credential.access_key_id.clone(),
        region: credential.region.clone(),
        service: credential.service.clone(),
        security_token,
        signed_at: checked.signed_at,
        expires_at: checked.expires_at,
    })
}

/// The request time as `yyyymmddThhmmssZ` and unix seconds: `X-Amz-Date` (query parameter when
/// presigned, else header), falling back to the `Date` header for header-signed requests.
pub(crate) fn request_time(request: &Request<'_>, auth: &Authorization) -> Result<(String, u64), SigV4Error> {
    let invalid = |value: &str| SigV4Error::InvalidDate { value: clip(value) };
    if let Authorization::Presigned(presigned) = auth {
        let signed_at = parse_amz_date(&presigned.amz_date).ok_or_else(|| invalid(&presigned.amz_date))?;
        return Ok((presigned.amz_date.clone(), signed_at));
    }
    if let Some(value) = request.header("x-amz-date") {
        let value = value.trim_matches(OWS);
        let signed_at = parse_amz_date(value).ok_or_else(|| invalid(value))?;
        return Ok((value.to_owned(), signed_at));
    }
    if let Some(value) = request.header("date") {
        // The string to sign carries the ISO 8601 form of the `Date` header.
        let signed_at = parse_http_date(value.trim_matches(OWS)).ok_or_else(|| invalid(&value))?;
        return Ok((format_amz_date(signed_at), signed_at));
    }
    Err(SigV4Error::MissingDate)
}
