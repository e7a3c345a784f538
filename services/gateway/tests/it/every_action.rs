//! Every action of the action table, sent well-formed by a user with no permissions, is refused
//! before it has any effect: the answer is `AccessDenied` (or, for the calls AWS lets anyone
//! make, what AWS answers) and the store holds exactly what it held before. The test walks
//! `Action::ALL`, so an action added to the table is covered as soon as it has a fixture here.

use crate::common;

use std::collections::BTreeMap;

use crate::common::{Creds, code, start, tag};
use tessera_gateway::actions::Action;
use tessera_store::iam::KEY_USED;
use tessera_store::{Key, Namespace, Store};

const DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#;
const THUMBPRINT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Every key of `ns` with its version (a write to any key changes its version), but the records
/// of when each long-term key was last used: the gateway writes them in the background for any
/// request a key signs, at most once a minute, whatever the request.
async fn snapshot<S: Store>(store: &S, ns: &Namespace) -> BTreeMap<String, u64> {
    let key_use = Key::new(ns, KEY_USED, "");
    let prefix = Key::namespace_prefix(ns);
    let mut out = BTreeMap::new();
    let mut after: Option<Key> = None;
    loop {
        let page = store.scan_prefix(&prefix, after.as_ref(), 500).await.expect("scan");
        let full = page.len() == 500;
        for (key, value) in page {
            if !key.starts_with(&key_use) {
                out.insert(key.as_str().to_owned(), value.version);
            }
            after = Some(key);
        }
        if !full {
            return out;
        }
    }
}

/// What the store holds: the account's namespace and the global one.
async fn state<S: Store>(store: &S, account: &Namespace) -> Vec<BTreeMap<String, u64>> {
    vec![snapshot(store, account).await, snapshot(store, &Namespace::global()).await]
}

/// The names that fixtures refer to, created by the root before the calls.
struct Fixture {
    account: String,
    policy_arn: String,
    serial: String,
    oidc_arn: String,
    key_id: String,
}

/// A job id of the model's form (36 characters) that names no job.
const JOB_ID: &str = "00000000-0000-4000-8000-000000000000";
/// A delegation request id of the model's form that names no request.
const DELEGATION_REQUEST: &str = "dr-0123456789abcdef";

