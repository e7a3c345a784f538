//! The IAM data model on the key-value layer: one record type per entity, where each lives, and the
//! policy epoch that tells caches a principal's permissions may have changed.
//!
//! Layout (all in the account's namespace unless marked global):
//!
//! | key | record | holds |
//! |---|---|---|
//! | `account:` | [`AccountRecord`] | the account itself |
//! | `user:<folded name>` | [`UserRecord`] | the user with its groups, policies, access keys, login profile, MFA serials |
//! | `group:<folded name>` | [`GroupRecord`] | the group with its members and policies |
//! | `role:<folded name>` | [`RoleRecord`] | the role with its trust policy and policies |
//! | `policy:<folded name>` | [`PolicyRecord`] | a customer managed policy with all its versions |
//! | `policy-use:<policy ARN>` | [`PolicyUseRecord`] | who a managed policy (customer or AWS) is attached to, or bounds |
//! | `mfa:<folded name>` | [`MfaDeviceRecord`] | a virtual MFA device, its sealed seed and its user |
//! | `mfa-lockout:<folded name>` | [`MfaLockoutRecord`] | a device's unproven code attempts and its lock (apart: written per attempt) |
//! | `oidc:<url without https://>` | [`OidcProviderRecord`] | an OpenID Connect provider |
//! | `saml:<name>` | [`SamlProviderRecord`] | a SAML identity provider and its metadata |
//! | `password-policy:` | [`PasswordPolicyRecord`] | the account password policy |
//! | `credential-report:` | [`CredentialReportRecord`] | the last generated credential report |
//! | `key-used:<key id>` | [`KeyUsedRecord`] | when an access key was last used (kept apart: written per request) |
//! | `role-used:<role id>` | [`RoleLastUsed`] | when and where a role's sessions last made a request (kept apart: written per request) |
//! | `root-keys:` | [`RootKeysRecord`] | the account root's access keys (at most 2) |
//! | `console-root-login:` | [`RootPasswordRecord`] | the account root's console password (a hash) |
//! | `quota-guard:<kind>` | (empty) | rewritten by every create of `<kind>` near an account-wide quota ([`under_account_quota`]) |
//! | `outbound-federation:` | [`OutboundFederationRecord`] | whether `GetWebIdentityToken` is enabled (absent: never enabled) |
//! | `server-certificate:<folded name>` | [`ServerCertificateRecord`] | a server certificate, its chain and sealed private key |
//! | global `service-credential:<service>/<service user name>` | [`ServiceCredentialIndexRecord`] | which account and user own a service-specific credential |
//! | `instance-profile:<folded name>` | [`InstanceProfileRecord`] | an instance profile and its role (at most one) |
//! | `account-alias:` | [`AccountAliasRecord`] | the account's alias (at most one) |
//! | `slr-deletion:<task uuid>` | [`SlrDeletionRecord`] | a service-linked role deletion task and its outcome |
//! | `sts-preferences:` | [`StsPreferencesRecord`] | `SetSecurityTokenServicePreferences` |
//! | `epoch:` | (empty) | its version is the account's policy epoch |
//! | global `access-key:<key id>` | [`AccessKeyIndexRecord`] | which account and user own a key |
//! | global `account:<id>` | [`AccountRecord`] | the registry of accounts |
//! | global `account-alias:<alias>` | [`AccountAliasRecord`] | which account owns an alias (aliases are unique across accounts) |
//!
//! Names are unique case-insensitively, so a record's key holds the folded name and the record the
//! name as written. Relations that carry a limit ("at most 10 groups", "at most 2 keys") live in the
//! record the limit is about, so the read that checks the limit is the read that guards the write.
//! Relations are kept on both sides (user → groups and group → members; entity → policies and
//! policy → entities) and every operation writes both sides in one transaction.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Key, Kind, Namespace, Store, StoreError, Subscription, SubscriptionError, Transaction, Tx};

