//! The offline policy simulator: IAM `SimulateCustomPolicy` input in, its `EvaluationResults`
//! out, decided by the same engine that enforces (reference §5.7).
//!
//! Tessera extensions to the input reach the layers AWS's simulator cannot:
//! `SessionPolicyInputList`, `ServiceControlPolicyInputList` and `ResourceControlPolicyInputList`
//! (one entry per level, each a document or a list of documents), `CallerRoleArn` (a role
//! session's role ARN with its path) and `FederatingUserArn` (the user behind a federated user).
//! Each result also carries an `Explanation` object besides AWS's fields.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::compile::{CompiledPolicy, PolicySet};
use crate::context::Context;
use crate::evaluate::{Decision, MatchedStatement, Policies, Principal, PrincipalKind, Request, Trace, authorize};
use crate::parse::{PolicyError, PolicyKind};
use crate::values::{Decimal, Network, parse_binary, parse_bool, parse_date};

/// A simulation that could not run, with its AWS error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SimulateError {
    /// `MalformedPolicyDocument` or `InvalidInput`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

impl SimulateError {
    fn invalid(message: impl Into<String>) -> SimulateError {
        SimulateError { code: "InvalidInput", message: message.into() }
    }

    /// The error as the simulator prints it: `{"Error": {"Code": ..., "Message": ...}}`.
    pub fn to_json(&self) -> Value {
        json!({"Error": {"Code": self.code, "Message": self.message}})
    }
}

/// The simulator's input: `SimulateCustomPolicy`'s fields plus Tessera's extensions.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SimulateInput {
    /// Identity policies of the caller.
    #[serde(default)]
    pub policy_input_list: Vec<String>,
    /// At most one permissions boundary.
    #[serde(default)]
    pub permissions_boundary_policy_input_list: Vec<String>,
    /// Actions to simulate (no wildcards).
    #[serde(default)]
    pub action_names: Vec<String>,
    /// Resources; `*` when absent.
    #[serde(default)]
    pub resource_arns: Option<Vec<String>>,
    /// A resource-based policy on every simulated resource.
    #[serde(default)]
    pub resource_policy: Option<String>,
    /// The account that owns the resources: `arn:aws:iam::ACCT:root` or an account id.
    #[serde(default)]
    pub resource_owner: Option<String>,
    /// The caller; required with a resource policy.
    #[serde(default)]
    pub caller_arn: Option<String>,
    /// Context keys and values.
    #[serde(default)]
    pub context_entries: Vec<ContextEntry>,
    /// Accepted for compatibility with the AWS CLI's skeleton; resources are always simulated
    /// one by one.
    #[serde(default)]
    pub resource_handling_option: Option<String>,
    /// Accepted for compatibility; the offline simulator returns every result.
    #[serde(default)]
    pub max_items: Option<u32>,
    /// Accepted for compatibility; the offline simulator returns every result.
    #[serde(default)]
    pub marker: Option<String>,
    /// Session policies of a role session or federated user (Tessera extension).
    #[serde(default)]
    pub session_policy_input_list: Vec<String>,
    /// SCPs by level (Tessera extension).
    #[serde(default)]
    pub service_control_policy_input_list: Vec<Level>,
    /// RCPs by level (Tessera extension).
    #[serde(default)]
    pub resource_control_policy_input_list: Vec<Level>,
    /// A role session's role ARN with its path (Tessera extension).
    #[serde(default)]
    pub caller_role_arn: Option<String>,
    /// The IAM user behind a federated-user caller (Tessera extension).
    #[serde(default)]
    pub federating_user_arn: Option<String>,
}

/// The policies at one SCP or RCP level: one document or several.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Level {
    /// One document.
    One(String),
    /// Several documents, any of which may allow.
    Many(Vec<String>),
}

impl Level {
    fn documents(&self) -> &[String] {
        match self {
            Level::One(document) => std::slice::from_ref(document),
            Level::Many(documents) => documents,
        }
    }
}

/// One `ContextEntries` member.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ContextEntry {
    /// The key.
    pub context_key_name: String,
    /// Its values.
    #[serde(default)]
    pub context_key_values: Vec<String>,
    /// `string`, `stringList`, `numeric`, ... (default `string`).
    #[serde(default)]
    pub context_key_type: Option<String>,
}

/// Runs a simulation from its JSON text.
pub fn simulate_json(input: &str) -> Result<Value, SimulateError> {
    let input: SimulateInput = serde_json::from_str(input)
        .map_err(|e| SimulateError::invalid(format!("the simulation input is not valid: {e}")))?;
    simulate(&input)
}

