//! User groups: the list, "Create user group" (with a managed policy: "Add permissions"), the
//! group's page (members, policies), adding a user, attaching a policy.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tessera_identity::PageRequest;
use tessera_store::Store;
use tessera_store::iam::EntityKind;

use crate::Console;
use crate::access::policy_options;
use crate::html::{csrf_field, denied, error, esc};
use crate::pages::{Shared, Signed, field, millis_date, redirect_to, seg, table};

const ALL_GROUPS: &str = "arn:aws:iam::{account}:group/*";

pub(crate) async fn list<S: Store>(State(console): Shared<S>, headers: HeaderMap) -> Result<Response, Response> {
    let signed = console.allowed(&headers, "User groups", "iam:ListGroups", ALL_GROUPS).await?;
    let mut rows = Vec::new();
    let mut marker = None;
    loop {
        let page = PageRequest { marker, max_items: Some(1000) };
        let page = match console.identity.list_groups(&signed.account, None, &page).await {
            Ok(page) => page,
            Err(e) => {
                return Err(signed.status(StatusCode::INTERNAL_SERVER_ERROR, "User groups", &error(&e.to_string())));
            }
        };
        for group in page.items {
            let p = &group.principal;
            rows.push(vec![
                format!("<a href=\"/console/groups/{}\">{}</a>", seg(&p.name), esc(&p.name)),
                group.members.len().to_string(),
                esc(&p.arn),
                millis_date(p.create_date),
            ]);
        }
        match page.marker {
            Some(next) => marker = Some(next),
            None => break,
        }
    }
    let body = String::from("<p><a href=\"/console/groups/new\" role=\"button\">Create group</a></p>")
        + &table("User groups", &["Group name", "Users", "ARN", "Created"], &rows);
    Ok(signed.ok("User groups", &body))
}

fn new_group_page(signed: &Signed, name: &str, policies: Result<String, String>, message: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(message) = message {
        body.push_str(&error(message));
    }
    let policies = match policies {
        Ok(options) => format!(
            "<label for=\"policy\">Permissions policy</label><select id=\"policy\" name=\"policy\">{options}</select>"
        ),
        Err(explanation) => denied(&explanation),
    };
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/console/groups\">{}\
         <label for=\"name\">User group name</label><input type=\"text\" id=\"name\" name=\"name\" value=\"{}\" required>\
         <fieldset><legend>Add permissions</legend>{policies}</fieldset>\
         <button type=\"submit\">Create user group</button></form>",
        csrf_field(&signed.csrf),
        esc(name)
    );
    body
}

pub(crate) async fn new_form<S: Store>(State(console): Shared<S>, headers: HeaderMap) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    let policies = policy_options(&console, &signed).await;
    Ok(signed.ok("Create user group", &new_group_page(&signed, "", policies, None)))
}

pub(crate) async fn create<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    let title = "Create user group";
    let (name, policy) = (field(&form, "name").trim(), field(&form, "policy").trim());
    let arn = signed.group_arn(name);
    console.permit(&signed, title, "iam:CreateGroup", &arn).await?;
    if !policy.is_empty()
        && let Err(explanation) =
            console.authorize_keys(&signed, "iam:AttachGroupPolicy", &arn, &[("iam:PolicyARN", policy)]).await
    {
        return Err(signed.refused(title, &explanation));
    }
    if let Err(e) = console.identity.create_group(&signed.account, None, name).await {
        let policies = policy_options(&console, &signed).await;
        let page = new_group_page(&signed, name, policies, Some(&console.action_error("iam:CreateGroup", e).message));
        return Err(signed.status(StatusCode::BAD_REQUEST, title, &page));
    }
    if !policy.is_empty()
        && let Err(e) = console.policies.attach_policy(&signed.account, EntityKind::Group, name, policy).await
    {
        let message = format!(
            "Group {name} created, but the policy was not attached: {}",
            console.action_error("iam:AttachGroupPolicy", e).message
        );
        return Err(signed.status(StatusCode::BAD_REQUEST, title, &error(&message)));
    }
    Ok(redirect_to(format!("/console/groups/{}", seg(name))))
}

pub(crate) async fn detail<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    let found =
        console.identity.get_group(&signed.account, &name, &PageRequest { marker: None, max_items: Some(1000) }).await;
    let arn = found.as_ref().map(|(g, _)| g.principal.arn.clone()).unwrap_or_else(|_| signed.group_arn(&name));
    console.permit(&signed, &name, "iam:GetGroup", &arn).await?;
    let (group, members) = match found {
        Ok(found) => found,
        Err(e) => return Err(signed.status(StatusCode::NOT_FOUND, &name, &error(&console.domain_error(e).message))),
    };
    let path = seg(&group.principal.name);
    let mut body = format!(
        "<dl><dt>ARN</dt><dd>{}</dd><dt>Created</dt><dd>{}</dd></dl>",
        esc(&group.principal.arn),
        millis_date(group.principal.create_date)
    );
    let rows: Vec<Vec<String>> = members
        .items
        .iter()
        .map(|u| vec![format!("<a href=\"/console/users/{}\">{}</a>", seg(&u.principal.name), esc(&u.principal.name))])
        .collect();
    body.push_str(&table("Users in this group", &["User name"], &rows));
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/console/groups/{path}/users\">{}\
         <label for=\"user\">User name</label><input type=\"text\" id=\"user\" name=\"user\" required>\
         <button type=\"submit\">Add users</button></form>",
        csrf_field(&signed.csrf)
    );
    let attached: Vec<Vec<String>> = group.principal.attached.iter().map(|a| vec![esc(a)]).collect();
    body.push_str(&table("Permissions policies", &["Policy ARN"], &attached));
    let policies = match policy_options(&console, &signed).await {
        Ok(options) => format!(
            "<label for=\"policy\">Permissions policy</label><select id=\"policy\" name=\"policy\">{options}</select>"
        ),
        Err(explanation) => denied(&explanation),
    };
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/console/groups/{path}/permissions\">{}{policies}\
         <button type=\"submit\">Add permissions</button></form>",
        csrf_field(&signed.csrf)
    );
    Ok(signed.ok(&group.principal.name, &body))
}

pub(crate) async fn add_user<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    let arn = group_arn(&console, &signed, &name).await;
    console.permit(&signed, &name, "iam:AddUserToGroup", &arn).await?;
    Ok(match console.identity.add_user_to_group(&signed.account, &name, field(&form, "user").trim()).await {
        Ok(()) => redirect_to(format!("/console/groups/{}", seg(&name))),
        Err(e) => signed.status(StatusCode::BAD_REQUEST, &name, &error(&console.domain_error(e).message)),
    })
}

pub(crate) async fn attach<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    let policy = field(&form, "policy").trim();
    let arn = group_arn(&console, &signed, &name).await;
    if let Err(explanation) =
        console.authorize_keys(&signed, "iam:AttachGroupPolicy", &arn, &[("iam:PolicyARN", policy)]).await
    {
        return Err(signed.refused(&name, &explanation));
    }
    Ok(match console.policies.attach_policy(&signed.account, EntityKind::Group, &name, policy).await {
        Ok(()) => redirect_to(format!("/console/groups/{}", seg(&name))),
        Err(e) => signed.status(StatusCode::BAD_REQUEST, &name, &error(&console.domain_error(e).message)),
    })
}

async fn group_arn<S: Store>(console: &Console<S>, signed: &Signed, name: &str) -> String {
    match console.identity.get_group(&signed.account, name, &PageRequest { marker: None, max_items: Some(1) }).await {
        Ok((group, _)) => group.principal.arn,
        Err(_) => signed.group_arn(name),
    }
}
