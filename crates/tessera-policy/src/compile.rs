//! The evaluation-ready form of policies: patterns compiled, condition values typed, and a
//! [`PolicySet`] index from actions to the statements that can match them, so that a decision's
//! cost does not grow with statements whose actions cannot match the request.

use std::collections::HashMap;
use std::sync::Arc;

use tessera_arn::is_account_id;

use crate::document::{Effect, Policy, PrincipalType, PrincipalValue, Statement};
use crate::json::Span;
use crate::operator::{Comparison, Family, Operator};
use crate::parse::{PolicyError, PolicyKind, is_unique_id, parse_policy};
use crate::pattern::{Pattern, Syntax};
use crate::values::{Decimal, Network, Timestamp, parse_binary, parse_bool, parse_date};

/// A policy ready for evaluation.
#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    pub(crate) id: Arc<str>,
    pub(crate) statements: Vec<CompiledStatement>,
}

impl CompiledPolicy {
    /// Parses, validates and compiles `text` as a policy of `kind`. `id` names the policy in
    /// explanations (an ARN, or `PolicyInputList.1` in simulations).
    pub fn parse(id: impl Into<Arc<str>>, text: &str, kind: PolicyKind) -> Result<CompiledPolicy, PolicyError> {
        let policy = parse_policy(text, kind)?;
        Ok(CompiledPolicy::compile(id, &policy))
    }

    /// Compiles an already validated document.
    pub fn compile(id: impl Into<Arc<str>>, policy: &Policy) -> CompiledPolicy {
        let variables = policy.variables_enabled();
        let statements = policy
            .statements
            .as_slice()
            .iter()
            .enumerate()
            .map(|(index, statement)| CompiledStatement::new(index, statement, variables))
            .collect();
        CompiledPolicy { id: id.into(), statements }
    }

    /// A policy that allows and denies nothing: what a session policy contributes once the managed
    /// policy it named has been deleted. In a session layer it still counts as a session policy,
    /// so the layer allows nothing (an empty layer would mean "no session policy", which caps
    /// nothing).
    pub fn nothing(id: impl Into<Arc<str>>) -> CompiledPolicy {
        CompiledPolicy { id: id.into(), statements: Vec::new() }
    }

