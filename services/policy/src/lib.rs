//! The policy service: customer managed policies and their versions, AWS-managed policies, the
//! attachment of managed policies to users, groups and roles, inline policies, and the policy
//! epoch stream that tells caches when to reload (reference §2.6, §5.2, §5.9).
//!
//! [`Policies`] is the domain: plain Rust in, store records out, written once against
//! [`tessera_store::Store`]. [`PolicyApi`] is the domain as callers see it, implemented by
//! [`Policies`] in-process and by [`RemotePolicies`] over gRPC (a gateway in front of policy
//! service replicas). [`grpc`] is the thin tonic adapter ([`grpc::PolicyGrpc`]) that decodes
//! protobuf, calls a `PolicyApi` and maps the error through the one catalog in
//! `tessera_proto::error`; `convert.rs` is the one conversion both directions use.
//!
//! Code map:
//!
//! - `policies.rs`: `CreatePolicy`, `GetPolicy`, `ListPolicies`, `DeletePolicy` and the five
//!   version operations.
//! - `attach.rs`: `Attach*Policy`, `Detach*Policy`, `ListAttached*Policies`, `ListEntitiesForPolicy`.
//! - `inline.rs`: `Put*Policy`, `Get*Policy`, `Delete*Policy`, `List*Policies` (inline).
//! - `aws_managed.rs`: the AWS-managed policies Tessera ships, seeded into the `aws` namespace.
//! - `effective.rs`: every policy that applies to a principal, for the authorizer.
//! - `api.rs`: [`PolicyApi`] and its in-process implementation; `remote.rs`: [`RemotePolicies`];
//!   `convert.rs`: domain types to and from `tessera.policy.v1`.
//!
//! **Invariants** (shared with `tessera-identity`, whose `entity.rs` helpers this crate uses):
//!
//! - Every write is one optimistic transaction in the account's namespace
//!   ([`tessera_store::update`]). AWS-managed policies live in the `aws` namespace and are only
//!   read there; who uses them is recorded in the account's own `PolicyUseRecord`, so attaching
//!   one never spans namespaces.
//! - A relation is written on both sides in the same transaction: `Principal::attached` of the
//!   user, group or role, and `PolicyUseRecord::attached` of the policy.
//! - A limit is checked against a record read in the transaction that writes (the entity's
//!   `attached` list for "10 policies per role", the policy record for "5 versions"), so concurrent
//!   writers cannot overshoot it.
//! - A write that can change an authorization decision bumps the account's policy epoch inside
//!   its transaction and publishes it after the commit. A failed publish is logged, not returned:
//!   the write has happened, and caches also poll the epoch.

use std::sync::Arc;

use tessera_identity::entity::{self, AnyEntity};
use tessera_identity::{Account, Env, Error, Result};
use tessera_proto::error::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::{self, EntityKind, GroupRecord, RoleRecord, UserRecord};

mod api;
mod attach;
mod aws_managed;
mod convert;
mod effective;
pub mod grpc;
mod inline;
mod policies;
mod remote;

pub use api::{EpochChange, EpochStream, PolicyApi};
pub use attach::{AttachedPolicy, EntityFilter, MAX_ATTACHED_POLICIES, PolicyEntity};
pub use aws_managed::{AWS_MANAGED, AwsManagedPolicy, seed_aws_managed};
pub use effective::{PrincipalPolicies, SourceType, SourcedPolicy};
pub use grpc::{PolicyGrpc, service};
pub use inline::{InlinePolicy, inline_size_limit};
pub use policies::{CreatePolicy, ListPolicies, MAX_VERSIONS, ManagedPolicy, PolicyScope, PolicyUsage, PolicyVersion};
pub use remote::RemotePolicies;

/// The policy service's domain.
#[derive(Debug)]
pub struct Policies<S> {
    store: Arc<S>,
    env: Env,
}

// By hand: a derive would require `S: Clone`, but only the `Arc` is cloned.
impl<S> Clone for Policies<S> {
    fn clone(&self) -> Self {
        Self { store: Arc::clone(&self.store), env: self.env.clone() }
    }
}

impl<S: Store> Policies<S> {
    pub fn new(store: Arc<S>, env: Env) -> Self {
        Self { store, env }
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    pub fn env(&self) -> &Env {
        &self.env
    }

    /// Announces the account's new policy epoch after a commit that bumped it. A failure to publish
    /// is logged, not returned: the write has happened, and caches also poll the epoch.
    async fn published(&self, account: &Account) {
        if let Err(error) = iam::publish_epoch(&*self.store, account.ns()).await {
            tracing::warn!(%error, account = account.id(), "failed to publish the policy epoch");
        }
    }

    /// Reads a user, group or role outside any transaction (for reads that guard nothing).
    async fn load_entity(&self, account: &Account, kind: EntityKind, name: &str) -> Result<AnyEntity> {
        let key = entity::key(account, kind, name);
        let store = &*self.store;
        let found = match kind {
            EntityKind::User => iam::load::<S, UserRecord>(store, &key).await?.map(AnyEntity::User),
            EntityKind::Group => iam::load::<S, GroupRecord>(store, &key).await?.map(AnyEntity::Group),
            EntityKind::Role => iam::load::<S, RoleRecord>(store, &key).await?.map(AnyEntity::Role),
        };
        found.ok_or_else(|| entity::not_found(kind, name))
    }
}

/// Checks a `PathPrefix` (`/` when none is given) against the model's `\u002F[\u0021-\u007F]*`.
///
/// `ListPolicies` documents the stricter policy path pattern, but AWS accepts any prefix there
/// that starts with `/` (a prefix need not end in one), so one rule serves every list call.
fn path_prefix(prefix: Option<&str>) -> Result<String> {
    let prefix = prefix.filter(|p| !p.is_empty()).unwrap_or("/");
    if prefix.chars().count() > 512
        || !prefix.starts_with('/')
        || !prefix.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c))
    {
        return Err(Error::new(
            ErrorCode::ValidationError,
            format!(
                "1 validation error detected: Value '{prefix}' at 'pathPrefix' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*"
            ),
        ));
    }
    Ok(prefix.to_owned())
}

/// Characters without white space: what every IAM policy size limit counts (reference §2.6).
fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

fn same_name(a: &str, b: &str) -> bool {
    iam::folded(a) == iam::folded(b)
}
