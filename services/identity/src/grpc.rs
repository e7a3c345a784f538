//! The tonic adapter for `tessera.identity.v1.IdentityService`: decode the request, call the
//! domain, encode the records it returns, and map the error through the one catalog. Nothing else
//! happens here; protobuf types stop at this file.

use std::sync::Arc;

use tessera_proto::common::v1 as common;
use tessera_proto::convert::timestamp;
use tessera_proto::identity::v1::identity_service_server::{IdentityService, IdentityServiceServer};
use tessera_proto::identity::v1::{self as pb};
use tessera_proto::policy::v1 as ppb;
use tessera_proto::scope::{Scope, split};
use tessera_store::Store;
use tessera_store::iam::{
    EntityKind, GroupRecord, KeyStatus, MfaDeviceRecord, PolicyRecord, PolicyVersionRecord, RoleRecord, Tag, UserRecord,
};
use tonic::{Request, Response, Status};

use crate::page::paginate;
use crate::{
    Account, AssignmentStatus, CreateOidcProvider, CreateRole, CreateUser, Error, Identity, LoginProfile, Page,
    PageRequest, ReportState, Taggable, UpdatePasswordPolicy, from_millis,
};

type Reply<T> = Result<Response<T>, Status>;

/// `IdentityService` over an [`Identity`] domain.
#[derive(Debug)]
pub struct IdentityGrpc<S> {
    domain: Arc<Identity<S>>,
}

/// The tonic service for `identity`, ready to add to a server.
pub fn service<S: Store>(identity: Identity<S>) -> IdentityServiceServer<IdentityGrpc<S>> {
    IdentityServiceServer::new(IdentityGrpc { domain: Arc::new(identity) })
}

/// The request's account, which must be the authenticated caller's when the gateway's gRPC layer
/// ran (see `tessera_proto::scope`).
pub fn account(id: &str, scope: &Scope) -> Result<Account, Status> {
    scope.check_account(id)?;
    Account::new(id).map_err(Status::from)
}

pub(crate) fn page(request: Option<common::PageRequest>) -> PageRequest {
    request.map(|p| PageRequest { marker: p.marker, max_items: p.max_items }).unwrap_or_default()
}

pub(crate) fn page_out<T>(page: &Page<T>) -> Option<common::PageResponse> {
    Some(common::PageResponse { is_truncated: page.is_truncated(), marker: page.marker.clone() })
}

pub(crate) fn tags_in(tags: Vec<common::Tag>) -> Vec<Tag> {
    tags.into_iter().map(|t| Tag { key: t.key, value: t.value }).collect()
}

pub(crate) fn tags_out(tags: &[Tag]) -> Vec<common::Tag> {
    tags.iter().map(|t| common::Tag { key: t.key.clone(), value: t.value.clone() }).collect()
}

pub(crate) fn ts(ms: u64) -> Option<prost_types::Timestamp> {
    Some(timestamp(from_millis(ms)))
}

pub(crate) fn boundary(arn: Option<&String>) -> Option<common::PermissionsBoundary> {
    arn.map(|arn| common::PermissionsBoundary {
        permissions_boundary_type: "PermissionsBoundaryPolicy".to_owned(),
        permissions_boundary_arn: arn.clone(),
    })
}

/// Decodes an `EntityRef` (kind is required).
pub fn entity_ref(entity: Option<common::EntityRef>) -> Result<(EntityKind, String), Status> {
    let entity = entity.ok_or_else(|| Status::from(Error::invalid_input("the entity is required")))?;
    let kind = match common::EntityKind::try_from(entity.kind) {
        Ok(common::EntityKind::User) => EntityKind::User,
        Ok(common::EntityKind::Group) => EntityKind::Group,
        Ok(common::EntityKind::Role) => EntityKind::Role,
        _ => return Err(Error::invalid_input("the entity kind must be user, group or role").into()),
    };
    Ok((kind, entity.name))
}

pub(crate) fn user_out(user: &UserRecord) -> pb::User {
    let p = &user.principal;
    pb::User {
        path: p.path.clone(),
        user_name: p.name.clone(),
        user_id: p.id.clone(),
        arn: p.arn.clone(),
        create_date: ts(p.create_date),
        password_last_used: user.password_last_used.and_then(ts),
        permissions_boundary: boundary(user.boundary.as_ref()),
        tags: tags_out(&user.tags),
    }
}

