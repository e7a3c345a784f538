//! Test support (feature `testing`): a throwaway Redis Cluster of three masters on loopback, for
//! any crate's tests to run the store, or a whole server, on a real cluster.
//!
//! It needs `redis-server` and `redis-cli` on `PATH` (Debian: `redis-server`, which pulls in
//! `redis-tools`) and fails, saying so, when they are missing: a silently skipped cluster test is how
//! the cluster backend would rot. Everything waits by polling with a deadline; nothing sleeps for a
//! fixed time to let the cluster settle.

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

/// How long the cluster may take to start and agree on its slots.
const START_WITHIN: Duration = Duration::from_secs(30);
/// Between two polls of a node that is not there yet.
const POLL: Duration = Duration::from_millis(20);

/// Three `redis-server --cluster-enabled yes` processes holding all 16384 slots (no replicas), each
/// in the same throwaway directory. Dropping it kills them and removes the directory.
#[derive(Debug)]
pub struct RedisCluster {
    children: Vec<Child>,
    ports: Vec<u16>,
    dir: PathBuf,
    tls: Option<TlsFiles>,
}

/// The PEM files of a cluster that speaks only TLS (clients and cluster bus): the nodes'
/// certificate (valid for `127.0.0.1`) and key, and the CA that signed it.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl RedisCluster {
    /// Starts a new cluster, returning once every node reports `cluster_state:ok`. Panics (this is
    /// test code) when it cannot, with the nodes' logs.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Starts a new cluster that speaks only TLS, with `tls`'s certificate (`rediss+cluster://`).
    pub fn start_tls(tls: TlsFiles) -> Self {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<TlsFiles>) -> Self {
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tessera-redis-cluster-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the cluster's directory");
        // Six distinct free ports, held together while chosen: three for clients, three for the
        // cluster bus (`cluster-port`, so a client port near 65535 cannot push the bus off the range).
        let listeners: Vec<TcpListener> =
            (0..6).map(|_| TcpListener::bind("127.0.0.1:0").expect("a free loopback port")).collect();
        let all: Vec<u16> = listeners.iter().map(|l| l.local_addr().expect("bound").port()).collect();
        drop(listeners);
        let (ports, bus) = all.split_at(3);
        let mut cluster = Self { children: Vec::new(), ports: ports.to_vec(), dir, tls };
        for (port, bus) in ports.iter().zip(bus) {
            let mut command = Command::new("redis-server");
            match &cluster.tls {
                None => command.args(["--port", &port.to_string()]),
                Some(tls) => command
                    .args(["--port", "0", "--tls-port", &port.to_string(), "--tls-cluster", "yes"])
                    .args(["--tls-auth-clients", "no", "--tls-cert-file"])
                    .arg(&tls.cert)
                    .arg("--tls-key-file")
                    .arg(&tls.key)
                    .arg("--tls-ca-cert-file")
                    .arg(&tls.ca),
            };
            let child = command
                .args(["--bind", "127.0.0.1", "--cluster-enabled", "yes"])
                .args(["--cluster-port", &bus.to_string(), "--cluster-config-file"])
                .arg(cluster.dir.join(format!("nodes-{port}.conf")))
                .args(["--save", "", "--appendonly", "no", "--dir"])
                .arg(&cluster.dir)
                .arg("--logfile")
                .arg(cluster.dir.join(format!("{port}.log")))
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server must be installed for the Redis Cluster tests (apt-get install redis-server)");
            cluster.children.push(child);
        }
        let deadline = Instant::now() + START_WITHIN;
        for &port in &cluster.ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                cluster.check(Instant::now() < deadline, &format!("redis-server did not listen on port {port}"));
                std::thread::sleep(POLL);
            }
        }
        let nodes: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut create = Command::new("redis-cli");
        if let Some(tls) = &cluster.tls {
            create.arg("--tls").arg("--cacert").arg(&tls.ca);
        }
        let create = create
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli must be installed for the Redis Cluster tests (apt-get install redis-tools)");
        cluster.check(
            create.status.success(),
            &format!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&create.stdout),
                String::from_utf8_lossy(&create.stderr)
            ),
        );
        for &port in &cluster.ports {
            loop {
                let info = cluster.cluster_info(port);
                if info.as_deref().is_ok_and(|i| i.contains("cluster_state:ok")) {
                    break;
                }
                cluster.check(Instant::now() < deadline, &format!("node {port} is not ok: {info:?}"));
                std::thread::sleep(POLL);
            }
        }
        cluster
    }

    /// A cluster shared by the tests of this process that run at the same time: started by the
    /// first, stopped when the last lets go of it (a later test starts another). Sharing saves the
    /// seconds a start costs; tests must keep to their own accounts.
    pub fn shared() -> Arc<Self> {
        static SHARED: Mutex<Weak<RedisCluster>> = Mutex::new(Weak::new());
        let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cluster) = shared.upgrade() {
            return cluster;
        }
        let cluster = Arc::new(Self::start());
        *shared = Arc::downgrade(&cluster);
        cluster
    }

    /// The store location of the whole cluster: `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,...`
    /// (`rediss+cluster://` for TLS).
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        format!("{scheme}+cluster://{}", nodes.join(","))
    }

    /// The nodes' client ports, in the order they were created (each a master).
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// A plain (non-cluster) `redis://` (`rediss://`) URL of one node, for looking at that node
    /// alone.
    pub fn node_url(&self, port: u16) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{port}/0")
    }

    /// `CLUSTER INFO` of the node on `port` (over TLS trusting the cluster's CA, when it has one).
    fn cluster_info(&self, port: u16) -> redis::RedisResult<String> {
        let client = match &self.tls {
            None => redis::Client::open(self.node_url(port))?,
            Some(tls) => {
                let ca = std::fs::read(&tls.ca)?;
                let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(ca) };
                redis::Client::build_with_tls(self.node_url(port), certificates)?
            }
        };
        let mut conn = client.get_connection_with_timeout(Duration::from_secs(1))?;
        redis::cmd("CLUSTER").arg("INFO").query(&mut conn)
    }

    /// The directory holding the nodes' files and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Panics with `what` and the nodes' logs unless `ok`.
    fn check(&self, ok: bool, what: &str) {
        if ok {
            return;
        }
        let mut logs = String::new();
        for port in &self.ports {
            let mut log = String::new();
            let _ =
                std::fs::File::open(self.dir.join(format!("{port}.log"))).and_then(|mut f| f.read_to_string(&mut log));
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            logs.push_str(&format!("\n--- node {port} ---\n"));
            for line in tail.into_iter().rev() {
                logs.push_str(line);
                logs.push('\n');
            }
        }
        panic!("{what}{logs}");
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
