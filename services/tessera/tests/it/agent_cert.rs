//! A client certificate as a workload's bootstrap identity (issue 15), end to end against the real
//! server on loopback: `tessera serve --mtls-addr` verifies client certificates against its trust
//! anchor in the TLS handshake and issues, at `POST /sessions` (IAM Roles Anywhere's
//! `CreateSession`), sessions of roles trusting `rolesanywhere.amazonaws.com` with the
//! certificate's attributes as principal tags; `tessera agent --bootstrap-cert-file` vends them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tessera::agent::{Agent, AgentConfig};
use tessera::agent_sts::BootstrapArgs;
use tessera::mtls::MtlsConfig;
use tessera::serve::{ServeConfig, Server};
use tessera_proto::identity::v1 as ipb;
use tessera_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::transport::Channel;

/// A CA: its parameters and key (to sign with) and its PEM file.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: PathBuf,
}

fn ca(dir: &Path, name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).unwrap();
    let pem = dir.join(format!("{name}.pem"));
    std::fs::write(&pem, cert.pem()).unwrap();
    Ca { params, key, pem }
}

/// A leaf signed by `ca`: its certificate and key files.
fn leaf(
    dir: &Path,
    ca: &Ca,
    file: &str,
    cn: &str,
    sans: &[&str],
    serial: &[u8],
    usage: ExtendedKeyUsagePurpose,
) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.distinguished_name.push(DnType::OrganizationName, "Example");
    params.serial_number = Some(SerialNumber::from(serial.to_vec()));
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, &Issuer::from_params(&ca.params, &ca.key)).unwrap();
    let (cert_file, key_file) = (dir.join(format!("{file}.pem")), dir.join(format!("{file}.key")));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (cert_file, key_file)
}

/// `POST /sessions` with `body` over TLS (trusting `ca`, presenting `client` if given): the
/// status and JSON answer, or why no answer came (a refused handshake).
async fn post_sessions(
    addr: SocketAddr,
    ca: &Path,
    client: Option<&(PathBuf, PathBuf)>,
    body: &Value,
) -> Result<(u16, Value), String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(cert).unwrap().map(Result::unwrap).collect(),
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let server_name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(server_name, stream).await.map_err(|e| e.to_string())?;
    let body = body.to_string();
    let raw = format!(
        "POST /sessions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(raw.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await.map_err(|e| e.to_string())?;
    let response = String::from_utf8_lossy(&response);
    let status =
        response.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| format!("no answer: {response:?}"))?;
    let json = response.split_once("\r\n\r\n").and_then(|(_, b)| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
    Ok((status, json))
}

/// `GetCallerIdentity` signed with temporary credentials: the status and body.
async fn caller_identity(addr: SocketAddr, id: &str, secret: &str, token: &str) -> (u16, String) {
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let now = tessera::agent_sts::unix_now();
    let amz_date = tessera_sigv4::format_amz_date(now);
    let host = addr.to_string();
    let headers = [
        ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("host", host.as_str()),
        ("x-amz-date", amz_date.as_str()),
        ("x-amz-security-token", token),
    ];
    let request = tessera_sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body_sha256: tessera_sigv4::PayloadHash::of(body.as_bytes()),
    };
    let params = tessera_sigv4::SigningParams {
        access_key_id: id,
        secret: secret.as_bytes(),
        region: "us-east-1",
        service: "sts",
        amz_date: &amz_date,
    };
    let authorization = tessera_sigv4::sign(&request, &params);
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
         X-Amz-Date: {amz_date}\r\nX-Amz-Security-Token: {token}\r\nAuthorization: {authorization}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

/// A plain HTTP GET: the status and body.
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut raw = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

fn tag(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = xml.find(&open).map(|i| i + open.len()).unwrap_or_else(|| panic!("no {name} in {xml}"));
    xml[start..start + xml[start..].find(&format!("</{name}>")).unwrap()].to_owned()
}

