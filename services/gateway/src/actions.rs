//! The one table of the actions Tessera knows: per action its service, the resource type and
//! condition keys of AWS's service authorization reference, the resource it is authorized on
//! (how its ARN comes from the request), and its handler. Everything about an action is derived
//! from its row: the [`Action`] enum, dispatch, the authorization that must come before the
//! handler, the audit trail's action name, the issuance rate limit, [`OPERATIONS`] for the
//! decision's request keys, and the gRPC gate's action names.
//!
//! ```text
//! Action=GetUser --Action::served--> session_may_call --issuance limit--> Action::authorize
//!   (resource of the row: read the target once, its ARN) --authz::authorize--> Authorized
//!   --handler(cx, Authorized)--> XML
//! ```
//!
//! **Fails closed by construction:** a handler takes an [`Authorized`], which only
//! [`Action::authorize`] makes, after the authorization its row declares (the rows that need no
//! permission say so: `nothing()`, `trust()`, `unsigned()`).

use tessera_arn::{Arn, IamEntity};
use tessera_awsapi::{IAM_NAMESPACE, IAM_VERSION, QueryError, STS_NAMESPACE, STS_VERSION};
use tessera_identity::{AccessKeyLastUsed, Error, InstanceProfile, server_certificate_arn, service_linked};
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::{EntityKind, RoleRecord, UserRecord};

use crate::authz::{BOUNDARY, POLICY_ARN, REQUEST_TAG, TAG_KEYS, Target, renamed_arn};
use crate::context::{Cx, Result};
use crate::iam::{access, certificates, credentials, entities, policies, standalone, users};
// Issue 14, part A.
use crate::authz::AWS_SERVICE_NAME;
use crate::iam::{account_settings, instance_profiles, service_linked_roles};
// SAML providers
use crate::iam::saml;
use crate::sts;

/// Which API an action belongs to: its version, XML namespace and policy prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Iam,
    Sts,
}

impl Service {
    pub(crate) fn version(self) -> &'static str {
        match self {
            Self::Iam => IAM_VERSION,
            Self::Sts => STS_VERSION,
        }
    }

    pub(crate) fn namespace(self) -> &'static str {
        match self {
            Self::Iam => IAM_NAMESPACE,
            Self::Sts => STS_NAMESPACE,
        }
    }

    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Self::Iam => "iam",
            Self::Sts => "sts",
        }
    }
}

/// The resource types of AWS's reference that Tessera's actions act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResourceType {
    User,
    Group,
    Role,
    Policy,
    OidcProvider,
    Mfa,
    /// `server-certificate/<path><name>` (issue 14, part B).
    ServerCertificate,
    FederatedUser,
    /// An account's root user (`arn:aws:iam::<account>:root`): `sts:AssumeRoot`'s target.
    Root,
    /// A temporary delegation request (`arn:aws:iam::<account>:delegation-request/<id>`).
    DelegationRequest,
    // SAML providers
    SamlProvider,
    /// No resource type: the action is authorized on `*`.
    Any,
    // Issue 14, part A.
    InstanceProfile,
}

impl ResourceType {
    /// The condition keys the resource type brings (its tags, for the taggable ones).
    pub(crate) fn keys(self) -> &'static [&'static str] {
        match self {
            Self::User
            | Self::Role
            | Self::Policy
            | Self::OidcProvider
            | Self::Mfa
            | Self::InstanceProfile
            | Self::SamlProvider
            | Self::ServerCertificate => &["aws:ResourceTag/${TagKey}", "iam:ResourceTag/${TagKey}"],
            Self::Group | Self::FederatedUser | Self::Root | Self::DelegationRequest | Self::Any => &[],
        }
    }
}

/// One action's row of AWS's service authorization reference: the action, the resource type it
/// is authorized on, and the condition keys the action itself supports (besides the global
/// `aws:*` keys of the caller).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operation {
    pub(crate) action: &'static str,
    pub(crate) resource: ResourceType,
    pub(crate) keys: &'static [&'static str],
}

/// The rate limits an action's requests count against (`limit.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// The request rates per access key, principal and account, which every signed request
    /// counts against when it is authenticated.
    Requests,
    /// Those, and the issuance of temporary credentials per principal.
    Issuance,
}

impl Resource {
    /// The parameter that names the resource, when one must be present.
    fn required_param(self) -> Option<&'static str> {
        Some(match self {
            Resource::Entity(_, param) | Resource::Rename(_, param, _) | Resource::Param(param) => param,
            Resource::NewPolicy => "PolicyName",
            Resource::NewMfa => "VirtualMFADeviceName",
            Resource::NewOidc => "Url",
            Resource::InstanceProfile => "InstanceProfileName",
            Resource::NewServiceLinkedRole => "AWSServiceName",
            Resource::DeletionTask => "DeletionTaskId",
            Resource::FederatedUser => "Name",
            Resource::TargetRoot => "TargetPrincipal",
            Resource::DelegationRequest => "DelegationRequestId",
            Resource::KeyOwner => "AccessKeyId",
            _ => return None,
        })
    }
}