    /// The policy's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How many statements it has.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// Whether it has no statements (never true for a validated document).
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct CompiledStatement {
    pub(crate) index: u32,
    pub(crate) sid: Option<Arc<str>>,
    pub(crate) effect: Effect,
    pub(crate) span: Span,
    pub(crate) principal: Option<PrincipalMatcher>,
    pub(crate) actions: ActionMatcher,
    pub(crate) resources: Option<ResourceMatcher>,
    pub(crate) conditions: Vec<Condition>,
}

impl CompiledStatement {
    fn new(index: usize, statement: &Statement, variables: bool) -> CompiledStatement {
        let actions = ActionMatcher {
            negated: statement.action.negated,
            patterns: statement
                .action
                .values
                .as_slice()
                .iter()
                .map(|a| Pattern::new(a, Syntax { wildcards: true, variables: false, lowercase: true }))
                .collect(),
        };
        let resources = statement.resource.as_ref().map(|clause| ResourceMatcher {
            negated: clause.negated,
            patterns: clause.values.as_slice().iter().map(|r| ResourcePattern::new(r, variables)).collect(),
        });
        let conditions = statement
            .condition
            .iter()
            .flat_map(|block| {
                let operator = Operator::parse(&block.operator);
                block.entries.iter().filter_map(move |(key, values)| {
                    let operator = operator?;
                    Some(Condition::new(&block.operator, operator, key, values.as_slice(), variables))
                })
            })
            .collect();
        CompiledStatement {
            index: index as u32,
            sid: statement.sid.as_deref().map(Arc::from),
            effect: statement.effect,
            span: statement.span,
            principal: statement.principal.as_ref().map(|p| PrincipalMatcher::new(p.negated, &p.value)),
            actions,
            resources,
            conditions,
        }
    }
}

/// `Action` or `NotAction`, lowercased.
#[derive(Clone, Debug)]
pub(crate) struct ActionMatcher {
    pub(crate) negated: bool,
    pub(crate) patterns: Vec<Pattern>,
}

impl ActionMatcher {
    /// `action` must already be lowercase.
    pub(crate) fn matches(&self, action: &str) -> bool {
        self.patterns.iter().any(|p| p.matches_static(action)) != self.negated
    }
}

/// `Resource` or `NotResource`.
#[derive(Clone, Debug)]
pub(crate) struct ResourceMatcher {
    pub(crate) negated: bool,
    pub(crate) patterns: Vec<ResourcePattern>,
}

/// One resource pattern, split at the first five colons like the ARNs it matches.
#[derive(Clone, Debug)]
pub(crate) enum ResourcePattern {
    /// `*`.
    Any,
    /// `arn:partition:service:region:account:resource`; variables only in the resource part.
    Arn(Box<[Pattern; 6]>),
    /// Anything else, matched as a whole.
    Text(Pattern),
}

impl ResourcePattern {
    fn new(text: &str, variables: bool) -> ResourcePattern {
        if text == "*" {
            return ResourcePattern::Any;
        }
        let plain = Syntax { wildcards: true, variables: false, lowercase: false };
        match split_arn(text) {
            Some(parts) => ResourcePattern::Arn(Box::new([
                Pattern::new(parts[0], plain),
                Pattern::new(parts[1], plain),
                Pattern::new(parts[2], plain),
                Pattern::new(parts[3], plain),
                Pattern::new(parts[4], plain),
                Pattern::new(parts[5], Syntax { variables, ..plain }),
            ])),
            None => ResourcePattern::Text(Pattern::new(text, Syntax { variables, ..plain })),
        }
    }
}

/// Splits an ARN into its six parts (the last holds any further colons).
pub(crate) fn split_arn(text: &str) -> Option<[&str; 6]> {
    let mut parts = text.splitn(6, ':');
    let out = [parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?];
    (out[0] == "arn").then_some(out)
}

/// One key under one operator, with its typed policy values.
#[derive(Clone, Debug)]
pub(crate) struct Condition {
    /// The operator as written, for explanations.
    pub(crate) operator_name: Arc<str>,
    pub(crate) operator: Operator,
    /// The key as written, for explanations and missing-key reports.
    pub(crate) key: Arc<str>,
    /// The key folded for lookup.
    pub(crate) folded_key: Box<str>,
    pub(crate) values: PolicyValues,
}

/// Policy values typed by the operator's family. Values that could not be typed were rejected by
/// validation; compiling an unvalidated document drops them.
#[derive(Clone, Debug)]
pub(crate) enum PolicyValues {
    Strings(Vec<Pattern>),
    Numbers(Vec<Decimal>),
    Dates(Vec<Timestamp>),
    Bools(Vec<bool>),
    Binaries(Vec<Vec<u8>>),
    Networks(Vec<Network>),
    Arns(Vec<ArnPattern>),
    Null(bool),
}

impl Condition {
    fn new(
        operator_name: &str,
        operator: Operator,
        key: &str,
        values: &[crate::document::Scalar],
        variables: bool,
    ) -> Condition {
        let texts = values.iter().map(crate::document::Scalar::as_text);
        let values = match operator.family() {
            Family::String => {
                let syntax = Syntax {
                    wildcards: operator.base.comparison == Comparison::Like,
                    variables,
                    lowercase: operator.base.comparison == Comparison::EqualsIgnoreCase,
                };
                PolicyValues::Strings(texts.map(|t| Pattern::new(t, syntax)).collect())
            }
            Family::Numeric => PolicyValues::Numbers(texts.filter_map(Decimal::parse).collect()),
            Family::Date => PolicyValues::Dates(texts.filter_map(parse_date).collect()),
            Family::Bool => PolicyValues::Bools(texts.filter_map(parse_bool).collect()),
            Family::Binary => PolicyValues::Binaries(texts.filter_map(parse_binary).collect()),
            Family::Ip => PolicyValues::Networks(texts.filter_map(Network::parse).collect()),
            Family::Arn => PolicyValues::Arns(texts.map(|t| ArnPattern::new(t, variables)).collect()),
            Family::Null => PolicyValues::Null(texts.filter_map(parse_bool).next().unwrap_or(true)),
        };
        Condition {
            operator_name: operator_name.into(),
            operator,
            key: key.into(),
            folded_key: crate::context::fold_key(key).into(),
            values,
        }
    }
}

/// An `ArnLike`/`ArnEquals` value: each of the six parts globbed separately, so a `*` cannot cross
/// a colon in the first five. Variables may appear in any part.
#[derive(Clone, Debug)]
pub(crate) enum ArnPattern {
    /// `*`: every ARN.
    Any,
    Parts(Box<[Pattern; 6]>),
    /// Not shaped like an ARN: matches nothing that is one.
    Text(Pattern),
}

impl ArnPattern {
    fn new(text: &str, variables: bool) -> ArnPattern {
        let syntax = Syntax { wildcards: true, variables, lowercase: false };
        if text == "*" {
            return ArnPattern::Any;
        }
        match split_arn(text) {
            Some(parts) => ArnPattern::Parts(Box::new(parts.map(|part| Pattern::new(part, syntax)))),
            None => ArnPattern::Text(Pattern::new(text, syntax)),
        }
    }
}

/// `Principal` or `NotPrincipal`.
#[derive(Clone, Debug)]
pub(crate) struct PrincipalMatcher {
    pub(crate) negated: bool,
    pub(crate) any: bool,
    pub(crate) aws: Vec<AwsName>,
    pub(crate) services: Vec<Box<str>>,
    pub(crate) federated: Vec<Box<str>>,
}

/// A name under `"AWS"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AwsName {
    Any,
    /// An account id (from `123456789012` or `arn:aws:iam::123456789012:root`).
    Account(Box<str>),
    /// A user, role, role-session or federated-user ARN.
    Arn(Box<str>),
    /// A user or role unique id.
    UniqueId(Box<str>),
}

