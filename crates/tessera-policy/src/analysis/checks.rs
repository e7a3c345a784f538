//! Custom policy checks (`CheckNoNewAccess`, `CheckAccessNotGranted`, `CheckNoPublicAccess`),
//! decided on the compiled form rather than by heuristics.
//!
//! A request is an action, a resource, a principal (for resource and trust policies) and a
//! context. Every check is one question: is there a request the `new` policy allows and the
//! `existing` one does not? Actions and resources are wildcard languages, so their space splits
//! into finitely many *cells* (the set of statements a string matches; [`super::glob`] finds each
//! with a shortest member). Principals split the same way over the names the policies use plus
//! fresh outsiders. Within a cell only conditions remain, and they are decided key by key: each
//! key takes finitely many candidate values (absent, each policy value, values just beside each
//! number and date, a value no policy names, lists of them for set operators), which cover every
//! way the key's conditions can come out when they are equalities, booleans, `Null`, numbers or
//! dates; where they cannot be covered that way (several different `StringLike` patterns or IP
//! ranges on one key, policy variables in values) and no difference was found, the check answers
//! `FAIL` with a note rather than a `PASS` it cannot stand behind.
//!
//! **Invariant:** an example is reported only after the engine itself ([`crate::authorize`])
//! allowed it under `new` and refused it under `existing`.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Value, json};

use super::glob::{self, Language, STATE_BUDGET, Variables};
use crate::compile::{AwsName, CompiledPolicy, CompiledStatement, PolicySet, PrincipalMatcher};
use crate::context::{Context, fold_key};
use crate::document::{Clause, ConditionBlock, Effect, OneOrMany, Policy, PrincipalClause, PrincipalValue, Statement};
use crate::evaluate::{Principal, PrincipalKind, Strength, evaluate_condition, principal_strength};
use crate::operator::{Comparison, Family, Operator};
use crate::parse::{PolicyError, PolicyKind, parse_policy};
use crate::values::{Network, parse_date};
use crate::{Policies, Request, Trace, authorize};

/// How many contexts one cell may try.
const CONTEXT_BUDGET: usize = 4096;

/// What the checked documents are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckPolicyType {
    /// Identity policies (and boundaries, session policies): no principal.
    Identity,
    /// Resource policies: the principal is part of the request.
    Resource,
    /// Role trust policies: resource policies that must allow on their own.
    Trust,
}

impl CheckPolicyType {
    fn kind(self) -> PolicyKind {
        match self {
            CheckPolicyType::Identity => PolicyKind::Identity,
            CheckPolicyType::Resource => PolicyKind::Resource,
            CheckPolicyType::Trust => PolicyKind::Trust,
        }
    }

    /// Reads Access Analyzer's `policyType` (`IDENTITY_POLICY`, `RESOURCE_POLICY`) or Tessera's
    /// kinds (`identity`, `resource`, `trust`).
    pub fn parse(text: &str) -> Option<CheckPolicyType> {
        match text {
            "IDENTITY_POLICY" | "identity" | "managed" | "boundary" | "session" => Some(CheckPolicyType::Identity),
            "RESOURCE_POLICY" | "resource" => Some(CheckPolicyType::Resource),
            "trust" | "AWS::IAM::AssumeRolePolicyDocument" => Some(CheckPolicyType::Trust),
            _ => None,
        }
    }
}

/// `PASS` or `FAIL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// The property holds for every request.
    Pass,
    /// A request breaks it (or it could not be proved; see the notes).
    Fail,
}

impl CheckResult {
    /// `PASS` / `FAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckResult::Pass => "PASS",
            CheckResult::Fail => "FAIL",
        }
    }
}

/// A statement responsible for a `FAIL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReason {
    /// The 0-based index of the statement in the checked (new) policy.
    pub statement_index: usize,
    /// Its Sid.
    pub statement_id: Option<String>,
    /// What it does.
    pub description: String,
}

/// A concrete request showing the difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    /// The action (`iam:CreateUser`).
    pub action: String,
    /// The resource ARN.
    pub resource: String,
    /// The caller, for resource and trust policies (an ARN, service or provider; empty for an
    /// anonymous caller).
    pub principal: Option<String>,
    /// How the caller is described to the engine.
    pub principal_kind: Option<PrincipalKind>,
    /// The context keys and their values (`None`: the key is absent, which is shown only when
    /// it matters, never sent).
    pub context: BTreeMap<String, ContextValue>,
}

/// A context value of an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextValue {
    /// A single value.
    Single(String),
    /// A list (set operators).
    List(Vec<String>),
}

impl Example {
    /// The example's context as the engine takes it.
    pub fn to_context(&self) -> Context {
        let mut context = Context::new();
        for (key, value) in &self.context {
            match value {
                ContextValue::Single(v) => context.insert(key, v.clone()),
                ContextValue::List(vs) => context.insert_list(key, vs.clone()),
            }
        }
        context
    }

    /// The example's principal as the engine takes it.
    pub fn to_principal(&self, account: &str) -> Principal {
        principal_from_example(self.principal.as_deref(), self.principal_kind, account)
    }
}

