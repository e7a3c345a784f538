//! Credential material for Tessera: secrets at rest, password hashes, TOTP MFA devices, STS
//! session tokens, and JSON Web Tokens.
//!
//! This is a pure crate: no async runtime, no network, no store, not even transitively
//! (`services/tessera/tests/it/tidy.rs` checks it). Time is an argument (unix seconds) and so is
//! randomness (a [`RandomSource`], the trait of `tessera-arn`): services pass [`SystemRng`], tests
//! pass a fixed generator such as [`SeededRandom`]. The one I/O it does is with `std::fs`: reading
//! and creating the master key file, and creating owner-only files ([`private_fs`]).
//!
//! - [`secret`]: [`Secret`], a string whose `Debug` is redacted, and [`constant_time_eq`].
//! - [`master_key`]: the [`MasterKey`], its key file (`tessera-master-key-v1:<base64>`, mode 0600),
//!   key id, and key-check value (a MAC a store keeps to refuse a server with another key).
//! - [`seal`]: [`MasterKey::seal`] and [`MasterKey::open`], AES-256-GCM blobs
//!   `v1.<key id>.<base64url>` bound to their owner by associated data.
//! - [`password`]: Argon2id PHC strings ([`hash_password`], [`verify_password`]).
//! - [`private_fs`]: how every file (0600) and directory (0700) under the data directory is
//!   created, whatever the umask.
//! - [`totp`]: RFC 6238 codes, base32 seeds, the two-consecutive-codes check of IAM's
//!   `EnableMFADevice`, replay-safe sign-in checks, `otpauth://` URIs and their QR code PNGs.
//! - [`random`]: [`SystemRng`], the OS generator as a [`RandomSource`].
//! - [`session`]: self-contained STS session tokens. [`SessionClaims`] (who, until when, tags,
//!   session policies, MFA, chain depth and the secret access key) in a compact binary encoding,
//!   sealed with AES-256-GCM under a rotating [`TokenKeyRing`] as `T1<key id><base64url>`, so
//!   any replica verifies a token without a lookup; [`issue_credentials`] and
//!   [`new_session_id`] mint the `ASIA…` key, its secret and the session id.
//! - [`jwt`]: JWTs with ring alone. [`JwtSigner`] and [`JwtKeyRing`] mint ES256 tokens and
//!   publish their JWKS as Tessera's OIDC issuer; [`Jwks`] and [`verify`] check RS256 and ES256
//!   tokens of external identity providers for AssumeRoleWithWebIdentity.
//!
//! - [`x509`]: certificates and private keys users upload (server and signing certificates):
//!   PEM parsing, expiry, chain order and signatures, and whether a private key is the
//!   certificate's.
//! - [`ssh`]: SSH public keys users upload (OpenSSH and PEM forms, AWS's MD5 fingerprint).
//!
//! Every type holding a secret redacts its `Debug` output, and no error message quotes secret
//! material.
//!
//! ```
//! use tessera_credentials::{MasterKey, SeededRandom};
//!
//! let mut rng = SeededRandom::new(7); // a service passes `SystemRng::new()?`
//! let key = MasterKey::generate(&mut rng);
//! let sealed = key.seal(b"wJalrXUtnFEMI/K7MDENG", b"access-key:AKIAIOSFODNN7EXAMPLE", &mut rng)?;
//! assert_eq!(key.open(&sealed, b"access-key:AKIAIOSFODNN7EXAMPLE")?, b"wJalrXUtnFEMI/K7MDENG");
//! assert!(key.open(&sealed, b"access-key:AKIAOTHER").is_err());
//! # Ok::<(), tessera_credentials::SealError>(())
//! ```

use std::io;
use std::path::PathBuf;

pub mod jwt;
pub mod master_key;
pub mod password;
pub mod private_fs;
pub mod random;
pub mod seal;
pub mod secret;
pub mod session;
pub mod ssh;
pub mod totp;
pub mod x509;

pub use jwt::{Expectations, Jwks, JwtAlgorithm, JwtKeyRing, JwtSigner, MAX_JWT_LEN, VerifiedToken, jwks, verify};

