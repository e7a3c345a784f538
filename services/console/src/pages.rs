//! The console's pages and forms. Every handler finds its session, authorizes what it is about
//! to do as the IAM action for the signed-in principal, and only then calls the domain.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_arn::{Arn, IamEntity};
use tessera_authorizer::{CallerKind, CallerPrincipal, Check, denial};
use tessera_identity::{Account, CreateUser, Error, PageRequest};
use tessera_policy::Trace;
use tessera_store::Store;
use tessera_store::iam::{KeyStatus, UserRecord};

use crate::Console;
use crate::html::{Who, csrf_field, denied, error, esc, page};
use crate::session::{self, SessionRecord, Stage};
use crate::trail::Outcome;

pub(crate) type Shared<S> = State<Arc<Console<S>>>;
/// A parsed form body.
pub(crate) type Form = HashMap<String, String>;

const COOKIE: &str = "tessera-console";
/// The sign-in form's double-submit token, before there is a session.
const SIGN_IN_COOKIE: &str = "tessera-console-signin";
const BAD_CREDENTIALS: &str = "Your authentication information is incorrect. Please try again.";
const THROTTLED: &str = "Too many failed sign-in attempts. Wait a few minutes and try again.";
const BAD_CSRF: &str =
    "The form is stale or was not sent by this console (missing or wrong CSRF token). Reload the page and try again.";
/// Keys older than this are due for rotation (the dashboard's recommendation).
const KEY_ROTATION_MILLIS: u64 = 90 * 86_400_000;

// ---- responses ----------------------------------------------------------------------------------

pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // Pages may show a secret once: nothing is cached, framed or leaked through the referrer.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

pub(crate) fn redirect(to: &'static str) -> Response {
    redirect_to(to.to_owned())
}

/// A 303 to a computed console path (only this crate's own paths, with escaped names).
pub(crate) fn redirect_to(to: String) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let location = HeaderValue::from_str(&to).unwrap_or_else(|_| HeaderValue::from_static("/console/home"));
    response.headers_mut().insert(header::LOCATION, location);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) fn with_cookie(mut response: Response, cookie: String) -> Response {
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

pub(crate) fn internal_error(what: &str, detail: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %detail, "console: {what}");
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        page("Something went wrong", None, &error("The request failed; try again.")),
    )
}

pub(crate) fn bad_csrf() -> Response {
    html(StatusCode::FORBIDDEN, page("Request refused", None, &error(BAD_CSRF)))
}

// ---- requests -----------------------------------------------------------------------------------

pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// An `application/x-www-form-urlencoded` body, decoded by the Query API's decoder (the one
/// `fuzz/fuzz_targets/query_form.rs` fuzzes, with its limits): each name keeps its first value.
/// A body it refuses (bad percent-encoding, invalid UTF-8, over a limit) reads as empty, which
/// every form answers as a missing field or a missing CSRF token.
pub(crate) fn form(body: &str) -> HashMap<String, String> {
    match tessera_awsapi::Params::parse(body.as_bytes()) {
        Ok(params) => params.iter().map(|(name, value)| (name.to_owned(), value.to_owned())).collect(),
        Err(_) => HashMap::new(),
    }
}

/// The most parts a `multipart/form-data` body may have (the console's forms have a few).
const MAX_PARTS: usize = 16;

/// A posted form of either encoding: `multipart/form-data` (the forms that upload a file) by
/// [`multipart`], anything else as [`form`]. A body neither reads (not UTF-8, garbled) is empty.
pub(crate) fn fields(headers: &HeaderMap, body: &[u8]) -> Form {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    match boundary(content_type) {
        Some(boundary) => multipart(&boundary, body).unwrap_or_default(),
        None => std::str::from_utf8(body).map(form).unwrap_or_default(),
    }
}

/// The boundary of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    if !params.next()?.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let value = params.find_map(|p| {
        let (name, value) = p.trim().split_once('=')?;
        name.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"').to_owned())
    })?;
    (!value.is_empty() && value.len() <= 70).then_some(value)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The text parts of a `multipart/form-data` body (RFC 7578), by name; a file's content is its
/// field's value. `None` when the body is not well formed, a part is not UTF-8, or there are
/// more than [`MAX_PARTS`] parts. Each name keeps its first value, as [`form`] does.
pub(crate) fn multipart(boundary: &str, body: &[u8]) -> Option<Form> {
    let delimiter = format!("--{boundary}");
    let mut out = Form::new();
    let start = find(body, delimiter.as_bytes())?;
    let mut rest = &body[start + delimiter.len()..];
    let separator = format!("\r\n--{boundary}");
    for _ in 0..=MAX_PARTS {
        if rest.starts_with(b"--") {
            return Some(out);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let end = find(rest, separator.as_bytes())?;
        let (part, next) = (&rest[..end], &rest[end + separator.len()..]);
        let split = find(part, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&part[..split]).ok()?;
        let content = std::str::from_utf8(&part[split + 4..]).ok()?;
        let disposition = head
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-disposition"))
            .map(|(_, value)| value)?;
        let name = disposition.split(';').find_map(|p| {
            let (key, value) = p.trim().split_once('=')?;
            (key.trim() == "name").then(|| value.trim().trim_matches('"').to_owned())
        })?;
        out.entry(name).or_insert_with(|| content.to_owned());
        rest = next;
    }
    None
}

pub(crate) fn field<'f>(form: &'f HashMap<String, String>, name: &str) -> &'f str {
    form.get(name).map(String::as_str).unwrap_or("")
}

pub(crate) fn same_token(given: &str, expected: &str) -> bool {
    !expected.is_empty() && tessera_credentials::constant_time_eq(given.as_bytes(), expected.as_bytes())
}

impl<S: Store> Console<S> {
    fn secure(&self, headers: &HeaderMap) -> bool {
        self.settings.secure_cookies
            || headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https"))
    }

