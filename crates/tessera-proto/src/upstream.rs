//! Calling replicas of a service: [`Upstream`], one balanced channel over a service's replicas
//! with outlier ejection, and the retry rule for idempotent reads ([`read`]).
//!
//! A read that failed because its replica was unreachable (the connection refused or broke, the
//! replica shutting down) is sent again, up to [`READ_ATTEMPTS`] times in all, after a short
//! jittered pause; the balancer picks a replica each time, so a retry usually reaches another one.
//! Writes are never retried here: a write whose answer was lost may have been applied.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use tonic::metadata::{Ascii, MetadataKey, MetadataValue};
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// The gRPC metadata key of the cluster's internal-call proof: a gateway sends it on every call to
/// a domain service, which takes calls only with it (or, under `--grpc-auth`, signed ones).
pub const INTERNAL_METADATA: &str = "tessera-internal";

/// What the internal-call proof is a MAC of, under the cluster's master key (HMAC-SHA256, sent in
/// lowercase hex); the `v1` names the scheme.
pub const INTERNAL_LABEL: &[u8] = b"tessera internal call v1";

/// The metadata value of an internal-call proof `mac` (lowercase hex).
pub fn internal_proof(mac: &[u8]) -> tonic::metadata::MetadataValue<tonic::metadata::Ascii> {
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    // Hex digits are visible ASCII.
    hex.parse().unwrap_or_else(|_| tonic::metadata::MetadataValue::from_static(""))
}

/// How many times a read is sent at most.
pub const READ_ATTEMPTS: u32 = 3;

/// The pause before the first retry; each later one doubles it (with full jitter).
const FIRST_PAUSE: Duration = Duration::from_millis(5);

/// Whether `status` says the call never reached a working replica, so sending it again is safe
/// for a read and likely to succeed elsewhere.
pub fn is_unreachable(status: &Status) -> bool {
    // tonic reports a refused or broken connection as Unavailable (and Unknown when the
    // transport failed mid-call without a grpc-status); a domain error always carries its code.
    // A replica that stops sends GOAWAY, and a call its connection carried past the last stream
    // it will serve fails with the frame's NO_ERROR, which tonic reports as Internal with an
    // "h2 protocol error" message and no code of ours: the replica never ran it.
    let ours = status.metadata().get(crate::error::ERROR_CODE_METADATA_KEY).is_some();
    match status.code() {
        Code::Unavailable => true,
        Code::Unknown => !ours,
        Code::Internal => !ours && status.message().starts_with("h2 protocol error"),
        _ => false,
    }
}

/// Sends the read `call` makes, again while its replica was unreachable (at most
/// [`READ_ATTEMPTS`] sends), and returns the first answer that is not such a failure.
pub async fn read<T, F, Fut>(mut call: F) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(status) if attempt < READ_ATTEMPTS && is_unreachable(&status) => {
                tokio::time::sleep(pause(attempt)).await;
                attempt += 1;
            }
            answer => return answer,
        }
    }
}

/// A generated gRPC client of one upstream service (`C`, over a balanced channel) with the metadata
/// every call carries: the plumbing the gateway's remote domains (`RemoteIdentity`,
/// `RemotePolicies`, `RemoteSts`) share. Reads go through [`read`] (sent again while their replica
/// was unreachable), writes are sent once: a write whose answer was lost may have been applied.
#[derive(Clone)]
pub struct Client<C> {
    inner: C,
    metadata: Vec<(MetadataKey<Ascii>, MetadataValue<Ascii>)>,
}

impl<C> std::fmt::Debug for Client<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A metadata value is a credential (the cluster's internal proof): its keys only.
        let keys: Vec<&str> = self.metadata.iter().map(|(key, _)| key.as_str()).collect();
        f.debug_struct("Client").field("metadata", &keys).finish_non_exhaustive()
    }
}

impl<C: Clone> Client<C> {
    pub fn new(inner: C) -> Self {
        Self { inner, metadata: Vec::new() }
    }

