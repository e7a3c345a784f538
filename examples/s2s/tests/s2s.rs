//! The example end to end against the real server on loopback: Tessera, one `tessera agent` per
//! service (each with its own role, bootstrapped from its own key file), service B (`orders`)
//! behind the authorizer layer and service A calling it. A's role may only `orders:Read` B's
//! orders: reads pass, writes are refused with the authorizer's explanation, a caller without
//! credentials is refused, and once A's session is revoked A's very next call is refused.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use tessera::agent::{Agent, AgentConfig};
use tessera::agent_sts::BootstrapArgs;
use tessera::serve::{ServeConfig, Server};
use tessera_authz_client::workload::{AgentCredentials, SigV4GrpcLayer, authorize_grpc};
use tessera_authz_client::{Local, Remote};
use tessera_example_s2s::{OrdersClient, REGION, SERVICE, frontend, order_arn, orders, serve, serve_orders_grpc};
use tessera_proto::common::v1 as c;
use tessera_proto::identity::v1 as ipb;
use tessera_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tessera_proto::policy::v1 as ppb;
use tessera_proto::policy::v1::policy_service_client::PolicyServiceClient;
use tessera_proto::sts::v1 as spb;
use tessera_proto::sts::v1::sts_service_client::StsServiceClient;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

struct Setup {
    identity: IdentityServiceClient<Channel>,
    policy: PolicyServiceClient<Channel>,
    account: String,
    dir: std::path::PathBuf,
}

impl Setup {
    /// A role `name` with `policy` (if any), assumable by a new user whose key is written to a
    /// key file; the role ARN and the key file.
    async fn role(&mut self, name: &str, policy: Option<String>) -> (String, std::path::PathBuf) {
        let account = self.account.clone();
        let user = format!("{name}-bootstrap");
        let user_arn = format!("arn:aws:iam::{account}:user/{user}");
        let role_arn = format!("arn:aws:iam::{account}:role/{name}");
        self.identity
            .create_user(ipb::CreateUserRequest {
                account_id: account.clone(),
                user_name: user.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        let key = self
            .identity
            .create_access_key(ipb::CreateAccessKeyRequest {
                account_id: account.clone(),
                user_name: Some(user.clone()),
            })
            .await
            .unwrap()
            .into_inner()
            .access_key
            .unwrap();
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{user_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        self.identity
            .create_role(ipb::CreateRoleRequest {
                account_id: account.clone(),
                role_name: name.into(),
                assume_role_policy_document: trust,
                ..Default::default()
            })
            .await
            .unwrap();
        let put =
            |kind: c::EntityKind, entity: &str, policy_name: &str, document: String| ppb::PutInlinePolicyRequest {
                account_id: account.clone(),
                entity: Some(c::EntityRef { kind: kind.into(), name: entity.into() }),
                policy_name: policy_name.into(),
                policy_document: document,
            };
        let assume = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{role_arn}"}}]}}"#
        );
        self.policy.put_inline_policy(put(c::EntityKind::User, &user, "assume", assume)).await.unwrap();
        if let Some(document) = policy {
            self.policy.put_inline_policy(put(c::EntityKind::Role, name, "orders", document)).await.unwrap();
        }
        let key_file = self.dir.join(format!("{name}.key.json"));
        std::fs::write(
            &key_file,
            format!(r#"{{"AccessKeyId":"{}","SecretAccessKey":"{}"}}"#, key.access_key_id, key.secret_access_key),
        )
        .unwrap();
        (role_arn, key_file)
    }
}

/// An agent for `role_arn` and the token its container endpoint requires.
async fn agent(
    server: &Server,
    dir: &std::path::Path,
    role_arn: &str,
    key_file: std::path::PathBuf,
) -> (Agent, String) {
    let token = format!("token-{}", role_arn.len());
    let token_file = dir.join(format!("{}.token", role_arn.rsplit('/').next().unwrap()));
    std::fs::write(&token_file, &token).unwrap();
    let agent = Agent::start(AgentConfig {
        endpoint: format!("http://{}", server.http_addr),
        role_arn: role_arn.into(),
        role_session_name: "s2s".into(),
        duration_seconds: 900,
        region: "us-east-1".into(),
        bootstrap: BootstrapArgs { key_file: Some(key_file), ..Default::default() },
        listen: "127.0.0.1:0".parse().unwrap(),
        auth_token_file: Some(token_file),
        refresh_ahead: None,
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while agent.access_key_id().is_none() {
        assert!(Instant::now() < deadline, "the agent got no credentials");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (agent, token)
}

/// A channel to `url`, once its server accepts.
async fn poll_connect(url: &str) -> Channel {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Channel::from_shared(url.to_owned()).unwrap().connect().await {
            Ok(channel) => return channel,
            Err(error) => assert!(Instant::now() < deadline, "{url}: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn listen() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

#[tokio::test]
async fn a_calls_b_with_its_role_b_allows_only_reads_and_revoking_a_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(ServeConfig::for_tests(dir.path())).await.unwrap();
    let account = server.account.as_ref().unwrap().account_id.clone();
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr)).unwrap().connect().await.unwrap();
    let mut setup = Setup {
        identity: IdentityServiceClient::new(channel.clone()),
        policy: PolicyServiceClient::new(channel.clone()),
        account: account.clone(),
        dir: dir.path().to_owned(),
    };
    let read = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"orders:Read","Resource":"{}"}}]}}"#,
        order_arn(&account, "*")
    );
    let (frontend_role, frontend_key) = setup.role("frontend", Some(read)).await;
    let (orders_role, orders_key) = setup.role("orders", None).await;

