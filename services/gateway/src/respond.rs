//! One request from bytes to XML: decode, find the action, authenticate, run it
//! ([`crate::actions::run`]); and the one place a failure becomes an AWS `<ErrorResponse>` with
//! its HTTP status.

use std::net::SocketAddr;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tessera_awsapi::{Params, QueryError, error_response, error_response_with_details};
use tessera_identity::MfaRejection;
use tessera_proto::ServiceError;
use tessera_sigv4::SigV4Error;
use tessera_store::Store;

use crate::actions::{Action, Resource};
use crate::context::Cx;
use crate::{Gateway, auth, sts};

/// A request as the handler received it.
#[derive(Debug)]
pub(crate) struct Incoming<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
    pub(crate) peer: SocketAddr,
}

pub(crate) use crate::actions::Service;

/// Why a request failed, in the terms of the layer that refused it.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Signature(#[from] SigV4Error),
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A refused MFA code: answered with its error, audited with its device and reason.
    #[error("{}", .0.error)]
    Mfa(Box<MfaRejection>),
}

impl From<tessera_identity::Error> for GatewayError {
    fn from(error: tessera_identity::Error) -> Self {
        match error {
            tessera_identity::Error::Mfa(rejection) => Self::Mfa(rejection),
            error => Self::Service(error.into_service_error()),
        }
    }
}

pub(crate) type Outcome = Result<String, (Option<Service>, GatewayError)>;

/// What the audit event needs to know that only the layers below learn: who called, which action
/// on which resource.
#[derive(Debug, Default)]
pub(crate) struct Trail {
    inner: std::sync::Mutex<crate::audit::AuditEvent>,
    /// The metric labels learnt on the way: the served action and the caller's kind.
    action: std::sync::OnceLock<&'static str>,
    caller_kind: std::sync::OnceLock<&'static str>,
}

