//! The AWS-managed policies Tessera ships, at `arn:aws:iam::aws:policy/<Name>` in the `aws`
//! namespace, and [`seed_aws_managed`], which writes them idempotently at startup.
//!
//! Four documents are AWS's current ones as published in the AWS managed policy reference
//! (AdministratorAccess v1, PowerUserAccess v12, IAMFullAccess v2, IAMReadOnlyAccess v4), with
//! AWS's default version ids. `ReadOnlyAccess` is deliberately abbreviated: AWS's document lists
//! thousands of actions service by service; Tessera's grants the read verbs of every service with
//! service-wide wildcards (`*:Get*`, `*:List*`, …), which is broader in places (it includes
//! `secretsmanager:GetSecretValue`, which AWS's leaves out) and is its own `v1`.
//!
//! Policy ids are deterministic (derived from the name), so every replica and every re-seed gives a
//! policy the same `ANPA…` id.

use std::time::SystemTime;

use tessera_arn::{Arn, IdPrefix, SeededRandom, unique_id};
use tessera_identity::entity::{AWS_ACCOUNT, aws_namespace};
use tessera_identity::{Result, millis};
use tessera_store::iam::{self, POLICY, PolicyRecord, PolicyVersionRecord};
use tessera_store::{Store, update};

/// One AWS-managed policy as shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsManagedPolicy {
    pub name: &'static str,
    pub description: &'static str,
    /// The default version id (AWS's, where the document is AWS's).
    pub version: &'static str,
    pub document: &'static str,
}

impl AwsManagedPolicy {
    pub fn arn(&self) -> String {
        Arn::policy(AWS_ACCOUNT, "/", self.name).to_string()
    }

    /// The policy's `ANPA…` id: a fixed function of its name.
    pub fn id(&self) -> String {
        unique_id(IdPrefix::Policy, &mut SeededRandom::new(fnv1a(self.name.as_bytes())))
    }

    /// Whether `record` already holds this policy as shipped (dates aside).
    fn is_stored_as(&self, record: &PolicyRecord) -> bool {
        let shipped = self.record(record.create_date, record.update_date);
        record.id == shipped.id
            && record.arn == shipped.arn
            && record.path == shipped.path
            && record.description == shipped.description
            && record.default_version == shipped.default_version
            && record.versions.len() == 1
            && record.default_document() == Some(self.document)
    }

    fn record(&self, create_date: u64, update_date: u64) -> PolicyRecord {
        let next = self.version.trim_start_matches('v').parse::<u32>().unwrap_or(1) + 1;
        PolicyRecord {
            name: self.name.to_owned(),
            path: "/".to_owned(),
            id: self.id(),
            arn: self.arn(),
            description: Some(self.description.to_owned()),
            create_date,
            update_date,
            default_version: self.version.to_owned(),
            versions: vec![PolicyVersionRecord {
                id: self.version.to_owned(),
                document: self.document.to_owned(),
                create_date: update_date,
            }],
            next_version: next,
            tags: Vec::new(),
        }
    }
}

/// FNV-1a, 64 bits: a stable hash that needs no dependency.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The AWS-managed policies Tessera ships.
pub const AWS_MANAGED: &[AwsManagedPolicy] = &[
    AwsManagedPolicy {
        name: "AdministratorAccess",
        description: "Provides full access to AWS services and resources.",
        version: "v1",
        document: r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "*",
      "Resource": "*"
    }
  ]
}"#,
    },
    AwsManagedPolicy {
        name: "PowerUserAccess",
        description: "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
        version: "v12",
        document: r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "NotAction": [
        "iam:*",
        "organizations:*",
        "account:*"
      ],
      "Resource": "*"
    },
    {
      "Effect": "Allow",
      "Action": [
        "account:GetAccountInformation",
        "account:GetGovCloudAccountInformation",
        "account:GetPrimaryEmail",
        "account:ListRegions",
        "iam:CreateServiceLinkedRole",
        "iam:DeleteServiceLinkedRole",
        "iam:ListRoles",
        "organizations:DescribeEffectivePolicy",
        "organizations:DescribeOrganization"
      ],
      "Resource": "*"
    }
  ]
}"#,
    },
    AwsManagedPolicy {
        name: "ReadOnlyAccess",
        description: "Provides read-only access to AWS services and resources.",
        version: "v1",
        document: r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "ReadOnlyVerbsOfEveryService",
      "Effect": "Allow",
      "Action": [
        "*:BatchGet*",
        "*:Describe*",
        "*:Get*",
        "*:List*",
        "*:Lookup*",
        "*:Query*",
        "*:Scan*",
        "*:Search*",
        "*:Select*",
        "*:View*"
      ],
      "Resource": "*"
    }
  ]
}"#,
    },
    AwsManagedPolicy {
        name: "IAMFullAccess",
        description: "Provides full access to IAM via the AWS Management Console.",
        version: "v2",
        document: r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "iam:*",
        "organizations:DescribeAccount",
        "organizations:DescribeOrganization",
        "organizations:DescribeOrganizationalUnit",
        "organizations:DescribePolicy",
        "organizations:ListChildren",
        "organizations:ListParents",
        "organizations:ListPoliciesForTarget",
        "organizations:ListRoots",
        "organizations:ListPolicies",
        "organizations:ListTargetsForPolicy"
      ],
      "Resource": "*"
    }
  ]
}"#,
    },
    AwsManagedPolicy {
        name: "IAMReadOnlyAccess",
        description: "Provides read only access to IAM via the AWS Management Console.",
        version: "v4",
        document: r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "iam:GenerateCredentialReport",
        "iam:GenerateServiceLastAccessedDetails",
        "iam:Get*",
        "iam:List*",
        "iam:SimulateCustomPolicy",
        "iam:SimulatePrincipalPolicy"
      ],
      "Resource": "*"
    }
  ]
}"#,
    },
];

