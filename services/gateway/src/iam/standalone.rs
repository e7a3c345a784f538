//! The IAM operations of features a self-hosted account stands outside of, answered as AWS
//! answers a standalone account (one in no organization, not onboarded as a temporary-delegation
//! partner): the Organizations features (centralized root access, the Organizations access
//! report), temporary delegation requests and their human-readable summaries; and the account's
//! outbound web identity federation switch, which Tessera does implement (its identity tokens
//! come from Tessera's own OIDC issuer).
//!
//! Each is authorized by its row first, like every action, so a caller without the permission
//! learns nothing more than `AccessDenied`.

use tessera_arn::{ValidationError, Violation};
use tessera_identity::Error;
use tessera_proto::ErrorCode;
use tessera_store::Store;

use crate::actions::Authorized;
use crate::context::{Cx, Result};

// ---------------------------------------------------------------------------------------------
// Organizations.

/// What the Organizations-related calls answer for an account in no organization.
fn no_organization() -> crate::respond::GatewayError {
    Error::new(
        ErrorCode::OrganizationNotFound,
        "The request was rejected because no organization is associated with your account.",
    )
    .into()
}

/// `Enable`/`DisableOrganizationsRootCredentialsManagement`, `Enable`/`DisableOrganizationsRootSessions`,
/// `ListOrganizationsFeatures` and `GenerateOrganizationsAccessReport`.
pub(crate) async fn organizations<S: Store>(_: &Cx<'_, S>, _: Authorized) -> Result<String> {
    Err(no_organization())
}

/// `GetOrganizationsAccessReport`: no report was ever generated in an account outside an
/// organization, so no job id names one.
pub(crate) async fn get_organizations_access_report<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let id = cx.required("JobId")?;
    check_length("jobId", &id, 36, 36)?;
    Err(Error::no_such_entity(format!("No such job {id}")).into())
}

// ---------------------------------------------------------------------------------------------
// Temporary delegation requests.

/// A length constraint of the model, worded as AWS words it.
fn check_length(field: &'static str, value: &str, min: usize, max: usize) -> Result<()> {
    let length = value.chars().count();
    let violation = if length < min {
        Violation::MinLength(min)
    } else if length > max {
        Violation::MaxLength(max)
    } else {
        return Ok(());
    };
    Err(Error::from(ValidationError { field, value: value.to_owned(), violations: vec![violation] }).into())
}

/// `DelegationRequestId`: 16 to 128 characters of `[\w-]+`.
fn delegation_request_id<S: Store>(cx: &Cx<'_, S>) -> Result<String> {
    let id = cx.required("DelegationRequestId")?;
    check_length("delegationRequestId", &id, 16, 128)?;
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        let error = ValidationError {
            field: "delegationRequestId",
            value: id,
            violations: vec![Violation::Pattern("[\\w-]+")],
        };
        return Err(Error::from(error).into());
    }
    Ok(id)
}

fn no_delegation_request(id: &str) -> crate::respond::GatewayError {
    Error::no_such_entity(format!("The delegation request with id {id} cannot be found.")).into()
}

/// The calls on one delegation request (`Get`, `Accept`, `Associate`, `Reject`, `Update`,
/// `SendDelegationToken`): no partner can create one for this account, so none exists.
pub(crate) async fn delegation_request<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let id = delegation_request_id(cx)?;
    Err(no_delegation_request(&id))
}

/// `CreateDelegationRequest` is for onboarded partners only.
pub(crate) async fn create_delegation_request<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    for required in ["Description", "RequestorWorkflowId", "NotificationChannel", "SessionDuration"] {
        cx.required(required)?;
    }
    Err(Error::invalid_input(
        "This account is not onboarded as a partner for IAM temporary delegation, so it cannot create delegation requests.",
    )
    .into())
}

/// `ListDelegationRequests`: there are none. Its truncation flag is `isTruncated`, as the model
/// spells it.
pub(crate) async fn list_delegation_requests<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    cx.page()?.limit()?;
    cx.page()?.marker()?;
    let mut r = cx.response();
    r.list("DelegationRequests", std::iter::empty::<()>(), |_, ()| {});
    r.bool("isTruncated", false);
    Ok(r.finish(cx.request_id))
}

/// `GetHumanReadableSummary`: only delegation requests have summaries, and none exists.
pub(crate) async fn get_human_readable_summary<S: Store>(_cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let arn = auth.arn();
    let parsed = tessera_arn::Arn::parse(arn).map_err(|_| Error::invalid_input(format!("ARN {arn} is not valid.")))?;
    match parsed.resource.split_once('/') {
        Some(("delegation-request", id)) if parsed.service == "iam" => Err(no_delegation_request(id)),
        _ => Err(Error::invalid_input(format!(
            "The entity {arn} is not supported: only delegation requests have a human-readable summary."
        ))
        .into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Outbound web identity federation.

/// The issuer whose URL this account's identity tokens carry (Tessera's own, configured with
/// `--issuer-url`); `None` when this server has none.
fn issuer_identifier<S: Store>(cx: &Cx<'_, S>) -> Option<String> {
    cx.gateway.sts.issuer_url()
}

pub(crate) async fn enable_outbound_web_identity_federation<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    cx.gateway.identity.set_outbound_web_identity_federation(cx.account(), true).await?;
    let mut r = cx.response();
    r.opt("IssuerIdentifier", issuer_identifier(cx));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn disable_outbound_web_identity_federation<S: Store>(
    cx: &Cx<'_, S>,
    _: Authorized,
) -> Result<String> {
    cx.gateway.identity.set_outbound_web_identity_federation(cx.account(), false).await?;
    Ok(cx.empty())
}

/// The issuer and whether tokens are vended; `FeatureDisabled` when it was never enabled.
pub(crate) async fn get_outbound_web_identity_federation_info<S: Store>(
    cx: &Cx<'_, S>,
    _: Authorized,
) -> Result<String> {
    let Some(enabled) = cx.gateway.identity.outbound_web_identity_federation(cx.account()).await? else {
        return Err(Error::new(
            ErrorCode::FeatureDisabled,
            "Outbound web identity federation has never been enabled for this account.",
        )
        .into());
    };
    let mut r = cx.response();
    r.opt("IssuerIdentifier", issuer_identifier(cx)).bool("JwtVendingEnabled", enabled);
    Ok(r.finish(cx.request_id))
}
