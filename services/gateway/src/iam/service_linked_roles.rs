//! Service-linked roles (issue 14, part A): created for an AWS service with its trust, deleted
//! by a task whose status can be asked for.

use tessera_store::Store;

use super::role_xml;
use crate::actions::Authorized;
use crate::context::{Cx, Result};

pub(crate) async fn create_service_linked_role<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let (description, suffix) = (cx.get("Description"), cx.get("CustomSuffix"));
    let role = cx.gateway.identity.create_service_linked_role(cx.account(), auth.name(), description, suffix).await?;
    let mut r = cx.response();
    r.nested("Role", |r| role_xml(r, &role));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn delete_service_linked_role<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let task = cx.gateway.identity.delete_service_linked_role(cx.account(), auth.name()).await?;
    let mut r = cx.response();
    r.el("DeletionTaskId", &task);
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_service_linked_role_deletion_status<S: Store>(
    cx: &Cx<'_, S>,
    auth: Authorized,
) -> Result<String> {
    let (status, reason) =
        cx.gateway.identity.get_service_linked_role_deletion_status(cx.account(), auth.name()).await?;
    let mut r = cx.response();
    r.el("Status", status.as_str());
    if let Some(reason) = &reason {
        r.nested("Reason", |r| {
            r.el("Reason", reason);
        });
    }
    Ok(r.finish(cx.request_id))
}