/// A check's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOutcome {
    /// `PASS` or `FAIL`.
    pub result: CheckResult,
    /// A sentence saying what was found.
    pub message: String,
    /// The statements responsible for a `FAIL`.
    pub reasons: Vec<CheckReason>,
    /// A request the engine decides differently (absent for a `PASS`, and for a `FAIL` that
    /// could not be proved either way).
    pub example: Option<Example>,
    /// What the check could not decide exactly.
    pub notes: Vec<String>,
}

impl CheckOutcome {
    /// Access Analyzer's response shape (`result`, `message`, `reasons`), plus Tessera's
    /// `example` and `notes`.
    pub fn to_json(&self) -> Value {
        let reasons: Vec<Value> = self
            .reasons
            .iter()
            .map(|r| {
                let mut reason = json!({"description": r.description, "statementIndex": r.statement_index});
                if let Some(sid) = &r.statement_id {
                    reason["statementId"] = json!(sid);
                }
                reason
            })
            .collect();
        let mut out = json!({"result": self.result.as_str(), "message": self.message, "reasons": reasons});
        if let Some(example) = &self.example {
            let context: serde_json::Map<String, Value> = example
                .context
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        match v {
                            ContextValue::Single(s) => json!(s),
                            ContextValue::List(l) => json!(l),
                        },
                    )
                })
                .collect();
            let mut e = json!({"action": example.action, "resource": example.resource, "context": context});
            if let Some(principal) = &example.principal {
                e["principal"] = json!(principal);
            }
            out["example"] = e;
        }
        if !self.notes.is_empty() {
            out["notes"] = json!(self.notes);
        }
        out
    }
}

/// Why a check could not run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// A document is not a valid policy of its type.
    #[error("the {which} policy is not valid: {error}")]
    Policy {
        /// `new`, `existing` or `checked`.
        which: &'static str,
        /// The findings.
        error: PolicyError,
    },
    /// The access list was empty or too long.
    #[error("{0}")]
    InvalidAccess(String),
}

/// The account checks assume when none is given.
pub const DEFAULT_ACCOUNT: &str = "123456789012";

/// `CheckNoNewAccess`: does `new` allow any request `existing` does not?
pub fn check_no_new_access(
    new: &str,
    existing: &str,
    policy_type: CheckPolicyType,
) -> Result<CheckOutcome, CheckError> {
    let new = parse(new, policy_type, "new")?;
    let existing = parse(existing, policy_type, "existing")?;
    let search = Search::new(&new, &existing, policy_type, DEFAULT_ACCOUNT, Principals::Named);
    Ok(search.run().outcome(
        "The new policy grants no access the existing policy does not.",
        "The new policy grants access the existing policy does not",
    ))
}

/// [`check_no_new_access`] on identity policies already parsed (the union of a principal's
/// policies, which no single stored document holds).
pub(crate) fn check_no_new_access_parsed(new: &Policy, existing: &Policy) -> CheckOutcome {
    let search = Search::new(new, existing, CheckPolicyType::Identity, DEFAULT_ACCOUNT, Principals::Named);
    search.run().outcome(
        "The new policy grants no access the existing policy does not.",
        "The new policy grants access the existing policy does not",
    )
}

/// `CheckAccessNotGranted`: does `policy` allow any of `actions` (patterns; any action when
/// empty) on any of `resources` (patterns; any resource when empty)?
pub fn check_access_not_granted(
    policy: &str,
    policy_type: CheckPolicyType,
    actions: &[String],
    resources: &[String],
) -> Result<CheckOutcome, CheckError> {
    if actions.is_empty() && resources.is_empty() {
        return Err(CheckError::InvalidAccess("the access must name at least one action or resource".into()));
    }
    if actions.len() > 100 || resources.len() > 100 {
        return Err(CheckError::InvalidAccess("the access may name at most 100 actions and 100 resources".into()));
    }
    let mut restricted = parse(policy, policy_type, "checked")?;
    let principal = (policy_type != CheckPolicyType::Identity)
        .then_some(PrincipalClause { negated: false, value: PrincipalValue::Any });
    let mut statements = restricted.statements.as_slice().to_vec();
    let base = statements.len();
    if !actions.is_empty() {
        statements.push(deny(
            principal.clone(),
            Clause { negated: true, values: OneOrMany::Many(actions.to_vec()) },
            None,
        ));
    }
    if !resources.is_empty() {
        statements.push(deny(
            principal,
            Clause { negated: false, values: OneOrMany::One("*".into()) },
            Some(Clause { negated: true, values: OneOrMany::Many(resources.to_vec()) }),
        ));
    }
    restricted.statements = OneOrMany::Many(statements);
    let empty = Policy { version: restricted.version, id: None, statements: OneOrMany::Many(Vec::new()) };
    let mut search = Search::new(&restricted, &empty, policy_type, DEFAULT_ACCOUNT, Principals::Named);
    search.reportable = base;
    Ok(search
        .run()
        .outcome("The policy grants none of the listed access.", "The policy grants some of the listed access"))
}

