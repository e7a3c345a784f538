//! IAM Access Analyzer in the console (issue 17): unused-access analyzers and their findings with
//! the evidence, policy validation (paste a policy, see its findings) and policy generation for a
//! principal (start a job, then read the generated policy and its proof).
//!
//! Every action is authorized as the Access Analyzer operation it performs
//! (`access-analyzer:CreateAnalyzer`, `ListFindingsV2`, `UpdateFindings`, `ValidatePolicy`,
//! `StartPolicyGeneration`, `GetGeneratedPolicy`, on the analyzer's ARN or `*` as the gateway
//! does) and then run by the gateway's own code (`tessera_gateway::least_privilege`), so the
//! console shows what `aws accessanalyzer` answers.

use std::fmt::Write as _;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use tessera_gateway::least_privilege::{self, Input, Op, Scope};
use tessera_policy::PolicyKind;
use tessera_policy::analysis::api::ApiError;
use tessera_store::Store;

use crate::Console;
use crate::html::{csrf_field, error, esc};
use crate::pages::{Form, Shared, Signed, field, form, millis_date, redirect_to, seg, table};
use crate::policies::findings_list;

use crate::REGION;
const TITLE: &str = "Access Analyzer";

fn status_of(error: &ApiError) -> StatusCode {
    StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Authorizes `op` for the caller (on the resource the gateway would use), then runs it with the
/// gateway's code. A refusal is the "Not authorized" page titled `title`; a failure, its message.
async fn act<S: Store>(
    console: &Console<S>,
    signed: &Signed,
    title: &str,
    op: Op,
    input: Input,
) -> Result<Value, Response> {
    let account = signed.account.id();
    let resource = least_privilege::resource(op, &input, account, REGION)
        .map_err(|e| signed.status(status_of(&e), title, &error(&e.message)))?;
    console.permit(signed, title, &format!("access-analyzer:{}", op.name()), &resource).await?;
    least_privilege::run(&scope(console, signed), op, &input)
        .await
        .map_err(|e| signed.status(status_of(&e), title, &error(&e.message)))
}

/// What the gateway's Access Analyzer code needs, for the signed-in caller's account.
fn scope<'a, S: Store>(console: &'a Console<S>, signed: &'a Signed) -> Scope<'a, S> {
    let token = console.token();
    let job_id = format!("{}-{}-{}-{}-{}", &token[..8], &token[8..12], &token[12..16], &token[16..20], &token[20..32]);
    Scope {
        store: console.store(),
        identity: &*console.identity,
        audit_dir: console.settings.audit_dir.as_deref(),
        account: &signed.account,
        region: REGION,
        now: console.now_millis(),
        job_id,
    }
}

fn analyzer_arn(signed: &Signed, name: &str) -> String {
    least_privilege::analyzer_arn(REGION, signed.account.id(), name)
}

fn links() -> &'static str {
    "<p><a href=\"/console/access-analyzer\">Unused access</a> · \
     <a href=\"/console/access-analyzer/validate\">Policy validation</a> · \
     <a href=\"/console/access-analyzer/generate\">Policy generation</a></p>"
}

// ---- unused access ------------------------------------------------------------------------------

const STATUSES: [(&str, &str); 4] =
    [("ACTIVE", "Active"), ("ARCHIVED", "Archived"), ("RESOLVED", "Resolved"), ("ALL", "All")];

