//! The token service as its callers see it, in two parts:
//!
//! - [`StsApi`]: what the token *service* does — issuing credentials (AssumeRole,
//!   AssumeRoleWithWebIdentity, GetSessionToken, GetFederationToken, GetWebIdentityToken), the
//!   lookups that answer from its records or keys (GetAccessKeyInfo, DecodeAuthorizationMessage),
//!   and revocation and issuing stops. Implemented in-process by [`Sts`] and over gRPC by
//!   [`crate::RemoteSts`], which names the caller by its credentials (`sts.v1.Caller`) so the
//!   service resolves it again.
//! - [`CallerResolver`]: what stays in every process that authenticates callers — resolving
//!   credentials into a [`CallerPrincipal`] and verifying session tokens, without a network hop.
//!   Implemented by [`Sts`] only (a gateway keeps one on the shared store for this).

use std::sync::Arc;

use tessera_credentials::SessionClaims;
use tessera_identity::{Account, Error, Result};
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::Tag;

// SAML providers
use crate::{
    AssumeRole, AssumeRoleWithWebIdentity, AssumedRole, CallerCredentials, CallerPrincipal, FederationToken,
    IssuedCredentials, Issuer, IssuingStop, Revocation, RevocationList, Sts, WebIdentityAssumedRole, WebIdentityToken,
};
use crate::{AssumeRoleWithSaml, SamlAssumedRole};

/// The token service's operations. The methods keep the names and arguments of the inherent
/// methods of [`Sts`] they stand for; `get_access_key_info` also takes its (authenticated)
/// caller, which the wire names, and `get_web_identity_token` uses the service's own issuer.
#[async_trait::async_trait]
pub trait StsApi: Send + Sync + 'static {
    async fn assume_role(&self, caller: &CallerPrincipal, input: AssumeRole) -> Result<AssumedRole>;
    /// Unsigned: the web identity token is the credential.
    async fn assume_role_with_web_identity(&self, input: AssumeRoleWithWebIdentity) -> Result<WebIdentityAssumedRole>;
    // SAML providers
    /// Unsigned: the signed SAML response is the credential.
    async fn assume_role_with_saml(&self, input: AssumeRoleWithSaml) -> Result<SamlAssumedRole>;
    async fn get_session_token(
        &self,
        caller: &CallerPrincipal,
        duration_seconds: Option<i32>,
        serial_number: Option<&str>,
        token_code: Option<&str>,
    ) -> Result<IssuedCredentials>;
    async fn get_federation_token(
        &self,
        caller: &CallerPrincipal,
        name: &str,
        policy: Option<String>,
        policy_arns: Vec<String>,
        duration_seconds: Option<i32>,
        tags: Vec<Tag>,
    ) -> Result<FederationToken>;
    async fn get_access_key_info(&self, caller: &CallerPrincipal, access_key_id: &str) -> Result<String>;
    async fn decode_authorization_message(&self, caller: &CallerPrincipal, encoded: &str) -> Result<String>;
    /// An identity token (JWT) for the caller from Tessera's OIDC issuer; `InvalidAction` where
    /// the service has none.
    async fn get_web_identity_token(
        &self,
        caller: &CallerPrincipal,
        audiences: &[String],
        duration_seconds: Option<i32>,
    ) -> Result<WebIdentityToken>;
    async fn revoke_session(&self, account: &Account, session: &str, by: &str) -> Result<Revocation>;
    async fn revoke_role_sessions(
        &self,
        account: &Account,
        role_arn: &str,
        issued_before: Option<u64>,
        by: &str,
    ) -> Result<Revocation>;
    async fn revoke_principal_sessions(
        &self,
        account: &Account,
        principal_arn: &str,
        issued_before: Option<u64>,
        by: &str,
    ) -> Result<Revocation>;
    async fn list_revocations(&self, account: &Account) -> Result<RevocationList>;
    async fn stop_issuing(&self, account: &Account, arn: &str, by: &str) -> Result<IssuingStop>;
    async fn resume_issuing(&self, account: &Account, arn: &str, by: &str) -> Result<Option<IssuingStop>>;
}

/// What authenticating a caller needs, answered in the process that asks (no network hop).
#[async_trait::async_trait]
pub trait CallerResolver: Send + Sync + 'static {
    /// The caller that `credentials` stand for (see [`Sts::resolve_caller`]).
    async fn resolve_caller(&self, credentials: &CallerCredentials) -> Result<CallerPrincipal>;
    /// A verified, unexpired, unrevoked session (see [`Sts::verify_session`]).
    async fn verify_session(&self, access_key_id: &str, token: &str) -> Result<SessionClaims>;
    /// Now, in unix seconds, on the process's clock.
    fn now_secs(&self) -> u64;
}