    /// Sends `key: value` with every call (the cluster's `tessera-internal` proof, for one).
    pub fn with_metadata(mut self, key: &'static str, value: MetadataValue<Ascii>) -> Self {
        self.metadata.push((MetadataKey::from_static(key), value));
        self
    }

    /// `message` as a request carrying the client's metadata.
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        for (key, value) in &self.metadata {
            request.metadata_mut().insert(key.clone(), value.clone());
        }
        request
    }

    /// Sends a read, again while its replica was unreachable.
    pub async fn read<T, R, F, Fut>(&self, message: T, call: F) -> Result<R, Status>
    where
        T: Clone,
        F: Fn(C, Request<T>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        read(|| call(self.inner.clone(), self.request(message.clone()))).await.map(Response::into_inner)
    }

    /// Sends a write once.
    pub async fn write<T, R, F, Fut>(&self, message: T, call: F) -> Result<R, Status>
    where
        F: FnOnce(C, Request<T>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        self.send(self.request(message), call).await
    }

    /// Sends a write once, as a request the caller built with [`Client::request`] (to add
    /// metadata of its own).
    pub async fn send<T, R, F, Fut>(&self, request: Request<T>, call: F) -> Result<R, Status>
    where
        F: FnOnce(C, Request<T>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        call(self.inner.clone(), request).await.map(Response::into_inner)
    }
}

/// A full-jitter pause before retry number `attempt` (1-based): uniform in `[0, 5 ms * 2^(n-1)]`.
fn pause(attempt: u32) -> Duration {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let mut x = SEQUENCE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    // splitmix64: enough to spread retries without an OS random source.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    let ceiling = FIRST_PAUSE.saturating_mul(1 << (attempt - 1).min(10));
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(x % nanos.max(1))
}

/// How an [`Upstream`] connects, times calls out, and ejects replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// Time to open a connection to a replica.
    pub connect_timeout: Duration,
    /// Time for a call to be answered (its response headers).
    pub call_timeout: Duration,
    /// HTTP/2 PINGs on idle connections this often, so a replica that vanished without closing its
    /// connections (a partition, a powered-off machine) is noticed.
    pub keepalive_interval: Duration,
    /// How long a PING may go unanswered before the connection counts as broken.
    pub keepalive_timeout: Duration,
    /// Consecutive failures (a broken health stream, a refused connection, `NOT_SERVING`) after
    /// which a replica leaves the balance.
    pub eject_after: u32,
    /// How long a replica stays out the first time; each ejection without a long enough healthy
    /// spell in between doubles it, up to `max_ejection`.
    pub first_ejection: Duration,
    /// The longest ejection; a replica healthy for this long starts again at `first_ejection`.
    pub max_ejection: Duration,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(1),
            call_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(5),
            eject_after: 3,
            first_ejection: Duration::from_secs(1),
            max_ejection: Duration::from_secs(30),
        }
    }
}

/// Why an [`Upstream`] cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("no replica of the {0} service was given")]
    NoReplicas(&'static str),
    #[error("`{url}` is not a replica URL of the {service} service: {reason}")]
    BadUrl { service: &'static str, url: String, reason: String },
}

/// One replica as an [`Upstream`] sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaStatus {
    pub url: String,
    /// Its health stream says `SERVING`.
    pub serving: bool,
    /// Calls may be balanced to it (not ejected).
    pub in_balance: bool,
    /// How many times it was ejected.
    pub ejections: u64,
}