/// The analyzers, the form creating one, and the findings of the one chosen (`?analyzer=`, or
/// the first), with their status filter (`?status=`, active by default) and evidence.
pub(crate) async fn analyzers<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    let query = form(query.as_deref().unwrap_or(""));
    let listed = act(&console, &signed, TITLE, Op::ListAnalyzers, Input::new(None, json!({}))).await?;
    let analyzers: Vec<&Value> = listed["analyzers"].as_array().into_iter().flatten().collect();
    let mut body = String::from(links());
    body.push_str(
        "<p>An unused-access analyzer reports roles, access keys and passwords not used within its \
         tracking period, and permissions granted but not exercised, from the audit trail. A finding \
         whose condition stops holding is resolved at the next analysis.</p>",
    );
    let rows: Vec<Vec<String>> = analyzers
        .iter()
        .map(|a| {
            let name = a["name"].as_str().unwrap_or("");
            vec![
                format!("<a href=\"/console/access-analyzer?analyzer={}\">{}</a>", seg(name), esc(name)),
                esc(a["type"].as_str().unwrap_or("")),
                a.pointer("/configuration/unusedAccess/unusedAccessAge")
                    .and_then(Value::as_u64)
                    .map_or_else(|| "-".to_owned(), |days| format!("{days} days")),
                esc(a["createdAt"].as_str().unwrap_or("")),
            ]
        })
        .collect();
    body += &table("Analyzers", &["Name", "Type", "Tracking period", "Created"], &rows);
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/console/access-analyzer\">{}<input type=\"hidden\" name=\"op\" value=\"create\">\
         <label for=\"analyzer-name\">Analyzer name</label><input type=\"text\" id=\"analyzer-name\" name=\"name\" required>\
         <label for=\"age\">Tracking period (days)</label><input type=\"text\" id=\"age\" name=\"age\" value=\"90\" inputmode=\"numeric\">\
         <button type=\"submit\">Create analyzer</button></form>",
        csrf_field(&signed.csrf)
    );
    let chosen = match field(&query, "analyzer") {
        "" => analyzers
            .iter()
            .find(|a| a["type"] == "ACCOUNT_UNUSED_ACCESS")
            .and_then(|a| a["name"].as_str())
            .map(str::to_owned),
        name => Some(name.to_owned()),
    };
    if let Some(name) = chosen {
        let status = match field(&query, "status") {
            "" => "ACTIVE",
            s => STATUSES.iter().find(|(v, _)| *v == s).map_or("ACTIVE", |(v, _)| *v),
        };
        body += &findings_section(&console, &signed, &name, status).await?;
    }
    Ok(signed.ok(TITLE, &body))
}

async fn findings_section<S: Store>(
    console: &Console<S>,
    signed: &Signed,
    name: &str,
    status: &str,
) -> Result<String, Response> {
    let arn = analyzer_arn(signed, name);
    let mut body = format!(
        "<section id=\"findings-section\" aria-labelledby=\"findings-title\"><h2 id=\"findings-title\">Findings of {}</h2>",
        esc(name)
    );
    let options: String = STATUSES
        .iter()
        .map(|(value, label)| {
            let selected = if *value == status { " selected" } else { "" };
            format!("<option value=\"{value}\"{selected}>{label}</option>")
        })
        .collect();
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/console/access-analyzer\"><input type=\"hidden\" name=\"analyzer\" value=\"{}\">\
         <label for=\"status\">Status</label><select id=\"status\" name=\"status\">{options}</select>\
         <button type=\"submit\">Filter</button></form>",
        esc(name)
    );
    // One analysis, authorized as the two reads it stands for: the list and each finding's
    // details (its evidence).
    for action in ["ListFindingsV2", "GetFindingV2"] {
        console.permit(signed, TITLE, &format!("access-analyzer:{action}"), &arn).await?;
    }
    let scope = scope(console, signed);
    let (_, findings) = least_privilege::analyze(&scope, name)
        .await
        .map_err(|e| signed.status(status_of(&e), TITLE, &error(&e.message)))?;
    let mut rows = Vec::new();
    for finding in findings.iter().filter(|f| status == "ALL" || f.status == status) {
        let t = &finding.tracked;
        let evidence: String = t.evidence.iter().map(|line| format!("<li>{}</li>", esc(line))).collect();
        let (label, next) =
            if finding.status == "ARCHIVED" { ("Unarchive", "ACTIVE") } else { ("Archive", "ARCHIVED") };
        let action = if finding.status == "RESOLVED" {
            String::new()
        } else {
            format!(
                "<form method=\"post\" action=\"/console/access-analyzer\">{}<input type=\"hidden\" name=\"op\" value=\"status\">\
                 <input type=\"hidden\" name=\"analyzer\" value=\"{}\"><input type=\"hidden\" name=\"id\" value=\"{}\">\
                 <input type=\"hidden\" name=\"status\" value=\"{next}\">\
                 <button type=\"submit\" aria-label=\"{label} {} {}\">{label}</button></form>",
                csrf_field(&signed.csrf),
                esc(name),
                esc(&finding.id),
                esc(&t.finding_type),
                esc(&t.resource),
            )
        };
        rows.push(vec![
            esc(&t.resource),
            esc(&t.finding_type),
            format!("<span data-status=\"{0}\">{0}</span>", finding.status),
            format!("<ul class=\"evidence\">{evidence}</ul>"),
            millis_date(t.updated),
            action,
        ]);
    }
    body += &table(
        "Unused access findings",
        &["Resource", "Finding type", "Status", "Evidence", "Updated", "Action"],
        &rows,
    );
    if rows.is_empty() {
        body.push_str("<p id=\"no-unused-findings\">No findings with this status.</p>");
    }
    body.push_str("</section>");
    Ok(body)
}

