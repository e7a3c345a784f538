//! Managed policies and their versions, attachments, inline policies, and the policy simulator
//! (reference §5.2, §5.7).

use tessera_identity::Error;
use tessera_policy::{SimulateInput, simulate};
use tessera_policy_service::{
    CreatePolicy, EntityFilter, ListPolicies, ManagedPolicy, PolicyScope, PolicyUsage, PolicyVersion, SourcedPolicy,
};
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::EntityKind;

use super::{secs, tags_xml};
use crate::actions::Authorized;
use crate::context::{Cx, Result};

fn noun(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::User => "User",
        EntityKind::Group => "Group",
        EntityKind::Role => "Role",
    }
}

fn enum_error(field: &str, value: &str, allowed: &str) -> Error {
    Error::new(
        ErrorCode::ValidationError,
        format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [{allowed}]"
        ),
    )
}

fn usage_filter<S: Store>(cx: &Cx<'_, S>) -> Result<Option<PolicyUsage>> {
    match cx.get("PolicyUsageFilter").as_deref() {
        None | Some("") => Ok(None),
        Some("PermissionsPolicy") => Ok(Some(PolicyUsage::PermissionsPolicy)),
        Some("PermissionsBoundary") => Ok(Some(PolicyUsage::PermissionsBoundary)),
        Some(other) => Err(enum_error("policyUsageFilter", other, "PermissionsPolicy, PermissionsBoundary").into()),
    }
}

/// The fields of a `Policy` element; lists leave out the description and tags, as AWS does.
fn policy_xml(r: &mut tessera_awsapi::Response, policy: &ManagedPolicy, full: bool) {
    let p = &policy.record;
    r.el("PolicyName", &p.name)
        .el("PolicyId", &p.id)
        .el("Arn", &p.arn)
        .el("Path", &p.path)
        .el("DefaultVersionId", &p.default_version)
        .int("AttachmentCount", i64::try_from(policy.attachment_count).unwrap_or(i64::MAX))
        .int(
            "PermissionsBoundaryUsageCount",
            i64::try_from(policy.permissions_boundary_usage_count).unwrap_or(i64::MAX),
        )
        .bool("IsAttachable", true);
    if full {
        r.opt("Description", p.description.as_deref());
    }
    r.timestamp("CreateDate", secs(p.create_date)).timestamp("UpdateDate", secs(p.update_date));
    if full {
        tags_xml(r, &p.tags);
    }
}

fn version_xml(r: &mut tessera_awsapi::Response, version: &PolicyVersion, document: bool) {
    if document {
        r.policy_document("Document", &version.document);
    }
    r.el("VersionId", &version.version_id)
        .bool("IsDefaultVersion", version.is_default_version)
        .timestamp("CreateDate", secs(version.create_date));
}

pub(crate) async fn create_policy<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let path = cx.get("Path").filter(|p| !p.is_empty()).unwrap_or_else(|| "/".to_owned());
    let input = CreatePolicy {
        policy_name: auth.name().to_owned(),
        path: Some(path),
        policy_document: cx.required("PolicyDocument")?,
        description: cx.get("Description"),
        tags: cx.tags(),
    };
    let policy = cx.gateway.policies.create_policy(cx.account(), input).await?;
    let mut r = cx.response();
    r.nested("Policy", |r| policy_xml(r, &policy, true));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_policy<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let policy = cx.gateway.policies.get_policy(cx.account(), auth.arn()).await?;
    let mut r = cx.response();
    r.nested("Policy", |r| policy_xml(r, &policy, true));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn list_policies<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let scope = match cx.get("Scope").as_deref() {
        None | Some("" | "All") => PolicyScope::All,
        Some("AWS") => PolicyScope::Aws,
        Some("Local") => PolicyScope::Local,
        Some(other) => return Err(enum_error("scope", other, "All, AWS, Local").into()),
    };
    let query = ListPolicies {
        scope,
        only_attached: cx.bool("OnlyAttached")?.unwrap_or(false),
        path_prefix: cx.get("PathPrefix"),
        policy_usage_filter: usage_filter(cx)?,
    };
    let page = cx.gateway.policies.list_policies(cx.account(), &query, &cx.page()?).await?;
    let mut r = cx.response();
    r.list("Policies", &page.items, |r, p| policy_xml(r, p, false));
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn delete_policy<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.policies.delete_policy(cx.account(), auth.arn()).await?;
    Ok(cx.empty())
}

