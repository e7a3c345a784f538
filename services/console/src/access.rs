//! A user's permissions and credentials: "Add permissions" (a group, a managed policy), access
//! keys (deactivate, activate, delete), and MFA enrolment with the QR code. Each action is
//! authorized as the IAM action it performs, then made through the same domain call as the API.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tessera_arn::IamEntity;
use tessera_identity::PageRequest;
use tessera_policy_service::{ListPolicies, PolicyScope};
use tessera_store::Store;
use tessera_store::iam::{EntityKind, KeyStatus};

use crate::Console;
use crate::html::{csrf_field, denied, error, esc};
use crate::pages::{Shared, Signed, field, redirect_to, seg};

/// The user's ARN (with its path when it exists).
async fn user_arn<S: Store>(console: &Console<S>, signed: &Signed, name: &str) -> String {
    match console.identity.get_user(&signed.account, name).await {
        Ok(user) => user.principal.arn,
        Err(_) => signed.user_arn(name),
    }
}

/// Deactivates, activates or deletes one of a user's access keys (`op`).
pub(crate) async fn key_action<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    Path((name, key)): Path<(String, String)>,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    let arn = user_arn(&console, &signed, &name).await;
    let op = field(&form, "op");
    let action = match op {
        "deactivate" | "activate" => "iam:UpdateAccessKey",
        "delete" => "iam:DeleteAccessKey",
        _ => return Err(signed.status(StatusCode::BAD_REQUEST, "Access key", &error("Unknown access key action."))),
    };
    console.permit(&signed, "Access key", action, &arn).await?;
    let done = match op {
        "delete" => console.identity.delete_access_key(&signed.account, &name, &key).await,
        "activate" => console.identity.update_access_key(&signed.account, &name, &key, KeyStatus::Active).await,
        _ => console.identity.update_access_key(&signed.account, &name, &key, KeyStatus::Inactive).await,
    };
    Ok(match done {
        Ok(()) => redirect_to(format!("/console/users/{}", seg(&name))),
        Err(e) => signed.status(StatusCode::BAD_REQUEST, "Access key", &error(&console.domain_error(e).message)),
    })
}

/// `<option>`s of every group of the account.
async fn group_options<S: Store>(console: &Console<S>, signed: &Signed) -> Result<String, String> {
    let all = signed.arn(IamEntity::Group { path: "/".into(), name: "*".into() });
    console.authorize(signed, "iam:ListGroups", &all).await?;
    let mut out = String::from("<option value=\"\">(none)</option>");
    let mut marker = None;
    loop {
        let page = PageRequest { marker, max_items: Some(1000) };
        let page = console.identity.list_groups(&signed.account, None, &page).await.map_err(|e| e.to_string())?;
        for group in page.items {
            let _ = write!(out, "<option value=\"{0}\">{0}</option>", esc(&group.principal.name));
        }
        match page.marker {
            Some(next) => marker = Some(next),
            None => return Ok(out),
        }
    }
}

/// `<option>`s of the managed policies (the account's first, then AWS managed), by ARN.
pub(crate) async fn policy_options<S: Store>(console: &Console<S>, signed: &Signed) -> Result<String, String> {
    console.authorize(signed, "iam:ListPolicies", "*").await?;
    let mut out = String::from("<option value=\"\">(none)</option>");
    for scope in [PolicyScope::Local, PolicyScope::Aws] {
        let query = ListPolicies { scope, ..ListPolicies::default() };
        let mut marker = None;
        loop {
            let page = PageRequest { marker, max_items: Some(1000) };
            let page =
                console.policies.list_policies(&signed.account, &query, &page).await.map_err(|e| e.to_string())?;
            for policy in page.items {
                let _ =
                    write!(out, "<option value=\"{}\">{}</option>", esc(&policy.record.arn), esc(&policy.record.name));
            }
            match page.marker {
                Some(next) => marker = Some(next),
                None => break,
            }
        }
    }
    Ok(out)
}

fn select(id: &str, label: &str, options: Result<String, String>) -> String {
    match options {
        Ok(options) => {
            format!("<label for=\"{id}\">{label}</label><select id=\"{id}\" name=\"{id}\">{options}</select>")
        }
        Err(explanation) => denied(&explanation),
    }
}

pub(crate) async fn add_permissions_form<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    let groups = group_options(&console, &signed).await;
    let policies = policy_options(&console, &signed).await;
    let body = format!(
        "<form method=\"post\" action=\"/console/users/{}/permissions\">{}\
         <fieldset><legend>Add user to group</legend>{}</fieldset>\
         <fieldset><legend>Attach policies directly</legend>{}</fieldset>\
         <button type=\"submit\">Add permissions</button></form>",
        seg(&name),
        csrf_field(&signed.csrf),
        select("group", "User group", groups),
        select("policy", "Permissions policy", policies),
    );
    Ok(signed.ok(&format!("Add permissions to {name}"), &body))
}

pub(crate) async fn add_permissions<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    let title = format!("Add permissions to {name}");
    let (group, policy) = (field(&form, "group").trim(), field(&form, "policy").trim());
    if !group.is_empty() {
        let arn = match console.identity.get_group(&signed.account, group, &PageRequest::default()).await {
            Ok((group, _)) => group.principal.arn,
            Err(_) => signed.group_arn(group),
        };
        console.permit(&signed, &title, "iam:AddUserToGroup", &arn).await?;
        if let Err(e) = console.identity.add_user_to_group(&signed.account, group, &name).await {
            return Err(signed.status(StatusCode::BAD_REQUEST, &title, &error(&console.domain_error(e).message)));
        }
    }
    if !policy.is_empty() {
        let arn = user_arn(&console, &signed, &name).await;
        let keys = [("iam:PolicyARN", policy)];
        if let Err(explanation) = console.authorize_keys(&signed, "iam:AttachUserPolicy", &arn, &keys).await {
            return Err(signed.refused(&title, &explanation));
        }
        if let Err(e) = console.policies.attach_policy(&signed.account, EntityKind::User, &name, policy).await {
            return Err(signed.status(StatusCode::BAD_REQUEST, &title, &error(&console.domain_error(e).message)));
        }
    }
    Ok(redirect_to(format!("/console/users/{}", seg(&name))))
}

