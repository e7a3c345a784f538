//! The shared harness of the server tests: the real all-in-one server on `127.0.0.1:0` over an
//! embedded store in a temporary directory, with connected gRPC clients.

#![allow(dead_code, unreachable_pub)]

pub mod cluster;

use tessera::serve::{ServeConfig, Server};
use tessera_proto::ErrorCode;
use tessera_proto::ServiceError;
use tessera_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tessera_proto::policy::v1::policy_service_client::PolicyServiceClient;
use tonic::transport::Channel;

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub server: Server,
    pub identity: IdentityServiceClient<Channel>,
    pub policy: PolicyServiceClient<Channel>,
    pub account: String,
}

pub async fn start() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    start_with(dir, |_| {}).await
}

pub async fn start_with(dir: tempfile::TempDir, tweak: impl FnOnce(&mut ServeConfig)) -> Harness {
    let mut config = ServeConfig::for_tests(dir.path());
    tweak(&mut config);
    let server = Server::start(config).await.unwrap();
    let endpoint = format!("http://{}", server.grpc_addr);
    let channel = Channel::from_shared(endpoint).unwrap().connect().await.unwrap();
    let account = server.account.as_ref().map(|a| a.account_id.clone()).unwrap_or_default();
    Harness {
        dir,
        identity: IdentityServiceClient::new(channel.clone()),
        policy: PolicyServiceClient::new(channel),
        server,
        account,
    }
}

/// The Redis store of the server tests: `REDIS_URL`, else database 0 on localhost.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

/// Writes the master key every server test on Redis uses into `dir` and returns its path. A store
/// records which key its secrets are sealed under and refuses servers with another one, and a
/// Redis database outlives test runs, so these tests share one fixed (test-only) key.
pub fn redis_master_key_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("redis-test-master.key");
    std::fs::write(&path, tessera_credentials::MasterKey::from_bytes([0x7e; 32]).encode()).unwrap();
    path
}

/// `message` carrying the cluster's internal-call proof under `key`, as a gateway sends it to a
/// service started alone (`--service identity|policy|sts|authorizer`).
pub fn internal<T>(key: &tessera_credentials::MasterKey, message: T) -> tonic::Request<T> {
    use tessera_proto::upstream::{INTERNAL_LABEL, INTERNAL_METADATA, internal_proof};
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(INTERNAL_METADATA, internal_proof(&key.derive_mac(INTERNAL_LABEL)));
    request
}

/// The fixed master key of [`redis_master_key_file`].
pub fn redis_master_key() -> tessera_credentials::MasterKey {
    tessera_credentials::MasterKey::from_bytes([0x7e; 32])
}

/// The AWS error code a failed call carries.
pub fn code<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> ErrorCode {
    ServiceError::from_status(&result.expect_err("the call should fail")).code
}

/// The AWS error (code and message) a failed call carries.
pub fn error<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> ServiceError {
    ServiceError::from_status(&result.expect_err("the call should fail"))
}

pub const TRUST_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

pub const ALLOW_S3_READ: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

/// The `X-Amz-Date` and `Authorization` of a SigV4-signed Query POST of `body` to `addr` for
/// `service`, as the AWS SDKs send it.
pub fn sign_query(addr: std::net::SocketAddr, key: (&str, &str), service: &str, body: &str) -> (String, String) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let amz_date = tessera_sigv4::format_amz_date(now);
    let host = addr.to_string();
    let headers = [
        ("host", host.as_str()),
        ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("x-amz-date", amz_date.as_str()),
    ];
    let request = tessera_sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body_sha256: tessera_sigv4::PayloadHash::of(body.as_bytes()),
    };
    let params = tessera_sigv4::SigningParams {
        access_key_id: key.0,
        secret: key.1.as_bytes(),
        region: "us-east-1",
        service,
        amz_date: &amz_date,
    };
    let authorization = tessera_sigv4::sign(&request, &params);
    (amz_date, authorization)
}

/// A SigV4-signed Query POST to the gateway; returns the status line and body.
pub async fn signed_post(addr: std::net::SocketAddr, key: &str, secret: &str, body: &str) -> (String, String) {
    let (amz_date, authorization) = sign_query(addr, (key, secret), "sts", body);
    let host = addr.to_string();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\nX-Amz-Date: {amz_date}\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// A redis-server of a test's own on a free port, its files in a directory of the test's
/// (append-only, fsynced on every write, so a restart on the same port keeps the data), for tests
/// that stop Redis under a server or change what every test on the shared database relies on.
/// Killed when dropped.
pub struct PrivateRedis {
    child: Option<std::process::Child>,
    pub port: u16,
    /// `redis://127.0.0.1:<port>/0`.
    pub url: String,
    dir: std::path::PathBuf,
}

impl PrivateRedis {
    pub fn start(dir: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut redis = Self { child: None, port, url: format!("redis://127.0.0.1:{port}/0"), dir: dir.to_path_buf() };
        redis.restart();
        redis
    }

    /// Kills the server (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts the server again on the same port and files, polling until it accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed for this test (apt-get install redis-server)");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server did not start on port {}", self.port);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Creates user `name` in the harness's account with an access key, and returns the key.
pub async fn user_with_key(h: &mut Harness, name: &str) -> tessera_proto::identity::v1::AccessKey {
    let account_id = h.account.clone();
    let create = tessera_proto::identity::v1::CreateUserRequest {
        account_id: account_id.clone(),
        user_name: name.into(),
        ..Default::default()
    };
    h.identity.create_user(create).await.unwrap();
    let key = tessera_proto::identity::v1::CreateAccessKeyRequest { account_id, user_name: Some(name.into()) };
    h.identity.create_access_key(key).await.unwrap().into_inner().access_key.unwrap()
}

/// Runs the test `name` (its path in this binary, `file::test`) alone in a process of its own: the
/// test binary again, filtered to that one test. For the few tests that install process-wide state
/// (a global tracing subscriber, OpenTelemetry providers) or count what the process-wide `/metrics`
/// registry saw, which the other tests of this binary, running in parallel, would disturb.
///
/// A test starts with `if common::alone("file::test") { return; }`: in the test run this spawns
/// the child, checks that it ran the test and passed, and returns true; in the child it returns
/// false and the test's body runs.
pub fn alone(name: &str) -> bool {
    const CHILD: &str = "TESSERA_TEST_ALONE";
    if std::env::var_os(CHILD).is_some_and(|running| running == name) {
        return false;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name}, alone in a process ({}):\n{stdout}\n{stderr}",
        output.status
    );
    true
}
