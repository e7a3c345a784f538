//! Authentication and authorization of the native gRPC API, as one tower layer in front of every
//! gRPC service (the SPIRE shape: a cross-cutting concern keyed by full method name, not sprinkled
//! through handlers). `tessera serve --grpc-auth` turns it on.
//!
//! ```text
//! authorization: Bearer <id>:<secret|token> --authenticate--> caller --RULES[/pkg.Svc/Method]--> service
//!                      \___ Unauthenticated / PermissionDenied, with `tessera-error-code`
//! ```
//!
//! **Authentication.** Every call carries `authorization: Bearer <access-key-id>:<credential>`:
//! - a temporary key (`ASIA…`) with its session token, verified by [`Sts::verify_session`]
//!   (unexpired, unrevoked, made for that key);
//! - a long-term key with its secret access key, checked against the stored secret
//!   ([`tessera_identity::Identity::authenticate_access_key`]) in constant time; the key must be
//!   active.
//!
//! A missing header is `MissingAuthenticationToken`, an unknown key or a wrong secret or token
//! `InvalidClientTokenId`, an expired token `ExpiredToken`, all as gRPC `Unauthenticated`. The
//! bearer form sends the secret itself, so the gRPC port must be served over TLS (or a trusted
//! network) when this layer is on. A call may instead be SigV4-signed in its metadata
//! (`authorization: AWS4-HMAC-SHA256 …`, `x-amz-date`, `x-amz-security-token`, as
//! `tessera_authz_client::workload::SigV4GrpcLayer` signs): `POST /<pkg>.<Service>/<Method>`
//! with the `:authority` as `host` and the length-prefixed message as the payload, verified by
//! the HTTP endpoint's code (`auth::verify_with_sts`), so the secret never travels.
//!
//! **Authorization.** [`rule`] says what a method requires; for most, the layer decodes the
//! request message and authorizes it exactly as the same operation over HTTP
//! ([`crate::grpc_ops`] says which AWS action on which resource ARN with which inputs, and
//! [`crate::authz::authorize`] decides, with the same restrictions on temporary credentials,
//! context keys and messages): `AttachPolicy` for a user is `iam:AttachUserPolicy` on
//! `user/<name>` with `iam:PolicyARN`; `aws:SourceIp` is the connection's peer address.
//! - `AssumeRole`, `GetSessionToken` and `GetCallerIdentity` only need an authenticated caller
//!   (within the restrictions on temporary credentials): the token service authorizes them itself
//!   (trust policies), as on AWS;
//! - `AssumeRoleWithWebIdentity` is public: the web identity token in the request is the
//!   credential;
//! - internal methods (`CreateAccount`, `VerifySession`, `WatchPolicyEpochs`) and any method the
//!   tables do not know are for an account root only; revocations and issuing stops are Tessera's
//!   own actions (`sts:RevokeSession`, `sts:RevokeRoleSessions`, `sts:RevokePrincipalSessions`,
//!   `sts:ListRevocations`, `sts:StopIssuing`, `sts:ResumeIssuing`), which policies grant.
//!
//! A refusal is `AccessDenied` (`PermissionDenied`), or `InvalidClientTokenId` where AWS answers
//! that to temporary credentials (a GetSessionToken session without MFA calling IAM).
//!
//! **Account scoping.** Requests name their account in the protobuf body (`account_id`, or
//! `caller` for sts), which this layer does not decode. It passes the authenticated caller on
//! instead, as the [`GrpcCaller`] request extension and as the [`CALLER_ACCOUNT_METADATA`],
//! [`CALLER_ARN_METADATA`] and [`CALLER_KEY_METADATA`] metadata (any such metadata sent by the
//! client is removed first, and so is `authorization`). The services' gRPC adapters refuse a
//! request whose `account_id` is not the caller's account (`tessera_proto::scope::account`), and
//! the sts adapter one whose `Caller` is not the key that authenticated; the peer address travels
//! as [`CALLER_SOURCE_IP_METADATA`] and is the only `aws:SourceIp` the token service sees.
//!
//! Not done yet: audit events for gRPC calls.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tessera_credentials::constant_time_eq;
use tessera_identity::Env;
use tessera_proto::{ErrorCode, ServiceError};
use tessera_store::Store;
use tessera_store::iam::KeyStatus;
use tessera_sts::{CallerCredentials, CallerPrincipal, Sts};
use tonic::body::Body;
use tonic::codegen::http;
use tower::{Layer, Service};
use tracing::Instrument as _;

