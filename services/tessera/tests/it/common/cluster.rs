//! The split cluster of `deploy/local/cluster.sh` for tests: started on a free block of ports in a
//! temporary state directory with this build's binary, stopped (`down`) when dropped, and a small
//! SigV4 Query client for its gateways.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How many ports past the base the cluster uses (`cluster.sh`: BASE+20k+10+r, k <= 4, r <= 2).
const PORT_SPAN: u16 = 93;

/// The script under test.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local/cluster.sh")
}

/// An access key (with its session token for temporary credentials).
#[derive(Clone, Debug)]
pub struct Key {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
}

/// A running local cluster.
#[derive(Debug)]
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub base: u16,
    /// The gateways' HTTP addresses, as `up` printed them.
    pub gateways: Vec<SocketAddr>,
    pub root: Key,
    /// What `up` printed.
    pub output: String,
    running: bool,
}

impl Cluster {
    /// `cluster.sh up` on a free block of ports; panics with the script's output when it fails.
    pub fn up() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let base = free_base();
        let mut cluster = Self {
            dir,
            base,
            gateways: Vec::new(),
            root: Key { id: String::new(), secret: String::new(), token: None },
            output: String::new(),
            running: true,
        };
        let output = cluster.run(&["up"]);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "cluster.sh up failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let gateways_line = stdout.lines().find(|line| line.trim_start().starts_with("gateways:")).unwrap();
        cluster.gateways = gateways_line
            .split_whitespace()
            .filter_map(|word| word.strip_prefix("http://"))
            .map(|addr| addr.parse().unwrap())
            .collect();
        let credentials_line = stdout.lines().find(|line| line.contains("root credentials:")).unwrap();
        let path = credentials_line.split_whitespace().last().unwrap();
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        cluster.root = Key {
            id: json["AccessKeyId"].as_str().unwrap().to_owned(),
            secret: json["SecretAccessKey"].as_str().unwrap().to_owned(),
            token: None,
        };
        cluster.output = stdout;
        cluster
    }

    /// Runs `cluster.sh ARGS` against this cluster's state directory and ports.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new("bash");
        command.arg(script()).args(args);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("TESSERA_") || name.starts_with("OTEL_") {
                command.env_remove(&*name);
            }
        }
        command
            .env("TESSERA_CLUSTER_DIR", self.dir.path())
            .env("TESSERA_CLUSTER_PORT", self.base.to_string())
            .env("TESSERA_BIN", env!("CARGO_BIN_EXE_tessera"))
            .env("TESSERA_CLUSTER_READY_TIMEOUT", "60")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs `cluster.sh ARGS` and panics unless it succeeds.
    pub fn must(&self, args: &[&str]) -> String {
        let output = self.run(args);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "cluster.sh {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// Every recorded process and its pid (`<dir>/<name>/pid`), Redis included.
    pub fn pids(&self) -> Vec<(String, u32)> {
        let mut pids = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let entry = entry.unwrap();
            if let Ok(text) = std::fs::read_to_string(entry.path().join("pid")) {
                pids.push((entry.file_name().to_string_lossy().into_owned(), text.trim().parse().unwrap()));
            }
        }
        pids.sort();
        pids
    }

    /// The HTTP address of process `name` (`identity-1`, `gateway-2`, ...), as `cluster.sh` lays
    /// ports out.
    pub fn http_addr(&self, name: &str) -> SocketAddr {
        let (service, replica) = name.rsplit_once('-').unwrap();
        let index = ["gateway", "identity", "policy", "sts", "authorizer"].iter().position(|s| *s == service).unwrap();
        let port = self.base + 20 * index as u16 + replica.parse::<u16>().unwrap();
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// `cluster.sh down`, once.
    pub fn down(&mut self) -> String {
        self.running = false;
        self.must(&["down"])
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.running {
            let _ = self.run(&["down"]);
        }
    }
}

/// Whether `pid` still runs (an unreaped zombie does not).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

/// A base port whose whole block is free now and was handed to no other cluster of this process
/// (the cluster tests run in parallel in one test binary, and a cluster binds its ports only a
/// while after its block was found free).
fn free_base() -> u16 {
    static TAKEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut taken = TAKEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let seed = u64::from(std::process::id());
    for attempt in 0..200u64 {
        // Below the ephemeral range (32768-60999 on Linux), where other tests' 127.0.0.1:0 ports land.
        let base = 20_000 + ((seed * 7919 + attempt * 1237) % 120) as u16 * 100;
        if taken.contains(&base) {
            continue;
        }
        let free = (0..PORT_SPAN).all(|offset| std::net::TcpListener::bind(("127.0.0.1", base + offset)).is_ok());
        if free {
            taken.push(base);
            return base;
        }
    }
    panic!("no free block of {PORT_SPAN} ports");
}

/// GET `path`: the status code, or 0 when nothing answers.
pub async fn get_status(addr: SocketAddr, path: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    match exchange(addr, request.as_bytes()).await {
        Ok((status, _)) => status,
        Err(_) => 0,
    }
}

/// A SigV4-signed AWS Query call (`Action` and `Version` among `params`) to `addr`, signed for
/// `service` (`iam`, `sts`): the status code and body, or the transport error.
pub async fn query(
    addr: SocketAddr,
    key: &Key,
    service: &str,
    params: &[(&str, &str)],
) -> Result<(u16, String), String> {
    let body = params.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let amz_date = tessera_sigv4::format_amz_date(now);
    let host = addr.to_string();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let mut headers = vec![("content-type", content_type), ("host", host.as_str()), ("x-amz-date", amz_date.as_str())];
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
    let signing = tessera_sigv4::SigningParams {
        access_key_id: &key.id,
        secret: key.secret.as_bytes(),
        region: "us-east-1",
        service,
        amz_date: &amz_date,
    };
    let authorization = tessera_sigv4::sign(&request, &signing);
    let mut raw = format!("POST / HTTP/1.1\r\nAuthorization: {authorization}\r\nConnection: close\r\n");
    for (name, value) in &headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    exchange(addr, raw.as_bytes()).await
}

/// The text of the first `<tag>` in `xml`.
pub fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..end])
}

async fn exchange(addr: SocketAddr, request: &[u8]) -> Result<(u16, String), String> {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(request).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&response).into_owned())
    };
    let response = tokio::time::timeout(Duration::from_secs(15), attempt)
        .await
        .map_err(|_| "no answer within 15 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let status = response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).ok_or("no status line")?;
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// Form encoding (RFC 3986 unreserved characters kept).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
