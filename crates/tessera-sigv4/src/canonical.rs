//! The request as the verifier sees it ([`Request`], [`PayloadHash`]), the canonical request and
//! string to sign built from it, and the signing key ([`SigningKey`]).
//!
//! [`Request`] borrows plain strings, so it is independent of any HTTP crate: the gateway fills it
//! from its `http::Request` parts without copying.

use std::borrow::Cow;
use std::fmt;

use ring::{digest, hmac};

use crate::error::{SigV4Error, clip};
use crate::parse::{Authorization, Credential};
use crate::{ALGORITHM, encode};

/// The hex SHA-256 of the empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The payload-hash placeholder of requests whose body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// An HTTP request, as received, reduced to what SigV4 signs.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method, as sent (`POST`).
    pub method: &'a str,
    /// The path as it appeared on the wire, still percent-encoded (`/`, `/a%20b`).
    pub path: &'a str,
    /// The raw query string, without the `?` (empty if none).
    pub query: &'a str,
    /// Every header, names in any case, repeated names as separate entries in order.
    pub headers: &'a [(&'a str, &'a str)],
    /// The SHA-256 of the body ([`PayloadHash::of`], or computed while the body streamed in).
    pub body_sha256: PayloadHash,
}

impl<'a> Request<'a> {
    /// The values of header `name` (case-insensitive), in order.
    pub fn header_values<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        let headers = self.headers;
        headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }

    /// Header `name`'s values joined by `,` (the one value itself when it occurs once), or `None`.
    pub(crate) fn header(&self, name: &str) -> Option<Cow<'a, str>> {
        let mut values = self.header_values(name);
        let first = values.next()?;
        match values.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut joined = format!("{first},{second}");
                for value in values {
                    joined.push(',');
                    joined.push_str(value);
                }
                Some(Cow::Owned(joined))
            }
        }
    }
}

/// The lower-case hex SHA-256 of a request body.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayloadHash([u8; 64]);

impl PayloadHash {
    /// The hash of the empty body.
    pub const EMPTY: PayloadHash = {
        let mut hex = [0u8; 64];
        let source = EMPTY_SHA256.as_bytes();
        let mut i = 0;
        while i < 64 {
            hex[i] = source[i];
            i += 1;
        }
        PayloadHash(hex)
    };

    /// Hashes `body`.
    pub fn of(body: &[u8]) -> PayloadHash {
        let digest = digest::digest(&digest::SHA256, body);
        let mut hex = [0u8; 64];
        hex_into(&mut hex, digest.as_ref());
        PayloadHash(hex)
    }

    /// A hash computed elsewhere, from its 64 hex digits (either case); `None` if it is not one.
    pub fn from_hex(hex: &str) -> Option<PayloadHash> {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 || !bytes.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let mut out = [0u8; 64];
        for (o, b) in out.iter_mut().zip(bytes) {
            *o = b.to_ascii_lowercase();
        }
        Some(PayloadHash(out))
    }

    /// The 64 lower-case hex digits.
    pub fn as_str(&self) -> &str {
        // INVARIANT: the bytes are ASCII hex digits (built only by `hex_into` or `from_hex`).
        std::str::from_utf8(&self.0).unwrap_or(EMPTY_SHA256)
    }

    /// Whether this is the hash of the empty body.
    pub fn is_empty_body(&self) -> bool {
        *self == PayloadHash::EMPTY
    }
}

impl fmt::Debug for PayloadHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayloadHash({})", self.as_str())
    }
}

/// The lower-case hex SHA-256 of `body` (as [`PayloadHash::of`], as a `String`).
pub fn sha256_hex(body: &[u8]) -> String {
    PayloadHash::of(body).as_str().to_owned()
}

pub(crate) fn hex_into(out: &mut [u8], bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex_into(&mut out, bytes);
    String::from_utf8(out).unwrap_or_default()
}

/// `kSigning`, the key a secret access key derives for one date, region and service:
/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
///
/// It is valid for a whole day, so a caller may cache it per access key and scope (the
/// reference's "kSigning may be cached") and use [`verify_with_key`](crate::verify_with_key).
pub struct SigningKey(hmac::Key);

