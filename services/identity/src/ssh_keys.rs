//! SSH public keys of IAM users (`UploadSSHPublicKey` and friends): at most five per user, kept
//! in the user record in both of AWS's encodings with AWS's MD5 fingerprint. Parsing is
//! `tessera_credentials::ssh`'s.

use tessera_arn::{IdPrefix, unique_id};
use tessera_credentials::ssh::{SshKeyError, parse_ssh_public_key};
use tessera_proto::error::ErrorCode;
use tessera_store::iam::{KeyStatus, SshPublicKeyRecord, UserRecord};
use tessera_store::{Store, update};

use crate::entity::{self, AnyEntity};
use crate::page::{Page, PageRequest, paginate};
use crate::user_credentials::user_credential;
use crate::{Account, Error, Identity, Result};

/// SSH public keys per user.
pub(crate) const MAX_SSH_KEYS_PER_USER: usize = 5;

/// How `GetSSHPublicKey` shows the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshEncoding {
    /// `ssh-rsa AAAA…`.
    Ssh,
    /// `-----BEGIN PUBLIC KEY-----`.
    Pem,
}

impl SshEncoding {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "SSH" => Some(Self::Ssh),
            "PEM" => Some(Self::Pem),
            _ => None,
        }
    }
}

/// A user's SSH public key as the API shows it (`body` and `fingerprint` empty in lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshPublicKey {
    pub user_name: String,
    pub id: String,
    pub fingerprint: String,
    pub body: String,
    pub status: KeyStatus,
    pub upload_date: u64,
}

fn shown(user: &UserRecord, key: &SshPublicKeyRecord, body: String) -> SshPublicKey {
    SshPublicKey {
        user_name: user.principal.name.clone(),
        id: key.id.clone(),
        fingerprint: key.fingerprint.clone(),
        body,
        status: key.status,
        upload_date: key.upload_date,
    }
}

fn key_not_found(id: &str) -> Error {
    Error::no_such_entity(format!("The Public Key with id {id} cannot be found."))
}

user_credential!(SshPublicKeyRecord, ssh_public_keys, key_not_found);

pub(crate) fn ssh_error(error: SshKeyError) -> Error {
    let code = match error {
        SshKeyError::Unrecognized => ErrorCode::UnrecognizedPublicKeyEncoding,
        SshKeyError::Invalid(_) => ErrorCode::InvalidPublicKey,
    };
    Error::new(code, error.to_string())
}

impl<S: Store> Identity<S> {
    /// `UploadSSHPublicKey`: parses the key, refuses a sixth key or one the user already has.
    pub async fn upload_ssh_public_key(&self, account: &Account, user_name: &str, body: &str) -> Result<SshPublicKey> {
        let parsed = parse_ssh_public_key(body).map_err(ssh_error)?;
        let id = self.env.random.with(|r| unique_id(IdPrefix::PublicKey, &mut &mut *r));
        let record = SshPublicKeyRecord {
            id,
            body: body.to_owned(),
            openssh: parsed.openssh,
            pem: parsed.pem,
            fingerprint: parsed.fingerprint,
            status: KeyStatus::Active,
            upload_date: self.env.now_millis(),
        };
        let record = &record;
        update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, user_name).await?;
            if user.ssh_public_keys.iter().any(|k| k.fingerprint == record.fingerprint) {
                return Err(Error::new(
                    ErrorCode::DuplicateSshPublicKey,
                    "The SSH public key is already associated with the specified IAM user.",
                ));
            }
            if user.ssh_public_keys.len() >= MAX_SSH_KEYS_PER_USER {
                return Err(Error::quota("SSHPublicKeysPerUser", MAX_SSH_KEYS_PER_USER));
            }
            user.ssh_public_keys.push(record.clone());
            let shown = shown(&user, record, record.body.clone());
            entity::write(&tx, account, &AnyEntity::User(user));
            Ok(shown)
        })
        .await
    }

    /// `GetSSHPublicKey`: the key in the encoding asked for.
    pub async fn get_ssh_public_key(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
        encoding: SshEncoding,
    ) -> Result<SshPublicKey> {
        let user = self.get_user(account, user_name).await?;
        let key = user.ssh_public_keys.iter().find(|k| k.id == id).ok_or_else(|| key_not_found(id))?;
        let body = match encoding {
            SshEncoding::Ssh => key.openssh.clone(),
            SshEncoding::Pem => key.pem.clone(),
        };
        Ok(shown(&user, key, body))
    }

    /// `ListSSHPublicKeys`: the user's keys (metadata only), by id.
    pub async fn list_ssh_public_keys(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<SshPublicKey>> {
        let user = self.get_user(account, user_name).await?;
        let mut keys: Vec<SshPublicKey> = user
            .ssh_public_keys
            .iter()
            .map(|k| SshPublicKey { fingerprint: String::new(), ..shown(&user, k, String::new()) })
            .collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        paginate(keys, page, |k| k.id.clone())
    }

    /// `UpdateSSHPublicKey`: activates or deactivates a key.
    pub async fn update_ssh_public_key(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        self.set_user_credential_status::<SshPublicKeyRecord>(account, user_name, id, status).await
    }

    /// `DeleteSSHPublicKey`.
    pub async fn delete_ssh_public_key(&self, account: &Account, user_name: &str, id: &str) -> Result<()> {
        self.remove_user_credential::<SshPublicKeyRecord>(account, user_name, id).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::testing::fixture;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@example";

    #[tokio::test]
    async fn upload_get_list_update_delete() {
        let f = fixture();
        f.user("alice").await;
        let key = f.identity.upload_ssh_public_key(&f.account, "alice", KEY).await.unwrap();
        assert!(key.id.starts_with("APKA"));
        assert_eq!(key.body, KEY);
        let err = f.identity.upload_ssh_public_key(&f.account, "alice", KEY).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::DuplicateSshPublicKey);
        let pem = f.identity.get_ssh_public_key(&f.account, "alice", &key.id, SshEncoding::Pem).await.unwrap();
        assert!(pem.body.starts_with("-----BEGIN PUBLIC KEY-----"));
        // The PEM form is the same key: uploading it again is a duplicate.
        let err = f.identity.upload_ssh_public_key(&f.account, "alice", &pem.body).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::DuplicateSshPublicKey);
        f.identity.update_ssh_public_key(&f.account, "alice", &key.id, KeyStatus::Inactive).await.unwrap();
        let listed = f.identity.list_ssh_public_keys(&f.account, "alice", &PageRequest::default()).await.unwrap();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].status, KeyStatus::Inactive);
        assert_eq!(f.identity.delete_user(&f.account, "alice").await.unwrap_err().code(), ErrorCode::DeleteConflict);
        f.identity.delete_ssh_public_key(&f.account, "alice", &key.id).await.unwrap();
        let err = f.identity.delete_ssh_public_key(&f.account, "alice", &key.id).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NoSuchEntity);
        f.identity.delete_user(&f.account, "alice").await.unwrap();
    }

    #[tokio::test]
    async fn garbage_is_unrecognized() {
        let f = fixture();
        f.user("alice").await;
        let err = f.identity.upload_ssh_public_key(&f.account, "alice", "ssh-rsa nope").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnrecognizedPublicKeyEncoding);
    }
}
