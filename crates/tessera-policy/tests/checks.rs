//! The custom policy checks: the corpus of `CheckNoNewAccess` verdicts (`tests/analysis/no-new-access.json`),
//! `CheckAccessNotGranted` and `CheckNoPublicAccess` cases, and the property that every `FAIL`
//! example is decided differently by the engine while every `PASS` holds on random requests
//! drawn from the policies' own patterns.

use proptest::prelude::*;
use serde_json::Value;
use tessera_policy::analysis::checks::{
    CheckPolicyType, CheckResult, ContextValue, DEFAULT_ACCOUNT, Example, check_access_not_granted,
    check_no_new_access, check_no_public_access, example_allowed,
};

fn policy_type(text: &str) -> CheckPolicyType {
    CheckPolicyType::parse(text).unwrap_or_else(|| panic!("unknown policy type {text}"))
}

#[test]
fn corpus_of_no_new_access_verdicts() {
    let corpus: Value = serde_json::from_str(include_str!("analysis/no-new-access.json")).expect("valid JSON");
    let mut failures = Vec::new();
    let cases = corpus["cases"].as_array().expect("cases");
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        let kind = policy_type(case["policyType"].as_str().unwrap_or("IDENTITY_POLICY"));
        let new = case["new"].to_string();
        let existing = case["existing"].to_string();
        let outcome = match check_no_new_access(&new, &existing, kind) {
            Ok(outcome) => outcome,
            Err(error) => {
                failures.push(format!("{name}: {error}"));
                continue;
            }
        };
        let expected = case["expected"].as_str().unwrap_or("?");
        if outcome.result.as_str() != expected {
            failures.push(format!("{name}: expected {expected}, got {}", outcome.to_json()));
            continue;
        }
        if outcome.result == CheckResult::Fail {
            let Some(example) = &outcome.example else {
                failures.push(format!("{name}: a FAIL without an example: {}", outcome.to_json()));
                continue;
            };
            let under_new = example_allowed(&new, kind, DEFAULT_ACCOUNT, example).expect("valid");
            let under_existing = example_allowed(&existing, kind, DEFAULT_ACCOUNT, example).expect("valid");
            if !under_new || under_existing {
                failures.push(format!("{name}: the example does not show a difference: {example:?}"));
            }
            if outcome.reasons.is_empty() {
                failures.push(format!("{name}: a FAIL names no statement"));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    assert!(cases.len() >= 30, "the corpus lost cases");
}

#[test]
fn access_not_granted() {
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Read","Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"},
        {"Sid":"Write","Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::uploads/*"}]}"#;
    let kind = CheckPolicyType::Identity;
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let pass = check_access_not_granted(policy, kind, &strings(&["s3:DeleteObject", "iam:*"]), &[]).unwrap();
    assert_eq!(pass.result, CheckResult::Pass, "{}", pass.to_json());
    let fail = check_access_not_granted(policy, kind, &strings(&["s3:PutObject"]), &[]).unwrap();
    assert_eq!(fail.result, CheckResult::Fail);
    assert_eq!(fail.reasons.iter().map(|r| r.statement_id.as_deref()).collect::<Vec<_>>(), [Some("Write")]);
    let example = fail.example.expect("an example");
    assert_eq!(example.action, "s3:PutObject");
    assert!(example.resource.starts_with("arn:aws:s3:::uploads/"), "{}", example.resource);
    // Only resources: any action on them.
    let fail = check_access_not_granted(policy, kind, &[], &strings(&["arn:aws:s3:::secret/*"])).unwrap();
    assert_eq!(fail.result, CheckResult::Fail);
    assert_eq!(fail.reasons.iter().map(|r| r.statement_id.as_deref()).collect::<Vec<_>>(), [Some("Read")]);
    let pass =
        check_access_not_granted(policy, kind, &strings(&["s3:PutObject"]), &strings(&["arn:aws:s3:::secret/*"]))
            .unwrap();
    assert_eq!(pass.result, CheckResult::Pass, "{}", pass.to_json());
    assert!(check_access_not_granted(policy, kind, &[], &[]).is_err());
}