pub(crate) async fn create_policy_version<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let document = cx.required("PolicyDocument")?;
    let set_as_default = cx.bool("SetAsDefault")?.unwrap_or(false);
    let version =
        cx.gateway.policies.create_policy_version(cx.account(), auth.arn(), &document, set_as_default).await?;
    let mut r = cx.response();
    r.nested("PolicyVersion", |r| version_xml(r, &version, false));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_policy_version<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let version = cx.gateway.policies.get_policy_version(cx.account(), auth.arn(), &cx.required("VersionId")?).await?;
    let mut r = cx.response();
    r.nested("PolicyVersion", |r| version_xml(r, &version, true));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn list_policy_versions<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let page = cx.gateway.policies.list_policy_versions(cx.account(), auth.arn(), &cx.page()?).await?;
    let mut r = cx.response();
    r.list("Versions", &page.items, |r, v| version_xml(r, v, false));
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn delete_policy_version<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.policies.delete_policy_version(cx.account(), auth.arn(), &cx.required("VersionId")?).await?;
    Ok(cx.empty())
}

pub(crate) async fn set_default_policy_version<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.policies.set_default_policy_version(cx.account(), auth.arn(), &cx.required("VersionId")?).await?;
    Ok(cx.empty())
}

pub(crate) async fn list_entities_for_policy<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let filter = match cx.get("EntityFilter").as_deref() {
        None | Some("") => EntityFilter::All,
        Some("User") => EntityFilter::User,
        Some("Group") => EntityFilter::Group,
        Some("Role") => EntityFilter::Role,
        Some("LocalManagedPolicy") => EntityFilter::LocalManagedPolicy,
        Some("AWSManagedPolicy") => EntityFilter::AwsManagedPolicy,
        Some(other) => {
            return Err(
                enum_error("entityFilter", other, "User, Role, Group, LocalManagedPolicy, AWSManagedPolicy").into()
            );
        }
    };
    let page = cx
        .gateway
        .policies
        .list_entities_for_policy(
            cx.account(),
            auth.arn(),
            filter,
            cx.get("PathPrefix").as_deref(),
            usage_filter(cx)?,
            &cx.page()?,
        )
        .await?;
    let mut r = cx.response();
    for (list, kind) in
        [("PolicyGroups", EntityKind::Group), ("PolicyUsers", EntityKind::User), ("PolicyRoles", EntityKind::Role)]
    {
        let items = page.items.iter().filter(|e| e.kind == kind);
        r.list(list, items, |r, e| {
            r.el(&format!("{}Name", noun(kind)), &e.name).el(&format!("{}Id", noun(kind)), &e.id);
        });
    }
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn simulate_custom_policy<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let input = simulate_input(cx, Vec::new(), None)?;
    let mut r = cx.response();
    simulation_xml(&mut r, &input, &[])?;
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn simulate_principal_policy<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let source = auth.arn();
    let (kind, name) = source_entity(cx, source)?;
    let principal = cx.gateway.policies.principal_policies(cx.account(), kind, &name).await?;
    let documents: Vec<String> = principal.identity.iter().map(|p| p.document.clone()).collect();
    let boundary = principal.boundary.map(|(_, document)| document);
    let mut input = simulate_input(cx, documents, boundary)?;
    if input.caller_arn.is_none() && kind == EntityKind::User {
        input.caller_arn = Some(source.to_owned());
    }
    let mut r = cx.response();
    simulation_xml(&mut r, &input, &principal.identity)?;
    Ok(r.finish(cx.request_id))
}

/// Attaches a managed policy to the authorized user, group or role.
pub(crate) async fn attach<S: Store>(cx: &Cx<'_, S>, auth: Authorized, kind: EntityKind) -> Result<String> {
    cx.gateway.policies.attach_policy(cx.account(), kind, auth.name(), &cx.required("PolicyArn")?).await?;
    Ok(cx.empty())
}

pub(crate) async fn detach<S: Store>(cx: &Cx<'_, S>, auth: Authorized, kind: EntityKind) -> Result<String> {
    cx.gateway.policies.detach_policy(cx.account(), kind, auth.name(), &cx.required("PolicyArn")?).await?;
    Ok(cx.empty())
}

