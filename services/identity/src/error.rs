//! The domain error: an AWS-coded service error, or a storage failure that the edge turns into one.

use tessera_arn::ValidationError;
use tessera_policy::{ErrorCode as PolicyErrorCode, PolicyError};
use tessera_proto::error::{ErrorCode, ServiceError};
use tessera_store::StoreError;

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

    /// `LimitExceeded: Cannot exceed quota for <quota>: <n>`, AWS's wording for every count limit.
    pub fn quota(quota: &str, limit: usize) -> Self {
        Self::limit_exceeded(format!("Cannot exceed quota for {quota}: {limit}"))
    }

    /// The wire form. Storage detail is logged here, where it is handled, and never sent.
    pub fn into_service_error(self) -> ServiceError {
        match self {
            Self::Service(error) => error,
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

impl From<PolicyError> for Error {
    fn from(error: PolicyError) -> Self {
        let code = match error.code() {
            PolicyErrorCode::LimitExceeded => ErrorCode::LimitExceeded,
            PolicyErrorCode::MalformedPolicyDocument => ErrorCode::MalformedPolicyDocument,
        };
        Self::new(code, error.to_string())
    }
}

impl From<Error> for ServiceError {
    fn from(error: Error) -> Self {
        error.into_service_error()
    }
}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        error.into_service_error().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
