//! The server's defences at start and on the wire, each against the real server: a replica with
//! the wrong master key refuses to start, the data directory is owner-only whatever the umask,
//! unauthenticated gRPC stays on loopback unless asked for, and slow, idle or too many connections
//! cannot starve `/healthz` or real clients.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use tessera::serve::{ServeConfig, Server};
use tessera_credentials::MasterKey;
use tessera_store::{Key, Kind, Namespace, Store as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// One HTTP/1.1 GET over a raw socket; returns the status line.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: tessera\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response.lines().next().unwrap_or_default().to_owned())
}

/// Polls `/healthz` until it answers, for a server started as a child process.
async fn wait_healthy(addr: std::net::SocketAddr, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(status) = http_get(addr, "/healthz").await {
            assert_eq!(status, "HTTP/1.1 200 OK");
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "the server exited before answering");
        assert!(Instant::now() < deadline, "the server never answered /healthz");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A SigV4-signed STS `GetCallerIdentity` to the gateway; returns the status line and body.
async fn caller_identity(addr: std::net::SocketAddr, key: &str, secret: &str) -> (String, String) {
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
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
        access_key_id: key,
        secret: secret.as_bytes(),
        region: "us-east-1",
        service: "sts",
        amz_date: &amz_date,
    };
    let authorization = tessera_sigv4::sign(&request, &params);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\nX-Amz-Date: {amz_date}\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    (status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

fn root_credentials(dir: &Path) -> (String, String) {
    let creds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("root-credentials.json")).unwrap()).unwrap();
    (creds["AccessKeyId"].as_str().unwrap().to_owned(), creds["SecretAccessKey"].as_str().unwrap().to_owned())
}

/// Twelve digits from the OS generator: an account no other run uses.
fn fresh_account() -> String {
    let mut rng = tessera_credentials::SystemRng::new().unwrap();
    let mut bytes = [0u8; 12];
    tessera_credentials::RandomSource::fill_bytes(&mut rng, &mut bytes);
    bytes.iter().enumerate().map(|(i, b)| char::from(b'0' + if i == 0 { 1 + b % 9 } else { b % 10 })).collect()
}

fn key_file(dir: &Path, key: &MasterKey) -> std::path::PathBuf {
    let path = dir.join("given.key");
    std::fs::write(&path, key.encode()).unwrap();
    path
}

// ---------------------------------------------------------------------------------------------
// Item 11: a replica with the wrong master key refuses to start.

#[tokio::test]
async fn a_replica_with_another_master_key_refuses_to_start_on_a_shared_redis_and_writes_nothing() {
    let url = common::redis_url();
    let account = fresh_account();
    let first_dir = tempfile::tempdir().unwrap();
    let first_key = common::redis_master_key_file(first_dir.path());
    let (url_a, account_a) = (url.clone(), account.clone());
    let first = common::start_with(first_dir, move |c| {
        c.store = Some(url_a);
        c.account_id = Some(account_a);
        c.master_key_file = Some(first_key);
    })
    .await;
    let (key, secret) = root_credentials(first.dir.path());
    let (status, body) = caller_identity(first.server.http_addr, &key, &secret).await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");

    // The second replica: same Redis, same account, its own key.
    let second_dir = tempfile::tempdir().unwrap();
    let wrong = MasterKey::generate(&mut tessera_credentials::SystemRng::new().unwrap());
    let mut config = ServeConfig::for_tests(second_dir.path());
    config.store = Some(url.clone());
    config.account_id = Some(account.clone());
    config.master_key_file = Some(key_file(second_dir.path(), &wrong));
    let error = format!("{:#}", Server::start(config).await.expect_err("a replica with another key must not start"));
    assert!(error.contains(&format!("the master key (key id {})", wrong.key_id())), "{error}");
    assert!(error.contains("is not the key this store's secrets are sealed under"), "{error}");
    assert!(error.contains("same master key") && error.contains("refusing to start"), "{error}");
    assert!(!second_dir.path().join("root-credentials.json").exists());

    // Nothing was sealed under the wrong key: no token key ring, no issuer keys of its own.
    let store = tessera_store::AnyStore::open(&url).await.unwrap();
    for kind in [Kind::new("token-keys"), Kind::new("jwt-keys")] {
        let record = store.get(&Key::new(&Namespace::global(), kind, wrong.key_id())).await.unwrap();
        assert!(record.is_none(), "{} was written under the wrong key", kind.name());
    }
    // And the first replica still opens its secrets.
    let (status, body) = caller_identity(first.server.http_addr, &key, &secret).await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(body.contains(&format!("<Account>{account}</Account>")), "{body}");
    first.server.stop().await.unwrap();
}

