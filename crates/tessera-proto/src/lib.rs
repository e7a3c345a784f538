//! The Tessera gRPC API: tonic/prost code generated from `proto/tessera/**` at build time, and
//! the one catalog that maps errors to wire codes.
//!
//! Packages (one Rust module per protobuf package):
//!
//! - [`common::v1`] (`tessera.common.v1`): paging ([`PageRequest`](common::v1::PageRequest),
//!   [`PageResponse`](common::v1::PageResponse)), tags, references to users, groups and roles
//!   ([`EntityRef`](common::v1::EntityRef)) and to taggable resources
//!   ([`TaggableRef`](common::v1::TaggableRef)), permissions boundaries, attached and inline
//!   policy records.
//! - [`identity::v1`] (`tessera.identity.v1`): `IdentityService`, for accounts, users, groups,
//!   roles, tags, permissions boundaries, access keys, passwords, MFA devices, OpenID Connect
//!   providers and the account-wide reads. Server trait
//!   [`identity_service_server::IdentityService`](identity::v1::identity_service_server::IdentityService),
//!   client [`identity_service_client::IdentityServiceClient`](identity::v1::identity_service_client::IdentityServiceClient).
//! - [`policy::v1`] (`tessera.policy.v1`): `PolicyService`, for managed policies and versions,
//!   attachment, inline policies and the `WatchPolicyEpochs` change stream. Server trait
//!   [`policy_service_server::PolicyService`](policy::v1::policy_service_server::PolicyService),
//!   client [`policy_service_client::PolicyServiceClient`](policy::v1::policy_service_client::PolicyServiceClient).
//!
//! Hand-written modules:
//!
//! - [`error`]: [`ErrorCode`] (AWS code string, HTTP status, gRPC code) and [`ServiceError`],
//!   which converts to and from [`tonic::Status`].
//! - [`convert`]: `SystemTime` to and from `google.protobuf.Timestamp`.
//! - [`upstream`]: calling a service's replicas ([`upstream::Upstream`], a balanced channel with
//!   outlier ejection, and the retry rule for idempotent reads).
//!
//! The proto conventions (every request has `account_id = 1`, fields are the snake_case AWS
//! member names, optional AWS inputs are proto3 `optional`, enum value 0 means "not given") are
//! written at the top of `proto/tessera/common/v1/common.proto`. Generated types stop at the
//! service boundary: services convert them to domain types in their `grpc.rs`.
//!
//! Messages that carry secrets (`AccessKey`, the password requests, `VirtualMfaDevice`) have a
//! hand-written `Debug` that redacts them.

pub mod convert;
pub mod error;
mod redact;
pub mod scope;
pub mod upstream;

pub use error::{ErrorCode, ServiceError};
pub use scope::{CALLER_ACCOUNT_METADATA, CALLER_KEY_METADATA};

/// Declares `pub mod $service { pub mod v1 { <generated code> } }`; generated code is exempt from
/// the workspace lints.
macro_rules! package {
    ($service:ident, $package:literal, $doc:literal) => {
        #[doc = concat!("`", $package, "`.")]
        pub mod $service {
            #[doc = concat!("`", $package, "`: ", $doc)]
            #[allow(
                clippy::all,
                clippy::pedantic,
                clippy::nursery,
                missing_debug_implementations,
                missing_docs,
                rust_2018_idioms,
                unreachable_pub
            )]
            pub mod v1 {
                tonic::include_proto!($package);
            }
        }
    };
}

package!(authorizer, "tessera.authorizer.v1", "`AuthorizerService` and its messages.");
package!(common, "tessera.common.v1", "types shared by the services.");
package!(identity, "tessera.identity.v1", "`IdentityService` and its messages.");
package!(policy, "tessera.policy.v1", "`PolicyService` and its messages.");
package!(sts, "tessera.sts.v1", "`StsService` and its messages.");