use crate::usage::UseNotes;

/// The metadata key carrying the authenticated caller's account id to the services.
pub const CALLER_ACCOUNT_METADATA: &str = "tessera-caller-account";
/// The metadata key carrying the authenticated caller's ARN to the services.
pub const CALLER_ARN_METADATA: &str = "tessera-caller-arn";
/// The metadata key carrying the access key id the caller authenticated with.
pub const CALLER_KEY_METADATA: &str = tessera_proto::CALLER_KEY_METADATA;
/// The metadata key carrying the caller's address (the connection's peer).
pub const CALLER_SOURCE_IP_METADATA: &str = tessera_proto::scope::CALLER_SOURCE_IP_METADATA;

/// The caller metadata the layer sets, as parsed header names: removed from and inserted into
/// every request, so they are not parsed from text per request.
static CALLER_HEADERS: [http::HeaderName; 4] = [
    http::HeaderName::from_static(CALLER_ACCOUNT_METADATA),
    http::HeaderName::from_static(CALLER_ARN_METADATA),
    http::HeaderName::from_static(CALLER_KEY_METADATA),
    http::HeaderName::from_static(CALLER_SOURCE_IP_METADATA),
];

/// The largest request message the layer reads to authorize it (tonic's default limit).
const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// What a method requires of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// No credentials: the request carries its own (AssumeRoleWithWebIdentity).
    Public,
    /// Any authenticated caller; the service authorizes the call itself.
    Authenticated,
    /// Authorized as the HTTP API's operation that the decoded message asks for.
    Operation,
    /// The account root only: internal or operator methods.
    RootOnly,
}

/// The methods whose rule is not [`Rule::Operation`], by full method name.
pub const RULES: &[(&str, Rule)] = &[
    // The credential to authorize travels in the message and proves itself.
    ("/tessera.authorizer.v1.AuthorizerService/Authorize", Rule::Public),
    ("/tessera.authorizer.v1.AuthorizerService/AuthorizeBatch", Rule::Public),
    ("/tessera.identity.v1.IdentityService/CreateAccount", Rule::RootOnly),
    ("/tessera.identity.v1.IdentityService/RecordAccessKeyUse", Rule::RootOnly),
    ("/tessera.identity.v1.IdentityService/RecordRoleUse", Rule::RootOnly),
    ("/tessera.policy.v1.PolicyService/WatchPolicyEpochs", Rule::RootOnly),
    // Internal: what the simulator reads, for a gateway in front of policy service replicas.
    ("/tessera.policy.v1.PolicyService/GetPrincipalPolicies", Rule::RootOnly),
    ("/tessera.sts.v1.StsService/AssumeRoleWithWebIdentity", Rule::Public),
    // SAML providers
    ("/tessera.sts.v1.StsService/AssumeRoleWithSaml", Rule::Public),
    ("/tessera.sts.v1.StsService/AssumeRole", Rule::Authenticated),
    ("/tessera.sts.v1.StsService/GetSessionToken", Rule::Authenticated),
    ("/tessera.sts.v1.StsService/GetCallerIdentity", Rule::Authenticated),
    ("/tessera.sts.v1.StsService/VerifySession", Rule::RootOnly),
];

/// The services whose methods are operations, and the action prefix of their methods.
const SERVICES: &[(&str, &str)] = &[
    ("/tessera.identity.v1.IdentityService/", "iam"),
    ("/tessera.policy.v1.PolicyService/", "iam"),
    ("/tessera.sts.v1.StsService/", "sts"),
];

