//! Groups and memberships: a user is in at most 10 groups, groups do not nest, and each membership
//! is written on both sides (user → groups, group → members) in one transaction.

use tessera_arn::{Arn, IdPrefix, unique_id, validate_group_name, validate_path};
use tessera_store::iam::{self, EntityKind, GroupRecord, Principal, UserRecord};
use tessera_store::{Store, update};

use crate::entity::{self, AnyEntity};
use crate::page::{Page, PageRequest, paginate};
use crate::users::{path_or_root, path_prefix};
use crate::{Account, Error, Identity, Result};

/// Groups per user.
pub(crate) const MAX_GROUPS_PER_USER: usize = 10;

fn same(a: &str, b: &str) -> bool {
    iam::folded(a) == iam::folded(b)
}

/// Groups per account (AWS's quota, `GroupsQuota`).
pub(crate) const MAX_GROUPS: usize = 300;

impl<S: Store> Identity<S> {
    pub async fn create_group(&self, account: &Account, path: Option<String>, name: &str) -> Result<GroupRecord> {
        validate_group_name(name)?;
        let path = path_or_root(path)?;
        let group = GroupRecord {
            principal: Principal {
                name: name.to_owned(),
                arn: Arn::group(account.id(), &path, name).to_string(),
                path,
                id: self.env.random.with(|r| unique_id(IdPrefix::Group, &mut &mut *r)),
                create_date: self.env.now_millis(),
                attached: Vec::new(),
                inline: Vec::new(),
            },
            members: Vec::new(),
        };
        let group = &group;
        update(&*self.store, |tx| async move {
            let key = entity::key(account, EntityKind::Group, name);
            if tx.read::<GroupRecord>(&key).await?.is_some() {
                return Err(Error::already_exists(format!("Group with name {} already exists.", name)));
            }
            if !iam::under_account_quota(&tx, account.ns(), iam::GROUP, MAX_GROUPS).await? {
                return Err(Error::quota("GroupsPerAccount", MAX_GROUPS));
            }
            tx.write(key, group);
            Ok(group.clone())
        })
        .await
    }

    /// `GetGroup`: the group and a page of its members.
    pub async fn get_group(
        &self,
        account: &Account,
        name: &str,
        page: &PageRequest,
    ) -> Result<(GroupRecord, Page<UserRecord>)> {
        let group: GroupRecord = iam::load(&*self.store, &entity::key(account, EntityKind::Group, name))
            .await?
            .ok_or_else(|| entity::not_found(EntityKind::Group, name))?;
        let mut members = group.members.clone();
        members.sort_by_key(|m| iam::folded(m));
        let members = paginate(members, page, |m| iam::folded(m))?;
        let mut users = Vec::with_capacity(members.items.len());
        for member in &members.items {
            // A member renamed or deleted between the two reads is skipped rather than failing the call.
            if let Some(user) = iam::load(&*self.store, &entity::key(account, EntityKind::User, member)).await? {
                users.push(user);
            }
        }
        Ok((group, Page { items: users, marker: members.marker }))
    }

