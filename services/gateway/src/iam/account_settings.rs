//! Account-wide settings and single reads (issue 14, part A): the account alias, the STS
//! preferences, and `GetMFADevice`.

use tessera_store::Store;

use super::secs;
use crate::actions::Authorized;
use crate::context::{Cx, Result};

pub(crate) async fn create_account_alias<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    cx.gateway.identity.create_account_alias(cx.account(), &cx.required("AccountAlias")?).await?;
    Ok(cx.empty())
}

pub(crate) async fn delete_account_alias<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    cx.gateway.identity.delete_account_alias(cx.account(), &cx.required("AccountAlias")?).await?;
    Ok(cx.empty())
}

pub(crate) async fn list_account_aliases<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let page = cx.gateway.identity.list_account_aliases(cx.account(), &cx.page()?).await?;
    let mut r = cx.response();
    r.str_list("AccountAliases", &page.items);
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_mfa_device<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let serial = cx.required("SerialNumber")?;
    let user = cx.get("UserName").filter(|n| !n.is_empty());
    let device = cx.gateway.identity.get_mfa_device(cx.account(), &serial, user.as_deref()).await?;
    let mut r = cx.response();
    // The root's device has no user name (`ROOT_OWNER`).
    r.opt("UserName", device.user.as_deref().filter(|u| !u.is_empty())).el("SerialNumber", &device.serial);
    r.opt_timestamp("EnableDate", device.enable_date.map(secs));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn set_security_token_service_preferences<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let version = cx.required("GlobalEndpointTokenVersion")?;
    cx.gateway.identity.set_security_token_service_preferences(cx.account(), &version).await?;
    Ok(cx.empty())
}
