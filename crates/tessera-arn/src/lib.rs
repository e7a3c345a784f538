//! ARNs, unique identifiers and the IAM name and path rules (reference §1).
//!
//! This is a pure crate: no I/O, no async runtime and no randomness of its own. Code that mints
//! IDs passes a [`RandomSource`].
//!
//! - [`arn`]: the [`Arn`] type, parsed from and printed to `arn:partition:service:region:account:resource`.
//! - [`entity`]: [`IamEntity`], the users, roles, sessions and other things an IAM or STS ARN names.
//! - [`ids`]: unique IDs (`AIDA…`) and access key IDs (`AKIA…`, `ASIA…`).
//! - [`names`]: the model's name, path and length rules, failing with AWS's exact
//!   `ValidationError` messages.
//!
//! ```
//! use tessera_arn::{Arn, IamEntity};
//!
//! let arn: Arn = "arn:aws:iam::123456789012:role/service-role/Deployer".parse()?;
//! assert_eq!(
//!     arn.entity()?,
//!     IamEntity::Role { path: "/service-role/".into(), name: "Deployer".into() },
//! );
//! assert_eq!(Arn::assumed_role("123456789012", "Deployer", "ci").to_string(),
//!            "arn:aws:sts::123456789012:assumed-role/Deployer/ci");
//! # Ok::<(), tessera_arn::ArnError>(())
//! ```

pub mod arn;
pub mod entity;
pub mod ids;
pub mod names;

pub use arn::{Arn, ArnError, is_account_id};
pub use entity::IamEntity;
pub use ids::{
    ACCESS_KEY_ID_LEN, ID_ALPHABET, IdPrefix, RandomSource, SeededRandom, UNIQUE_ID_LEN, access_key_id, prefix_of,
    unique_id,
};
pub use names::{
    NAME_PATTERN, ValidationError, Violation, eq_ignore_case, fold_name, fold_tag_key, validate_description,
    validate_external_id, validate_federation_name, validate_group_name, validate_mfa_code, validate_mfa_serial,
    validate_path, validate_policy_name, validate_policy_path, validate_role_name, validate_role_session_name,
    validate_server_certificate_name, validate_source_identity, validate_tag_key, validate_tag_value,
    validate_user_name,
};
// Issue 14, part A.
pub use names::{validate_account_alias, validate_custom_suffix, validate_instance_profile_name};
