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
//! `InvalidClientTokenId`, an expired token `ExpiredToken`, all as gRPC `Unauthenticated`. SigV4
//! signatures over gRPC metadata are not supported: the bearer form sends the secret itself, so
//! the gRPC port must be served over TLS (or a trusted network) when this layer is on.
//!
//! **Authorization.** [`rule`] maps the full method name to what the caller must be allowed:
//! - identity and policy methods: `iam:<MethodName>`, sts methods: `sts:<MethodName>`, on resource
//!   `*` (the layer does not decode bodies, so it cannot name the user, role or policy). Where the
//!   gRPC method differs from AWS's action the *method* name is the action: a policy granting gRPC
//!   callers must name `iam:AttachPolicy`, `iam:DetachPolicy`, `iam:PutInlinePolicy`,
//!   `iam:GetInlinePolicy`, `iam:DeleteInlinePolicy`, `iam:ListInlinePolicies`,
//!   `iam:ListAttachedPolicies`, `iam:PutPermissionsBoundary`, `iam:TagResource`, … (a wildcard
//!   such as `iam:*Policy` covers both spellings);
//! - `AssumeRole`, `GetSessionToken` and `GetCallerIdentity` only need an authenticated caller: the
//!   token service authorizes them itself (trust policies), as on AWS;
//! - `AssumeRoleWithWebIdentity` is public: the web identity token in the request is the
//!   credential;
//! - internal methods (`CreateAccount`, `VerifySession`, `RevokeSession`, `RevokeRoleSessions`,
//!   `RevokePrincipalSessions`, `WatchPolicyEpochs`) and any method the table does not know are for
//!   an account root only.
//!
//! The account root may call everything else; anyone else is evaluated with their identity
//! policies, permissions boundary and session policies ([`Sts::caller_layers`],
//! [`Sts::base_context`], [`tessera_policy::authorize`]). A refusal is `AccessDenied`
//! (`PermissionDenied`).
//!
//! **Account scoping.** Requests name their account in the protobuf body (`account_id`, or
//! `caller` for sts), which this layer does not decode. It passes the authenticated caller on
//! instead, as the [`GrpcCaller`] request extension and as the [`CALLER_ACCOUNT_METADATA`],
//! [`CALLER_ARN_METADATA`] and [`CALLER_KEY_METADATA`] metadata (any such metadata sent by the
//! client is removed first, and so is `authorization`). The services' gRPC adapters refuse a
//! request whose `account_id` is not the caller's account (`tessera_proto::scope::account`), and
//! the sts adapter one whose `Caller` is not the key that authenticated.
//!
//! Also not done: the session restrictions the HTTP gateway applies (a federated user may only call
//! GetCallerIdentity; a GetSessionToken session needs MFA for IAM) and audit events for gRPC calls.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tessera_credentials::constant_time_eq;
use tessera_identity::Env;
use tessera_policy::{Outcome, Policies as Layers, Request, Trace, authorize};
use tessera_proto::{ErrorCode, ServiceError};
use tessera_store::Store;
use tessera_store::iam::KeyStatus;
use tessera_sts::{CallerCredentials, CallerPrincipal, Sts};
use tonic::body::Body;
use tonic::codegen::http;
use tower::{Layer, Service};

/// The metadata key carrying the authenticated caller's account id to the services.
pub const CALLER_ACCOUNT_METADATA: &str = "tessera-caller-account";
/// The metadata key carrying the authenticated caller's ARN to the services.
pub const CALLER_ARN_METADATA: &str = "tessera-caller-arn";
/// The metadata key carrying the access key id the caller authenticated with.
pub const CALLER_KEY_METADATA: &str = tessera_proto::CALLER_KEY_METADATA;

/// What a method requires of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// No credentials: the request carries its own (AssumeRoleWithWebIdentity).
    Public,
    /// Any authenticated caller; the service authorizes the call itself.
    Authenticated,
    /// The account root, or a principal whose policies allow this action on `*`.
    Action(String),
    /// The account root only: internal or operator methods.
    RootOnly,
}

