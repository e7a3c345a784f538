//! What Tessera knows beyond AWS's console, and the account-wide pages: the policy simulator
//! (the one decision path's explanation), live sessions and their revocation, the activity
//! (audit trail and last-accessed services), account settings (the account alias and the
//! password policy) and the credential report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use tessera_arn::{Arn, IamEntity};
use tessera_identity::UpdatePasswordPolicy;
use tessera_policy::{ContextEntry, SimulateInput, simulate as run_simulation};
use tessera_store::Store;
use tessera_store::iam::EntityKind;

use crate::Console;
use crate::html::{csrf_field, denied, error, esc};
use crate::pages::{Form, Shared, Signed, field, millis_date, redirect_to, table};
use crate::session;

// ---- policy simulator ---------------------------------------------------------------------------

fn simulator_page(signed: &Signed, form: &Form, result: &str) -> String {
    let get = |name: &str| esc(field(form, name));
    format!(
        "<p>Simulate requests against a principal's policies and/or pasted policies: the decision \
         and the reason come from the same evaluation that decides real requests.</p>\
         <form method=\"post\" action=\"/console/simulator\">{}\
         <label for=\"principal\">Principal ARN</label><input type=\"text\" id=\"principal\" name=\"principal\" value=\"{}\" \
         aria-describedby=\"principal-hint\"><small id=\"principal-hint\">A user, group or role of this account; its policies are simulated. Optional.</small>\
         <label for=\"policy\">Policy document</label><textarea id=\"policy\" name=\"policy\" spellcheck=\"false\">{}</textarea>\
         <label for=\"actions\">Actions</label><input type=\"text\" id=\"actions\" name=\"actions\" value=\"{}\" required \
         aria-describedby=\"actions-hint\"><small id=\"actions-hint\">Separated by spaces or commas, as in iam:CreateUser.</small>\
         <label for=\"resources\">Resources</label><input type=\"text\" id=\"resources\" name=\"resources\" value=\"{}\">\
         <label for=\"context\">Context keys</label><textarea id=\"context\" name=\"context\" spellcheck=\"false\" \
         aria-describedby=\"context-hint\" style=\"min-height:4rem\">{}</textarea>\
         <small id=\"context-hint\">One per line: key=value (values separated by commas for a list).</small>\
         <button type=\"submit\">Run simulation</button></form>{result}",
        csrf_field(&signed.csrf),
        get("principal"),
        get("policy"),
        get("actions"),
        get("resources"),
        get("context"),
    )
}

pub(crate) async fn simulator_form<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    Ok(signed.ok("Policy simulator", &simulator_page(&signed, &Form::new(), "")))
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// The principal a simulation is for: its kind and name, from its ARN in this account.
fn principal_entity(signed: &Signed, arn: &str) -> Option<(EntityKind, String)> {
    let parsed = Arn::parse(arn).ok()?;
    if parsed.account != signed.account.id() {
        return None;
    }
    match parsed.entity().ok()? {
        IamEntity::User { name, .. } => Some((EntityKind::User, name)),
        IamEntity::Group { name, .. } => Some((EntityKind::Group, name)),
        IamEntity::Role { name, .. } => Some((EntityKind::Role, name)),
        _ => None,
    }
}

