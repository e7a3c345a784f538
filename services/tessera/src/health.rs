//! Health and shutdown signals: `grpc.health.v1` with a status per served gRPC service, HTTP
//! `/readyz`, and the signals that stop the server.
//!
//! - **Alive** (`/healthz`): the process answers HTTP. Nothing else is checked.
//! - **Ready** (`/readyz`, and `SERVING` for every service in `grpc.health.v1`): the store answers
//!   a read of its key-check record within [`STORE_CHECK_TIMEOUT`] (which also says the master key
//!   this process loaded is the store's: it was checked against that record at start), and the
//!   server is not shutting down. `Server::start` checks once before it binds, then a background
//!   task every [`CHECK_EVERY`]; shutdown turns everything `NOT_SERVING` first.
//! - gRPC health checks need no credentials, even with `--grpc-auth` ([`HealthOpenLayer`]): probes
//!   (Kubernetes, load balancers) carry none, and the answer reveals only what `/readyz` does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tessera_store::{AnyStore, Store as _};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::{Layer, Service, ServiceExt as _};

/// How long the store may take to answer a readiness read.
pub const STORE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the background task re-checks readiness.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);
/// The path prefix of the `grpc.health.v1` methods.
const HEALTH_PATH: &str = "/grpc.health.v1.Health/";

/// Whether this server can take requests, as `/readyz` and `grpc.health.v1` report it.
#[derive(Clone)]
pub struct Readiness {
    store: Arc<AnyStore>,
    stopping: Arc<AtomicBool>,
    reporter: HealthReporter,
    /// The gRPC services served, by full name (`tessera.identity.v1.IdentityService`).
    services: Arc<Vec<&'static str>>,
    /// A gateway's upstream services: each needs a serving replica.
    upstreams: Arc<Vec<Arc<tessera_proto::upstream::Upstream>>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness").field("services", &self.services).finish_non_exhaustive()
    }
}

impl Readiness {
    pub fn new(store: Arc<AnyStore>, reporter: HealthReporter, services: Vec<&'static str>) -> Self {
        Self { store, stopping: Arc::default(), reporter, services: Arc::new(services), upstreams: Arc::default() }
    }

    /// Ready only while each of `upstreams` has a replica saying `SERVING` (a gateway).
    #[must_use]
    pub fn with_upstreams(mut self, upstreams: Vec<Arc<tessera_proto::upstream::Upstream>>) -> Self {
        self.upstreams = Arc::new(upstreams);
        self
    }

    /// One line per upstream service: how many replicas serve and are in the balance.
    fn upstream_lines(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for upstream in self.upstreams.iter() {
            let replicas = upstream.replicas();
            let serving = replicas.iter().filter(|r| r.serving).count();
            let balanced = replicas.iter().filter(|r| r.in_balance).count();
            let _ = writeln!(
                out,
                "upstream {}: {} ({serving}/{} replicas serving, {balanced} in the balance)",
                upstream.service(),
                if serving > 0 { "ready" } else { "not ready" },
                replicas.len()
            );
        }
        out
    }

    /// `Ok` when ready, else why not (no secrets: store errors name no credentials).
    pub async fn check(&self) -> Result<(), String> {
        if self.stopping.load(Ordering::Acquire) {
            return Err("shutting down".to_owned());
        }
        match tokio::time::timeout(STORE_CHECK_TIMEOUT, self.store.get(&crate::key_check::key())).await {
            Ok(Ok(Some(_))) => match self.upstreams.iter().find(|u| !u.is_ready()) {
                Some(down) => Err(format!("no replica of the {} service is serving", down.service())),
                None => Ok(()),
            },
            Ok(Ok(None)) => Err("the store has no key-check record (was it wiped?)".to_owned()),
            Ok(Err(error)) => Err(format!("the store is unreachable: {error}")),
            Err(_) => Err(format!("the store did not answer within {STORE_CHECK_TIMEOUT:?}")),
        }
    }

    /// Checks, and reports the outcome to `grpc.health.v1` (every service and the server, `""`).
    pub async fn refresh(&self) -> bool {
        let ready = self.check().await.is_ok();
        self.publish(ready).await;
        ready
    }

    async fn publish(&self, ready: bool) {
        let status = if ready { ServingStatus::Serving } else { ServingStatus::NotServing };
        for service in self.services.iter().copied().chain([""]) {
            self.reporter.set_service_status(service, status).await;
        }
    }

    /// From now on, not ready: the server is draining. Every `Watch` stream gets `NOT_SERVING` and
    /// then ends, so that it does not hold the drain until the shutdown timeout; later `Check`s
    /// answer `NOT_SERVING`.
    pub async fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.publish(false).await;
        let mut reporter = self.reporter.clone();
        for service in self.services.iter().copied().chain([""]) {
            // Dropping a status's sender ends its watchers' streams after the last value.
            reporter.clear_service_status(service).await;
        }
        self.publish(false).await;
    }

    /// `/readyz`: 200 `ready`, or 503 and the reason.
    pub async fn answer(&self) -> (axum::http::StatusCode, String) {
        let upstreams = self.upstream_lines();
        match self.check().await {
            Ok(()) => (axum::http::StatusCode::OK, format!("ready\n{upstreams}")),
            Err(reason) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}\n{upstreams}")),
        }
    }
}

/// SIGTERM or SIGINT. Listening starts when this is called, not when the future is first polled:
/// call it before the server can answer, so that a signal at any moment after is a clean stop.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("shutting down: draining requests in flight");
    })
}

/// Puts `gate` (the gRPC authentication layer) in front of every method but the health checks.
#[derive(Debug, Clone)]
pub struct HealthOpenLayer<L> {
    pub gate: L,
}

impl<L: Layer<I>, I: Clone> Layer<I> for HealthOpenLayer<L> {
    type Service = HealthOpen<L::Service, I>;

    fn layer(&self, inner: I) -> Self::Service {
        HealthOpen { gated: self.gate.layer(inner.clone()), open: inner }
    }
}

#[derive(Debug, Clone)]
pub struct HealthOpen<G, I> {
    gated: G,
    open: I,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<G, I, B, R> Service<axum::http::Request<B>> for HealthOpen<G, I>
where
    G: Service<axum::http::Request<B>, Response = R> + Clone + Send + 'static,
    G::Future: Send + 'static,
    I: Service<axum::http::Request<B>, Response = R, Error = G::Error> + Clone + Send + 'static,
    I::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = R;
    type Error = G::Error;
    type Future = BoxFuture<R, G::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each call readies its own clone (`oneshot`): which one serves depends on the path.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        if request.uri().path().starts_with(HEALTH_PATH) {
            Box::pin(self.open.clone().oneshot(request))
        } else {
            Box::pin(self.gated.clone().oneshot(request))
        }
    }
}
