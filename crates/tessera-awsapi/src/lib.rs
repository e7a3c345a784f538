//! The AWS Query protocol as IAM (`2010-05-08`) and STS (`2011-06-15`) speak it (reference §6).
//!
//! This is a pure crate: no I/O, no async runtime, no clock and no randomness of its own. Of the
//! IAM and STS operations it knows only their input constraints as the AWS models state them
//! ([`validate`]); the gateway maps actions to services itself.
//!
//! - [`form`]: [`Params`], the decoded `application/x-www-form-urlencoded` body and/or query
//!   string, with the accessors the gateway needs (`Prefix.member.N` lists, nested members,
//!   integers, booleans).
//! - [`xml`]: [`Response`], the `<{Action}Response>` writer, and [`empty_response`] for operations
//!   without output; every text node is escaped, policy documents are URL-encoded as AWS does.
//! - [`error`]: [`QueryError`] for protocol-level failures and [`error_response`], the
//!   `<ErrorResponse>` envelope for every error, protocol-level or not.
//! - [`validate`]: every request parameter checked against its operation's constraints in the
//!   AWS models (a table generated from botocore's models by `scripts/gen-validation-table.py`),
//!   failing with AWS's combined `N validation errors detected: ...` message; [`pattern`] is the
//!   small regex engine the models' patterns need.
//! - [`time`]: ISO 8601 timestamps (`2026-11-23T10:00:00Z`) from Unix time, and request IDs.
//!
//! ```
//! use tessera_awsapi::{Params, Response, STS_NAMESPACE, STS_VERSION};
//!
//! let params = Params::parse(b"Action=GetCallerIdentity&Version=2011-06-15")?;
//! params.check_version(STS_VERSION)?;
//! assert_eq!(params.action()?, "GetCallerIdentity");
//!
//! let mut response = Response::new("GetCallerIdentity", STS_NAMESPACE);
//! response.el("UserId", "AIDAEXAMPLE").el("Account", "123456789012");
//! let xml = response.finish("c6104cbe-af31-11e0-8154-cbc7ccf896c7");
//! assert!(xml.contains("<Account>123456789012</Account>"));
//! # Ok::<(), tessera_awsapi::QueryError>(())
//! ```

#[rustfmt::skip]
mod constraints;
mod constraints_check;
pub mod error;
pub mod form;
pub mod pattern;
pub mod time;
pub mod xml;

pub use constraints_check::{has_operation, validate};
pub use error::{InputKind, QueryError, error_response, error_response_with_details};
pub use form::{Limits, Params};
pub use time::{RequestIds, format_request_id, iso8601, iso8601_millis, parse_iso8601_millis};
pub use xml::{Response, empty_response, encode_policy_document, escape_text};

/// The IAM API version, the only value of `Version` IAM accepts.
pub const IAM_VERSION: &str = "2010-05-08";
/// The XML namespace of IAM responses and IAM errors.
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// The STS API version, the only value of `Version` STS accepts.
pub const STS_VERSION: &str = "2011-06-15";
/// The XML namespace of STS responses and STS errors.
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The XML namespace AWS uses for errors raised before an operation is found (`InvalidAction`
/// and the other protocol-level errors), whatever the service.
pub const AWS_FAULT_NAMESPACE: &str = "http://webservices.amazon.com/AWSFault/2005-15-09";
