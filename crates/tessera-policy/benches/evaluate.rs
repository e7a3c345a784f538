//! Decision latency and parse+compile cost of the policy engine.
//!
//! Criterion measures the mean and median; because the issue asks for p50 and p99 of single
//! decisions, `percentiles` then times calls one by one and prints those (timer overhead is
//! measured and printed beside them, not subtracted).
//!
//! Run: `cargo bench -p tessera-policy --bench evaluate [-- <filter>]`, for example `-- "same action"`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use tessera_policy::{CompiledPolicy, Context, Policies, PolicyKind, PolicySet, Principal, Request, Trace, authorize};

const SERVICES: [&str; 10] = ["s3", "ec2", "dynamodb", "ssm", "sqs", "sns", "lambda", "kms", "logs", "cloudwatch"];

/// A typical principal: 10 policies, 50 statements over 10 services, some with conditions and
/// variables; the request is allowed by one statement and checked against a conditional deny.
fn typical() -> PolicySet {
    let mut policies = Vec::new();
    for (p, service) in SERVICES.iter().enumerate() {
        let mut statements = Vec::new();
        for s in 0..5 {
            let statement = match s {
                0 => format!(
                    r#"{{"Sid":"Read{p}","Effect":"Allow","Action":["{service}:Get*","{service}:List*","{service}:Describe*"],"Resource":"arn:aws:{service}:::data-{p}/home/${{aws:username}}/*"}}"#
                ),
                1 => format!(
                    r#"{{"Sid":"Write{p}","Effect":"Allow","Action":["{service}:Put{p}","{service}:Update{p}"],"Resource":"arn:aws:{service}:us-east-1:123456789012:thing/{p}/*","Condition":{{"StringEquals":{{"aws:PrincipalTag/team":"platform"}},"Bool":{{"aws:SecureTransport":"true"}}}}}}"#
                ),
                2 => format!(
                    r#"{{"Sid":"Net{p}","Effect":"Deny","Action":"{service}:*","Resource":"*","Condition":{{"NotIpAddress":{{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}}}}"#
                ),
                3 => format!(
                    r#"{{"Sid":"Admin{p}","Effect":"Allow","Action":"{service}:Delete{p}","Resource":"*","Condition":{{"DateLessThan":{{"aws:CurrentTime":"2030-01-01T00:00:00Z"}},"NumericLessThan":{{"aws:MultiFactorAuthAge":"3600"}}}}}}"#
                ),
                _ => format!(
                    r#"{{"Sid":"Tag{p}","Effect":"Allow","Action":"{service}:Tag{p}","Resource":"*","Condition":{{"ForAllValues:StringEquals":{{"aws:TagKeys":["team","env"]}}}}}}"#
                ),
            };
            statements.push(statement);
        }
        let text = format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","));
        policies.push(CompiledPolicy::parse(format!("policy-{p}"), &text, PolicyKind::Identity).expect("valid"));
    }
    PolicySet::new(policies)
}

/// `statements` statements over many services with literal actions, of which three can match
/// `s3:GetObject`.
fn large(statements: usize) -> PolicySet {
    let per_policy = 50;
    let mut policies = Vec::new();
    for p in 0..statements / per_policy {
        let body: Vec<String> = (0..per_policy)
            .map(|s| {
                let n = p * per_policy + s;
                format!(
                    r#"{{"Effect":"Allow","Action":["svc{}:Action{n}","svc{}:Other{n}"],"Resource":"arn:aws:svc:::res/{n}/*"}}"#,
                    n % 500,
                    n % 500
                )
            })
            .collect();
        let text = format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, body.join(","));
        policies.push(CompiledPolicy::parse(format!("policy-{p}"), &text, PolicyKind::Identity).expect("valid"));
    }
    let matching = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*"},
        {"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::other/*"},
        {"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/secret/*"}]}"#;
    policies.push(CompiledPolicy::parse("matching", matching, PolicyKind::Identity).expect("valid"));
    PolicySet::new(policies)
}

/// `statements` statements that all allow `s3:GetObject`, each on its own bucket (per-team
/// buckets), 50 to a policy: the action index cannot narrow them, only the resource index can.
fn same_action(statements: usize) -> PolicySet {
    let per_policy = 50;
    let policies = (0..statements.div_ceil(per_policy))
        .map(|p| {
            let body: Vec<String> = (p * per_policy..statements.min((p + 1) * per_policy))
                .map(|n| {
                    format!(r#"{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-{n}/*"}}"#)
                })
                .collect();
            let text = format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, body.join(","));
            CompiledPolicy::parse(format!("policy-{p}"), &text, PolicyKind::Identity).expect("valid")
        })
        .collect();
    PolicySet::new(policies)
}

fn context() -> Context {
    let mut context = Context::new();
    context.insert("aws:username", "alice");
    context.insert("aws:userid", "AIDAEXAMPLEEXAMPLE01");
    context.insert("aws:PrincipalTag/team", "platform");
    context.insert("aws:SourceIp", "10.1.2.3");
    context.insert("aws:SecureTransport", "true");
    context.insert("aws:CurrentTime", "2026-11-23T10:00:00Z");
    context.insert("aws:EpochTime", "1795428000");
    context.insert("aws:PrincipalArn", "arn:aws:iam::123456789012:user/alice");
    context
}

