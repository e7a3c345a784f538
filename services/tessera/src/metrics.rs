//! `/metrics` (Prometheus text) on the HTTP port, and the values a running server adds to
//! [`tessera_telemetry::metrics`]: open connections per listener and the authorizer cache's
//! counters and hit ratio. Each is read while its server runs (its store alive) and dropped after.

use std::sync::{Arc, Weak};

use axum::Router;
use axum::http::header;
use axum::routing::get;
use tessera_store::AnyStore;
use tessera_sts::Sts;

use crate::listen::Gate;

/// The Prometheus text exposition's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `/metrics` route.
pub(crate) fn route() -> Router {
    Router::new().route(
        "/metrics",
        get(|| async { ([(header::CONTENT_TYPE, CONTENT_TYPE)], tessera_telemetry::metrics().prometheus()) }),
    )
}

/// Adds this server's values, read while `store` (the server's) is alive.
pub(crate) fn register(store: &Arc<AnyStore>, gates: &(Gate, Gate), sts: Option<&Arc<Sts<AnyStore>>>) {
    let metrics = tessera_telemetry::metrics();
    for (gate, labels) in [(&gates.0, "listener=\"http\""), (&gates.1, "listener=\"grpc\"")] {
        let (alive, gate) = (Arc::downgrade(store), gate.clone());
        metrics.gauge(
            "tessera_connections_open",
            "Connections open, by listener.",
            labels,
            Box::new(move || alive.upgrade().map(|_| gate.open() as f64)),
        );
    }
    let Some(sts) = sts else { return };
    let stats = |sts: &Weak<Sts<AnyStore>>| sts.upgrade().map(|sts| sts.authorizer().cache().stats());
    let weak = Arc::downgrade(sts);
    metrics.counter(
        "tessera_authorizer_cache_hits_total",
        "Authorizer cache lookups served from the cache.",
        "",
        Box::new(move || stats(&weak).map(|s| s.hits as f64)),
    );
    let weak = Arc::downgrade(sts);
    metrics.counter(
        "tessera_authorizer_cache_misses_total",
        "Authorizer cache lookups that read the store.",
        "",
        Box::new(move || stats(&weak).map(|s| s.misses as f64)),
    );
    let weak = Arc::downgrade(sts);
    metrics.gauge(
        "tessera_authorizer_cache_hit_ratio",
        "Hits over lookups of the authorizer cache since start (0 before any lookup).",
        "",
        Box::new(move || {
            stats(&weak).map(|s| {
                let lookups = s.hits + s.misses;
                if lookups == 0 { 0.0 } else { s.hits as f64 / lookups as f64 }
            })
        }),
    );
    let weak = Arc::downgrade(sts);
    metrics.gauge(
        "tessera_authorizer_cache_entries",
        "Entries in the authorizer cache.",
        "",
        Box::new(move || stats(&weak).map(|s| s.entries as f64)),
    );
}
