//! What the credential lists of a user record share (signing certificates, SSH public keys,
//! service-specific credentials): one element, found by its id, activated or deactivated
//! (`Update…`) or removed (`Delete…`) in one transaction on the user. Each list says once, in its
//! own module, where the user record keeps it and how AWS words a missing id.

use tessera_store::iam::{KeyStatus, UserRecord};
use tessera_store::{Store, update};

use crate::entity::{self, AnyEntity};
use crate::{Account, Error, Identity, Result};

/// An element of one of the credential lists a user record keeps.
pub(crate) trait UserCredential: Clone + Send + Sync {
    /// The list of these in the user record.
    fn list(user: &mut UserRecord) -> &mut Vec<Self>;
    /// The error for an id the user has none of (AWS words it per kind).
    fn not_found(id: &str) -> Error;
    fn id(&self) -> &str;
    fn set_status(&mut self, status: KeyStatus);
}

/// Declares a record with `id` and `status` fields an element of the user record's list `$list`,
/// missing ids worded by `$not_found`.
macro_rules! user_credential {
    ($record:ty, $list:ident, $not_found:path) => {
        impl $crate::user_credentials::UserCredential for $record {
            fn list(user: &mut tessera_store::iam::UserRecord) -> &mut Vec<Self> {
                &mut user.$list
            }
            fn not_found(id: &str) -> $crate::Error {
                $not_found(id)
            }
            fn id(&self) -> &str {
                &self.id
            }
            fn set_status(&mut self, status: tessera_store::iam::KeyStatus) {
                self.status = status;
            }
        }
    };
}
pub(crate) use user_credential;

impl<S: Store> Identity<S> {
    /// Activates or deactivates the user's credential `id`.
    pub(crate) async fn set_user_credential_status<C: UserCredential>(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        self.change_user_credential::<C>(account, user_name, id, Some(status)).await.map(drop)
    }

    /// Removes the user's credential `id`, and returns it.
    pub(crate) async fn remove_user_credential<C: UserCredential>(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
    ) -> Result<C> {
        self.change_user_credential::<C>(account, user_name, id, None).await
    }

    /// Sets the status of the credential `id` to `status`, or with `None` removes it; returns it
    /// as changed (as it was, when removed).
    async fn change_user_credential<C: UserCredential>(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
        status: Option<KeyStatus>,
    ) -> Result<C> {
        update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, user_name).await?;
            let list = C::list(&mut user);
            let position = list.iter().position(|c| c.id() == id).ok_or_else(|| C::not_found(id))?;
            let changed = match status {
                Some(status) => {
                    list[position].set_status(status);
                    list[position].clone()
                }
                None => list.remove(position),
            };
            entity::write(&tx, account, &AnyEntity::User(user));
            Ok::<_, Error>(changed)
        })
        .await
    }
}
