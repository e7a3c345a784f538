//! The evaluation-ready form of policies: patterns compiled, condition values typed, and a
//! [`PolicySet`] index from actions, then resources, to the statements that can match them, so
//! that a decision's cost does not grow with statements whose action or resource cannot match the
//! request.

use std::collections::HashMap as StdHashMap;
use std::sync::Arc;

use tessera_arn::is_account_id;

use crate::document::{Effect, Policy, PrincipalType, PrincipalValue, Statement};
use crate::json::Span;
use crate::operator::{Comparison, Family, Operator};
use crate::parse::{
    PolicyError, PolicyKind, iam_resource_type_written_out, is_unique_id, parse_policy, parse_stored_policy,
};
use crate::pattern::{Pattern, Syntax};
use crate::values::{Decimal, Network, Timestamp, parse_binary, parse_bool, parse_date};

/// The indexes' maps: looked up on every decision by the request's action and resource, with a
/// fast seeded hash.
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;

/// A policy ready for evaluation. Clones share the compiled statements, so one compiled document
/// can serve in many policy sets (every principal a managed policy is attached to).
#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    pub(crate) id: Arc<str>,
    pub(crate) statements: Arc<[CompiledStatement]>,
}

impl CompiledPolicy {
    /// Parses, validates and compiles `text` as a policy of `kind`. `id` names the policy in
    /// explanations (an ARN, or `PolicyInputList.1` in simulations).
    pub fn parse(id: impl Into<Arc<str>>, text: &str, kind: PolicyKind) -> Result<CompiledPolicy, PolicyError> {
        let policy = parse_policy(text, kind)?;
        Ok(CompiledPolicy::compile(id, &policy))
    }

    /// Parses and compiles a document that was validated when it was stored (an identity,
    /// managed, boundary, session or trust policy read back from the store), without validating
    /// it again ([`crate::parse_stored_policy`]); an error means the stored text is not a policy
    /// at all.
    pub fn parse_stored(id: impl Into<Arc<str>>, text: &str) -> Result<CompiledPolicy, PolicyError> {
        let policy = parse_stored_policy(text)?;
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
        CompiledPolicy { id: id.into(), statements: Arc::from([]) }
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
    Arn {
        /// The literal text before the first wildcard or variable, colons included.
        prefix: Box<str>,
        parts: Box<[Pattern; 6]>,
    },
    /// Anything else, matched as a whole.
    Text {
        /// The literal text before the first wildcard or variable.
        prefix: Box<str>,
        pattern: Pattern,
    },
    /// An IAM ARN with a wildcard in its resource type (`arn:aws:iam::1:us?r/alice`): validation
    /// refuses it, and a stored document that has one (`CompiledPolicy::parse_stored`) matches
    /// nothing with it, as AWS matches nothing with what it does not accept.
    Nothing {
        /// The literal text before the first wildcard.
        prefix: Box<str>,
    },
}

impl ResourcePattern {
    pub(crate) fn new(text: &str, variables: bool) -> ResourcePattern {
        if text == "*" {
            return ResourcePattern::Any;
        }
        let plain = Syntax { wildcards: true, variables: false, lowercase: false };
        match split_arn(text) {
            Some(raw) => {
                let parts = Box::new([
                    Pattern::new(raw[0], plain),
                    Pattern::new(raw[1], plain),
                    Pattern::new(raw[2], plain),
                    Pattern::new(raw[3], plain),
                    Pattern::new(raw[4], plain),
                    Pattern::new(raw[5], Syntax { variables, ..plain }),
                ]);
                let prefix = arn_prefix(&parts).into();
                if parts[2].literal() == Some("iam") && !iam_resource_type_written_out(raw[5]) {
                    return ResourcePattern::Nothing { prefix };
                }
                ResourcePattern::Arn { prefix, parts }
            }
            None => {
                let pattern = Pattern::new(text, Syntax { variables, ..plain });
                ResourcePattern::Text { prefix: pattern.leading_literal().unwrap_or("").into(), pattern }
            }
        }
    }

