//! The identity service: IAM users, groups, roles, tags, permissions boundaries, access keys, login
//! profiles and the account password policy, virtual MFA devices, OIDC providers, and the
//! account-wide reads (authorization details, credential report), with AWS's limits and error codes
//! (reference §5).
//!
//! [`Identity`] is the domain: plain Rust in, store records out, written once against
//! [`tessera_store::Store`]. [`IdentityApi`] is the domain's operations as a trait, implemented by
//! [`Identity`] (in process) and by [`remote::RemoteIdentity`] (over gRPC, for a gateway in front of
//! identity replicas). `grpc.rs` is the thin tonic adapter (`IdentityGrpc`) that serves any
//! `Arc<dyn IdentityApi>`: it decodes protobuf, calls the domain and maps the error through the one
//! catalog in `tessera_proto::error`; `convert.rs` holds the message conversions both sides use.
//! The policy service builds on the same entity helpers (`entity.rs`) so relations stay consistent
//! on both sides.
//!
//! Every write is one optimistic transaction in the account's namespace ([`tessera_store::update`]);
//! a write that can change anyone's permissions also bumps the account's policy epoch and publishes
//! it after the commit.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tessera_arn::RandomSource;
use tessera_credentials::{Argon2Params, MasterKey};
use tessera_store::iam::Millis;
use tessera_store::{Namespace, Store};

mod access_keys;
mod account;
mod api;
pub mod bootstrap;
mod convert;
pub mod entity;
mod error;
mod federation;
mod groups;
pub mod grpc;
mod login;
mod mfa;
mod oidc;
pub mod page;
mod providers;
pub mod remote;
mod report;
mod reseal;
mod roles;
// SAML providers
mod saml;
mod server_certificates;
mod service_credentials;
mod signing_certificates;
mod ssh_keys;
mod tagging;
pub mod tags;
mod user_credentials;
mod users;
// Issue 14, part A: instance profiles, account settings (aliases, STS preferences), service-linked roles.
mod account_settings;
mod instance_profiles;
pub mod service_linked;

pub use access_keys::{AccessKeyIdentity, AccessKeyLastUsed, AccessKeyMetadata, CreatedAccessKey};
pub use account::AuthorizationDetails;
pub use api::IdentityApi;
pub use error::{Error, MFA_FAILURE_METADATA, MFA_SERIAL_METADATA, MfaFailure, MfaRejection, Result};
pub use instance_profiles::InstanceProfile;
pub use login::{LoginProfile, UpdatePasswordPolicy};
pub use mfa::{
    AssignmentStatus, CreatedMfaDevice, MFA_MAX_FAILURES, ROOT_MFA_DEVICE_NAME, ROOT_OWNER, assigned_to_root,
    mfa_lock_period, root_mfa_serial,
};
pub use oidc::CreateOidcProvider;
pub use page::{Page, PageRequest};
pub use report::ReportState;
pub use reseal::Resealed;
pub use roles::CreateRole;
// SAML providers
pub use saml::{CreateSamlProvider, UpdateSamlProvider};
pub use tagging::Taggable;
pub use users::CreateUser;
// Certificates, SSH keys and service-specific credentials (issue 14, part B).
pub use server_certificates::{ServerCertificate, UploadServerCertificate, server_certificate_arn};
pub use service_credentials::{SUPPORTED_SERVICES, ServiceCredential, ServiceCredentialIdentity};
pub use signing_certificates::SigningCertificate;
pub use ssh_keys::{SshEncoding, SshPublicKey};

/// Where time comes from: the system clock in production, a fixed or stepped clock in tests.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    fn now(&self) -> SystemTime;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The randomness a service draws ids, secrets and seeds from, shareable across tasks.
pub struct Random(Mutex<Box<dyn RandomSource + Send>>);

impl Random {
    pub fn new(source: impl RandomSource + Send + 'static) -> Self {
        Self(Mutex::new(Box::new(source)))
    }

    /// Runs `f` with the source locked (ids and secrets are drawn in one go).
    pub fn with<T>(&self, f: impl FnOnce(&mut dyn RandomSource) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut **guard)
    }

    /// 128 random bits (a request ID's, a seed's).
    pub fn u128(&self) -> u128 {
        let mut bytes = [0u8; 16];
        self.with(|r| r.fill_bytes(&mut bytes));
        u128::from_le_bytes(bytes)
    }
}

impl fmt::Debug for Random {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Random")
    }
}

/// What every operation needs besides the store: time, randomness and the secrets at rest.
#[derive(Debug, Clone)]
pub struct Env {
    pub clock: Arc<dyn Clock>,
    pub random: Arc<Random>,
    pub master_key: Arc<MasterKey>,
    pub password_params: Argon2Params,
}

impl Env {
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    pub fn now_millis(&self) -> Millis {
        millis(self.now())
    }
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn millis(time: SystemTime) -> Millis {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub fn from_millis(ms: Millis) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// The account a call acts in, checked once at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    id: String,
    ns: Namespace,
}

impl Account {
    /// A 12-digit AWS-style account id.
    pub fn new(id: &str) -> Result<Self> {
        if !tessera_arn::is_account_id(id) {
            return Err(Error::invalid_input(format!("`{id}` is not a valid account id: expected 12 digits")));
        }
        let ns = Namespace::account(id).map_err(|e| Error::invalid_input(e.to_string()))?;
        Ok(Self { id: id.to_owned(), ns })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn ns(&self) -> &Namespace {
        &self.ns
    }
}

/// The identity service's domain.
#[derive(Debug)]
pub struct Identity<S> {
    store: Arc<S>,
    env: Env,
}

// By hand: a derived `Clone` would demand `S: Clone`, though only the `Arc` is cloned.
impl<S> Clone for Identity<S> {
    fn clone(&self) -> Self {
        Self { store: Arc::clone(&self.store), env: self.env.clone() }
    }
}

impl<S: Store> Identity<S> {
    pub fn new(store: Arc<S>, env: Env) -> Self {
        Self { store, env }
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    pub fn env(&self) -> &Env {
        &self.env
    }

    /// Announces the account's new policy epoch after a commit that bumped it. A failure to publish
    /// is logged, not returned: the write has happened, and caches also poll the epoch.
    pub async fn published(&self, account: &Account) {
        if let Err(error) = tessera_store::iam::publish_epoch(&*self.store, account.ns()).await {
            tracing::warn!(%error, account = account.id(), "failed to publish the policy epoch");
        }
    }
}