    fn cookie_attributes(&self, headers: &HeaderMap) -> &'static str {
        if self.secure(headers) {
            "; Path=/console; HttpOnly; SameSite=Strict; Secure"
        } else {
            "; Path=/console; HttpOnly; SameSite=Strict"
        }
    }

    fn session_cookie(&self, headers: &HeaderMap, id: &str) -> String {
        format!("{COOKIE}={id}{}", self.cookie_attributes(headers))
    }

    fn expired_cookie(&self, headers: &HeaderMap, name: &str) -> String {
        format!("{name}={}; Max-Age=0", self.cookie_attributes(headers))
    }

    /// The request's session, when its cookie names one that has not timed out (a timed-out one
    /// is deleted). Use refreshes the idle clock (at most one write a minute).
    async fn visit(&self, headers: &HeaderMap) -> Result<Option<(String, SessionRecord)>, Response> {
        let Some(id) = cookie(headers, COOKIE) else { return Ok(None) };
        let mut record = match session::load_session(self.store(), id).await {
            Ok(Some(record)) => record,
            Ok(None) => return Ok(None),
            Err(e) => return Err(internal_error("cannot read a session", &e)),
        };
        let now = self.now_millis();
        let idle = self.settings.idle_timeout.as_millis() as u64;
        let absolute = self.settings.absolute_timeout.as_millis() as u64;
        if now.saturating_sub(record.last_seen) > idle || now.saturating_sub(record.created) > absolute {
            let _ = session::delete_session(self.store(), id).await;
            return Ok(None);
        }
        if now.saturating_sub(record.last_seen) > 60_000 {
            record.last_seen = now;
            let _ = session::save_session(self.store(), id, &record).await;
        }
        Ok(Some((id.to_owned(), record)))
    }

    /// Replaces the session `old` (if any) with a new id holding `record`: every step of the
    /// sign-in gets a fresh id, so an id planted before it is worth nothing after.
    async fn rotate(&self, headers: &HeaderMap, old: Option<&str>, record: &SessionRecord) -> Result<String, Response> {
        if let Some(old) = old {
            session::delete_session(self.store(), old).await.map_err(|e| internal_error("cannot end a session", &e))?;
        }
        let id = self.token();
        session::save_session(self.store(), &id, record)
            .await
            .map_err(|e| internal_error("cannot save a session", &e))?;
        Ok(self.session_cookie(headers, &id))
    }

    /// The signed-in principal, or the response that sends the visitor where its sign-in stands.
    /// A session whose principal's sessions were revoked since it signed in (the token service's
    /// revocations), or whose switched-to role session no longer verifies, is over.
    pub(crate) async fn signed_in(&self, headers: &HeaderMap) -> Result<Signed, Response> {
        let Some((id, record)) = self.visit(headers).await? else { return Err(redirect("/console/signin")) };
        match record.stage {
            Stage::Active => {}
            Stage::Mfa { .. } => return Err(redirect("/console/mfa")),
            Stage::ChangePassword => return Err(redirect("/console/change-password")),
            Stage::Anonymous => return Err(redirect("/console/signin")),
        }
        let account = Account::new(&record.account).map_err(|_| redirect("/console/signin"))?;
        let user = match &record.user {
            None => CallerPrincipal {
                arn: Arn::root(account.id()).to_string(),
                user_id: account.id().to_owned(),
                kind: CallerKind::Root,
                account: account.clone(),
                access_key_id: String::new(),
                source_ip: None,
                session_token: None,
            },
            Some(name) => match self.identity.get_user(&account, name).await {
                Ok(user) => CallerPrincipal {
                    arn: user.principal.arn.clone(),
                    user_id: user.principal.id.clone(),
                    kind: CallerKind::User(std::sync::Arc::new(user)),
                    account: account.clone(),
                    access_key_id: String::new(),
                    source_ip: None,
                    session_token: None,
                },
                // The user was deleted: its sessions end.
                Err(_) => {
                    let _ = session::delete_session(self.store(), &id).await;
                    return Err(redirect("/console/signin"));
                }
            },
        };
        if self.sts.principal_revoked(&user.arn, record.created.saturating_mul(1000)) {
            return Err(self.ended(headers, &id).await);
        }
        let Some(role) = &record.role else {
            return Ok(Signed { id, csrf: record.csrf, account, caller: user, role: None, own: None });
        };
        // After "Switch role": the role session, verified (expiry, revocation) on every page.
        let credentials = tessera_sts::CallerCredentials {
            access_key_id: role.access_key_id.clone(),
            session_token: Some(role.session_token.clone()),
            source_ip: None,
        };
        let caller = match self.sts.resolve_caller(&credentials).await {
            Ok(caller) => caller,
            Err(_) => return Err(self.ended(headers, &id).await),
        };
        // A page seen as the role is the role's use (`RoleLastUsed`), as its API requests are.
        self.usage.note_role_use(&caller, crate::REGION);
        let back = record.user.clone().unwrap_or_else(|| "root".to_owned());
        let view = RoleView { display: role.display_name.clone(), colour: role.colour.clone(), back };
        Ok(Signed { id, csrf: record.csrf, account: caller.account.clone(), caller, role: Some(view), own: Some(user) })
    }

    /// Ends a session refused mid-way (revoked, or its role session no longer valid): the record
    /// is deleted and the browser told why.
    async fn ended(&self, headers: &HeaderMap, id: &str) -> Response {
        let _ = session::delete_session(self.store(), id).await;
        let body = error("Your console session was revoked or has expired. Sign in again.")
            + "<p><a href=\"/console/signin\">Sign in</a></p>";
        with_cookie(
            html(StatusCode::UNAUTHORIZED, page("Session ended", None, &body)),
            self.expired_cookie(headers, COOKIE),
        )
    }

    /// The signed-in caller when it may perform `action` on `resource`; otherwise the response:
    /// the sign-in redirect, or the "Not authorized" page titled `title`, with no data.
    pub(crate) async fn allowed(
        &self,
        headers: &HeaderMap,
        title: &str,
        action: &str,
        resource: &str,
    ) -> Result<Signed, Response> {
        let signed = self.signed_in(headers).await?;
        let resource = resource.replace("{account}", signed.account.id());
        match self.authorize(&signed, action, &resource).await {
            Ok(()) => Ok(signed),
            Err(explanation) => Err(signed.refused(title, &explanation)),
        }
    }

    /// A POST from a signed-in caller with the session's CSRF token, and its form.
    pub(crate) async fn posted(&self, headers: &HeaderMap, body: &str) -> Result<(Signed, Form), Response> {
        self.posted_fields(headers, form(body)).await
    }

    /// [`Console::posted`] with the form already read ([`fields`]: a file upload).
    pub(crate) async fn posted_fields(&self, headers: &HeaderMap, form: Form) -> Result<(Signed, Form), Response> {
        let signed = self.signed_in(headers).await?;
        if !signed.checks_csrf(&form) {
            return Err(bad_csrf());
        }
        Ok((signed, form))
    }

    /// [`Console::posted`] by a caller that may perform `action` on `resource` (`{account}` in it
    /// stands for the caller's account), as [`Console::allowed`] is for a page.
    pub(crate) async fn posted_allowed(
        &self,
        headers: &HeaderMap,
        body: &str,
        title: &str,
        action: &str,
        resource: &str,
    ) -> Result<(Signed, Form), Response> {
        let (signed, form) = self.posted(headers, body).await?;
        let resource = resource.replace("{account}", signed.account.id());
        self.permit(&signed, title, action, &resource).await?;
        Ok((signed, form))
    }

    /// Replaces the signed-in session `id` with a new id holding `record` (switching role and
    /// back), with its cookie.
    pub(crate) async fn reissue(
        &self,
        headers: &HeaderMap,
        id: &str,
        record: &SessionRecord,
    ) -> Result<String, Response> {
        self.rotate(headers, Some(id), record).await
    }

    /// The session record behind a signed-in id.
    pub(crate) async fn record(&self, id: &str) -> Option<SessionRecord> {
        session::load_session(self.store(), id).await.ok().flatten()
    }

    /// Authorizes `action` on `resource` for the caller on the gateway's decision path; the
    /// denial's AWS message when it is not allowed.
    pub(crate) async fn authorize(&self, signed: &Signed, action: &str, resource: &str) -> Result<(), String> {
        self.authorize_keys(signed, action, resource, &[]).await
    }

    /// [`Console::authorize`], or the "Not authorized" page titled `title` (a handler's `?`).
    pub(crate) async fn permit(
        &self,
        signed: &Signed,
        title: &str,
        action: &str,
        resource: &str,
    ) -> Result<(), Response> {
        self.authorize(signed, action, resource).await.map_err(|explanation| signed.refused(title, &explanation))
    }

    /// A domain's refusal of an allowed action: recorded as the action's outcome
    /// ([`Console::domain_error`]) and shown as a 400 page titled `title` with AWS's message.
    pub(crate) fn failed(&self, signed: &Signed, title: &str, error: Error) -> Response {
        let error = self.domain_error(error);
        signed.status(StatusCode::BAD_REQUEST, title, &crate::html::error(&error.message))
    }

    /// [`Console::authorize`] with the request's own condition keys (`iam:PolicyARN`, ...), as the
    /// gateway's action table gives them.
    pub(crate) async fn authorize_keys(
        &self,
        signed: &Signed,
        action: &str,
        resource: &str,
        keys: &[(&str, &str)],
    ) -> Result<(), String> {
        let mut check = Check { action: action.to_owned(), resource: resource.to_owned(), ..Check::default() };
        for (key, value) in keys {
            check.keys.insert(key, (*value).to_owned());
        }
        let now = self.now_millis() / 1000;
        // Each decision is an event of the audit trail, as an API request of the action is.
        match self.sts.authorizer().decide(&signed.caller, &[check], now, &[], Trace::Off, true).await {
            Ok(judged) => match judged.iter().find(|j| !j.allowed()) {
                Some(refused) => {
                    self.audit_action(&signed.caller, action, resource, false);
                    Err(denial(&signed.caller, refused).into_service_error().message)
                }
                None => {
                    self.audit_action(&signed.caller, action, resource, true);
                    Ok(())
                }
            },
            Err(e) => {
                let e = e.into_service_error();
                self.audit_error(&signed.caller, action, resource, e.code.as_str());
                Err(e.message)
            }
        }
    }
}

