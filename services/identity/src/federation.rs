//! The account's outbound web identity federation switch (IAM's
//! `Enable`/`DisableOutboundWebIdentityFederation`, `GetOutboundWebIdentityFederationInfo`):
//! while it is off, `sts:GetWebIdentityToken` is refused over the AWS API. Never enabled is
//! told apart from disabled, as AWS answers the info call `FeatureDisabled` only for the first.

use tessera_proto::error::ErrorCode;
use tessera_store::iam::{self, OUTBOUND_FEDERATION, OutboundFederationRecord};
use tessera_store::{Key, Store, update};

use crate::{Account, Error, Identity, Result};

fn key(account: &Account) -> Key {
    Key::new(account.ns(), OUTBOUND_FEDERATION, "")
}

impl<S: Store> Identity<S> {
    /// Enables (`FeatureEnabled` when it is) or disables (`FeatureDisabled` when it is not) the
    /// account's outbound web identity federation.
    pub async fn set_outbound_web_identity_federation(&self, account: &Account, enabled: bool) -> Result<()> {
        update(&*self.store, |tx| async move {
            let key = key(account);
            let current = tx.read::<OutboundFederationRecord>(&key).await?.is_some_and(|r| r.enabled);
            match (current, enabled) {
                (true, true) => Err(Error::new(
                    ErrorCode::FeatureEnabled,
                    "Outbound web identity federation is already enabled for this account.",
                )),
                (false, false) => Err(Error::new(
                    ErrorCode::FeatureDisabled,
                    "Outbound web identity federation is already disabled for this account.",
                )),
                _ => {
                    tx.write(key, &OutboundFederationRecord { enabled });
                    Ok(())
                }
            }
        })
        .await
    }

    /// Whether the account's outbound web identity federation is on; `None` when it was never
    /// enabled.
    pub async fn outbound_web_identity_federation(&self, account: &Account) -> Result<Option<bool>> {
        Ok(iam::load::<_, OutboundFederationRecord>(&*self.store, &key(account)).await?.map(|r| r.enabled))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_switch_refuses_to_repeat_itself() {
        let fixture = crate::account::testing::fixture();
        let (identity, account) = (&fixture.identity, &fixture.account);
        assert_eq!(identity.outbound_web_identity_federation(account).await.unwrap(), None);
        let code = |r: Result<()>| r.unwrap_err().code();
        assert_eq!(
            code(identity.set_outbound_web_identity_federation(account, false).await),
            ErrorCode::FeatureDisabled
        );
        identity.set_outbound_web_identity_federation(account, true).await.unwrap();
        assert_eq!(identity.outbound_web_identity_federation(account).await.unwrap(), Some(true));
        assert_eq!(code(identity.set_outbound_web_identity_federation(account, true).await), ErrorCode::FeatureEnabled);
        identity.set_outbound_web_identity_federation(account, false).await.unwrap();
        assert_eq!(identity.outbound_web_identity_federation(account).await.unwrap(), Some(false));
    }
}