/// How a request names the resource its action is authorized on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    /// The user, group or role a required parameter names: its stored ARN (read once, and
    /// shared with the handler), else one built from `Path` (`/` when none).
    Entity(EntityKind, &'static str),
    /// `UserName`, or the calling user when omitted (as AWS defaults it).
    UserOrCaller,
    /// A user or group being renamed (`NewPath`, the new-name parameter): the current and the new
    /// ARN, as AWS authorizes both.
    Rename(EntityKind, &'static str, &'static str),
    /// Every entity of a kind (`user/*`): the `List*` actions.
    All(&'static str),
    /// `*`: the actions without a resource type.
    Star,
    /// The instance profile `InstanceProfileName` names: its stored ARN (read once, and shared
    /// with the handler), else one built from `Path` (issue 14, part A).
    InstanceProfile,
    /// The service-linked role `CreateServiceLinkedRole` would create for `AWSServiceName` (and
    /// `CustomSuffix`).
    NewServiceLinkedRole,
    /// The service-linked role a `DeletionTaskId` names (`aws-service-role/*` when it names none).
    DeletionTask,
    /// `UserName`, else the calling user, else (the account root calling) the account root.
    UserOrRoot,
    /// A required parameter that is the resource's ARN.
    Param(&'static str),
    /// The managed policy `PolicyName` and `Path` would create.
    NewPolicy,
    /// The virtual MFA device `VirtualMFADeviceName` and `Path` would create.
    NewMfa,
    /// The OIDC provider `Url` would create.
    NewOidc,
    /// `federated-user/<Name>`.
    FederatedUser,
    /// The root of the account `TargetPrincipal` names (an account id, or an ARN as given).
    TargetRoot,
    /// `delegation-request/<DelegationRequestId>` of this account.
    DelegationRequest,
    // SAML providers
    /// The SAML provider `Name` would create.
    NewSaml,
    /// The user owning the access key `AccessKeyId` (GetAccessKeyLastUsed learns it from the key).
    KeyOwner,
    /// The calling IAM user's own password: the account's `AllowUsersToChangePassword` may grant it.
    OwnPassword,
    /// The server certificate `ServerCertificateName` names: its stored ARN, else one built from
    /// `Path` (`/` when none); with `NewPath`/`NewServerCertificateName`, the renamed ARN too
    /// (issue 14, part B).
    ServerCertificate,
    /// No permission needed (GetCallerIdentity, GetSessionToken), as on AWS.
    Nothing,
    /// The token service's trust evaluation decides (AssumeRole).
    Trust,
    /// Not signed: the web identity token is the credential, checked by the token service.
    Unsigned,
    /// Not served over the Query API: a part of AssumeRole's trust evaluation (`sts:TagSession`,
    /// `sts:SetSourceIdentity`) or a gRPC-only operation.
    NotServed,
}

const fn user(param: &'static str) -> Resource {
    Resource::Entity(EntityKind::User, param)
}
const fn group(param: &'static str) -> Resource {
    Resource::Entity(EntityKind::Group, param)
}
const fn role(param: &'static str) -> Resource {
    Resource::Entity(EntityKind::Role, param)
}
const fn param(name: &'static str) -> Resource {
    Resource::Param(name)
}
const fn all(noun: &'static str) -> Resource {
    Resource::All(noun)
}

const NONE: &[&str] = &[];
const CREATE_TAGGED: &[&str] = &[REQUEST_TAG, TAG_KEYS];
const CREATE_BOUNDED: &[&str] = &[BOUNDARY, REQUEST_TAG, TAG_KEYS];
const ATTACH_BOUNDED: &[&str] = &[BOUNDARY, POLICY_ARN];
const ATTACH: &[&str] = &[POLICY_ARN];
const BOUNDED: &[&str] = &[BOUNDARY];
const UNTAG: &[&str] = &[TAG_KEYS];
/// Keys the token service fills itself while it evaluates the trust policy.
const ASSUME_ROLE: &[&str] =
    &[REQUEST_TAG, TAG_KEYS, "sts:ExternalId", "sts:RoleSessionName", "sts:SourceIdentity", "sts:TransitiveTagKeys"];
const TAG_SESSION: &[&str] = &[REQUEST_TAG, TAG_KEYS, "sts:TransitiveTagKeys"];
const SOURCE_IDENTITY: &[&str] = &["sts:SourceIdentity"];
const SERVICE_LINKED: &[&str] = &[AWS_SERVICE_NAME];

/// Calls a row's handler, or answers `InvalidAction` for a row without one.
macro_rules! call {
    ($cx:ident, $auth:ident) => {{
        let _ = $auth;
        Err(not_served($cx.action))
    }};
    ($cx:ident, $auth:ident, $module:ident :: $handler:ident $(, $arg:expr)*) => {
        $module::$handler($cx, $auth $(, $arg)*).await
    };
}

/// Declares [`Action`], [`OPERATIONS`] and dispatch from one table, so that an action cannot be
/// served without its reference row, its resource and its authorization.
macro_rules! actions {
    (@service iam) => { Service::Iam };
    (@service sts) => { Service::Sts };
    (@limit) => { Limit::Requests };
    (@limit $limit:ident) => { Limit::$limit };
    ($(
        $variant:ident : $service:ident $rtype:ident $keys:expr, $resource:expr
        $(, before [$($before:literal),*])?
        $(, limit $limit:ident)?
        $(=> $module:ident :: $handler:ident $(($($arg:expr),*))?)?;
    )*) => {
        /// An IAM or STS action: its name is the variant's (`Action::GetUser` is `GetUser`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($variant,)*
        }

        /// AWS's service authorization reference for IAM and STS, for the actions Tessera knows,
        /// in [`Action`] order.
        pub(crate) const OPERATIONS: &[Operation] = &[
            $(Operation {
                action: concat!(stringify!($service), ":", stringify!($variant)),
                resource: ResourceType::$rtype,
                keys: $keys,
            },)*
        ];

        impl Action {
            /// Every action of the table, in table order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The action's name (`GetUser`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($variant),)*
                }
            }

            /// The action with this name (case-sensitive, as AWS's), served or not.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $(stringify!($variant) => Some(Self::$variant),)*
                    _ => None,
                }
            }

            pub(crate) fn service(self) -> Service {
                match self {
                    $(Self::$variant => actions!(@service $service),)*
                }
            }

            /// How the request names the resource the action is authorized on.
            pub(crate) fn resource(self) -> Resource {
                match self {
                    $(Self::$variant => $resource,)*
                }
            }

            /// Required parameters checked before authorization (after the resource's own), so
            /// that a request missing one fails the same way whoever sends it.
            fn before(self) -> &'static [&'static str] {
                match self {
                    $(Self::$variant => &[$($($before),*)?],)*
                }
            }

            /// The rate limits a request of the action counts against.
            pub(crate) fn limit(self) -> Limit {
                match self {
                    $(Self::$variant => actions!(@limit $($limit)?),)*
                }
            }

            /// Runs the action's handler, which only an authorization can let run.
            pub(crate) async fn handle<S: Store>(self, cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
                match self {
                    $(Self::$variant => call!(cx, auth $(, $module::$handler $($(, $arg)*)?)?),)*
                }
            }
        }
    };
}

