//! Groups and memberships, roles, tags on every taggable resource, and permissions boundaries.

use tessera_identity::{CreateRole, Taggable};
use tessera_store::Store;
use tessera_store::iam::EntityKind;

use super::{group_xml, role_list_xml, role_xml, user_list_xml};
use crate::actions::{Authorized, ResourceType};
use crate::context::{Cx, Result};

/// The resource a `Tag*`/`Untag*`/`List*Tags` action acts on, by its row's resource type.
fn taggable<S: Store>(cx: &Cx<'_, S>, auth: &Authorized) -> Taggable {
    let named = auth.name().to_owned();
    match cx.action.resource_type() {
        ResourceType::User => Taggable::User(named),
        ResourceType::Role => Taggable::Role(named),
        ResourceType::Policy => Taggable::Policy(named),
        ResourceType::OidcProvider => Taggable::OidcProvider(named),
        ResourceType::ServerCertificate => Taggable::ServerCertificate(named),
        ResourceType::InstanceProfile => Taggable::InstanceProfile(named),
        // SAML providers
        ResourceType::SamlProvider => Taggable::SamlProvider(named),
        _ => Taggable::MfaDevice(named),
    }
}

pub(crate) async fn create_group<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let group = cx.gateway.identity.create_group(cx.account(), cx.get("Path"), auth.name()).await?;
    let mut r = cx.response();
    r.nested("Group", |r| group_xml(r, &group));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_group<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let (group, users) = cx.gateway.identity.get_group(cx.account(), auth.name(), &cx.page()?).await?;
    let mut r = cx.response();
    r.nested("Group", |r| group_xml(r, &group));
    // AWS's documented GetGroup example lists each user as ListUsers does: no
    // PermissionsBoundary and no Tags (GetUser has those).
    r.list("Users", &users.items, user_list_xml);
    r.bool("IsTruncated", users.is_truncated()).opt("Marker", users.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn list_groups<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let page = cx.gateway.identity.list_groups(cx.account(), cx.get("PathPrefix").as_deref(), &cx.page()?).await?;
    let mut r = cx.response();
    r.list("Groups", &page.items, group_xml);
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn update_group<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.update_group(cx.account(), auth.name(), cx.get("NewPath"), cx.get("NewGroupName")).await?;
    Ok(cx.empty())
}

pub(crate) async fn delete_group<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.delete_group(cx.account(), auth.name()).await?;
    Ok(cx.empty())
}

pub(crate) async fn add_user_to_group<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.add_user_to_group(cx.account(), auth.name(), &cx.required("UserName")?).await?;
    Ok(cx.empty())
}

pub(crate) async fn remove_user_from_group<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.remove_user_from_group(cx.account(), auth.name(), &cx.required("UserName")?).await?;
    Ok(cx.empty())
}

pub(crate) async fn list_groups_for_user<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let page = cx.gateway.identity.list_groups_for_user(cx.account(), auth.name(), &cx.page()?).await?;
    let mut r = cx.response();
    r.list("Groups", &page.items, group_xml);
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn create_role<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let input = CreateRole {
        path: cx.get("Path"),
        assume_role_policy_document: cx.required("AssumeRolePolicyDocument")?,
        role_name: auth.name().to_owned(),
        description: cx.get("Description"),
        max_session_duration: cx.int("MaxSessionDuration")?,
        permissions_boundary: cx.get("PermissionsBoundary"),
        tags: cx.tags(),
    };
    let role = cx.gateway.identity.create_role(cx.account(), input).await?;
    let mut r = cx.response();
    r.nested("Role", |r| role_xml(r, &role));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_role<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    // The role read to authorize the call.
    let role = auth.role(cx).await?;
    let mut r = cx.response();
    r.nested("Role", |r| role_xml(r, &role));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn list_roles<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let page = cx.gateway.identity.list_roles(cx.account(), cx.get("PathPrefix").as_deref(), &cx.page()?).await?;
    let mut r = cx.response();
    r.list("Roles", &page.items, role_list_xml);
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn update_role<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let (description, duration) = (cx.get("Description"), cx.int("MaxSessionDuration")?);
    cx.gateway.identity.update_role(cx.account(), auth.name(), description, duration).await?;
    // The model gives UpdateRole an (empty) result, unlike the other mutations.
    Ok(cx.response().finish(cx.request_id))
}

pub(crate) async fn update_role_description<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let identity = &cx.gateway.identity;
    identity.update_role(cx.account(), auth.name(), Some(cx.required("Description")?), None).await?;
    let role = identity.get_role(cx.account(), auth.name()).await?;
    let mut r = cx.response();
    r.nested("Role", |r| role_xml(r, &role));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn update_assume_role_policy<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let document = cx.required("PolicyDocument")?;
    cx.gateway.identity.update_assume_role_policy(cx.account(), auth.name(), &document).await?;
    Ok(cx.empty())
}

pub(crate) async fn delete_role<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.delete_role(cx.account(), auth.name()).await?;
    Ok(cx.empty())
}

pub(crate) async fn tag<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.tag_resource(cx.account(), &taggable(cx, &auth), cx.tags()).await?;
    Ok(cx.empty())
}

pub(crate) async fn untag<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let keys: Vec<String> = cx.params.list("TagKeys").into_iter().map(str::to_owned).collect();
    cx.gateway.identity.untag_resource(cx.account(), &taggable(cx, &auth), &keys).await?;
    Ok(cx.empty())
}

pub(crate) async fn list_tags<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let page = cx.gateway.identity.list_resource_tags(cx.account(), &taggable(cx, &auth), &cx.page()?).await?;
    let mut r = cx.response();
    // `Tags` is required in these outputs: written even when empty.
    r.list("Tags", &page.items, |r, t| {
        r.el("Key", &t.key).el("Value", &t.value);
    });
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn put_boundary<S: Store>(cx: &Cx<'_, S>, auth: Authorized, kind: EntityKind) -> Result<String> {
    let boundary = cx.required("PermissionsBoundary")?;
    cx.gateway.identity.set_permissions_boundary(cx.account(), kind, auth.name(), Some(&boundary)).await?;
    Ok(cx.empty())
}

pub(crate) async fn delete_boundary<S: Store>(cx: &Cx<'_, S>, auth: Authorized, kind: EntityKind) -> Result<String> {
    cx.gateway.identity.set_permissions_boundary(cx.account(), kind, auth.name(), None).await?;
    Ok(cx.empty())
}
