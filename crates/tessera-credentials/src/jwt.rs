//! JSON Web Tokens with ring alone: minting ES256 tokens as an OIDC issuer, with a JWKS for
//! rotation, and verifying RS256 and ES256 tokens from external identity providers for
//! AssumeRoleWithWebIdentity.
//!
//! This module uses `ring` directly rather than the `jsonwebtoken` crate. The crate already uses
//! ring for AES-GCM, so one crypto library covers everything; `jsonwebtoken` 11 needs exactly one
//! of two crypto backends enabled across the whole dependency tree and panics at run time
//! otherwise, a hazard any crate added later could trigger; and it re-parses keys on every call,
//! while here keys are decoded once (a signer keeps its `EcdsaKeyPair`, a [`Jwks`] its decoded
//! key material). A JWS compact token is small enough to check by hand, and the checks are
//! deliberately narrow:
//!
//! - only `RS256` and `ES256` are accepted. `none`, every `HS*` (whose "secret" an attacker would
//!   take from the public JWKS) and every other algorithm are refused before any key is touched,
//!   and the key named by `kid` must be of the algorithm's type;
//! - a header with `crit` is refused (no extension is understood);
//! - the signature is checked before any claim is read;
//! - `iss` must equal the expected issuer, `aud` (a string or an array) must contain an expected
//!   audience, `exp` is required, and the dates `exp`, `nbf` and `iat` must be non-negative
//!   integers (AWS refuses fractional dates too);
//! - tokens longer than [`MAX_JWT_LEN`] are refused before decoding.
//!
//! Errors never quote the token; they quote the `kid`, the algorithm or the issuer (shortened,
//! control characters replaced) where that helps an operator.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ring::rand::SecureRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_2048_8192_SHA256,
    RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde_json::{Map, Value, json};

use crate::JwtError;
use crate::secret::wipe;

/// The longest token [`verify`] reads, in bytes: the model limit of `WebIdentityToken`.
pub const MAX_JWT_LEN: usize = 20_000;

/// Length of an uncompressed P-256 point: `0x04 ‖ x ‖ y`.
const P256_POINT_LEN: usize = 65;
/// Length of one P-256 coordinate.
const P256_COORD_LEN: usize = 32;
/// Smallest and largest RSA modulus accepted, in bits (ring's `RSA_PKCS1_2048_8192_SHA256`).
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;
/// How much of an untrusted string an error message quotes.
const QUOTE_LEN: usize = 64;

/// base64url that also accepts padding, for JWKS members (some providers pad them). Tokens
/// themselves are decoded strictly, without padding.
const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A JWS signature algorithm this module accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JwtAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048- to 8192-bit keys.
    Rs256,
    /// ECDSA on P-256 with SHA-256, fixed-length (`r ‖ s`) signatures.
    Es256,
}

impl JwtAlgorithm {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::Rs256 => "RS256",
            JwtAlgorithm::Es256 => "ES256",
        }
    }

    fn parse(alg: &str) -> Option<JwtAlgorithm> {
        match alg {
            "RS256" => Some(JwtAlgorithm::Rs256),
            "ES256" => Some(JwtAlgorithm::Es256),
            _ => None,
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ES256 signing key of Tessera's OIDC issuer.
///
/// Its `kid` is the RFC 7638 thumbprint of its public JWK, so it never needs storing: keep
/// [`JwtSigner::pkcs8`] (sealed under the master key) and rebuild with [`JwtSigner::from_pkcs8`].
/// `Debug` shows the `kid` only; the PKCS#8 bytes are wiped on drop (best effort).
pub struct JwtSigner {
    kid: String,
    pkcs8: Vec<u8>,
    key_pair: EcdsaKeyPair,
    /// The base64url header `{"alg":"ES256","typ":"JWT","kid":…}`, the same for every token.
    header: String,
}

impl JwtSigner {
    /// A new P-256 key.
    pub fn generate(rng: &dyn SecureRandom) -> Result<JwtSigner, JwtError> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng).map_err(|_| JwtError::Random)?;
        JwtSigner::from_pkcs8(pkcs8.as_ref(), rng)
    }

    /// A signer from an unencrypted PKCS#8 v1 P-256 key, as [`JwtSigner::pkcs8`] returns it.
    /// (ring asks for a generator here to blind the key check.)
    pub fn from_pkcs8(pkcs8: &[u8], rng: &dyn SecureRandom) -> Result<JwtSigner, JwtError> {
        let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, rng)
            .map_err(|_| JwtError::InvalidSigningKey)?;
        let (x, y) = coordinates(key_pair.public_key().as_ref());
        let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, thumbprint_input.as_bytes()));
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "typ": "JWT", "kid": kid}).to_string());
        Ok(JwtSigner { kid, pkcs8: pkcs8.to_vec(), key_pair, header })
    }

    /// The key id: the RFC 7638 JWK thumbprint (base64url SHA-256, 43 characters).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as PKCS#8, for storage. Secret: seal it under the master key.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Signs `claims` (a JSON object) into a compact JWS `header.payload.signature`, with the
    /// ECDSA nonce drawn from `rng`.
    pub fn sign(&self, claims: &Value, rng: &dyn SecureRandom) -> Result<String, JwtError> {
        if !claims.is_object() {
            return Err(JwtError::ClaimsNotObject);
        }
        let payload = serde_json::to_vec(claims).map_err(|_| JwtError::ClaimsNotObject)?;
        let mut token = String::with_capacity(self.header.len() + payload.len() * 4 / 3 + 96);
        token.push_str(&self.header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self.key_pair.sign(rng, token.as_bytes()).map_err(|_| JwtError::Random)?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
        Ok(token)
    }

    /// The public key as a JWK: `kty`, `crv`, `x`, `y`, `kid`, `use`, `alg`.
    pub fn jwk(&self) -> Value {
        let (x, y) = coordinates(self.key_pair.public_key().as_ref());
        json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": self.kid, "use": "sig", "alg": "ES256"})
    }
}

impl fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSigner").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Drop for JwtSigner {
    fn drop(&mut self) {
        wipe(std::mem::take(&mut self.pkcs8));
    }
}

