//! The offline policy simulator: IAM `SimulateCustomPolicy` input in, its `EvaluationResults`
//! out, decided by the same engine that enforces (reference §5.7).
//!
//! Tessera extensions to the input reach the layers AWS's simulator cannot:
//! `SessionPolicyInputList`, `ServiceControlPolicyInputList` and `ResourceControlPolicyInputList`
//! (one entry per level, each a document or a list of documents), `CallerRoleArn` (a role
//! session's role ARN with its path) and `FederatingUserArn` (the user behind a federated user).
//! Each result also carries an `Explanation` object besides AWS's fields.
//!
//! **Bounded work.** One simulation evaluates each action on each resource, so its cost is the
//! product of two lists a request can make long. AWS caps neither list in its model, and pages the
//! results (`MaxItems`, 1 to 1,000, and `Marker`); Tessera does the same, evaluates only the
//! requested page, and refuses more than [`MAX_EVALUATIONS`] pairs and the other excesses below
//! with `InvalidInput`. Without `MaxItems` (the offline simulator) every result is returned.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::compile::{CompiledPolicy, PolicySet};
use crate::context::Context;
use crate::evaluate::{Decision, MatchedStatement, Policies, Principal, PrincipalKind, Request, Trace, authorize};
use crate::parse::{PolicyError, PolicyKind};
use crate::values::{Decimal, Network, parse_binary, parse_bool, parse_date};

/// The most action × resource pairs one simulation may name (AWS documents no limit). Each page
/// evaluates at most [`MAX_ITEMS`] of them; this bounds what a marker can point into.
pub const MAX_EVALUATIONS: usize = 10_000;

/// The largest `MaxItems`, as AWS's model has it (`maxItemsType`, 1 to 1,000).
pub const MAX_ITEMS: u32 = 1_000;

/// The most `ContextEntries`, and values per entry (AWS documents no limit).
pub const MAX_CONTEXT_ENTRIES: usize = 1_000;

/// The most SCP or RCP levels: an account, its OUs (nested five deep at most) and the root.
pub const MAX_ORGANIZATION_LEVELS: usize = 7;

/// The most SCPs or RCPs at one level (AWS's quota for policies attached to a root, OU or account).
pub const MAX_POLICIES_PER_LEVEL: usize = 5;

/// A simulation that could not run, with its AWS error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SimulateError {
    /// `MalformedPolicyDocument`, `InvalidInput`, or `ValidationError` (a `MaxItems` out of range).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// For a rejected policy document: AWS's own message ([`PolicyError::aws_message`]), which
    /// the wire sends in place of `message`.
    pub aws_message: Option<String>,
    /// For a rejected policy document: the wire's additional `<Error>` elements
    /// ([`PolicyError::wire_details`], with `Detail` being `message`).
    pub details: Vec<(String, String)>,
}

