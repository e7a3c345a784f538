//! `tessera serve`: readiness, first-start bootstrap and its credentials file, restarts, one
//! service per process, the Redis store, and the real binary started as a child process.

use crate::common;

use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, Instant};

use crate::common::{code, signed_post, start, start_with};
use tessera::serve::ServiceSet;
use tessera_proto::ErrorCode;
use tessera_proto::identity::v1 as pb;
use tessera_proto::policy::v1 as ppb;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// One HTTP/1.1 GET over a raw socket; returns the status line and the body.
async fn http_fetch(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(String, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: tessera\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    Ok(http_fetch(addr, path).await?.0)
}

#[tokio::test]
async fn first_start_bootstraps_an_account_and_a_private_root_key_file() {
    let h = start().await;
    assert_eq!(http_get(h.server.http_addr, "/healthz").await.unwrap(), "HTTP/1.1 200 OK");
    assert_eq!(h.account.len(), 12);
    let path = h.dir.path().join("root-credentials.json");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "root credentials must be readable by the owner only");
    let creds: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(creds["Version"], 1);
    assert!(creds["AccessKeyId"].as_str().unwrap().starts_with("AKIA"));
    assert_eq!(creds["SecretAccessKey"].as_str().unwrap().len(), 40);
    assert_eq!(creds["AccessKeyId"].as_str(), h.server.account.as_ref().map(|a| a.root_access_key_id.as_str()));
    let mode = std::fs::metadata(h.dir.path().join("master.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[tokio::test]
async fn a_restart_keeps_the_account_the_root_key_and_the_data() {
    let mut h = start().await;
    let account = h.account.clone();
    let key = std::fs::read_to_string(h.dir.path().join("root-credentials.json")).unwrap();
    h.identity
        .create_user(pb::CreateUserRequest {
            account_id: account.clone(),
            user_name: "kept".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let common::Harness { dir, server, .. } = h;
    server.stop().await.unwrap();
    let mut again = start_with(dir, |_| {}).await;
    assert_eq!(again.account, account);
    assert_eq!(std::fs::read_to_string(again.dir.path().join("root-credentials.json")).unwrap(), key);
    let user =
        again.identity.get_user(pb::GetUserRequest { account_id: account, user_name: Some("kept".into()) }).await;
    assert_eq!(user.unwrap().into_inner().user.unwrap().user_name, "kept");
}

#[tokio::test]
async fn a_process_can_run_one_service() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = start_with(dir, |c| c.service = ServiceSet::Policy).await;
    assert!(h.server.account.is_none());
    let key = tessera_credentials::MasterKey::load(&h.dir.path().join("master.key")).unwrap();
    let get = || ppb::GetPolicyRequest {
        account_id: "123456789012".into(),
        policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
    };
    let policy = h.policy.get_policy(common::internal(&key, get())).await.unwrap();
    assert_eq!(policy.into_inner().policy.unwrap().policy_name, "AdministratorAccess");
    let list = pb::ListUsersRequest { account_id: "123456789012".into(), ..Default::default() };
    let absent = h.identity.list_users(common::internal(&key, list)).await;
    assert_eq!(absent.unwrap_err().code(), tonic::Code::Unimplemented);

    // Without the proof, or with another cluster's, a service alone answers nothing; health
    // checks need none.
    let refused = h.policy.get_policy(get()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert!(refused.message().contains("takes calls only from the cluster's gateways"), "{refused:?}");
    let other = tessera_credentials::MasterKey::from_bytes([1; 32]);
    let refused = h.policy.get_policy(common::internal(&other, get())).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert!(refused.message().contains("does not match this policy service's master key"), "{refused:?}");
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.server.grpc_addr)).unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.connect_lazy());
    let service = tessera_proto::policy::v1::policy_service_server::SERVICE_NAME.to_owned();
    let answer = health.check(tonic_health::pb::HealthCheckRequest { service }).await.unwrap().into_inner();
    assert_eq!(answer.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
}

/// With `--grpc-auth`, a service alone also takes calls its gate authenticates, as the all-in-one
/// server does, besides the gateways' (internal) ones; an unsigned call is refused.
#[tokio::test]
async fn a_service_alone_with_grpc_auth_takes_signed_calls_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = start_with(dir, |c| {
        c.service = ServiceSet::Identity;
        c.grpc_auth = true;
    })
    .await;
    let root: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(h.dir.path().join("root-credentials.json")).unwrap()).unwrap();
    let bearer =
        format!("Bearer {}:{}", root["AccessKeyId"].as_str().unwrap(), root["SecretAccessKey"].as_str().unwrap());
    let list = || pb::ListUsersRequest { account_id: h.account.clone(), ..Default::default() };
    let mut signed = tonic::Request::new(list());
    signed.metadata_mut().insert("authorization", bearer.parse().unwrap());
    h.identity.list_users(signed).await.unwrap();
    let key = tessera_credentials::MasterKey::load(&h.dir.path().join("master.key")).unwrap();
    h.identity.list_users(common::internal(&key, list())).await.unwrap();
    let refused = h.identity.list_users(list()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
}

#[tokio::test]
async fn the_services_run_on_redis_too() {
    let dir = tempfile::tempdir().unwrap();
    let key = common::redis_master_key_file(dir.path());
    let mut h = start_with(dir, |c| {
        c.store = Some(common::redis_url());
        c.master_key_file = Some(key);
    })
    .await;
    let a = h.account.clone();
    let name = format!("redis-user-{}", std::process::id());
    h.identity
        .create_user(pb::CreateUserRequest { account_id: a.clone(), user_name: name.clone(), ..Default::default() })
        .await
        .unwrap();
    let dup = h
        .identity
        .create_user(pb::CreateUserRequest { account_id: a.clone(), user_name: name.clone(), ..Default::default() })
        .await;
    assert_eq!(code(dup), ErrorCode::EntityAlreadyExists);
    h.identity.delete_user(pb::DeleteUserRequest { account_id: a, user_name: name }).await.unwrap();
}

#[tokio::test]
async fn the_binary_serves_until_terminated() {
    let dir = tempfile::tempdir().unwrap();
    let port = |l: std::net::TcpListener| l.local_addr().unwrap().port();
    // Ask the OS for two free ports, then hand them to the child.
    let (http, grpc) = (
        port(std::net::TcpListener::bind("127.0.0.1:0").unwrap()),
        port(std::net::TcpListener::bind("127.0.0.1:0").unwrap()),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--http-addr", &format!("127.0.0.1:{http}"), "--grpc-addr", &format!("127.0.0.1:{grpc}")])
        .env_remove("TESSERA_STORE")
        .env("TESSERA_ROOT_ACCESS_KEY_ID", "AKIAAUTOMATION00001")
        .env("TESSERA_ROOT_SECRET_ACCESS_KEY", "automation-secret-automation-secret-0001")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], http));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        match http_get(addr, "/healthz").await {
            Ok(status) => break status,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(error) => panic!("the server never answered: {error}"),
        }
    };
    assert_eq!(status, "HTTP/1.1 200 OK");
    // The operator's root key was installed, so no credentials file was generated.
    assert!(!dir.path().join("root-credentials.json").exists());
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the server did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn tessera_is_an_oidc_issuer_whose_tokens_verify_offline_with_its_jwks() {
    use tessera_proto::sts::v1 as spb;
    let h = start().await;
    let (status, body) = http_fetch(h.server.http_addr, "/.well-known/openid-configuration").await.unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    let discovery: serde_json::Value = serde_json::from_str(&body).unwrap();
    let issuer = format!("http://{}", h.server.http_addr);
    assert_eq!(discovery["issuer"], issuer.as_str());
    assert_eq!(discovery["jwks_uri"], format!("{issuer}/.well-known/jwks.json").as_str());
    let (_, jwks) = http_fetch(h.server.http_addr, "/.well-known/jwks.json").await.unwrap();
    let jwks = tessera_credentials::jwt::Jwks::parse(jwks.as_bytes()).unwrap();

    let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.server.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut sts = tessera_proto::sts::v1::sts_service_client::StsServiceClient::new(channel);
    let root_key = h.server.account.as_ref().unwrap().root_access_key_id.clone();
    let caller = Some(spb::Caller { access_key_id: root_key, ..Default::default() });
    let minted = sts
        .get_web_identity_token(spb::GetWebIdentityTokenRequest {
            caller: caller.clone(),
            audience: vec!["ci.example.com".into()],
            duration_seconds: Some(120),
        })
        .await
        .unwrap()
        .into_inner();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let expectations = tessera_credentials::jwt::Expectations {
        issuer: &issuer,
        audiences: &["ci.example.com".to_owned()],
        now,
        leeway_secs: 5,
    };
    let verified = tessera_credentials::jwt::verify(&minted.web_identity_token, &jwks, &expectations).unwrap();
    assert_eq!(verified.str_claim("sub"), Some(format!("arn:aws:iam::{}:root", h.account).as_str()));
    // Another audience does not verify, and bad requests are validation errors.
    let other = tessera_credentials::jwt::Expectations { audiences: &["elsewhere".to_owned()], ..expectations };
    assert!(tessera_credentials::jwt::verify(&minted.web_identity_token, &jwks, &other).is_err());
    let none = sts
        .get_web_identity_token(spb::GetWebIdentityTokenRequest { caller, audience: vec![], duration_seconds: None })
        .await;
    assert_eq!(code(none), ErrorCode::ValidationError);
}