/// The replicas of one service behind one [`Channel`]: tonic's balanced channel (tower's
/// power-of-two-choices over the replicas' pending calls), with a connect timeout, a per-call
/// timeout and HTTP/2 keepalive on every connection, and outlier ejection.
///
/// **Ejection.** A balanced channel does not say which replica a failed call went to, so each
/// replica is watched on a connection of its own with `grpc.health.v1.Health/Watch` on the
/// service's name: a replica that dies breaks that stream at once (its socket closes), one that
/// stops reports `NOT_SERVING`. After [`UpstreamConfig::eject_after`] such failures in a row
/// (the stream broke, the reconnection was refused or timed out; a replica saying `NOT_SERVING`
/// counts as all of them, since it is draining) the replica leaves the balance for [`UpstreamConfig::first_ejection`], doubling on
/// each ejection up to [`UpstreamConfig::max_ejection`]; it returns when its health stream says
/// `SERVING` again after that period. The last replica in the balance is never ejected: with
/// none left, calls would wait instead of failing fast with `Unavailable`. Each ejection and
/// return is a log line and counts in `tessera_upstream_ejections_total` /
/// `tessera_upstream_returns_total` (label `service`); `tessera_upstream_replicas_in_balance`
/// is the gauge.
///
/// Build it inside a tokio runtime (it spawns the watchers); dropping it stops them.
#[derive(Debug)]
pub struct Upstream {
    shared: Arc<Shared>,
    channel: Channel,
    _watchers: tokio::task::JoinSet<()>,
}

#[derive(Debug)]
struct Shared {
    service: &'static str,
    replicas: Vec<Replica>,
    changes: tokio::sync::mpsc::Sender<Change<usize, Endpoint>>,
    /// How many replicas are in the balance; held while one is added or removed.
    in_balance: Mutex<usize>,
    ejections: AtomicU64,
    returns: AtomicU64,
}

#[derive(Debug)]
struct Replica {
    url: String,
    endpoint: Endpoint,
    serving: AtomicBool,
    in_balance: AtomicBool,
    ejections: AtomicU64,
}

impl Upstream {
    /// Balances over `urls` (`http://HOST:PORT`, one per replica) of `service` (`identity`,
    /// `policy`, ...), watching each replica's health of `health_name` (the gRPC service name,
    /// `tessera.identity.v1.IdentityService`; `""` is the whole server).
    pub fn new(
        service: &'static str,
        health_name: &str,
        urls: &[String],
        config: UpstreamConfig,
    ) -> Result<Self, UpstreamError> {
        if urls.is_empty() {
            return Err(UpstreamError::NoReplicas(service));
        }
        let mut replicas = Vec::with_capacity(urls.len());
        for url in urls {
            let bad = |reason: String| UpstreamError::BadUrl { service, url: url.clone(), reason };
            if !url.starts_with("http://") {
                return Err(bad("only http:// URLs are supported".to_owned()));
            }
            let endpoint = Endpoint::from_shared(url.clone())
                .map_err(|e| bad(e.to_string()))?
                .connect_timeout(config.connect_timeout)
                .timeout(config.call_timeout)
                .http2_keep_alive_interval(config.keepalive_interval)
                .keep_alive_timeout(config.keepalive_timeout)
                .keep_alive_while_idle(true)
                .tcp_nodelay(true);
            replicas.push(Replica {
                url: url.clone(),
                endpoint,
                serving: AtomicBool::new(false),
                in_balance: AtomicBool::new(true),
                ejections: AtomicU64::new(0),
            });
        }
        let (channel, changes) = Channel::balance_channel(1024);
        for (index, replica) in replicas.iter().enumerate() {
            // A fresh channel's queue has room for every replica.
            let _ = changes.try_send(Change::Insert(index, replica.endpoint.clone()));
        }
        let shared = Arc::new(Shared {
            service,
            in_balance: Mutex::new(replicas.len()),
            replicas,
            changes,
            ejections: AtomicU64::new(0),
            returns: AtomicU64::new(0),
        });
        register_metrics(&shared);
        let mut watchers = tokio::task::JoinSet::new();
        for (index, replica) in shared.replicas.iter().enumerate() {
            let client = HealthClient::new(replica.endpoint.connect_lazy());
            watchers.spawn(watch(Arc::downgrade(&shared), index, client, health_name.to_owned(), config));
        }
        Ok(Self { shared, channel, _watchers: watchers })
    }