pub(crate) fn group_out(group: &GroupRecord) -> pb::Group {
    let p = &group.principal;
    pb::Group {
        path: p.path.clone(),
        group_name: p.name.clone(),
        group_id: p.id.clone(),
        arn: p.arn.clone(),
        create_date: ts(p.create_date),
    }
}

pub(crate) fn role_out(role: &RoleRecord) -> pb::Role {
    let p = &role.principal;
    pb::Role {
        path: p.path.clone(),
        role_name: p.name.clone(),
        role_id: p.id.clone(),
        arn: p.arn.clone(),
        create_date: ts(p.create_date),
        assume_role_policy_document: role.trust_policy.clone(),
        description: role.description.clone(),
        max_session_duration: i32::try_from(role.max_session_duration).unwrap_or(i32::MAX),
        permissions_boundary: boundary(role.boundary.as_ref()),
        tags: tags_out(&role.tags),
        role_last_used: Some(pb::RoleLastUsed {
            last_used_date: role.last_used.as_ref().and_then(|u| ts(u.date)),
            region: role.last_used.as_ref().map(|u| u.region.clone()),
        }),
    }
}

/// A required user name: the gateway fills in the caller's; an empty one here is an error.
fn required_user(name: Option<String>) -> Result<String, Status> {
    name.filter(|n| !n.is_empty())
        .ok_or_else(|| Error::invalid_input("UserName is required when the caller is not an IAM user.").into())
}

#[tonic::async_trait]
impl<S: Store> IdentityService for IdentityGrpc<S> {
    async fn create_account(&self, request: Request<pb::CreateAccountRequest>) -> Reply<pb::CreateAccountResponse> {
        let (scope, r) = split(request);
        let record = self.domain.create_account(&account(&r.account_id, &scope)?).await?;
        Ok(Response::new(pb::CreateAccountResponse {
            account: Some(pb::Account { account_id: record.id, create_date: ts(record.create_date) }),
        }))
    }

    async fn get_account_summary(
        &self,
        request: Request<pb::GetAccountSummaryRequest>,
    ) -> Reply<pb::GetAccountSummaryResponse> {
        let (scope, r) = split(request);
        let summary = self.domain.get_account_summary(&account(&r.account_id, &scope)?).await?;
        let summary_map = summary.into_iter().map(|(k, v)| (k, i32::try_from(v).unwrap_or(i32::MAX))).collect();
        Ok(Response::new(pb::GetAccountSummaryResponse { summary_map }))
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
        let key = self.domain.create_access_key(&account(&r.account_id, &scope)?, &required_user(r.user_name)?).await?;
        Ok(Response::new(pb::CreateAccessKeyResponse {
            access_key: Some(pb::AccessKey {
                user_name: key.user_name,
                access_key_id: key.access_key_id,
                status: key_status_out(key.status).into(),
                secret_access_key: key.secret_access_key.expose().to_owned(),
                create_date: ts(key.create_date),
            }),
        }))
    }

    async fn list_access_keys(&self, request: Request<pb::ListAccessKeysRequest>) -> Reply<pb::ListAccessKeysResponse> {
        let (scope, r) = split(request);
        let keys = self
            .domain
            .list_access_keys(&account(&r.account_id, &scope)?, &required_user(r.user_name)?, &page(r.page))
            .await?;
        Ok(Response::new(pb::ListAccessKeysResponse {
            page: page_out(&keys),
            access_key_metadata: keys
                .items
                .into_iter()
                .map(|k| pb::AccessKeyMetadata {
                    user_name: k.user_name,
                    access_key_id: k.access_key_id,
                    status: key_status_out(k.status).into(),
                    create_date: ts(k.create_date),
                })
                .collect(),
        }))
    }

    async fn update_access_key(
        &self,
        request: Request<pb::UpdateAccessKeyRequest>,
    ) -> Reply<pb::UpdateAccessKeyResponse> {
        let (scope, r) = split(request);
        let status = match pb::AccessKeyStatus::try_from(r.status) {
            Ok(pb::AccessKeyStatus::Active) => KeyStatus::Active,
            Ok(pb::AccessKeyStatus::Inactive) => KeyStatus::Inactive,
            _ => return Err(Error::invalid_input("Status must be Active or Inactive.").into()),
        };
        self.domain
            .update_access_key(&account(&r.account_id, &scope)?, &required_user(r.user_name)?, &r.access_key_id, status)
            .await?;
        Ok(Response::new(pb::UpdateAccessKeyResponse {}))
    }

