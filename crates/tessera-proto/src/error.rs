//! The one error catalog: every error a Tessera service can return, with its AWS error code
//! string, HTTP status and gRPC code (reference §4.8, §5.9).
//!
//! Services fail with a [`ServiceError`]; the gRPC adapters turn it into a [`tonic::Status`]
//! whose metadata carries the AWS code under [`ERROR_CODE_METADATA_KEY`], and the gateway turns
//! the status back into a [`ServiceError`] with [`ServiceError::from_status`] to write the AWS
//! error envelope. No other code maps errors to wire codes.

use std::fmt;

use tonic::Code;
use tonic::metadata::MetadataValue;

/// The gRPC metadata key that carries the AWS error code of a failed call.
pub const ERROR_CODE_METADATA_KEY: &str = "tessera-error-code";

/// The gRPC metadata key (binary) that carries a failed call's [`ServiceError::details`]: each
/// name and value followed by a NUL byte.
pub const ERROR_DETAILS_METADATA_KEY: &str = "tessera-error-details-bin";

/// Declares [`ErrorCode`] and its wire mappings from one table, so that a code cannot be added
/// without its AWS string, HTTP status and gRPC code.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $aws:literal, $status:literal, $grpc:ident;)+) => {
        /// An error code of the IAM or STS API.
        ///
        /// The variant names are the AWS codes without an `Exception` suffix; `as_str` gives the
        /// exact AWS string.
        #[non_exhaustive]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code, in catalog order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The AWS error code, as written in the `<Code>` element of an error response.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $aws,)+
                }
            }

            /// The HTTP status of the AWS error response.
            pub fn http_status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)+
                }
            }

            /// The gRPC status code used between Tessera services.
            pub fn grpc_code(self) -> Code {
                match self {
                    $(ErrorCode::$variant => Code::$grpc,)+
                }
            }

            /// The code whose AWS string is exactly `code` (case-sensitive, as AWS codes are).
            pub fn parse(code: &str) -> Option<ErrorCode> {
                match code {
                    $($aws => Some(ErrorCode::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    // IAM (reference §5.9).
    /// An entity named in the request does not exist.
    NoSuchEntity => "NoSuchEntity", 404, NotFound;
    /// An entity with the same name (or URL) already exists.
    EntityAlreadyExists => "EntityAlreadyExists", 409, AlreadyExists;
    /// A quota or size limit would be exceeded.
    LimitExceeded => "LimitExceeded", 409, ResourceExhausted;
    /// The entity still has dependents (keys, policies, members, versions, ...).
    DeleteConflict => "DeleteConflict", 409, FailedPrecondition;
    /// A policy document is not valid JSON or not a valid policy.
    MalformedPolicyDocument => "MalformedPolicyDocument", 400, InvalidArgument;
    /// An input value is invalid.
    InvalidInput => "InvalidInput", 400, InvalidArgument;
    /// An input fails a model constraint (length, pattern, range).
    ValidationError => "ValidationError", 400, InvalidArgument;
    /// A password does not satisfy the account password policy.
    PasswordPolicyViolation => "PasswordPolicyViolation", 400, InvalidArgument;
    /// The entity (e.g. a service-linked role) cannot be modified.
    UnmodifiableEntity => "UnmodifiableEntity", 400, FailedPrecondition;
    /// The policy cannot be attached or used as a permissions boundary.
    PolicyNotAttachable => "PolicyNotAttachable", 400, InvalidArgument;
    /// The caller is not an IAM user (ChangePassword).
    InvalidUserType => "InvalidUserType", 400, InvalidArgument;
    /// The OpenID Connect provider could not be reached.
    OpenIdIdpCommunicationError => "OpenIdIdpCommunicationError", 400, Unavailable;
    /// The MFA authentication codes are wrong.
    InvalidAuthenticationCode => "InvalidAuthenticationCode", 403, InvalidArgument;
    /// The entity is being changed and cannot be modified yet.
    EntityTemporarilyUnmodifiable => "EntityTemporarilyUnmodifiable", 409, Unavailable;
    /// Another request changed the same entity at the same time.
    ConcurrentModification => "ConcurrentModification", 409, Aborted;
    /// A policy simulation failed.
    PolicyEvaluation => "PolicyEvaluation", 500, Internal;
    /// An internal failure.
    ServiceFailure => "ServiceFailure", 500, Internal;
    /// No credential report was generated.
    ReportNotPresent => "ReportNotPresent", 410, FailedPrecondition;
    /// The credential report is too old; generate a new one.
    ReportExpired => "ReportExpired", 410, FailedPrecondition;
    /// The credential report is still being generated.
    ReportInProgress => "ReportInProgress", 404, Unavailable;
    /// The caller is not allowed to do this (IAM and STS).
    AccessDenied => "AccessDenied", 403, PermissionDenied;

    // Certificates, SSH keys and service-specific credentials (issue 14, part B).
    /// A certificate, chain or private key is not PEM or cannot be parsed.
    MalformedCertificate => "MalformedCertificate", 400, InvalidArgument;
    /// The private key is not the certificate's.
    KeyPairMismatch => "KeyPairMismatch", 400, InvalidArgument;
    /// The user already has this signing certificate.
    DuplicateCertificate => "DuplicateCertificate", 409, AlreadyExists;
    /// The certificate is well-formed but not acceptable.
    InvalidCertificate => "InvalidCertificate", 400, InvalidArgument;
    /// The user already has this SSH public key.
    DuplicateSshPublicKey => "DuplicateSSHPublicKey", 400, AlreadyExists;
    /// The SSH public key is invalid (too short).
    InvalidPublicKey => "InvalidPublicKey", 400, InvalidArgument;
    /// The SSH public key's encoding is not one AWS accepts.
    UnrecognizedPublicKeyEncoding => "UnrecognizedPublicKeyEncoding", 400, InvalidArgument;
    /// The service named for a service-specific credential does not take them.
    NotSupportedService => "NotSupportedService", 404, InvalidArgument;

    // STS (reference §4.8); `AccessDenied`, `ValidationError` and `MalformedPolicyDocument`
    // are shared with IAM.
    /// The packed session policies and tags are too large.
    PackedPolicyTooLarge => "PackedPolicyTooLarge", 400, InvalidArgument;
    /// STS is not activated in the region.
    RegionDisabled => "RegionDisabledException", 403, FailedPrecondition;
    /// The identity provider's token (JWT or SAML assertion) has expired. Not the same code as
    /// [`ErrorCode::ExpiredToken`], hence the kept suffix.
    ExpiredTokenException => "ExpiredTokenException", 400, Unauthenticated;
    /// The identity provider's token or assertion is invalid.
    InvalidIdentityToken => "InvalidIdentityToken", 400, Unauthenticated;
    /// The identity provider rejected a claim.
    IdpRejectedClaim => "IDPRejectedClaim", 403, PermissionDenied;
    /// The identity provider could not be reached.
    IdpCommunicationError => "IDPCommunicationError", 400, Unavailable;
    /// DecodeAuthorizationMessage got a message it cannot decode.
    InvalidAuthorizationMessage => "InvalidAuthorizationMessageException", 400, InvalidArgument;

    // Request authentication (reference §7), shared by IAM and STS.
    /// The session token that signed the request has expired.
    ExpiredToken => "ExpiredToken", 403, Unauthenticated;
    /// The access key is unknown or inactive, or the session token is missing or wrong.
    InvalidClientTokenId => "InvalidClientTokenId", 403, Unauthenticated;
    /// The signature is wrong, or the request is signed outside the allowed time window.
    SignatureDoesNotMatch => "SignatureDoesNotMatch", 403, Unauthenticated;
    /// The signature lacks a required part.
    IncompleteSignature => "IncompleteSignature", 400, Unauthenticated;
    /// The request is not signed.
    MissingAuthenticationToken => "MissingAuthenticationToken", 403, Unauthenticated;

    // Query-protocol errors common to all AWS services (AWS "Common Errors" pages; not in the
    // reference tables).
    /// The `Action` parameter names no operation of the API.
    InvalidAction => "InvalidAction", 400, Unimplemented;
    /// The request has no `Action` parameter.
    MissingAction => "MissingAction", 400, InvalidArgument;
    /// The request is too old or too far in the future.
    RequestExpired => "RequestExpired", 400, Unauthenticated;
    /// The request was throttled; botocore retries this code.
    Throttling => "Throttling", 400, ResourceExhausted;
    /// A temporary failure; retry.
    ServiceUnavailable => "ServiceUnavailable", 503, Unavailable;
    // Outbound web identity federation, Organizations and delegation (issue 14, part C).
    /// `EnableOutboundWebIdentityFederation` when it is already enabled.
    FeatureEnabled => "FeatureEnabled", 409, FailedPrecondition;
    /// `DisableOutboundWebIdentityFederation` (or its info) when it is disabled.
    FeatureDisabled => "FeatureDisabled", 404, FailedPrecondition;
    /// `sts:GetWebIdentityToken` while the account's outbound federation is disabled.
    OutboundWebIdentityFederationDisabled => "OutboundWebIdentityFederationDisabledException", 403, FailedPrecondition;
    /// The Organizations-related calls of an account that is in no organization (the model's
    /// shape has no `error` trait, so its code is the shape's name).
    OrganizationNotFound => "OrganizationNotFoundException", 400, FailedPrecondition;
    /// `sts:GetDelegatedAccessToken` with a trade-in token that cannot be exchanged.
    ExpiredTradeInToken => "ExpiredTradeInTokenException", 400, InvalidArgument;
}

impl ErrorCode {
    /// Whether the caller is at fault (AWS error `<Type>Sender</Type>`, 4xx) rather than the
    /// service (`Receiver`, 5xx).
    pub fn sender_fault(self) -> bool {
        self.http_status() < 500
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as a client sees it: an AWS code and a message that is safe to show (no secrets,
/// no internal detail).
///
/// `message` is AWS's own wording where it is known; what Tessera knows beyond it (where in a
/// policy document the problem is, what exactly is wrong) goes into `details`, which the gateway
/// writes as additional child elements of the XML `<Error>` (botocore returns them in
/// `response['Error']` beside `Code` and `Message`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ServiceError {
    pub code: ErrorCode,
    pub message: String,
    /// Extra `<Error>` elements, name and text, in order. Names are XML element names (ASCII
    /// letters) other than `Type`, `Code` and `Message`.
    pub details: Vec<(String, String)>,
}

impl ServiceError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ServiceError {
        ServiceError { code, message: message.into(), details: Vec::new() }
    }

    /// This error with `details` added (see [`ServiceError::details`]).
    #[must_use]
    pub fn with_details(mut self, details: impl IntoIterator<Item = (String, String)>) -> ServiceError {
        self.details.extend(details);
        self
    }

    /// [`ErrorCode::NoSuchEntity`].
    pub fn no_such_entity(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorCode::NoSuchEntity, message)
    }

    /// [`ErrorCode::EntityAlreadyExists`].
    pub fn already_exists(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorCode::EntityAlreadyExists, message)
    }

    /// [`ErrorCode::LimitExceeded`].
    pub fn limit_exceeded(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorCode::LimitExceeded, message)
    }

    /// [`ErrorCode::DeleteConflict`].
    pub fn delete_conflict(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorCode::DeleteConflict, message)
    }

    /// [`ErrorCode::InvalidInput`].
    pub fn invalid_input(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorCode::InvalidInput, message)
    }

    /// [`ErrorCode::ValidationError`].
    pub fn validation(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorCode::ValidationError, message)
    }

    /// [`ErrorCode::MalformedPolicyDocument`].
    pub fn malformed_policy(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorCode::MalformedPolicyDocument, message)
    }

    /// [`ErrorCode::AccessDenied`].
    pub fn access_denied(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorCode::AccessDenied, message)
    }

    /// [`ErrorCode::ServiceFailure`]. The message reaches the client: keep the detail in logs.
    pub fn service_failure(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorCode::ServiceFailure, message)
    }

    /// The error carried by a status that a Tessera service returned. A status without a known
    /// code in its metadata (a transport failure, or a server that is not Tessera) becomes
    /// [`ErrorCode::ServiceFailure`] with the status's message.
    pub fn from_status(status: &tonic::Status) -> ServiceError {
        let code = status
            .metadata()
            .get(ERROR_CODE_METADATA_KEY)
            .and_then(|value| value.to_str().ok())
            .and_then(ErrorCode::parse)
            .unwrap_or(ErrorCode::ServiceFailure);
        let details = status
            .metadata()
            .get_bin(ERROR_DETAILS_METADATA_KEY)
            .and_then(|value| value.to_bytes().ok())
            .map(|bytes| decode_details(&bytes))
            .unwrap_or_default();
        ServiceError::new(code, status.message()).with_details(details)
    }
}

