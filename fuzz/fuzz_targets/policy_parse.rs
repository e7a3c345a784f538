//! Fuzzes the policy grammar: the input is parsed as every policy kind, and whatever is accepted
//! must print and re-parse to the same model, compile, and decide fixed requests the same way
//! whether the decision is traced or not.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_policy::{
    CompiledPolicy, Context, Policies, PolicyKind, PolicySet, Principal, Request, Trace, authorize, check_size,
    parse_policy,
};

/// Callers, actions and resources chosen to meet the common shapes of policies: a user and a
/// role session, S3, IAM and an AssumeRole on a role (what trust policies govern).
const REQUESTS: [(&str, &str, &str); 4] = [
    ("arn:aws:iam::123456789012:user/alice", "s3:GetObject", "arn:aws:s3:::docs/home/alice/readme"),
    ("arn:aws:sts::123456789012:assumed-role/admin/session", "iam:CreateUser", "arn:aws:iam::123456789012:user/bob"),
    ("arn:aws:iam::123456789012:user/alice", "sts:AssumeRole", "arn:aws:iam::123456789012:role/admin"),
    ("arn:aws:iam::123456789012:root", "ec2:RunInstances", "*"),
];

/// The fixed parts of every decision: an identity layer that allows everything (so that
/// boundaries, session policies and SCPs decide), and a context with keys of every type.
struct Fixture {
    allow_all: PolicySet,
    principals: Vec<Principal>,
    context: Context,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let allow_all = CompiledPolicy::parse(
            "allow-all",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            PolicyKind::Identity,
        )
        .expect("the allow-all policy is valid");
        let mut context = Context::new();
        context.insert("aws:username", "alice");
        context.insert("aws:SourceIp", "203.0.113.9");
        context.insert("aws:CurrentTime", "2024-06-01T12:00:00Z");
        context.insert("aws:MultiFactorAuthPresent", "true");
        context.insert("s3:max-keys", "10");
        context.insert("aws:PrincipalArn", "arn:aws:iam::123456789012:user/alice");
        context.insert_list("aws:TagKeys", ["team", "cost-center"]);
        Fixture {
            allow_all: PolicySet::new(vec![allow_all]),
            principals: REQUESTS
                .iter()
                .map(|(caller, _, _)| Principal::from_arn(caller).expect("fixed callers are valid"))
                .collect(),
            context,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    // Bytes that are not UTF-8 still reach the parser, with U+FFFD in place of the bad ones, so
    // that libFuzzer's byte-level mutations are not wasted.
    let text = String::from_utf8_lossy(data);
    let fixture = fixture();
    for kind in PolicyKind::ALL {
        let _ = check_size(&text, kind);
        let policy = match parse_policy(&text, kind) {
            Ok(policy) => policy,
            Err(error) => {
                assert!(!error.findings.is_empty(), "rejected without a finding");
                let _ = error.to_string();
                continue;
            }
        };
        let printed = policy.to_string();
        assert_eq!(parse_policy(&printed, kind).as_ref(), Ok(&policy), "{kind:?} re-printed as {printed}");

        let set = PolicySet::new(vec![CompiledPolicy::compile("fuzzed", &policy)]);
        let levels = std::slice::from_ref(&set);
        let others = Some(&fixture.allow_all);
        let policies = match kind {
            PolicyKind::Identity | PolicyKind::Managed => Policies { identity: Some(&set), ..Policies::default() },
            PolicyKind::Boundary => Policies { identity: others, boundary: Some(&set), ..Policies::default() },
            PolicyKind::Session => Policies { identity: others, session: Some(&set), ..Policies::default() },
            PolicyKind::Resource => Policies { resource: Some(&set), ..Policies::default() },
            PolicyKind::Trust => {
                Policies { resource: Some(&set), resource_policy_required: true, ..Policies::default() }
            }
            PolicyKind::ServiceControl => Policies { identity: others, service_control: levels, ..Policies::default() },
            PolicyKind::ResourceControl => {
                Policies { identity: others, resource_control: levels, ..Policies::default() }
            }
        };
        for (principal, (_, action, resource)) in fixture.principals.iter().zip(REQUESTS) {
            let request = Request::new(principal, action, resource, &fixture.context);
            let traced = authorize(&request, &policies, Trace::On);
            let fast = authorize(&request, &policies, Trace::Off);
            assert_eq!(traced.outcome, fast.outcome, "{kind:?} {action} on {resource}: {printed}");
            let _ = traced.explain(action, resource);
        }
    }
});