#[async_trait::async_trait]
impl<S: Store> CallerResolver for Sts<S> {
    async fn resolve_caller(&self, credentials: &CallerCredentials) -> Result<CallerPrincipal> {
        Sts::resolve_caller(self, credentials).await
    }

    async fn verify_session(&self, access_key_id: &str, token: &str) -> Result<SessionClaims> {
        Sts::verify_session(self, access_key_id, token).await
    }

    fn now_secs(&self) -> u64 {
        Sts::now_secs(self)
    }
}

impl<S> Sts<S> {
    /// Makes `issuer` the OIDC issuer `GetWebIdentityToken` mints with (the first one set stays).
    pub fn set_issuer(&self, issuer: Arc<Issuer>) {
        let _ = self.issuer.set(issuer);
    }

    /// The URL (`iss`) of the OIDC issuer `GetWebIdentityToken` mints with, once one is set.
    pub fn issuer_url(&self) -> Option<String> {
        self.issuer.get().map(|issuer| issuer.url().to_owned())
    }
}

#[async_trait::async_trait]
impl<S: Store> StsApi for Sts<S> {
    async fn assume_role(&self, caller: &CallerPrincipal, input: AssumeRole) -> Result<AssumedRole> {
        Sts::assume_role(self, caller, input).await
    }

    async fn assume_role_with_web_identity(&self, input: AssumeRoleWithWebIdentity) -> Result<WebIdentityAssumedRole> {
        Sts::assume_role_with_web_identity(self, input).await
    }

    // SAML providers
    async fn assume_role_with_saml(&self, input: AssumeRoleWithSaml) -> Result<SamlAssumedRole> {
        Sts::assume_role_with_saml(self, input).await
    }

    async fn get_session_token(
        &self,
        caller: &CallerPrincipal,
        duration_seconds: Option<i32>,
        serial_number: Option<&str>,
        token_code: Option<&str>,
    ) -> Result<IssuedCredentials> {
        Sts::get_session_token(self, caller, duration_seconds, serial_number, token_code).await
    }

    async fn get_federation_token(
        &self,
        caller: &CallerPrincipal,
        name: &str,
        policy: Option<String>,
        policy_arns: Vec<String>,
        duration_seconds: Option<i32>,
        tags: Vec<Tag>,
    ) -> Result<FederationToken> {
        Sts::get_federation_token(self, caller, name, policy, policy_arns, duration_seconds, tags).await
    }

    async fn get_access_key_info(&self, _caller: &CallerPrincipal, access_key_id: &str) -> Result<String> {
        Sts::get_access_key_info(self, access_key_id).await
    }

    async fn decode_authorization_message(&self, caller: &CallerPrincipal, encoded: &str) -> Result<String> {
        Sts::decode_authorization_message(self, caller, encoded)
    }

    async fn get_web_identity_token(
        &self,
        caller: &CallerPrincipal,
        audiences: &[String],
        duration_seconds: Option<i32>,
    ) -> Result<WebIdentityToken> {
        let Some(issuer) = self.issuer.get() else {
            return Err(Error::new(ErrorCode::InvalidAction, "This server has no OIDC issuer configured."));
        };
        Sts::get_web_identity_token(self, issuer, caller, audiences, duration_seconds).await
    }

    async fn revoke_session(&self, account: &Account, session: &str, by: &str) -> Result<Revocation> {
        Sts::revoke_session(self, account, session, by).await
    }

    async fn revoke_role_sessions(
        &self,
        account: &Account,
        role_arn: &str,
        issued_before: Option<u64>,
        by: &str,
    ) -> Result<Revocation> {
        Sts::revoke_role_sessions(self, account, role_arn, issued_before, by).await
    }

    async fn revoke_principal_sessions(
        &self,
        account: &Account,
        principal_arn: &str,
        issued_before: Option<u64>,
        by: &str,
    ) -> Result<Revocation> {
        Sts::revoke_principal_sessions(self, account, principal_arn, issued_before, by).await
    }

    async fn list_revocations(&self, account: &Account) -> Result<RevocationList> {
        Sts::list_revocations(self, account).await
    }

    async fn stop_issuing(&self, account: &Account, arn: &str, by: &str) -> Result<IssuingStop> {
        Sts::stop_issuing(self, account, arn, by).await
    }

    async fn resume_issuing(&self, account: &Account, arn: &str, by: &str) -> Result<Option<IssuingStop>> {
        Sts::resume_issuing(self, account, arn, by).await
    }
}
