//! The console's part of the audit trail: the gateway's own writer
//! ([`tessera_gateway::audit::AuditLog`], `Settings::audit`), fed the same events the API's
//! requests make. Each action the console authorizes for its caller is one event (allowed, or
//! denied with `AccessDenied`), as the gateway records an API request; sign-ins and "Switch role"
//! are CloudTrail's `signin:ConsoleLogin` and `signin:SwitchRole` events, with
//! `response_elements` `Success`/`Failure` and `additional_event_data` (`MFAUsed`, `SwitchFrom`).
//! A successful switch is recorded as the role session (its ARN, key and token fingerprint), so
//! the role counts as used wherever the trail is read (unused-access findings, last accessed).
//!
//! Who sent the request (address, user agent) and its request id come from [`scope`], a
//! middleware around every console route; events carry no form field but the names above, so a
//! password, an MFA code or a session token never reaches the trail.
//!
//! An action's outcome is known only after its domain call: the request's events are held until
//! the request is answered ([`scope`] writes them, in order), and a domain refusal after an
//! allowed decision ([`Console::record_error`]) turns the last allowed action (or the one named)
//! into `error` with its AWS code and status, as the API records a request that failed after it
//! was authorized.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tessera_authorizer::CallerPrincipal;
use tessera_gateway::audit::{AuditEvent, fingerprint};
use tessera_proto::error::{ErrorCode, ServiceError};
use tessera_store::Store;

use crate::Console;

/// The request being served, for its events.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    request_id: String,
    source_ip: String,
    user_agent: Option<String>,
    /// Unix milliseconds when the request arrived.
    time: u64,
    started: std::time::Instant,
    /// The request's events, written when it is answered.
    events: Arc<std::sync::Mutex<Vec<AuditEvent>>>,
}

tokio::task_local! {
    static CLIENT: Client;
}

/// Runs a console request with its [`Client`] known to the events it records.
pub(crate) async fn scope<S: Store>(State(console): State<Arc<Console<S>>>, request: Request, next: Next) -> Response {
    let source_ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ConnectInfo(peer)| peer.ip().to_string());
    let user_agent = request.headers().get("user-agent").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let request_id = console.request_ids.next_id();
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let client = Client {
        request_id,
        source_ip,
        user_agent,
        time: console.now_millis(),
        started: std::time::Instant::now(),
        events: Arc::clone(&events),
    };
    let response = CLIENT.scope(client, next.run(request)).await;
    if let Some(log) = &console.settings.audit {
        for event in std::mem::take(&mut *lock(&events)) {
            log.record(event);
        }
    }
    response
}

fn lock(events: &std::sync::Mutex<Vec<AuditEvent>>) -> std::sync::MutexGuard<'_, Vec<AuditEvent>> {
    events.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn map(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
}

/// How a sign-in event ended.
pub(crate) enum Outcome<'a> {
    Success,
    /// Refused: the trail's `reason` (`failed_authentication`, `mfa_invalid_code`, ...) and, for
    /// a refused MFA code, its device.
    Failure {
        reason: &'a str,
        mfa_serial: Option<&'a str>,
    },
}

impl<S: Store> Console<S> {
    /// An event of the current request (the time, id, address and agent filled in), with
    /// `caller`'s identity when there is one.
    fn event(&self, caller: Option<&CallerPrincipal>, action: &str) -> AuditEvent {
        let client = CLIENT.try_with(Clone::clone).ok();
        let mut event = AuditEvent { action: action.to_owned(), ..AuditEvent::default() };
        match client {
            Some(client) => {
                event.time = client.time;
                event.request_id = client.request_id;
                event.source_ip = client.source_ip;
                event.user_agent = client.user_agent;
                event.latency_micros = u64::try_from(client.started.elapsed().as_micros()).unwrap_or(u64::MAX);
            }
            None => event.time = self.now_millis(),
        }
        if let Some(caller) = caller {
            event.principal_arn = Some(caller.arn.clone());
            event.account = Some(caller.account.id().to_owned());
            event.access_key_id = (!caller.access_key_id.is_empty()).then(|| caller.access_key_id.clone());
            event.session_token_hash = caller.session_token.as_ref().map(|t| fingerprint(t.expose()));
        }
        event
    }

    /// Records `event`: held until the request is answered (see the module docs), or written at
    /// once outside a request.
    fn write_event(&self, event: AuditEvent) {
        let Some(log) = &self.settings.audit else { return };
        if let Err(event) = CLIENT.try_with(|client| lock(&client.events).push(event.clone())).map_err(|_| event) {
            log.record(event);
        }
    }

    /// [`Console::record_error`] of a domain's refusal, which it returns as the AWS error.
    pub(crate) fn domain_error(&self, error: tessera_identity::Error) -> ServiceError {
        let error = error.into_service_error();
        self.record_error(&error, None);
        error
    }

