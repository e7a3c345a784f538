//! `tessera serve --grpc-auth`: every gRPC call authenticates with `authorization: Bearer
//! <key-id>:<secret or session token>` and is authorized by full method name with the caller's
//! policies (`tessera_gateway::grpc_auth`).

use crate::common;

use crate::common::{code, error, start_with};
use tessera_proto::ErrorCode;
use tessera_proto::common::v1 as c;
use tessera_proto::identity::v1 as pb;
use tessera_proto::policy::v1 as ppb;
use tessera_proto::sts::v1 as spb;
use tessera_proto::sts::v1::sts_service_client::StsServiceClient;

/// `message` with `authorization: Bearer <key>:<secret>`.
fn bearer<T>(message: T, key: &str, secret: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {key}:{secret}").parse().unwrap());
    request
}

fn list_users(account: &str) -> pb::ListUsersRequest {
    pb::ListUsersRequest { account_id: account.into(), ..Default::default() }
}

fn create_user(account: &str, name: &str) -> pb::CreateUserRequest {
    pb::CreateUserRequest { account_id: account.into(), user_name: name.into(), ..Default::default() }
}

fn inline(account: &str, kind: c::EntityKind, name: &str, document: &str) -> ppb::PutInlinePolicyRequest {
    ppb::PutInlinePolicyRequest {
        account_id: account.into(),
        entity: Some(c::EntityRef { kind: kind.into(), name: name.into() }),
        policy_name: "grpc".into(),
        policy_document: document.into(),
    }
}

fn allow(actions: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#)
}

