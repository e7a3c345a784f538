//! SSH public keys, signing certificates, server certificates and service-specific credentials
//! (issue 14, part B).

use tessera_identity::{
    Error, ServerCertificate, ServiceCredential, SigningCertificate, SshEncoding, SshPublicKey, UploadServerCertificate,
};
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::KeyStatus;

use super::{secs, tags_xml};
use crate::actions::Authorized;
use crate::context::{Cx, Result};

/// AWS's `ValidationError` for a value outside an enum.
fn not_in_enum(value: &str, member: &str, values: &str) -> crate::respond::GatewayError {
    Error::new(
        ErrorCode::ValidationError,
        format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{values}]"
        ),
    )
    .into()
}

/// The required `Status` of the Update* calls of keys and certificates.
pub(crate) fn key_status<S: Store>(cx: &Cx<'_, S>) -> Result<KeyStatus> {
    match cx.required("Status")?.as_str() {
        "Active" => Ok(KeyStatus::Active),
        "Inactive" => Ok(KeyStatus::Inactive),
        other => Err(not_in_enum(other, "status", "Active, Inactive, Expired")),
    }
}

// SSH public keys.

fn ssh_key_xml(r: &mut tessera_awsapi::Response, key: &SshPublicKey) {
    r.el("UserName", &key.user_name)
        .el("SSHPublicKeyId", &key.id)
        .el("Fingerprint", &key.fingerprint)
        .el("SSHPublicKeyBody", &key.body)
        .el("Status", key.status.as_str())
        .timestamp("UploadDate", secs(key.upload_date));
}

pub(crate) async fn upload_ssh_public_key<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let body = cx.required("SSHPublicKeyBody")?;
    let key = cx.gateway.identity.upload_ssh_public_key(cx.account(), auth.name(), &body).await?;
    let mut r = cx.response();
    r.nested("SSHPublicKey", |r| ssh_key_xml(r, &key));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_ssh_public_key<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let id = cx.required("SSHPublicKeyId")?;
    let encoding = cx.required("Encoding")?;
    let encoding = SshEncoding::parse(&encoding).ok_or_else(|| not_in_enum(&encoding, "encoding", "SSH, PEM"))?;
    let key = cx.gateway.identity.get_ssh_public_key(cx.account(), auth.name(), &id, encoding).await?;
    let mut r = cx.response();
    r.nested("SSHPublicKey", |r| ssh_key_xml(r, &key));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn list_ssh_public_keys<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let page = cx.gateway.identity.list_ssh_public_keys(cx.account(), auth.name(), &cx.page()?).await?;
    let mut r = cx.response();
    r.list("SSHPublicKeys", &page.items, |r, k| {
        r.el("UserName", &k.user_name)
            .el("SSHPublicKeyId", &k.id)
            .el("Status", k.status.as_str())
            .timestamp("UploadDate", secs(k.upload_date));
    });
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn update_ssh_public_key<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let id = cx.required("SSHPublicKeyId")?;
    let status = key_status(cx)?;
    cx.gateway.identity.update_ssh_public_key(cx.account(), auth.name(), &id, status).await?;
    Ok(cx.empty())
}

pub(crate) async fn delete_ssh_public_key<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let id = cx.required("SSHPublicKeyId")?;
    cx.gateway.identity.delete_ssh_public_key(cx.account(), auth.name(), &id).await?;
    Ok(cx.empty())
}

// Signing certificates.

fn signing_certificate_xml(r: &mut tessera_awsapi::Response, cert: &SigningCertificate) {
    r.el("UserName", &cert.user_name)
        .el("CertificateId", &cert.id)
        .el("CertificateBody", &cert.body)
        .el("Status", cert.status.as_str())
        .timestamp("UploadDate", secs(cert.upload_date));
}

pub(crate) async fn upload_signing_certificate<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let body = cx.required("CertificateBody")?;
    let cert = cx.gateway.identity.upload_signing_certificate(cx.account(), auth.name(), &body).await?;
    let mut r = cx.response();
    r.nested("Certificate", |r| signing_certificate_xml(r, &cert));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn list_signing_certificates<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let page = cx.gateway.identity.list_signing_certificates(cx.account(), auth.name(), &cx.page()?).await?;
    let mut r = cx.response();
    r.list("Certificates", &page.items, signing_certificate_xml);
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn update_signing_certificate<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let id = cx.required("CertificateId")?;
    let status = key_status(cx)?;
    cx.gateway.identity.update_signing_certificate(cx.account(), auth.name(), &id, status).await?;
    Ok(cx.empty())
}

pub(crate) async fn delete_signing_certificate<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let id = cx.required("CertificateId")?;
    cx.gateway.identity.delete_signing_certificate(cx.account(), auth.name(), &id).await?;
    Ok(cx.empty())
}

// Server certificates.

fn server_certificate_metadata_xml(r: &mut tessera_awsapi::Response, cert: &ServerCertificate) {
    r.el("Path", &cert.path)
        .el("ServerCertificateName", &cert.name)
        .el("ServerCertificateId", &cert.id)
        .el("Arn", &cert.arn)
        .timestamp("UploadDate", secs(cert.upload_date))
        .timestamp("Expiration", secs(cert.expiration));
}