/// The base64url `x` and `y` of an uncompressed P-256 point.
fn coordinates(point: &[u8]) -> (String, String) {
    let x = point.get(1..1 + P256_COORD_LEN).unwrap_or_default();
    let y = point.get(1 + P256_COORD_LEN..P256_POINT_LEN).unwrap_or_default();
    (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y))
}

/// A JWK Set `{"keys": [...]}` of the given signers' public keys.
pub fn jwks<'a>(signers: impl IntoIterator<Item = &'a JwtSigner>) -> Value {
    json!({"keys": signers.into_iter().map(JwtSigner::jwk).collect::<Vec<_>>()})
}

/// The issuer's signing keys: the current one signs; previous ones stay in the JWKS so that
/// verifiers holding tokens they signed (and caching the JWKS) keep working through a rotation.
#[derive(Debug)]
pub struct JwtKeyRing {
    current: JwtSigner,
    previous: Vec<JwtSigner>,
}

impl JwtKeyRing {
    /// A ring whose only key is `current`.
    pub fn new(current: JwtSigner) -> JwtKeyRing {
        JwtKeyRing { current, previous: Vec::new() }
    }

    /// A ring rebuilt from storage.
    pub fn from_parts(current: JwtSigner, previous: Vec<JwtSigner>) -> JwtKeyRing {
        JwtKeyRing { current, previous }
    }

    /// The key that signs.
    pub fn current(&self) -> &JwtSigner {
        &self.current
    }

    /// The previous keys, newest first.
    pub fn previous(&self) -> &[JwtSigner] {
        &self.previous
    }

    /// Makes `next` the signing key; the old current key becomes the newest previous key.
    pub fn rotate(&mut self, next: JwtSigner) {
        let old = std::mem::replace(&mut self.current, next);
        self.previous.insert(0, old);
    }

    /// Removes the previous key `kid` (once every token it signed has expired and verifiers have
    /// refreshed their JWKS). The current key cannot be removed.
    pub fn remove_previous(&mut self, kid: &str) -> Option<JwtSigner> {
        let index = self.previous.iter().position(|signer| signer.kid == kid)?;
        Some(self.previous.remove(index))
    }

    /// The key with id `kid`, current or previous.
    pub fn signer(&self, kid: &str) -> Option<&JwtSigner> {
        std::iter::once(&self.current).chain(&self.previous).find(|signer| signer.kid == kid)
    }

    /// Signs with the current key.
    pub fn sign(&self, claims: &Value, rng: &dyn SecureRandom) -> Result<String, JwtError> {
        self.current.sign(claims, rng)
    }

    /// The JWKS listing every key, current first.
    pub fn jwks(&self) -> Value {
        jwks(std::iter::once(&self.current).chain(&self.previous))
    }
}

/// The verification keys of an external identity provider, decoded once from its JWKS.
#[derive(Clone, Debug)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Clone, Debug)]
struct Jwk {
    kid: Option<String>,
    key: VerifyingKey,
}

#[derive(Clone, Debug)]
enum VerifyingKey {
    /// Modulus (no leading zeros) and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed P-256 point.
    Ec { point: [u8; P256_POINT_LEN] },
}

impl VerifyingKey {
    fn algorithm(&self) -> JwtAlgorithm {
        match self {
            VerifyingKey::Rsa { .. } => JwtAlgorithm::Rs256,
            VerifyingKey::Ec { .. } => JwtAlgorithm::Es256,
        }
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            VerifyingKey::Rsa { n, e } => {
                RsaPublicKeyComponents { n, e }.verify(&RSA_PKCS1_2048_8192_SHA256, message, signature).is_ok()
            }
            VerifyingKey::Ec { point } => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(message, signature).is_ok()
            }
        }
    }
}

impl Jwks {
    /// Parses a JWK Set document.
    ///
    /// RSA keys (2048 to 8192 bits) and EC P-256 keys are kept. Keys this module cannot use are
    /// skipped: other key types and curves, keys whose `use` is not `sig`, keys whose `alg` is not
    /// `RS256` or `ES256`, and RSA keys shorter than 2048 bits. A usable key with broken members
    /// (bad base64, wrong coordinate length) makes the whole document an error, so that a broken
    /// provider is reported instead of showing up later as an unknown `kid`.
    pub fn parse(json: &[u8]) -> Result<Jwks, JwtError> {
        let document: Value = serde_json::from_slice(json).map_err(|_| JwtError::InvalidJwks("not JSON"))?;
        let entries = document.get("keys").and_then(Value::as_array).ok_or(JwtError::InvalidJwks("no `keys` array"))?;
        let mut keys = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.as_object().ok_or(JwtError::InvalidJwks("a key is not a JSON object"))?;
            if entry.get("use").is_some_and(|usage| usage != "sig") {
                continue;
            }
            let kid = match entry.get("kid") {
                None => None,
                Some(Value::String(kid)) => Some(kid.clone()),
                Some(_) => return Err(JwtError::InvalidJwks("a `kid` is not a string")),
            };
            let alg_is = |expected: &str| entry.get("alg").is_none_or(|alg| alg == expected);
            let key = match entry.get("kty").and_then(Value::as_str) {
                Some("RSA") if alg_is("RS256") => {
                    let n = member(entry, "n")?;
                    let e = member(entry, "e")?;
                    let n = strip_leading_zeros(&n).to_vec();
                    let e = strip_leading_zeros(&e).to_vec();
                    if e.is_empty() {
                        return Err(JwtError::InvalidJwks("an RSA exponent is zero"));
                    }
                    let bits = n.first().map_or(0, |first| n.len() * 8 - first.leading_zeros() as usize);
                    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
                        continue;
                    }
                    VerifyingKey::Rsa { n, e }
                }
                Some("EC") if alg_is("ES256") && entry.get("crv").is_some_and(|crv| crv == "P-256") => {
                    let x = member(entry, "x")?;
                    let y = member(entry, "y")?;
                    if x.len() != P256_COORD_LEN || y.len() != P256_COORD_LEN {
                        return Err(JwtError::InvalidJwks("a P-256 coordinate is not 32 bytes"));
                    }
                    let mut point = [0u8; P256_POINT_LEN];
                    point[0] = 0x04;
                    point[1..1 + P256_COORD_LEN].copy_from_slice(&x);
                    point[1 + P256_COORD_LEN..].copy_from_slice(&y);
                    VerifyingKey::Ec { point }
                }
                _ => continue,
            };
            keys.push(Jwk { kid, key });
        }
        Ok(Jwks { keys })
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The ids of the usable keys (keys without one are left out).
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|key| key.kid.as_deref())
    }

    /// The key that must verify a token with header `kid` and algorithm `alg`.
    fn find(&self, kid: Option<&str>, alg: JwtAlgorithm) -> Result<&VerifyingKey, JwtError> {
        let Some(kid) = kid else {
            // Without a `kid`, only a set with a single key of the right type is unambiguous.
            let mut candidates = self.keys.iter().filter(|key| key.key.algorithm() == alg);
            return match (candidates.next(), candidates.next()) {
                (Some(key), None) => Ok(&key.key),
                _ => Err(JwtError::MissingKid),
            };
        };
        let mut named = self.keys.iter().filter(|key| key.kid.as_deref() == Some(kid)).peekable();
        if named.peek().is_none() {
            return Err(JwtError::UnknownKid(quote(kid)));
        }
        named
            .find(|key| key.key.algorithm() == alg)
            .map(|key| &key.key)
            .ok_or_else(|| JwtError::KeyAlgorithmMismatch { kid: quote(kid), alg })
    }
}

