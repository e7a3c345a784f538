//! Managed policies and their versions: create, read, list and delete customer managed policies
//! (names unique case-insensitively per account, whatever the path), and up to five versions each,
//! numbered `v1`, `v2`, … and never renumbered. AWS-managed policies can be read and listed here
//! but not changed.

use tessera_arn::{
    Arn, IdPrefix, ValidationError, Violation, unique_id, validate_description, validate_policy_name,
    validate_policy_path,
};
use tessera_identity::entity::{self, PolicyRef, aws_namespace};
use tessera_identity::page::paginate;
use tessera_identity::{Account, Error, Page, PageRequest, Result, tags};
use tessera_policy::{PolicyKind, check_size, parse_policy};
use tessera_proto::error::ErrorCode;
use tessera_store::iam::{self, Millis, POLICY, POLICY_USE, PolicyRecord, PolicyUseRecord, PolicyVersionRecord, Tag};
use tessera_store::{Key, Store, Tx, update};

use crate::{Policies, path_prefix};

/// Versions per managed policy.
pub const MAX_VERSIONS: usize = 5;

/// `CreatePolicy`'s input.
#[derive(Debug, Clone, Default)]
pub struct CreatePolicy {
    pub policy_name: String,
    /// `None` (or empty) means `/`.
    pub path: Option<String>,
    pub policy_document: String,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
}

/// AWS's `Policy`: the record plus the counts derived from the account's use record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub record: PolicyRecord,
    pub aws_managed: bool,
    pub attachment_count: usize,
    pub permissions_boundary_usage_count: usize,
}

/// AWS's `PolicyVersion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub version_id: String,
    pub document: String,
    pub is_default_version: bool,
    pub create_date: Millis,
}

impl PolicyVersion {
    fn of(record: &PolicyRecord, version: &PolicyVersionRecord) -> Self {
        Self {
            version_id: version.id.clone(),
            document: version.document.clone(),
            is_default_version: version.id == record.default_version,
            create_date: version.create_date,
        }
    }
}

/// `ListPolicies`' `Scope`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PolicyScope {
    #[default]
    All,
    Aws,
    Local,
}

/// AWS's `PolicyUsageType`: how a managed policy is used by an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyUsage {
    PermissionsPolicy,
    PermissionsBoundary,
}

/// `ListPolicies`' filters.
#[derive(Debug, Clone, Default)]
pub struct ListPolicies {
    pub scope: PolicyScope,
    pub only_attached: bool,
    pub path_prefix: Option<String>,
    pub policy_usage_filter: Option<PolicyUsage>,
}

impl ListPolicies {
    /// Whether a policy with these use counts is listed.
    ///
    /// AWS documents the filters loosely; Tessera reads them as: `PermissionsBoundary` keeps the
    /// policies that bound at least one entity (with or without `OnlyAttached`); `OnlyAttached`
    /// keeps the policies in use (attached, or bounding when no usage filter is given); and
    /// `PermissionsPolicy` alone keeps everything, since any managed policy can be attached.
    fn keeps(&self, attached: usize, bounding: usize) -> bool {
        match (self.policy_usage_filter, self.only_attached) {
            (Some(PolicyUsage::PermissionsBoundary), _) => bounding > 0,
            (Some(PolicyUsage::PermissionsPolicy), true) => attached > 0,
            (None, true) => attached > 0 || bounding > 0,
            (_, false) => true,
        }
    }
}

/// `NoSuchEntity: Policy <arn> was not found.`, AWS's wording for a managed policy named by ARN.
pub(crate) fn policy_not_found(arn: &str) -> Error {
    Error::no_such_entity(format!("Policy {arn} was not found."))
}

fn version_not_found(arn: &str, version: &str) -> Error {
    Error::no_such_entity(format!("Policy {arn} version {version} does not exist or is not attachable."))
}

/// Parses a managed policy ARN; a policy of another account is one this account cannot see.
pub(crate) fn policy_ref(account: &Account, arn: &str) -> Result<PolicyRef> {
    entity::parse_policy_arn(account, arn)
        .map_err(|error| if error.code() == ErrorCode::NoSuchEntity { policy_not_found(arn) } else { error })
}

/// Parses the ARN of a policy the request wants to change: the account's own.
///
/// AWS-managed policies belong to AWS. Real IAM refuses changes to them with `AccessDenied` from
/// its authorization layer (nobody is granted `iam:*` on AWS's account); Tessera's domain does not
/// authorize, so it answers with the catalog's code for "this entity cannot be modified",
/// `UnmodifiableEntity` (400), the code AWS uses for other entities it owns (service-linked roles,
/// reference §5.1).
fn own_policy_ref(account: &Account, arn: &str) -> Result<PolicyRef> {
    let policy = policy_ref(account, arn)?;
    if policy.aws_managed {
        return Err(Error::new(
            ErrorCode::UnmodifiableEntity,
            format!("Policy {arn} is an AWS managed policy and cannot be modified."),
        ));
    }
    Ok(policy)
}