impl Fixture {
    /// A well-formed request for `action`, on the fixture's entities; `None` when there is no
    /// fixture yet (the test then fails, naming the action).
    fn params(&self, action: Action) -> Option<Vec<(&'static str, String)>> {
        let s = |v: &str| v.to_owned();
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"sts:AssumeRole"}}]}}"#,
            self.account
        );
        let role_arn = format!("arn:aws:iam::{}:role/role", self.account);
        let user = ("UserName", s("target"));
        let group = ("GroupName", s("team"));
        let role = ("RoleName", s("role"));
        let policy = ("PolicyArn", self.policy_arn.clone());
        let oidc = ("OpenIDConnectProviderArn", self.oidc_arn.clone());
        let serial = ("SerialNumber", self.serial.clone());
        let tags = [("Tags.member.1.Key", s("team")), ("Tags.member.1.Value", s("core"))];
        let tag_keys = ("TagKeys.member.1", s("team"));
        let inline = ("PolicyName", s("inline"));
        let document = ("PolicyDocument", s(DOCUMENT));
        let key = ("AccessKeyId", self.key_id.clone());
        let version = ("VersionId", s("v1"));
        let ssh_key = ("SSHPublicKeyId", s("APKAEXAMPLEEXAMPLE000"));
        let certificate = ("CertificateId", s("EXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAM"));
        let server_certificate = ("ServerCertificateName", s("web"));
        let credential = ("ServiceSpecificCredentialId", s("ACCAEXAMPLEEXAMPLE000"));
        let profile = ("InstanceProfileName", s("profile"));
        // SAML providers: authorization comes first, so the provider need not exist.
        let saml = || ("SAMLProviderArn", format!("arn:aws:iam::{}:saml-provider/idp", self.account));
        use Action as A;
        Some(match action {
            A::CreateUser => vec![("UserName", s("new-user"))],
            A::GetUser
            | A::DeleteUser
            | A::CreateAccessKey
            | A::ListAccessKeys
            | A::ListGroupsForUser
            | A::ListUserTags
            | A::DeleteUserPermissionsBoundary
            | A::ListAttachedUserPolicies
            | A::ListUserPolicies
            | A::GetLoginProfile
            | A::DeleteLoginProfile
            | A::ListMFADevices => vec![user],
            A::ListUsers
            | A::ListGroups
            | A::ListRoles
            | A::ListPolicies
            | A::GetAccountPasswordPolicy
            | A::DeleteAccountPasswordPolicy
            | A::ListVirtualMFADevices
            | A::ListOpenIDConnectProviders
            | A::GetAccountSummary
            | A::GetAccountAuthorizationDetails
            | A::GenerateCredentialReport
            | A::GetCredentialReport
            | A::GetSessionToken
            | A::GetCallerIdentity => vec![],
            A::UpdateUser => vec![user, ("NewUserName", s("renamed"))],
            A::UpdateAccessKey => vec![user, key, ("Status", s("Inactive"))],
            A::DeleteAccessKey => vec![user, key],
            A::GetAccessKeyLastUsed | A::GetAccessKeyInfo => vec![key],
            A::CreateGroup => vec![("GroupName", s("new-group"))],
            A::GetGroup | A::DeleteGroup | A::ListAttachedGroupPolicies | A::ListGroupPolicies => vec![group],
            A::UpdateGroup => vec![group, ("NewGroupName", s("renamed-team"))],
            A::AddUserToGroup => vec![group, ("UserName", s("nobody"))],
            A::RemoveUserFromGroup => vec![group, user],
            A::CreateRole => vec![("RoleName", s("new-role")), ("AssumeRolePolicyDocument", trust)],
            A::GetRole
            | A::DeleteRole
            | A::ListRoleTags
            | A::DeleteRolePermissionsBoundary
            | A::ListAttachedRolePolicies
            | A::ListRolePolicies => vec![role],
            A::UpdateRole | A::UpdateRoleDescription => vec![role, ("Description", s("changed"))],
            A::UpdateAssumeRolePolicy => vec![role, ("PolicyDocument", trust)],
            A::TagUser => [vec![user], tags.to_vec()].concat(),
            A::UntagUser => vec![user, tag_keys],
            A::TagRole => [vec![role], tags.to_vec()].concat(),
            A::UntagRole => vec![role, tag_keys],
            A::TagPolicy => [vec![policy], tags.to_vec()].concat(),
            A::UntagPolicy => vec![policy, tag_keys],
            A::ListPolicyTags | A::GetPolicy | A::DeletePolicy | A::ListPolicyVersions | A::ListEntitiesForPolicy => {
                vec![policy]
            }
            A::TagOpenIDConnectProvider => [vec![oidc], tags.to_vec()].concat(),
            A::UntagOpenIDConnectProvider => vec![oidc, tag_keys],
            A::ListOpenIDConnectProviderTags | A::GetOpenIDConnectProvider | A::DeleteOpenIDConnectProvider => {
                vec![oidc]
            }
            A::TagMFADevice => [vec![serial], tags.to_vec()].concat(),
            A::UntagMFADevice => vec![serial, tag_keys],
            A::ListMFADeviceTags | A::DeleteVirtualMFADevice => vec![serial],
            A::PutUserPermissionsBoundary => vec![user, ("PermissionsBoundary", self.policy_arn.clone())],
            A::PutRolePermissionsBoundary => vec![role, ("PermissionsBoundary", self.policy_arn.clone())],
            A::CreatePolicy => vec![("PolicyName", s("new-policy")), document],
            A::CreatePolicyVersion => vec![policy, document],
            A::GetPolicyVersion | A::DeletePolicyVersion | A::SetDefaultPolicyVersion => vec![policy, version],
            A::AttachUserPolicy | A::DetachUserPolicy => vec![user, policy],
            A::AttachGroupPolicy | A::DetachGroupPolicy => vec![group, policy],
            A::AttachRolePolicy | A::DetachRolePolicy => vec![role, policy],
            A::PutUserPolicy => vec![user, inline, document],
            A::GetUserPolicy | A::DeleteUserPolicy => vec![user, inline],
            A::PutGroupPolicy => vec![group, inline, document],
            A::GetGroupPolicy | A::DeleteGroupPolicy => vec![group, inline],
            A::PutRolePolicy => vec![role, inline, document],
            A::GetRolePolicy | A::DeleteRolePolicy => vec![role, inline],
            A::SimulateCustomPolicy => {
                vec![("PolicyInputList.member.1", s(DOCUMENT)), ("ActionNames.member.1", s("iam:GetUser"))]
            }
            A::SimulatePrincipalPolicy => vec![
                ("PolicySourceArn", format!("arn:aws:iam::{}:user/target", self.account)),
                ("ActionNames.member.1", s("iam:GetUser")),
            ],
            A::CreateLoginProfile => vec![("UserName", s("nobody")), ("Password", s("Correct-Horse-42"))],
            A::UpdateLoginProfile => vec![user, ("Password", s("Correct-Horse-43"))],
            A::ChangePassword => vec![("OldPassword", s("Correct-Horse-42")), ("NewPassword", s("Correct-Horse-44"))],
            A::UpdateAccountPasswordPolicy => vec![("MinimumPasswordLength", s("12"))],
            A::CreateVirtualMFADevice => vec![("VirtualMFADeviceName", s("new-mfa"))],
            A::EnableMFADevice | A::ResyncMFADevice => {
                vec![user, serial, ("AuthenticationCode1", s("123456")), ("AuthenticationCode2", s("654321"))]
            }
            A::DeactivateMFADevice => vec![user, serial],
            A::CreateOpenIDConnectProvider => {
                vec![("Url", s("https://new.example.com")), ("ThumbprintList.member.1", s(THUMBPRINT))]
            }
            A::AddClientIDToOpenIDConnectProvider | A::RemoveClientIDFromOpenIDConnectProvider => {
                vec![oidc, ("ClientID", s("client"))]
            }
            A::UpdateOpenIDConnectProviderThumbprint => vec![oidc, ("ThumbprintList.member.1", s(THUMBPRINT))],
            A::AssumeRole => vec![("RoleArn", role_arn), ("RoleSessionName", s("session"))],
            A::AssumeRoleWithWebIdentity => {
                vec![("RoleArn", role_arn), ("RoleSessionName", s("session")), ("WebIdentityToken", s("not.a.token"))]
            }
            A::GetFederationToken => vec![("Name", s("federated"))],
            A::DecodeAuthorizationMessage => vec![("EncodedMessage", s("bm90IGEgbWVzc2FnZQ"))],
            // Access information, outbound federation, Organizations and delegation (issue 14, part C).
            A::GetContextKeysForCustomPolicy => vec![("PolicyInputList.member.1", s(DOCUMENT))],
            A::GetContextKeysForPrincipalPolicy => {
                vec![("PolicySourceArn", format!("arn:aws:iam::{}:user/target", self.account))]
            }
            A::GenerateServiceLastAccessedDetails => {
                vec![("Arn", format!("arn:aws:iam::{}:user/target", self.account))]
            }
            A::ListPoliciesGrantingServiceAccess => vec![
                ("Arn", format!("arn:aws:iam::{}:user/target", self.account)),
                ("ServiceNamespaces.member.1", s("iam")),
            ],
            A::GetServiceLastAccessedDetails | A::GetOrganizationsAccessReport => vec![("JobId", s(JOB_ID))],
            A::GetServiceLastAccessedDetailsWithEntities => vec![("JobId", s(JOB_ID)), ("ServiceNamespace", s("iam"))],
            A::EnableOutboundWebIdentityFederation
            | A::DisableOutboundWebIdentityFederation
            | A::GetOutboundWebIdentityFederationInfo
            | A::EnableOrganizationsRootCredentialsManagement
            | A::DisableOrganizationsRootCredentialsManagement
            | A::EnableOrganizationsRootSessions
            | A::DisableOrganizationsRootSessions
            | A::ListOrganizationsFeatures
            | A::ListDelegationRequests => vec![],
            A::GenerateOrganizationsAccessReport => vec![("EntityPath", s("o-a1b2c3d4e5/r-ab12"))],
            A::CreateDelegationRequest => vec![
                ("Description", s("d")),
                ("Permissions.PolicyTemplateArn", s("arn:aws:iam::aws:policy/template")),
                ("RequestorWorkflowId", s("workflow-1")),
                ("NotificationChannel", s("arn:aws:sns:us-east-1:123456789012:t")),
                ("SessionDuration", s("3600")),
            ],
            A::GetDelegationRequest
            | A::AcceptDelegationRequest
            | A::AssociateDelegationRequest
            | A::RejectDelegationRequest
            | A::UpdateDelegationRequest
            | A::SendDelegationToken => vec![("DelegationRequestId", s(DELEGATION_REQUEST))],
            A::GetHumanReadableSummary => {
                vec![("EntityArn", format!("arn:aws:iam::{}:delegation-request/{DELEGATION_REQUEST}", self.account))]
            }
            A::GetWebIdentityToken => vec![("Audience.member.1", s("a")), ("SigningAlgorithm", s("ES256"))],
            A::AssumeRoot => vec![
                ("TargetPrincipal", s("111122223333")),
                ("TaskPolicyArn.arn", s("arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials")),
            ],
            // SSH keys, certificates and service-specific credentials (issue 14, part B).
            A::UploadSSHPublicKey => vec![user, ("SSHPublicKeyBody", s("ssh-ed25519 AAAA"))],
            A::GetSSHPublicKey => vec![user, ssh_key, ("Encoding", s("SSH"))],
            A::ListSSHPublicKeys | A::ListSigningCertificates | A::ListServiceSpecificCredentials => vec![user],
            A::UpdateSSHPublicKey => vec![user, ssh_key, ("Status", s("Inactive"))],
            A::DeleteSSHPublicKey => vec![user, ssh_key],
            A::UploadSigningCertificate => vec![user, ("CertificateBody", s("not a certificate"))],
            A::UpdateSigningCertificate => vec![user, certificate, ("Status", s("Inactive"))],
            A::DeleteSigningCertificate => vec![user, certificate],
            A::UploadServerCertificate => {
                vec![server_certificate, ("CertificateBody", s("not a certificate")), ("PrivateKey", s("not a key"))]
            }
            A::GetServerCertificate | A::DeleteServerCertificate | A::ListServerCertificateTags => {
                vec![server_certificate]
            }
            A::ListServerCertificates => vec![],
            A::UpdateServerCertificate => vec![server_certificate, ("NewServerCertificateName", s("web2"))],
            A::TagServerCertificate => [vec![server_certificate], tags.to_vec()].concat(),
            A::UntagServerCertificate => vec![server_certificate, tag_keys],
            A::CreateServiceSpecificCredential => vec![user, ("ServiceName", s("codecommit.amazonaws.com"))],
            A::ResetServiceSpecificCredential | A::DeleteServiceSpecificCredential => vec![user, credential],
            A::UpdateServiceSpecificCredential => vec![user, credential, ("Status", s("Inactive"))],
            A::GetDelegatedAccessToken => vec![("TradeInToken", "a".repeat(64))],
            // ---- Issue 14, part A.
            A::CreateInstanceProfile => vec![("InstanceProfileName", s("new-profile"))],
            A::GetInstanceProfile | A::DeleteInstanceProfile | A::ListInstanceProfileTags => vec![profile],
            A::ListInstanceProfiles | A::ListAccountAliases => vec![],
            A::ListInstanceProfilesForRole | A::DeleteServiceLinkedRole => vec![role],
            A::AddRoleToInstanceProfile | A::RemoveRoleFromInstanceProfile => vec![profile, role],
            A::TagInstanceProfile => [vec![profile], tags.to_vec()].concat(),
            A::UntagInstanceProfile => vec![profile, tag_keys],
            A::CreateAccountAlias | A::DeleteAccountAlias => vec![("AccountAlias", s("my-alias"))],
            A::CreateServiceLinkedRole => vec![("AWSServiceName", s("ecs.amazonaws.com"))],
            A::GetServiceLinkedRoleDeletionStatus => vec![(
                "DeletionTaskId",
                s("task/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS/00000000-0000-4000-8000-000000000000"),
            )],
            A::GetMFADevice => vec![user, serial],
            A::SetSecurityTokenServicePreferences => vec![("GlobalEndpointTokenVersion", s("v2Token"))],
            // SAML providers
            A::CreateSAMLProvider => vec![("Name", s("new-idp")), ("SAMLMetadataDocument", "x".repeat(1000))],
            A::ListSAMLProviders => vec![],
            A::GetSAMLProvider | A::DeleteSAMLProvider | A::ListSAMLProviderTags => vec![saml()],
            A::UpdateSAMLProvider => vec![saml(), ("SAMLMetadataDocument", "x".repeat(1000))],
            A::TagSAMLProvider => [vec![saml()], tags.to_vec()].concat(),
            A::UntagSAMLProvider => vec![saml(), tag_keys],
            A::AssumeRoleWithSAML => vec![
                ("RoleArn", role_arn),
                ("PrincipalArn", saml().1),
                ("SAMLAssertion", s("bm90IGFuIGFzc2VydGlvbg==")),
            ],
            _ => return None,
        })
    }
}