actions! {
    // action: service resource-type keys, resource [, before [parameters]] [, limit Limit]
    //     [=> handler];
    // Users and their access keys.
    CreateUser: iam User CREATE_BOUNDED, user("UserName") => users::create_user;
    GetUser: iam User NONE, Resource::UserOrCaller => users::get_user;
    ListUsers: iam Any NONE, all("user") => users::list_users;
    UpdateUser: iam User NONE, Resource::Rename(EntityKind::User, "UserName", "NewUserName") => users::update_user;
    DeleteUser: iam User NONE, user("UserName") => users::delete_user;
    CreateAccessKey: iam User NONE, Resource::UserOrCaller => users::create_access_key;
    ListAccessKeys: iam User NONE, Resource::UserOrCaller => users::list_access_keys;
    UpdateAccessKey: iam User NONE, Resource::UserOrCaller => users::update_access_key;
    DeleteAccessKey: iam User NONE, Resource::UserOrCaller => users::delete_access_key;
    GetAccessKeyLastUsed: iam User NONE, Resource::KeyOwner => users::get_access_key_last_used;
    // Groups and memberships.
    CreateGroup: iam Group NONE, group("GroupName") => entities::create_group;
    GetGroup: iam Group NONE, group("GroupName") => entities::get_group;
    ListGroups: iam Any NONE, all("group") => entities::list_groups;
    UpdateGroup: iam Group NONE, Resource::Rename(EntityKind::Group, "GroupName", "NewGroupName")
        => entities::update_group;
    DeleteGroup: iam Group NONE, group("GroupName") => entities::delete_group;
    AddUserToGroup: iam Group NONE, group("GroupName"), before ["UserName"] => entities::add_user_to_group;
    RemoveUserFromGroup: iam Group NONE, group("GroupName"), before ["UserName"]
        => entities::remove_user_from_group;
    ListGroupsForUser: iam User NONE, user("UserName") => entities::list_groups_for_user;
    // Roles.
    CreateRole: iam Role CREATE_BOUNDED, role("RoleName") => entities::create_role;
    GetRole: iam Role NONE, role("RoleName") => entities::get_role;
    ListRoles: iam Any NONE, all("role") => entities::list_roles;
    UpdateRole: iam Role NONE, role("RoleName") => entities::update_role;
    UpdateRoleDescription: iam Role NONE, role("RoleName"), before ["Description"]
        => entities::update_role_description;
    UpdateAssumeRolePolicy: iam Role NONE, role("RoleName"), before ["PolicyDocument"]
        => entities::update_assume_role_policy;
    DeleteRole: iam Role NONE, role("RoleName") => entities::delete_role;
    // Tags.
    TagUser: iam User CREATE_TAGGED, user("UserName") => entities::tag;
    UntagUser: iam User UNTAG, user("UserName") => entities::untag;
    ListUserTags: iam User NONE, user("UserName") => entities::list_tags;
    TagRole: iam Role CREATE_TAGGED, role("RoleName") => entities::tag;
    UntagRole: iam Role UNTAG, role("RoleName") => entities::untag;
    ListRoleTags: iam Role NONE, role("RoleName") => entities::list_tags;
    TagPolicy: iam Policy CREATE_TAGGED, param("PolicyArn") => entities::tag;
    UntagPolicy: iam Policy UNTAG, param("PolicyArn") => entities::untag;
    ListPolicyTags: iam Policy NONE, param("PolicyArn") => entities::list_tags;
    TagOpenIDConnectProvider: iam OidcProvider CREATE_TAGGED, param("OpenIDConnectProviderArn") => entities::tag;
    UntagOpenIDConnectProvider: iam OidcProvider UNTAG, param("OpenIDConnectProviderArn") => entities::untag;
    ListOpenIDConnectProviderTags: iam OidcProvider NONE, param("OpenIDConnectProviderArn") => entities::list_tags;
    TagMFADevice: iam Mfa CREATE_TAGGED, param("SerialNumber") => entities::tag;
    UntagMFADevice: iam Mfa UNTAG, param("SerialNumber") => entities::untag;
    ListMFADeviceTags: iam Mfa NONE, param("SerialNumber") => entities::list_tags;
    // Permissions boundaries.
    PutUserPermissionsBoundary: iam User BOUNDED, user("UserName"), before ["PermissionsBoundary"]
        => entities::put_boundary(EntityKind::User);
    DeleteUserPermissionsBoundary: iam User BOUNDED, user("UserName") => entities::delete_boundary(EntityKind::User);
    PutRolePermissionsBoundary: iam Role BOUNDED, role("RoleName"), before ["PermissionsBoundary"]
        => entities::put_boundary(EntityKind::Role);
    DeleteRolePermissionsBoundary: iam Role BOUNDED, role("RoleName") => entities::delete_boundary(EntityKind::Role);
    // Managed policies and attachments.
    CreatePolicy: iam Policy CREATE_TAGGED, Resource::NewPolicy => policies::create_policy;
    GetPolicy: iam Policy NONE, param("PolicyArn") => policies::get_policy;
    ListPolicies: iam Any NONE, all("policy") => policies::list_policies;
    DeletePolicy: iam Policy NONE, param("PolicyArn") => policies::delete_policy;
    CreatePolicyVersion: iam Policy NONE, param("PolicyArn") => policies::create_policy_version;
    GetPolicyVersion: iam Policy NONE, param("PolicyArn") => policies::get_policy_version;
    ListPolicyVersions: iam Policy NONE, param("PolicyArn") => policies::list_policy_versions;
    DeletePolicyVersion: iam Policy NONE, param("PolicyArn") => policies::delete_policy_version;
    SetDefaultPolicyVersion: iam Policy NONE, param("PolicyArn") => policies::set_default_policy_version;
    ListEntitiesForPolicy: iam Policy NONE, param("PolicyArn") => policies::list_entities_for_policy;
    AttachUserPolicy: iam User ATTACH_BOUNDED, user("UserName") => policies::attach(EntityKind::User);
    DetachUserPolicy: iam User ATTACH_BOUNDED, user("UserName") => policies::detach(EntityKind::User);
    ListAttachedUserPolicies: iam User NONE, user("UserName") => policies::list_attached(EntityKind::User);
    AttachGroupPolicy: iam Group ATTACH, group("GroupName") => policies::attach(EntityKind::Group);
    DetachGroupPolicy: iam Group ATTACH, group("GroupName") => policies::detach(EntityKind::Group);
    ListAttachedGroupPolicies: iam Group NONE, group("GroupName") => policies::list_attached(EntityKind::Group);
    AttachRolePolicy: iam Role ATTACH_BOUNDED, role("RoleName") => policies::attach(EntityKind::Role);
    DetachRolePolicy: iam Role ATTACH_BOUNDED, role("RoleName") => policies::detach(EntityKind::Role);
    ListAttachedRolePolicies: iam Role NONE, role("RoleName") => policies::list_attached(EntityKind::Role);
    // Inline policies and the simulator.
    PutUserPolicy: iam User BOUNDED, user("UserName") => policies::put_inline(EntityKind::User);
    GetUserPolicy: iam User NONE, user("UserName") => policies::get_inline(EntityKind::User);
    DeleteUserPolicy: iam User BOUNDED, user("UserName") => policies::delete_inline(EntityKind::User);
    ListUserPolicies: iam User NONE, user("UserName") => policies::list_inline(EntityKind::User);
    PutGroupPolicy: iam Group NONE, group("GroupName") => policies::put_inline(EntityKind::Group);
    GetGroupPolicy: iam Group NONE, group("GroupName") => policies::get_inline(EntityKind::Group);
    DeleteGroupPolicy: iam Group NONE, group("GroupName") => policies::delete_inline(EntityKind::Group);
    ListGroupPolicies: iam Group NONE, group("GroupName") => policies::list_inline(EntityKind::Group);
    PutRolePolicy: iam Role BOUNDED, role("RoleName") => policies::put_inline(EntityKind::Role);
    GetRolePolicy: iam Role NONE, role("RoleName") => policies::get_inline(EntityKind::Role);
    DeleteRolePolicy: iam Role BOUNDED, role("RoleName") => policies::delete_inline(EntityKind::Role);
    ListRolePolicies: iam Role NONE, role("RoleName") => policies::list_inline(EntityKind::Role);
    SimulateCustomPolicy: iam Any NONE, Resource::Star => policies::simulate_custom_policy;
    SimulatePrincipalPolicy: iam User NONE, param("PolicySourceArn") => policies::simulate_principal_policy;
    // Passwords.
    CreateLoginProfile: iam User NONE, user("UserName") => credentials::create_login_profile;
    GetLoginProfile: iam User NONE, Resource::UserOrCaller => credentials::get_login_profile;
    UpdateLoginProfile: iam User NONE, user("UserName") => credentials::update_login_profile;
    DeleteLoginProfile: iam User NONE, user("UserName") => credentials::delete_login_profile;
    ChangePassword: iam User NONE, Resource::OwnPassword => credentials::change_password;
    UpdateAccountPasswordPolicy: iam Any NONE, Resource::Star => credentials::update_account_password_policy;
    GetAccountPasswordPolicy: iam Any NONE, Resource::Star => credentials::get_account_password_policy;
    DeleteAccountPasswordPolicy: iam Any NONE, Resource::Star => credentials::delete_account_password_policy;
    // MFA devices.
    CreateVirtualMFADevice: iam Mfa CREATE_TAGGED, Resource::NewMfa => credentials::create_virtual_mfa_device;
    EnableMFADevice: iam User NONE, user("UserName") => credentials::enable_mfa_device;
    ResyncMFADevice: iam User NONE, user("UserName") => credentials::resync_mfa_device;
    DeactivateMFADevice: iam User NONE, Resource::UserOrCaller => credentials::deactivate_mfa_device;
    DeleteVirtualMFADevice: iam Mfa NONE, param("SerialNumber") => credentials::delete_virtual_mfa_device;
    ListMFADevices: iam User NONE, Resource::UserOrCaller => credentials::list_mfa_devices;
    ListVirtualMFADevices: iam Any NONE, Resource::Star => credentials::list_virtual_mfa_devices;
    // OIDC providers.
    CreateOpenIDConnectProvider: iam OidcProvider CREATE_TAGGED, Resource::NewOidc => credentials::create_oidc_provider;
    GetOpenIDConnectProvider: iam OidcProvider NONE, param("OpenIDConnectProviderArn") => credentials::get_oidc_provider;
    ListOpenIDConnectProviders: iam Any NONE, Resource::Star => credentials::list_oidc_providers;
    DeleteOpenIDConnectProvider: iam OidcProvider NONE, param("OpenIDConnectProviderArn")
        => credentials::delete_oidc_provider;
    AddClientIDToOpenIDConnectProvider: iam OidcProvider NONE, param("OpenIDConnectProviderArn")
        => credentials::add_client_id;
    RemoveClientIDFromOpenIDConnectProvider: iam OidcProvider NONE, param("OpenIDConnectProviderArn")
        => credentials::remove_client_id;
    UpdateOpenIDConnectProviderThumbprint: iam OidcProvider NONE, param("OpenIDConnectProviderArn")
        => credentials::update_thumbprint;
    // The account.
    GetAccountSummary: iam Any NONE, Resource::Star => credentials::get_account_summary;
    GetAccountAuthorizationDetails: iam Any NONE, Resource::Star => credentials::get_account_authorization_details;
    GenerateCredentialReport: iam Any NONE, Resource::Star => credentials::generate_credential_report;
    GetCredentialReport: iam Any NONE, Resource::Star => credentials::get_credential_report;
    // Access information: context keys and service last accessed reports (issue 14, part C).
    GetContextKeysForCustomPolicy: iam Any NONE, Resource::Star => access::get_context_keys_for_custom_policy;
    GetContextKeysForPrincipalPolicy: iam User NONE, param("PolicySourceArn")
        => access::get_context_keys_for_principal_policy;
    GenerateServiceLastAccessedDetails: iam User NONE, param("Arn") => access::generate_service_last_accessed_details;
    GetServiceLastAccessedDetails: iam Any NONE, Resource::Star => access::get_service_last_accessed_details;
    GetServiceLastAccessedDetailsWithEntities: iam Any NONE, Resource::Star
        => access::get_service_last_accessed_details_with_entities;
    ListPoliciesGrantingServiceAccess: iam User NONE, param("Arn") => access::list_policies_granting_service_access;
    // Outbound web identity federation (issue 14, part C).
    EnableOutboundWebIdentityFederation: iam Any NONE, Resource::Star
        => standalone::enable_outbound_web_identity_federation;
    DisableOutboundWebIdentityFederation: iam Any NONE, Resource::Star
        => standalone::disable_outbound_web_identity_federation;
    GetOutboundWebIdentityFederationInfo: iam Any NONE, Resource::Star
        => standalone::get_outbound_web_identity_federation_info;
    // Organizations features, answered as for an account in no organization (issue 14, part C).
    EnableOrganizationsRootCredentialsManagement: iam Any NONE, Resource::Star => standalone::organizations;
    DisableOrganizationsRootCredentialsManagement: iam Any NONE, Resource::Star => standalone::organizations;
    EnableOrganizationsRootSessions: iam Any NONE, Resource::Star => standalone::organizations;
    DisableOrganizationsRootSessions: iam Any NONE, Resource::Star => standalone::organizations;
    ListOrganizationsFeatures: iam Any NONE, Resource::Star => standalone::organizations;
    GenerateOrganizationsAccessReport: iam Any NONE, Resource::Star, before ["EntityPath"] => standalone::organizations;
    GetOrganizationsAccessReport: iam Any NONE, Resource::Star => standalone::get_organizations_access_report;
    // Temporary delegation requests, of which a standalone account has none (issue 14, part C).
    CreateDelegationRequest: iam Any NONE, Resource::Star => standalone::create_delegation_request;
    GetDelegationRequest: iam DelegationRequest NONE, Resource::DelegationRequest => standalone::delegation_request;
    AcceptDelegationRequest: iam DelegationRequest NONE, Resource::DelegationRequest => standalone::delegation_request;
    AssociateDelegationRequest: iam DelegationRequest NONE, Resource::DelegationRequest => standalone::delegation_request;
    RejectDelegationRequest: iam DelegationRequest NONE, Resource::DelegationRequest => standalone::delegation_request;
    UpdateDelegationRequest: iam DelegationRequest NONE, Resource::DelegationRequest => standalone::delegation_request;
    SendDelegationToken: iam DelegationRequest NONE, Resource::DelegationRequest => standalone::delegation_request;
    ListDelegationRequests: iam Any NONE, Resource::Star => standalone::list_delegation_requests;
    // SSH public keys (issue 14, part B).
    UploadSSHPublicKey: iam User NONE, user("UserName"), before ["SSHPublicKeyBody"]
        => certificates::upload_ssh_public_key;
    GetSSHPublicKey: iam User NONE, user("UserName"), before ["SSHPublicKeyId", "Encoding"]
        => certificates::get_ssh_public_key;
    ListSSHPublicKeys: iam User NONE, Resource::UserOrCaller => certificates::list_ssh_public_keys;
    UpdateSSHPublicKey: iam User NONE, user("UserName"), before ["SSHPublicKeyId", "Status"]
        => certificates::update_ssh_public_key;
    DeleteSSHPublicKey: iam User NONE, user("UserName"), before ["SSHPublicKeyId"]
        => certificates::delete_ssh_public_key;
    // Server certificates (issue 14, part B).
    UploadServerCertificate: iam ServerCertificate CREATE_TAGGED, Resource::ServerCertificate,
        before ["CertificateBody", "PrivateKey"] => certificates::upload_server_certificate;
    GetServerCertificate: iam ServerCertificate NONE, Resource::ServerCertificate
        => certificates::get_server_certificate;
    ListServerCertificates: iam Any NONE, Resource::Star => certificates::list_server_certificates;
    UpdateServerCertificate: iam ServerCertificate NONE, Resource::ServerCertificate
        => certificates::update_server_certificate;
    DeleteServerCertificate: iam ServerCertificate NONE, Resource::ServerCertificate
        => certificates::delete_server_certificate;
    // `Tags` and `TagKeys` are lists (`Tags.member.N`): checked by the handlers, as for the others.
    TagServerCertificate: iam ServerCertificate CREATE_TAGGED, Resource::ServerCertificate => entities::tag;
    UntagServerCertificate: iam ServerCertificate UNTAG, Resource::ServerCertificate => entities::untag;
    ListServerCertificateTags: iam ServerCertificate NONE, Resource::ServerCertificate
        => entities::list_tags;
    // Service-specific credentials (issue 14, part B).
    CreateServiceSpecificCredential: iam User NONE, user("UserName"), before ["ServiceName"]
        => certificates::create_service_specific_credential;
    ResetServiceSpecificCredential: iam User NONE, Resource::UserOrCaller, before ["ServiceSpecificCredentialId"]
        => certificates::reset_service_specific_credential;
    ListServiceSpecificCredentials: iam User NONE, Resource::UserOrCaller
        => certificates::list_service_specific_credentials;
    UpdateServiceSpecificCredential: iam User NONE, Resource::UserOrCaller,
        before ["ServiceSpecificCredentialId", "Status"] => certificates::update_service_specific_credential;
    DeleteServiceSpecificCredential: iam User NONE, Resource::UserOrCaller, before ["ServiceSpecificCredentialId"]
        => certificates::delete_service_specific_credential;
    // Signing certificates (issue 14, part B).
    UploadSigningCertificate: iam User NONE, Resource::UserOrCaller, before ["CertificateBody"]
        => certificates::upload_signing_certificate;
    ListSigningCertificates: iam User NONE, Resource::UserOrCaller => certificates::list_signing_certificates;
    UpdateSigningCertificate: iam User NONE, Resource::UserOrCaller, before ["CertificateId", "Status"]
        => certificates::update_signing_certificate;
    DeleteSigningCertificate: iam User NONE, Resource::UserOrCaller, before ["CertificateId"]
        => certificates::delete_signing_certificate;
    GetHumanReadableSummary: iam DelegationRequest NONE, param("EntityArn") => standalone::get_human_readable_summary;
    // ---- Issue 14, part A. Instance profiles.
    CreateInstanceProfile: iam InstanceProfile CREATE_TAGGED, Resource::InstanceProfile
        => instance_profiles::create_instance_profile;
    GetInstanceProfile: iam InstanceProfile NONE, Resource::InstanceProfile => instance_profiles::get_instance_profile;
    DeleteInstanceProfile: iam InstanceProfile NONE, Resource::InstanceProfile
        => instance_profiles::delete_instance_profile;
    ListInstanceProfiles: iam Any NONE, all("instance-profile") => instance_profiles::list_instance_profiles;
    ListInstanceProfilesForRole: iam Role NONE, role("RoleName") => instance_profiles::list_instance_profiles_for_role;
    AddRoleToInstanceProfile: iam InstanceProfile NONE, Resource::InstanceProfile, before ["RoleName"]
        => instance_profiles::add_role_to_instance_profile;
    RemoveRoleFromInstanceProfile: iam InstanceProfile NONE, Resource::InstanceProfile, before ["RoleName"]
        => instance_profiles::remove_role_from_instance_profile;
    TagInstanceProfile: iam InstanceProfile CREATE_TAGGED, Resource::InstanceProfile => entities::tag;
    UntagInstanceProfile: iam InstanceProfile UNTAG, Resource::InstanceProfile => entities::untag;
    ListInstanceProfileTags: iam InstanceProfile NONE, Resource::InstanceProfile => entities::list_tags;
    // Account aliases.
    CreateAccountAlias: iam Any NONE, Resource::Star, before ["AccountAlias"] => account_settings::create_account_alias;
    DeleteAccountAlias: iam Any NONE, Resource::Star, before ["AccountAlias"] => account_settings::delete_account_alias;
    ListAccountAliases: iam Any NONE, Resource::Star => account_settings::list_account_aliases;
    // Service-linked roles.
    CreateServiceLinkedRole: iam Role SERVICE_LINKED, Resource::NewServiceLinkedRole
        => service_linked_roles::create_service_linked_role;
    DeleteServiceLinkedRole: iam Role NONE, role("RoleName") => service_linked_roles::delete_service_linked_role;
    GetServiceLinkedRoleDeletionStatus: iam Role NONE, Resource::DeletionTask
        => service_linked_roles::get_service_linked_role_deletion_status;
    // One MFA device; the account's STS preferences.
    GetMFADevice: iam User NONE, Resource::UserOrRoot, before ["SerialNumber"] => account_settings::get_mfa_device;
    SetSecurityTokenServicePreferences: iam Any NONE, Resource::Star, before ["GlobalEndpointTokenVersion"]
        => account_settings::set_security_token_service_preferences;
    // ---- End of issue 14, part A.
    // SAML providers
    CreateSAMLProvider: iam SamlProvider CREATE_TAGGED, Resource::NewSaml, before ["SAMLMetadataDocument"]
        => saml::create_saml_provider;
    GetSAMLProvider: iam SamlProvider NONE, param("SAMLProviderArn") => saml::get_saml_provider;
    UpdateSAMLProvider: iam SamlProvider NONE, param("SAMLProviderArn") => saml::update_saml_provider;
    DeleteSAMLProvider: iam SamlProvider NONE, param("SAMLProviderArn") => saml::delete_saml_provider;
    ListSAMLProviders: iam Any NONE, Resource::Star => saml::list_saml_providers;
    TagSAMLProvider: iam SamlProvider CREATE_TAGGED, param("SAMLProviderArn") => entities::tag;
    UntagSAMLProvider: iam SamlProvider UNTAG, param("SAMLProviderArn") => entities::untag;
    ListSAMLProviderTags: iam SamlProvider NONE, param("SAMLProviderArn") => entities::list_tags;
    // STS. The AssumeRole family is decided by the token service's trust evaluation, which
    // fills its own keys (and the role's tags); the gateway authorizes the rest.
    AssumeRole: sts Role ASSUME_ROLE, Resource::Trust, limit Issuance => sts::assume_role;
    AssumeRoleWithWebIdentity: sts Role ASSUME_ROLE, Resource::Unsigned;
    // SAML providers
    AssumeRoleWithSAML: sts Role ASSUME_ROLE, Resource::Unsigned;
    TagSession: sts Role TAG_SESSION, Resource::NotServed;
    SetSourceIdentity: sts Role SOURCE_IDENTITY, Resource::NotServed;
    GetFederationToken: sts FederatedUser CREATE_TAGGED, Resource::FederatedUser, limit Issuance
        => sts::get_federation_token;
    GetSessionToken: sts Any NONE, Resource::Nothing, limit Issuance => sts::get_session_token;
    GetCallerIdentity: sts Any NONE, Resource::Nothing => sts::get_caller_identity;
    GetAccessKeyInfo: sts Any NONE, Resource::Star => sts::get_access_key_info;
    DecodeAuthorizationMessage: sts Any NONE, Resource::Star => sts::decode_authorization_message;
    GetWebIdentityToken: sts Any NONE, Resource::Star => sts::get_web_identity_token;
    // Root sessions and delegated access, answered as for an account in no organization (issue 14,
    // part C).
    AssumeRoot: sts Root NONE, Resource::TargetRoot => sts::assume_root;
    GetDelegatedAccessToken: sts Any NONE, Resource::Star => sts::get_delegated_access_token;
    // Tessera's own (gRPC only): revocation and the incident-response stop of issuing, on the
    // role or principal they name (`*` for a session id and for the list).
    RevokeSession: sts Any NONE, Resource::NotServed;
    RevokeRoleSessions: sts Any NONE, Resource::NotServed;
    RevokePrincipalSessions: sts Any NONE, Resource::NotServed;
    ListRevocations: sts Any NONE, Resource::NotServed;
    StopIssuing: sts Any NONE, Resource::NotServed;
    ResumeIssuing: sts Any NONE, Resource::NotServed;
}