    async fn delete_access_key(
        &self,
        request: Request<pb::DeleteAccessKeyRequest>,
    ) -> Reply<pb::DeleteAccessKeyResponse> {
        let (scope, r) = split(request);
        self.domain
            .delete_access_key(&account(&r.account_id, &scope)?, &required_user(r.user_name)?, &r.access_key_id)
            .await?;
        Ok(Response::new(pb::DeleteAccessKeyResponse {}))
    }

    async fn get_access_key_last_used(
        &self,
        request: Request<pb::GetAccessKeyLastUsedRequest>,
    ) -> Reply<pb::GetAccessKeyLastUsedResponse> {
        let (scope, r) = split(request);
        let used = self.domain.get_access_key_last_used(&account(&r.account_id, &scope)?, &r.access_key_id).await?;
        Ok(Response::new(pb::GetAccessKeyLastUsedResponse {
            user_name: used.user_name,
            access_key_last_used: Some(pb::AccessKeyLastUsed {
                last_used_date: used.last_used_date.and_then(ts),
                service_name: used.service_name,
                region: used.region,
            }),
        }))
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
        let profile = self.domain.get_login_profile(&account(&r.account_id, &scope)?, &r.user_name).await?;
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
        let input = UpdatePasswordPolicy {
            minimum_password_length: r.minimum_password_length,
            require_symbols: r.require_symbols,
            require_numbers: r.require_numbers,
            require_uppercase_characters: r.require_uppercase_characters,
            require_lowercase_characters: r.require_lowercase_characters,
            allow_users_to_change_password: r.allow_users_to_change_password,
            max_password_age: r.max_password_age,
            password_reuse_prevention: r.password_reuse_prevention,
            hard_expiry: r.hard_expiry,
        };
        self.domain.update_account_password_policy(&account(&r.account_id, &scope)?, input).await?;
        Ok(Response::new(pb::UpdateAccountPasswordPolicyResponse {}))
    }

    async fn get_account_password_policy(
        &self,
        request: Request<pb::GetAccountPasswordPolicyRequest>,
    ) -> Reply<pb::GetAccountPasswordPolicyResponse> {
        let (scope, r) = split(request);
        let p = self.domain.get_account_password_policy(&account(&r.account_id, &scope)?).await?;
        let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(Response::new(pb::GetAccountPasswordPolicyResponse {
            password_policy: Some(pb::PasswordPolicy {
                minimum_password_length: int(p.minimum_password_length),
                require_symbols: p.require_symbols,
                require_numbers: p.require_numbers,
                require_uppercase_characters: p.require_uppercase_characters,
                require_lowercase_characters: p.require_lowercase_characters,
                allow_users_to_change_password: p.allow_users_to_change_password,
                expire_passwords: p.max_password_age > 0,
                max_password_age: (p.max_password_age > 0).then(|| int(p.max_password_age)),
                password_reuse_prevention: (p.password_reuse_prevention > 0).then(|| int(p.password_reuse_prevention)),
                hard_expiry: Some(p.hard_expiry),
            }),
        }))
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
        let mut device = mfa_device_out(&created.device, None);
        device.base32_string_seed = created.base32_seed.expose().as_bytes().to_vec();
        device.qr_code_png = created.qr_png;
        Ok(Response::new(pb::CreateVirtualMfaDeviceResponse { virtual_mfa_device: Some(device) }))
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
            .deactivate_mfa_device(&account(&r.account_id, &scope)?, &required_user(r.user_name)?, &r.serial_number)
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
            .list_mfa_devices(&account(&r.account_id, &scope)?, &required_user(r.user_name)?, &page(r.page))
            .await?;
        Ok(Response::new(pb::ListMfaDevicesResponse {
            page: page_out(&devices),
            mfa_devices: devices
                .items
                .iter()
                .map(|d| pb::MfaDevice {
                    user_name: d.user.clone().unwrap_or_default(),
                    serial_number: d.serial.clone(),
                    enable_date: d.enable_date.and_then(ts),
                })
                .collect(),
        }))
    }

