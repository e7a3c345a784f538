//! Roles: the list, "Create role" with the trust policy editor and its templates (AWS account,
//! web identity, SAML), and the role's page (trust policy, permissions).

use std::fmt::Write as _;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tessera_identity::{CreateRole, PageRequest};
use tessera_policy::PolicyKind;
use tessera_store::Store;
use tessera_store::iam::EntityKind;

use crate::access::policy_options;
use crate::html::{csrf_field, denied, error, esc};
use crate::pages::{Shared, Signed, field, form, millis_date, redirect_to, seg, table};
use crate::policies::{editor, findings_list};

const ALL_ROLES: &str = "arn:aws:iam::{account}:role/*";

pub(crate) async fn list<S: Store>(State(console): Shared<S>, headers: HeaderMap) -> Result<Response, Response> {
    let signed = console.allowed(&headers, "Roles", "iam:ListRoles", ALL_ROLES).await?;
    let mut rows = Vec::new();
    let mut marker = None;
    loop {
        let page = PageRequest { marker, max_items: Some(1000) };
        let page = match console.identity.list_roles(&signed.account, None, &page).await {
            Ok(page) => page,
            Err(e) => return Err(signed.status(StatusCode::INTERNAL_SERVER_ERROR, "Roles", &error(&e.to_string()))),
        };
        for role in page.items {
            let p = &role.principal;
            let used = role.last_used.as_ref().map_or_else(|| "-".to_owned(), |u| millis_date(u.date));
            rows.push(vec![
                format!("<a href=\"/console/roles/{}\">{}</a>", seg(&p.name), esc(&p.name)),
                esc(&p.arn),
                millis_date(p.create_date),
                used,
            ]);
        }
        match page.marker {
            Some(next) => marker = Some(next),
            None => break,
        }
    }
    let body = String::from("<p><a href=\"/console/roles/new\" role=\"button\">Create role</a></p>")
        + &table("Roles", &["Role name", "ARN", "Created", "Last activity"], &rows);
    Ok(signed.ok("Roles", &body))
}

/// A trust policy template: `account` trusts an AWS account's principals, `web` an OpenID Connect
/// provider's tokens, `saml` a SAML provider's assertions.
fn template(kind: &str, account: &str, provider: &str) -> String {
    let (principal, action, condition) = match kind {
        "web" => {
            let provider = if provider.is_empty() { "token.actions.example.com" } else { provider };
            (
                format!("\"Federated\": \"arn:aws:iam::{account}:oidc-provider/{provider}\""),
                "sts:AssumeRoleWithWebIdentity",
                format!(",\n      \"Condition\": {{\"StringEquals\": {{\"{provider}:aud\": \"sts.amazonaws.com\"}}}}"),
            )
        }
        "saml" => {
            let provider = if provider.is_empty() { "MyProvider" } else { provider };
            (
                format!("\"Federated\": \"arn:aws:iam::{account}:saml-provider/{provider}\""),
                "sts:AssumeRoleWithSAML",
                ",\n      \"Condition\": {\"StringEquals\": {\"SAML:aud\": \"https://signin.aws.amazon.com/saml\"}}"
                    .to_owned(),
            )
        }
        _ => (format!("\"AWS\": \"arn:aws:iam::{account}:root\""), "sts:AssumeRole", String::new()),
    };
    format!(
        "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {{\n      \"Effect\": \"Allow\",\n      \
         \"Principal\": {{{principal}}},\n      \"Action\": \"{action}\"{condition}\n    }}\n  ]\n}}"
    )
}

struct RoleForm<'a> {
    name: &'a str,
    kind: &'a str,
    trusted: &'a str,
    provider: &'a str,
    document: &'a str,
    description: &'a str,
}

fn new_role_page(signed: &Signed, input: &RoleForm<'_>, policies: Result<String, String>, message: &str) -> String {
    let mut body = String::new();
    if !message.is_empty() {
        body.push_str(message);
    }
    // The template chooser: a GET form, so it works without JavaScript.
    let option = |value: &str, label: &str| {
        let selected = if input.kind == value { " selected" } else { "" };
        format!("<option value=\"{value}\"{selected}>{label}</option>")
    };
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/console/roles/new\" aria-label=\"Trust policy template\">\
         <label for=\"template\">Trusted entity type</label><select id=\"template\" name=\"template\">{}{}{}</select>\
         <label for=\"trusted\">Account ID</label><input type=\"text\" id=\"trusted\" name=\"trusted\" value=\"{}\">\
         <label for=\"provider\">Identity provider</label><input type=\"text\" id=\"provider\" name=\"provider\" value=\"{}\">\
         <input type=\"hidden\" name=\"name\" value=\"{}\">\
         <button type=\"submit\">Use template</button></form>",
        option("account", "AWS account"),
        option("web", "Web identity"),
        option("saml", "SAML 2.0 federation"),
        esc(input.trusted),
        esc(input.provider),
        esc(input.name),
    );
    let policies = match policies {
        Ok(options) => format!(
            "<label for=\"policy\">Permissions policy</label><select id=\"policy\" name=\"policy\">{options}</select>"
        ),
        Err(explanation) => denied(&explanation),
    };
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/console/roles\">{}\
         <label for=\"name\">Role name</label><input type=\"text\" id=\"name\" name=\"name\" value=\"{}\" required>\
         <label for=\"description\">Description</label><input type=\"text\" id=\"description\" name=\"description\" value=\"{}\">\
         {}<fieldset><legend>Add permissions</legend>{policies}</fieldset>\
         <button type=\"submit\">Create role</button></form>",
        csrf_field(&signed.csrf),
        esc(input.name),
        esc(input.description),
        editor("trust", "Trust policy", input.document, PolicyKind::Trust),
    );
    body
}