/// The row of `action` (`iam:CreateUser`), if Tessera knows it.
pub(crate) fn operation(action: &str) -> Option<&'static Operation> {
    let (_, name) = action.split_once(':')?;
    Action::from_name(name).map(Action::operation).filter(|op| op.action == action)
}

impl Action {
    /// The action served over the Query API under this name.
    pub fn served(name: &str) -> Option<Self> {
        Self::from_name(name).filter(|a| a.is_served())
    }

    /// Whether the Query API serves the action.
    pub fn is_served(self) -> bool {
        self.resource() != Resource::NotServed
    }

    /// The policy prefix of the action's service (`iam`, `sts`).
    pub fn prefix(self) -> &'static str {
        self.service().prefix()
    }

    /// `iam:GetUser`: the action as policies and the audit trail name it.
    pub fn qualified(self) -> &'static str {
        self.operation().action
    }

    /// The resource type AWS's reference authorizes the action on.
    pub(crate) fn resource_type(self) -> ResourceType {
        self.operation().resource
    }

    /// Whether the account root omitting `UserName` acts on itself (AWS: these operations work
    /// for "access keys under the AWS account", so they manage the root's own keys; `GetUser`
    /// answers the root's own shape; the root's MFA devices are listed and deactivated; its console
    /// password is its login profile).
    pub(crate) fn serves_root(self) -> bool {
        matches!(
            self,
            Self::GetUser
                | Self::CreateAccessKey
                | Self::ListAccessKeys
                | Self::UpdateAccessKey
                | Self::DeleteAccessKey
                | Self::ListMFADevices
                | Self::DeactivateMFADevice
                | Self::GetLoginProfile
        )
    }

    /// The action's row of the service authorization reference.
    pub(crate) fn operation(self) -> &'static Operation {
        &OPERATIONS[self as usize]
    }

    /// Authorizes this request's action on the resource its row names, with the context keys
    /// its action supports ([`crate::authz::authorize`], the path the gRPC gate shares), and
    /// returns the proof the handler needs, carrying what was read to decide (the target user or
    /// role, the key's last use) so that the handler does not read it again.
    pub(crate) async fn authorize<S: Store>(self, cx: &Cx<'_, S>) -> Result<Authorized> {
        let mut auth = Authorized { resource: String::new(), name: String::new(), read: Read::Nothing };
        let resource = self.resource();
        // Every required parameter known here at once, so that several missing ones are one
        // `ValidationError` naming each, as AWS answers.
        let mut required: Vec<&str> = resource.required_param().into_iter().collect();
        required.extend(self.before());
        cx.params.required_all(&required)?;
        // The parameters that name the resource, then the ones checked before authorization.
        let name = match resource {
            Resource::Entity(_, param) | Resource::Rename(_, param, _) | Resource::Param(param) => {
                Some(cx.required(param)?)
            }
            Resource::UserOrCaller => Some(cx.user_or_caller()?),
            Resource::NewPolicy => Some(cx.required("PolicyName")?),
            Resource::NewMfa => Some(cx.required("VirtualMFADeviceName")?),
            Resource::NewOidc => Some(cx.required("Url")?),
            Resource::InstanceProfile => Some(cx.required("InstanceProfileName")?),
            Resource::NewServiceLinkedRole => Some(cx.required("AWSServiceName")?),
            Resource::DeletionTask => Some(cx.required("DeletionTaskId")?),
            Resource::UserOrRoot => cx.get("UserName").filter(|n| !n.is_empty()).or_else(|| cx.caller_user()),
            Resource::FederatedUser => Some(cx.required("Name")?),
            Resource::TargetRoot => Some(cx.required("TargetPrincipal")?),
            Resource::DelegationRequest => Some(cx.required("DelegationRequestId")?),
            // SAML providers
            Resource::NewSaml => Some(cx.required("Name")?),
            Resource::ServerCertificate => Some(cx.required("ServerCertificateName")?),
            Resource::KeyOwner => Some(cx.required("AccessKeyId")?),
            Resource::OwnPassword => match cx.caller_user() {
                Some(name) => Some(name),
                None => {
                    return Err(Error::new(
                        ErrorCode::InvalidUserType,
                        "Only IAM users can change their own password; the caller is not an IAM user.",
                    )
                    .into());
                }
            },
            Resource::All(_) | Resource::Star => None,
            Resource::Nothing | Resource::Trust => return Ok(auth),
            Resource::Unsigned | Resource::NotServed => return Err(not_served(self)),
        };
        let name = name.unwrap_or_default();
        for param in self.before() {
            cx.required(param)?;
        }
        let account = cx.account();
        let path = || cx.get("Path").filter(|p| !p.is_empty()).unwrap_or_else(|| "/".to_owned());
        let (mut also, mut key_use) = (None, None);
        let arn = match resource {
            Resource::Entity(kind, _) => self.read_entity(cx, kind, &name, &mut auth).await,
            Resource::UserOrCaller if name.is_empty() => format!("arn:aws:iam::{}:root", account.id()),
            Resource::UserOrCaller | Resource::OwnPassword => {
                self.read_entity(cx, EntityKind::User, &name, &mut auth).await
            }
            Resource::Rename(kind, _, new_name) => {
                let arn = self.read_entity(cx, kind, &name, &mut auth).await;
                also = renamed_arn(&arn, cx.get("NewPath").as_deref(), cx.get(new_name).as_deref());
                arn
            }
            Resource::All(noun) => cx.arn(noun, "/", "*"),
            Resource::Param(_) => name.clone(),
            Resource::NewPolicy => cx.arn("policy", &path(), &name),
            Resource::NewMfa => {
                Arn::iam("aws", account.id(), &IamEntity::Mfa { path: path(), name: name.clone() }).to_string()
            }
            Resource::NewOidc => {
                let url = name.strip_prefix("https://").unwrap_or(&name).to_owned();
                Arn::iam("aws", account.id(), &IamEntity::OidcProvider { url }).to_string()
            }
            Resource::FederatedUser => format!("arn:aws:sts::{}:federated-user/{name}", account.id()),
            Resource::TargetRoot if name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit()) => {
                format!("arn:aws:iam::{name}:root")
            }
            Resource::TargetRoot => name.clone(),
            Resource::DelegationRequest => format!("arn:aws:iam::{}:delegation-request/{name}", account.id()),
            Resource::ServerCertificate => {
                let stored = cx.gateway.identity.get_server_certificate(account, &name).await.ok();
                let (path, arn) = match stored {
                    Some(cert) => (cert.path, cert.arn),
                    None => (path(), server_certificate_arn(account.id(), &path(), &name)),
                };
                let new_path = cx.get("NewPath").filter(|p| !p.is_empty());
                let new_name = cx.get("NewServerCertificateName").filter(|n| !n.is_empty());
                if new_path.is_some() || new_name.is_some() {
                    let renamed = server_certificate_arn(
                        account.id(),
                        new_path.as_deref().unwrap_or(&path),
                        new_name.as_deref().unwrap_or(&name),
                    );
                    also = (renamed != arn).then_some(renamed);
                }
                arn
            }
            Resource::InstanceProfile => {
                let profile = cx.gateway.identity.get_instance_profile(account, &name).await;
                let arn = profile.as_ref().ok().map(|p| p.profile.arn.clone());
                auth.read = Read::InstanceProfile(Box::new(profile));
                arn.unwrap_or_else(|| cx.arn("instance-profile", &path(), &name))
            }
            Resource::NewServiceLinkedRole => {
                let suffix = cx.get("CustomSuffix");
                let (role_path, role_name) = service_linked::authorized_path_and_name(&name, suffix.as_deref());
                cx.arn("role", &role_path, &role_name)
            }
            Resource::UserOrRoot if name.is_empty() => format!("arn:aws:iam::{}:root", account.id()),
            Resource::UserOrRoot => self.read_entity(cx, EntityKind::User, &name, &mut auth).await,
            Resource::DeletionTask => {
                let (role_path, role_name) = service_linked::task_path_and_name(&name);
                cx.arn("role", &role_path, &role_name)
            }
            // SAML providers
            Resource::NewSaml => {
                Arn::iam("aws", account.id(), &IamEntity::SamlProvider { name: name.clone() }).to_string()
            }
            Resource::KeyOwner => {
                let used = cx.gateway.identity.get_access_key_last_used(account, &name).await?;
                // A key of the account root (no user name) is the root's.
                let arn = if used.user_name.is_empty() {
                    Arn::root(account.id()).to_string()
                } else {
                    self.read_entity(cx, EntityKind::User, &used.user_name, &mut auth).await
                };
                key_use = Some(used);
                arn
            }
            _ => "*".to_owned(),
        };
        let mut ask = cx.ask(&arn);
        // The user or role read for the ARN gives the decision its tags and boundary too.
        ask.inputs.target = auth.read.target();
        if let Some(used) = key_use {
            auth.read = Read::KeyUse(used);
        }
        ask.also.extend(also);
        if self == Action::AddRoleToInstanceProfile {
            // AWS: "The caller of this operation must be granted the PassRole permission on the
            // IAM role by a permissions policy."
            let role = cx.required("RoleName")?;
            let stored = cx.gateway.identity.get_role(account, &role).await.ok();
            ask.passed_role = Some(stored.map_or_else(|| cx.arn("role", "/", &role), |r| r.principal.arn));
        }
        ask.change_own_password = resource == Resource::OwnPassword;
        cx.authorize_ask(&ask).await?;
        auth.resource = arn;
        auth.name = name;
        Ok(auth)
    }

    /// A user's, group's or role's ARN: the stored one when it exists (it has the path), else
    /// built from the request's `Path`. A user or role read here is kept for the handler.
    async fn read_entity<S: Store>(
        self,
        cx: &Cx<'_, S>,
        kind: EntityKind,
        name: &str,
        auth: &mut Authorized,
    ) -> String {
        let (identity, account) = (&cx.gateway.identity, cx.account());
        let stored = match kind {
            EntityKind::User => {
                let user = identity.get_user(account, name).await;
                let arn = user.as_ref().ok().map(|u| u.principal.arn.clone());
                auth.read = Read::User(Box::new(user));
                arn
            }
            EntityKind::Role => {
                let role = identity.get_role(account, name).await;
                let arn = role.as_ref().ok().map(|r| r.principal.arn.clone());
                auth.read = Read::Role(Box::new(role));
                arn
            }
            EntityKind::Group => None,
        };
        match stored {
            Some(arn) => arn,
            None => crate::authz::entity_arn(&**identity, account, kind, name, cx.get("Path").as_deref()).await,
        }
    }
}

