//! Server certificates (`UploadServerCertificate` and friends): a PEM certificate, its chain and
//! its private key, one record per certificate (`server-certificate:<folded name>`). The
//! certificate, key and chain are checked by `tessera_credentials::x509` (the key must be the
//! certificate's, the chain in order); `Expiration` is the certificate's `notAfter`. The private
//! key is sealed under the master key with the certificate id as associated data, like an access
//! key's secret, and is never returned or logged.

use tessera_arn::{IdPrefix, unique_id, validate_server_certificate_name};
use tessera_credentials::x509::{check_chain, check_key_pair, check_key_type, parse_certificate};
use tessera_proto::error::ErrorCode;
use tessera_store::iam::{self, Millis, SERVER_CERTIFICATE, ServerCertificateRecord, Tag, named};
use tessera_store::{Key, Store, update};

use crate::page::{Page, PageRequest, paginate};
use crate::signing_certificates::certificate_error;
use crate::users::{path_or_root, path_prefix};
use crate::{Account, Error, Identity, Result, tags};

/// Server certificates per account (AWS's default quota).
pub(crate) const MAX_SERVER_CERTIFICATES: usize = 20;

/// `UploadServerCertificate`'s input. `Debug` leaves the private key out.
#[derive(Clone, Default)]
pub struct UploadServerCertificate {
    pub path: Option<String>,
    pub name: String,
    pub body: String,
    pub private_key: String,
    pub chain: Option<String>,
    pub tags: Vec<Tag>,
}

impl std::fmt::Debug for UploadServerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadServerCertificate")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("chain", &self.chain.is_some())
            .field("tags", &self.tags)
            .finish_non_exhaustive()
    }
}

/// A server certificate as the API shows it (no private key, not even sealed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerCertificate {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub upload_date: Millis,
    pub expiration: Millis,
    pub body: String,
    pub chain: Option<String>,
    pub tags: Vec<Tag>,
}

impl From<ServerCertificateRecord> for ServerCertificate {
    fn from(r: ServerCertificateRecord) -> Self {
        Self {
            name: r.name,
            path: r.path,
            id: r.id,
            arn: r.arn,
            upload_date: r.upload_date,
            expiration: r.expiration,
            body: r.body,
            chain: r.chain,
            tags: r.tags,
        }
    }
}

pub(crate) fn key(account: &Account, name: &str) -> Key {
    named(account.ns(), SERVER_CERTIFICATE, name)
}

pub(crate) fn not_found(name: &str) -> Error {
    Error::no_such_entity(format!("The Server Certificate with name {name} cannot be found."))
}

fn already_exists(name: &str) -> Error {
    Error::already_exists(format!("The Server Certificate with name {name} already exists."))
}

/// `arn:aws:iam::ACCT:server-certificate/PATH/NAME` (`tessera_arn::IamEntity` does not model
/// server certificates: no policy names them as principals).
pub fn server_certificate_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:server-certificate{path}{name}")
}

/// The associated data a private key is sealed with, binding the blob to its certificate.
pub(crate) fn key_aad(id: &str) -> String {
    format!("server-certificate:{id}")
}

fn millis_of(unix_seconds: i64) -> Millis {
    u64::try_from(unix_seconds).unwrap_or(0).saturating_mul(1000)
}

