//! What the account's identity providers share, SAML (`saml.rs`) and OpenID Connect (`oidc.rs`):
//! each is one record in the account's namespace, and creating or deleting one changes who can
//! federate into the account, so it bumps the policy epoch and publishes it.

use tessera_store::iam::{self, Record};
use tessera_store::{Key, Store, update};

use crate::{Account, Error, Identity, Result};

impl<S: Store> Identity<S> {
    /// Writes a new provider at `key`: past `max` providers of its kind in the account it is
    /// `LimitExceeded` (`quota` names the limit), and `exists()` when the key is taken.
    pub(crate) async fn create_provider<R: Record + Sync>(
        &self,
        account: &Account,
        key: Key,
        provider: &R,
        (quota, max): (&str, usize),
        exists: impl Fn() -> Error + Sync,
    ) -> Result<()> {
        let (key, exists) = (&key, &exists);
        update(&*self.store, |tx| async move {
            if tx.read::<R>(key).await?.is_some() {
                return Err(exists());
            }
            // Exact under concurrent creates (the kind's quota guard), unlike a scan alone.
            if !iam::under_account_quota(&tx, account.ns(), R::KIND, max).await? {
                return Err(Error::quota(quota, max));
            }
            tx.write(key.clone(), provider);
            tx.bump_epoch(account.ns());
            Ok::<_, Error>(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }

    /// Deletes the provider at `key`, which `arn` names; `not_found(arn)` when there is none.
    pub(crate) async fn delete_provider<R: Record>(
        &self,
        account: &Account,
        key: Key,
        arn: &str,
        not_found: fn(&str) -> Error,
    ) -> Result<()> {
        let key = &key;
        update(&*self.store, |tx| async move {
            if tx.read::<R>(key).await?.is_none() {
                return Err(not_found(arn));
            }
            tx.delete(key.clone());
            tx.bump_epoch(account.ns());
            Ok::<_, Error>(())
        })
        .await?;
        self.published(account).await;
        Ok(())
    }
}
