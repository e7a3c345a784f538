//! The domain error: an AWS-coded service error, or a storage failure that the edge turns into one.

use tessera_arn::ValidationError;
use tessera_policy::{ErrorCode as PolicyErrorCode, PolicyError};
use tessera_proto::error::{ErrorCode, ServiceError};
use tessera_store::StoreError;
use tonic::metadata::MetadataValue;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an identity or policy operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A failure the caller can act on, with its AWS code and message.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The store failed; the caller sees `ServiceFailure` (or `ConcurrentModification` after
    /// contention), the detail goes to the log.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An MFA code was refused (wrong, replayed, or the device is locked): the caller sees the
    /// rejection's error, the audit trail records its device and reason.
    #[error("{}", .0.error)]
    Mfa(Box<MfaRejection>),
}

/// Why an MFA code was refused, as the audit trail records it (never the code itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaFailure {
    /// A wrong, replayed or out-of-window code; it counts towards the device's lock.
    InvalidCode,
    /// The device is locked after too many wrong codes; the code was not checked.
    Locked,
    /// The serial names no device of the caller (an STS check before any code is tried).
    UnknownDevice,
}

impl MfaFailure {
    /// The audit trail's `reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidCode => "mfa_invalid_code",
            Self::Locked => "mfa_locked",
            Self::UnknownDevice => "mfa_unknown_device",
        }
    }

    /// The failure whose [`MfaFailure::as_str`] is `reason`.
    pub fn parse(reason: &str) -> Option<Self> {
        [Self::InvalidCode, Self::Locked, Self::UnknownDevice].into_iter().find(|f| f.as_str() == reason)
    }
}

/// The response metadata that carries an [`MfaRejection`]'s device across gRPC (binary: a serial
/// the caller typed may hold any bytes). Never the code.
pub const MFA_SERIAL_METADATA: &str = "tessera-mfa-serial-bin";
/// The response metadata that carries an [`MfaRejection`]'s [`MfaFailure::as_str`].
pub const MFA_FAILURE_METADATA: &str = "tessera-mfa-failure";

/// A refused MFA code: the device it was for, why, and the AWS error the caller gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaRejection {
    pub serial: String,
    pub failure: MfaFailure,
    pub error: ServiceError,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Service(ServiceError::new(code, message.into()))
    }

    pub fn no_such_entity(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NoSuchEntity, message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::EntityAlreadyExists, message)
    }

    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::LimitExceeded, message)
    }

    pub fn delete_conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::DeleteConflict, message)
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    /// A refused MFA code answered with `code` and `message`, audited with `serial` and `failure`.
    pub fn mfa(serial: &str, failure: MfaFailure, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Mfa(Box::new(MfaRejection {
            serial: serial.to_owned(),
            failure,
            error: ServiceError::new(code, message.into()),
        }))
    }

    /// The refused MFA code this error is, if it is one.
    pub fn mfa_rejection(&self) -> Option<&MfaRejection> {
        match self {
            Self::Mfa(rejection) => Some(rejection),
            _ => None,
        }
    }

    /// `LimitExceeded: Cannot exceed quota for <quota>: <n>`, AWS's wording for every count limit.
    pub fn quota(quota: &str, limit: usize) -> Self {
        Self::limit_exceeded(format!("Cannot exceed quota for {quota}: {limit}"))
    }

    /// The wire form. Storage detail is logged here, where it is handled, and never sent.
    pub fn into_service_error(self) -> ServiceError {
        match self {
            Self::Service(error) => error,
            Self::Mfa(rejection) => rejection.error,
            Self::Store(StoreError::Contention { attempts }) => {
                tracing::warn!(attempts, "write gave up under contention");
                ServiceError::new(
                    ErrorCode::ConcurrentModification,
                    "The request was rejected because multiple requests to change this object were submitted \
                     simultaneously. Wait a few minutes and submit your request again."
                        .to_owned(),
                )
            }
            Self::Store(error) => {
                tracing::error!(%error, "storage failure");
                ServiceError::new(
                    ErrorCode::ServiceFailure,
                    "The request processing has failed because of an unknown error.".to_owned(),
                )
            }
        }
    }

    /// The AWS code this error reaches the caller with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Service(error) => error.code,
            Self::Mfa(rejection) => rejection.error.code,
            Self::Store(StoreError::Contention { .. }) => ErrorCode::ConcurrentModification,
            Self::Store(_) => ErrorCode::ServiceFailure,
        }
    }
}

