//! [`SigV4Error`], every way a request can fail authentication here, and the one place that maps
//! each failure to the AWS error code, HTTP status and message a client sees.
//!
//! The `Display` text is for logs (lowercase, input in backticks); [`SigV4Error::aws_message`] is
//! AWS's wording for the `<Message>` of the error response. Neither ever contains the secret
//! access key, a derived key or the signature the server computed; values taken from the request
//! are clipped to [`MAX_ECHO`] bytes before they are stored.

use std::fmt::Write as _;

/// The most bytes of one request value an error keeps (and so echoes to the client).
pub const MAX_ECHO: usize = 128;

/// The standard AWS message for a signature that does not verify.
pub const SIGNATURE_DOES_NOT_MATCH_MESSAGE: &str = "The request signature we calculated does not match the signature you \
     provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// Why a request failed SigV4 authentication. One variant per failure.
///
/// Unknown access keys, inactive keys and session tokens are not decided here (the caller owns
/// the key store): they are `InvalidClientTokenId` / `ExpiredToken` in the caller's catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor presigned `X-Amz-*` query parameters.
    #[error("the request carries no authentication")]
    MissingAuthentication,
    /// Both an `Authorization` header and presigned query parameters.
    #[error("the request carries both an `Authorization` header and presigned query parameters")]
    AmbiguousAuthentication,
    /// The algorithm is not `AWS4-HMAC-SHA256` (SigV2, SigV4A, or garbage).
    #[error("unsupported signing algorithm `{algorithm}`")]
    UnsupportedAlgorithm {
        /// The algorithm token the request named (clipped).
        algorithm: String,
    },
    /// The `Authorization` header does not have the `Key=Value, …` shape.
    #[error("malformed authorization header: {reason}")]
    MalformedAuthorization {
        /// What is wrong, for the log and the client (quotes only clipped request text).
        reason: String,
    },
    /// The `Authorization` header lacks `Credential`, `SignedHeaders` or `Signature`.
    #[error("authorization header lacks {}", quote_list(missing, "and"))]
    IncompleteAuthorization {
        /// The missing parameters, in AWS's order.
        missing: Vec<&'static str>,
    },
    /// A presigned request lacks one of the required `X-Amz-*` query parameters.
    #[error("presigned request lacks {}", quote_list(missing, "and"))]
    IncompletePresign {
        /// The missing parameters.
        missing: Vec<&'static str>,
    },
    /// A presigned `X-Amz-*` parameter appears more than once.
    #[error("query parameter `{name}` appears more than once")]
    DuplicateQueryParameter {
        /// The repeated parameter.
        name: &'static str,
    },
    /// The credential is not `<access key id>/<yyyymmdd>/<region>/<service>/aws4_request`.
    #[error("malformed credential `{credential}`")]
    MalformedCredential {
        /// The credential as sent (clipped).
        credential: String,
    },
    /// The credential scope does not end in `aws4_request`.
    #[error("credential scope ends in `{terminator}`, not `aws4_request`")]
    InvalidTerminator {
        /// The fifth component as sent (clipped).
        terminator: String,
    },
    /// The credential scope's region is empty or not a region name.
    #[error("credential scope has an invalid region `{region}`")]
    InvalidRegion {
        /// The region as sent (clipped).
        region: String,
    },
    /// The credential scope names a service this endpoint does not serve.
    #[error("credential is scoped to service `{service}`, expected {}", quote_list(expected, "or"))]
    WrongService {
        /// The service as sent (clipped).
        service: String,
        /// The services the caller allows.
        expected: Vec<String>,
    },
    /// `SignedHeaders` is empty, has an empty, upper-case, invalid or repeated name, or too many.
    #[error("malformed signed headers `{signed_headers}`")]
    MalformedSignedHeaders {
        /// The list as sent (clipped).
        signed_headers: String,
    },
    /// The signature is not 64 hex digits.
    #[error("the signature is not 64 hex digits")]
    MalformedSignature,
    /// `X-Amz-Expires` is not a whole number of seconds from 1 to the maximum.
    #[error("`X-Amz-Expires` is `{value}`, not a number of seconds from 1 to {max}")]
    InvalidExpires {
        /// The value as sent (clipped).
        value: String,
        /// The largest value accepted (604800, a week).
        max: u64,
    },
    /// A header-signed request has neither `X-Amz-Date` nor `Date`.
    #[error("the request has neither an `x-amz-date` nor a `date` header")]
    MissingDate,
    /// The request time is not an ISO 8601 basic timestamp (`Date`: not an IMF-fixdate).
    #[error("invalid request time `{value}`")]
    InvalidDate {
        /// The value as sent (clipped).
        value: String,
    },
    /// The credential scope's date is not the date of the request time.
    #[error("credential scope date `{scope_date}` is not the date of the request time `{amz_date}`")]
    ScopeDateMismatch {
        /// The scope's `yyyymmdd`.
        scope_date: String,
        /// The request time (`yyyymmddThhmmssZ`).
        amz_date: String,
    },
    /// The request time is more than the allowed skew before now.
    #[error("signature expired: signed at {signed_at}, earliest accepted {earliest} (now {now})")]
    SignatureExpired {
        /// The request time.
        signed_at: String,
        /// Now minus the allowed skew.
        earliest: String,
        /// Now.
        now: String,
        /// The allowed skew in minutes (15).
        skew_minutes: u64,
    },
    /// The request time is more than the allowed skew after now.
    #[error("signature not yet current: signed at {signed_at}, latest accepted {latest} (now {now})")]
    SignatureNotYetCurrent {
        /// The request time.
        signed_at: String,
        /// Now plus the allowed skew.
        latest: String,
        /// Now.
        now: String,
        /// The allowed skew in minutes (15).
        skew_minutes: u64,
    },
    /// A presigned request is used after `X-Amz-Date + X-Amz-Expires`.
    #[error("presigned request expired at {expired_at} (now {now})")]
    PresignExpired {
        /// When it stopped being valid.
        expired_at: String,
        /// Now.
        now: String,
    },
    /// `host` is not among the signed headers.
    #[error("the `host` header is not signed")]
    HostNotSigned,
    /// A header named in `SignedHeaders` is absent from the request.
    #[error("signed header `{name}` is missing from the request")]
    SignedHeaderMissing {
        /// The header's (lower-case) name.
        name: String,
    },
    /// `x-amz-content-sha256` is neither the body's SHA-256 nor an accepted `UNSIGNED-PAYLOAD`.
    #[error("the `x-amz-content-sha256` header does not match the body")]
    PayloadHashMismatch,
    /// The signature does not verify.
    #[error("the signature does not match")]
    SignatureMismatch,
}