/// What the header shows after "Switch role".
pub(crate) struct RoleView {
    pub(crate) display: String,
    pub(crate) colour: String,
    /// The user (or `root`) "Back to" returns to.
    pub(crate) back: String,
}

/// A signed-in visit.
pub(crate) struct Signed {
    /// The session's id (its cookie's value).
    pub(crate) id: String,
    pub(crate) csrf: String,
    pub(crate) account: Account,
    /// Who acts: the root, the user, or after "Switch role" the role session.
    pub(crate) caller: CallerPrincipal,
    pub(crate) role: Option<RoleView>,
    /// After "Switch role": the signed-in user itself.
    pub(crate) own: Option<CallerPrincipal>,
}

impl Signed {
    pub(crate) fn frame(&self, title: &str, body: &str) -> String {
        let role = self.role.as_ref().map(|r| (r.display.as_str(), r.colour.as_str(), r.back.as_str()));
        page(title, Some(&Who { arn: &self.caller.arn, csrf: &self.csrf, role }), body)
    }

    /// A 200 page in the frame.
    pub(crate) fn ok(&self, title: &str, body: &str) -> Response {
        html(StatusCode::OK, self.frame(title, body))
    }

    /// A page in the frame with `status`.
    pub(crate) fn status(&self, status: StatusCode, title: &str, body: &str) -> Response {
        html(status, self.frame(title, body))
    }

    /// The "Not authorized" page: the explanation, and no data.
    pub(crate) fn refused(&self, title: &str, explanation: &str) -> Response {
        html(StatusCode::FORBIDDEN, self.frame(title, &denied(explanation)))
    }

    pub(crate) fn arn(&self, entity: IamEntity) -> String {
        Arn::iam("aws", self.account.id(), &entity).to_string()
    }

    pub(crate) fn user_arn(&self, name: &str) -> String {
        self.arn(IamEntity::User { path: "/".into(), name: name.into() })
    }

    pub(crate) fn group_arn(&self, name: &str) -> String {
        self.arn(IamEntity::Group { path: "/".into(), name: name.into() })
    }

    pub(crate) fn role_arn(&self, name: &str) -> String {
        self.arn(IamEntity::Role { path: "/".into(), name: name.into() })
    }

    pub(crate) fn checks_csrf(&self, form: &HashMap<String, String>) -> bool {
        same_token(field(form, "csrf"), &self.csrf)
    }

    /// The signed-in user (or root) itself, whatever role the console switched to.
    pub(crate) fn user(&self) -> &CallerPrincipal {
        self.own.as_ref().unwrap_or(&self.caller)
    }

    /// Who acted, for the token service's audit fields (`revoked_by`).
    pub(crate) fn by(&self) -> &str {
        &self.caller.arn
    }
}

