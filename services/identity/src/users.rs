//! Users: create, read, list, rename or move, delete (only once nothing hangs off them), and their
//! permissions boundary.

use tessera_arn::{Arn, IdPrefix, unique_id, validate_path, validate_user_name};
use tessera_store::iam::{self, AccessKeyIndexRecord, EntityKind, MfaDeviceRecord, Principal, Tag, UserRecord};
use tessera_store::{Key, Namespace, Store, update};

use crate::entity::{self, AnyEntity};
use crate::page::{Page, PageRequest, paginate};
use crate::{Account, Error, Identity, Result, tags};

/// `CreateUser`'s input.
#[derive(Debug, Clone, Default)]
pub struct CreateUser {
    pub path: Option<String>,
    pub user_name: String,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<Tag>,
}

/// Checks an optional path (default `/`).
pub(crate) fn path_or_root(path: Option<String>) -> Result<String> {
    let path = path.filter(|p| !p.is_empty()).unwrap_or_else(|| "/".to_owned());
    validate_path(&path)?;
    Ok(path)
}

/// Keeps the records whose path starts with `prefix` (`/` when none is given).
pub(crate) fn path_prefix(prefix: Option<&str>) -> Result<String> {
    let prefix = prefix.filter(|p| !p.is_empty()).unwrap_or("/");
    if prefix.len() > 512 || !prefix.starts_with('/') || !prefix.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c)) {
        return Err(Error::new(
            tessera_proto::error::ErrorCode::ValidationError,
            format!(
                "1 validation error detected: Value '{prefix}' at 'pathPrefix' failed to satisfy constraint: Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*"
            ),
        ));
    }
    Ok(prefix.to_owned())
}

/// Users per account (AWS's default quota, `UsersQuota` in `GetAccountSummary`).
pub(crate) const MAX_USERS: usize = 5000;

impl<S: Store> Identity<S> {
    pub async fn create_user(&self, account: &Account, input: CreateUser) -> Result<UserRecord> {
        validate_user_name(&input.user_name)?;
        let path = path_or_root(input.path)?;
        let tags = tags::new_tags(input.tags, "TagsPerUser")?;
        let id = self.env.random.with(|r| unique_id(IdPrefix::User, &mut &mut *r));
        let now = self.env.now_millis();
        let name = input.user_name;
        let user = UserRecord {
            principal: Principal {
                arn: Arn::user(account.id(), &path, &name).to_string(),
                name,
                path,
                id,
                create_date: now,
                attached: Vec::new(),
                inline: Vec::new(),
            },
            boundary: None,
            tags,
            groups: Vec::new(),
            access_keys: Vec::new(),
            login_profile: None,
            mfa_devices: Vec::new(),
            signing_certificates: Vec::new(),
            ssh_public_keys: Vec::new(),
            service_credentials: Vec::new(),
            password_last_used: None,
        };
        let (user, boundary) = (&user, input.permissions_boundary.as_deref());
        let created = update(&*self.store, |tx| async move {
            let key = entity::key(account, EntityKind::User, &user.principal.name);
            if tx.read::<UserRecord>(&key).await?.is_some() {
                return Err(Error::already_exists(format!("User with name {} already exists.", user.principal.name)));
            }
            if !iam::under_account_quota(&tx, account.ns(), iam::USER, MAX_USERS).await? {
                return Err(Error::quota("UsersPerAccount", MAX_USERS));
            }
            let mut entity = AnyEntity::User(user.clone());
            if boundary.is_some() {
                entity::set_boundary(&tx, account, &mut entity, boundary).await?;
                tx.bump_epoch(account.ns());
            }
            entity::write(&tx, account, &entity);
            let AnyEntity::User(user) = entity else { unreachable!("a user stays a user") };
            Ok(user)
        })
        .await?;
        if created.boundary.is_some() {
            self.published(account).await;
        }
        Ok(created)
    }

    #[tracing::instrument(name = "identity.get_user", skip_all)]
    pub async fn get_user(&self, account: &Account, name: &str) -> Result<UserRecord> {
        iam::load(&*self.store, &entity::key(account, EntityKind::User, name))
            .await?
            .ok_or_else(|| entity::not_found(EntityKind::User, name))
    }

