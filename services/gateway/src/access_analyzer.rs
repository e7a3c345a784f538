//! IAM Access Analyzer's policy operations on the HTTP endpoint (restJson1, signed for service
//! `access-analyzer`): `POST /policy/validation`, `/policy/check-no-new-access`,
//! `/policy/check-access-not-granted`, `/policy/check-no-public-access`, so `aws accessanalyzer
//! validate-policy --endpoint-url` and boto3's `accessanalyzer` client work. The operations
//! themselves are `tessera_policy::analysis::api` (pure); this module authenticates the caller
//! with the endpoint's SigV4 verification, authorizes `access-analyzer:<Operation>` on `*` on
//! the one decision path, and answers in JSON with AWS's `x-amzn-ErrorType` on failure.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_policy::analysis::api::{self, Operation};
use tessera_store::Store;

use crate::Gateway;
use crate::authz::{Ask, Inputs};
use crate::respond::{GatewayError, Incoming};

/// Serves one Access Analyzer request.
pub(crate) async fn serve<S: Store>(
    gateway: &Gateway<S>,
    incoming: &Incoming<'_>,
    operation: Operation,
    request_id: &str,
) -> Response {
    let caller = match crate::auth::authenticate(gateway, incoming, "access-analyzer").await {
        Ok((caller, _)) => caller,
        Err(error) => return error_response(&error, request_id),
    };
    let ask = Ask {
        action: operation.action(),
        resource: "*".to_owned(),
        inputs: Inputs::default(),
        change_own_password: false,
        also: Vec::new(),
    };
    if let Err(error) = crate::authz::authorize(&gateway.sts, &caller, &ask, gateway.sts_now()).await {
        return error_response(&GatewayError::from(error), request_id);
    }
    let query = incoming.uri.query().unwrap_or("");
    match api::handle(operation, query, incoming.body, caller.account.id()) {
        Ok(body) => json(StatusCode::OK, body.to_string(), None, request_id),
        Err(error) => json(status(error.status), error.to_json().to_string(), Some(error.code), request_id),
    }
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
