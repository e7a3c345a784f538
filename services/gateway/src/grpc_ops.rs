//! What each gRPC method asks, in the terms of the HTTP API: the AWS action, the resource ARN and
//! the inputs its condition keys come from, decoded from the request message. The gRPC gate
//! hands the result to [`crate::authz::authorize`], so a gRPC call is authorized exactly like the
//! same operation over HTTP (`iam:AttachUserPolicy` on `user/alice` with `iam:PolicyARN`, not
//! `iam:AttachPolicy` on `*`).

use prost::Message;
use tessera_arn::{Arn, IamEntity};
use tessera_identity::{Account, Identity, service_linked};
use tessera_proto::common::v1 as c;
use tessera_proto::identity::v1 as pb;
use tessera_proto::policy::v1 as ppb;
use tessera_proto::sts::v1 as spb;
use tessera_proto::{ErrorCode, ServiceError};
use tessera_store::Store;
use tessera_store::iam::{EntityKind, Tag};

use crate::actions::Action;
use crate::authz::{Ask, Inputs, entity_arn, renamed_arn};

/// Who is asking, as far as the mapping needs it.
pub(crate) struct Asker<'a, S> {
    pub(crate) identity: &'a Identity<S>,
    pub(crate) account: &'a Account,
    /// The calling IAM user's name (for the methods whose `user_name` defaults to the caller).
    pub(crate) user: Option<&'a str>,
}

fn malformed() -> ServiceError {
    ServiceError::new(ErrorCode::InvalidInput, "The request message cannot be decoded.")
}

fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, ServiceError> {
    M::decode(bytes).map_err(|_| malformed())
}

fn tags(tags: &[c::Tag]) -> Vec<Tag> {
    tags.iter().map(|t| Tag { key: t.key.clone(), value: t.value.clone() }).collect()
}

fn kind(entity: Option<&c::EntityRef>) -> Result<(EntityKind, &str), ServiceError> {
    let entity = entity.ok_or_else(|| ServiceError::new(ErrorCode::InvalidInput, "`entity` is required."))?;
    match entity.kind() {
        c::EntityKind::User => Ok((EntityKind::User, &entity.name)),
        c::EntityKind::Group => Ok((EntityKind::Group, &entity.name)),
        c::EntityKind::Role => Ok((EntityKind::Role, &entity.name)),
        c::EntityKind::Unspecified => Err(ServiceError::new(ErrorCode::InvalidInput, "`entity.kind` is required.")),
    }
}

/// The action of `[user, group, role]` for an entity of `kind`.
fn per_kind(kind: EntityKind, [user, group, role]: [Action; 3]) -> Action {
    match kind {
        EntityKind::User => user,
        EntityKind::Group => group,
        EntityKind::Role => role,
    }
}

