//! Users and their access keys.

use tessera_identity::CreateUser;
use tessera_store::Store;

use super::{secs, user_list_xml, user_xml};
use crate::actions::Authorized;
use crate::context::{Cx, Result};

pub(crate) async fn create_user<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let input = CreateUser {
        path: cx.get("Path"),
        user_name: auth.name().to_owned(),
        permissions_boundary: cx.get("PermissionsBoundary"),
        tags: cx.tags(),
    };
    let user = cx.gateway.identity.create_user(cx.account(), input).await?;
    let mut r = cx.response();
    r.nested("User", |r| user_xml(r, &user));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_user<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    if auth.name().is_empty() {
        // The account root: AWS answers its own shape (the account id as `UserId`, the root ARN,
        // the account's creation; no `Path` or `UserName`). The account exists (its root called),
        // so this finds its record and writes nothing.
        let account = cx.gateway.identity.create_account(cx.account()).await?;
        let mut r = cx.response();
        r.nested("User", |r| {
            r.el("UserId", cx.account().id()).el("Arn", auth.arn()).timestamp("CreateDate", secs(account.create_date));
        });
        return Ok(r.finish(cx.request_id));
    }
    // The user read to authorize the call.
    let user = auth.user(cx).await?;
    let mut r = cx.response();
    r.nested("User", |r| user_xml(r, &user));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn list_users<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let page = cx.gateway.identity.list_users(cx.account(), cx.get("PathPrefix").as_deref(), &cx.page()?).await?;
    let mut r = cx.response();
    r.list("Users", &page.items, user_list_xml);
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn update_user<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.update_user(cx.account(), auth.name(), cx.get("NewPath"), cx.get("NewUserName")).await?;
    Ok(cx.empty())
}

pub(crate) async fn delete_user<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.delete_user(cx.account(), auth.name()).await?;
    Ok(cx.empty())
}

pub(crate) async fn create_access_key<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let key = cx.gateway.identity.create_access_key(cx.account(), auth.name()).await?;
    let mut r = cx.response();
    r.nested("AccessKey", |r| {
        // The root's own keys have no user name.
        r.opt("UserName", Some(key.user_name.as_str()).filter(|n| !n.is_empty()))
            .el("AccessKeyId", &key.access_key_id)
            .el("Status", key.status.as_str())
            .el("SecretAccessKey", key.secret_access_key.expose())
            .timestamp("CreateDate", secs(key.create_date));
    });
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn list_access_keys<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let page = cx.gateway.identity.list_access_keys(cx.account(), auth.name(), &cx.page()?).await?;
    let mut r = cx.response();
    r.list("AccessKeyMetadata", &page.items, |r, k| {
        r.opt("UserName", Some(k.user_name.as_str()).filter(|n| !n.is_empty()))
            .el("AccessKeyId", &k.access_key_id)
            .el("Status", k.status.as_str())
            .timestamp("CreateDate", secs(k.create_date));
    });
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn update_access_key<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let status = super::certificates::key_status(cx)?;
    cx.gateway.identity.update_access_key(cx.account(), auth.name(), &cx.required("AccessKeyId")?, status).await?;
    Ok(cx.empty())
}

pub(crate) async fn delete_access_key<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.delete_access_key(cx.account(), auth.name(), &cx.required("AccessKeyId")?).await?;
    Ok(cx.empty())
}

pub(crate) async fn get_access_key_last_used<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    // Read to learn the key's owner, which the call is authorized on.
    let used = auth.key_use(cx).await?;
    let mut r = cx.response();
    r.el("UserName", crate::iam::owner_name(&used.user_name));
    r.nested("AccessKeyLastUsed", |r| {
        r.opt_timestamp("LastUsedDate", used.last_used_date.map(secs))
            .el("ServiceName", &used.service_name)
            .el("Region", &used.region);
    });
    Ok(r.finish(cx.request_id))
}