/// Runs a simulation.
pub fn simulate(input: &SimulateInput) -> Result<Value, SimulateError> {
    if input.action_names.is_empty() {
        return Err(SimulateError::invalid("`ActionNames` must name at least one action"));
    }
    for action in &input.action_names {
        if action.contains(['*', '?']) {
            return Err(SimulateError::invalid(format!(
                "action `{action}` contains a wildcard; simulations take exact action names"
            )));
        }
        if !action.contains(':') {
            return Err(SimulateError::invalid(format!(
                "action `{action}` must include the service prefix, as in `iam:CreateUser`"
            )));
        }
    }
    if input.permissions_boundary_policy_input_list.len() > 1 {
        return Err(SimulateError::invalid("`PermissionsBoundaryPolicyInputList` takes at most one policy"));
    }
    let identity = compile_list("PolicyInputList", &input.policy_input_list, PolicyKind::Identity)?;
    let boundary = compile_list(
        "PermissionsBoundaryPolicyInputList",
        &input.permissions_boundary_policy_input_list,
        PolicyKind::Boundary,
    )?;
    let session = compile_list("SessionPolicyInputList", &input.session_policy_input_list, PolicyKind::Session)?;
    let resource = match &input.resource_policy {
        Some(text) => Some(PolicySet::new(vec![compile("ResourcePolicy", text, PolicyKind::Resource)?])),
        None => None,
    };
    let scps = compile_levels(
        "ServiceControlPolicyInputList",
        &input.service_control_policy_input_list,
        PolicyKind::ServiceControl,
    )?;
    let rcps = compile_levels(
        "ResourceControlPolicyInputList",
        &input.resource_control_policy_input_list,
        PolicyKind::ResourceControl,
    )?;

    let owner = match &input.resource_owner {
        Some(owner) => Some(owner_account(owner)?),
        None => None,
    };
    let principal = principal(input, owner.as_deref())?;
    let owner = owner.unwrap_or_else(|| principal.account.clone());
    let context = context(&input.context_entries)?;

    let base = Policies {
        identity: Some(&identity),
        boundary: (!boundary.is_empty()).then_some(&boundary),
        session: (!session.is_empty()).then_some(&session),
        resource: resource.as_ref(),
        service_control: &scps,
        resource_control: &rcps,
        resource_policy_required: false,
    };
    let default_resources = vec!["*".to_owned()];
    let resources = input.resource_arns.as_ref().filter(|r| !r.is_empty()).unwrap_or(&default_resources);
    let mut results = Vec::new();
    for action in &input.action_names {
        for resource in resources {
            let request = Request::new(&principal, action, resource, &context).with_resource_account(&owner);
            // A resource policy on a role, simulated for an AssumeRole-family action, is the
            // role's trust policy: it must allow the caller itself (reference §3.4).
            let policies = Policies {
                resource_policy_required: base.resource.is_some() && is_trust_request(action, resource),
                ..base
            };
            let decision = authorize(&request, &policies, Trace::On);
            results.push(result_json(action, resource, &decision, input.resource_arns.is_some()));
        }
    }
    Ok(json!({"EvaluationResults": results, "IsTruncated": false}))
}

/// Whether `action` on `resource` is checked against a role's trust policy.
fn is_trust_request(action: &str, resource: &str) -> bool {
    const TRUST_ACTIONS: [&str; 6] = [
        "sts:assumerole",
        "sts:assumerolewithwebidentity",
        "sts:assumerolewithsaml",
        "sts:tagsession",
        "sts:setsourceidentity",
        "sts:setcontext",
    ];
    let is_role = crate::compile::split_arn(resource).is_some_and(|p| p[2] == "iam" && p[5].starts_with("role/"));
    is_role && TRUST_ACTIONS.iter().any(|a| action.eq_ignore_ascii_case(a))
}

fn compile(id: &str, text: &str, kind: PolicyKind) -> Result<CompiledPolicy, SimulateError> {
    CompiledPolicy::parse(id, text, kind).map_err(|error: PolicyError| SimulateError {
        code: "MalformedPolicyDocument",
        message: format!("{id}: {error}"),
    })
}

fn compile_list(name: &str, documents: &[String], kind: PolicyKind) -> Result<PolicySet, SimulateError> {
    let policies = documents
        .iter()
        .enumerate()
        .map(|(i, text)| compile(&format!("{name}.{}", i + 1), text, kind))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PolicySet::new(policies))
}

fn compile_levels(name: &str, levels: &[Level], kind: PolicyKind) -> Result<Vec<PolicySet>, SimulateError> {
    levels
        .iter()
        .enumerate()
        .map(|(level, documents)| compile_list(&format!("{name}.{}", level + 1), documents.documents(), kind))
        .collect()
}

fn owner_account(owner: &str) -> Result<String, SimulateError> {
    if tessera_arn::is_account_id(owner) {
        return Ok(owner.to_owned());
    }
    match tessera_arn::Arn::parse(owner) {
        Ok(arn) if tessera_arn::is_account_id(&arn.account) => Ok(arn.account),
        _ => Err(SimulateError::invalid(format!("`ResourceOwner` `{owner}` is not an account ARN or account id"))),
    }
}

