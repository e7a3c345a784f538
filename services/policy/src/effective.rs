//! Every policy document that applies to a user, group or role, gathered for the authorizer and
//! the simulator: the entity's inline and attached managed policies (default versions), a user's
//! groups' as well, and the permissions boundary.
//!
//! The reads guard nothing: a cache built from them is invalidated by the policy epoch, which every
//! write that could change the answer bumps.

use tessera_identity::entity::{self, AnyEntity};
use tessera_identity::{Account, Result};
use tessera_proto::error::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::{self, EntityKind, PolicyRecord};

use crate::Policies;

/// Where an identity policy comes from: AWS's `SourcePolicyType` of simulation results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceType {
    /// An inline policy of the user.
    User,
    /// An inline policy of one of the user's groups, or of the group itself.
    Group,
    /// An inline policy of the role.
    Role,
    AwsManaged,
    UserManaged,
}

impl SourceType {
    /// AWS's string (`user`, `group`, `role`, `aws-managed`, `user-managed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
            Self::Role => "role",
            Self::AwsManaged => "aws-managed",
            Self::UserManaged => "user-managed",
        }
    }

    fn inline(kind: EntityKind) -> Self {
        match kind {
            EntityKind::User => Self::User,
            EntityKind::Group => Self::Group,
            EntityKind::Role => Self::Role,
        }
    }
}

/// One identity policy with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedPolicy {
    pub source_type: SourceType,
    /// The policy name for inline policies, the ARN for managed ones.
    pub source_id: String,
    /// JSON text, as stored (validated on write).
    pub document: String,
}

/// The policies that decide what a principal may do, and what else a decision needs of the entity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrincipalPolicies {
    /// The entity's unique id (`AIDA…`, `AGPA…`, `AROA…`): a session made for an entity of the
    /// same name but another id does not get these policies.
    pub unique_id: String,
    /// The entity's tags (`aws:PrincipalTag/*`; groups have none).
    pub tags: Vec<iam::Tag>,
    /// Inline then attached policies of the entity, then of each of a user's groups in join order.
    pub identity: Vec<SourcedPolicy>,
    /// The permissions boundary: its ARN and default document.
    pub boundary: Option<(String, String)>,
}

impl<S: Store> Policies<S> {
    /// The identity policies and permissions boundary of a user, group or role.
    pub async fn principal_policies(
        &self,
        account: &Account,
        kind: EntityKind,
        name: &str,
    ) -> Result<PrincipalPolicies> {
        let entity = self.load_entity(account, kind, name).await?;
        let tags = match &entity {
            AnyEntity::User(user) => user.tags.clone(),
            AnyEntity::Role(role) => role.tags.clone(),
            AnyEntity::Group(_) => Vec::new(),
        };
        let mut policies =
            PrincipalPolicies { unique_id: entity.principal().id.clone(), tags, ..PrincipalPolicies::default() };
        self.collect(account, &entity, &mut policies.identity).await?;
        let boundary = match &entity {
            AnyEntity::User(user) => {
                for group in &user.groups {
                    // A group deleted since the user was read no longer applies.
                    match self.load_entity(account, EntityKind::Group, group).await {
                        Ok(group) => self.collect(account, &group, &mut policies.identity).await?,
                        Err(error) if error.code() == ErrorCode::NoSuchEntity => {}
                        Err(error) => return Err(error),
                    }
                }
                user.boundary.as_deref()
            }
            AnyEntity::Role(role) => role.boundary.as_deref(),
            AnyEntity::Group(_) => None,
        };
        if let Some(arn) = boundary
            && let Some((_, document)) = self.managed_document(account, arn).await?
        {
            policies.boundary = Some((arn.to_owned(), document));
        }
        Ok(policies)
    }

    async fn collect(&self, account: &Account, entity: &AnyEntity, out: &mut Vec<SourcedPolicy>) -> Result<()> {
        let principal = entity.principal();
        let inline = SourceType::inline(entity.kind());
        for (name, document) in &principal.inline {
            out.push(SourcedPolicy { source_type: inline, source_id: name.clone(), document: document.clone() });
        }
        for arn in &principal.attached {
            if let Some((source_type, document)) = self.managed_document(account, arn).await? {
                out.push(SourcedPolicy { source_type, source_id: arn.clone(), document });
            }
        }
        Ok(())
    }

    /// The default document of a managed policy, or `None` if it no longer exists (it cannot be
    /// deleted while in use, so this only happens in a race with a detach and delete).
    pub async fn managed_document(&self, account: &Account, arn: &str) -> Result<Option<(SourceType, String)>> {
        let Ok(policy) = entity::parse_policy_arn(account, arn) else { return Ok(None) };
        let record: Option<PolicyRecord> = iam::load(&*self.store, &policy.key(account)).await?;
        let source_type = if policy.aws_managed { SourceType::AwsManaged } else { SourceType::UserManaged };
        Ok(record
            .filter(|r| r.path == policy.path)
            .and_then(|r| r.default_document().map(|d| (source_type, d.to_owned()))))
    }
}