#[tokio::test]
async fn grpc_calls_are_authenticated_and_authorized_by_method() {
    let mut h = start_with(tempfile::tempdir().unwrap(), |c| c.grpc_auth = true).await;
    let a = h.account.clone();
    let creds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(h.dir.path().join("root-credentials.json")).unwrap()).unwrap();
    let (root, root_secret) =
        (creds["AccessKeyId"].as_str().unwrap().to_owned(), creds["SecretAccessKey"].as_str().unwrap().to_owned());

    // The root key is allowed; no header, a wrong secret or a malformed header are not.
    h.identity.list_users(bearer(list_users(&a), &root, &root_secret)).await.unwrap();
    let none = error(h.identity.list_users(list_users(&a)).await);
    assert_eq!(none.code, ErrorCode::MissingAuthenticationToken, "{}", none.message);
    let status = h.identity.list_users(list_users(&a)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let wrong = h.identity.list_users(bearer(list_users(&a), &root, &"x".repeat(40))).await.unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
    assert_eq!(code(Err::<(), _>(wrong)), ErrorCode::InvalidClientTokenId);
    let unknown = h.identity.list_users(bearer(list_users(&a), "AKIAAAAAAAAAAAAAAAAA", &root_secret)).await;
    assert_eq!(code(unknown), ErrorCode::InvalidClientTokenId);
    let mut malformed = tonic::Request::new(list_users(&a));
    malformed.metadata_mut().insert("authorization", format!("Bearer {root}").parse().unwrap());
    assert_eq!(code(h.identity.list_users(malformed).await), ErrorCode::InvalidClientTokenId);

    // A caller acts only in its own account, even as a root allowed everything there; and an sts
    // call's body may not name another key than the one that authenticated.
    let elsewhere = h.identity.create_user(bearer(create_user("999999999999", "mallory"), &root, &root_secret)).await;
    assert_eq!(code(elsewhere), ErrorCode::AccessDenied);
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.server.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut sts = tessera_proto::sts::v1::sts_service_client::StsServiceClient::new(channel);
    let spoofed = tessera_proto::sts::v1::GetCallerIdentityRequest {
        caller: Some(tessera_proto::sts::v1::Caller {
            access_key_id: "AKIAOTHEROTHEROTHER1".into(),
            ..Default::default()
        }),
    };
    assert_eq!(code(sts.get_caller_identity(bearer(spoofed, &root, &root_secret)).await), ErrorCode::AccessDenied);

    // A user with a key and no policy is authenticated, then refused.
    h.identity.create_user(bearer(create_user(&a, "alice"), &root, &root_secret)).await.unwrap();
    let key = h
        .identity
        .create_access_key(bearer(
            pb::CreateAccessKeyRequest { account_id: a.clone(), user_name: Some("alice".into()) },
            &root,
            &root_secret,
        ))
        .await
        .unwrap()
        .into_inner()
        .access_key
        .unwrap();
    let (alice, alice_secret) = (key.access_key_id, key.secret_access_key);
    let denied = h.identity.create_user(bearer(create_user(&a, "bob"), &alice, &alice_secret)).await.unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let denied = tessera_proto::ServiceError::from_status(&denied);
    assert_eq!(denied.code, ErrorCode::AccessDenied);
    assert!(denied.message.contains("iam:CreateUser"), "{}", denied.message);
    // Internal methods are the root's only, whatever the user's policies.
    let account = h.identity.create_account(bearer(pb::CreateAccountRequest::default(), &alice, &alice_secret)).await;
    assert_eq!(code(account), ErrorCode::AccessDenied);

    // An inline policy (put by the root) allowing iam:CreateUser lets alice create users.
    let doc = allow(r#"["iam:CreateUser","sts:AssumeRole"]"#);
    h.policy
        .put_inline_policy(bearer(inline(&a, c::EntityKind::User, "alice", &doc), &root, &root_secret))
        .await
        .unwrap();
    h.identity.create_user(bearer(create_user(&a, "bob"), &alice, &alice_secret)).await.unwrap();
    assert_eq!(
        code(h.identity.list_users(bearer(list_users(&a), &alice, &alice_secret)).await),
        ErrorCode::AccessDenied
    );

    // A role session's temporary credentials authenticate with their session token.
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{a}:user/alice"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let role = pb::CreateRoleRequest {
        account_id: a.clone(),
        role_name: "reader".into(),
        assume_role_policy_document: trust,
        ..Default::default()
    };
    let role = h.identity.create_role(bearer(role, &root, &root_secret)).await.unwrap().into_inner().role.unwrap();
    let doc = allow(r#""iam:ListUsers""#);
    h.policy
        .put_inline_policy(bearer(inline(&a, c::EntityKind::Role, "reader", &doc), &root, &root_secret))
        .await
        .unwrap();
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.server.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut sts = StsServiceClient::new(channel);
    let assume = spb::AssumeRoleRequest {
        caller: Some(spb::Caller { access_key_id: alice.clone(), ..Default::default() }),
        role_arn: role.arn.clone(),
        role_session_name: "grpc".into(),
        ..Default::default()
    };
    assert_eq!(code(sts.assume_role(assume.clone()).await), ErrorCode::MissingAuthenticationToken);
    let session =
        sts.assume_role(bearer(assume, &alice, &alice_secret)).await.unwrap().into_inner().credentials.unwrap();
    assert!(session.access_key_id.starts_with("ASIA"), "{}", session.access_key_id);
    let (temp, token) = (session.access_key_id.clone(), session.session_token.clone());
    let users = h.identity.list_users(bearer(list_users(&a), &temp, &token)).await.unwrap().into_inner();
    assert_eq!(users.users.len(), 2);
    // The role's policies, not alice's, bound the session.
    assert_eq!(
        code(h.identity.create_user(bearer(create_user(&a, "carol"), &temp, &token)).await),
        ErrorCode::AccessDenied
    );

    // A tampered token, a token presented with another key id, or the secret instead of the token
    // are refused.
    let mut tampered = token.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let refused = h.identity.list_users(bearer(list_users(&a), &temp, &tampered)).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert_eq!(code(Err::<(), _>(refused)), ErrorCode::InvalidClientTokenId);
    let other = format!("ASIA{}", "Z".repeat(16));
    assert_eq!(
        code(h.identity.list_users(bearer(list_users(&a), &other, &token)).await),
        ErrorCode::InvalidClientTokenId
    );
    let with_secret = h.identity.list_users(bearer(list_users(&a), &temp, &session.secret_access_key)).await;
    assert_eq!(code(with_secret), ErrorCode::InvalidClientTokenId);

    // Revoking the session (sts:RevokeRoleSessions, which the role does not grant; the root may)
    // makes its token unusable.
    let revoke =
        spb::RevokeRoleSessionsRequest { account_id: a.clone(), role_arn: role.arn.clone(), issued_before: None };
    assert_eq!(code(sts.revoke_role_sessions(bearer(revoke.clone(), &temp, &token)).await), ErrorCode::AccessDenied);
    sts.revoke_role_sessions(bearer(revoke, &root, &root_secret)).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match h.identity.list_users(bearer(list_users(&a), &temp, &token)).await {
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::Unauthenticated);
                break;
            }
            Ok(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Ok(_) => panic!("a revoked session still authenticates"),
        }
    }
    h.server.stop().await.unwrap();
}