pub(crate) async fn upload_server_certificate<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let input = UploadServerCertificate {
        path: cx.get("Path"),
        name: auth.name().to_owned(),
        body: cx.required("CertificateBody")?,
        private_key: cx.required("PrivateKey")?,
        chain: cx.get("CertificateChain"),
        tags: cx.tags(),
    };
    let cert = cx.gateway.identity.upload_server_certificate(cx.account(), input).await?;
    let mut r = cx.response();
    r.nested("ServerCertificateMetadata", |r| server_certificate_metadata_xml(r, &cert));
    tags_xml(&mut r, &cert.tags);
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_server_certificate<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let cert = cx.gateway.identity.get_server_certificate(cx.account(), auth.name()).await?;
    let mut r = cx.response();
    r.nested("ServerCertificate", |r| {
        r.nested("ServerCertificateMetadata", |r| server_certificate_metadata_xml(r, &cert));
        r.el("CertificateBody", &cert.body).opt("CertificateChain", cert.chain.as_deref());
        tags_xml(r, &cert.tags);
    });
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn list_server_certificates<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let prefix = cx.get("PathPrefix");
    let page = cx.gateway.identity.list_server_certificates(cx.account(), prefix.as_deref(), &cx.page()?).await?;
    let mut r = cx.response();
    r.list("ServerCertificateMetadataList", &page.items, server_certificate_metadata_xml);
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn update_server_certificate<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let (path, name) = (cx.get("NewPath"), cx.get("NewServerCertificateName"));
    cx.gateway.identity.update_server_certificate(cx.account(), auth.name(), path, name).await?;
    Ok(cx.empty())
}

pub(crate) async fn delete_server_certificate<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.delete_server_certificate(cx.account(), auth.name()).await?;
    Ok(cx.empty())
}

// Service-specific credentials.

/// A credential's fields; Bedrock's API keys show as an alias and a secret, the others as a
/// service user name and password (the password or secret only when just made).
fn service_credential_xml(r: &mut tessera_awsapi::Response, c: &ServiceCredential) {
    r.timestamp("CreateDate", secs(c.create_date));
    r.opt_timestamp("ExpirationDate", c.expiration_date.map(secs));
    r.el("ServiceName", &c.service_name);
    let secret = c.password.as_ref().map(|p| p.expose());
    if c.is_api_key() {
        r.el("ServiceCredentialAlias", &c.service_user_name).opt("ServiceCredentialSecret", secret);
    } else {
        r.el("ServiceUserName", &c.service_user_name).opt("ServicePassword", secret);
    }
    r.el("ServiceSpecificCredentialId", &c.id).el("UserName", &c.user_name).el("Status", c.status.as_str());
}

pub(crate) async fn create_service_specific_credential<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let service = cx.required("ServiceName")?;
    let age = cx.int("CredentialAgeDays")?;
    let c = cx.gateway.identity.create_service_specific_credential(cx.account(), auth.name(), &service, age).await?;
    let mut r = cx.response();
    r.nested("ServiceSpecificCredential", |r| service_credential_xml(r, &c));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn reset_service_specific_credential<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let id = cx.required("ServiceSpecificCredentialId")?;
    let c = cx.gateway.identity.reset_service_specific_credential(cx.account(), auth.name(), &id).await?;
    let mut r = cx.response();
    r.nested("ServiceSpecificCredential", |r| service_credential_xml(r, &c));
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn list_service_specific_credentials<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let service = cx.get("ServiceName").filter(|s| !s.is_empty());
    let all_users = cx.bool("AllUsers")?.unwrap_or(false);
    let page = cx
        .gateway
        .identity
        .list_service_specific_credentials(cx.account(), auth.name(), service.as_deref(), all_users, &cx.page()?)
        .await?;
    let mut r = cx.response();
    r.list("ServiceSpecificCredentials", &page.items, |r, c| {
        r.el("UserName", &c.user_name).el("Status", c.status.as_str());
        if c.is_api_key() {
            r.el("ServiceCredentialAlias", &c.service_user_name);
        } else {
            r.el("ServiceUserName", &c.service_user_name);
        }
        r.timestamp("CreateDate", secs(c.create_date));
        r.opt_timestamp("ExpirationDate", c.expiration_date.map(secs));
        r.el("ServiceSpecificCredentialId", &c.id).el("ServiceName", &c.service_name);
    });
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn update_service_specific_credential<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let id = cx.required("ServiceSpecificCredentialId")?;
    let status = key_status(cx)?;
    cx.gateway.identity.update_service_specific_credential(cx.account(), auth.name(), &id, status).await?;
    Ok(cx.empty())
}

pub(crate) async fn delete_service_specific_credential<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let id = cx.required("ServiceSpecificCredentialId")?;
    cx.gateway.identity.delete_service_specific_credential(cx.account(), auth.name(), &id).await?;
    Ok(cx.empty())
}