/// What a caller without permissions gets from `action`, where it is not `AccessDenied`: the
/// calls AWS lets anyone make, and the unsigned web identity call (refused for its token).
fn expected(action: Action) -> (u16, &'static str) {
    match action {
        Action::GetCallerIdentity | Action::GetSessionToken => (200, ""),
        Action::AssumeRoleWithWebIdentity => (400, "InvalidIdentityToken"),
        // SAML providers: refused for its assertion (here: no such provider).
        Action::AssumeRoleWithSAML => (400, "InvalidIdentityToken"),
        _ => (403, "AccessDenied"),
    }
}

/// A call as the account root that must succeed; its body.
async fn as_root(h: &common::Harness, params: Vec<(&'static str, String)>) -> String {
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = h.root(&params).await;
    assert_eq!(status, 200, "{params:?}: {body}");
    body
}

#[tokio::test]
async fn every_action_is_authorized_before_any_effect() {
    let h = start().await;
    let account = h.account.id().to_owned();
    // The root sets up one of everything the actions name.
    let root = |params: Vec<(&'static str, String)>| as_root(&h, params);
    let s = |v: &str| v.to_owned();
    for user in ["target", "nobody"] {
        root(vec![("Action", s("CreateUser")), ("UserName", s(user))]).await;
    }
    root(vec![("Action", s("CreateGroup")), ("GroupName", s("team"))]).await;
    root(vec![("Action", s("AddUserToGroup")), ("GroupName", s("team")), ("UserName", s("target"))]).await;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    root(vec![("Action", s("CreateRole")), ("RoleName", s("role")), ("AssumeRolePolicyDocument", trust)]).await;
    let created =
        root(vec![("Action", s("CreatePolicy")), ("PolicyName", s("managed")), ("PolicyDocument", s(DOCUMENT))]).await;
    let policy_arn = tag(&created, "Arn").expect("the policy's ARN").to_owned();
    for (entity, name) in [("User", "target"), ("Group", "team"), ("Role", "role")] {
        let field = match entity {
            "User" => "UserName",
            "Group" => "GroupName",
            _ => "RoleName",
        };
        let inline = vec![
            ("Action", format!("Put{entity}Policy")),
            (field, s(name)),
            ("PolicyName", s("inline")),
            ("PolicyDocument", s(DOCUMENT)),
        ];
        root(inline).await;
        root(vec![("Action", format!("Attach{entity}Policy")), (field, s(name)), ("PolicyArn", policy_arn.clone())])
            .await;
    }
    for (action, name, tag_key) in [("TagUser", "UserName", "target"), ("TagRole", "RoleName", "role")] {
        root(vec![
            ("Action", s(action)),
            (name, s(tag_key)),
            ("Tags.member.1.Key", s("team")),
            ("Tags.member.1.Value", s("core")),
        ])
        .await;
    }
    root(vec![("Action", s("CreateInstanceProfile")), ("InstanceProfileName", s("profile"))]).await;
    root(vec![("Action", s("CreateLoginProfile")), ("UserName", s("target")), ("Password", s("Correct-Horse-41"))])
        .await;
    let device = root(vec![("Action", s("CreateVirtualMFADevice")), ("VirtualMFADeviceName", s("mfa"))]).await;
    let serial = tag(&device, "SerialNumber").expect("the device's serial").to_owned();
    let provider = root(vec![
        ("Action", s("CreateOpenIDConnectProvider")),
        ("Url", s("https://oidc.example.com")),
        ("ThumbprintList.member.1", s(THUMBPRINT)),
    ])
    .await;
    let oidc_arn = tag(&provider, "OpenIDConnectProviderArn").expect("the provider's ARN").to_owned();
    let key = h.identity.create_access_key(&h.account, "target").await.expect("a key of the target");
    let fixture = Fixture { account: account.clone(), policy_arn, serial, oidc_arn, key_id: key.access_key_id };

    let own = h.identity.create_access_key(&h.account, "nobody").await.expect("the caller's key");
    let nobody = Creds {
        access_key_id: own.access_key_id.clone(),
        secret: own.secret_access_key.expose().to_owned(),
        token: None,
    };

    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for &action in Action::ALL.iter().filter(|a| a.is_served()) {
        let Some(params) = fixture.params(action) else {
            missing.push(action.name());
            continue;
        };
        let mut request: Vec<(&str, &str)> = vec![("Action", action.name())];
        request.extend(params.iter().map(|(k, v)| (*k, v.as_str())));
        let before = state(&*h.store, h.account.ns()).await;
        let (status, body) = h.call(&nobody, &request).await;
        let after = state(&*h.store, h.account.ns()).await;
        let (want_status, want_code) = expected(action);
        // Every wrong answer is reported, not only the first.
        if (status, code(&body)) != (want_status, want_code) {
            wrong.push(format!("{}: want {want_status} {want_code:?}, got {status}: {body}", action.name()));
            continue;
        }
        if want_status == 403 {
            let denied = format!("perform: {} on resource:", action.qualified());
            assert!(body.contains(&denied), "{}: denied for another action: {body}", action.name());
        }
        // GetSessionToken issues credentials (and may record the session): AWS lets anyone.
        if action != Action::GetSessionToken {
            assert_eq!(before, after, "{} changed the store", action.name());
        }
        checked += 1;
    }
    assert!(missing.is_empty(), "no fixture for {missing:?}: add one to `Fixture::params`");
    assert!(wrong.is_empty(), "{} wrong answers:\n{}", wrong.len(), wrong.join("\n"));
    assert!(checked > 100, "{checked}");
}