#[tokio::test]
async fn without_the_flag_grpc_calls_are_not_authenticated() {
    let mut h = start_with(tempfile::tempdir().unwrap(), |_| {}).await;
    let a = h.account.clone();
    h.identity.list_users(list_users(&a)).await.unwrap();
    h.server.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// One authorization path for both transports (issue 10, item 7): each gRPC method is the HTTP
// API's action on the HTTP API's resource ARN, with the same context keys and the same
// restrictions on temporary credentials. Each test below fails on a gate that authorized
// `iam:<MethodName>` on `*` with no context keys and took `aws:SourceIp` from the body.

const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const IAM_READ_ONLY: &str = "arn:aws:iam::aws:policy/IAMReadOnlyAccess";
/// Not loopback: the address a request body claims (TEST-NET-3).
const ELSEWHERE: &str = "203.0.113.9";

/// An access key id and its secret (or session token).
type Key = (String, String);

/// The account root's key, from the file the server writes at first start.
fn root_key(h: &common::Harness) -> Key {
    let creds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(h.dir.path().join("root-credentials.json")).unwrap()).unwrap();
    (creds["AccessKeyId"].as_str().unwrap().to_owned(), creds["SecretAccessKey"].as_str().unwrap().to_owned())
}

fn with<T>(message: T, key: &Key) -> tonic::Request<T> {
    bearer(message, &key.0, &key.1)
}

async fn sts_client(h: &common::Harness) -> StsServiceClient<tonic::transport::Channel> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.server.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    StsServiceClient::new(channel)
}

/// A policy document of `statements` (JSON objects, comma separated).
fn document(statements: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
}

fn user_ref(name: &str) -> Option<c::EntityRef> {
    Some(c::EntityRef { kind: c::EntityKind::User.into(), name: name.into() })
}

fn tag(key: &str, value: &str) -> c::Tag {
    c::Tag { key: key.into(), value: value.into() }
}

fn attach(account: &str, entity: Option<c::EntityRef>, policy_arn: &str) -> ppb::AttachPolicyRequest {
    ppb::AttachPolicyRequest { account_id: account.into(), entity, policy_arn: policy_arn.into() }
}

fn get_user(account: &str, name: &str) -> pb::GetUserRequest {
    pb::GetUserRequest { account_id: account.into(), user_name: Some(name.into()) }
}

/// The body `Caller` of an sts call made with `key`.
fn caller_of(key: &Key, source_ip: Option<&str>) -> Option<spb::Caller> {
    let session_token = key.0.starts_with("ASIA").then(|| key.1.clone());
    Some(spb::Caller { access_key_id: key.0.clone(), session_token, source_ip: source_ip.map(str::to_owned) })
}

/// Creates `name` (as the root) with `document` as its inline policy and an access key.
async fn user_with_policy(h: &mut common::Harness, root: &Key, name: &str, document: &str) -> Key {
    let a = h.account.clone();
    h.identity.create_user(with(create_user(&a, name), root)).await.unwrap();
    h.policy.put_inline_policy(with(inline(&a, c::EntityKind::User, name, document), root)).await.unwrap();
    let key = pb::CreateAccessKeyRequest { account_id: a, user_name: Some(name.into()) };
    let key = h.identity.create_access_key(with(key, root)).await.unwrap().into_inner().access_key.unwrap();
    (key.access_key_id, key.secret_access_key)
}

/// A refusal: gRPC `PermissionDenied` carrying `AccessDenied`; returns the message.
fn denied<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> String {
    let status = result.expect_err("the call should be denied");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    let error = tessera_proto::ServiceError::from_status(&status);
    assert_eq!(error.code, ErrorCode::AccessDenied, "{}", error.message);
    error.message
}