#[tokio::test]
async fn the_gateway_answers_signed_aws_calls_and_audits_each_without_secrets() {
    let h = start().await;
    let creds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(h.dir.path().join("root-credentials.json")).unwrap()).unwrap();
    let (key, secret) = (creds["AccessKeyId"].as_str().unwrap(), creds["SecretAccessKey"].as_str().unwrap());
    let call = "Action=GetCallerIdentity&Version=2011-06-15";
    let (status, body) = signed_post(h.server.http_addr, key, secret, call).await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(body.contains(&format!("<Arn>arn:aws:iam::{}:root</Arn>", h.account)), "{body}");
    let wrong = "x".repeat(40);
    let (status, body) = signed_post(h.server.http_addr, key, &wrong, call).await;
    assert_eq!(status, "HTTP/1.1 403 Forbidden");
    assert!(body.contains("<Code>SignatureDoesNotMatch</Code>"), "{body}");

    // Both calls are audited (the writer is asynchronous: poll with a deadline).
    let dir = h.dir.path().join("audit");
    let deadline = Instant::now() + Duration::from_secs(10);
    let events = loop {
        let events = tessera_gateway_audit_query(&dir);
        if events.len() >= 2 || Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["action"], "sts:GetCallerIdentity");
    assert_eq!(events[0]["decision"], "allowed");
    assert_eq!(events[0]["principal_arn"], format!("arn:aws:iam::{}:root", h.account).as_str());
    assert_eq!(events[1]["decision"], "denied");
    assert_eq!(events[1]["error_code"], "SignatureDoesNotMatch");
    let everything: String =
        std::fs::read_dir(&dir).unwrap().map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap()).collect();
    assert!(!everything.contains(secret), "the audit log must never hold a secret");
}