#[tokio::test]
async fn a_restart_with_another_master_key_refuses_to_open_the_embedded_store() {
    let h = common::start().await;
    let common::Harness { dir, server, .. } = h;
    server.stop().await.unwrap();
    let wrong = MasterKey::generate(&mut tessera_credentials::SystemRng::new().unwrap());
    let mut config = ServeConfig::for_tests(dir.path());
    config.master_key_file = Some(key_file(dir.path(), &wrong));
    let error = start_error_once_closed(config.clone()).await;
    assert!(error.contains("is not the key this store's secrets are sealed under"), "{error}");
    // The right key still starts it.
    config.master_key_file = None;
    Server::start(config).await.unwrap().stop().await.unwrap();
}

/// The error of starting `config`, once the previous server's background tasks (which may hold
/// the embedded store for a moment after `stop`) have let the store go.
async fn start_error_once_closed(config: ServeConfig) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let error = format!("{:#}", Server::start(config.clone()).await.expect_err("the start must fail"));
        if !error.contains("Database already open") || Instant::now() > deadline {
            return error;
        }
        tokio::task::yield_now().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Item 12: everything under the data dir is owner-only, whatever the umask.

#[tokio::test]
async fn everything_under_the_data_dir_is_owner_only_even_under_umask_000() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let probe = root.path().join("probe");
    let (http, grpc) = (free_port(), free_port());
    // The shell makes a probe file under the same umask, proving the umask really is 000.
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"umask 000; : > "$0"; exec "$@""#)
        .arg(&probe)
        .arg(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--data-dir"])
        .arg(&data)
        .args(["--http-addr", &format!("127.0.0.1:{http}"), "--grpc-addr", &format!("127.0.0.1:{grpc}")])
        .env_remove("TESSERA_STORE")
        .env_remove("TESSERA_MASTER_KEY")
        .env_remove("TESSERA_MASTER_KEY_FILE")
        .env_remove("TESSERA_ROOT_ACCESS_KEY_ID")
        .env_remove("TESSERA_ROOT_SECRET_ACCESS_KEY")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], http));
    wait_healthy(addr, &mut child).await;
    assert_eq!(std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777, 0o666, "umask 000 in effect");
    // Any request to the gateway is audited, which creates an audit file.
    let (key, secret) = root_credentials(&data);
    let (status, _) = caller_identity(addr, &key, &secret).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(data.join("audit")).map_or(0, Iterator::count) == 0 {
        assert!(Instant::now() < deadline, "no audit file appeared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());

    let mut seen = Vec::new();
    let mut loose = Vec::new();
    let mut stack = vec![data.clone()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        let name = path.strip_prefix(root.path()).unwrap().display().to_string();
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            if mode != 0o700 {
                loose.push(format!("{name}/ {mode:o}"));
            }
        } else if mode != 0o600 {
            loose.push(format!("{name} {mode:o}"));
        }
        seen.push(name);
    }
    assert!(loose.is_empty(), "not owner-only: {loose:?}");
    for expected in ["data", "data/tessera.redb", "data/master.key", "data/root-credentials.json", "data/audit"] {
        assert!(seen.iter().any(|s| s == expected), "{expected} missing from {seen:?}");
    }
    assert!(seen.iter().any(|s| s.starts_with("data/audit/audit-")), "{seen:?}");
}

// ---------------------------------------------------------------------------------------------
// Item 7 (last part): unauthenticated gRPC stays on loopback unless asked for.

#[tokio::test]
async fn unauthenticated_grpc_beyond_loopback_is_refused_unless_asked_for_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::for_tests(dir.path());
    config.grpc_addr = "0.0.0.0:0".parse().unwrap();
    let error = format!("{:#}", Server::start(config.clone()).await.expect_err("must refuse"));
    assert!(error.contains("refusing to serve gRPC on 0.0.0.0:0 without --grpc-auth"), "{error}");
    assert!(error.contains("--grpc-insecure-listen"), "{error}");
    assert!(!dir.path().join("master.key").exists(), "refused before anything was created");

    let other = tempfile::tempdir().unwrap();
    let mut insecure = ServeConfig { data_dir: other.path().to_owned(), ..config.clone() };
    insecure.grpc_insecure_listen = true;
    Server::start(insecure).await.unwrap().stop().await.unwrap();
    let mut authenticated = config;
    authenticated.grpc_auth = true;
    Server::start(authenticated).await.unwrap().stop().await.unwrap();
}

#[test]
fn the_binary_explains_why_it_refuses_unauthenticated_grpc_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = dir.path().join("stderr");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--grpc-addr", "0.0.0.0:0", "--http-addr", "127.0.0.1:0"])
        .env_remove("TESSERA_GRPC_AUTH")
        .env_remove("TESSERA_GRPC_INSECURE_LISTEN")
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the server started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let stderr = std::fs::read_to_string(stderr).unwrap();
    assert!(stderr.contains("without --grpc-auth") && stderr.contains("--grpc-insecure-listen"), "{stderr}");
}
