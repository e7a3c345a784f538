//! Account scoping for the gRPC adapters: when the gateway's gRPC layer authenticated the caller,
//! it says who in request metadata, and a request may act only in the caller's own account (and,
//! for sts, only as the key that authenticated). Without the layer (the internal API), the metadata
//! is absent and nothing is checked.

use tonic::Request;

use crate::{ErrorCode, ServiceError};

/// The metadata key the gateway's gRPC layer sets to the authenticated caller's account id.
pub const CALLER_ACCOUNT_METADATA: &str = "tessera-caller-account";
/// The metadata key the gateway's gRPC layer sets to the access key id the caller used.
pub const CALLER_KEY_METADATA: &str = "tessera-caller-key";

/// The metadata key the gateway's gRPC layer sets to the caller's address (the connection's
/// peer): the only source of `aws:SourceIp` when the layer ran.
pub const CALLER_SOURCE_IP_METADATA: &str = "tessera-caller-source-ip";

/// Who the layer authenticated, if it ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub account: Option<String>,
    pub access_key_id: Option<String>,
    pub source_ip: Option<String>,
}

impl Scope {
    /// Refuses an `account_id` other than the caller's.
    pub fn check_account(&self, account_id: &str) -> Result<(), ServiceError> {
        match &self.account {
            Some(own) if own != account_id => Err(ServiceError::new(
                ErrorCode::AccessDenied,
                format!("The caller may not act in account {account_id}."),
            )),
            _ => Ok(()),
        }
    }

    /// The caller's source IP: the peer address when the layer ran (whatever the body says),
    /// else the body's value (the internal API trusts its callers).
    pub fn source_ip(&self, from_body: Option<String>) -> Option<String> {
        if self.account.is_some() { self.source_ip.clone() } else { from_body }
    }

    /// Refuses a body `Caller` whose key is not the one that authenticated.
    pub fn check_key(&self, access_key_id: &str) -> Result<(), ServiceError> {
        match &self.access_key_id {
            Some(own) if own != access_key_id => Err(ServiceError::new(
                ErrorCode::AccessDenied,
                "The request's caller is not the authenticated caller.".to_owned(),
            )),
            _ => Ok(()),
        }
    }
}

/// Splits a request into the caller's scope and its message.
pub fn split<T>(request: Request<T>) -> (Scope, T) {
    let get = |key: &str| request.metadata().get(key).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let scope = Scope {
        account: get(CALLER_ACCOUNT_METADATA),
        access_key_id: get(CALLER_KEY_METADATA),
        source_ip: get(CALLER_SOURCE_IP_METADATA),
    };
    (scope, request.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_callers_own_account_and_key_pass() {
        let mut request = Request::new(());
        request.metadata_mut().insert(CALLER_ACCOUNT_METADATA, "111111111111".parse().unwrap());
        request.metadata_mut().insert(CALLER_KEY_METADATA, "AKIAOWN".parse().unwrap());
        let (scope, ()) = split(request);
        assert!(scope.check_account("111111111111").is_ok());
        assert_eq!(scope.check_account("222222222222").unwrap_err().code, ErrorCode::AccessDenied);
        assert!(scope.check_key("AKIAOWN").is_ok());
        assert!(scope.check_key("AKIAOTHER").is_err());
        let (open, ()) = split(Request::new(()));
        assert!(open.check_account("222222222222").is_ok(), "without the layer nothing is checked");
    }
}
