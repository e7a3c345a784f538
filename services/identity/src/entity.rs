//! Users, groups and roles as one thing where the logic is the same: reading them by kind and name
//! inside a transaction, their AWS "not found" wording, and resolving the managed policies they
//! refer to (their own account's, or AWS's).

use tessera_arn::{Arn, IamEntity};
use tessera_store::iam::{
    self, EntityKind, GroupRecord, POLICY, POLICY_USE, PolicyRecord, PolicyUseRecord, Principal, RoleRecord, UserRecord,
};
use tessera_store::{Key, Namespace, Store, Tx};

use crate::{Account, Error, Result};

/// The account AWS-managed policies live in.
pub const AWS_ACCOUNT: &str = "aws";

/// The namespace of AWS-managed policies.
pub fn aws_namespace() -> Namespace {
    // "aws" is a valid namespace tag (letters only), so this cannot fail.
    Namespace::account(AWS_ACCOUNT).unwrap_or_else(|_| Namespace::global())
}

pub fn noun(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::User => "user",
        EntityKind::Group => "group",
        EntityKind::Role => "role",
    }
}

/// AWS's wording: `The user with name X cannot be found.`
pub fn not_found(kind: EntityKind, name: &str) -> Error {
    Error::no_such_entity(format!("The {} with name {name} cannot be found.", noun(kind)))
}

pub fn key(account: &Account, kind: EntityKind, name: &str) -> Key {
    let record_kind = match kind {
        EntityKind::User => iam::USER,
        EntityKind::Group => iam::GROUP,
        EntityKind::Role => iam::ROLE,
    };
    iam::named(account.ns(), record_kind, name)
}

/// A user, group or role record, for operations that treat them alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyEntity {
    User(UserRecord),
    Group(GroupRecord),
    Role(RoleRecord),
}

impl AnyEntity {
    pub fn kind(&self) -> EntityKind {
        match self {
            Self::User(_) => EntityKind::User,
            Self::Group(_) => EntityKind::Group,
            Self::Role(_) => EntityKind::Role,
        }
    }

    pub fn principal(&self) -> &Principal {
        match self {
            Self::User(r) => &r.principal,
            Self::Group(r) => &r.principal,
            Self::Role(r) => &r.principal,
        }
    }

    pub fn principal_mut(&mut self) -> &mut Principal {
        match self {
            Self::User(r) => &mut r.principal,
            Self::Group(r) => &mut r.principal,
            Self::Role(r) => &mut r.principal,
        }
    }

    /// The permissions boundary slot (groups have none).
    pub fn boundary_mut(&mut self) -> Option<&mut Option<String>> {
        match self {
            Self::User(r) => Some(&mut r.boundary),
            Self::Group(_) => None,
            Self::Role(r) => Some(&mut r.boundary),
        }
    }
}

/// Reads a user, group or role in `tx`, or fails with AWS's `NoSuchEntity`.
pub async fn read<S: Store + ?Sized>(
    tx: &Tx<'_, S>,
    account: &Account,
    kind: EntityKind,
    name: &str,
) -> Result<AnyEntity> {
    let key = key(account, kind, name);
    let entity = match kind {
        EntityKind::User => tx.read::<UserRecord>(&key).await?.map(AnyEntity::User),
        EntityKind::Group => tx.read::<GroupRecord>(&key).await?.map(AnyEntity::Group),
        EntityKind::Role => tx.read::<RoleRecord>(&key).await?.map(AnyEntity::Role),
    };
    entity.ok_or_else(|| not_found(kind, name))
}

/// Writes back an entity read with [`read`] (its key follows from its name).
pub fn write<S: Store + ?Sized>(tx: &Tx<'_, S>, account: &Account, entity: &AnyEntity) {
    let key = key(account, entity.kind(), &entity.principal().name);
    match entity {
        AnyEntity::User(r) => tx.write(key, r),
        AnyEntity::Group(r) => tx.write(key, r),
        AnyEntity::Role(r) => tx.write(key, r),
    }
}

pub async fn read_user<S: Store + ?Sized>(tx: &Tx<'_, S>, account: &Account, name: &str) -> Result<UserRecord> {
    tx.read(&key(account, EntityKind::User, name)).await?.ok_or_else(|| not_found(EntityKind::User, name))
}

pub async fn read_group<S: Store + ?Sized>(tx: &Tx<'_, S>, account: &Account, name: &str) -> Result<GroupRecord> {
    tx.read(&key(account, EntityKind::Group, name)).await?.ok_or_else(|| not_found(EntityKind::Group, name))
}

pub async fn read_role<S: Store + ?Sized>(tx: &Tx<'_, S>, account: &Account, name: &str) -> Result<RoleRecord> {
    tx.read(&key(account, EntityKind::Role, name)).await?.ok_or_else(|| not_found(EntityKind::Role, name))
}

/// Where a managed policy ARN points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRef {
    /// True for `arn:aws:iam::aws:policy/...`.
    pub aws_managed: bool,
    pub path: String,
    pub name: String,
}