/// `AttachPolicy` for a user is `iam:AttachUserPolicy` on that user's ARN with `iam:PolicyARN`:
/// the "may attach only this policy, only to this user" delegation works, and a policy written
/// for the gRPC method name (`iam:AttachPolicy`) grants nothing.
#[tokio::test]
async fn attach_policy_is_attach_user_policy_on_the_user_with_its_policy_arn() {
    let mut h = start_with(tempfile::tempdir().unwrap(), |c| c.grpc_auth = true).await;
    let (a, root) = (h.account.clone(), root_key(&h));
    let delegation = document(&format!(
        r#"{{"Effect":"Allow","Action":"iam:AttachUserPolicy","Resource":"arn:aws:iam::{a}:user/alice",
            "Condition":{{"ArnEquals":{{"iam:PolicyARN":"{READ_ONLY}"}}}}}}"#
    ));
    let alice = user_with_policy(&mut h, &root, "alice", &delegation).await;
    h.identity.create_user(with(create_user(&a, "bob"), &root)).await.unwrap();

    // The one policy, to the one user.
    h.policy.attach_policy(with(attach(&a, user_ref("alice"), READ_ONLY), &alice)).await.unwrap();
    let listed =
        ppb::ListAttachedPoliciesRequest { account_id: a.clone(), entity: user_ref("alice"), ..Default::default() };
    let listed = h.policy.list_attached_policies(with(listed, &root)).await.unwrap().into_inner().attached_policies;
    assert_eq!(listed.iter().map(|p| p.policy_arn.as_str()).collect::<Vec<_>>(), [READ_ONLY]);

    // Another policy, or another user, is refused, with the HTTP API's action and resource.
    let other_policy = denied(h.policy.attach_policy(with(attach(&a, user_ref("alice"), IAM_READ_ONLY), &alice)).await);
    assert!(
        other_policy.contains("iam:AttachUserPolicy") && other_policy.contains(&format!("arn:aws:iam::{a}:user/alice")),
        "{other_policy}"
    );
    let other_user = denied(h.policy.attach_policy(with(attach(&a, user_ref("bob"), READ_ONLY), &alice)).await);
    assert!(other_user.contains(&format!("arn:aws:iam::{a}:user/bob")), "{other_user}");
    // A group is `iam:AttachGroupPolicy` on the group, which the delegation does not cover.
    let group = pb::CreateGroupRequest { account_id: a.clone(), group_name: "devs".into(), ..Default::default() };
    h.identity.create_group(with(group, &root)).await.unwrap();
    let devs = Some(c::EntityRef { kind: c::EntityKind::Group.into(), name: "devs".into() });
    let to_group = denied(h.policy.attach_policy(with(attach(&a, devs, READ_ONLY), &alice)).await);
    assert!(
        to_group.contains("iam:AttachGroupPolicy") && to_group.contains(&format!("arn:aws:iam::{a}:group/devs")),
        "{to_group}"
    );

    // `iam:AttachPolicy` is no IAM action: allowing it on `*` grants nothing.
    let carol = user_with_policy(&mut h, &root, "carol", &allow(r#""iam:AttachPolicy""#)).await;
    let old_name = denied(h.policy.attach_policy(with(attach(&a, user_ref("bob"), READ_ONLY), &carol)).await);
    assert!(old_name.contains("iam:AttachUserPolicy"), "{old_name}");
    denied(h.policy.attach_policy(with(attach(&a, user_ref("carol"), READ_ONLY), &carol)).await);
    h.server.stop().await.unwrap();
}

/// The delegation guardrail "may create users only with this permissions boundary":
/// `iam:PermissionsBoundary` is the boundary the request sets.
#[tokio::test]
async fn create_user_and_put_boundary_see_the_permissions_boundary() {
    let mut h = start_with(tempfile::tempdir().unwrap(), |c| c.grpc_auth = true).await;
    let (a, root) = (h.account.clone(), root_key(&h));
    let boundary = ppb::CreatePolicyRequest {
        account_id: a.clone(),
        policy_name: "guardrail".into(),
        policy_document: common::ALLOW_S3_READ.into(),
        ..Default::default()
    };
    let boundary = h.policy.create_policy(with(boundary, &root)).await.unwrap().into_inner().policy.unwrap().arn;
    assert_eq!(boundary, format!("arn:aws:iam::{a}:policy/guardrail"));
    let guardrail = document(&format!(
        r#"{{"Effect":"Allow","Action":["iam:CreateUser","iam:PutUserPermissionsBoundary"],"Resource":"*",
            "Condition":{{"StringEquals":{{"iam:PermissionsBoundary":"{boundary}"}}}}}}"#
    ));
    let alice = user_with_policy(&mut h, &root, "alice", &guardrail).await;

    let bounded = pb::CreateUserRequest { permissions_boundary: Some(boundary.clone()), ..create_user(&a, "bounded") };
    h.identity.create_user(with(bounded, &alice)).await.unwrap();
    let user = h.identity.get_user(with(get_user(&a, "bounded"), &root)).await.unwrap().into_inner().user.unwrap();
    assert_eq!(user.permissions_boundary.map(|b| b.permissions_boundary_arn), Some(boundary.clone()));

    let unbounded = denied(h.identity.create_user(with(create_user(&a, "unbounded"), &alice)).await);
    assert!(
        unbounded.contains("iam:CreateUser") && unbounded.contains(&format!("arn:aws:iam::{a}:user/unbounded")),
        "{unbounded}"
    );
    let other = pb::CreateUserRequest { permissions_boundary: Some(READ_ONLY.into()), ..create_user(&a, "other") };
    denied(h.identity.create_user(with(other, &alice)).await);
    for name in ["unbounded", "other"] {
        assert_eq!(code(h.identity.get_user(with(get_user(&a, name), &root)).await), ErrorCode::NoSuchEntity);
    }

    // PutPermissionsBoundary is `iam:PutUserPermissionsBoundary` with the boundary it sets.
    h.identity.create_user(with(create_user(&a, "plain"), &root)).await.unwrap();
    let put = |arn: &str| pb::PutPermissionsBoundaryRequest {
        account_id: a.clone(),
        entity: user_ref("plain"),
        permissions_boundary: arn.into(),
    };
    denied(h.identity.put_permissions_boundary(with(put(READ_ONLY), &alice)).await);
    h.identity.put_permissions_boundary(with(put(&boundary), &alice)).await.unwrap();
    h.server.stop().await.unwrap();
}

