//! Shutdown of the real binary: SIGTERM at any moment after the server answers (at once, and at
//! varied delays, some while writes are in flight) exits with status 0 within the deadline, loses
//! no acknowledged write (every user whose CreateUser was answered 200 is there after a restart),
//! audits every answered request, and logs no error or warning on the way out.

use crate::common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const ROOT_KEY: &str = "AKIASHUTDOWNTEST0001";
const ROOT_SECRET: &str = "shutdown-secret-shutdown-secret-00000001";
const WRITERS: usize = 4;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Tessera {
    child: Child,
    http: SocketAddr,
    log: std::path::PathBuf,
}

impl Tessera {
    fn spawn(dir: &Path, log: std::path::PathBuf) -> Self {
        let (http, grpc) = (free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args(["--http-addr", &format!("127.0.0.1:{http}"), "--grpc-addr", &format!("127.0.0.1:{grpc}")])
            .args(["--shutdown-timeout", "10s"])
            // Well under any open-file limit, so that the server has nothing to warn about.
            .args(["--max-connections", "256"])
            .env_remove("TESSERA_STORE")
            .env("RUST_LOG", "info")
            .env("TESSERA_ROOT_ACCESS_KEY_ID", ROOT_KEY)
            .env("TESSERA_ROOT_SECRET_ACCESS_KEY", ROOT_SECRET)
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self { child, http: SocketAddr::from(([127, 0, 0, 1], http)), log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `/healthz` until it answers (the server is up), failing if the process exits.
    async fn until_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((status, _)) = get(self.http, "/healthz").await
                && status == "HTTP/1.1 200 OK"
            {
                return;
            }
            if let Some(exit) = self.child.try_wait().unwrap() {
                panic!("tessera exited at start ({exit:?}):\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "tessera never answered:\n{}", self.log());
            // Often: the signal should come as soon after the first answer as a client can send it.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Waits (tightly) until the HTTP port accepts connections: the server is part-way through its
    /// start, its listeners bound.
    fn until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(self.http).is_err() {
            if let Some(exit) = self.child.try_wait().unwrap() {
                panic!("tessera exited at start ({exit:?}):\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "tessera never listened:\n{}", self.log());
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    fn terminate(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    }

    /// Waits for the process to exit (polling, with a deadline) and checks it exited cleanly.
    async fn exits_cleanly(mut self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let exit = loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                break exit;
            }
            assert!(Instant::now() < deadline, "{what}: no exit within 30 s of SIGTERM:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let log = self.log();
        assert!(exit.success(), "{what}: {exit:?}\n{log}");
        assert!(
            !log.contains("ERROR") && !log.contains("WARN") && !log.contains("panicked"),
            "{what}: errors or warnings logged:\n{log}"
        );
    }
}

impl Drop for Tessera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(addr: SocketAddr, path: &str) -> std::io::Result<(String, String)> {
    exchange(addr, format!("GET {path} HTTP/1.1\r\nHost: tessera\r\nConnection: close\r\n\r\n")).await
}

async fn exchange(addr: SocketAddr, request: String) -> std::io::Result<(String, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// A SigV4-signed IAM Query POST with the root key; connection errors are errors (the write was
/// not acknowledged).
async fn iam(addr: SocketAddr, body: &str) -> std::io::Result<(String, String)> {
    signed(addr, (ROOT_KEY, ROOT_SECRET), "iam", body).await
}

async fn signed(addr: SocketAddr, key: (&str, &str), service: &str, body: &str) -> std::io::Result<(String, String)> {
    let (amz_date, authorization) = common::sign_query(addr, key, service, body);
    let host = addr.to_string();
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
         X-Amz-Date: {amz_date}\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, raw).await
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    Some(&text[start..start + text[start..].find(close)?])
}

/// Every user name, through ListUsers pages.
async fn list_users(addr: SocketAddr) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut marker: Option<String> = None;
    loop {
        let mut body = "Action=ListUsers&Version=2010-05-08&MaxItems=1000".to_owned();
        if let Some(marker) = &marker {
            body.push_str(&format!("&Marker={}", percent(marker)));
        }
        let (status, text) = iam(addr, &body).await.unwrap();
        assert_eq!(status, "HTTP/1.1 200 OK", "{text}");
        let mut rest = text.as_str();
        while let Some(name) = between(rest, "<UserName>", "</UserName>") {
            names.insert(name.to_owned());
            rest = &rest[rest.find("</UserName>").unwrap() + 1..];
        }
        if between(&text, "<IsTruncated>", "</IsTruncated>") != Some("true") {
            return names;
        }
        marker = between(&text, "<Marker>", "</Marker>").map(str::to_owned);
    }
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Acknowledged writes: (user name, request id).
type Acknowledged = Arc<Mutex<Vec<(String, String)>>>;

/// Creates users until told to stop or the server stops answering; records each one answered 200.
async fn writer(addr: SocketAddr, prefix: String, stop: Arc<AtomicBool>, acknowledged: Acknowledged) {
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let name = format!("{prefix}-{n}");
        match iam(addr, &format!("Action=CreateUser&Version=2010-05-08&UserName={name}")).await {
            Ok((status, body)) if status == "HTTP/1.1 200 OK" => {
                let request_id = between(&body, "<RequestId>", "</RequestId>").unwrap_or_default().to_owned();
                acknowledged.lock().unwrap().push((name, request_id));
            }
            // Not acknowledged: the server is going away (closed, refused, or answered 503).
            _ => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_at_any_moment_after_start_exits_cleanly_and_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let acknowledged: Acknowledged = Arc::default();
    // Even runs: SIGTERM as soon as the HTTP port accepts a connection (the server is finishing
    // its start), or a millisecond later. Odd runs: after the first healthy answer, at varied
    // delays, with writes in flight.
    let delays = [0u64, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377];
    let runs = 2 * delays.len() + 8;
    for run in 0..runs {
        let mut server = Tessera::spawn(dir.path(), logs.path().join(format!("run-{run}.log")));
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = tokio::task::JoinSet::new();
        let moment = if run % 2 == 0 {
            server.until_listening();
            let delay = u64::from(run % 6 == 4);
            std::thread::sleep(Duration::from_millis(delay));
            format!("{delay} ms after the port opened")
        } else {
            server.until_healthy().await;
            for w in 0..WRITERS {
                writers.spawn(writer(server.http, format!("u{run}-{w}"), Arc::clone(&stop), Arc::clone(&acknowledged)));
            }
            let delay = delays[(run / 2) % delays.len()];
            tokio::time::sleep(Duration::from_millis(delay)).await;
            format!("{delay} ms after the first healthy answer, writes in flight")
        };
        server.terminate();
        server.exits_cleanly(&format!("run {run}, SIGTERM {moment}")).await;
        stop.store(true, Ordering::Relaxed);
        while writers.join_next().await.is_some() {}
    }

    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(!acknowledged.is_empty(), "no write was acknowledged: the test tested nothing");
    let mut server = Tessera::spawn(dir.path(), logs.path().join("final.log"));
    server.until_healthy().await;
    let users = list_users(server.http).await;
    let lost: Vec<&String> = acknowledged.iter().map(|(name, _)| name).filter(|n| !users.contains(*n)).collect();
    assert!(lost.is_empty(), "acknowledged users lost: {lost:?}");
    // Every acknowledged request was audited before its server exited.
    let filter = tessera_gateway::audit::Filter { principal_arn: None, action: None, since: None, until: None };
    let audited: std::collections::BTreeSet<String> = tessera_gateway::audit::query(&dir.path().join("audit"), &filter)
        .unwrap()
        .into_iter()
        .map(|e| e.request_id)
        .collect();
    let unaudited: Vec<&String> = acknowledged.iter().map(|(_, id)| id).filter(|id| !audited.contains(*id)).collect();
    assert!(unaudited.is_empty(), "acknowledged requests missing from the audit log: {unaudited:?}");
    eprintln!("{runs} runs, {} acknowledged writes, all present and audited", acknowledged.len());
    server.terminate();
    server.exits_cleanly("final run").await;
}
