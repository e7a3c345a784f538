//! The tonic adapter for `tessera.policy.v1.PolicyService`: decode the request, call a
//! [`PolicyApi`] (the domain in this process, or [`crate::RemotePolicies`] in a gateway), encode
//! the response. Conversions are `convert.rs`'s, shared with the client; errors go through the
//! one catalog (`tonic::Status::from` on the domain error); protobuf types stop here.

use std::sync::Arc;
use tessera_proto::scope::{Scope, split};

use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};

use tessera_identity::Account;
use tessera_proto::common::v1 as common;
use tessera_proto::policy::v1 as pb;
use tessera_proto::policy::v1::policy_service_server::{PolicyService, PolicyServiceServer};
use tessera_store::Store;

use crate::api::PolicyApi;
use crate::convert::{
    attached, entities, entity_filter_from, entity_kind, entity_ref_from, page_request_from, page_response, policy,
    principal_policies, scope_from, tags_from, usage_from, version,
};
use crate::{CreatePolicy, ListPolicies, Policies};

/// The gRPC face of a [`PolicyApi`].
#[derive(Clone)]
pub struct PolicyGrpc {
    policies: Arc<dyn PolicyApi>,
}

impl std::fmt::Debug for PolicyGrpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyGrpc").finish_non_exhaustive()
    }
}

impl PolicyGrpc {
    pub fn new(policies: Arc<dyn PolicyApi>) -> Self {
        Self { policies }
    }
}

/// The tonic service over the domain in this process, ready for `Server::add_service`.
pub fn service<S: Store>(policies: Policies<S>) -> PolicyServiceServer<PolicyGrpc> {
    service_over(Arc::new(policies))
}

/// The tonic service over any [`PolicyApi`] (a gateway mounts it over [`crate::RemotePolicies`]).
pub fn service_over(policies: Arc<dyn PolicyApi>) -> PolicyServiceServer<PolicyGrpc> {
    PolicyServiceServer::new(PolicyGrpc::new(policies))
}

type Reply<T> = Result<Response<T>, Status>;

fn account(id: &str, scope: &Scope) -> Result<Account, Status> {
    scope.check_account(id)?;
    Ok(Account::new(id)?)
}

#[tonic::async_trait]
impl PolicyService for PolicyGrpc {
    async fn create_policy(&self, request: Request<pb::CreatePolicyRequest>) -> Reply<pb::CreatePolicyResponse> {
        let (caller_scope, r) = split(request);
        let input = CreatePolicy {
            policy_name: r.policy_name,
            path: r.path,
            policy_document: r.policy_document,
            description: r.description,
            tags: tags_from(r.tags),
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
            scope: scope_from(r.scope)?,
            only_attached: r.only_attached.unwrap_or(false),
            path_prefix: r.path_prefix,
            policy_usage_filter: usage_from(r.policy_usage_filter)?,
        };
        let page = self
            .policies
            .list_policies(&account(&r.account_id, &caller_scope)?, &query, &page_request_from(r.page))
            .await?;
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
            .list_policy_versions(&account(&r.account_id, &caller_scope)?, &r.policy_arn, &page_request_from(r.page))
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
        let (kind, name) = entity_ref_from(r.entity)?;
        self.policies.attach_policy(&account, kind, &name, &r.policy_arn).await?;
        Ok(Response::new(pb::AttachPolicyResponse {}))
    }

    async fn detach_policy(&self, request: Request<pb::DetachPolicyRequest>) -> Reply<pb::DetachPolicyResponse> {
        let (caller_scope, r) = split(request);
        let account = account(&r.account_id, &caller_scope)?;
        let (kind, name) = entity_ref_from(r.entity)?;
        self.policies.detach_policy(&account, kind, &name, &r.policy_arn).await?;
        Ok(Response::new(pb::DetachPolicyResponse {}))
    }

    async fn list_attached_policies(
        &self,
        request: Request<pb::ListAttachedPoliciesRequest>,
    ) -> Reply<pb::ListAttachedPoliciesResponse> {
        let (caller_scope, r) = split(request);
        let account = account(&r.account_id, &caller_scope)?;
        let (kind, name) = entity_ref_from(r.entity)?;
        let page = self
            .policies
            .list_attached_policies(&account, kind, &name, r.path_prefix.as_deref(), &page_request_from(r.page))
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
                entity_filter_from(r.entity_filter)?,
                r.path_prefix.as_deref(),
                usage_from(r.policy_usage_filter)?,
                &page_request_from(r.page),
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
        let (kind, name) = entity_ref_from(r.entity)?;
        self.policies.put_inline_policy(&account, kind, &name, &r.policy_name, &r.policy_document).await?;
        Ok(Response::new(pb::PutInlinePolicyResponse {}))
    }

    async fn get_inline_policy(
        &self,
        request: Request<pb::GetInlinePolicyRequest>,
    ) -> Reply<pb::GetInlinePolicyResponse> {
        let (caller_scope, r) = split(request);
        let account = account(&r.account_id, &caller_scope)?;
        let (kind, name) = entity_ref_from(r.entity)?;
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
        let (kind, name) = entity_ref_from(r.entity)?;
        self.policies.delete_inline_policy(&account, kind, &name, &r.policy_name).await?;
        Ok(Response::new(pb::DeleteInlinePolicyResponse {}))
    }

    async fn list_inline_policies(
        &self,
        request: Request<pb::ListInlinePoliciesRequest>,
    ) -> Reply<pb::ListInlinePoliciesResponse> {
        let (caller_scope, r) = split(request);
        let account = account(&r.account_id, &caller_scope)?;
        let (kind, name) = entity_ref_from(r.entity)?;
        let page = self.policies.list_inline_policies(&account, kind, &name, &page_request_from(r.page)).await?;
        let page_info = page_response(&page);
        Ok(Response::new(pb::ListInlinePoliciesResponse { policy_names: page.items, page: page_info }))
    }

    async fn get_principal_policies(
        &self,
        request: Request<pb::GetPrincipalPoliciesRequest>,
    ) -> Reply<pb::GetPrincipalPoliciesResponse> {
        let (caller_scope, r) = split(request);
        let account = account(&r.account_id, &caller_scope)?;
        let (kind, name) = entity_ref_from(r.entity)?;
        let found = self.policies.principal_policies(&account, kind, &name).await?;
        Ok(Response::new(principal_policies(found)))
    }

    type WatchPolicyEpochsStream =
        std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::PolicyEpoch, Status>> + Send>>;

    async fn watch_policy_epochs(
        &self,
        request: Request<pb::WatchPolicyEpochsRequest>,
    ) -> Reply<Self::WatchPolicyEpochsStream> {
        let (caller_scope, r) = split(request);
        let account = if r.account_id.is_empty() { None } else { Some(account(&r.account_id, &caller_scope)?) };
        let epochs = self.policies.watch_policy_epochs(account.as_ref()).await?;
        let stream = epochs.map(|item| {
            item.map(|change| pb::PolicyEpoch { account_id: change.account, epoch: change.epoch }).map_err(Status::from)
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