/// `aws:ResourceTag/*` and `iam:ResourceTag/*` are the tags of the user or role acted on.
#[tokio::test]
async fn resource_tags_are_the_tags_of_the_target() {
    let mut h = start_with(tempfile::tempdir().unwrap(), |c| c.grpc_auth = true).await;
    let (a, root) = (h.account.clone(), root_key(&h));
    let abac = document(
        r#"{"Effect":"Allow","Action":"iam:GetUser","Resource":"*",
            "Condition":{"StringEquals":{"aws:ResourceTag/team":"a"}}},
           {"Effect":"Allow","Action":"iam:GetRole","Resource":"*",
            "Condition":{"StringEquals":{"iam:ResourceTag/team":"a"}}}"#,
    );
    let alice = user_with_policy(&mut h, &root, "alice", &abac).await;
    for (name, team) in [("in-a", "a"), ("in-b", "b")] {
        let user = pb::CreateUserRequest { tags: vec![tag("team", team)], ..create_user(&a, name) };
        h.identity.create_user(with(user, &root)).await.unwrap();
        let role = pb::CreateRoleRequest {
            account_id: a.clone(),
            role_name: name.into(),
            assume_role_policy_document: common::TRUST_EC2.into(),
            tags: vec![tag("team", team)],
            ..Default::default()
        };
        h.identity.create_role(with(role, &root)).await.unwrap();
    }

    let user = h.identity.get_user(with(get_user(&a, "in-a"), &alice)).await.unwrap().into_inner().user.unwrap();
    assert_eq!(user.user_name, "in-a");
    let other = denied(h.identity.get_user(with(get_user(&a, "in-b"), &alice)).await);
    assert!(other.contains(&format!("iam:GetUser on resource: arn:aws:iam::{a}:user/in-b")), "{other}");
    // Untagged (alice herself) is denied too: the condition's key is absent.
    denied(h.identity.get_user(with(get_user(&a, "alice"), &alice)).await);

    let get_role = |name: &str| pb::GetRoleRequest { account_id: a.clone(), role_name: name.into() };
    h.identity.get_role(with(get_role("in-a"), &alice)).await.unwrap();
    denied(h.identity.get_role(with(get_role("in-b"), &alice)).await);
    h.server.stop().await.unwrap();
}

/// The resource is the stored entity's ARN, path included, as over HTTP.
#[tokio::test]
async fn resources_are_the_stored_arns_with_their_paths() {
    let mut h = start_with(tempfile::tempdir().unwrap(), |c| c.grpc_auth = true).await;
    let (a, root) = (h.account.clone(), root_key(&h));
    let scoped = document(&format!(
        r#"{{"Effect":"Allow","Action":["iam:GetUser","iam:ListGroupsForUser"],"Resource":"arn:aws:iam::{a}:user/eng/*"}}"#
    ));
    let alice = user_with_policy(&mut h, &root, "alice", &scoped).await;
    let engineer = pb::CreateUserRequest { path: Some("/eng/".into()), ..create_user(&a, "dave") };
    h.identity.create_user(with(engineer, &root)).await.unwrap();
    h.identity.create_user(with(create_user(&a, "erin"), &root)).await.unwrap();

    h.identity.get_user(with(get_user(&a, "dave"), &alice)).await.unwrap();
    denied(h.identity.get_user(with(get_user(&a, "erin"), &alice)).await);
    let groups =
        |name: &str| pb::ListGroupsForUserRequest { account_id: a.clone(), user_name: name.into(), page: None };
    h.identity.list_groups_for_user(with(groups("dave"), &alice)).await.unwrap();
    let message = denied(h.identity.list_groups_for_user(with(groups("erin"), &alice)).await);
    assert!(message.contains(&format!("arn:aws:iam::{a}:user/erin")), "{message}");
    h.server.stop().await.unwrap();
}