    /// The literal text every resource this pattern matches starts with: the text before its
    /// first `*`, `?` or policy variable (an escape such as `${*}` is literal text). Resources
    /// match case-sensitively, so the prefix is compared as it is.
    pub(crate) fn prefix(&self) -> &str {
        match self {
            ResourcePattern::Any => "",
            ResourcePattern::Arn { prefix, .. }
            | ResourcePattern::Text { prefix, .. }
            | ResourcePattern::Nothing { prefix } => prefix,
        }
    }
}

/// The literal prefix of an ARN pattern. INVARIANT: it is a prefix of every resource the pattern
/// matches: the parts before the first one with a wildcard are literal, so a matching ARN has
/// them (and their colons) verbatim, and that part's leading literal starts the ARN's part.
fn arn_prefix(parts: &[Pattern; 6]) -> String {
    let mut prefix = String::new();
    for (i, part) in parts.iter().enumerate() {
        if let Some(literal) = part.literal() {
            prefix.push_str(literal);
            if i < 5 {
                prefix.push(':');
            }
        } else {
            prefix.push_str(part.leading_literal().unwrap_or(""));
            break;
        }
    }
    prefix
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
    /// `Null`: whether the condition holds when the key is absent (some value is `true`) and when
    /// it is present (some value is `false`). The values of one key are ORed like any other's.
    Null {
        absent: bool,
        present: bool,
    },
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
            Family::Null => {
                let values: Vec<bool> = texts.filter_map(parse_bool).collect();
                PolicyValues::Null {
                    absent: values.is_empty() || values.contains(&true),
                    present: values.contains(&false),
                }
            }
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
/// session policies, a resource policy, or one level of SCPs), indexed by action, then resource.
///
/// The action index alone cannot narrow policies that repeat one action over many resources (a
/// statement per team bucket or per user prefix), so each list it yields is indexed again by the
/// literal prefix of the statements' resource patterns.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    pub(crate) policies: Vec<CompiledPolicy>,
    /// Lowercase literal action (`s3:getobject`) to statements naming it.
    exact: HashMap<Box<str>, ResourceIndex>,
    /// Lowercase service prefix to statements with a wildcard action in that service.
    by_service: HashMap<Box<str>, ResourceIndex>,
    /// Statements that can match any action (`*`, `NotAction`, a wildcard in the service).
    always: ResourceIndex,
}

impl PolicySet {
    /// Builds the set and its action and resource indexes.
    pub fn new(policies: Vec<CompiledPolicy>) -> PolicySet {
        let mut exact: HashMap<Box<str>, ResourceIndexBuilder> = HashMap::default();
        let mut by_service: HashMap<Box<str>, ResourceIndexBuilder> = HashMap::default();
        let mut always = ResourceIndexBuilder::default();
        for (p, policy) in policies.iter().enumerate() {
            for (s, statement) in policy.statements.iter().enumerate() {
                let at = StatementRef { policy: p as u32, statement: s as u32 };
                let prefixes = resource_prefixes(statement);
                if statement.actions.negated {
                    always.push(at, prefixes.as_deref());
                    continue;
                }
                for pattern in &statement.actions.patterns {
                    let index = if let Some(action) = pattern.literal() {
                        exact.entry(action.into()).or_default()
                    } else {
                        match service_prefix(pattern) {
                            Some(service) => by_service.entry(service.into()).or_default(),
                            None => &mut always,
                        }
                    };
                    index.push(at, prefixes.as_deref());
                }
            }
        }
        PolicySet {
            policies,
            exact: exact.into_iter().map(|(action, index)| (action, index.build())).collect(),
            by_service: by_service.into_iter().map(|(service, index)| (service, index.build())).collect(),
            always: always.build(),
        }
    }

    /// The policies of the set.
    pub fn policies(&self) -> &[CompiledPolicy] {
        &self.policies
    }