/// Reads the audit files as JSON values (through the binary's own `tessera audit` command).
fn tessera_gateway_audit_query(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let data_dir = dir.parent().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["audit", "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// `--issue-rate-per-principal` and `--rate-per-principal` throttle as configured: a burst of
/// twice the rate, then `Throttling`.
#[tokio::test]
async fn request_and_issuance_rates_are_configurable() {
    let h = start_with(tempfile::tempdir().unwrap(), |c| {
        c.rates.issue_rate_per_principal = 1;
        c.rates.rate_per_principal = 3;
    })
    .await;
    let creds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(h.dir.path().join("root-credentials.json")).unwrap()).unwrap();
    let (key, secret) = (creds["AccessKeyId"].as_str().unwrap(), creds["SecretAccessKey"].as_str().unwrap());
    let issue = "Action=GetSessionToken&Version=2011-06-15";
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(signed_post(h.server.http_addr, key, secret, issue).await);
    }
    assert_eq!(statuses[0].0, "HTTP/1.1 200 OK", "{}", statuses[0].1);
    assert_eq!(statuses[1].0, "HTTP/1.1 200 OK", "{}", statuses[1].1);
    assert_eq!(statuses[2].0, "HTTP/1.1 400 Bad Request", "{}", statuses[2].1);
    assert!(statuses[2].1.contains("<Code>Throttling</Code>"), "{}", statuses[2].1);
    // Three requests so far; the principal's burst of six ends at the seventh.
    let who = "Action=GetCallerIdentity&Version=2011-06-15";
    let mut last = String::new();
    for _ in 0..4 {
        last = signed_post(h.server.http_addr, key, secret, who).await.1;
    }
    assert!(last.contains("<Code>Throttling</Code>"), "{last}");
}
