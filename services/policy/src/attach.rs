//! Attaching managed policies to users, groups and roles: at most 10 per entity, idempotent, and
//! written on both sides (the entity's `attached`, the policy's use record) in one transaction.

use tessera_arn::{Arn, IamEntity};
use tessera_identity::entity;
use tessera_identity::page::paginate;
use tessera_identity::{Account, Error, Page, PageRequest, Result};
use tessera_store::iam::{self, EntityKind, PolicyUseRecord};
use tessera_store::{Store, update};

use crate::policies::{PolicyUsage, policy_not_found, policy_ref};
use crate::{Policies, path_prefix, same_name};

/// Managed policies per user, group or role (reference §2.6: 10 each by default; AWS lets the role
/// quota be raised, Tessera does not).
pub const MAX_ATTACHED_POLICIES: usize = 10;

/// AWS's `AttachedPolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedPolicy {
    pub policy_name: String,
    pub policy_arn: String,
}

/// A user, group or role that uses a managed policy (AWS's `PolicyUser`, `PolicyGroup`, `PolicyRole`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyEntity {
    pub kind: EntityKind,
    pub name: String,
    pub id: String,
}

/// `ListEntitiesForPolicy`'s `EntityFilter` (AWS's `EntityType`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EntityFilter {
    #[default]
    All,
    User,
    Group,
    Role,
    /// Accepted because the AWS enum has it; a policy is never attached to a policy, so it lists
    /// nothing.
    LocalManagedPolicy,
    /// As [`EntityFilter::LocalManagedPolicy`].
    AwsManagedPolicy,
}

impl EntityFilter {
    fn keeps(self, kind: EntityKind) -> bool {
        match self {
            Self::All => true,
            Self::User => kind == EntityKind::User,
            Self::Group => kind == EntityKind::Group,
            Self::Role => kind == EntityKind::Role,
            Self::LocalManagedPolicy | Self::AwsManagedPolicy => false,
        }
    }
}

fn quota(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::User => "PoliciesPerUser",
        EntityKind::Group => "PoliciesPerGroup",
        EntityKind::Role => "PoliciesPerRole",
    }
}

/// Whether a stored attachment (`attached`, a canonical ARN) names the same policy as `arn`:
/// same owner, same path, same name up to case.
fn names_policy(account: &Account, attached: &str, target: &entity::PolicyRef) -> bool {
    entity::parse_policy_arn(account, attached)
        .is_ok_and(|p| p.aws_managed == target.aws_managed && p.path == target.path && same_name(&p.name, &target.name))
}

/// The marker of an entity in `ListEntitiesForPolicy`: groups, then roles, then users, by name.
fn entity_marker(kind: EntityKind, name: &str) -> String {
    format!("{}:{}", entity::noun(kind), iam::folded(name))
}

impl<S: Store> Policies<S> {
    /// `Attach{User,Group,Role}Policy`: idempotent; the 11th policy is `LimitExceeded`.
    pub async fn attach_policy(&self, account: &Account, kind: EntityKind, name: &str, arn: &str) -> Result<()> {
        let changed = update(&*self.store, |tx| async move {
            let mut entity = entity::read(&tx, account, kind, name).await?;
            // A service-linked role's policies are only the service's to change.
            tessera_identity::service_linked::check_modifiable(&entity)?;
            let (policy, record) = entity::resolve_policy(&tx, account, arn).await?;
            let attached = &entity.principal().attached;
            if attached.contains(&record.arn) {
                return Ok(false);
            }
            // INVARIANT: the limit is checked on the entity record this transaction writes, so two
            // concurrent attachments cannot both take the tenth slot.
            if attached.len() >= MAX_ATTACHED_POLICIES {
                return Err(Error::quota(quota(kind), MAX_ATTACHED_POLICIES));
            }
            entity.principal_mut().attached.push(record.arn);
            let mut uses = entity::read_use(&tx, account, &policy).await?;
            uses.attached.push((kind, entity.principal().name.clone()));
            entity::write(&tx, account, &entity);
            entity::write_use(&tx, account, &policy, &uses);
            tx.bump_epoch(account.ns());
            Ok(true)
        })
        .await?;
        if changed {
            self.published(account).await;
        }
        Ok(())
    }

