//! A split cluster in-process on a private Redis: one identity, two policy and one sts replica
//! (`--service ...`, each requiring the internal-call proof), and two gateways (`--service
//! gateway --upstream ...`), driven over the AWS Query API with SigV4 as an SDK would. Writes
//! through one gateway are read and enforced through the other, sessions cross gateways, errors
//! answer what the all-in-one server answers, and a policy replica stopping mid-way fails no read.

use crate::common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tessera::serve::{ServeConfig, Server, ServiceSet, UpstreamService, UpstreamUrl};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const ACCOUNT: &str = "111122223333";

/// An access key, with its session token for temporary credentials.
#[derive(Clone, Debug)]
struct Key {
    id: String,
    secret: String,
    token: Option<String>,
}

/// Text between `open` and `close` in `body`.
fn between(body: &str, open: &str, close: &str) -> Option<String> {
    let start = body.find(open)? + open.len();
    let end = body[start..].find(close)? + start;
    Some(body[start..end].to_owned())
}

/// `body` without its `<RequestId>` (different on every answer).
fn without_request_id(body: &str) -> String {
    match (body.find("<RequestId>"), body.find("</RequestId>")) {
        (Some(start), Some(end)) => format!("{}{}", &body[..start], &body[end + "</RequestId>".len()..]),
        _ => body.to_owned(),
    }
}

