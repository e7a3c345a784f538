//! The tonic adapter for `tessera.policy.v1.PolicyService`: decode the request, call [`Policies`],
//! encode the response. Errors go through the one catalog (`tonic::Status::from` on the domain
//! error); protobuf types stop here.

use std::sync::Arc;
use tessera_proto::scope::{Scope, split};

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use tessera_identity::{Account, Error, Page, PageRequest, from_millis};
use tessera_proto::common::v1 as common;
use tessera_proto::convert::timestamp;
use tessera_proto::error::ErrorCode;
use tessera_proto::policy::v1 as pb;
use tessera_proto::policy::v1::policy_service_server::{PolicyService, PolicyServiceServer};
use tessera_store::iam::{self, EntityKind, EpochSubscription, Millis, Tag};
use tessera_store::{Store, SubscriptionError};

use crate::{
    AttachedPolicy, CreatePolicy, EntityFilter, ListPolicies, ManagedPolicy, Policies, PolicyEntity, PolicyScope,
    PolicyUsage, PolicyVersion,
};

/// The gRPC face of [`Policies`].
#[derive(Debug)]
pub struct PolicyGrpc<S> {
    policies: Policies<S>,
}

impl<S> Clone for PolicyGrpc<S> {
    fn clone(&self) -> Self {
        Self { policies: self.policies.clone() }
    }
}

impl<S: Store> PolicyGrpc<S> {
    pub fn new(policies: Policies<S>) -> Self {
        Self { policies }
    }
}

/// The tonic service, ready for `Server::add_service`.
pub fn service<S: Store>(policies: Policies<S>) -> PolicyServiceServer<PolicyGrpc<S>> {
    PolicyServiceServer::new(PolicyGrpc::new(policies))
}

type Reply<T> = Result<Response<T>, Status>;

// Decoding.

fn account(id: &str, scope: &Scope) -> Result<Account, Status> {
    scope.check_account(id)?;
    Ok(Account::new(id)?)
}

/// AWS's wording for a value outside an enum, e.g. `… at 'scope' failed to satisfy constraint:
/// Member must satisfy enum value set: [All, AWS, Local]`.
fn bad_enum(field: &str, value: impl std::fmt::Display, set: &str) -> Status {
    Error::new(
        ErrorCode::ValidationError,
        format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must \
             satisfy enum value set: [{set}]"
        ),
    )
    .into()
}

fn entity_ref(entity: Option<common::EntityRef>) -> Result<(EntityKind, String), Status> {
    let entity = entity.unwrap_or_default();
    let kind = match common::EntityKind::try_from(entity.kind) {
        Ok(common::EntityKind::User) => EntityKind::User,
        Ok(common::EntityKind::Group) => EntityKind::Group,
        Ok(common::EntityKind::Role) => EntityKind::Role,
        Ok(common::EntityKind::Unspecified) | Err(_) => {
            return Err(bad_enum("entity.kind", entity.kind, "User, Group, Role"));
        }
    };
    Ok((kind, entity.name))
}

fn scope(value: i32) -> Result<PolicyScope, Status> {
    match pb::PolicyScope::try_from(value) {
        Ok(pb::PolicyScope::Unspecified | pb::PolicyScope::All) => Ok(PolicyScope::All),
        Ok(pb::PolicyScope::Aws) => Ok(PolicyScope::Aws),
        Ok(pb::PolicyScope::Local) => Ok(PolicyScope::Local),
        Err(_) => Err(bad_enum("scope", value, "All, AWS, Local")),
    }
}

fn usage(value: i32) -> Result<Option<PolicyUsage>, Status> {
    match pb::PolicyUsage::try_from(value) {
        Ok(pb::PolicyUsage::Unspecified) => Ok(None),
        Ok(pb::PolicyUsage::PermissionsPolicy) => Ok(Some(PolicyUsage::PermissionsPolicy)),
        Ok(pb::PolicyUsage::PermissionsBoundary) => Ok(Some(PolicyUsage::PermissionsBoundary)),
        Err(_) => Err(bad_enum("policyUsageFilter", value, "PermissionsPolicy, PermissionsBoundary")),
    }
}

fn entity_filter(value: i32) -> Result<EntityFilter, Status> {
    match common::EntityFilter::try_from(value) {
        Ok(common::EntityFilter::Unspecified) => Ok(EntityFilter::All),
        Ok(common::EntityFilter::User) => Ok(EntityFilter::User),
        Ok(common::EntityFilter::Group) => Ok(EntityFilter::Group),
        Ok(common::EntityFilter::Role) => Ok(EntityFilter::Role),
        Ok(common::EntityFilter::LocalManagedPolicy) => Ok(EntityFilter::LocalManagedPolicy),
        Ok(common::EntityFilter::AwsManagedPolicy) => Ok(EntityFilter::AwsManagedPolicy),
        Err(_) => Err(bad_enum("entityFilter", value, "User, Role, Group, LocalManagedPolicy, AWSManagedPolicy")),
    }
}