impl SimulateError {
    fn invalid(message: impl Into<String>) -> SimulateError {
        SimulateError { code: "InvalidInput", message: message.into(), aws_message: None, details: Vec::new() }
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
    /// The most results to return (1 to 1,000); every result when absent.
    #[serde(default)]
    pub max_items: Option<u32>,
    /// The `Marker` of the previous page, to continue where it ended.
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

/// Runs a simulation: the page of results that `MaxItems` and `Marker` select, with
/// `IsTruncated`, and `Marker` when more follow.
pub fn simulate(input: &SimulateInput) -> Result<Value, SimulateError> {
    if input.action_names.is_empty() {
        return Err(SimulateError::invalid("`ActionNames` must name at least one action"));
    }
    let default_resources = vec!["*".to_owned()];
    let resources = input.resource_arns.as_ref().filter(|r| !r.is_empty()).unwrap_or(&default_resources);
    // Checked first: what follows is linear in the input, the evaluations are not.
    let total = input.action_names.len().saturating_mul(resources.len());
    if total > MAX_EVALUATIONS {
        return Err(SimulateError::invalid(format!(
            "The simulation names {} actions and {} resources, {total} evaluations; at most \
             {MAX_EVALUATIONS} are allowed. Simulate fewer actions or resources at a time.",
            input.action_names.len(),
            resources.len(),
        )));
    }
    let page = page(input, total)?;
    check_counts(input)?;
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
    // Results are ordered action by action, each over every resource; only the page's are
    // evaluated.
    let mut results = Vec::with_capacity(page.end - page.start);
    for index in page.clone() {
        let action = &input.action_names[index / resources.len()];
        let resource = &resources[index % resources.len()];
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
    let mut output = json!({"EvaluationResults": results, "IsTruncated": page.end < total});
    if page.end < total {
        output["Marker"] = json!(page.end.to_string());
    }
    Ok(output)
}

/// The results to evaluate: from the marker's position (0 without one), at most `MaxItems`.
///
/// A marker is the position of the next result, so any replica continues a simulation without
/// keeping state; one that points nowhere in this simulation is refused.
fn page(input: &SimulateInput, total: usize) -> Result<std::ops::Range<usize>, SimulateError> {
    let limit = match input.max_items {
        None => total,
        Some(n @ 1..=MAX_ITEMS) => usize::try_from(n).unwrap_or(total),
        Some(n) => {
            let bound = if n < 1 { "greater than or equal to 1" } else { "less than or equal to 1000" };
            return Err(SimulateError {
                code: "ValidationError",
                message: format!(
                    "1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: \
                     Member must have value {bound}"
                ),
                aws_message: None,
                details: Vec::new(),
            });
        }
    };
    let start = match input.marker.as_deref() {
        None | Some("") => 0,
        Some(marker) => match marker.parse::<usize>() {
            Ok(start) if start > 0 && start < total && marker == start.to_string() => start,
            _ => return Err(SimulateError::invalid("Invalid Marker.")),
        },
    };
    Ok(start..start.saturating_add(limit).min(total))
}

/// The input lists whose length AWS leaves open, refused past Tessera's bounds.
fn check_counts(input: &SimulateInput) -> Result<(), SimulateError> {
    let too_many = |what: &str, n: usize, max: usize| {
        SimulateError::invalid(format!("`{what}` has {n} entries; at most {max} are allowed."))
    };
    if input.context_entries.len() > MAX_CONTEXT_ENTRIES {
        return Err(too_many("ContextEntries", input.context_entries.len(), MAX_CONTEXT_ENTRIES));
    }
    for entry in &input.context_entries {
        if entry.context_key_values.len() > MAX_CONTEXT_ENTRIES {
            let what = format!("ContextKeyValues` of `{}", entry.context_key_name);
            return Err(too_many(&what, entry.context_key_values.len(), MAX_CONTEXT_ENTRIES));
        }
    }
    for (name, levels) in [
        ("ServiceControlPolicyInputList", &input.service_control_policy_input_list),
        ("ResourceControlPolicyInputList", &input.resource_control_policy_input_list),
    ] {
        if levels.len() > MAX_ORGANIZATION_LEVELS {
            return Err(too_many(name, levels.len(), MAX_ORGANIZATION_LEVELS));
        }
        for (i, level) in levels.iter().enumerate() {
            if level.documents().len() > MAX_POLICIES_PER_LEVEL {
                let what = format!("{name}.{}", i + 1);
                return Err(too_many(&what, level.documents().len(), MAX_POLICIES_PER_LEVEL));
            }
        }
    }
    Ok(())
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
    CompiledPolicy::parse(id, text, kind).map_err(|error: PolicyError| {
        let message = format!("{id}: {error}");
        let mut details = error.wire_details();
        details.retain(|(name, _)| name != "Detail");
        details.insert(0, ("Policy".to_owned(), id.to_owned()));
        details.push(("Detail".to_owned(), message.clone()));
        SimulateError {
            code: "MalformedPolicyDocument",
            message,
            aws_message: Some(error.aws_message().to_owned()),
            details,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

    fn input(actions: usize, resources: usize) -> SimulateInput {
        SimulateInput {
            policy_input_list: vec![ALLOW_ALL.to_owned()],
            action_names: (0..actions).map(|i| format!("s3:Action{i}")).collect(),
            resource_arns: Some((0..resources).map(|i| format!("arn:aws:s3:::bucket{i}")).collect()),
            resource_owner: Some("123456789012".to_owned()),
            ..SimulateInput::default()
        }
    }

    fn pairs(output: &Value) -> Vec<(String, String)> {
        output["EvaluationResults"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                (r["EvalActionName"].as_str().unwrap().to_owned(), r["EvalResourceName"].as_str().unwrap().to_owned())
            })
            .collect()
    }

    #[test]
    fn too_many_evaluations_are_refused_before_any_work() {
        assert!(simulate(&input(100, 100)).is_ok());
        let mut big = input(101, 100);
        // A policy that would not compile: the count is checked first.
        big.policy_input_list = vec!["not json".to_owned()];
        let error = simulate(&big).unwrap_err();
        assert_eq!(error.code, "InvalidInput");
        assert!(error.message.contains("10100 evaluations; at most 10000"), "{error}");
        // Without resources each action is simulated once, on `*`.
        let mut actions_only = input(10_001, 0);
        actions_only.resource_arns = None;
        assert_eq!(simulate(&actions_only).unwrap_err().code, "InvalidInput");
    }

    #[test]
    fn pages_cover_every_result_once_in_order() {
        let all = simulate(&input(7, 3)).unwrap();
        assert_eq!(all["IsTruncated"], false);
        assert!(all.get("Marker").is_none());
        let expected = pairs(&all);
        assert_eq!(expected.len(), 21);

        let mut paged = input(7, 3);
        paged.max_items = Some(5);
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let output = simulate(&paged).unwrap();
            let page = pairs(&output);
            assert!(page.len() <= 5);
            seen.extend(page);
            pages += 1;
            match output.get("Marker") {
                Some(marker) => {
                    assert_eq!(output["IsTruncated"], true);
                    paged.marker = Some(marker.as_str().unwrap().to_owned());
                }
                None => {
                    assert_eq!(output["IsTruncated"], false);
                    break;
                }
            }
        }
        assert_eq!((seen, pages), (expected, 5));
    }

    #[test]
    fn bad_pages_are_refused() {
        // (max_items, marker, code)
        let cases: &[(Option<u32>, Option<&str>, &str)] = &[
            (Some(0), None, "ValidationError"),
            (Some(1001), None, "ValidationError"),
            (Some(5), Some("x"), "InvalidInput"),
            (Some(5), Some("0"), "InvalidInput"),
            (Some(5), Some("021"), "InvalidInput"),
            (Some(5), Some("21"), "InvalidInput"),
            (Some(5), Some("99999999999999999999999"), "InvalidInput"),
        ];
        for &(max_items, marker, code) in cases {
            let mut paged = input(7, 3);
            paged.max_items = max_items;
            paged.marker = marker.map(str::to_owned);
            assert_eq!(simulate(&paged).unwrap_err().code, code, "{max_items:?} {marker:?}");
        }
        let mut last = input(7, 3);
        (last.max_items, last.marker) = (Some(1000), Some("20".to_owned()));
        assert_eq!(pairs(&simulate(&last).unwrap()).len(), 1);
    }

    #[test]
    fn other_lists_are_bounded() {
        let entry = |values: usize| ContextEntry {
            context_key_name: "aws:TagKeys".to_owned(),
            context_key_values: vec!["k".to_owned(); values],
            context_key_type: Some("stringList".to_owned()),
        };
        let mut ok = input(1, 1);
        ok.context_entries = vec![entry(MAX_CONTEXT_ENTRIES); 2];
        ok.service_control_policy_input_list = vec![Level::Many(vec![ALLOW_ALL.to_owned(); 5]); 7];
        assert!(simulate(&ok).is_ok());

        let mut entries = input(1, 1);
        entries.context_entries = vec![entry(1); MAX_CONTEXT_ENTRIES + 1];
        let mut values = input(1, 1);
        values.context_entries = vec![entry(MAX_CONTEXT_ENTRIES + 1)];
        let mut levels = input(1, 1);
        levels.service_control_policy_input_list = vec![Level::One(ALLOW_ALL.to_owned()); 8];
        let mut per_level = input(1, 1);
        per_level.resource_control_policy_input_list = vec![Level::Many(vec![ALLOW_ALL.to_owned(); 6])];
        for (what, bad) in [("entries", entries), ("values", values), ("levels", levels), ("per level", per_level)] {
            let error = simulate(&bad).unwrap_err();
            assert_eq!(error.code, "InvalidInput", "{what}: {error}");
            assert!(error.message.contains("at most"), "{what}: {error}");
        }
    }
}