pub(crate) async fn simulate_post<S: Store>(
    console: &Console<S>,
    headers: &HeaderMap,
    body: &str,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(headers, body).await?;
    let title = "Policy simulator";
    let principal = field(&form, "principal").trim();
    let mut input = SimulateInput::default();
    if principal.is_empty() {
        console.permit(&signed, title, "iam:SimulateCustomPolicy", "*").await?;
        input.resource_owner = Some(signed.account.id().to_owned());
    } else {
        console.permit(&signed, title, "iam:SimulatePrincipalPolicy", principal).await?;
        let Some((kind, name)) = principal_entity(&signed, principal) else {
            let message = error("The principal must be the ARN of a user, group or role of this account.");
            return Err(signed.status(StatusCode::BAD_REQUEST, title, &simulator_page(&signed, &form, &message)));
        };
        match console.policies.principal_policies(&signed.account, kind, &name).await {
            Ok(policies) => {
                input.policy_input_list = policies.identity.into_iter().map(|p| p.document).collect();
                input.permissions_boundary_policy_input_list = policies.boundary.map(|(_, d)| d).into_iter().collect();
            }
            Err(e) => {
                let message = error(&console.domain_error(e).message);
                return Err(signed.status(StatusCode::BAD_REQUEST, title, &simulator_page(&signed, &form, &message)));
            }
        }
        if kind == EntityKind::User {
            input.caller_arn = Some(principal.to_owned());
        } else {
            input.resource_owner = Some(signed.account.id().to_owned());
        }
    }
    let pasted = field(&form, "policy").trim();
    if !pasted.is_empty() {
        input.policy_input_list.push(pasted.to_owned());
    }
    input.action_names = words(field(&form, "actions"));
    let resources = words(field(&form, "resources"));
    input.resource_arns = (!resources.is_empty()).then_some(resources);
    input.context_entries = field(&form, "context")
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, values)| {
            let values: Vec<String> = values.split(',').map(|v| v.trim().to_owned()).collect();
            ContextEntry {
                context_key_name: key.trim().to_owned(),
                context_key_type: Some(if values.len() > 1 { "stringList" } else { "string" }.to_owned()),
                context_key_values: values,
            }
        })
        .collect();
    let output = match run_simulation(&input) {
        Ok(output) => output,
        Err(e) => {
            let message = error(&e.message);
            return Err(signed.status(StatusCode::BAD_REQUEST, title, &simulator_page(&signed, &form, &message)));
        }
    };
    let mut rows = Vec::new();
    for result in output["EvaluationResults"].as_array().into_iter().flatten() {
        let text = |v: &Value| esc(v.as_str().unwrap_or(""));
        let decision = result["EvalDecision"].as_str().unwrap_or("");
        let class = if decision == "allowed" { "ok" } else { "warn" };
        let matched: Vec<String> = result["MatchedStatements"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                format!(
                    "{} {} (line {})",
                    text(&m["SourcePolicyId"]),
                    text(&m["Effect"]),
                    m["StartPosition"]["Line"].as_u64().unwrap_or(0)
                )
            })
            .collect();
        rows.push(vec![
            text(&result["EvalActionName"]),
            text(&result["EvalResourceName"]),
            format!("<span class=\"{class}\" data-decision=\"{0}\">{0}</span>", esc(decision)),
            text(&result["Explanation"]["Reason"]),
            esc(&matched.join("; ")),
        ]);
    }
    let result = format!(
        "<section aria-labelledby=\"results\" id=\"simulation\"><h2 id=\"results\">Results</h2>{}</section>",
        table("Simulation results", &["Action", "Resource", "Decision", "Explanation", "Matched statements"], &rows)
    );
    Ok(signed.ok(title, &simulator_page(&signed, &form, &result)))
}

pub(crate) async fn simulate<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    simulate_post(&console, &headers, &body).await
}

// ---- sessions -----------------------------------------------------------------------------------

fn secs_date(secs: u64) -> String {
    tessera_authorizer::format_time(secs)
}

fn revoke_button(csrf: &str, kind: &str, target: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/console/sessions\">{}<input type=\"hidden\" name=\"kind\" value=\"{kind}\">\
         <input type=\"hidden\" name=\"target\" value=\"{}\"><button type=\"submit\" aria-label=\"{} {}\">{label}</button></form>",
        csrf_field(csrf),
        esc(target),
        esc(label),
        esc(target),
    )
}

