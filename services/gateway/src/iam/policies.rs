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
use crate::context::{Cx, Result};

pub(super) const ACTIONS: &[&str] = &[
    "CreatePolicy",
    "GetPolicy",
    "ListPolicies",
    "DeletePolicy",
    "CreatePolicyVersion",
    "GetPolicyVersion",
    "ListPolicyVersions",
    "DeletePolicyVersion",
    "SetDefaultPolicyVersion",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "ListAttachedUserPolicies",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
    "ListAttachedGroupPolicies",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedRolePolicies",
    "ListEntitiesForPolicy",
    "PutUserPolicy",
    "GetUserPolicy",
    "DeleteUserPolicy",
    "ListUserPolicies",
    "PutGroupPolicy",
    "GetGroupPolicy",
    "DeleteGroupPolicy",
    "ListGroupPolicies",
    "PutRolePolicy",
    "GetRolePolicy",
    "DeleteRolePolicy",
    "ListRolePolicies",
    "SimulateCustomPolicy",
    "SimulatePrincipalPolicy",
];

/// What an action on a user's, group's or role's policies does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntityOp {
    Attach,
    Detach,
    ListAttached,
    Put,
    Get,
    Delete,
    List,
}

/// `AttachUserPolicy` → (Attach, User), `ListRolePolicies` → (List, Role), …
fn entity_action(action: &str) -> Option<(EntityOp, EntityKind)> {
    const OPS: [(&str, EntityOp); 7] = [
        ("ListAttached", EntityOp::ListAttached),
        ("Attach", EntityOp::Attach),
        ("Detach", EntityOp::Detach),
        ("Put", EntityOp::Put),
        ("Get", EntityOp::Get),
        ("Delete", EntityOp::Delete),
        ("List", EntityOp::List),
    ];
    let (op, rest) = OPS.iter().find_map(|(prefix, op)| action.strip_prefix(prefix).map(|rest| (*op, rest)))?;
    let plural = matches!(op, EntityOp::ListAttached | EntityOp::List);
    let kind = rest.strip_suffix(if plural { "Policies" } else { "Policy" })?;
    let kind = match kind {
        "User" => EntityKind::User,
        "Group" => EntityKind::Group,
        "Role" => EntityKind::Role,
        _ => return None,
    };
    Some((op, kind))
}

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

pub(super) async fn dispatch<S: Store>(cx: &Cx<'_, S>) -> Option<Result<String>> {
    if !ACTIONS.contains(&cx.action.as_str()) {
        return None;
    }
    Some(run(cx).await)
}

