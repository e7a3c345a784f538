//! OpenTelemetry export over OTLP/gRPC, only when an endpoint is configured: a tracer provider
//! with a batch exporter behind `tracing-opentelemetry`, and a meter provider whose instruments
//! read [`crate::metrics`].
//!
//! The standard `OTEL_*` variables apply: `OTEL_EXPORTER_OTLP_ENDPOINT` (or the per-signal
//! `..._TRACES_ENDPOINT`/`..._METRICS_ENDPOINT`) turns export on, `OTEL_SDK_DISABLED=true` and
//! `OTEL_TRACES_EXPORTER`/`OTEL_METRICS_EXPORTER=none` turn a signal off, and the exporter reads
//! `OTEL_EXPORTER_OTLP_HEADERS`/`_TIMEOUT`, the SDK `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`(`_ARG`) and `OTEL_BSP_*`.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, MeterProvider as _};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::metrics::{BUCKETS, RequestLabels, metrics};

/// Where and what to export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The OTLP/gRPC endpoint for traces (`http://collector:4317`).
    pub traces_endpoint: Option<String>,
    /// The OTLP/gRPC endpoint for metrics.
    pub metrics_endpoint: Option<String>,
    /// How often metrics are exported.
    pub metrics_interval: Option<Duration>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl OtlpConfig {
    /// The configuration the standard `OTEL_*` variables describe; nothing when no endpoint is set.
    pub fn from_env() -> Self {
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Self::default();
        }
        let endpoint = var("OTEL_EXPORTER_OTLP_ENDPOINT");
        let signal = |specific: &str, exporter: &str| {
            if var(exporter).is_some_and(|v| v.eq_ignore_ascii_case("none")) {
                return None;
            }
            var(specific).or_else(|| endpoint.clone())
        };
        Self {
            traces_endpoint: signal("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER"),
            metrics_endpoint: signal("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_METRICS_EXPORTER"),
            metrics_interval: None,
        }
    }

    /// Both signals to one endpoint.
    pub fn endpoint(endpoint: impl Into<String>) -> Self {
        let endpoint = endpoint.into();
        Self { traces_endpoint: Some(endpoint.clone()), metrics_endpoint: Some(endpoint), metrics_interval: None }
    }
}

/// The OTel instruments [`crate::metrics::Metrics`] records into while metrics are exported.
#[derive(Debug)]
pub(crate) struct Instruments {
    request_latency: Histogram<f64>,
    store_latency: Histogram<f64>,
}

impl Instruments {
    pub(crate) fn request(&self, labels: RequestLabels, elapsed: Duration) {
        self.request_latency.record(
            elapsed.as_secs_f64(),
            &[
                KeyValue::new("transport", labels.transport.as_str()),
                KeyValue::new("action", labels.action),
                KeyValue::new("code", labels.code),
            ],
        );
    }

    pub(crate) fn store_call(&self, op: &'static str, elapsed: Duration, failed: bool) {
        self.store_latency.record(
            elapsed.as_secs_f64(),
            &[KeyValue::new("op", op), KeyValue::new("outcome", if failed { "error" } else { "ok" })],
        );
    }
}

fn resource() -> Resource {
    // `OTEL_SERVICE_NAME` wins over this default (the SDK's environment detector).
    let named = var("OTEL_SERVICE_NAME").is_some();
    let builder = Resource::builder();
    if named { builder.build() } else { builder.with_service_name("tessera").build() }
}

/// Builds the tracer provider; must run inside a Tokio runtime (the gRPC channel's worker).
pub(crate) fn tracer_provider(endpoint: &str) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("cannot build the OTLP span exporter for {endpoint}: {e}"))?;
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource()).build())
}

/// Builds the meter provider and points [`crate::metrics`] at it.
pub(crate) fn meter_provider(endpoint: &str, interval: Option<Duration>) -> Result<SdkMeterProvider, String> {
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("cannot build the OTLP metric exporter for {endpoint}: {e}"))?;
    let mut reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter);
    if let Some(interval) = interval {
        reader = reader.with_interval(interval);
    }
    let provider = SdkMeterProvider::builder().with_reader(reader.build()).with_resource(resource()).build();
    let meter = provider.meter("tessera");
    let instruments = Instruments {
        request_latency: meter
            .f64_histogram("tessera.request.duration")
            .with_unit("s")
            .with_description("Time to answer a request, by transport, action and code.")
            .with_boundaries(BUCKETS.to_vec())
            .build(),
        store_latency: meter
            .f64_histogram("tessera.store.duration")
            .with_unit("s")
            .with_description("Time of a store call, by operation and outcome.")
            .with_boundaries(BUCKETS.to_vec())
            .build(),
    };
    metrics().set_otel(instruments);
    // The counters and gauges kept in `metrics()`, observed at each export.
    for name in [
        "tessera.requests",
        "tessera.tokens_issued",
        "tessera.revocations",
        "tessera.mfa_lockouts",
        "tessera.store_errors",
    ] {
        let _ = meter
            .u64_observable_counter(name)
            .with_callback(move |observer| {
                for (counter, labels, value) in metrics().counters() {
                    if counter == name {
                        let attributes: Vec<KeyValue> = labels.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect();
                        observer.observe(value, &attributes);
                    }
                }
            })
            .build();
    }
    let _ = meter
        .f64_observable_gauge("tessera.gauges")
        .with_description("Values read at export: open connections, the authorizer cache's counters and hit ratio.")
        .with_callback(|observer| {
            metrics().read_gauges(|name, _, labels, value| {
                observer.observe(value, &[KeyValue::new("name", name), KeyValue::new("labels", labels)]);
            });
        })
        .build();
    Ok(provider)
}
