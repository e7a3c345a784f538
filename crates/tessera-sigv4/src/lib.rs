//! AWS Signature Version 4 **verification** for Tessera's IAM/STS gateway (and, with the same
//! canonicalisation code, signing for tests and the load generator).
//!
//! This is a pure crate: no async runtime, no HTTP crate, no I/O (`services/tessera/tests/it/tidy.rs`
//! checks it). The request is a [`Request`] of borrowed strings, time is an argument (unix
//! seconds), and the secret access key is looked up by the caller, who alone knows keys and
//! session tokens.
//!
//! The flow for one request:
//!
//! 1. [`Authorization::from_request`] finds the signature: the `Authorization: AWS4-HMAC-SHA256 …`
//!    header ([`parse_authorization`]) or presigned `X-Amz-*` query parameters
//!    ([`parse_presigned`]).
//! 2. The caller looks up the secret of [`Authorization::access_key_id`] (unknown or inactive
//!    keys are the caller's `InvalidClientTokenId`).
//! 3. [`verify()`] checks the scope's service against [`VerifyOptions::allowed_services`], the
//!    request time (±15 minutes; presigned: until `X-Amz-Date + X-Amz-Expires`), that `host` is
//!    signed and every signed header present, the payload hash, and finally the signature, in
//!    constant time. It returns [`Verified`]: access key, region, service, session token (for
//!    the caller to match against the key) and time.
//!
//! Canonicalisation follows AWS for every service but S3: the path is normalised (dot segments,
//! repeated slashes) and each segment URI-encoded *as received* (so `%` is encoded again, as
//! botocore does); the query is decoded (`+` is a space) and re-encoded with the unreserved set
//! `A-Za-z0-9-_.~`, sorted by name then value; header values are trimmed with inner whitespace
//! runs collapsed and repeated headers joined by `,`; the payload line is `x-amz-content-sha256`
//! when sent (it must match the body) or the body's SHA-256.
//!
//! Failures are [`SigV4Error`]s; [`SigV4Error::aws_code`], [`SigV4Error::http_status`] and
//! [`SigV4Error::aws_message`] give what the client sees. No error, and no `Debug` output,
//! contains a secret, a derived key, a session token or the signature the server computed.
//!
//! - [`parse`](mod@parse): [`Authorization`], [`AuthorizationHeader`], [`PresignedParams`],
//!   [`Credential`].
//! - [`canonical`]: [`Request`], [`PayloadHash`], [`SigningKey`], [`canonical_request`] and
//!   [`string_to_sign`] (for logs and debugging clients).
//! - [`verify`](mod@verify): [`verify()`], [`verify_with_key`], [`VerifyOptions`], [`Verified`].
//! - [`sign`](mod@sign): [`sign()`], [`presign`], [`SigningParams`].
//! - [`time`]: [`parse_amz_date`], [`format_amz_date`].

pub mod canonical;
mod encode;
pub mod error;
pub mod parse;
pub mod sign;
pub mod time;
pub mod verify;

pub use canonical::{
    EMPTY_SHA256, PayloadHash, Request, SigningKey, UNSIGNED_PAYLOAD, canonical_request, sha256_hex, string_to_sign,
};
pub use encode::uri_encode;
pub use error::{SIGNATURE_DOES_NOT_MATCH_MESSAGE, SigV4Error};
pub use parse::{
    Authorization, AuthorizationHeader, Credential, MAX_PRESIGN_EXPIRES_SECS, MAX_SIGNED_HEADERS, PresignedParams,
    parse_authorization, parse_presigned,
};
pub use sign::{SigningParams, presign, sign};
pub use time::{format_amz_date, parse_amz_date};
pub use verify::{Verified, VerifyOptions, verify, verify_with_key};

/// The one algorithm verified: `AWS4-HMAC-SHA256`.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