#[test]
fn public_access_of_trust_and_resource_policies() {
    let kind = CheckPolicyType::Trust;
    let account = "123456789012";
    let named = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/ci"},"Action":"sts:AssumeRole"}}"#;
    assert_eq!(check_no_public_access(named, kind, account).unwrap().result, CheckResult::Pass);
    let service = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
    assert_eq!(check_no_public_access(service, kind, account).unwrap().result, CheckResult::Pass);
    let anyone = r#"{"Version":"2012-10-17","Statement":{"Sid":"Open","Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}}"#;
    let fail = check_no_public_access(anyone, kind, account).unwrap();
    assert_eq!(fail.result, CheckResult::Fail);
    assert!(fail.example.as_ref().and_then(|e| e.principal.as_deref()).is_some());
    let own_org = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalAccount":"123456789012"}}}}"#;
    assert_eq!(check_no_public_access(own_org, kind, account).unwrap().result, CheckResult::Pass);
    let bucket = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}}"#;
    let fail = check_no_public_access(bucket, CheckPolicyType::Resource, account).unwrap();
    assert_eq!(fail.result, CheckResult::Fail);
    let denied = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"},
        {"Effect":"Deny","Principal":"*","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalAccount":"123456789012"}}}]}"#;
    let pass = check_no_public_access(denied, CheckPolicyType::Resource, account).unwrap();
    assert_eq!(pass.result, CheckResult::Pass, "{}", pass.to_json());
}

// ---- The property ----

const ACTIONS: [&str; 12] = [
    "s3:GetObject",
    "s3:Get*",
    "s3:*",
    "s3:*Object",
    "s3:?etObject",
    "s3:PutObject",
    "iam:*",
    "iam:CreateUser",
    "iam:*User",
    "ec2:*",
    "*",
    "*:Get*",
];
const RESOURCES: [&str; 9] = [
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/x/*",
    "arn:aws:s3:::b/*/logs",
    "arn:aws:s3:::c?/*",
    "arn:aws:s3:::${aws:username}/*",
    "arn:aws:iam::123456789012:user/*",
    "arn:aws:ec2:*:123456789012:instance/*",
    "arn:aws:ec2:us-*:*:instance/i-1",
];
const CONDITIONS: [&str; 7] = [
    r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
    r#"{"Bool":{"aws:SecureTransport":"false"}}"#,
    r#"{"StringEquals":{"aws:PrincipalTag/team":["a","b"]}}"#,
    r#"{"StringEqualsIfExists":{"aws:PrincipalTag/team":"a"}}"#,
    r#"{"NumericLessThan":{"aws:MultiFactorAuthAge":"600"}}"#,
    r#"{"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":"300"}}"#,
    r#"{"Null":{"aws:PrincipalTag/team":"true"}}"#,
];

#[derive(Clone, Debug)]
struct Stmt {
    deny: bool,
    not_action: bool,
    actions: Vec<usize>,
    not_resource: bool,
    resources: Vec<usize>,
    condition: Option<usize>,
}

fn stmt() -> impl Strategy<Value = Stmt> {
    (
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.15),
        prop::collection::vec(0..ACTIONS.len(), 1..3),
        prop::bool::weighted(0.15),
        prop::collection::vec(0..RESOURCES.len(), 1..3),
        prop::option::weighted(0.4, 0..CONDITIONS.len()),
    )
        .prop_map(|(deny, not_action, actions, not_resource, resources, condition)| Stmt {
            deny,
            not_action,
            actions,
            not_resource,
            resources,
            condition,
        })
}