/// Creates an analyzer (`op=create`) or archives / unarchives a finding (`op=status`).
pub(crate) async fn analyzer_action<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    match field(&form, "op") {
        "create" => {
            let name = field(&form, "name").trim();
            let age: Value = match field(&form, "age").trim() {
                "" => json!(null),
                text => text.parse::<u64>().map_or_else(|_| json!(text), |days| json!(days)),
            };
            let input = Input::new(
                None,
                json!({"analyzerName": name, "type": "ACCOUNT_UNUSED_ACCESS",
                       "configuration": {"unusedAccess": {"unusedAccessAge": age}}}),
            );
            act(&console, &signed, TITLE, Op::CreateAnalyzer, input).await?;
            Ok(redirect_to(format!("/console/access-analyzer?analyzer={}", seg(name))))
        }
        "status" => {
            let name = field(&form, "analyzer");
            let input = Input::new(
                None,
                json!({"analyzerArn": analyzer_arn(&signed, name), "ids": [field(&form, "id")],
                       "status": field(&form, "status")}),
            );
            act(&console, &signed, TITLE, Op::UpdateFindings, input).await?;
            Ok(redirect_to(format!("/console/access-analyzer?analyzer={}", seg(name))))
        }
        _ => Err(signed.status(StatusCode::BAD_REQUEST, TITLE, &error("Unknown action."))),
    }
}

// ---- policy validation --------------------------------------------------------------------------

const VALIDATE_TITLE: &str = "Policy validation";

/// The policy types the validation page offers, as Access Analyzer names them.
const KINDS: [(&str, &str, PolicyKind); 4] = [
    ("identity", "Identity policy", PolicyKind::Identity),
    ("resource", "Resource policy", PolicyKind::Resource),
    ("trust", "Role trust policy", PolicyKind::Trust),
    ("scp", "Service control policy", PolicyKind::ServiceControl),
];

fn validate_page(signed: &Signed, form: &Form, result: &str) -> String {
    let chosen = field(form, "type");
    let options: String = KINDS
        .iter()
        .map(|(value, label, _)| {
            let selected = if *value == chosen { " selected" } else { "" };
            format!("<option value=\"{value}\"{selected}>{label}</option>")
        })
        .collect();
    format!(
        "{}<p>Paste a policy: Access Analyzer's checks (errors, security warnings, warnings and \
         suggestions) list each finding at its line.</p>\
         <form method=\"post\" action=\"/console/access-analyzer/validate\">{}\
         <label for=\"policy-type\">Policy type</label><select id=\"policy-type\" name=\"type\">{options}</select>\
         <label for=\"policy-document\">Policy document</label>\
         <textarea id=\"policy-document\" name=\"document\" spellcheck=\"false\">{}</textarea>\
         <button type=\"submit\">Validate policy</button></form>{result}",
        links(),
        csrf_field(&signed.csrf),
        esc(field(form, "document")),
    )
}

pub(crate) async fn validate_form<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    Ok(signed.ok(VALIDATE_TITLE, &validate_page(&signed, &Form::new(), "")))
}

pub(crate) async fn validate<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) =
        console.posted_allowed(&headers, &body, VALIDATE_TITLE, "access-analyzer:ValidatePolicy", "*").await?;
    let kind = KINDS.iter().find(|(value, _, _)| *value == field(&form, "type")).map_or(PolicyKind::Identity, |k| k.2);
    let document = field(&form, "document");
    let findings = if document.trim().is_empty() {
        error("Paste a policy document to validate.")
    } else {
        findings_list(document, kind)
    };
    let result = format!(
        "<section id=\"validation\" aria-labelledby=\"validation-title\"><h2 id=\"validation-title\">Findings</h2>{findings}</section>"
    );
    Ok(signed.ok(VALIDATE_TITLE, &validate_page(&signed, &form, &result)))
}

// ---- policy generation --------------------------------------------------------------------------

const GENERATE_TITLE: &str = "Policy generation";

const LEVELS: [(&str, &str); 4] = [
    ("prefix", "Narrowest common prefix"),
    ("exact", "Exact resources"),
    ("type", "Every resource of the type"),
    ("any", "Any resource"),
];

