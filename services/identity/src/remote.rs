//! [`RemoteIdentity`]: [`IdentityApi`] over gRPC, for a process (the gateway) in front of separate
//! identity replicas.
//!
//! Each operation is one `tessera.identity.v1.IdentityService` call, its messages built and read
//! with the conversions the server adapter uses (`convert.rs`). Reads (`Get*`, `List*`, the
//! account-wide reads) go through [`tessera_proto::upstream::read`], which sends them again when
//! the replica was unreachable; writes are sent once, since a write whose answer was lost may have
//! been applied. A failed call comes back as the [`Error`] the server's domain returned: the AWS
//! code and message byte for byte, and an MFA rejection with its device and reason.

use std::sync::Arc;

use tessera_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tessera_proto::identity::v1::{self as pb};
use tessera_proto::upstream;
use tessera_store::iam::{
    AccountRecord, CredentialReportRecord, EntityKind, GroupRecord, KeyStatus, MfaDeviceRecord, OidcProviderRecord,
    PasswordPolicyRecord, RoleRecord, SamlProviderRecord, Tag, UserRecord,
};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use crate::convert::*;
use crate::{
    AccessKeyLastUsed, AccessKeyMetadata, Account, AssignmentStatus, AuthorizationDetails, CreateOidcProvider,
    CreateRole, CreateUser, CreatedAccessKey, CreatedMfaDevice, IdentityApi, LoginProfile, Page, PageRequest,
    ReportState, Result, Taggable, UpdatePasswordPolicy,
};
use crate::{
    ServerCertificate, ServiceCredential, SigningCertificate, SshEncoding, SshPublicKey, UploadServerCertificate,
};
// Issue 14, part A.
use crate::InstanceProfile;
use tessera_store::iam::DeletionStatus;
// SAML providers
use crate::{CreateSamlProvider, UpdateSamlProvider};

/// The largest answer a call accepts: a page of 1,000 users' authorization details or a large
/// account's credential report can pass tonic's default of 4 MiB.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// The identity domain of remote replicas, reached through one (balanced) channel.
#[derive(Clone, Debug)]
pub struct RemoteIdentity {
    client: upstream::Client<IdentityServiceClient<Channel>>,
}

impl From<RemoteIdentity> for Arc<dyn IdentityApi> {
    fn from(remote: RemoteIdentity) -> Self {
        Arc::new(remote)
    }
}

impl RemoteIdentity {
    /// Calls the identity service at the other end of `channel`.
    pub fn new(channel: Channel) -> Self {
        let client = IdentityServiceClient::new(channel).max_decoding_message_size(MAX_ANSWER_BYTES);
        Self { client: upstream::Client::new(client) }
    }

    /// Sends `key: value` with every request (`tessera-internal: <hex>`).
    pub fn with_metadata(mut self, key: &'static str, value: MetadataValue<Ascii>) -> Self {
        self.client = self.client.with_metadata(key, value);
        self
    }
}

fn id(account: &Account) -> String {
    account.id().to_owned()
}

#[async_trait::async_trait]
impl IdentityApi for RemoteIdentity {
    // Accounts.

    async fn create_account(&self, account: &Account) -> Result<AccountRecord> {
        let m = pb::CreateAccountRequest { account_id: id(account) };
        let r = self.client.write(m, |mut c, r| async move { c.create_account(r).await }).await?;
        Ok(account_in(r.account))
    }

    async fn get_account_summary(&self, account: &Account) -> Result<std::collections::BTreeMap<String, i64>> {
        let m = pb::GetAccountSummaryRequest { account_id: id(account) };
        let r = self.client.read(m, |mut c, r| async move { c.get_account_summary(r).await }).await?;
        Ok(summary_in(r.summary_map))
    }

    // Users.

    async fn create_user(&self, account: &Account, input: CreateUser) -> Result<UserRecord> {
        let m = pb::CreateUserRequest {
            account_id: id(account),
            path: input.path,
            user_name: input.user_name,
            permissions_boundary: input.permissions_boundary,
            tags: tags_out(&input.tags),
        };
        let r = self.client.write(m, |mut c, r| async move { c.create_user(r).await }).await?;
        Ok(user_in_required(r.user))
    }

    async fn get_user(&self, account: &Account, name: &str) -> Result<UserRecord> {
        let m = pb::GetUserRequest { account_id: id(account), user_name: Some(name.to_owned()) };
        let r = self.client.read(m, |mut c, r| async move { c.get_user(r).await }).await?;
        Ok(user_in_required(r.user))
    }

    async fn list_users(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<UserRecord>> {
        let m = pb::ListUsersRequest {
            account_id: id(account),
            path_prefix: prefix.map(str::to_owned),
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.list_users(r).await }).await?;
        Ok(page_in(r.users.into_iter().map(user_in).collect(), r.page))
    }

    async fn update_user(
        &self,
        account: &Account,
        name: &str,
        new_path: Option<String>,
        new_name: Option<String>,
    ) -> Result<()> {
        let m = pb::UpdateUserRequest {
            account_id: id(account),
            user_name: name.to_owned(),
            new_path,
            new_user_name: new_name,
        };
        self.client.write(m, |mut c, r| async move { c.update_user(r).await }).await?;
        Ok(())
    }

    async fn delete_user(&self, account: &Account, name: &str) -> Result<()> {
        let m = pb::DeleteUserRequest { account_id: id(account), user_name: name.to_owned() };
        self.client.write(m, |mut c, r| async move { c.delete_user(r).await }).await?;
        Ok(())
    }