impl PrincipalMatcher {
    fn new(negated: bool, value: &PrincipalValue) -> PrincipalMatcher {
        let mut matcher =
            PrincipalMatcher { negated, any: false, aws: Vec::new(), services: Vec::new(), federated: Vec::new() };
        match value {
            PrincipalValue::Any => matcher.any = true,
            PrincipalValue::Map(entries) => {
                for (kind, names) in entries {
                    for name in names.as_slice() {
                        match kind {
                            PrincipalType::Aws => matcher.aws.push(AwsName::new(name)),
                            PrincipalType::Service => matcher.services.push(name.as_str().into()),
                            PrincipalType::Federated => matcher.federated.push(name.as_str().into()),
                            // S3 canonical users never call Tessera.
                            PrincipalType::CanonicalUser => {}
                        }
                    }
                }
            }
        }
        matcher
    }
}

impl AwsName {
    fn new(name: &str) -> AwsName {
        if name == "*" {
            AwsName::Any
        } else if is_account_id(name) {
            AwsName::Account(name.into())
        } else if is_unique_id(name) {
            AwsName::UniqueId(name.into())
        } else {
            match split_arn(name) {
                Some([_, _, "iam", "", account, "root"]) => AwsName::Account(account.into()),
                _ => AwsName::Arn(name.into()),
            }
        }
    }
}

/// A reference to one statement of one policy in a [`PolicySet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct StatementRef {
    pub(crate) policy: u32,
    pub(crate) statement: u32,
}

/// The policies of one evaluation layer (the identity policies of a principal, its boundary, its
/// session policies, a resource policy, or one level of SCPs), indexed by action.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    pub(crate) policies: Vec<CompiledPolicy>,
    /// Lowercase literal action (`s3:getobject`) to statements naming it.
    exact: HashMap<Box<str>, Vec<StatementRef>>,
    /// Lowercase service prefix to statements with a wildcard action in that service.
    by_service: HashMap<Box<str>, Vec<StatementRef>>,
    /// Statements that can match any action (`*`, `NotAction`, a wildcard in the service).
    always: Vec<StatementRef>,
}