/// A base64url member of a JWK, decoded.
fn member(entry: &Map<String, Value>, name: &str) -> Result<Vec<u8>, JwtError> {
    let text = entry.get(name).and_then(Value::as_str).ok_or(JwtError::InvalidJwks("a key member is missing"))?;
    LENIENT_URL_SAFE.decode(text).map_err(|_| JwtError::InvalidJwks("a key member is not base64url"))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// What a verified token must say, and the time to check it at.
#[derive(Clone, Copy, Debug)]
pub struct Expectations<'a> {
    /// The exact `iss` (for AssumeRoleWithWebIdentity, the provider URL with its scheme).
    pub issuer: &'a str,
    /// Accepted audiences (the provider's client ids); the token's `aud` must contain one.
    pub audiences: &'a [String],
    /// The current time, unix seconds.
    pub now: u64,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub leeway_secs: u64,
}

/// A token whose signature and claims checked out.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    /// The `kid` of the header, if it had one.
    pub header_kid: Option<String>,
    /// The algorithm it was signed with.
    pub algorithm: JwtAlgorithm,
    /// The payload.
    pub claims: Map<String, Value>,
}

impl VerifiedToken {
    /// A string claim, such as `sub`.
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// Verifies a compact JWS `token` against `jwks` and `expectations`.
///
/// Any input is safe to pass: failures are errors, never panics. [`JwtError::UnknownKid`] means
/// the provider may have rotated its keys: refetch the JWKS (rate-limited) and try again.
pub fn verify(token: &str, jwks: &Jwks, expectations: &Expectations<'_>) -> Result<VerifiedToken, JwtError> {
    if token.len() > MAX_JWT_LEN {
        return Err(JwtError::TooLarge { len: token.len() });
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("expected three dot-separated parts"));
    };
    let header = decode_object(header_b64, "the header is not base64url", "the header is not a JSON object")?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => {
            JwtAlgorithm::parse(alg).ok_or_else(|| JwtError::UnsupportedAlgorithm(quote(alg)))?
        }
        Some(_) => return Err(JwtError::Malformed("the header `alg` is not a string")),
        None => return Err(JwtError::Malformed("the header has no `alg`")),
    };
    if header.contains_key("crit") {
        return Err(JwtError::Malformed("the header has a `crit` parameter"));
    }
    let header_kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(JwtError::Malformed("the header `kid` is not a string")),
    };
    let key = jwks.find(header_kid.as_deref(), alg)?;
    let signature =
        URL_SAFE_NO_PAD.decode(signature_b64).map_err(|_| JwtError::Malformed("the signature is not base64url"))?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    if !key.verify(signing_input.as_bytes(), &signature) {
        return Err(JwtError::BadSignature);
    }

    let claims = decode_object(payload_b64, "the payload is not base64url", "the payload is not a JSON object")?;
    match claims.get("iss") {
        None => return Err(JwtError::MissingClaim("iss")),
        Some(Value::String(iss)) if iss == expectations.issuer => {}
        Some(Value::String(iss)) => return Err(JwtError::WrongIssuer(quote(iss))),
        Some(_) => return Err(JwtError::InvalidClaim("iss")),
    }
    let accepted = |aud: &str| expectations.audiences.iter().any(|expected| expected == aud);
    let audience_matches = match claims.get("aud") {
        None => return Err(JwtError::MissingClaim("aud")),
        Some(Value::String(aud)) => accepted(aud),
        Some(Value::Array(auds)) => {
            let mut any = false;
            for aud in auds {
                any |= accepted(aud.as_str().ok_or(JwtError::InvalidClaim("aud"))?);
            }
            any
        }
        Some(_) => return Err(JwtError::InvalidClaim("aud")),
    };
    if !audience_matches {
        return Err(JwtError::WrongAudience);
    }
    let now = expectations.now;
    let leeway = expectations.leeway_secs;
    let expires_at = numeric_date(&claims, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
    if now >= expires_at.saturating_add(leeway) {
        return Err(JwtError::Expired { expired_at: expires_at });
    }
    if let Some(not_before) = numeric_date(&claims, "nbf")?
        && not_before > now.saturating_add(leeway)
    {
        return Err(JwtError::NotYetValid { not_before });
    }
    if let Some(issued_at) = numeric_date(&claims, "iat")?
        && issued_at > now.saturating_add(leeway)
    {
        return Err(JwtError::IssuedInFuture { issued_at });
    }
    Ok(VerifiedToken { header_kid, algorithm: alg, claims })
}

/// A base64url part that must hold a JSON object; the reasons name the part.
fn decode_object(
    part: &str,
    not_base64: &'static str,
    not_object: &'static str,
) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| JwtError::Malformed(not_base64))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(JwtError::Malformed(not_object)),
    }
}

