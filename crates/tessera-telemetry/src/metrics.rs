//! The process's metrics: counters and latency histograms kept in atomics, written out as
//! Prometheus text (`/metrics`) and observed by the OTLP exporter when one is configured.
//!
//! Every label value is a `&'static str` (an action's name, an AWS error code, a caller kind, a
//! store operation), so no label can carry an access key id, an ARN or anything else a request
//! chose: the series are bounded by the code, and nothing secret can reach them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
pub const BUCKETS: [f64; 16] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A latency histogram: one counter per bucket (not cumulative), the sum in nanoseconds, the count.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let index = BUCKETS.iter().position(|bound| seconds <= *bound).unwrap_or(BUCKETS.len());
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (index, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[index].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

/// Which entry a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// The AWS Query API over HTTP.
    Http,
    /// The native gRPC API (through its authenticating gate).
    Grpc,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Grpc => "grpc",
        }
    }
}

/// A request's labels: all `'static`, so bounded by the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestLabels {
    pub transport: Transport,
    /// `iam:GetUser`, `sts:AssumeRole`, or `unknown`.
    pub action: &'static str,
    /// `OK` or the AWS error code answered.
    pub code: &'static str,
    /// `root`, `user`, `session`, or `anonymous` (not authenticated).
    pub caller_kind: &'static str,
}

#[derive(Debug, Default)]
struct RequestSeries {
    count: AtomicU64,
}

/// A value read when the metrics are written: open connections, the authorizer cache's counters.
/// `None` once what it reads is gone (a stopped server), which removes it.
pub type Gauge = Box<dyn Fn() -> Option<f64> + Send + Sync>;

struct GaugeEntry {
    name: &'static str,
    help: &'static str,
    /// `counter` or `gauge`.
    kind: &'static str,
    labels: &'static str,
    read: Gauge,
}

/// A counter's name, labels and value.
pub(crate) type Counted = (&'static str, Vec<(&'static str, &'static str)>, u64);

/// Every metric of the process.
#[derive(Default)]
pub struct Metrics {
    requests: RwLock<HashMap<RequestLabels, Arc<RequestSeries>>>,
    latency: RwLock<HashMap<(Transport, &'static str), Arc<Histogram>>>,
    tokens: RwLock<HashMap<&'static str, Arc<AtomicU64>>>,
    revocations: RwLock<HashMap<&'static str, Arc<AtomicU64>>>,
    mfa_lockouts: AtomicU64,
    store_latency: RwLock<HashMap<&'static str, Arc<Histogram>>>,
    store_errors: RwLock<HashMap<&'static str, Arc<AtomicU64>>>,
    gauges: RwLock<Vec<GaugeEntry>>,
    otel: OnceLock<crate::otel::Instruments>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

fn entry<K: Copy + Eq + std::hash::Hash, V: Default>(map: &RwLock<HashMap<K, Arc<V>>>, key: K) -> Arc<V> {
    if let Some(found) = map.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
        return Arc::clone(found);
    }
    let mut map = map.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(map.entry(key).or_default())
}

fn read<K: Copy + Ord, V>(map: &RwLock<HashMap<K, Arc<V>>>) -> Vec<(K, Arc<V>)> {
    let mut all: Vec<_> = map
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .map(|(k, v)| (*k, Arc::clone(v)))
        .collect();
    all.sort_by_key(|(k, _)| *k);
    all
}

impl PartialOrd for RequestLabels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RequestLabels {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.transport.as_str(), self.action, self.code, self.caller_kind).cmp(&(
            other.transport.as_str(),
            other.action,
            other.code,
            other.caller_kind,
        ))
    }
}

impl PartialOrd for Transport {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Transport {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Metrics {
    /// One request answered.
    pub fn request(&self, labels: RequestLabels, elapsed: Duration) {
        entry(&self.requests, labels).count.fetch_add(1, Ordering::Relaxed);
        entry(&self.latency, (labels.transport, labels.action)).observe(elapsed);
        if let Some(otel) = self.otel.get() {
            otel.request(labels, elapsed);
        }
    }