/// `CheckNoPublicAccess`: does a resource or trust policy allow anyone outside `account` whom it
/// does not name (another account's users and roots, anonymous callers, services and identity
/// providers it does not list), outside any organization, to do anything?
pub fn check_no_public_access(
    policy: &str,
    policy_type: CheckPolicyType,
    account: &str,
) -> Result<CheckOutcome, CheckError> {
    let policy_type = if policy_type == CheckPolicyType::Identity { CheckPolicyType::Resource } else { policy_type };
    let policy = parse(policy, policy_type, "checked")?;
    let empty = Policy { version: policy.version, id: None, statements: OneOrMany::Many(Vec::new()) };
    let search = Search::new(&policy, &empty, policy_type, account, Principals::Outsiders);
    Ok(search.run().outcome(
        "The policy grants no access to principals outside the account.",
        "The policy grants access to principals outside the account",
    ))
}

fn deny(principal: Option<PrincipalClause>, action: Clause, resource: Option<Clause>) -> Statement {
    Statement {
        sid: None,
        effect: Effect::Deny,
        principal,
        action,
        resource: resource.or(Some(Clause { negated: false, values: OneOrMany::One("*".into()) })),
        condition: Vec::new(),
        span: Default::default(),
    }
}

fn parse(text: &str, policy_type: CheckPolicyType, which: &'static str) -> Result<Policy, CheckError> {
    parse_policy(text, policy_type.kind()).map_err(|error| CheckError::Policy { which, error })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Principals {
    /// Everyone the policies name, plus outsiders.
    Named,
    /// Only principals outside the account that no policy names.
    Outsiders,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    New,
    Existing,
}

/// One statement of either policy, with its languages.
struct Stmt<'a> {
    side: Side,
    compiled: &'a CompiledStatement,
    document: &'a Statement,
}

struct Search<'a> {
    new: &'a Policy,
    existing: &'a Policy,
    policy_type: CheckPolicyType,
    account: String,
    principals: Principals,
    /// Statements of `new` at or past this index are the check's own (never reported).
    reportable: usize,
}

/// What a search found.
struct Found {
    /// Per reportable statement of `new`: its first verified example.
    examples: BTreeMap<usize, Example>,
    /// Statements whose cells could not be decided.
    undecided: BTreeMap<usize, String>,
    new: Vec<(Option<String>, String)>,
    notes: Vec<String>,
}