    async fn list_virtual_mfa_devices(
        &self,
        request: Request<pb::ListVirtualMfaDevicesRequest>,
    ) -> Reply<pb::ListVirtualMfaDevicesResponse> {
        let (scope, r) = split(request);
        let status = match pb::AssignmentStatus::try_from(r.assignment_status) {
            Ok(pb::AssignmentStatus::Assigned) => AssignmentStatus::Assigned,
            Ok(pb::AssignmentStatus::Unassigned) => AssignmentStatus::Unassigned,
            _ => AssignmentStatus::Any,
        };
        let account = account(&r.account_id, &scope)?;
        let devices = self.domain.list_virtual_mfa_devices(&account, status, &page(r.page)).await?;
        let mut out = Vec::with_capacity(devices.items.len());
        for device in &devices.items {
            let user = match &device.user {
                Some(name) => self.domain.get_user(&account, name).await.ok(),
                None => None,
            };
            out.push(mfa_device_out(device, user.as_ref()));
        }
        Ok(Response::new(pb::ListVirtualMfaDevicesResponse { page: page_out(&devices), virtual_mfa_devices: out }))
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
        Ok(Response::new(pb::GetOpenIdConnectProviderResponse {
            url: p.url,
            client_id_list: p.client_ids,
            thumbprint_list: p.thumbprints,
            create_date: ts(p.create_date),
            tags: tags_out(&p.tags),
        }))
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
        let filter: Vec<String> = r
            .filter
            .iter()
            .filter_map(|f| match common::EntityFilter::try_from(*f) {
                Ok(common::EntityFilter::User) => Some("User"),
                Ok(common::EntityFilter::Role) => Some("Role"),
                Ok(common::EntityFilter::Group) => Some("Group"),
                Ok(common::EntityFilter::LocalManagedPolicy) => Some("LocalManagedPolicy"),
                Ok(common::EntityFilter::AwsManagedPolicy) => Some("AWSManagedPolicy"),
                _ => None,
            })
            .map(str::to_owned)
            .collect();
        let d = self
            .domain
            .get_account_authorization_details(&account(&r.account_id, &scope)?, &filter, &page(r.page))
            .await?;
        Ok(Response::new(pb::GetAccountAuthorizationDetailsResponse {
            page: Some(common::PageResponse { is_truncated: d.is_truncated(), marker: d.marker.clone() }),
            user_detail_list: d.users.iter().map(user_detail).collect(),
            group_detail_list: d.groups.iter().map(group_detail).collect(),
            role_detail_list: d.roles.iter().map(role_detail).collect(),
            policies: d.policies.iter().map(policy_detail).collect(),
        }))
    }

    async fn generate_credential_report(
        &self,
        request: Request<pb::GenerateCredentialReportRequest>,
    ) -> Reply<pb::GenerateCredentialReportResponse> {
        let (scope, r) = split(request);
        let (state, description) = self.domain.generate_credential_report(&account(&r.account_id, &scope)?).await?;
        let state = match state {
            ReportState::Started => pb::ReportState::Started,
            ReportState::InProgress => pb::ReportState::InProgress,
            ReportState::Complete => pb::ReportState::Complete,
        };
        Ok(Response::new(pb::GenerateCredentialReportResponse { state: state.into(), description }))
    }

    async fn get_credential_report(
        &self,
        request: Request<pb::GetCredentialReportRequest>,
    ) -> Reply<pb::GetCredentialReportResponse> {
        let (scope, r) = split(request);
        let report = self.domain.get_credential_report(&account(&r.account_id, &scope)?).await?;
        Ok(Response::new(pb::GetCredentialReportResponse {
            content: report.csv.into_bytes(),
            report_format: "text/csv".to_owned(),
            generated_time: ts(report.generated),
        }))
    }
}

fn taggable(resource: Option<common::TaggableRef>) -> Result<Taggable, Status> {
    let resource = resource.ok_or_else(|| Status::from(Error::invalid_input("the resource is required")))?;
    Ok(match common::TaggableKind::try_from(resource.kind) {
        Ok(common::TaggableKind::User) => Taggable::User(resource.id),
        Ok(common::TaggableKind::Role) => Taggable::Role(resource.id),
        Ok(common::TaggableKind::Policy) => Taggable::Policy(resource.id),
        Ok(common::TaggableKind::OpenIdConnectProvider) => Taggable::OidcProvider(resource.id),
        Ok(common::TaggableKind::MfaDevice) => Taggable::MfaDevice(resource.id),
        _ => return Err(Error::invalid_input("the resource kind is required").into()),
    })
}

