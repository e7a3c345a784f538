//! Roles: a trust policy (validated as one, at most 2,048 characters without white space), a
//! maximum session duration of 1 to 12 hours, a description, and a permissions boundary.

use tessera_arn::{Arn, IdPrefix, ValidationError, Violation, unique_id, validate_description, validate_role_name};
use tessera_policy::{PolicyKind, check_size, parse_policy};
use tessera_store::iam::{self, EntityKind, Principal, ROLE_USED, RoleLastUsed, RoleRecord, Tag};
use tessera_store::{Key, Store, update};

use crate::entity::{self, AnyEntity};
use crate::page::{Page, PageRequest, paginate};
use crate::users::{path_or_root, path_prefix};
use crate::{Account, Error, Identity, Result, service_linked, tags};

/// `MaxSessionDuration` bounds and default, in seconds.
pub(crate) const MIN_SESSION_DURATION: u32 = 3600;
pub(crate) const MAX_SESSION_DURATION: u32 = 43_200;

/// `CreateRole`'s input.
#[derive(Debug, Clone, Default)]
pub struct CreateRole {
    pub path: Option<String>,
    pub role_name: String,
    pub assume_role_policy_document: String,
    pub description: Option<String>,
    pub max_session_duration: Option<i32>,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<Tag>,
}

/// The key of the record of when a role was last used: by unique id, so a role deleted and
/// created again under the same name starts unused.
pub(crate) fn role_used(account: &Account, role_id: &str) -> Key {
    Key::new(account.ns(), ROLE_USED, role_id)
}

/// Validates a trust policy as AWS does on write: size first, then the grammar of a trust policy.
pub(crate) fn check_trust_policy(document: &str) -> Result<tessera_policy::Policy> {
    check_size(document, PolicyKind::Trust)?;
    Ok(parse_policy(document, PolicyKind::Trust)?)
}

/// The user and role ARNs a trust policy names under `"AWS"`.
fn named_principals(policy: &tessera_policy::Policy) -> Vec<String> {
    use tessera_policy::{PrincipalType, PrincipalValue};
    let mut arns = Vec::new();
    for statement in policy.statements.as_slice() {
        let Some(PrincipalValue::Map(map)) = statement.principal.as_ref().map(|p| &p.value) else { continue };
        for (kind, names) in map {
            if *kind == PrincipalType::Aws {
                arns.extend(names.as_slice().iter().filter(|n| n.contains(":user/") || n.contains(":role/")).cloned());
            }
        }
    }
    arns
}

fn session_duration(value: Option<i32>) -> Result<u32> {
    let Some(value) = value else { return Ok(MIN_SESSION_DURATION) };
    let violation = if i64::from(value) < i64::from(MIN_SESSION_DURATION) {
        Violation::MinValue(MIN_SESSION_DURATION.into())
    } else if i64::from(value) > i64::from(MAX_SESSION_DURATION) {
        Violation::MaxValue(MAX_SESSION_DURATION.into())
    } else {
        return Ok(value.unsigned_abs());
    };
    Err(ValidationError { field: "maxSessionDuration", value: value.to_string(), violations: vec![violation] }.into())
}

/// Roles per account, service-linked ones included (AWS's default quota, `RolesQuota`).
pub(crate) const MAX_ROLES: usize = 1000;

