//! What a service embeds to trust Tessera: a tower layer that authenticates and authorizes each
//! incoming HTTP request by asking Tessera's authorizer (`tessera.authorizer.v1.Authorize`), over
//! the network ([`Remote`]) or in the same process ([`Local`], any `AuthorizerService`, such as the
//! one `tessera serve` mounts), with the same answer either way.
//!
//! ```text
//! request --AuthorizeLayer--> credential (SigV4 headers + body hash, or `Bearer <key>:<token>`)
//!         --classify(parts)--> Question (action, resources, context)
//!         --Authorizer::authorize--> allowed: inner service, with the `Caller` as an extension
//!                                    otherwise: 401 (no or bad credential) / 403 (denied)
//! ```
//!
//! The service decides what each request asks (`classify`); Tessera decides whether the caller
//! may. SigV4 bodies are read (up to [`MAX_BODY_BYTES`]) to hash them, then handed on unchanged.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, request::Parts};
use tessera_proto::authorizer::v1 as pb;
use tessera_proto::authorizer::v1::authorizer_service_client::AuthorizerServiceClient;
use tessera_proto::authorizer::v1::authorizer_service_server::AuthorizerService;
use tonic::transport::Channel;
use tower::{Layer, Service};

pub use tessera_proto::authorizer::v1::{Caller, Question};

pub mod workload;

/// The largest body read to hash for SigV4.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Asks the authorizer.
pub trait Authorizer: Clone + Send + Sync + 'static {
    fn authorize(&self, request: pb::AuthorizeRequest) -> BoxFuture<Result<pb::AuthorizeResponse, tonic::Status>>;
}

/// The authorizer over gRPC.
#[derive(Debug, Clone)]
pub struct Remote(AuthorizerServiceClient<Channel>);

impl Remote {
    pub fn new(channel: Channel) -> Self {
        Self(AuthorizerServiceClient::new(channel))
    }
}

impl Authorizer for Remote {
    fn authorize(&self, request: pb::AuthorizeRequest) -> BoxFuture<Result<pb::AuthorizeResponse, tonic::Status>> {
        let mut client = self.0.clone();
        Box::pin(async move { client.authorize(request).await.map(tonic::Response::into_inner) })
    }
}

/// The authorizer in this process: any implementation of the service, called directly.
#[derive(Debug)]
pub struct Local<T>(Arc<T>);

impl<T> Local<T> {
    pub fn new(service: Arc<T>) -> Self {
        Self(service)
    }
}

impl<T> Clone for Local<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T: AuthorizerService> Authorizer for Local<T> {
    fn authorize(&self, request: pb::AuthorizeRequest) -> BoxFuture<Result<pb::AuthorizeResponse, tonic::Status>> {
        let service = Arc::clone(&self.0);
        Box::pin(async move { service.authorize(tonic::Request::new(request)).await.map(tonic::Response::into_inner) })
    }
}

/// What a request asks, as the service sees it; `None` answers 404 without asking.
pub type Classify = Arc<dyn Fn(&Parts) -> Option<Question> + Send + Sync>;

/// The layer.
#[derive(Clone)]
pub struct AuthorizeLayer<A> {
    authorizer: A,
    classify: Classify,
    /// The SigV4 scopes (service names) this service accepts signatures for.
    services: Vec<String>,
    /// The audience this service accepts Tessera identity tokens for, if any.
    audience: Option<String>,
}

impl<A: std::fmt::Debug> std::fmt::Debug for AuthorizeLayer<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizeLayer")
            .field("authorizer", &self.authorizer)
            .field("services", &self.services)
            .field("audience", &self.audience)
            .finish()
    }
}

impl<A: Authorizer> AuthorizeLayer<A> {
    /// Authorizes with `authorizer` what `classify` says each request asks; SigV4 signatures must
    /// name one of `services` in their scope.
    pub fn new(
        authorizer: A,
        services: &[&str],
        classify: impl Fn(&Parts) -> Option<Question> + Send + Sync + 'static,
    ) -> Self {
        Self {
            authorizer,
            classify: Arc::new(classify),
            services: services.iter().map(|s| (*s).to_owned()).collect(),
            audience: None,
        }
    }

    /// Also accepts, as `Bearer` credentials, identity tokens Tessera minted for `audience`
    /// (`GetWebIdentityToken`); without it they are refused.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }
}

impl<A: Clone, S> Layer<S> for AuthorizeLayer<A> {
    type Service = Authorize<A, S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize { layer: AuthorizeLayer { ..self.clone() }, inner }
    }
}

/// The service the layer makes.
#[derive(Clone)]
pub struct Authorize<A, S> {
    layer: AuthorizeLayer<A>,
    inner: S,
}