/// The rule of a full method name (`/tessera.identity.v1.IdentityService/CreateUser`): an entry
/// of [`RULES`], else [`Rule::Operation`] for a method of a known service, else
/// [`Rule::RootOnly`] (and an operation that [`crate::grpc_ops`] does not know is refused).
pub fn rule(path: &str) -> Rule {
    if let Some((_, rule)) = RULES.iter().find(|(method, _)| *method == path) {
        return rule.clone();
    }
    let known = SERVICES.iter().any(|(service, _)| {
        path.strip_prefix(service).is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphanumeric()))
    });
    if known { Rule::Operation } else { Rule::RootOnly }
}

/// The AWS action a method stands for in the restrictions on temporary credentials
/// (`sts:GetCallerIdentity`, `iam:CreateUser`).
fn method_action(path: &str) -> String {
    SERVICES
        .iter()
        .find_map(|(service, prefix)| path.strip_prefix(service).map(|m| format!("{prefix}:{m}")))
        .unwrap_or_else(|| path.to_owned())
}

/// The authenticated caller, as a request extension for the services.
#[derive(Debug, Clone)]
pub struct GrpcCaller {
    pub account_id: String,
    pub arn: String,
    pub access_key_id: String,
    /// The connection's peer address.
    pub source_ip: Option<String>,
}

/// The layer: wraps the gRPC routes.
#[derive(Debug)]
pub struct GrpcAuthLayer<S> {
    auth: Arc<Authenticator<S>>,
}

impl<S> Clone for GrpcAuthLayer<S> {
    fn clone(&self) -> Self {
        Self { auth: Arc::clone(&self.auth) }
    }
}

impl<S: Store> GrpcAuthLayer<S> {
    /// Authenticates with `sts` (session tokens) and its identity store (long-term keys); `env`
    /// gives the clock for policy conditions.
    pub fn new(sts: Arc<Sts<S>>, env: Env) -> Self {
        let identity: Arc<dyn tessera_identity::IdentityApi> = Arc::new(sts.identity().clone());
        Self::with_usage(sts, env, Arc::new(UseNotes::new(identity)))
    }

    /// [`Self::new`], noting key and role use in `usage` (the HTTP gateway's of the same process,
    /// [`crate::Gateway::usage`], so that each is recorded once a minute per replica).
    pub fn with_usage(sts: Arc<Sts<S>>, env: Env, usage: Arc<UseNotes>) -> Self {
        Self { auth: Arc::new(Authenticator { sts, env, usage }) }
    }
}

impl<S, I> Layer<I> for GrpcAuthLayer<S> {
    type Service = GrpcAuth<S, I>;

    fn layer(&self, inner: I) -> Self::Service {
        GrpcAuth { auth: Arc::clone(&self.auth), inner }
    }
}

/// The service the layer makes.
#[derive(Debug)]
pub struct GrpcAuth<S, I> {
    auth: Arc<Authenticator<S>>,
    inner: I,
}

impl<S, I: Clone> Clone for GrpcAuth<S, I> {
    fn clone(&self) -> Self {
        Self { auth: Arc::clone(&self.auth), inner: self.inner.clone() }
    }
}

