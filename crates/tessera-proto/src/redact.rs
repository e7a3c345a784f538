//! Hand-written `Debug` for the generated messages that carry secrets (access key secrets,
//! passwords, MFA seeds), so that logging a request or response never prints one.
//!
//! `build.rs` lists these messages in `REDACTED`, which stops prost from deriving `Debug`; a
//! message listed there without an impl here fails to compile, and the reverse is a conflict.

use std::fmt;

use crate::identity::v1::{
    AccessKey, AccessKeyStatus, ChangePasswordRequest, CreateLoginProfileRequest, UpdateLoginProfileRequest,
    VirtualMfaDevice,
};

/// Prints in place of a secret. An empty secret prints as empty, so that a response that
/// should carry no secret (a listed MFA device) shows that it carries none.
struct Redacted(bool);

impl Redacted {
    fn str(secret: &str) -> Redacted {
        Redacted(secret.is_empty())
    }

    fn bytes(secret: &[u8]) -> Redacted {
        Redacted(secret.is_empty())
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 { "\"\"" } else { "<redacted>" })
    }
}

impl fmt::Debug for crate::authorizer::v1::Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bearer").field("token", &Redacted::str(&self.token)).field("audience", &self.audience).finish()
    }
}

/// The Basic credentials hold a password (issue 14, part B).
impl fmt::Debug for crate::authorizer::v1::ServiceCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceCredential")
            .field("basic", &Redacted::str(&self.basic))
            .field("service_name", &self.service_name)
            .finish()
    }
}

/// Header values may hold a signature or a session token: only the names are shown.
impl fmt::Debug for crate::authorizer::v1::SigV4Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|h| h.name.as_str()).collect();
        f.debug_struct("SigV4Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &Redacted::str(&self.query))
            .field("header_names", &names)
            .field("payload_sha256", &self.payload_sha256)
            .field("services", &self.services)
            .finish()
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("AccessKey");
        s.field("user_name", &self.user_name).field("access_key_id", &self.access_key_id);
        match AccessKeyStatus::try_from(self.status) {
            Ok(status) => s.field("status", &status),
            Err(_) => s.field("status", &self.status),
        };
        s.field("secret_access_key", &Redacted::str(&self.secret_access_key))
            .field("create_date", &self.create_date)
            .finish()
    }
}

/// The private key of a server certificate is a secret (issue 14, part B).
impl fmt::Debug for crate::identity::v1::UploadServerCertificateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadServerCertificateRequest")
            .field("account_id", &self.account_id)
            .field("path", &self.path)
            .field("server_certificate_name", &self.server_certificate_name)
            .field("private_key", &Redacted::str(&self.private_key))
            .field("tags", &self.tags)
            .finish_non_exhaustive()
    }
}

/// A service-specific credential's password is a secret (issue 14, part B).
impl fmt::Debug for crate::identity::v1::ServiceSpecificCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceSpecificCredential")
            .field("user_name", &self.user_name)
            .field("service_specific_credential_id", &self.service_specific_credential_id)
            .field("service_name", &self.service_name)
            .field("service_user_name", &self.service_user_name)
            .field("status", &self.status)
            .field("service_password", &self.service_password.as_deref().map(Redacted::str))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for CreateLoginProfileRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateLoginProfileRequest")
            .field("account_id", &self.account_id)
            .field("user_name", &self.user_name)
            .field("password", &Redacted::str(&self.password))
            .field("password_reset_required", &self.password_reset_required)
            .finish()
    }
}

impl fmt::Debug for UpdateLoginProfileRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateLoginProfileRequest")
            .field("account_id", &self.account_id)
            .field("user_name", &self.user_name)
            .field("password", &self.password.as_deref().map(Redacted::str))
            .field("password_reset_required", &self.password_reset_required)
            .finish()
    }
}

impl fmt::Debug for ChangePasswordRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangePasswordRequest")
            .field("account_id", &self.account_id)
            .field("user_name", &self.user_name)
            .field("old_password", &Redacted::str(&self.old_password))
            .field("new_password", &Redacted::str(&self.new_password))
            .finish()
    }
}

