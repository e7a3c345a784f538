//! The internal-call gate of a domain service run on its own (`--service
//! identity|policy|sts|authorizer`): calls must carry the cluster's proof (`tessera-internal`:
//! hex HMAC-SHA256 of [`INTERNAL_LABEL`] under the shared master key, compared in constant time),
//! which the gateways send, or, when `--grpc-auth` is on, be authenticated and authorized by the
//! gRPC gate as callers of the all-in-one server are. `grpc.health.v1` stays open (probes carry
//! nothing). Everything else is refused `Unauthenticated`: a domain service trusts what it is
//! told (a `Caller`, an account), so only cluster members may tell it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tessera_credentials::MasterKey;
use tessera_gateway::grpc_auth::{GrpcAuth, GrpcAuthLayer, GrpcTelemetry, GrpcTelemetryLayer};
use tessera_proto::upstream::{INTERNAL_LABEL, INTERNAL_METADATA};
use tonic::body::Body;
use tower::{Layer, Service, ServiceExt as _};

/// The path prefix of the `grpc.health.v1` methods.
const HEALTH_PATH: &str = "/grpc.health.v1.Health/";

/// Wraps a domain service's gRPC routes.
#[derive(Debug, Clone)]
pub struct InternalGateLayer<S> {
    key: Arc<MasterKey>,
    /// The `--grpc-auth` gate, for callers without the proof.
    gate: Option<GrpcAuthLayer<S>>,
    service: &'static str,
}

impl<S> InternalGateLayer<S> {
    /// Accepts proofs under `key` (or a previous key it carries); callers without one go through
    /// `gate` when given. `service` names the service in refusals (`identity`, ...).
    pub fn new(key: Arc<MasterKey>, gate: Option<GrpcAuthLayer<S>>, service: &'static str) -> Self {
        Self { key, gate, service }
    }
}

impl<S, I: Clone> Layer<I> for InternalGateLayer<S> {
    type Service = InternalGate<S, I>;

    fn layer(&self, inner: I) -> Self::Service {
        InternalGate {
            key: Arc::clone(&self.key),
            gated: self.gate.as_ref().map(|gate| gate.layer(inner.clone())),
            internal: GrpcTelemetryLayer.layer(inner.clone()),
            open: inner,
            service: self.service,
        }
    }
}

/// The service [`InternalGateLayer`] makes.
#[derive(Debug)]
pub struct InternalGate<S, I> {
    key: Arc<MasterKey>,
    gated: Option<GrpcAuth<S, I>>,
    internal: GrpcTelemetry<I>,
    open: I,
    service: &'static str,
}

impl<S, I: Clone> Clone for InternalGate<S, I> {
    fn clone(&self) -> Self {
        Self {
            key: Arc::clone(&self.key),
            gated: self.gated.clone(),
            internal: self.internal.clone(),
            open: self.open.clone(),
            service: self.service,
        }
    }
}

/// What a call's `tessera-internal` metadata says.
#[derive(Debug, PartialEq, Eq)]
enum Proof {
    Absent,
    Valid,
    Invalid,
}

fn proof(key: &MasterKey, headers: &axum::http::HeaderMap) -> Proof {
    let Some(value) = headers.get(INTERNAL_METADATA) else { return Proof::Absent };
    match value.to_str().ok().and_then(unhex) {
        Some(mac) if key.verify_mac(INTERNAL_LABEL, &mac) => Proof::Valid,
        _ => Proof::Invalid,
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, I> Service<axum::http::Request<Body>> for InternalGate<S, I>
where
    S: tessera_store::Store,
    I: Service<axum::http::Request<Body>, Response = axum::http::Response<Body>> + Clone + Send + 'static,
    I::Future: Send + 'static,
    I::Error: Send + 'static,
{
    type Response = axum::http::Response<Body>;
    type Error = I::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each call readies its own clone (`oneshot`): which one serves depends on the request.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::http::Request<Body>) -> Self::Future {
        if request.uri().path().starts_with(HEALTH_PATH) {
            return Box::pin(self.open.clone().oneshot(request));
        }
        let refuse = |message: String| -> Self::Future {
            let response = tonic::Status::unauthenticated(message).into_http();
            Box::pin(async move { Ok(response) })
        };
        match (proof(&self.key, request.headers()), &self.gated) {
            (Proof::Valid, _) => Box::pin(self.internal.clone().oneshot(request)),
            (Proof::Invalid, _) => refuse(format!(
                "the {INTERNAL_METADATA} proof does not match this {} service's master key: every process of a \
                 cluster must share the master key",
                self.service
            )),
            (Proof::Absent, Some(gated)) => Box::pin(gated.clone().oneshot(request)),
            (Proof::Absent, None) => refuse(format!(
                "the {} service takes calls only from the cluster's gateways (the {INTERNAL_METADATA} metadata); \
                 call a gateway, or start this service with --grpc-auth to take signed calls",
                self.service
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_are_lowercase_or_uppercase_hex_of_the_mac() {
        let key = MasterKey::from_bytes([7; 32]);
        let mac = key.derive_mac(INTERNAL_LABEL);
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(proof(&key, &headers), Proof::Absent);
        let hex = tessera_proto::upstream::internal_proof(&mac);
        headers.insert(INTERNAL_METADATA, axum::http::HeaderValue::from_str(hex.to_str().unwrap()).unwrap());
        assert_eq!(proof(&key, &headers), Proof::Valid);
        let upper = hex.to_str().unwrap().to_uppercase();
        headers.insert(INTERNAL_METADATA, axum::http::HeaderValue::from_str(&upper).unwrap());
        assert_eq!(proof(&key, &headers), Proof::Valid);
        assert_eq!(proof(&MasterKey::from_bytes([8; 32]), &headers), Proof::Invalid);
        for bad in ["", "0", "zz", "00"] {
            headers.insert(INTERNAL_METADATA, axum::http::HeaderValue::from_static(bad));
            assert_eq!(proof(&key, &headers), Proof::Invalid, "{bad:?}");
        }
    }
}