/// Reads the account's own policy in `tx`, checking the ARN's path as well as its name.
async fn read_own<S: Store + ?Sized>(
    tx: &Tx<'_, S>,
    account: &Account,
    policy: &PolicyRef,
    arn: &str,
) -> Result<PolicyRecord> {
    match tx.read::<PolicyRecord>(&policy.key(account)).await? {
        Some(record) if record.path == policy.path => Ok(record),
        _ => Err(policy_not_found(arn)),
    }
}

/// Checks a `VersionId` against the model: `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`.
fn validate_version_id(id: &str) -> Result<()> {
    const PATTERN: &str = r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?";
    let (number, suffix) = match id.strip_prefix('v') {
        Some(rest) => rest.split_once('.').map_or((rest, None), |(n, s)| (n, Some(s))),
        None => ("", None),
    };
    let ok = number.starts_with(|c: char| ('1'..='9').contains(&c))
        && number.chars().all(|c| c.is_ascii_digit())
        && suffix.is_none_or(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if ok {
        Ok(())
    } else {
        Err(ValidationError { field: "versionId", value: id.to_owned(), violations: vec![Violation::Pattern(PATTERN)] }
            .into())
    }
}

/// The number of a version id this service minted (`v7` → 7).
fn version_number(id: &str) -> u32 {
    id.strip_prefix('v').and_then(|n| n.split('.').next()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Validates a managed policy document as AWS does on write: size first, then the grammar.
pub(crate) fn check_managed_document(document: &str) -> Result<()> {
    check_size(document, PolicyKind::Managed)?;
    parse_policy(document, PolicyKind::Managed)?;
    Ok(())
}

/// Customer managed policies per account (AWS's default quota, `PoliciesQuota` in
/// `GetAccountSummary`).
pub(crate) const MAX_POLICIES: usize = 1500;

impl<S: Store> Policies<S> {
    /// `CreatePolicy`: the policy with its first version `v1` as the default.
    pub async fn create_policy(&self, account: &Account, input: CreatePolicy) -> Result<ManagedPolicy> {
        validate_policy_name(&input.policy_name)?;
        let path = input.path.filter(|p| !p.is_empty()).unwrap_or_else(|| "/".to_owned());
        validate_policy_path(&path)?;
        let description = input.description.filter(|d| !d.is_empty());
        if let Some(description) = &description {
            validate_description(description)?;
        }
        let tags = tags::new_tags(input.tags, "TagsPerPolicy")?;
        check_managed_document(&input.policy_document)?;
        let now = self.env.now_millis();
        let name = input.policy_name;
        let record = PolicyRecord {
            arn: Arn::policy(account.id(), &path, &name).to_string(),
            id: self.env.random.with(|r| unique_id(IdPrefix::Policy, &mut &mut *r)),
            name,
            path,
            description,
            create_date: now,
            update_date: now,
            default_version: "v1".to_owned(),
            versions: vec![PolicyVersionRecord {
                id: "v1".to_owned(),
                document: input.policy_document,
                create_date: now,
            }],
            next_version: 2,
            tags,
        };
        let record = &record;
        update(&*self.store, |tx| async move {
            // INVARIANT: the key holds the folded name only, so names are unique whatever the path.
            let key = iam::named(account.ns(), POLICY, &record.name);
            if tx.read::<PolicyRecord>(&key).await?.is_some() {
                return Err(Error::already_exists(format!(
                    "A policy called {} already exists. Duplicate names are not allowed.",
                    record.name
                )));
            }
            if !iam::under_account_quota(&tx, account.ns(), iam::POLICY, MAX_POLICIES).await? {
                return Err(Error::quota("PoliciesPerAccount", MAX_POLICIES));
            }
            tx.write(key, record);
            // A session policy may name this ARN (a policy of that name deleted earlier).
            tx.bump_epoch(account.ns());
            Ok(())
        })
        .await?;
        self.published(account).await;
        Ok(ManagedPolicy {
            record: record.clone(),
            aws_managed: false,
            attachment_count: 0,
            permissions_boundary_usage_count: 0,
        })
    }

    /// Reads a managed policy outside any transaction: the account's own, or AWS's.
    pub(crate) async fn load_policy(&self, account: &Account, arn: &str) -> Result<(PolicyRef, PolicyRecord)> {
        let policy = policy_ref(account, arn)?;
        match iam::load::<S, PolicyRecord>(&self.store, &policy.key(account)).await? {
            Some(record) if record.path == policy.path => Ok((policy, record)),
            _ => Err(policy_not_found(arn)),
        }
    }

    /// `GetPolicy`, for the account's own policies and AWS's; the counts are this account's.
    pub async fn get_policy(&self, account: &Account, arn: &str) -> Result<ManagedPolicy> {
        let (policy, record) = self.load_policy(account, arn).await?;
        let uses: PolicyUseRecord = iam::load(&*self.store, &policy.use_key(account)).await?.unwrap_or_default();
        Ok(ManagedPolicy {
            record,
            aws_managed: policy.aws_managed,
            attachment_count: uses.attached.len(),
            permissions_boundary_usage_count: uses.boundary_of.len(),
        })
    }

    /// `ListPolicies`: AWS-managed policies first, then the account's, each in name order.
    pub async fn list_policies(
        &self,
        account: &Account,
        query: &ListPolicies,
        page: &PageRequest,
    ) -> Result<Page<ManagedPolicy>> {
        let prefix = path_prefix(query.path_prefix.as_deref())?;
        // One scan serves every count: use records are looked up by the key `PolicyRef::use_key`
        // gives each listed policy.
        let uses: std::collections::HashMap<String, PolicyUseRecord> =
            iam::scan_all::<S, PolicyUseRecord>(&self.store, account.ns())
                .await?
                .into_iter()
                .map(|(suffix, uses)| (Key::new(account.ns(), POLICY_USE, &suffix).into_string(), uses))
                .collect();
        let mut sources = Vec::new();
        if query.scope != PolicyScope::Local {
            sources.push(("aws", true, aws_namespace()));
        }
        if query.scope != PolicyScope::Aws {
            sources.push(("local", false, account.ns().clone()));
        }
        let mut listed = Vec::new();
        // INVARIANT: `aws:` sorts before `local:` and each scan is in key order, so `listed` is in
        // marker order, as `paginate` needs.
        for (scope, aws_managed, ns) in sources {
            for (key, record) in iam::scan_all::<S, PolicyRecord>(&self.store, &ns).await? {
                let marker = format!("{scope}:{key}");
                let policy = PolicyRef { aws_managed, path: record.path.clone(), name: record.name.clone() };
                let (attached, bounding) = uses
                    .get(policy.use_key(account).as_str())
                    .map_or((0, 0), |u| (u.attached.len(), u.boundary_of.len()));
                if record.path.starts_with(&prefix) && query.keeps(attached, bounding) {
                    let policy = ManagedPolicy {
                        record,
                        aws_managed,
                        attachment_count: attached,
                        permissions_boundary_usage_count: bounding,
                    };
                    listed.push((marker, policy));
                }
            }
        }
        Ok(paginate(listed, page, |(marker, _)| marker.clone())?.map(|(_, policy)| policy))
    }

    /// `DeletePolicy`: only once nothing uses the policy and only its default version is left.
    pub async fn delete_policy(&self, account: &Account, arn: &str) -> Result<()> {
        let policy = &own_policy_ref(account, arn)?;
        update(&*self.store, |tx| async move {
            let record = read_own(&tx, account, policy, arn).await?;
            let uses = entity::read_use(&tx, account, policy).await?;
            if !uses.attached.is_empty() || !uses.boundary_of.is_empty() {
                return Err(Error::delete_conflict("Cannot delete a policy attached to entities."));
            }
            if record.versions.len() > 1 {
                return Err(Error::delete_conflict(
                    "This policy has more than one version. Before you delete a policy, you must delete the \
                     policy's versions. The default version is deleted with the policy.",
                ));
            }
            tx.delete(policy.key(account));
            // Attached nowhere, but sessions may carry it as a session policy.
            tx.bump_epoch(account.ns());
            Ok(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }

    /// `CreatePolicyVersion`: the next `vN`, optionally made the default.
    pub async fn create_policy_version(
        &self,
        account: &Account,
        arn: &str,
        document: &str,
        set_as_default: bool,
    ) -> Result<PolicyVersion> {
        let policy = &own_policy_ref(account, arn)?;
        check_managed_document(document)?;
        let now = self.env.now_millis();
        let version = update(&*self.store, |tx| async move {
            let mut record = read_own(&tx, account, policy, arn).await?;
            if record.versions.len() >= MAX_VERSIONS {
                return Err(Error::limit_exceeded(format!(
                    "A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, you \
                     must delete an existing version."
                )));
            }
            let id = format!("v{}", record.next_version);
            record.next_version += 1;
            let version = PolicyVersionRecord { id: id.clone(), document: document.to_owned(), create_date: now };
            record.versions.push(version.clone());
            // AWS: with several versions, UpdateDate is when the newest was created.
            record.update_date = now;
            if set_as_default {
                record.default_version = id;
                tx.bump_epoch(account.ns());
            }
            tx.write(policy.key(account), &record);
            Ok(PolicyVersion::of(&record, &version))
        })
        .await?;
        if set_as_default {
            self.published(account).await;
        }
        Ok(version)
    }

    /// `GetPolicyVersion`, for the account's own policies and AWS's.
    pub async fn get_policy_version(&self, account: &Account, arn: &str, version_id: &str) -> Result<PolicyVersion> {
        validate_version_id(version_id)?;
        let (_, record) = self.load_policy(account, arn).await?;
        let version =
            record.versions.iter().find(|v| v.id == version_id).ok_or_else(|| version_not_found(arn, version_id))?;
        Ok(PolicyVersion::of(&record, version))
    }

    /// `ListPolicyVersions`: newest first, as AWS lists them.
    pub async fn list_policy_versions(
        &self,
        account: &Account,
        arn: &str,
        page: &PageRequest,
    ) -> Result<Page<PolicyVersion>> {
        let (_, record) = self.load_policy(account, arn).await?;
        let mut versions: Vec<PolicyVersion> = record.versions.iter().map(|v| PolicyVersion::of(&record, v)).collect();
        versions.sort_by_key(|v| std::cmp::Reverse(version_number(&v.version_id)));
        // The marker must grow down the list: count down from the largest version number.
        paginate(versions, page, |v| format!("{:010}", u32::MAX - version_number(&v.version_id)))
    }

    /// `DeletePolicyVersion`: any version but the default.
    pub async fn delete_policy_version(&self, account: &Account, arn: &str, version_id: &str) -> Result<()> {
        validate_version_id(version_id)?;
        let policy = &own_policy_ref(account, arn)?;
        update(&*self.store, |tx| async move {
            let mut record = read_own(&tx, account, policy, arn).await?;
            if !record.versions.iter().any(|v| v.id == version_id) {
                return Err(version_not_found(arn, version_id));
            }
            if record.default_version == version_id {
                return Err(Error::delete_conflict("Cannot delete the default version of a policy."));
            }
            record.versions.retain(|v| v.id != version_id);
            tx.write(policy.key(account), &record);
            Ok(())
        })
        .await
    }

    /// `SetDefaultPolicyVersion`: changes what the policy grants, so it bumps the epoch.
    pub async fn set_default_policy_version(&self, account: &Account, arn: &str, version_id: &str) -> Result<()> {
        validate_version_id(version_id)?;
        let policy = &own_policy_ref(account, arn)?;
        let changed = update(&*self.store, |tx| async move {
            let mut record = read_own(&tx, account, policy, arn).await?;
            if !record.versions.iter().any(|v| v.id == version_id) {
                return Err(version_not_found(arn, version_id));
            }
            if record.default_version == version_id {
                return Ok(false);
            }
            version_id.clone_into(&mut record.default_version);
            tx.write(policy.key(account), &record);
            tx.bump_epoch(account.ns());
            Ok(true)
        })
        .await?;
        if changed {
            self.published(account).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_follow_the_model_pattern() {
        for ok in ["v1", "v12", "v3.beta-1", "v9."] {
            validate_version_id(ok).unwrap();
        }
        for bad in ["", "v", "v0", "1", "V1", "v1x", "v1.a_b"] {
            let err = validate_version_id(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::ValidationError, "{bad}");
        }
        assert_eq!(version_number("v12"), 12);
        assert_eq!(version_number("v3.beta"), 3);
    }

    #[test]
    fn list_filters_read_usage_as_documented() {
        let q = |only_attached, policy_usage_filter| ListPolicies {
            only_attached,
            policy_usage_filter,
            ..Default::default()
        };
        assert!(q(false, None).keeps(0, 0));
        assert!(!q(true, None).keeps(0, 0));
        assert!(q(true, None).keeps(0, 1));
        assert!(q(false, Some(PolicyUsage::PermissionsPolicy)).keeps(0, 0));
        assert!(!q(true, Some(PolicyUsage::PermissionsPolicy)).keeps(0, 1));
        assert!(!q(false, Some(PolicyUsage::PermissionsBoundary)).keeps(3, 0));
        assert!(q(false, Some(PolicyUsage::PermissionsBoundary)).keeps(0, 1));
    }
}
