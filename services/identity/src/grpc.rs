//! The tonic adapter for `tessera.identity.v1.IdentityService`: decode the request, call the
//! domain, encode the records it returns, and map the error through the one catalog. Nothing else
//! happens here. The domain is any [`IdentityApi`]: the local [`crate::Identity`] in an identity
//! process, a [`crate::remote::RemoteIdentity`] in a gateway in front of identity replicas. The
//! message conversions live in `convert.rs`, shared with the remote implementation.

use std::sync::Arc;

use tessera_proto::identity::v1::identity_service_server::{IdentityService, IdentityServiceServer};
use tessera_proto::identity::v1::{self as pb};
use tessera_proto::scope::{Scope, split};
use tonic::{Request, Response, Status};

use crate::convert::*;
pub use crate::convert::{attached_out, entity_ref, policy_version_out};
use crate::page::paginate;
use crate::{Account, CreateOidcProvider, CreateRole, CreateUser, Error, IdentityApi, UploadServerCertificate};
// SAML providers
use crate::{CreateSamlProvider, UpdateSamlProvider};

type Reply<T> = Result<Response<T>, Status>;

/// `IdentityService` over an [`IdentityApi`] domain, local or remote.
pub struct IdentityGrpc {
    domain: Arc<dyn IdentityApi>,
}

impl std::fmt::Debug for IdentityGrpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityGrpc")
    }
}

/// The tonic service for `identity` (an [`crate::Identity`], a [`crate::remote::RemoteIdentity`]
/// or an `Arc<dyn IdentityApi>`), ready to add to a server.
pub fn service(identity: impl Into<Arc<dyn IdentityApi>>) -> IdentityServiceServer<IdentityGrpc> {
    IdentityServiceServer::new(IdentityGrpc { domain: identity.into() })
}

/// The request's account, which must be the authenticated caller's when the gateway's gRPC layer
/// ran (see `tessera_proto::scope`).
pub fn account(id: &str, scope: &Scope) -> Result<Account, Status> {
    scope.check_account(id)?;
    Account::new(id).map_err(Status::from)
}

/// A required user name: the gateway fills in the caller's; an empty one here is an error.
/// `user_name` of a call the account root may make on itself (its access keys, its login profile,
/// its MFA devices): an explicitly empty name means the root, which only the internal API (the
/// gateway, for a root caller) may ask for; a caller the
/// gRPC layer authenticated must name a user (its layer defaults it to the calling user), and an
/// absent name is refused as before.
fn key_owner(scope: &Scope, name: Option<String>) -> Result<String, Status> {
    match name {
        Some(name) if name.is_empty() && scope.account.is_none() => Ok(name),
        name => required_user(name),
    }
}

fn required_user(name: Option<String>) -> Result<String, Status> {
    name.filter(|n| !n.is_empty())
        .ok_or_else(|| Error::invalid_input("UserName is required when the caller is not an IAM user.").into())
}

#[tonic::async_trait]
impl IdentityService for IdentityGrpc {
    async fn create_account(&self, request: Request<pb::CreateAccountRequest>) -> Reply<pb::CreateAccountResponse> {
        let (scope, r) = split(request);
        let record = self.domain.create_account(&account(&r.account_id, &scope)?).await?;
        Ok(Response::new(pb::CreateAccountResponse { account: Some(account_out(record)) }))
    }

    async fn get_account_summary(
        &self,
        request: Request<pb::GetAccountSummaryRequest>,
    ) -> Reply<pb::GetAccountSummaryResponse> {
        let (scope, r) = split(request);
        let summary = self.domain.get_account_summary(&account(&r.account_id, &scope)?).await?;
        Ok(Response::new(pb::GetAccountSummaryResponse { summary_map: summary_out(summary) }))
    }