impl SigningKey {
    /// Derives the signing key of `secret` for `date` (`yyyymmdd`), `region` and `service`.
    pub fn derive(secret: &[u8], date: &str, region: &str, service: &str) -> SigningKey {
        let mut seed = Vec::with_capacity(4 + secret.len());
        seed.extend_from_slice(b"AWS4");
        seed.extend_from_slice(secret);
        let k_date = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &seed), date.as_bytes());
        seed.fill(0);
        std::hint::black_box(&seed);
        let k_region = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, k_date.as_ref()), region.as_bytes());
        let k_service = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, k_region.as_ref()), service.as_bytes());
        let k_signing = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, k_service.as_ref()), b"aws4_request");
        SigningKey(hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref()))
    }

    /// Derives the signing key of `secret` for `credential`'s scope.
    pub fn for_credential(secret: &[u8], credential: &Credential) -> SigningKey {
        SigningKey::derive(secret, &credential.date, &credential.region, &credential.service)
    }

    /// The signature of `string_to_sign` (hex-encode it for a header or query string).
    pub fn sign(&self, string_to_sign: &str) -> [u8; 32] {
        let tag = hmac::sign(&self.0, string_to_sign.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Whether `signature` is the signature of `string_to_sign`, compared in constant time
    /// (`ring::hmac::verify`).
    pub(crate) fn verify(&self, string_to_sign: &str, signature: &[u8; 32]) -> bool {
        hmac::verify(&self.0, string_to_sign.as_bytes(), signature).is_ok()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

/// Appends every line of the canonical request but the last (the payload hash):
/// `METHOD\nURI\nQUERY\nHEADERS\n\nSIGNED_HEADERS\n`. Fails when a signed header is absent.
pub(crate) fn write_canonical_prefix(
    out: &mut String,
    request: &Request<'_>,
    signed_headers: &[String],
    presigned: bool,
) -> Result<(), SigV4Error> {
    out.push_str(request.method);
    out.push('\n');
    encode::canonical_uri(out, request.path);
    out.push('\n');
    encode::canonical_query(out, request.query, presigned);
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let mut found = false;
        for value in request.header_values(name) {
            if found {
                out.push(',');
            }
            encode::push_trimmed(out, value);
            found = true;
        }
        if !found {
            return Err(SigV4Error::SignedHeaderMissing { name: clip(name) });
        }
        out.push('\n');
    }
    out.push('\n');
    for (i, name) in signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(name);
    }
    out.push('\n');
    Ok(())
}

/// `AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex SHA-256 of the canonical request>`.
pub(crate) fn string_to_sign_of(amz_date: &str, credential: &Credential, canonical_request: &str) -> String {
    let hash = digest::digest(&digest::SHA256, canonical_request.as_bytes());
    let mut out = String::with_capacity(ALGORITHM.len() + amz_date.len() + 128);
    out.push_str(ALGORITHM);
    out.push('\n');
    out.push_str(amz_date);
    out.push('\n');
    out.push_str(&credential.date);
    out.push('/');
    out.push_str(&credential.region);
    out.push('/');
    out.push_str(&credential.service);
    out.push_str("/aws4_request\n");
    let mut hex = [0u8; 64];
    hex_into(&mut hex, hash.as_ref());
    out.push_str(std::str::from_utf8(&hex).unwrap_or_default());
    out
}

/// The canonical request the signature of `request` covers, for logs and debugging clients: the
/// payload line is `x-amz-content-sha256` if sent, else the body's hash. (Verification
/// additionally checks that header against the body.)
pub fn canonical_request(request: &Request<'_>, auth: &Authorization) -> Result<String, SigV4Error> {
    let mut out = String::with_capacity(512);
    write_canonical_prefix(&mut out, request, auth.signed_headers(), auth.is_presigned())?;
    match request.header("x-amz-content-sha256") {
        Some(value) => out.push_str(value.trim_matches([' ', '\t'])),
        None => out.push_str(request.body_sha256.as_str()),
    }
    Ok(out)
}

/// The string to sign of `request` (see [`canonical_request`]); fails when the request time is
/// missing or malformed.
pub fn string_to_sign(request: &Request<'_>, auth: &Authorization) -> Result<String, SigV4Error> {
    let (amz_date, _) = crate::verify::request_time(request, auth)?;
    Ok(string_to_sign_of(&amz_date, auth.credential(), &canonical_request(request, auth)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_hashes() {
        assert_eq!(PayloadHash::of(b"").as_str(), EMPTY_SHA256);
        assert!(PayloadHash::of(b"").is_empty_body());
        assert_eq!(sha256_hex(b"Param1=value1"), "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
        assert_eq!(PayloadHash::from_hex(&EMPTY_SHA256.to_uppercase()), Some(PayloadHash::EMPTY));
        assert_eq!(PayloadHash::from_hex("UNSIGNED-PAYLOAD"), None);
        assert_eq!(PayloadHash::from_hex(&EMPTY_SHA256[1..]), None);
        assert_eq!(format!("{:?}", PayloadHash::EMPTY), format!("PayloadHash({EMPTY_SHA256})"));
    }

    #[test]
    fn signing_key_matches_the_aws_documentation_example() {
        // The derivation example of the AWS General Reference ("Examples of how to derive a
        // signing key for Signature Version 4"): secret `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`,
        // 20120215, us-east-1, iam. Its kSigning is the HMAC key; signing "" with it is
        // checked against an HMAC computed independently here from the published kSigning.
        let key = SigningKey::derive(b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
        let published = [
            0xf4, 0x78, 0x0e, 0x2d, 0x9f, 0x65, 0xfa, 0x89, 0x5f, 0x9c, 0x67, 0xb3, 0x2c, 0xe1, 0xba, 0xf0, 0xb0, 0xd8,
            0xa4, 0x35, 0x05, 0xa0, 0x00, 0xa1, 0xa9, 0xe0, 0x90, 0xd4, 0x14, 0xdb, 0x40, 0x4d,
        ];
        let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &published), b"probe");
        assert_eq!(key.sign("probe")[..], *expected.as_ref());
        assert!(key.verify("probe", &key.sign("probe")));
        assert!(!key.verify("probe", &[0; 32]));
        assert_eq!(format!("{key:?}"), "SigningKey(***)");
    }
}