impl Trail {
    pub(crate) fn note(&self, f: impl FnOnce(&mut crate::audit::AuditEvent)) {
        f(&mut self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// The request's metric labels (bounded: an action of the table, an AWS code, a caller kind).
    pub(crate) fn labels(&self, outcome: &Outcome) -> tessera_telemetry::RequestLabels {
        tessera_telemetry::RequestLabels {
            transport: tessera_telemetry::Transport::Http,
            action: self.action.get().copied().unwrap_or("unknown"),
            code: code(outcome),
            caller_kind: self.caller_kind.get().copied().unwrap_or("anonymous"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn into_event(
        self,
        time: u64,
        request_id: &str,
        peer: SocketAddr,
        user_agent: Option<String>,
        outcome: &Outcome,
        status: u16,
        latency_micros: u64,
    ) -> crate::audit::AuditEvent {
        let mut event = self.inner.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        event.time = time;
        event.request_id = request_id.to_owned();
        event.source_ip = peer.ip().to_string();
        event.user_agent = user_agent;
        event.status = status;
        event.latency_micros = latency_micros;
        let (decision, code) = match outcome {
            Ok(_) => ("allowed", None),
            Err((_, error)) => {
                let code = match error {
                    GatewayError::Query(e) => e.aws_code().to_owned(),
                    GatewayError::Signature(e) => e.aws_code().to_owned(),
                    GatewayError::Service(e) => e.code.as_str().to_owned(),
                    GatewayError::Mfa(rejection) => {
                        event.reason = Some(rejection.failure.as_str().to_owned());
                        event.mfa_serial = Some(rejection.serial.clone());
                        rejection.error.code.as_str().to_owned()
                    }
                };
                let denied = matches!(
                    code.as_str(),
                    "AccessDenied"
                        | "InvalidAuthenticationCode"
                        | "InvalidClientTokenId"
                        | "SignatureDoesNotMatch"
                        | "IncompleteSignature"
                        | "MissingAuthenticationToken"
                        | "ExpiredToken"
                );
                (if denied { "denied" } else { "error" }, Some(code))
            }
        };
        event.decision = decision.to_owned();
        event.error_code = code;
        event
    }
}

/// The AWS code an outcome answers with, `OK` for a success.
pub(crate) fn code(outcome: &Outcome) -> &'static str {
    match outcome {
        Ok(_) => "OK",
        Err((_, GatewayError::Query(e))) => e.aws_code(),
        Err((_, GatewayError::Signature(e))) => e.aws_code(),
        Err((_, GatewayError::Service(e))) => e.code.as_str(),
        Err((_, GatewayError::Mfa(rejection))) => rejection.error.code.as_str(),
    }
}

/// A caller's kind, as metrics label it.
pub(crate) fn caller_kind(caller: &tessera_sts::CallerPrincipal) -> &'static str {
    match caller.kind {
        tessera_sts::CallerKind::Root => "root",
        tessera_sts::CallerKind::User(_) => "user",
        tessera_sts::CallerKind::Session(_) => "session",
    }
}

/// Decodes, authenticates, authorizes and runs one request; returns the response body.
pub(crate) async fn serve<S: Store>(
    gateway: &Gateway<S>,
    incoming: &Incoming<'_>,
    request_id: &str,
    trail: &Trail,
) -> Outcome {
    let query = incoming.uri.query().unwrap_or("");
    let params = Params::from_request(query.as_bytes(), incoming.body).map_err(|e| (None, e.into()))?;
    let name = params.action().map_err(|e| (None, e.into()))?;
    // An action this endpoint does not serve is answered (and audited) as an IAM one.
    let served = Action::served(name);
    let service = served.map_or(Service::Iam, Action::service);
    trail.note(|e| {
        e.action = match served {
            Some(action) => action.qualified().to_owned(),
            None => format!("{}:{name}", service.prefix()),
        };
    });
    params.check_version(service.version()).map_err(|e| (Some(service), e.into()))?;
    let Some(action) = served else {
        return Err((Some(service), QueryError::invalid_action(name, Some(service.version())).into()));
    };
    let _ = trail.action.set(action.qualified());
    tracing::Span::current().record("action", action.qualified());
    let failed = |e: GatewayError| (Some(service), e);
    crate::lists::check(&params).map_err(|e| failed(tessera_identity::Error::from(e).into()))?;
    // Every parameter against the model's constraints, all failures in one `ValidationError`,
    // as AWS checks a request before its operation runs (after authenticating it: a request
    // whose signature fails learns nothing about its parameters).
    let validate = || tessera_awsapi::validate(service.prefix(), action.name(), &params).map_err(|e| failed(e.into()));
    if action.resource() == Resource::Unsigned {
        // AssumeRoleWithWebIdentity and AssumeRoleWithSAML: the token or the signed SAML response
        // is the credential.
        validate()?;
        let answer = match action {
            Action::AssumeRoleWithSAML => sts::saml(gateway, &params, request_id).await,
            _ => sts::web_identity(gateway, &params, request_id).await,
        };
        return answer.map_err(failed);
    }
    let (caller, credentials) = auth::authenticate(gateway, incoming, service.prefix()).await.map_err(failed)?;
    let _ = trail.caller_kind.set(caller_kind(&caller));
    validate()?;
    trail.note(|e| {
        e.principal_arn = Some(caller.arn.clone());
        e.account = Some(caller.account.id().to_owned());
        e.access_key_id = Some(credentials.access_key_id.clone());
        e.session_token_hash = credentials.session_token.as_deref().map(crate::audit::fingerprint);
        e.region = scope_region(incoming);
    });
    let cx = Cx { gateway, caller, action, service, request_id, params: &params, now: gateway.sts_now(), trail };
    crate::actions::run(&cx).await.map_err(failed)
}

/// The region of a verified request's credential scope (`Credential=AKID/date/REGION/service/
/// aws4_request`, in the `Authorization` header or the presigned `X-Amz-Credential`).
fn scope_region(incoming: &Incoming<'_>) -> Option<String> {
    let header = incoming.headers.get("authorization").and_then(|v| v.to_str().ok());
    let credential = match header.and_then(|h| h.split("Credential=").nth(1)) {
        Some(rest) => rest.split([',', ' ']).next().unwrap_or_default().to_owned(),
        None => {
            let query = incoming.uri.query().unwrap_or("");
            let raw = query.split('&').find_map(|p| p.strip_prefix("X-Amz-Credential="))?;
            raw.replace("%2F", "/").replace("%2f", "/")
        }
    };
    let region = credential.split('/').nth(2).filter(|r| !r.is_empty())?;
    (region.len() <= 64 && region.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')).then(|| region.to_owned())
}

/// The HTTP response: 200 and XML, or AWS's error envelope and status. A success's body moves
/// into the response (the outcome keeps an empty one: only whether it succeeded is left to know).
pub(crate) fn to_http(outcome: &mut Outcome, request_id: &str) -> Response {
    let (status, body) = match outcome {
        Ok(body) => (StatusCode::OK, std::mem::take(body)),
        Err((service, error)) => {
            let ns = service.map_or(tessera_awsapi::AWS_FAULT_NAMESPACE, |s| s.namespace());
            match &error {
                GatewayError::Query(e) => (status(e.http_status()), e.to_xml(ns, request_id)),
                GatewayError::Signature(e) => {
                    let xml = error_response(ns, e.aws_code(), &e.aws_message(), e.http_status() < 500, request_id);
                    (status(e.http_status()), xml)
                }
                GatewayError::Service(e) => service_error(e, ns, request_id),
                GatewayError::Mfa(rejection) => service_error(&rejection.error, ns, request_id),
            }
        }
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

/// A service error's status and XML.
fn service_error(e: &ServiceError, ns: &str, request_id: &str) -> (StatusCode, String) {
    if e.code.http_status() >= 500 {
        tracing::error!(code = e.code.as_str(), message = %e.message, "request failed");
    }
    let xml =
        error_response_with_details(ns, e.code.as_str(), &e.message, e.code.sender_fault(), request_id, &e.details);
    (status(e.code.http_status()), xml)
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
