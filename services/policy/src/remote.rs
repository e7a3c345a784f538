//! [`RemotePolicies`]: [`PolicyApi`] over gRPC, for a gateway in front of policy service
//! replicas. Requests and answers go through the adapter's own conversions (`convert.rs`), errors
//! come back with their AWS code and message (`ServiceError::from_status`), reads are sent again
//! while their replica was unreachable (`tessera_proto::upstream::read`), writes are sent once.

use tokio_stream::StreamExt;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

use tessera_identity::{Account, Error, Page, PageRequest, Result};
use tessera_proto::policy::v1 as pb;
use tessera_proto::policy::v1::policy_service_client::PolicyServiceClient;
use tessera_proto::upstream;
use tessera_store::iam::EntityKind;

use crate::api::{EpochChange, EpochStream, PolicyApi};
use crate::convert;
use crate::{
    AttachedPolicy, CreatePolicy, EntityFilter, InlinePolicy, ListPolicies, ManagedPolicy, PolicyEntity, PolicyUsage,
    PolicyVersion, PrincipalPolicies,
};

/// The policy service on the other end of a channel (one replica, or a balanced set of them).
#[derive(Clone, Debug)]
pub struct RemotePolicies {
    client: upstream::Client<PolicyServiceClient<Channel>>,
}

impl RemotePolicies {
    pub fn new(channel: Channel) -> Self {
        // Policy documents and lists of them can be large; the default 4 MiB is kept.
        Self { client: upstream::Client::new(PolicyServiceClient::new(channel)) }
    }

    /// Sends `key: value` with every call (the cluster's `tessera-internal` proof, for one).
    pub fn with_metadata(mut self, key: &'static str, value: AsciiMetadataValue) -> Self {
        self.client = self.client.with_metadata(key, value);
        self
    }
}

fn account_id(account: &Account) -> String {
    account.id().to_owned()
}

#[async_trait::async_trait]
impl PolicyApi for RemotePolicies {
    async fn create_policy(&self, account: &Account, input: CreatePolicy) -> Result<ManagedPolicy> {
        let message = pb::CreatePolicyRequest {
            account_id: account_id(account),
            policy_name: input.policy_name,
            path: input.path,
            policy_document: input.policy_document,
            description: input.description,
            tags: convert::tags(&input.tags),
        };
        let answer = self.client.write(message, |mut c, r| async move { c.create_policy(r).await }).await?;
        Ok(convert::policy_from(answer.policy.unwrap_or_default()))
    }

    async fn get_policy(&self, account: &Account, arn: &str) -> Result<ManagedPolicy> {
        let message = pb::GetPolicyRequest { account_id: account_id(account), policy_arn: arn.to_owned() };
        let answer = self.client.read(message, |mut c, r| async move { c.get_policy(r).await }).await?;
        Ok(convert::policy_from(answer.policy.unwrap_or_default()))
    }

    async fn list_policies(
        &self,
        account: &Account,
        query: &ListPolicies,
        page: &PageRequest,
    ) -> Result<Page<ManagedPolicy>> {
        let message = pb::ListPoliciesRequest {
            account_id: account_id(account),
            scope: convert::scope(query.scope),
            only_attached: Some(query.only_attached),
            path_prefix: query.path_prefix.clone(),
            policy_usage_filter: convert::usage(query.policy_usage_filter),
            page: convert::page_request(page),
        };
        let answer = self.client.read(message, |mut c, r| async move { c.list_policies(r).await }).await?;
        Ok(convert::page_from(answer.policies.into_iter().map(convert::policy_from).collect(), answer.page))
    }

    async fn delete_policy(&self, account: &Account, arn: &str) -> Result<()> {
        let message = pb::DeletePolicyRequest { account_id: account_id(account), policy_arn: arn.to_owned() };
        self.client.write(message, |mut c, r| async move { c.delete_policy(r).await }).await?;
        Ok(())
    }

    async fn create_policy_version(
        &self,
        account: &Account,
        arn: &str,
        document: &str,
        set_as_default: bool,
    ) -> Result<PolicyVersion> {
        let message = pb::CreatePolicyVersionRequest {
            account_id: account_id(account),
            policy_arn: arn.to_owned(),
            policy_document: document.to_owned(),
            set_as_default: Some(set_as_default),
        };
        let answer = self.client.write(message, |mut c, r| async move { c.create_policy_version(r).await }).await?;
        Ok(convert::version_from(answer.policy_version.unwrap_or_default()))
    }

    async fn get_policy_version(&self, account: &Account, arn: &str, version_id: &str) -> Result<PolicyVersion> {
        let message = pb::GetPolicyVersionRequest {
            account_id: account_id(account),
            policy_arn: arn.to_owned(),
            version_id: version_id.to_owned(),
        };
        let answer = self.client.read(message, |mut c, r| async move { c.get_policy_version(r).await }).await?;
        Ok(convert::version_from(answer.policy_version.unwrap_or_default()))
    }

    async fn list_policy_versions(
        &self,
        account: &Account,
        arn: &str,
        page: &PageRequest,
    ) -> Result<Page<PolicyVersion>> {
        let message = pb::ListPolicyVersionsRequest {
            account_id: account_id(account),
            policy_arn: arn.to_owned(),
            page: convert::page_request(page),
        };
        let answer = self.client.read(message, |mut c, r| async move { c.list_policy_versions(r).await }).await?;
        Ok(convert::page_from(answer.versions.into_iter().map(convert::version_from).collect(), answer.page))
    }