    /// How many requests with exactly these labels were answered.
    pub fn requests(&self, labels: RequestLabels) -> u64 {
        self.requests
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&labels)
            .map_or(0, |s| s.count.load(Ordering::Relaxed))
    }

    /// Temporary credentials issued, by session kind (`role_session`, `federated_user`,
    /// `session_token`).
    pub fn token_issued(&self, kind: &'static str) {
        entry(&self.tokens, kind).fetch_add(1, Ordering::Relaxed);
    }

    /// A revocation recorded: `session`, `role` or `principal`.
    pub fn revocation(&self, kind: &'static str) {
        entry(&self.revocations, kind).fetch_add(1, Ordering::Relaxed);
    }

    /// An MFA device locked after too many invalid codes.
    pub fn mfa_lockout(&self) {
        self.mfa_lockouts.fetch_add(1, Ordering::Relaxed);
    }

    /// One store call (`get`, `scan`, `commit`, `publish`, `subscribe`) and whether it failed.
    pub fn store_call(&self, op: &'static str, elapsed: Duration, failed: bool) {
        entry(&self.store_latency, op).observe(elapsed);
        if failed {
            entry(&self.store_errors, op).fetch_add(1, Ordering::Relaxed);
        }
        if let Some(otel) = self.otel.get() {
            otel.store_call(op, elapsed, failed);
        }
    }

    /// Adds a value read when metrics are written. `labels` is Prometheus label text
    /// (`listener="http"`), fixed by the code.
    pub fn gauge(&self, name: &'static str, help: &'static str, labels: &'static str, read: Gauge) {
        self.add(name, help, "gauge", labels, read);
    }

    /// Adds a counter read when metrics are written (a total kept elsewhere).
    pub fn counter(&self, name: &'static str, help: &'static str, labels: &'static str, read: Gauge) {
        self.add(name, help, "counter", labels, read);
    }

    fn add(&self, name: &'static str, help: &'static str, kind: &'static str, labels: &'static str, read: Gauge) {
        let mut gauges = self.gauges.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        gauges.push(GaugeEntry { name, help, kind, labels, read });
    }

    pub(crate) fn set_otel(&self, instruments: crate::otel::Instruments) {
        let _ = self.otel.set(instruments);
    }