/// The methods whose rule is not the default of their service (`iam:<Method>` or
/// `sts:<Method>`), by full method name.
pub const RULES: &[(&str, Rule)] = &[
    ("/tessera.identity.v1.IdentityService/CreateAccount", Rule::RootOnly),
    ("/tessera.policy.v1.PolicyService/WatchPolicyEpochs", Rule::RootOnly),
    ("/tessera.sts.v1.StsService/AssumeRoleWithWebIdentity", Rule::Public),
    ("/tessera.sts.v1.StsService/AssumeRole", Rule::Authenticated),
    ("/tessera.sts.v1.StsService/GetSessionToken", Rule::Authenticated),
    ("/tessera.sts.v1.StsService/GetCallerIdentity", Rule::Authenticated),
    ("/tessera.sts.v1.StsService/VerifySession", Rule::RootOnly),
    ("/tessera.sts.v1.StsService/RevokeSession", Rule::RootOnly),
    ("/tessera.sts.v1.StsService/RevokeRoleSessions", Rule::RootOnly),
    ("/tessera.sts.v1.StsService/RevokePrincipalSessions", Rule::RootOnly),
];

/// The services and the action prefix of their methods.
const SERVICES: &[(&str, &str)] = &[
    ("/tessera.identity.v1.IdentityService/", "iam"),
    ("/tessera.policy.v1.PolicyService/", "iam"),
    ("/tessera.sts.v1.StsService/", "sts"),
];

/// The rule of a full method name (`/tessera.identity.v1.IdentityService/CreateUser`): an entry
/// of [`RULES`], else `<prefix>:<Method>` for a known service, else [`Rule::RootOnly`].
pub fn rule(path: &str) -> Rule {
    if let Some((_, rule)) = RULES.iter().find(|(method, _)| *method == path) {
        return rule.clone();
    }
    SERVICES
        .iter()
        .find_map(|(service, prefix)| {
            let method = path.strip_prefix(service)?;
            let valid = !method.is_empty() && method.bytes().all(|b| b.is_ascii_alphanumeric());
            valid.then(|| format!("{prefix}:{method}"))
        })
        .map_or(Rule::RootOnly, Rule::Action)
}

/// The authenticated caller, as a request extension for the services.
#[derive(Debug, Clone)]
pub struct GrpcCaller {
    pub account_id: String,
    pub arn: String,
    pub access_key_id: String,
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
        Self { auth: Arc::new(Authenticator { sts, env }) }
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

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The clone that was polled ready is the one that serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = Arc::clone(&self.auth);
        Box::pin(async move {
            let headers = request.headers_mut();
            let authorization = headers.remove(http::header::AUTHORIZATION);
            headers.remove(CALLER_ACCOUNT_METADATA);
            headers.remove(CALLER_ARN_METADATA);
            headers.remove(CALLER_KEY_METADATA);
            let rule = rule(request.uri().path());
            match auth.check(rule, authorization.as_ref().and_then(|v| v.to_str().ok()), authorization.is_some()).await
            {
                Ok(Some(caller)) => {
                    let headers = request.headers_mut();
                    // Account ids are digits and ARNs visible ASCII, so both are valid values.
                    if let Ok(value) = http::HeaderValue::from_str(&caller.account_id) {
                        headers.insert(CALLER_ACCOUNT_METADATA, value);
                    }
                    if let Ok(value) = http::HeaderValue::from_str(&caller.arn) {
                        headers.insert(CALLER_ARN_METADATA, value);
                    }
                    if let Ok(value) = http::HeaderValue::from_str(&caller.access_key_id) {
                        headers.insert(CALLER_KEY_METADATA, value);
                    }
                    request.extensions_mut().insert(caller);
                }
                Ok(None) => {}
                Err(error) => return Ok(tonic::Status::from(error).into_http()),
            }
            inner.call(request).await
        })
    }
}

/// The credential checks, shared by every connection.
#[derive(Debug)]
struct Authenticator<S> {
    sts: Arc<Sts<S>>,
    env: Env,
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
    /// Authenticates (unless the method is public) and authorizes one call; returns the caller.
    async fn check(
        &self,
        rule: Rule,
        authorization: Option<&str>,
        present: bool,
    ) -> Result<Option<GrpcCaller>, ServiceError> {
        if matches!(rule, Rule::Public) {
            return Ok(None);
        }
        let caller = match authorization {
            Some(value) => self.authenticate(value).await?,
            // A header that is not visible ASCII cannot hold a key.
            None if present => return Err(invalid()),
            None => return Err(missing()),
        };
        self.authorize(&rule, &caller).await?;
        Ok(Some(GrpcCaller {
            account_id: caller.account.id().to_owned(),
            arn: caller.arn.clone(),
            access_key_id: caller.access_key_id.clone(),
        }))
    }