pub(crate) async fn new_form<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    let query = form(query.as_deref().unwrap_or(""));
    let kind = match field(&query, "template") {
        "" => "account",
        other => other,
    };
    let trusted = match field(&query, "trusted").trim() {
        "" => signed.account.id().to_owned(),
        other => other.to_owned(),
    };
    let provider = field(&query, "provider").trim();
    let document = template(kind, &trusted, provider);
    let input = RoleForm {
        name: field(&query, "name"),
        kind,
        trusted: &trusted,
        provider,
        document: &document,
        description: "",
    };
    let policies = policy_options(&console, &signed).await;
    Ok(signed.ok("Create role", &new_role_page(&signed, &input, policies, "")))
}

pub(crate) async fn create<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    let title = "Create role";
    let (name, document, policy) =
        (field(&form, "name").trim(), field(&form, "document"), field(&form, "policy").trim());
    let description = field(&form, "description").trim();
    let arn = signed.role_arn(name);
    console.permit(&signed, title, "iam:CreateRole", &arn).await?;
    if !policy.is_empty()
        && let Err(explanation) =
            console.authorize_keys(&signed, "iam:AttachRolePolicy", &arn, &[("iam:PolicyARN", policy)]).await
    {
        return Err(signed.refused(title, &explanation));
    }
    let input = CreateRole {
        path: None,
        role_name: name.to_owned(),
        assume_role_policy_document: document.to_owned(),
        description: (!description.is_empty()).then(|| description.to_owned()),
        max_session_duration: None,
        permissions_boundary: None,
        tags: Vec::new(),
    };
    if let Err(e) = console.identity.create_role(&signed.account, input).await {
        let message =
            error(&console.action_error("iam:CreateRole", e).message) + &findings_list(document, PolicyKind::Trust);
        let input = RoleForm { name, kind: "", trusted: "", provider: "", document, description };
        let policies = policy_options(&console, &signed).await;
        return Err(signed.status(StatusCode::BAD_REQUEST, title, &new_role_page(&signed, &input, policies, &message)));
    }
    if !policy.is_empty()
        && let Err(e) = console.policies.attach_policy(&signed.account, EntityKind::Role, name, policy).await
    {
        let message = format!(
            "Role {name} created, but the policy was not attached: {}",
            console.action_error("iam:AttachRolePolicy", e).message
        );
        return Err(signed.status(StatusCode::BAD_REQUEST, title, &error(&message)));
    }
    Ok(redirect_to(format!("/console/roles/{}", seg(name))))
}

pub(crate) async fn detail<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    let found = console.identity.get_role(&signed.account, &name).await;
    let arn = found.as_ref().map(|r| r.principal.arn.clone()).unwrap_or_else(|_| signed.role_arn(&name));
    console.permit(&signed, &name, "iam:GetRole", &arn).await?;
    let role = match found {
        Ok(role) => role,
        Err(e) => return Err(signed.status(StatusCode::NOT_FOUND, &name, &error(&console.domain_error(e).message))),
    };
    let p = &role.principal;
    let mut body = format!(
        "<dl><dt>ARN</dt><dd id=\"role-arn\">{}</dd><dt>Created</dt><dd>{}</dd><dt>Description</dt><dd>{}</dd>\
         <dt>Maximum session duration</dt><dd>{} seconds</dd><dt>Last activity</dt><dd>{}</dd></dl>",
        esc(&p.arn),
        millis_date(p.create_date),
        esc(role.description.as_deref().unwrap_or("-")),
        role.max_session_duration,
        role.last_used.as_ref().map_or_else(|| "-".to_owned(), |u| millis_date(u.date)),
    );
    let _ = write!(
        body,
        "<p><a href=\"/console/switch-role?account={}&amp;roleName={}\">Link to switch roles in console</a></p>",
        esc(signed.account.id()),
        seg(&p.name)
    );
    let _ = write!(body, "<h2>Trust relationships</h2><pre id=\"trust-policy\">{}</pre>", esc(&role.trust_policy));
    let attached: Vec<Vec<String>> = p.attached.iter().map(|a| vec![esc(a)]).collect();
    body.push_str(&table("Permissions policies", &["Policy ARN"], &attached));
    let inline: Vec<Vec<String>> = p.inline.iter().map(|(n, _)| vec![esc(n)]).collect();
    body.push_str(&table("Inline policies", &["Policy name"], &inline));
    Ok(signed.ok(&p.name, &body))
}
