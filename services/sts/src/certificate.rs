//! Role sessions for X.509 client certificates, as IAM Roles Anywhere's `CreateSession` issues
//! them: the certificate was verified by the TLS handshake against the trust anchors (the
//! `tessera serve --mtls-addr` listener, `services/tessera/src/mtls.rs`), so here the role's trust
//! policy decides, for the service principal `rolesanywhere.amazonaws.com`.
//!
//! What the certificate says becomes, as on AWS:
//! - principal tags, `aws:PrincipalTag/x509Subject/CN` (also `/OU`, `/O`), `x509Issuer/CN`,
//!   `x509SAN/DNS` and `x509SAN/URI` (the first of each), which the trust policy's conditions see
//!   and which the session carries as its tags;
//! - the source identity: the subject's CN (`sts:SourceIdentity` in the trust context);
//! - the session name: the certificate's serial number in hex, unless one is asked for.
//!
//! The trust policy must allow `sts:AssumeRole`, `sts:TagSession` and `sts:SetSourceIdentity`
//! (Roles Anywhere requires all three); a refusal is `AccessDenied`. Issuing is the same path as
//! every other role session (`Sts::issue_role_session`).

use tessera_arn::{validate_role_session_name, validate_source_identity};
use tessera_identity::{Error, Result};
use tessera_policy::{Principal, PrincipalKind};
use tessera_store::Store;
use tessera_store::iam::Tag;

use crate::Sts;
use crate::assume::{
    IssuedCredentials, RoleSession, check_max_session_duration, check_role_arn_length, duration, federation_context,
    insert_session_keys, parse_role_arn, session_tags,
};

/// The service principal a role trusts for certificate sessions.
pub const ROLES_ANYWHERE_PRINCIPAL: &str = "rolesanywhere.amazonaws.com";
/// The actions the trust policy must allow, all three.
const ACTIONS: [&str; 3] = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"];
const ROLE_MAX_DURATION: i32 = 43_200;

/// What a verified client certificate says about its holder (each field as found, or absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateIdentity {
    pub subject_cn: Option<String>,
    pub subject_ou: Option<String>,
    pub subject_o: Option<String>,
    pub issuer_cn: Option<String>,
    pub san_dns: Option<String>,
    pub san_uri: Option<String>,
    /// The serial number, lowercase hex without leading zeros (at least one digit).
    pub serial_hex: String,
}

impl CertificateIdentity {
    /// The certificate's attributes as session tags (`x509Subject/CN`, ...), in a fixed order;
    /// an attribute a tag value cannot hold is left out rather than refusing the certificate.
    pub fn tags(&self) -> Vec<(String, String)> {
        let attributes = [
            ("x509Subject/CN", &self.subject_cn),
            ("x509Subject/OU", &self.subject_ou),
            ("x509Subject/O", &self.subject_o),
            ("x509Issuer/CN", &self.issuer_cn),
            ("x509SAN/DNS", &self.san_dns),
            ("x509SAN/URI", &self.san_uri),
        ];
        attributes
            .into_iter()
            .filter_map(|(key, value)| {
                let tag = Tag { key: key.to_owned(), value: value.clone()? };
                session_tags(vec![tag], &[]).ok()?.pop()
            })
            .collect()
    }
}

/// A certificate session request (`CreateSession`'s `roleArn`, `durationSeconds`,
/// `roleSessionName`) with the verified certificate.
#[derive(Debug, Clone, Default)]
pub struct CertificateSession {
    pub role_arn: String,
    pub role_session_name: Option<String>,
    pub duration_seconds: Option<i32>,
    pub certificate: CertificateIdentity,
}

/// A certificate session's credentials, as `CreateSession`'s `credentialSet` entry carries them.
#[derive(Debug, Clone)]
pub struct CertificateAssumedRole {
    pub credentials: IssuedCredentials,
    /// `AROA…:<session name>`.
    pub assumed_role_id: String,
    pub arn: String,
    pub role_arn: String,
    pub source_identity: Option<String>,
}

fn not_authorized(action: &str, role_arn: &str) -> Error {
    tessera_authorizer::not_authorized(ROLES_ANYWHERE_PRINCIPAL, action, role_arn)
}

impl<S: Store> Sts<S> {
    /// A role session for the holder of a client certificate the TLS handshake verified.
    #[tracing::instrument(name = "sts.assume_role_with_certificate", skip_all)]
    pub async fn assume_role_with_certificate(&self, input: CertificateSession) -> Result<CertificateAssumedRole> {
        self.check_issuing(None, Some(&input.role_arn))?;
        let now = self.now_secs();
        check_role_arn_length(&input.role_arn)?;
        let session_name = match input.role_session_name {
            Some(name) => name,
            None => input.certificate.serial_hex.clone(),
        };
        validate_role_session_name(&session_name)?;
        let requested = duration(input.duration_seconds, 3600, ROLE_MAX_DURATION)?;
        let denied = || not_authorized(ACTIONS[0], &input.role_arn);
        let (role_account, role_name) = parse_role_arn(&input.role_arn, denied)?;
        // A CN that cannot be a source identity leaves the session without one.
        let source_identity = input.certificate.subject_cn.clone().filter(|cn| validate_source_identity(cn).is_ok());
        let tags = input.certificate.tags();

        // A missing role is a refusal, as on AWS.
        let role = self.session_role(&role_account, &role_name, &input.role_arn, denied).await?;
        check_max_session_duration(requested, &role)?;

        let mut ctx = federation_context(now, true, None);
        insert_session_keys(&mut ctx, &role, &session_name, &tags, &[], source_identity.as_deref());
        for (key, value) in &tags {
            ctx.insert(&format!("aws:PrincipalTag/{key}"), value.clone());
        }
        let principal = Principal {
            kind: PrincipalKind::Service,
            account: String::new(),
            arn: ROLES_ANYWHERE_PRINCIPAL.to_owned(),
            unique_id: None,
            role_arn: None,
            source_user_arn: None,
        };
        let trust = tessera_authorizer::Trust {
            principal: &principal,
            role: &role,
            role_account: &role_account,
            context: &ctx,
            layers: None,
        };
        let session = RoleSession {
            name: session_name,
            lifetime: requested,
            source_identity: source_identity.clone(),
            tags,
            ..RoleSession::default()
        };
        let issued = self.issue_role_session(trust, &ACTIONS, session, now).await?;
        tracing::info!(role_arn = %role.principal.arn, serial = %input.certificate.serial_hex, "certificate session issued");
        Ok(CertificateAssumedRole {
            credentials: issued.credentials,
            assumed_role_id: issued.assumed_role_id,
            arn: issued.arn,
            role_arn: role.principal.arn,
            source_identity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_attributes_become_session_tags() {
        let certificate = CertificateIdentity {
            subject_cn: Some("orders".into()),
            subject_o: Some("Example".into()),
            issuer_cn: Some("Tessera test CA".into()),
            san_uri: Some("spiffe://example.org/orders".into()),
            // A tag value cannot hold `#`: left out.
            san_dns: Some("bad#name".into()),
            serial_hex: "1f".into(),
            ..CertificateIdentity::default()
        };
        let tags = certificate.tags();
        let keys: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["x509Subject/CN", "x509Subject/O", "x509Issuer/CN", "x509SAN/URI"]);
        assert_eq!(tags[0].1, "orders");
    }
}