impl PolicySet {
    /// Builds the set and its action index.
    pub fn new(policies: Vec<CompiledPolicy>) -> PolicySet {
        let mut set = PolicySet { policies, ..PolicySet::default() };
        for (p, policy) in set.policies.iter().enumerate() {
            for (s, statement) in policy.statements.iter().enumerate() {
                let at = StatementRef { policy: p as u32, statement: s as u32 };
                if statement.actions.negated {
                    set.always.push(at);
                    continue;
                }
                for pattern in &statement.actions.patterns {
                    if let Some(action) = pattern.literal() {
                        push_unique(set.exact.entry(action.into()).or_default(), at);
                        continue;
                    }
                    match service_prefix(pattern) {
                        Some(service) => push_unique(set.by_service.entry(service.into()).or_default(), at),
                        None => push_unique(&mut set.always, at),
                    }
                }
            }
        }
        set
    }

    /// The policies of the set.
    pub fn policies(&self) -> &[CompiledPolicy] {
        &self.policies
    }

    /// Whether the set has no policies.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The statements whose actions can match `action` (lowercase), in document order.
    pub(crate) fn candidates(&self, action: &str, service: &str, out: &mut Vec<StatementRef>) {
        out.clear();
        out.extend_from_slice(&self.always);
        if let Some(list) = self.exact.get(action) {
            out.extend_from_slice(list);
        }
        if let Some(list) = self.by_service.get(service) {
            out.extend_from_slice(list);
        }
        out.sort_unstable();
        out.dedup();
    }

    pub(crate) fn statement(&self, at: StatementRef) -> &CompiledStatement {
        &self.policies[at.policy as usize].statements[at.statement as usize]
    }
}

fn push_unique(list: &mut Vec<StatementRef>, at: StatementRef) {
    if list.last() != Some(&at) {
        list.push(at);
    }
}

/// The literal service of a wildcard action pattern (`s3` for `s3:Get*`), if it has one.
fn service_prefix(pattern: &Pattern) -> Option<String> {
    let (service, _) = pattern.leading_literal()?.split_once(':')?;
    (!service.is_empty()).then(|| service.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(id: &str, statements: &[&str]) -> CompiledPolicy {
        let text = format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","));
        CompiledPolicy::parse(id, &text, PolicyKind::Identity).expect("valid policy")
    }

    #[test]
    fn the_index_offers_only_statements_that_can_match() {
        let mut policies: Vec<CompiledPolicy> = (0..200)
            .map(|p| {
                let statements: Vec<String> = (0..50)
                    .map(|s| format!(r#"{{"Effect":"Allow","Action":"svc{p}:Action{s}","Resource":"*"}}"#))
                    .collect();
                let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
                policy(&format!("p{p}"), &refs)
            })
            .collect();
        policies.push(policy(
            "matching",
            &[
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#,
                r#"{"Effect":"Allow","Action":["s3:Get*","s3:GetObject"],"Resource":"*"}"#,
                r#"{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}"#,
                r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
                r#"{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}"#,
            ],
        ));
        let set = PolicySet::new(policies);
        let mut out = Vec::new();
        set.candidates("s3:getobject", "s3", &mut out);
        let offered: Vec<u32> = out.iter().map(|at| at.statement).collect();
        // Of 10,005 statements, the four that can match `s3:GetObject`, each once, in order.
        assert_eq!(offered, [0, 1, 2, 3]);
        assert!(out.iter().all(|at| at.policy == 200));
        set.candidates("svc7:action3", "svc7", &mut out);
        assert_eq!(out.len(), 3, "the literal match plus the two match-anything statements: {out:?}");
    }

    #[test]
    fn non_ascii_actions_fold_the_same_on_both_sides() {
        use crate::{Context, Policies, Principal, Request, Trace, authorize};
        let set = PolicySet::new(vec![policy("p", &[r#"{"Effect":"Allow","Action":"svc:Ölen","Resource":"*"}"#])]);
        let principal = Principal::from_arn("arn:aws:iam::123456789012:user/alice").expect("valid");
        let context = Context::new();
        for action in ["svc:Ölen", "svc:ölen", "SVC:ÖLEN"] {
            let request = Request::new(&principal, action, "*", &context);
            let decision = authorize(&request, &Policies { identity: Some(&set), ..Policies::default() }, Trace::Off);
            assert!(decision.is_allowed(), "{action}");
        }
    }
}
