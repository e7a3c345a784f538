//! Credential material for Tessera: secrets at rest, password hashes, and TOTP MFA devices.
//!
//! This is a pure crate: no async runtime, no network, no store, not even transitively
//! (`services/tessera/tests/tidy.rs` checks it). Time is an argument (unix seconds) and so is
//! randomness (a [`RandomSource`], the trait of `tessera-arn`): services pass [`SystemRng`], tests
//! pass a fixed generator such as [`SeededRandom`]. The one I/O it does is reading and creating
//! the master key file with `std::fs`.
//!
//! - [`secret`]: [`Secret`], a string whose `Debug` is redacted, and [`constant_time_eq`].
//! - [`master_key`]: the [`MasterKey`], its key file (`tessera-master-key-v1:<base64>`, mode 0600)
//!   and key id.
//! - [`seal`]: [`MasterKey::seal`] and [`MasterKey::open`], AES-256-GCM blobs
//!   `v1.<key id>.<base64url>` bound to their owner by associated data.
//! - [`password`]: Argon2id PHC strings ([`hash_password`], [`verify_password`]).
//! - [`totp`]: RFC 6238 codes, base32 seeds, the two-consecutive-codes check of IAM's
//!   `EnableMFADevice`, replay-safe sign-in checks, `otpauth://` URIs and their QR code PNGs.
//! - [`random`]: [`SystemRng`], the OS generator as a [`RandomSource`].
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

pub mod master_key;
pub mod password;
pub mod random;
pub mod seal;
pub mod secret;
pub mod totp;

pub use master_key::{KEY_FILE_PREFIX, MASTER_KEY_LEN, MasterKey};
pub use password::{Argon2Params, hash_password, hash_password_with, verify_password};
pub use random::SystemRng;
pub use secret::{Secret, constant_time_eq};
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
