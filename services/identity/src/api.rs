//! [`IdentityApi`]: the identity domain as callers see it, whichever process runs it.
//!
//! Two implementations: [`Identity`] itself (in process, over the store; every method delegates
//! to the inherent method of the same name) and [`crate::remote::RemoteIdentity`] (a tonic client
//! of `tessera.identity.v1.IdentityService`, for a gateway in front of separate identity
//! replicas). The gRPC adapter (`grpc.rs`) serves any `Arc<dyn IdentityApi>`, so the same adapter
//! runs in front of either.
//!
//! The trait has the operations the gateway's handlers and the gRPC adapter call. What only the
//! store side needs stays inherent on [`Identity`]: `authenticate_access_key` (the SigV4 key
//! lookup, which a gateway runs on its own store connection), `verify_password`,
//! `verify_mfa_code` and `find_open_id_connect_provider` (the token service's checks),
//! `bootstrap`, `reseal_secrets`/`secrets_not_under_current_key` (operator commands), and
//! `published`, `store`, `env`.
//!
//! Records returned through the trait carry what the API shows (see `convert.rs` for what a
//! remote record leaves empty); errors are the crate's [`Error`], with the AWS code and message
//! and an MFA rejection's device and reason intact across the wire.

use std::collections::BTreeMap;
use std::sync::Arc;

use tessera_store::Store;
use tessera_store::iam::{
    AccountRecord, CredentialReportRecord, EntityKind, GroupRecord, KeyStatus, MfaDeviceRecord, OidcProviderRecord,
    PasswordPolicyRecord, RoleRecord, SamlProviderRecord, Tag, UserRecord,
};
// Issue 14, part A.
use tessera_store::iam::DeletionStatus;

use crate::{
    AccessKeyLastUsed, AccessKeyMetadata, Account, AssignmentStatus, AuthorizationDetails, CreateOidcProvider,
    CreateRole, CreateUser, CreatedAccessKey, CreatedMfaDevice, Identity, LoginProfile, Page, PageRequest, ReportState,
    Result, Taggable, UpdatePasswordPolicy,
};
use crate::{
    ServerCertificate, ServiceCredential, SigningCertificate, SshEncoding, SshPublicKey, UploadServerCertificate,
};
// Issue 14, part A.
use crate::InstanceProfile;
// SAML providers
use crate::{CreateSamlProvider, UpdateSamlProvider};

