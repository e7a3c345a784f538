//! Users and their access keys.

use tessera_identity::CreateUser;
use tessera_store::Store;
use tessera_store::iam::EntityKind;

use super::{secs, user_xml};
use crate::authz::renamed_arn;
use crate::context::{Cx, Result};

pub(super) const ACTIONS: &[&str] = &[
    "CreateUser",
    "GetUser",
    "ListUsers",
    "UpdateUser",
    "DeleteUser",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "GetAccessKeyLastUsed",
];

pub(super) async fn dispatch<S: Store>(cx: &Cx<'_, S>) -> Option<Result<String>> {
    if !ACTIONS.contains(&cx.action.as_str()) {
        return None;
    }
    Some(run(cx).await)
}

async fn run<S: Store>(cx: &Cx<'_, S>) -> Result<String> {
    let identity = &cx.gateway.identity;
    let account = cx.account();
    let mut r = cx.response();
    match cx.action.as_str() {
        "CreateUser" => {
            let name = cx.required("UserName")?;
            cx.authorize(&cx.entity_arn(EntityKind::User, &name).await).await?;
            let input = CreateUser {
                path: cx.get("Path"),
                user_name: name,
                permissions_boundary: cx.get("PermissionsBoundary"),
                tags: cx.tags(),
            };
            let user = identity.create_user(account, input).await?;
            r.nested("User", |r| user_xml(r, &user));
        }
        "GetUser" => {
            let name = cx.user_or_caller()?;
            cx.authorize(&cx.entity_arn(EntityKind::User, &name).await).await?;
            let user = identity.get_user(account, &name).await?;
            r.nested("User", |r| user_xml(r, &user));
        }
        "ListUsers" => {
            cx.authorize(&cx.arn("user", "/", "*")).await?;
            let page = identity.list_users(account, cx.get("PathPrefix").as_deref(), &cx.page()?).await?;
            r.list("Users", &page.items, user_xml);
            r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
        }
        "UpdateUser" => {
            let name = cx.required("UserName")?;
            let arn = cx.entity_arn(EntityKind::User, &name).await;
            let mut ask = cx.ask(&arn);
            ask.also.extend(renamed_arn(&arn, cx.get("NewPath").as_deref(), cx.get("NewUserName").as_deref()));
            cx.authorize_ask(&ask).await?;
            identity.update_user(account, &name, cx.get("NewPath"), cx.get("NewUserName")).await?;
            return Ok(cx.empty());
        }
        "DeleteUser" => {
            let name = cx.required("UserName")?;
            cx.authorize(&cx.entity_arn(EntityKind::User, &name).await).await?;
            identity.delete_user(account, &name).await?;
            return Ok(cx.empty());
        }
        "CreateAccessKey" => {
            let name = cx.user_or_caller()?;
            cx.authorize(&cx.entity_arn(EntityKind::User, &name).await).await?;
            let key = identity.create_access_key(account, &name).await?;
            r.nested("AccessKey", |r| {
                r.el("UserName", &key.user_name)
                    .el("AccessKeyId", &key.access_key_id)
                    .el("Status", key.status.as_str())
                    .el("SecretAccessKey", key.secret_access_key.expose())
                    .timestamp("CreateDate", secs(key.create_date));
            });
        }
        "ListAccessKeys" => {
            let name = cx.user_or_caller()?;
            cx.authorize(&cx.entity_arn(EntityKind::User, &name).await).await?;
            let page = identity.list_access_keys(account, &name, &cx.page()?).await?;
            r.list("AccessKeyMetadata", &page.items, |r, k| {
                r.el("UserName", &k.user_name)
                    .el("AccessKeyId", &k.access_key_id)
                    .el("Status", k.status.as_str())
                    .timestamp("CreateDate", secs(k.create_date));
            });
            r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
        }
        "UpdateAccessKey" => {
            let name = cx.user_or_caller()?;
            cx.authorize(&cx.entity_arn(EntityKind::User, &name).await).await?;
            let status = match cx.required("Status")?.as_str() {
                "Active" => tessera_store::iam::KeyStatus::Active,
                "Inactive" => tessera_store::iam::KeyStatus::Inactive,
                other => {
                    return Err(tessera_identity::Error::new(
                        tessera_proto::ErrorCode::ValidationError,
                        format!("1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]"),
                    )
                    .into());
                }
            };
            identity.update_access_key(account, &name, &cx.required("AccessKeyId")?, status).await?;
            return Ok(cx.empty());
        }
        "DeleteAccessKey" => {
            let name = cx.user_or_caller()?;
            cx.authorize(&cx.entity_arn(EntityKind::User, &name).await).await?;
            identity.delete_access_key(account, &name, &cx.required("AccessKeyId")?).await?;
            return Ok(cx.empty());
        }
        "GetAccessKeyLastUsed" => {
            let key_id = cx.required("AccessKeyId")?;
            let used = identity.get_access_key_last_used(account, &key_id).await?;
            cx.authorize(&cx.entity_arn(EntityKind::User, &used.user_name).await).await?;
            r.el("UserName", &used.user_name);
            r.nested("AccessKeyLastUsed", |r| {
                r.opt_timestamp("LastUsedDate", used.last_used_date.map(secs))
                    .el("ServiceName", &used.service_name)
                    .el("Region", &used.region);
            });
        }
        other => {
            return Err(super::unknown(other));
        }
    }
    Ok(r.finish(cx.request_id))
}