/// What an authorization read that its handler may use.
#[derive(Debug)]
enum Read {
    Nothing,
    User(Box<std::result::Result<UserRecord, Error>>),
    Role(Box<std::result::Result<RoleRecord, Error>>),
    KeyUse(AccessKeyLastUsed),
    InstanceProfile(Box<std::result::Result<InstanceProfile, Error>>),
}

impl Read {
    /// The tags and boundary of the user or role read (none when it does not exist, as the
    /// decision reads them); `None` when nothing was read.
    fn target(&self) -> Option<Target> {
        Some(
            match self {
                Self::User(user) => {
                    user.as_ref().as_ref().map(|u| Target { tags: u.tags.clone(), boundary: u.boundary.clone() })
                }
                Self::Role(role) => {
                    role.as_ref().as_ref().map(|r| Target { tags: r.tags.clone(), boundary: r.boundary.clone() })
                }
                Self::InstanceProfile(profile) => {
                    profile.as_ref().as_ref().map(|p| Target { tags: p.profile.tags.clone(), boundary: None })
                }
                Self::Nothing | Self::KeyUse(_) => return None,
            }
            .unwrap_or_default(),
        )
    }
}

/// The proof that a request's action was authorized as its row declares: only
/// [`Action::authorize`] makes one, and every handler takes one.
#[derive(Debug)]
pub(crate) struct Authorized {
    /// The ARN authorized (empty when the row needs no permission).
    resource: String,
    /// What named the resource: the user, group or role name, the ARN parameter, the new name.
    name: String,
    read: Read,
}