fn encode_details(details: &[(String, String)]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (name, value) in details {
        for part in [name, value] {
            bytes.extend(part.bytes().filter(|&b| b != 0));
            bytes.push(0);
        }
    }
    bytes
}

fn decode_details(bytes: &[u8]) -> Vec<(String, String)> {
    let parts: Vec<String> = bytes.split(|&b| b == 0).map(|part| String::from_utf8_lossy(part).into_owned()).collect();
    parts.chunks_exact(2).map(|pair| (pair[0].clone(), pair[1].clone())).collect()
}

impl From<ServiceError> for tonic::Status {
    fn from(error: ServiceError) -> tonic::Status {
        let mut status = tonic::Status::new(error.code.grpc_code(), error.message);
        // AWS codes are ASCII literals, so `from_static` cannot panic (checked by a test).
        status.metadata_mut().insert(ERROR_CODE_METADATA_KEY, MetadataValue::from_static(error.code.as_str()));
        if !error.details.is_empty() {
            let bytes = encode_details(&error.details);
            status.metadata_mut().insert_bin(ERROR_DETAILS_METADATA_KEY, MetadataValue::from_bytes(&bytes));
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_code_parses_back_and_is_unique() {
        let mut seen = HashSet::new();
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            assert!(seen.insert(code.as_str()), "duplicate AWS code `{code}`");
            assert!(code.as_str().bytes().all(|b| b.is_ascii_alphanumeric()), "`{code}` is not a plain ASCII word");
        }
        assert_eq!(ErrorCode::parse("nosuchentity"), None);
        assert_eq!(ErrorCode::parse(""), None);
    }

    /// The statuses of the reference tables (§4.8, §5.9, §7), restated so that an edit of the
    /// catalog that changes one is caught.
    #[test]
    fn http_statuses_follow_the_reference() {
        let expected = [
            ("NoSuchEntity", 404),
            ("EntityAlreadyExists", 409),
            ("LimitExceeded", 409),
            ("DeleteConflict", 409),
            ("MalformedPolicyDocument", 400),
            ("InvalidInput", 400),
            ("ValidationError", 400),
            ("PasswordPolicyViolation", 400),
            ("UnmodifiableEntity", 400),
            ("PolicyNotAttachable", 400),
            ("InvalidUserType", 400),
            ("OpenIdIdpCommunicationError", 400),
            ("InvalidAuthenticationCode", 403),
            ("EntityTemporarilyUnmodifiable", 409),
            ("ConcurrentModification", 409),
            ("PolicyEvaluation", 500),
            ("ServiceFailure", 500),
            ("ReportNotPresent", 410),
            ("ReportExpired", 410),
            ("ReportInProgress", 404),
            ("AccessDenied", 403),
            ("PackedPolicyTooLarge", 400),
            ("RegionDisabledException", 403),
            ("ExpiredTokenException", 400),
            ("InvalidIdentityToken", 400),
            ("IDPRejectedClaim", 403),
            ("IDPCommunicationError", 400),
            ("InvalidAuthorizationMessageException", 400),
            ("ExpiredToken", 403),
            ("InvalidClientTokenId", 403),
            ("SignatureDoesNotMatch", 403),
            ("IncompleteSignature", 400),
            ("MissingAuthenticationToken", 403),
        ];
        for (aws, status) in expected {
            let code = ErrorCode::parse(aws).unwrap_or_else(|| panic!("`{aws}` is missing from the catalog"));
            assert_eq!(code.http_status(), status, "`{aws}`");
        }
    }

    #[test]
    fn fault_side_follows_the_status() {
        assert!(ErrorCode::NoSuchEntity.sender_fault());
        assert!(ErrorCode::AccessDenied.sender_fault());
        assert!(!ErrorCode::ServiceFailure.sender_fault());
        assert!(!ErrorCode::PolicyEvaluation.sender_fault());
        assert!(!ErrorCode::ServiceUnavailable.sender_fault());
    }

    #[test]
    fn display_is_code_then_message() {
        let error = ServiceError::no_such_entity("The user with name `bob` cannot be found.");
        assert_eq!(error.to_string(), "NoSuchEntity: The user with name `bob` cannot be found.");
        assert_eq!(ErrorCode::RegionDisabled.to_string(), "RegionDisabledException");
    }

    #[test]
    fn every_code_round_trips_through_a_status() {
        for &code in ErrorCode::ALL {
            let error = ServiceError::new(code, format!("failed with {code}: é"));
            let status = tonic::Status::from(error.clone());
            assert_eq!(status.code(), code.grpc_code());
            assert_eq!(status.message(), error.message);
            assert_eq!(ServiceError::from_status(&status), error);
        }
    }

    #[test]
    fn details_round_trip_through_a_status() {
        let error = ServiceError::malformed_policy("Syntax errors in policy.").with_details([
            ("Statement".to_owned(), "0".to_owned()),
            ("Field".to_owned(), "Condition.StringEquals.é".to_owned()),
            ("Empty".to_owned(), String::new()),
        ]);
        let status = tonic::Status::from(error.clone());
        assert_eq!(ServiceError::from_status(&status), error);
        let plain = ServiceError::validation("m");
        assert!(tonic::Status::from(plain.clone()).metadata().get_bin(ERROR_DETAILS_METADATA_KEY).is_none());
        assert_eq!(ServiceError::from_status(&tonic::Status::from(plain.clone())), plain);
    }

    #[test]
    fn shorthands_pick_their_codes() {
        let cases = [
            (ServiceError::no_such_entity("m"), ErrorCode::NoSuchEntity),
            (ServiceError::already_exists("m"), ErrorCode::EntityAlreadyExists),
            (ServiceError::limit_exceeded("m"), ErrorCode::LimitExceeded),
            (ServiceError::delete_conflict("m"), ErrorCode::DeleteConflict),
            (ServiceError::invalid_input("m"), ErrorCode::InvalidInput),
            (ServiceError::validation("m"), ErrorCode::ValidationError),
            (ServiceError::malformed_policy("m"), ErrorCode::MalformedPolicyDocument),
            (ServiceError::access_denied("m"), ErrorCode::AccessDenied),
            (ServiceError::service_failure("m"), ErrorCode::ServiceFailure),
        ];
        for (error, code) in cases {
            assert_eq!(error, ServiceError::new(code, "m"));
        }
    }

    #[test]
    fn a_status_without_a_known_code_is_a_service_failure() {
        let plain = tonic::Status::unavailable("connection refused");
        assert_eq!(
            ServiceError::from_status(&plain),
            ServiceError::new(ErrorCode::ServiceFailure, "connection refused")
        );

        let mut unknown = tonic::Status::not_found("gone");
        unknown.metadata_mut().insert(ERROR_CODE_METADATA_KEY, MetadataValue::from_static("NoSuchThing"));
        assert_eq!(ServiceError::from_status(&unknown), ServiceError::new(ErrorCode::ServiceFailure, "gone"));
    }
}