/// Writes the shipped AWS-managed policies into the `aws` namespace. Idempotent: a policy already
/// stored as shipped is left alone, one whose document, version or description changed (a newer
/// Tessera) is overwritten, keeping its create date. Returns how many were written.
///
/// No account's policy epoch is bumped: seeding runs at startup, before requests are served, and a
/// changed AWS policy would otherwise mean bumping every account.
pub async fn seed_aws_managed<S: Store + ?Sized>(store: &S, now: SystemTime) -> Result<usize> {
    let now = millis(now);
    let ns = &aws_namespace();
    let mut written = 0;
    for policy in AWS_MANAGED {
        let changed = update(store, |tx| async move {
            let key = iam::named(ns, POLICY, policy.name);
            let existing = tx.read::<PolicyRecord>(&key).await?;
            let create_date = existing.as_ref().map_or(now, |r| r.create_date);
            if existing.as_ref().is_some_and(|r| policy.is_stored_as(r)) {
                return Ok(false);
            }
            tx.write(key, &policy.record(create_date, now));
            Ok::<_, tessera_identity::Error>(true)
        })
        .await?;
        written += usize::from(changed);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_policy::{PolicyKind, check_size, parse_policy};
    use tessera_store::MemoryStore;

    #[test]
    fn every_shipped_document_is_a_valid_managed_policy() {
        for policy in AWS_MANAGED {
            check_size(policy.document, PolicyKind::Managed).unwrap_or_else(|e| panic!("{}: {e}", policy.name));
            parse_policy(policy.document, PolicyKind::Managed).unwrap_or_else(|e| panic!("{}: {e}", policy.name));
            assert!(policy.id().starts_with("ANPA") && policy.id().len() == 21, "{}", policy.id());
            assert_eq!(policy.arn(), format!("arn:aws:iam::aws:policy/{}", policy.name));
        }
        let mut ids: Vec<String> = AWS_MANAGED.iter().map(AwsManagedPolicy::id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), AWS_MANAGED.len(), "ids collide");
    }

    #[tokio::test]
    async fn seeding_is_idempotent_and_overwrites_a_changed_document() {
        let store = MemoryStore::new();
        let t0 = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let t1 = t0 + std::time::Duration::from_secs(60);
        assert_eq!(seed_aws_managed(&store, t0).await.unwrap(), AWS_MANAGED.len());
        assert_eq!(seed_aws_managed(&store, t1).await.unwrap(), 0);
        let key = iam::named(&aws_namespace(), POLICY, "AdministratorAccess");
        let mut stale: PolicyRecord = iam::load(&store, &key).await.unwrap().unwrap();
        assert_eq!(stale.update_date, millis(t0));
        stale.versions[0].document = r#"{"Version":"2012-10-17","Statement":[]}"#.to_owned();
        iam::put_blind(&store, key.clone(), &stale).await.unwrap();
        assert_eq!(seed_aws_managed(&store, t1).await.unwrap(), 1);
        let fixed: PolicyRecord = iam::load(&store, &key).await.unwrap().unwrap();
        assert_eq!(fixed.default_document(), Some(AWS_MANAGED[0].document));
        assert_eq!((fixed.create_date, fixed.update_date), (millis(t0), millis(t1)));
        assert_eq!(fixed.next_version, 2);
    }
}