/// A 6 KB managed policy (white space excluded) for the parse+compile measurement.
fn managed_policy_text() -> String {
    let mut statements = Vec::new();
    let mut i = 0;
    loop {
        let statement = format!(
            r#"{{"Sid":"S{i}","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:List*"],"Resource":["arn:aws:s3:::bucket-{i}/home/${{aws:username}}/*","arn:aws:s3:::bucket-{i}"],"Condition":{{"StringLike":{{"s3:prefix":["home/${{aws:username}}/*"]}},"IpAddress":{{"aws:SourceIp":"203.0.113.0/24"}}}}}}"#
        );
        statements.push(statement);
        let text = format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","));
        if text.len() > 6_000 {
            statements.pop();
            return format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","));
        }
        i += 1;
    }
}

struct Case {
    name: &'static str,
    set: PolicySet,
    action: &'static str,
    resource: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "typical (10 policies, 50 statements)",
            set: typical(),
            action: "s3:GetObject",
            resource: "arn:aws:s3:::data-0/home/alice/report.pdf",
        },
        Case { name: "1,000 statements", set: large(1_000), action: "s3:GetObject", resource: "arn:aws:s3:::data/x" },
        Case { name: "10,000 statements", set: large(10_000), action: "s3:GetObject", resource: "arn:aws:s3:::data/x" },
        Case {
            name: "same action, 10 resources",
            set: same_action(10),
            action: "s3:GetObject",
            resource: "arn:aws:s3:::bucket-5/report.pdf",
        },
        Case {
            name: "same action, 1,000 resources",
            set: same_action(1_000),
            action: "s3:GetObject",
            resource: "arn:aws:s3:::bucket-500/report.pdf",
        },
        Case {
            name: "same action, 10,000 resources",
            set: same_action(10_000),
            action: "s3:GetObject",
            resource: "arn:aws:s3:::bucket-5000/report.pdf",
        },
    ]
}

fn decide(principal: &Principal, case: &Case, context: &Context) -> bool {
    let request = Request::new(principal, black_box(case.action), black_box(case.resource), context);
    authorize(&request, &Policies { identity: Some(&case.set), ..Policies::default() }, Trace::Off).is_allowed()
}

fn criterion_benches(c: &mut Criterion, cases: &[Case]) {
    let principal = Principal::from_arn("arn:aws:iam::123456789012:user/alice").expect("valid arn");
    let context = context();
    let mut group = c.benchmark_group("decision");
    for case in cases {
        assert!(decide(&principal, case, &context), "{} must be allowed", case.name);
        group.bench_function(case.name, |b| b.iter(|| decide(&principal, case, &context)));
    }
    group.finish();
    let text = managed_policy_text();
    c.bench_function("parse+compile 6 KB managed policy", |b| {
        b.iter(|| CompiledPolicy::parse("managed", black_box(&text), PolicyKind::Managed).expect("valid"))
    });
}

/// Times single calls and prints p50 and p99. `filter` (criterion's positional argument, matched
/// here as a substring) selects the cases; a case stops after 200,000 calls or two seconds, so a
/// slow one cannot hold the run for minutes.
fn percentiles(cases: &[Case], filter: Option<&str>) {
    let principal = Principal::from_arn("arn:aws:iam::123456789012:user/alice").expect("valid arn");
    let context = context();
    let samples = 200_000;
    let overhead = {
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let start = Instant::now();
            times.push(black_box(start.elapsed()));
        }
        quantiles(&mut times)
    };
    println!(
        "\nper-call latency (up to {samples} calls each; timer overhead p50 {:?}, p99 {:?})",
        overhead.0, overhead.1
    );
    let selected = |name: &str| filter.is_none_or(|filter| name.contains(filter));
    for case in cases.iter().filter(|case| selected(&format!("decision/{}", case.name))) {
        let mut times = Vec::with_capacity(samples);
        let began = Instant::now();
        while times.len() < samples && began.elapsed() < Duration::from_secs(2) {
            let start = Instant::now();
            black_box(decide(&principal, case, &context));
            times.push(start.elapsed());
        }
        let (p50, p99) = quantiles(&mut times);
        println!("  decision, {:<40} p50 {:>9?}  p99 {:>9?}  ({} calls)", case.name, p50, p99, times.len());
    }
    if !selected("parse+compile 6 KB managed policy") {
        return;
    }
    let text = managed_policy_text();
    let mut times = Vec::with_capacity(2_000);
    for _ in 0..2_000 {
        let start = Instant::now();
        black_box(CompiledPolicy::parse("managed", &text, PolicyKind::Managed).expect("valid"));
        times.push(start.elapsed());
    }
    let (p50, p99) = quantiles(&mut times);
    println!("  parse+compile, {} byte managed policy        p50 {:>9?}  p99 {:>9?}", text.len(), p50, p99);
}

fn quantiles(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort_unstable();
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

fn main() {
    let cases = cases();
    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion, &cases);
    criterion.final_summary();
    // `cargo test --benches` runs this binary in test mode; the percentile loop is for real runs.
    if std::env::args().any(|arg| arg == "--bench") {
        let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
        percentiles(&cases, filter.as_deref());
    }
}