/// A NumericDate claim: absent, or a non-negative integer.
fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<u64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or(JwtError::InvalidClaim(name)),
    }
}

/// An untrusted string shortened and made printable, for an error message.
fn quote(text: &str) -> String {
    let mut quoted: String =
        text.chars().take(QUOTE_LEN).map(|c| if c.is_control() || c == '`' { '?' } else { c }).collect();
    if text.chars().nth(QUOTE_LEN).is_some() {
        quoted.push('…');
    }
    quoted
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

    use super::*;

    const NOW: u64 = 1_700_000_100;
    const ISSUER: &str = "https://idp.example.com";

    /// A 2048-bit RSA test key (PKCS#8 DER, base64), made with `openssl genrsa 2048` and
    /// `openssl pkcs8 -topk8 -nocrypt -outform DER`. Test material only.
    const RSA_PKCS8: &str = "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC4+OkCEMTejYftMHDduVVytLObrMbh1M3/yvKCY9U4pjLFX73Zn2db3Ii6lC9MaXhpruX31pqUF+bXAwixDqPwaicUtAHs9MCpNhRJvjvc0g0gT2wcmqbbf8b9902gjLCyev++Dq3dMu9WXTLWaVQWAF8MrmftuuaQVER8/pW+u1VX1KVLQwWTzd4lht/fKDm0PRG8vzng/WTayasm8iEEUaQBJfWDLh6V57I9Zctv82TK7imJAT4zcgR7M1bTGUsGfZaDpzw4BABKgU43elV7ty3bW9fb6cfH4y58MRzBogDpjIOWNhvHWzVuYN6FNfnG/oplFQnKuB+Xrd6uHQhjAgMBAAECggEAMlIc6Z/wPu9X7DICcn9p/JOmTRKa5HMFO7JVeR15sziblVBvkJWqA7aiR8fqeiozROT80QjD8sfx18qOgcSO2ue2DA7Qe0s2YpJAwLMNDAzk30ZcDggQnqRLWWn+509+/n8xtd2+dO/XZrJiEyyCYJ3nPcbwpR70fI1AOJT13fYXkRIyUDRU5rE7E4s1XAmcKt8LJeCYeFi903RzdMwAN9MtR3RpMY128p3ndC0Ke2ZdeMS/NyJs7CuVrrtI48kQNxkAAPgLgXVoduKcoBZiECc7JzJFiqUVsxZksBPLNz8WixtaAI+OHT2qSexRq/YnjurBWW3hCnebIpnhs8ZViQKBgQD0uG6unHaBPnjsgM7CMPYsKQuEhWBoCIzB+LipXuHN2v4dD8mopyk6V6k51FiBRU60ZM2EwjxB5Yd8Fox0JebqI5/zEb7oMLol9TY1n2v1APTV8jfg+YzDIFXSoatA17U3QLhxfpXi1arccqvNE2wmsdtnc758vqBzQ6IuF1JH7QKBgQDBf3uCqMmodZRTg9zRZ2TAEm84vuBfZMc3YI/d4aFCuSpUqggFJymoJq8DJGzHjd0Xcur8VkoEd0L/mA5m+dgFBHKQkFUwRKxA74wIZtlZKc0M8CuMrLXkpYpndoXBGwqdFmaOS7JVVYNiFAH6kTF1KWg59Ptd7n1z7LTUgUDnjwKBgQCQcv0CHGDm0RVXpIBmp7fnQSMHSiMpxUIwjLuTXeozNHyicts5rdHsGipNdEX5qAtY99dH8c7XpsBeQoENXgH7WqPjOipRq9F07lTdOgjjSXk7gAnzxdmMo92EwuDvGWRiBNXaSDn49t4v2ZAHMNu5y2oSmoNp5quW3ekxA5sR0QKBgGLsatd8tUQTgJZFxsGjy2VKx2PKaek7G4IbMtHrxUbYZWTNXLZNtEVMKZNArwBCbbLMRIhnEQZBdpY3Rb2to5vFD1ELCRJZOXslPIEbG6ky7qrbqlgMAB35581HUdBMo9t1lU7QMkbgJgAhXHWefxt35NokfdIi2C5I6JXv0p/PAoGBAOGD8qJ8t+Vnytjy8WMPYg6TOz6Vp3ajLr1NHAl5OIpKkFTbdGxtA3JzgMF+UlTFBlTM7K1iWEdd0kMAOxqPpI1F6ZLNH5jzD6nn67GWAMWR4u1Mhi9vZeHodj095dDiByaE//syLvxn7c+fUS3vaykIaHVtZ1+ykMgtwVqYAI1/";

    /// The modulus of `RSA_PKCS8`, base64url, as `openssl rsa -pubout` gives it.
    const RSA_N: &str = "uPjpAhDE3o2H7TBw3blVcrSzm6zG4dTN_8rygmPVOKYyxV-92Z9nW9yIupQvTGl4aa7l99aalBfm1wMIsQ6j8GonFLQB7PTAqTYUSb473NINIE9sHJqm23_G_fdNoIywsnr_vg6t3TLvVl0y1mlUFgBfDK5n7brmkFREfP6VvrtVV9SlS0MFk83eJYbf3yg5tD0RvL854P1k2smrJvIhBFGkASX1gy4eleeyPWXLb_Nkyu4piQE-M3IEezNW0xlLBn2Wg6c8OAQASoFON3pVe7ct21vX2-nHx-MufDEcwaIA6YyDljYbx1s1bmDehTX5xv6KZRUJyrgfl63erh0IYw";

    /// A token signed with `RSA_PKCS8` by `openssl dgst -sha256 -sign` (not by ring), kid
    /// `openssl-rsa`, valid from 1700000000 to 1700003600.
    const OPENSSL_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6Im9wZW5zc2wtcnNhIn0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbSIsInN1YiI6InVzZXItNDIiLCJhdWQiOiJ0ZXNzZXJhLWNsaWVudCIsImlhdCI6MTcwMDAwMDAwMCwibmJmIjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDB9.JZjlfAr1B9G4CCi37xFB3x-d72BhLQuWjBsksOYAXUPgTCj_UkNcWLm2pJX_udcI4Jl4pAHMqSRF8uWpc4ewLGVlUGppF6DLr8n-I0ObehMGEG5DcthONMjGMSeqO4vfPpdQvAe9CXLStcmXfqcMbLy2g_5814TrvR60gitnW-uQld61_Kh73MUUIKi5fZj1dpQWe0iHpcarg8gJoIxv9gDA8WnNWRxMx1r9E-JntC_nVdBPJoOvF6EbxbhsknYh9Z1CwQtdZzLFf9VMDwVrYobvI5k4Bbj870WM-r5dD1HLgBviHvCPoD8CsQ7FAYRn-F2q3_Q1MZ3vyHsWqsXViA";

    fn audiences() -> Vec<String> {
        vec!["tessera-client".to_owned()]
    }

    fn expect(audiences: &[String]) -> Expectations<'_> {
        Expectations { issuer: ISSUER, audiences, now: NOW, leeway_secs: 60 }
    }

    fn rsa_key() -> RsaKeyPair {
        let der = base64::engine::general_purpose::STANDARD.decode(RSA_PKCS8).unwrap();
        RsaKeyPair::from_pkcs8(&der).unwrap()
    }

    fn rsa_jwk(kid: &str) -> Value {
        json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": RSA_N, "e": "AQAB"})
    }

    /// Test keys: an EC signer and the RSA key, and a JWKS holding both (plus keys to skip).
    struct Fixture {
        ec: JwtSigner,
        rsa: RsaKeyPair,
        jwks: Jwks,
    }

    fn fixture() -> Fixture {
        let ec = JwtSigner::generate(&SystemRandom::new()).unwrap();
        let document = json!({"keys": [
            ec.jwk(),
            rsa_jwk("rsa-1"),
            rsa_jwk("openssl-rsa"),
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        ]});
        let jwks = Jwks::parse(document.to_string().as_bytes()).unwrap();
        Fixture { ec, rsa: rsa_key(), jwks }
    }

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    /// A token with any header, signed by the EC key (for `ES*` headers) or the RSA key.
    fn forge(fixture: &Fixture, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header), b64(claims));
        let rng = SystemRandom::new();
        let signature = if header["alg"].as_str().is_some_and(|alg| alg.starts_with("ES")) {
            fixture.ec.key_pair.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec()
        } else {
            let mut signature = vec![0; fixture.rsa.public().modulus_len()];
            fixture.rsa.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut signature).unwrap();
            signature
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn claims() -> Value {
        json!({"iss": ISSUER, "sub": "user-42", "aud": "tessera-client", "iat": NOW - 10, "exp": NOW + 3600})
    }

    fn rs256() -> Value {
        json!({"alg": "RS256", "typ": "JWT", "kid": "rsa-1"})
    }

    #[test]
    fn minted_tokens_verify_against_the_published_jwks() {
        let rng = SystemRandom::new();
        let signer = JwtSigner::generate(&rng).unwrap();
        assert_eq!(signer.kid().len(), 43);
        let token = signer.sign(&claims(), &rng).unwrap();
        let jwks = Jwks::parse(jwks([&signer]).to_string().as_bytes()).unwrap();
        assert_eq!(jwks.kids().collect::<Vec<_>>(), [signer.kid()]);
        let verified = verify(&token, &jwks, &expect(&audiences())).unwrap();
        assert_eq!(verified.header_kid.as_deref(), Some(signer.kid()));
        assert_eq!(verified.algorithm, JwtAlgorithm::Es256);
        assert_eq!(verified.str_claim("sub"), Some("user-42"));
        assert_eq!(Value::Object(verified.claims), claims());

        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "ES256", "typ": "JWT", "kid": signer.kid()}));
        let jwk = signer.jwk();
        for (name, value) in [("kty", "EC"), ("crv", "P-256"), ("use", "sig"), ("alg", "ES256")] {
            assert_eq!(jwk[name], value);
        }
        assert_eq!(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap().len(), 32);

        assert!(matches!(signer.sign(&json!(["not", "an", "object"]), &rng), Err(JwtError::ClaimsNotObject)));
    }

    #[test]
    fn signer_survives_storage_with_the_same_kid() {
        let rng = SystemRandom::new();
        let signer = JwtSigner::generate(&rng).unwrap();
        let loaded = JwtSigner::from_pkcs8(signer.pkcs8(), &rng).unwrap();
        assert_eq!(loaded.kid(), signer.kid());
        assert_eq!(loaded.jwk(), signer.jwk());
        let token = loaded.sign(&claims(), &rng).unwrap();
        let jwks = Jwks::parse(jwks([&signer]).to_string().as_bytes()).unwrap();
        assert!(verify(&token, &jwks, &expect(&audiences())).is_ok());
        assert!(matches!(JwtSigner::from_pkcs8(b"garbage", &rng), Err(JwtError::InvalidSigningKey)));
        // Debug shows the kid, not the key.
        assert_eq!(format!("{signer:?}"), format!("JwtSigner {{ kid: {:?}, .. }}", signer.kid()));
    }

    #[test]
    fn kid_is_the_rfc_7638_thumbprint() {
        // RFC 7638 §3.1 works an RSA example; for EC the same rule applies to crv, kty, x, y in
        // lexicographic order. Recompute it independently from the published JWK.
        let rng = SystemRandom::new();
        let signer = JwtSigner::generate(&rng).unwrap();
        let jwk = signer.jwk();
        let canonical = json!({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"], "y": jwk["y"]}).to_string();
        let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
        assert_eq!(signer.kid(), URL_SAFE_NO_PAD.encode(digest));
    }

    #[test]
    fn key_ring_rotation_keeps_old_tokens_verifiable() {
        let rng = SystemRandom::new();
        let mut ring = JwtKeyRing::new(JwtSigner::generate(&rng).unwrap());
        let old_kid = ring.current().kid().to_owned();
        let old_token = ring.sign(&claims(), &rng).unwrap();
        ring.rotate(JwtSigner::generate(&rng).unwrap());
        let new_token = ring.sign(&claims(), &rng).unwrap();
        assert_ne!(ring.current().kid(), old_kid);
        assert_eq!(ring.previous()[0].kid(), old_kid);
        assert!(ring.signer(&old_kid).is_some());

        let published = ring.jwks();
        assert_eq!(published["keys"].as_array().unwrap().len(), 2);
        assert_eq!(published["keys"][0]["kid"], ring.current().kid());
        let jwks = Jwks::parse(published.to_string().as_bytes()).unwrap();
        assert!(verify(&old_token, &jwks, &expect(&audiences())).is_ok());
        assert!(verify(&new_token, &jwks, &expect(&audiences())).is_ok());

        assert!(ring.remove_previous(ring.current().kid().to_owned().as_str()).is_none());
        assert_eq!(ring.remove_previous(&old_kid).unwrap().kid(), old_kid);
        let jwks = Jwks::parse(ring.jwks().to_string().as_bytes()).unwrap();
        assert!(
            matches!(verify(&old_token, &jwks, &expect(&audiences())), Err(JwtError::UnknownKid(kid)) if kid == old_kid)
        );
        assert!(verify(&new_token, &jwks, &expect(&audiences())).is_ok());
    }

    #[test]
    fn rs256_tokens_signed_by_openssl_verify() {
        let jwks = Jwks::parse(json!({"keys": [rsa_jwk("openssl-rsa")]}).to_string().as_bytes()).unwrap();
        let verified = verify(OPENSSL_TOKEN, &jwks, &expect(&audiences())).unwrap();
        assert_eq!(verified.algorithm, JwtAlgorithm::Rs256);
        assert_eq!(verified.header_kid.as_deref(), Some("openssl-rsa"));
        assert_eq!(verified.str_claim("sub"), Some("user-42"));
        // The embedded key and the published modulus are the same key.
        let rsa = rsa_key();
        let n = RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public()).n;
        assert_eq!(URL_SAFE_NO_PAD.encode(n), RSA_N);
        // One hour later it has expired (exp 1700003600, leeway 60).
        let auds = audiences();
        let late = Expectations { now: 1_700_003_660, ..expect(&auds) };
        assert!(matches!(verify(OPENSSL_TOKEN, &jwks, &late), Err(JwtError::Expired { expired_at: 1_700_003_600 })));
    }

    #[test]
    fn rs256_tokens_signed_by_ring_verify() {
        let fixture = fixture();
        let token = forge(&fixture, &rs256(), &claims());
        let verified = verify(&token, &fixture.jwks, &expect(&audiences())).unwrap();
        assert_eq!(verified.algorithm, JwtAlgorithm::Rs256);
        assert_eq!(fixture.jwks.len(), 3, "the OKP and oct keys are skipped");
    }

    #[test]
    fn algorithms_other_than_rs256_and_es256_are_refused() {
        let fixture = fixture();
        let payload = b64(&claims());
        for alg in ["none", "None", "HS256", "HS384", "HS512", "RS384", "RS512", "PS256", "ES384", "ES512", "EdDSA", ""]
        {
            let header = b64(&json!({"alg": alg, "kid": "rsa-1"}));
            // An HS256 token "signed" with the public key as HMAC secret, the classic confusion.
            let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, RSA_N.as_bytes());
            let tag = ring::hmac::sign(&hmac, format!("{header}.{payload}").as_bytes());
            for signature in [String::new(), URL_SAFE_NO_PAD.encode(tag)] {
                let token = format!("{header}.{payload}.{signature}");
                match verify(&token, &fixture.jwks, &expect(&audiences())) {
                    Err(JwtError::UnsupportedAlgorithm(found)) => assert_eq!(found, alg),
                    other => panic!("{alg}: expected UnsupportedAlgorithm, got {other:?}"),
                }
            }
        }
        for header in [json!({"kid": "rsa-1"}), json!({"alg": 256, "kid": "rsa-1"}), json!({"alg": null})] {
            let token = format!("{}.{payload}.AAAA", b64(&header));
            assert!(matches!(verify(&token, &fixture.jwks, &expect(&audiences())), Err(JwtError::Malformed(_))));
        }
    }

    #[test]
    fn algorithm_must_match_the_key_type() {
        let fixture = fixture();
        // ES256 header naming the RSA key, signed with the EC key.
        let token = forge(&fixture, &json!({"alg": "ES256", "kid": "rsa-1"}), &claims());
        let result = verify(&token, &fixture.jwks, &expect(&audiences()));
        assert!(
            matches!(result, Err(JwtError::KeyAlgorithmMismatch { ref kid, alg: JwtAlgorithm::Es256 }) if kid == "rsa-1")
        );
        // RS256 header naming the EC key.
        let token = forge(&fixture, &json!({"alg": "RS256", "kid": fixture.ec.kid()}), &claims());
        let result = verify(&token, &fixture.jwks, &expect(&audiences()));
        assert!(matches!(result, Err(JwtError::KeyAlgorithmMismatch { alg: JwtAlgorithm::Rs256, .. })));
    }

    #[test]
    fn kid_lookup() {
        let fixture = fixture();
        let token = forge(&fixture, &json!({"alg": "RS256", "kid": "rotated-away"}), &claims());
        assert!(
            matches!(verify(&token, &fixture.jwks, &expect(&audiences())), Err(JwtError::UnknownKid(kid)) if kid == "rotated-away")
        );
        // The OKP and oct keys were skipped: their kids are unknown.
        let token = forge(&fixture, &json!({"alg": "RS256", "kid": "hmac"}), &claims());
        assert!(matches!(verify(&token, &fixture.jwks, &expect(&audiences())), Err(JwtError::UnknownKid(_))));
        // No kid: ambiguous with two RSA keys, fine with one.
        let token = forge(&fixture, &json!({"alg": "RS256"}), &claims());
        assert!(matches!(verify(&token, &fixture.jwks, &expect(&audiences())), Err(JwtError::MissingKid)));
        let single = Jwks::parse(json!({"keys": [rsa_jwk("only")]}).to_string().as_bytes()).unwrap();
        assert!(verify(&token, &single, &expect(&audiences())).is_ok());
        let token = forge(&fixture, &json!({"alg": "RS256", "kid": 7}), &claims());
        assert!(matches!(verify(&token, &fixture.jwks, &expect(&audiences())), Err(JwtError::Malformed(_))));
        // A very long kid is shortened in the error.
        let long = "k".repeat(1000);
        let token = forge(&fixture, &json!({"alg": "RS256", "kid": long}), &claims());
        let error = verify(&token, &fixture.jwks, &expect(&audiences())).unwrap_err().to_string();
        assert!(error.len() < 200, "{error}");
    }

    #[test]
    fn bad_signatures_are_refused() {
        let fixture = fixture();
        for header in [rs256(), json!({"alg": "ES256", "kid": fixture.ec.kid()})] {
            let token = forge(&fixture, &header, &claims());
            let (input, signature) = token.rsplit_once('.').unwrap();
            let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
            bytes[10] ^= 1;
            let flipped = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&bytes));
            assert!(matches!(verify(&flipped, &fixture.jwks, &expect(&audiences())), Err(JwtError::BadSignature)));
            // The signature of one payload on another.
            let other = forge(
                &fixture,
                &header,
                &json!({"iss": ISSUER, "aud": "tessera-client", "exp": NOW + 60, "admin": true}),
            );
            let (other_input, _) = other.rsplit_once('.').unwrap();
            let spliced = format!("{other_input}.{signature}");
            assert!(matches!(verify(&spliced, &fixture.jwks, &expect(&audiences())), Err(JwtError::BadSignature)));
            // Empty and truncated signatures.
            for cut in [format!("{input}."), format!("{input}.{}", &signature[..20])] {
                assert!(matches!(verify(&cut, &fixture.jwks, &expect(&audiences())), Err(JwtError::BadSignature)));
            }
        }
        // The right kid but another key's signature (a provider key swapped under the same kid).
        let impostor = JwtSigner::generate(&SystemRandom::new()).unwrap();
        let token = impostor.sign(&claims(), &SystemRandom::new()).unwrap();
        let (_, payload_and_signature) = token.split_once('.').unwrap();
        let header = b64(&json!({"alg": "ES256", "kid": fixture.ec.kid()}));
        let forged = format!("{header}.{payload_and_signature}");
        assert!(matches!(verify(&forged, &fixture.jwks, &expect(&audiences())), Err(JwtError::BadSignature)));
    }

    #[test]
    fn issuer_and_audience_checks() {
        let fixture = fixture();
        let check = |claims: Value, audiences: &[String]| {
            verify(&forge(&fixture, &rs256(), &claims), &fixture.jwks, &expect(audiences))
        };
        let with = |name: &str, value: Value| {
            let mut claims = claims();
            claims[name] = value;
            claims
        };
        let without = |name: &str| {
            let mut claims = claims();
            claims.as_object_mut().unwrap().remove(name);
            claims
        };
        let auds = audiences();
        assert!(
            matches!(check(with("iss", json!("https://evil.example.com")), &auds), Err(JwtError::WrongIssuer(iss)) if iss == "https://evil.example.com")
        );
        assert!(matches!(check(with("iss", json!("https://idp.example.com/")), &auds), Err(JwtError::WrongIssuer(_))));
        assert!(matches!(check(without("iss"), &auds), Err(JwtError::MissingClaim("iss"))));
        assert!(matches!(check(with("iss", json!(1)), &auds), Err(JwtError::InvalidClaim("iss"))));

        assert!(matches!(check(with("aud", json!("other-client")), &auds), Err(JwtError::WrongAudience)));
        assert!(matches!(check(with("aud", json!(["a", "b"])), &auds), Err(JwtError::WrongAudience)));
        assert!(matches!(check(with("aud", json!([])), &auds), Err(JwtError::WrongAudience)));
        assert!(check(with("aud", json!(["a", "tessera-client"])), &auds).is_ok());
        assert!(matches!(check(with("aud", json!(["tessera-client", 5])), &auds), Err(JwtError::InvalidClaim("aud"))));
        assert!(matches!(check(with("aud", json!(5)), &auds), Err(JwtError::InvalidClaim("aud"))));
        assert!(matches!(check(without("aud"), &auds), Err(JwtError::MissingClaim("aud"))));
        assert!(matches!(check(claims(), &[]), Err(JwtError::WrongAudience)));
        assert!(check(claims(), &["x".to_owned(), "tessera-client".to_owned()]).is_ok());
    }

    #[test]
    fn time_checks_with_leeway() {
        let fixture = fixture();
        let check = |name: &str, value: Value| {
            let mut claims = claims();
            claims[name] = value;
            verify(&forge(&fixture, &rs256(), &claims), &fixture.jwks, &expect(&audiences()))
        };
        // exp: valid until exp + leeway (60 s).
        assert!(check("exp", json!(NOW - 59)).is_ok());
        assert!(
            matches!(check("exp", json!(NOW - 60)), Err(JwtError::Expired { expired_at }) if expired_at == NOW - 60)
        );
        assert!(matches!(check("exp", json!(0)), Err(JwtError::Expired { expired_at: 0 })));
        for bad in [json!(NOW as f64 + 0.5), json!(-1), json!("1700000000"), json!(null), json!(1e30)] {
            assert!(matches!(check("exp", bad.clone()), Err(JwtError::InvalidClaim("exp"))), "{bad}");
        }
        let mut no_exp = claims();
        no_exp.as_object_mut().unwrap().remove("exp");
        let token = forge(&fixture, &rs256(), &no_exp);
        assert!(matches!(verify(&token, &fixture.jwks, &expect(&audiences())), Err(JwtError::MissingClaim("exp"))));
        // nbf and iat: not later than now + leeway.
        assert!(check("nbf", json!(NOW + 60)).is_ok());
        assert!(
            matches!(check("nbf", json!(NOW + 61)), Err(JwtError::NotYetValid { not_before }) if not_before == NOW + 61)
        );
        assert!(matches!(check("nbf", json!(1.5)), Err(JwtError::InvalidClaim("nbf"))));
        assert!(check("iat", json!(NOW + 60)).is_ok());
        assert!(
            matches!(check("iat", json!(NOW + 61)), Err(JwtError::IssuedInFuture { issued_at }) if issued_at == NOW + 61)
        );
        assert!(matches!(check("iat", json!("yesterday")), Err(JwtError::InvalidClaim("iat"))));
        // Large values do not overflow.
        assert!(check("exp", json!(u64::MAX)).is_ok());
        let auds = audiences();
        let far = Expectations { now: u64::MAX - 1, leeway_secs: u64::MAX, ..expect(&auds) };
        let token = forge(&fixture, &rs256(), &claims());
        assert!(verify(&token, &fixture.jwks, &far).is_ok());
    }

    #[test]
    fn malformed_and_oversize_tokens_are_refused_without_echo() {
        let fixture = fixture();
        let good = forge(&fixture, &rs256(), &claims());
        let (header, rest) = good.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        let inputs = [
            String::new(),
            ".".into(),
            "..".into(),
            "a.b".into(),
            format!("{good}.extra"),
            format!("{header}=.{payload}.{signature}"),
            format!("{header}.{payload}=.{signature}"),
            format!("{header}.{payload}.{signature}="),
            format!("!!.{payload}.{signature}"),
            format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode("not json")),
            format!("{}.{payload}.{signature}", b64(&json!(["RS256"]))),
            format!("{}.{payload}.{signature}", b64(&json!({"alg": "RS256", "kid": "rsa-1", "crit": ["exp"]}))),
            format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode([0xff, 0xfe])),
            format!("{header}.{payload}.\u{e9}"),
        ];
        for input in &inputs {
            let error = verify(input, &fixture.jwks, &expect(&audiences())).unwrap_err();
            assert!(matches!(error, JwtError::Malformed(_) | JwtError::BadSignature), "{input:?}: {error:?}");
        }
        // A payload that is valid JSON but not an object, correctly signed.
        let token = forge(&fixture, &rs256(), &json!("just a string"));
        assert!(matches!(verify(&token, &fixture.jwks, &expect(&audiences())), Err(JwtError::Malformed(_))));

        let huge = format!("{header}.{}.{signature}", "A".repeat(MAX_JWT_LEN));
        assert!(matches!(verify(&huge, &fixture.jwks, &expect(&audiences())), Err(JwtError::TooLarge { .. })));

        // No error message quotes the token or its parts.
        let mut tampered = claims();
        tampered["aud"] = json!("other");
        for token in [forge(&fixture, &rs256(), &tampered), format!("{header}.{payload}.{}", &signature[..30])] {
            let message = verify(&token, &fixture.jwks, &expect(&audiences())).unwrap_err().to_string();
            for part in token.split('.') {
                assert!(!message.contains(part), "{message}");
            }
        }
    }

    #[test]
    fn jwks_parsing_skips_unusable_keys_and_rejects_broken_ones() {
        let ec = JwtSigner::generate(&SystemRandom::new()).unwrap().jwk();
        let weak_n = URL_SAFE_NO_PAD.encode([0xc3; 128]);
        let skipped = json!({"keys": [
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "rs384", "alg": "RS384", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "weak", "n": weak_n, "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "kid": "es384", "alg": "ES384", "x": ec["x"], "y": ec["y"]},
            {"kid": "no-kty"},
        ]});
        assert!(Jwks::parse(skipped.to_string().as_bytes()).unwrap().is_empty());

        // Padded base64url members and a leading zero byte in `n` are accepted.
        let padded_n = base64::engine::general_purpose::URL_SAFE
            .encode([&[0u8][..], &URL_SAFE_NO_PAD.decode(RSA_N).unwrap()].concat());
        assert!(padded_n.ends_with('='));
        let lenient = json!({"keys": [{"kty": "RSA", "kid": "padded", "n": padded_n, "e": "AQAB"}]});
        let jwks = Jwks::parse(lenient.to_string().as_bytes()).unwrap();
        let fixture = Fixture { ec: JwtSigner::generate(&SystemRandom::new()).unwrap(), rsa: rsa_key(), jwks };
        let token = forge(&fixture, &json!({"alg": "RS256", "kid": "padded"}), &claims());
        assert!(verify(&token, &fixture.jwks, &expect(&audiences())).is_ok());

        let short_x = URL_SAFE_NO_PAD.encode([1u8; 31]);
        for broken in [
            "".to_owned(),
            "[]".into(),
            "{}".into(),
            json!({"keys": {}}).to_string(),
            json!({"keys": [1]}).to_string(),
            json!({"keys": [{"kty": "RSA", "kid": "k", "n": "!!", "e": "AQAB"}]}).to_string(),
            json!({"keys": [{"kty": "RSA", "kid": "k", "e": "AQAB"}]}).to_string(),
            json!({"keys": [{"kty": "RSA", "kid": "k", "n": RSA_N, "e": "AA"}]}).to_string(),
            json!({"keys": [{"kty": "RSA", "kid": 5, "n": RSA_N, "e": "AQAB"}]}).to_string(),
            json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k", "x": short_x, "y": ec["y"]}]}).to_string(),
        ] {
            assert!(matches!(Jwks::parse(broken.as_bytes()), Err(JwtError::InvalidJwks(_))), "{broken}");
        }
    }

    #[test]
    fn an_invalid_ec_point_fails_verification_not_parsing() {
        let fixture = fixture();
        let bogus = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "bogus",
            "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])}]});
        let jwks = Jwks::parse(bogus.to_string().as_bytes()).unwrap();
        let token = forge(&fixture, &json!({"alg": "ES256", "kid": "bogus"}), &claims());
        assert!(matches!(verify(&token, &jwks, &expect(&audiences())), Err(JwtError::BadSignature)));
    }

    #[test]
    fn quote_shortens_and_sanitises() {
        assert_eq!(quote("kid-1"), "kid-1");
        assert_eq!(quote("a\nb`c"), "a?b?c");
        let long = quote(&"x".repeat(100));
        assert_eq!(long.chars().count(), QUOTE_LEN + 1);
        assert!(long.ends_with('…'));
    }
}
