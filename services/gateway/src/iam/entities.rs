//! Groups and memberships, roles, tags on every taggable resource, and permissions boundaries.

use tessera_identity::{CreateRole, Taggable};
use tessera_store::Store;
use tessera_store::iam::EntityKind;

use super::{group_xml, role_xml, user_xml};
use crate::authz::renamed_arn;
use crate::context::{Cx, Result};

pub(super) const ACTIONS: &[&str] = &[
    "CreateGroup",
    "GetGroup",
    "ListGroups",
    "UpdateGroup",
    "DeleteGroup",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "ListGroupsForUser",
    "CreateRole",
    "GetRole",
    "ListRoles",
    "UpdateRole",
    "UpdateRoleDescription",
    "UpdateAssumeRolePolicy",
    "DeleteRole",
    "TagUser",
    "UntagUser",
    "ListUserTags",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
    "TagPolicy",
    "UntagPolicy",
    "ListPolicyTags",
    "TagOpenIDConnectProvider",
    "UntagOpenIDConnectProvider",
    "ListOpenIDConnectProviderTags",
    "TagMFADevice",
    "UntagMFADevice",
    "ListMFADeviceTags",
    "PutUserPermissionsBoundary",
    "DeleteUserPermissionsBoundary",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
];

/// The resource a `Tag*`/`Untag*`/`List*Tags` action names, and its ARN for authorization.
async fn taggable<S: Store>(cx: &Cx<'_, S>) -> Result<(Taggable, String)> {
    let action = cx.action.as_str();
    let kind = action
        .strip_prefix("Untag")
        .or_else(|| action.strip_prefix("Tag"))
        .or_else(|| action.strip_prefix("List").and_then(|a| a.strip_suffix("Tags")))
        .unwrap_or(action);
    Ok(match kind {
        "User" => {
            let name = cx.required("UserName")?;
            let arn = cx.entity_arn(EntityKind::User, &name).await;
            (Taggable::User(name), arn)
        }
        "Role" => {
            let name = cx.required("RoleName")?;
            let arn = cx.entity_arn(EntityKind::Role, &name).await;
            (Taggable::Role(name), arn)
        }
        "Policy" => {
            let arn = cx.required("PolicyArn")?;
            (Taggable::Policy(arn.clone()), arn)
        }
        "OpenIDConnectProvider" => {
            let arn = cx.required("OpenIDConnectProviderArn")?;
            (Taggable::OidcProvider(arn.clone()), arn)
        }
        _ => {
            let serial = cx.required("SerialNumber")?;
            (Taggable::MfaDevice(serial.clone()), serial)
        }
    })
}

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
        "CreateGroup" => {
            let name = cx.required("GroupName")?;
            cx.authorize(&cx.entity_arn(EntityKind::Group, &name).await).await?;
            let group = identity.create_group(account, cx.get("Path"), &name).await?;
            r.nested("Group", |r| group_xml(r, &group));
        }
        "GetGroup" => {
            let name = cx.required("GroupName")?;
            cx.authorize(&cx.entity_arn(EntityKind::Group, &name).await).await?;
            let (group, users) = identity.get_group(account, &name, &cx.page()?).await?;
            r.nested("Group", |r| group_xml(r, &group));
            r.list("Users", &users.items, user_xml);
            r.bool("IsTruncated", users.is_truncated()).opt("Marker", users.marker.as_deref());
        }
        "ListGroups" => {
            cx.authorize(&cx.arn("group", "/", "*")).await?;
            let page = identity.list_groups(account, cx.get("PathPrefix").as_deref(), &cx.page()?).await?;
            r.list("Groups", &page.items, group_xml);
            r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
        }
        "UpdateGroup" => {
            let name = cx.required("GroupName")?;
            let arn = cx.entity_arn(EntityKind::Group, &name).await;
            let mut ask = cx.ask(&arn);
            ask.also.extend(renamed_arn(&arn, cx.get("NewPath").as_deref(), cx.get("NewGroupName").as_deref()));
            cx.authorize_ask(&ask).await?;
            identity.update_group(account, &name, cx.get("NewPath"), cx.get("NewGroupName")).await?;
            return Ok(cx.empty());
        }
        "DeleteGroup" => {
            let name = cx.required("GroupName")?;
            cx.authorize(&cx.entity_arn(EntityKind::Group, &name).await).await?;
            identity.delete_group(account, &name).await?;
            return Ok(cx.empty());
        }
        "AddUserToGroup" | "RemoveUserFromGroup" => {
            let group = cx.required("GroupName")?;
            let user = cx.required("UserName")?;
            cx.authorize(&cx.entity_arn(EntityKind::Group, &group).await).await?;
            if cx.action == "AddUserToGroup" {
                identity.add_user_to_group(account, &group, &user).await?;
            } else {
                identity.remove_user_from_group(account, &group, &user).await?;
            }
            return Ok(cx.empty());
        }
        "ListGroupsForUser" => {
            let name = cx.required("UserName")?;
            cx.authorize(&cx.entity_arn(EntityKind::User, &name).await).await?;
            let page = identity.list_groups_for_user(account, &name, &cx.page()?).await?;
            r.list("Groups", &page.items, group_xml);
            r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
        }
        "CreateRole" => {
            let name = cx.required("RoleName")?;
            cx.authorize(&cx.entity_arn(EntityKind::Role, &name).await).await?;
            let input = CreateRole {
                path: cx.get("Path"),
                assume_role_policy_document: cx.required("AssumeRolePolicyDocument")?,
                role_name: name,
                description: cx.get("Description"),
                max_session_duration: cx.int("MaxSessionDuration")?,
                permissions_boundary: cx.get("PermissionsBoundary"),
                tags: cx.tags(),
            };
            let role = identity.create_role(account, input).await?;
            r.nested("Role", |r| role_xml(r, &role));
        }
        "GetRole" => {
            let name = cx.required("RoleName")?;
            cx.authorize(&cx.entity_arn(EntityKind::Role, &name).await).await?;
            let role = identity.get_role(account, &name).await?;
            r.nested("Role", |r| role_xml(r, &role));
        }
        "ListRoles" => {
            cx.authorize(&cx.arn("role", "/", "*")).await?;
            let page = identity.list_roles(account, cx.get("PathPrefix").as_deref(), &cx.page()?).await?;
            r.list("Roles", &page.items, role_xml);
            r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
        }
        "UpdateRole" => {
            let name = cx.required("RoleName")?;
            cx.authorize(&cx.entity_arn(EntityKind::Role, &name).await).await?;
            identity.update_role(account, &name, cx.get("Description"), cx.int("MaxSessionDuration")?).await?;
            // The model gives UpdateRole an (empty) result, unlike the other mutations.
        }
        "UpdateRoleDescription" => {
            let name = cx.required("RoleName")?;
            let description = cx.required("Description")?;
            cx.authorize(&cx.entity_arn(EntityKind::Role, &name).await).await?;
            identity.update_role(account, &name, Some(description), None).await?;
            let role = identity.get_role(account, &name).await?;
            r.nested("Role", |r| role_xml(r, &role));
        }
        "UpdateAssumeRolePolicy" => {
            let name = cx.required("RoleName")?;
            let document = cx.required("PolicyDocument")?;
            cx.authorize(&cx.entity_arn(EntityKind::Role, &name).await).await?;
            identity.update_assume_role_policy(account, &name, &document).await?;
            return Ok(cx.empty());
        }
        "DeleteRole" => {
            let name = cx.required("RoleName")?;
            cx.authorize(&cx.entity_arn(EntityKind::Role, &name).await).await?;
            identity.delete_role(account, &name).await?;
            return Ok(cx.empty());
        }
        action if action.starts_with("Tag") => {
            let (resource, arn) = taggable(cx).await?;
            cx.authorize(&arn).await?;
            identity.tag_resource(account, &resource, cx.tags()).await?;
            return Ok(cx.empty());
        }
        action if action.starts_with("Untag") => {
            let (resource, arn) = taggable(cx).await?;
            cx.authorize(&arn).await?;
            let keys: Vec<String> = cx.params.list("TagKeys").into_iter().map(str::to_owned).collect();
            identity.untag_resource(account, &resource, &keys).await?;
            return Ok(cx.empty());
        }
        action if action.starts_with("List") && action.ends_with("Tags") => {
            let (resource, arn) = taggable(cx).await?;
            cx.authorize(&arn).await?;
            let page = identity.list_resource_tags(account, &resource, &cx.page()?).await?;
            // `Tags` is required in these outputs: written even when empty.
            r.list("Tags", &page.items, |r, t| {
                r.el("Key", &t.key).el("Value", &t.value);
            });
            r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
        }
        "PutUserPermissionsBoundary" | "DeleteUserPermissionsBoundary" => {
            let name = cx.required("UserName")?;
            let boundary = if cx.action.starts_with("Put") { Some(cx.required("PermissionsBoundary")?) } else { None };
            cx.authorize(&cx.entity_arn(EntityKind::User, &name).await).await?;
            identity.set_permissions_boundary(account, EntityKind::User, &name, boundary.as_deref()).await?;
            return Ok(cx.empty());
        }
        "PutRolePermissionsBoundary" | "DeleteRolePermissionsBoundary" => {
            let name = cx.required("RoleName")?;
            let boundary = if cx.action.starts_with("Put") { Some(cx.required("PermissionsBoundary")?) } else { None };
            cx.authorize(&cx.entity_arn(EntityKind::Role, &name).await).await?;
            identity.set_permissions_boundary(account, EntityKind::Role, &name, boundary.as_deref()).await?;
            return Ok(cx.empty());
        }
        other => {
            return Err(super::unknown(other));
        }
    }
    Ok(r.finish(cx.request_id))
}