pub use master_key::{KEY_CHECK_LEN, KEY_FILE_PREFIX, MASTER_KEY_LEN, MasterKey};
pub use password::{Argon2Params, hash_password, hash_password_with, verify_password};
pub use random::SystemRng;
pub use seal::sealed_key_id;
pub use secret::{Secret, constant_time_eq};
pub use session::{
    MAX_SESSION_LIFETIME_SECS, MAX_TOKEN_LEN, SessionClaims, SessionKind, SessionPolicy, TOKEN_KEY_LEN, TokenKey,
    TokenKeyRing, issue_credentials, new_session_id,
};
pub use tessera_arn::{RandomSource, SeededRandom};
pub use totp::{
    TotpSeed, format_code, hotp, otpauth_uri, parse_code, qr_png, step, totp_at, verify_code, verify_consecutive,
};

/// The operating system's random number generator failed.
#[derive(Debug, thiserror::Error)]
#[error("the operating system random number generator failed")]
pub struct RandomError;

/// Reading, parsing or creating the master key file failed. Messages never quote the file's
/// contents.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read, created or synced.
    #[error("cannot {action} master key file `{}`: {source}", path.display())]
    Io {
        /// What was being done: `read`, `create`, `sync the directory of`.
        action: &'static str,
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The text does not start with [`KEY_FILE_PREFIX`].
    #[error("master key file does not start with `{KEY_FILE_PREFIX}`")]
    Format,
    /// The text after the prefix is not standard base64.
    #[error("master key is not valid base64")]
    Base64,
    /// The key decodes to the wrong number of bytes.
    #[error("master key is {len} bytes long, expected {MASTER_KEY_LEN}")]
    Length {
        /// The decoded length.
        len: usize,
    },
}

/// Sealing or opening a secret failed. Messages never include plaintext or key bytes.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The text is not a sealed blob of a known format.
    #[error("sealed secret is malformed: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The blob was sealed under another master key.
    #[error("sealed secret was sealed with master key `{found}`, but the loaded master key is `{expected}`")]
    WrongKey {
        /// The key id in the blob.
        found: String,
        /// The key id of the key trying to open it.
        expected: String,
    },
    /// Authentication failed: the blob was changed, or belongs to another owner (other AAD).
    #[error("sealed secret failed authentication: it was altered or belongs to another record")]
    Tampered,
    /// Encryption failed (a plaintext beyond AES-GCM's limit of about 64 GiB).
    #[error("cannot encrypt secret")]
    Encrypt,
}

/// Hashing or checking a password failed. A wrong password is not an error.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The Argon2 parameters are out of range.
    #[error("invalid argon2 parameters: {reason}")]
    Params {
        /// argon2's description of the problem.
        reason: String,
    },
    /// Argon2 failed while hashing.
    #[error("cannot hash password")]
    Hash,
    /// The stored hash is not an Argon2 PHC string this crate can check.
    #[error("stored password hash is not a valid argon2 PHC string")]
    Malformed,
}

/// A TOTP seed could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The text is not RFC 4648 base32.
    #[error("TOTP seed is not valid base32")]
    Base32,
    /// The seed is too short or too long.
    #[error("TOTP seed is {len} bytes long, expected {} to {}", totp::MIN_SEED_LEN, totp::MAX_SEED_LEN)]
    Length {
        /// The seed length in bytes.
        len: usize,
    },
}

/// A QR code image could not be made.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// The data does not fit in the largest QR code.
    #[error("{len} bytes do not fit in a QR code")]
    TooLong {
        /// The data length in bytes.
        len: usize,
    },
    /// PNG encoding failed.
    #[error("cannot encode QR code as PNG: {reason}")]
    Png {
        /// The encoder's description of the problem.
        reason: String,
    },
}

