//! Instance profiles (issue 14, part A): create, read, list, delete, and the one role a profile
//! holds. Their tags go through `entities::{tag, untag, list_tags}` like every taggable resource.

use tessera_identity::InstanceProfile;
use tessera_store::Store;

use super::instance_profile_xml;
use crate::actions::Authorized;
use crate::context::{Cx, Result};

fn profile_xml(r: &mut tessera_awsapi::Response, p: &InstanceProfile) {
    instance_profile_xml(r, &p.profile, &p.roles);
}

fn one<S: Store>(cx: &Cx<'_, S>, profile: &InstanceProfile) -> String {
    let mut r = cx.response();
    r.nested("InstanceProfile", |r| profile_xml(r, profile));
    r.finish(cx.request_id)
}

fn page<S: Store>(cx: &Cx<'_, S>, page: &tessera_identity::Page<InstanceProfile>) -> String {
    let mut r = cx.response();
    r.list("InstanceProfiles", &page.items, profile_xml);
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    r.finish(cx.request_id)
}

pub(crate) async fn create_instance_profile<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let profile =
        cx.gateway.identity.create_instance_profile(cx.account(), cx.get("Path"), auth.name(), cx.tags()).await?;
    Ok(one(cx, &profile))
}

pub(crate) async fn get_instance_profile<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    // The profile read to authorize the call.
    let profile = auth.instance_profile(cx).await?;
    Ok(one(cx, &profile))
}

pub(crate) async fn delete_instance_profile<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.delete_instance_profile(cx.account(), auth.name()).await?;
    Ok(cx.empty())
}

pub(crate) async fn list_instance_profiles<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let prefix = cx.get("PathPrefix");
    let profiles = cx.gateway.identity.list_instance_profiles(cx.account(), prefix.as_deref(), &cx.page()?).await?;
    Ok(page(cx, &profiles))
}

pub(crate) async fn list_instance_profiles_for_role<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let profiles = cx.gateway.identity.list_instance_profiles_for_role(cx.account(), auth.name(), &cx.page()?).await?;
    Ok(page(cx, &profiles))
}

pub(crate) async fn add_role_to_instance_profile<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let role = cx.required("RoleName")?;
    cx.gateway.identity.add_role_to_instance_profile(cx.account(), auth.name(), &role).await?;
    Ok(cx.empty())
}

pub(crate) async fn remove_role_from_instance_profile<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let role = cx.required("RoleName")?;
    cx.gateway.identity.remove_role_from_instance_profile(cx.account(), auth.name(), &role).await?;
    Ok(cx.empty())
}