impl<S: Store> Asker<'_, S> {
    fn arn(&self, entity: IamEntity) -> String {
        Arn::iam("aws", self.account.id(), &entity).to_string()
    }

    fn all(&self, noun: &str) -> String {
        let (path, name) = ("/".to_owned(), "*".to_owned());
        self.arn(match noun {
            "user" => IamEntity::User { path, name },
            "group" => IamEntity::Group { path, name },
            "role" => IamEntity::Role { path, name },
            "instance-profile" => IamEntity::InstanceProfile { path, name },
            _ => IamEntity::Policy { path, name },
        })
    }

    /// An instance profile's ARN: the stored one when it exists (it has the path), else built
    /// from `path` (`/` when none).
    async fn instance_profile(&self, name: &str, path: Option<&str>) -> String {
        match self.identity.get_instance_profile_record(self.account, name).await {
            Ok(profile) => profile.arn,
            Err(_) => {
                let path = path.filter(|p| !p.is_empty()).unwrap_or("/").to_owned();
                self.arn(IamEntity::InstanceProfile { path, name: name.to_owned() })
            }
        }
    }

    async fn entity(&self, kind: EntityKind, name: &str, path: Option<&str>) -> String {
        entity_arn(self.identity, self.account, kind, name, path).await
    }

    async fn user(&self, name: &str) -> String {
        self.entity(EntityKind::User, name, None).await
    }

    /// A server certificate's stored ARN, else the one `path` (`/` when none) would give it
    /// (issue 14, part B).
    async fn server_certificate(&self, name: &str, path: Option<&str>) -> String {
        match self.identity.get_server_certificate(self.account, name).await {
            Ok(cert) => cert.arn,
            Err(_) => tessera_identity::server_certificate_arn(
                self.account.id(),
                path.filter(|p| !p.is_empty()).unwrap_or("/"),
                name,
            ),
        }
    }

    /// `user_name`, or the calling user when it is empty (as AWS defaults it).
    async fn user_or_caller(&self, name: Option<&str>) -> Result<String, ServiceError> {
        match name.filter(|n| !n.is_empty()).or(self.user) {
            Some(name) => Ok(self.user(name).await),
            None => Err(ServiceError::new(
                ErrorCode::ValidationError,
                "`user_name` is required when the caller is not an IAM user.",
            )),
        }
    }

    /// The `[Tag*, Untag*, List*Tags]` actions of a taggable resource, and its ARN.
    async fn taggable(&self, resource: Option<&c::TaggableRef>) -> Result<([Action; 3], String), ServiceError> {
        use Action as A;
        let resource = resource.ok_or_else(|| ServiceError::new(ErrorCode::InvalidInput, "`resource` is required."))?;
        Ok(match resource.kind() {
            c::TaggableKind::User => ([A::TagUser, A::UntagUser, A::ListUserTags], self.user(&resource.id).await),
            c::TaggableKind::Role => {
                ([A::TagRole, A::UntagRole, A::ListRoleTags], self.entity(EntityKind::Role, &resource.id, None).await)
            }
            c::TaggableKind::Policy => ([A::TagPolicy, A::UntagPolicy, A::ListPolicyTags], resource.id.clone()),
            c::TaggableKind::OpenIdConnectProvider => (
                [A::TagOpenIDConnectProvider, A::UntagOpenIDConnectProvider, A::ListOpenIDConnectProviderTags],
                resource.id.clone(),
            ),
            c::TaggableKind::MfaDevice => {
                ([A::TagMFADevice, A::UntagMFADevice, A::ListMFADeviceTags], resource.id.clone())
            }
            c::TaggableKind::ServerCertificate => (
                [A::TagServerCertificate, A::UntagServerCertificate, A::ListServerCertificateTags],
                self.server_certificate(&resource.id, None).await,
            ),
            c::TaggableKind::InstanceProfile => (
                [A::TagInstanceProfile, A::UntagInstanceProfile, A::ListInstanceProfileTags],
                self.instance_profile(&resource.id, None).await,
            ),
            // SAML providers
            c::TaggableKind::SamlProvider => {
                ([A::TagSAMLProvider, A::UntagSAMLProvider, A::ListSAMLProviderTags], resource.id.clone())
            }
            c::TaggableKind::Unspecified => {
                return Err(ServiceError::new(ErrorCode::InvalidInput, "`resource.kind` is required."));
            }
        })
    }

    /// What `method` (`/tessera.identity.v1.IdentityService/CreateUser`) asks with `message`;
    /// `None` for a method this table does not know (the gate then fails closed).
    pub(crate) async fn ask(&self, method: &str, message: &[u8]) -> Result<Option<Ask>, ServiceError> {
        let Some((service, name)) = method.strip_prefix('/').and_then(|m| m.split_once('/')) else { return Ok(None) };
        let ask = |action: Action, resource: String, inputs: Inputs| Ask {
            action: action.qualified().to_owned(),
            resource,
            inputs,
            change_own_password: false,
            also: Vec::new(),
            passed_role: None,
        };
        let none = Inputs::default;
        let out = match (service, name) {
            ("tessera.identity.v1.IdentityService", name) => match name {
                "GetAccountSummary" => ask(Action::GetAccountSummary, "*".into(), none()),
                "CreateUser" => {
                    let m: pb::CreateUserRequest = decode(message)?;
                    let arn = self.entity(EntityKind::User, &m.user_name, m.path.as_deref()).await;
                    let inputs = Inputs { boundary: m.permissions_boundary, tags: tags(&m.tags), ..none() };
                    ask(Action::CreateUser, arn, inputs)
                }
                "GetUser" => {
                    let m: pb::GetUserRequest = decode(message)?;
                    ask(Action::GetUser, self.user_or_caller(m.user_name.as_deref()).await?, none())
                }
                "ListUsers" => ask(Action::ListUsers, self.all("user"), none()),
                "UpdateUser" => {
                    let m: pb::UpdateUserRequest = decode(message)?;
                    let arn = self.user(&m.user_name).await;
                    let also = renamed_arn(&arn, m.new_path.as_deref(), m.new_user_name.as_deref());
                    Ask { also: also.into_iter().collect(), ..ask(Action::UpdateUser, arn, none()) }
                }
                "DeleteUser" => {
                    let m: pb::DeleteUserRequest = decode(message)?;
                    ask(Action::DeleteUser, self.user(&m.user_name).await, none())
                }
                "CreateGroup" => {
                    let m: pb::CreateGroupRequest = decode(message)?;
                    ask(
                        Action::CreateGroup,
                        self.entity(EntityKind::Group, &m.group_name, m.path.as_deref()).await,
                        none(),
                    )
                }
                "GetGroup" | "DeleteGroup" => {
                    let (action, group) = match name {
                        "GetGroup" => (Action::GetGroup, decode::<pb::GetGroupRequest>(message)?.group_name),
                        _ => (Action::DeleteGroup, decode::<pb::DeleteGroupRequest>(message)?.group_name),
                    };
                    ask(action, self.entity(EntityKind::Group, &group, None).await, none())
                }
                "UpdateGroup" => {
                    let m: pb::UpdateGroupRequest = decode(message)?;
                    let arn = self.entity(EntityKind::Group, &m.group_name, None).await;
                    let also = renamed_arn(&arn, m.new_path.as_deref(), m.new_group_name.as_deref());
                    Ask { also: also.into_iter().collect(), ..ask(Action::UpdateGroup, arn, none()) }
                }
                "ListGroups" => ask(Action::ListGroups, self.all("group"), none()),
                "AddUserToGroup" | "RemoveUserFromGroup" => {
                    let (action, group) = match name {
                        "AddUserToGroup" => {
                            (Action::AddUserToGroup, decode::<pb::AddUserToGroupRequest>(message)?.group_name)
                        }
                        _ => {
                            (Action::RemoveUserFromGroup, decode::<pb::RemoveUserFromGroupRequest>(message)?.group_name)
                        }
                    };
                    ask(action, self.entity(EntityKind::Group, &group, None).await, none())
                }
                "ListGroupsForUser" => {
                    let m: pb::ListGroupsForUserRequest = decode(message)?;
                    ask(Action::ListGroupsForUser, self.user(&m.user_name).await, none())
                }
                "CreateRole" => {
                    let m: pb::CreateRoleRequest = decode(message)?;
                    let arn = self.entity(EntityKind::Role, &m.role_name, m.path.as_deref()).await;
                    let inputs = Inputs { boundary: m.permissions_boundary, tags: tags(&m.tags), ..none() };
                    ask(Action::CreateRole, arn, inputs)
                }
                "GetRole" | "UpdateRole" | "UpdateAssumeRolePolicy" | "DeleteRole" => {
                    let (action, role) = match name {
                        "GetRole" => (Action::GetRole, decode::<pb::GetRoleRequest>(message)?.role_name),
                        "UpdateRole" => (Action::UpdateRole, decode::<pb::UpdateRoleRequest>(message)?.role_name),
                        "UpdateAssumeRolePolicy" => (
                            Action::UpdateAssumeRolePolicy,
                            decode::<pb::UpdateAssumeRolePolicyRequest>(message)?.role_name,
                        ),
                        _ => (Action::DeleteRole, decode::<pb::DeleteRoleRequest>(message)?.role_name),
                    };
                    ask(action, self.entity(EntityKind::Role, &role, None).await, none())
                }
                "ListRoles" => ask(Action::ListRoles, self.all("role"), none()),
                "TagResource" => {
                    let m: pb::TagResourceRequest = decode(message)?;
                    let ([tag, _, _], arn) = self.taggable(m.resource.as_ref()).await?;
                    ask(tag, arn, Inputs { tags: tags(&m.tags), ..none() })
                }
                "UntagResource" => {
                    let m: pb::UntagResourceRequest = decode(message)?;
                    let ([_, untag, _], arn) = self.taggable(m.resource.as_ref()).await?;
                    ask(untag, arn, Inputs { tag_keys: m.tag_keys, ..none() })
                }
                "ListResourceTags" => {
                    let m: pb::ListResourceTagsRequest = decode(message)?;
                    let ([_, _, list], arn) = self.taggable(m.resource.as_ref()).await?;
                    ask(list, arn, none())
                }
                "PutPermissionsBoundary" | "DeletePermissionsBoundary" => {
                    let (entity, boundary) = match name {
                        "PutPermissionsBoundary" => {
                            let m: pb::PutPermissionsBoundaryRequest = decode(message)?;
                            (m.entity, Some(m.permissions_boundary))
                        }
                        _ => (decode::<pb::DeletePermissionsBoundaryRequest>(message)?.entity, None),
                    };
                    let (kind, entity_name) = kind(entity.as_ref())?;
                    let action = match (kind, boundary.is_some()) {
                        (EntityKind::User, true) => Action::PutUserPermissionsBoundary,
                        (EntityKind::User, false) => Action::DeleteUserPermissionsBoundary,
                        (EntityKind::Role, true) => Action::PutRolePermissionsBoundary,
                        (EntityKind::Role, false) => Action::DeleteRolePermissionsBoundary,
                        (EntityKind::Group, _) => {
                            return Err(ServiceError::new(
                                ErrorCode::InvalidInput,
                                "Permissions boundaries apply to users and roles only.",
                            ));
                        }
                    };
                    let arn = self.entity(kind, entity_name, None).await;
                    ask(action, arn, Inputs { boundary, ..none() })
                }
                "CreateAccessKey" | "ListAccessKeys" | "UpdateAccessKey" | "DeleteAccessKey" => {
                    let (action, user) = match name {
                        "CreateAccessKey" => {
                            (Action::CreateAccessKey, decode::<pb::CreateAccessKeyRequest>(message)?.user_name)
                        }
                        "ListAccessKeys" => {
                            (Action::ListAccessKeys, decode::<pb::ListAccessKeysRequest>(message)?.user_name)
                        }
                        "UpdateAccessKey" => {
                            (Action::UpdateAccessKey, decode::<pb::UpdateAccessKeyRequest>(message)?.user_name)
                        }
                        _ => (Action::DeleteAccessKey, decode::<pb::DeleteAccessKeyRequest>(message)?.user_name),
                    };
                    ask(action, self.user_or_caller(user.as_deref()).await?, none())
                }
                "GetAccessKeyLastUsed" => {
                    let m: pb::GetAccessKeyLastUsedRequest = decode(message)?;
                    let used = self
                        .identity
                        .get_access_key_last_used(self.account, &m.access_key_id)
                        .await
                        .map_err(|e| e.into_service_error())?;
                    // A key of the account root (no user name) is the root's.
                    let owner = if used.user_name.is_empty() {
                        tessera_arn::Arn::root(self.account.id()).to_string()
                    } else {
                        self.user(&used.user_name).await
                    };
                    ask(Action::GetAccessKeyLastUsed, owner, none())
                }
                "CreateLoginProfile" | "GetLoginProfile" | "UpdateLoginProfile" | "DeleteLoginProfile" => {
                    let (action, user) = match name {
                        "CreateLoginProfile" => {
                            (Action::CreateLoginProfile, decode::<pb::CreateLoginProfileRequest>(message)?.user_name)
                        }
                        "GetLoginProfile" => {
                            (Action::GetLoginProfile, decode::<pb::GetLoginProfileRequest>(message)?.user_name)
                        }
                        "UpdateLoginProfile" => {
                            (Action::UpdateLoginProfile, decode::<pb::UpdateLoginProfileRequest>(message)?.user_name)
                        }
                        _ => (Action::DeleteLoginProfile, decode::<pb::DeleteLoginProfileRequest>(message)?.user_name),
                    };
                    ask(action, self.user_or_caller(Some(&user)).await?, none())
                }
                "ChangePassword" => {
                    let m: pb::ChangePasswordRequest = decode(message)?;
                    let arn = self.user_or_caller(Some(&m.user_name)).await?;
                    let own = self.user.is_some_and(|own| own == m.user_name || m.user_name.is_empty());
                    Ask { change_own_password: own, ..ask(Action::ChangePassword, arn, none()) }
                }
                "UpdateAccountPasswordPolicy" => ask(Action::UpdateAccountPasswordPolicy, "*".into(), none()),
                "GetAccountPasswordPolicy" => ask(Action::GetAccountPasswordPolicy, "*".into(), none()),
                "DeleteAccountPasswordPolicy" => ask(Action::DeleteAccountPasswordPolicy, "*".into(), none()),
                "CreateVirtualMfaDevice" => {
                    let m: pb::CreateVirtualMfaDeviceRequest = decode(message)?;
                    let path = m.path.filter(|p| !p.is_empty()).unwrap_or_else(|| "/".into());
                    let arn = self.arn(IamEntity::Mfa { path, name: m.virtual_mfa_device_name });
                    ask(Action::CreateVirtualMFADevice, arn, Inputs { tags: tags(&m.tags), ..none() })
                }
                "EnableMfaDevice" | "ResyncMfaDevice" => {
                    let (action, user) = match name {
                        "EnableMfaDevice" => {
                            (Action::EnableMFADevice, decode::<pb::EnableMfaDeviceRequest>(message)?.user_name)
                        }
                        _ => (Action::ResyncMFADevice, decode::<pb::ResyncMfaDeviceRequest>(message)?.user_name),
                    };
                    ask(action, self.user(&user).await, none())
                }
                "DeactivateMfaDevice" => {
                    let m: pb::DeactivateMfaDeviceRequest = decode(message)?;
                    ask(Action::DeactivateMFADevice, self.user_or_caller(m.user_name.as_deref()).await?, none())
                }
                "DeleteVirtualMfaDevice" => {
                    let m: pb::DeleteVirtualMfaDeviceRequest = decode(message)?;
                    ask(Action::DeleteVirtualMFADevice, m.serial_number, none())
                }
                "ListMfaDevices" => {
                    let m: pb::ListMfaDevicesRequest = decode(message)?;
                    ask(Action::ListMFADevices, self.user_or_caller(m.user_name.as_deref()).await?, none())
                }
                "ListVirtualMfaDevices" => ask(Action::ListVirtualMFADevices, "*".into(), none()),
                "CreateOpenIdConnectProvider" => {
                    let m: pb::CreateOpenIdConnectProviderRequest = decode(message)?;
                    let url = m.url.strip_prefix("https://").unwrap_or(&m.url).to_owned();
                    let arn = self.arn(IamEntity::OidcProvider { url });
                    ask(Action::CreateOpenIDConnectProvider, arn, Inputs { tags: tags(&m.tags), ..none() })
                }
                "GetOpenIdConnectProvider"
                | "DeleteOpenIdConnectProvider"
                | "AddClientIdToOpenIdConnectProvider"
                | "RemoveClientIdFromOpenIdConnectProvider"
                | "UpdateOpenIdConnectProviderThumbprint" => {
                    // AWS spells these `OpenIDConnect` and `ClientID`.
                    let (action, arn) = match name {
                        "GetOpenIdConnectProvider" => (
                            Action::GetOpenIDConnectProvider,
                            decode::<pb::GetOpenIdConnectProviderRequest>(message)?.open_id_connect_provider_arn,
                        ),
                        "DeleteOpenIdConnectProvider" => (
                            Action::DeleteOpenIDConnectProvider,
                            decode::<pb::DeleteOpenIdConnectProviderRequest>(message)?.open_id_connect_provider_arn,
                        ),
                        "AddClientIdToOpenIdConnectProvider" => (
                            Action::AddClientIDToOpenIDConnectProvider,
                            decode::<pb::AddClientIdToOpenIdConnectProviderRequest>(message)?
                                .open_id_connect_provider_arn,
                        ),
                        "RemoveClientIdFromOpenIdConnectProvider" => (
                            Action::RemoveClientIDFromOpenIDConnectProvider,
                            decode::<pb::RemoveClientIdFromOpenIdConnectProviderRequest>(message)?
                                .open_id_connect_provider_arn,
                        ),
                        _ => (
                            Action::UpdateOpenIDConnectProviderThumbprint,
                            decode::<pb::UpdateOpenIdConnectProviderThumbprintRequest>(message)?
                                .open_id_connect_provider_arn,
                        ),
                    };
                    ask(action, arn, none())
                }
                "ListOpenIdConnectProviders" => ask(Action::ListOpenIDConnectProviders, "*".into(), none()),
                // SAML providers
                "CreateSamlProvider" => {
                    let m: pb::CreateSamlProviderRequest = decode(message)?;
                    let arn = self.arn(IamEntity::SamlProvider { name: m.name });
                    ask(Action::CreateSAMLProvider, arn, Inputs { tags: tags(&m.tags), ..none() })
                }
                "GetSamlProvider" => {
                    let arn = decode::<pb::GetSamlProviderRequest>(message)?.saml_provider_arn;
                    ask(Action::GetSAMLProvider, arn, none())
                }
                "UpdateSamlProvider" => {
                    let arn = decode::<pb::UpdateSamlProviderRequest>(message)?.saml_provider_arn;
                    ask(Action::UpdateSAMLProvider, arn, none())
                }
                "DeleteSamlProvider" => {
                    let arn = decode::<pb::DeleteSamlProviderRequest>(message)?.saml_provider_arn;
                    ask(Action::DeleteSAMLProvider, arn, none())
                }
                "ListSamlProviders" => ask(Action::ListSAMLProviders, "*".into(), none()),
                "GetAccountAuthorizationDetails" => ask(Action::GetAccountAuthorizationDetails, "*".into(), none()),
                "GenerateCredentialReport" => ask(Action::GenerateCredentialReport, "*".into(), none()),
                // Outbound web identity federation (issue 14, part C).
                "SetOutboundWebIdentityFederation" => {
                    let action = if decode::<pb::SetOutboundWebIdentityFederationRequest>(message)?.enabled {
                        Action::EnableOutboundWebIdentityFederation
                    } else {
                        Action::DisableOutboundWebIdentityFederation
                    };
                    ask(action, "*".into(), none())
                }
                // SSH public keys (issue 14, part B): the user is required, except to list.
                "UploadSshPublicKey" => {
                    let m: pb::UploadSshPublicKeyRequest = decode(message)?;
                    ask(Action::UploadSSHPublicKey, self.user(&m.user_name).await, none())
                }
                "GetSshPublicKey" => {
                    let m: pb::GetSshPublicKeyRequest = decode(message)?;
                    ask(Action::GetSSHPublicKey, self.user(&m.user_name).await, none())
                }
                "ListSshPublicKeys" => {
                    let m: pb::ListSshPublicKeysRequest = decode(message)?;
                    ask(Action::ListSSHPublicKeys, self.user_or_caller(m.user_name.as_deref()).await?, none())
                }
                "UpdateSshPublicKey" => {
                    let m: pb::UpdateSshPublicKeyRequest = decode(message)?;
                    ask(Action::UpdateSSHPublicKey, self.user(&m.user_name).await, none())
                }
                "DeleteSshPublicKey" => {
                    let m: pb::DeleteSshPublicKeyRequest = decode(message)?;
                    ask(Action::DeleteSSHPublicKey, self.user(&m.user_name).await, none())
                }
                // Signing certificates (issue 14, part B): the user defaults to the caller.
                "UploadSigningCertificate"
                | "ListSigningCertificates"
                | "UpdateSigningCertificate"
                | "DeleteSigningCertificate" => {
                    let (action, user) = match name {
                        "UploadSigningCertificate" => (
                            Action::UploadSigningCertificate,
                            decode::<pb::UploadSigningCertificateRequest>(message)?.user_name,
                        ),
                        "ListSigningCertificates" => (
                            Action::ListSigningCertificates,
                            decode::<pb::ListSigningCertificatesRequest>(message)?.user_name,
                        ),
                        "UpdateSigningCertificate" => (
                            Action::UpdateSigningCertificate,
                            decode::<pb::UpdateSigningCertificateRequest>(message)?.user_name,
                        ),
                        _ => (
                            Action::DeleteSigningCertificate,
                            decode::<pb::DeleteSigningCertificateRequest>(message)?.user_name,
                        ),
                    };
                    ask(action, self.user_or_caller(user.as_deref()).await?, none())
                }
                // Service-specific credentials (issue 14, part B).
                "CreateServiceSpecificCredential" => {
                    let m: pb::CreateServiceSpecificCredentialRequest = decode(message)?;
                    ask(Action::CreateServiceSpecificCredential, self.user(&m.user_name).await, none())
                }
                "ResetServiceSpecificCredential"
                | "ListServiceSpecificCredentials"
                | "UpdateServiceSpecificCredential"
                | "DeleteServiceSpecificCredential" => {
                    let (action, user) = match name {
                        "ResetServiceSpecificCredential" => (
                            Action::ResetServiceSpecificCredential,
                            decode::<pb::ResetServiceSpecificCredentialRequest>(message)?.user_name,
                        ),
                        "ListServiceSpecificCredentials" => (
                            Action::ListServiceSpecificCredentials,
                            decode::<pb::ListServiceSpecificCredentialsRequest>(message)?.user_name,
                        ),
                        "UpdateServiceSpecificCredential" => (
                            Action::UpdateServiceSpecificCredential,
                            decode::<pb::UpdateServiceSpecificCredentialRequest>(message)?.user_name,
                        ),
                        _ => (
                            Action::DeleteServiceSpecificCredential,
                            decode::<pb::DeleteServiceSpecificCredentialRequest>(message)?.user_name,
                        ),
                    };
                    ask(action, self.user_or_caller(user.as_deref()).await?, none())
                }
                // Server certificates (issue 14, part B).
                "UploadServerCertificate" => {
                    let m: pb::UploadServerCertificateRequest = decode(message)?;
                    let arn = self.server_certificate(&m.server_certificate_name, m.path.as_deref()).await;
                    ask(Action::UploadServerCertificate, arn, Inputs { tags: tags(&m.tags), ..none() })
                }
                "GetServerCertificate" => {
                    let m: pb::GetServerCertificateRequest = decode(message)?;
                    let arn = self.server_certificate(&m.server_certificate_name, None).await;
                    ask(Action::GetServerCertificate, arn, none())
                }
                "ListServerCertificates" => ask(Action::ListServerCertificates, "*".into(), none()),
                "UpdateServerCertificate" => {
                    let m: pb::UpdateServerCertificateRequest = decode(message)?;
                    let stored =
                        self.identity.get_server_certificate(self.account, &m.server_certificate_name).await.ok();
                    let arn = self.server_certificate(&m.server_certificate_name, None).await;
                    let path = stored.map_or_else(|| "/".to_owned(), |c| c.path);
                    let renamed = tessera_identity::server_certificate_arn(
                        self.account.id(),
                        m.new_path.as_deref().filter(|p| !p.is_empty()).unwrap_or(&path),
                        m.new_server_certificate_name
                            .as_deref()
                            .filter(|n| !n.is_empty())
                            .unwrap_or(&m.server_certificate_name),
                    );
                    let mut asked = ask(Action::UpdateServerCertificate, arn.clone(), none());
                    if renamed != arn {
                        asked.also.push(renamed);
                    }
                    asked
                }
                "DeleteServerCertificate" => {
                    let m: pb::DeleteServerCertificateRequest = decode(message)?;
                    let arn = self.server_certificate(&m.server_certificate_name, None).await;
                    ask(Action::DeleteServerCertificate, arn, none())
                }
                "GetOutboundWebIdentityFederation" => {
                    ask(Action::GetOutboundWebIdentityFederationInfo, "*".into(), none())
                }
                "GetCredentialReport" => ask(Action::GetCredentialReport, "*".into(), none()),
                // ---- Issue 14, part A.
                "CreateInstanceProfile" => {
                    let m: pb::CreateInstanceProfileRequest = decode(message)?;
                    let arn = self.instance_profile(&m.instance_profile_name, m.path.as_deref()).await;
                    ask(Action::CreateInstanceProfile, arn, Inputs { tags: tags(&m.tags), ..none() })
                }
                "GetInstanceProfile" | "DeleteInstanceProfile" => {
                    let (action, profile) = match name {
                        "GetInstanceProfile" => (
                            Action::GetInstanceProfile,
                            decode::<pb::GetInstanceProfileRequest>(message)?.instance_profile_name,
                        ),
                        _ => (
                            Action::DeleteInstanceProfile,
                            decode::<pb::DeleteInstanceProfileRequest>(message)?.instance_profile_name,
                        ),
                    };
                    ask(action, self.instance_profile(&profile, None).await, none())
                }
                "ListInstanceProfiles" => ask(Action::ListInstanceProfiles, self.all("instance-profile"), none()),
                "ListInstanceProfilesForRole" => {
                    let m: pb::ListInstanceProfilesForRoleRequest = decode(message)?;
                    let arn = self.entity(EntityKind::Role, &m.role_name, None).await;
                    ask(Action::ListInstanceProfilesForRole, arn, none())
                }
                "AddRoleToInstanceProfile" => {
                    let m: pb::AddRoleToInstanceProfileRequest = decode(message)?;
                    let arn = self.instance_profile(&m.instance_profile_name, None).await;
                    let role = self.entity(EntityKind::Role, &m.role_name, None).await;
                    Ask { passed_role: Some(role), ..ask(Action::AddRoleToInstanceProfile, arn, none()) }
                }
                "RemoveRoleFromInstanceProfile" => {
                    let m: pb::RemoveRoleFromInstanceProfileRequest = decode(message)?;
                    let arn = self.instance_profile(&m.instance_profile_name, None).await;
                    ask(Action::RemoveRoleFromInstanceProfile, arn, none())
                }
                "CreateAccountAlias" => ask(Action::CreateAccountAlias, "*".into(), none()),
                "DeleteAccountAlias" => ask(Action::DeleteAccountAlias, "*".into(), none()),
                "ListAccountAliases" => ask(Action::ListAccountAliases, "*".into(), none()),
                "CreateServiceLinkedRole" => {
                    let m: pb::CreateServiceLinkedRoleRequest = decode(message)?;
                    let (path, role) =
                        service_linked::authorized_path_and_name(&m.aws_service_name, m.custom_suffix.as_deref());
                    let arn = self.arn(IamEntity::Role { path, name: role });
                    let inputs = Inputs { aws_service_name: Some(m.aws_service_name), ..none() };
                    ask(Action::CreateServiceLinkedRole, arn, inputs)
                }
                "DeleteServiceLinkedRole" => {
                    let m: pb::DeleteServiceLinkedRoleRequest = decode(message)?;
                    let arn = self.entity(EntityKind::Role, &m.role_name, None).await;
                    ask(Action::DeleteServiceLinkedRole, arn, none())
                }
                "GetServiceLinkedRoleDeletionStatus" => {
                    let m: pb::GetServiceLinkedRoleDeletionStatusRequest = decode(message)?;
                    let (path, role) = service_linked::task_path_and_name(&m.deletion_task_id);
                    let arn = self.arn(IamEntity::Role { path, name: role });
                    ask(Action::GetServiceLinkedRoleDeletionStatus, arn, none())
                }
                "GetMfaDevice" => {
                    let m: pb::GetMfaDeviceRequest = decode(message)?;
                    ask(Action::GetMFADevice, self.user_or_caller(m.user_name.as_deref()).await?, none())
                }
                "SetSecurityTokenServicePreferences" => {
                    ask(Action::SetSecurityTokenServicePreferences, "*".into(), none())
                }
                // ---- End of issue 14, part A.
                _ => return Ok(None),
            },
            ("tessera.policy.v1.PolicyService", name) => match name {
                "CreatePolicy" => {
                    let m: ppb::CreatePolicyRequest = decode(message)?;
                    let path = m.path.filter(|p| !p.is_empty()).unwrap_or_else(|| "/".into());
                    let arn = self.arn(IamEntity::Policy { path, name: m.policy_name });
                    ask(Action::CreatePolicy, arn, Inputs { tags: tags(&m.tags), ..none() })
                }
                "ListPolicies" => ask(Action::ListPolicies, self.all("policy"), none()),
                "GetPolicy"
                | "DeletePolicy"
                | "CreatePolicyVersion"
                | "GetPolicyVersion"
                | "ListPolicyVersions"
                | "DeletePolicyVersion"
                | "SetDefaultPolicyVersion"
                | "ListEntitiesForPolicy" => {
                    let (action, arn) = match name {
                        "GetPolicy" => (Action::GetPolicy, decode::<ppb::GetPolicyRequest>(message)?.policy_arn),
                        "DeletePolicy" => {
                            (Action::DeletePolicy, decode::<ppb::DeletePolicyRequest>(message)?.policy_arn)
                        }
                        "CreatePolicyVersion" => (
                            Action::CreatePolicyVersion,
                            decode::<ppb::CreatePolicyVersionRequest>(message)?.policy_arn,
                        ),
                        "GetPolicyVersion" => {
                            (Action::GetPolicyVersion, decode::<ppb::GetPolicyVersionRequest>(message)?.policy_arn)
                        }
                        "ListPolicyVersions" => {
                            (Action::ListPolicyVersions, decode::<ppb::ListPolicyVersionsRequest>(message)?.policy_arn)
                        }
                        "DeletePolicyVersion" => (
                            Action::DeletePolicyVersion,
                            decode::<ppb::DeletePolicyVersionRequest>(message)?.policy_arn,
                        ),
                        "SetDefaultPolicyVersion" => (
                            Action::SetDefaultPolicyVersion,
                            decode::<ppb::SetDefaultPolicyVersionRequest>(message)?.policy_arn,
                        ),
                        _ => (
                            Action::ListEntitiesForPolicy,
                            decode::<ppb::ListEntitiesForPolicyRequest>(message)?.policy_arn,
                        ),
                    };
                    ask(action, arn, none())
                }
                "AttachPolicy" | "DetachPolicy" => {
                    let (entity, policy_arn) = match name {
                        "AttachPolicy" => {
                            let m: ppb::AttachPolicyRequest = decode(message)?;
                            (m.entity, m.policy_arn)
                        }
                        _ => {
                            let m: ppb::DetachPolicyRequest = decode(message)?;
                            (m.entity, m.policy_arn)
                        }
                    };
                    let (kind, entity_name) = kind(entity.as_ref())?;
                    let action = if name == "AttachPolicy" {
                        per_kind(kind, [Action::AttachUserPolicy, Action::AttachGroupPolicy, Action::AttachRolePolicy])
                    } else {
                        per_kind(kind, [Action::DetachUserPolicy, Action::DetachGroupPolicy, Action::DetachRolePolicy])
                    };
                    let arn = self.entity(kind, entity_name, None).await;
                    ask(action, arn, Inputs { policy_arn: Some(policy_arn), ..none() })
                }
                "ListAttachedPolicies" => {
                    let m: ppb::ListAttachedPoliciesRequest = decode(message)?;
                    let (kind, entity_name) = kind(m.entity.as_ref())?;
                    let action = per_kind(
                        kind,
                        [
                            Action::ListAttachedUserPolicies,
                            Action::ListAttachedGroupPolicies,
                            Action::ListAttachedRolePolicies,
                        ],
                    );
                    ask(action, self.entity(kind, entity_name, None).await, none())
                }
                "PutInlinePolicy" | "GetInlinePolicy" | "DeleteInlinePolicy" | "ListInlinePolicies" => {
                    let entity = match name {
                        "PutInlinePolicy" => decode::<ppb::PutInlinePolicyRequest>(message)?.entity,
                        "GetInlinePolicy" => decode::<ppb::GetInlinePolicyRequest>(message)?.entity,
                        "DeleteInlinePolicy" => decode::<ppb::DeleteInlinePolicyRequest>(message)?.entity,
                        _ => decode::<ppb::ListInlinePoliciesRequest>(message)?.entity,
                    };
                    let (kind, entity_name) = kind(entity.as_ref())?;
                    let actions = match name {
                        "PutInlinePolicy" => [Action::PutUserPolicy, Action::PutGroupPolicy, Action::PutRolePolicy],
                        "GetInlinePolicy" => [Action::GetUserPolicy, Action::GetGroupPolicy, Action::GetRolePolicy],
                        "DeleteInlinePolicy" => {
                            [Action::DeleteUserPolicy, Action::DeleteGroupPolicy, Action::DeleteRolePolicy]
                        }
                        _ => [Action::ListUserPolicies, Action::ListGroupPolicies, Action::ListRolePolicies],
                    };
                    ask(per_kind(kind, actions), self.entity(kind, entity_name, None).await, none())
                }
                _ => return Ok(None),
            },
            ("tessera.sts.v1.StsService", name) => match name {
                "GetFederationToken" => {
                    let m: spb::GetFederationTokenRequest = decode(message)?;
                    let arn = Arn::federated_user(self.account.id(), &m.name).to_string();
                    ask(Action::GetFederationToken, arn, Inputs { tags: tags(&m.tags), ..none() })
                }
                "GetAccessKeyInfo" => ask(Action::GetAccessKeyInfo, "*".into(), none()),
                "DecodeAuthorizationMessage" => ask(Action::DecodeAuthorizationMessage, "*".into(), none()),
                "GetWebIdentityToken" => ask(Action::GetWebIdentityToken, "*".into(), none()),
                // Tessera's own revocation and incident-response actions (AWS has none): on the
                // role or principal they act on; a session id names no resource.
                "RevokeSession" => ask(Action::RevokeSession, "*".into(), none()),
                "ListRevocations" => ask(Action::ListRevocations, "*".into(), none()),
                "RevokeRoleSessions" => {
                    ask(Action::RevokeRoleSessions, decode::<spb::RevokeRoleSessionsRequest>(message)?.role_arn, none())
                }
                "RevokePrincipalSessions" => {
                    let arn = decode::<spb::RevokePrincipalSessionsRequest>(message)?.principal_arn;
                    ask(Action::RevokePrincipalSessions, arn, none())
                }
                "StopIssuing" => ask(Action::StopIssuing, decode::<spb::StopIssuingRequest>(message)?.arn, none()),
                "ResumeIssuing" => {
                    ask(Action::ResumeIssuing, decode::<spb::ResumeIssuingRequest>(message)?.arn, none())
                }
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        Ok(Some(out))
    }
}