impl<S: Store> Identity<S> {
    /// The unique ids of the users and roles a trust policy names, as AWS records them on write.
    /// A principal of an account Tessera holds that does not exist makes the policy invalid, as on
    /// AWS (`Invalid principal in policy`); principals of accounts it does not hold are kept by ARN.
    pub(crate) async fn trust_principal_ids(&self, policy: &tessera_policy::Policy) -> Result<Vec<(String, String)>> {
        let mut ids = Vec::new();
        for arn in named_principals(policy) {
            let invalid = || {
                Error::new(
                    tessera_proto::ErrorCode::MalformedPolicyDocument,
                    format!("Invalid principal in policy: \"AWS\":\"{arn}\""),
                )
            };
            let Ok(parsed) = Arn::parse(&arn) else { return Err(invalid()) };
            let Ok(owner) = Account::new(&parsed.account) else { continue };
            let registered = iam::load::<S, iam::AccountRecord>(
                &*self.store,
                &tessera_store::Key::new(owner.ns(), iam::ACCOUNT, ""),
            )
            .await?
            .is_some();
            if !registered {
                continue;
            }
            let found = match parsed.entity() {
                Ok(tessera_arn::IamEntity::User { name, .. }) => {
                    iam::load::<S, iam::UserRecord>(&*self.store, &entity::key(&owner, EntityKind::User, &name))
                        .await?
                        .map(|u| u.principal)
                }
                Ok(tessera_arn::IamEntity::Role { name, .. }) => {
                    iam::load::<S, RoleRecord>(&*self.store, &entity::key(&owner, EntityKind::Role, &name))
                        .await?
                        .map(|r| r.principal)
                }
                _ => None,
            };
            match found {
                Some(principal) if principal.arn == arn => ids.push((arn, principal.id)),
                _ => return Err(invalid()),
            }
        }
        Ok(ids)
    }

    pub async fn create_role(&self, account: &Account, input: CreateRole) -> Result<RoleRecord> {
        // The reserved path marks service-linked roles, which only CreateServiceLinkedRole makes.
        if input.path.as_deref().is_some_and(|p| p.starts_with(service_linked::SERVICE_ROLE_PATH)) {
            return Err(Error::invalid_input(format!(
                "The path prefix {} is reserved for service-linked roles.",
                service_linked::SERVICE_ROLE_PATH
            )));
        }
        self.insert_role(account, input).await
    }

    /// Validates and stores a new role (`CreateRole` and `CreateServiceLinkedRole`).
    pub(crate) async fn insert_role(&self, account: &Account, input: CreateRole) -> Result<RoleRecord> {
        validate_role_name(&input.role_name)?;
        let path = path_or_root(input.path)?;
        if let Some(description) = &input.description {
            validate_description(description)?;
        }
        let max_session_duration = session_duration(input.max_session_duration)?;
        let tags = tags::new_tags(input.tags, "TagsPerRole")?;
        let trust = check_trust_policy(&input.assume_role_policy_document)?;
        let trust_principal_ids = self.trust_principal_ids(&trust).await?;
        let name = input.role_name;
        let role = RoleRecord {
            principal: Principal {
                arn: Arn::role(account.id(), &path, &name).to_string(),
                name,
                path,
                id: self.env.random.with(|r| unique_id(IdPrefix::Role, &mut &mut *r)),
                create_date: self.env.now_millis(),
                attached: Vec::new(),
                inline: Vec::new(),
            },
            trust_policy: input.assume_role_policy_document,
            description: input.description.filter(|d| !d.is_empty()),
            max_session_duration,
            boundary: None,
            tags,
            last_used: None,
            trust_principal_ids,
            instance_profiles: Vec::new(),
        };
        let (role, boundary) = (&role, input.permissions_boundary.as_deref());
        let created = update(&*self.store, |tx| async move {
            let key = entity::key(account, EntityKind::Role, &role.principal.name);
            if tx.read::<RoleRecord>(&key).await?.is_some() {
                return Err(Error::already_exists(format!("Role with name {} already exists.", role.principal.name)));
            }
            if !iam::under_account_quota(&tx, account.ns(), iam::ROLE, MAX_ROLES).await? {
                return Err(Error::quota("RolesPerAccount", MAX_ROLES));
            }
            let mut entity = AnyEntity::Role(role.clone());
            entity::set_boundary(&tx, account, &mut entity, boundary).await?;
            entity::write(&tx, account, &entity);
            // A new role changes what its trust policy lets others do (AssumeRole).
            tx.bump_epoch(account.ns());
            let AnyEntity::Role(role) = entity else { unreachable!("a role stays a role") };
            Ok(role)
        })
        .await?;
        self.published(account).await;
        Ok(created)
    }

    #[tracing::instrument(name = "identity.get_role", skip_all)]
    pub async fn get_role(&self, account: &Account, name: &str) -> Result<RoleRecord> {
        let mut role: RoleRecord = iam::load(&*self.store, &entity::key(account, EntityKind::Role, name))
            .await?
            .ok_or_else(|| entity::not_found(EntityKind::Role, name))?;
        role.last_used = iam::load(&*self.store, &role_used(account, &role.principal.id)).await?;
        Ok(role)
    }