impl PolicyRef {
    /// The key of the account's record of where this policy is used.
    pub fn use_key(&self, account: &Account) -> Key {
        let scope = if self.aws_managed { "aws" } else { "local" };
        Key::new(account.ns(), POLICY_USE, &format!("{scope}:{}", iam::folded(&self.name)))
    }

    /// The key of the policy record (in the `aws` namespace for AWS-managed policies).
    pub fn key(&self, account: &Account) -> Key {
        if self.aws_managed {
            iam::named(&aws_namespace(), POLICY, &self.name)
        } else {
            iam::named(account.ns(), POLICY, &self.name)
        }
    }
}

fn not_attachable(arn: &str) -> Error {
    Error::no_such_entity(format!("Policy {arn} does not exist or is not attachable."))
}

/// Parses a managed policy ARN of this account or of AWS; anything else cannot be attached here.
pub fn parse_policy_arn(account: &Account, arn: &str) -> Result<PolicyRef> {
    let parsed = Arn::parse(arn).map_err(|_| Error::invalid_input(format!("ARN {arn} is not valid.")))?;
    let Ok(IamEntity::Policy { path, name }) = parsed.entity() else {
        return Err(Error::invalid_input(format!("ARN {arn} is not valid.")));
    };
    let aws_managed = parsed.account == AWS_ACCOUNT;
    if !aws_managed && parsed.account != account.id() {
        return Err(not_attachable(arn));
    }
    Ok(PolicyRef { aws_managed, path, name })
}

/// Resolves a managed policy ARN to its record: the account's own (read in `tx`, so the commit fails
/// if it is deleted meanwhile) or AWS's (read outside `tx`: AWS policies never change, and a
/// transaction must stay in one namespace).
pub async fn resolve_policy<S: Store + ?Sized>(
    tx: &Tx<'_, S>,
    account: &Account,
    arn: &str,
) -> Result<(PolicyRef, PolicyRecord)> {
    let policy = parse_policy_arn(account, arn)?;
    let key = policy.key(account);
    let record: Option<PolicyRecord> =
        if policy.aws_managed { iam::load(tx.store(), &key).await? } else { tx.read(&key).await? };
    match record {
        Some(record) if record.path == policy.path => Ok((policy, record)),
        _ => Err(not_attachable(arn)),
    }
}

/// Reads the use record of a policy (empty when it has none yet).
pub async fn read_use<S: Store + ?Sized>(
    tx: &Tx<'_, S>,
    account: &Account,
    policy: &PolicyRef,
) -> Result<PolicyUseRecord> {
    Ok(tx.read(&policy.use_key(account)).await?.unwrap_or_default())
}

/// Writes a use record back, deleting it when nothing uses the policy any more.
pub fn write_use<S: Store + ?Sized>(tx: &Tx<'_, S>, account: &Account, policy: &PolicyRef, record: &PolicyUseRecord) {
    if record.attached.is_empty() && record.boundary_of.is_empty() {
        tx.delete(policy.use_key(account));
    } else {
        tx.write(policy.use_key(account), record);
    }
}

/// Sets (or with `None`, clears) the permissions boundary of a user or role read in `tx`, keeping the
/// policies' use records in step. The caller writes the entity and bumps the epoch.
pub async fn set_boundary<S: Store + ?Sized>(
    tx: &Tx<'_, S>,
    account: &Account,
    entity: &mut AnyEntity,
    boundary: Option<&str>,
) -> Result<()> {
    let kind = entity.kind();
    let name = entity.principal().name.clone();
    let new = match boundary {
        Some(arn) => Some(resolve_policy(tx, account, arn).await?),
        None => None,
    };
    let Some(slot) = entity.boundary_mut() else {
        return Err(Error::invalid_input("Groups cannot have a permissions boundary."));
    };
    if let Some(old) = slot.take() {
        // The old policy may be gone already (it cannot be deleted while in use, but be lenient).
        if let Ok(old) = parse_policy_arn(account, &old) {
            let mut uses = read_use(tx, account, &old).await?;
            uses.boundary_of.retain(|(k, n)| !(*k == kind && iam::folded(n) == iam::folded(&name)));
            write_use(tx, account, &old, &uses);
        }
    }
    if let Some((policy, record)) = new {
        let mut uses = read_use(tx, account, &policy).await?;
        uses.boundary_of.push((kind, name));
        write_use(tx, account, &policy, &uses);
        *slot = Some(record.arn);
    }
    Ok(())
}

/// Renames an entity in the use records of every policy it is attached to or bounded by.
pub async fn rename_in_uses<S: Store + ?Sized>(
    tx: &Tx<'_, S>,
    account: &Account,
    kind: EntityKind,
    old: &str,
    new: &str,
    policies: &[String],
) -> Result<()> {
    for arn in policies {
        let Ok(policy) = parse_policy_arn(account, arn) else { continue };
        let mut uses = read_use(tx, account, &policy).await?;
        for (k, n) in uses.attached.iter_mut().chain(uses.boundary_of.iter_mut()) {
            if *k == kind && iam::folded(n) == iam::folded(old) {
                new.clone_into(n);
            }
        }
        write_use(tx, account, &policy, &uses);
    }
    Ok(())
}