/// The live sessions of the account: the token service's (role sessions, federated users,
/// GetSessionToken) and the console's sign-ins, with their revocation controls. Authorized as
/// `sts:ListRevocations` (Tessera's read of the revocation state; AWS has no such page).
pub(crate) async fn sessions<S: Store>(State(console): Shared<S>, headers: HeaderMap) -> Result<Response, Response> {
    let title = "Sessions";
    let signed = console.allowed(&headers, title, "sts:ListRevocations", "*").await?;
    let live = match console.sts.live_sessions(&signed.account).await {
        Ok(live) => live,
        Err(e) => {
            return Err(signed.status(
                StatusCode::INTERNAL_SERVER_ERROR,
                title,
                &error(&console.domain_error(e).message),
            ));
        }
    };
    let csrf = &signed.csrf;
    let rows: Vec<Vec<String>> = live
        .iter()
        .map(|s| {
            let mut actions = revoke_button(csrf, "session", &s.session_id, "Revoke session");
            if let Some(role) = &s.role_arn {
                actions.push_str(&revoke_button(csrf, "role", role, "Revoke all sessions of the role"));
            }
            vec![
                esc(&s.principal_arn),
                esc(s.role_arn.as_deref().unwrap_or("-")),
                esc(s.source_user_arn.as_deref().unwrap_or("-")),
                secs_date(s.issued_at),
                secs_date(s.expires_at),
                actions,
            ]
        })
        .collect();
    let mut body =
        table("Temporary credentials", &["Principal", "Role", "Started by", "Issued", "Expires", "Actions"], &rows);
    // The console's own sign-ins in this account.
    let now = console.now_millis();
    let idle = console.settings.idle_timeout.as_millis() as u64;
    let signins = match session::all_sessions(console.store()).await {
        Ok(all) => all,
        Err(e) => return Err(signed.status(StatusCode::INTERNAL_SERVER_ERROR, title, &error(&e.to_string()))),
    };
    let mut rows = Vec::new();
    for (hash, record) in signins {
        if record.account != signed.account.id()
            || record.stage != session::Stage::Active
            || now.saturating_sub(record.last_seen) > idle
        {
            continue;
        }
        let who = match &record.user {
            Some(user) => signed.user_arn(user),
            None => Arn::root(signed.account.id()).to_string(),
        };
        if console.sts.principal_revoked(&who, record.created.saturating_mul(1000)) {
            continue;
        }
        let role = record.role.as_ref().map_or_else(|| "-".to_owned(), |r| esc(&r.role_arn));
        let actions = revoke_button(csrf, "console", &hash, "Sign out this session")
            + &revoke_button(csrf, "principal", &who, "Revoke all sessions of the principal");
        rows.push(vec![esc(&who), role, millis_date(record.created), millis_date(record.last_seen), actions]);
    }
    body.push_str(&table(
        "Console sessions",
        &["Principal", "Switched to role", "Signed in", "Last seen", "Actions"],
        &rows,
    ));
    let _ = write!(
        body,
        "<h2>Revoke sessions</h2><form method=\"post\" action=\"/console/sessions\">{}\
         <input type=\"hidden\" name=\"kind\" value=\"principal\">\
         <label for=\"principal-arn\">Principal ARN</label><input type=\"text\" id=\"principal-arn\" name=\"target\" required>\
         <button type=\"submit\">Revoke all sessions of principal</button></form>\
         <form method=\"post\" action=\"/console/sessions\">{}<input type=\"hidden\" name=\"kind\" value=\"role\">\
         <label for=\"role-arn\">Role ARN</label><input type=\"text\" id=\"role-arn\" name=\"target\" required>\
         <button type=\"submit\">Revoke all sessions of role</button></form>",
        csrf_field(csrf),
        csrf_field(csrf)
    );
    Ok(signed.ok(title, &body))
}

