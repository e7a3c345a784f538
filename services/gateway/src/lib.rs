//! The gateway: the AWS-compatible IAM and STS endpoint (reference §5–§7). One URL serves every
//! action, dispatched by `Action`: the Query form is decoded (`tessera-awsapi`), the SigV4
//! signature verified (`tessera-sigv4`) against the key's secret (long-term keys through the
//! identity store, temporary ones by opening their session token), the action authorized by the
//! same policy engine as everything else, and the domain called in-process.
//!
//! ```text
//! POST / --form--> Params --SigV4--> Caller --authorize(iam:Action, resource)--> domain --XML--> 200
//!                      \______________ any failure: <ErrorResponse> with AWS's code and status
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::routing::any;
use tessera_identity::{Env, Identity, IdentityApi};
use tessera_policy_service::{Policies, PolicyApi};
use tessera_store::Store;
use tessera_sts::{Sts, StsApi};
use tracing::Instrument as _;

mod access_analyzer;
pub mod actions;
pub mod audit;
mod auth;
pub mod authorizer_api;
mod authz;
mod context;
pub mod grpc_auth;
mod grpc_ops;
mod iam;
pub mod least_privilege;
mod limit;
mod lists;
mod respond;
mod sts;
pub mod usage;

pub use limit::{RateLimit, RateLimits};
pub use respond::GatewayError;

/// The largest request body accepted: a 131,072-character policy document, URL-encoded, fits.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The gateway's view of the services: the domains behind their traits (in-process over the
/// store in the all-in-one server, remote replicas over gRPC in split mode), and the local token
/// service on the shared store for what stays in this process: authenticating callers (session
/// tokens, key lookups) and the authorizer's caches.
pub struct Gateway<S> {
    pub(crate) identity: Arc<dyn IdentityApi>,
    pub(crate) policies: Arc<dyn PolicyApi>,
    /// The token service's operations (issuing, revoking, ...).
    pub(crate) tokens: Arc<dyn StsApi>,
    /// Verification and authorization, always in this process.
    pub(crate) sts: Arc<Sts<S>>,
    pub(crate) env: Env,
    pub(crate) audit: Option<audit::AuditLog>,
    pub(crate) limiter: limit::Limiters,
    /// When keys and roles were last used (recorded at most once a minute each on this replica).
    pub(crate) usage: Arc<usage::UseNotes>,
    /// The service last accessed reports generated on this replica (`iam/access.rs`).
    pub(crate) jobs: std::sync::Mutex<iam::access::Jobs>,
    /// The requests' IDs, seeded once from the environment's randomness.
    pub(crate) request_ids: tessera_awsapi::RequestIds,
}

impl<S> std::fmt::Debug for Gateway<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").finish_non_exhaustive()
    }
}

impl<S: Store> Gateway<S> {
    /// The all-in-one gateway: every domain in this process, over `store`.
    pub fn new(store: Arc<S>, env: Env, sts: Arc<Sts<S>>) -> Self {
        let identity: Arc<dyn IdentityApi> = Arc::new(Identity::new(Arc::clone(&store), env.clone()));
        let policies: Arc<dyn PolicyApi> = Arc::new(Policies::new(store, env.clone()));
        let tokens: Arc<dyn StsApi> = Arc::clone(&sts) as Arc<dyn StsApi>;
        Self::with_domains(env, sts, identity, policies, tokens)
    }

    /// A gateway over the given domains (split mode: their remote implementations), keeping `sts`
    /// on the shared store for authentication and authorization.
    pub fn with_domains(
        env: Env,
        sts: Arc<Sts<S>>,
        identity: Arc<dyn IdentityApi>,
        policies: Arc<dyn PolicyApi>,
        tokens: Arc<dyn StsApi>,
    ) -> Self {
        let usage = Arc::new(usage::UseNotes::new(Arc::clone(&identity)));
        let request_ids = tessera_awsapi::RequestIds::new(env.random.u128());
        Self {
            identity,
            policies,
            tokens,
            sts,
            env,
            audit: None,
            limiter: limit::Limiters::new(RateLimits::default()),
            usage,
            jobs: std::sync::Mutex::default(),
            request_ids,
        }
    }

    /// Limits the request rate per access key (default: 2,000/s, bursts of 4,000).
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.limiter = limit::Limiters::new(RateLimits { per_key: limit, ..RateLimits::default() });
        self
    }

    /// Limits request rates per key, principal and account, and token issuance per principal.
    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.limiter = limit::Limiters::new(limits);
        self
    }

    /// Records one audit event per request in `log`.
    pub fn with_audit(mut self, log: audit::AuditLog) -> Self {
        self.audit = Some(log);
        self
    }

    /// The replica's notes of key and role use, for the entries that authenticate callers
    /// elsewhere (the gRPC gate, the console), so that each is recorded once a minute per replica.
    pub fn usage(&self) -> Arc<usage::UseNotes> {
        Arc::clone(&self.usage)
    }

    /// Now, unix seconds, from the injected clock.
    pub(crate) fn sts_now(&self) -> u64 {
        self.env.now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }
}

/// The HTTP routes: every method and path reaches the one handler, as on AWS (the path takes
/// part in the signature, not in dispatch). Serve with `into_make_service_with_connect_info`.
pub fn router<S: Store>(gateway: Arc<Gateway<S>>) -> Router {
    Router::new()
        .route("/", any(handle::<S>))
        .route("/{*path}", any(handle::<S>))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(gateway)
}

async fn handle<S: Store>(
    State(gateway): State<Arc<Gateway<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let request_id = gateway.request_ids.next_id();
    let started = std::time::Instant::now();
    let time = tessera_identity::millis(gateway.env.now());
    let trail = respond::Trail::default();
    let span = tracing::info_span!(
        "gateway.request",
        request_id = %request_id,
        action = tracing::field::Empty,
        code = tracing::field::Empty,
    );
    tessera_telemetry::set_parent_from(&span, &headers);
    // IAM Access Analyzer (restJson1): answered in JSON, audited by its own module.
    if let (Ok(body), Some(route)) = (&body, access_analyzer::Route::from_request(method.as_str(), uri.path())) {
        let incoming = respond::Incoming { method: &method, uri: &uri, headers: &headers, body, peer };
        return access_analyzer::serve(&gateway, &incoming, route, &request_id, time).instrument(span).await;
    }
    let mut outcome = match &body {
        Ok(body) => {
            let incoming = respond::Incoming { method: &method, uri: &uri, headers: &headers, body, peer };
            respond::serve(&gateway, &incoming, &request_id, &trail).instrument(span.clone()).await
        }
        // Too large, or the connection broke mid-body.
        Err(_) => Err((None, tessera_awsapi::QueryError::RequestTooLarge { limit: MAX_BODY_BYTES }.into())),
    };
    span.record("code", respond::code(&outcome));
    tessera_telemetry::metrics().request(trail.labels(&outcome), started.elapsed());
    let response = respond::to_http(&mut outcome, &request_id);
    if let Some(log) = &gateway.audit {
        let user_agent = headers.get("user-agent").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let latency_micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        log.record(trail.into_event(
            time,
            &request_id,
            peer,
            user_agent,
            &outcome,
            response.status().as_u16(),
            latency_micros,
        ));
    }
    response
}
