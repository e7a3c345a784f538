//! `--store rediss://...` and `rediss+cluster://...`: Tessera reaches a TLS-only redis-server and a
//! TLS-only Redis Cluster (a throwaway CA and certificate made here), trusting the CA named by
//! `SSL_CERT_FILE` (rustls-native-certs reads it), and refuses the same server when the CA is not
//! trusted. Runs the real binary: the trust store is read from the process's environment.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tessera_store::testing::{RedisCluster, TlsFiles};
use tessera_store::{AnyStore, Key, Kind, Namespace, Store, Transaction};

/// A TLS-only redis-server, killed when dropped.
struct TlsRedis {
    child: Child,
    port: u16,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `ca.pem` and a certificate for `127.0.0.1` signed by it (`server.pem`, `server.key`).
fn certificates(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "redis test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    let cert = params.signed_by(&key, &Issuer::from_params(&ca_params, &ca_key)).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

fn start_tls_redis(dir: &Path) -> TlsRedis {
    certificates(dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", "0", "--tls-port", &port.to_string()])
        .arg("--tls-cert-file")
        .arg(dir.join("server.pem"))
        .arg("--tls-key-file")
        .arg(dir.join("server.key"))
        .arg("--tls-ca-cert-file")
        .arg(dir.join("ca.pem"))
        .args(["--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server must be installed for this test (apt-get install redis-server)");
    let redis = TlsRedis { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not listen on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    redis
}

/// Runs `tessera` with `SSL_CERT_FILE` set to `ca` (or unset).
fn tessera(args: &[&str], ca: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command.args(args).env_remove("TESSERA_STORE").env_remove("TESSERA_DATA_DIR").env_remove("SSL_CERT_DIR");
    match ca {
        Some(ca) => command.env("SSL_CERT_FILE", ca),
        None => command.env_remove("SSL_CERT_FILE"),
    };
    command.output().unwrap()
}

/// An embedded store in a new directory holding two records of one account (closed again, so the
/// binary can open it).
async fn records() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let store = AnyStore::open(data.path().to_str().unwrap()).await.unwrap();
    let ns = Namespace::account("123456789012").unwrap();
    let kind = Kind::new("item");
    let txn = Transaction::new().put(Key::new(&ns, kind, "a"), "1").put(Key::new(&ns, kind, "b"), "2");
    store.commit(txn).await.unwrap();
    data
}

/// Refused while the CA is untrusted; with it, the records migrate in and a backup reads them back.
fn copy_in_and_back_up(url: &str, data: &Path, ca: &Path, dir: &Path) {
    let from = data.to_str().unwrap();
    // Untrusted: the CA is not in the system roots, so the server's certificate is refused.
    let refused = tessera(&["admin", "migrate", "--from", from, "--to", url], None);
    assert!(!refused.status.success(), "an untrusted certificate was accepted");

    let copied = tessera(&["admin", "migrate", "--from", from, "--to", url], Some(ca));
    let (stdout, stderr) = (String::from_utf8_lossy(&copied.stdout), String::from_utf8_lossy(&copied.stderr));
    assert!(copied.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 records in 1 namespaces"), "{stdout}");
    let file = dir.join("tls.backup");
    let backup =
        tessera(&["admin", "backup", "--store", url, "--to", file.to_str().unwrap(), "--data-dir", from], Some(ca));
    let (stdout, stderr) = (String::from_utf8_lossy(&backup.stdout), String::from_utf8_lossy(&backup.stderr));
    assert!(backup.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 records in 1 namespaces"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_redis_is_reached_when_its_ca_is_trusted_and_refused_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let redis = start_tls_redis(dir.path());
    let data = records().await;
    copy_in_and_back_up(
        &format!("rediss://127.0.0.1:{}/0", redis.port),
        data.path(),
        &dir.path().join("ca.pem"),
        dir.path(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_redis_cluster_is_reached_when_its_ca_is_trusted_and_refused_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let files = TlsFiles {
        cert: dir.path().join("server.pem"),
        key: dir.path().join("server.key"),
        ca: dir.path().join("ca.pem"),
    };
    let cluster = tokio::task::spawn_blocking(move || RedisCluster::start_tls(files)).await.unwrap();
    assert!(cluster.url().starts_with("rediss+cluster://"));
    let data = records().await;
    copy_in_and_back_up(&cluster.url(), data.path(), &dir.path().join("ca.pem"), dir.path());
}