    async fn authenticate(&self, value: &str) -> Result<CallerPrincipal, ServiceError> {
        let value = value.trim();
        let Some(credentials) = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")) else {
            return Err(missing());
        };
        // Access key ids never contain `:`; secrets and tokens may not be split further.
        let Some((key_id, secret)) = credentials.trim().split_once(':') else { return Err(invalid()) };
        if key_id.is_empty() || secret.is_empty() {
            return Err(invalid());
        }
        if key_id.starts_with("ASIA") {
            let credentials = CallerCredentials {
                access_key_id: key_id.to_owned(),
                session_token: Some(secret.to_owned()),
                source_ip: None,
            };
            return self.sts.resolve_caller(&credentials).await.map_err(|e| e.into_service_error());
        }
        let found = self.sts.identity().authenticate_access_key(key_id).await.map_err(|e| e.into_service_error())?;
        let Some(found) = found.filter(|k| k.status == KeyStatus::Active) else { return Err(invalid()) };
        if !constant_time_eq(found.secret.expose().as_bytes(), secret.as_bytes()) {
            return Err(invalid());
        }
        Ok(CallerPrincipal::of_key(found, key_id, None))
    }

    async fn authorize(&self, rule: &Rule, caller: &CallerPrincipal) -> Result<(), ServiceError> {
        let is_root = matches!(caller.principal().kind, tessera_policy::PrincipalKind::Root);
        let action = match rule {
            Rule::Public | Rule::Authenticated => return Ok(()),
            Rule::RootOnly if is_root => return Ok(()),
            Rule::RootOnly => {
                return Err(ServiceError::new(
                    ErrorCode::AccessDenied,
                    format!(
                        "User: {} is not authorized to call this method: it is reserved to the account root",
                        caller.arn
                    ),
                ));
            }
            Rule::Action(_) if is_root => return Ok(()),
            Rule::Action(action) => action,
        };
        let action = action.as_str();
        let layers = self.sts.caller_layers(caller).await.map_err(|e| e.into_service_error())?;
        let now = self.env.now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let principal = caller.principal();
        let context = self.sts.base_context(caller, now);
        let policies = Layers {
            identity: layers.0.as_ref(),
            boundary: layers.1.as_ref(),
            session: layers.2.as_ref(),
            ..Layers::default()
        };
        let request = Request::new(&principal, action, "*", &context);
        let why = match authorize(&request, &policies, Trace::Off).outcome {
            Outcome::Allowed => return Ok(()),
            Outcome::ExplicitDeny => "with an explicit deny in an identity-based policy".to_owned(),
            Outcome::ImplicitDeny => format!("because no identity-based policy allows the {action} action"),
        };
        Err(ServiceError::new(
            ErrorCode::AccessDenied,
            format!("User: {} is not authorized to perform: {action} on resource: * {why}", caller.arn),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTOS: &[(&str, &str)] = &[
        ("/tessera.identity.v1.IdentityService/", include_str!("../../../proto/tessera/identity/v1/identity.proto")),
        ("/tessera.policy.v1.PolicyService/", include_str!("../../../proto/tessera/policy/v1/policy.proto")),
        ("/tessera.sts.v1.StsService/", include_str!("../../../proto/tessera/sts/v1/sts.proto")),
    ];

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
    fn methods_map_to_their_actions() {
        let action = |a: &str| Rule::Action(a.to_owned());
        assert_eq!(rule("/tessera.identity.v1.IdentityService/CreateUser"), action("iam:CreateUser"));
        assert_eq!(rule("/tessera.policy.v1.PolicyService/AttachPolicy"), action("iam:AttachPolicy"));
        assert_eq!(rule("/tessera.sts.v1.StsService/GetAccessKeyInfo"), action("sts:GetAccessKeyInfo"));
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
}
