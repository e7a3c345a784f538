//! A tiny in-process OTLP/gRPC collector (trace and metrics services) that keeps what it
//! receives: for tests that follow a trace across layers, and for the load generator's runs with
//! an endpoint configured.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tonic::{Request, Response, Status};

/// One span as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectedSpan {
    /// Hex.
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    /// The resource's `service.name`.
    pub service_name: String,
    /// The span's string attributes.
    pub attributes: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct Received {
    /// Whether spans are kept, or only counted (a load test's millions).
    keep: bool,
    spans: Vec<CollectedSpan>,
    span_count: usize,
    metric_exports: usize,
}

/// The collector: [`Collector::start`] serves on `127.0.0.1:0` until dropped.
#[derive(Debug, Clone)]
pub struct Collector {
    addr: SocketAddr,
    received: Arc<Mutex<Received>>,
    _stop: Arc<tokio::sync::oneshot::Sender<()>>,
}

#[derive(Debug, Clone)]
struct Sink(Arc<Mutex<Received>>);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> Option<String> {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => Some(s.clone()),
        Some(Value::IntValue(i)) => Some(i.to_string()),
        Some(Value::BoolValue(b)) => Some(b.to_string()),
        _ => None,
    }
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut received = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for resource_spans in request.into_inner().resource_spans {
            let service_name = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| text(kv.value.as_ref()))
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                received.span_count += 1;
                if !received.keep {
                    continue;
                }
                received.spans.push(CollectedSpan {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    name: span.name,
                    service_name: service_name.clone(),
                    attributes: span
                        .attributes
                        .iter()
                        .filter_map(|kv| Some((kv.key.clone(), text(kv.value.as_ref())?)))
                        .collect(),
                });
            }
        }
        Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        _request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).metric_exports += 1;
        Ok(Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}

impl Collector {
    /// Serves the OTLP trace and metrics services on a loopback port of its own, keeping every
    /// span.
    pub async fn start() -> std::io::Result<Self> {
        Self::serve(true).await
    }

    /// As [`Collector::start`], counting spans without keeping them.
    pub async fn counting() -> std::io::Result<Self> {
        Self::serve(false).await
    }

    async fn serve(keep: bool) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Received { keep, ..Received::default() }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let sink = Sink(Arc::clone(&received));
        tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(sink.clone()))
                .add_service(MetricsServiceServer::new(sink))
                .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self { addr, received, _stop: Arc::new(stop) })
    }

    /// The endpoint to export to (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<CollectedSpan> {
        self.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).spans.clone()
    }

    /// How many spans arrived (kept or not).
    pub fn span_count(&self) -> usize {
        self.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).span_count
    }

    /// How many metric exports arrived.
    pub fn metric_exports(&self) -> usize {
        self.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).metric_exports
    }
}