fn page_request(page: Option<common::PageRequest>) -> PageRequest {
    let page = page.unwrap_or_default();
    PageRequest { marker: page.marker, max_items: page.max_items }
}

fn tags(tags: Vec<common::Tag>) -> Vec<Tag> {
    tags.into_iter().map(|t| Tag { key: t.key, value: t.value }).collect()
}

// Encoding.

fn page_response<T>(page: &Page<T>) -> Option<common::PageResponse> {
    Some(common::PageResponse { is_truncated: page.is_truncated(), marker: page.marker.clone() })
}

fn time(ms: Millis) -> Option<prost_types::Timestamp> {
    Some(timestamp(from_millis(ms)))
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn policy(policy: ManagedPolicy) -> pb::Policy {
    let record = policy.record;
    pb::Policy {
        policy_name: record.name,
        policy_id: record.id,
        arn: record.arn,
        path: record.path,
        default_version_id: record.default_version,
        attachment_count: count(policy.attachment_count),
        permissions_boundary_usage_count: count(policy.permissions_boundary_usage_count),
        is_attachable: true,
        description: record.description,
        create_date: time(record.create_date),
        update_date: time(record.update_date),
        tags: record.tags.into_iter().map(|t| common::Tag { key: t.key, value: t.value }).collect(),
    }
}

fn version(version: PolicyVersion) -> pb::PolicyVersion {
    pb::PolicyVersion {
        document: version.document,
        version_id: version.version_id,
        is_default_version: version.is_default_version,
        create_date: time(version.create_date),
    }
}

fn entity_kind(kind: EntityKind) -> i32 {
    match kind {
        EntityKind::User => common::EntityKind::User,
        EntityKind::Group => common::EntityKind::Group,
        EntityKind::Role => common::EntityKind::Role,
    }
    .into()
}

fn attached(policy: AttachedPolicy) -> common::AttachedPolicy {
    common::AttachedPolicy { policy_name: policy.policy_name, policy_arn: policy.policy_arn }
}

fn entities(page: Page<PolicyEntity>) -> pb::ListEntitiesForPolicyResponse {
    let mut response = pb::ListEntitiesForPolicyResponse { page: page_response(&page), ..Default::default() };
    for entity in page.items {
        match entity.kind {
            EntityKind::User => {
                response.policy_users.push(pb::PolicyUser { user_name: entity.name, user_id: entity.id })
            }
            EntityKind::Group => {
                response.policy_groups.push(pb::PolicyGroup { group_name: entity.name, group_id: entity.id });
            }
            EntityKind::Role => {
                response.policy_roles.push(pb::PolicyRole { role_name: entity.name, role_id: entity.id })
            }
        }
    }
    response
}

#[tonic::async_trait]
impl<S: Store> PolicyService for PolicyGrpc<S> {
    async fn create_policy(&self, request: Request<pb::CreatePolicyRequest>) -> Reply<pb::CreatePolicyResponse> {
        let (caller_scope, r) = split(request);
        let input = CreatePolicy {
            policy_name: r.policy_name,
            path: r.path,
            policy_document: r.policy_document,
            description: r.description,
            tags: tags(r.tags),
        };
        let created = self.policies.create_policy(&account(&r.account_id, &caller_scope)?, input).await?;
        Ok(Response::new(pb::CreatePolicyResponse { policy: Some(policy(created)) }))
    }

    async fn get_policy(&self, request: Request<pb::GetPolicyRequest>) -> Reply<pb::GetPolicyResponse> {
        let (caller_scope, r) = split(request);
        let found = self.policies.get_policy(&account(&r.account_id, &caller_scope)?, &r.policy_arn).await?;
        Ok(Response::new(pb::GetPolicyResponse { policy: Some(policy(found)) }))
    }

    async fn list_policies(&self, request: Request<pb::ListPoliciesRequest>) -> Reply<pb::ListPoliciesResponse> {
        let (caller_scope, r) = split(request);
        let query = ListPolicies {
            scope: scope(r.scope)?,
            only_attached: r.only_attached.unwrap_or(false),
            path_prefix: r.path_prefix,
            policy_usage_filter: usage(r.policy_usage_filter)?,
        };
        let page =
            self.policies.list_policies(&account(&r.account_id, &caller_scope)?, &query, &page_request(r.page)).await?;
        let page_info = page_response(&page);
        Ok(Response::new(pb::ListPoliciesResponse {
            policies: page.items.into_iter().map(policy).collect(),
            page: page_info,
        }))
    }

    async fn delete_policy(&self, request: Request<pb::DeletePolicyRequest>) -> Reply<pb::DeletePolicyResponse> {
        let (caller_scope, r) = split(request);
        self.policies.delete_policy(&account(&r.account_id, &caller_scope)?, &r.policy_arn).await?;
        Ok(Response::new(pb::DeletePolicyResponse {}))
    }

    async fn create_policy_version(
        &self,
        request: Request<pb::CreatePolicyVersionRequest>,
    ) -> Reply<pb::CreatePolicyVersionResponse> {
        let (caller_scope, r) = split(request);
        let created = self
            .policies
            .create_policy_version(
                &account(&r.account_id, &caller_scope)?,
                &r.policy_arn,
                &r.policy_document,
                r.set_as_default.unwrap_or(false),
            )
            .await?;
        Ok(Response::new(pb::CreatePolicyVersionResponse { policy_version: Some(version(created)) }))
    }

    async fn get_policy_version(
        &self,
        request: Request<pb::GetPolicyVersionRequest>,
    ) -> Reply<pb::GetPolicyVersionResponse> {
        let (caller_scope, r) = split(request);
        let found = self
            .policies
            .get_policy_version(&account(&r.account_id, &caller_scope)?, &r.policy_arn, &r.version_id)
            .await?;
        Ok(Response::new(pb::GetPolicyVersionResponse { policy_version: Some(version(found)) }))
    }

    async fn list_policy_versions(
        &self,
        request: Request<pb::ListPolicyVersionsRequest>,
    ) -> Reply<pb::ListPolicyVersionsResponse> {
        let (caller_scope, r) = split(request);
        let page = self
            .policies
            .list_policy_versions(&account(&r.account_id, &caller_scope)?, &r.policy_arn, &page_request(r.page))
            .await?;
        let page_info = page_response(&page);
        Ok(Response::new(pb::ListPolicyVersionsResponse {
            versions: page.items.into_iter().map(version).collect(),
            page: page_info,
        }))
    }

    async fn delete_policy_version(
        &self,
        request: Request<pb::DeletePolicyVersionRequest>,
    ) -> Reply<pb::DeletePolicyVersionResponse> {
        let (caller_scope, r) = split(request);
        self.policies
            .delete_policy_version(&account(&r.account_id, &caller_scope)?, &r.policy_arn, &r.version_id)
            .await?;
        Ok(Response::new(pb::DeletePolicyVersionResponse {}))
    }

    async fn set_default_policy_version(
        &self,
        request: Request<pb::SetDefaultPolicyVersionRequest>,
    ) -> Reply<pb::SetDefaultPolicyVersionResponse> {
        let (caller_scope, r) = split(request);
        self.policies
            .set_default_policy_version(&account(&r.account_id, &caller_scope)?, &r.policy_arn, &r.version_id)
            .await?;
        Ok(Response::new(pb::SetDefaultPolicyVersionResponse {}))
    }

    async fn attach_policy(&self, request: Request<pb::AttachPolicyRequest>) -> Reply<pb::AttachPolicyResponse> {
        let (caller_scope, r) = split(request);
        let account = account(&r.account_id, &caller_scope)?;
        let (kind, name) = entity_ref(r.entity)?;
        self.policies.attach_policy(&account, kind, &name, &r.policy_arn).await?;
        Ok(Response::new(pb::AttachPolicyResponse {}))
    }

    async fn detach_policy(&self, request: Request<pb::DetachPolicyRequest>) -> Reply<pb::DetachPolicyResponse> {
        let (caller_scope, r) = split(request);
        let account = account(&r.account_id, &caller_scope)?;
        let (kind, name) = entity_ref(r.entity)?;
        self.policies.detach_policy(&account, kind, &name, &r.policy_arn).await?;
        Ok(Response::new(pb::DetachPolicyResponse {}))
    }

    async fn list_attached_policies(
        &self,
        request: Request<pb::ListAttachedPoliciesRequest>,
    ) -> Reply<pb::ListAttachedPoliciesResponse> {
        let (caller_scope, r) = split(request);
        let account = account(&r.account_id, &caller_scope)?;
        let (kind, name) = entity_ref(r.entity)?;
        let page = self
            .policies
            .list_attached_policies(&account, kind, &name, r.path_prefix.as_deref(), &page_request(r.page))
            .await?;
        let page_info = page_response(&page);
        Ok(Response::new(pb::ListAttachedPoliciesResponse {
            attached_policies: page.items.into_iter().map(attached).collect(),
            page: page_info,
        }))
    }

    async fn list_entities_for_policy(
        &self,
        request: Request<pb::ListEntitiesForPolicyRequest>,
    ) -> Reply<pb::ListEntitiesForPolicyResponse> {
        let (caller_scope, r) = split(request);
        let page = self
            .policies
            .list_entities_for_policy(
                &account(&r.account_id, &caller_scope)?,
                &r.policy_arn,
                entity_filter(r.entity_filter)?,
                r.path_prefix.as_deref(),
                usage(r.policy_usage_filter)?,
                &page_request(r.page),
            )
            .await?;
        Ok(Response::new(entities(page)))
    }

    async fn put_inline_policy(
        &self,
        request: Request<pb::PutInlinePolicyRequest>,
    ) -> Reply<pb::PutInlinePolicyResponse> {
        let (caller_scope, r) = split(request);
        let account = account(&r.account_id, &caller_scope)?;
        let (kind, name) = entity_ref(r.entity)?;
        self.policies.put_inline_policy(&account, kind, &name, &r.policy_name, &r.policy_document).await?;
        Ok(Response::new(pb::PutInlinePolicyResponse {}))
    }

    async fn get_inline_policy(
        &self,
        request: Request<pb::GetInlinePolicyRequest>,
    ) -> Reply<pb::GetInlinePolicyResponse> {
        let (caller_scope, r) = split(request);
        let account = account(&r.account_id, &caller_scope)?;
        let (kind, name) = entity_ref(r.entity)?;
        let found = self.policies.get_inline_policy(&account, kind, &name, &r.policy_name).await?;
        Ok(Response::new(pb::GetInlinePolicyResponse {
            entity: Some(common::EntityRef { kind: entity_kind(kind), name: found.entity_name }),
            policy_name: found.policy_name,
            policy_document: found.document,
        }))
    }

    async fn delete_inline_policy(
        &self,
        request: Request<pb::DeleteInlinePolicyRequest>,
    ) -> Reply<pb::DeleteInlinePolicyResponse> {
        let (caller_scope, r) = split(request);
        let account = account(&r.account_id, &caller_scope)?;
        let (kind, name) = entity_ref(r.entity)?;
        self.policies.delete_inline_policy(&account, kind, &name, &r.policy_name).await?;
        Ok(Response::new(pb::DeleteInlinePolicyResponse {}))
    }

    async fn list_inline_policies(
        &self,
        request: Request<pb::ListInlinePoliciesRequest>,
    ) -> Reply<pb::ListInlinePoliciesResponse> {
        let (caller_scope, r) = split(request);
        let account = account(&r.account_id, &caller_scope)?;
        let (kind, name) = entity_ref(r.entity)?;
        let page = self.policies.list_inline_policies(&account, kind, &name, &page_request(r.page)).await?;
        let page_info = page_response(&page);
        Ok(Response::new(pb::ListInlinePoliciesResponse { policy_names: page.items, page: page_info }))
    }

    type WatchPolicyEpochsStream = ReceiverStream<Result<pb::PolicyEpoch, Status>>;

    /// Subscribes before reading the current epoch, so a change between the two is seen (twice at
    /// worst, which is harmless: only a rise matters).
    async fn watch_policy_epochs(
        &self,
        request: Request<pb::WatchPolicyEpochsRequest>,
    ) -> Reply<Self::WatchPolicyEpochsStream> {
        let (caller_scope, r) = split(request);
        let account = if r.account_id.is_empty() { None } else { Some(account(&r.account_id, &caller_scope)?) };
        let store = Arc::clone(self.policies.store());
        let mut subscription = EpochSubscription::subscribe(&*store).await.map_err(Error::from)?;
        let (sender, receiver) = mpsc::channel(64);
        if let Some(account) = &account {
            let epoch = iam::current_epoch(&*store, account.ns()).await.map_err(Error::from)?;
            // The receiver is still here, so this cannot fail; if it did, the stream just ends.
            let _ = sender.send(Ok(pb::PolicyEpoch { account_id: account.id().to_owned(), epoch })).await;
        }
        let only = account.map(|a| a.id().to_owned());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    // The client went away: stop listening even if no epoch ever comes.
                    () = sender.closed() => break,
                    next = subscription.recv() => match next {
                        Ok(change) if only.as_ref().is_none_or(|a| *a == change.account) => {
                            let message = pb::PolicyEpoch { account_id: change.account, epoch: change.epoch };
                            if sender.send(Ok(message)).await.is_err() {
                                break;
                            }
                        }
                        Ok(_) => {}
                        // Dropped messages are not reported to the watcher: later epochs still
                        // arrive, and caches also poll the epoch.
                        Err(SubscriptionError::Lagged(dropped)) => {
                            tracing::debug!(dropped, "policy epoch watcher lagged");
                        }
                        Err(SubscriptionError::Closed) => break,
                    },
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}
