//! The account itself: creating it (idempotently, in its own namespace and in the global registry),
//! `GetAccountSummary` and `GetAccountAuthorizationDetails` (reference §2.6, §5.8).

use std::collections::BTreeMap;

use tessera_proto::error::ErrorCode;
use tessera_store::iam::{
    self, AccountRecord, GroupRecord, InstanceProfileRecord, MfaDeviceRecord, OidcProviderRecord, POLICY, PolicyRecord,
    PolicyUseRecord, ROOT_KEYS, Record, RoleRecord, RootKeysRecord, ServerCertificateRecord, UserRecord,
};
use tessera_store::{Key, Namespace, Store, StoreError, update};

use crate::access_keys::MAX_ACCESS_KEYS_PER_USER;
use crate::entity;
use crate::groups::MAX_GROUPS_PER_USER;
use crate::page::{PageRequest, paginate};
use crate::{Account, Error, Identity, Result};

/// The filter values of `GetAccountAuthorizationDetails`, in the order AWS lists its enum.
const FILTERS: [&str; 5] = ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"];

/// `GetAccountAuthorizationDetails`' output: one page of the concatenated lists (users, then
/// groups, roles, and managed policies), so a page may hold several kinds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationDetails {
    pub users: Vec<UserRecord>,
    pub groups: Vec<GroupRecord>,
    pub roles: Vec<RoleRecord>,
    /// Customer managed policies (all of them) and AWS-managed policies in use in the account.
    pub policies: Vec<PolicyRecord>,
    /// The instance profiles of the roles on this page (`RoleDetail.InstanceProfileList`).
    pub instance_profiles: Vec<InstanceProfileRecord>,
    /// Present exactly when more items follow.
    pub marker: Option<String>,
}

impl AuthorizationDetails {
    pub fn is_truncated(&self) -> bool {
        self.marker.is_some()
    }
}

/// Which lists `GetAccountAuthorizationDetails` includes.
#[derive(Debug, Clone, Copy)]
struct Filter {
    users: bool,
    roles: bool,
    groups: bool,
    local_policies: bool,
    aws_policies: bool,
}

impl Filter {
    /// Empty means everything; any value outside the enum is a `ValidationError`, as AWS reports it.
    fn parse(values: &[String]) -> Result<Self> {
        if values.is_empty() {
            return Ok(Self { users: true, roles: true, groups: true, local_policies: true, aws_policies: true });
        }
        if let Some(bad) = values.iter().find(|v| !FILTERS.contains(&v.as_str())) {
            return Err(Error::new(
                ErrorCode::ValidationError,
                format!(
                    "1 validation error detected: Value '[{bad}]' at 'filter' failed to satisfy constraint: Member must \
                     satisfy constraint: [Member must satisfy enum value set: [{}]]",
                    FILTERS.join(", ")
                ),
            ));
        }
        let has = |name: &str| values.iter().any(|v| v == name);
        Ok(Self {
            users: has("User"),
            roles: has("Role"),
            groups: has("Group"),
            local_policies: has("LocalManagedPolicy"),
            aws_policies: has("AWSManagedPolicy"),
        })
    }
}

/// Refuses a `GetAccountAuthorizationDetails` filter value outside AWS's enum, as the domain does
/// (a remote caller checks before sending: the wire enum cannot carry a wrong value).
pub(crate) fn check_filter(values: &[String]) -> Result<()> {
    Filter::parse(values).map(|_| ())
}

/// One item of the concatenated authorization details list.
enum Detail {
    User(UserRecord),
    Group(GroupRecord),
    Role(RoleRecord),
    Policy(PolicyRecord),
}