    /// Whether the set has no policies.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The statements whose actions can match `action` (lowercase) and whose resources can match
    /// `resource`, in document order. A superset of the statements that match: the caller still
    /// matches each one.
    pub(crate) fn candidates(&self, action: &str, service: &str, resource: &str, out: &mut Vec<StatementRef>) {
        out.clear();
        self.always.candidates(resource, out);
        if let Some(index) = self.exact.get(action) {
            index.candidates(resource, out);
        }
        if let Some(index) = self.by_service.get(service) {
            index.candidates(resource, out);
        }
        // Explanations list matched statements in document order, and a statement may have come
        // from several lists.
        if out.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
    }

    pub(crate) fn statement(&self, at: StatementRef) -> &CompiledStatement {
        &self.policies[at.policy as usize].statements[at.statement as usize]
    }

    /// A set without indexes: every statement is a candidate for every request. What the index
    /// is tested against.
    #[cfg(test)]
    pub(crate) fn unindexed(policies: Vec<CompiledPolicy>) -> PolicySet {
        let mut always = ResourceIndexBuilder::default();
        for (p, policy) in policies.iter().enumerate() {
            for s in 0..policy.statements.len() {
                always.push(StatementRef { policy: p as u32, statement: s as u32 }, None);
            }
        }
        PolicySet { policies, exact: HashMap::default(), by_service: HashMap::default(), always: always.build() }
    }
}

/// The literal prefixes of a statement's resource patterns (deduplicated), or `None` when it can
/// match any resource: no `Resource` (trust policies), `NotResource`, or a pattern that starts
/// with a wildcard or variable.
fn resource_prefixes(statement: &CompiledStatement) -> Option<Vec<&str>> {
    let matcher = statement.resources.as_ref().filter(|m| !m.negated)?;
    let mut prefixes = Vec::with_capacity(matcher.patterns.len());
    for pattern in &matcher.patterns {
        let prefix = pattern.prefix();
        if prefix.is_empty() {
            return None;
        }
        if !prefixes.contains(&prefix) {
            prefixes.push(prefix);
        }
    }
    Some(prefixes)
}

/// Statements narrowed by resource: those with a literal resource prefix under each prefix, the
/// others in `any`.
///
/// A lookup probes the resource's own prefixes, one per distinct prefix length, so its cost
/// follows the number of distinct lengths (a handful in practice, at most the resource's length)
/// rather than the number of statements, as a search of sorted prefixes would.
#[derive(Clone, Debug, Default)]
struct ResourceIndex {
    /// Statements that can match any resource, in document order.
    any: Vec<StatementRef>,
    /// The distinct lengths of the keys of `prefixed`, ascending.
    lengths: Vec<usize>,
    /// Non-empty prefix (as bytes, so that any length can be probed) to its statements, in
    /// document order.
    prefixed: HashMap<Box<[u8]>, Vec<StatementRef>>,
}

impl ResourceIndex {
    /// Appends the statements that can match `resource`: those in `any` and those under every
    /// prefix of `resource`.
    fn candidates(&self, resource: &str, out: &mut Vec<StatementRef>) {
        out.extend_from_slice(&self.any);
        let resource = resource.as_bytes();
        for &length in self.lengths.iter().take_while(|&&length| length <= resource.len()) {
            if let Some(statements) = self.prefixed.get(&resource[..length]) {
                out.extend_from_slice(statements);
            }
        }
    }
}

#[derive(Default)]
struct ResourceIndexBuilder {
    any: Vec<StatementRef>,
    prefixed: HashMap<Box<str>, Vec<StatementRef>>,
}

impl ResourceIndexBuilder {
    /// Adds a statement under its resource prefixes (`None`: under any resource). Statements
    /// arrive in document order.
    fn push(&mut self, at: StatementRef, prefixes: Option<&[&str]>) {
        match prefixes {
            None => push_unique(&mut self.any, at),
            Some(prefixes) => {
                for &prefix in prefixes {
                    push_unique(self.prefixed.entry(prefix.into()).or_default(), at);
                }
            }
        }
    }

