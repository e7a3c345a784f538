//! Managed policies: the list, "Create policy" with the JSON editor and its validation (Access
//! Analyzer's findings, the same as `tessera policy validate --findings`, each at its line), the
//! policy's page (versions, set default, attached entities).
//!
//! Validation is progressive: the editor's "Validate" button asks the server without JavaScript;
//! with it, `editor.js` posts the document to `/console/policies/validate` as it is typed and
//! shows the findings the same server code renders.

use std::fmt::Write as _;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_identity::PageRequest;
use tessera_policy::PolicyKind;
use tessera_policy::analysis::findings::{FindingType, ValidateOptions, validate_policy};
use tessera_policy_service::{CreatePolicy, EntityFilter, ListPolicies, PolicyScope};
use tessera_store::Store;
use tessera_store::iam::EntityKind;

use crate::html::{csrf_field, error, esc};
use crate::pages::{Shared, Signed, field, form, html, millis_date, redirect_to, seg, table};

/// A new policy's starting document.
const STARTER: &str = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \
                       \"Action\": \"\",\n      \"Resource\": \"*\"\n    }\n  ]\n}";

fn kind_name(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Trust => "trust",
        _ => "managed",
    }
}

/// The JSON editor: a labelled textarea (`name="document"`), its findings region, and the script
/// that validates as one types.
pub(crate) fn editor(id: &str, label: &str, document: &str, kind: PolicyKind) -> String {
    format!(
        "<label for=\"{id}\">{label}</label>\
         <textarea id=\"{id}\" name=\"document\" spellcheck=\"false\" data-validate=\"{kind}\" \
         aria-describedby=\"findings\">{}</textarea>\
         <input type=\"hidden\" name=\"kind\" value=\"{kind}\">\
         <button type=\"submit\" name=\"op\" value=\"validate\" formnovalidate>Validate</button>\
         <div id=\"findings\" aria-live=\"polite\">{}</div>\
         <script src=\"/console/editor.js\" defer></script>",
        esc(document),
        findings_list(document, kind),
        kind = kind_name(kind),
    )
}

/// The findings of `document` as the editor shows them: one item per finding and location, at
/// its line.
pub(crate) fn findings_list(document: &str, kind: PolicyKind) -> String {
    if document.trim().is_empty() {
        return String::new();
    }
    let findings = validate_policy(document, &ValidateOptions::new(kind));
    if findings.is_empty() {
        return "<p class=\"ok\" id=\"no-findings\">No findings: the policy is valid.</p>".to_owned();
    }
    let mut out = format!("<p>{} finding(s)</p><ul class=\"findings\">", findings.len());
    for finding in &findings {
        let class = if finding.finding_type == FindingType::Error { "finding error" } else { "finding" };
        let line = finding.locations.first().map(|l| l.span.0.line);
        let at = line.map_or_else(|| "Policy".to_owned(), |line| format!("Line {line}"));
        let _ = write!(
            out,
            "<li class=\"{class}\" data-line=\"{}\" data-code=\"{}\"><strong>{at}</strong>: {} <code>{}</code>: {}</li>",
            line.unwrap_or(0),
            finding.issue_code,
            finding.finding_type.as_str(),
            finding.issue_code,
            esc(&finding.details)
        );
    }
    out.push_str("</ul>");
    out
}

/// The editor's progressive enhancement: validate while typing (debounced), through the same
/// server-side rendering as the "Validate" button.
pub(crate) async fn editor_js() -> Response {
    const SCRIPT: &str = r#"(function () {
  var area = document.querySelector('textarea[data-validate]');
  var out = document.getElementById('findings');
  if (!area || !out || !window.fetch) { return; }
  var form = area.form, timer = null, seq = 0;
  function validate() {
    var mine = ++seq;
    var body = new URLSearchParams();
    body.set('csrf', form.querySelector('input[name=csrf]').value);
    body.set('kind', area.getAttribute('data-validate'));
    body.set('document', area.value);
    fetch('/console/policies/validate', {method: 'POST', body: body, credentials: 'same-origin'})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null && mine === seq) { out.innerHTML = html; } });
  }
  area.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(validate, 300); });
})();
"#;
    let mut response = SCRIPT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The findings of a posted document, as an HTML fragment (for `editor.js`). Authorized as
/// Access Analyzer's `ValidatePolicy`, which the editor performs.
pub(crate) async fn validate<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    if let Err(explanation) = console.authorize(&signed, "access-analyzer:ValidatePolicy", "*").await {
        return Err(html(StatusCode::FORBIDDEN, crate::html::denied(&explanation)));
    }
    let kind = if field(&form, "kind") == "trust" { PolicyKind::Trust } else { PolicyKind::Managed };
    Ok(html(StatusCode::OK, findings_list(field(&form, "document"), kind)))
}