    pub async fn list_users(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<UserRecord>> {
        let prefix = path_prefix(prefix)?;
        let users = iam::scan_all::<S, UserRecord>(&self.store, account.ns()).await?;
        let users = users.into_iter().filter(|(_, u)| u.principal.path.starts_with(&prefix)).collect();
        Ok(paginate(users, page, |(k, _)| k.clone())?.map(|(_, u)| u))
    }

    /// `UpdateUser`: a new path, a new name, or both. Renaming carries every relation along.
    pub async fn update_user(
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
            validate_user_name(new_name)?;
        }
        let (new_path, new_name) = (&new_path, &new_name);
        let keys = update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, name).await?;
            let old_name = user.principal.name.clone();
            let renamed = new_name.clone().unwrap_or_else(|| old_name.clone());
            let path = new_path.clone().unwrap_or_else(|| user.principal.path.clone());
            let name_key_changes = iam::folded(&renamed) != iam::folded(&old_name);
            if name_key_changes
                && tx.read::<UserRecord>(&entity::key(account, EntityKind::User, &renamed)).await?.is_some()
            {
                return Err(Error::already_exists(format!("User with name {renamed} already exists.")));
            }
            for group in &user.groups {
                let mut record = entity::read_group(&tx, account, group).await?;
                for member in &mut record.members {
                    if iam::folded(member) == iam::folded(&old_name) {
                        renamed.clone_into(member);
                    }
                }
                entity::write(&tx, account, &AnyEntity::Group(record));
            }
            let policies: Vec<String> = user.principal.attached.iter().chain(&user.boundary).cloned().collect();
            entity::rename_in_uses(&tx, account, EntityKind::User, &old_name, &renamed, &policies).await?;
            for serial in &user.mfa_devices {
                if let Some(key) = mfa_key(account, serial)
                    && let Some(mut device) = tx.read::<MfaDeviceRecord>(&key).await?
                {
                    device.user = Some(renamed.clone());
                    tx.write(key, &device);
                }
            }
            if name_key_changes {
                tx.delete(entity::key(account, EntityKind::User, &old_name));
            }
            user.principal.arn = Arn::user(account.id(), &path, &renamed).to_string();
            user.principal.name = renamed;
            user.principal.path = path;
            entity::write(&tx, account, &AnyEntity::User(user.clone()));
            tx.bump_epoch(account.ns());
            Ok(user.access_keys.iter().map(|k| k.id.clone()).collect::<Vec<_>>())
        })
        .await?;
        // The global key index names the user: point it at the new name. It is a hint (the user
        // record is the authority), so a failure here is logged, not returned.
        if let Some(renamed) = new_name {
            for key in keys {
                let index =
                    AccessKeyIndexRecord { account: account.id().to_owned(), user: renamed.clone(), root: false };
                if let Err(error) = iam::put_blind(&*self.store, access_key_index(&key), &index).await {
                    tracing::warn!(%error, access_key_id = %key, "failed to update the access key index");
                }
            }
            // So does the service-specific credentials' index (issue 14, part B).
            if let Ok(user) = self.get_user(account, renamed).await {
                self.rename_service_credential_index(account, &user).await;
            }
        }
        self.published(account).await;
        Ok(())
    }

    /// `DeleteUser`: refused with `DeleteConflict` while anything still hangs off the user.
    pub async fn delete_user(&self, account: &Account, name: &str) -> Result<()> {
        update(&*self.store, |tx| async move {
            let user = entity::read_user(&tx, account, name).await?;
            let conflict = if user.login_profile.is_some() {
                Some("must delete login profile first")
            } else if !user.access_keys.is_empty() {
                Some("must delete access keys first")
            } else if !user.signing_certificates.is_empty() {
                Some("must delete signing certificates first")
            } else if !user.ssh_public_keys.is_empty() {
                Some("must delete SSH public keys first")
            } else if !user.service_credentials.is_empty() {
                Some("must delete service specific credentials first")
            } else if !user.mfa_devices.is_empty() {
                Some("must delete MFA device first")
            } else if !user.principal.inline.is_empty() {
                Some("must delete policies first")
            } else if !user.principal.attached.is_empty() {
                Some("must detach all policies first")
            } else if !user.groups.is_empty() {
                Some("must remove user from all groups first")
            } else {
                None
            };
            if let Some(what) = conflict {
                return Err(Error::delete_conflict(format!("Cannot delete entity, {what}.")));
            }
            let mut entity = AnyEntity::User(user);
            entity::set_boundary(&tx, account, &mut entity, None).await?;
            tx.delete(entity::key(account, EntityKind::User, name));
            tx.bump_epoch(account.ns());
            Ok(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }

    /// `Put{User,Role}PermissionsBoundary` (with `Some`) and `Delete…PermissionsBoundary` (`None`).
    pub async fn set_permissions_boundary(
        &self,
        account: &Account,
        kind: EntityKind,
        name: &str,
        boundary: Option<&str>,
    ) -> Result<()> {
        if kind == EntityKind::Group {
            return Err(Error::invalid_input("Groups cannot have a permissions boundary."));
        }
        update(&*self.store, |tx| async move {
            let mut entity = entity::read(&tx, account, kind, name).await?;
            crate::service_linked::check_modifiable(&entity)?;
            if boundary.is_none() && entity.boundary_mut().is_some_and(|b| b.is_none()) {
                return Err(Error::no_such_entity(format!(
                    "The {} with name {name} does not have a permissions boundary.",
                    entity::noun(kind)
                )));
            }
            entity::set_boundary(&tx, account, &mut entity, boundary).await?;
            entity::write(&tx, account, &entity);
            tx.bump_epoch(account.ns());
            Ok(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }
}

/// The global index entry of an access key.
pub(crate) fn access_key_index(key_id: &str) -> Key {
    Key::new(&Namespace::global(), iam::ACCESS_KEY, key_id)
}

/// The record key of a virtual MFA device given its serial (`arn:aws:iam::ACCT:mfa/path/name`).
pub(crate) fn mfa_key(account: &Account, serial: &str) -> Option<Key> {
    let name = serial.strip_prefix("arn:")?.rsplit('/').next()?;
    Some(iam::named(account.ns(), iam::MFA, name))
}