/// `aws:SourceIp` is the connection's peer address, for the gate's decisions and the token
/// service's: a `Caller.source_ip` in the body changes nothing.
#[tokio::test]
async fn source_ip_is_the_peer_address_never_the_body() {
    let mut h = start_with(tempfile::tempdir().unwrap(), |c| c.grpc_auth = true).await;
    let (a, root) = (h.account.clone(), root_key(&h));
    let mut sts = sts_client(&h).await;

    // Deny everything unless from loopback: the call from loopback passes (the key is present).
    let only_here = document(
        r#"{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"},
           {"Effect":"Deny","Action":"*","Resource":"*",
            "Condition":{"NotIpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}"#,
    );
    let alice = user_with_policy(&mut h, &root, "alice", &only_here).await;
    h.identity.list_users(with(list_users(&a), &alice)).await.unwrap();

    // Deny from loopback: refused, over IAM and over STS, whatever the body claims.
    let not_here = document(
        r#"{"Effect":"Allow","Action":["iam:ListUsers","sts:GetFederationToken","sts:AssumeRole"],"Resource":"*"},
           {"Effect":"Deny","Action":["iam:ListUsers","sts:GetFederationToken"],"Resource":"*",
            "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}"#,
    );
    let bob = user_with_policy(&mut h, &root, "bob", &not_here).await;
    let message = denied(h.identity.list_users(with(list_users(&a), &bob)).await);
    assert!(message.contains("explicit deny"), "{message}");
    let federation = spb::GetFederationTokenRequest {
        caller: caller_of(&bob, Some(ELSEWHERE)),
        name: "fed".into(),
        policy: Some(allow(r#""iam:ListUsers""#)),
        ..Default::default()
    };
    let message = denied(sts.get_federation_token(with(federation, &bob)).await);
    assert!(message.contains("sts:GetFederationToken") && message.contains("explicit deny"), "{message}");

    // The token service's trust evaluation sees the peer too: a trust policy denying loopback
    // refuses bob though his body claims another address, and one denying the claimed address
    // does not.
    let trust = |denied_range: &str| {
        document(&format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{a}:user/bob"}},"Action":"sts:AssumeRole"}},
               {{"Effect":"Deny","Principal":{{"AWS":"*"}},"Action":"sts:AssumeRole",
                 "Condition":{{"IpAddress":{{"aws:SourceIp":"{denied_range}"}}}}}}"#
        ))
    };
    let mut arns = Vec::new();
    for (name, range) in [("not-from-loopback", "127.0.0.0/8"), ("not-from-test-net", "203.0.113.0/24")] {
        let role = pb::CreateRoleRequest {
            account_id: a.clone(),
            role_name: name.into(),
            assume_role_policy_document: trust(range),
            ..Default::default()
        };
        arns.push(h.identity.create_role(with(role, &root)).await.unwrap().into_inner().role.unwrap().arn);
    }
    let assume = |role_arn: &str| spb::AssumeRoleRequest {
        caller: caller_of(&bob, Some(ELSEWHERE)),
        role_arn: role_arn.into(),
        role_session_name: "ip".into(),
        ..Default::default()
    };
    denied(sts.assume_role(with(assume(&arns[0]), &bob)).await);
    sts.assume_role(with(assume(&arns[1]), &bob)).await.unwrap();
    // Nor does the metadata the gate hands the address on in, when the client sends it.
    let mut forged = with(assume(&arns[0]), &bob);
    forged.metadata_mut().insert("tessera-caller-source-ip", ELSEWHERE.parse().unwrap());
    denied(sts.assume_role(forged).await);
    let mut forged = with(list_users(&a), &bob);
    forged.metadata_mut().insert("tessera-caller-source-ip", ELSEWHERE.parse().unwrap());
    denied(h.identity.list_users(forged).await);
    h.server.stop().await.unwrap();
}

/// Temporary credentials used as a bearer obey AWS's restrictions, as over HTTP: a
/// GetSessionToken session without MFA cannot call IAM, a federated user calls no IAM and of STS
/// only GetCallerIdentity, and a role session has its role's permissions.
#[tokio::test]
async fn temporary_credentials_are_restricted_as_over_http() {
    let mut h = start_with(tempfile::tempdir().unwrap(), |c| c.grpc_auth = true).await;
    let (a, root) = (h.account.clone(), root_key(&h));
    let mut sts = sts_client(&h).await;
    let everything = allow(r#"["iam:ListUsers","iam:GetUser","sts:GetFederationToken","sts:AssumeRole"]"#);
    let alice = user_with_policy(&mut h, &root, "alice", &everything).await;
    let alice_arn = format!("arn:aws:iam::{a}:user/alice");
    h.identity.create_user(with(create_user(&a, "bob"), &root)).await.unwrap();
    let session_key = |credentials: spb::Credentials| (credentials.access_key_id, credentials.session_token);

    // A GetSessionToken session without MFA: no IAM (the answer AWS gives), but who-am-I and
    // AssumeRole.
    let request = spb::GetSessionTokenRequest { caller: caller_of(&alice, None), ..Default::default() };
    let plain =
        session_key(sts.get_session_token(with(request, &alice)).await.unwrap().into_inner().credentials.unwrap());
    assert!(plain.0.starts_with("ASIA"), "{}", plain.0);
    let refused = error(h.identity.list_users(with(list_users(&a), &plain)).await);
    assert_eq!(refused.code, ErrorCode::InvalidClientTokenId, "{}", refused.message);
    let who = spb::GetCallerIdentityRequest { caller: caller_of(&plain, None) };
    assert_eq!(sts.get_caller_identity(with(who, &plain)).await.unwrap().into_inner().arn, alice_arn);
    let federation = |caller: &Key| spb::GetFederationTokenRequest {
        caller: caller_of(caller, None),
        name: "fed".into(),
        policy: Some(allow(r#"["iam:ListUsers","sts:GetAccessKeyInfo"]"#)),
        ..Default::default()
    };
    denied(sts.get_federation_token(with(federation(&plain), &plain)).await);

    // The same user's session with MFA calls IAM with the user's permissions.
    let device = pb::CreateVirtualMfaDeviceRequest {
        account_id: a.clone(),
        virtual_mfa_device_name: "alice-phone".into(),
        ..Default::default()
    };
    let device = h
        .identity
        .create_virtual_mfa_device(with(device, &root))
        .await
        .unwrap()
        .into_inner()
        .virtual_mfa_device
        .unwrap();
    let seed = String::from_utf8(device.base32_string_seed).unwrap();
    let seed = tessera_credentials::TotpSeed::from_base32(&seed).unwrap();
    let totp = |counter: u64| tessera_credentials::totp::format_code(tessera_credentials::totp::hotp(&seed, counter));
    let now = tessera_credentials::totp::step(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
    );
    // The codes of the previous and current steps; sign-in then takes the next one (a code is
    // accepted once, and within a step of now).
    let enable = pb::EnableMfaDeviceRequest {
        account_id: a.clone(),
        user_name: "alice".into(),
        serial_number: device.serial_number.clone(),
        authentication_code1: totp(now - 1),
        authentication_code2: totp(now),
    };
    h.identity.enable_mfa_device(with(enable, &root)).await.unwrap();
    let request = spb::GetSessionTokenRequest {
        caller: caller_of(&alice, None),
        serial_number: Some(device.serial_number.clone()),
        token_code: Some(totp(now + 1)),
        ..Default::default()
    };
    let mfa =
        session_key(sts.get_session_token(with(request, &alice)).await.unwrap().into_inner().credentials.unwrap());
    h.identity.list_users(with(list_users(&a), &mfa)).await.unwrap();
    denied(h.identity.create_user(with(create_user(&a, "carol"), &mfa)).await);

    // A federated user: no IAM method (not an internal error), no STS but GetCallerIdentity.
    let issued = sts.get_federation_token(with(federation(&alice), &alice)).await.unwrap().into_inner();
    let fed = session_key(issued.credentials.unwrap());
    let refused = error(h.identity.list_users(with(list_users(&a), &fed)).await);
    assert_eq!(refused.code, ErrorCode::AccessDenied, "{}", refused.message);
    let refused = error(h.identity.get_user(with(get_user(&a, "alice"), &fed)).await);
    assert_eq!(refused.code, ErrorCode::AccessDenied, "{}", refused.message);
    let who = spb::GetCallerIdentityRequest { caller: caller_of(&fed, None) };
    assert_eq!(
        sts.get_caller_identity(with(who, &fed)).await.unwrap().into_inner().arn,
        format!("arn:aws:sts::{a}:federated-user/fed")
    );
    let info = spb::GetAccessKeyInfoRequest { caller: caller_of(&fed, None), access_key_id: alice.0.clone() };
    denied(sts.get_access_key_info(with(info, &fed)).await);
    denied(sts.get_federation_token(with(federation(&fed), &fed)).await);

    // A role session: the role's permissions (GetUser of alice only), not alice's.
    let trust =
        document(&format!(r#"{{"Effect":"Allow","Principal":{{"AWS":"{alice_arn}"}},"Action":"sts:AssumeRole"}}"#));
    let role = pb::CreateRoleRequest {
        account_id: a.clone(),
        role_name: "reader".into(),
        assume_role_policy_document: trust,
        ..Default::default()
    };
    let role = h.identity.create_role(with(role, &root)).await.unwrap().into_inner().role.unwrap();
    let reads_alice = document(&format!(r#"{{"Effect":"Allow","Action":"iam:GetUser","Resource":"{alice_arn}"}}"#));
    h.policy.put_inline_policy(with(inline(&a, c::EntityKind::Role, "reader", &reads_alice), &root)).await.unwrap();
    let assume = |caller: &Key| spb::AssumeRoleRequest {
        caller: caller_of(caller, None),
        role_arn: role.arn.clone(),
        role_session_name: "grpc".into(),
        ..Default::default()
    };
    // Made from the MFA-less session too: AssumeRole is what such a session may call.
    let from_plain = sts.assume_role(with(assume(&plain), &plain)).await.unwrap().into_inner();
    let role_session = session_key(from_plain.credentials.unwrap());
    let user = h.identity.get_user(with(get_user(&a, "alice"), &role_session)).await.unwrap().into_inner();
    assert_eq!(user.user.unwrap().arn, alice_arn);
    let message = denied(h.identity.get_user(with(get_user(&a, "bob"), &role_session)).await);
    assert!(message.contains(&format!("arn:aws:iam::{a}:user/bob")), "{message}");
    denied(h.identity.list_users(with(list_users(&a), &role_session)).await);
    h.server.stop().await.unwrap();
}

/// Polls `read` until it answers `Some`, for at most 20 s (use is recorded in the background).
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(mut read: impl FnMut() -> F) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(found) = read().await {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "the use was never recorded");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Calls through the gate record use as the HTTP gateway's requests do: a long-term key's
/// (`GetAccessKeyLastUsed`: the method's service, IAM's region for a bearer call) and a role
/// session's role's (`RoleLastUsed`); assuming the role is the user's key's use, not the role's.
#[tokio::test]
async fn grpc_calls_record_key_and_role_use() {
    let mut h = start_with(tempfile::tempdir().unwrap(), |c| c.grpc_auth = true).await;
    let (a, root) = (h.account.clone(), root_key(&h));
    let mut sts = sts_client(&h).await;
    let alice = user_with_policy(&mut h, &root, "alice", &allow(r#"["iam:ListUsers","sts:AssumeRole"]"#)).await;
    let last_used = |key: &str| pb::GetAccessKeyLastUsedRequest { account_id: a.clone(), access_key_id: key.into() };
    let never = h.identity.get_access_key_last_used(with(last_used(&alice.0), &root)).await.unwrap().into_inner();
    assert_eq!(never.access_key_last_used.unwrap().last_used_date, None);

    h.identity.list_users(with(list_users(&a), &alice)).await.unwrap();
    let mut identity = h.identity.clone();
    let used = eventually(|| {
        let (mut identity, request) = (identity.clone(), with(last_used(&alice.0), &root));
        async move {
            let used = identity.get_access_key_last_used(request).await.unwrap().into_inner().access_key_last_used?;
            used.last_used_date.is_some().then_some(used)
        }
    })
    .await;
    assert_eq!((used.service_name.as_str(), used.region.as_str()), ("iam", "us-east-1"));

    let alice_arn = format!("arn:aws:iam::{a}:user/alice");
    let trust =
        document(&format!(r#"{{"Effect":"Allow","Principal":{{"AWS":"{alice_arn}"}},"Action":"sts:AssumeRole"}}"#));
    let role = pb::CreateRoleRequest {
        account_id: a.clone(),
        role_name: "reader".into(),
        assume_role_policy_document: trust,
        ..Default::default()
    };
    let role = identity.create_role(with(role, &root)).await.unwrap().into_inner().role.unwrap();
    let reads = document(r#"{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}"#);
    h.policy.put_inline_policy(with(inline(&a, c::EntityKind::Role, "reader", &reads), &root)).await.unwrap();
    let assume = spb::AssumeRoleRequest {
        caller: caller_of(&alice, None),
        role_arn: role.arn.clone(),
        role_session_name: "grpc".into(),
        ..Default::default()
    };
    let issued = sts.assume_role(with(assume, &alice)).await.unwrap().into_inner().credentials.unwrap();
    let get_role = || pb::GetRoleRequest { account_id: a.clone(), role_name: "reader".into() };
    let unused = identity.get_role(with(get_role(), &root)).await.unwrap().into_inner().role.unwrap();
    assert_eq!(unused.role_last_used.and_then(|u| u.last_used_date), None, "assuming the role is not its use");

    let session = (issued.access_key_id, issued.session_token);
    identity.list_users(with(list_users(&a), &session)).await.unwrap();
    let used = eventually(|| {
        let (mut identity, request) = (identity.clone(), with(get_role(), &root));
        async move {
            let used = identity.get_role(request).await.unwrap().into_inner().role?.role_last_used?;
            used.last_used_date.is_some().then_some(used)
        }
    })
    .await;
    assert_eq!(used.region.as_deref(), Some("us-east-1"));
    h.server.stop().await.unwrap();
}