    fn build(self) -> ResourceIndex {
        let mut lengths: Vec<usize> = self.prefixed.keys().map(|prefix| prefix.len()).collect();
        lengths.sort_unstable();
        lengths.dedup();
        let prefixed =
            self.prefixed.into_iter().map(|(prefix, statements)| (prefix.into_boxed_bytes(), statements)).collect();
        ResourceIndex { any: self.any, lengths, prefixed }
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
        set.candidates("s3:getobject", "s3", "arn:aws:s3:::any/thing", &mut out);
        let offered: Vec<u32> = out.iter().map(|at| at.statement).collect();
        // Of 10,005 statements, the four that can match `s3:GetObject`, each once, in order.
        assert_eq!(offered, [0, 1, 2, 3]);
        assert!(out.iter().all(|at| at.policy == 200));
        set.candidates("svc7:action3", "svc7", "arn:aws:s3:::any/thing", &mut out);
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

    #[test]
    fn resource_prefixes_end_at_the_first_wildcard_or_variable() {
        for (pattern, variables, prefix) in [
            ("*", true, ""),
            ("arn:aws:s3:::bucket-7/*", true, "arn:aws:s3:::bucket-7/"),
            ("arn:aws:s3:::bucket-7", true, "arn:aws:s3:::bucket-7"),
            ("arn:aws:s3:::a:b:c*", true, "arn:aws:s3:::a:b:c"),
            ("arn:aws:s3:::home/${aws:username}/*", true, "arn:aws:s3:::home/"),
            // Under 2008-10-17 a variable is literal text.
            ("arn:aws:s3:::home/${aws:username}/*", false, "arn:aws:s3:::home/${aws:username}/"),
            // Escapes are literal text.
            ("arn:aws:s3:::a${*}b${?}c${$}d?", true, "arn:aws:s3:::a*b?c$d"),
            ("arn:aws:s3:*:123456789012:x", true, "arn:aws:s3:"),
            ("arn:aws:s?:::x", true, "arn:aws:s"),
            ("arn:aws:s3:::?x", true, "arn:aws:s3:::"),
            ("arn:aws:iam::123456789012:user/*", true, "arn:aws:iam::123456789012:user/"),
            // Variables are only substituted in the resource part of an ARN.
            ("arn:aws:${aws:username}:::x*", true, "arn:aws:${aws:username}:::x"),
            ("arn:*", true, "arn:"),
            ("text/${aws:username}", true, "text/"),
            ("${aws:username}/x", true, ""),
            ("?x", true, ""),
            ("", true, ""),
        ] {
            assert_eq!(ResourcePattern::new(pattern, variables).prefix(), prefix, "{pattern} (variables: {variables})");
        }
    }

    fn same_action(count: usize, extra: &[&str]) -> PolicySet {
        let per_policy = 50;
        let mut policies: Vec<CompiledPolicy> = (0..count / per_policy)
            .map(|p| {
                let statements: Vec<String> = (p * per_policy..(p + 1) * per_policy)
                    .map(|n| {
                        format!(
                            r#"{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-{n}/*"}}"#
                        )
                    })
                    .collect();
                let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
                policy(&format!("p{p}"), &refs)
            })
            .collect();
        policies.push(policy("extra", extra));
        PolicySet::new(policies)
    }

    fn offered(set: &PolicySet, action: &str, resource: &str) -> Vec<(u32, u32)> {
        let service = action.split_once(':').map_or(action, |(service, _)| service);
        let mut out = Vec::new();
        set.candidates(action, service, resource, &mut out);
        out.iter().map(|at| (at.policy, at.statement)).collect()
    }

    #[test]
    fn the_resource_index_narrows_one_action_over_many_resources() {
        let set = same_action(
            10_000,
            &[
                r#"{"Effect":"Deny","Action":"s3:GetObject","NotResource":"arn:aws:s3:::bucket-1/*"}"#,
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#,
                r#"{"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::bucket-50*"}"#,
                r#"{"Effect":"Allow","Action":"*","Resource":["arn:aws:s3:::bucket-5000/a","arn:aws:s3:::x/*"]}"#,
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::${aws:username}/*"}"#,
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::Bucket-5000/*"}"#,
                r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::y/*","arn:*:s3:::bucket-5000/*"]}"#,
                r#"{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::bucket-5000/*"}"#,
            ],
        );
        // Statement 5,000 of 10,000 and, in document order, those of `extra` that can match: not
        // the other case of the bucket, not the other action, and the deny whose `NotResource`
        // excludes another bucket.
        assert_eq!(
            offered(&set, "s3:getobject", "arn:aws:s3:::bucket-5000/report.pdf"),
            [(100, 0), (200, 0), (200, 1), (200, 2), (200, 4), (200, 6)]
        );
        assert_eq!(
            offered(&set, "s3:getobject", "arn:aws:s3:::bucket-5000/a"),
            [(100, 0), (200, 0), (200, 1), (200, 2), (200, 3), (200, 4), (200, 6)]
        );
        // `arn:*:s3:::bucket-5000/*` can only be narrowed to `arn:`.
        assert_eq!(
            offered(&set, "s3:getobject", "arn:aws:s3:::bucket-1/x"),
            [(0, 1), (200, 0), (200, 1), (200, 4), (200, 6)]
        );
        assert_eq!(offered(&set, "s3:getobject", "arn:aws:s3:::bucket-"), [(200, 0), (200, 1), (200, 4), (200, 6)]);
        assert_eq!(offered(&set, "s3:getobject", "*"), [(200, 0), (200, 1)]);
    }

    #[test]
    fn a_wildcard_in_an_iam_resource_type_matches_nothing() {
        // Validation refuses these; a stored document that has them reads them as written
        // (`parse_stored`), and they match no resource, under Resource or NotResource.
        let text = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"iam:GetUser","Resource":["arn:aws:iam::123456789012:us?r/alice","arn:aws:iam::123456789012:u*"]},
            {"Effect":"Allow","Action":"iam:ListUsers","NotResource":"arn:aws:iam::123456789012:us?r/*"}]}"#;
        assert!(crate::parse_policy(text, PolicyKind::Identity).is_err());
        let set = PolicySet::new(vec![CompiledPolicy::parse_stored("stored", text).expect("a policy")]);
        let alice = crate::Principal::from_arn("arn:aws:iam::123456789012:user/alice").expect("valid");
        let context = crate::Context::new();
        let policies = crate::Policies { identity: Some(&set), ..crate::Policies::default() };
        let decide = |action| {
            let request = crate::Request::new(&alice, action, "arn:aws:iam::123456789012:user/alice", &context);
            crate::authorize(&request, &policies, crate::Trace::Off).outcome
        };
        assert_eq!(decide("iam:GetUser"), crate::Outcome::ImplicitDeny);
        assert_eq!(decide("iam:ListUsers"), crate::Outcome::Allowed);
    }

    #[test]
    fn nested_prefixes_are_all_found() {
        let mut builder = ResourceIndexBuilder::default();
        let keys = ["a", "a/", "a/b", "a/b/c", "a/c", "a/bc", "ab", "b", "a/b/"];
        for (i, key) in keys.iter().enumerate() {
            builder.push(StatementRef { policy: 0, statement: i as u32 }, Some(&[key]));
        }
        let index = builder.build();
        for (resource, expected) in [
            ("a/b/c/d", vec!["a", "a/", "a/b", "a/b/", "a/b/c"]),
            ("a/b", vec!["a", "a/", "a/b"]),
            ("a/bb", vec!["a", "a/", "a/b"]),
            ("a/c", vec!["a", "a/", "a/c"]),
            ("abc", vec!["a", "ab"]),
            ("b", vec!["b"]),
            ("c", vec![]),
            ("", vec![]),
        ] {
            let mut out = Vec::new();
            index.candidates(resource, &mut out);
            out.sort_unstable();
            let found: Vec<&str> = out.iter().map(|at| keys[at.statement as usize]).collect();
            let mut expected = expected;
            expected.sort_by_key(|key| keys.iter().position(|k| k == key));
            assert_eq!(found, expected, "{resource}");
        }
    }

    mod properties {
        use proptest::collection::vec;
        use proptest::prelude::*;
        use proptest::sample::{Index, select};

        use super::*;
        use crate::document::{
            Clause, ConditionBlock, OneOrMany, Policy, PrincipalClause, PrincipalType, PrincipalValue, Scalar,
            Statement, Version,
        };
        use crate::evaluate::pattern_matches;
        use crate::json::Span;
        use crate::{Context, Decision, Policies, Principal, Request, Trace, authorize};

        const PATTERN_STARTS: &[&str] = &[
            "arn:aws:s3:::",
            "arn:aws:s3:::",
            "arn:aws:s3:us-east-1:123456789012:",
            "arn:aws:s3:*:*:",
            "arn:aws:s?:::",
            "arn:aws:*:::",
            "arn:",
            "*",
            "",
        ];
        const PATTERN_PIECES: &[&str] = &[
            "b1",
            "b2",
            "B1",
            "/",
            "x",
            ":",
            "*",
            "?",
            "${aws:username}",
            "${aws:username, 'b1'}",
            "${aws:PrincipalTag/team}",
            "${*}",
            "${?}",
        ];
        const RESOURCE_STARTS: &[&str] =
            &["arn:aws:s3:::", "arn:aws:s3:us-east-1:123456789012:", "arn:aws:ec2:::", "arn:aws:s3", ""];
        const RESOURCE_PIECES: &[&str] = &["b1", "b2", "B1", "/", "x", "alice", ":", "*", "?", "$", "{"];
        const ACTIONS: &[&str] = &[
            "s3:GetObject",
            "s3:Get*",
            "s3:*",
            "*",
            "s3:PutObject",
            "ec2:RunInstances",
            "s3:?etObject",
            "*:GetObject",
        ];

        fn joined(start: &'static [&'static str], pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
            (select(start), vec(select(pieces), 0..5)).prop_map(|(start, pieces)| format!("{start}{}", pieces.concat()))
        }

        fn clause(values: impl Strategy<Value = String>, negated: f64) -> impl Strategy<Value = Clause> {
            (prop::bool::weighted(negated), vec(values, 1..4))
                .prop_map(|(negated, values)| Clause { negated, values: OneOrMany::Many(values) })
        }

        fn condition() -> impl Strategy<Value = ConditionBlock> {
            select(
                &[
                    ("StringEquals", "aws:username", "alice"),
                    ("StringLike", "aws:PrincipalTag/team", "${aws:username}*"),
                    ("StringNotEqualsIfExists", "s3:prefix", "b1"),
                    ("ArnLike", "aws:SourceArn", "arn:aws:s3:::b1/*"),
                    ("Null", "aws:username", "true"),
                    ("StringEquals", "aws:PrincipalTag/team", "${aws:username}"),
                ][..],
            )
            .prop_map(|(operator, key, value)| ConditionBlock {
                operator: operator.into(),
                entries: vec![(key.into(), OneOrMany::One(Scalar::String(value.into())))],
            })
        }

        fn principal() -> impl Strategy<Value = Option<PrincipalClause>> {
            let names = select(
                &["arn:aws:iam::123456789012:user/alice", "123456789012", "*", "arn:aws:iam::123456789012:user/bob"][..],
            );
            prop::option::weighted(
                0.3,
                (prop::bool::weighted(0.1), names).prop_map(|(negated, name)| PrincipalClause {
                    negated,
                    value: PrincipalValue::Map(vec![(PrincipalType::Aws, OneOrMany::One(name.into()))]),
                }),
            )
        }

        fn statement() -> impl Strategy<Value = Statement> {
            (
                prop::bool::weighted(0.7),
                principal(),
                clause(select(ACTIONS).prop_map(String::from), 0.15),
                prop::option::weighted(0.9, clause(joined(PATTERN_STARTS, PATTERN_PIECES), 0.15)),
                vec(condition(), 0..2),
            )
                .prop_map(|(allow, principal, action, resource, condition)| Statement {
                    sid: None,
                    effect: if allow { Effect::Allow } else { Effect::Deny },
                    principal,
                    action,
                    resource,
                    condition,
                    span: Span::default(),
                })
        }

        /// Unvalidated documents, so that every shape the compiler accepts is tried: text
        /// resource patterns, statements without `Resource`, principals anywhere.
        fn policy() -> impl Strategy<Value = Policy> {
            (prop::bool::weighted(0.8), vec(statement(), 1..8)).prop_map(|(current, statements)| Policy {
                version: Some(if current { Version::V2012_10_17 } else { Version::V2008_10_17 }),
                id: None,
                statements: OneOrMany::Many(statements),
            })
        }

        /// A resource that a pattern matches, wildcards and variables filled in one way.
        fn instance(pattern: &str, fill: &str) -> String {
            pattern
                .replace("${aws:username, 'b1'}", "alice")
                .replace("${aws:username}", "alice")
                .replace("${aws:PrincipalTag/team}", "b1")
                .replace("${*}", "*")
                .replace("${?}", "?")
                .replace('*', fill)
                .replace('?', "x")
        }

        /// Each layer's policies as an indexed set and as an unindexed one.
        type Layers = Vec<(PolicySet, PolicySet)>;

        fn layers(policies: &[Vec<Policy>]) -> Layers {
            policies
                .iter()
                .map(|layer| {
                    let compiled: Vec<CompiledPolicy> = layer
                        .iter()
                        .enumerate()
                        .map(|(i, policy)| CompiledPolicy::compile(format!("p{i}"), policy))
                        .collect();
                    (PolicySet::new(compiled.clone()), PolicySet::unindexed(compiled))
                })
                .collect()
        }

        fn decide(layers: &Layers, indexed: bool, request: &Request<'_>, trace: Trace) -> Decision {
            let pick = |i: usize| {
                let (set, unindexed) = &layers[i];
                if indexed { set } else { unindexed }
            };
            let scps = [pick(4).clone()];
            let policies = Policies {
                identity: Some(pick(0)),
                boundary: Some(pick(1)).filter(|set| !set.is_empty()),
                session: Some(pick(2)).filter(|set| !set.is_empty()),
                resource: Some(pick(3)).filter(|set| !set.is_empty()),
                service_control: if pick(4).is_empty() { &[] } else { &scps },
                resource_control: &[],
                resource_policy_required: false,
            };
            authorize(request, &policies, trace)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// The index only skips statements that cannot match: decisions, explanations
            /// included, are those of a scan over every statement.
            #[test]
            fn indexed_decisions_equal_a_scan_of_every_statement(
                identity in vec(policy(), 1..4),
                others in vec(vec(policy(), 0..2), 4),
                session in any::<bool>(),
                action in select(&["s3:GetObject", "S3:getobject", "s3:PutObject", "ec2:RunInstances", "iam:GetUser"][..]),
                random_resource in joined(RESOURCE_STARTS, RESOURCE_PIECES),
                aim in prop::option::weighted(0.6, (any::<Index>(), select(&["", "x", "b1/x", ":", "alice"][..]))),
                username in prop::option::of(select(&["alice", "b1", "B1"][..])),
                team in prop::option::of(select(&["b1", "alice-x"][..])),
                source_arn in prop::option::of(select(&["arn:aws:s3:::b1/x", "arn:aws:s3:::b2"][..])),
            ) {
                // Most requests aim at a resource pattern of the identity policies, so that
                // statements match as well as miss.
                let patterns: Vec<&str> = identity
                    .iter()
                    .flat_map(|p| p.statements.as_slice())
                    .filter_map(|s| s.resource.as_ref())
                    .flat_map(|r| r.values.as_slice())
                    .map(String::as_str)
                    .collect();
                let resource = match aim {
                    Some((pattern, fill)) if !patterns.is_empty() => {
                        instance(patterns[pattern.index(patterns.len())], fill)
                    }
                    _ => random_resource,
                };
                let mut all = vec![identity];
                all.extend(others);
                let layers = layers(&all);
                let caller = if session {
                    "arn:aws:sts::123456789012:assumed-role/r/s"
                } else {
                    "arn:aws:iam::123456789012:user/alice"
                };
                let principal = Principal::from_arn(caller).expect("valid");
                let mut context = Context::new();
                if let Some(username) = username {
                    context.insert("aws:username", username);
                }
                if let Some(team) = team {
                    context.insert("aws:PrincipalTag/team", team);
                }
                if let Some(arn) = source_arn {
                    context.insert("aws:SourceArn", arn);
                }
                let request = Request::new(&principal, action, &resource, &context);
                for trace in [Trace::Off, Trace::On] {
                    let indexed = decide(&layers, true, &request, trace);
                    let scanned = decide(&layers, false, &request, trace);
                    prop_assert_eq!(indexed, scanned, "{} on {}", action, resource);
                }
            }

            /// What the index and `pattern_matches` rely on: a resource that a pattern matches
            /// starts with the pattern's prefix, so checking the prefix first changes no match.
            #[test]
            fn matched_resources_start_with_the_prefix(
                pattern in joined(PATTERN_STARTS, PATTERN_PIECES),
                variables in any::<bool>(),
                shape in select(&["instance", "text", "random"][..]),
                fill in select(&["", "x", "b1/x", ":", "alice"][..]),
                random_resource in joined(RESOURCE_STARTS, RESOURCE_PIECES),
                username in prop::option::of(select(&["alice", "b1", "B1", "*"][..])),
                team in prop::option::of(select(&["b1", "B1", "?"][..])),
            ) {
                let resource = match shape {
                    "instance" => instance(&pattern, fill),
                    "text" => pattern.clone(),
                    _ => random_resource,
                };
                let mut context = Context::new();
                if let Some(username) = username {
                    context.insert("aws:username", username);
                }
                if let Some(team) = team {
                    context.insert("aws:PrincipalTag/team", team);
                }
                let principal = Principal::from_arn("arn:aws:iam::123456789012:user/alice").expect("valid");
                let request = Request::new(&principal, "s3:GetObject", &resource, &context);
                let compiled = ResourcePattern::new(&pattern, variables);
                // The same pattern with an empty prefix: matched without the prefix check.
                let unchecked = match compiled.clone() {
                    ResourcePattern::Any => ResourcePattern::Any,
                    ResourcePattern::Arn { parts, .. } => ResourcePattern::Arn { prefix: "".into(), parts },
                    ResourcePattern::Text { pattern, .. } => ResourcePattern::Text { prefix: "".into(), pattern },
                    ResourcePattern::Nothing { .. } => ResourcePattern::Nothing { prefix: "".into() },
                };
                let matched = pattern_matches(&unchecked, &request, &mut |_| {});
                prop_assert_eq!(pattern_matches(&compiled, &request, &mut |_| {}), matched);
                if matched {
                    prop_assert!(
                        resource.starts_with(compiled.prefix()),
                        "{} matches {} but does not start with {}", pattern, resource, compiled.prefix()
                    );
                }
            }

            /// The prefix search finds exactly the keys that are prefixes of the resource.
            #[test]
            fn prefix_search_finds_every_prefix(
                keys in vec("[ab/]{1,4}", 0..24),
                resource in "[ab/]{0,6}",
            ) {
                let mut builder = ResourceIndexBuilder::default();
                for (i, key) in keys.iter().enumerate() {
                    builder.push(StatementRef { policy: 0, statement: i as u32 }, Some(&[key.as_str()]));
                }
                let index = builder.build();
                let mut found = Vec::new();
                index.candidates(&resource, &mut found);
                found.sort_unstable();
                let expected: Vec<StatementRef> = (0..keys.len())
                    .filter(|&i| resource.starts_with(keys[i].as_str()))
                    .map(|i| StatementRef { policy: 0, statement: i as u32 })
                    .collect();
                prop_assert_eq!(found, expected);
            }
        }
    }
}
