//! `tessera admin revoke`, the binary, against the real server with `--grpc-auth`: an operator
//! whose policies allow Tessera's revocation actions revokes a role's sessions, stops and resumes
//! issuing, and lists what was done (who, what, when); an operator without them is refused.

use std::process::Output;

use crate::common::start_with;
use tessera_proto::common::v1 as c;
use tessera_proto::identity::v1 as pb;
use tessera_proto::policy::v1 as ppb;
use tessera_proto::sts::v1 as spb;
use tessera_proto::sts::v1::sts_service_client::StsServiceClient;

fn bearer<T>(message: T, key: &str, secret: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {key}:{secret}").parse().unwrap());
    request
}

/// Runs `tessera admin revoke <args>` with the key in the environment (never on the command line).
async fn admin(endpoint: &str, key: &str, secret: &str, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .args(["admin", "revoke", "--endpoint", endpoint])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("TESSERA_CREDENTIALS_FILE");
    tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_revokes_stops_and_lists_with_its_own_credentials() {
    let mut h = start_with(tempfile::tempdir().unwrap(), |c| c.grpc_auth = true).await;
    let a = h.account.clone();
    let endpoint = format!("http://{}", h.server.grpc_addr);
    let creds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(h.dir.path().join("root-credentials.json")).unwrap()).unwrap();
    let (root, root_secret) =
        (creds["AccessKeyId"].as_str().unwrap().to_owned(), creds["SecretAccessKey"].as_str().unwrap().to_owned());
    let user =
        |name: &str| pb::CreateUserRequest { account_id: a.clone(), user_name: name.into(), ..Default::default() };
    let mut keys = Vec::new();
    for name in ["operator", "intruder", "worker"] {
        h.identity.create_user(bearer(user(name), &root, &root_secret)).await.unwrap();
        let key = pb::CreateAccessKeyRequest { account_id: a.clone(), user_name: Some(name.into()) };
        let key = h.identity.create_access_key(bearer(key, &root, &root_secret)).await.unwrap().into_inner();
        let key = key.access_key.unwrap();
        keys.push((key.access_key_id, key.secret_access_key));
    }
    let [(operator, operator_secret), (intruder, intruder_secret), (worker, worker_secret)] = keys.try_into().unwrap();
    // The operator may revoke the role's sessions, stop and resume issuing for it, and list.
    let role_arn = format!("arn:aws:iam::{a}:role/app");
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sts:RevokeRoleSessions", "sts:StopIssuing", "sts:ResumeIssuing"], "Resource": role_arn},
        {"Effect": "Allow", "Action": "sts:ListRevocations", "Resource": "*"},
    ]});
    let inline = ppb::PutInlinePolicyRequest {
        account_id: a.clone(),
        entity: Some(c::EntityRef { kind: c::EntityKind::User.into(), name: "operator".into() }),
        policy_name: "revoker".into(),
        policy_document: policy.to_string(),
    };
    h.policy.put_inline_policy(bearer(inline, &root, &root_secret)).await.unwrap();
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{a}:user/worker")}, "Action": "sts:AssumeRole"}]});
    let role = pb::CreateRoleRequest {
        account_id: a.clone(),
        role_name: "app".into(),
        assume_role_policy_document: trust.to_string(),
        ..Default::default()
    };
    h.identity.create_role(bearer(role, &root, &root_secret)).await.unwrap();
    let channel = tonic::transport::Channel::from_shared(endpoint.clone()).unwrap().connect().await.unwrap();
    let mut sts = StsServiceClient::new(channel);
    let assume = spb::AssumeRoleRequest {
        caller: Some(spb::Caller { access_key_id: worker.clone(), ..Default::default() }),
        role_arn: role_arn.clone(),
        role_session_name: "job".into(),
        ..Default::default()
    };
    let session = sts
        .assume_role(bearer(assume.clone(), &worker, &worker_secret))
        .await
        .unwrap()
        .into_inner()
        .credentials
        .unwrap();
    let whoami = |credentials: &spb::Credentials| {
        let caller = spb::Caller {
            access_key_id: credentials.access_key_id.clone(),
            session_token: Some(credentials.session_token.clone()),
            source_ip: None,
        };
        bearer(
            spb::GetCallerIdentityRequest { caller: Some(caller) },
            &credentials.access_key_id,
            &credentials.session_token,
        )
    };
    sts.get_caller_identity(whoami(&session)).await.unwrap();

    // Without the permission: refused by the server's normal authorization, exit code 1.
    let refused = admin(&endpoint, &intruder, &intruder_secret, &["--role", &role_arn]).await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("AccessDenied"), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("sts:RevokeRoleSessions"), "{}", text(&refused.stderr));
    assert!(!text(&refused.stderr).contains(&intruder_secret), "the secret is never printed");
    sts.get_caller_identity(whoami(&session)).await.unwrap();

    // With it: revoked, and it says what, by whom, when.
    let revoked = admin(&endpoint, &operator, &operator_secret, &["--role", &role_arn]).await;
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let out = text(&revoked.stdout);
    let operator_arn = format!("arn:aws:iam::{a}:user/operator");
    assert!(out.starts_with(&format!("revoked every session of role {role_arn} issued up to 20")), "{out}");
    assert!(out.contains(&format!("by {operator_arn} at 20")), "{out}");
    assert!(!out.contains(&operator_secret), "the secret is never printed");
    let status = sts.get_caller_identity(whoami(&session)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "the older session is refused");
    // A session issued after the revocation returned is not.
    let after = sts
        .assume_role(bearer(assume.clone(), &worker, &worker_secret))
        .await
        .unwrap()
        .into_inner()
        .credentials
        .unwrap();
    sts.get_caller_identity(whoami(&after)).await.unwrap();
    // Another role is not the operator's to revoke.
    let other = format!("arn:aws:iam::{a}:role/other");
    let refused = admin(&endpoint, &operator, &operator_secret, &["--role", &other]).await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));

    // Stop issuing for the role: AssumeRole is refused until resumed.
    let stopped = admin(&endpoint, &operator, &operator_secret, &["--stop-issuing", &role_arn]).await;
    assert!(stopped.status.success(), "{}", text(&stopped.stderr));
    assert!(text(&stopped.stdout).starts_with(&format!("stopped issuing for {role_arn} (by {operator_arn}")));
    let denied = sts.assume_role(bearer(assume.clone(), &worker, &worker_secret)).await.unwrap_err();
    assert_eq!(tessera_proto::ServiceError::from_status(&denied).code, tessera_proto::ErrorCode::AccessDenied);

    // The list shows both, with who and when.
    let listed = admin(&endpoint, &operator, &operator_secret, &["--list"]).await;
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let out = text(&listed.stdout);
    assert!(out.contains(&format!("revocation: every session of role {role_arn} issued up to")), "{out}");
    assert!(out.contains(&format!("issuing stopped: for {role_arn} (by {operator_arn} at")), "{out}");

    let resumed = admin(&endpoint, &operator, &operator_secret, &["--resume-issuing", &role_arn]).await;
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert!(text(&resumed.stdout).starts_with("resumed issuing for"), "{}", text(&resumed.stdout));
    sts.assume_role(bearer(assume, &worker, &worker_secret)).await.unwrap();

    // The root revokes one session by its access key id, and bad input is a usage error.
    let one = admin(&endpoint, &root, &root_secret, &["--session", &after.access_key_id]).await;
    assert!(one.status.success(), "{}", text(&one.stderr));
    assert!(text(&one.stdout).starts_with("revoked session "), "{}", text(&one.stdout));
    assert_eq!(sts.get_caller_identity(whoami(&after)).await.unwrap_err().code(), tonic::Code::Unauthenticated);
    let usage = admin(&endpoint, &root, &root_secret, &["--role", &role_arn, "--issued-before", "yesterday"]).await;
    assert_eq!(usage.status.code(), Some(2));
    let nothing = admin(&endpoint, &root, &root_secret, &[]).await;
    assert_eq!(nothing.status.code(), Some(2), "one of the targets or --list is required");
    h.server.stop().await.unwrap();
}
