//! The server's defences at start and on the wire, each against the real server: a replica with
//! the wrong master key refuses to start, the data directory is owner-only whatever the umask,
//! unauthenticated gRPC stays on loopback unless asked for, and slow, idle or too many connections
//! cannot starve `/healthz` or real clients, and leave no memory behind once they are gone.

use crate::common;

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
    common::signed_post(addr, key, secret, "Action=GetCallerIdentity&Version=2011-06-15").await
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

// ---------------------------------------------------------------------------------------------
// Item 10: slow, idle and too many connections.

/// Small limits, so the tests see them act.
fn quick(c: &mut ServeConfig) {
    c.limits.header_read_timeout = Duration::from_millis(300);
    c.limits.idle_timeout = Duration::from_millis(600);
    c.limits.request_timeout = Duration::from_millis(500);
}

/// How many attacking connections to open: thousands where the open-file limit allows (each one
/// costs this process two descriptors, client and server side).
fn attackers() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?.to_owned();
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        })
        .unwrap_or(1024);
    (soft / 4).clamp(64, 2000)
}

/// Whether the server closes `stream` (EOF or reset) before `deadline`. Bytes it sends first (an
/// error response) are skipped.
async fn closed_by_server(mut stream: tokio::net::TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Sends `bytes` one at a time, `every` apart, until the server closes the connection (true) or
/// `deadline` passes (false). This is the attack: a request that never completes.
async fn trickle(mut stream: tokio::net::TcpStream, bytes: &'static [u8], every: Duration, deadline: Instant) -> bool {
    let mut buf = [0u8; 1024];
    for byte in bytes.iter().cycle() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::select! {
            read = stream.read(&mut buf) => if matches!(read, Ok(0) | Err(_)) { return true },
            () = tokio::time::sleep(every) => if stream.write_all(&[*byte]).await.is_err() { return true },
        }
    }
    unreachable!("the cycle never ends")
}