impl<S, I> Service<http::Request<Body>> for GrpcAuth<S, I>
where
    S: Store,
    I: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    I::Future: Send + 'static,
    I::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = I::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The clone that was polled ready is the one that serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = Arc::clone(&self.auth);
        let observed = Observed::start(&request);
        let caller_kind = Arc::clone(&observed.kind);
        let serve = async move {
            let (mut parts, body) = request.into_parts();
            let authorization = parts.headers.remove(http::header::AUTHORIZATION);
            for key in &CALLER_HEADERS {
                parts.headers.remove(key);
            }
            let peer = parts
                .extensions
                .get::<tonic::transport::server::TcpConnectInfo>()
                .and_then(tonic::transport::server::TcpConnectInfo::remote_addr)
                .map(|addr| addr.ip());
            let header = authorization.as_ref().and_then(|v| v.to_str().ok());
            let path = parts.uri.path().to_owned();
            let signed = header.filter(|h| is_sigv4(h)).map(|h| signed_headers(&parts, h));
            // Boxed: the checks of other methods (SigV4, decoding and authorizing a message) make a
            // large future, which would otherwise be copied with this one on every move.
            let checked = Box::pin(auth.check(&path, header, signed, authorization.is_some(), peer, body));
            let (caller, body) = match checked.await {
                Ok(found) => found,
                Err(error) => return Ok(tonic::Status::from(error).into_http()),
            };
            if let Some(caller) = caller {
                let headers = &mut parts.headers;
                // Account ids are digits, ARNs, key ids and addresses visible ASCII: valid values.
                let values = [
                    Some(&caller.account_id),
                    Some(&caller.arn),
                    Some(&caller.access_key_id),
                    caller.source_ip.as_ref(),
                ];
                for (key, value) in CALLER_HEADERS.iter().zip(values) {
                    if let Some(value) = value.and_then(|v| http::HeaderValue::from_str(v).ok()) {
                        headers.insert(key.clone(), value);
                    }
                }
                let _ = caller_kind.set(grpc_caller_kind(&caller));
                parts.extensions.insert(caller);
            }
            inner.call(http::Request::from_parts(parts, body)).await
        };
        Box::pin(observed.run(serve))
    }
}

/// One gRPC request as telemetry sees it: a `grpc.request` span continuing the caller's W3C trace
/// context, and its count and latency by method, code and caller kind (set by the gate once it
/// knows the caller; `anonymous` otherwise).
pub(crate) struct Observed {
    span: tracing::Span,
    method: &'static str,
    started: std::time::Instant,
    kind: Arc<std::sync::OnceLock<&'static str>>,
}

impl Observed {
    pub(crate) fn start(request: &http::Request<Body>) -> Self {
        let span = tracing::info_span!("grpc.request", method = %request.uri().path(), code = tracing::field::Empty);
        tessera_telemetry::set_parent_from(&span, request.headers());
        Self {
            span,
            method: grpc_method_label(request.uri().path()),
            started: std::time::Instant::now(),
            kind: Arc::new(std::sync::OnceLock::new()),
        }
    }

    /// Serves the request inside the span, then records its code and counts it.
    pub(crate) async fn run<E>(
        self,
        serve: impl Future<Output = Result<http::Response<Body>, E>>,
    ) -> Result<http::Response<Body>, E> {
        let response = serve.instrument(self.span.clone()).await;
        let code = response.as_ref().map_or("Internal", |r| grpc_code_label(r.headers()));
        self.span.record("code", code);
        let labels = tessera_telemetry::RequestLabels {
            transport: tessera_telemetry::Transport::Grpc,
            action: self.method,
            code,
            caller_kind: self.kind.get().copied().unwrap_or("anonymous"),
        };
        tessera_telemetry::metrics().request(labels, self.started.elapsed());
        response
    }
}

/// Telemetry for a gRPC port served without the gate (`--grpc-auth` off): the same span and counts
/// as [`GrpcAuthLayer`] gives every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcTelemetryLayer;

impl<I> Layer<I> for GrpcTelemetryLayer {
    type Service = GrpcTelemetry<I>;

    fn layer(&self, inner: I) -> Self::Service {
        GrpcTelemetry { inner }
    }
}

/// The service [`GrpcTelemetryLayer`] makes.
#[derive(Debug, Clone)]
pub struct GrpcTelemetry<I> {
    inner: I,
}

impl<I> Service<http::Request<Body>> for GrpcTelemetry<I>
where
    I: Service<http::Request<Body>, Response = http::Response<Body>>,
    I::Future: Send + 'static,
    I::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = I::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let observed = Observed::start(&request);
        let serve = self.inner.call(request);
        Box::pin(observed.run(serve))
    }
}