/// A path segment: a name percent-encoded for a console URL.
pub(crate) fn seg(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The rows of a `<table>` with a caption and column headers; each row's cells are HTML already.
pub(crate) fn table(caption: &str, columns: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<table><caption>{}</caption><thead><tr>", esc(caption));
    for column in columns {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(column));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

pub(crate) fn millis_date(millis: u64) -> String {
    tessera_authorizer::format_time(millis / 1000)
}

// ---- sign-in ------------------------------------------------------------------------------------

pub(crate) async fn index<S: Store>(State(console): Shared<S>, headers: HeaderMap) -> Result<Response, Response> {
    console.signed_in(&headers).await?;
    Ok(redirect("/console/home"))
}

fn sign_in_page(token: &str, account: &str, user: &str, message: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(message) = message {
        body.push_str(&error(message));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/console/signin\">{}\
         <label for=\"account\">Account ID</label><input type=\"text\" id=\"account\" name=\"account\" value=\"{}\" required autocomplete=\"organization\">\
         <label for=\"user\">User name</label><input type=\"text\" id=\"user\" name=\"user\" value=\"{}\" aria-describedby=\"user-hint\" autocomplete=\"username\">\
         <small id=\"user-hint\">Leave empty to sign in as the account root user.</small>\
         <label for=\"password\">Password</label><input type=\"password\" id=\"password\" name=\"password\" required autocomplete=\"current-password\">\
         <button type=\"submit\">Sign in</button></form>",
        csrf_field(token),
        esc(account),
        esc(user)
    );
    page("Sign in", None, &body)
}

pub(crate) async fn sign_in_form<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    if let Ok(Some((_, record))) = console.visit(&headers).await
        && record.stage == Stage::Active
    {
        return Ok(redirect("/console/home"));
    }
    let token = console.token();
    let cookie = format!("{SIGN_IN_COOKIE}={token}{}", console.cookie_attributes(&headers));
    Ok(with_cookie(html(StatusCode::OK, sign_in_page(&token, "", "", None)), cookie))
}

pub(crate) async fn sign_in<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let form = form(&body);
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or("");
    if !same_token(field(&form, "csrf"), expected) {
        return Err(bad_csrf());
    }
    let (account_id, user, password) =
        (field(&form, "account").trim(), field(&form, "user").trim(), field(&form, "password"));
    let again = |status, message| html(status, sign_in_page(expected, account_id, user, Some(message)));
    let Ok(account) = Account::new(account_id) else {
        console.audit_sign_in(
            None,
            None,
            false,
            Outcome::Failure { reason: "failed_authentication", mfa_serial: None },
        );
        return Ok(again(StatusCode::UNAUTHORIZED, BAD_CREDENTIALS));
    };
    let user = (!user.is_empty()).then_some(user);
    // CloudTrail's ConsoleLogin names the principal only when it exists: a user name that names
    // no user may be a password typed in the wrong field.
    let (named, by) = (&account, &*console);
    let failed = |reason: &'static str| async move {
        let who = match user {
            None => Some(Arn::root(named.id()).to_string()),
            Some(name) => by.identity.get_user(named, name).await.ok().map(|u| u.principal.arn),
        };
        let outcome = Outcome::Failure { reason, mfa_serial: None };
        by.audit_sign_in(Some(named.id()), who.as_deref(), false, outcome);
    };
    let now = console.now_millis();
    match session::count_attempt(console.store(), account.ns(), user, now).await {
        Ok(true) => {}
        Ok(false) => {
            failed("sign_in_throttled").await;
            return Ok(again(StatusCode::TOO_MANY_REQUESTS, THROTTLED));
        }
        Err(e) => return Err(internal_error("cannot count a sign-in attempt", &e)),
    }
    let (verified, record) = match user {
        None => (session::verify_root(console.store(), account.ns(), password).await.map_err(|e| e.to_string()), None),
        Some(name) => match console.sts.identity().verify_password(&account, name, password).await {
            Ok(true) => match console.identity.get_user(&account, name).await {
                Ok(record) => (Ok(true), Some(record)),
                Err(e) => (Err(e.into_service_error().message), None),
            },
            Ok(false) => (Ok(false), None),
            Err(e) => (Err(e.into_service_error().message), None),
        },
    };
    match verified {
        Ok(true) => {}
        Ok(false) => {
            failed("failed_authentication").await;
            return Ok(again(StatusCode::UNAUTHORIZED, BAD_CREDENTIALS));
        }
        Err(e) => return Err(internal_error("cannot check a password", &e)),
    }
    let _ = session::clear_attempts(console.store(), account.ns(), user).await;
    let stage = match &record {
        Some(user) => next_stage(&console, &account, user, true).await,
        // The root's MFA device, assigned on the root's "Assign MFA device" page.
        None => match console.sts.identity().root_mfa_device(&account).await {
            Ok(Some(device)) => Stage::Mfa { serial: device.serial },
            Ok(None) => Stage::Active,
            Err(e) => return Err(internal_error("cannot read the root's MFA device", &e.into_service_error().message)),
        },
    };
    // Signed in, unless an MFA code is still due (its step records the sign-in).
    if !matches!(stage, Stage::Mfa { .. }) {
        let who = record.as_ref().map_or_else(|| Arn::root(account.id()).to_string(), |u| u.principal.arn.clone());
        console.audit_sign_in(Some(account.id()), Some(&who), false, Outcome::Success);
    }
    let session = SessionRecord {
        stage: stage.clone(),
        account: account.id().to_owned(),
        user: user.map(str::to_owned),
        csrf: console.token(),
        created: now,
        last_seen: now,
        role: None,
    };
    let old = cookie(&headers, COOKIE);
    let cookie = console.rotate(&headers, old, &session).await?;
    let response = with_cookie(redirect(stage_page(&stage)), cookie);
    Ok(with_cookie(response, console.expired_cookie(&headers, SIGN_IN_COOKIE)))
}

fn stage_page(stage: &Stage) -> &'static str {
    match stage {
        Stage::Mfa { .. } => "/console/mfa",
        Stage::ChangePassword => "/console/change-password",
        Stage::Active | Stage::Anonymous => "/console/home",
    }
}

/// What a user still owes after its password: an MFA code (when `mfa_due` and it has a
/// device), then a new password (reset required, or expired under the password policy).
async fn next_stage<S: Store>(console: &Console<S>, account: &Account, user: &UserRecord, mfa_due: bool) -> Stage {
    if mfa_due && let Some(serial) = user.mfa_devices.first() {
        return Stage::Mfa { serial: serial.clone() };
    }
    let Some(profile) = &user.login_profile else { return Stage::Active };
    let expired = match console.identity.get_account_password_policy(account).await {
        Ok(policy) if policy.max_password_age > 0 => {
            let age = console.now_millis().saturating_sub(profile.password_last_changed);
            age > u64::from(policy.max_password_age) * 86_400_000
        }
        _ => false,
    };
    if profile.password_reset_required || expired { Stage::ChangePassword } else { Stage::Active }
}