    /// The balanced channel: clone it into the service's generated client.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The service's name, as given.
    pub fn service(&self) -> &'static str {
        self.shared.service
    }

    /// Whether at least one replica says `SERVING`.
    pub fn is_ready(&self) -> bool {
        self.shared.replicas.iter().any(|r| r.serving.load(Ordering::Relaxed))
    }

    /// Every replica's state now.
    pub fn replicas(&self) -> Vec<ReplicaStatus> {
        self.shared
            .replicas
            .iter()
            .map(|r| ReplicaStatus {
                url: r.url.clone(),
                serving: r.serving.load(Ordering::Relaxed),
                in_balance: r.in_balance.load(Ordering::Relaxed),
                ejections: r.ejections.load(Ordering::Relaxed),
            })
            .collect()
    }
}

impl Shared {
    /// Takes replica `index` out of the balance, unless it is the last one there.
    fn eject(&self, index: usize) -> bool {
        let mut in_balance = self.in_balance.lock().unwrap_or_else(PoisonError::into_inner);
        let replica = &self.replicas[index];
        if *in_balance <= 1 || !replica.in_balance.load(Ordering::Relaxed) {
            return false;
        }
        replica.in_balance.store(false, Ordering::Relaxed);
        *in_balance -= 1;
        let _ = self.changes.try_send(Change::Remove(index));
        true
    }

    /// Puts replica `index` back in the balance (a fresh connection).
    fn restore(&self, index: usize) -> bool {
        let mut in_balance = self.in_balance.lock().unwrap_or_else(PoisonError::into_inner);
        let replica = &self.replicas[index];
        if replica.in_balance.load(Ordering::Relaxed) {
            return false;
        }
        replica.in_balance.store(true, Ordering::Relaxed);
        *in_balance += 1;
        let _ = self.changes.try_send(Change::Insert(index, replica.endpoint.clone()));
        true
    }
}

/// Watches one replica's health for as long as its upstream lives, ejecting and restoring it.
async fn watch(
    shared: Weak<Shared>,
    index: usize,
    mut client: HealthClient<Channel>,
    health_name: String,
    config: UpstreamConfig,
) {
    let mut failures = 0u32;
    let mut ejection = config.first_ejection;
    loop {
        let (serving_since, said_not_serving) = watch_once(&shared, index, &mut client, &health_name).await;
        let Some(shared) = shared.upgrade() else { return };
        let replica = &shared.replicas[index];
        replica.serving.store(false, Ordering::Relaxed);
        if let Some(since) = serving_since {
            failures = 0;
            if since.elapsed() >= config.max_ejection {
                ejection = config.first_ejection;
            }
        }
        failures = failures.saturating_add(1);
        if said_not_serving {
            // The replica says so itself (it is draining): no need to wait for more evidence.
            failures = failures.max(config.eject_after);
        }
        let pause = if !replica.in_balance.load(Ordering::Relaxed) {
            // Still failing after its ejection: wait longer before the next look.
            let pause = ejection;
            ejection = (ejection * 2).min(config.max_ejection);
            pause
        } else if failures >= config.eject_after && shared.eject(index) {
            replica.ejections.fetch_add(1, Ordering::Relaxed);
            shared.ejections.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                service = shared.service,
                replica = %replica.url,
                failures,
                ejected_for = ?ejection,
                "replica ejected from the balance"
            );
            let pause = ejection;
            ejection = (ejection * 2).min(config.max_ejection);
            pause
        } else {
            // Reconnect at once, then a little later each time.
            Duration::from_millis(10 * u64::from(failures - 1)).min(Duration::from_secs(1))
        };
        drop(shared);
        tokio::time::sleep(pause).await;
    }
}

/// One health stream: returns when it breaks or says anything but `SERVING`, with when it
/// started saying `SERVING` (if it did) and whether it ended by saying something else.
async fn watch_once(
    shared: &Weak<Shared>,
    index: usize,
    client: &mut HealthClient<Channel>,
    health_name: &str,
) -> (Option<Instant>, bool) {
    let request = HealthCheckRequest { service: health_name.to_owned() };
    let Ok(response) = client.watch(request).await else { return (None, false) };
    let mut stream = response.into_inner();
    let mut since = None;
    while let Ok(Some(message)) = stream.message().await {
        let Some(shared) = shared.upgrade() else { return (since, false) };
        if message.status != ServingStatus::Serving as i32 {
            return (since, true);
        }
        since.get_or_insert_with(Instant::now);
        let replica = &shared.replicas[index];
        replica.serving.store(true, Ordering::Relaxed);
        if shared.restore(index) {
            shared.returns.fetch_add(1, Ordering::Relaxed);
            tracing::info!(service = shared.service, replica = %replica.url, "replica returned to the balance");
        }
    }
    (since, false)
}