async fn run<S: Store>(cx: &Cx<'_, S>) -> Result<String> {
    if let Some((op, kind)) = entity_action(&cx.action) {
        return entity_policies(cx, op, kind).await;
    }
    let policies = &cx.gateway.policies;
    let account = cx.account();
    let mut r = cx.response();
    match cx.action.as_str() {
        "CreatePolicy" => {
            let name = cx.required("PolicyName")?;
            let path = cx.get("Path").filter(|p| !p.is_empty()).unwrap_or_else(|| "/".to_owned());
            cx.authorize(&cx.arn("policy", &path, &name)).await?;
            let input = CreatePolicy {
                policy_name: name,
                path: Some(path),
                policy_document: cx.required("PolicyDocument")?,
                description: cx.get("Description"),
                tags: cx.tags(),
            };
            let policy = policies.create_policy(account, input).await?;
            r.nested("Policy", |r| policy_xml(r, &policy, true));
        }
        "GetPolicy" => {
            let arn = cx.required("PolicyArn")?;
            cx.authorize(&arn).await?;
            let policy = policies.get_policy(account, &arn).await?;
            r.nested("Policy", |r| policy_xml(r, &policy, true));
        }
        "ListPolicies" => {
            cx.authorize(&cx.arn("policy", "/", "*")).await?;
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
            let page = policies.list_policies(account, &query, &cx.page()?).await?;
            r.list("Policies", &page.items, |r, p| policy_xml(r, p, false));
            r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
        }
        "DeletePolicy" => {
            let arn = cx.required("PolicyArn")?;
            cx.authorize(&arn).await?;
            policies.delete_policy(account, &arn).await?;
            return Ok(cx.empty());
        }
        "CreatePolicyVersion" => {
            let arn = cx.required("PolicyArn")?;
            cx.authorize(&arn).await?;
            let document = cx.required("PolicyDocument")?;
            let set_as_default = cx.bool("SetAsDefault")?.unwrap_or(false);
            let version = policies.create_policy_version(account, &arn, &document, set_as_default).await?;
            r.nested("PolicyVersion", |r| version_xml(r, &version, false));
        }
        "GetPolicyVersion" => {
            let arn = cx.required("PolicyArn")?;
            cx.authorize(&arn).await?;
            let version = policies.get_policy_version(account, &arn, &cx.required("VersionId")?).await?;
            r.nested("PolicyVersion", |r| version_xml(r, &version, true));
        }
        "ListPolicyVersions" => {
            let arn = cx.required("PolicyArn")?;
            cx.authorize(&arn).await?;
            let page = policies.list_policy_versions(account, &arn, &cx.page()?).await?;
            r.list("Versions", &page.items, |r, v| version_xml(r, v, false));
            r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
        }
        "DeletePolicyVersion" => {
            let arn = cx.required("PolicyArn")?;
            cx.authorize(&arn).await?;
            policies.delete_policy_version(account, &arn, &cx.required("VersionId")?).await?;
            return Ok(cx.empty());
        }
        "SetDefaultPolicyVersion" => {
            let arn = cx.required("PolicyArn")?;
            cx.authorize(&arn).await?;
            policies.set_default_policy_version(account, &arn, &cx.required("VersionId")?).await?;
            return Ok(cx.empty());
        }
        "ListEntitiesForPolicy" => {
            let arn = cx.required("PolicyArn")?;
            cx.authorize(&arn).await?;
            let filter = match cx.get("EntityFilter").as_deref() {
                None | Some("") => EntityFilter::All,
                Some("User") => EntityFilter::User,
                Some("Group") => EntityFilter::Group,
                Some("Role") => EntityFilter::Role,
                Some("LocalManagedPolicy") => EntityFilter::LocalManagedPolicy,
                Some("AWSManagedPolicy") => EntityFilter::AwsManagedPolicy,
                Some(other) => {
                    return Err(enum_error(
                        "entityFilter",
                        other,
                        "User, Role, Group, LocalManagedPolicy, AWSManagedPolicy",
                    )
                    .into());
                }
            };
            let page = policies
                .list_entities_for_policy(
                    account,
                    &arn,
                    filter,
                    cx.get("PathPrefix").as_deref(),
                    usage_filter(cx)?,
                    &cx.page()?,
                )
                .await?;
            for (list, kind) in [
                ("PolicyGroups", EntityKind::Group),
                ("PolicyUsers", EntityKind::User),
                ("PolicyRoles", EntityKind::Role),
            ] {
                let items = page.items.iter().filter(|e| e.kind == kind);
                r.list(list, items, |r, e| {
                    r.el(&format!("{}Name", noun(kind)), &e.name).el(&format!("{}Id", noun(kind)), &e.id);
                });
            }
            r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
        }
        "SimulateCustomPolicy" => {
            cx.authorize("*").await?;
            let input = simulate_input(cx, Vec::new(), None)?;
            simulation_xml(&mut r, &input, &[])?;
        }
        "SimulatePrincipalPolicy" => {
            let source = cx.required("PolicySourceArn")?;
            cx.authorize(&source).await?;
            let (kind, name) = source_entity(cx, &source)?;
            let principal = policies.principal_policies(account, kind, &name).await?;
            let documents: Vec<String> = principal.identity.iter().map(|p| p.document.clone()).collect();
            let boundary = principal.boundary.map(|(_, document)| document);
            let mut input = simulate_input(cx, documents, boundary)?;
            if input.caller_arn.is_none() && kind == EntityKind::User {
                input.caller_arn = Some(source.clone());
            }
            simulation_xml(&mut r, &input, &principal.identity)?;
        }
        other => {
            return Err(super::unknown(other));
        }
    }
    Ok(r.finish(cx.request_id))
}

/// Attach, detach and list managed policies; put, get, delete and list inline policies.
async fn entity_policies<S: Store>(cx: &Cx<'_, S>, op: EntityOp, kind: EntityKind) -> Result<String> {
    let policies = &cx.gateway.policies;
    let account = cx.account();
    let name_field = format!("{}Name", noun(kind));
    let name = cx.required(&name_field)?;
    cx.authorize(&cx.entity_arn(kind, &name).await).await?;
    let mut r = cx.response();
    match op {
        EntityOp::Attach => {
            policies.attach_policy(account, kind, &name, &cx.required("PolicyArn")?).await?;
            return Ok(cx.empty());
        }
        EntityOp::Detach => {
            policies.detach_policy(account, kind, &name, &cx.required("PolicyArn")?).await?;
            return Ok(cx.empty());
        }
        EntityOp::ListAttached => {
            let prefix = cx.get("PathPrefix");
            let page = policies.list_attached_policies(account, kind, &name, prefix.as_deref(), &cx.page()?).await?;
            r.list("AttachedPolicies", &page.items, |r, p| {
                r.el("PolicyName", &p.policy_name).el("PolicyArn", &p.policy_arn);
            });
            r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
        }
        EntityOp::Put => {
            let policy_name = cx.required("PolicyName")?;
            let document = cx.required("PolicyDocument")?;
            policies.put_inline_policy(account, kind, &name, &policy_name, &document).await?;
            return Ok(cx.empty());
        }
        EntityOp::Get => {
            let policy = policies.get_inline_policy(account, kind, &name, &cx.required("PolicyName")?).await?;
            r.el(&name_field, &policy.entity_name)
                .el("PolicyName", &policy.policy_name)
                .policy_document("PolicyDocument", &policy.document);
        }
        EntityOp::Delete => {
            policies.delete_inline_policy(account, kind, &name, &cx.required("PolicyName")?).await?;
            return Ok(cx.empty());
        }
        EntityOp::List => {
            let page = policies.list_inline_policies(account, kind, &name, &cx.page()?).await?;
            r.str_list("PolicyNames", &page.items);
            r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
        }
    }
    Ok(r.finish(cx.request_id))
}

/// The user, group or role a `PolicySourceArn` names, in this account.
fn source_entity<S: Store>(cx: &Cx<'_, S>, source: &str) -> Result<(EntityKind, String)> {
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
        Error::new(code, e.message)
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