/// The session of a sign-in step (`/console/mfa`, `/console/change-password`).
async fn step<S: Store>(console: &Console<S>, headers: &HeaderMap) -> Result<(String, SessionRecord), Response> {
    match console.visit(headers).await? {
        Some(found) => Ok(found),
        None => Err(redirect("/console/signin")),
    }
}

fn mfa_page(csrf: &str, message: Option<&str>) -> String {
    let mut body = String::from("<p>Enter the code your MFA device shows.</p>");
    if let Some(message) = message {
        body.push_str(&error(message));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/console/mfa\">{}\
         <label for=\"code\">MFA code</label><input type=\"text\" id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\
         <button type=\"submit\">Submit</button></form>",
        csrf_field(csrf)
    );
    page("Multi-factor authentication", None, &body)
}

pub(crate) async fn mfa_form<S: Store>(State(console): Shared<S>, headers: HeaderMap) -> Result<Response, Response> {
    let (_, record) = step(&console, &headers).await?;
    Ok(match record.stage {
        Stage::Mfa { .. } => html(StatusCode::OK, mfa_page(&record.csrf, None)),
        _ => redirect(stage_page(&record.stage)),
    })
}

pub(crate) async fn mfa<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (id, mut record) = step(&console, &headers).await?;
    let form = form(&body);
    if !same_token(field(&form, "csrf"), &record.csrf) {
        return Err(bad_csrf());
    }
    let Stage::Mfa { serial } = &record.stage else {
        return Ok(redirect(stage_page(&record.stage)));
    };
    let Ok(account) = Account::new(&record.account) else { return Ok(redirect("/console/signin")) };
    // The user, or the root (no user name) with its device.
    let user = match &record.user {
        Some(name) => match console.identity.get_user(&account, name).await {
            Ok(user) => Some(user),
            Err(_) => return Ok(redirect("/console/signin")),
        },
        None => None,
    };
    let root_arn = Arn::root(account.id()).to_string();
    let who = Some(user.as_ref().map_or(root_arn.as_str(), |u| u.principal.arn.as_str()));
    let mfa_serial = Some(serial.as_str());
    match console.sts.identity().verify_mfa_code(&account, serial, field(&form, "code").trim()).await {
        Ok(true) => console.audit_sign_in(Some(account.id()), who, true, Outcome::Success),
        Ok(false) => {
            let outcome = Outcome::Failure { reason: "mfa_invalid_code", mfa_serial };
            console.audit_sign_in(Some(account.id()), who, true, outcome);
            return Ok(html(StatusCode::UNAUTHORIZED, mfa_page(&record.csrf, Some("The MFA code is not valid."))));
        }
        Err(e) => {
            let reason = e.mfa_rejection().map_or("mfa_invalid_code", |r| r.failure.as_str());
            console.audit_sign_in(Some(account.id()), who, true, Outcome::Failure { reason, mfa_serial });
            return Ok(html(StatusCode::UNAUTHORIZED, mfa_page(&record.csrf, Some(&e.into_service_error().message))));
        }
    }
    record.stage = match &user {
        Some(user) => next_stage(&console, &account, user, false).await,
        None => Stage::Active,
    };
    record.csrf = console.token();
    let cookie = console.rotate(&headers, Some(&id), &record).await?;
    Ok(with_cookie(redirect(stage_page(&record.stage)), cookie))
}

fn change_password_page(csrf: &str, message: Option<&str>) -> String {
    let mut body = String::from("<p>Your password must be changed before you continue.</p>");
    if let Some(message) = message {
        body.push_str(&error(message));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/console/change-password\">{}\
         <label for=\"old\">Current password</label><input type=\"password\" id=\"old\" name=\"old\" required autocomplete=\"current-password\">\
         <label for=\"new\">New password</label><input type=\"password\" id=\"new\" name=\"new\" required autocomplete=\"new-password\">\
         <label for=\"confirm\">Confirm new password</label><input type=\"password\" id=\"confirm\" name=\"confirm\" required autocomplete=\"new-password\">\
         <button type=\"submit\">Confirm password change</button></form>",
        csrf_field(csrf)
    );
    page("Change password", None, &body)
}

pub(crate) async fn change_password_form<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let (_, record) = step(&console, &headers).await?;
    Ok(match record.stage {
        Stage::ChangePassword => html(StatusCode::OK, change_password_page(&record.csrf, None)),
        _ => redirect(stage_page(&record.stage)),
    })
}

pub(crate) async fn change_password<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (id, mut record) = step(&console, &headers).await?;
    let form = form(&body);
    if !same_token(field(&form, "csrf"), &record.csrf) {
        return Err(bad_csrf());
    }
    let (Stage::ChangePassword, Some(name)) = (&record.stage, record.user.clone()) else {
        return Ok(redirect(stage_page(&record.stage)));
    };
    let Ok(account) = Account::new(&record.account) else { return Ok(redirect("/console/signin")) };
    let (old, new) = (field(&form, "old"), field(&form, "new"));
    if new != field(&form, "confirm") {
        return Ok(html(
            StatusCode::BAD_REQUEST,
            change_password_page(&record.csrf, Some("The new passwords do not match.")),
        ));
    }
    // The forced change is a step of the sign-in (AWS allows it whatever the policies say); the
    // identity domain checks the old password and the account's password policy.
    let user = console.identity.get_user(&account, &name).await;
    let caller = user.ok().map(|user| CallerPrincipal {
        arn: user.principal.arn.clone(),
        user_id: user.principal.id.clone(),
        kind: CallerKind::User(std::sync::Arc::new(user)),
        account: account.clone(),
        access_key_id: String::new(),
        source_ip: None,
        session_token: None,
    });
    let changed = console.identity.change_password(&account, &name, old, new).await;
    if let Some(caller) = &caller {
        match &changed {
            Ok(()) => console.audit_action(caller, "iam:ChangePassword", &caller.arn, true),
            Err(e) => console.audit_error(caller, "iam:ChangePassword", &caller.arn, e.code().as_str()),
        }
    }
    if let Err(e) = changed {
        return Ok(html(
            StatusCode::BAD_REQUEST,
            change_password_page(&record.csrf, Some(&e.into_service_error().message)),
        ));
    }
    record.stage = Stage::Active;
    record.csrf = console.token();
    let cookie = console.rotate(&headers, Some(&id), &record).await?;
    Ok(with_cookie(redirect("/console/home"), cookie))
}