fn principal(input: &SimulateInput, owner: Option<&str>) -> Result<Principal, SimulateError> {
    let Some(caller) = &input.caller_arn else {
        if input.resource_policy.is_some() {
            return Err(SimulateError::invalid("`CallerArn` is required with a `ResourcePolicy`"));
        }
        // No caller: an IAM user of the resource owner's account.
        let mut principal = Principal::anonymous();
        principal.kind = PrincipalKind::User;
        principal.account = owner.unwrap_or_default().to_owned();
        return Ok(principal);
    };
    let mut principal = Principal::from_arn(caller).map_err(|e| SimulateError::invalid(format!("`CallerArn`: {e}")))?;
    if let Some(role) = &input.caller_role_arn {
        principal.role_arn = Some(role.clone());
    }
    if let Some(user) = &input.federating_user_arn {
        principal.source_user_arn = Some(user.clone());
    }
    Ok(principal)
}

fn context(entries: &[ContextEntry]) -> Result<Context, SimulateError> {
    let mut context = Context::new();
    for entry in entries {
        let kind = entry.context_key_type.as_deref().unwrap_or("string");
        let (base, list) = match kind.strip_suffix("List") {
            Some(base) => (base, true),
            None => (kind, false),
        };
        let check: fn(&str) -> bool = match base {
            "string" => |_| true,
            "numeric" => |v| Decimal::parse(v).is_some(),
            "boolean" => |v| parse_bool(v).is_some(),
            "ip" => |v| Network::parse(v).is_some(),
            "binary" => |v| parse_binary(v).is_some(),
            "date" => |v| parse_date(v).is_some(),
            _ => {
                return Err(SimulateError::invalid(format!(
                    "context key `{}` has unknown type `{kind}`",
                    entry.context_key_name
                )));
            }
        };
        if let Some(bad) = entry.context_key_values.iter().find(|v| !check(v)) {
            return Err(SimulateError::invalid(format!(
                "context key `{}` value `{bad}` is not a valid {kind}",
                entry.context_key_name
            )));
        }
        if list || entry.context_key_values.len() > 1 {
            context.insert_list(&entry.context_key_name, entry.context_key_values.iter().cloned());
        } else if let Some(value) = entry.context_key_values.first() {
            context.insert(&entry.context_key_name, value.clone());
        }
    }
    Ok(context)
}

fn statement_json(statement: &MatchedStatement) -> Value {
    let policy_type = if &*statement.policy_id == "ResourcePolicy" { "resource" } else { "IAM Policy" };
    // AWS reports the column just after each brace.
    let mut value = json!({
        "SourcePolicyId": &*statement.policy_id,
        "SourcePolicyType": policy_type,
        "StartPosition": {"Line": statement.span.start.line, "Column": statement.span.start.column + 1},
        "EndPosition": {"Line": statement.span.end.line, "Column": statement.span.end.column + 1},
        "StatementIndex": statement.statement,
        "Effect": statement.effect.as_str(),
    });
    if let Some(sid) = &statement.sid {
        value["Sid"] = json!(&**sid);
    }
    value
}

fn result_json(action: &str, resource: &str, decision: &Decision, per_resource: bool) -> Value {
    let matched: Vec<Value> = decision.deciding_statements().iter().map(statement_json).collect();
    let missing: Vec<&str> = decision.missing_keys.iter().map(|k| &**k).collect();
    let failed: Vec<Value> = decision
        .failed_conditions
        .iter()
        .map(|f| {
            json!({
                "SourcePolicyId": &*f.statement.policy_id,
                "StatementIndex": f.statement.statement,
                "Sid": f.statement.sid.as_deref(),
                "Effect": f.statement.effect.as_str(),
                "Operator": &*f.operator,
                "Key": &*f.key,
                "Missing": f.missing,
            })
        })
        .collect();
    let mut result = json!({
        "EvalActionName": action,
        "EvalResourceName": resource,
        "EvalDecision": decision.outcome.as_str(),
        "MatchedStatements": matched,
        "MissingContextValues": missing,
        "Explanation": {
            "Reason": decision.explain(action, resource),
            "DecidingLayer": decision.layer.map(|l| l.to_string()),
            "FailedConditions": failed,
        },
    });
    if let Some(allowed) = decision.allowed_by_organizations {
        result["OrganizationsDecisionDetail"] = json!({"AllowedByOrganizations": allowed});
    }
    if let Some(allowed) = decision.allowed_by_boundary {
        result["PermissionsBoundaryDecisionDetail"] = json!({"AllowedByPermissionsBoundary": allowed});
    }
    if per_resource {
        result["ResourceSpecificResults"] = json!([{
            "EvalResourceName": resource,
            "EvalResourceDecision": decision.outcome.as_str(),
            "MatchedStatements": result["MatchedStatements"].clone(),
            "MissingContextValues": result["MissingContextValues"].clone(),
        }]);
    }
    result
}