pub(crate) async fn list<S: Store>(State(console): Shared<S>, headers: HeaderMap) -> Result<Response, Response> {
    let signed = console.allowed(&headers, "Policies", "iam:ListPolicies", "*").await?;
    let mut rows = Vec::new();
    // The account's policies, then the AWS managed ones that are in use.
    for (scope, only_attached) in [(PolicyScope::Local, false), (PolicyScope::Aws, true)] {
        let query = ListPolicies { scope, only_attached, ..ListPolicies::default() };
        let mut marker = None;
        loop {
            let page = PageRequest { marker, max_items: Some(1000) };
            let page = match console.policies.list_policies(&signed.account, &query, &page).await {
                Ok(page) => page,
                Err(e) => {
                    return Err(signed.status(StatusCode::INTERNAL_SERVER_ERROR, "Policies", &error(&e.to_string())));
                }
            };
            for policy in page.items {
                let r = &policy.record;
                rows.push(vec![
                    format!("<a href=\"/console/policies/view?arn={}\">{}</a>", seg(&r.arn), esc(&r.name)),
                    if policy.aws_managed { "AWS managed" } else { "Customer managed" }.to_owned(),
                    policy.attachment_count.to_string(),
                    esc(&r.default_version),
                ]);
            }
            match page.marker {
                Some(next) => marker = Some(next),
                None => break,
            }
        }
    }
    let body = String::from("<p><a href=\"/console/policies/new\" role=\"button\">Create policy</a></p>")
        + &table("Policies", &["Policy name", "Type", "Attached entities", "Default version"], &rows);
    Ok(signed.ok("Policies", &body))
}

fn new_policy_page(signed: &Signed, name: &str, description: &str, document: &str, message: &str) -> String {
    format!(
        "{message}<form method=\"post\" action=\"/console/policies\">{}\
         <label for=\"name\">Policy name</label><input type=\"text\" id=\"name\" name=\"name\" value=\"{}\">\
         <label for=\"description\">Description</label><input type=\"text\" id=\"description\" name=\"description\" value=\"{}\">\
         {}<button type=\"submit\" name=\"op\" value=\"create\">Create policy</button></form>",
        csrf_field(&signed.csrf),
        esc(name),
        esc(description),
        editor("document", "Policy editor", document, PolicyKind::Managed),
    )
}

pub(crate) async fn new_form<S: Store>(State(console): Shared<S>, headers: HeaderMap) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    Ok(signed.ok("Create policy", &new_policy_page(&signed, "", "", STARTER, "")))
}

pub(crate) async fn create<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    let title = "Create policy";
    let (name, description, document) =
        (field(&form, "name").trim(), field(&form, "description").trim(), field(&form, "document"));
    if field(&form, "op") == "validate" {
        // The editor's "Validate" without JavaScript: the same page, its findings rendered.
        console.permit(&signed, title, "access-analyzer:ValidatePolicy", "*").await?;
        return Ok(signed.ok(title, &new_policy_page(&signed, name, description, document, "")));
    }
    let arn = signed.arn(tessera_arn::IamEntity::Policy { path: "/".into(), name: name.into() });
    console.permit(&signed, title, "iam:CreatePolicy", &arn).await?;
    let input = CreatePolicy {
        policy_name: name.to_owned(),
        path: None,
        policy_document: document.to_owned(),
        description: (!description.is_empty()).then(|| description.to_owned()),
        tags: Vec::new(),
    };
    Ok(match console.policies.create_policy(&signed.account, input).await {
        Ok(policy) => redirect_to(format!("/console/policies/view?arn={}", seg(&policy.record.arn))),
        Err(e) => {
            let message = error(&console.domain_error(e).message);
            signed.status(
                StatusCode::BAD_REQUEST,
                title,
                &new_policy_page(&signed, name, description, document, &message),
            )
        }
    })
}