/// Form-encodes `value` (every byte but unreserved characters as `%XX`).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A SigV4-signed Query POST of `params` (the action's service decides the signing service and
/// the `Version`); returns the status code and the body.
async fn call(addr: SocketAddr, key: &Key, params: &[(&str, &str)]) -> (u16, String) {
    let action = params.iter().find(|(k, _)| *k == "Action").map(|(_, v)| *v).unwrap_or_default();
    let sts = matches!(action, "AssumeRole" | "GetCallerIdentity" | "GetSessionToken" | "GetFederationToken");
    let (service, version) = if sts { ("sts", "2011-06-15") } else { ("iam", "2010-05-08") };
    let mut body: String = params.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&");
    body.push_str(&format!("&Version={version}"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let amz_date = tessera_sigv4::format_amz_date(now);
    let host = addr.to_string();
    let mut headers = vec![
        ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("host", host.as_str()),
        ("x-amz-date", amz_date.as_str()),
    ];
    if let Some(token) = &key.token {
        headers.push(("x-amz-security-token", token.as_str()));
    }
    let request = tessera_sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body_sha256: tessera_sigv4::PayloadHash::of(body.as_bytes()),
    };
    let params = tessera_sigv4::SigningParams {
        access_key_id: &key.id,
        secret: key.secret.as_bytes(),
        region: "us-east-1",
        service,
        amz_date: &amz_date,
    };
    let authorization = tessera_sigv4::sign(&request, &params);
    let token = key.token.as_ref().map(|t| format!("X-Amz-Security-Token: {t}\r\n")).unwrap_or_default();
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
         X-Amz-Date: {amz_date}\r\n{token}Authorization: {authorization}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

async fn ok(addr: SocketAddr, key: &Key, params: &[(&str, &str)]) -> String {
    let (status, body) = call(addr, key, params).await;
    assert_eq!(status, 200, "{params:?} through {addr}: {body}");
    body
}

async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

/// Polls `check` until it holds, for at most `limit`.
async fn within<F: std::future::Future<Output = bool>>(limit: Duration, what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

struct Cluster {
    _redis: common::PrivateRedis,
    _dirs: Vec<tempfile::TempDir>,
    identity: Server,
    policy: Vec<Server>,
    sts: Server,
    gateways: Vec<Server>,
    all_in_one: Server,
    root: Key,
}

async fn start(dirs: &mut Vec<tempfile::TempDir>, config: impl FnOnce(&mut ServeConfig)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut c = ServeConfig::for_tests(dir.path());
    config(&mut c);
    dirs.push(dir);
    Server::start(c).await.unwrap()
}

impl Cluster {
    async fn start() -> Self {
        let mut dirs = vec![tempfile::tempdir().unwrap()];
        let redis = common::PrivateRedis::start(dirs[0].path());
        let key_file: PathBuf = dirs[0].path().join("master.key");
        std::fs::write(&key_file, tessera_credentials::MasterKey::from_bytes([0x5a; 32]).encode()).unwrap();
        let base = |c: &mut ServeConfig| {
            c.store = Some(redis.url.clone());
            c.master_key_file = Some(key_file.clone());
            c.account_id = Some(ACCOUNT.to_owned());
        };
        let identity = start(&mut dirs, |c| {
            base(c);
            c.service = ServiceSet::Identity;
        })
        .await;
        let root_file = dirs.last().unwrap().path().join("root-credentials.json");
        let root: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root_file).unwrap()).unwrap();
        let root = Key {
            id: root["AccessKeyId"].as_str().unwrap().to_owned(),
            secret: root["SecretAccessKey"].as_str().unwrap().to_owned(),
            token: None,
        };
        let mut policy = Vec::new();
        for _ in 0..2 {
            policy.push(
                start(&mut dirs, |c| {
                    base(c);
                    c.service = ServiceSet::Policy;
                })
                .await,
            );
        }
        let sts = start(&mut dirs, |c| {
            base(c);
            c.service = ServiceSet::Sts;
        })
        .await;
        let upstream = |service, server: &Server| UpstreamUrl { service, url: format!("http://{}", server.grpc_addr) };
        let mut upstreams = vec![upstream(UpstreamService::Identity, &identity), upstream(UpstreamService::Sts, &sts)];
        upstreams.extend(policy.iter().map(|p| upstream(UpstreamService::Policy, p)));
        let mut gateways = Vec::new();
        for _ in 0..2 {
            gateways.push(
                start(&mut dirs, |c| {
                    base(c);
                    c.service = ServiceSet::Gateway;
                    c.upstream = upstreams.clone();
                })
                .await,
            );
        }
        let all_in_one = start(&mut dirs, base).await;
        for gateway in &gateways {
            within(Duration::from_secs(10), "the gateway is ready", || async {
                http_get(gateway.http_addr, "/readyz").await.0 == 200
            })
            .await;
        }
        Self { _redis: redis, _dirs: dirs, identity, policy, sts, gateways, all_in_one, root }
    }
}

const ALLOW_GET_USER: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_cluster_behaves_as_one_server() {
    let cluster = Cluster::start().await;
    let (a, b) = (cluster.gateways[0].http_addr, cluster.gateways[1].http_addr);
    let root = &cluster.root;

    // /readyz names each upstream.
    let (status, ready) = http_get(a, "/readyz").await;
    assert_eq!(status, 200, "{ready}");
    for service in ["identity", "policy", "sts"] {
        assert!(ready.contains(&format!("upstream {service}: ready")), "{ready}");
    }
    assert!(ready.contains("upstream policy: ready (2/2 replicas serving"), "{ready}");

    // A user created through A is visible through B.
    ok(a, root, &[("Action", "CreateUser"), ("UserName", "alice")]).await;
    let got = ok(b, root, &[("Action", "GetUser"), ("UserName", "alice")]).await;
    assert!(got.contains("<UserName>alice</UserName>"), "{got}");
    let created = ok(a, root, &[("Action", "CreateAccessKey"), ("UserName", "alice")]).await;
    let alice = Key {
        id: between(&created, "<AccessKeyId>", "</AccessKeyId>").unwrap(),
        secret: between(&created, "<SecretAccessKey>", "</SecretAccessKey>").unwrap(),
        token: None,
    };

    // A policy change through A is enforced by B within a second, both ways.
    let get_self = [("Action", "GetUser"), ("UserName", "alice")];
    let (status, denied) = call(b, &alice, &get_self).await;
    assert_eq!(status, 403, "{denied}");
    let put =
        [("Action", "PutUserPolicy"), ("UserName", "alice"), ("PolicyName", "p"), ("PolicyDocument", ALLOW_GET_USER)];
    ok(a, root, &put).await;
    within(Duration::from_secs(1), "B allows after A's grant", || async { call(b, &alice, &get_self).await.0 == 200 })
        .await;
    ok(a, root, &[("Action", "DeleteUserPolicy"), ("UserName", "alice"), ("PolicyName", "p")]).await;
    within(Duration::from_secs(1), "B denies after A's revoke", || async { call(b, &alice, &get_self).await.0 == 403 })
        .await;

    // AssumeRole through B; the session works through A.
    let alice_arn = format!("arn:aws:iam::{ACCOUNT}:user/alice");
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{alice_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    ok(a, root, &[("Action", "CreateRole"), ("RoleName", "r"), ("AssumeRolePolicyDocument", &trust)]).await;
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/r");
    let assumed = ok(b, &alice, &[("Action", "AssumeRole"), ("RoleArn", &role_arn), ("RoleSessionName", "s1")]).await;
    let session = Key {
        id: between(&assumed, "<AccessKeyId>", "</AccessKeyId>").unwrap(),
        secret: between(&assumed, "<SecretAccessKey>", "</SecretAccessKey>").unwrap(),
        token: Some(between(&assumed, "<SessionToken>", "</SessionToken>").unwrap()),
    };
    let me = ok(a, &session, &[("Action", "GetCallerIdentity")]).await;
    assert!(me.contains(&format!("arn:aws:sts::{ACCOUNT}:assumed-role/r/s1")), "{me}");

    // Errors answer byte for byte what the all-in-one server answers on the same store.
    let one = cluster.all_in_one.http_addr;
    let malformed = [("Action", "CreatePolicy"), ("PolicyName", "bad"), ("PolicyDocument", "{\"Version\":")];
    let cases: [(&Key, &[(&str, &str)]); 4] = [
        (root, &[("Action", "GetUser"), ("UserName", "nobody")]),
        (root, &malformed),
        (&alice, &[("Action", "ListUsers")]),
        (
            &alice,
            &[("Action", "AssumeRole"), ("RoleArn", "arn:aws:iam::111122223333:role/none"), ("RoleSessionName", "s1")],
        ),
    ];
    for (key, params) in cases {
        let (split_status, split) = call(a, key, params).await;
        let (one_status, all) = call(one, key, params).await;
        assert!(split_status >= 400, "{params:?}: {split}");
        assert_eq!((split_status, without_request_id(&split)), (one_status, without_request_id(&all)), "{params:?}");
    }
    let (_, missing) = call(a, root, &[("Action", "GetUser"), ("UserName", "nobody")]).await;
    assert!(missing.contains("<Code>NoSuchEntity</Code>"), "{missing}");
    let (_, bad) = call(a, root, &malformed).await;
    assert!(bad.contains("<Code>MalformedPolicyDocument</Code>"), "{bad}");
    let (_, denied) = call(a, &alice, &[("Action", "ListUsers")]).await;
    assert!(denied.contains("<Code>AccessDenied</Code>"), "{denied}");

    // One of the two policy replicas stops mid-way: no read through either gateway fails.
    let Cluster { mut policy, identity, sts, gateways, all_in_one, .. } = cluster;
    let reads = [("Action", "GetPolicy"), ("PolicyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess")];
    let stopping = tokio::spawn(policy.remove(0).stop());
    for round in 0..40 {
        for gateway in [a, b] {
            let (status, body) = call(gateway, root, &reads).await;
            assert_eq!(status, 200, "read {round} through {gateway} while a policy replica stops: {body}");
            let (status, body) = call(gateway, root, &[("Action", "ListUserPolicies"), ("UserName", "alice")]).await;
            assert_eq!(status, 200, "read {round} through {gateway} while a policy replica stops: {body}");
        }
    }
    stopping.await.unwrap().unwrap();
    let (_, ready) = http_get(a, "/readyz").await;
    assert!(ready.contains("upstream policy: ready (1/2 replicas serving, 1 in the balance)"), "{ready}");
    let metrics = http_get(a, "/metrics").await.1;
    assert!(metrics.contains("tessera_upstream_ejections_total{service=\"policy\"}"), "{metrics}");

    for server in gateways.into_iter().chain(policy).chain([identity, sts, all_in_one]) {
        server.stop().await.unwrap();
    }
}

/// A gateway refuses to start without a replica of each service it calls, and a domain service
/// takes no `--upstream`.
#[tokio::test]
async fn a_gateway_needs_its_upstreams() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = ServeConfig::for_tests(dir.path());
    c.service = ServiceSet::Gateway;
    c.upstream = vec![UpstreamUrl { service: UpstreamService::Identity, url: "http://127.0.0.1:1".into() }];
    let error = Server::start(c.clone()).await.unwrap_err().to_string();
    assert!(error.contains("missing: policy, sts"), "{error}");
    c.service = ServiceSet::Identity;
    let error = Server::start(c).await.unwrap_err().to_string();
    assert!(error.contains("--upstream is for --service gateway only"), "{error}");
    assert!(tessera::serve::parse_upstream("nothing=http://h:1").unwrap_err().contains("unknown service"));
    assert!(tessera::serve::parse_upstream("identity=h:1").unwrap_err().contains("http://"));
    assert_eq!(
        tessera::serve::parse_upstream("sts=http://10.0.0.5:50051/").unwrap(),
        UpstreamUrl { service: UpstreamService::Sts, url: "http://10.0.0.5:50051".into() }
    );
}