impl SigV4Error {
    /// The AWS error code (`<Code>`) IAM and STS answer with.
    pub fn aws_code(&self) -> &'static str {
        use SigV4Error::*;
        match self {
            MissingAuthentication => "MissingAuthenticationToken",
            AmbiguousAuthentication
            | UnsupportedAlgorithm { .. }
            | MalformedAuthorization { .. }
            | IncompleteAuthorization { .. }
            | IncompletePresign { .. }
            | DuplicateQueryParameter { .. }
            | MalformedCredential { .. }
            | MalformedSignedHeaders { .. }
            | MalformedSignature
            | InvalidExpires { .. }
            | MissingDate
            | InvalidDate { .. } => "IncompleteSignature",
            // The reference (section 9) leaves the presign-expiry code open; `RequestExpired` is
            // the generic code AWS documents for a request past its validity.
            PresignExpired { .. } => "RequestExpired",
            InvalidTerminator { .. }
            | InvalidRegion { .. }
            | WrongService { .. }
            | ScopeDateMismatch { .. }
            | SignatureExpired { .. }
            | SignatureNotYetCurrent { .. }
            | HostNotSigned
            | SignedHeaderMissing { .. }
            | PayloadHashMismatch
            | SignatureMismatch => "SignatureDoesNotMatch",
        }
    }

    /// The HTTP status that goes with [`aws_code`](Self::aws_code).
    pub fn http_status(&self) -> u16 {
        match self.aws_code() {
            "IncompleteSignature" | "RequestExpired" => 400,
            _ => 403,
        }
    }

    /// AWS's `<Message>` for this failure (its wording where known).
    pub fn aws_message(&self) -> String {
        use SigV4Error::*;
        match self {
            MissingAuthentication => "Request is missing Authentication Token".to_owned(),
            AmbiguousAuthentication => "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or \
                 the Authorization header should be specified"
                .to_owned(),
            UnsupportedAlgorithm { algorithm } => format!("Unsupported AWS 'algorithm': '{algorithm}'."),
            MalformedAuthorization { reason } => reason.clone(),
            IncompleteAuthorization { missing } => {
                let mut message = String::new();
                for name in missing {
                    let _ = write!(message, "Authorization header requires '{name}' parameter. ");
                }
                message.truncate(message.trim_end().len());
                message
            }
            IncompletePresign { .. } => "AWS query-string parameters must include 'X-Amz-Algorithm', \
                 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', and 'X-Amz-Expires'. \
                 Re-examine the query-string parameters."
                .to_owned(),
            DuplicateQueryParameter { name } => format!("Query parameter '{name}' must not be repeated."),
            MalformedCredential { credential } => format!(
                "Credential should be of the form '<AccessKeyId>/<yyyymmdd>/<region>/<service>/aws4_request', \
                 not '{credential}'."
            ),
            InvalidTerminator { terminator } => {
                format!("Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'.")
            }
            InvalidRegion { region } => format!("Credential should be scoped to a valid region, not '{region}'."),
            WrongService { expected, .. } => {
                format!("Credential should be scoped to correct service: '{}'.", expected.join("' or '"))
            }
            MalformedSignedHeaders { signed_headers } => {
                format!(
                    "SignedHeaders should be a ';'-separated list of lower-case header names, not '{signed_headers}'."
                )
            }
            MalformedSignature => "Signature should be 64 hexadecimal digits.".to_owned(),
            InvalidExpires { value, max } => {
                format!("X-Amz-Expires must be a number of seconds from 1 to {max} (a week), not '{value}'.")
            }
            MissingDate => {
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".to_owned()
            }
            InvalidDate { value } => format!(
                "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
            ),
            ScopeDateMismatch { scope_date, amz_date } => format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
                 '{scope_date}' != '{}', from '{amz_date}'.",
                amz_date.get(..8).unwrap_or(amz_date)
            ),
            SignatureExpired { signed_at, earliest, now, skew_minutes } => {
                format!("Signature expired: {signed_at} is now earlier than {earliest} ({now} - {skew_minutes} min.)")
            }
            SignatureNotYetCurrent { signed_at, latest, now, skew_minutes } => {
                format!(
                    "Signature not yet current: {signed_at} is still later than {latest} ({now} + {skew_minutes} min.)"
                )
            }
            PresignExpired { .. } => "Request has expired".to_owned(),
            HostNotSigned => "'Host' must be a signed header.".to_owned(),
            SignedHeaderMissing { name } => {
                format!("Header '{name}' is listed in SignedHeaders but is not present in the request.")
            }
            PayloadHashMismatch => {
                "The provided 'x-amz-content-sha256' header does not match what was computed.".to_owned()
            }
            SignatureMismatch => SIGNATURE_DOES_NOT_MATCH_MESSAGE.to_owned(),
        }
    }
}