/// A session token could not be opened. Messages never quote the token.
///
/// The service answers `ExpiredToken` for [`TokenError::Expired`] and `InvalidClientTokenId`
/// for the others.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token is not a `T1` token, or its claims do not decode.
    #[error("session token is malformed: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The token names a key that is not in the ring (pruned, or from another deployment).
    #[error("session token key `{key_id:08x}` is not in the key ring")]
    UnknownKey {
        /// The key id in the token.
        key_id: u32,
    },
    /// Authentication failed: the token was altered or forged.
    #[error("session token failed authentication: it was altered or forged")]
    Tampered,
    /// The token is authentic but expired.
    #[error("session token expired at {expired_at} (unix seconds)")]
    Expired {
        /// The `expires_at` of its claims.
        expired_at: u64,
    },
}

/// The claims would make a session token longer than [`MAX_TOKEN_LEN`] (many or long session
/// tags, or a large session policy). The service answers `PackedPolicyTooLarge`.
#[derive(Debug, thiserror::Error)]
#[error("session token would be {len} bytes long, longer than the limit of {MAX_TOKEN_LEN}")]
pub struct TokenTooLarge {
    /// The length the token would have.
    pub len: usize,
}

/// A stored token key ring could not be read. Messages never quote key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    /// The bytes are not a key ring written by [`TokenKeyRing::to_bytes`].
    #[error("token key ring is malformed: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Minting or verifying a JWT failed. Messages never quote the token; a `kid`, algorithm or
/// issuer taken from it is shortened to 64 characters with control characters replaced.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// The token is longer than [`MAX_JWT_LEN`].
    #[error("token is {len} bytes long, longer than the limit of {MAX_JWT_LEN}")]
    TooLarge {
        /// The token's length.
        len: usize,
    },
    /// The token is not a compact JWS with a JSON object header and payload.
    #[error("token is malformed: {0}")]
    Malformed(&'static str),
    /// The header's `alg` is not `RS256` or `ES256` (`none` and `HS*` included).
    #[error("token algorithm `{0}` is not accepted, only RS256 and ES256 are")]
    UnsupportedAlgorithm(String),
    /// The header has no `kid`, and the key set has more than one key of its type.
    #[error("token header has no `kid`, and the key set has several keys")]
    MissingKid,
    /// No key of the set has this id: the provider may have rotated keys, refetch its JWKS.
    #[error("no key with id `{0}` in the key set")]
    UnknownKid(String),
    /// The key named by `kid` is of another type than the header's `alg`.
    #[error("key `{kid}` cannot verify {alg} signatures")]
    KeyAlgorithmMismatch {
        /// The key id.
        kid: String,
        /// The header's algorithm.
        alg: JwtAlgorithm,
    },
    /// The signature does not verify.
    #[error("token signature is invalid")]
    BadSignature,
    /// A required claim is missing.
    #[error("token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type (dates must be non-negative integers).
    #[error("token claim `{0}` has an invalid value")]
    InvalidClaim(&'static str),
    /// `iss` is not the expected issuer.
    #[error("token issuer `{0}` is not the expected issuer")]
    WrongIssuer(String),
    /// No `aud` value is an accepted audience.
    #[error("token audience is not an accepted audience")]
    WrongAudience,
    /// `exp` (plus leeway) has passed.
    #[error("token expired at {expired_at} (unix seconds)")]
    Expired {
        /// The token's `exp`.
        expired_at: u64,
    },
    /// `nbf` is later than now plus leeway.
    #[error("token is not valid before {not_before} (unix seconds)")]
    NotYetValid {
        /// The token's `nbf`.
        not_before: u64,
    },
    /// `iat` is later than now plus leeway.
    #[error("token was issued in the future, at {issued_at} (unix seconds)")]
    IssuedInFuture {
        /// The token's `iat`.
        issued_at: u64,
    },
    /// The JWKS document is not a usable key set.
    #[error("key set is invalid: {0}")]
    InvalidJwks(&'static str),
    /// The PKCS#8 bytes are not an unencrypted P-256 ECDSA key.
    #[error("signing key is not a PKCS#8 P-256 ECDSA key")]
    InvalidSigningKey,
    /// The claims to sign are not a JSON object.
    #[error("token claims must be a JSON object")]
    ClaimsNotObject,
    /// The random number generator failed.
    #[error("the random number generator failed")]
    Random,
}
