//! `tessera agent` against the real server on loopback: it vends its role's credentials on the
//! container and IMDSv2 endpoints, refreshes them ahead of expiry (`--refresh-ahead`), and when
//! Tessera stops answering keeps serving the ones it holds (health still ok, the failed refresh
//! reported), while refusing callers without the endpoints' tokens. The SDKs' side of the same
//! endpoints is compat/test_workloads.py.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use tessera::agent::{Agent, AgentConfig};
use tessera::agent_sts::BootstrapArgs;
use tessera::serve::{ServeConfig, Server};
use tessera_proto::common::v1 as c;
use tessera_proto::identity::v1 as ipb;
use tessera_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tessera_proto::policy::v1 as ppb;
use tessera_proto::policy::v1::policy_service_client::PolicyServiceClient;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::transport::Channel;

/// `method path` to `addr` with `headers`: the status and body.
async fn call(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut raw = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: 0\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).unwrap_or_default().parse().unwrap_or(0);
    (status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

async fn poll<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or_else(|| panic!("{name}: {text}"))
}

#[tokio::test]
async fn the_agent_refreshes_ahead_of_expiry_and_serves_what_it_holds_while_tessera_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(ServeConfig::for_tests(dir.path())).await.unwrap();
    let account = server.account.as_ref().unwrap().account_id.clone();
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr)).unwrap().connect().await.unwrap();
    let mut identity = IdentityServiceClient::new(channel.clone());
    let role_arn = format!("arn:aws:iam::{account}:role/worker");
    let user_arn = format!("arn:aws:iam::{account}:user/boot");
    identity
        .create_user(ipb::CreateUserRequest {
            account_id: account.clone(),
            user_name: "boot".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let key = identity
        .create_access_key(ipb::CreateAccessKeyRequest { account_id: account.clone(), user_name: Some("boot".into()) })
        .await
        .unwrap()
        .into_inner()
        .access_key
        .unwrap();
    identity
        .create_role(ipb::CreateRoleRequest {
            account_id: account.clone(),
            role_name: "worker".into(),
            assume_role_policy_document: format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{user_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    PolicyServiceClient::new(channel)
        .put_inline_policy(ppb::PutInlinePolicyRequest {
            account_id: account.clone(),
            entity: Some(c::EntityRef { kind: c::EntityKind::User.into(), name: "boot".into() }),
            policy_name: "assume".into(),
            policy_document: format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{role_arn}"}}]}}"#
            ),
        })
        .await
        .unwrap();
    let key_file = dir.path().join("key.json");
    std::fs::write(
        &key_file,
        format!(r#"{{"AccessKeyId":"{}","SecretAccessKey":"{}"}}"#, key.access_key_id, key.secret_access_key),
    )
    .unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "container-token").unwrap();
    let config = AgentConfig {
        endpoint: format!("http://{}", server.http_addr),
        role_arn: role_arn.clone(),
        role_session_name: "worker".into(),
        duration_seconds: 900,
        region: "us-east-1".into(),
        bootstrap: BootstrapArgs { key_file: Some(key_file), ..Default::default() },
        listen: "127.0.0.1:0".parse().unwrap(),
        auth_token_file: Some(token_file),
        // A 900 s session refreshed about every second.
        refresh_ahead: Some(Duration::from_secs(899)),
    };
    let mut exposed = config.clone();
    exposed.listen = "0.0.0.0:0".parse().unwrap();
    assert!(Agent::start(exposed).await.unwrap_err().to_string().contains("loopback"));
    let agent = Agent::start(config).await.unwrap();
    let addr = agent.addr;
    let auth = [("authorization", "container-token")];

    // The container endpoint, then a refresh: new credentials long before the first expire.
    let first: Value = poll("credentials", async || {
        let (status, body) = call(addr, "GET", "/v1/credentials", &auth).await;
        (status == 200).then(|| serde_json::from_str(&body).unwrap())
    })
    .await;
    assert_eq!(first["RoleArn"], role_arn.as_str());
    assert!(first["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    let first_expiry = tessera::agent_sts::parse_iso8601(first["Expiration"].as_str().unwrap()).unwrap();
    let refreshed: Value = poll("a refresh", async || {
        let (_, body) = call(addr, "GET", "/v1/credentials", &auth).await;
        let now: Value = serde_json::from_str(&body).unwrap();
        (now["AccessKeyId"] != first["AccessKeyId"]).then_some(now)
    })
    .await;
    assert!(tessera::agent_sts::unix_now() < first_expiry);
    assert!(tessera::agent_sts::parse_iso8601(refreshed["Expiration"].as_str().unwrap()).unwrap() >= first_expiry);

    // IMDSv2: a session token first, then the role's name and credentials.
    assert_eq!(call(addr, "GET", "/latest/meta-data/iam/security-credentials/", &[]).await.0, 401);
    assert_eq!(call(addr, "PUT", "/latest/api/token", &[]).await.0, 400);
    let (status, imds_token) =
        call(addr, "PUT", "/latest/api/token", &[("x-aws-ec2-metadata-token-ttl-seconds", "60")]).await;
    assert_eq!(status, 200);
    let imds = [("x-aws-ec2-metadata-token", imds_token.as_str())];
    assert_eq!(call(addr, "GET", "/latest/meta-data/iam/security-credentials/", &imds).await, (200, "worker".into()));
    let (status, body) = call(addr, "GET", "/latest/meta-data/iam/security-credentials/worker", &imds).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["Code"], "Success");
    assert_eq!(call(addr, "GET", "/latest/meta-data/iam/security-credentials/other", &imds).await.0, 404);
    assert_eq!(call(addr, "GET", "/v1/credentials", &[("authorization", "guess")]).await.0, 401);

    // Tessera goes away: the agent keeps serving what it holds and says the refresh failed.
    server.stop().await.unwrap();
    let failures_before = metric(&call(addr, "GET", "/metrics", &[]).await.1, "tessera_agent_refresh_failures_total");
    poll("a failed refresh", async || {
        let (_, text) = call(addr, "GET", "/metrics", &[]).await;
        (metric(&text, "tessera_agent_refresh_failures_total") > failures_before).then_some(())
    })
    .await;
    let (status, body) = call(addr, "GET", "/v1/credentials", &auth).await;
    assert_eq!(status, 200, "{body}");
    let held: Value = serde_json::from_str(&body).unwrap();
    assert!(held["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    let (status, health) = call(addr, "GET", "/healthz", &[]).await;
    assert_eq!(status, 200, "{health}");
    let health: Value = serde_json::from_str(&health).unwrap();
    assert!(health["last_refresh_error"].as_str().unwrap().contains("cannot reach"), "{health}");
    assert!(!health.to_string().contains(held["SecretAccessKey"].as_str().unwrap()));
    agent.stop().await;
}

/// Tessera's issuer routes served over https at `https://127.0.0.1:<port>` (a TLS front proxying
/// to Tessera's HTTP port once it is known), as an operator would front them; the CA's PEM.
async fn tls_front(
    listener: tokio::net::TcpListener,
    upstream: std::sync::Arc<std::sync::OnceLock<SocketAddr>>,
) -> String {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "agent test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    let cert = params.signed_by(&key, &Issuer::from_params(&ca_params, &ca_key)).unwrap();
    let tls =
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(tls));
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let (acceptor, upstream) = (acceptor.clone(), std::sync::Arc::clone(&upstream));
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let upstream = upstream.get().copied();
                    async move {
                        let (status, body) = match upstream {
                            Some(addr) => call(addr, "GET", request.uri().path(), &[]).await,
                            None => (503, String::new()),
                        };
                        let mut response = hyper::Response::new(axum::body::Body::from(body));
                        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        response.headers_mut().insert("content-type", "application/json".parse().unwrap());
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    ca_cert.pem()
}

#[tokio::test]
async fn a_token_tessera_minted_is_a_bootstrap_identity_for_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let front = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("https://{}", front.local_addr().unwrap());
    let upstream = std::sync::Arc::new(std::sync::OnceLock::new());
    let ca = tls_front(front, std::sync::Arc::clone(&upstream)).await;
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let mut config = ServeConfig::for_tests(&dir.path().join("data"));
    config.issuer_url = Some(issuer.clone());
    config.oidc_ca_file = Some(ca_file);
    let server = Server::start(config).await.unwrap();
    upstream.set(server.http_addr).unwrap();
    let account = server.account.as_ref().unwrap().account_id.clone();
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr)).unwrap().connect().await.unwrap();
    let mut identity = IdentityServiceClient::new(channel.clone());

    // A workload with no identity of its own: an operator mints it a token (here of a user).
    identity
        .create_user(ipb::CreateUserRequest {
            account_id: account.clone(),
            user_name: "job".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let key = identity
        .create_access_key(ipb::CreateAccessKeyRequest { account_id: account.clone(), user_name: Some("job".into()) })
        .await
        .unwrap()
        .into_inner()
        .access_key
        .unwrap();
    let token = tessera_proto::sts::v1::sts_service_client::StsServiceClient::new(channel.clone())
        .get_web_identity_token(tessera_proto::sts::v1::GetWebIdentityTokenRequest {
            caller: Some(tessera_proto::sts::v1::Caller {
                access_key_id: key.access_key_id.clone(),
                ..Default::default()
            }),
            audience: vec!["sts.amazonaws.com".into()],
            duration_seconds: Some(3600),
        })
        .await
        .unwrap()
        .into_inner()
        .web_identity_token;

    // Tessera's issuer registered as an OIDC provider, and a role its tokens may assume.
    let host = issuer.trim_start_matches("https://");
    let provider = identity
        .create_open_id_connect_provider(ipb::CreateOpenIdConnectProviderRequest {
            account_id: account.clone(),
            url: issuer.clone(),
            client_id_list: vec!["sts.amazonaws.com".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .open_id_connect_provider_arn;
    identity
        .create_role(ipb::CreateRoleRequest {
            account_id: account.clone(),
            role_name: "batch".into(),
            assume_role_policy_document: format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{host}:aud":"sts.amazonaws.com"}}}}}}]}}"#
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    let token_file = dir.path().join("tessera-token");
    std::fs::write(&token_file, token).unwrap();
    let agent_token = dir.path().join("agent-token");
    std::fs::write(&agent_token, "t").unwrap();
    let agent = Agent::start(AgentConfig {
        endpoint: format!("http://{}", server.http_addr),
        role_arn: format!("arn:aws:iam::{account}:role/batch"),
        role_session_name: "batch".into(),
        duration_seconds: 900,
        region: "us-east-1".into(),
        bootstrap: BootstrapArgs { web_identity_token_file: Some(token_file), ..Default::default() },
        listen: "127.0.0.1:0".parse().unwrap(),
        auth_token_file: Some(agent_token),
        refresh_ahead: None,
    })
    .await
    .unwrap();
    let addr = agent.addr;
    let health: Value = poll("credentials from the Tessera-minted token", async || {
        let (status, body) = call(addr, "GET", "/healthz", &[]).await;
        (status == 200).then(|| serde_json::from_str(&body).unwrap())
    })
    .await;
    assert!(health["access_key_id"].as_str().unwrap().starts_with("ASIA"), "{health}");
    let (_, body) = call(addr, "GET", "/v1/credentials", &[("authorization", "t")]).await;
    let credentials: Value = serde_json::from_str(&body).unwrap();
    // GetCallerIdentity with them names the assumed role.
    let caller = tessera_proto::sts::v1::sts_service_client::StsServiceClient::new(channel)
        .get_caller_identity(tessera_proto::sts::v1::GetCallerIdentityRequest {
            caller: Some(tessera_proto::sts::v1::Caller {
                access_key_id: credentials["AccessKeyId"].as_str().unwrap().into(),
                session_token: Some(credentials["Token"].as_str().unwrap().into()),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(caller.arn, format!("arn:aws:sts::{account}:assumed-role/batch/batch"));
    agent.stop().await;
}