impl<'a> Search<'a> {
    fn new(
        new: &'a Policy,
        existing: &'a Policy,
        policy_type: CheckPolicyType,
        account: &str,
        principals: Principals,
    ) -> Search<'a> {
        Search {
            new,
            existing,
            policy_type,
            account: account.to_owned(),
            principals,
            reportable: new.statements.as_slice().len(),
        }
    }

    fn run(&self) -> Found {
        let new_compiled = CompiledPolicy::compile("new", self.new);
        let existing_compiled = CompiledPolicy::compile("existing", self.existing);
        let mut stmts: Vec<Stmt<'_>> = Vec::new();
        for (side, compiled, document) in
            [(Side::New, &new_compiled, self.new), (Side::Existing, &existing_compiled, self.existing)]
        {
            for (compiled, document) in compiled.statements.iter().zip(document.statements.as_slice()) {
                stmts.push(Stmt { side, compiled, document });
            }
        }
        let describe: Vec<(Option<String>, String)> =
            self.new.statements.as_slice().iter().map(|s| (s.sid.clone(), describe(s))).collect();
        let mut found =
            Found { examples: BTreeMap::new(), undecided: BTreeMap::new(), new: describe, notes: Vec::new() };
        let alive: Vec<usize> = stmts
            .iter()
            .enumerate()
            .filter(|(_, s)| s.side == Side::New && s.compiled.effect == Effect::Allow)
            .map(|(i, _)| i)
            .collect();
        if alive.is_empty() {
            return found;
        }
        let new_set = PolicySet::new(vec![new_compiled.clone()]);
        let existing_set = PolicySet::new(vec![existing_compiled.clone()]);

        let action_languages: Vec<Language> = stmts.iter().map(|s| Language::of_actions(&s.compiled.actions)).collect();
        let mut variables = Variables::default();
        let resource_languages: Vec<Language> =
            stmts.iter().map(|s| Language::of_resources(s.compiled.resources.as_ref(), &mut variables)).collect();
        let action_cells = match glob::cells(&action_languages, &alive, true, STATE_BUDGET) {
            Ok(cells) => {
                let spellings: Vec<&str> = stmts
                    .iter()
                    .flat_map(|s| s.document.action.values.as_slice())
                    .map(String::as_str)
                    .filter(|a| !a.contains(['*', '?']))
                    .collect();
                improve_action_witnesses(&action_languages, cells, &spellings)
            }
            Err(_) => {
                found.notes.push("the actions have too many distinct cases to explore; not proved".into());
                mark_all_undecided(&mut found, &stmts, &alive, self.reportable, "too many action cases");
                return found;
            }
        };
        let resource_cells = if resource_languages.iter().all(|l| l.globs.is_empty() && l.negated) {
            vec![(vec![true; stmts.len()], self.default_resource())]
        } else {
            match glob::cells(&resource_languages, &alive, false, STATE_BUDGET) {
                // The empty string is a shortest member of a cell but reads badly: `*` stands in
                // for it when it falls in the same cell.
                Ok(cells) => cells
                    .into_iter()
                    .map(|(vector, witness)| {
                        let star_same = resource_languages
                            .iter()
                            .enumerate()
                            .all(|(i, l)| (l.globs.iter().any(|g| g.matches("*")) != l.negated) == vector[i]);
                        let witness = if witness.is_empty() && star_same { "*".to_owned() } else { witness };
                        (vector, witness)
                    })
                    .collect(),
                Err(_) => {
                    found.notes.push("the resources have too many distinct cases to explore; not proved".into());
                    mark_all_undecided(&mut found, &stmts, &alive, self.reportable, "too many resource cases");
                    return found;
                }
            }
        };
        let principals = self.principal_candidates(&stmts);
        let allow_all = PolicySet::new(vec![
            CompiledPolicy::parse_stored(
                "allow-all",
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            )
            .expect("a valid document"),
        ]);
        let verify = Verifier {
            policy_type: self.policy_type,
            account: &self.account,
            new: &new_set,
            existing: &existing_set,
            allow_all: &allow_all,
        };

        for (action_vector, action) in &action_cells {
            for (resource_vector, resource) in &resource_cells {
                for principal in &principals {
                    let matching: Vec<usize> = (0..stmts.len())
                        .filter(|&i| action_vector[i] && resource_vector[i])
                        .filter(|&i| self.principal_matches(&stmts[i], principal))
                        .collect();
                    let new_allows: Vec<usize> = matching
                        .iter()
                        .copied()
                        .filter(|&i| stmts[i].side == Side::New && stmts[i].compiled.effect == Effect::Allow)
                        .filter(|&i| (stmts[i].compiled.index as usize) < self.reportable)
                        .collect();
                    if new_allows.is_empty()
                        || new_allows.iter().all(|&i| found.examples.contains_key(&(stmts[i].compiled.index as usize)))
                    {
                        continue;
                    }
                    let cell = Cell { stmts: &stmts, matching: &matching, principal, variables: &variables };
                    match cell.search(self.policy_type, &verify, action, resource) {
                        CellResult::Witness(example, responsible) => {
                            for i in responsible {
                                found.examples.entry(i).or_insert_with(|| example.clone());
                            }
                        }
                        CellResult::None => {}
                        CellResult::Undecided(why) => {
                            for &i in &new_allows {
                                found.undecided.entry(stmts[i].compiled.index as usize).or_insert_with(|| why.clone());
                            }
                        }
                    }
                }
            }
        }
        for index in found.examples.keys().copied().collect::<Vec<_>>() {
            found.undecided.remove(&index);
        }
        found
    }

    fn default_resource(&self) -> String {
        match self.policy_type {
            CheckPolicyType::Trust => format!("arn:aws:iam::{}:role/checked-role", self.account),
            _ => "*".to_owned(),
        }
    }

    fn principal_matches(&self, stmt: &Stmt<'_>, principal: &Candidate) -> bool {
        let Candidate::Principal(principal) = principal else { return true };
        let Some(matcher) = &stmt.compiled.principal else { return true };
        match principal_strength(matcher, principal) {
            None => false,
            // Naming the caller's own account delegates to its identity policies: the resource
            // policy alone grants nothing then (an explicit deny still applies).
            Some(Strength::Account) => stmt.compiled.effect == Effect::Deny || principal.account != self.account,
            Some(_) => true,
        }
    }

    fn principal_candidates(&self, stmts: &[Stmt<'_>]) -> Vec<Candidate> {
        if self.policy_type == CheckPolicyType::Identity {
            return vec![Candidate::Identity];
        }
        let mut accounts: Vec<String> = vec![self.account.clone()];
        let mut out: Vec<Principal> = Vec::new();
        let named: Vec<&PrincipalMatcher> = stmts.iter().filter_map(|s| s.compiled.principal.as_ref()).collect();
        for matcher in &named {
            for name in &matcher.aws {
                match name {
                    AwsName::Account(a) => accounts.push(a.to_string()),
                    AwsName::Arn(arn) => {
                        if let Some(account) = arn.split(':').nth(4) {
                            accounts.push(account.to_owned());
                        }
                    }
                    _ => {}
                }
            }
        }
        let outsider = (0..1000u32)
            .map(|n| format!("{:012}", 999_999_999_999u64 - u64::from(n) * 1_111))
            .find(|a| !accounts.contains(a))
            .unwrap_or_else(|| "999999999999".into());
        let user = |account: &str, name: &str| Principal::from_arn(&format!("arn:aws:iam::{account}:user/{name}")).ok();
        out.extend(user(&outsider, "outsider"));
        out.extend(Principal::from_arn(&format!("arn:aws:iam::{outsider}:root")).ok());
        out.push(Principal::anonymous());
        out.push(Principal {
            kind: PrincipalKind::Service,
            arn: "outsider.amazonaws.com".into(),
            ..Principal::anonymous()
        });
        out.push(Principal {
            kind: PrincipalKind::WebIdentity,
            arn: format!("arn:aws:iam::{outsider}:oidc-provider/outsider.example"),
            ..Principal::anonymous()
        });
        if self.principals == Principals::Named {
            out.extend(user(&self.account, "checked-user"));
            for matcher in &named {
                for name in &matcher.aws {
                    match name {
                        AwsName::Any => {}
                        AwsName::Account(a) => {
                            out.extend(user(a, "checked-user"));
                            out.extend(Principal::from_arn(&format!("arn:aws:iam::{a}:root")).ok());
                        }
                        AwsName::Arn(arn) => out.extend(principal_for_arn(arn)),
                        AwsName::UniqueId(id) => {
                            if let Some(mut p) = user(&self.account, "unique-id-holder") {
                                p.unique_id = Some(id.to_string());
                                out.push(p);
                            }
                        }
                    }
                }
                for service in &matcher.services {
                    out.push(Principal {
                        kind: PrincipalKind::Service,
                        arn: service.to_string(),
                        ..Principal::anonymous()
                    });
                }
                for provider in &matcher.federated {
                    out.push(Principal {
                        kind: PrincipalKind::WebIdentity,
                        arn: provider.to_string(),
                        ..Principal::anonymous()
                    });
                }
            }
        }
        let mut unique: Vec<Principal> = Vec::new();
        for p in out {
            if !unique.contains(&p) {
                unique.push(p);
            }
        }
        unique.into_iter().map(Candidate::Principal).collect()
    }
}

