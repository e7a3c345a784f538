//! Instance profiles: a named container for at most one role, which EC2 hands to an instance
//! (`arn:aws:iam::ACCT:instance-profile/PATH/NAME`, ids `AIPA…`).
//!
//! The relation is kept on both sides, as every relation here: the profile lists its role
//! ([`InstanceProfileRecord::roles`]) and the role lists its profiles
//! ([`RoleRecord::instance_profiles`]), written in one transaction, so `DeleteRole` refuses a role
//! still in a profile from its own read and `DeleteInstanceProfile` one that still holds a role.
//! Nothing here changes anyone's permissions, so no write bumps the policy epoch (tags do, through
//! `tagging.rs`).

use tessera_arn::{Arn, IamEntity, IdPrefix, unique_id, validate_instance_profile_name, validate_role_name};
use tessera_store::iam::{self, EntityKind, INSTANCE_PROFILE, InstanceProfileRecord, RoleRecord, Tag};
use tessera_store::{Key, Store, update};

use crate::entity::{self, AnyEntity};
use crate::page::{Page, PageRequest, paginate};
use crate::users::{path_or_root, path_prefix};
use crate::{Account, Error, Identity, Result, service_linked, tags};

/// Roles per instance profile (AWS's `InstanceSessionsPerInstanceProfile`).
const MAX_ROLES_PER_PROFILE: usize = 1;

/// An instance profile with its roles, as the API shows it (`InstanceProfile.Roles` holds the
/// whole `Role` shapes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceProfile {
    pub profile: InstanceProfileRecord,
    pub roles: Vec<RoleRecord>,
}

pub(crate) fn profile_key(account: &Account, name: &str) -> Key {
    iam::named(account.ns(), INSTANCE_PROFILE, name)
}

/// AWS's wording: `Instance Profile X cannot be found.`
pub(crate) fn profile_not_found(name: &str) -> Error {
    Error::no_such_entity(format!("Instance Profile {name} cannot be found."))
}

/// Instance profiles per account (AWS's default quota, `InstanceProfilesQuota`).
pub(crate) const MAX_INSTANCE_PROFILES: usize = 1000;

impl<S: Store> Identity<S> {
    /// The profile with its roles read now (a role listed but gone is left out).
    async fn with_roles(&self, account: &Account, profile: InstanceProfileRecord) -> Result<InstanceProfile> {
        let mut roles = Vec::with_capacity(profile.roles.len());
        for name in &profile.roles {
            if let Some(role) =
                iam::load::<S, RoleRecord>(&*self.store, &entity::key(account, EntityKind::Role, name)).await?
            {
                roles.push(role);
            }
        }
        Ok(InstanceProfile { profile, roles })
    }

    /// `CreateInstanceProfile`.
    pub async fn create_instance_profile(
        &self,
        account: &Account,
        path: Option<String>,
        name: &str,
        tags: Vec<Tag>,
    ) -> Result<InstanceProfile> {
        validate_instance_profile_name(name)?;
        let path = path_or_root(path)?;
        let tags = tags::new_tags(tags, "TagsPerInstanceProfile")?;
        let profile = InstanceProfileRecord {
            arn: Arn::iam(
                "aws",
                account.id(),
                &IamEntity::InstanceProfile { path: path.clone(), name: name.to_owned() },
            )
            .to_string(),
            name: name.to_owned(),
            path,
            id: self.env.random.with(|r| unique_id(IdPrefix::InstanceProfile, &mut &mut *r)),
            create_date: self.env.now_millis(),
            roles: Vec::new(),
            tags,
        };
        let profile = &profile;
        update(&*self.store, |tx| async move {
            let key = profile_key(account, &profile.name);
            if tx.read::<InstanceProfileRecord>(&key).await?.is_some() {
                return Err(Error::already_exists(format!("Instance Profile {} already exists.", profile.name)));
            }
            if !iam::under_account_quota(&tx, account.ns(), iam::INSTANCE_PROFILE, MAX_INSTANCE_PROFILES).await? {
                return Err(Error::quota("InstanceProfilesPerAccount", MAX_INSTANCE_PROFILES));
            }
            tx.write(key, profile);
            Ok(())
        })
        .await?;
        Ok(InstanceProfile { profile: profile.clone(), roles: Vec::new() })
    }

