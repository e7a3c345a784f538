//! IAM Access Analyzer on the HTTP endpoint (restJson1, signed for service `access-analyzer`),
//! so `aws accessanalyzer ... --endpoint-url` and boto3's `accessanalyzer` client work: the
//! policy operations (`POST /policy/validation`, `/policy/check-no-new-access`,
//! `/policy/check-access-not-granted`, `/policy/check-no-public-access`; pure, in
//! `tessera_policy::analysis::api`) and the unused-access analyzers and policy generation
//! ([`crate::least_privilege`]). This module authenticates the caller with the endpoint's SigV4
//! verification, authorizes `access-analyzer:<Operation>` on the one decision path (on the
//! analyzer's ARN for the operations that name one, `*` otherwise), answers in JSON with AWS's
//! `x-amzn-ErrorType` on failure, and audits every request like an IAM one.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tessera_policy::analysis::api::{self, ApiError, Operation};
use tessera_store::Store;

use crate::Gateway;
use crate::audit::AuditEvent;
use crate::authz::{Ask, Inputs};
use crate::least_privilege::{self, Input, Op, Scope};
use crate::respond::{GatewayError, Incoming};

/// An Access Analyzer operation: a stateless policy check, or one of the analyzer and policy
/// generation operations of [`least_privilege`] with its path parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Policy(Operation),
    State(Op, Option<String>),
}

impl Route {
    /// The operation a request names, by method and path.
    pub(crate) fn from_request(method: &str, path: &str) -> Option<Route> {
        Operation::from_request(method, path)
            .map(Route::Policy)
            .or_else(|| Op::from_request(method, path).map(|(op, param)| Route::State(op, param)))
    }

    fn name(&self) -> &'static str {
        match self {
            Route::Policy(operation) => operation.name(),
            Route::State(op, _) => op.name(),
        }
    }
}

/// Why a request failed: in the shared layers' terms, or Access Analyzer's.
enum Failure {
    Gateway(GatewayError),
    Api(ApiError),
}

/// Serves one Access Analyzer request and audits it like an IAM one: who, which
/// `access-analyzer:<Operation>` on which resource, the decision and the error code.
pub(crate) async fn serve<S: Store>(
    gateway: &Gateway<S>,
    incoming: &Incoming<'_>,
    route: Route,
    request_id: &str,
    time: u64,
) -> Response {
    let started = std::time::Instant::now();
    let mut event = AuditEvent {
        time,
        request_id: request_id.to_owned(),
        action: format!("access-analyzer:{}", route.name()),
        source_ip: incoming.peer.ip().to_string(),
        user_agent: incoming.headers.get("user-agent").and_then(|v| v.to_str().ok()).map(str::to_owned),
        ..AuditEvent::default()
    };
    let outcome = answer(gateway, incoming, &route, request_id, &mut event).await;
    let response = match &outcome {
        Ok(body) => json(StatusCode::OK, body.to_string(), None, request_id),
        Err(Failure::Gateway(error)) => error_response(error, request_id),
        Err(Failure::Api(error)) => {
            json(status(error.status), error.to_json().to_string(), Some(error.code), request_id)
        }
    };
    if let Some(log) = &gateway.audit {
        let code = response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_owned);
        event.decision = match code.as_deref() {
            None => "allowed",
            Some(
                "AccessDeniedException"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "IncompleteSignature"
                | "MissingAuthenticationToken"
                | "ExpiredToken"
                | "ExpiredTokenException",
            ) => "denied",
            Some(_) => "error",
        }
        .to_owned();
        event.error_code = code;
        event.status = response.status().as_u16();
        event.latency_micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        log.record(event);
    }
    response
}