    async fn set_permissions_boundary(
        &self,
        account: &Account,
        kind: EntityKind,
        name: &str,
        boundary: Option<&str>,
    ) -> Result<()> {
        let entity = entity_ref_out(kind, name);
        match boundary {
            Some(arn) => {
                let m = pb::PutPermissionsBoundaryRequest {
                    account_id: id(account),
                    entity,
                    permissions_boundary: arn.to_owned(),
                };
                self.client.write(m, |mut c, r| async move { c.put_permissions_boundary(r).await }).await?;
            }
            None => {
                let m = pb::DeletePermissionsBoundaryRequest { account_id: id(account), entity };
                self.client.write(m, |mut c, r| async move { c.delete_permissions_boundary(r).await }).await?;
            }
        }
        Ok(())
    }

    // Groups and membership.

    async fn create_group(&self, account: &Account, path: Option<String>, name: &str) -> Result<GroupRecord> {
        let m = pb::CreateGroupRequest { account_id: id(account), path, group_name: name.to_owned() };
        let r = self.client.write(m, |mut c, r| async move { c.create_group(r).await }).await?;
        Ok(group_in(r.group.unwrap_or_default()))
    }

    async fn get_group(
        &self,
        account: &Account,
        name: &str,
        page: &PageRequest,
    ) -> Result<(GroupRecord, Page<UserRecord>)> {
        let m = pb::GetGroupRequest { account_id: id(account), group_name: name.to_owned(), page: page_request(page) };
        let r = self.client.read(m, |mut c, r| async move { c.get_group(r).await }).await?;
        Ok((group_in(r.group.unwrap_or_default()), page_in(r.users.into_iter().map(user_in).collect(), r.page)))
    }

    async fn list_groups(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<GroupRecord>> {
        let m = pb::ListGroupsRequest {
            account_id: id(account),
            path_prefix: prefix.map(str::to_owned),
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.list_groups(r).await }).await?;
        Ok(page_in(r.groups.into_iter().map(group_in).collect(), r.page))
    }