fn mark_all_undecided(found: &mut Found, stmts: &[Stmt<'_>], alive: &[usize], reportable: usize, why: &str) {
    for &i in alive {
        let index = stmts[i].compiled.index as usize;
        if index < reportable {
            found.undecided.insert(index, why.to_owned());
        }
    }
}

/// A user, role session, federated user or root for a named ARN.
fn principal_for_arn(arn: &str) -> Option<Principal> {
    if let Ok(principal) = Principal::from_arn(arn) {
        return Some(principal);
    }
    // A role: one of its sessions, which the role's ARN (with its path) names.
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let name = parts.get(5)?.strip_prefix("role/")?.rsplit('/').next()?;
    let mut session =
        Principal::from_arn(&format!("arn:{}:sts::{}:assumed-role/{name}/checked", parts[1], parts[4])).ok()?;
    session.role_arn = Some(arn.to_owned());
    Some(session)
}

fn principal_from_example(arn: Option<&str>, kind: Option<PrincipalKind>, account: &str) -> Principal {
    match (kind, arn) {
        (Some(PrincipalKind::Anonymous), _) => Principal::anonymous(),
        (Some(kind @ (PrincipalKind::Service | PrincipalKind::WebIdentity)), Some(arn)) => {
            Principal { kind, arn: arn.to_owned(), ..Principal::anonymous() }
        }
        (Some(PrincipalKind::AssumedRole), Some(arn)) => principal_for_arn(arn).unwrap_or_else(Principal::anonymous),
        (_, Some(arn)) => Principal::from_arn(arn).unwrap_or_else(|_| Principal::anonymous()),
        (_, None) => Principal::from_arn(&format!("arn:aws:iam::{account}:user/checked-user"))
            .unwrap_or_else(|_| Principal::anonymous()),
    }
}

#[derive(Clone, Debug)]
enum Candidate {
    /// Identity policies: the caller does not take part.
    Identity,
    Principal(Principal),
}

fn improve_action_witnesses(
    languages: &[Language],
    cells: Vec<(Vec<bool>, String)>,
    spellings: &[&str],
) -> Vec<(Vec<bool>, String)> {
    // A real action reads better than the shortest string of its cell; IAM and STS are listed,
    // and an action a policy names is shown as the policy spells it.
    cells
        .into_iter()
        .map(|(vector, witness)| {
            if let Some(spelled) = spellings.iter().find(|s| s.to_lowercase() == witness) {
                return (vector, (*spelled).to_owned());
            }
            let service = witness.split_once(':').map(|(s, _)| s);
            let better = super::catalog::ACTIONS
                .iter()
                .filter(|a| service.is_none_or(|s| a.service() == s))
                .map(|a| a.name.to_ascii_lowercase())
                .find(|name| {
                    languages.iter().enumerate().all(|(i, l)| {
                        let hit = l.globs.iter().any(|g| g.matches(name)) != l.negated;
                        hit == vector[i]
                    })
                });
            let witness = match better {
                Some(name) => super::catalog::action(&name).map_or(name, |a| a.name.to_owned()),
                None => witness,
            };
            (vector, witness)
        })
        .collect()
}

enum CellResult {
    Witness(Example, Vec<usize>),
    None,
    Undecided(String),
}

struct Cell<'s, 'a> {
    stmts: &'s [Stmt<'a>],
    matching: &'s [usize],
    principal: &'s Candidate,
    variables: &'s Variables,
}

/// Keys the engine's caller derives from the principal; for resource policies they follow the
/// candidate principal instead of being chosen freely.
const PRINCIPAL_KEYS: [&str; 11] = [
    "aws:principalaccount",
    "aws:principalarn",
    "aws:username",
    "aws:userid",
    "aws:principaltype",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceorgid",
    "aws:principalisawsservice",
];