fn generate_form_html(signed: &Signed, principal: &str, days: &str) -> String {
    let options: String =
        LEVELS.iter().map(|(value, label)| format!("<option value=\"{value}\">{label}</option>")).collect();
    format!(
        "<p>Generate a policy that allows what a user or role did, from the audit trail: every \
         allowed request it made in the period is replayed against the policy, which must allow \
         it, and the policy must grant nothing its current policies do not.</p>\
         <form method=\"post\" action=\"/console/access-analyzer/generate\">{}\
         <label for=\"principal-arn\">Principal ARN</label><input type=\"text\" id=\"principal-arn\" name=\"principal\" value=\"{}\" required>\
         <label for=\"days\">Activity of the last (days)</label><input type=\"text\" id=\"days\" name=\"days\" value=\"{}\" inputmode=\"numeric\">\
         <label for=\"generalize\">Resources</label><select id=\"generalize\" name=\"generalize\">{options}</select>\
         <button type=\"submit\">Generate policy</button></form>",
        csrf_field(&signed.csrf),
        esc(principal),
        esc(days),
    )
}

/// The generation form, and with `?job=` that job's generated policy and proof.
pub(crate) async fn generation<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    let query = form(query.as_deref().unwrap_or(""));
    let mut body = String::from(links());
    let job = field(&query, "job");
    if job.is_empty() {
        body += &generate_form_html(&signed, "", "90");
        return Ok(signed.ok(GENERATE_TITLE, &body));
    }
    let result =
        act(&console, &signed, GENERATE_TITLE, Op::GetGeneratedPolicy, Input::new(Some(job.to_owned()), json!({})))
            .await?;
    let details = &result["jobDetails"];
    let generated = &result["generatedPolicyResult"];
    let principal = generated.pointer("/properties/principalArn").and_then(Value::as_str).unwrap_or("");
    let _ = write!(
        body,
        "<section id=\"generated\" aria-labelledby=\"generated-title\"><h2 id=\"generated-title\">Generated policy</h2>\
         <dl><dt>Principal</dt><dd>{}</dd><dt>Status</dt><dd id=\"job-status\">{}</dd><dt>Started</dt><dd>{}</dd></dl>",
        esc(principal),
        esc(details["status"].as_str().unwrap_or("")),
        esc(details["startedOn"].as_str().unwrap_or("")),
    );
    if let Some(message) = details.pointer("/jobError/message").and_then(Value::as_str) {
        body += &error(message);
    }
    if let Some(policy) = generated.pointer("/generatedPolicies/0/policy").and_then(Value::as_str) {
        let pretty = serde_json::from_str::<Value>(policy)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| policy.to_owned());
        let _ = write!(body, "<pre id=\"generated-policy\">{}</pre>", esc(&pretty));
    }
    if let Some(proof) = generated.get("proof") {
        let holds = proof["holds"].as_bool().unwrap_or(false);
        let verdict = proof.pointer("/checkNoNewAccess/result").and_then(Value::as_str).unwrap_or("-");
        let _ = write!(
            body,
            "<p id=\"proof\" class=\"{}\">Proof: {} recorded request(s) replayed, {} refused; \
             CheckNoNewAccess against the current policies: {}. Resources generalized: {}.</p>",
            if holds { "ok" } else { "warn" },
            proof["replayedRequests"].as_u64().unwrap_or(0),
            proof["refusedRequests"].as_array().map_or(0, Vec::len),
            esc(verdict),
            esc(generated["generalization"].as_str().unwrap_or("-")),
        );
    }
    body.push_str("</section>");
    body += &generate_form_html(&signed, principal, "90");
    Ok(signed.ok(GENERATE_TITLE, &body))
}

/// Starts a generation job for the principal over the last `days` days, then shows it.
pub(crate) async fn generate<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    let days: u64 = match field(&form, "days").trim() {
        "" => 90,
        text => text.parse().map_err(|_| {
            signed.status(
                StatusCode::BAD_REQUEST,
                GENERATE_TITLE,
                &(error("The period must be a number of days.")
                    + &generate_form_html(&signed, field(&form, "principal"), field(&form, "days"))),
            )
        })?,
    };
    let now_secs = console.now_millis() / 1000;
    let start = now_secs.saturating_sub(days.saturating_mul(86_400));
    let mut request = json!({"policyGenerationDetails": {"principalArn": field(&form, "principal").trim()},
                             "cloudTrailDetails": {"startTime": start}});
    if let Some(level) = LEVELS.iter().find(|(value, _)| *value == field(&form, "generalize")) {
        request["generalize"] = json!(level.0);
    }
    let input = Input::new(None, request);
    let started = act(&console, &signed, GENERATE_TITLE, Op::StartPolicyGeneration, input).await?;
    let job = started["jobId"].as_str().unwrap_or("");
    Ok(redirect_to(format!("/console/access-analyzer/generate?job={}", seg(job))))
}