/// `a`, `b` and `c` (or `or`) in backticks, for `Display`.
fn quote_list<S: AsRef<str>>(items: &[S], conjunction: &str) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("`{}`", item.as_ref())).collect();
    match quoted.as_slice() {
        [] => "nothing".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

/// `value`, cut to at most [`MAX_ECHO`] bytes on a character boundary.
pub(crate) fn clip(value: &str) -> String {
    if value.len() <= MAX_ECHO {
        return value.to_owned();
    }
    let mut end = MAX_ECHO;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &value[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(100);
        let clipped = clip(&long);
        assert!(clipped.len() <= MAX_ECHO + "…".len());
        assert!(clipped.ends_with('…'));
    }

    #[test]
    fn codes_and_statuses() {
        assert_eq!(SigV4Error::MissingAuthentication.aws_code(), "MissingAuthenticationToken");
        assert_eq!(SigV4Error::MissingAuthentication.http_status(), 403);
        assert_eq!(SigV4Error::MissingDate.aws_code(), "IncompleteSignature");
        assert_eq!(SigV4Error::MissingDate.http_status(), 400);
        assert_eq!(SigV4Error::SignatureMismatch.aws_code(), "SignatureDoesNotMatch");
        assert_eq!(SigV4Error::SignatureMismatch.http_status(), 403);
        assert_eq!(SigV4Error::SignatureMismatch.aws_message(), SIGNATURE_DOES_NOT_MATCH_MESSAGE);
        let expired = SigV4Error::PresignExpired { expired_at: "x".into(), now: "y".into() };
        assert_eq!((expired.aws_code(), expired.http_status()), ("RequestExpired", 400));
    }

    #[test]
    fn incomplete_authorization_lists_each_missing_part() {
        let error = SigV4Error::IncompleteAuthorization { missing: vec!["Credential", "Signature"] };
        assert_eq!(
            error.aws_message(),
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter."
        );
        assert_eq!(error.to_string(), "authorization header lacks `Credential` and `Signature`");
    }

    #[test]
    fn wrong_service_names_the_expected_ones() {
        let error = SigV4Error::WrongService { service: "s3".into(), expected: vec!["iam".into(), "sts".into()] };
        assert_eq!(error.aws_message(), "Credential should be scoped to correct service: 'iam' or 'sts'.");
        assert_eq!(error.to_string(), "credential is scoped to service `s3`, expected `iam` or `sts`");
    }
}