    /// The stored profile alone (the gateway reads it to authorize on its ARN and tags).
    pub async fn get_instance_profile_record(&self, account: &Account, name: &str) -> Result<InstanceProfileRecord> {
        validate_instance_profile_name(name)?;
        iam::load(&*self.store, &profile_key(account, name)).await?.ok_or_else(|| profile_not_found(name))
    }

    /// `GetInstanceProfile`.
    pub async fn get_instance_profile(&self, account: &Account, name: &str) -> Result<InstanceProfile> {
        let profile = self.get_instance_profile_record(account, name).await?;
        self.with_roles(account, profile).await
    }

    /// `DeleteInstanceProfile`: refused while the profile holds a role.
    pub async fn delete_instance_profile(&self, account: &Account, name: &str) -> Result<()> {
        validate_instance_profile_name(name)?;
        update(&*self.store, |tx| async move {
            let key = profile_key(account, name);
            let profile: InstanceProfileRecord = tx.read(&key).await?.ok_or_else(|| profile_not_found(name))?;
            if !profile.roles.is_empty() {
                return Err(Error::delete_conflict(
                    "Cannot delete entity, must remove roles from instance profile first.",
                ));
            }
            tx.delete(key);
            Ok(())
        })
        .await
    }

    /// `ListInstanceProfiles`: by path prefix, in name order.
    pub async fn list_instance_profiles(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<InstanceProfile>> {
        let prefix = path_prefix(prefix)?;
        let all = iam::scan_all::<S, InstanceProfileRecord>(&self.store, account.ns()).await?;
        let matching = all.into_iter().filter(|(_, p)| p.path.starts_with(&prefix)).collect();
        let page = paginate(matching, page, |(k, _)| k.clone())?;
        let mut items = Vec::with_capacity(page.items.len());
        for (_, profile) in page.items {
            items.push(self.with_roles(account, profile).await?);
        }
        Ok(Page { items, marker: page.marker })
    }

    /// `ListInstanceProfilesForRole`.
    pub async fn list_instance_profiles_for_role(
        &self,
        account: &Account,
        role_name: &str,
        page: &PageRequest,
    ) -> Result<Page<InstanceProfile>> {
        validate_role_name(role_name)?;
        let role = self.get_role(account, role_name).await?;
        let mut profiles = Vec::with_capacity(role.instance_profiles.len());
        for name in &role.instance_profiles {
            if let Some(profile) =
                iam::load::<S, InstanceProfileRecord>(&*self.store, &profile_key(account, name)).await?
            {
                profiles.push((iam::folded(name), InstanceProfile { profile, roles: vec![role.clone()] }));
            }
        }
        profiles.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(paginate(profiles, page, |(k, _)| k.clone())?.map(|(_, p)| p))
    }

    /// The instance profiles of `role` (for `GetAccountAuthorizationDetails`).
    pub(crate) async fn profiles_of(&self, account: &Account, role: &RoleRecord) -> Result<Vec<InstanceProfileRecord>> {
        let mut profiles = Vec::with_capacity(role.instance_profiles.len());
        for name in &role.instance_profiles {
            if let Some(profile) =
                iam::load::<S, InstanceProfileRecord>(&*self.store, &profile_key(account, name)).await?
            {
                profiles.push(profile);
            }
        }
        Ok(profiles)
    }

    /// `AddRoleToInstanceProfile`: a profile holds at most one role (AWS's quota wording), and a
    /// service-linked role cannot be added.
    pub async fn add_role_to_instance_profile(
        &self,
        account: &Account,
        profile_name: &str,
        role_name: &str,
    ) -> Result<()> {
        validate_instance_profile_name(profile_name)?;
        validate_role_name(role_name)?;
        update(&*self.store, |tx| async move {
            let key = profile_key(account, profile_name);
            let mut profile: InstanceProfileRecord =
                tx.read(&key).await?.ok_or_else(|| profile_not_found(profile_name))?;
            let mut role = entity::read_role(&tx, account, role_name).await?;
            service_linked::check_role(&role)?;
            if profile.roles.len() >= MAX_ROLES_PER_PROFILE {
                return Err(Error::quota("InstanceSessionsPerInstanceProfile", MAX_ROLES_PER_PROFILE));
            }
            profile.roles.push(role.principal.name.clone());
            role.instance_profiles.push(profile.name.clone());
            tx.write(key, &profile);
            entity::write(&tx, account, &AnyEntity::Role(role));
            Ok(())
        })
        .await
    }

    /// `RemoveRoleFromInstanceProfile`.
    pub async fn remove_role_from_instance_profile(
        &self,
        account: &Account,
        profile_name: &str,
        role_name: &str,
    ) -> Result<()> {
        validate_instance_profile_name(profile_name)?;
        validate_role_name(role_name)?;
        update(&*self.store, |tx| async move {
            let key = profile_key(account, profile_name);
            let mut profile: InstanceProfileRecord =
                tx.read(&key).await?.ok_or_else(|| profile_not_found(profile_name))?;
            let mut role = entity::read_role(&tx, account, role_name).await?;
            service_linked::check_role(&role)?;
            let folded_role = iam::folded(role_name);
            if !profile.roles.iter().any(|r| iam::folded(r) == folded_role) {
                return Err(Error::no_such_entity(format!(
                    "The role with name {role_name} is not in instance profile {}.",
                    profile.name
                )));
            }
            profile.roles.retain(|r| iam::folded(r) != folded_role);
            let folded_profile = iam::folded(profile_name);
            role.instance_profiles.retain(|p| iam::folded(p) != folded_profile);
            tx.write(key, &profile);
            entity::write(&tx, account, &AnyEntity::Role(role));
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use tessera_proto::ErrorCode;

    use crate::account::testing::fixture;
    use crate::roles::CreateRole;

    use super::*;

    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

    fn role(name: &str) -> CreateRole {
        CreateRole { role_name: name.into(), assume_role_policy_document: TRUST.into(), ..Default::default() }
    }

    #[tokio::test]
    async fn a_profile_holds_one_role_and_both_sides_refuse_deletion_while_linked() {
        let f = fixture();
        let (id, a) = (&f.identity, &f.account);
        let created = id.create_instance_profile(a, Some("/web/".into()), "Web", Vec::new()).await.unwrap();
        assert!(created.profile.id.starts_with("AIPA"), "{}", created.profile.id);
        assert_eq!(created.profile.arn, "arn:aws:iam::123456789012:instance-profile/web/Web");
        let err = id.create_instance_profile(a, None, "WEB", Vec::new()).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::EntityAlreadyExists);
        id.create_role(a, role("app")).await.unwrap();
        id.create_role(a, role("other")).await.unwrap();

        id.add_role_to_instance_profile(a, "web", "APP").await.unwrap();
        let err = id.add_role_to_instance_profile(a, "Web", "other").await.unwrap_err().into_service_error();
        assert_eq!(err.code, ErrorCode::LimitExceeded);
        assert_eq!(err.message, "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1");
        let got = id.get_instance_profile(a, "Web").await.unwrap();
        assert_eq!(got.roles.iter().map(|r| r.principal.name.as_str()).collect::<Vec<_>>(), ["app"]);
        let for_role = id.list_instance_profiles_for_role(a, "app", &PageRequest::default()).await.unwrap();
        assert_eq!(for_role.items.len(), 1);
        assert!(
            id.list_instance_profiles_for_role(a, "other", &PageRequest::default()).await.unwrap().items.is_empty()
        );

        let err = id.delete_role(a, "app").await.unwrap_err().into_service_error();
        assert_eq!(err.code, ErrorCode::DeleteConflict);
        assert_eq!(err.message, "Cannot delete entity, must remove roles from instance profile first.");
        let err = id.delete_instance_profile(a, "Web").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::DeleteConflict);

        let err = id.remove_role_from_instance_profile(a, "Web", "other").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NoSuchEntity);
        id.remove_role_from_instance_profile(a, "Web", "app").await.unwrap();
        id.delete_role(a, "app").await.unwrap();
        id.delete_instance_profile(a, "Web").await.unwrap();
        let err = id.get_instance_profile(a, "Web").await.unwrap_err().into_service_error();
        assert_eq!(err.message, "Instance Profile Web cannot be found.");
    }

    #[tokio::test]
    async fn lists_filter_by_path_and_page_in_name_order() {
        let f = fixture();
        let (id, a) = (&f.identity, &f.account);
        for (path, name) in [("/a/", "p3"), ("/b/", "p1"), ("/a/", "p2")] {
            id.create_instance_profile(a, Some(path.into()), name, Vec::new()).await.unwrap();
        }
        let under_a = id.list_instance_profiles(a, Some("/a/"), &PageRequest::default()).await.unwrap();
        let names: Vec<&str> = under_a.items.iter().map(|p| p.profile.name.as_str()).collect();
        assert_eq!(names, ["p2", "p3"]);
        let first =
            id.list_instance_profiles(a, None, &PageRequest { marker: None, max_items: Some(2) }).await.unwrap();
        assert_eq!(first.items.len(), 2);
        let rest = PageRequest { marker: first.marker, max_items: Some(2) };
        let second = id.list_instance_profiles(a, None, &rest).await.unwrap();
        assert_eq!(second.items[0].profile.name, "p3");
        assert!(!second.is_truncated());
    }

    /// The account's 1,001st instance profile is `LimitExceeded` in AWS's words, and writes
    /// nothing; once one is deleted, a profile fits again. Racing creates at the edge get one place.
    #[tokio::test]
    async fn the_account_quota_of_instance_profiles_holds() {
        let f = fixture();
        let (id, a) = (&f.identity, &f.account);
        for i in 0..MAX_INSTANCE_PROFILES - 1 {
            id.create_instance_profile(a, None, &format!("p{i:04}"), Vec::new()).await.unwrap();
        }
        let racing = tokio::join!(
            id.create_instance_profile(a, None, "last0", Vec::new()),
            id.create_instance_profile(a, None, "last1", Vec::new()),
            id.create_instance_profile(a, None, "last2", Vec::new()),
        );
        let (made, refused): (Vec<_>, Vec<_>) = [racing.0, racing.1, racing.2].into_iter().partition(Result::is_ok);
        assert_eq!((made.len(), refused.len()), (1, 2));
        for err in refused {
            let err = err.unwrap_err().into_service_error();
            assert_eq!(err.code, ErrorCode::LimitExceeded);
            assert_eq!(err.message, "Cannot exceed quota for InstanceProfilesPerAccount: 1000");
        }
        let err = id.create_instance_profile(a, None, "over", Vec::new()).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::LimitExceeded);
        assert_eq!(id.get_instance_profile(a, "over").await.unwrap_err().code(), ErrorCode::NoSuchEntity);
        let all = id.list_instance_profiles(a, None, &PageRequest { marker: None, max_items: Some(1000) }).await;
        assert_eq!(all.unwrap().items.len(), MAX_INSTANCE_PROFILES);

        id.delete_instance_profile(a, "p0000").await.unwrap();
        id.create_instance_profile(a, None, "over", Vec::new()).await.unwrap();
    }
}
