//! Telemetry for every Tessera process: the `tracing` subscriber (text or JSON logs), OpenTelemetry
//! traces and metrics exported over OTLP when an endpoint is configured, W3C trace context carried
//! in HTTP headers and gRPC metadata, and the metrics behind `/metrics` ([`metrics`]).
//!
//! With no endpoint nothing OpenTelemetry runs: no exporter, no background thread, no propagation
//! work; what remains is `tracing`'s span bookkeeping and a few atomic additions per request.
//!
//! Span and metric fields never hold a secret: spans name actions, codes and caller kinds; the
//! logs' fields are the callers' (no secret, session token or password is ever a field).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

#[cfg(feature = "collector")]
pub mod collector;
pub mod metrics;
mod otel;

pub use metrics::{Metrics, RequestLabels, Transport, metrics};
pub use otel::OtlpConfig;

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown log format `{other}` (text or json)")),
        }
    }
}

/// The log layer's filter: `RUST_LOG`'s events, never a span. Unlike combining filters, it keeps
/// the filter's level hint, so callsites above it (the libraries' `debug!`/`trace!`, and `log`
/// records) stay disabled at their call sites.
struct EventsOnly(EnvFilter);

impl<S: tracing::Subscriber> tracing_subscriber::layer::Filter<S> for EventsOnly {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, cx: &tracing_subscriber::layer::Context<'_, S>) -> bool {
        metadata.is_event() && tracing_subscriber::layer::Filter::enabled(&self.0, metadata, cx)
    }

    fn callsite_enabled(&self, metadata: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
        if metadata.is_span() {
            return tracing::subscriber::Interest::never();
        }
        tracing_subscriber::layer::Filter::<S>::callsite_enabled(&self.0, metadata)
    }

    fn max_level_hint(&self) -> Option<tracing_subscriber::filter::LevelFilter> {
        tracing_subscriber::layer::Filter::<S>::max_level_hint(&self.0)
    }
}

/// What [`init`] sets up.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub log_format: LogFormat,
    /// Where to export; [`OtlpConfig::from_env`] for the standard variables.
    pub otlp: OtlpConfig,
    /// The filter when `RUST_LOG` is unset (`info`).
    pub default_filter: Option<String>,
    /// No log output at all (the load generator's quiet runs).
    pub quiet: bool,
}

/// Whether trace context is extracted and injected (only while traces are exported).
static PROPAGATING: AtomicBool = AtomicBool::new(false);

/// The running telemetry; [`Telemetry::shutdown`] flushes what is buffered, within a bound.
#[derive(Debug)]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

/// Installs the global subscriber: logs to stderr (text or JSON, `RUST_LOG` or the default
/// filter), and when `config.otlp` names an endpoint, the OTLP exporters. Call it inside a Tokio
/// runtime (the exporters' gRPC channels live on it), once per process.
pub fn init(config: Config) -> Result<Telemetry, String> {
    let tracer = config.otlp.traces_endpoint.as_deref().map(otel::tracer_provider).transpose()?;
    let meter = config
        .otlp
        .metrics_endpoint
        .as_deref()
        .map(|endpoint| otel::meter_provider(endpoint, config.otlp.metrics_interval))
        .transpose()?;
    let default = config.default_filter.as_deref().unwrap_or("info");
    // Logs take events only: with no exporter no layer wants a span, so spans are disabled at
    // their call sites and cost nothing (a log line then carries its own fields, not its spans').
    let filter = || EventsOnly(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)));
    let logs = (!config.quiet).then(|| match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter()).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .boxed(),
    });
    let traces = tracer.as_ref().map(|provider| {
        use opentelemetry::trace::TracerProvider as _;
        // Tessera's own spans and events; the libraries' debug chatter stays out of traces.
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("tessera"))
            .with_filter(EnvFilter::new("info,h2=off,hyper=off,tonic=off,tower=off,opentelemetry=off"))
    });
    if let Some(provider) = &tracer {
        opentelemetry::global::set_tracer_provider(provider.clone());
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        PROPAGATING.store(true, Ordering::Relaxed);
    }
    if let Some(provider) = &meter {
        opentelemetry::global::set_meter_provider(provider.clone());
    }
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init()
        .map_err(|e| format!("cannot install the tracing subscriber: {e}"))?;
    Ok(Telemetry { tracer, meter })
}

impl Telemetry {
    /// Whether traces are exported.
    pub fn exporting(&self) -> bool {
        self.tracer.is_some()
    }

    /// Exports what is buffered now.
    pub fn flush(&self) {
        if let Some(tracer) = &self.tracer {
            let _ = tracer.force_flush();
        }
        if let Some(meter) = &self.meter {
            let _ = meter.force_flush();
        }
    }

    /// Flushes and stops the exporters, giving up after `timeout` (an unreachable collector must
    /// not hold a stopping server).
    pub fn shutdown(self, timeout: Duration) {
        // Both at once, so the bound is `timeout` in all.
        let traces = self.tracer.map(|tracer| std::thread::spawn(move || tracer.shutdown_with_timeout(timeout)));
        if let Some(meter) = self.meter {
            let _ = meter.shutdown_with_timeout(timeout);
        }
        if let Some(traces) = traces {
            let _ = traces.join();
        }
    }
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeadersMut<'a>(&'a mut http::HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (http::HeaderName::try_from(key), http::HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}

/// Makes `span` a child of the W3C `traceparent` (and `tracestate`) in `headers`, when traces are
/// exported and the headers carry one. gRPC metadata is HTTP/2 headers: the gRPC gate passes the
/// request's headers here too.
pub fn set_parent_from(span: &tracing::Span, headers: &http::HeaderMap) {
    if !PROPAGATING.load(Ordering::Relaxed) || !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(parent);
}

/// Writes the current span's W3C trace context into outgoing HTTP `headers`.
pub fn inject(headers: &mut http::HeaderMap) {
    if !PROPAGATING.load(Ordering::Relaxed) {
        return;
    }
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeadersMut(headers));
}

/// Writes the current span's W3C trace context into an outgoing gRPC request's metadata.
pub fn inject_grpc(metadata: &mut tonic::metadata::MetadataMap) {
    if !PROPAGATING.load(Ordering::Relaxed) {
        return;
    }
    let mut headers = http::HeaderMap::new();
    inject(&mut headers);
    for (name, value) in &headers {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_bytes()),
        ) {
            metadata.insert(key, value);
        }
    }
}