async fn answer<S: Store>(
    gateway: &Gateway<S>,
    incoming: &Incoming<'_>,
    route: &Route,
    request_id: &str,
    event: &mut AuditEvent,
) -> Result<Value, Failure> {
    let (caller, credentials) =
        crate::auth::authenticate(gateway, incoming, "access-analyzer").await.map_err(Failure::Gateway)?;
    event.principal_arn = Some(caller.arn.clone());
    event.account = Some(caller.account.id().to_owned());
    event.access_key_id = Some(credentials.access_key_id.clone());
    event.session_token_hash = credentials.session_token.as_deref().map(crate::audit::fingerprint);
    let query = incoming.uri.query().unwrap_or("");
    let region = scope_region(incoming);
    let (resource, input) = match route {
        Route::Policy(_) => ("*".to_owned(), None),
        Route::State(op, param) => {
            let input = Input::parse(param.clone(), query, incoming.body).map_err(Failure::Api)?;
            let resource =
                least_privilege::resource(*op, &input, caller.account.id(), &region).map_err(Failure::Api)?;
            (resource, Some(input))
        }
    };
    event.resource = Some(resource.clone());
    let ask = Ask {
        action: format!("access-analyzer:{}", route.name()),
        resource,
        inputs: Inputs::default(),
        change_own_password: false,
        also: Vec::new(),
        passed_role: None,
    };
    crate::authz::authorize(&gateway.sts, &caller, &ask, gateway.sts_now())
        .await
        .map_err(|e| Failure::Gateway(GatewayError::from(e)))?;
    match (route, input) {
        (Route::State(op, _), Some(input)) => {
            let job_id = tessera_awsapi::format_request_id(gateway.env.random.u128());
            let scope = Scope {
                store: &**gateway.sts.identity().store(),
                identity: &*gateway.identity,
                audit_dir: gateway.audit.as_ref().map(crate::audit::AuditLog::dir),
                account: &caller.account,
                region: &region,
                now: tessera_identity::millis(gateway.env.now()),
                job_id,
            };
            let _ = request_id;
            least_privilege::run(&scope, *op, &input).await.map_err(Failure::Api)
        }
        (Route::Policy(operation), _) => {
            api::handle(*operation, query, incoming.body, caller.account.id()).map_err(Failure::Api)
        }
        (Route::State(..), None) => Err(Failure::Api(ApiError {
            code: "InternalServerException",
            status: 500,
            message: "Internal server error.".into(),
        })),
    }
}

/// The region of the request's credential scope (`Credential=AKID/date/REGION/service/...`),
/// which names the analyzers' ARNs; `us-east-1` when it cannot be read.
fn scope_region(incoming: &Incoming<'_>) -> String {
    let from_header = incoming
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .and_then(|c| c.split([',', ' ']).next().map(str::to_owned));
    let from_query = || {
        incoming
            .uri
            .query()
            .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("X-Amz-Credential=")).map(|c| c.replace("%2F", "/")))
    };
    from_header
        .or_else(from_query)
        .and_then(|credential| credential.split('/').nth(2).map(str::to_owned))
        .filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or_else(|| "us-east-1".to_owned())
}

/// Access Analyzer's names for the codes the shared layers produce.
fn error_response(error: &GatewayError, request_id: &str) -> Response {
    let (code, message, http) = match error {
        GatewayError::Query(e) => (e.aws_code().to_owned(), e.to_string(), e.http_status()),
        GatewayError::Signature(e) => (e.aws_code().to_owned(), e.aws_message(), e.http_status()),
        GatewayError::Service(e) => (e.code.as_str().to_owned(), e.message.clone(), e.code.http_status()),
        GatewayError::Mfa(r) => (r.error.code.as_str().to_owned(), r.error.message.clone(), r.error.code.http_status()),
    };
    let code = match code.as_str() {
        "AccessDenied" => "AccessDeniedException".to_owned(),
        "Throttling" => "ThrottlingException".to_owned(),
        "ValidationError" => "ValidationException".to_owned(),
        _ => code,
    };
    let body = serde_json::json!({"message": message, "__type": code}).to_string();
    json(status(http), body, Some(&code), request_id)
}

fn json(status: StatusCode, body: String, error_type: Option<&str>, request_id: &str) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(code) = error_type.and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert("x-amzn-errortype", code);
    }
    response
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use tessera_policy::analysis::catalog;

    use crate::authz::OPERATIONS;

    /// The policy engine's action catalog (pure, so it cannot read this table) must say what the
    /// action table says: every served action, its condition keys and its resource type's keys.
    #[test]
    fn the_analysis_catalog_agrees_with_the_action_table() {
        for operation in OPERATIONS {
            let info = catalog::action(operation.action)
                .unwrap_or_else(|| panic!("{} is missing from the analysis catalog", operation.action));
            let keys = info.keys.unwrap_or_else(|| panic!("{}: the catalog lists no keys", operation.action));
            let mut expected: Vec<&str> = operation.keys.iter().chain(operation.resource.keys()).copied().collect();
            let mut listed: Vec<&str> = keys.to_vec();
            expected.sort_unstable();
            listed.sort_unstable();
            assert_eq!(listed, expected, "{}: condition keys differ", operation.action);
        }
        let served = catalog::ACTIONS.iter().filter(|a| a.keys.is_some()).count();
        assert_eq!(served, OPERATIONS.len(), "the catalog serves an action the table does not");
    }
}