pub const ACCOUNT: Kind = Kind::new("account");
pub const USER: Kind = Kind::new("user");
pub const GROUP: Kind = Kind::new("group");
pub const ROLE: Kind = Kind::new("role");
pub const POLICY: Kind = Kind::new("policy");
pub const POLICY_USE: Kind = Kind::new("policy-use");
pub const MFA: Kind = Kind::new("mfa");
pub const MFA_LOCKOUT: Kind = Kind::new("mfa-lockout");
pub const OIDC: Kind = Kind::new("oidc");
// SAML providers
pub const SAML: Kind = Kind::new("saml");
pub const PASSWORD_POLICY: Kind = Kind::new("password-policy");
pub const CREDENTIAL_REPORT: Kind = Kind::new("credential-report");
// Server certificates and service-specific credentials (issue 14, part B).
pub const SERVER_CERTIFICATE: Kind = Kind::new("server-certificate");
pub const SERVICE_CREDENTIAL: Kind = Kind::new("service-credential");
pub const KEY_USED: Kind = Kind::new("key-used");
pub const ROLE_USED: Kind = Kind::new("role-used");
pub const EPOCH: Kind = Kind::new("epoch");
pub const ACCESS_KEY: Kind = Kind::new("access-key");
pub const ROOT_KEYS: Kind = Kind::new("root-keys");
pub const ROOT_PASSWORD: Kind = Kind::new("console-root-login");
pub const QUOTA_GUARD: Kind = Kind::new("quota-guard");
pub const OUTBOUND_FEDERATION: Kind = Kind::new("outbound-federation");
// Issue 14, part A: instance profiles, account aliases, service-linked role deletions, STS preferences.
pub const INSTANCE_PROFILE: Kind = Kind::new("instance-profile");
pub const ACCOUNT_ALIAS: Kind = Kind::new("account-alias");
pub const SLR_DELETION: Kind = Kind::new("slr-deletion");
pub const STS_PREFERENCES: Kind = Kind::new("sts-preferences");

/// The channel policy epochs are published on.
pub const EPOCH_CHANNEL: &str = "tessera.policy-epoch";

/// Milliseconds since the Unix epoch: the one time format records use.
pub type Millis = u64;

/// The uniqueness key of an IAM name (see `tessera_arn::fold_name`).
pub fn folded(name: &str) -> String {
    tessera_arn::fold_name(name)
}

/// A key of `kind` named `name`, folded as names are compared.
pub fn named(ns: &Namespace, kind: Kind, name: &str) -> Key {
    Key::new(ns, kind, &folded(name))
}

/// A record type and the kind of key it is stored under.
pub trait Record: Serialize + DeserializeOwned + Send {
    const KIND: Kind;

    /// The record stored as `bytes` at `key`.
    fn decode(key: &Key, bytes: &[u8]) -> Result<Self, StoreError> {
        serde_json::from_slice(bytes).map_err(|error| corrupt(key, error))
    }
}

macro_rules! record {
    ($($ty:ident => $kind:ident),* $(,)?) => { $(impl Record for $ty { const KIND: Kind = $kind; })* };
}

/// Records read on most requests that name them (users and roles: every `GetUser`, every
/// authorization on a user's tags, every `AssumeRole`), decoded through [`DECODED`].
macro_rules! remembered_record {
    ($($ty:ident => $kind:ident),* $(,)?) => {
        $(impl Record for $ty {
            const KIND: Kind = $kind;

            fn decode(key: &Key, bytes: &[u8]) -> Result<Self, StoreError> {
                decode_remembered(key, bytes)
            }
        })*
    };
}

remembered_record! { UserRecord => USER, RoleRecord => ROLE }

/// The last decoding of each remembered record's key, with the bytes it came from: a record is
/// a function of its bytes, so the same bytes read again give a clone of the same record, with
/// no JSON parsed (half the cost of reading a user). Whatever store the bytes came from and
/// however they got there (a restore keeps versions), equal bytes are the only test. Bounded:
/// when full it starts again empty.
static DECODED: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<Key, Decoded>>> =
    std::sync::LazyLock::new(Default::default);

/// Keys remembered at most.
const DECODED_CAPACITY: usize = 4096;

struct Decoded {
    bytes: Box<[u8]>,
    record: std::sync::Arc<dyn std::any::Any + Send + Sync>,
}

/// The record stored as `bytes` at `key`, through [`DECODED`].
fn decode_remembered<R>(key: &Key, bytes: &[u8]) -> Result<R, StoreError>
where
    R: DeserializeOwned + Clone + Send + Sync + 'static,
{
    let entries = || DECODED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let remembered = entries()
        .get(key)
        .filter(|entry| *entry.bytes == *bytes)
        .and_then(|entry| std::sync::Arc::clone(&entry.record).downcast::<R>().ok());
    if let Some(record) = remembered {
        return Ok(R::clone(&record));
    }
    let record: R = serde_json::from_slice(bytes).map_err(|error| corrupt(key, error))?;
    let entry = Decoded { bytes: bytes.into(), record: std::sync::Arc::new(record.clone()) };
    let mut entries = entries();
    if entries.len() >= DECODED_CAPACITY && !entries.contains_key(key) {
        entries.clear();
    }
    entries.insert(key.clone(), entry);
    Ok(record)
}