    async fn create_user(&self, request: Request<pb::CreateUserRequest>) -> Reply<pb::CreateUserResponse> {
        let (scope, r) = split(request);
        let input = CreateUser {
            path: r.path,
            user_name: r.user_name,
            permissions_boundary: r.permissions_boundary,
            tags: tags_in(r.tags),
        };
        let user = self.domain.create_user(&account(&r.account_id, &scope)?, input).await?;
        Ok(Response::new(pb::CreateUserResponse { user: Some(user_out(&user)) }))
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Reply<pb::GetUserResponse> {
        let (scope, r) = split(request);
        let user = self.domain.get_user(&account(&r.account_id, &scope)?, &required_user(r.user_name)?).await?;
        Ok(Response::new(pb::GetUserResponse { user: Some(user_out(&user)) }))
    }

    async fn list_users(&self, request: Request<pb::ListUsersRequest>) -> Reply<pb::ListUsersResponse> {
        let (scope, r) = split(request);
        let users =
            self.domain.list_users(&account(&r.account_id, &scope)?, r.path_prefix.as_deref(), &page(r.page)).await?;
        Ok(Response::new(pb::ListUsersResponse {
            page: page_out(&users),
            users: users.items.iter().map(user_out).collect(),
        }))
    }

    async fn update_user(&self, request: Request<pb::UpdateUserRequest>) -> Reply<pb::UpdateUserResponse> {
        let (scope, r) = split(request);
        self.domain.update_user(&account(&r.account_id, &scope)?, &r.user_name, r.new_path, r.new_user_name).await?;
        Ok(Response::new(pb::UpdateUserResponse {}))
    }

    async fn delete_user(&self, request: Request<pb::DeleteUserRequest>) -> Reply<pb::DeleteUserResponse> {
        let (scope, r) = split(request);
        self.domain.delete_user(&account(&r.account_id, &scope)?, &r.user_name).await?;
        Ok(Response::new(pb::DeleteUserResponse {}))
    }

    async fn create_group(&self, request: Request<pb::CreateGroupRequest>) -> Reply<pb::CreateGroupResponse> {
        let (scope, r) = split(request);
        let group = self.domain.create_group(&account(&r.account_id, &scope)?, r.path, &r.group_name).await?;
        Ok(Response::new(pb::CreateGroupResponse { group: Some(group_out(&group)) }))
    }

    async fn get_group(&self, request: Request<pb::GetGroupRequest>) -> Reply<pb::GetGroupResponse> {
        let (scope, r) = split(request);
        let (group, users) =
            self.domain.get_group(&account(&r.account_id, &scope)?, &r.group_name, &page(r.page)).await?;
        Ok(Response::new(pb::GetGroupResponse {
            group: Some(group_out(&group)),
            page: page_out(&users),
            users: users.items.iter().map(user_out).collect(),
        }))
    }

    async fn list_groups(&self, request: Request<pb::ListGroupsRequest>) -> Reply<pb::ListGroupsResponse> {
        let (scope, r) = split(request);
        let groups =
            self.domain.list_groups(&account(&r.account_id, &scope)?, r.path_prefix.as_deref(), &page(r.page)).await?;
        Ok(Response::new(pb::ListGroupsResponse {
            page: page_out(&groups),
            groups: groups.items.iter().map(group_out).collect(),
        }))
    }

    async fn update_group(&self, request: Request<pb::UpdateGroupRequest>) -> Reply<pb::UpdateGroupResponse> {
        let (scope, r) = split(request);
        self.domain.update_group(&account(&r.account_id, &scope)?, &r.group_name, r.new_path, r.new_group_name).await?;
        Ok(Response::new(pb::UpdateGroupResponse {}))
    }

    async fn delete_group(&self, request: Request<pb::DeleteGroupRequest>) -> Reply<pb::DeleteGroupResponse> {
        let (scope, r) = split(request);
        self.domain.delete_group(&account(&r.account_id, &scope)?, &r.group_name).await?;
        Ok(Response::new(pb::DeleteGroupResponse {}))
    }

    async fn add_user_to_group(
        &self,
        request: Request<pb::AddUserToGroupRequest>,
    ) -> Reply<pb::AddUserToGroupResponse> {
        let (scope, r) = split(request);
        self.domain.add_user_to_group(&account(&r.account_id, &scope)?, &r.group_name, &r.user_name).await?;
        Ok(Response::new(pb::AddUserToGroupResponse {}))
    }

    async fn remove_user_from_group(
        &self,
        request: Request<pb::RemoveUserFromGroupRequest>,
    ) -> Reply<pb::RemoveUserFromGroupResponse> {
        let (scope, r) = split(request);
        self.domain.remove_user_from_group(&account(&r.account_id, &scope)?, &r.group_name, &r.user_name).await?;
        Ok(Response::new(pb::RemoveUserFromGroupResponse {}))
    }

    async fn list_groups_for_user(
        &self,
        request: Request<pb::ListGroupsForUserRequest>,
    ) -> Reply<pb::ListGroupsForUserResponse> {
        let (scope, r) = split(request);
        let groups =
            self.domain.list_groups_for_user(&account(&r.account_id, &scope)?, &r.user_name, &page(r.page)).await?;
        Ok(Response::new(pb::ListGroupsForUserResponse {
            page: page_out(&groups),
            groups: groups.items.iter().map(group_out).collect(),
        }))
    }

    async fn create_role(&self, request: Request<pb::CreateRoleRequest>) -> Reply<pb::CreateRoleResponse> {
        let (scope, r) = split(request);
        let input = CreateRole {
            path: r.path,
            role_name: r.role_name,
            assume_role_policy_document: r.assume_role_policy_document,
            description: r.description,
            max_session_duration: r.max_session_duration,
            permissions_boundary: r.permissions_boundary,
            tags: tags_in(r.tags),
        };
        let role = self.domain.create_role(&account(&r.account_id, &scope)?, input).await?;
        Ok(Response::new(pb::CreateRoleResponse { role: Some(role_out(&role)) }))
    }

    async fn get_role(&self, request: Request<pb::GetRoleRequest>) -> Reply<pb::GetRoleResponse> {
        let (scope, r) = split(request);
        let role = self.domain.get_role(&account(&r.account_id, &scope)?, &r.role_name).await?;
        Ok(Response::new(pb::GetRoleResponse { role: Some(role_out(&role)) }))
    }

    async fn list_roles(&self, request: Request<pb::ListRolesRequest>) -> Reply<pb::ListRolesResponse> {
        let (scope, r) = split(request);
        let roles =
            self.domain.list_roles(&account(&r.account_id, &scope)?, r.path_prefix.as_deref(), &page(r.page)).await?;
        Ok(Response::new(pb::ListRolesResponse {
            page: page_out(&roles),
            roles: roles.items.iter().map(role_out).collect(),
        }))
    }

    async fn update_role(&self, request: Request<pb::UpdateRoleRequest>) -> Reply<pb::UpdateRoleResponse> {
        let (scope, r) = split(request);
        self.domain
            .update_role(&account(&r.account_id, &scope)?, &r.role_name, r.description, r.max_session_duration)
            .await?;
        Ok(Response::new(pb::UpdateRoleResponse {}))
    }

    async fn update_assume_role_policy(
        &self,
        request: Request<pb::UpdateAssumeRolePolicyRequest>,
    ) -> Reply<pb::UpdateAssumeRolePolicyResponse> {
        let (scope, r) = split(request);
        self.domain
            .update_assume_role_policy(&account(&r.account_id, &scope)?, &r.role_name, &r.policy_document)
            .await?;
        Ok(Response::new(pb::UpdateAssumeRolePolicyResponse {}))
    }

    async fn delete_role(&self, request: Request<pb::DeleteRoleRequest>) -> Reply<pb::DeleteRoleResponse> {
        let (scope, r) = split(request);
        self.domain.delete_role(&account(&r.account_id, &scope)?, &r.role_name).await?;
        Ok(Response::new(pb::DeleteRoleResponse {}))
    }

    async fn put_permissions_boundary(
        &self,
        request: Request<pb::PutPermissionsBoundaryRequest>,
    ) -> Reply<pb::PutPermissionsBoundaryResponse> {
        let (scope, r) = split(request);
        let (kind, name) = entity_ref(r.entity)?;
        self.domain
            .set_permissions_boundary(&account(&r.account_id, &scope)?, kind, &name, Some(&r.permissions_boundary))
            .await?;
        Ok(Response::new(pb::PutPermissionsBoundaryResponse {}))
    }

    async fn delete_permissions_boundary(
        &self,
        request: Request<pb::DeletePermissionsBoundaryRequest>,
    ) -> Reply<pb::DeletePermissionsBoundaryResponse> {
        let (scope, r) = split(request);
        let (kind, name) = entity_ref(r.entity)?;
        self.domain.set_permissions_boundary(&account(&r.account_id, &scope)?, kind, &name, None).await?;
        Ok(Response::new(pb::DeletePermissionsBoundaryResponse {}))
    }

    async fn tag_resource(&self, request: Request<pb::TagResourceRequest>) -> Reply<pb::TagResourceResponse> {
        let (scope, r) = split(request);
        self.domain.tag_resource(&account(&r.account_id, &scope)?, &taggable(r.resource)?, tags_in(r.tags)).await?;
        Ok(Response::new(pb::TagResourceResponse {}))
    }

    async fn untag_resource(&self, request: Request<pb::UntagResourceRequest>) -> Reply<pb::UntagResourceResponse> {
        let (scope, r) = split(request);
        self.domain.untag_resource(&account(&r.account_id, &scope)?, &taggable(r.resource)?, &r.tag_keys).await?;
        Ok(Response::new(pb::UntagResourceResponse {}))
    }

    async fn list_resource_tags(
        &self,
        request: Request<pb::ListResourceTagsRequest>,
    ) -> Reply<pb::ListResourceTagsResponse> {
        let (scope, r) = split(request);
        let tags = self
            .domain
            .list_resource_tags(&account(&r.account_id, &scope)?, &taggable(r.resource)?, &page(r.page))
            .await?;
        Ok(Response::new(pb::ListResourceTagsResponse { page: page_out(&tags), tags: tags_out(&tags.items) }))
    }

    async fn create_access_key(
        &self,
        request: Request<pb::CreateAccessKeyRequest>,
    ) -> Reply<pb::CreateAccessKeyResponse> {
        let (scope, r) = split(request);
        let key =
            self.domain.create_access_key(&account(&r.account_id, &scope)?, &key_owner(&scope, r.user_name)?).await?;
        Ok(Response::new(pb::CreateAccessKeyResponse { access_key: Some(created_key_out(key)) }))
    }

    async fn list_access_keys(&self, request: Request<pb::ListAccessKeysRequest>) -> Reply<pb::ListAccessKeysResponse> {
        let (scope, r) = split(request);
        let keys = self
            .domain
            .list_access_keys(&account(&r.account_id, &scope)?, &key_owner(&scope, r.user_name)?, &page(r.page))
            .await?;
        Ok(Response::new(pb::ListAccessKeysResponse {
            page: page_out(&keys),
            access_key_metadata: keys.items.into_iter().map(key_metadata_out).collect(),
        }))
    }

    async fn update_access_key(
        &self,
        request: Request<pb::UpdateAccessKeyRequest>,
    ) -> Reply<pb::UpdateAccessKeyResponse> {
        let (scope, r) = split(request);
        let status = key_status_in(r.status)
            .ok_or_else(|| Status::from(Error::invalid_input("Status must be Active or Inactive.")))?;
        self.domain
            .update_access_key(
                &account(&r.account_id, &scope)?,
                &key_owner(&scope, r.user_name)?,
                &r.access_key_id,
                status,
            )
            .await?;
        Ok(Response::new(pb::UpdateAccessKeyResponse {}))
    }

    async fn delete_access_key(
        &self,
        request: Request<pb::DeleteAccessKeyRequest>,
    ) -> Reply<pb::DeleteAccessKeyResponse> {
        let (scope, r) = split(request);
        self.domain
            .delete_access_key(&account(&r.account_id, &scope)?, &key_owner(&scope, r.user_name)?, &r.access_key_id)
            .await?;
        Ok(Response::new(pb::DeleteAccessKeyResponse {}))
    }

    async fn get_access_key_last_used(
        &self,
        request: Request<pb::GetAccessKeyLastUsedRequest>,
    ) -> Reply<pb::GetAccessKeyLastUsedResponse> {
        let (scope, r) = split(request);
        let used = self.domain.get_access_key_last_used(&account(&r.account_id, &scope)?, &r.access_key_id).await?;
        Ok(Response::new(key_last_used_out(used)))
    }

    async fn record_access_key_use(
        &self,
        request: Request<pb::RecordAccessKeyUseRequest>,
    ) -> Reply<pb::RecordAccessKeyUseResponse> {
        let (scope, r) = split(request);
        self.domain
            .record_access_key_use(&account(&r.account_id, &scope)?, &r.access_key_id, &r.service_name, &r.region)
            .await?;
        Ok(Response::new(pb::RecordAccessKeyUseResponse {}))
    }

    async fn record_role_use(&self, request: Request<pb::RecordRoleUseRequest>) -> Reply<pb::RecordRoleUseResponse> {
        let (scope, r) = split(request);
        self.domain.record_role_use(&account(&r.account_id, &scope)?, &r.role_id, &r.region).await?;
        Ok(Response::new(pb::RecordRoleUseResponse {}))
    }

    async fn create_login_profile(
        &self,
        request: Request<pb::CreateLoginProfileRequest>,
    ) -> Reply<pb::CreateLoginProfileResponse> {
        let (scope, r) = split(request);
        let profile = self
            .domain
            .create_login_profile(
                &account(&r.account_id, &scope)?,
                &r.user_name,
                &r.password,
                r.password_reset_required.unwrap_or(false),
            )
            .await?;
        Ok(Response::new(pb::CreateLoginProfileResponse { login_profile: Some(login_profile_out(profile)) }))
    }

    async fn get_login_profile(
        &self,
        request: Request<pb::GetLoginProfileRequest>,
    ) -> Reply<pb::GetLoginProfileResponse> {
        let (scope, r) = split(request);
        let profile = self
            .domain
            .get_login_profile(&account(&r.account_id, &scope)?, &key_owner(&scope, Some(r.user_name))?)
            .await?;
        Ok(Response::new(pb::GetLoginProfileResponse { login_profile: Some(login_profile_out(profile)) }))
    }

    async fn update_login_profile(
        &self,
        request: Request<pb::UpdateLoginProfileRequest>,
    ) -> Reply<pb::UpdateLoginProfileResponse> {
        let (scope, r) = split(request);
        self.domain
            .update_login_profile(
                &account(&r.account_id, &scope)?,
                &r.user_name,
                r.password.as_deref(),
                r.password_reset_required,
            )
            .await?;
        Ok(Response::new(pb::UpdateLoginProfileResponse {}))
    }

    async fn delete_login_profile(
        &self,
        request: Request<pb::DeleteLoginProfileRequest>,
    ) -> Reply<pb::DeleteLoginProfileResponse> {
        let (scope, r) = split(request);
        self.domain.delete_login_profile(&account(&r.account_id, &scope)?, &r.user_name).await?;
        Ok(Response::new(pb::DeleteLoginProfileResponse {}))
    }

    async fn change_password(&self, request: Request<pb::ChangePasswordRequest>) -> Reply<pb::ChangePasswordResponse> {
        let (scope, r) = split(request);
        self.domain
            .change_password(&account(&r.account_id, &scope)?, &r.user_name, &r.old_password, &r.new_password)
            .await?;
        Ok(Response::new(pb::ChangePasswordResponse {}))
    }

    async fn update_account_password_policy(
        &self,
        request: Request<pb::UpdateAccountPasswordPolicyRequest>,
    ) -> Reply<pb::UpdateAccountPasswordPolicyResponse> {
        let (scope, r) = split(request);
        let account = account(&r.account_id, &scope)?;
        self.domain.update_account_password_policy(&account, password_policy_update_in(r)).await?;
        Ok(Response::new(pb::UpdateAccountPasswordPolicyResponse {}))
    }

    async fn get_account_password_policy(
        &self,
        request: Request<pb::GetAccountPasswordPolicyRequest>,
    ) -> Reply<pb::GetAccountPasswordPolicyResponse> {
        let (scope, r) = split(request);
        let p = self.domain.get_account_password_policy(&account(&r.account_id, &scope)?).await?;
        Ok(Response::new(pb::GetAccountPasswordPolicyResponse { password_policy: Some(password_policy_out(&p)) }))
    }

    async fn delete_account_password_policy(
        &self,
        request: Request<pb::DeleteAccountPasswordPolicyRequest>,
    ) -> Reply<pb::DeleteAccountPasswordPolicyResponse> {
        let (scope, r) = split(request);
        self.domain.delete_account_password_policy(&account(&r.account_id, &scope)?).await?;
        Ok(Response::new(pb::DeleteAccountPasswordPolicyResponse {}))
    }

    async fn create_virtual_mfa_device(
        &self,
        request: Request<pb::CreateVirtualMfaDeviceRequest>,
    ) -> Reply<pb::CreateVirtualMfaDeviceResponse> {
        let (scope, r) = split(request);
        let created = self
            .domain
            .create_virtual_mfa_device(
                &account(&r.account_id, &scope)?,
                r.path,
                &r.virtual_mfa_device_name,
                tags_in(r.tags),
            )
            .await?;
        Ok(Response::new(pb::CreateVirtualMfaDeviceResponse { virtual_mfa_device: Some(created_mfa_out(created)) }))
    }

    async fn enable_mfa_device(
        &self,
        request: Request<pb::EnableMfaDeviceRequest>,
    ) -> Reply<pb::EnableMfaDeviceResponse> {
        let (scope, r) = split(request);
        self.domain
            .enable_mfa_device(
                &account(&r.account_id, &scope)?,
                &r.user_name,
                &r.serial_number,
                &r.authentication_code1,
                &r.authentication_code2,
            )
            .await?;
        Ok(Response::new(pb::EnableMfaDeviceResponse {}))
    }

    async fn resync_mfa_device(
        &self,
        request: Request<pb::ResyncMfaDeviceRequest>,
    ) -> Reply<pb::ResyncMfaDeviceResponse> {
        let (scope, r) = split(request);
        self.domain
            .resync_mfa_device(
                &account(&r.account_id, &scope)?,
                &r.user_name,
                &r.serial_number,
                &r.authentication_code1,
                &r.authentication_code2,
            )
            .await?;
        Ok(Response::new(pb::ResyncMfaDeviceResponse {}))
    }

    async fn deactivate_mfa_device(
        &self,
        request: Request<pb::DeactivateMfaDeviceRequest>,
    ) -> Reply<pb::DeactivateMfaDeviceResponse> {
        let (scope, r) = split(request);
        self.domain
            .deactivate_mfa_device(&account(&r.account_id, &scope)?, &key_owner(&scope, r.user_name)?, &r.serial_number)
            .await?;
        Ok(Response::new(pb::DeactivateMfaDeviceResponse {}))
    }

    async fn delete_virtual_mfa_device(
        &self,
        request: Request<pb::DeleteVirtualMfaDeviceRequest>,
    ) -> Reply<pb::DeleteVirtualMfaDeviceResponse> {
        let (scope, r) = split(request);
        self.domain.delete_virtual_mfa_device(&account(&r.account_id, &scope)?, &r.serial_number).await?;
        Ok(Response::new(pb::DeleteVirtualMfaDeviceResponse {}))
    }

    async fn list_mfa_devices(&self, request: Request<pb::ListMfaDevicesRequest>) -> Reply<pb::ListMfaDevicesResponse> {
        let (scope, r) = split(request);
        let devices = self
            .domain
            .list_mfa_devices(&account(&r.account_id, &scope)?, &key_owner(&scope, r.user_name)?, &page(r.page))
            .await?;
        Ok(Response::new(pb::ListMfaDevicesResponse {
            page: page_out(&devices),
            mfa_devices: devices.items.iter().map(listed_mfa_out).collect(),
        }))
    }

    async fn list_virtual_mfa_devices(
        &self,
        request: Request<pb::ListVirtualMfaDevicesRequest>,
    ) -> Reply<pb::ListVirtualMfaDevicesResponse> {
        let (scope, r) = split(request);
        let status = assignment_status_in(r.assignment_status);
        let account = account(&r.account_id, &scope)?;
        let devices = self.domain.list_virtual_mfa_devices(&account, status, &page(r.page)).await?;
        let mut out = Vec::with_capacity(devices.items.len());
        for device in &devices.items {
            let user = match &device.user {
                Some(name) if name.is_empty() => None,
                Some(name) => self.domain.get_user(&account, name).await.ok(),
                None => None,
            };
            let mut listed = mfa_device_out(device, user.as_ref());
            if crate::assigned_to_root(device) {
                // The root's shape, as `GetUser` by the root answers it: no path or user name.
                let created = self.domain.create_account(&account).await?;
                listed.user = Some(pb::User {
                    user_id: account.id().to_owned(),
                    arn: tessera_arn::Arn::root(account.id()).to_string(),
                    create_date: ts(created.create_date),
                    ..pb::User::default()
                });
            }
            out.push(listed);
        }
        Ok(Response::new(pb::ListVirtualMfaDevicesResponse { page: page_out(&devices), virtual_mfa_devices: out }))
    }

    // SAML providers
    async fn create_saml_provider(&self, request: Request<pb::CreateSamlProviderRequest>) -> Reply<pb::SamlProvider> {
        let (scope, r) = split(request);
        let input = CreateSamlProvider {
            name: r.name,
            metadata_document: r.saml_metadata_document,
            tags: tags_in(r.tags),
            assertion_encryption_mode: r.assertion_encryption_mode,
            add_private_key: r.add_private_key,
        };
        let provider = self.domain.create_saml_provider(&account(&r.account_id, &scope)?, input).await?;
        Ok(Response::new(saml_provider_out(provider)))
    }

    async fn get_saml_provider(&self, request: Request<pb::GetSamlProviderRequest>) -> Reply<pb::SamlProvider> {
        let (scope, r) = split(request);
        let provider = self.domain.get_saml_provider(&account(&r.account_id, &scope)?, &r.saml_provider_arn).await?;
        Ok(Response::new(saml_provider_out(provider)))
    }

    async fn update_saml_provider(&self, request: Request<pb::UpdateSamlProviderRequest>) -> Reply<pb::SamlProvider> {
        let (scope, r) = split(request);
        let input = UpdateSamlProvider {
            metadata_document: r.saml_metadata_document,
            assertion_encryption_mode: r.assertion_encryption_mode,
            add_private_key: r.add_private_key,
            remove_private_key: r.remove_private_key,
        };
        let account = account(&r.account_id, &scope)?;
        let provider = self.domain.update_saml_provider(&account, &r.saml_provider_arn, input).await?;
        Ok(Response::new(saml_provider_out(provider)))
    }

    async fn delete_saml_provider(
        &self,
        request: Request<pb::DeleteSamlProviderRequest>,
    ) -> Reply<pb::DeleteSamlProviderResponse> {
        let (scope, r) = split(request);
        self.domain.delete_saml_provider(&account(&r.account_id, &scope)?, &r.saml_provider_arn).await?;
        Ok(Response::new(pb::DeleteSamlProviderResponse {}))
    }

    async fn list_saml_providers(
        &self,
        request: Request<pb::ListSamlProvidersRequest>,
    ) -> Reply<pb::ListSamlProvidersResponse> {
        let (scope, r) = split(request);
        let providers = self.domain.list_saml_providers(&account(&r.account_id, &scope)?).await?;
        let saml_provider_list = providers
            .into_iter()
            .map(|p| pb::SamlProviderListEntry {
                arn: p.arn,
                valid_until: ts(p.valid_until),
                create_date: ts(p.create_date),
            })
            .collect();
        Ok(Response::new(pb::ListSamlProvidersResponse { saml_provider_list }))
    }

    async fn create_open_id_connect_provider(
        &self,
        request: Request<pb::CreateOpenIdConnectProviderRequest>,
    ) -> Reply<pb::CreateOpenIdConnectProviderResponse> {
        let (scope, r) = split(request);
        let input = CreateOidcProvider {
            url: r.url,
            client_ids: r.client_id_list,
            thumbprints: r.thumbprint_list,
            tags: tags_in(r.tags),
        };
        let provider = self.domain.create_open_id_connect_provider(&account(&r.account_id, &scope)?, input).await?;
        Ok(Response::new(pb::CreateOpenIdConnectProviderResponse {
            open_id_connect_provider_arn: provider.arn,
            tags: tags_out(&provider.tags),
        }))
    }

    async fn get_open_id_connect_provider(
        &self,
        request: Request<pb::GetOpenIdConnectProviderRequest>,
    ) -> Reply<pb::GetOpenIdConnectProviderResponse> {
        let (scope, r) = split(request);
        let p = self
            .domain
            .get_open_id_connect_provider(&account(&r.account_id, &scope)?, &r.open_id_connect_provider_arn)
            .await?;
        Ok(Response::new(provider_out(p)))
    }

    async fn list_open_id_connect_providers(
        &self,
        request: Request<pb::ListOpenIdConnectProvidersRequest>,
    ) -> Reply<pb::ListOpenIdConnectProvidersResponse> {
        let (scope, r) = split(request);
        let providers = self.domain.list_open_id_connect_providers(&account(&r.account_id, &scope)?).await?;
        let providers = paginate(providers, &page(r.page), |p| p.arn.clone())?;
        Ok(Response::new(pb::ListOpenIdConnectProvidersResponse {
            page: page_out(&providers),
            open_id_connect_provider_list: providers
                .items
                .into_iter()
                .map(|p| pb::OpenIdConnectProviderListEntry { arn: p.arn })
                .collect(),
        }))
    }

    async fn delete_open_id_connect_provider(
        &self,
        request: Request<pb::DeleteOpenIdConnectProviderRequest>,
    ) -> Reply<pb::DeleteOpenIdConnectProviderResponse> {
        let (scope, r) = split(request);
        self.domain
            .delete_open_id_connect_provider(&account(&r.account_id, &scope)?, &r.open_id_connect_provider_arn)
            .await?;
        Ok(Response::new(pb::DeleteOpenIdConnectProviderResponse {}))
    }

    async fn add_client_id_to_open_id_connect_provider(
        &self,
        request: Request<pb::AddClientIdToOpenIdConnectProviderRequest>,
    ) -> Reply<pb::AddClientIdToOpenIdConnectProviderResponse> {
        let (scope, r) = split(request);
        self.domain
            .add_client_id_to_open_id_connect_provider(
                &account(&r.account_id, &scope)?,
                &r.open_id_connect_provider_arn,
                &r.client_id,
            )
            .await?;
        Ok(Response::new(pb::AddClientIdToOpenIdConnectProviderResponse {}))
    }

    async fn remove_client_id_from_open_id_connect_provider(
        &self,
        request: Request<pb::RemoveClientIdFromOpenIdConnectProviderRequest>,
    ) -> Reply<pb::RemoveClientIdFromOpenIdConnectProviderResponse> {
        let (scope, r) = split(request);
        self.domain
            .remove_client_id_from_open_id_connect_provider(
                &account(&r.account_id, &scope)?,
                &r.open_id_connect_provider_arn,
                &r.client_id,
            )
            .await?;
        Ok(Response::new(pb::RemoveClientIdFromOpenIdConnectProviderResponse {}))
    }

    async fn update_open_id_connect_provider_thumbprint(
        &self,
        request: Request<pb::UpdateOpenIdConnectProviderThumbprintRequest>,
    ) -> Reply<pb::UpdateOpenIdConnectProviderThumbprintResponse> {
        let (scope, r) = split(request);
        self.domain
            .update_open_id_connect_provider_thumbprint(
                &account(&r.account_id, &scope)?,
                &r.open_id_connect_provider_arn,
                &r.thumbprint_list,
            )
            .await?;
        Ok(Response::new(pb::UpdateOpenIdConnectProviderThumbprintResponse {}))
    }

    async fn get_account_authorization_details(
        &self,
        request: Request<pb::GetAccountAuthorizationDetailsRequest>,
    ) -> Reply<pb::GetAccountAuthorizationDetailsResponse> {
        let (scope, r) = split(request);
        let filter = filter_in(&r.filter);
        let d = self
            .domain
            .get_account_authorization_details(&account(&r.account_id, &scope)?, &filter, &page(r.page))
            .await?;
        Ok(Response::new(details_out(&d)))
    }

    async fn generate_credential_report(
        &self,
        request: Request<pb::GenerateCredentialReportRequest>,
    ) -> Reply<pb::GenerateCredentialReportResponse> {
        let (scope, r) = split(request);
        let (state, description) = self.domain.generate_credential_report(&account(&r.account_id, &scope)?).await?;
        Ok(Response::new(pb::GenerateCredentialReportResponse { state: report_state_out(state).into(), description }))
    }

    async fn get_credential_report(
        &self,
        request: Request<pb::GetCredentialReportRequest>,
    ) -> Reply<pb::GetCredentialReportResponse> {
        let (scope, r) = split(request);
        let report = self.domain.get_credential_report(&account(&r.account_id, &scope)?).await?;
        Ok(Response::new(report_out(report)))
    }

    async fn set_outbound_web_identity_federation(
        &self,
        request: Request<pb::SetOutboundWebIdentityFederationRequest>,
    ) -> Reply<pb::SetOutboundWebIdentityFederationResponse> {
        let (scope, r) = split(request);
        self.domain.set_outbound_web_identity_federation(&account(&r.account_id, &scope)?, r.enabled).await?;
        Ok(Response::new(pb::SetOutboundWebIdentityFederationResponse {}))
    }

    async fn get_outbound_web_identity_federation(
        &self,
        request: Request<pb::GetOutboundWebIdentityFederationRequest>,
    ) -> Reply<pb::GetOutboundWebIdentityFederationResponse> {
        let (scope, r) = split(request);
        let enabled = self.domain.outbound_web_identity_federation(&account(&r.account_id, &scope)?).await?;
        Ok(Response::new(pb::GetOutboundWebIdentityFederationResponse { enabled }))
    }
    // ---- Issue 14, part A: instance profiles, account aliases, service-linked roles,
    // GetMFADevice, STS preferences.

    async fn create_instance_profile(
        &self,
        request: Request<pb::CreateInstanceProfileRequest>,
    ) -> Reply<pb::CreateInstanceProfileResponse> {
        let (scope, r) = split(request);
        let profile = self
            .domain
            .create_instance_profile(
                &account(&r.account_id, &scope)?,
                r.path,
                &r.instance_profile_name,
                tags_in(r.tags),
            )
            .await?;
        Ok(Response::new(pb::CreateInstanceProfileResponse { instance_profile: Some(instance_profile_out(&profile)) }))
    }

    async fn get_instance_profile(
        &self,
        request: Request<pb::GetInstanceProfileRequest>,
    ) -> Reply<pb::GetInstanceProfileResponse> {
        let (scope, r) = split(request);
        let profile =
            self.domain.get_instance_profile(&account(&r.account_id, &scope)?, &r.instance_profile_name).await?;
        Ok(Response::new(pb::GetInstanceProfileResponse { instance_profile: Some(instance_profile_out(&profile)) }))
    }

    async fn delete_instance_profile(
        &self,
        request: Request<pb::DeleteInstanceProfileRequest>,
    ) -> Reply<pb::DeleteInstanceProfileResponse> {
        let (scope, r) = split(request);
        self.domain.delete_instance_profile(&account(&r.account_id, &scope)?, &r.instance_profile_name).await?;
        Ok(Response::new(pb::DeleteInstanceProfileResponse {}))
    }

    async fn list_instance_profiles(
        &self,
        request: Request<pb::ListInstanceProfilesRequest>,
    ) -> Reply<pb::ListInstanceProfilesResponse> {
        let (scope, r) = split(request);
        let profiles = self
            .domain
            .list_instance_profiles(&account(&r.account_id, &scope)?, r.path_prefix.as_deref(), &page(r.page))
            .await?;
        Ok(Response::new(pb::ListInstanceProfilesResponse {
            page: page_out(&profiles),
            instance_profiles: profiles.items.iter().map(instance_profile_out).collect(),
        }))
    }

    async fn list_instance_profiles_for_role(
        &self,
        request: Request<pb::ListInstanceProfilesForRoleRequest>,
    ) -> Reply<pb::ListInstanceProfilesForRoleResponse> {
        let (scope, r) = split(request);
        let profiles = self
            .domain
            .list_instance_profiles_for_role(&account(&r.account_id, &scope)?, &r.role_name, &page(r.page))
            .await?;
        Ok(Response::new(pb::ListInstanceProfilesForRoleResponse {
            page: page_out(&profiles),
            instance_profiles: profiles.items.iter().map(instance_profile_out).collect(),
        }))
    }

    async fn add_role_to_instance_profile(
        &self,
        request: Request<pb::AddRoleToInstanceProfileRequest>,
    ) -> Reply<pb::AddRoleToInstanceProfileResponse> {
        let (scope, r) = split(request);
        self.domain
            .add_role_to_instance_profile(&account(&r.account_id, &scope)?, &r.instance_profile_name, &r.role_name)
            .await?;
        Ok(Response::new(pb::AddRoleToInstanceProfileResponse {}))
    }

    async fn remove_role_from_instance_profile(
        &self,
        request: Request<pb::RemoveRoleFromInstanceProfileRequest>,
    ) -> Reply<pb::RemoveRoleFromInstanceProfileResponse> {
        let (scope, r) = split(request);
        self.domain
            .remove_role_from_instance_profile(&account(&r.account_id, &scope)?, &r.instance_profile_name, &r.role_name)
            .await?;
        Ok(Response::new(pb::RemoveRoleFromInstanceProfileResponse {}))
    }

    async fn create_account_alias(
        &self,
        request: Request<pb::CreateAccountAliasRequest>,
    ) -> Reply<pb::CreateAccountAliasResponse> {
        let (scope, r) = split(request);
        self.domain.create_account_alias(&account(&r.account_id, &scope)?, &r.account_alias).await?;
        Ok(Response::new(pb::CreateAccountAliasResponse {}))
    }

    async fn delete_account_alias(
        &self,
        request: Request<pb::DeleteAccountAliasRequest>,
    ) -> Reply<pb::DeleteAccountAliasResponse> {
        let (scope, r) = split(request);
        self.domain.delete_account_alias(&account(&r.account_id, &scope)?, &r.account_alias).await?;
        Ok(Response::new(pb::DeleteAccountAliasResponse {}))
    }

    async fn list_account_aliases(
        &self,
        request: Request<pb::ListAccountAliasesRequest>,
    ) -> Reply<pb::ListAccountAliasesResponse> {
        let (scope, r) = split(request);
        let aliases = self.domain.list_account_aliases(&account(&r.account_id, &scope)?, &page(r.page)).await?;
        Ok(Response::new(pb::ListAccountAliasesResponse { page: page_out(&aliases), account_aliases: aliases.items }))
    }

    async fn create_service_linked_role(
        &self,
        request: Request<pb::CreateServiceLinkedRoleRequest>,
    ) -> Reply<pb::CreateServiceLinkedRoleResponse> {
        let (scope, r) = split(request);
        let role = self
            .domain
            .create_service_linked_role(
                &account(&r.account_id, &scope)?,
                &r.aws_service_name,
                r.description,
                r.custom_suffix,
            )
            .await?;
        Ok(Response::new(pb::CreateServiceLinkedRoleResponse { role: Some(role_out(&role)) }))
    }

    async fn delete_service_linked_role(
        &self,
        request: Request<pb::DeleteServiceLinkedRoleRequest>,
    ) -> Reply<pb::DeleteServiceLinkedRoleResponse> {
        let (scope, r) = split(request);
        let deletion_task_id =
            self.domain.delete_service_linked_role(&account(&r.account_id, &scope)?, &r.role_name).await?;
        Ok(Response::new(pb::DeleteServiceLinkedRoleResponse { deletion_task_id }))
    }

    async fn get_service_linked_role_deletion_status(
        &self,
        request: Request<pb::GetServiceLinkedRoleDeletionStatusRequest>,
    ) -> Reply<pb::GetServiceLinkedRoleDeletionStatusResponse> {
        let (scope, r) = split(request);
        let (status, reason) = self
            .domain
            .get_service_linked_role_deletion_status(&account(&r.account_id, &scope)?, &r.deletion_task_id)
            .await?;
        Ok(Response::new(pb::GetServiceLinkedRoleDeletionStatusResponse {
            status: deletion_status_out(status).into(),
            reason,
        }))
    }

    async fn get_mfa_device(&self, request: Request<pb::GetMfaDeviceRequest>) -> Reply<pb::GetMfaDeviceResponse> {
        let (scope, r) = split(request);
        let user = r.user_name.filter(|n| !n.is_empty());
        let device =
            self.domain.get_mfa_device(&account(&r.account_id, &scope)?, &r.serial_number, user.as_deref()).await?;
        Ok(Response::new(mfa_device_info_out(&device)))
    }

    async fn set_security_token_service_preferences(
        &self,
        request: Request<pb::SetSecurityTokenServicePreferencesRequest>,
    ) -> Reply<pb::SetSecurityTokenServicePreferencesResponse> {
        let (scope, r) = split(request);
        self.domain
            .set_security_token_service_preferences(&account(&r.account_id, &scope)?, &r.global_endpoint_token_version)
            .await?;
        Ok(Response::new(pb::SetSecurityTokenServicePreferencesResponse {}))
    }
    // ---- End of issue 14, part A.

    // SSH public keys (issue 14, part B).

    async fn upload_ssh_public_key(
        &self,
        request: Request<pb::UploadSshPublicKeyRequest>,
    ) -> Reply<pb::UploadSshPublicKeyResponse> {
        let (scope, r) = split(request);
        let key = self
            .domain
            .upload_ssh_public_key(&account(&r.account_id, &scope)?, &r.user_name, &r.ssh_public_key_body)
            .await?;
        Ok(Response::new(pb::UploadSshPublicKeyResponse { ssh_public_key: Some(ssh_key_out(key)) }))
    }

    async fn get_ssh_public_key(
        &self,
        request: Request<pb::GetSshPublicKeyRequest>,
    ) -> Reply<pb::GetSshPublicKeyResponse> {
        let (scope, r) = split(request);
        let encoding = ssh_encoding_in(r.encoding)
            .ok_or_else(|| Status::from(Error::invalid_input("Encoding must be SSH or PEM.")))?;
        let key = self
            .domain
            .get_ssh_public_key(&account(&r.account_id, &scope)?, &r.user_name, &r.ssh_public_key_id, encoding)
            .await?;
        Ok(Response::new(pb::GetSshPublicKeyResponse { ssh_public_key: Some(ssh_key_out(key)) }))
    }

    async fn list_ssh_public_keys(
        &self,
        request: Request<pb::ListSshPublicKeysRequest>,
    ) -> Reply<pb::ListSshPublicKeysResponse> {
        let (scope, r) = split(request);
        let keys = self
            .domain
            .list_ssh_public_keys(&account(&r.account_id, &scope)?, &required_user(r.user_name)?, &page(r.page))
            .await?;
        Ok(Response::new(pb::ListSshPublicKeysResponse {
            page: page_out(&keys),
            ssh_public_keys: keys.items.into_iter().map(ssh_key_out).collect(),
        }))
    }

    async fn update_ssh_public_key(
        &self,
        request: Request<pb::UpdateSshPublicKeyRequest>,
    ) -> Reply<pb::UpdateSshPublicKeyResponse> {
        let (scope, r) = split(request);
        let status = key_status_in(r.status)
            .ok_or_else(|| Status::from(Error::invalid_input("Status must be Active or Inactive.")))?;
        self.domain
            .update_ssh_public_key(&account(&r.account_id, &scope)?, &r.user_name, &r.ssh_public_key_id, status)
            .await?;
        Ok(Response::new(pb::UpdateSshPublicKeyResponse {}))
    }

    async fn delete_ssh_public_key(
        &self,
        request: Request<pb::DeleteSshPublicKeyRequest>,
    ) -> Reply<pb::DeleteSshPublicKeyResponse> {
        let (scope, r) = split(request);
        self.domain.delete_ssh_public_key(&account(&r.account_id, &scope)?, &r.user_name, &r.ssh_public_key_id).await?;
        Ok(Response::new(pb::DeleteSshPublicKeyResponse {}))
    }

    // Signing certificates (issue 14, part B).

    async fn upload_signing_certificate(
        &self,
        request: Request<pb::UploadSigningCertificateRequest>,
    ) -> Reply<pb::UploadSigningCertificateResponse> {
        let (scope, r) = split(request);
        let cert = self
            .domain
            .upload_signing_certificate(
                &account(&r.account_id, &scope)?,
                &required_user(r.user_name)?,
                &r.certificate_body,
            )
            .await?;
        Ok(Response::new(pb::UploadSigningCertificateResponse { certificate: Some(signing_certificate_out(cert)) }))
    }

    async fn list_signing_certificates(
        &self,
        request: Request<pb::ListSigningCertificatesRequest>,
    ) -> Reply<pb::ListSigningCertificatesResponse> {
        let (scope, r) = split(request);
        let certs = self
            .domain
            .list_signing_certificates(&account(&r.account_id, &scope)?, &required_user(r.user_name)?, &page(r.page))
            .await?;
        Ok(Response::new(pb::ListSigningCertificatesResponse {
            page: page_out(&certs),
            certificates: certs.items.into_iter().map(signing_certificate_out).collect(),
        }))
    }

    async fn update_signing_certificate(
        &self,
        request: Request<pb::UpdateSigningCertificateRequest>,
    ) -> Reply<pb::UpdateSigningCertificateResponse> {
        let (scope, r) = split(request);
        let status = key_status_in(r.status)
            .ok_or_else(|| Status::from(Error::invalid_input("Status must be Active or Inactive.")))?;
        self.domain
            .update_signing_certificate(
                &account(&r.account_id, &scope)?,
                &required_user(r.user_name)?,
                &r.certificate_id,
                status,
            )
            .await?;
        Ok(Response::new(pb::UpdateSigningCertificateResponse {}))
    }

    async fn delete_signing_certificate(
        &self,
        request: Request<pb::DeleteSigningCertificateRequest>,
    ) -> Reply<pb::DeleteSigningCertificateResponse> {
        let (scope, r) = split(request);
        self.domain
            .delete_signing_certificate(
                &account(&r.account_id, &scope)?,
                &required_user(r.user_name)?,
                &r.certificate_id,
            )
            .await?;
        Ok(Response::new(pb::DeleteSigningCertificateResponse {}))
    }

    // Server certificates (issue 14, part B).

    async fn upload_server_certificate(
        &self,
        request: Request<pb::UploadServerCertificateRequest>,
    ) -> Reply<pb::UploadServerCertificateResponse> {
        let (scope, r) = split(request);
        let input = UploadServerCertificate {
            path: r.path,
            name: r.server_certificate_name,
            body: r.certificate_body,
            private_key: r.private_key,
            chain: r.certificate_chain,
            tags: tags_in(r.tags),
        };
        let cert = self.domain.upload_server_certificate(&account(&r.account_id, &scope)?, input).await?;
        Ok(Response::new(pb::UploadServerCertificateResponse {
            server_certificate_metadata: Some(server_certificate_metadata_out(&cert)),
            tags: tags_out(&cert.tags),
        }))
    }

    async fn get_server_certificate(
        &self,
        request: Request<pb::GetServerCertificateRequest>,
    ) -> Reply<pb::GetServerCertificateResponse> {
        let (scope, r) = split(request);
        let cert =
            self.domain.get_server_certificate(&account(&r.account_id, &scope)?, &r.server_certificate_name).await?;
        Ok(Response::new(pb::GetServerCertificateResponse { server_certificate: Some(server_certificate_out(cert)) }))
    }

    async fn list_server_certificates(
        &self,
        request: Request<pb::ListServerCertificatesRequest>,
    ) -> Reply<pb::ListServerCertificatesResponse> {
        let (scope, r) = split(request);
        let certs = self
            .domain
            .list_server_certificates(&account(&r.account_id, &scope)?, r.path_prefix.as_deref(), &page(r.page))
            .await?;
        Ok(Response::new(pb::ListServerCertificatesResponse {
            page: page_out(&certs),
            server_certificate_metadata_list: certs.items.iter().map(server_certificate_metadata_out).collect(),
        }))
    }

    async fn update_server_certificate(
        &self,
        request: Request<pb::UpdateServerCertificateRequest>,
    ) -> Reply<pb::UpdateServerCertificateResponse> {
        let (scope, r) = split(request);
        self.domain
            .update_server_certificate(
                &account(&r.account_id, &scope)?,
                &r.server_certificate_name,
                r.new_path,
                r.new_server_certificate_name,
            )
            .await?;
        Ok(Response::new(pb::UpdateServerCertificateResponse {}))
    }

    async fn delete_server_certificate(
        &self,
        request: Request<pb::DeleteServerCertificateRequest>,
    ) -> Reply<pb::DeleteServerCertificateResponse> {
        let (scope, r) = split(request);
        self.domain.delete_server_certificate(&account(&r.account_id, &scope)?, &r.server_certificate_name).await?;
        Ok(Response::new(pb::DeleteServerCertificateResponse {}))
    }

    // Service-specific credentials (issue 14, part B).

    async fn create_service_specific_credential(
        &self,
        request: Request<pb::CreateServiceSpecificCredentialRequest>,
    ) -> Reply<pb::CreateServiceSpecificCredentialResponse> {
        let (scope, r) = split(request);
        let c = self
            .domain
            .create_service_specific_credential(
                &account(&r.account_id, &scope)?,
                &r.user_name,
                &r.service_name,
                r.credential_age_days,
            )
            .await?;
        Ok(Response::new(pb::CreateServiceSpecificCredentialResponse {
            service_specific_credential: Some(service_credential_out(c)),
        }))
    }

    async fn reset_service_specific_credential(
        &self,
        request: Request<pb::ResetServiceSpecificCredentialRequest>,
    ) -> Reply<pb::ResetServiceSpecificCredentialResponse> {
        let (scope, r) = split(request);
        let c = self
            .domain
            .reset_service_specific_credential(
                &account(&r.account_id, &scope)?,
                &required_user(r.user_name)?,
                &r.service_specific_credential_id,
            )
            .await?;
        Ok(Response::new(pb::ResetServiceSpecificCredentialResponse {
            service_specific_credential: Some(service_credential_out(c)),
        }))
    }

    async fn list_service_specific_credentials(
        &self,
        request: Request<pb::ListServiceSpecificCredentialsRequest>,
    ) -> Reply<pb::ListServiceSpecificCredentialsResponse> {
        let (scope, r) = split(request);
        let user = if r.all_users { r.user_name.unwrap_or_default() } else { required_user(r.user_name)? };
        let list = self
            .domain
            .list_service_specific_credentials(
                &account(&r.account_id, &scope)?,
                &user,
                r.service_name.as_deref().filter(|s| !s.is_empty()),
                r.all_users,
                &page(r.page),
            )
            .await?;
        Ok(Response::new(pb::ListServiceSpecificCredentialsResponse {
            page: page_out(&list),
            service_specific_credentials: list.items.into_iter().map(service_credential_out).collect(),
        }))
    }

    async fn update_service_specific_credential(
        &self,
        request: Request<pb::UpdateServiceSpecificCredentialRequest>,
    ) -> Reply<pb::UpdateServiceSpecificCredentialResponse> {
        let (scope, r) = split(request);
        let status = key_status_in(r.status)
            .ok_or_else(|| Status::from(Error::invalid_input("Status must be Active or Inactive.")))?;
        self.domain
            .update_service_specific_credential(
                &account(&r.account_id, &scope)?,
                &required_user(r.user_name)?,
                &r.service_specific_credential_id,
                status,
            )
            .await?;
        Ok(Response::new(pb::UpdateServiceSpecificCredentialResponse {}))
    }

    async fn delete_service_specific_credential(
        &self,
        request: Request<pb::DeleteServiceSpecificCredentialRequest>,
    ) -> Reply<pb::DeleteServiceSpecificCredentialResponse> {
        let (scope, r) = split(request);
        self.domain
            .delete_service_specific_credential(
                &account(&r.account_id, &scope)?,
                &required_user(r.user_name)?,
                &r.service_specific_credential_id,
            )
            .await?;
        Ok(Response::new(pb::DeleteServiceSpecificCredentialResponse {}))
    }
}