pub(crate) async fn detail<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let query = form(query.as_deref().unwrap_or(""));
    let arn = field(&query, "arn").to_owned();
    let signed = console.allowed(&headers, "Policy", "iam:GetPolicy", &arn).await?;
    let policy = match console.policies.get_policy(&signed.account, &arn).await {
        Ok(policy) => policy,
        Err(e) => return Err(signed.status(StatusCode::NOT_FOUND, "Policy", &error(&console.domain_error(e).message))),
    };
    let r = &policy.record;
    let mut body = format!(
        "<dl><dt>ARN</dt><dd>{}</dd><dt>Description</dt><dd>{}</dd><dt>Created</dt><dd>{}</dd></dl>",
        esc(&r.arn),
        esc(r.description.as_deref().unwrap_or("-")),
        millis_date(r.create_date)
    );
    let versions = match console.authorize(&signed, "iam:ListPolicyVersions", &arn).await {
        Err(explanation) => crate::html::denied(&explanation),
        Ok(()) => match console.policies.list_policy_versions(&signed.account, &arn, &PageRequest::default()).await {
            Err(e) => error(&console.domain_error(e).message),
            Ok(page) => {
                let mut rows = Vec::new();
                let mut default_document = String::new();
                for version in &page.items {
                    if version.is_default_version {
                        default_document = version.document.clone();
                    }
                    let action = if version.is_default_version || policy.aws_managed {
                        String::new()
                    } else {
                        format!(
                            "<form method=\"post\" action=\"/console/policies/versions\">{}\
                             <input type=\"hidden\" name=\"arn\" value=\"{}\"><input type=\"hidden\" name=\"version\" value=\"{}\">\
                             <button type=\"submit\" name=\"op\" value=\"default\" aria-label=\"Set {} as default\">Set as default</button>\
                             <button type=\"submit\" name=\"op\" value=\"delete\" aria-label=\"Delete {}\">Delete</button></form>",
                            csrf_field(&signed.csrf),
                            esc(&arn),
                            esc(&version.version_id),
                            esc(&version.version_id),
                            esc(&version.version_id),
                        )
                    };
                    let default = if version.is_default_version { " (Default)" } else { "" };
                    rows.push(vec![
                        format!("{}{default}", esc(&version.version_id)),
                        millis_date(version.create_date),
                        action,
                    ]);
                }
                let mut out = table("Policy versions", &["Version", "Created", "Actions"], &rows);
                let _ = write!(out, "<h2>Permissions</h2><pre id=\"policy-document\">{}</pre>", esc(&default_document));
                if !policy.aws_managed {
                    let _ = write!(
                        out,
                        "<h2>Edit policy</h2><form method=\"post\" action=\"/console/policies/versions\">{}\
                         <input type=\"hidden\" name=\"arn\" value=\"{}\">{}\
                         <label><input type=\"checkbox\" name=\"default\" value=\"1\" checked> Set as default</label>\
                         <button type=\"submit\" name=\"op\" value=\"create\">Save changes</button></form>",
                        csrf_field(&signed.csrf),
                        esc(&arn),
                        editor("document", "Policy editor", &default_document, PolicyKind::Managed),
                    );
                }
                out
            }
        },
    };
    body.push_str(&versions);
    let entities = match console.authorize(&signed, "iam:ListEntitiesForPolicy", &arn).await {
        Err(explanation) => crate::html::denied(&explanation),
        Ok(()) => {
            let page = PageRequest { marker: None, max_items: Some(1000) };
            match console
                .policies
                .list_entities_for_policy(&signed.account, &arn, EntityFilter::All, None, None, &page)
                .await
            {
                Err(e) => error(&console.domain_error(e).message),
                Ok(page) => {
                    let rows: Vec<Vec<String>> = page
                        .items
                        .iter()
                        .map(|e| {
                            let (kind, href) = match e.kind {
                                EntityKind::User => ("User", "users"),
                                EntityKind::Group => ("Group", "groups"),
                                EntityKind::Role => ("Role", "roles"),
                            };
                            vec![
                                format!("<a href=\"/console/{href}/{}\">{}</a>", seg(&e.name), esc(&e.name)),
                                kind.to_owned(),
                            ]
                        })
                        .collect();
                    table("Entities attached", &["Entity name", "Type"], &rows)
                }
            }
        }
    };
    body.push_str(&entities);
    Ok(signed.ok(&r.name, &body))
}

/// Creates a version, sets one as default, or deletes one (`op`).
pub(crate) async fn version_action<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    let (arn, version, op) = (field(&form, "arn"), field(&form, "version"), field(&form, "op"));
    let action = match op {
        "create" => "iam:CreatePolicyVersion",
        "default" => "iam:SetDefaultPolicyVersion",
        "delete" => "iam:DeletePolicyVersion",
        "validate" => "access-analyzer:ValidatePolicy",
        _ => return Err(signed.status(StatusCode::BAD_REQUEST, "Policy", &error("Unknown policy version action."))),
    };
    console.permit(&signed, "Policy", action, arn).await?;
    let account = &signed.account;
    let done = match op {
        "validate" => {
            let document = field(&form, "document");
            let body = format!(
                "<p><a href=\"/console/policies/view?arn={}\">Back to the policy</a></p><pre>{}</pre>{}",
                seg(arn),
                esc(document),
                findings_list(document, PolicyKind::Managed)
            );
            return Ok(signed.ok("Validate policy", &body));
        }
        "create" => console
            .policies
            .create_policy_version(account, arn, field(&form, "document"), field(&form, "default") == "1")
            .await
            .map(|_| ()),
        "default" => console.policies.set_default_policy_version(account, arn, version).await,
        _ => console.policies.delete_policy_version(account, arn, version).await,
    };
    Ok(match done {
        Ok(()) => redirect_to(format!("/console/policies/view?arn={}", seg(arn))),
        Err(e) => {
            let message =
                error(&console.domain_error(e).message) + &findings_list(field(&form, "document"), PolicyKind::Managed);
            signed.status(StatusCode::BAD_REQUEST, "Policy", &message)
        }
    })
}