pub(crate) async fn sign_out<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let Ok(Some((id, record))) = console.visit(&headers).await else { return Ok(redirect("/console/signin")) };
    if !same_token(field(&form(&body), "csrf"), &record.csrf) {
        return Err(bad_csrf());
    }
    if let Err(e) = session::delete_session(console.store(), &id).await {
        return Err(internal_error("cannot end a session", &e));
    }
    Ok(with_cookie(redirect("/console/signin"), console.expired_cookie(&headers, COOKIE)))
}

// ---- dashboard ----------------------------------------------------------------------------------

pub(crate) async fn home<S: Store>(State(console): Shared<S>, headers: HeaderMap) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    let mut body = format!("<p>Signed in as <strong id=\"signed-in-as\">{}</strong></p>", esc(&signed.caller.arn));
    body.push_str("<section aria-labelledby=\"recs\"><h2 id=\"recs\">Security recommendations</h2>");
    match console.authorize(&signed, "iam:GetAccountSummary", "*").await {
        Err(explanation) => body.push_str(&denied(&explanation)),
        Ok(()) => {
            let summary = match console.identity.get_account_summary(&signed.account).await {
                Ok(summary) => summary,
                Err(e) => {
                    return Err(internal_error("cannot read the account summary", &console.domain_error(e).message));
                }
            };
            let get = |key: &str| summary.get(key).copied().unwrap_or(0);
            let mut recs = Vec::new();
            let root_mfa =
                rec("root-mfa", get("AccountMFAEnabled") == 1, "Add MFA for the root user", "The root user has MFA.");
            // Only the root manages its own device (AWS offers it nowhere else).
            recs.push(match signed.caller.kind {
                CallerKind::Root => format!("{root_mfa} <a href=\"/console/account/mfa\">Root user MFA</a>"),
                _ => root_mfa,
            });
            // GetAccountSummary says only whether the root has keys (`AccountAccessKeysPresent`),
            // not whether they are active; the root's record of them says.
            let root_keys = match root_access_keys(&console, &signed.account).await {
                Ok(keys) => keys,
                Err(e) => return Err(internal_error("cannot read the root's keys", &e)),
            };
            let root_active = root_keys.iter().filter(|k| k.status == KeyStatus::Active).count();
            recs.push(rec(
                "root-keys",
                root_active == 0,
                "Delete the root user's active access keys",
                "The root user has no active access keys.",
            ));
            let policy = match console.authorize(&signed, "iam:GetAccountPasswordPolicy", "*").await {
                Err(explanation) => denied(&explanation),
                Ok(()) => {
                    let set = console.identity.get_account_password_policy(&signed.account).await.is_ok();
                    rec("password-policy", set, "Set an account password policy", "A password policy is set.")
                }
            };
            recs.push(policy);
            let users_arn = signed.user_arn("*");
            let rotation = match console.authorize(&signed, "iam:ListUsers", &users_arn).await {
                Err(explanation) => denied(&explanation),
                Ok(()) => match all_users(&console, &signed.account).await {
                    Err(e) => return Err(internal_error("cannot list users", &console.domain_error(e).message)),
                    Ok(users) => {
                        let cutoff = console.now_millis().saturating_sub(KEY_ROTATION_MILLIS);
                        let stale = users
                            .iter()
                            .flat_map(|u| &u.access_keys)
                            .chain(&root_keys)
                            .filter(|k| k.status == KeyStatus::Active && k.create_date < cutoff)
                            .count();
                        let due = format!("Rotate {stale} active access key(s) older than 90 days");
                        rec("key-rotation", stale == 0, &due, "Every active access key is younger than 90 days.")
                    }
                },
            };
            recs.push(rotation);
            body.push_str("<ul>");
            for item in recs {
                let _ = write!(body, "<li>{item}</li>");
            }
            body.push_str("</ul></section><section aria-labelledby=\"res\"><h2 id=\"res\">IAM resources</h2><dl>");
            for (label, key) in
                [("Users", "Users"), ("User groups", "Groups"), ("Roles", "Roles"), ("Policies", "Policies")]
            {
                let _ = write!(body, "<dt>{label}</dt><dd id=\"count-{}\">{}</dd>", key.to_lowercase(), get(key));
            }
            body.push_str("</dl>");
        }
    }
    body.push_str("</section>");
    Ok(html(StatusCode::OK, signed.frame("IAM Dashboard", &body)))
}

fn rec(id: &str, done: bool, todo: &str, ok: &str) -> String {
    match done {
        true => format!("<span id=\"rec-{id}\" class=\"ok\" data-state=\"ok\">&#10003; {}</span>", esc(ok)),
        false => format!("<span id=\"rec-{id}\" class=\"warn\" data-state=\"todo\">&#9888; {}</span>", esc(todo)),
    }
}

/// The account root's access keys, as the bootstrap records them.
async fn root_access_keys<S: Store>(
    console: &Console<S>,
    account: &Account,
) -> Result<Vec<tessera_store::iam::AccessKeyRecord>, tessera_store::StoreError> {
    let key = tessera_store::Key::new(account.ns(), tessera_store::iam::ROOT_KEYS, "");
    let record: Option<tessera_store::iam::RootKeysRecord> = tessera_store::iam::load(console.store(), &key).await?;
    Ok(record.map(|r| r.keys).unwrap_or_default())
}

pub(crate) async fn all_users<S: Store>(console: &Console<S>, account: &Account) -> Result<Vec<UserRecord>, Error> {
    let mut users = Vec::new();
    let mut marker = None;
    loop {
        let page = console.identity.list_users(account, None, &PageRequest { marker, max_items: Some(1000) }).await?;
        users.extend(page.items);
        match page.marker {
            Some(next) => marker = Some(next),
            None => return Ok(users),
        }
    }
}

// ---- users --------------------------------------------------------------------------------------