/// The identity service's operations (reference §5.1, §5.3-§5.6, §5.8), local or remote.
#[async_trait::async_trait]
pub trait IdentityApi: Send + Sync + 'static {
    // Accounts.
    async fn create_account(&self, account: &Account) -> Result<AccountRecord>;
    async fn get_account_summary(&self, account: &Account) -> Result<BTreeMap<String, i64>>;

    // Users.
    async fn create_user(&self, account: &Account, input: CreateUser) -> Result<UserRecord>;
    async fn get_user(&self, account: &Account, name: &str) -> Result<UserRecord>;
    async fn list_users(&self, account: &Account, prefix: Option<&str>, page: &PageRequest)
    -> Result<Page<UserRecord>>;
    async fn update_user(
        &self,
        account: &Account,
        name: &str,
        new_path: Option<String>,
        new_name: Option<String>,
    ) -> Result<()>;
    async fn delete_user(&self, account: &Account, name: &str) -> Result<()>;
    async fn set_permissions_boundary(
        &self,
        account: &Account,
        kind: EntityKind,
        name: &str,
        boundary: Option<&str>,
    ) -> Result<()>;

    // Groups and membership.
    async fn create_group(&self, account: &Account, path: Option<String>, name: &str) -> Result<GroupRecord>;
    async fn get_group(
        &self,
        account: &Account,
        name: &str,
        page: &PageRequest,
    ) -> Result<(GroupRecord, Page<UserRecord>)>;
    async fn list_groups(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<GroupRecord>>;
    async fn list_groups_for_user(
        &self,
        account: &Account,
        user: &str,
        page: &PageRequest,
    ) -> Result<Page<GroupRecord>>;
    async fn update_group(
        &self,
        account: &Account,
        name: &str,
        new_path: Option<String>,
        new_name: Option<String>,
    ) -> Result<()>;
    async fn delete_group(&self, account: &Account, name: &str) -> Result<()>;
    async fn add_user_to_group(&self, account: &Account, group: &str, user: &str) -> Result<()>;
    async fn remove_user_from_group(&self, account: &Account, group: &str, user: &str) -> Result<()>;

    // Roles.
    async fn create_role(&self, account: &Account, input: CreateRole) -> Result<RoleRecord>;
    async fn get_role(&self, account: &Account, name: &str) -> Result<RoleRecord>;
    async fn list_roles(&self, account: &Account, prefix: Option<&str>, page: &PageRequest)
    -> Result<Page<RoleRecord>>;
    async fn update_role(
        &self,
        account: &Account,
        name: &str,
        description: Option<String>,
        max_session_duration: Option<i32>,
    ) -> Result<()>;
    async fn update_assume_role_policy(&self, account: &Account, name: &str, document: &str) -> Result<()>;
    async fn delete_role(&self, account: &Account, name: &str) -> Result<()>;

    // Tags.
    async fn tag_resource(&self, account: &Account, resource: &Taggable, tags: Vec<Tag>) -> Result<()>;
    async fn untag_resource(&self, account: &Account, resource: &Taggable, keys: &[String]) -> Result<()>;
    async fn list_resource_tags(&self, account: &Account, resource: &Taggable, page: &PageRequest)
    -> Result<Page<Tag>>;

    // Access keys.
    async fn create_access_key(&self, account: &Account, user_name: &str) -> Result<CreatedAccessKey>;
    async fn list_access_keys(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<AccessKeyMetadata>>;
    async fn update_access_key(
        &self,
        account: &Account,
        user_name: &str,
        key_id: &str,
        status: KeyStatus,
    ) -> Result<()>;
    async fn delete_access_key(&self, account: &Account, user_name: &str, key_id: &str) -> Result<()>;
    async fn get_access_key_last_used(&self, account: &Account, key_id: &str) -> Result<AccessKeyLastUsed>;
    async fn record_access_key_use(&self, account: &Account, key_id: &str, service: &str, region: &str) -> Result<()>;
    /// Internal: a session of the role with unique id `role_id` just made a request in `region`.
    async fn record_role_use(&self, account: &Account, role_id: &str, region: &str) -> Result<()>;

    // Passwords.
    async fn create_login_profile(
        &self,
        account: &Account,
        user_name: &str,
        password: &str,
        password_reset_required: bool,
    ) -> Result<LoginProfile>;
    async fn get_login_profile(&self, account: &Account, user_name: &str) -> Result<LoginProfile>;
    async fn update_login_profile(
        &self,
        account: &Account,
        user_name: &str,
        password: Option<&str>,
        password_reset_required: Option<bool>,
    ) -> Result<()>;
    async fn delete_login_profile(&self, account: &Account, user_name: &str) -> Result<()>;
    async fn change_password(&self, account: &Account, user_name: &str, old: &str, new: &str) -> Result<()>;
    async fn update_account_password_policy(&self, account: &Account, input: UpdatePasswordPolicy) -> Result<()>;
    async fn get_account_password_policy(&self, account: &Account) -> Result<PasswordPolicyRecord>;
    async fn delete_account_password_policy(&self, account: &Account) -> Result<()>;

    // MFA devices.
    async fn create_virtual_mfa_device(
        &self,
        account: &Account,
        path: Option<String>,
        name: &str,
        tags: Vec<Tag>,
    ) -> Result<CreatedMfaDevice>;
    async fn enable_mfa_device(
        &self,
        account: &Account,
        user_name: &str,
        serial: &str,
        code1: &str,
        code2: &str,
    ) -> Result<()>;
    async fn resync_mfa_device(
        &self,
        account: &Account,
        user_name: &str,
        serial: &str,
        code1: &str,
        code2: &str,
    ) -> Result<()>;
    async fn deactivate_mfa_device(&self, account: &Account, user_name: &str, serial: &str) -> Result<()>;
    async fn delete_virtual_mfa_device(&self, account: &Account, serial: &str) -> Result<()>;
    async fn list_mfa_devices(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<MfaDeviceRecord>>;
    async fn list_virtual_mfa_devices(
        &self,
        account: &Account,
        status: AssignmentStatus,
        page: &PageRequest,
    ) -> Result<Page<MfaDeviceRecord>>;

    // OpenID Connect providers.
    async fn create_open_id_connect_provider(
        &self,
        account: &Account,
        input: CreateOidcProvider,
    ) -> Result<OidcProviderRecord>;
    async fn get_open_id_connect_provider(&self, account: &Account, arn: &str) -> Result<OidcProviderRecord>;
    async fn list_open_id_connect_providers(&self, account: &Account) -> Result<Vec<OidcProviderRecord>>;
    async fn delete_open_id_connect_provider(&self, account: &Account, arn: &str) -> Result<()>;
    async fn add_client_id_to_open_id_connect_provider(
        &self,
        account: &Account,
        arn: &str,
        client_id: &str,
    ) -> Result<()>;
    async fn remove_client_id_from_open_id_connect_provider(
        &self,
        account: &Account,
        arn: &str,
        client_id: &str,
    ) -> Result<()>;
    async fn update_open_id_connect_provider_thumbprint(
        &self,
        account: &Account,
        arn: &str,
        thumbprints: &[String],
    ) -> Result<()>;

    // SAML providers
    async fn create_saml_provider(&self, account: &Account, input: CreateSamlProvider) -> Result<SamlProviderRecord>;
    async fn get_saml_provider(&self, account: &Account, arn: &str) -> Result<SamlProviderRecord>;
    async fn update_saml_provider(
        &self,
        account: &Account,
        arn: &str,
        input: UpdateSamlProvider,
    ) -> Result<SamlProviderRecord>;
    async fn delete_saml_provider(&self, account: &Account, arn: &str) -> Result<()>;
    /// The providers without their metadata documents when remote (AWS's list shows ARNs and
    /// dates only).
    async fn list_saml_providers(&self, account: &Account) -> Result<Vec<SamlProviderRecord>>;

    // Account-wide reads.
    async fn get_account_authorization_details(
        &self,
        account: &Account,
        filter: &[String],
        page: &PageRequest,
    ) -> Result<AuthorizationDetails>;
    async fn generate_credential_report(&self, account: &Account) -> Result<(ReportState, String)>;
    async fn get_credential_report(&self, account: &Account) -> Result<CredentialReportRecord>;
    // SSH public keys (issue 14, part B).
    async fn upload_ssh_public_key(&self, account: &Account, user_name: &str, body: &str) -> Result<SshPublicKey>;
    async fn get_ssh_public_key(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
        encoding: SshEncoding,
    ) -> Result<SshPublicKey>;
    async fn list_ssh_public_keys(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<SshPublicKey>>;
    async fn update_ssh_public_key(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
        status: KeyStatus,
    ) -> Result<()>;
    async fn delete_ssh_public_key(&self, account: &Account, user_name: &str, id: &str) -> Result<()>;

    // Signing certificates (issue 14, part B).
    async fn upload_signing_certificate(
        &self,
        account: &Account,
        user_name: &str,
        body: &str,
    ) -> Result<SigningCertificate>;
    async fn list_signing_certificates(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<SigningCertificate>>;
    async fn update_signing_certificate(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
        status: KeyStatus,
    ) -> Result<()>;
    async fn delete_signing_certificate(&self, account: &Account, user_name: &str, id: &str) -> Result<()>;

    // Server certificates (issue 14, part B); tags go through `tag_resource`.
    async fn upload_server_certificate(
        &self,
        account: &Account,
        input: UploadServerCertificate,
    ) -> Result<ServerCertificate>;
    async fn get_server_certificate(&self, account: &Account, name: &str) -> Result<ServerCertificate>;
    async fn list_server_certificates(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<ServerCertificate>>;
    async fn update_server_certificate(
        &self,
        account: &Account,
        name: &str,
        new_path: Option<String>,
        new_name: Option<String>,
    ) -> Result<()>;
    async fn delete_server_certificate(&self, account: &Account, name: &str) -> Result<()>;

    // Service-specific credentials (issue 14, part B).
    async fn create_service_specific_credential(
        &self,
        account: &Account,
        user_name: &str,
        service_name: &str,
        age_days: Option<i32>,
    ) -> Result<ServiceCredential>;
    async fn reset_service_specific_credential(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
    ) -> Result<ServiceCredential>;
    async fn list_service_specific_credentials(
        &self,
        account: &Account,
        user_name: &str,
        service_name: Option<&str>,
        all_users: bool,
        page: &PageRequest,
    ) -> Result<Page<ServiceCredential>>;
    async fn update_service_specific_credential(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
        status: KeyStatus,
    ) -> Result<()>;
    async fn delete_service_specific_credential(&self, account: &Account, user_name: &str, id: &str) -> Result<()>;

    // Outbound web identity federation.
    async fn set_outbound_web_identity_federation(&self, account: &Account, enabled: bool) -> Result<()>;
    async fn outbound_web_identity_federation(&self, account: &Account) -> Result<Option<bool>>;
    // ---- Issue 14, part A: instance profiles, account aliases, service-linked roles,
    // GetMFADevice, STS preferences.
    async fn create_instance_profile(
        &self,
        account: &Account,
        path: Option<String>,
        name: &str,
        tags: Vec<Tag>,
    ) -> Result<InstanceProfile>;
    async fn get_instance_profile(&self, account: &Account, name: &str) -> Result<InstanceProfile>;
    async fn delete_instance_profile(&self, account: &Account, name: &str) -> Result<()>;
    async fn list_instance_profiles(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<InstanceProfile>>;
    async fn list_instance_profiles_for_role(
        &self,
        account: &Account,
        role_name: &str,
        page: &PageRequest,
    ) -> Result<Page<InstanceProfile>>;
    async fn add_role_to_instance_profile(&self, account: &Account, profile: &str, role: &str) -> Result<()>;
    async fn remove_role_from_instance_profile(&self, account: &Account, profile: &str, role: &str) -> Result<()>;
    async fn create_account_alias(&self, account: &Account, alias: &str) -> Result<()>;
    async fn delete_account_alias(&self, account: &Account, alias: &str) -> Result<()>;
    async fn list_account_aliases(&self, account: &Account, page: &PageRequest) -> Result<Page<String>>;
    async fn create_service_linked_role(
        &self,
        account: &Account,
        service: &str,
        description: Option<String>,
        custom_suffix: Option<String>,
    ) -> Result<RoleRecord>;
    async fn delete_service_linked_role(&self, account: &Account, role_name: &str) -> Result<String>;
    async fn get_service_linked_role_deletion_status(
        &self,
        account: &Account,
        task_id: &str,
    ) -> Result<(DeletionStatus, Option<String>)>;
    async fn get_mfa_device(&self, account: &Account, serial: &str, user_name: Option<&str>)
    -> Result<MfaDeviceRecord>;
    async fn set_security_token_service_preferences(&self, account: &Account, version: &str) -> Result<()>;
    // ---- End of issue 14, part A.
}

impl<S: Store> From<Identity<S>> for Arc<dyn IdentityApi> {
    fn from(identity: Identity<S>) -> Self {
        Arc::new(identity)
    }
}

#[async_trait::async_trait]
impl<S: Store> IdentityApi for Identity<S> {
    async fn create_account(&self, account: &Account) -> Result<AccountRecord> {
        Identity::create_account(self, account).await
    }

    async fn get_account_summary(&self, account: &Account) -> Result<BTreeMap<String, i64>> {
        Identity::get_account_summary(self, account).await
    }

    async fn create_user(&self, account: &Account, input: CreateUser) -> Result<UserRecord> {
        Identity::create_user(self, account, input).await
    }

    async fn get_user(&self, account: &Account, name: &str) -> Result<UserRecord> {
        Identity::get_user(self, account, name).await
    }

    async fn list_users(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<UserRecord>> {
        Identity::list_users(self, account, prefix, page).await
    }

    async fn update_user(
        &self,
        account: &Account,
        name: &str,
        new_path: Option<String>,
        new_name: Option<String>,
    ) -> Result<()> {
        Identity::update_user(self, account, name, new_path, new_name).await
    }

    async fn delete_user(&self, account: &Account, name: &str) -> Result<()> {
        Identity::delete_user(self, account, name).await
    }

    async fn set_permissions_boundary(
        &self,
        account: &Account,
        kind: EntityKind,
        name: &str,
        boundary: Option<&str>,
    ) -> Result<()> {
        Identity::set_permissions_boundary(self, account, kind, name, boundary).await
    }

    async fn create_group(&self, account: &Account, path: Option<String>, name: &str) -> Result<GroupRecord> {
        Identity::create_group(self, account, path, name).await
    }

    async fn get_group(
        &self,
        account: &Account,
        name: &str,
        page: &PageRequest,
    ) -> Result<(GroupRecord, Page<UserRecord>)> {
        Identity::get_group(self, account, name, page).await
    }

    async fn list_groups(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<GroupRecord>> {
        Identity::list_groups(self, account, prefix, page).await
    }

    async fn list_groups_for_user(
        &self,
        account: &Account,
        user: &str,
        page: &PageRequest,
    ) -> Result<Page<GroupRecord>> {
        Identity::list_groups_for_user(self, account, user, page).await
    }

    async fn update_group(
        &self,
        account: &Account,
        name: &str,
        new_path: Option<String>,
        new_name: Option<String>,
    ) -> Result<()> {
        Identity::update_group(self, account, name, new_path, new_name).await
    }

    async fn delete_group(&self, account: &Account, name: &str) -> Result<()> {
        Identity::delete_group(self, account, name).await
    }

    async fn add_user_to_group(&self, account: &Account, group: &str, user: &str) -> Result<()> {
        Identity::add_user_to_group(self, account, group, user).await
    }

    async fn remove_user_from_group(&self, account: &Account, group: &str, user: &str) -> Result<()> {
        Identity::remove_user_from_group(self, account, group, user).await
    }

    async fn create_role(&self, account: &Account, input: CreateRole) -> Result<RoleRecord> {
        Identity::create_role(self, account, input).await
    }

    async fn get_role(&self, account: &Account, name: &str) -> Result<RoleRecord> {
        Identity::get_role(self, account, name).await
    }

    async fn list_roles(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<RoleRecord>> {
        Identity::list_roles(self, account, prefix, page).await
    }

    async fn update_role(
        &self,
        account: &Account,
        name: &str,
        description: Option<String>,
        max_session_duration: Option<i32>,
    ) -> Result<()> {
        Identity::update_role(self, account, name, description, max_session_duration).await
    }

    async fn update_assume_role_policy(&self, account: &Account, name: &str, document: &str) -> Result<()> {
        Identity::update_assume_role_policy(self, account, name, document).await
    }

    async fn delete_role(&self, account: &Account, name: &str) -> Result<()> {
        Identity::delete_role(self, account, name).await
    }

    async fn tag_resource(&self, account: &Account, resource: &Taggable, tags: Vec<Tag>) -> Result<()> {
        Identity::tag_resource(self, account, resource, tags).await
    }

    async fn untag_resource(&self, account: &Account, resource: &Taggable, keys: &[String]) -> Result<()> {
        Identity::untag_resource(self, account, resource, keys).await
    }

    async fn list_resource_tags(
        &self,
        account: &Account,
        resource: &Taggable,
        page: &PageRequest,
    ) -> Result<Page<Tag>> {
        Identity::list_resource_tags(self, account, resource, page).await
    }

    async fn create_access_key(&self, account: &Account, user_name: &str) -> Result<CreatedAccessKey> {
        Identity::create_access_key(self, account, user_name).await
    }

    async fn list_access_keys(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<AccessKeyMetadata>> {
        Identity::list_access_keys(self, account, user_name, page).await
    }

    async fn update_access_key(
        &self,
        account: &Account,
        user_name: &str,
        key_id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        Identity::update_access_key(self, account, user_name, key_id, status).await
    }

    async fn delete_access_key(&self, account: &Account, user_name: &str, key_id: &str) -> Result<()> {
        Identity::delete_access_key(self, account, user_name, key_id).await
    }

    async fn get_access_key_last_used(&self, account: &Account, key_id: &str) -> Result<AccessKeyLastUsed> {
        Identity::get_access_key_last_used(self, account, key_id).await
    }

    async fn record_access_key_use(&self, account: &Account, key_id: &str, service: &str, region: &str) -> Result<()> {
        Identity::record_access_key_use(self, account, key_id, service, region).await
    }

    async fn record_role_use(&self, account: &Account, role_id: &str, region: &str) -> Result<()> {
        Identity::record_role_use(self, account, role_id, region).await
    }

    async fn create_login_profile(
        &self,
        account: &Account,
        user_name: &str,
        password: &str,
        password_reset_required: bool,
    ) -> Result<LoginProfile> {
        Identity::create_login_profile(self, account, user_name, password, password_reset_required).await
    }

    async fn get_login_profile(&self, account: &Account, user_name: &str) -> Result<LoginProfile> {
        Identity::get_login_profile(self, account, user_name).await
    }

    async fn update_login_profile(
        &self,
        account: &Account,
        user_name: &str,
        password: Option<&str>,
        password_reset_required: Option<bool>,
    ) -> Result<()> {
        Identity::update_login_profile(self, account, user_name, password, password_reset_required).await
    }

    async fn delete_login_profile(&self, account: &Account, user_name: &str) -> Result<()> {
        Identity::delete_login_profile(self, account, user_name).await
    }

    async fn change_password(&self, account: &Account, user_name: &str, old: &str, new: &str) -> Result<()> {
        Identity::change_password(self, account, user_name, old, new).await
    }

    async fn update_account_password_policy(&self, account: &Account, input: UpdatePasswordPolicy) -> Result<()> {
        Identity::update_account_password_policy(self, account, input).await
    }

    async fn get_account_password_policy(&self, account: &Account) -> Result<PasswordPolicyRecord> {
        Identity::get_account_password_policy(self, account).await
    }

    async fn delete_account_password_policy(&self, account: &Account) -> Result<()> {
        Identity::delete_account_password_policy(self, account).await
    }

    async fn create_virtual_mfa_device(
        &self,
        account: &Account,
        path: Option<String>,
        name: &str,
        tags: Vec<Tag>,
    ) -> Result<CreatedMfaDevice> {
        Identity::create_virtual_mfa_device(self, account, path, name, tags).await
    }

    async fn enable_mfa_device(
        &self,
        account: &Account,
        user_name: &str,
        serial: &str,
        code1: &str,
        code2: &str,
    ) -> Result<()> {
        Identity::enable_mfa_device(self, account, user_name, serial, code1, code2).await
    }

    async fn resync_mfa_device(
        &self,
        account: &Account,
        user_name: &str,
        serial: &str,
        code1: &str,
        code2: &str,
    ) -> Result<()> {
        Identity::resync_mfa_device(self, account, user_name, serial, code1, code2).await
    }

    async fn deactivate_mfa_device(&self, account: &Account, user_name: &str, serial: &str) -> Result<()> {
        Identity::deactivate_mfa_device(self, account, user_name, serial).await
    }

    async fn delete_virtual_mfa_device(&self, account: &Account, serial: &str) -> Result<()> {
        Identity::delete_virtual_mfa_device(self, account, serial).await
    }

    async fn list_mfa_devices(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<MfaDeviceRecord>> {
        Identity::list_mfa_devices(self, account, user_name, page).await
    }

    async fn list_virtual_mfa_devices(
        &self,
        account: &Account,
        status: AssignmentStatus,
        page: &PageRequest,
    ) -> Result<Page<MfaDeviceRecord>> {
        Identity::list_virtual_mfa_devices(self, account, status, page).await
    }

    async fn create_open_id_connect_provider(
        &self,
        account: &Account,
        input: CreateOidcProvider,
    ) -> Result<OidcProviderRecord> {
        Identity::create_open_id_connect_provider(self, account, input).await
    }

    async fn get_open_id_connect_provider(&self, account: &Account, arn: &str) -> Result<OidcProviderRecord> {
        Identity::get_open_id_connect_provider(self, account, arn).await
    }

    async fn list_open_id_connect_providers(&self, account: &Account) -> Result<Vec<OidcProviderRecord>> {
        Identity::list_open_id_connect_providers(self, account).await
    }

    async fn delete_open_id_connect_provider(&self, account: &Account, arn: &str) -> Result<()> {
        Identity::delete_open_id_connect_provider(self, account, arn).await
    }

    async fn add_client_id_to_open_id_connect_provider(
        &self,
        account: &Account,
        arn: &str,
        client_id: &str,
    ) -> Result<()> {
        Identity::add_client_id_to_open_id_connect_provider(self, account, arn, client_id).await
    }

    async fn remove_client_id_from_open_id_connect_provider(
        &self,
        account: &Account,
        arn: &str,
        client_id: &str,
    ) -> Result<()> {
        Identity::remove_client_id_from_open_id_connect_provider(self, account, arn, client_id).await
    }

    async fn update_open_id_connect_provider_thumbprint(
        &self,
        account: &Account,
        arn: &str,
        thumbprints: &[String],
    ) -> Result<()> {
        Identity::update_open_id_connect_provider_thumbprint(self, account, arn, thumbprints).await
    }

    // SAML providers
    async fn create_saml_provider(&self, account: &Account, input: CreateSamlProvider) -> Result<SamlProviderRecord> {
        Identity::create_saml_provider(self, account, input).await
    }

    async fn get_saml_provider(&self, account: &Account, arn: &str) -> Result<SamlProviderRecord> {
        Identity::get_saml_provider(self, account, arn).await
    }

    async fn update_saml_provider(
        &self,
        account: &Account,
        arn: &str,
        input: UpdateSamlProvider,
    ) -> Result<SamlProviderRecord> {
        Identity::update_saml_provider(self, account, arn, input).await
    }

    async fn delete_saml_provider(&self, account: &Account, arn: &str) -> Result<()> {
        Identity::delete_saml_provider(self, account, arn).await
    }

    async fn list_saml_providers(&self, account: &Account) -> Result<Vec<SamlProviderRecord>> {
        Identity::list_saml_providers(self, account).await
    }

    async fn get_account_authorization_details(
        &self,
        account: &Account,
        filter: &[String],
        page: &PageRequest,
    ) -> Result<AuthorizationDetails> {
        Identity::get_account_authorization_details(self, account, filter, page).await
    }

    async fn generate_credential_report(&self, account: &Account) -> Result<(ReportState, String)> {
        Identity::generate_credential_report(self, account).await
    }

    async fn get_credential_report(&self, account: &Account) -> Result<CredentialReportRecord> {
        Identity::get_credential_report(self, account).await
    }

    async fn set_outbound_web_identity_federation(&self, account: &Account, enabled: bool) -> Result<()> {
        Identity::set_outbound_web_identity_federation(self, account, enabled).await
    }

    async fn outbound_web_identity_federation(&self, account: &Account) -> Result<Option<bool>> {
        Identity::outbound_web_identity_federation(self, account).await
    }
    // ---- Issue 14, part A.
    async fn create_instance_profile(
        &self,
        account: &Account,
        path: Option<String>,
        name: &str,
        tags: Vec<Tag>,
    ) -> Result<InstanceProfile> {
        Identity::create_instance_profile(self, account, path, name, tags).await
    }

    async fn get_instance_profile(&self, account: &Account, name: &str) -> Result<InstanceProfile> {
        Identity::get_instance_profile(self, account, name).await
    }

    async fn delete_instance_profile(&self, account: &Account, name: &str) -> Result<()> {
        Identity::delete_instance_profile(self, account, name).await
    }

    async fn list_instance_profiles(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<InstanceProfile>> {
        Identity::list_instance_profiles(self, account, prefix, page).await
    }

    async fn list_instance_profiles_for_role(
        &self,
        account: &Account,
        role_name: &str,
        page: &PageRequest,
    ) -> Result<Page<InstanceProfile>> {
        Identity::list_instance_profiles_for_role(self, account, role_name, page).await
    }

    async fn add_role_to_instance_profile(&self, account: &Account, profile: &str, role: &str) -> Result<()> {
        Identity::add_role_to_instance_profile(self, account, profile, role).await
    }

    async fn remove_role_from_instance_profile(&self, account: &Account, profile: &str, role: &str) -> Result<()> {
        Identity::remove_role_from_instance_profile(self, account, profile, role).await
    }

    async fn create_account_alias(&self, account: &Account, alias: &str) -> Result<()> {
        Identity::create_account_alias(self, account, alias).await
    }

    async fn delete_account_alias(&self, account: &Account, alias: &str) -> Result<()> {
        Identity::delete_account_alias(self, account, alias).await
    }

    async fn list_account_aliases(&self, account: &Account, page: &PageRequest) -> Result<Page<String>> {
        Identity::list_account_aliases(self, account, page).await
    }

    async fn create_service_linked_role(
        &self,
        account: &Account,
        service: &str,
        description: Option<String>,
        custom_suffix: Option<String>,
    ) -> Result<RoleRecord> {
        Identity::create_service_linked_role(self, account, service, description, custom_suffix).await
    }

    async fn delete_service_linked_role(&self, account: &Account, role_name: &str) -> Result<String> {
        Identity::delete_service_linked_role(self, account, role_name).await
    }

    async fn get_service_linked_role_deletion_status(
        &self,
        account: &Account,
        task_id: &str,
    ) -> Result<(DeletionStatus, Option<String>)> {
        Identity::get_service_linked_role_deletion_status(self, account, task_id).await
    }

    async fn get_mfa_device(
        &self,
        account: &Account,
        serial: &str,
        user_name: Option<&str>,
    ) -> Result<MfaDeviceRecord> {
        Identity::get_mfa_device(self, account, serial, user_name).await
    }

    async fn set_security_token_service_preferences(&self, account: &Account, version: &str) -> Result<()> {
        Identity::set_security_token_service_preferences(self, account, version).await
    }
    // ---- End of issue 14, part A.

    // SSH public keys (issue 14, part B).

    async fn upload_ssh_public_key(&self, account: &Account, user_name: &str, body: &str) -> Result<SshPublicKey> {
        Identity::upload_ssh_public_key(self, account, user_name, body).await
    }

    async fn get_ssh_public_key(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
        encoding: SshEncoding,
    ) -> Result<SshPublicKey> {
        Identity::get_ssh_public_key(self, account, user_name, id, encoding).await
    }

    async fn list_ssh_public_keys(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<SshPublicKey>> {
        Identity::list_ssh_public_keys(self, account, user_name, page).await
    }

    async fn update_ssh_public_key(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        Identity::update_ssh_public_key(self, account, user_name, id, status).await
    }

    async fn delete_ssh_public_key(&self, account: &Account, user_name: &str, id: &str) -> Result<()> {
        Identity::delete_ssh_public_key(self, account, user_name, id).await
    }

    // Signing certificates (issue 14, part B).

    async fn upload_signing_certificate(
        &self,
        account: &Account,
        user_name: &str,
        body: &str,
    ) -> Result<SigningCertificate> {
        Identity::upload_signing_certificate(self, account, user_name, body).await
    }

    async fn list_signing_certificates(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<SigningCertificate>> {
        Identity::list_signing_certificates(self, account, user_name, page).await
    }

    async fn update_signing_certificate(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        Identity::update_signing_certificate(self, account, user_name, id, status).await
    }

    async fn delete_signing_certificate(&self, account: &Account, user_name: &str, id: &str) -> Result<()> {
        Identity::delete_signing_certificate(self, account, user_name, id).await
    }

    // Server certificates (issue 14, part B).

    async fn upload_server_certificate(
        &self,
        account: &Account,
        input: UploadServerCertificate,
    ) -> Result<ServerCertificate> {
        Identity::upload_server_certificate(self, account, input).await
    }

    async fn get_server_certificate(&self, account: &Account, name: &str) -> Result<ServerCertificate> {
        Identity::get_server_certificate(self, account, name).await
    }

    async fn list_server_certificates(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<ServerCertificate>> {
        Identity::list_server_certificates(self, account, prefix, page).await
    }

    async fn update_server_certificate(
        &self,
        account: &Account,
        name: &str,
        new_path: Option<String>,
        new_name: Option<String>,
    ) -> Result<()> {
        Identity::update_server_certificate(self, account, name, new_path, new_name).await
    }

    async fn delete_server_certificate(&self, account: &Account, name: &str) -> Result<()> {
        Identity::delete_server_certificate(self, account, name).await
    }

    // Service-specific credentials (issue 14, part B).

    async fn create_service_specific_credential(
        &self,
        account: &Account,
        user_name: &str,
        service_name: &str,
        age_days: Option<i32>,
    ) -> Result<ServiceCredential> {
        Identity::create_service_specific_credential(self, account, user_name, service_name, age_days).await
    }

    async fn reset_service_specific_credential(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
    ) -> Result<ServiceCredential> {
        Identity::reset_service_specific_credential(self, account, user_name, id).await
    }

    async fn list_service_specific_credentials(
        &self,
        account: &Account,
        user_name: &str,
        service_name: Option<&str>,
        all_users: bool,
        page: &PageRequest,
    ) -> Result<Page<ServiceCredential>> {
        Identity::list_service_specific_credentials(self, account, user_name, service_name, all_users, page).await
    }

    async fn update_service_specific_credential(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        Identity::update_service_specific_credential(self, account, user_name, id, status).await
    }

    async fn delete_service_specific_credential(&self, account: &Account, user_name: &str, id: &str) -> Result<()> {
        Identity::delete_service_specific_credential(self, account, user_name, id).await
    }
}