record! {
    AccountRecord => ACCOUNT, GroupRecord => GROUP,
    PolicyRecord => POLICY, PolicyUseRecord => POLICY_USE, MfaDeviceRecord => MFA,
    MfaLockoutRecord => MFA_LOCKOUT,
    // SAML providers
    SamlProviderRecord => SAML,
    OidcProviderRecord => OIDC, PasswordPolicyRecord => PASSWORD_POLICY,
    CredentialReportRecord => CREDENTIAL_REPORT, KeyUsedRecord => KEY_USED, AccessKeyIndexRecord => ACCESS_KEY,
    RootKeysRecord => ROOT_KEYS, RootPasswordRecord => ROOT_PASSWORD, RoleLastUsed => ROLE_USED,
    OutboundFederationRecord => OUTBOUND_FEDERATION,
    ServerCertificateRecord => SERVER_CERTIFICATE, ServiceCredentialIndexRecord => SERVICE_CREDENTIAL,
}

// Issue 14, part A.
record! {
    InstanceProfileRecord => INSTANCE_PROFILE, AccountAliasRecord => ACCOUNT_ALIAS,
    SlrDeletionRecord => SLR_DELETION, StsPreferencesRecord => STS_PREFERENCES,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A user, group or role, as relations name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EntityKind {
    User,
    Group,
    Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub id: String,
    pub create_date: Millis,
}

/// Declares a record that carries a [`Principal`], stored flat (the principal's fields beside the
/// record's own). Writing flattens it with `#[serde(flatten)]`, which costs nothing; reading
/// through `flatten` would first buffer every field of the record into serde's generic content
/// (half the cost of reading a user on the hot path), so the record reads through a flat twin
/// this macro writes beside it (`$wire`: the principal's fields and the record's own, decoded in
/// one pass) and is assembled from it.
macro_rules! principal_record {
    (
        $(#[$meta:meta])*
        pub struct $record:ident via $wire:ident {
            $($(#[$field_meta:meta])* pub $field:ident: $ty:ty,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Serialize)]
        pub struct $record {
            #[serde(flatten)]
            pub principal: Principal,
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        #[derive(Deserialize)]
        struct $wire {
            name: String,
            path: String,
            id: String,
            arn: String,
            create_date: Millis,
            #[serde(default)]
            attached: Vec<String>,
            #[serde(default)]
            inline: Vec<(String, String)>,
            $($(#[$field_meta])* $field: $ty,)*
        }

        impl<'de> Deserialize<'de> for $record {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let $wire { name, path, id, arn, create_date, attached, inline, $($field,)* } =
                    $wire::deserialize(deserializer)?;
                let principal = Principal { name, path, id, arn, create_date, attached, inline };
                Ok(Self { principal, $($field,)* })
            }
        }
    };
}

/// What users, groups and roles share: identity, placement and the policies that apply to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub create_date: Millis,
    /// Attached managed policy ARNs, in attachment order.
    #[serde(default)]
    pub attached: Vec<String>,
    /// Inline policies: (name as written, document as written).
    #[serde(default)]
    pub inline: Vec<(String, String)>,
}

principal_record! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UserRecord via UserWire {
        #[serde(default)]
        pub boundary: Option<String>,
        #[serde(default)]
        pub tags: Vec<Tag>,
        /// Group names as written, in the order the user joined them.
        #[serde(default)]
        pub groups: Vec<String>,
        #[serde(default)]
        pub access_keys: Vec<AccessKeyRecord>,
        #[serde(default)]
        pub login_profile: Option<LoginProfileRecord>,
        /// Serial numbers (ARNs) of the MFA devices enabled for the user.
        #[serde(default)]
        pub mfa_devices: Vec<String>,
        #[serde(default)]
        pub password_last_used: Option<Millis>,
        // Certificates, SSH keys and service-specific credentials (issue 14, part B).
        /// X.509 signing certificates (at most 2).
        #[serde(default)]
        pub signing_certificates: Vec<SigningCertificateRecord>,
        /// SSH public keys (at most 5).
        #[serde(default)]
        pub ssh_public_keys: Vec<SshPublicKeyRecord>,
        /// Service-specific credentials (at most 2 per service).
        #[serde(default)]
        pub service_credentials: Vec<ServiceCredentialRecord>,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Inactive => "Inactive",
        }
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    pub id: String,
    pub status: KeyStatus,
    pub create_date: Millis,
    /// The secret, sealed under the master key with the key id as associated data.
    pub sealed_secret: String,
}

impl std::fmt::Debug for AccessKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyRecord")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("create_date", &self.create_date)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginProfileRecord {
    pub create_date: Millis,
    /// argon2id PHC string.
    pub password_hash: String,
    pub password_reset_required: bool,
    pub password_last_changed: Millis,
    /// Hashes of earlier passwords, newest first, for the reuse-prevention rule.
    #[serde(default)]
    pub previous_hashes: Vec<String>,
}

impl std::fmt::Debug for LoginProfileRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginProfileRecord")
            .field("create_date", &self.create_date)
            .field("password_reset_required", &self.password_reset_required)
            .field("password_last_changed", &self.password_last_changed)
            .finish_non_exhaustive()
    }
}

principal_record! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GroupRecord via GroupWire {
        /// Member user names as written, in the order they joined.
        #[serde(default)]
        pub members: Vec<String>,
    }
}

principal_record! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RoleRecord via RoleWire {
        pub trust_policy: String,
        #[serde(default)]
        pub description: Option<String>,
        pub max_session_duration: u32,
        #[serde(default)]
        pub boundary: Option<String>,
        #[serde(default)]
        pub tags: Vec<Tag>,
        /// Never stored here (always `None` in the role record): read from the role's own
        /// `role-used:<role id>` record, written blind per request, by `GetRole` and
        /// `GetAccountAuthorizationDetails`.
        #[serde(default)]
        pub last_used: Option<RoleLastUsed>,
        /// The unique ids of the users and roles the trust policy names, as they were when it was
        /// written (AWS stores these, so deleting and re-creating a same-named entity does not
        /// restore its trust).
        #[serde(default)]
        pub trust_principal_ids: Vec<(String, String)>,
        /// The instance profiles the role is in, names as written (the other side of
        /// [`InstanceProfileRecord::roles`], so `DeleteRole` sees them in its own read).
        #[serde(default)]
        pub instance_profiles: Vec<String>,
    }
}