impl Cell<'_, '_> {
    fn search(&self, policy_type: CheckPolicyType, verify: &Verifier<'_>, action: &str, resource: &str) -> CellResult {
        // Keys and their candidate values.
        let bound = policy_type != CheckPolicyType::Identity;
        let mut keys: BTreeMap<String, KeyCandidates> = BTreeMap::new();
        for &i in self.matching {
            for block in &self.stmts[i].document.condition {
                let Some(operator) = Operator::parse(&block.operator) else { continue };
                for (key, values) in &block.entries {
                    let folded = fold_key(key);
                    if bound && PRINCIPAL_KEYS.contains(&folded.as_str()) {
                        continue;
                    }
                    keys.entry(folded).or_insert_with(|| KeyCandidates::new(key)).add(operator, block, values);
                }
            }
        }
        let candidates: Vec<(String, Vec<Option<ContextValue>>, bool)> =
            keys.into_values().map(|k| (k.name.clone(), k.values(), k.exact())).collect();
        let exact = candidates.iter().all(|(_, _, exact)| *exact);
        let total: usize =
            candidates.iter().map(|(_, v, _)| v.len()).try_fold(1usize, |a, n| a.checked_mul(n)).unwrap_or(usize::MAX);
        let mut base = BTreeMap::new();
        if let Candidate::Principal(principal) = self.principal {
            principal_keys(principal, &verify.account_for(principal), &mut base);
        }
        let mut tried_all = true;
        let mut choice = vec![0usize; candidates.len()];
        for step in 0.. {
            if step >= CONTEXT_BUDGET {
                tried_all = total <= CONTEXT_BUDGET;
                break;
            }
            let mut context_values = base.clone();
            for (k, (name, values, _)) in candidates.iter().enumerate() {
                if let Some(value) = &values[choice[k]] {
                    context_values.insert(name.clone(), value.clone());
                }
            }
            let context = to_context(&context_values);
            let mut new_allow = Vec::new();
            let (mut new_deny, mut existing_allow, mut existing_deny) = (false, false, false);
            for &i in self.matching {
                let stmt = &self.stmts[i];
                if !stmt.compiled.conditions.iter().all(|c| evaluate_condition(c, &context, &mut |_| {})) {
                    continue;
                }
                match (stmt.side, stmt.compiled.effect) {
                    (Side::New, Effect::Allow) => new_allow.push(stmt.compiled.index as usize),
                    (Side::New, Effect::Deny) => new_deny = true,
                    (Side::Existing, Effect::Allow) => existing_allow = true,
                    (Side::Existing, Effect::Deny) => existing_deny = true,
                }
            }
            if !new_allow.is_empty() && !new_deny && (!existing_allow || existing_deny) {
                let example = self.concretize(action, resource, context_values);
                if verify.differs(&example) {
                    return CellResult::Witness(example, new_allow);
                }
            }
            // The next combination, mixed radix.
            let mut k = 0;
            loop {
                if k == choice.len() {
                    return if exact { CellResult::None } else { CellResult::Undecided(approximate_note(&candidates)) };
                }
                choice[k] += 1;
                if choice[k] < candidates[k].1.len() {
                    break;
                }
                choice[k] = 0;
                k += 1;
            }
        }
        if exact && tried_all {
            CellResult::None
        } else {
            CellResult::Undecided(format!(
                "the conditions have {total} combinations of values, more than the {CONTEXT_BUDGET} tried"
            ))
        }
    }

    fn concretize(&self, action: &str, resource: &str, mut context: BTreeMap<String, ContextValue>) -> Example {
        let mut concrete = String::new();
        for c in resource.chars() {
            match self.variables.key_of(c) {
                Some(key) => {
                    let value = match context.iter().find(|(k, _)| fold_key(k) == key) {
                        Some((_, ContextValue::Single(v))) => v.clone(),
                        _ => {
                            let v = format!("var-{}", key.replace([':', '/'], "-"));
                            context.insert(key.to_owned(), ContextValue::Single(v.clone()));
                            v
                        }
                    };
                    concrete.push_str(&value);
                }
                None => concrete.push(c),
            }
        }
        let (principal, principal_kind) = match self.principal {
            Candidate::Identity => (None, None),
            Candidate::Principal(p) => (Some(p.arn.clone()), Some(p.kind)),
        };
        Example { action: action.to_owned(), resource: concrete, principal, principal_kind, context }
    }
}

fn approximate_note(candidates: &[(String, Vec<Option<ContextValue>>, bool)]) -> String {
    let keys: Vec<&str> = candidates.iter().filter(|(_, _, exact)| !exact).map(|(k, _, _)| k.as_str()).collect();
    format!("conditions on `{}` could not be decided exactly", keys.join("`, `"))
}

fn to_context(values: &BTreeMap<String, ContextValue>) -> Context {
    let mut context = Context::with_capacity(values.len());
    for (key, value) in values {
        match value {
            ContextValue::Single(v) => context.insert(key, v.clone()),
            ContextValue::List(vs) => context.insert_list(key, vs.clone()),
        }
    }
    context
}