/// Revokes one session, every session of a role or of a principal (through the token service's
/// revocation, which every replica applies), or signs out one console session.
pub(crate) async fn revoke<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    let title = "Sessions";
    let target = field(&form, "target").trim();
    let (action, resource) = match field(&form, "kind") {
        "session" | "console" => ("sts:RevokeSession", "*"),
        "role" => ("sts:RevokeRoleSessions", target),
        "principal" => ("sts:RevokePrincipalSessions", target),
        _ => return Err(signed.status(StatusCode::BAD_REQUEST, title, &error("Unknown revocation."))),
    };
    console.permit(&signed, title, action, resource).await?;
    let account = &signed.account;
    let done = match field(&form, "kind") {
        "console" => {
            // Only a session of this account.
            match session::all_sessions(console.store()).await {
                Ok(all) if all.iter().any(|(hash, r)| hash == target && r.account == account.id()) => {
                    session::delete_session_by_hash(console.store(), target).await.map_err(|e| e.to_string())
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }
        "session" => console
            .sts
            .revoke_session(account, target, signed.by())
            .await
            .map(|_| ())
            .map_err(|e| console.domain_error(e).message),
        "role" => console
            .sts
            .revoke_role_sessions(account, target, None, signed.by())
            .await
            .map(|_| ())
            .map_err(|e| console.domain_error(e).message),
        _ => console
            .sts
            .revoke_principal_sessions(account, target, None, signed.by())
            .await
            .map(|_| ())
            .map_err(|e| console.domain_error(e).message),
    };
    Ok(match done {
        Ok(()) => redirect_to("/console/sessions".to_owned()),
        Err(message) => signed.status(StatusCode::BAD_REQUEST, title, &error(&message)),
    })
}

// ---- activity -----------------------------------------------------------------------------------

/// `YYYY-MM-DDTHH:MM` (a `datetime-local` input, UTC) as unix milliseconds.
fn parse_minute(text: &str) -> Option<u64> {
    let (date, clock) = text.trim().split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut c = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min) = (c.next()??, c.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || !(0..24).contains(&h) || !(0..60).contains(&min) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from((days * 86_400 + h * 3600 + min * 60) * 1000).ok()
}

/// The audit trail, filtered by principal, action, decision and time (newest first, at most
/// 200), and the principal's last-accessed services. Authorized as CloudTrail's `LookupEvents`.
pub(crate) async fn activity<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, Response> {
    let title = "Activity";
    let signed = console.allowed(&headers, title, "cloudtrail:LookupEvents", "*").await?;
    let query = crate::pages::form(query.as_deref().unwrap_or(""));
    let get = |name: &str| field(&query, name).trim().to_owned();
    let (principal, action, decision, from, to) =
        (get("principal"), get("action"), get("decision"), get("from"), get("to"));
    let option = |value: &str, label: &str| {
        let selected = if decision == value { " selected" } else { "" };
        format!("<option value=\"{value}\"{selected}>{label}</option>")
    };
    let mut body = format!(
        "<form method=\"get\" action=\"/console/activity\">\
         <label for=\"principal\">Principal ARN</label><input type=\"text\" id=\"principal\" name=\"principal\" value=\"{}\">\
         <label for=\"action\">Action</label><input type=\"text\" id=\"action\" name=\"action\" value=\"{}\">\
         <label for=\"decision\">Decision</label><select id=\"decision\" name=\"decision\">{}{}{}{}</select>\
         <label for=\"from\">From (UTC)</label><input type=\"datetime-local\" id=\"from\" name=\"from\" value=\"{}\">\
         <label for=\"to\">To (UTC)</label><input type=\"datetime-local\" id=\"to\" name=\"to\" value=\"{}\">\
         <button type=\"submit\">Filter</button></form>",
        esc(&principal),
        esc(&action),
        option("", "Any"),
        option("allowed", "Allowed"),
        option("denied", "Denied"),
        option("error", "Error"),
        esc(&from),
        esc(&to),
    );
    let Some(dir) = &console.settings.audit_dir else {
        body.push_str("<p>This server keeps no audit trail.</p>");
        return Ok(signed.ok(title, &body));
    };
    let filter = tessera_gateway::audit::Filter {
        principal_arn: (!principal.is_empty()).then(|| principal.clone()),
        action: (!action.is_empty()).then(|| action.clone()),
        since: parse_minute(&from),
        until: parse_minute(&to).map(|t| t + 59_999),
    };
    let events = match tessera_gateway::audit::query(dir, &filter) {
        Ok(events) => events,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(signed.status(StatusCode::INTERNAL_SERVER_ERROR, title, &error(&e.to_string()))),
    };
    let account = signed.account.id();
    let events: Vec<_> = events
        .into_iter()
        .filter(|e| e.account.as_deref() == Some(account))
        .filter(|e| decision.is_empty() || e.decision == decision)
        .collect();
    // Last accessed services: the newest allowed request per principal and service.
    let mut last: BTreeMap<(String, String), u64> = BTreeMap::new();
    for event in events.iter().filter(|e| e.decision == "allowed") {
        let (Some(who), Some((service, _))) = (&event.principal_arn, event.action.split_once(':')) else { continue };
        let slot = last.entry((who.clone(), service.to_owned())).or_default();
        *slot = (*slot).max(event.time);
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .rev()
        .take(200)
        .map(|e| {
            vec![
                millis_date(e.time),
                esc(e.principal_arn.as_deref().unwrap_or("-")),
                esc(&e.action),
                esc(e.resource.as_deref().unwrap_or("-")),
                esc(&e.decision),
                esc(e.error_code.as_deref().unwrap_or("")),
                esc(&e.source_ip),
            ]
        })
        .collect();
    body.push_str(&table(
        "Events (newest first)",
        &["Time", "Principal", "Action", "Resource", "Decision", "Error", "Source IP"],
        &rows,
    ));
    let rows: Vec<Vec<String>> =
        last.iter().map(|((who, service), at)| vec![esc(who), esc(service), millis_date(*at)]).collect();
    body.push_str(&table("Last accessed services", &["Principal", "Service", "Last accessed"], &rows));
    Ok(signed.ok(title, &body))
}

// ---- account settings, credential report --------------------------------------------------------

fn password_policy_form(signed: &Signed, policy: Option<&tessera_store::iam::PasswordPolicyRecord>) -> String {
    let number = |v: Option<u32>| v.map_or_else(String::new, |v| v.to_string());
    let check = |id: &str, label: &str, on: bool| {
        let checked = if on { " checked" } else { "" };
        format!("<label><input type=\"checkbox\" name=\"{id}\" value=\"1\"{checked}> {label}</label>")
    };
    let p = policy;
    format!(
        "<form method=\"post\" action=\"/console/account\">{}\
         <label for=\"min-length\">Minimum password length</label><input type=\"text\" inputmode=\"numeric\" id=\"min-length\" name=\"min_length\" value=\"{}\">\
         {}{}{}{}{}\
         <label for=\"max-age\">Password expiration (days)</label><input type=\"text\" inputmode=\"numeric\" id=\"max-age\" name=\"max_age\" value=\"{}\">\
         <label for=\"reuse\">Prevent password reuse (remembered passwords)</label><input type=\"text\" inputmode=\"numeric\" id=\"reuse\" name=\"reuse\" value=\"{}\">\
         {}<button type=\"submit\">Save changes</button></form>",
        csrf_field(&signed.csrf),
        number(p.map(|p| p.minimum_password_length).or(Some(8))),
        check("upper", "Require at least one uppercase letter", p.is_some_and(|p| p.require_uppercase_characters)),
        check("lower", "Require at least one lowercase letter", p.is_some_and(|p| p.require_lowercase_characters)),
        check("numbers", "Require at least one number", p.is_some_and(|p| p.require_numbers)),
        check("symbols", "Require at least one non-alphanumeric character", p.is_some_and(|p| p.require_symbols)),
        check("change", "Allow users to change their own password", p.is_none_or(|p| p.allow_users_to_change_password)),
        number(p.map(|p| p.max_password_age).filter(|a| *a > 0)),
        number(p.map(|p| p.password_reuse_prevention).filter(|a| *a > 0)),
        check("hard", "Prevent password reset after expiry (administrator reset)", p.is_some_and(|p| p.hard_expiry)),
    )
}

pub(crate) async fn account_settings<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let title = "Account settings";
    let signed = console.signed_in(&headers).await?;
    let mut body = format!("<dl><dt>Account ID</dt><dd id=\"account-id\">{}</dd></dl>", esc(signed.account.id()));
    body.push_str(&alias_section(&console, &signed).await);
    body.push_str("<h2>Password policy</h2>");
    match console.authorize(&signed, "iam:GetAccountPasswordPolicy", "*").await {
        Err(explanation) => body.push_str(&denied(&explanation)),
        Ok(()) => {
            let policy = console.identity.get_account_password_policy(&signed.account).await.ok();
            if policy.is_none() {
                body.push_str(
                    "<p id=\"no-password-policy\">This account has no password policy: IAM's defaults apply.</p>",
                );
            }
            body.push_str(&password_policy_form(&signed, policy.as_ref()));
        }
    }
    Ok(signed.ok(title, &body))
}

/// The account alias (`iam:ListAccountAliases`): the alias with its "Delete alias" button, or
/// the form that creates one (an account has one alias at most, as on AWS).
async fn alias_section<S: Store>(console: &Console<S>, signed: &Signed) -> String {
    let mut out = String::from("<section aria-labelledby=\"alias-title\"><h2 id=\"alias-title\">Account alias</h2>");
    if let Err(explanation) = console.authorize(signed, "iam:ListAccountAliases", "*").await {
        out.push_str(&denied(&explanation));
        out.push_str("</section>");
        return out;
    }
    let page = tessera_identity::PageRequest { marker: None, max_items: Some(1) };
    let alias = match console.identity.list_account_aliases(&signed.account, &page).await {
        Ok(page) => page.items.into_iter().next(),
        Err(e) => {
            out.push_str(&error(&console.domain_error(e).message));
            out.push_str("</section>");
            return out;
        }
    };
    let csrf = csrf_field(&signed.csrf);
    match &alias {
        Some(alias) => {
            let _ = write!(
                out,
                "<dl><dt>Alias</dt><dd id=\"account-alias\">{0}</dd></dl>\
                 <form method=\"post\" action=\"/console/account/alias\">{csrf}<input type=\"hidden\" name=\"op\" value=\"delete\">\
                 <input type=\"hidden\" name=\"alias\" value=\"{0}\"><button type=\"submit\">Delete alias</button></form>",
                esc(alias)
            );
        }
        None => {
            let _ = write!(
                out,
                "<p id=\"no-account-alias\">This account has no alias.</p>\
                 <form method=\"post\" action=\"/console/account/alias\">{csrf}<input type=\"hidden\" name=\"op\" value=\"create\">\
                 <label for=\"alias\">Preferred alias</label><input type=\"text\" id=\"alias\" name=\"alias\" required maxlength=\"63\">\
                 <button type=\"submit\">Create alias</button></form>"
            );
        }
    }
    out.push_str("</section>");
    out
}

/// "Create alias" (`iam:CreateAccountAlias`) and "Delete alias" (`iam:DeleteAccountAlias`); the
/// domain's AWS error (an invalid or taken alias, one already set) above the page's forms.
pub(crate) async fn account_alias<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let title = "Account settings";
    let (signed, form) = console.posted(&headers, &body).await?;
    let alias = field(&form, "alias").trim();
    let done = match field(&form, "op") {
        "create" => {
            console.permit(&signed, title, "iam:CreateAccountAlias", "*").await?;
            console.identity.create_account_alias(&signed.account, alias).await
        }
        "delete" => {
            console.permit(&signed, title, "iam:DeleteAccountAlias", "*").await?;
            console.identity.delete_account_alias(&signed.account, alias).await
        }
        _ => return Err(signed.status(StatusCode::BAD_REQUEST, title, &error("Unknown action."))),
    };
    match done {
        Ok(()) => Ok(redirect_to("/console/account".to_owned())),
        Err(e) => {
            let body = error(&console.domain_error(e).message) + &alias_section(&console, &signed).await;
            Err(signed.status(StatusCode::BAD_REQUEST, title, &body))
        }
    }
}