/// When a role's session last made a request, and in which region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleLastUsed {
    pub date: Millis,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersionRecord {
    /// `v1`, `v2`, ...
    pub id: String,
    pub document: String,
    pub create_date: Millis,
}

/// A managed policy. AWS-managed policies use the same record in the `aws` namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    #[serde(default)]
    pub description: Option<String>,
    pub create_date: Millis,
    pub update_date: Millis,
    pub default_version: String,
    /// Oldest first; at most five.
    pub versions: Vec<PolicyVersionRecord>,
    /// The number the next version gets (versions are never renumbered).
    pub next_version: u32,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl PolicyRecord {
    pub fn default_document(&self) -> Option<&str> {
        self.versions.iter().find(|v| v.id == self.default_version).map(|v| v.document.as_str())
    }
}

/// Where a managed policy is in use in one account. Kept per account (never in the `aws`
/// namespace), so attaching an AWS-managed policy is a transaction in the caller's account alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyUseRecord {
    #[serde(default)]
    pub attached: Vec<(EntityKind, String)>,
    #[serde(default)]
    pub boundary_of: Vec<(EntityKind, String)>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaDeviceRecord {
    pub name: String,
    pub path: String,
    pub serial: String,
    /// The TOTP seed, sealed under the master key with the serial as associated data.
    pub sealed_seed: String,
    pub create_date: Millis,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub enable_date: Option<Millis>,
    /// The highest TOTP counter accepted so far: a code at or below it is a replay.
    #[serde(default)]
    pub last_counter: Option<u64>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl std::fmt::Debug for MfaDeviceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaDeviceRecord")
            .field("serial", &self.serial)
            .field("user", &self.user)
            .field("enable_date", &self.enable_date)
            .finish_non_exhaustive()
    }
}

/// The code-guessing guard of an MFA device: attempts not yet proven by a correct code, and the lock
/// they caused. Kept apart from the device so that counting attempts never conflicts with changes
/// to the device; absent when the last attempt was a correct code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaLockoutRecord {
    /// Attempts since the last correct code or the last lock (each counted before it is checked).
    #[serde(default)]
    pub failures: u32,
    /// Locks since the last correct code: the exponent of the growing lock period.
    #[serde(default)]
    pub lockouts: u32,
    /// Until when the device refuses every code, correct or not.
    #[serde(default)]
    pub locked_until: Option<Millis>,
}

// Certificates, SSH keys and service-specific credentials (issue 14, part B).

/// A user's X.509 signing certificate (`UploadSigningCertificate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningCertificateRecord {
    pub id: String,
    /// The certificate as PEM.
    pub body: String,
    pub status: KeyStatus,
    pub upload_date: Millis,
}

/// A user's SSH public key (`UploadSSHPublicKey`), in both encodings AWS shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshPublicKeyRecord {
    pub id: String,
    /// The key as uploaded.
    pub body: String,
    /// `ssh-rsa AAAA…`, without a comment.
    pub openssh: String,
    /// `-----BEGIN PUBLIC KEY-----`.
    pub pem: String,
    pub fingerprint: String,
    pub status: KeyStatus,
    pub upload_date: Millis,
}

/// A user's service-specific credential; the password is kept as an argon2id hash only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCredentialRecord {
    pub id: String,
    pub service_name: String,
    pub service_user_name: String,
    /// argon2id PHC string of the password.
    pub password_hash: String,
    pub status: KeyStatus,
    pub create_date: Millis,
    #[serde(default)]
    pub expiration_date: Option<Millis>,
}

