//! "Switch role", as AWS's console does it: account, role name, display name and colour. The
//! console session becomes the role session the token service's AssumeRole issues for the
//! signed-in user (trust policy, the user's permissions, issuing stops: the one issuing path);
//! every page then acts as that session until "Back to <user>".

use std::fmt::Write as _;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tessera_arn::{Arn, IamEntity};
use tessera_store::Store;
use tessera_sts::AssumeRole;

use crate::html::{COLOURS, csrf_field, error, esc};
use crate::pages::{Shared, Signed, field, form as parse_form, redirect_to, with_cookie};
use crate::session::RoleSession;

/// The most characters of a display name, as AWS's console allows.
const MAX_DISPLAY_NAME: usize = 64;

fn switch_page(
    signed: &Signed,
    account: &str,
    role: &str,
    display: &str,
    colour: &str,
    message: Option<&str>,
) -> String {
    let mut body = String::from(
        "<p>Switch to a role to act with its permissions in this console. The role's trust policy \
         must allow you, and your permissions must allow <code>sts:AssumeRole</code> on it.</p>",
    );
    if let Some(message) = message {
        body.push_str(&error(message));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/console/switch-role\">{}\
         <label for=\"account\">Account ID</label><input type=\"text\" id=\"account\" name=\"account\" value=\"{}\" required>\
         <label for=\"role\">Role name</label><input type=\"text\" id=\"role\" name=\"role\" value=\"{}\" required>\
         <label for=\"display\">Display name</label><input type=\"text\" id=\"display\" name=\"display\" value=\"{}\" maxlength=\"{MAX_DISPLAY_NAME}\">\
         <fieldset><legend>Colour</legend>",
        csrf_field(&signed.csrf),
        esc(account),
        esc(role),
        esc(display),
    );
    for (name, css) in COLOURS {
        let checked = if name == colour { " checked" } else { "" };
        let _ = write!(
            body,
            "<label style=\"border-left:1.2rem solid {css};padding-left:.4rem\">\
             <input type=\"radio\" name=\"colour\" value=\"{name}\"{checked}> {name}</label>"
        );
    }
    body.push_str("</fieldset><button type=\"submit\">Switch role</button></form>");
    body
}

pub(crate) async fn form_page<S: Store>(
    console: &crate::Console<S>,
    headers: &HeaderMap,
    query: &str,
) -> Result<Response, Response> {
    let signed = console.signed_in(headers).await?;
    let query = parse_form(query);
    let account = match field(&query, "account") {
        "" => signed.account.id().to_owned(),
        other => other.to_owned(),
    };
    let role = field(&query, "roleName");
    let display = match field(&query, "displayName") {
        "" => role.to_owned(),
        other => other.to_owned(),
    };
    Ok(signed.ok("Switch role", &switch_page(&signed, &account, role, &display, "blue", None)))
}

pub(crate) async fn form<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    form_page(&console, &headers, query.as_deref().unwrap_or("")).await
}

pub(crate) async fn switch<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    let (account, role) = (field(&form, "account").trim(), field(&form, "role").trim());
    let display = match field(&form, "display").trim() {
        "" => format!("{role} @ {account}"),
        other => other.chars().take(MAX_DISPLAY_NAME).collect(),
    };
    let colour = match field(&form, "colour") {
        c if COLOURS.iter().any(|(name, _)| *name == c) => c.to_owned(),
        _ => "blue".to_owned(),
    };
    let again = |message: &str| {
        signed.status(
            StatusCode::FORBIDDEN,
            "Switch role",
            &switch_page(&signed, account, role, &display, &colour, Some(message)),
        )
    };
    let Some(record) = console.record(&signed.id).await else { return Ok(again("Your session has ended.")) };
    // AWS's console assumes the role as the signed-in user, not from a role session.
    let Some(user) = record.user.clone() else { return Ok(again("Roles may not be assumed by root accounts.")) };
    let role_arn = Arn::iam("aws", account, &IamEntity::Role { path: "/".into(), name: role.into() }).to_string();
    let input = AssumeRole {
        role_arn: role_arn.clone(),
        role_session_name: user.clone(),
        duration_seconds: Some(3600),
        ..AssumeRole::default()
    };
    // The user, not the role session the console may already be in (switching from a role goes
    // through the user, as AWS's console does).
    let assumed = match console.sts.assume_role(signed.user(), input).await {
        Ok(assumed) => assumed,
        Err(e) => {
            let e = e.into_service_error();
            console.audit_switch(signed.user(), &role_arn, None, Some(e.code.as_str()));
            return Ok(again(&e.message));
        }
    };
    // CloudTrail's SwitchRole, as the role session: the role is used from here on.
    let credentials = tessera_sts::CallerCredentials {
        access_key_id: assumed.credentials.access_key_id.clone(),
        session_token: Some(assumed.credentials.session_token.expose().to_owned()),
        source_ip: None,
    };
    let session = console.sts.resolve_caller(&credentials).await.ok();
    console.audit_switch(signed.user(), &role_arn, session.as_ref(), None);
    let mut record = record;
    record.role = Some(RoleSession {
        role_arn,
        display_name: display.clone(),
        colour,
        access_key_id: assumed.credentials.access_key_id.clone(),
        session_token: assumed.credentials.session_token.expose().to_owned(),
    });
    record.csrf = console.token();
    let cookie = console.reissue(&headers, &signed.id, &record).await?;
    Ok(with_cookie(redirect_to("/console/home".to_owned()), cookie))
}

/// "Back to <user>": the console session is the user's again.
pub(crate) async fn back<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (signed, _) = console.posted(&headers, &body).await?;
    let Some(mut record) = console.record(&signed.id).await else {
        return Ok(redirect_to("/console/signin".to_owned()));
    };
    record.role = None;
    record.csrf = console.token();
    let cookie = console.reissue(&headers, &signed.id, &record).await?;
    Ok(with_cookie(redirect_to("/console/home".to_owned()), cookie))
}