/// Polls until `open(server)` is `expected`, or fails after a deadline.
async fn wait_open(server: &Server, expected: usize, which: fn(tessera::serve::OpenConnections) -> usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let open = which(server.open_connections());
        if open == expected {
            return;
        }
        assert!(Instant::now() < deadline, "{open} connections open, expected {expected}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_trickling_and_silent_http_connections_do_not_starve_healthz_and_are_closed() {
    let h = common::start_with(tempfile::tempdir().unwrap(), quick).await;
    let addr = h.server.http_addr;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut attacks = tokio::task::JoinSet::new();
    for i in 0..attackers() {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        if i % 2 == 0 {
            // Slowloris: a request line, then one header byte at a time, never the blank line.
            stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: tessera\r\n").await.unwrap();
            attacks.spawn(trickle(stream, b"X-Slow: yes\r\n", Duration::from_millis(50), deadline));
        } else {
            attacks.spawn(closed_by_server(stream, deadline));
        }
    }
    // A real client is answered while they hang on.
    let healthz = tokio::time::timeout(Duration::from_secs(10), http_get(addr, "/healthz")).await;
    assert_eq!(healthz.expect("/healthz starved").unwrap(), "HTTP/1.1 200 OK");
    // Every attacking connection is closed by the server, and nothing of them stays behind.
    let mut kept = 0;
    while let Some(closed) = attacks.join_next().await {
        kept += usize::from(!closed.unwrap());
    }
    assert_eq!(kept, 0, "connections the server never closed");
    wait_open(&h.server, 0, |o| o.http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_trickling_grpc_connections_are_closed_while_real_calls_go_through() {
    let h = common::start_with(tempfile::tempdir().unwrap(), quick).await;
    let common::Harness { server, account, .. } = h; // the harness's own clients go
    let addr = server.grpc_addr;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut attacks = tokio::task::JoinSet::new();
    for i in 0..attackers() / 2 {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        if i % 2 == 0 {
            // An HTTP/2 client preface that never completes.
            attacks.spawn(trickle(stream, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Duration::from_millis(50), deadline));
        } else {
            attacks.spawn(closed_by_server(stream, deadline));
        }
    }
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut identity =
        tessera_proto::identity::v1::identity_service_client::IdentityServiceClient::new(channel.clone());
    let users = identity
        .list_users(tessera_proto::identity::v1::ListUsersRequest { account_id: account, ..Default::default() })
        .await;
    assert!(users.is_ok(), "{users:?}");
    let mut kept = 0;
    while let Some(closed) = attacks.join_next().await {
        kept += usize::from(!closed.unwrap());
    }
    assert_eq!(kept, 0, "connections the server never closed");
    // The real client's connection goes too once idle, and the count returns to zero.
    drop((identity, channel));
    wait_open(&server, 0, |o| o.grpc).await;
}

/// The resident set size of process `pid` in bytes (`VmRSS`).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("no VmRSS");
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// A server child process, killed when dropped (a failing test leaves nothing behind).
struct ChildServer(std::process::Child);

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_returns_to_its_resting_size_once_a_flood_of_connections_is_gone() {
    // The binary, not the library: the allocator that gives freed memory back to the OS is the
    // binary's (main.rs), and glibc's malloc would keep it.
    use std::sync::atomic::{AtomicU64, Ordering};
    const MIB: u64 = 1024 * 1024;
    let soft = raise_open_files();
    // An eighth of the limit: the other flood tests of this process take up to three quarters.
    let connections = usize::try_from(soft / 8).unwrap_or(usize::MAX).min(2000);
    if connections < 1000 {
        eprintln!("skipped: an open-file limit of {soft} is too low for a flood that moves memory");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (http, grpc) = (free_port(), free_port());
    let mut child = ChildServer(
        std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--http-addr", &format!("127.0.0.1:{http}"), "--grpc-addr", &format!("127.0.0.1:{grpc}")])
            .args(["--header-read-timeout", "2s", "--idle-timeout", "3s"])
            .env_remove("TESSERA_STORE")
            .env_remove("TESSERA_MASTER_KEY")
            .env_remove("TESSERA_MASTER_KEY_FILE")
            .env_remove("TESSERA_ROOT_ACCESS_KEY_ID")
            .env_remove("TESSERA_ROOT_SECRET_ACCESS_KEY")
            .env_remove("TESSERA_MAX_CONNECTIONS")
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let (http, grpc) =
        (std::net::SocketAddr::from(([127, 0, 0, 1], http)), std::net::SocketAddr::from(([127, 0, 0, 1], grpc)));
    wait_healthy(http, &mut child.0).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let resting = rss(pid);

    // The flood: silent connections and requests that never complete, on both ports.
    let peak = std::sync::Arc::new(AtomicU64::new(resting));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut attacks = tokio::task::JoinSet::new();
    for i in 0..connections {
        let mut stream = tokio::net::TcpStream::connect(if i % 4 < 2 { http } else { grpc }).await.unwrap();
        let every = Duration::from_millis(200);
        match i % 4 {
            0 => {
                stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: tessera\r\n").await.unwrap();
                attacks.spawn(trickle(stream, b"X-Slow: yes\r\n", every, deadline))
            }
            2 => attacks.spawn(trickle(stream, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", every, deadline)),
            _ => attacks.spawn(closed_by_server(stream, deadline)),
        };
    }
    let mut kept = 0;
    while let Some(closed) = attacks.join_next().await {
        kept += usize::from(!closed.unwrap());
    }
    sampler.abort();
    assert_eq!(kept, 0, "connections the server never closed");
    let peak = peak.load(Ordering::Relaxed);
    let grown = peak.saturating_sub(resting);
    assert!(grown >= 4 * MIB, "{connections} connections moved the memory by {grown} bytes only: nothing to measure");

    // Once they are gone, memory goes back: at most half of what they took stays (glibc's malloc
    // kept all of it).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = rss(pid);
        if now.saturating_sub(resting) <= grown / 2 {
            eprintln!(
                "{connections} connections: {} MiB at rest, {} MiB at the peak, {} MiB after",
                resting / MIB,
                peak / MIB,
                now / MIB
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "memory stayed up after the flood: {} MiB at rest, {} MiB at the peak, {} MiB 30 s after",
            resting / MIB,
            peak / MIB,
            now / MIB
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Raises this process's soft open-file limit to the hard one, as the server does; returns it.
fn raise_open_files() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let _ = setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, maximum: limit.maximum });
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Captures what the server logs on this thread (the tests below run on one thread).
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn at_the_connection_cap_clients_wait_for_a_free_slot_and_the_server_says_so_once() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let h = common::start_with(tempfile::tempdir().unwrap(), |c| {
        c.limits.max_connections = 3;
        // Long enough that only the idle timeout can close the silent connections below.
        c.limits.header_read_timeout = Duration::from_secs(60);
        c.limits.idle_timeout = Duration::from_millis(500);
    })
    .await;
    let addr = h.server.http_addr;
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    wait_open(&h.server, 3, |o| o.http).await;
    // Two more clients: the kernel takes their connections, the server serves them once the
    // silent ones have been closed for idleness.
    let waiting = [http_get(addr, "/healthz"), http_get(addr, "/healthz")];
    let [first, second] = waiting;
    let (first, second) = tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(first, second) })
        .await
        .expect("clients over the cap were never served");
    assert_eq!((first.unwrap(), second.unwrap()), ("HTTP/1.1 200 OK".to_owned(), "HTTP/1.1 200 OK".to_owned()));
    let deadline = Instant::now() + Duration::from_secs(10);
    for stream in silent {
        assert!(closed_by_server(stream, deadline).await, "an idle connection stayed open");
    }
    let text = logs.text();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("connection limit reached")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("listener=\"http\"") && lines[0].contains("max_connections=3"), "{}", lines[0]);
    assert!(lines[0].contains("--max-connections"), "{}", lines[0]);
}

#[tokio::test]
async fn a_request_whose_body_never_arrives_is_answered_at_the_request_timeout() {
    let h = common::start_with(tempfile::tempdir().unwrap(), quick).await;
    let mut stream = tokio::net::TcpStream::connect(h.server.http_addr).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: tessera\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nAction=")
        .await
        .unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    let answered = tokio::time::timeout(Duration::from_secs(10), async {
        while !String::from_utf8_lossy(&response).contains("</ErrorResponse>") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => response.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(answered.is_ok(), "the server waited for the body forever");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 503 Service Unavailable"), "{response}");
    assert!(response.contains("<Code>ServiceUnavailable</Code>"), "{response}");
}

#[tokio::test]
async fn a_grpc_call_whose_request_never_arrives_is_ended_at_the_request_timeout() {
    use tessera_proto::identity::v1 as pb;
    let h = common::start_with(tempfile::tempdir().unwrap(), quick).await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.server.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    // A unary method whose request message is never sent (the stream stays open and empty).
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/tessera.identity.v1.IdentityService/ListUsers");
    let codec = tonic_prost::ProstCodec::<pb::ListUsersRequest, pb::ListUsersResponse>::default();
    let request = tonic::Request::new(tokio_stream::pending::<pb::ListUsersRequest>());
    let call = tokio::time::timeout(Duration::from_secs(10), grpc.client_streaming(request, path, codec)).await;
    let status = call.expect("the server waited for the request forever").unwrap_err();
    assert_eq!(status.code(), tonic::Code::Cancelled, "{status:?}");
    assert_eq!(status.message(), "Timeout expired");
}