/// The services' protos, by method path prefix.
const PROTOS: &[(&str, &str)] = &[
    ("/tessera.identity.v1.IdentityService/", include_str!("../../../proto/tessera/identity/v1/identity.proto")),
    ("/tessera.policy.v1.PolicyService/", include_str!("../../../proto/tessera/policy/v1/policy.proto")),
    ("/tessera.sts.v1.StsService/", include_str!("../../../proto/tessera/sts/v1/sts.proto")),
    (
        "/tessera.authorizer.v1.AuthorizerService/",
        include_str!("../../../proto/tessera/authorizer/v1/authorizer.proto"),
    ),
];

/// A gRPC method as a metric label: one of the protos' methods, else `unknown` (a label never
/// takes a value the client chose).
fn grpc_method_label(path: &str) -> &'static str {
    static METHODS: std::sync::OnceLock<std::collections::HashSet<String>> = std::sync::OnceLock::new();
    let methods = METHODS.get_or_init(|| {
        let mut all = std::collections::HashSet::new();
        for (service, proto) in PROTOS {
            for line in proto.lines() {
                if let Some(rest) = line.trim().strip_prefix("rpc ") {
                    let name = rest.split('(').next().unwrap_or_default().trim();
                    all.insert(format!("{service}{name}"));
                }
            }
        }
        all
    });
    methods.get(path).map_or("unknown", String::as_str)
}

/// The AWS code (or gRPC status) a response answers with: `OK` for a success so far (a streamed
/// answer's trailers come later).
fn grpc_code_label(headers: &http::HeaderMap) -> &'static str {
    if let Some(code) = headers.get(tessera_proto::error::ERROR_CODE_METADATA_KEY).and_then(|v| v.to_str().ok()) {
        return ErrorCode::ALL.iter().find(|c| c.as_str() == code).map_or("Unknown", |c| c.as_str());
    }
    match headers.get("grpc-status").and_then(|v| v.to_str().ok()) {
        None | Some("0") => "OK",
        Some(_) => "GrpcError",
    }
}

/// A gRPC caller's kind, as metrics label it.
fn grpc_caller_kind(caller: &GrpcCaller) -> &'static str {
    if caller.access_key_id.starts_with("ASIA") {
        "session"
    } else if caller.arn.ends_with(":root") {
        "root"
    } else {
        "user"
    }
}

/// Who a bearer credential `<access key id>:<session token or secret access key>` stands for: a
/// temporary key with its session token (unexpired, unrevoked, made for that key), or an active
/// long-term key with its secret (compared in constant time). Shared with the authorizer API.
pub(crate) async fn bearer_caller<S: Store>(sts: &Sts<S>, credentials: &str) -> Result<CallerPrincipal, ServiceError> {
    // Access key ids never contain `:`; secrets and tokens may not be split further.
    let Some((key_id, secret)) = credentials.split_once(':') else { return Err(invalid()) };
    if key_id.is_empty() || secret.is_empty() {
        return Err(invalid());
    }
    if key_id.starts_with("ASIA") {
        let credentials = CallerCredentials {
            access_key_id: key_id.to_owned(),
            session_token: Some(secret.to_owned()),
            source_ip: None,
        };
        return Box::pin(sts.resolve_caller(&credentials)).await.map_err(|e| e.into_service_error());
    }
    let found = sts.access_key(key_id).await.map_err(|e| e.into_service_error())?;
    let Some(found) = found.filter(|k| k.status == KeyStatus::Active) else { return Err(invalid()) };
    if !constant_time_eq(found.secret.expose().as_bytes(), secret.as_bytes()) {
        return Err(invalid());
    }
    Ok(CallerPrincipal::of_key(&found, key_id, None))
}

/// The credential checks, shared by every connection.
#[derive(Debug)]
struct Authenticator<S> {
    sts: Arc<Sts<S>>,
    env: Env,
    /// Where authenticated calls note their key's or role's use, as the HTTP gateway's requests do.
    usage: Arc<UseNotes>,
}

fn missing() -> ServiceError {
    ServiceError::new(
        ErrorCode::MissingAuthenticationToken,
        "Request is missing an authorization header of the form `Bearer <access-key-id>:<secret-or-session-token>`.",
    )
}