/// The keys a caller's own identity fixes.
fn principal_keys(principal: &Principal, org_account: &str, out: &mut BTreeMap<String, ContextValue>) {
    let single = |v: &str| ContextValue::Single(v.to_owned());
    match principal.kind {
        PrincipalKind::Anonymous | PrincipalKind::WebIdentity => {}
        PrincipalKind::Service => {
            out.insert("aws:PrincipalIsAWSService".into(), single("true"));
            out.insert("aws:SourceAccount".into(), single(org_account));
            out.insert("aws:SourceArn".into(), single(&format!("arn:aws:sns:us-east-1:{org_account}:caller")));
        }
        _ => {
            out.insert("aws:PrincipalAccount".into(), single(&principal.account));
            out.insert("aws:PrincipalArn".into(), single(principal.role_arn.as_deref().unwrap_or(&principal.arn)));
            out.insert("aws:PrincipalIsAWSService".into(), single("false"));
            let kind = match principal.kind {
                PrincipalKind::Root => "Account",
                PrincipalKind::User => "User",
                PrincipalKind::AssumedRole => "AssumedRole",
                _ => "FederatedUser",
            };
            out.insert("aws:PrincipalType".into(), single(kind));
            if principal.kind == PrincipalKind::User
                && let Some(name) = principal.arn.rsplit('/').next()
            {
                out.insert("aws:username".into(), single(name));
            }
        }
    }
}

/// Candidate values of one condition key.
pub(crate) struct KeyCandidates {
    name: String,
    atoms: Vec<(Operator, Vec<String>)>,
    texts: Vec<String>,
    lists: bool,
}

impl KeyCandidates {
    pub(crate) fn new(name: &str) -> KeyCandidates {
        KeyCandidates { name: name.to_owned(), atoms: Vec::new(), texts: Vec::new(), lists: false }
    }

    pub(crate) fn add(
        &mut self,
        operator: Operator,
        _block: &ConditionBlock,
        values: &OneOrMany<crate::document::Scalar>,
    ) {
        let texts: Vec<String> = values.as_slice().iter().map(|v| v.as_text().to_owned()).collect();
        if operator.set.is_some() {
            self.lists = true;
        }
        if !self.atoms.iter().any(|(o, t)| *o == operator && *t == texts) {
            self.atoms.push((operator, texts.clone()));
        }
        let mut push = |text: String| {
            if !self.texts.contains(&text) {
                self.texts.push(text);
            }
        };
        match operator.family() {
            Family::String => {
                for text in &texts {
                    if operator.base.comparison == Comparison::Like {
                        push(text.replace('*', "").replace('?', "x"));
                        push(text.replace(['*', '?'], "x"));
                    } else {
                        push(text.clone());
                        if operator.base.comparison == Comparison::EqualsIgnoreCase {
                            push(text.to_uppercase());
                        }
                    }
                }
            }
            Family::Numeric => {
                let mut numbers: Vec<f64> = texts.iter().filter_map(|t| t.trim().parse::<f64>().ok()).collect();
                numbers.sort_by(f64::total_cmp);
                for (i, n) in numbers.iter().enumerate() {
                    for v in [*n - 1.0, *n, *n + 1.0] {
                        push(number(v));
                    }
                    if let Some(next) = numbers.get(i + 1) {
                        push(number((n + next) / 2.0));
                    }
                }
                for text in &texts {
                    push(text.clone());
                }
            }
            Family::Date => {
                for text in &texts {
                    push(text.clone());
                    if let Some(nanos) = parse_date(text) {
                        for delta in [-1_000_000_000i128, 1_000_000_000] {
                            let at = nanos + delta;
                            push(format!("{}.{:09}", at.div_euclid(1_000_000_000), at.rem_euclid(1_000_000_000)));
                        }
                    }
                }
            }
            Family::Bool => {
                push("true".into());
                push("false".into());
            }
            Family::Ip => {
                for text in &texts {
                    let address = text.split('/').next().unwrap_or(text).to_owned();
                    if Network::parse_address(&address).is_some() {
                        push(address);
                    }
                }
                push("198.51.100.77".into());
                push("2001:db8::77".into());
            }
            Family::Binary | Family::Arn => {
                for text in &texts {
                    push(text.replace(['*', '?'], "x"));
                }
            }
            Family::Null => push("present".into()),
        }
    }

    pub(crate) fn values(&self) -> Vec<Option<ContextValue>> {
        let mut out: Vec<Option<ContextValue>> = vec![None];
        let other = "tessera-other".to_owned();
        if self.lists {
            out.push(Some(ContextValue::List(Vec::new())));
            for text in self.texts.iter().chain([&other]) {
                out.push(Some(ContextValue::List(vec![text.clone()])));
            }
            if self.texts.len() > 1 {
                out.push(Some(ContextValue::List(self.texts.clone())));
            }
            for text in &self.texts {
                out.push(Some(ContextValue::List(vec![text.clone(), other.clone()])));
            }
        } else {
            for text in self.texts.iter().chain([&other]) {
                out.push(Some(ContextValue::Single(text.clone())));
            }
        }
        out
    }