impl From<ValidationError> for Error {
    fn from(error: ValidationError) -> Self {
        Self::new(ErrorCode::ValidationError, error.to_string())
    }
}

/// A rejected policy document: AWS's message for its first finding, Tessera's detail (statement,
/// Sid, field, line, column and its own message) as additional `<Error>` elements.
impl From<PolicyError> for Error {
    fn from(error: PolicyError) -> Self {
        let code = match error.code() {
            PolicyErrorCode::LimitExceeded => ErrorCode::LimitExceeded,
            PolicyErrorCode::MalformedPolicyDocument => ErrorCode::MalformedPolicyDocument,
        };
        Self::Service(ServiceError::new(code, error.aws_message()).with_details(error.wire_details()))
    }
}

impl From<Error> for ServiceError {
    fn from(error: Error) -> Self {
        error.into_service_error()
    }
}

/// The wire form of an error: the AWS code in `tessera-error-code` (the one catalog), and for a
/// refused MFA code its device and reason too, so that a remote caller's audit trail records what
/// a local one does.
impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        let mfa = error.mfa_rejection().map(|r| (r.serial.clone(), r.failure));
        let mut status = tonic::Status::from(error.into_service_error());
        if let Some((serial, failure)) = mfa {
            let metadata = status.metadata_mut();
            metadata.insert_bin(MFA_SERIAL_METADATA, MetadataValue::from_bytes(serial.as_bytes()));
            metadata.insert(MFA_FAILURE_METADATA, MetadataValue::from_static(failure.as_str()));
        }
        status
    }
}

impl Error {
    /// The error a failed call's status carries: the AWS code and message byte for byte (a
    /// transport failure is `ServiceFailure` with tonic's message), and an MFA rejection with its
    /// device and reason when the server attached them.
    pub fn from_status(status: &tonic::Status) -> Self {
        let error = ServiceError::from_status(status);
        let metadata = status.metadata();
        let failure = metadata.get(MFA_FAILURE_METADATA).and_then(|v| v.to_str().ok()).and_then(MfaFailure::parse);
        let serial = metadata
            .get_bin(MFA_SERIAL_METADATA)
            .and_then(|v| v.to_bytes().ok())
            .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok());
        match (serial, failure) {
            (Some(serial), Some(failure)) => Self::Mfa(Box::new(MfaRejection { serial, failure, error })),
            _ => Self::Service(error),
        }
    }
}

/// A failed remote call (`tessera_proto::upstream::Client`) as its domain error, so `?` carries it.
impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        Self::from_status(&status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_carry_the_aws_error_and_an_mfa_rejection_back() {
        let plain = Error::no_such_entity("The user with name bob cannot be found.");
        let back = Error::from_status(&tonic::Status::from(plain));
        assert!(matches!(&back, Error::Service(e) if e.code == ErrorCode::NoSuchEntity
            && e.message == "The user with name bob cannot be found."));

        for failure in [MfaFailure::InvalidCode, MfaFailure::Locked, MfaFailure::UnknownDevice] {
            assert_eq!(MfaFailure::parse(failure.as_str()), Some(failure));
            let serial = "arn:aws:iam::111111111111:mfa/phone é";
            let error = Error::mfa(serial, failure, ErrorCode::AccessDenied, "MultiFactorAuthentication failed.");
            let expected = error.mfa_rejection().cloned().unwrap();
            let back = Error::from_status(&tonic::Status::from(error));
            assert_eq!(back.mfa_rejection(), Some(&expected));
        }
        assert_eq!(MfaFailure::parse("mfa_other"), None);
    }

    #[test]
    fn storage_failures_reach_the_caller_as_aws_codes_without_detail() {
        let contended = Error::Store(StoreError::Contention { attempts: 16 }).into_service_error();
        assert_eq!(contended.code, ErrorCode::ConcurrentModification);
        let broken = Error::Store(StoreError::Corrupt { key: "t:{1}:user:secret-name".into(), reason: "eof".into() });
        let broken = broken.into_service_error();
        assert_eq!(broken.code, ErrorCode::ServiceFailure);
        assert!(!broken.message.contains("secret-name"), "internal detail leaked: {}", broken.message);
    }
}