fn key_status_out(status: KeyStatus) -> pb::AccessKeyStatus {
    match status {
        KeyStatus::Active => pb::AccessKeyStatus::Active,
        KeyStatus::Inactive => pb::AccessKeyStatus::Inactive,
    }
}

fn login_profile_out(profile: LoginProfile) -> pb::LoginProfile {
    pb::LoginProfile {
        user_name: profile.user_name,
        create_date: ts(profile.create_date),
        password_reset_required: profile.password_reset_required,
    }
}

fn mfa_device_out(device: &MfaDeviceRecord, user: Option<&UserRecord>) -> pb::VirtualMfaDevice {
    pb::VirtualMfaDevice {
        serial_number: device.serial.clone(),
        base32_string_seed: Vec::new(),
        qr_code_png: Vec::new(),
        user: user.map(user_out),
        enable_date: device.enable_date.and_then(ts),
        tags: tags_out(&device.tags),
    }
}

fn inline_out(inline: &[(String, String)]) -> Vec<common::PolicyDetail> {
    inline
        .iter()
        .map(|(name, doc)| common::PolicyDetail { policy_name: name.clone(), policy_document: doc.clone() })
        .collect()
}

/// Attached policies as AWS lists them: name and ARN (the name is the ARN's last segment).
pub fn attached_out(attached: &[String]) -> Vec<common::AttachedPolicy> {
    attached
        .iter()
        .map(|arn| common::AttachedPolicy {
            policy_name: arn.rsplit('/').next().unwrap_or(arn).to_owned(),
            policy_arn: arn.clone(),
        })
        .collect()
}

fn user_detail(user: &UserRecord) -> pb::UserDetail {
    let p = &user.principal;
    pb::UserDetail {
        path: p.path.clone(),
        user_name: p.name.clone(),
        user_id: p.id.clone(),
        arn: p.arn.clone(),
        create_date: ts(p.create_date),
        user_policy_list: inline_out(&p.inline),
        group_list: user.groups.clone(),
        attached_managed_policies: attached_out(&p.attached),
        permissions_boundary: boundary(user.boundary.as_ref()),
        tags: tags_out(&user.tags),
    }
}

fn group_detail(group: &GroupRecord) -> pb::GroupDetail {
    let p = &group.principal;
    pb::GroupDetail {
        path: p.path.clone(),
        group_name: p.name.clone(),
        group_id: p.id.clone(),
        arn: p.arn.clone(),
        create_date: ts(p.create_date),
        group_policy_list: inline_out(&p.inline),
        attached_managed_policies: attached_out(&p.attached),
    }
}

fn role_detail(role: &RoleRecord) -> pb::RoleDetail {
    let r = role_out(role);
    pb::RoleDetail {
        path: r.path,
        role_name: r.role_name,
        role_id: r.role_id,
        arn: r.arn,
        create_date: r.create_date,
        assume_role_policy_document: r.assume_role_policy_document,
        role_policy_list: inline_out(&role.principal.inline),
        attached_managed_policies: attached_out(&role.principal.attached),
        permissions_boundary: r.permissions_boundary,
        tags: r.tags,
        role_last_used: r.role_last_used,
    }
}

/// A managed policy version as the policy package encodes it.
pub fn policy_version_out(policy: &PolicyRecord, version: &PolicyVersionRecord) -> ppb::PolicyVersion {
    ppb::PolicyVersion {
        document: version.document.clone(),
        version_id: version.id.clone(),
        is_default_version: version.id == policy.default_version,
        create_date: ts(version.create_date),
    }
}

fn policy_detail(policy: &PolicyRecord) -> pb::ManagedPolicyDetail {
    pb::ManagedPolicyDetail {
        policy_name: policy.name.clone(),
        policy_id: policy.id.clone(),
        arn: policy.arn.clone(),
        path: policy.path.clone(),
        default_version_id: policy.default_version.clone(),
        // Use counts live in the policy service's records; GetPolicy reports them.
        attachment_count: 0,
        permissions_boundary_usage_count: 0,
        is_attachable: true,
        description: policy.description.clone(),
        create_date: ts(policy.create_date),
        update_date: ts(policy.update_date),
        policy_version_list: policy.versions.iter().map(|v| policy_version_out(policy, v)).collect(),
    }
}