pub(crate) async fn users<S: Store>(State(console): Shared<S>, headers: HeaderMap) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    if let Err(explanation) = console.authorize(&signed, "iam:ListUsers", &signed.user_arn("*")).await {
        return Err(html(StatusCode::FORBIDDEN, signed.frame("Users", &denied(&explanation))));
    }
    let users = match all_users(&console, &signed.account).await {
        Ok(users) => users,
        Err(e) => return Err(internal_error("cannot list users", &console.domain_error(e).message)),
    };
    let mut body = String::from("<p><a href=\"/console/users/new\" role=\"button\">Create user</a></p>");
    body.push_str(
        "<table><caption>Users</caption><thead><tr><th scope=\"col\">User name</th><th scope=\"col\">Created</th>\
         <th scope=\"col\">Console access</th><th scope=\"col\">Access keys</th><th scope=\"col\">MFA</th></tr></thead><tbody>",
    );
    for user in &users {
        let name = &user.principal.name;
        let _ = write!(
            body,
            "<tr><td><a href=\"/console/users/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()),
            esc(name),
            millis_date(user.principal.create_date),
            if user.login_profile.is_some() { "Enabled" } else { "-" },
            user.access_keys.len(),
            if user.mfa_devices.is_empty() { "-" } else { "Assigned" },
        );
    }
    body.push_str("</tbody></table>");
    Ok(html(StatusCode::OK, signed.frame("Users", &body)))
}

fn new_user_page(csrf: &str, name: &str, message: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(message) = message {
        body.push_str(&error(message));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/console/users\">{}\
         <label for=\"name\">User name</label><input type=\"text\" id=\"name\" name=\"name\" value=\"{}\" required>\
         <label><input type=\"checkbox\" name=\"console\" value=\"1\"> Provide user access to the console</label>\
         <label for=\"password\">Password</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"new-password\">\
         <label><input type=\"checkbox\" name=\"reset\" value=\"1\"> Users must create a new password at next sign-in</label>\
         <label><input type=\"checkbox\" name=\"key\" value=\"1\"> Create an access key</label>\
         <button type=\"submit\">Create user</button></form>",
        csrf_field(csrf),
        esc(name)
    );
    body
}

pub(crate) async fn new_user_form<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    Ok(html(StatusCode::OK, signed.frame("Create user", &new_user_page(&signed.csrf, "", None))))
}

/// The secret of a new access key, shown this once (never stored by the console; the page is
/// `no-store`).
pub(crate) fn shown_once(key: &tessera_identity::CreatedAccessKey) -> String {
    format!(
        "<section aria-labelledby=\"key-title\"><h2 id=\"key-title\">Access key</h2>\
         <p role=\"status\">This is the only time the secret access key can be viewed. Save it now.</p>\
         <dl><dt>Access key ID</dt><dd class=\"secret\" id=\"access-key-id\">{}</dd>\
         <dt>Secret access key</dt><dd class=\"secret\" id=\"secret-access-key\">{}</dd></dl></section>",
        esc(&key.access_key_id),
        esc(key.secret_access_key.expose())
    ) + &download(key)
}

/// The ".csv" download of a new key, as AWS's console offers it: a `data:` link in the same
/// once-only page (nothing is kept to serve it later).
fn download(key: &tessera_identity::CreatedAccessKey) -> String {
    let csv = format!("Access key ID,Secret access key\n{},{}\n", key.access_key_id, key.secret_access_key.expose());
    let encoded = percent_encoding::utf8_percent_encode(&csv, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!(
        "<p><a id=\"download-key\" download=\"{}_accessKeys.csv\" href=\"data:text/csv;charset=utf-8,{}\">Download .csv file</a></p>",
        esc(&key.user_name),
        esc(&encoded)
    )
}

pub(crate) async fn create_user<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    let form = form(&body);
    if !signed.checks_csrf(&form) {
        return Err(bad_csrf());
    }
    let name = field(&form, "name").trim();
    let (console_access, key) = (field(&form, "console") == "1", field(&form, "key") == "1");
    let arn = signed.user_arn(name);
    let mut actions = vec!["iam:CreateUser"];
    if console_access {
        actions.push("iam:CreateLoginProfile");
    }
    if key {
        actions.push("iam:CreateAccessKey");
    }
    for action in actions {
        if let Err(explanation) = console.authorize(&signed, action, &arn).await {
            return Err(html(StatusCode::FORBIDDEN, signed.frame("Create user", &denied(&explanation))));
        }
    }
    let again = |message: String| {
        html(StatusCode::BAD_REQUEST, signed.frame("Create user", &new_user_page(&signed.csrf, name, Some(&message))))
    };
    let input = CreateUser { path: None, user_name: name.to_owned(), permissions_boundary: None, tags: Vec::new() };
    let user = match console.identity.create_user(&signed.account, input).await {
        Ok(user) => user,
        Err(e) => return Ok(again(console.action_error("iam:CreateUser", e).message)),
    };
    let mut out = format!(
        "<p role=\"status\">User <a href=\"/console/users/{0}\">{0}</a> created.</p>",
        esc(&user.principal.name)
    );
    if console_access {
        let reset = field(&form, "reset") == "1";
        match console.identity.create_login_profile(&signed.account, name, field(&form, "password"), reset).await {
            Ok(_) => out.push_str("<p>Console access enabled.</p>"),
            Err(e) => out.push_str(&error(&format!(
                "Console password not set: {}",
                console.action_error("iam:CreateLoginProfile", e).message
            ))),
        }
    }
    if key {
        match console.identity.create_access_key(&signed.account, name).await {
            Ok(created) => out.push_str(&shown_once(&created)),
            Err(e) => out.push_str(&error(&format!(
                "Access key not created: {}",
                console.action_error("iam:CreateAccessKey", e).message
            ))),
        }
    }
    Ok(html(StatusCode::OK, signed.frame("Create user", &out)))
}