fn invalid() -> ServiceError {
    ServiceError::new(ErrorCode::InvalidClientTokenId, "The security token included in the request is invalid.")
}

impl<S: Store> Authenticator<S> {
    /// Authenticates (unless the method is public) and authorizes one call; returns the caller
    /// and the request body (read and put back when the message had to be decoded).
    async fn check(
        &self,
        path: &str,
        authorization: Option<&str>,
        signed: Option<Vec<(String, String)>>,
        present: bool,
        peer: Option<std::net::IpAddr>,
        body: Body,
    ) -> Result<(Option<GrpcCaller>, Body), ServiceError> {
        let rule = rule(path);
        if matches!(rule, Rule::Public) {
            return Ok((None, body));
        }
        // Written out only for a caller it is recorded on (not for every public call).
        let peer = peer.map(|ip| ip.to_string());
        let (mut caller, body, scope) = match (authorization, signed) {
            (Some(_), Some(headers)) => {
                let (caller, body, verified) = self.sigv4_caller(path, &headers, peer.clone(), body).await?;
                (caller, body, Some((verified.service, verified.region)))
            }
            (Some(value), None) => (self.authenticate(value).await?, body, None),
            // A header that is not visible ASCII cannot hold a key.
            (None, _) if present => return Err(invalid()),
            (None, _) => return Err(missing()),
        };
        caller.source_ip = peer;
        // A bearer credential names no scope: the method's AWS service, in IAM's region.
        let (service, region) = scope.unwrap_or_else(|| (method_service(path).to_owned(), BEARER_REGION.to_owned()));
        self.usage.note(&caller, &service, &region);
        let body = self.authorize(&rule, path, &caller, body).await?;
        let found = GrpcCaller {
            account_id: caller.account.id().to_owned(),
            arn: caller.arn.clone(),
            access_key_id: caller.access_key_id.clone(),
            source_ip: caller.source_ip.clone(),
        };
        Ok((Some(found), body))
    }

    /// A SigV4-signed call: `POST <path>` with the call's metadata as headers (the `:authority`
    /// as `host`) and the request body (the length-prefixed message) as the payload, verified as
    /// the HTTP endpoint verifies a request; the body is read to hash it and handed back.
    async fn sigv4_caller(
        &self,
        path: &str,
        headers: &[(String, String)],
        peer: Option<String>,
        body: Body,
    ) -> Result<(CallerPrincipal, Body, tessera_sigv4::Verified), ServiceError> {
        let bytes = http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_MESSAGE_BYTES + 5))
            .await
            .map_err(|_| ServiceError::new(ErrorCode::InvalidInput, "The request message is too large or incomplete."))?
            .to_bytes();
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let request = tessera_sigv4::Request {
            method: "POST",
            path,
            query: "",
            headers: &pairs,
            body_sha256: tessera_sigv4::PayloadHash::of(&bytes),
        };
        let now = self.env.now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let (caller, _, verified) =
            crate::auth::verify_with_sts(&self.sts, now, &request, None, peer).await.map_err(|error| match error {
                crate::GatewayError::Service(error) => error,
                crate::GatewayError::Signature(error) => ServiceError::new(
                    ErrorCode::parse(error.aws_code()).unwrap_or(ErrorCode::InvalidClientTokenId),
                    error.aws_message(),
                ),
                crate::GatewayError::Query(error) => ServiceError::new(ErrorCode::InvalidInput, error.to_string()),
                crate::GatewayError::Mfa(rejection) => rejection.error,
            })?;
        Ok((caller, Body::new(http_body_util::Full::new(bytes)), verified))
    }

    async fn authenticate(&self, value: &str) -> Result<CallerPrincipal, ServiceError> {
        let value = value.trim();
        let Some(credentials) = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")) else {
            return Err(missing());
        };
        bearer_caller(&self.sts, credentials.trim()).await
    }

    async fn authorize(
        &self,
        rule: &Rule,
        path: &str,
        caller: &CallerPrincipal,
        body: Body,
    ) -> Result<Body, ServiceError> {
        let service_error = tessera_identity::Error::into_service_error;
        match rule {
            Rule::Public => return Ok(body),
            Rule::RootOnly if caller.is_root() => return Ok(body),
            Rule::RootOnly => {
                return Err(ServiceError::new(
                    ErrorCode::AccessDenied,
                    format!(
                        "User: {} is not authorized to call this method: it is reserved to the account root",
                        caller.arn
                    ),
                ));
            }
            Rule::Authenticated => {
                crate::authz::session_may_call(caller, &method_action(path)).map_err(service_error)?;
                return Ok(body);
            }
            Rule::Operation => {}
        }
        // The restrictions on temporary credentials come before the message is looked at, as
        // over HTTP.
        crate::authz::session_may_call(caller, &method_action(path)).map_err(service_error)?;
        let bytes = http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_MESSAGE_BYTES + 5))
            .await
            .map_err(|_| ServiceError::new(ErrorCode::InvalidInput, "The request message is too large or incomplete."))?
            .to_bytes();
        let message = unary_message(&bytes)?;
        let user = match &caller.kind {
            tessera_sts::CallerKind::User(user) => Some(user.principal.name.as_str()),
            _ => None,
        };
        let asker = crate::grpc_ops::Asker { identity: self.sts.identity(), account: &caller.account, user };
        let ask = match asker.ask(path, message).await? {
            Some(ask) => ask,
            // A method of a known service that the table lacks: fail closed, to the root only.
            None if caller.is_root() => return Ok(Body::new(http_body_util::Full::new(bytes))),
            None => {
                return Err(ServiceError::new(
                    ErrorCode::AccessDenied,
                    format!("User: {} is not authorized to call this method", caller.arn),
                ));
            }
        };
        let now = self.env.now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        crate::authz::authorize(&self.sts, caller, &ask, now).await.map_err(service_error)?;
        Ok(Body::new(http_body_util::Full::new(bytes)))
    }
}