impl<A: std::fmt::Debug, S> std::fmt::Debug for Authorize<A, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorize").field("layer", &self.layer).finish_non_exhaustive()
    }
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = format!("{{\"code\":{},\"message\":{}}}", json_string(code), json_string(message));
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", axum::http::HeaderValue::from_static("application/json"));
    response
}

/// A refusal as a gRPC client reads it: HTTP 200 with `grpc-status` (16 not authenticated, 7
/// denied, 12 unknown method, 14 authorizer unreachable) and the message in `grpc-message`.
fn grpc_refusal(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let grpc_status = match status {
        StatusCode::UNAUTHORIZED => "16",
        StatusCode::FORBIDDEN => "7",
        StatusCode::NOT_FOUND => "12",
        StatusCode::PAYLOAD_TOO_LARGE => "8",
        _ => "14",
    };
    let text = format!("{code}: {message}");
    let encoded: String = text
        .bytes()
        .map(|b| if (0x20..0x7f).contains(&b) && b != b'%' { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect();
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert("content-type", axum::http::HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", axum::http::HeaderValue::from_static(grpc_status));
    if let Ok(value) = axum::http::HeaderValue::from_str(&encoded) {
        headers.insert("grpc-message", value);
    }
    response
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl<A, S> Service<Request<Body>> for Authorize<A, S>
where
    A: Authorizer,
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            // gRPC callers get their refusals as gRPC statuses.
            let grpc = parts
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/grpc"));
            let refusal = |status: StatusCode, code: &str, message: &str| {
                if grpc { grpc_refusal(status, code, message) } else { refusal(status, code, message) }
            };
            let Some(question) = (layer.classify)(&parts) else {
                return Ok(refusal(StatusCode::NOT_FOUND, "NotFound", "No such operation."));
            };
            let bearer = parts
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(|token| pb::Bearer { token: token.trim().to_owned(), audience: layer.audience.clone() });
            let (credential, body) = match bearer {
                Some(bearer) => (pb::authorize_request::Credential::Bearer(bearer), body),
                None => {
                    let Ok(bytes) =
                        http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_BODY_BYTES))
                            .await
                            .map(http_body_util::Collected::to_bytes)
                    else {
                        return Ok(refusal(StatusCode::PAYLOAD_TOO_LARGE, "RequestTooLarge", "The body is too large."));
                    };
                    let mut headers: Vec<pb::Header> = parts
                        .headers
                        .iter()
                        .filter_map(|(name, value)| {
                            Some(pb::Header { name: name.as_str().to_owned(), value: value.to_str().ok()?.to_owned() })
                        })
                        .collect();
                    // HTTP/2 (gRPC) carries the host as the `:authority`, which signers sign as `host`.
                    if !parts.headers.contains_key("host")
                        && let Some(authority) = parts.uri.authority()
                    {
                        headers.push(pb::Header { name: "host".into(), value: authority.to_string() });
                    }
                    let signed = pb::SigV4Request {
                        method: parts.method.as_str().to_owned(),
                        path: parts.uri.path().to_owned(),
                        query: parts.uri.query().unwrap_or_default().to_owned(),
                        headers,
                        payload_sha256: Some(tessera_sigv4::sha256_hex(&bytes)),
                        services: layer.services.clone(),
                    };
                    (pb::authorize_request::Credential::Sigv4(signed), Body::from(bytes))
                }
            };
            let source_ip = parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip().to_string());
            let asked = pb::AuthorizeRequest { credential: Some(credential), question: Some(question), source_ip };
            let answer = match layer.authorizer.authorize(asked).await {
                Ok(answer) => answer,
                Err(status) => {
                    let code = status
                        .metadata()
                        .get("tessera-error-code")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("AuthorizerUnavailable")
                        .to_owned();
                    let http = match status.code() {
                        tonic::Code::Unauthenticated | tonic::Code::InvalidArgument => StatusCode::UNAUTHORIZED,
                        tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
                        _ => StatusCode::SERVICE_UNAVAILABLE,
                    };
                    tracing::debug!(%code, message = status.message(), "request not authenticated");
                    return Ok(refusal(http, &code, status.message()));
                }
            };
            let allowed = answer.answer.as_ref().is_some_and(|a| a.outcome() == pb::Outcome::Allowed);
            if !allowed {
                let why = answer
                    .answer
                    .as_ref()
                    .and_then(|a| a.explanations.iter().find(|e| e.outcome() != pb::Outcome::Allowed))
                    .map_or_else(|| "not allowed".to_owned(), |e| e.reason.clone());
                return Ok(refusal(StatusCode::FORBIDDEN, "AccessDenied", &why));
            }
            if let Some(caller) = answer.caller {
                parts.extensions.insert(caller);
            }
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}