    pub async fn list_groups(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<GroupRecord>> {
        let prefix = path_prefix(prefix)?;
        let groups = iam::scan_all::<S, GroupRecord>(&self.store, account.ns()).await?;
        let groups = groups.into_iter().filter(|(_, g)| g.principal.path.starts_with(&prefix)).collect();
        Ok(paginate(groups, page, |(k, _)| k.clone())?.map(|(_, g)| g))
    }

    pub async fn list_groups_for_user(
        &self,
        account: &Account,
        user: &str,
        page: &PageRequest,
    ) -> Result<Page<GroupRecord>> {
        let user = self.get_user(account, user).await?;
        let mut groups = Vec::new();
        for name in &user.groups {
            if let Some(group) = iam::load(&*self.store, &entity::key(account, EntityKind::Group, name)).await? {
                groups.push(group);
            }
        }
        groups.sort_by_key(|g: &GroupRecord| iam::folded(&g.principal.name));
        paginate(groups, page, |g| iam::folded(&g.principal.name))
    }

    /// `UpdateGroup`: a new path, a new name, or both; members and policy uses follow a rename.
    pub async fn update_group(
        &self,
        account: &Account,
        name: &str,
        new_path: Option<String>,
        new_name: Option<String>,
    ) -> Result<()> {
        let new_path = new_path.filter(|p| !p.is_empty());
        if let Some(path) = &new_path {
            validate_path(path)?;
        }
        let new_name = new_name.filter(|n| !n.is_empty());
        if let Some(new_name) = &new_name {
            validate_group_name(new_name)?;
        }
        let (new_path, new_name) = (&new_path, &new_name);
        update(&*self.store, |tx| async move {
            let mut group = entity::read_group(&tx, account, name).await?;
            let old = group.principal.name.clone();
            let renamed = new_name.clone().unwrap_or_else(|| old.clone());
            let path = new_path.clone().unwrap_or_else(|| group.principal.path.clone());
            if !same(&old, &renamed) {
                if tx.read::<GroupRecord>(&entity::key(account, EntityKind::Group, &renamed)).await?.is_some() {
                    return Err(Error::already_exists(format!("Group with name {renamed} already exists.")));
                }
                tx.delete(entity::key(account, EntityKind::Group, &old));
            }
            for member in &group.members {
                let mut user = entity::read_user(&tx, account, member).await?;
                for g in &mut user.groups {
                    if same(g, &old) {
                        renamed.clone_into(g);
                    }
                }
                entity::write(&tx, account, &AnyEntity::User(user));
            }
            entity::rename_in_uses(&tx, account, EntityKind::Group, &old, &renamed, &group.principal.attached.clone())
                .await?;
            group.principal.arn = Arn::group(account.id(), &path, &renamed).to_string();
            group.principal.name = renamed;
            group.principal.path = path;
            entity::write(&tx, account, &AnyEntity::Group(group));
            tx.bump_epoch(account.ns());
            Ok(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }

    pub async fn delete_group(&self, account: &Account, name: &str) -> Result<()> {
        update(&*self.store, |tx| async move {
            let group = entity::read_group(&tx, account, name).await?;
            let conflict = if !group.members.is_empty() {
                Some("must remove users from group first")
            } else if !group.principal.inline.is_empty() {
                Some("must delete policies first")
            } else if !group.principal.attached.is_empty() {
                Some("must detach all policies first")
            } else {
                None
            };
            if let Some(what) = conflict {
                return Err(Error::delete_conflict(format!("Cannot delete entity, {what}.")));
            }
            tx.delete(entity::key(account, EntityKind::Group, name));
            Ok(())
        })
        .await
    }

    /// `AddUserToGroup`: idempotent; the 11th group is `LimitExceeded`.
    pub async fn add_user_to_group(&self, account: &Account, group: &str, user: &str) -> Result<()> {
        let changed = update(&*self.store, |tx| async move {
            let mut g = entity::read_group(&tx, account, group).await?;
            let mut u = entity::read_user(&tx, account, user).await?;
            if u.groups.iter().any(|name| same(name, group)) {
                return Ok(false);
            }
            if u.groups.len() >= MAX_GROUPS_PER_USER {
                return Err(Error::quota("GroupsPerUser", MAX_GROUPS_PER_USER));
            }
            u.groups.push(g.principal.name.clone());
            g.members.push(u.principal.name.clone());
            entity::write(&tx, account, &AnyEntity::User(u));
            entity::write(&tx, account, &AnyEntity::Group(g));
            tx.bump_epoch(account.ns());
            Ok(true)
        })
        .await?;
        if changed {
            self.published(account).await;
        }
        Ok(())
    }

    /// `RemoveUserFromGroup`: a user who is not a member is `NoSuchEntity`.
    pub async fn remove_user_from_group(&self, account: &Account, group: &str, user: &str) -> Result<()> {
        update(&*self.store, |tx| async move {
            let mut g = entity::read_group(&tx, account, group).await?;
            let mut u = entity::read_user(&tx, account, user).await?;
            let before = u.groups.len();
            u.groups.retain(|name| !same(name, group));
            if u.groups.len() == before {
                return Err(Error::no_such_entity(format!(
                    "The user with name {user} cannot be found in group {group}."
                )));
            }
            g.members.retain(|name| !same(name, user));
            entity::write(&tx, account, &AnyEntity::User(u));
            entity::write(&tx, account, &AnyEntity::Group(g));
            tx.bump_epoch(account.ns());
            Ok(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }
}