fn render(statements: &[Stmt]) -> String {
    let list: Vec<String> = statements
        .iter()
        .map(|s| {
            let actions: Vec<String> = s.actions.iter().map(|&a| format!("\"{}\"", ACTIONS[a])).collect();
            let resources: Vec<String> = s.resources.iter().map(|&r| format!("\"{}\"", RESOURCES[r])).collect();
            let mut text = format!(
                r#"{{"Effect":"{}","{}":[{}],"{}":[{}]"#,
                if s.deny { "Deny" } else { "Allow" },
                if s.not_action { "NotAction" } else { "Action" },
                actions.join(","),
                if s.not_resource { "NotResource" } else { "Resource" },
                resources.join(",")
            );
            if let Some(c) = s.condition {
                text.push_str(&format!(r#","Condition":{}"#, CONDITIONS[c]));
            }
            text.push('}');
            text
        })
        .collect();
    format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, list.join(","))
}

/// A concrete string of a pattern: each wildcard filled from `fill`.
fn instantiate(pattern: &str, fill: &[&str], seed: usize) -> String {
    let mut out = String::new();
    let mut n = seed;
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("${aws:username}") {
            out.push_str("alice");
            rest = &rest["${aws:username}".len()..];
            continue;
        }
        rest = &rest[c.len_utf8()..];
        match c {
            '*' => {
                out.push_str(fill[n % fill.len()]);
                n = n / fill.len() + 7;
            }
            '?' => {
                out.push(['G', 'x', '1'][n % 3]);
                n += 1;
            }
            c => out.push(c),
        }
    }
    out
}

fn random_example(action: usize, resource: usize, seed: usize, context: usize) -> Example {
    let action = instantiate(ACTIONS[action], &["GetObject", "", "x", "Object", "User", "s3"], seed);
    let resource = instantiate(RESOURCES[resource], &["", "x", "b/x", "logs", "alice", "us-east-1", ":"], seed);
    let mut values = std::collections::BTreeMap::new();
    let single = |v: &str| ContextValue::Single(v.to_owned());
    if context & 1 != 0 {
        values.insert("aws:SecureTransport".to_owned(), single(if context & 2 != 0 { "true" } else { "false" }));
    }
    match (context >> 2) % 4 {
        0 => {}
        1 => {
            values.insert("aws:PrincipalTag/team".to_owned(), single("a"));
        }
        2 => {
            values.insert("aws:PrincipalTag/team".to_owned(), single("b"));
        }
        _ => {
            values.insert("aws:PrincipalTag/team".to_owned(), single("z"));
        }
    }
    match (context >> 4) % 4 {
        0 => {}
        1 => {
            values.insert("aws:MultiFactorAuthAge".to_owned(), single("100"));
        }
        2 => {
            values.insert("aws:MultiFactorAuthAge".to_owned(), single("400"));
        }
        _ => {
            values.insert("aws:MultiFactorAuthAge".to_owned(), single("900"));
        }
    }
    values.insert("aws:username".to_owned(), single("alice"));
    Example { action, resource, principal: None, principal_kind: None, context: values }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn fail_examples_differ_and_passes_hold(
        new in prop::collection::vec(stmt(), 1..4),
        existing in prop::collection::vec(stmt(), 1..4),
        probes in prop::collection::vec((0..ACTIONS.len(), 0..RESOURCES.len(), 0usize..1000, 0usize..64), 40),
    ) {
        let kind = CheckPolicyType::Identity;
        let (new, existing) = (render(&new), render(&existing));
        let outcome = check_no_new_access(&new, &existing, kind).expect("valid policies");
        let allowed = |policy: &str, example: &Example| example_allowed(policy, kind, DEFAULT_ACCOUNT, example).expect("valid");
        match outcome.result {
            CheckResult::Fail => {
                if let Some(example) = &outcome.example {
                    prop_assert!(allowed(&new, example), "not allowed under new: {example:?}\n{new}\n{existing}");
                    prop_assert!(!allowed(&existing, example), "allowed under existing: {example:?}\n{new}\n{existing}");
                } else {
                    prop_assert!(!outcome.notes.is_empty(), "a FAIL with neither example nor note");
                }
            }
            CheckResult::Pass => {
                for (action, resource, seed, context) in probes {
                    let example = random_example(action, resource, seed, context);
                    prop_assert!(
                        !allowed(&new, &example) || allowed(&existing, &example),
                        "PASS, but {example:?} is allowed only under new\n{new}\n{existing}"
                    );
                }
            }
        }
    }
}
