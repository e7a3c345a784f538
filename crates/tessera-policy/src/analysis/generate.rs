//! Policy generation (Access Analyzer's `StartPolicyGeneration`, from Tessera's own audit trail
//! rather than CloudTrail): a policy that allows what a principal did, and the proof that it does
//! no more than that and no more than the principal may do now.
//!
//! The requests a principal made ([`Observed`]: action and resource, from the allowed records of
//! the audit trail) become one statement per service and set of resources: the actions of one
//! service that touched the same resources share a statement. Resources are generalized as far
//! as [`Generalize`] says: `Exact` lists them, `Prefix` (the default) replaces each group of
//! ARNs of one service, region, account and resource type (`user/`, `role/`, `bucket/`) by the
//! longest pattern covering them (`arn:aws:iam::1:role/app-*`), `ResourceType` by the whole type
//! (`arn:aws:iam::1:role/*`), `Any` by `*`.
//!
//! [`generate`] proves the result with the engine: every observed request, replayed against the
//! generated policy, is allowed; and `CheckNoNewAccess` of the generated policy against the union
//! of the principal's current policies passes. When it does not at the level asked (a pattern
//! reaches resources the current policies do not), the next narrower level is tried, down to
//! `Exact`; what was proved is returned either way ([`Proof`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::catalog;
use super::checks::{CheckOutcome, CheckResult, check_no_new_access_parsed};
use crate::document::{OneOrMany, Policy, Version};
use crate::{CompiledPolicy, Context, Policies, PolicySet, Principal, Request, Trace, authorize};

/// How far resources are generalized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Generalize {
    /// Every resource as observed.
    Exact,
    /// The narrowest pattern covering each group of resources of one type.
    Prefix,
    /// Every resource of each observed type.
    ResourceType,
    /// `*`.
    Any,
}

impl Generalize {
    /// `exact`, `prefix`, `type`, `any`.
    pub fn as_str(self) -> &'static str {
        match self {
            Generalize::Exact => "exact",
            Generalize::Prefix => "prefix",
            Generalize::ResourceType => "type",
            Generalize::Any => "any",
        }
    }

    /// Reads [`Generalize::as_str`]'s names.
    pub fn parse(text: &str) -> Option<Generalize> {
        [Generalize::Exact, Generalize::Prefix, Generalize::ResourceType, Generalize::Any]
            .into_iter()
            .find(|g| g.as_str() == text)
    }

    fn narrower(self) -> Option<Generalize> {
        match self {
            Generalize::Exact => None,
            Generalize::Prefix => Some(Generalize::Exact),
            Generalize::ResourceType => Some(Generalize::Prefix),
            Generalize::Any => Some(Generalize::ResourceType),
        }
    }
}

/// One allowed request of the principal.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Observed {
    /// `iam:GetUser`.
    pub action: String,
    /// The resource it was authorized on (`*` for none).
    pub resource: String,
}

/// What [`generate`] proved of the policy it returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// How many distinct observed requests were replayed.
    pub replayed: usize,
    /// Those the generated policy does not allow (empty when the proof holds).
    pub refused: Vec<Observed>,
    /// `CheckNoNewAccess` of the generated policy against the principal's current policies.
    pub no_new_access: CheckOutcome,
}

impl Proof {
    /// Whether both halves hold.
    pub fn holds(&self) -> bool {
        self.refused.is_empty() && self.no_new_access.result == CheckResult::Pass
    }

    /// The proof as JSON (Tessera's, beside Access Analyzer's shapes).
    pub fn to_json(&self) -> Value {
        json!({
            "holds": self.holds(),
            "replayedRequests": self.replayed,
            "refusedRequests": self.refused.iter().map(|o| json!({"action": o.action, "resource": o.resource})).collect::<Vec<_>>(),
            "checkNoNewAccess": self.no_new_access.to_json(),
        })
    }
}

/// A generated policy and its proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// The policy document (JSON).
    pub policy: String,
    /// The level asked for.
    pub requested: Generalize,
    /// The level the policy was generated at (narrower than asked when the proof needed it).
    pub level: Generalize,
    /// What was proved.
    pub proof: Proof,
}

