//! The server's defences at start and on the wire, each against the real server: a replica with
//! the wrong master key refuses to start, the data directory is owner-only whatever the umask,
//! unauthenticated gRPC stays on loopback unless asked for, and slow, idle or too many connections
//! cannot starve `/healthz` or real clients.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

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