pub(crate) async fn update_password_policy<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let title = "Account settings";
    let (signed, form) = console.posted_allowed(&headers, &body, title, "iam:UpdateAccountPasswordPolicy", "*").await?;
    let number = |name: &str| -> Result<Option<i32>, String> {
        match field(&form, name).trim() {
            "" => Ok(None),
            text => text.parse().map(Some).map_err(|_| format!("{text} is not a number.")),
        }
    };
    let on = |name: &str| Some(field(&form, name) == "1");
    let input = match (number("min_length"), number("max_age"), number("reuse")) {
        (Ok(min), Ok(age), Ok(reuse)) => UpdatePasswordPolicy {
            minimum_password_length: min,
            require_symbols: on("symbols"),
            require_numbers: on("numbers"),
            require_uppercase_characters: on("upper"),
            require_lowercase_characters: on("lower"),
            allow_users_to_change_password: on("change"),
            max_password_age: age,
            password_reuse_prevention: reuse,
            hard_expiry: on("hard"),
        },
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => {
            return Err(signed.status(StatusCode::BAD_REQUEST, title, &error(&e)));
        }
    };
    Ok(match console.identity.update_account_password_policy(&signed.account, input).await {
        Ok(()) => redirect_to("/console/account".to_owned()),
        Err(e) => signed.status(StatusCode::BAD_REQUEST, title, &error(&console.domain_error(e).message)),
    })
}