/// The policy allowing `observed`, generalized to `level`, as a JSON value.
pub fn policy_for(observed: &[Observed], level: Generalize) -> Value {
    // action (as the catalog spells it) -> resources
    let mut by_action: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for o in observed {
        let action = catalog::action(&o.action).map_or_else(|| o.action.clone(), |info| info.name.to_owned());
        let resource = if o.resource.is_empty() { "*".to_owned() } else { o.resource.clone() };
        by_action.entry(action).or_default().insert(resource);
    }
    // (service, resources) -> actions
    let mut statements: BTreeMap<(String, Vec<String>), BTreeSet<String>> = BTreeMap::new();
    for (action, resources) in by_action {
        let service = action.split_once(':').map_or("", |(s, _)| s).to_ascii_lowercase();
        statements.entry((service, generalize(&resources, level))).or_default().insert(action);
    }
    let statements: Vec<Value> = statements
        .into_iter()
        .map(|((_, resources), actions)| {
            let actions: Vec<String> = actions.into_iter().collect();
            json!({
                "Effect": "Allow",
                "Action": if actions.len() == 1 { json!(actions[0]) } else { json!(actions) },
                "Resource": if resources.len() == 1 { json!(resources[0]) } else { json!(resources) },
            })
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// `resources` generalized to `level`, sorted.
fn generalize(resources: &BTreeSet<String>, level: Generalize) -> Vec<String> {
    if level == Generalize::Any || resources.contains("*") {
        return vec!["*".to_owned()];
    }
    if level == Generalize::Exact {
        return resources.iter().cloned().collect();
    }
    // (arn:p:s:r:a: + type prefix) -> the rest after the type prefix
    let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for resource in resources {
        match type_split(resource) {
            Some((head, rest)) => groups.entry(head.to_owned()).or_default().push(rest),
            None => {
                out.insert(resource.clone());
            }
        }
    }
    for (head, rests) in groups {
        if level == Generalize::ResourceType {
            out.insert(format!("{head}*"));
        } else if let [only] = rests.as_slice() {
            out.insert(format!("{head}{only}"));
        } else {
            out.insert(format!("{head}{}*", common_prefix(&rests)));
        }
    }
    out.into_iter().collect()
}

/// An ARN split after its resource type (`arn:aws:iam::1:role/` + `app/x`), or after its fifth
/// colon when the resource part has no type.
fn type_split(resource: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return None;
    }
    let head = resource.len() - parts[5].len();
    let typed = parts[5].find(['/', ':']).map_or(0, |i| i + 1);
    Some(resource.split_at(head + typed))
}

/// The longest common prefix, cut before any wildcard or variable character so the pattern
/// means what it says.
fn common_prefix(texts: &[&str]) -> String {
    let first = texts[0];
    let mut end = first.len();
    for text in &texts[1..] {
        end = end.min(first.bytes().zip(text.bytes()).take_while(|(a, b)| a == b).count());
    }
    while !first.is_char_boundary(end) {
        end -= 1;
    }
    let prefix = &first[..end];
    prefix.find(['*', '?', '$']).map_or(prefix, |i| &prefix[..i]).to_owned()
}

/// Replays `observed` against `policy` as `principal`'s only identity policy, and checks it
/// against the union of `existing` (stored documents; unreadable ones are skipped).
pub fn prove(policy: &Policy, observed: &[Observed], principal: &Principal, existing: &[String]) -> Proof {
    let set = PolicySet::new(vec![CompiledPolicy::compile("generated", policy)]);
    let policies = Policies { identity: Some(&set), ..Policies::default() };
    let context = Context::new();
    let distinct: BTreeSet<&Observed> = observed.iter().collect();
    let refused = distinct
        .iter()
        .filter(|o| {
            let resource = if o.resource.is_empty() { "*" } else { o.resource.as_str() };
            !authorize(&Request::new(principal, &o.action, resource, &context), &policies, Trace::Off).is_allowed()
        })
        .map(|o| (*o).clone())
        .collect();
    let union = union_of(existing);
    Proof { replayed: distinct.len(), refused, no_new_access: check_no_new_access_parsed(policy, &union) }
}

/// One document holding every statement of `documents`: in an identity layer, policies are the
/// union of their statements.
fn union_of(documents: &[String]) -> Policy {
    let mut statements = Vec::new();
    let mut version = None;
    for text in documents {
        let Ok(policy) = crate::parse::parse_stored_policy(text) else { continue };
        if policy.version == Some(Version::V2012_10_17) || version.is_none() {
            version = policy.version.or(version);
        }
        statements.extend(policy.statements.as_slice().iter().cloned());
    }
    Policy { version: version.or(Some(Version::V2012_10_17)), id: None, statements: OneOrMany::Many(statements) }
}

/// Who replays the requests: the user, or a session of the role (a role ARN is not a caller).
fn replay_principal(arn: &str) -> Principal {
    if let Ok(principal) = Principal::from_arn(arn) {
        return principal;
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if let [_, partition, "iam", _, account, rest] = parts.as_slice()
        && let Some(path) = rest.strip_prefix("role/")
        && let Some(name) = path.rsplit('/').next()
        && let Ok(session) =
            Principal::from_arn(&format!("arn:{partition}:sts::{account}:assumed-role/{name}/tessera-generation"))
    {
        return session;
    }
    Principal::anonymous()
}

/// The policy allowing what `principal_arn` did (`observed`), at `level` or the narrowest level
/// above it whose proof holds against `existing`, its current policies.
pub fn generate(observed: &[Observed], level: Generalize, principal_arn: &str, existing: &[String]) -> Generated {
    let principal = replay_principal(principal_arn);
    let mut at = level;
    loop {
        let value = policy_for(observed, at);
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        // The generated text is always a policy (its statements may be none, which only the
        // validator refuses); it is read back with the stored-document reader.
        let policy = crate::parse::parse_stored_policy(&text).unwrap_or(Policy {
            version: Some(Version::V2012_10_17),
            id: None,
            statements: OneOrMany::Many(Vec::new()),
        });
        let proof = prove(&policy, observed, &principal, existing);
        match at.narrower() {
            Some(next) if !proof.holds() => at = next,
            _ => return Generated { policy: text, requested: level, level: at, proof },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(action: &str, resource: &str) -> Observed {
        Observed { action: action.into(), resource: resource.into() }
    }

    fn workload() -> Vec<Observed> {
        vec![
            seen("iam:GetUser", "arn:aws:iam::123456789012:user/app-alice"),
            seen("iam:GetUser", "arn:aws:iam::123456789012:user/app-bob"),
            seen("iam:listusers", "*"),
            seen("iam:GetRole", "arn:aws:iam::123456789012:role/deploy"),
            seen("sts:GetCallerIdentity", "*"),
            seen("s3:GetObject", "arn:aws:s3:::logs/2026/01/a.gz"),
            seen("s3:GetObject", "arn:aws:s3:::logs/2026/02/b.gz"),
        ]
    }

    #[test]
    fn levels_generalize_resources_by_type() {
        let observed = workload();
        let prefix = policy_for(&observed, Generalize::Prefix);
        let text = prefix.to_string();
        assert!(text.contains(r#""arn:aws:iam::123456789012:user/app-*""#), "{text}");
        assert!(text.contains(r#""arn:aws:s3:::logs/2026/0*""#), "{text}");
        assert!(text.contains(r#""arn:aws:iam::123456789012:role/deploy""#), "{text}");
        assert!(text.contains(r#""iam:ListUsers""#), "spelled as the catalog spells it: {text}");
        let exact = policy_for(&observed, Generalize::Exact).to_string();
        assert!(exact.contains("user/app-alice") && exact.contains("user/app-bob"), "{exact}");
        let typed = policy_for(&observed, Generalize::ResourceType).to_string();
        assert!(typed.contains(r#""arn:aws:iam::123456789012:role/*""#), "{typed}");
        let any = policy_for(&observed, Generalize::Any);
        assert!(any["Statement"].as_array().unwrap().iter().all(|s| s["Resource"] == "*"), "{any}");
        // One statement per service and resource set.
        let statements = prefix["Statement"].as_array().unwrap();
        let services: Vec<&str> =
            statements.iter().map(|s| s["Action"].as_str().or(s["Action"][0].as_str()).unwrap()).collect();
        assert!(services.iter().any(|a| a.starts_with("sts:")) && services.iter().any(|a| a.starts_with("s3:")));
    }

    #[test]
    fn generated_policies_allow_what_was_done_and_nothing_new() {
        let existing = vec![
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:Get*","iam:List*","sts:*"],"Resource":"*"}}"#.to_owned(),
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::logs/*"}}"#.to_owned(),
        ];
        let generated = generate(&workload(), Generalize::Prefix, "arn:aws:iam::123456789012:role/app", &existing);
        let arn = "arn:aws:sts::123456789012:assumed-role/app/s";
        assert!(generated.proof.holds(), "{:?}", generated.proof);
        assert_eq!((generated.level, generated.proof.replayed), (Generalize::Prefix, 7));
        let principal = Principal::from_arn(arn).unwrap();
        let policy = crate::parse::parse_stored_policy(&generated.policy).unwrap();
        let never =
            [seen("iam:CreateUser", "arn:aws:iam::123456789012:user/x"), seen("s3:GetObject", "arn:aws:s3:::other/k")];
        let replay = prove(&policy, &never, &principal, &existing);
        assert_eq!(replay.refused.len(), 2, "calls never made are refused");

        // Asked for `*`, the proof falls back: `s3:GetObject` on `*` is more than `logs/*`, and
        // the resource-type level (`arn:aws:s3:::logs/*`, the bucket) is exactly that.
        let wide = generate(&workload(), Generalize::Any, arn, &existing);
        assert!(wide.proof.holds(), "{:?}", wide.proof);
        assert_eq!((wide.requested, wide.level), (Generalize::Any, Generalize::ResourceType));
        assert!(wide.policy.contains(r#""arn:aws:s3:::logs/*""#), "{}", wide.policy);

        // What the current policies grant only under a condition cannot be proved at any level.
        let conditional = vec![r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}"#.to_owned()];
        let unproved = generate(&[seen("iam:GetUser", "*")], Generalize::Prefix, arn, &conditional);
        assert_eq!(unproved.level, Generalize::Exact);
        assert!(!unproved.proof.holds() && unproved.proof.refused.is_empty());
        assert_eq!(unproved.proof.no_new_access.result, CheckResult::Fail);
    }

    #[test]
    fn nothing_observed_generates_a_policy_granting_nothing() {
        let generated = generate(&[], Generalize::Prefix, "arn:aws:iam::123456789012:user/idle", &[]);
        assert!(generated.proof.holds());
        assert!(generated.policy.contains("\"Statement\": []"), "{}", generated.policy);
    }
}