    /// `Detach{User,Group,Role}Policy`: a policy that is not attached is `NoSuchEntity`.
    pub async fn detach_policy(&self, account: &Account, kind: EntityKind, name: &str, arn: &str) -> Result<()> {
        let target = &policy_ref(account, arn)?;
        update(&*self.store, |tx| async move {
            let mut entity = entity::read(&tx, account, kind, name).await?;
            // A service-linked role's policies are only the service's to change.
            tessera_identity::service_linked::check_modifiable(&entity)?;
            let Some(index) = entity.principal().attached.iter().position(|a| names_policy(account, a, target)) else {
                return Err(policy_not_found(arn));
            };
            entity.principal_mut().attached.remove(index);
            let entity_name = entity.principal().name.clone();
            let mut uses = entity::read_use(&tx, account, target).await?;
            uses.attached.retain(|(k, n)| !(*k == kind && same_name(n, &entity_name)));
            entity::write(&tx, account, &entity);
            entity::write_use(&tx, account, target, &uses);
            tx.bump_epoch(account.ns());
            Ok(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }

    /// `ListAttached{User,Group,Role}Policies`, in ARN order, filtered by the policies' path.
    pub async fn list_attached_policies(
        &self,
        account: &Account,
        kind: EntityKind,
        name: &str,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AttachedPolicy>> {
        let prefix = path_prefix(prefix)?;
        let entity = self.load_entity(account, kind, name).await?;
        let mut attached: Vec<AttachedPolicy> = entity
            .principal()
            .attached
            .iter()
            .filter_map(|arn| match Arn::parse(arn).ok()?.entity().ok()? {
                IamEntity::Policy { path, name } if path.starts_with(&prefix) => {
                    Some(AttachedPolicy { policy_name: name, policy_arn: arn.clone() })
                }
                _ => None,
            })
            .collect();
        attached.sort_by_key(|p| p.policy_arn.to_ascii_lowercase());
        paginate(attached, page, |p| p.policy_arn.to_ascii_lowercase())
    }

    /// `ListEntitiesForPolicy`: the users, groups and roles of this account that use the policy,
    /// attached (`PermissionsPolicy`), as their boundary (`PermissionsBoundary`), or either (no
    /// usage filter).
    pub async fn list_entities_for_policy(
        &self,
        account: &Account,
        arn: &str,
        filter: EntityFilter,
        prefix: Option<&str>,
        usage: Option<PolicyUsage>,
        page: &PageRequest,
    ) -> Result<Page<PolicyEntity>> {
        let prefix = path_prefix(prefix)?;
        let (policy, _) = self.load_policy(account, arn).await?;
        let uses: PolicyUseRecord = iam::load(&*self.store, &policy.use_key(account)).await?.unwrap_or_default();
        let mut refs: Vec<(EntityKind, String)> = match usage {
            Some(PolicyUsage::PermissionsPolicy) => uses.attached,
            Some(PolicyUsage::PermissionsBoundary) => uses.boundary_of,
            None => uses.attached.into_iter().chain(uses.boundary_of).collect(),
        };
        refs.retain(|(kind, _)| filter.keeps(*kind));
        refs.sort_by_key(|(kind, name)| entity_marker(*kind, name));
        refs.dedup_by_key(|(kind, name)| entity_marker(*kind, name));
        let mut entities = Vec::with_capacity(refs.len());
        for (kind, name) in refs {
            // An entity deleted between the two reads is skipped rather than failing the call.
            let entity = match self.load_entity(account, kind, &name).await {
                Ok(entity) => entity,
                Err(error) if error.code() == tessera_proto::error::ErrorCode::NoSuchEntity => continue,
                Err(error) => return Err(error),
            };
            let principal = entity.principal();
            if principal.path.starts_with(&prefix) {
                entities.push(PolicyEntity { kind, name: principal.name.clone(), id: principal.id.clone() });
            }
        }
        paginate(entities, page, |e| entity_marker(e.kind, &e.name))
    }
}