impl Authorized {
    /// The resource's ARN as authorized.
    pub(crate) fn arn(&self) -> &str {
        &self.resource
    }

    /// The name of the authorized user, group or role (or the value that named the resource).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The authorized user, as read to authorize it (read now if it was not).
    pub(crate) async fn user<S: Store>(self, cx: &Cx<'_, S>) -> Result<UserRecord> {
        match self.read {
            Read::User(user) => Ok((*user)?),
            _ => Ok(cx.gateway.identity.get_user(cx.account(), &self.name).await?),
        }
    }

    /// The authorized role, as read to authorize it (read now if it was not).
    pub(crate) async fn role<S: Store>(self, cx: &Cx<'_, S>) -> Result<RoleRecord> {
        match self.read {
            Read::Role(role) => Ok((*role)?),
            _ => Ok(cx.gateway.identity.get_role(cx.account(), &self.name).await?),
        }
    }

    /// The authorized instance profile, as read to authorize it (read now if it was not).
    pub(crate) async fn instance_profile<S: Store>(self, cx: &Cx<'_, S>) -> Result<InstanceProfile> {
        match self.read {
            Read::InstanceProfile(profile) => Ok((*profile)?),
            _ => Ok(cx.gateway.identity.get_instance_profile(cx.account(), &self.name).await?),
        }
    }