// ---- MFA enrolment ------------------------------------------------------------------------------

/// An inline SVG of a QR code of `text` (the `otpauth://` URI, which holds the seed: the page is
/// `no-store` and shown once).
pub(crate) fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build();
    // The renderer writes an XML declaration first; inline SVG in HTML starts at `<svg`.
    svg.find("<svg").map(|at| svg[at..].to_owned())
}

/// The form that proves a new virtual MFA device with two consecutive codes, posted to
/// `action` (a user's `/console/users/<name>/mfa/enable`, the root's `/console/account/mfa/enable`).
pub(crate) fn mfa_codes_form(action: &str, serial: &str, csrf: &str, message: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(message) = message {
        out.push_str(&error(message));
    }
    let _ = write!(
        out,
        "<form method=\"post\" action=\"{action}\">{}\
         <input type=\"hidden\" name=\"serial\" value=\"{}\">\
         <label for=\"code1\">MFA code 1</label><input type=\"text\" id=\"code1\" name=\"code1\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\
         <label for=\"code2\">MFA code 2</label><input type=\"text\" id=\"code2\" name=\"code2\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\
         <button type=\"submit\">Add MFA</button></form>",
        csrf_field(csrf),
        esc(serial)
    );
    out
}

/// Where a user's new device is proven.
fn user_mfa_action(name: &str) -> String {
    format!("/console/users/{}/mfa/enable", seg(name))
}

/// The page that enrols a new virtual device: the steps, its QR code and secret (shown this once)
/// and `codes_form`; `None` when the seed is not base32 (never for a seed just made).
pub(crate) fn mfa_enrolment(
    account_id: &str,
    device_name: &str,
    base32_seed: &str,
    codes_form: &str,
) -> Option<String> {
    let seed = tessera_credentials::TotpSeed::from_base32(base32_seed).ok()?;
    let uri = tessera_credentials::otpauth_uri(account_id, device_name, &seed);
    let qr = qr_svg(&uri).unwrap_or_default();
    Some(format!(
        "<ol><li>Install an authenticator app.</li><li>Scan the QR code, or type the secret key.</li>\
         <li>Enter two consecutive codes from the app.</li></ol>\
         <figure role=\"img\" aria-label=\"QR code of the MFA device\" id=\"mfa-qr\">{qr}</figure>\
         <p>Secret key: <span class=\"secret\" id=\"mfa-secret\">{}</span></p>{codes_form}",
        esc(base32_seed),
    ))
}

pub(crate) async fn mfa_enrol_form<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    let body = format!(
        "<p>Assign a virtual MFA device (an authenticator app) to {}.</p>\
         <form method=\"post\" action=\"/console/users/{}/mfa\">{}\
         <label for=\"device\">Device name</label><input type=\"text\" id=\"device\" name=\"device\" value=\"{}\" required>\
         <button type=\"submit\">Assign MFA device</button></form>",
        esc(&name),
        seg(&name),
        csrf_field(&signed.csrf),
        esc(&name)
    );
    Ok(signed.ok("Assign MFA device", &body))
}

/// Creates the virtual device and shows its QR code and secret key once, with the form for two
/// consecutive codes.
pub(crate) async fn mfa_enrol<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    let device = field(&form, "device").trim();
    let title = "Assign MFA device";
    let device_arn = signed.arn(IamEntity::Mfa { path: "/".into(), name: device.into() });
    // Enabling is decided first (its codes come later), so that a refused creation is the outcome
    // of the creation's own event.
    let arn = user_arn(&console, &signed, &name).await;
    console.permit(&signed, title, "iam:EnableMFADevice", &arn).await?;
    console.permit(&signed, title, "iam:CreateVirtualMFADevice", &device_arn).await?;
    let created = match console.identity.create_virtual_mfa_device(&signed.account, None, device, Vec::new()).await {
        Ok(created) => created,
        Err(e) => return Err(signed.status(StatusCode::BAD_REQUEST, title, &error(&console.domain_error(e).message))),
    };
    let form = mfa_codes_form(&user_mfa_action(&name), &created.device.serial, &signed.csrf, None);
    let Some(body) = mfa_enrolment(signed.account.id(), device, created.base32_seed.expose(), &form) else {
        return Err(signed.status(StatusCode::INTERNAL_SERVER_ERROR, title, &error("The seed is not valid.")));
    };
    Ok(signed.ok(title, &body))
}

pub(crate) async fn mfa_enable<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    let title = "Assign MFA device";
    let arn = user_arn(&console, &signed, &name).await;
    console.permit(&signed, title, "iam:EnableMFADevice", &arn).await?;
    let (serial, code1, code2) = (field(&form, "serial"), field(&form, "code1").trim(), field(&form, "code2").trim());
    Ok(match console.identity.enable_mfa_device(&signed.account, &name, serial, code1, code2).await {
        Ok(()) => redirect_to(format!("/console/users/{}", seg(&name))),
        Err(e) => {
            // The seed is not shown again: the codes can be retried against the same device.
            let message = console.domain_error(e).message;
            signed.status(
                StatusCode::BAD_REQUEST,
                title,
                &mfa_codes_form(&user_mfa_action(&name), serial, &signed.csrf, Some(&message)),
            )
        }
    })
}