impl std::fmt::Debug for ServiceCredentialRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCredentialRecord")
            .field("id", &self.id)
            .field("service_name", &self.service_name)
            .field("service_user_name", &self.service_user_name)
            .field("status", &self.status)
            .field("create_date", &self.create_date)
            .field("expiration_date", &self.expiration_date)
            .finish_non_exhaustive()
    }
}

/// Global index entry: who owns the service-specific credential of a service user name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCredentialIndexRecord {
    pub account: String,
    pub user: String,
    pub id: String,
}

/// A server certificate with its chain and its private key sealed under the master key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerCertificateRecord {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub upload_date: Millis,
    /// The certificate's `notAfter`.
    pub expiration: Millis,
    pub body: String,
    #[serde(default)]
    pub chain: Option<String>,
    /// The private key, sealed with the certificate id as associated data. Never returned.
    pub sealed_private_key: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl std::fmt::Debug for ServerCertificateRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCertificateRecord")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("id", &self.id)
            .field("arn", &self.arn)
            .field("upload_date", &self.upload_date)
            .field("expiration", &self.expiration)
            .field("tags", &self.tags)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProviderRecord {
    pub url: String,
    pub arn: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    pub create_date: Millis,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

// SAML providers
/// A SAML identity provider: its metadata document as given (validated when written), and what
/// `AssumeRoleWithSAML` and `GetSAMLProvider` need from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlProviderRecord {
    /// As created (case-sensitive, as in its ARN).
    pub name: String,
    pub arn: String,
    pub metadata_document: String,
    /// The metadata's `entityID`: the issuer its assertions must name.
    pub entity_id: String,
    /// `SAMLProviderUUID`.
    pub uuid: String,
    pub create_date: Millis,
    /// The metadata's `validUntil`, else 100 years after the metadata was set (as AWS does).
    pub valid_until: Millis,
    /// `Allowed` or `Required`, when set.
    #[serde(default)]
    pub assertion_encryption_mode: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The private keys encrypted assertions are decrypted with (at most 2), oldest first.
    #[serde(default)]
    pub private_keys: Vec<SamlPrivateKeyRecord>,
}

/// A SAML provider's private key (`PrivateKeyList`): its id, when it was added, and the PEM key
/// sealed under the master key. `Debug` leaves the sealed key out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlPrivateKeyRecord {
    /// `KeyId`: 26 characters of `[A-Z2-7]`.
    pub key_id: String,
    /// `Timestamp`: when it was added.
    pub timestamp: Millis,
    /// Empty where a record crossed the network (`tessera.identity.v1` never carries it).
    pub sealed_private_key: String,
}

impl std::fmt::Debug for SamlPrivateKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlPrivateKeyRecord")
            .field("key_id", &self.key_id)
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

/// The account password policy exactly as last set (defaults filled in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicyRecord {
    pub minimum_password_length: u32,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase_characters: bool,
    pub require_lowercase_characters: bool,
    pub allow_users_to_change_password: bool,
    /// Days; 0 means passwords never expire.
    pub max_password_age: u32,
    /// 0 means reuse is allowed.
    pub password_reuse_prevention: u32,
    pub hard_expiry: bool,
}

/// The account's outbound web identity federation switch, once it was first enabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundFederationRecord {
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialReportRecord {
    pub generated: Millis,
    pub csv: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUsedRecord {
    pub date: Millis,
    pub service: String,
    pub region: String,
}

/// The account root's access keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootKeysRecord {
    pub keys: Vec<AccessKeyRecord>,
}

/// The account root's console password (an argon2id PHC string), as a login profile keeps it:
/// the console signs the root in with it, and `GetLoginProfile` by the root reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootPasswordRecord {
    pub password_hash: String,
    pub password_last_changed: Millis,
}

/// Global: which account and user own an access key (`root` set and `user` empty for the account
/// root's keys). A hint written before the key itself; the
/// user record is the authority, so an index entry whose key is gone means nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyIndexRecord {
    pub account: String,
    pub user: String,
    #[serde(default)]
    pub root: bool,
}

// ---- Issue 14, part A: instance profiles, account aliases, service-linked roles, STS preferences.

/// An instance profile: a container for at most one role that EC2 hands to an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceProfileRecord {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub create_date: Millis,
    /// Role names as written (AWS allows at most one).
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// An account alias: in the account's namespace (its one alias) and in the global registry
/// (which account owns it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountAliasRecord {
    pub alias: String,
    pub account: String,
}

/// The outcome of a service-linked role deletion task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeletionStatus {
    Succeeded,
    InProgress,
    Failed,
    NotStarted,
}

impl DeletionStatus {
    /// AWS's `DeletionTaskStatusType` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "SUCCEEDED",
            Self::InProgress => "IN_PROGRESS",
            Self::Failed => "FAILED",
            Self::NotStarted => "NOT_STARTED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Succeeded, Self::InProgress, Self::Failed, Self::NotStarted].into_iter().find(|s| s.as_str() == value)
    }
}