/// The region a bearer-authenticated call's use is recorded in: IAM's (a global service, whose
/// requests AWS reports in `us-east-1`); a SigV4-signed call's is its scope's.
const BEARER_REGION: &str = "us-east-1";

/// The AWS service a gRPC method's use counts for: the token service's methods are `sts`, the
/// rest (identity, policy) `iam`.
fn method_service(path: &str) -> &'static str {
    if path.starts_with("/tessera.sts.") { "sts" } else { "iam" }
}

/// Whether an `authorization` value is a SigV4 signature rather than a bearer credential.
fn is_sigv4(value: &str) -> bool {
    value.trim_start().starts_with("AWS4-HMAC-SHA256 ")
}

/// The headers a SigV4-signed call was signed over: its metadata, its `authorization` (taken off
/// the request before), and the `:authority` as `host` when no `host` was sent.
fn signed_headers(parts: &http::request::Parts, authorization: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    headers.push(("authorization".to_owned(), authorization.to_owned()));
    if !parts.headers.contains_key(http::header::HOST)
        && let Some(authority) = parts.uri.authority()
    {
        headers.push(("host".to_owned(), authority.to_string()));
    }
    headers
}

/// The message of a unary gRPC request body: one uncompressed length-prefixed frame.
fn unary_message(bytes: &[u8]) -> Result<&[u8], ServiceError> {
    let malformed = || ServiceError::new(ErrorCode::InvalidInput, "The request is not one uncompressed gRPC message.");
    let (&[compressed, a, b, c, d], message) = bytes.split_first_chunk::<5>().ok_or_else(malformed)?;
    let length = u32::from_be_bytes([a, b, c, d]) as usize;
    if compressed != 0 || message.len() != length {
        return Err(malformed());
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn methods() -> Vec<String> {
        let mut all = Vec::new();
        for (service, proto) in PROTOS {
            for line in proto.lines() {
                if let Some(rest) = line.trim().strip_prefix("rpc ") {
                    let name = rest.split('(').next().unwrap().trim();
                    all.push(format!("{service}{name}"));
                }
            }
        }
        all
    }

    #[test]
    fn every_exception_names_a_real_method() {
        let methods = methods();
        assert!(methods.len() > 80, "{}", methods.len());
        for (method, _) in RULES {
            assert!(methods.iter().any(|m| m == method), "`{method}` is not an rpc of the protos");
        }
    }

    #[test]
    fn methods_map_to_their_rules() {
        assert_eq!(rule("/tessera.identity.v1.IdentityService/CreateUser"), Rule::Operation);
        assert_eq!(rule("/tessera.policy.v1.PolicyService/AttachPolicy"), Rule::Operation);
        assert_eq!(rule("/tessera.sts.v1.StsService/GetAccessKeyInfo"), Rule::Operation);
        assert_eq!(rule("/tessera.sts.v1.StsService/VerifySession"), Rule::RootOnly);
        assert_eq!(rule("/tessera.identity.v1.IdentityService/CreateAccount"), Rule::RootOnly);
        assert_eq!(rule("/tessera.sts.v1.StsService/AssumeRoleWithWebIdentity"), Rule::Public);
        // Unknown services and malformed paths fail closed.
        assert_eq!(rule("/grpc.health.v1.Health/Check"), Rule::RootOnly);
        assert_eq!(rule("/tessera.identity.v1.IdentityService/"), Rule::RootOnly);
        assert_eq!(rule("/tessera.identity.v1.IdentityService/A/B"), Rule::RootOnly);
        // Root-only methods are listed explicitly: the fallback is only for unknown paths.
        for method in methods() {
            let listed = RULES.iter().any(|(m, r)| *m == method && *r == Rule::RootOnly);
            assert_eq!(rule(&method) == Rule::RootOnly, listed, "{method}");
        }
    }

    /// Every operation method says which AWS action of the table it is, on an ARN of the
    /// resource type the table names: one authorization path for both transports.
    #[tokio::test]
    async fn every_operation_is_an_action_of_the_table() {
        use crate::authz::{ResourceType, operation};
        use tessera_credentials::{Argon2Params, MasterKey, SeededRandom};
        let mut rng = SeededRandom::new(7);
        let env = Env {
            clock: Arc::new(tessera_identity::SystemClock),
            random: Arc::new(tessera_identity::Random::new(SeededRandom::new(8))),
            master_key: Arc::new(MasterKey::generate(&mut rng)),
            password_params: Argon2Params::FAST_FOR_TESTS,
        };
        let identity = tessera_identity::Identity::new(Arc::new(tessera_store::MemoryStore::new()), env);
        let account = tessera_identity::Account::new("111111111111").unwrap();
        let asker = crate::grpc_ops::Asker { identity: &identity, account: &account, user: Some("alice") };
        // Field 2 is the `entity` (or the same-shaped tag `resource`) of the methods that need one.
        let probe = prost::Message::encode_to_vec(&tessera_proto::identity::v1::DeletePermissionsBoundaryRequest {
            account_id: "111111111111".into(),
            entity: Some(tessera_proto::common::v1::EntityRef { kind: 1, name: "bob".into() }),
        });
        let mut covered = 0;
        for method in methods() {
            if rule(&method) != Rule::Operation || method.ends_with("/GetAccessKeyLastUsed") {
                continue;
            }
            let ask = match asker.ask(&method, &[]).await {
                Ok(Some(ask)) => ask,
                Ok(None) => panic!("{method} has no mapping"),
                Err(_) => asker.ask(&method, &probe).await.unwrap().unwrap(),
            };
            let op = operation(&ask.action).unwrap_or_else(|| panic!("{method} asks {}", ask.action));
            let noun = match op.resource {
                ResourceType::User => Some(":user/"),
                ResourceType::Group => Some(":group/"),
                ResourceType::Role => Some(":role/"),
                ResourceType::FederatedUser => Some(":federated-user/"),
                _ => None,
            };
            if let Some(noun) = noun {
                assert!(ask.resource.contains(noun), "{method}: {} is not a {noun} ARN", ask.resource);
            }
            covered += 1;
        }
        assert!(covered > 70, "{covered}");
    }
}
