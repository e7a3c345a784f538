//! Inline policies of users, groups and roles: create-or-replace by name (names compared without
//! case), and one size limit per entity over all its inline policies together, white space
//! excluded (user 2,048, group 5,120, role 10,240; reference §2.6).

use tessera_arn::validate_policy_name;
use tessera_identity::entity;
use tessera_identity::page::paginate;
use tessera_identity::{Account, Error, Page, PageRequest, Result};
use tessera_policy::{PolicyKind, parse_policy};
use tessera_store::iam::{self, EntityKind};
use tessera_store::{Store, update};

use crate::{Policies, policy_size, same_name};

/// An inline policy as `Get{User,Group,Role}Policy` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlinePolicy {
    /// The entity's name as written.
    pub entity_name: String,
    pub policy_name: String,
    pub document: String,
}

/// The aggregate size limit of an entity's inline policies, in characters without white space.
pub fn inline_size_limit(kind: EntityKind) -> usize {
    match kind {
        EntityKind::User => 2_048,
        EntityKind::Group => 5_120,
        EntityKind::Role => 10_240,
    }
}

/// `LimitExceeded: Maximum policy size of 2048 bytes exceeded for user <name>` (AWS says bytes
/// and counts characters).
fn too_large(kind: EntityKind, name: &str) -> Error {
    Error::limit_exceeded(format!(
        "Maximum policy size of {} bytes exceeded for {} {name}",
        inline_size_limit(kind),
        entity::noun(kind)
    ))
}

/// `NoSuchEntity: The user policy with name X cannot be found.`
fn inline_not_found(kind: EntityKind, policy_name: &str) -> Error {
    Error::no_such_entity(format!("The {} policy with name {policy_name} cannot be found.", entity::noun(kind)))
}

impl<S: Store> Policies<S> {
    /// `Put{User,Group,Role}Policy`: adds the policy, or replaces the one with the same name (up
    /// to case; the new name's case is kept, as AWS does).
    pub async fn put_inline_policy(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<()> {
        validate_policy_name(policy_name)?;
        let limit = inline_size_limit(kind);
        // Size before grammar, as AWS checks: a document that alone breaks the limit is refused
        // without being parsed. The aggregate is checked against the record below.
        let size = policy_size(document);
        if size > limit {
            return Err(too_large(kind, entity_name));
        }
        parse_policy(document, PolicyKind::Identity)?;
        update(&*self.store, |tx| async move {
            let mut entity = entity::read(&tx, account, kind, entity_name).await?;
            // A service-linked role's policies are only the service's to change.
            tessera_identity::service_linked::check_modifiable(&entity)?;
            let principal = entity.principal_mut();
            // INVARIANT: the aggregate is computed from the record this transaction writes, so two
            // concurrent puts cannot together exceed it.
            let others: usize = principal
                .inline
                .iter()
                .filter(|(name, _)| !same_name(name, policy_name))
                .map(|(_, doc)| policy_size(doc))
                .sum();
            if others + size > limit {
                return Err(too_large(kind, &principal.name));
            }
            let policy = (policy_name.to_owned(), document.to_owned());
            match principal.inline.iter_mut().find(|(name, _)| same_name(name, policy_name)) {
                Some(slot) => *slot = policy,
                None => principal.inline.push(policy),
            }
            entity::write(&tx, account, &entity);
            tx.bump_epoch(account.ns());
            Ok(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }

    /// `Get{User,Group,Role}Policy`.
    pub async fn get_inline_policy(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
    ) -> Result<InlinePolicy> {
        validate_policy_name(policy_name)?;
        let entity = self.load_entity(account, kind, entity_name).await?;
        let principal = entity.principal();
        let (name, document) = principal
            .inline
            .iter()
            .find(|(name, _)| same_name(name, policy_name))
            .ok_or_else(|| inline_not_found(kind, policy_name))?;
        Ok(InlinePolicy { entity_name: principal.name.clone(), policy_name: name.clone(), document: document.clone() })
    }

    /// `Delete{User,Group,Role}Policy`.
    pub async fn delete_inline_policy(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
    ) -> Result<()> {
        validate_policy_name(policy_name)?;
        update(&*self.store, |tx| async move {
            let mut entity = entity::read(&tx, account, kind, entity_name).await?;
            // A service-linked role's policies are only the service's to change.
            tessera_identity::service_linked::check_modifiable(&entity)?;
            let inline = &mut entity.principal_mut().inline;
            let before = inline.len();
            inline.retain(|(name, _)| !same_name(name, policy_name));
            if inline.len() == before {
                return Err(inline_not_found(kind, policy_name));
            }
            entity::write(&tx, account, &entity);
            tx.bump_epoch(account.ns());
            Ok(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }

    /// `List{User,Group,Role}Policies`: the names, in name order.
    pub async fn list_inline_policies(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        page: &PageRequest,
    ) -> Result<Page<String>> {
        let entity = self.load_entity(account, kind, entity_name).await?;
        let mut names: Vec<String> = entity.principal().inline.iter().map(|(name, _)| name.clone()).collect();
        names.sort_by_key(|name| iam::folded(name));
        paginate(names, page, |name| iam::folded(name))
    }
}