pub(crate) async fn user_detail<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    let user = console.identity.get_user(&signed.account, &name).await;
    let arn = user.as_ref().map(|u| u.principal.arn.clone()).unwrap_or_else(|_| signed.user_arn(&name));
    if let Err(explanation) = console.authorize(&signed, "iam:GetUser", &arn).await {
        return Err(html(StatusCode::FORBIDDEN, signed.frame(&name, &denied(&explanation))));
    }
    let user = match user {
        Ok(user) => user,
        Err(e) => {
            return Ok(html(StatusCode::NOT_FOUND, signed.frame(&name, &error(&console.domain_error(e).message))));
        }
    };
    let mut body = format!(
        "<dl><dt>ARN</dt><dd>{}</dd><dt>Created</dt><dd>{}</dd></dl>",
        esc(&user.principal.arn),
        millis_date(user.principal.create_date)
    );
    let list = |items: &mut dyn Iterator<Item = &String>| {
        let items: Vec<String> = items.map(|i| format!("<li>{}</li>", esc(i))).collect();
        if items.is_empty() { "<p>None.</p>".to_owned() } else { format!("<ul>{}</ul>", items.concat()) }
    };
    let path = seg(&user.principal.name);
    let _ = write!(body, "<p><a href=\"/console/users/{path}/permissions\" role=\"button\">Add permissions</a></p>");
    let _ = write!(body, "<h2>Groups</h2>{}", list(&mut user.groups.iter()));
    let _ = write!(body, "<h2>Attached policies</h2>{}", list(&mut user.principal.attached.iter()));
    let _ = write!(body, "<h2>Inline policies</h2>{}", list(&mut user.principal.inline.iter().map(|(n, _)| n)));
    let _ = write!(body, "<h2>MFA devices</h2>{}", list(&mut user.mfa_devices.iter()));
    let _ = write!(body, "<p><a href=\"/console/users/{path}/mfa\" role=\"button\">Assign MFA device</a></p>");
    body.push_str("<h2>Access keys</h2>");
    if let Err(explanation) = console.authorize(&signed, "iam:ListAccessKeys", &user.principal.arn).await {
        body.push_str(&denied(&explanation));
        return Ok(html(StatusCode::OK, signed.frame(&user.principal.name, &body)));
    }
    let last_used = console.authorize(&signed, "iam:GetAccessKeyLastUsed", &user.principal.arn).await.is_ok();
    let mut rows = Vec::new();
    for key in &user.access_keys {
        // Last used, as GetAccessKeyLastUsed reports it (when the caller may read it).
        let used = match last_used {
            false => "-".to_owned(),
            true => match console.identity.get_access_key_last_used(&signed.account, &key.id).await {
                Ok(used) => match used.last_used_date {
                    Some(at) => format!("{} ({}, {})", millis_date(at), esc(&used.service_name), esc(&used.region)),
                    None => "Never".to_owned(),
                },
                Err(_) => "-".to_owned(),
            },
        };
        let (status, toggle, toggle_label) = match key.status {
            KeyStatus::Active => ("Active", "deactivate", "Deactivate"),
            KeyStatus::Inactive => ("Inactive", "activate", "Activate"),
        };
        let action = format!("/console/users/{path}/access-keys/{}", seg(&key.id));
        let forms = format!(
            "<form method=\"post\" action=\"{action}\">{csrf}<input type=\"hidden\" name=\"op\" value=\"{toggle}\">\
             <button type=\"submit\" aria-label=\"{toggle_label} {id}\">{toggle_label}</button></form>\
             <form method=\"post\" action=\"{action}\">{csrf}<input type=\"hidden\" name=\"op\" value=\"delete\">\
             <button type=\"submit\" aria-label=\"Delete {id}\">Delete</button></form>",
            csrf = csrf_field(&signed.csrf),
            id = esc(&key.id),
        );
        rows.push(vec![esc(&key.id), status.to_owned(), millis_date(key.create_date), used, forms]);
    }
    body.push_str(&table("Access keys", &["Access key ID", "Status", "Created", "Last used", "Actions"], &rows));
    let _ = write!(
        body,
        "<p>To rotate a key: create a new one, move its users to it, deactivate the old one, then delete it.</p>\
         <form method=\"post\" action=\"/console/users/{path}/access-keys\">{}<button type=\"submit\">Create access key</button></form>",
        csrf_field(&signed.csrf)
    );
    Ok(html(StatusCode::OK, signed.frame(&user.principal.name, &body)))
}

pub(crate) async fn create_access_key<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: String,
) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    if !signed.checks_csrf(&form(&body)) {
        return Err(bad_csrf());
    }
    let arn = match console.identity.get_user(&signed.account, &name).await {
        Ok(user) => user.principal.arn,
        Err(_) => signed.user_arn(&name),
    };
    if let Err(explanation) = console.authorize(&signed, "iam:CreateAccessKey", &arn).await {
        return Err(html(StatusCode::FORBIDDEN, signed.frame("Create access key", &denied(&explanation))));
    }
    Ok(match console.identity.create_access_key(&signed.account, &name).await {
        Ok(created) => {
            let back = format!("<p><a href=\"/console/users/{0}\">Back to {0}</a></p>", esc(&name));
            html(StatusCode::OK, signed.frame("Create access key", &(shown_once(&created) + &back)))
        }
        Err(e) => {
            html(StatusCode::BAD_REQUEST, signed.frame("Create access key", &error(&console.domain_error(e).message)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_cookies_parse() {
        let parsed = form("a=1&user=al%20ice+b&csrf=x%26y&flag");
        assert_eq!(parsed["user"], "al ice b");
        assert_eq!(parsed["csrf"], "x&y");
        assert_eq!(parsed["flag"], "");
        assert_eq!(form("a=1&a=2")["a"], "1", "the first value wins");
        assert!(form("user=%zz&csrf=t").is_empty(), "a garbled body reads as empty");
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=b; tessera-console=abc; c=d"));
        assert_eq!(cookie(&headers, COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, SIGN_IN_COOKIE), None);
        assert!(!same_token("", ""), "an empty token never matches");
    }

    #[test]
    fn multipart_bodies_parse_and_garbage_reads_as_empty() {
        let body = "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nt0k\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"metadata\"; filename=\"idp.xml\"\r\n\
                    Content-Type: text/xml\r\n\r\n<a>\r\n--b</a>\r\n--XyZ--\r\n";
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("multipart/form-data; boundary=\"XyZ\""));
        let parsed = fields(&headers, body.as_bytes());
        assert_eq!((parsed["csrf"].as_str(), parsed["metadata"].as_str()), ("t0k", "<a>\r\n--b</a>"));
        assert!(multipart("XyZ", b"--XyZ\r\nno headers end").is_none());
        let mut binary = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n".to_vec();
        binary.extend_from_slice(b"\xff\xfe\r\n--XyZ--");
        assert!(multipart("XyZ", &binary).is_none(), "a part that is not UTF-8");
        assert!(multipart("XyZ", b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv").is_none());
        let many: String =
            (0..20).map(|i| format!("--B\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nv\r\n")).collect();
        assert!(multipart("B", format!("{many}--B--").as_bytes()).is_none(), "too many parts");
        assert!(fields(&headers, b"csrf=t0k").is_empty(), "not multipart as declared");
        let mut plain = HeaderMap::new();
        plain.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        assert_eq!(fields(&plain, b"csrf=t0k&op=delete")["op"], "delete");
        assert!(fields(&plain, &[0xff, 0xfe]).is_empty());
    }
}