    /// The access key's last use, read to learn its owner (GetAccessKeyLastUsed).
    pub(crate) async fn key_use<S: Store>(self, cx: &Cx<'_, S>) -> Result<AccessKeyLastUsed> {
        match self.read {
            Read::KeyUse(used) => Ok(used),
            _ => Ok(cx.gateway.identity.get_access_key_last_used(cx.account(), &self.name).await?),
        }
    }
}

/// `InvalidAction` for an action the Query API does not serve.
fn not_served(action: Action) -> crate::respond::GatewayError {
    QueryError::invalid_action(action.name(), Some(action.service().version())).into()
}

/// Runs one authenticated request: the restrictions on temporary credentials (reference §4.1,
/// before any parameter is looked at), the issuance rate for the rows that declare it, the
/// authorization the action's row declares, then its handler.
pub(crate) async fn run<S: Store>(cx: &Cx<'_, S>) -> Result<String> {
    crate::authz::session_may_call(&cx.caller, cx.action.qualified())?;
    if cx.action.limit() == Limit::Issuance {
        let principal = cx.caller.principal();
        let principal_arn = principal.role_arn.as_deref().unwrap_or(&cx.caller.arn);
        if !cx.gateway.limiter.admit_issue(principal_arn, std::time::Instant::now()) {
            return Err(Error::new(ErrorCode::Throttling, "Rate exceeded").into());
        }
    }
    let auth = cx.action.authorize(cx).await?;
    cx.action.handle(cx, auth).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_rows_are_in_enum_order() {
        for (i, action) in Action::ALL.iter().enumerate() {
            assert_eq!(*action as usize, i);
            assert_eq!(Action::from_name(action.name()), Some(*action));
            assert_eq!(action.qualified(), format!("{}:{}", action.prefix(), action.name()));
            assert_eq!(operation(action.qualified()).map(|op| op.action), Some(action.qualified()));
        }
        assert!(operation("iam:GetCallerIdentity").is_none(), "the service is part of the name");
        assert!(operation("GetUser").is_none() && operation(":GetUser").is_none());
        assert_eq!(Action::served("GetWebIdentityToken"), Some(Action::GetWebIdentityToken));
        assert_eq!(Action::served("RevokeSession"), None, "gRPC only");
        assert_eq!(Action::served("getuser"), None);
    }

    /// The calls that issue temporary credentials on a caller's behalf count against the
    /// issuance rate (AssumeRoleWithWebIdentity has no caller: its token is its credential).
    #[test]
    fn token_calls_count_against_the_issuance_rate() {
        let issuing: Vec<Action> = Action::ALL.iter().copied().filter(|a| a.limit() == Limit::Issuance).collect();
        assert_eq!(issuing, [Action::AssumeRole, Action::GetFederationToken, Action::GetSessionToken]);
    }

    /// A row's resource names a resource of the type its reference row says.
    #[test]
    fn resources_match_their_resource_types() {
        for action in Action::ALL {
            let expected = match action.resource() {
                Resource::Entity(EntityKind::User, _)
                | Resource::Rename(EntityKind::User, ..)
                | Resource::UserOrCaller
                | Resource::KeyOwner
                | Resource::OwnPassword
                | Resource::UserOrRoot => ResourceType::User,
                Resource::Entity(EntityKind::Group, _) | Resource::Rename(EntityKind::Group, ..) => ResourceType::Group,
                Resource::Entity(EntityKind::Role, _) | Resource::Trust | Resource::Unsigned => ResourceType::Role,
                Resource::Rename(EntityKind::Role, ..) => panic!("roles are not renamed"),
                Resource::NewPolicy => ResourceType::Policy,
                Resource::NewMfa => ResourceType::Mfa,
                Resource::NewOidc => ResourceType::OidcProvider,
                Resource::FederatedUser => ResourceType::FederatedUser,
                Resource::TargetRoot => ResourceType::Root,
                Resource::DelegationRequest => ResourceType::DelegationRequest,
                Resource::InstanceProfile => ResourceType::InstanceProfile,
                Resource::ServerCertificate => ResourceType::ServerCertificate,
                Resource::NewServiceLinkedRole | Resource::DeletionTask => ResourceType::Role,
                Resource::NewSaml => ResourceType::SamlProvider,
                Resource::All(_) | Resource::Star | Resource::Nothing => ResourceType::Any,
                Resource::Param(_) | Resource::NotServed => action.operation().resource,
            };
            assert_eq!(action.operation().resource, expected, "{action:?}");
        }
    }
}
