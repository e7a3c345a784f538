//! The account root's MFA device, which AWS lets the root assign only in the console ("You cannot
//! enable an MFA device for the root user with the AWS CLI, AWS API ..."): a virtual device named
//! `root-account-mfa-device`, its QR code and secret key shown once, proven by two consecutive
//! codes; and its removal (deactivated and deleted). Only the root reaches these pages; each step is
//! authorized and recorded as the IAM action it is (`iam:CreateVirtualMFADevice`,
//! `iam:EnableMFADevice`, `iam:DeactivateMFADevice`, `iam:DeleteVirtualMFADevice`). Once assigned,
//! the root's console sign-in asks for a code (`pages::mfa`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tessera_arn::Arn;
use tessera_authorizer::CallerKind;
use tessera_identity::{ROOT_MFA_DEVICE_NAME, root_mfa_serial};
use tessera_store::Store;

use crate::Console;
use crate::access::{mfa_codes_form, mfa_enrolment};
use crate::html::{csrf_field, denied, error, esc};
use crate::pages::{Shared, Signed, field, internal_error, millis_date, redirect};

const TITLE: &str = "Root user MFA";

/// Refuses anyone but the root (an IAM user or a role session, whatever its policies say: AWS
/// offers this to the root alone), recording the refusal as the API records a denial.
async fn root_only<S: Store>(console: &Console<S>, signed: &Signed, action: &str) -> Result<(), Response> {
    if matches!(signed.caller.kind, CallerKind::Root) {
        return Ok(());
    }
    let root = Arn::root(signed.account.id()).to_string();
    console.audit_action(&signed.caller, action, &root, false);
    let refusal = tessera_authorizer::root_only(&signed.caller.arn, action, &root, "manage the root user's MFA device");
    Err(signed.refused(TITLE, &refusal.into_service_error().message))
}

/// Where the root's new device is proven.
const ENABLE: &str = "/console/account/mfa/enable";

/// The root's device and a form to remove it, or a form to assign one.
pub(crate) async fn page<S: Store>(State(console): Shared<S>, headers: HeaderMap) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    root_only(&console, &signed, "iam:ListMFADevices").await?;
    let root = Arn::root(signed.account.id()).to_string();
    if let Err(explanation) = console.authorize(&signed, "iam:ListMFADevices", &root).await {
        return Ok(signed.ok(TITLE, &denied(&explanation)));
    }
    let device = match console.sts.identity().root_mfa_device(&signed.account).await {
        Ok(device) => device,
        Err(e) => return Err(internal_error("cannot read the root's MFA device", &e.into_service_error().message)),
    };
    let body = match device {
        Some(device) => format!(
            "<p id=\"root-mfa-state\" data-state=\"assigned\">The root user's MFA device: \
             <span id=\"root-mfa-serial\">{}</span>, assigned {}.</p>\
             <form method=\"post\" action=\"/console/account/mfa\">{}\
             <input type=\"hidden\" name=\"op\" value=\"remove\"><button type=\"submit\">Remove MFA device</button></form>",
            esc(&device.serial),
            esc(&device.enable_date.map(millis_date).unwrap_or_default()),
            csrf_field(&signed.csrf)
        ),
        None => format!(
            "<p id=\"root-mfa-state\" data-state=\"none\">The root user has no MFA device. Assign a virtual MFA \
             device (an authenticator app): the root's console sign-in will then ask for its code.</p>\
             <form method=\"post\" action=\"/console/account/mfa\">{}\
             <input type=\"hidden\" name=\"op\" value=\"assign\"><button type=\"submit\">Assign MFA device</button></form>",
            csrf_field(&signed.csrf)
        ),
    };
    Ok(signed.ok(TITLE, &body))
}

/// `op=assign`: creates the root's device and shows its QR code and secret key once, with the
/// form for two consecutive codes. `op=remove`: deactivates and deletes it.
pub(crate) async fn action<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    let root = Arn::root(signed.account.id()).to_string();
    let serial = root_mfa_serial(&signed.account);
    let identity = console.sts.identity();
    match field(&form, "op") {
        "assign" => {
            root_only(&console, &signed, "iam:CreateVirtualMFADevice").await?;
            console.permit(&signed, TITLE, "iam:CreateVirtualMFADevice", &serial).await?;
            let created = match identity.create_root_mfa_device(&signed.account).await {
                Ok(created) => created,
                Err(e) => return Err(console.failed(&signed, TITLE, e)),
            };
            let form = mfa_codes_form(ENABLE, &created.device.serial, &signed.csrf, None);
            let Some(body) =
                mfa_enrolment(signed.account.id(), ROOT_MFA_DEVICE_NAME, created.base32_seed.expose(), &form)
            else {
                return Err(internal_error("cannot read a new MFA seed", &"not base32"));
            };
            Ok(signed.ok(TITLE, &body))
        }
        "remove" => {
            root_only(&console, &signed, "iam:DeactivateMFADevice").await?;
            console.permit(&signed, TITLE, "iam:DeactivateMFADevice", &root).await?;
            if let Err(e) = identity.deactivate_mfa_device(&signed.account, "", &serial).await {
                return Err(console.failed(&signed, TITLE, e));
            }
            console.permit(&signed, TITLE, "iam:DeleteVirtualMFADevice", &serial).await?;
            if let Err(e) = identity.delete_virtual_mfa_device(&signed.account, &serial).await {
                return Err(console.failed(&signed, TITLE, e));
            }
            Ok(redirect("/console/account/mfa"))
        }
        _ => Err(signed.status(StatusCode::BAD_REQUEST, TITLE, &error("Unknown MFA device action."))),
    }
}

/// The two codes that assign the root's device.
pub(crate) async fn enable<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Response> {
    let (signed, form) = console.posted(&headers, &body).await?;
    root_only(&console, &signed, "iam:EnableMFADevice").await?;
    let root = Arn::root(signed.account.id()).to_string();
    console.permit(&signed, TITLE, "iam:EnableMFADevice", &root).await?;
    let (serial, code1, code2) = (field(&form, "serial"), field(&form, "code1").trim(), field(&form, "code2").trim());
    match console.sts.identity().enable_root_mfa_device(&signed.account, serial, code1, code2).await {
        Ok(()) => Ok(redirect("/console/account/mfa")),
        Err(e) => {
            // The seed is not shown again: the codes can be retried against the same device.
            let e = console.domain_error(e);
            let form = mfa_codes_form(ENABLE, serial, &signed.csrf, Some(&e.message));
            Ok(signed.status(StatusCode::BAD_REQUEST, TITLE, &form))
        }
    }
}
