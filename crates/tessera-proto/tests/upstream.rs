//! `Upstream` against two real tonic servers (`grpc.health.v1`): a killed replica is ejected and
//! calls keep succeeding through the other; restarted, it gets traffic again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tessera_proto::upstream::{self, Upstream, UpstreamConfig};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_health::server::HealthService;

/// The health service, counting `Check` calls (the upstream's own watchers use `Watch`).
struct Counting {
    checks: Arc<AtomicU64>,
    inner: HealthService,
}

#[tonic::async_trait]
impl Health for Counting {
    type WatchStream = <HealthService as Health>::WatchStream;

    async fn check(&self, request: Request<HealthCheckRequest>) -> Result<Response<HealthCheckResponse>, Status> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        self.inner.check(request).await
    }

    async fn watch(&self, request: Request<HealthCheckRequest>) -> Result<Response<Self::WatchStream>, Status> {
        self.inner.watch(request).await
    }
}

/// A replica on a runtime of its own: killing it drops the runtime, which closes every socket
/// at once, as a process that dies does.
struct Replica {
    addr: SocketAddr,
    checks: Arc<AtomicU64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Replica {
    fn start(addr: SocketAddr) -> Self {
        let checks = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound_tx, bound) = std::sync::mpsc::channel();
        let counted = Arc::clone(&checks);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let incoming = TcpIncoming::bind(addr).unwrap();
                bound_tx.send(incoming.local_addr().unwrap()).unwrap();
                let (reporter, _) = tonic_health::server::health_reporter();
                let service = Counting { checks: counted, inner: HealthService::from_health_reporter(reporter) };
                tokio::select! {
                    served = Server::builder().add_service(HealthServer::new(service)).serve_with_incoming(incoming) => {
                        served.unwrap();
                    }
                    _ = stopped => {}
                }
            });
            runtime.shutdown_background();
        });
        let addr = bound.recv().unwrap();
        Self { addr, checks, stop: Some(stop), thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn kill(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap();
    }

    fn checks(&self) -> u64 {
        self.checks.load(Ordering::SeqCst)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.kill();
        }
    }
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn check(client: &HealthClient<tonic::transport::Channel>) -> Result<(), Status> {
    upstream::read(|| {
        let mut client = client.clone();
        async move { client.check(HealthCheckRequest { service: String::new() }).await.map(|_| ()) }
    })
    .await
}

#[tokio::test]
async fn a_killed_replica_is_ejected_and_returns_when_restarted() {
    let mut a = Replica::start(SocketAddr::from(([127, 0, 0, 1], 0)));
    let b = Replica::start(SocketAddr::from(([127, 0, 0, 1], 0)));
    let config = UpstreamConfig {
        first_ejection: Duration::from_millis(100),
        max_ejection: Duration::from_millis(400),
        ..UpstreamConfig::default()
    };
    let upstream = Upstream::new("test", "", &[a.url(), b.url()], config).unwrap();
    let client = HealthClient::new(upstream.channel());
    until("both replicas are serving", || upstream.replicas().iter().all(|r| r.serving)).await;
    assert!(upstream.is_ready());

    // Both get calls.
    for _ in 0..50 {
        check(&client).await.unwrap();
    }
    assert!(a.checks() > 0 && b.checks() > 0, "balanced: a {} b {}", a.checks(), b.checks());

    // A dies: it leaves the balance, and every call is answered by B on its first send.
    let port = a.addr;
    a.kill();
    until("the killed replica is ejected", || !upstream.replicas()[0].in_balance).await;
    assert_eq!(upstream.replicas()[0].ejections, 1);
    assert!(upstream.replicas()[1].in_balance, "the live replica stays");
    assert!(upstream.is_ready(), "one replica still serves");
    let before = b.checks();
    for _ in 0..50 {
        client.clone().check(HealthCheckRequest { service: String::new() }).await.unwrap();
    }
    assert_eq!(b.checks() - before, 50);
    let metrics = tessera_telemetry::metrics().prometheus();
    assert!(metrics.contains("tessera_upstream_ejections_total{service=\"other\"} 1"), "{metrics}");

    // A comes back on the same address: it returns and gets calls again.
    let a = Replica::start(port);
    until("the restarted replica is back in the balance", || upstream.replicas()[0].in_balance).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while a.checks() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the restarted replica got no call");
        check(&client).await.unwrap();
    }

    // The last replica in the balance is never ejected: with both gone calls fail fast.
    drop(a);
    drop(b);
    until("nothing serves", || !upstream.is_ready()).await;
    until("one replica left in the balance", || upstream.replicas().iter().filter(|r| r.in_balance).count() == 1).await;
    let failed = check(&client).await.unwrap_err();
    assert!(upstream::is_unreachable(&failed), "{failed:?}");
}

#[test]
fn replicas_must_be_given_as_http_urls() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _guard = runtime.enter();
    let err = Upstream::new("identity", "", &[], UpstreamConfig::default()).unwrap_err();
    assert_eq!(err.to_string(), "no replica of the identity service was given");
    let err = Upstream::new("identity", "", &["localhost:1".to_owned()], UpstreamConfig::default()).unwrap_err();
    assert!(err.to_string().contains("only http:// URLs"), "{err}");
}