pub(crate) async fn list_attached<S: Store>(cx: &Cx<'_, S>, auth: Authorized, kind: EntityKind) -> Result<String> {
    let prefix = cx.get("PathPrefix");
    let page = cx
        .gateway
        .policies
        .list_attached_policies(cx.account(), kind, auth.name(), prefix.as_deref(), &cx.page()?)
        .await?;
    let mut r = cx.response();
    r.list("AttachedPolicies", &page.items, |r, p| {
        r.el("PolicyName", &p.policy_name).el("PolicyArn", &p.policy_arn);
    });
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn put_inline<S: Store>(cx: &Cx<'_, S>, auth: Authorized, kind: EntityKind) -> Result<String> {
    let policy_name = cx.required("PolicyName")?;
    let document = cx.required("PolicyDocument")?;
    cx.gateway.policies.put_inline_policy(cx.account(), kind, auth.name(), &policy_name, &document).await?;
    Ok(cx.empty())
}

pub(crate) async fn get_inline<S: Store>(cx: &Cx<'_, S>, auth: Authorized, kind: EntityKind) -> Result<String> {
    let policy_name = cx.required("PolicyName")?;
    let policy = cx.gateway.policies.get_inline_policy(cx.account(), kind, auth.name(), &policy_name).await?;
    let mut r = cx.response();
    r.el(&format!("{}Name", noun(kind)), &policy.entity_name)
        .el("PolicyName", &policy.policy_name)
        .policy_document("PolicyDocument", &policy.document);
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn delete_inline<S: Store>(cx: &Cx<'_, S>, auth: Authorized, kind: EntityKind) -> Result<String> {
    let policy_name = cx.required("PolicyName")?;
    cx.gateway.policies.delete_inline_policy(cx.account(), kind, auth.name(), &policy_name).await?;
    Ok(cx.empty())
}

pub(crate) async fn list_inline<S: Store>(cx: &Cx<'_, S>, auth: Authorized, kind: EntityKind) -> Result<String> {
    let page = cx.gateway.policies.list_inline_policies(cx.account(), kind, auth.name(), &cx.page()?).await?;
    let mut r = cx.response();
    r.str_list("PolicyNames", &page.items);
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

/// The user, group or role a `PolicySourceArn` names, in this account.
pub(crate) fn source_entity<S: Store>(cx: &Cx<'_, S>, source: &str) -> Result<(EntityKind, String)> {
    let invalid =
        || Error::invalid_input(format!("Invalid ARN: {source}. PolicySourceArn must be a user, group or role."));
    let arn = tessera_arn::Arn::parse(source).map_err(|_| invalid())?;
    if arn.service != "iam" {
        return Err(invalid().into());
    }
    let (kind, rest) = arn.resource.split_once('/').ok_or_else(invalid)?;
    let kind = match kind {
        "user" => EntityKind::User,
        "group" => EntityKind::Group,
        "role" => EntityKind::Role,
        _ => return Err(invalid().into()),
    };
    let name = rest.rsplit('/').next().unwrap_or_default();
    if arn.account != cx.account().id() || name.is_empty() {
        let noun = noun(kind).to_ascii_lowercase();
        return Err(Error::no_such_entity(format!("The {noun} with name {name} cannot be found.")).into());
    }
    Ok((kind, name.to_owned()))
}

/// The simulator's input from the Query parameters; `identity` and `boundary` come first (a
/// principal's own policies), then what the request lists.
fn simulate_input<S: Store>(
    cx: &Cx<'_, S>,
    mut identity: Vec<String>,
    boundary: Option<String>,
) -> Result<SimulateInput> {
    let params = cx.params;
    let page = cx.page()?;
    let owned = |list: Vec<&str>| list.into_iter().map(str::to_owned).collect::<Vec<_>>();
    identity.extend(owned(params.list("PolicyInputList")));
    let mut boundaries = owned(params.list("PermissionsBoundaryPolicyInputList"));
    if boundaries.is_empty() {
        boundaries.extend(boundary);
    }
    let context_entries = params
        .members("ContextEntries")
        .iter()
        .map(|m| tessera_policy::ContextEntry {
            context_key_name: m.get("ContextKeyName").unwrap_or_default().to_owned(),
            context_key_values: owned(m.list("ContextKeyValues")),
            context_key_type: m.get("ContextKeyType").map(str::to_owned),
        })
        .collect();
    let caller_arn = cx.get("CallerArn").filter(|a| !a.is_empty());
    let resource_owner = cx.get("ResourceOwner").filter(|o| !o.is_empty());
    // Without a caller, the simulated principal is a user of this account.
    let resource_owner = match (&caller_arn, resource_owner) {
        (None, None) => Some(cx.account().id().to_owned()),
        (_, owner) => owner,
    };
    Ok(SimulateInput {
        policy_input_list: identity,
        permissions_boundary_policy_input_list: boundaries,
        action_names: owned(params.list("ActionNames")),
        resource_arns: params.list_opt("ResourceArns").map(owned),
        resource_policy: cx.get("ResourcePolicy"),
        resource_owner,
        caller_arn,
        context_entries,
        resource_handling_option: cx.get("ResourceHandlingOption"),
        // Checked as for every list call (MaxItems 1 to 1000, default 100; a printable marker),
        // so the simulator always gets a page size and evaluates one page per request.
        max_items: u32::try_from(page.limit()?).ok(),
        marker: page.marker()?.map(str::to_owned),
        ..SimulateInput::default()
    })
}

/// Runs the simulation and writes `EvaluationResults`. The first `sources.len()` identity inputs
/// are a principal's policies: their results name them as AWS does (name or ARN, and type).
fn simulation_xml(r: &mut tessera_awsapi::Response, input: &SimulateInput, sources: &[SourcedPolicy]) -> Result<()> {
    let output = simulate(input).map_err(|e| {
        let code = ErrorCode::parse(e.code).unwrap_or(ErrorCode::InvalidInput);
        let message = e.aws_message.unwrap_or(e.message);
        Error::Service(tessera_proto::ServiceError::new(code, message).with_details(e.details))
    })?;
    // Rename `PolicyInputList.N` to the principal's policy N, and renumber the extra inputs.
    let source_of = |id: &str, kind: &str| -> (String, String) {
        let index = id.strip_prefix("PolicyInputList.").and_then(|n| n.parse::<usize>().ok());
        match index {
            Some(n) if n >= 1 && n <= sources.len() => {
                let source = &sources[n - 1];
                (source.source_id.clone(), source.source_type.as_str().to_owned())
            }
            Some(n) => (format!("PolicyInputList.{}", n - sources.len()), kind.to_owned()),
            None => (id.to_owned(), kind.to_owned()),
        }
    };
    // The simulator's output is JSON; a macro walks it, so that no JSON type needs naming here.
    macro_rules! statements {
        ($r:expr, $list:expr) => {{
            let empty = Vec::new();
            let items = $list.as_array().unwrap_or(&empty);
            $r.list("MatchedStatements", items, |r, s| {
                let (id, kind) = source_of(
                    s["SourcePolicyId"].as_str().unwrap_or_default(),
                    s["SourcePolicyType"].as_str().unwrap_or_default(),
                );
                r.el("SourcePolicyId", &id).el("SourcePolicyType", &kind);
                for position in ["StartPosition", "EndPosition"] {
                    let p = &s[position];
                    r.nested(position, |r| {
                        r.int("Line", p["Line"].as_i64().unwrap_or(0)).int("Column", p["Column"].as_i64().unwrap_or(0));
                    });
                }
            });
        }};
    }
    macro_rules! missing {
        ($r:expr, $list:expr) => {{
            let empty = Vec::new();
            let items = $list.as_array().unwrap_or(&empty);
            $r.str_list("MissingContextValues", items.iter().map(|v| v.as_str().unwrap_or_default()));
        }};
    }
    let empty = Vec::new();
    let results = output["EvaluationResults"].as_array().unwrap_or(&empty);
    r.list("EvaluationResults", results, |r, result| {
        r.el("EvalActionName", result["EvalActionName"].as_str().unwrap_or_default())
            .el("EvalResourceName", result["EvalResourceName"].as_str().unwrap_or_default())
            .el("EvalDecision", result["EvalDecision"].as_str().unwrap_or_default());
        statements!(r, result["MatchedStatements"]);
        missing!(r, result["MissingContextValues"]);
        if let Some(allowed) = result["OrganizationsDecisionDetail"]["AllowedByOrganizations"].as_bool() {
            r.nested("OrganizationsDecisionDetail", |r| {
                r.bool("AllowedByOrganizations", allowed);
            });
        }
        let boundary = result["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"].as_bool();
        if let Some(allowed) = boundary {
            r.nested("PermissionsBoundaryDecisionDetail", |r| {
                r.bool("AllowedByPermissionsBoundary", allowed);
            });
        }
        if let Some(specific) = result["ResourceSpecificResults"].as_array() {
            r.list("ResourceSpecificResults", specific, |r, s| {
                r.el("EvalResourceName", s["EvalResourceName"].as_str().unwrap_or_default())
                    .el("EvalResourceDecision", s["EvalResourceDecision"].as_str().unwrap_or_default());
                statements!(r, s["MatchedStatements"]);
                missing!(r, s["MissingContextValues"]);
                if let Some(allowed) = boundary {
                    r.nested("PermissionsBoundaryDecisionDetail", |r| {
                        r.bool("AllowedByPermissionsBoundary", allowed);
                    });
                }
            });
        }
    });
    r.bool("IsTruncated", output["IsTruncated"].as_bool().unwrap_or(false)).opt("Marker", output["Marker"].as_str());
    Ok(())
}