    /// Records that a session of the role with unique id `role_id` just made a request in
    /// `region` (`RoleLastUsed`). A blind write of the role's own `role-used` record, so it never
    /// conflicts with changes to the role; the gateway calls it at most once a minute per role.
    pub async fn record_role_use(&self, account: &Account, role_id: &str, region: &str) -> Result<()> {
        let record = RoleLastUsed { date: self.env.now_millis(), region: region.to_owned() };
        iam::put_blind(&*self.store, role_used(account, role_id), &record).await?;
        Ok(())
    }

    pub async fn list_roles(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<RoleRecord>> {
        let prefix = path_prefix(prefix)?;
        let roles = iam::scan_all::<S, RoleRecord>(&self.store, account.ns()).await?;
        let roles = roles.into_iter().filter(|(_, r)| r.principal.path.starts_with(&prefix)).collect();
        Ok(paginate(roles, page, |(k, _)| k.clone())?.map(|(_, r)| r))
    }

    /// `UpdateRole`: description and maximum session duration (each only when given).
    pub async fn update_role(
        &self,
        account: &Account,
        name: &str,
        description: Option<String>,
        max_session_duration: Option<i32>,
    ) -> Result<()> {
        if let Some(description) = &description {
            validate_description(description)?;
        }
        let duration = match max_session_duration {
            Some(_) => Some(session_duration(max_session_duration)?),
            None => None,
        };
        let description = &description;
        update(&*self.store, |tx| async move {
            let mut role = entity::read_role(&tx, account, name).await?;
            if let Some(description) = description {
                role.description = Some(description.clone()).filter(|d| !d.is_empty());
            }
            if let Some(duration) = duration {
                role.max_session_duration = duration;
            }
            entity::write(&tx, account, &AnyEntity::Role(role));
            Ok(())
        })
        .await
    }

    /// `UpdateAssumeRolePolicy`: replaces the trust policy.
    pub async fn update_assume_role_policy(&self, account: &Account, name: &str, document: &str) -> Result<()> {
        let trust = check_trust_policy(document)?;
        let ids = &self.trust_principal_ids(&trust).await?;
        update(&*self.store, |tx| async move {
            let mut role = entity::read_role(&tx, account, name).await?;
            service_linked::check_role(&role)?;
            document.clone_into(&mut role.trust_policy);
            role.trust_principal_ids.clone_from(ids);
            entity::write(&tx, account, &AnyEntity::Role(role));
            tx.bump_epoch(account.ns());
            Ok::<_, Error>(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }

    /// `DeleteRole`: refused while the role is in an instance profile or has inline or attached
    /// policies, and for a service-linked role.
    pub async fn delete_role(&self, account: &Account, name: &str) -> Result<()> {
        update(&*self.store, |tx| async move {
            let role = entity::read_role(&tx, account, name).await?;
            service_linked::check_role(&role)?;
            if !role.instance_profiles.is_empty() {
                return Err(Error::delete_conflict(
                    "Cannot delete entity, must remove roles from instance profile first.",
                ));
            }
            if !role.principal.inline.is_empty() {
                return Err(Error::delete_conflict("Cannot delete entity, must delete policies first."));
            }
            if !role.principal.attached.is_empty() {
                return Err(Error::delete_conflict("Cannot delete entity, must detach all policies first."));
            }
            tx.delete(role_used(account, &role.principal.id));
            let mut entity = AnyEntity::Role(role);
            entity::set_boundary(&tx, account, &mut entity, None).await?;
            tx.delete(entity::key(account, EntityKind::Role, name));
            tx.bump_epoch(account.ns());
            Ok(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_durations_outside_one_to_twelve_hours_are_validation_errors() {
        assert_eq!(session_duration(None).unwrap(), 3600);
        assert_eq!(session_duration(Some(43_200)).unwrap(), 43_200);
        let err = session_duration(Some(3599)).unwrap_err().into_service_error();
        assert_eq!(
            err.message,
            "1 validation error detected: Value '3599' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"
        );
        assert!(session_duration(Some(43_201)).is_err());
    }
}