impl fmt::Debug for VirtualMfaDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The QR code encodes the seed, so it is as secret as the seed.
        f.debug_struct("VirtualMfaDevice")
            .field("serial_number", &self.serial_number)
            .field("base32_string_seed", &Redacted::bytes(&self.base32_string_seed))
            .field("qr_code_png", &Redacted::bytes(&self.qr_code_png))
            .field("user", &self.user)
            .field("enable_date", &self.enable_date)
            .field("tags", &self.tags)
            .finish()
    }
}

impl fmt::Debug for crate::sts::v1::Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("access_key_id", &self.access_key_id)
            .field("session_token", &self.session_token.as_deref().map(Redacted::str))
            .field("source_ip", &self.source_ip)
            .finish()
    }
}

impl fmt::Debug for crate::sts::v1::Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &Redacted::str(&self.secret_access_key))
            .field("session_token", &Redacted::str(&self.session_token))
            .field("expiration", &self.expiration)
            .finish()
    }
}

impl fmt::Debug for crate::sts::v1::AssumeRoleWithWebIdentityRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleWithWebIdentityRequest")
            .field("role_arn", &self.role_arn)
            .field("role_session_name", &self.role_session_name)
            .field("web_identity_token", &Redacted::str(&self.web_identity_token))
            .field("provider_id", &self.provider_id)
            .field("policy_arns", &self.policy_arns)
            .field("policy", &self.policy)
            .field("duration_seconds", &self.duration_seconds)
            .finish()
    }
}

impl fmt::Debug for crate::sts::v1::VerifySessionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifySessionRequest")
            .field("access_key_id", &self.access_key_id)
            .field("session_token", &Redacted::str(&self.session_token))
            .finish()
    }
}

impl fmt::Debug for crate::sts::v1::VerifySessionResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifySessionResponse")
            .field("account", &self.account)
            .field("principal_arn", &self.principal_arn)
            .field("session_id", &self.session_id)
            .field("secret_access_key", &Redacted::str(&self.secret_access_key))
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for crate::sts::v1::GetWebIdentityTokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetWebIdentityTokenResponse")
            .field("web_identity_token", &Redacted::str(&self.web_identity_token))
            .field("expiration", &self.expiration)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::v1::CreateAccessKeyResponse;

    #[test]
    fn secrets_do_not_reach_debug_output() {
        let response = CreateAccessKeyResponse {
            access_key: Some(AccessKey {
                user_name: "alice".into(),
                access_key_id: "AKIAEXAMPLEEXAMPLE01".into(),
                status: AccessKeyStatus::Active.into(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
                create_date: None,
            }),
        };
        let printed = format!("{response:?}");
        assert!(printed.contains("AKIAEXAMPLEEXAMPLE01") && printed.contains("Active"), "{printed}");
        assert!(!printed.contains("wJalrXUtnFEMI"), "{printed}");

        let requests = [
            format!("{:?}", CreateLoginProfileRequest { password: "hunter2-secret".into(), ..Default::default() }),
            format!(
                "{:?}",
                UpdateLoginProfileRequest { password: Some("hunter2-secret".into()), ..Default::default() }
            ),
            format!(
                "{:?}",
                ChangePasswordRequest {
                    old_password: "hunter2-secret".into(),
                    new_password: "hunter3-secret".into(),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                VirtualMfaDevice {
                    base32_string_seed: b"JBSWY3DPEHPK3PXP-secret".to_vec(),
                    qr_code_png: b"\x89PNG-secret".to_vec(),
                    ..Default::default()
                }
            ),
        ];
        for printed in requests {
            assert!(!printed.contains("secret") && printed.contains("<redacted>"), "{printed}");
        }
    }

    #[test]
    fn absent_secrets_print_as_absent() {
        let listed =
            format!("{:?}", VirtualMfaDevice { serial_number: "arn:aws:iam::1:mfa/d".into(), ..Default::default() });
        assert!(!listed.contains("<redacted>"), "{listed}");
        let unchanged = format!("{:?}", UpdateLoginProfileRequest::default());
        assert!(unchanged.contains("password: None"), "{unchanged}");
    }
}
