//! X.509 signing certificates of IAM users (`UploadSigningCertificate` and friends): at most two
//! per user, kept as PEM in the user record. Parsing is `tessera_credentials::x509`'s.

use tessera_arn::{ID_ALPHABET, RandomSource};
use tessera_credentials::x509::{CertificateError, check_key_type, parse_certificate};
use tessera_proto::error::ErrorCode;
use tessera_store::iam::{KeyStatus, SigningCertificateRecord, UserRecord};
use tessera_store::{Store, update};

use crate::entity::{self, AnyEntity};
use crate::page::{Page, PageRequest, paginate};
use crate::user_credentials::user_credential;
use crate::{Account, Error, Identity, Result};

/// Signing certificates per user.
pub(crate) const MAX_SIGNING_CERTIFICATES_PER_USER: usize = 2;

/// Length of a signing certificate id (AWS's are 32 upper-case letters and digits).
const CERTIFICATE_ID_LEN: usize = 32;

/// A user's signing certificate as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningCertificate {
    pub user_name: String,
    pub id: String,
    pub body: String,
    pub status: KeyStatus,
    pub upload_date: u64,
}

fn shown(user: &UserRecord, cert: &SigningCertificateRecord) -> SigningCertificate {
    SigningCertificate {
        user_name: user.principal.name.clone(),
        id: cert.id.clone(),
        body: cert.body.clone(),
        status: cert.status,
        upload_date: cert.upload_date,
    }
}

fn not_found(id: &str) -> Error {
    Error::no_such_entity(format!("The Certificate with id {id} cannot be found."))
}

/// The wire error of a refused certificate, chain or key.
pub(crate) fn certificate_error(error: CertificateError) -> Error {
    let code = match error {
        CertificateError::Malformed(_) => ErrorCode::MalformedCertificate,
        CertificateError::KeyPairMismatch => ErrorCode::KeyPairMismatch,
        CertificateError::Invalid(_) => ErrorCode::InvalidCertificate,
    };
    Error::new(code, error.to_string())
}

user_credential!(SigningCertificateRecord, signing_certificates, not_found);

fn new_id(rng: &mut dyn RandomSource) -> String {
    let mut bytes = [0u8; CERTIFICATE_ID_LEN];
    rng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| char::from(ID_ALPHABET[usize::from(b & 31)])).collect()
}

impl<S: Store> Identity<S> {
    /// `UploadSigningCertificate`: a new active certificate; a third is `LimitExceeded`, one the
    /// user already has `DuplicateCertificate`.
    pub async fn upload_signing_certificate(
        &self,
        account: &Account,
        user_name: &str,
        body: &str,
    ) -> Result<SigningCertificate> {
        let parsed = parse_certificate(body).map_err(certificate_error)?;
        check_key_type(&parsed).map_err(certificate_error)?;
        let id = self.env.random.with(|r| new_id(r));
        let record = SigningCertificateRecord {
            id,
            body: parsed.pem,
            status: KeyStatus::Active,
            upload_date: self.env.now_millis(),
        };
        let record = &record;
        update(&*self.store, |tx| async move {
            let mut user = entity::read_user(&tx, account, user_name).await?;
            if user.signing_certificates.iter().any(|c| c.body == record.body) {
                return Err(Error::new(
                    ErrorCode::DuplicateCertificate,
                    "The same certificate is already associated with an IAM user in the account.",
                ));
            }
            if user.signing_certificates.len() >= MAX_SIGNING_CERTIFICATES_PER_USER {
                return Err(Error::quota("SigningCertificatesPerUser", MAX_SIGNING_CERTIFICATES_PER_USER));
            }
            user.signing_certificates.push(record.clone());
            let shown = shown(&user, record);
            entity::write(&tx, account, &AnyEntity::User(user));
            Ok(shown)
        })
        .await
    }

    /// `ListSigningCertificates`: the user's certificates, bodies included (as AWS lists them).
    pub async fn list_signing_certificates(
        &self,
        account: &Account,
        user_name: &str,
        page: &PageRequest,
    ) -> Result<Page<SigningCertificate>> {
        let user = self.get_user(account, user_name).await?;
        let mut certs: Vec<SigningCertificate> = user.signing_certificates.iter().map(|c| shown(&user, c)).collect();
        certs.sort_by(|a, b| a.id.cmp(&b.id));
        paginate(certs, page, |c| c.id.clone())
    }

    /// `UpdateSigningCertificate`: activates or deactivates a certificate.
    pub async fn update_signing_certificate(
        &self,
        account: &Account,
        user_name: &str,
        id: &str,
        status: KeyStatus,
    ) -> Result<()> {
        self.set_user_credential_status::<SigningCertificateRecord>(account, user_name, id, status).await
    }

    /// `DeleteSigningCertificate`.
    pub async fn delete_signing_certificate(&self, account: &Account, user_name: &str, id: &str) -> Result<()> {
        self.remove_user_credential::<SigningCertificateRecord>(account, user_name, id).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::testing::fixture;

    fn certificate() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        rcgen::CertificateParams::new(vec!["alice".into()]).unwrap().self_signed(&key).unwrap().pem()
    }

    #[tokio::test]
    async fn upload_list_update_delete() {
        let f = fixture();
        f.user("alice").await;
        let pem = certificate();
        let cert = f.identity.upload_signing_certificate(&f.account, "alice", &pem).await.unwrap();
        assert_eq!(cert.id.len(), 32);
        assert_eq!(cert.status, KeyStatus::Active);
        let err = f.identity.upload_signing_certificate(&f.account, "alice", &pem).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::DuplicateCertificate);
        f.identity.upload_signing_certificate(&f.account, "alice", &certificate()).await.unwrap();
        let err = f.identity.upload_signing_certificate(&f.account, "alice", &certificate()).await.unwrap_err();
        assert_eq!(err.into_service_error().message, "Cannot exceed quota for SigningCertificatesPerUser: 2");
        let err = f.identity.upload_signing_certificate(&f.account, "alice", "nope").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::MalformedCertificate);
        f.identity.update_signing_certificate(&f.account, "alice", &cert.id, KeyStatus::Inactive).await.unwrap();
        let listed = f.identity.list_signing_certificates(&f.account, "alice", &PageRequest::default()).await.unwrap();
        assert_eq!(listed.items.len(), 2);
        assert!(listed.items.iter().any(|c| c.id == cert.id && c.status == KeyStatus::Inactive));
        assert_eq!(f.identity.delete_user(&f.account, "alice").await.unwrap_err().code(), ErrorCode::DeleteConflict);
        for c in listed.items {
            f.identity.delete_signing_certificate(&f.account, "alice", &c.id).await.unwrap();
        }
        let err = f.identity.delete_signing_certificate(&f.account, "alice", &cert.id).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NoSuchEntity);
    }
}