    async fn delete_policy_version(&self, account: &Account, arn: &str, version_id: &str) -> Result<()> {
        let message = pb::DeletePolicyVersionRequest {
            account_id: account_id(account),
            policy_arn: arn.to_owned(),
            version_id: version_id.to_owned(),
        };
        self.client.write(message, |mut c, r| async move { c.delete_policy_version(r).await }).await?;
        Ok(())
    }

    async fn set_default_policy_version(&self, account: &Account, arn: &str, version_id: &str) -> Result<()> {
        let message = pb::SetDefaultPolicyVersionRequest {
            account_id: account_id(account),
            policy_arn: arn.to_owned(),
            version_id: version_id.to_owned(),
        };
        self.client.write(message, |mut c, r| async move { c.set_default_policy_version(r).await }).await?;
        Ok(())
    }

    async fn attach_policy(&self, account: &Account, kind: EntityKind, name: &str, arn: &str) -> Result<()> {
        let message = pb::AttachPolicyRequest {
            account_id: account_id(account),
            entity: convert::entity_ref(kind, name),
            policy_arn: arn.to_owned(),
        };
        self.client.write(message, |mut c, r| async move { c.attach_policy(r).await }).await?;
        Ok(())
    }

    async fn detach_policy(&self, account: &Account, kind: EntityKind, name: &str, arn: &str) -> Result<()> {
        let message = pb::DetachPolicyRequest {
            account_id: account_id(account),
            entity: convert::entity_ref(kind, name),
            policy_arn: arn.to_owned(),
        };
        self.client.write(message, |mut c, r| async move { c.detach_policy(r).await }).await?;
        Ok(())
    }

    async fn list_attached_policies(
        &self,
        account: &Account,
        kind: EntityKind,
        name: &str,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AttachedPolicy>> {
        let message = pb::ListAttachedPoliciesRequest {
            account_id: account_id(account),
            entity: convert::entity_ref(kind, name),
            path_prefix: prefix.map(str::to_owned),
            page: convert::page_request(page),
        };
        let answer = self.client.read(message, |mut c, r| async move { c.list_attached_policies(r).await }).await?;
        Ok(convert::page_from(answer.attached_policies.into_iter().map(convert::attached_from).collect(), answer.page))
    }

    async fn list_entities_for_policy(
        &self,
        account: &Account,
        arn: &str,
        filter: EntityFilter,
        prefix: Option<&str>,
        usage: Option<PolicyUsage>,
        page: &PageRequest,
    ) -> Result<Page<PolicyEntity>> {
        let message = pb::ListEntitiesForPolicyRequest {
            account_id: account_id(account),
            policy_arn: arn.to_owned(),
            entity_filter: convert::entity_filter(filter),
            path_prefix: prefix.map(str::to_owned),
            policy_usage_filter: convert::usage(usage),
            page: convert::page_request(page),
        };
        let answer = self.client.read(message, |mut c, r| async move { c.list_entities_for_policy(r).await }).await?;
        Ok(convert::entities_from(answer))
    }

    async fn put_inline_policy(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<()> {
        let message = pb::PutInlinePolicyRequest {
            account_id: account_id(account),
            entity: convert::entity_ref(kind, entity_name),
            policy_name: policy_name.to_owned(),
            policy_document: document.to_owned(),
        };
        self.client.write(message, |mut c, r| async move { c.put_inline_policy(r).await }).await?;
        Ok(())
    }

    async fn get_inline_policy(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
    ) -> Result<InlinePolicy> {
        let message = pb::GetInlinePolicyRequest {
            account_id: account_id(account),
            entity: convert::entity_ref(kind, entity_name),
            policy_name: policy_name.to_owned(),
        };
        let answer = self.client.read(message, |mut c, r| async move { c.get_inline_policy(r).await }).await?;
        Ok(InlinePolicy {
            entity_name: answer.entity.map(|e| e.name).unwrap_or_default(),
            policy_name: answer.policy_name,
            document: answer.policy_document,
        })
    }

    async fn delete_inline_policy(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
    ) -> Result<()> {
        let message = pb::DeleteInlinePolicyRequest {
            account_id: account_id(account),
            entity: convert::entity_ref(kind, entity_name),
            policy_name: policy_name.to_owned(),
        };
        self.client.write(message, |mut c, r| async move { c.delete_inline_policy(r).await }).await?;
        Ok(())
    }

    async fn list_inline_policies(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        page: &PageRequest,
    ) -> Result<Page<String>> {
        let message = pb::ListInlinePoliciesRequest {
            account_id: account_id(account),
            entity: convert::entity_ref(kind, entity_name),
            page: convert::page_request(page),
        };
        let answer = self.client.read(message, |mut c, r| async move { c.list_inline_policies(r).await }).await?;
        Ok(convert::page_from(answer.policy_names, answer.page))
    }

    async fn principal_policies(&self, account: &Account, kind: EntityKind, name: &str) -> Result<PrincipalPolicies> {
        let message = pb::GetPrincipalPoliciesRequest {
            account_id: account_id(account),
            entity: convert::entity_ref(kind, name),
        };
        let answer = self.client.read(message, |mut c, r| async move { c.get_principal_policies(r).await }).await?;
        convert::principal_policies_from(answer)
    }

    async fn watch_policy_epochs(&self, account: Option<&Account>) -> Result<EpochStream> {
        let message = pb::WatchPolicyEpochsRequest { account_id: account.map(account_id).unwrap_or_default() };
        let answer = self.client.read(message, |mut c, r| async move { c.watch_policy_epochs(r).await }).await?;
        let stream =
            answer.map(|item| item.map(|e| EpochChange { account: e.account_id, epoch: e.epoch }).map_err(Error::from));
        Ok(Box::pin(stream))
    }
}
