//! Time of the least-privilege analyses on the largest AWS-managed policies: validation findings
//! and the three custom checks on `AdministratorAccess`, `PowerUserAccess`, the compact
//! `ReadOnlyAccess` Tessera seeds, and a generated document the size of AWS's real
//! `ReadOnlyAccess` (about 1,700 action patterns over 425 services).
//!
//! The three documents are copied from `services/policy/src/aws_managed.rs` (this pure crate
//! cannot depend on the service). Run: `cargo bench -p tessera-policy --bench analysis`.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use tessera_policy::PolicyKind;
use tessera_policy::analysis::catalog::SERVICE_PREFIXES;
use tessera_policy::analysis::checks::{
    CheckPolicyType, check_access_not_granted, check_no_new_access, check_no_public_access,
};
use tessera_policy::analysis::findings::{ValidateOptions, validate_policy};

const ADMINISTRATOR: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const POWER_USER: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},
  {"Effect":"Allow","Action":["account:GetAccountInformation","account:GetGovCloudAccountInformation","account:GetPrimaryEmail","account:ListRegions","iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeEffectivePolicy","organizations:DescribeOrganization"],"Resource":"*"}]}"#;
const READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"ReadOnlyVerbsOfEveryService","Effect":"Allow","Action":["*:BatchGet*","*:Describe*","*:Get*","*:List*","*:Lookup*","*:Query*","*:Scan*","*:Search*","*:Select*","*:View*"],"Resource":"*"}]}"#;

/// A document shaped like AWS's `ReadOnlyAccess`: per service `Describe*`, `Get*`, `List*` and
/// one more verb, in one statement.
fn read_only_sized() -> String {
    let verbs = ["Describe*", "Get*", "List*", "BatchGet*"];
    let actions: Vec<String> = SERVICE_PREFIXES
        .iter()
        .flat_map(|service| verbs.iter().map(move |verb| format!("\"{service}:{verb}\"")))
        .collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"ReadOnly","Effect":"Allow","Action":[{}],"Resource":"*"}}]}}"#,
        actions.join(",")
    )
}

fn main() {
    let sized = read_only_sized();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let documents = [
        ("AdministratorAccess", ADMINISTRATOR),
        ("PowerUserAccess", POWER_USER),
        ("ReadOnlyAccess (seeded)", READ_ONLY),
        ("ReadOnlyAccess-sized", sized.as_str()),
    ];
    let identity = CheckPolicyType::Identity;
    for (name, document) in documents {
        let options = ValidateOptions::new(PolicyKind::Identity);
        c.bench_function(&format!("validate/{name}"), |b| b.iter(|| validate_policy(black_box(document), &options)));
        for (other, other_document) in [("AdministratorAccess", ADMINISTRATOR), ("PowerUserAccess", POWER_USER)] {
            if other == name {
                continue;
            }
            c.bench_function(&format!("no-new-access/{name} vs {other}"), |b| {
                b.iter(|| check_no_new_access(black_box(document), other_document, identity).expect("valid"))
            });
            if name == "AdministratorAccess" || name == "PowerUserAccess" {
                continue;
            }
            c.bench_function(&format!("no-new-access/{other} vs {name}"), |b| {
                b.iter(|| check_no_new_access(other_document, black_box(document), identity).expect("valid"))
            });
        }
        c.bench_function(&format!("no-new-access/{name} vs itself"), |b| {
            b.iter(|| check_no_new_access(black_box(document), document, identity).expect("valid"))
        });
        let actions = vec!["iam:CreateUser".to_owned(), "s3:PutObject".to_owned()];
        c.bench_function(&format!("access-not-granted/{name}"), |b| {
            b.iter(|| check_access_not_granted(black_box(document), identity, &actions, &[]).expect("valid"))
        });
    }
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","arn:aws:iam::444455556666:role/ci"],"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"sts:ExternalId":"x"}}}]}"#;
    c.bench_function("no-public-access/trust policy", |b| {
        b.iter(|| check_no_public_access(black_box(trust), CheckPolicyType::Trust, "123456789012").expect("valid"))
    });
    c.final_summary();
}