#[tokio::test]
async fn a_client_certificate_gets_role_credentials_that_the_agent_vends() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let trusted = ca(d, "tessera-test-ca");
    let untrusted = ca(d, "other-ca");
    let server_cert =
        leaf(d, &trusted, "server", "127.0.0.1", &["127.0.0.1"], &[0x01], ExtendedKeyUsagePurpose::ServerAuth);
    let client = ExtendedKeyUsagePurpose::ClientAuth;
    let orders = leaf(d, &trusted, "orders", "orders", &["orders.example.internal"], &[0x2a, 0x5f], client.clone());
    let intruder = leaf(d, &trusted, "intruder", "intruder", &[], &[0x66], client.clone());
    let stranger = leaf(d, &untrusted, "stranger", "orders", &[], &[0x2a, 0x5f], client);

    let mut config = ServeConfig::for_tests(d);
    config.mtls = MtlsConfig {
        mtls_addr: Some("127.0.0.1:0".parse().unwrap()),
        tls_cert_file: Some(server_cert.0.clone()),
        tls_key_file: Some(server_cert.1.clone()),
        client_ca_file: Some(trusted.pem.clone()),
    };
    let server = Server::start(config).await.unwrap();
    let mtls = server.mtls_addr.expect("the mutual-TLS listener is bound");
    let account = server.account.as_ref().unwrap().account_id.clone();
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr)).unwrap().connect().await.unwrap();
    let role_arn = format!("arn:aws:iam::{account}:role/orders-service");
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "rolesanywhere.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
        "Condition": {"StringEquals": {"aws:PrincipalTag/x509Subject/CN": "orders"}},
    }]});
    IdentityServiceClient::new(channel)
        .create_role(ipb::CreateRoleRequest {
            account_id: account.clone(),
            role_name: "orders-service".into(),
            assume_role_policy_document: trust.to_string(),
            ..Default::default()
        })
        .await
        .unwrap();
    let request = json!({"roleArn": role_arn, "durationSeconds": 900});

    // The orders certificate: a session named after its serial, its CN the source identity.
    let (status, answer) = post_sessions(mtls, &trusted.pem, Some(&orders), &request).await.unwrap();
    assert_eq!(status, 201, "{answer}");
    let set = &answer["credentialSet"][0];
    let session_arn = format!("arn:aws:sts::{account}:assumed-role/orders-service/2a5f");
    assert_eq!(set["assumedRoleUser"]["arn"], session_arn.as_str());
    assert_eq!(set["sourceIdentity"], "orders");
    assert_eq!(set["roleArn"], role_arn.as_str());
    let credentials = &set["credentials"];
    let (id, secret, token) = (
        credentials["accessKeyId"].as_str().unwrap(),
        credentials["secretAccessKey"].as_str().unwrap(),
        credentials["sessionToken"].as_str().unwrap(),
    );
    assert!(id.starts_with("ASIA"));
    let (status, body) = caller_identity(server.http_addr, id, secret, token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(tag(&body, "Arn"), session_arn);

    // A session name asked for wins over the serial.
    let named = json!({"roleArn": role_arn, "roleSessionName": "nightly"});
    let (status, answer) = post_sessions(mtls, &trusted.pem, Some(&orders), &named).await.unwrap();
    assert_eq!(status, 201, "{answer}");
    assert!(answer["credentialSet"][0]["assumedRoleUser"]["arn"].as_str().unwrap().ends_with("/nightly"));

    // The intruder's certificate is trusted, but the role's trust policy refuses its CN.
    let (status, answer) = post_sessions(mtls, &trusted.pem, Some(&intruder), &request).await.unwrap();
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["__type"], "AccessDeniedException");
    // A role that does not exist is a refusal too, and bad input a validation error.
    let missing = json!({"roleArn": format!("arn:aws:iam::{account}:role/nobody")});
    let (status, _) = post_sessions(mtls, &trusted.pem, Some(&orders), &missing).await.unwrap();
    assert_eq!(status, 403);
    let (status, answer) =
        post_sessions(mtls, &trusted.pem, Some(&orders), &json!({"durationSeconds": 900})).await.unwrap();
    assert_eq!((status, answer["__type"].as_str()), (400, Some("ValidationException")));

    // A certificate of another CA, even with CN=orders, and no certificate: the handshake refuses.
    let error = post_sessions(mtls, &trusted.pem, Some(&stranger), &request).await.unwrap_err();
    assert!(!error.is_empty());
    post_sessions(mtls, &trusted.pem, None, &request).await.unwrap_err();

    // The agent, bootstrapped with the orders certificate, vends the role's credentials.
    let token_file = d.join("agent-token");
    std::fs::write(&token_file, "container-token").unwrap();
    let agent = Agent::start(AgentConfig {
        endpoint: format!("http://{}", server.http_addr),
        role_arn: role_arn.clone(),
        role_session_name: "tessera-agent".into(),
        duration_seconds: 900,
        region: "us-east-1".into(),
        bootstrap: BootstrapArgs {
            bootstrap_cert_file: Some(orders.0.clone()),
            bootstrap_key_file: Some(orders.1.clone()),
            mtls_endpoint: Some(format!("https://{mtls}")),
            ca_file: Some(trusted.pem.clone()),
            ..Default::default()
        },
        listen: "127.0.0.1:0".parse().unwrap(),
        auth_token_file: Some(token_file),
        refresh_ahead: None,
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let vended: Value = loop {
        let (status, body) = get(agent.addr, "/v1/credentials", &[("authorization", "container-token")]).await;
        if status == 200 {
            break serde_json::from_str(&body).unwrap();
        }
        assert!(Instant::now() < deadline, "the agent's credentials within 30 s: {status} {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(vended["RoleArn"], role_arn.as_str());
    let (status, body) = caller_identity(
        server.http_addr,
        vended["AccessKeyId"].as_str().unwrap(),
        vended["SecretAccessKey"].as_str().unwrap(),
        vended["Token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(tag(&body, "Arn"), session_arn);
    agent.stop().await;

    // The intruder's certificate gives the agent nothing to vend, and it says why.
    let token_file = d.join("agent-token");
    let refused = Agent::start(AgentConfig {
        endpoint: format!("http://{}", server.http_addr),
        role_arn: role_arn.clone(),
        role_session_name: "tessera-agent".into(),
        duration_seconds: 900,
        region: "us-east-1".into(),
        bootstrap: BootstrapArgs {
            bootstrap_cert_file: Some(intruder.0.clone()),
            bootstrap_key_file: Some(intruder.1.clone()),
            mtls_endpoint: Some(format!("https://{mtls}")),
            ca_file: Some(trusted.pem.clone()),
            ..Default::default()
        },
        listen: "127.0.0.1:0".parse().unwrap(),
        auth_token_file: Some(token_file),
        refresh_ahead: None,
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = get(refused.addr, "/healthz", &[]).await;
        if body.contains("AccessDenied") {
            break;
        }
        assert!(Instant::now() < deadline, "the refusal reported within 30 s: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused.access_key_id().is_none());
    refused.stop().await;
    server.stop().await.unwrap();
}
