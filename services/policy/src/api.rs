//! [`PolicyApi`]: the policy domain as the gateway and the gRPC adapter call it, implemented
//! in-process by [`Policies`] and over gRPC by [`crate::RemotePolicies`].

use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;

use tessera_identity::{Account, Error, Page, PageRequest, Result};
use tessera_store::iam::{self, EntityKind, EpochSubscription};
use tessera_store::{Store, SubscriptionError};

use crate::{
    AttachedPolicy, CreatePolicy, EntityFilter, InlinePolicy, ListPolicies, ManagedPolicy, Policies, PolicyEntity,
    PolicyUsage, PolicyVersion, PrincipalPolicies,
};

/// A rise of an account's policy epoch (see `tessera_store::iam`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochChange {
    pub account: String,
    pub epoch: u64,
}

/// The policy epochs [`PolicyApi::watch_policy_epochs`] announces, until the stream is dropped.
pub type EpochStream = Pin<Box<dyn Stream<Item = Result<EpochChange>> + Send>>;

/// The policy service's operations. Every method has the name and arguments of the inherent
/// method of [`Policies`] it stands for, so callers do not change when the domain moves to
/// another process.
#[async_trait::async_trait]
pub trait PolicyApi: Send + Sync + 'static {
    async fn create_policy(&self, account: &Account, input: CreatePolicy) -> Result<ManagedPolicy>;
    async fn get_policy(&self, account: &Account, arn: &str) -> Result<ManagedPolicy>;
    async fn list_policies(
        &self,
        account: &Account,
        query: &ListPolicies,
        page: &PageRequest,
    ) -> Result<Page<ManagedPolicy>>;
    async fn delete_policy(&self, account: &Account, arn: &str) -> Result<()>;
    async fn create_policy_version(
        &self,
        account: &Account,
        arn: &str,
        document: &str,
        set_as_default: bool,
    ) -> Result<PolicyVersion>;
    async fn get_policy_version(&self, account: &Account, arn: &str, version_id: &str) -> Result<PolicyVersion>;
    async fn list_policy_versions(
        &self,
        account: &Account,
        arn: &str,
        page: &PageRequest,
    ) -> Result<Page<PolicyVersion>>;
    async fn delete_policy_version(&self, account: &Account, arn: &str, version_id: &str) -> Result<()>;
    async fn set_default_policy_version(&self, account: &Account, arn: &str, version_id: &str) -> Result<()>;
    async fn attach_policy(&self, account: &Account, kind: EntityKind, name: &str, arn: &str) -> Result<()>;
    async fn detach_policy(&self, account: &Account, kind: EntityKind, name: &str, arn: &str) -> Result<()>;
    async fn list_attached_policies(
        &self,
        account: &Account,
        kind: EntityKind,
        name: &str,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AttachedPolicy>>;
    #[allow(clippy::too_many_arguments)]
    async fn list_entities_for_policy(
        &self,
        account: &Account,
        arn: &str,
        filter: EntityFilter,
        prefix: Option<&str>,
        usage: Option<PolicyUsage>,
        page: &PageRequest,
    ) -> Result<Page<PolicyEntity>>;
    async fn put_inline_policy(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<()>;
    async fn get_inline_policy(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
    ) -> Result<InlinePolicy>;
    async fn delete_inline_policy(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
    ) -> Result<()>;
    async fn list_inline_policies(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        page: &PageRequest,
    ) -> Result<Page<String>>;
    /// The identity policies and permissions boundary of a user, group or role (the simulator's
    /// input; the authorizer's cache reads them in-process).
    async fn principal_policies(&self, account: &Account, kind: EntityKind, name: &str) -> Result<PrincipalPolicies>;
    /// The policy epochs of `account` (of every account when `None`), starting with the account's
    /// current one, then every rise, until the stream is dropped.
    async fn watch_policy_epochs(&self, account: Option<&Account>) -> Result<EpochStream>;
}

#[async_trait::async_trait]
impl<S: Store> PolicyApi for Policies<S> {
    async fn create_policy(&self, account: &Account, input: CreatePolicy) -> Result<ManagedPolicy> {
        Policies::create_policy(self, account, input).await
    }

    async fn get_policy(&self, account: &Account, arn: &str) -> Result<ManagedPolicy> {
        Policies::get_policy(self, account, arn).await
    }

    async fn list_policies(
        &self,
        account: &Account,
        query: &ListPolicies,
        page: &PageRequest,
    ) -> Result<Page<ManagedPolicy>> {
        Policies::list_policies(self, account, query, page).await
    }

    async fn delete_policy(&self, account: &Account, arn: &str) -> Result<()> {
        Policies::delete_policy(self, account, arn).await
    }

    async fn create_policy_version(
        &self,
        account: &Account,
        arn: &str,
        document: &str,
        set_as_default: bool,
    ) -> Result<PolicyVersion> {
        Policies::create_policy_version(self, account, arn, document, set_as_default).await
    }

    async fn get_policy_version(&self, account: &Account, arn: &str, version_id: &str) -> Result<PolicyVersion> {
        Policies::get_policy_version(self, account, arn, version_id).await
    }

    async fn list_policy_versions(
        &self,
        account: &Account,
        arn: &str,
        page: &PageRequest,
    ) -> Result<Page<PolicyVersion>> {
        Policies::list_policy_versions(self, account, arn, page).await
    }

    async fn delete_policy_version(&self, account: &Account, arn: &str, version_id: &str) -> Result<()> {
        Policies::delete_policy_version(self, account, arn, version_id).await
    }

    async fn set_default_policy_version(&self, account: &Account, arn: &str, version_id: &str) -> Result<()> {
        Policies::set_default_policy_version(self, account, arn, version_id).await
    }

    async fn attach_policy(&self, account: &Account, kind: EntityKind, name: &str, arn: &str) -> Result<()> {
        Policies::attach_policy(self, account, kind, name, arn).await
    }

    async fn detach_policy(&self, account: &Account, kind: EntityKind, name: &str, arn: &str) -> Result<()> {
        Policies::detach_policy(self, account, kind, name, arn).await
    }

    async fn list_attached_policies(
        &self,
        account: &Account,
        kind: EntityKind,
        name: &str,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AttachedPolicy>> {
        Policies::list_attached_policies(self, account, kind, name, prefix, page).await
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
        Policies::list_entities_for_policy(self, account, arn, filter, prefix, usage, page).await
    }

    async fn put_inline_policy(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<()> {
        Policies::put_inline_policy(self, account, kind, entity_name, policy_name, document).await
    }

    async fn get_inline_policy(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
    ) -> Result<InlinePolicy> {
        Policies::get_inline_policy(self, account, kind, entity_name, policy_name).await
    }

    async fn delete_inline_policy(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        policy_name: &str,
    ) -> Result<()> {
        Policies::delete_inline_policy(self, account, kind, entity_name, policy_name).await
    }

    async fn list_inline_policies(
        &self,
        account: &Account,
        kind: EntityKind,
        entity_name: &str,
        page: &PageRequest,
    ) -> Result<Page<String>> {
        Policies::list_inline_policies(self, account, kind, entity_name, page).await
    }

    async fn principal_policies(&self, account: &Account, kind: EntityKind, name: &str) -> Result<PrincipalPolicies> {
        Policies::principal_policies(self, account, kind, name).await
    }

    /// Subscribes before reading the current epoch, so a change between the two is seen (twice at
    /// worst, which is harmless: only a rise matters).
    async fn watch_policy_epochs(&self, account: Option<&Account>) -> Result<EpochStream> {
        let store = Arc::clone(self.store());
        let mut subscription = EpochSubscription::subscribe(&*store).await.map_err(Error::from)?;
        let (sender, receiver) = mpsc::channel(64);
        if let Some(account) = account {
            let epoch = iam::current_epoch(&*store, account.ns()).await.map_err(Error::from)?;
            // The receiver is still here, so this cannot fail; if it did, the stream just ends.
            let _ = sender.send(Ok(EpochChange { account: account.id().to_owned(), epoch })).await;
        }
        let only = account.map(|a| a.id().to_owned());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    // The watcher went away: stop listening even if no epoch ever comes.
                    () = sender.closed() => break,
                    next = subscription.recv() => match next {
                        Ok(change) if only.as_ref().is_none_or(|a| *a == change.account) => {
                            let change = EpochChange { account: change.account, epoch: change.epoch };
                            if sender.send(Ok(change)).await.is_err() {
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
        Ok(Box::pin(ReceiverStream::new(receiver)))
    }
}