    /// [`Console::domain_error`] of `action`, where a handler decided several actions before
    /// calling the domain for each (creating a user with its password and key).
    pub(crate) fn action_error(&self, action: &str, error: tessera_identity::Error) -> ServiceError {
        let error = error.into_service_error();
        self.record_error(&error, Some(action));
        error
    }

    /// A domain refusal `error` of the action the console last allowed in this request (of
    /// `action` when given; a name already taken, a quota, ...): that action's event becomes
    /// `error` with the AWS code and status (`denied` for the codes the API records so:
    /// `AccessDenied`, `InvalidAuthenticationCode`). Nothing happens when no action was allowed
    /// (the refusal was a read's, before any decision).
    pub(crate) fn record_error(&self, error: &ServiceError, action: Option<&str>) {
        let _ = CLIENT.try_with(|client| {
            let mut events = lock(&client.events);
            let allowed = events.iter_mut().rev().find(|e| {
                e.decision == "allowed" && e.response_elements.is_none() && action.is_none_or(|a| e.action == a)
            });
            if let Some(event) = allowed {
                let denied = matches!(error.code, ErrorCode::AccessDenied | ErrorCode::InvalidAuthenticationCode);
                event.decision = if denied { "denied" } else { "error" }.into();
                event.status = error.code.http_status();
                event.error_code = Some(error.code.as_str().to_owned());
            }
        });
    }

    /// One action the console authorized (or refused) for `caller`, as the gateway records a
    /// request: `allowed`, or `denied` with `AccessDenied`.
    pub(crate) fn audit_action(&self, caller: &CallerPrincipal, action: &str, resource: &str, allowed: bool) {
        let mut event = self.event(Some(caller), action);
        event.resource = Some(resource.to_owned());
        (event.decision, event.status) = if allowed { ("allowed".into(), 200) } else { ("denied".into(), 403) };
        if !allowed {
            event.error_code = Some("AccessDenied".into());
        }
        self.write_event(event);
    }

    /// An action the console performed for `caller` that its domain refused after it was allowed
    /// (a wrong old password on the forced change, ...): `error` with the AWS code.
    pub(crate) fn audit_error(&self, caller: &CallerPrincipal, action: &str, resource: &str, code: &str) {
        let mut event = self.event(Some(caller), action);
        event.resource = Some(resource.to_owned());
        event.decision = "error".into();
        event.status = 400;
        event.error_code = Some(code.to_owned());
        self.write_event(event);
    }

    /// CloudTrail's `ConsoleLogin`: `who` is the principal signing in when it is known to exist
    /// (an unknown user name is not recorded: it may be a mistyped password), `account` the
    /// account it named.
    pub(crate) fn audit_sign_in(&self, account: Option<&str>, who: Option<&str>, mfa_used: bool, outcome: Outcome<'_>) {
        let mut event = self.event(None, "signin:ConsoleLogin");
        event.principal_arn = who.map(str::to_owned);
        event.account = account.map(str::to_owned);
        event.additional_event_data = map(&[("MFAUsed", if mfa_used { "Yes" } else { "No" })]);
        match outcome {
            Outcome::Success => {
                (event.decision, event.status) = ("allowed".into(), 200);
                event.response_elements = map(&[("ConsoleLogin", "Success")]);
            }
            Outcome::Failure { reason, mfa_serial } => {
                (event.decision, event.status) = ("denied".into(), 401);
                event.response_elements = map(&[("ConsoleLogin", "Failure")]);
                event.reason = Some(reason.to_owned());
                event.mfa_serial = mfa_serial.map(str::to_owned);
            }
        }
        self.write_event(event);
    }

    /// A "Switch role" to `role_arn` by `user`: the `sts:AssumeRole` the console made for the
    /// user (as the API records it), then CloudTrail's `SwitchRole`, on success as the role
    /// session `session` (so the role reads as used), on failure as the user, with the code.
    pub(crate) fn audit_switch(
        &self,
        user: &CallerPrincipal,
        role_arn: &str,
        session: Option<&CallerPrincipal>,
        error_code: Option<&str>,
    ) {
        match error_code {
            None => self.audit_action(user, "sts:AssumeRole", role_arn, true),
            Some("AccessDenied") => self.audit_action(user, "sts:AssumeRole", role_arn, false),
            Some(code) => self.audit_error(user, "sts:AssumeRole", role_arn, code),
        }
        let mut event = self.event(Some(session.unwrap_or(user)), "signin:SwitchRole");
        event.resource = Some(role_arn.to_owned());
        event.additional_event_data = map(&[("SwitchFrom", &user.arn)]);
        match error_code {
            None => {
                (event.decision, event.status) = ("allowed".into(), 200);
                event.response_elements = map(&[("SwitchRole", "Success")]);
            }
            Some(code) => {
                let denied = code == "AccessDenied";
                event.decision = if denied { "denied" } else { "error" }.into();
                event.status = if denied { 403 } else { 400 };
                event.error_code = Some(code.to_owned());
                event.response_elements = map(&[("SwitchRole", "Failure")]);
            }
        }
        self.write_event(event);
    }
}