/// A `DeleteServiceLinkedRole` task, kept so `GetServiceLinkedRoleDeletionStatus` can answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlrDeletionRecord {
    /// `task/aws-service-role/<service>/<role>/<uuid>`.
    pub task_id: String,
    pub role_name: String,
    pub status: DeletionStatus,
    /// Why the task failed (`Status` FAILED).
    #[serde(default)]
    pub reason: Option<String>,
    pub create_date: Millis,
}

/// The account's `SetSecurityTokenServicePreferences`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsPreferencesRecord {
    /// `v1Token` or `v2Token`.
    pub global_endpoint_token_version: String,
}

fn corrupt(key: &Key, error: serde_json::Error) -> StoreError {
    StoreError::Corrupt { key: key.to_string(), reason: error.to_string() }
}

fn decode<R: Record>(key: &Key, bytes: &[u8]) -> Result<R, StoreError> {
    R::decode(key, bytes)
}

fn encode<R: Record>(record: &R) -> Vec<u8> {
    // Serializing these plain structs cannot fail: no maps with non-string keys, no custom impls.
    serde_json::to_vec(record).unwrap_or_default()
}

impl<S: Store + ?Sized> Tx<'_, S> {
    /// Reads and decodes a record; the commit is guarded by the read.
    pub async fn read<R: Record>(&self, key: &Key) -> Result<Option<R>, StoreError> {
        match self.get(key).await? {
            Some(bytes) => decode(key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    pub fn write<R: Record>(&self, key: Key, record: &R) {
        self.put(key, encode(record));
    }

    /// Marks the transaction as changing permissions in `ns`: a blind write of the epoch key, so
    /// concurrent permission changes never conflict on it, and its version still rises with each.
    pub fn bump_epoch(&self, ns: &Namespace) {
        self.put(Key::new(ns, EPOCH, ""), Vec::new());
    }
}

/// Reads a record outside any transaction (for reads that guard nothing).
pub async fn load<S: Store + ?Sized, R: Record>(store: &S, key: &Key) -> Result<Option<R>, StoreError> {
    match store.get(key).await? {
        Some(v) => decode(key, &v.value).map(Some),
        None => Ok(None),
    }
}

/// Up to `limit` records of `R`'s kind in `ns` whose folded key starts with `prefix`, after
/// `start_after` (a folded key suffix), in key order.
pub async fn scan<S: Store + ?Sized, R: Record>(
    store: &S,
    ns: &Namespace,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, R)>, StoreError> {
    let base = Key::new(ns, R::KIND, "");
    let after = start_after.map(|s| Key::new(ns, R::KIND, s));
    let entries = store.scan_prefix(&Key::new(ns, R::KIND, prefix), after.as_ref(), limit).await?;
    entries
        .into_iter()
        .map(|(key, v)| {
            let suffix = key.suffix_after(&base).unwrap_or_default().to_owned();
            decode(&key, &v.value).map(|r| (suffix, r))
        })
        .collect()
}

/// Every record of `R`'s kind in `ns`, page by page.
pub async fn scan_all<S: Store + ?Sized, R: Record>(store: &S, ns: &Namespace) -> Result<Vec<(String, R)>, StoreError> {
    const PAGE: usize = 500;
    let mut all: Vec<(String, R)> = Vec::new();
    loop {
        let after = all.last().map(|(k, _)| k.clone());
        let page = scan::<S, R>(store, ns, "", after.as_deref(), PAGE).await?;
        let done = page.len() < PAGE;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

/// Whether `ns` has fewer than `max` records of `kind`, decided inside `tx` so that
/// the commit holds only if no other create of the kind committed meanwhile: within
/// `GUARD_MARGIN` of the quota, every create that checks it reads and rewrites the kind's guard
/// key, so two concurrent creates conflict and the retry counts again (further away, creates do
/// not serialize: only more than the margin racing from one count could pass the quota). A scan
/// alone guards nothing ([`Tx`]); the guard makes it exact without a stored count that could
/// drift. Deletes need not touch it: a delete racing a
/// create can only make the create see one more record than is left.
pub async fn under_account_quota<S: Store + ?Sized>(
    tx: &Tx<'_, S>,
    ns: &Namespace,
    kind: Kind,
    max: usize,
) -> Result<bool, StoreError> {
    // One page is one consistent snapshot; `max` entries are all it needs to see. Far from the
    // quota, creates need not serialize on the guard (under concurrent creates every one would
    // conflict and retry, and some would give up): only more than `GUARD_MARGIN` creates racing
    // from one stale count could pass it, so the guard is taken within that margin only.
    const GUARD_MARGIN: usize = 64;
    let prefix = Key::new(ns, kind, "");
    let found = tx.store().scan_prefix(&prefix, None, max).await?;
    if found.len() + GUARD_MARGIN < max {
        return Ok(true);
    }
    // Near the quota: read the guard first and count again, so a create committed meanwhile
    // either shows in the count or changes the guard (a conflict, and a recount).
    let guard = Key::new(ns, QUOTA_GUARD, kind.name());
    tx.get(&guard).await?;
    tx.put(guard, Vec::new());
    let found = tx.store().scan_prefix(&prefix, None, max).await?;
    Ok(found.len() < max)
}

/// A change of one account's policy epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyEpoch {
    pub account: String,
    pub epoch: u64,
}

/// The account's current policy epoch: 0 before its first permission change. It only rises.
pub async fn current_epoch<S: Store + ?Sized>(store: &S, ns: &Namespace) -> Result<u64, StoreError> {
    Ok(store.get(&Key::new(ns, EPOCH, "")).await?.map_or(0, |v| v.version))
}

/// The newest epoch announced through each store value of this process, per namespace tag: a
/// cache over the same store value sees its own replica's writes at once, before the announcement
/// comes back from the channel (for Redis, a round trip later). Keyed by the store's address, so
/// two replicas in one process (tests) still learn of each other's writes only from the channel.
/// Read on every cached decision: a read lock and no allocation.
type Published = std::collections::HashMap<usize, std::collections::HashMap<String, u64>>;
static PUBLISHED: std::sync::LazyLock<std::sync::RwLock<Published>> = std::sync::LazyLock::new(Default::default);

fn store_address<S: ?Sized>(store: &S) -> usize {
    std::ptr::from_ref(store).cast::<()>() as usize
}

/// The newest epoch this process announced through `store` for the namespace with this tag.
pub fn published_epoch<S: Store + ?Sized>(store: &S, ns_tag: &str) -> Option<u64> {
    let published = PUBLISHED.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    published.get(&store_address(store))?.get(ns_tag).copied()
}

/// Announces the account's current epoch to every subscriber. Called after a commit that bumped it;
/// when two such commits race, both announce the later epoch, which is what caches need.
pub async fn publish_epoch<S: Store + ?Sized>(store: &S, ns: &Namespace) -> Result<u64, StoreError> {
    let epoch = current_epoch(store, ns).await?;
    {
        let mut published = PUBLISHED.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let newest = published.entry(store_address(store)).or_default().entry(ns.tag().to_owned()).or_insert(0);
        *newest = (*newest).max(epoch);
    }
    store.publish(EPOCH_CHANNEL, format!("{} {epoch}", ns.tag()).as_bytes()).await?;
    Ok(epoch)
}

/// A stream of policy epoch changes, for caches to invalidate by.
#[derive(Debug)]
pub struct EpochSubscription {
    inner: Subscription,
}

impl EpochSubscription {
    pub async fn subscribe<S: Store + ?Sized>(store: &S) -> Result<Self, StoreError> {
        Ok(Self { inner: store.subscribe(EPOCH_CHANNEL).await? })
    }

    /// The next change. Malformed messages (from something else publishing on the channel) are
    /// skipped. On `Lagged` or `Closed` a cache must assume every account changed.
    pub async fn recv(&mut self) -> Result<PolicyEpoch, SubscriptionError> {
        loop {
            let message = self.inner.recv().await?;
            if let Some(epoch) = parse_epoch(&message) {
                return Ok(epoch);
            }
        }
    }
}

fn parse_epoch(message: &[u8]) -> Option<PolicyEpoch> {
    let text = std::str::from_utf8(message).ok()?;
    let (account, epoch) = text.split_once(' ')?;
    Some(PolicyEpoch { account: account.to_owned(), epoch: epoch.parse().ok()? })
}

/// Writes a record with no guard (for records with a single writer, such as `key-used`).
pub async fn put_blind<S: Store + ?Sized, R: Record>(store: &S, key: Key, record: &R) -> Result<(), StoreError> {
    store.commit(Transaction::new().put(key, encode(record))).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryStore, update};

    #[tokio::test]
    async fn records_round_trip_and_the_epoch_rises_with_every_bump() {
        let store = MemoryStore::new();
        let ns = Namespace::account("123456789012").unwrap();
        let mut sub = EpochSubscription::subscribe(&store).await.unwrap();
        assert_eq!(current_epoch(&store, &ns).await.unwrap(), 0);
        let group = GroupRecord {
            principal: Principal {
                name: "Admins".into(),
                path: "/".into(),
                id: "AGPAEXAMPLE".into(),
                arn: "arn:aws:iam::123456789012:group/Admins".into(),
                create_date: 1,
                attached: vec![],
                inline: vec![],
            },
            members: vec!["alice".into()],
        };
        let key = named(&ns, GROUP, "Admins");
        assert_eq!(key.as_str(), "t:{123456789012}:group:admins");
        let (k, g, n) = (&key, &group, &ns);
        update(&store, |tx| async move {
            tx.write(k.clone(), g);
            tx.bump_epoch(n);
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
        let first = publish_epoch(&store, &ns).await.unwrap();
        assert!(first > 0);
        assert_eq!(sub.recv().await.unwrap(), PolicyEpoch { account: "123456789012".into(), epoch: first });
        assert_eq!(load::<_, GroupRecord>(&store, &key).await.unwrap(), Some(group.clone()));
        let listed = scan::<_, GroupRecord>(&store, &ns, "", None, 10).await.unwrap();
        assert_eq!(listed, vec![("admins".to_owned(), group)]);
        update(&store, |tx| async move {
            tx.bump_epoch(n);
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
        assert!(current_epoch(&store, &ns).await.unwrap() > first);
    }

    #[test]
    fn principal_records_read_back_what_the_flattened_write_wrote() {
        let principal = |name: &str| Principal {
            name: name.into(),
            path: "/ops/".into(),
            id: "AIDAEXAMPLE".into(),
            arn: format!("arn:aws:iam::123456789012:user/ops/{name}"),
            create_date: 7,
            attached: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
            inline: vec![("p".into(), "{}".into())],
        };
        let user = UserRecord {
            principal: principal("alice"),
            boundary: Some("arn:aws:iam::123456789012:policy/b".into()),
            tags: vec![Tag { key: "team".into(), value: "ops".into() }],
            groups: vec!["Admins".into()],
            access_keys: vec![AccessKeyRecord {
                id: "AKIAEXAMPLE".into(),
                status: KeyStatus::Inactive,
                create_date: 8,
                sealed_secret: "sealed".into(),
            }],
            login_profile: None,
            mfa_devices: vec!["arn:aws:iam::123456789012:mfa/alice".into()],
            password_last_used: Some(9),
            signing_certificates: vec![],
            ssh_public_keys: vec![],
            service_credentials: vec![],
        };
        let key = named(&Namespace::account("123456789012").unwrap(), USER, "alice");
        let bytes = encode(&user);
        // Stored flat: the principal's fields sit beside the user's own.
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["name"], "alice");
        assert_eq!(json["groups"][0], "Admins");
        assert_eq!(decode::<UserRecord>(&key, &bytes).unwrap(), user);
        // Read again: the remembered decoding; other bytes at the key: theirs, not the old ones.
        assert_eq!(decode::<UserRecord>(&key, &bytes).unwrap(), user);
        let renamed = UserRecord { groups: vec!["Ops".into()], ..user.clone() };
        assert_eq!(decode::<UserRecord>(&key, &encode(&renamed)).unwrap(), renamed);
        assert_eq!(decode::<UserRecord>(&key, &bytes).unwrap(), user);
        assert!(matches!(decode::<UserRecord>(&key, b"{not json"), Err(StoreError::Corrupt { .. })));
        // The same bytes under another key decode on their own.
        let other = named(&Namespace::account("210987654321").unwrap(), USER, "alice");
        assert_eq!(decode::<UserRecord>(&other, &bytes).unwrap(), user);
        let role = RoleRecord {
            principal: principal("deploy"),
            trust_policy: "{}".into(),
            description: Some("d".into()),
            max_session_duration: 3600,
            boundary: None,
            tags: vec![],
            last_used: None,
            trust_principal_ids: vec![("user".into(), "AIDAEXAMPLE".into())],
            instance_profiles: vec!["web".into()],
        };
        assert_eq!(decode::<RoleRecord>(&key, &encode(&role)).unwrap(), role);
        // Fields left out take their defaults, unknown ones are ignored, missing required ones
        // are an error naming the field.
        let old =
            br#"{"name":"bob","path":"/","id":"AIDB","arn":"arn:aws:iam::1:user/bob","create_date":1,"later":true}"#;
        let bob = decode::<UserRecord>(&key, old).unwrap();
        assert_eq!((bob.principal.name.as_str(), bob.principal.attached.len(), bob.groups.len()), ("bob", 0, 0));
        let err = decode::<GroupRecord>(&key, br#"{"name":"g","path":"/","id":"G"}"#).unwrap_err();
        assert!(err.to_string().contains("arn"), "{err}");
    }

    #[tokio::test]
    async fn a_corrupt_record_is_an_error_not_a_panic() {
        let store = MemoryStore::new();
        let ns = Namespace::account("a").unwrap();
        let key = named(&ns, USER, "x");
        store.commit(Transaction::new().put(key.clone(), "{not json")).await.unwrap();
        let err = load::<_, UserRecord>(&store, &key).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(parse_epoch(b"junk").is_none());
    }
}