pub(crate) async fn credential_report<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let title = "Credential report";
    let signed = console.allowed(&headers, title, "iam:GetCredentialReport", "*").await?;
    let mut body = format!(
        "<form method=\"post\" action=\"/console/credential-report\">{}<button type=\"submit\">Generate report</button></form>",
        csrf_field(&signed.csrf)
    );
    match console.identity.get_credential_report(&signed.account).await {
        Err(_) => body.push_str("<p>No report yet: generate one.</p>"),
        Ok(report) => {
            let _ = write!(body, "<p>Generated {}.</p>", millis_date(report.generated));
            let mut lines = report.csv.lines();
            let columns: Vec<String> = lines.next().unwrap_or("").split(',').map(str::to_owned).collect();
            let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
            let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(esc).collect()).collect();
            body.push_str(&table("Credential report", &columns, &rows));
        }
    }
    Ok(signed.ok(title, &body))
}

pub(crate) async fn generate_report<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let title = "Credential report";
    let (signed, _) = console.posted_allowed(&headers, &body, title, "iam:GenerateCredentialReport", "*").await?;
    Ok(match console.identity.generate_credential_report(&signed.account).await {
        Ok(_) => redirect_to("/console/credential-report".to_owned()),
        Err(e) => signed.status(StatusCode::BAD_REQUEST, title, &error(&console.domain_error(e).message)),
    })
}