    async fn list_groups_for_user(
        &self,
        account: &Account,
        user: &str,
        page: &PageRequest,
    ) -> Result<Page<GroupRecord>> {
        let m = pb::ListGroupsForUserRequest {
            account_id: id(account),
            user_name: user.to_owned(),
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.list_groups_for_user(r).await }).await?;
        Ok(page_in(r.groups.into_iter().map(group_in).collect(), r.page))
    }

    async fn update_group(
        &self,
        account: &Account,
        name: &str,
        new_path: Option<String>,
        new_name: Option<String>,
    ) -> Result<()> {
        let m = pb::UpdateGroupRequest {
            account_id: id(account),
            group_name: name.to_owned(),
            new_group_name: new_name,
            new_path,
        };
        self.client.write(m, |mut c, r| async move { c.update_group(r).await }).await?;
        Ok(())
    }

    async fn delete_group(&self, account: &Account, name: &str) -> Result<()> {
        let m = pb::DeleteGroupRequest { account_id: id(account), group_name: name.to_owned() };
        self.client.write(m, |mut c, r| async move { c.delete_group(r).await }).await?;
        Ok(())
    }

    async fn add_user_to_group(&self, account: &Account, group: &str, user: &str) -> Result<()> {
        let m = pb::AddUserToGroupRequest {
            account_id: id(account),
            group_name: group.to_owned(),
            user_name: user.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.add_user_to_group(r).await }).await?;
        Ok(())
    }

    async fn remove_user_from_group(&self, account: &Account, group: &str, user: &str) -> Result<()> {
        let m = pb::RemoveUserFromGroupRequest {
            account_id: id(account),
            group_name: group.to_owned(),
            user_name: user.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.remove_user_from_group(r).await }).await?;
        Ok(())
    }

    // Roles.

    async fn create_role(&self, account: &Account, input: CreateRole) -> Result<RoleRecord> {
        let m = pb::CreateRoleRequest {
            account_id: id(account),
            path: input.path,
            role_name: input.role_name,
            assume_role_policy_document: input.assume_role_policy_document,
            description: input.description,
            max_session_duration: input.max_session_duration,
            permissions_boundary: input.permissions_boundary,
            tags: tags_out(&input.tags),
        };
        let r = self.client.write(m, |mut c, r| async move { c.create_role(r).await }).await?;
        Ok(role_in_required(r.role))
    }

    async fn get_role(&self, account: &Account, name: &str) -> Result<RoleRecord> {
        let m = pb::GetRoleRequest { account_id: id(account), role_name: name.to_owned() };
        let r = self.client.read(m, |mut c, r| async move { c.get_role(r).await }).await?;
        Ok(role_in_required(r.role))
    }

    async fn list_roles(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<RoleRecord>> {
        let m = pb::ListRolesRequest {
            account_id: id(account),
            path_prefix: prefix.map(str::to_owned),
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.list_roles(r).await }).await?;
        Ok(page_in(r.roles.into_iter().map(role_in).collect(), r.page))
    }

    async fn update_role(
        &self,
        account: &Account,
        name: &str,
        description: Option<String>,
        max_session_duration: Option<i32>,
    ) -> Result<()> {
        let m = pb::UpdateRoleRequest {
            account_id: id(account),
            role_name: name.to_owned(),
            description,
            max_session_duration,
        };
        self.client.write(m, |mut c, r| async move { c.update_role(r).await }).await?;
        Ok(())
    }

    async fn update_assume_role_policy(&self, account: &Account, name: &str, document: &str) -> Result<()> {
        let m = pb::UpdateAssumeRolePolicyRequest {
            account_id: id(account),
            role_name: name.to_owned(),
            policy_document: document.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.update_assume_role_policy(r).await }).await?;
        Ok(())
    }

    async fn delete_role(&self, account: &Account, name: &str) -> Result<()> {
        let m = pb::DeleteRoleRequest { account_id: id(account), role_name: name.to_owned() };
        self.client.write(m, |mut c, r| async move { c.delete_role(r).await }).await?;
        Ok(())
    }

    // Tags.

    async fn tag_resource(&self, account: &Account, resource: &Taggable, tags: Vec<Tag>) -> Result<()> {
        let m =
            pb::TagResourceRequest { account_id: id(account), resource: taggable_out(resource), tags: tags_out(&tags) };
        self.client.write(m, |mut c, r| async move { c.tag_resource(r).await }).await?;
        Ok(())
    }

    async fn untag_resource(&self, account: &Account, resource: &Taggable, keys: &[String]) -> Result<()> {
        let m = pb::UntagResourceRequest {
            account_id: id(account),
            resource: taggable_out(resource),
            tag_keys: keys.to_vec(),
        };
        self.client.write(m, |mut c, r| async move { c.untag_resource(r).await }).await?;
        Ok(())
    }

    async fn list_resource_tags(
        &self,
        account: &Account,
        resource: &Taggable,
        page: &PageRequest,
    ) -> Result<Page<Tag>> {
        let m = pb::ListResourceTagsRequest {
            account_id: id(account),
            resource: taggable_out(resource),
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.list_resource_tags(r).await }).await?;
        Ok(page_in(tags_in(r.tags), r.page))
    }

    // Access keys.

    async fn create_access_key(&self, account: &Account, user_name: &str) -> Result<CreatedAccessKey> {
        let m = pb::CreateAccessKeyRequest { account_id: id(account), user_name: Some(user_name.to_owned()) };
        let r = self.client.write(m, |mut c, r| async move { c.create_access_key(r).await }).await?;
        Ok(created_key_in(r.access_key))
    }

    async fn list_access_keys(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<AccessKeyMetadata>> {
        let m = pb::ListAccessKeysRequest {
            account_id: id(account),
            user_name: Some(user_name.to_owned()),
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.list_access_keys(r).await }).await?;
        Ok(page_in(r.access_key_metadata.into_iter().map(key_metadata_in).collect(), r.page))
    }

    async fn update_access_key(
        &self,
        account: &Account,
        user_name: &str,
        key_id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        let m = pb::UpdateAccessKeyRequest {
            account_id: id(account),
            user_name: Some(user_name.to_owned()),
            access_key_id: key_id.to_owned(),
            status: key_status_out(status).into(),
        };
        self.client.write(m, |mut c, r| async move { c.update_access_key(r).await }).await?;
        Ok(())
    }

    async fn delete_access_key(&self, account: &Account, user_name: &str, key_id: &str) -> Result<()> {
        let m = pb::DeleteAccessKeyRequest {
            account_id: id(account),
            user_name: Some(user_name.to_owned()),
            access_key_id: key_id.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.delete_access_key(r).await }).await?;
        Ok(())
    }

    async fn get_access_key_last_used(&self, account: &Account, key_id: &str) -> Result<AccessKeyLastUsed> {
        let m = pb::GetAccessKeyLastUsedRequest { account_id: id(account), access_key_id: key_id.to_owned() };
        let r = self.client.read(m, |mut c, r| async move { c.get_access_key_last_used(r).await }).await?;
        Ok(key_last_used_in(r))
    }

    async fn record_access_key_use(&self, account: &Account, key_id: &str, service: &str, region: &str) -> Result<()> {
        let m = pb::RecordAccessKeyUseRequest {
            account_id: id(account),
            access_key_id: key_id.to_owned(),
            service_name: service.to_owned(),
            region: region.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.record_access_key_use(r).await }).await?;
        Ok(())
    }

    async fn record_role_use(&self, account: &Account, role_id: &str, region: &str) -> Result<()> {
        let m = pb::RecordRoleUseRequest {
            account_id: id(account),
            role_id: role_id.to_owned(),
            region: region.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.record_role_use(r).await }).await?;
        Ok(())
    }

    // Passwords.

    async fn create_login_profile(
        &self,
        account: &Account,
        user_name: &str,
        password: &str,
        password_reset_required: bool,
    ) -> Result<LoginProfile> {
        let m = pb::CreateLoginProfileRequest {
            account_id: id(account),
            user_name: user_name.to_owned(),
            password: password.to_owned(),
            password_reset_required: Some(password_reset_required),
        };
        let r = self.client.write(m, |mut c, r| async move { c.create_login_profile(r).await }).await?;
        Ok(login_profile_in(r.login_profile))
    }

    async fn get_login_profile(&self, account: &Account, user_name: &str) -> Result<LoginProfile> {
        let m = pb::GetLoginProfileRequest { account_id: id(account), user_name: user_name.to_owned() };
        let r = self.client.read(m, |mut c, r| async move { c.get_login_profile(r).await }).await?;
        Ok(login_profile_in(r.login_profile))
    }

    async fn update_login_profile(
        &self,
        account: &Account,
        user_name: &str,
        password: Option<&str>,
        password_reset_required: Option<bool>,
    ) -> Result<()> {
        let m = pb::UpdateLoginProfileRequest {
            account_id: id(account),
            user_name: user_name.to_owned(),
            password: password.map(str::to_owned),
            password_reset_required,
        };
        self.client.write(m, |mut c, r| async move { c.update_login_profile(r).await }).await?;
        Ok(())
    }

    async fn delete_login_profile(&self, account: &Account, user_name: &str) -> Result<()> {
        let m = pb::DeleteLoginProfileRequest { account_id: id(account), user_name: user_name.to_owned() };
        self.client.write(m, |mut c, r| async move { c.delete_login_profile(r).await }).await?;
        Ok(())
    }

    async fn change_password(&self, account: &Account, user_name: &str, old: &str, new: &str) -> Result<()> {
        let m = pb::ChangePasswordRequest {
            account_id: id(account),
            user_name: user_name.to_owned(),
            old_password: old.to_owned(),
            new_password: new.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.change_password(r).await }).await?;
        Ok(())
    }

    async fn update_account_password_policy(&self, account: &Account, input: UpdatePasswordPolicy) -> Result<()> {
        let m = password_policy_update_out(id(account), input);
        self.client.write(m, |mut c, r| async move { c.update_account_password_policy(r).await }).await?;
        Ok(())
    }

    async fn get_account_password_policy(&self, account: &Account) -> Result<PasswordPolicyRecord> {
        let m = pb::GetAccountPasswordPolicyRequest { account_id: id(account) };
        let r = self.client.read(m, |mut c, r| async move { c.get_account_password_policy(r).await }).await?;
        Ok(password_policy_in(r.password_policy))
    }

    async fn delete_account_password_policy(&self, account: &Account) -> Result<()> {
        let m = pb::DeleteAccountPasswordPolicyRequest { account_id: id(account) };
        self.client.write(m, |mut c, r| async move { c.delete_account_password_policy(r).await }).await?;
        Ok(())
    }

    // MFA devices.

    async fn create_virtual_mfa_device(
        &self,
        account: &Account,
        path: Option<String>,
        name: &str,
        tags: Vec<Tag>,
    ) -> Result<CreatedMfaDevice> {
        let m = pb::CreateVirtualMfaDeviceRequest {
            account_id: id(account),
            path,
            virtual_mfa_device_name: name.to_owned(),
            tags: tags_out(&tags),
        };
        let r = self.client.write(m, |mut c, r| async move { c.create_virtual_mfa_device(r).await }).await?;
        Ok(created_mfa_in(r.virtual_mfa_device))
    }

    async fn enable_mfa_device(
        &self,
        account: &Account,
        user_name: &str,
        serial: &str,
        code1: &str,
        code2: &str,
    ) -> Result<()> {
        let m = pb::EnableMfaDeviceRequest {
            account_id: id(account),
            user_name: user_name.to_owned(),
            serial_number: serial.to_owned(),
            authentication_code1: code1.to_owned(),
            authentication_code2: code2.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.enable_mfa_device(r).await }).await?;
        Ok(())
    }

    async fn resync_mfa_device(
        &self,
        account: &Account,
        user_name: &str,
        serial: &str,
        code1: &str,
        code2: &str,
    ) -> Result<()> {
        let m = pb::ResyncMfaDeviceRequest {
            account_id: id(account),
            user_name: user_name.to_owned(),
            serial_number: serial.to_owned(),
            authentication_code1: code1.to_owned(),
            authentication_code2: code2.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.resync_mfa_device(r).await }).await?;
        Ok(())
    }

    async fn deactivate_mfa_device(&self, account: &Account, user_name: &str, serial: &str) -> Result<()> {
        let m = pb::DeactivateMfaDeviceRequest {
            account_id: id(account),
            user_name: Some(user_name.to_owned()),
            serial_number: serial.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.deactivate_mfa_device(r).await }).await?;
        Ok(())
    }

    async fn delete_virtual_mfa_device(&self, account: &Account, serial: &str) -> Result<()> {
        let m = pb::DeleteVirtualMfaDeviceRequest { account_id: id(account), serial_number: serial.to_owned() };
        self.client.write(m, |mut c, r| async move { c.delete_virtual_mfa_device(r).await }).await?;
        Ok(())
    }

    async fn list_mfa_devices(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<MfaDeviceRecord>> {
        let m = pb::ListMfaDevicesRequest {
            account_id: id(account),
            user_name: Some(user_name.to_owned()),
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.list_mfa_devices(r).await }).await?;
        Ok(page_in(r.mfa_devices.into_iter().map(listed_mfa_in).collect(), r.page))
    }

    async fn list_virtual_mfa_devices(
        &self,
        account: &Account,
        status: AssignmentStatus,
        page: &PageRequest,
    ) -> Result<Page<MfaDeviceRecord>> {
        let m = pb::ListVirtualMfaDevicesRequest {
            account_id: id(account),
            assignment_status: assignment_status_out(status).into(),
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.list_virtual_mfa_devices(r).await }).await?;
        Ok(page_in(r.virtual_mfa_devices.into_iter().map(mfa_device_in).collect(), r.page))
    }

    // OpenID Connect providers.

    async fn create_open_id_connect_provider(
        &self,
        account: &Account,
        input: CreateOidcProvider,
    ) -> Result<OidcProviderRecord> {
        let m = pb::CreateOpenIdConnectProviderRequest {
            account_id: id(account),
            url: input.url,
            client_id_list: input.client_ids,
            thumbprint_list: input.thumbprints,
            tags: tags_out(&input.tags),
        };
        let r = self.client.write(m, |mut c, r| async move { c.create_open_id_connect_provider(r).await }).await?;
        Ok(created_provider_in(r))
    }

    async fn get_open_id_connect_provider(&self, account: &Account, arn: &str) -> Result<OidcProviderRecord> {
        let m = pb::GetOpenIdConnectProviderRequest {
            account_id: id(account),
            open_id_connect_provider_arn: arn.to_owned(),
        };
        let r = self.client.read(m, |mut c, r| async move { c.get_open_id_connect_provider(r).await }).await?;
        Ok(provider_in(arn.to_owned(), r))
    }

    /// The list names each provider by ARN only (as AWS's does), so the records are read one by
    /// one after it (at most 100 per account); one deleted meanwhile is left out.
    async fn list_open_id_connect_providers(&self, account: &Account) -> Result<Vec<OidcProviderRecord>> {
        let mut arns = Vec::new();
        let mut marker = None;
        loop {
            let m = pb::ListOpenIdConnectProvidersRequest {
                account_id: id(account),
                page: page_request(&PageRequest { marker, max_items: Some(1000) }),
            };
            let r = self.client.read(m, |mut c, r| async move { c.list_open_id_connect_providers(r).await }).await?;
            let listed = page_in(r.open_id_connect_provider_list, r.page);
            arns.extend(listed.items.into_iter().map(|entry| entry.arn));
            marker = listed.marker;
            if marker.is_none() {
                break;
            }
        }
        let mut providers = Vec::with_capacity(arns.len());
        for arn in arns {
            match self.get_open_id_connect_provider(account, &arn).await {
                Ok(provider) => providers.push(provider),
                Err(error) if error.code() == tessera_proto::ErrorCode::NoSuchEntity => {}
                Err(error) => return Err(error),
            }
        }
        Ok(providers)
    }

    async fn delete_open_id_connect_provider(&self, account: &Account, arn: &str) -> Result<()> {
        let m = pb::DeleteOpenIdConnectProviderRequest {
            account_id: id(account),
            open_id_connect_provider_arn: arn.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.delete_open_id_connect_provider(r).await }).await?;
        Ok(())
    }

    async fn add_client_id_to_open_id_connect_provider(
        &self,
        account: &Account,
        arn: &str,
        client_id: &str,
    ) -> Result<()> {
        let m = pb::AddClientIdToOpenIdConnectProviderRequest {
            account_id: id(account),
            open_id_connect_provider_arn: arn.to_owned(),
            client_id: client_id.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.add_client_id_to_open_id_connect_provider(r).await }).await?;
        Ok(())
    }

    async fn remove_client_id_from_open_id_connect_provider(
        &self,
        account: &Account,
        arn: &str,
        client_id: &str,
    ) -> Result<()> {
        let m = pb::RemoveClientIdFromOpenIdConnectProviderRequest {
            account_id: id(account),
            open_id_connect_provider_arn: arn.to_owned(),
            client_id: client_id.to_owned(),
        };
        self.client
            .write(m, |mut c, r| async move { c.remove_client_id_from_open_id_connect_provider(r).await })
            .await?;
        Ok(())
    }

    async fn update_open_id_connect_provider_thumbprint(
        &self,
        account: &Account,
        arn: &str,
        thumbprints: &[String],
    ) -> Result<()> {
        let m = pb::UpdateOpenIdConnectProviderThumbprintRequest {
            account_id: id(account),
            open_id_connect_provider_arn: arn.to_owned(),
            thumbprint_list: thumbprints.to_vec(),
        };
        self.client.write(m, |mut c, r| async move { c.update_open_id_connect_provider_thumbprint(r).await }).await?;
        Ok(())
    }

    // SAML providers

    async fn create_saml_provider(&self, account: &Account, input: CreateSamlProvider) -> Result<SamlProviderRecord> {
        let m = pb::CreateSamlProviderRequest {
            account_id: id(account),
            name: input.name,
            saml_metadata_document: input.metadata_document,
            tags: tags_out(&input.tags),
            assertion_encryption_mode: input.assertion_encryption_mode,
            add_private_key: input.add_private_key,
        };
        let r = self.client.write(m, |mut c, r| async move { c.create_saml_provider(r).await }).await?;
        Ok(saml_provider_in(r))
    }

    async fn get_saml_provider(&self, account: &Account, arn: &str) -> Result<SamlProviderRecord> {
        let m = pb::GetSamlProviderRequest { account_id: id(account), saml_provider_arn: arn.to_owned() };
        let r = self.client.read(m, |mut c, r| async move { c.get_saml_provider(r).await }).await?;
        Ok(saml_provider_in(r))
    }

    async fn update_saml_provider(
        &self,
        account: &Account,
        arn: &str,
        input: UpdateSamlProvider,
    ) -> Result<SamlProviderRecord> {
        let m = pb::UpdateSamlProviderRequest {
            account_id: id(account),
            saml_provider_arn: arn.to_owned(),
            saml_metadata_document: input.metadata_document,
            assertion_encryption_mode: input.assertion_encryption_mode,
            add_private_key: input.add_private_key,
            remove_private_key: input.remove_private_key,
        };
        let r = self.client.write(m, |mut c, r| async move { c.update_saml_provider(r).await }).await?;
        Ok(saml_provider_in(r))
    }

    async fn delete_saml_provider(&self, account: &Account, arn: &str) -> Result<()> {
        let m = pb::DeleteSamlProviderRequest { account_id: id(account), saml_provider_arn: arn.to_owned() };
        self.client.write(m, |mut c, r| async move { c.delete_saml_provider(r).await }).await?;
        Ok(())
    }

    async fn list_saml_providers(&self, account: &Account) -> Result<Vec<SamlProviderRecord>> {
        let m = pb::ListSamlProvidersRequest { account_id: id(account) };
        let r = self.client.read(m, |mut c, r| async move { c.list_saml_providers(r).await }).await?;
        Ok(r.saml_provider_list.into_iter().map(saml_list_entry_in).collect())
    }

    // Account-wide reads.

    async fn get_account_authorization_details(
        &self,
        account: &Account,
        filter: &[String],
        page: &PageRequest,
    ) -> Result<AuthorizationDetails> {
        // The wire enum cannot carry a value outside AWS's: refuse it here as the domain does.
        crate::account::check_filter(filter)?;
        let m = pb::GetAccountAuthorizationDetailsRequest {
            account_id: id(account),
            filter: filter_out(filter),
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.get_account_authorization_details(r).await }).await?;
        Ok(details_in(r))
    }

    async fn generate_credential_report(&self, account: &Account) -> Result<(ReportState, String)> {
        let m = pb::GenerateCredentialReportRequest { account_id: id(account) };
        let r = self.client.read(m, |mut c, r| async move { c.generate_credential_report(r).await }).await?;
        Ok((report_state_in(r.state), r.description))
    }

    async fn get_credential_report(&self, account: &Account) -> Result<CredentialReportRecord> {
        let m = pb::GetCredentialReportRequest { account_id: id(account) };
        let r = self.client.read(m, |mut c, r| async move { c.get_credential_report(r).await }).await?;
        Ok(report_in(r))
    }

    async fn set_outbound_web_identity_federation(&self, account: &Account, enabled: bool) -> Result<()> {
        let m = pb::SetOutboundWebIdentityFederationRequest { account_id: id(account), enabled };
        self.client.write(m, |mut c, r| async move { c.set_outbound_web_identity_federation(r).await }).await?;
        Ok(())
    }

    async fn outbound_web_identity_federation(&self, account: &Account) -> Result<Option<bool>> {
        let m = pb::GetOutboundWebIdentityFederationRequest { account_id: id(account) };
        let r = self.client.read(m, |mut c, r| async move { c.get_outbound_web_identity_federation(r).await }).await?;
        Ok(r.enabled)
    }
    // ---- Issue 14, part A: instance profiles, account aliases, service-linked roles,
    // GetMFADevice, STS preferences.

    async fn create_instance_profile(
        &self,
        account: &Account,
        path: Option<String>,
        name: &str,
        tags: Vec<Tag>,
    ) -> Result<InstanceProfile> {
        let m = pb::CreateInstanceProfileRequest {
            account_id: id(account),
            path,
            instance_profile_name: name.to_owned(),
            tags: tags_out(&tags),
        };
        let r = self.client.write(m, |mut c, r| async move { c.create_instance_profile(r).await }).await?;
        Ok(instance_profile_in_required(r.instance_profile))
    }

    async fn get_instance_profile(&self, account: &Account, name: &str) -> Result<InstanceProfile> {
        let m = pb::GetInstanceProfileRequest { account_id: id(account), instance_profile_name: name.to_owned() };
        let r = self.client.read(m, |mut c, r| async move { c.get_instance_profile(r).await }).await?;
        Ok(instance_profile_in_required(r.instance_profile))
    }

    async fn delete_instance_profile(&self, account: &Account, name: &str) -> Result<()> {
        let m = pb::DeleteInstanceProfileRequest { account_id: id(account), instance_profile_name: name.to_owned() };
        self.client.write(m, |mut c, r| async move { c.delete_instance_profile(r).await }).await?;
        Ok(())
    }

    async fn list_instance_profiles(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<InstanceProfile>> {
        let m = pb::ListInstanceProfilesRequest {
            account_id: id(account),
            path_prefix: prefix.map(str::to_owned),
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.list_instance_profiles(r).await }).await?;
        Ok(page_in(r.instance_profiles.into_iter().map(instance_profile_in).collect(), r.page))
    }

    async fn list_instance_profiles_for_role(
        &self,
        account: &Account,
        role_name: &str,
        page: &PageRequest,
    ) -> Result<Page<InstanceProfile>> {
        let m = pb::ListInstanceProfilesForRoleRequest {
            account_id: id(account),
            role_name: role_name.to_owned(),
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.list_instance_profiles_for_role(r).await }).await?;
        Ok(page_in(r.instance_profiles.into_iter().map(instance_profile_in).collect(), r.page))
    }

    async fn add_role_to_instance_profile(&self, account: &Account, profile: &str, role: &str) -> Result<()> {
        let m = pb::AddRoleToInstanceProfileRequest {
            account_id: id(account),
            instance_profile_name: profile.to_owned(),
            role_name: role.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.add_role_to_instance_profile(r).await }).await?;
        Ok(())
    }

    async fn remove_role_from_instance_profile(&self, account: &Account, profile: &str, role: &str) -> Result<()> {
        let m = pb::RemoveRoleFromInstanceProfileRequest {
            account_id: id(account),
            instance_profile_name: profile.to_owned(),
            role_name: role.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.remove_role_from_instance_profile(r).await }).await?;
        Ok(())
    }

    async fn create_account_alias(&self, account: &Account, alias: &str) -> Result<()> {
        let m = pb::CreateAccountAliasRequest { account_id: id(account), account_alias: alias.to_owned() };
        self.client.write(m, |mut c, r| async move { c.create_account_alias(r).await }).await?;
        Ok(())
    }

    async fn delete_account_alias(&self, account: &Account, alias: &str) -> Result<()> {
        let m = pb::DeleteAccountAliasRequest { account_id: id(account), account_alias: alias.to_owned() };
        self.client.write(m, |mut c, r| async move { c.delete_account_alias(r).await }).await?;
        Ok(())
    }

    async fn list_account_aliases(&self, account: &Account, page: &PageRequest) -> Result<Page<String>> {
        let m = pb::ListAccountAliasesRequest { account_id: id(account), page: page_request(page) };
        let r = self.client.read(m, |mut c, r| async move { c.list_account_aliases(r).await }).await?;
        Ok(page_in(r.account_aliases, r.page))
    }

    async fn create_service_linked_role(
        &self,
        account: &Account,
        service: &str,
        description: Option<String>,
        custom_suffix: Option<String>,
    ) -> Result<RoleRecord> {
        let m = pb::CreateServiceLinkedRoleRequest {
            account_id: id(account),
            aws_service_name: service.to_owned(),
            description,
            custom_suffix,
        };
        let r = self.client.write(m, |mut c, r| async move { c.create_service_linked_role(r).await }).await?;
        Ok(role_in_required(r.role))
    }

    async fn delete_service_linked_role(&self, account: &Account, role_name: &str) -> Result<String> {
        let m = pb::DeleteServiceLinkedRoleRequest { account_id: id(account), role_name: role_name.to_owned() };
        let r = self.client.write(m, |mut c, r| async move { c.delete_service_linked_role(r).await }).await?;
        Ok(r.deletion_task_id)
    }

    async fn get_service_linked_role_deletion_status(
        &self,
        account: &Account,
        task_id: &str,
    ) -> Result<(DeletionStatus, Option<String>)> {
        let m = pb::GetServiceLinkedRoleDeletionStatusRequest {
            account_id: id(account),
            deletion_task_id: task_id.to_owned(),
        };
        let r =
            self.client.read(m, |mut c, r| async move { c.get_service_linked_role_deletion_status(r).await }).await?;
        Ok((deletion_status_in(r.status), r.reason))
    }

    async fn get_mfa_device(
        &self,
        account: &Account,
        serial: &str,
        user_name: Option<&str>,
    ) -> Result<MfaDeviceRecord> {
        let m = pb::GetMfaDeviceRequest {
            account_id: id(account),
            serial_number: serial.to_owned(),
            user_name: user_name.map(str::to_owned),
        };
        let r = self.client.read(m, |mut c, r| async move { c.get_mfa_device(r).await }).await?;
        Ok(mfa_device_info_in(r))
    }

    async fn set_security_token_service_preferences(&self, account: &Account, version: &str) -> Result<()> {
        let m = pb::SetSecurityTokenServicePreferencesRequest {
            account_id: id(account),
            global_endpoint_token_version: version.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.set_security_token_service_preferences(r).await }).await?;
        Ok(())
    }
    // ---- End of issue 14, part A.

    // SSH public keys (issue 14, part B).

    async fn upload_ssh_public_key(&self, account: &Account, user_name: &str, body: &str) -> Result<SshPublicKey> {
        let m = pb::UploadSshPublicKeyRequest {
            account_id: id(account),
            user_name: user_name.to_owned(),
            ssh_public_key_body: body.to_owned(),
        };
        let r = self.client.write(m, |mut c, r| async move { c.upload_ssh_public_key(r).await }).await?;
        Ok(ssh_key_in(r.ssh_public_key))
    }

    async fn get_ssh_public_key(
        &self,
        account: &Account,
        user_name: &str,
        key_id: &str,
        encoding: SshEncoding,
    ) -> Result<SshPublicKey> {
        let m = pb::GetSshPublicKeyRequest {
            account_id: id(account),
            user_name: user_name.to_owned(),
            ssh_public_key_id: key_id.to_owned(),
            encoding: ssh_encoding_out(encoding).into(),
        };
        let r = self.client.read(m, |mut c, r| async move { c.get_ssh_public_key(r).await }).await?;
        Ok(ssh_key_in(r.ssh_public_key))
    }

    async fn list_ssh_public_keys(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<SshPublicKey>> {
        let m = pb::ListSshPublicKeysRequest {
            account_id: id(account),
            user_name: Some(user_name.to_owned()),
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.list_ssh_public_keys(r).await }).await?;
        Ok(page_in(r.ssh_public_keys.into_iter().map(|k| ssh_key_in(Some(k))).collect(), r.page))
    }

    async fn update_ssh_public_key(
        &self,
        account: &Account,
        user_name: &str,
        key_id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        let m = pb::UpdateSshPublicKeyRequest {
            account_id: id(account),
            user_name: user_name.to_owned(),
            ssh_public_key_id: key_id.to_owned(),
            status: key_status_out(status).into(),
        };
        self.client.write(m, |mut c, r| async move { c.update_ssh_public_key(r).await }).await?;
        Ok(())
    }

    async fn delete_ssh_public_key(&self, account: &Account, user_name: &str, key_id: &str) -> Result<()> {
        let m = pb::DeleteSshPublicKeyRequest {
            account_id: id(account),
            user_name: user_name.to_owned(),
            ssh_public_key_id: key_id.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.delete_ssh_public_key(r).await }).await?;
        Ok(())
    }

    // Signing certificates (issue 14, part B).

    async fn upload_signing_certificate(
        &self,
        account: &Account,
        user_name: &str,
        body: &str,
    ) -> Result<SigningCertificate> {
        let m = pb::UploadSigningCertificateRequest {
            account_id: id(account),
            user_name: Some(user_name.to_owned()),
            certificate_body: body.to_owned(),
        };
        let r = self.client.write(m, |mut c, r| async move { c.upload_signing_certificate(r).await }).await?;
        Ok(signing_certificate_in(r.certificate))
    }

    async fn list_signing_certificates(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<SigningCertificate>> {
        let m = pb::ListSigningCertificatesRequest {
            account_id: id(account),
            user_name: Some(user_name.to_owned()),
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.list_signing_certificates(r).await }).await?;
        Ok(page_in(r.certificates.into_iter().map(|c| signing_certificate_in(Some(c))).collect(), r.page))
    }

    async fn update_signing_certificate(
        &self,
        account: &Account,
        user_name: &str,
        cert_id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        let m = pb::UpdateSigningCertificateRequest {
            account_id: id(account),
            user_name: Some(user_name.to_owned()),
            certificate_id: cert_id.to_owned(),
            status: key_status_out(status).into(),
        };
        self.client.write(m, |mut c, r| async move { c.update_signing_certificate(r).await }).await?;
        Ok(())
    }

    async fn delete_signing_certificate(&self, account: &Account, user_name: &str, cert_id: &str) -> Result<()> {
        let m = pb::DeleteSigningCertificateRequest {
            account_id: id(account),
            user_name: Some(user_name.to_owned()),
            certificate_id: cert_id.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.delete_signing_certificate(r).await }).await?;
        Ok(())
    }

    // Server certificates (issue 14, part B).

    async fn upload_server_certificate(
        &self,
        account: &Account,
        input: UploadServerCertificate,
    ) -> Result<ServerCertificate> {
        let m = pb::UploadServerCertificateRequest {
            account_id: id(account),
            path: input.path,
            server_certificate_name: input.name,
            certificate_body: input.body,
            private_key: input.private_key,
            certificate_chain: input.chain,
            tags: tags_out(&input.tags),
        };
        let r = self.client.write(m, |mut c, r| async move { c.upload_server_certificate(r).await }).await?;
        Ok(ServerCertificate { tags: tags_in(r.tags), ..server_certificate_metadata_in(r.server_certificate_metadata) })
    }

    async fn get_server_certificate(&self, account: &Account, name: &str) -> Result<ServerCertificate> {
        let m = pb::GetServerCertificateRequest { account_id: id(account), server_certificate_name: name.to_owned() };
        let r = self.client.read(m, |mut c, r| async move { c.get_server_certificate(r).await }).await?;
        Ok(server_certificate_in(r.server_certificate))
    }

    async fn list_server_certificates(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<ServerCertificate>> {
        let m = pb::ListServerCertificatesRequest {
            account_id: id(account),
            path_prefix: prefix.map(str::to_owned),
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.list_server_certificates(r).await }).await?;
        let items = r.server_certificate_metadata_list.into_iter().map(|m| server_certificate_metadata_in(Some(m)));
        Ok(page_in(items.collect(), r.page))
    }

    async fn update_server_certificate(
        &self,
        account: &Account,
        name: &str,
        new_path: Option<String>,
        new_name: Option<String>,
    ) -> Result<()> {
        let m = pb::UpdateServerCertificateRequest {
            account_id: id(account),
            server_certificate_name: name.to_owned(),
            new_path,
            new_server_certificate_name: new_name,
        };
        self.client.write(m, |mut c, r| async move { c.update_server_certificate(r).await }).await?;
        Ok(())
    }

    async fn delete_server_certificate(&self, account: &Account, name: &str) -> Result<()> {
        let m =
            pb::DeleteServerCertificateRequest { account_id: id(account), server_certificate_name: name.to_owned() };
        self.client.write(m, |mut c, r| async move { c.delete_server_certificate(r).await }).await?;
        Ok(())
    }

    // Service-specific credentials (issue 14, part B).

    async fn create_service_specific_credential(
        &self,
        account: &Account,
        user_name: &str,
        service_name: &str,
        age_days: Option<i32>,
    ) -> Result<ServiceCredential> {
        let m = pb::CreateServiceSpecificCredentialRequest {
            account_id: id(account),
            user_name: user_name.to_owned(),
            service_name: service_name.to_owned(),
            credential_age_days: age_days,
        };
        let r = self.client.write(m, |mut c, r| async move { c.create_service_specific_credential(r).await }).await?;
        Ok(service_credential_in(r.service_specific_credential))
    }

    async fn reset_service_specific_credential(
        &self,
        account: &Account,
        user_name: &str,
        credential_id: &str,
    ) -> Result<ServiceCredential> {
        let m = pb::ResetServiceSpecificCredentialRequest {
            account_id: id(account),
            user_name: Some(user_name.to_owned()),
            service_specific_credential_id: credential_id.to_owned(),
        };
        let r = self.client.write(m, |mut c, r| async move { c.reset_service_specific_credential(r).await }).await?;
        Ok(service_credential_in(r.service_specific_credential))
    }

    async fn list_service_specific_credentials(
        &self,
        account: &Account,
        user_name: &str,
        service_name: Option<&str>,
        all_users: bool,
        page: &PageRequest,
    ) -> Result<Page<ServiceCredential>> {
        let m = pb::ListServiceSpecificCredentialsRequest {
            account_id: id(account),
            user_name: Some(user_name.to_owned()),
            service_name: service_name.map(str::to_owned),
            all_users,
            page: page_request(page),
        };
        let r = self.client.read(m, |mut c, r| async move { c.list_service_specific_credentials(r).await }).await?;
        let items = r.service_specific_credentials.into_iter().map(|c| service_credential_in(Some(c)));
        Ok(page_in(items.collect(), r.page))
    }

    async fn update_service_specific_credential(
        &self,
        account: &Account,
        user_name: &str,
        credential_id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        let m = pb::UpdateServiceSpecificCredentialRequest {
            account_id: id(account),
            user_name: Some(user_name.to_owned()),
            service_specific_credential_id: credential_id.to_owned(),
            status: key_status_out(status).into(),
        };
        self.client.write(m, |mut c, r| async move { c.update_service_specific_credential(r).await }).await?;
        Ok(())
    }

    async fn delete_service_specific_credential(
        &self,
        account: &Account,
        user_name: &str,
        credential_id: &str,
    ) -> Result<()> {
        let m = pb::DeleteServiceSpecificCredentialRequest {
            account_id: id(account),
            user_name: Some(user_name.to_owned()),
            service_specific_credential_id: credential_id.to_owned(),
        };
        self.client.write(m, |mut c, r| async move { c.delete_service_specific_credential(r).await }).await?;
        Ok(())
    }
}