    /// Whether the candidates cover every way this key's conditions can come out.
    pub(crate) fn exact(&self) -> bool {
        if self.atoms.iter().any(|(_, texts)| texts.iter().any(|t| t.contains("${"))) {
            return false;
        }
        if self.atoms.len() <= 1 {
            return true;
        }
        !self.lists
            && self.atoms.iter().all(|(operator, texts)| match operator.family() {
                Family::String => {
                    operator.base.comparison != Comparison::Like
                        || texts.iter().all(|t| !t.contains('*') && !t.contains('?'))
                }
                Family::Numeric | Family::Date | Family::Bool | Family::Null | Family::Binary => true,
                Family::Ip | Family::Arn => false,
            })
    }
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

/// Decides an example with the engine, as the check claims it: allowed under `new`, not under
/// `existing`.
struct Verifier<'a> {
    policy_type: CheckPolicyType,
    account: &'a str,
    new: &'a PolicySet,
    existing: &'a PolicySet,
    allow_all: &'a PolicySet,
}

impl Verifier<'_> {
    fn account_for(&self, principal: &Principal) -> String {
        if principal.account.is_empty() { "999999999999".into() } else { principal.account.clone() }
    }

    fn differs(&self, example: &Example) -> bool {
        allowed(self.policy_type, self.account, self.new, self.allow_all, example)
            && !allowed(self.policy_type, self.account, self.existing, self.allow_all, example)
    }
}

/// Whether `set` allows the example on its own: as the caller's identity policies, or as the
/// resource's policy (with an allow-all identity layer for a caller from another account, whose
/// own account must allow too).
fn allowed(
    policy_type: CheckPolicyType,
    account: &str,
    set: &PolicySet,
    allow_all: &PolicySet,
    example: &Example,
) -> bool {
    let context = example.to_context();
    let principal = example.to_principal(account);
    let request = Request::new(&principal, &example.action, &example.resource, &context).with_resource_account(account);
    let policies = match policy_type {
        CheckPolicyType::Identity => Policies { identity: Some(set), ..Policies::default() },
        CheckPolicyType::Resource | CheckPolicyType::Trust => Policies {
            identity: (principal.account != account).then_some(allow_all),
            resource: Some(set),
            resource_policy_required: policy_type == CheckPolicyType::Trust,
            ..Policies::default()
        },
    };
    authorize(&request, &policies, Trace::Off).is_allowed()
}

/// Whether a policy allows an example, as the checks decide it (for tests and callers that
/// replay examples).
pub fn example_allowed(
    policy: &str,
    policy_type: CheckPolicyType,
    account: &str,
    example: &Example,
) -> Result<bool, CheckError> {
    let parsed = parse(policy, policy_type, "checked")?;
    let set = PolicySet::new(vec![CompiledPolicy::compile("checked", &parsed)]);
    let allow_all = PolicySet::new(vec![
        CompiledPolicy::parse_stored(
            "allow-all",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        )
        .expect("a valid document"),
    ]);
    Ok(allowed(policy_type, account, &set, &allow_all, example))
}

fn describe(statement: &Statement) -> String {
    let verb = if statement.action.negated { "every action but" } else { "" };
    let actions = statement.action.values.as_slice().join(", ");
    let resources = statement.resource.as_ref().map(|r| {
        let list = r.values.as_slice().join(", ");
        if r.negated { format!("every resource but {list}") } else { list }
    });
    let mut text = format!("{} {verb} {actions}", statement.effect.as_str());
    if let Some(resources) = resources {
        text.push_str(&format!(" on {resources}"));
    }
    if !statement.condition.is_empty() {
        text.push_str(" under conditions");
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Found {
    fn outcome(self, pass: &str, fail: &str) -> CheckOutcome {
        if self.examples.is_empty() && self.undecided.is_empty() {
            return CheckOutcome {
                result: CheckResult::Pass,
                message: pass.to_owned(),
                reasons: Vec::new(),
                example: None,
                notes: self.notes,
            };
        }
        let mut notes = self.notes;
        let mut reasons = Vec::new();
        for (&index, example) in &self.examples {
            let (sid, description) = &self.new[index];
            let _ = example;
            reasons.push(CheckReason {
                statement_index: index,
                statement_id: sid.clone(),
                description: description.clone(),
            });
        }
        for (&index, why) in &self.undecided {
            let (sid, description) = &self.new[index];
            reasons.push(CheckReason {
                statement_index: index,
                statement_id: sid.clone(),
                description: format!("{description} (not proved either way: {why})"),
            });
            notes.push(format!("statement {index}: {why}; answered FAIL because no new access could not be shown"));
        }
        reasons.sort_by_key(|r| r.statement_index);
        let example = self.examples.into_values().next();
        let message = match &example {
            Some(e) => format!("{fail}: for example {} on {}.", e.action, e.resource),
            None => format!("{fail} (not proved; see the notes)."),
        };
        CheckOutcome { result: CheckResult::Fail, message, reasons, example, notes }
    }
}

impl fmt::Display for CheckOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.result.as_str(), self.message)
    }
}