    /// Calls `each(name, labels, value)` for every value read when written (dropping the gone).
    pub(crate) fn read_gauges(&self, mut each: impl FnMut(&'static str, &'static str, &'static str, f64)) {
        let mut gauges = self.gauges.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        gauges.retain(|g| match (g.read)() {
            Some(value) => {
                each(g.name, g.kind, g.labels, value);
                true
            }
            None => false,
        });
    }

    /// The counters, for the OTLP exporter: `(name, [(label, value)], count)`.
    pub(crate) fn counters(&self) -> Vec<Counted> {
        let mut out = Vec::new();
        for (l, s) in read(&self.requests) {
            let labels = vec![
                ("transport", l.transport.as_str()),
                ("action", l.action),
                ("code", l.code),
                ("caller_kind", l.caller_kind),
            ];
            out.push(("tessera.requests", labels, s.count.load(Ordering::Relaxed)));
        }
        for (kind, n) in read(&self.tokens) {
            out.push(("tessera.tokens_issued", vec![("kind", kind)], n.load(Ordering::Relaxed)));
        }
        for (kind, n) in read(&self.revocations) {
            out.push(("tessera.revocations", vec![("kind", kind)], n.load(Ordering::Relaxed)));
        }
        out.push(("tessera.mfa_lockouts", Vec::new(), self.mfa_lockouts.load(Ordering::Relaxed)));
        for (op, n) in read(&self.store_errors) {
            out.push(("tessera.store_errors", vec![("op", op)], n.load(Ordering::Relaxed)));
        }
        out
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "tessera_requests_total",
            "Requests answered, by transport, action, code and caller kind.",
            "counter",
        );
        for (l, s) in read(&self.requests) {
            let _ = writeln!(
                out,
                "tessera_requests_total{{transport=\"{}\",action=\"{}\",code=\"{}\",caller_kind=\"{}\"}} {}",
                l.transport.as_str(),
                l.action,
                l.code,
                l.caller_kind,
                s.count.load(Ordering::Relaxed)
            );
        }
        header(
            &mut out,
            "tessera_request_duration_seconds",
            "Time to answer a request, by transport and action.",
            "histogram",
        );
        for ((transport, action), h) in read(&self.latency) {
            h.write(
                &mut out,
                "tessera_request_duration_seconds",
                &format!("transport=\"{}\",action=\"{action}\"", transport.as_str()),
            );
        }
        header(&mut out, "tessera_tokens_issued_total", "Temporary credentials issued, by session kind.", "counter");
        for (kind, n) in read(&self.tokens) {
            let _ = writeln!(out, "tessera_tokens_issued_total{{kind=\"{kind}\"}} {}", n.load(Ordering::Relaxed));
        }
        header(&mut out, "tessera_revocations_total", "Session revocations recorded, by kind.", "counter");
        for (kind, n) in read(&self.revocations) {
            let _ = writeln!(out, "tessera_revocations_total{{kind=\"{kind}\"}} {}", n.load(Ordering::Relaxed));
        }
        header(&mut out, "tessera_mfa_lockouts_total", "MFA devices locked after too many invalid codes.", "counter");
        let _ = writeln!(out, "tessera_mfa_lockouts_total {}", self.mfa_lockouts.load(Ordering::Relaxed));
        header(&mut out, "tessera_store_duration_seconds", "Time of a store call, by operation.", "histogram");
        for (op, h) in read(&self.store_latency) {
            h.write(&mut out, "tessera_store_duration_seconds", &format!("op=\"{op}\""));
        }
        header(&mut out, "tessera_store_errors_total", "Store calls that failed, by operation.", "counter");
        for (op, n) in read(&self.store_errors) {
            let _ = writeln!(out, "tessera_store_errors_total{{op=\"{op}\"}} {}", n.load(Ordering::Relaxed));
        }
        let mut values: Vec<(&'static str, &'static str, &'static str, f64)> = Vec::new();
        self.read_gauges(|name, kind, labels, value| values.push((name, kind, labels, value)));
        let helps: HashMap<&str, &str> = self
            .gauges
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|g| (g.name, g.help))
            .collect();
        values.sort_by(|a, b| (a.0, a.2).cmp(&(b.0, b.2)));
        // Several servers in one process (tests) add up.
        let mut summed: Vec<(&'static str, &'static str, &'static str, f64)> = Vec::new();
        for (name, kind, labels, value) in values {
            match summed.last_mut() {
                Some(last) if last.0 == name && last.2 == labels => last.3 += value,
                _ => summed.push((name, kind, labels, value)),
            }
        }
        let mut last = "";
        for (name, kind, labels, value) in summed {
            if name != last {
                header(&mut out, name, helps.get(name).copied().unwrap_or(""), kind);
                last = name;
            }
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {value}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        }
        out
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_counts_and_buckets() {
        let m = Metrics::default();
        let labels =
            RequestLabels { transport: Transport::Http, action: "sts:AssumeRole", code: "OK", caller_kind: "user" };
        m.request(labels, Duration::from_micros(300));
        m.request(labels, Duration::from_millis(30));
        m.store_call("get", Duration::from_micros(5), true);
        m.gauge("tessera_connections_open", "Open connections.", "listener=\"http\"", Box::new(|| Some(2.0)));
        m.gauge("tessera_connections_open", "Open connections.", "listener=\"http\"", Box::new(|| Some(1.0)));
        m.gauge("tessera_gone", "Gone.", "", Box::new(|| None));
        let text = m.prometheus();
        assert!(text.contains(
            "tessera_requests_total{transport=\"http\",action=\"sts:AssumeRole\",code=\"OK\",caller_kind=\"user\"} 2"
        ));
        assert!(text.contains(
            "tessera_request_duration_seconds_bucket{transport=\"http\",action=\"sts:AssumeRole\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains(
            "tessera_request_duration_seconds_bucket{transport=\"http\",action=\"sts:AssumeRole\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("tessera_store_errors_total{op=\"get\"} 1"));
        assert!(text.contains("tessera_connections_open{listener=\"http\"} 3"));
        assert!(!text.contains("tessera_gone"));
        assert_eq!(m.requests(labels), 2);
    }
}