impl<S: Store> Identity<S> {
    /// `UploadServerCertificate`: validates the certificate, key and chain, seals the key.
    pub async fn upload_server_certificate(
        &self,
        account: &Account,
        input: UploadServerCertificate,
    ) -> Result<ServerCertificate> {
        validate_server_certificate_name(&input.name)?;
        let path = path_or_root(input.path)?;
        let tags = tags::new_tags(input.tags, "TagsPerServerCertificate")?;
        let cert = parse_certificate(&input.body).map_err(certificate_error)?;
        check_key_type(&cert).map_err(certificate_error)?;
        check_key_pair(&cert, &input.private_key).map_err(certificate_error)?;
        let chain = match input.chain.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(chain) => Some(check_chain(&cert, chain).map_err(certificate_error)?),
            None => None,
        };
        let id = self.env.random.with(|r| unique_id(IdPrefix::Certificate, &mut &mut *r));
        let sealed = self
            .env
            .random
            .with(|r| self.env.master_key.seal(input.private_key.as_bytes(), key_aad(&id).as_bytes(), r))
            .map_err(|_| {
                Error::new(ErrorCode::ServiceFailure, "The request processing has failed because of an unknown error.")
            })?;
        let record = ServerCertificateRecord {
            arn: server_certificate_arn(account.id(), &path, &input.name),
            name: input.name,
            path,
            id,
            upload_date: self.env.now_millis(),
            expiration: millis_of(cert.not_after),
            body: cert.pem,
            chain,
            sealed_private_key: sealed,
            tags,
        };
        let record = &record;
        update(&*self.store, |tx| async move {
            let key = key(account, &record.name);
            if tx.read::<ServerCertificateRecord>(&key).await?.is_some() {
                return Err(already_exists(&record.name));
            }
            if !iam::under_account_quota(&tx, account.ns(), iam::SERVER_CERTIFICATE, MAX_SERVER_CERTIFICATES).await? {
                return Err(Error::quota("ServerCertificatesPerAccount", MAX_SERVER_CERTIFICATES));
            }
            tx.write(key, record);
            Ok::<_, Error>(())
        })
        .await?;
        Ok(record.clone().into())
    }

    /// `GetServerCertificate`: the certificate, its chain and tags.
    pub async fn get_server_certificate(&self, account: &Account, name: &str) -> Result<ServerCertificate> {
        let record: Option<ServerCertificateRecord> = iam::load(&*self.store, &key(account, name)).await?;
        Ok(record.ok_or_else(|| not_found(name))?.into())
    }

    /// `ListServerCertificates`: by name, those whose path starts with `prefix`.
    pub async fn list_server_certificates(
        &self,
        account: &Account,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<ServerCertificate>> {
        let prefix = path_prefix(prefix)?;
        let certs = iam::scan_all::<S, ServerCertificateRecord>(&*self.store, account.ns()).await?;
        let certs = certs.into_iter().filter(|(_, c)| c.path.starts_with(&prefix)).collect();
        Ok(paginate(certs, page, |(k, _)| k.clone())?.map(|(_, c)| c.into()))
    }

    /// `UpdateServerCertificate`: a new path, a new name, or both.
    pub async fn update_server_certificate(
        &self,
        account: &Account,
        name: &str,
        new_path: Option<String>,
        new_name: Option<String>,
    ) -> Result<()> {
        let new_path = new_path.filter(|p| !p.is_empty());
        if let Some(path) = &new_path {
            tessera_arn::validate_path(path)?;
        }
        let new_name = new_name.filter(|n| !n.is_empty());
        if let Some(new_name) = &new_name {
            validate_server_certificate_name(new_name)?;
        }
        let (new_path, new_name) = (&new_path, &new_name);
        update(&*self.store, |tx| async move {
            let old_key = key(account, name);
            let mut record: ServerCertificateRecord = tx.read(&old_key).await?.ok_or_else(|| not_found(name))?;
            if let Some(renamed) = new_name {
                let new_key = key(account, renamed);
                if new_key != old_key {
                    if tx.read::<ServerCertificateRecord>(&new_key).await?.is_some() {
                        return Err(already_exists(renamed));
                    }
                    tx.delete(old_key);
                }
                record.name = renamed.clone();
            }
            if let Some(path) = new_path {
                record.path = path.clone();
            }
            record.arn = server_certificate_arn(account.id(), &record.path, &record.name);
            tx.write(key(account, &record.name), &record);
            Ok::<_, Error>(())
        })
        .await
    }

    /// `DeleteServerCertificate`.
    pub async fn delete_server_certificate(&self, account: &Account, name: &str) -> Result<()> {
        update(&*self.store, |tx| async move {
            let key = key(account, name);
            if tx.read::<ServerCertificateRecord>(&key).await?.is_none() {
                return Err(not_found(name));
            }
            tx.delete(key);
            Ok::<_, Error>(())
        })
        .await
    }

    /// The private key of a server certificate, for an operator's export; never served by the
    /// API.
    pub async fn server_certificate_private_key(
        &self,
        account: &Account,
        name: &str,
    ) -> Result<tessera_credentials::Secret> {
        let record: ServerCertificateRecord =
            iam::load(&*self.store, &key(account, name)).await?.ok_or_else(|| not_found(name))?;
        let plain =
            self.env.master_key.open(&record.sealed_private_key, key_aad(&record.id).as_bytes()).map_err(|error| {
                tracing::error!(%error, server_certificate = name, "cannot open a sealed server certificate key");
                Error::new(ErrorCode::ServiceFailure, "The request processing has failed because of an unknown error.")
            })?;
        let text = String::from_utf8(plain).map_err(|_| {
            Error::new(ErrorCode::ServiceFailure, "The request processing has failed because of an unknown error.")
        })?;
        Ok(tessera_credentials::Secret::new(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::testing::fixture;

    fn pair() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["example.com".into()]).unwrap().self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn input(name: &str, (body, private_key): (String, String)) -> UploadServerCertificate {
        UploadServerCertificate { name: name.into(), body, private_key, ..Default::default() }
    }

    #[tokio::test]
    async fn upload_get_rename_delete() {
        let f = fixture();
        let (body, private_key) = pair();
        let up = f
            .identity
            .upload_server_certificate(&f.account, input("web", (body.clone(), private_key.clone())))
            .await
            .unwrap();
        assert!(up.id.starts_with("ASCA"));
        assert_eq!(up.arn, format!("arn:aws:iam::{}:server-certificate/web", f.account.id()));
        assert!(up.expiration > up.upload_date);
        let err = f.identity.upload_server_certificate(&f.account, input("WEB", pair())).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::EntityAlreadyExists);
        let err = f.identity.upload_server_certificate(&f.account, input("other", (body.clone(), pair().1))).await;
        assert_eq!(err.unwrap_err().code(), ErrorCode::KeyPairMismatch);
        // The key is sealed, and nothing shows it.
        let stored: ServerCertificateRecord =
            iam::load(&**f.identity.store(), &key(&f.account, "web")).await.unwrap().unwrap();
        assert!(!stored.sealed_private_key.contains("PRIVATE KEY"));
        assert!(!format!("{stored:?}").contains(&stored.sealed_private_key));
        assert_eq!(f.identity.server_certificate_private_key(&f.account, "web").await.unwrap().expose(), private_key);

        f.identity
            .update_server_certificate(&f.account, "web", Some("/prod/".into()), Some("web2".into()))
            .await
            .unwrap();
        assert_eq!(
            f.identity.get_server_certificate(&f.account, "web").await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
        let got = f.identity.get_server_certificate(&f.account, "web2").await.unwrap();
        assert_eq!(got.arn, format!("arn:aws:iam::{}:server-certificate/prod/web2", f.account.id()));
        let listed =
            f.identity.list_server_certificates(&f.account, Some("/prod/"), &PageRequest::default()).await.unwrap();
        assert_eq!(listed.items.len(), 1);
        let none =
            f.identity.list_server_certificates(&f.account, Some("/dev/"), &PageRequest::default()).await.unwrap();
        assert!(none.items.is_empty());
        f.identity.delete_server_certificate(&f.account, "web2").await.unwrap();
        assert_eq!(
            f.identity.delete_server_certificate(&f.account, "web2").await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
    }
}