    // B, with its own role and agent, asks the authorizer over gRPC; a second B in-process.
    let (b_agent, _) = agent(&server, dir.path(), &orders_role, orders_key).await;
    let (listener, b_url) = listen().await;
    tokio::spawn(serve(listener, orders(Remote::new(channel.clone()), &account)));
    let (listener, b_local_url) = listen().await;
    let in_process = server.authorizer.clone().expect("the all-in-one server runs the authorizer");
    tokio::spawn(serve(listener, orders(Local::new(in_process), &account)));

    // A, with its own role and agent.
    let (a_agent, a_token) = agent(&server, dir.path(), &frontend_role, frontend_key).await;
    let a_credentials = AgentCredentials::new(&format!("http://{}", a_agent.addr), a_token).unwrap();
    let a = OrdersClient::new(&b_url, a_credentials.clone()).unwrap();
    let a_local = OrdersClient::new(&b_local_url, a_credentials.clone()).unwrap();

    // Allowed: A reads an order; B sees A's role session.
    let assumed = format!("arn:aws:sts::{account}:assumed-role/frontend/s2s");
    for client in [&a, &a_local] {
        let (status, body) = client.call(Method::GET, "42").await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["caller"], assumed.as_str(), "{body}");
        assert_eq!(body["order"], "42");
        // Denied, with the authorizer's explanation: A's role may not write.
        let (status, body) = client.call(Method::POST, "42").await.unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["code"], "AccessDenied", "{body}");
        let why = body["message"].as_str().unwrap_or_default();
        assert!(why.contains("allows `orders:Write`"), "no explanation: {body}");
        println!("denied orders:Write: {why}");
    }
    // B's own role is not A's: B's agent vends another session.
    assert_ne!(b_agent.access_key_id(), a_agent.access_key_id());

    // A's service in front (GET /checkout/<id> reads from B) relays B's answer.
    let (listener, a_url) = listen().await;
    tokio::spawn(serve(listener, frontend(a.clone())));
    let mut stream = tokio::net::TcpStream::connect(a_url.trim_start_matches("http://")).await.unwrap();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream.write_all(b"GET /checkout/7 HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(&assumed), "{answer}");

    // gRPC: A's calls to B's gRPC side signed with SigV4 (or a bearer session); unsigned ones and
    // what A's role may not do are refused with gRPC statuses.
    let (listener, b_grpc_url) = listen().await;
    let grpc_authorizer = Remote::new(channel.clone());
    let grpc_account = account.clone();
    tokio::spawn(async move { serve_orders_grpc(grpc_authorizer, &grpc_account, listener).await.unwrap() });
    let b_channel = poll_connect(&b_grpc_url).await;
    let signed = tower::ServiceBuilder::new()
        .layer(SigV4GrpcLayer::new(a_credentials.clone(), &b_grpc_url, SERVICE, REGION).unwrap())
        .service(b_channel.clone());
    let mut a_grpc = HealthClient::new(signed);
    let check = || HealthCheckRequest { service: String::new() };
    let serving = a_grpc.check(check()).await.unwrap().into_inner();
    assert_eq!(serving.status, i32::from(ServingStatus::Serving));
    let denied = a_grpc.watch(check()).await.unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied, "{denied:?}");
    assert!(denied.message().contains("allows `orders:Write`"), "{denied:?}");
    let unsigned = HealthClient::new(b_channel.clone()).check(check()).await.unwrap_err();
    assert_eq!(unsigned.code(), tonic::Code::Unauthenticated, "{unsigned:?}");
    let mut with_bearer = tonic::Request::new(check());
    authorize_grpc(&mut with_bearer, &a_credentials.current().await.unwrap());
    HealthClient::new(b_channel.clone()).check(with_bearer).await.unwrap();

    // Revoke A's session: A's next call is refused, at once.
    let (_, body) = a.call(Method::GET, "42").await.unwrap();
    let session = body["session"].as_str().expect("a role session has an id").to_owned();
    let revoked_at = Instant::now();
    StsServiceClient::new(channel.clone())
        .revoke_session(spb::RevokeSessionRequest { account_id: account.clone(), session_id: session })
        .await
        .unwrap();
    for client in [&a, &a_local] {
        let (status, body) = client.call(Method::GET, "42").await.unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body["message"].as_str().unwrap_or_default().contains("revoked"), "{body}");
        println!("after revocation: {status} {body}");
    }
    let refused = a_grpc.check(check()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    println!("A refused {:?} after the revocation was made", revoked_at.elapsed());
    a_agent.stop().await;
    b_agent.stop().await;
}
