//! `tessera serve --grpc-auth`: every gRPC call authenticates with `authorization: Bearer
//! <key-id>:<secret or session token>` and is authorized by full method name with the caller's
//! policies (`tessera_gateway::grpc_auth`).

mod common;

use common::{code, error, start_with};
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

    // Revoking the session (an internal method: the root only) makes its token unusable.
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