/// Every record of `R`'s kind in `ns` whose key starts with `prefix`.
pub(crate) async fn scan_prefix_all<S: Store + ?Sized, R: Record>(
    store: &S,
    ns: &Namespace,
    prefix: &str,
) -> Result<Vec<(String, R)>, StoreError> {
    const PAGE: usize = 500;
    let mut all: Vec<(String, R)> = Vec::new();
    loop {
        let after = all.last().map(|(k, _)| k.clone());
        let page = iam::scan::<S, R>(store, ns, prefix, after.as_deref(), PAGE).await?;
        let done = page.len() < PAGE;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl<S: Store> Identity<S> {
    /// Registers the account: its record in its own namespace and in the global registry. Calling it
    /// again returns the existing record (and repairs a missing registry entry).
    pub async fn create_account(&self, account: &Account) -> Result<AccountRecord> {
        let fresh = AccountRecord { id: account.id().to_owned(), create_date: self.env.now_millis() };
        let fresh = &fresh;
        let record = update(&*self.store, |tx| async move {
            let key = Key::new(account.ns(), iam::ACCOUNT, "");
            if let Some(existing) = tx.read::<AccountRecord>(&key).await? {
                return Ok::<_, Error>(existing);
            }
            tx.write(key, fresh);
            Ok(fresh.clone())
        })
        .await?;
        // The registry is another namespace, so another commit. It only ever gains the account, so a
        // crash between the two commits is repaired by calling this again.
        let record = &record;
        update(&*self.store, |tx| async move {
            let key = Key::new(&Namespace::global(), iam::ACCOUNT, account.id());
            if tx.read::<AccountRecord>(&key).await?.is_none() {
                tx.write(key, record);
            }
            Ok::<_, Error>(())
        })
        .await?;
        Ok(record.clone())
    }

    /// `GetAccountSummary`: entity counts and the quotas of reference §2.6, under AWS's key names.
    pub async fn get_account_summary(&self, account: &Account) -> Result<BTreeMap<String, i64>> {
        let store = &*self.store;
        let ns = account.ns();
        let users = iam::scan_all::<S, UserRecord>(store, ns).await?;
        let groups = iam::scan_all::<S, GroupRecord>(store, ns).await?;
        let roles = iam::scan_all::<S, RoleRecord>(store, ns).await?;
        let policies = iam::scan_all::<S, PolicyRecord>(store, ns).await?;
        let devices = iam::scan_all::<S, MfaDeviceRecord>(store, ns).await?;
        let providers = iam::scan_all::<S, OidcProviderRecord>(store, ns).await?;
        let instance_profiles = iam::scan_all::<S, InstanceProfileRecord>(store, ns).await?;
        let server_certificates = iam::scan_all::<S, ServerCertificateRecord>(store, ns).await?;
        let root_keys: Option<RootKeysRecord> = iam::load(store, &Key::new(ns, ROOT_KEYS, "")).await?;
        let token_version = self.global_endpoint_token_version(account).await?;
        let versions: usize = policies.iter().map(|(_, p)| p.versions.len()).sum();
        let in_use = devices.iter().filter(|(_, d)| d.user.is_some()).count();
        let root_mfa = devices.iter().any(|(_, d)| crate::mfa::assigned_to_root(d));

        let entries: [(&str, i64); 33] = [
            ("Users", count(users.len())),
            ("UsersQuota", count(crate::users::MAX_USERS)),
            ("Groups", count(groups.len())),
            ("GroupsQuota", count(crate::groups::MAX_GROUPS)),
            ("GroupsPerUserQuota", count(MAX_GROUPS_PER_USER)),
            ("Roles", count(roles.len())),
            ("RolesQuota", count(crate::roles::MAX_ROLES)),
            ("Policies", count(policies.len())),
            ("PoliciesQuota", 1500),
            ("PolicyVersionsInUse", count(versions)),
            ("PolicyVersionsInUseQuota", 10_000),
            ("VersionsPerPolicyQuota", 5),
            ("PolicySizeQuota", 6144),
            ("UserPolicySizeQuota", 2048),
            ("GroupPolicySizeQuota", 5120),
            ("RolePolicySizeQuota", 10_240),
            ("AssumeRolePolicySizeQuota", 2048),
            ("AttachedPoliciesPerUserQuota", 10),
            ("AttachedPoliciesPerGroupQuota", 10),
            ("AttachedPoliciesPerRoleQuota", 10),
            ("AccessKeysPerUserQuota", count(MAX_ACCESS_KEYS_PER_USER)),
            ("MFADevices", count(devices.len())),
            ("MFADevicesInUse", count(in_use)),
            // The root's MFA device is assigned in the console; no signing certificate can be
            // assigned to it here; its access keys are its own (`CreateAccessKey` by the root).
            ("AccountMFAEnabled", i64::from(root_mfa)),
            ("AccountAccessKeysPresent", i64::from(root_keys.is_some_and(|r| !r.keys.is_empty()))),
            ("AccountSigningCertificatesPresent", 0),
            ("Providers", count(providers.len())),
            ("ServerCertificates", count(server_certificates.len())),
            ("ServerCertificatesQuota", 20),
            ("SigningCertificatesPerUserQuota", 2),
            ("InstanceProfiles", count(instance_profiles.len())),
            ("InstanceProfilesQuota", count(crate::instance_profiles::MAX_INSTANCE_PROFILES)),
            ("GlobalEndpointTokenVersion", token_version),
        ];
        Ok(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// `GetAccountAuthorizationDetails`. `filter` takes AWS's values (`User`, `Role`, `Group`,
    /// `LocalManagedPolicy`, `AWSManagedPolicy`; empty means all). Local managed policies are all
    /// the account's customer managed policies; AWS-managed ones are those attached to (or bounding)
    /// something in the account.
    pub async fn get_account_authorization_details(
        &self,
        account: &Account,
        filter: &[String],
        page: &PageRequest,
    ) -> Result<AuthorizationDetails> {
        let filter = Filter::parse(filter)?;
        let store = &*self.store;
        let ns = account.ns();
        // The marker of an item is its list's rank and its folded name, so the concatenated list is
        // in marker order and a page resumes inside whichever list it stopped in.
        let mut items: Vec<(String, Detail)> = Vec::new();
        if filter.users {
            let users = iam::scan_all::<S, UserRecord>(store, ns).await?;
            items.extend(users.into_iter().map(|(k, u)| (format!("0:{k}"), Detail::User(u))));
        }
        if filter.groups {
            let groups = iam::scan_all::<S, GroupRecord>(store, ns).await?;
            items.extend(groups.into_iter().map(|(k, g)| (format!("1:{k}"), Detail::Group(g))));
        }
        if filter.roles {
            let roles = iam::scan_all::<S, RoleRecord>(store, ns).await?;
            items.extend(roles.into_iter().map(|(k, r)| (format!("2:{k}"), Detail::Role(r))));
        }
        if filter.local_policies {
            let policies = iam::scan_all::<S, PolicyRecord>(store, ns).await?;
            items.extend(policies.into_iter().map(|(k, p)| (format!("3:{k}"), Detail::Policy(p))));
        }
        if filter.aws_policies {
            let aws = entity::aws_namespace();
            for (suffix, uses) in scan_prefix_all::<S, PolicyUseRecord>(store, ns, "aws:").await? {
                if uses.attached.is_empty() && uses.boundary_of.is_empty() {
                    continue;
                }
                let name = suffix.strip_prefix("aws:").unwrap_or(&suffix);
                if let Some(policy) = iam::load::<S, PolicyRecord>(store, &iam::named(&aws, POLICY, name)).await? {
                    items.push((format!("4:{name}"), Detail::Policy(policy)));
                }
            }
        }
        let page = paginate(items, page, |(k, _)| k.clone())?;
        let mut details = AuthorizationDetails { marker: page.marker, ..AuthorizationDetails::default() };
        for (_, item) in page.items {
            match item {
                Detail::User(u) => details.users.push(u),
                Detail::Group(g) => details.groups.push(g),
                Detail::Role(mut r) => {
                    details.instance_profiles.extend(self.profiles_of(account, &r).await?);
                    r.last_used = iam::load(store, &crate::roles::role_used(account, &r.principal.id)).await?;
                    details.roles.push(r);
                }
                Detail::Policy(p) => details.policies.push(p),
            }
        }
        Ok(details)
    }
}

/// The shared fixture of this crate's unit tests: an in-memory store, a clock the test moves, a
/// seeded generator, a fresh master key and the fastest Argon2 parameters.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use tessera_arn::SeededRandom;
    use tessera_credentials::{Argon2Params, MasterKey};
    use tessera_store::MemoryStore;
    use tessera_store::iam::UserRecord;

    use crate::users::CreateUser;
    use crate::{Account, Clock, Env, Identity, Random};

    /// 2026-11-23T10:00:00Z.
    pub(crate) const START_SECS: u64 = 1_795_428_000;

    pub(crate) const ACCOUNT_ID: &str = "123456789012";

    /// A clock that stands still until the test moves it.
    #[derive(Debug)]
    pub(crate) struct TestClock(Mutex<SystemTime>);

    impl TestClock {
        pub(crate) fn advance(&self, by: Duration) {
            *self.0.lock().unwrap_or_else(PoisonError::into_inner) += by;
        }

        pub(crate) fn unix_secs(&self) -> u64 {
            self.now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
        }
    }

    impl Clock for TestClock {
        fn now(&self) -> SystemTime {
            *self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    #[derive(Debug)]
    pub(crate) struct Fixture {
        pub(crate) identity: Identity<MemoryStore>,
        pub(crate) clock: Arc<TestClock>,
        pub(crate) account: Account,
    }

    impl Fixture {
        pub(crate) async fn user(&self, name: &str) -> UserRecord {
            let input = CreateUser { user_name: name.to_owned(), ..CreateUser::default() };
            self.identity.create_user(&self.account, input).await.expect("create user")
        }
    }

    pub(crate) fn fixture() -> Fixture {
        let clock = Arc::new(TestClock(Mutex::new(UNIX_EPOCH + Duration::from_secs(START_SECS))));
        let mut rng = SeededRandom::new(7);
        let master_key = Arc::new(MasterKey::generate(&mut rng));
        let env = Env {
            clock: clock.clone(),
            random: Arc::new(Random::new(SeededRandom::new(11))),
            master_key,
            password_params: Argon2Params::FAST_FOR_TESTS,
        };
        let identity = Identity::new(Arc::new(MemoryStore::new()), env);
        Fixture { identity, clock, account: Account::new(ACCOUNT_ID).expect("valid account id") }
    }
}

#[cfg(test)]
mod tests {
    use tessera_store::iam::EntityKind;
    use tessera_store::{Key, Namespace};

    use super::testing::fixture;
    use super::*;

    #[tokio::test]
    async fn create_account_writes_both_records_and_is_idempotent() {
        let f = fixture();
        let first = f.identity.create_account(&f.account).await.unwrap();
        assert_eq!(first.id, "123456789012");
        f.clock.advance(std::time::Duration::from_secs(60));
        let again = f.identity.create_account(&f.account).await.unwrap();
        assert_eq!(again, first);
        let global: Option<AccountRecord> =
            iam::load(&**f.identity.store(), &Key::new(&Namespace::global(), iam::ACCOUNT, "123456789012"))
                .await
                .unwrap();
        assert_eq!(global, Some(first));
    }

    #[tokio::test]
    async fn summary_counts_entities_and_reports_quotas() {
        let f = fixture();
        f.user("alice").await;
        f.user("bob").await;
        f.identity.create_group(&f.account, None, "admins").await.unwrap();
        f.identity.create_virtual_mfa_device(&f.account, None, "phone", Vec::new()).await.unwrap();
        let summary = f.identity.get_account_summary(&f.account).await.unwrap();
        assert_eq!(summary["Users"], 2);
        assert_eq!(summary["Groups"], 1);
        assert_eq!(summary["Roles"], 0);
        assert_eq!(summary["MFADevices"], 1);
        assert_eq!(summary["MFADevicesInUse"], 0);
        assert_eq!(summary["AccessKeysPerUserQuota"], 2);
        assert_eq!(summary["GroupsPerUserQuota"], 10);
        assert_eq!(summary["PolicySizeQuota"], 6144);
        assert_eq!(summary["AccountMFAEnabled"], 0);
    }

    fn aws_policy(name: &str) -> PolicyRecord {
        PolicyRecord {
            name: name.into(),
            path: "/".into(),
            id: "ANPAEXAMPLE".into(),
            arn: format!("arn:aws:iam::aws:policy/{name}"),
            description: None,
            create_date: 0,
            update_date: 0,
            default_version: "v1".into(),
            versions: Vec::new(),
            next_version: 2,
            tags: Vec::new(),
        }
    }

    #[tokio::test]
    async fn authorization_details_filter_and_paginate_across_lists() {
        let f = fixture();
        let store = &**f.identity.store();
        f.user("alice").await;
        f.user("bob").await;
        f.identity.create_group(&f.account, None, "admins").await.unwrap();
        // A customer managed policy, and two AWS-managed ones of which only one is in use here.
        let local = PolicyRecord { arn: "arn:aws:iam::123456789012:policy/Local".into(), ..aws_policy("Local") };
        iam::put_blind(store, iam::named(f.account.ns(), POLICY, "Local"), &local).await.unwrap();
        for name in ["ReadOnlyAccess", "Unused"] {
            iam::put_blind(store, iam::named(&entity::aws_namespace(), POLICY, name), &aws_policy(name)).await.unwrap();
        }
        let uses = PolicyUseRecord { attached: vec![(EntityKind::User, "alice".into())], boundary_of: Vec::new() };
        iam::put_blind(store, Key::new(f.account.ns(), iam::POLICY_USE, "aws:readonlyaccess"), &uses).await.unwrap();

        let all = f.identity.get_account_authorization_details(&f.account, &[], &PageRequest::default()).await.unwrap();
        assert_eq!(all.users.len(), 2);
        assert_eq!(all.groups.len(), 1);
        let names: Vec<&str> = all.policies.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["Local", "ReadOnlyAccess"]);
        assert!(!all.is_truncated());

        let only = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let aws = f
            .identity
            .get_account_authorization_details(&f.account, &only(&["AWSManagedPolicy"]), &PageRequest::default())
            .await
            .unwrap();
        assert!(aws.users.is_empty() && aws.groups.is_empty());
        assert_eq!(aws.policies.len(), 1);

        // Pages of two: users, then group + local policy, then the AWS policy.
        let mut request = PageRequest { marker: None, max_items: Some(2) };
        let first = f.identity.get_account_authorization_details(&f.account, &[], &request).await.unwrap();
        assert_eq!((first.users.len(), first.groups.len()), (2, 0));
        request.marker = first.marker;
        let second = f.identity.get_account_authorization_details(&f.account, &[], &request).await.unwrap();
        assert_eq!((second.groups.len(), second.policies.len()), (1, 1));
        request.marker = second.marker;
        let third = f.identity.get_account_authorization_details(&f.account, &[], &request).await.unwrap();
        assert_eq!(third.policies[0].name, "ReadOnlyAccess");
        assert!(!third.is_truncated());

        let err = f
            .identity
            .get_account_authorization_details(&f.account, &only(&["User", "Users"]), &PageRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::ValidationError);
        assert!(err.into_service_error().message.contains("'[Users]' at 'filter'"));
    }
}