/// The upstream's counters on `/metrics`, labelled by service (bounded: the code names them).
fn register_metrics(shared: &Arc<Shared>) {
    let labels = match shared.service {
        "identity" => "service=\"identity\"",
        "policy" => "service=\"policy\"",
        "sts" => "service=\"sts\"",
        "authorizer" => "service=\"authorizer\"",
        _ => "service=\"other\"",
    };
    let metrics = tessera_telemetry::metrics();
    let read = |f: fn(&Shared) -> f64| -> tessera_telemetry::metrics::Gauge {
        let weak = Arc::downgrade(shared);
        Box::new(move || weak.upgrade().map(|s| f(&s)))
    };
    #[allow(clippy::cast_precision_loss)]
    {
        metrics.counter(
            "tessera_upstream_ejections_total",
            "Replicas ejected from a gateway's balance after consecutive failures, by service.",
            labels,
            read(|s| s.ejections.load(Ordering::Relaxed) as f64),
        );
        metrics.counter(
            "tessera_upstream_returns_total",
            "Ejected replicas returned to a gateway's balance once healthy, by service.",
            labels,
            read(|s| s.returns.load(Ordering::Relaxed) as f64),
        );
        metrics.gauge(
            "tessera_upstream_replicas_in_balance",
            "Replicas a gateway balances calls over, by service.",
            labels,
            read(|s| *s.in_balance.lock().unwrap_or_else(PoisonError::into_inner) as f64),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;
    use crate::{ErrorCode, ServiceError};

    #[tokio::test]
    async fn unreachable_reads_are_sent_again_and_domain_errors_are_not() {
        let sends = AtomicU32::new(0);
        let answer = read(|| async {
            let n = sends.fetch_add(1, Ordering::SeqCst);
            if n < 2 { Err(Status::unavailable("connection refused")) } else { Ok(n) }
        })
        .await;
        assert_eq!(answer.unwrap(), 2);
        assert_eq!(sends.load(Ordering::SeqCst), 3);

        let sends = AtomicU32::new(0);
        let answer: Result<(), Status> = read(|| async {
            sends.fetch_add(1, Ordering::SeqCst);
            Err(Status::unavailable("still down"))
        })
        .await;
        assert_eq!(answer.unwrap_err().code(), Code::Unavailable);
        assert_eq!(sends.load(Ordering::SeqCst), READ_ATTEMPTS, "gives up after the last attempt");

        let sends = AtomicU32::new(0);
        let answer: Result<(), Status> = read(|| async {
            sends.fetch_add(1, Ordering::SeqCst);
            Err(ServiceError::new(ErrorCode::NoSuchEntity, "no user").into())
        })
        .await;
        assert_eq!(ServiceError::from_status(&answer.unwrap_err()).code, ErrorCode::NoSuchEntity);
        assert_eq!(sends.load(Ordering::SeqCst), 1, "a domain answer is final");
    }

    /// What a stopping replica's GOAWAY does to a call in flight is sent again; an internal
    /// error of the service itself is not.
    #[test]
    fn a_stream_the_transport_dropped_is_unreachable() {
        assert!(is_unreachable(&Status::internal("h2 protocol error: http2 error")));
        assert!(!is_unreachable(&Status::internal("the handler failed")));
        let ours: Status = ServiceError::new(ErrorCode::ServiceFailure, "h2 protocol error: upstream").into();
        assert!(!is_unreachable(&ours), "{ours:?}");
    }

    #[test]
    fn pauses_stay_under_their_ceiling() {
        for attempt in 1..=4 {
            let ceiling = FIRST_PAUSE * (1 << (attempt - 1));
            assert!((0..100).all(|_| pause(attempt) <= ceiling));
        }
    }
}
