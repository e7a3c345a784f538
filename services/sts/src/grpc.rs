//! The tonic adapter for `tessera.sts.v1.StsService`: decode, resolve the request's caller with a
//! [`CallerResolver`], call a [`StsApi`] (the domain in this process, or [`crate::RemoteSts`] in a
//! gateway), encode, and map errors through the one catalog. Conversions are `convert.rs`'s,
//! shared with the client; `GetCallerIdentity` and `VerifySession` are answered by the resolver.

use std::sync::Arc;

use tessera_identity::Account;
use tessera_proto::common::v1 as common;
use tessera_proto::scope::{Scope, split};
use tessera_proto::sts::v1::sts_service_server::{StsService, StsServiceServer};
use tessera_proto::sts::v1::{self as pb};
use tessera_store::Store;
use tonic::{Request, Response, Status};

use crate::api::{CallerResolver, StsApi};
use crate::convert::{
    assume_role_from, assumed_role, credentials, credentials_of, federation_token, micros_from, policy_arns_from,
    revocation_entry, stop_entry, tags_from, ts, ts_micros, web_identity_assumed, web_identity_from,
    web_identity_token,
};
use crate::{CallerPrincipal, Issuer, Sts};
// SAML providers
use crate::convert::{saml_assumed, saml_from};

type Reply<T> = Result<Response<T>, Status>;

/// `StsService` over a [`StsApi`], with callers resolved by a [`CallerResolver`].
#[derive(Clone)]
pub struct StsGrpc {
    api: Arc<dyn StsApi>,
    callers: Arc<dyn CallerResolver>,
}

impl std::fmt::Debug for StsGrpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StsGrpc").finish_non_exhaustive()
    }
}

impl StsGrpc {
    pub fn new(api: Arc<dyn StsApi>, callers: Arc<dyn CallerResolver>) -> Self {
        Self { api, callers }
    }
}

/// The tonic service for `sts`, ready to add to a server (without an OIDC issuer:
/// `GetWebIdentityToken` is then refused).
pub fn service<S: Store>(sts: Sts<S>) -> StsServiceServer<StsGrpc> {
    let sts = Arc::new(sts);
    service_over(Arc::clone(&sts) as Arc<dyn StsApi>, sts)
}

/// The tonic service for a shared `sts` with Tessera's OIDC issuer.
pub fn service_with_issuer<S: Store>(sts: Arc<Sts<S>>, issuer: Arc<Issuer>) -> StsServiceServer<StsGrpc> {
    sts.set_issuer(issuer);
    service_over(Arc::clone(&sts) as Arc<dyn StsApi>, sts)
}

/// The tonic service over any [`StsApi`]: a gateway mounts it over [`crate::RemoteSts`], with its
/// own [`Sts`] resolving callers.
pub fn service_over(api: Arc<dyn StsApi>, callers: Arc<dyn CallerResolver>) -> StsServiceServer<StsGrpc> {
    StsServiceServer::new(StsGrpc::new(api, callers))
}

/// The request's account, which must be the authenticated caller's (see `tessera_proto::scope`).
fn scoped_account(id: &str, scope: &Scope) -> Result<Account, Status> {
    scope.check_account(id)?;
    Ok(Account::new(id)?)
}

/// Who the gateway's gRPC layer authenticated (its ARN), for the audit trail of revocations;
/// empty when the layer did not run (the internal API).
fn caller_arn<T>(request: &Request<T>) -> String {
    request.metadata().get(CALLER_ARN_METADATA).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// The metadata key the gateway's gRPC layer sets to the authenticated caller's ARN (and
/// [`crate::RemoteSts`] to the `by` of a revocation).
pub const CALLER_ARN_METADATA: &str = "tessera-caller-arn";

impl StsGrpc {
    /// The caller a request's `Caller` stands for, resolved once for the whole call.
    async fn caller(&self, caller: Option<pb::Caller>, scope: &Scope) -> Result<CallerPrincipal, Status> {
        Ok(self.callers.resolve_caller(&credentials_of(caller, scope)?).await?)
    }
}

#[tonic::async_trait]
impl StsService for StsGrpc {
    async fn assume_role(&self, request: Request<pb::AssumeRoleRequest>) -> Reply<pb::AssumeRoleResponse> {
        let (scope, mut r) = split(request);
        let caller = self.caller(r.caller.take(), &scope).await?;
        let assumed = self.api.assume_role(&caller, assume_role_from(r)).await?;
        Ok(Response::new(assumed_role(assumed)))
    }

    async fn assume_role_with_web_identity(
        &self,
        request: Request<pb::AssumeRoleWithWebIdentityRequest>,
    ) -> Reply<pb::AssumeRoleWithWebIdentityResponse> {
        // Unsigned: the web identity token is the credential, so there is no caller to scope.
        let assumed = self.api.assume_role_with_web_identity(web_identity_from(request.into_inner())).await?;
        Ok(Response::new(web_identity_assumed(assumed)))
    }

    // SAML providers
    async fn assume_role_with_saml(
        &self,
        request: Request<pb::AssumeRoleWithSamlRequest>,
    ) -> Reply<pb::AssumeRoleWithSamlResponse> {
        // Unsigned: the signed SAML response is the credential, so there is no caller to scope.
        let assumed = self.api.assume_role_with_saml(saml_from(request.into_inner())).await?;
        Ok(Response::new(saml_assumed(assumed)))
    }

    async fn get_session_token(
        &self,
        request: Request<pb::GetSessionTokenRequest>,
    ) -> Reply<pb::GetSessionTokenResponse> {
        let (scope, r) = split(request);
        let issued = self
            .api
            .get_session_token(
                &self.caller(r.caller, &scope).await?,
                r.duration_seconds,
                r.serial_number.as_deref(),
                r.token_code.as_deref(),
            )
            .await?;
        Ok(Response::new(pb::GetSessionTokenResponse { credentials: credentials(issued) }))
    }

    async fn get_federation_token(
        &self,
        request: Request<pb::GetFederationTokenRequest>,
    ) -> Reply<pb::GetFederationTokenResponse> {
        let (scope, r) = split(request);
        let token = self
            .api
            .get_federation_token(
                &self.caller(r.caller, &scope).await?,
                &r.name,
                r.policy,
                policy_arns_from(r.policy_arns),
                r.duration_seconds,
                tags_from(r.tags),
            )
            .await?;
        Ok(Response::new(federation_token(token)))
    }

    async fn get_caller_identity(
        &self,
        request: Request<pb::GetCallerIdentityRequest>,
    ) -> Reply<pb::GetCallerIdentityResponse> {
        let (scope, r) = split(request);
        let caller = self.caller(r.caller, &scope).await?;
        let who =
            crate::CallerIdentity { user_id: caller.user_id, account: caller.account.id().to_owned(), arn: caller.arn };
        Ok(Response::new(pb::GetCallerIdentityResponse { user_id: who.user_id, account: who.account, arn: who.arn }))
    }

    async fn get_access_key_info(
        &self,
        request: Request<pb::GetAccessKeyInfoRequest>,
    ) -> Reply<pb::GetAccessKeyInfoResponse> {
        let (scope, r) = split(request);
        let caller = self.caller(r.caller, &scope).await?;
        let account = self.api.get_access_key_info(&caller, &r.access_key_id).await?;
        Ok(Response::new(pb::GetAccessKeyInfoResponse { account }))
    }

    async fn decode_authorization_message(
        &self,
        request: Request<pb::DecodeAuthorizationMessageRequest>,
    ) -> Reply<pb::DecodeAuthorizationMessageResponse> {
        let (scope, r) = split(request);
        let caller = self.caller(r.caller, &scope).await?;
        let decoded_message = self.api.decode_authorization_message(&caller, &r.encoded_message).await?;
        Ok(Response::new(pb::DecodeAuthorizationMessageResponse { decoded_message }))
    }

    async fn get_web_identity_token(
        &self,
        request: Request<pb::GetWebIdentityTokenRequest>,
    ) -> Reply<pb::GetWebIdentityTokenResponse> {
        let (scope, r) = split(request);
        let caller = self.caller(r.caller, &scope).await?;
        let token = self.api.get_web_identity_token(&caller, &r.audience, r.duration_seconds).await?;
        Ok(Response::new(web_identity_token(token)))
    }

    async fn verify_session(&self, request: Request<pb::VerifySessionRequest>) -> Reply<pb::VerifySessionResponse> {
        let (scope, r) = split(request);
        let claims = self.callers.verify_session(&r.access_key_id, &r.session_token).await?;
        scope.check_account(&claims.account)?;
        let kind = match claims.kind {
            tessera_credentials::SessionKind::AssumedRole => "AssumedRole",
            tessera_credentials::SessionKind::FederatedUser => "FederatedUser",
            tessera_credentials::SessionKind::SessionToken => "SessionToken",
        };
        Ok(Response::new(pb::VerifySessionResponse {
            account: claims.account.clone(),
            principal_arn: claims.principal_arn.clone(),
            principal_id: claims.principal_id.clone(),
            role_arn: claims.role_arn.clone(),
            session_id: claims.session_id.clone(),
            secret_access_key: claims.secret_access_key.expose().to_owned(),
            issued_at: ts_micros(claims.issued_at_micros()),
            expiration: ts(claims.expires_at),
            source_identity: claims.source_identity.clone(),
            tags: claims.tags.iter().map(|(k, v)| common::Tag { key: k.clone(), value: v.clone() }).collect(),
            mfa_authenticated: claims.mfa_authenticated_at.is_some(),
            chain_depth: u32::from(claims.chain_depth),
            kind: kind.to_owned(),
        }))
    }

    async fn revoke_session(&self, request: Request<pb::RevokeSessionRequest>) -> Reply<pb::RevokeSessionResponse> {
        let by = caller_arn(&request);
        let (scope, r) = split(request);
        let revoked = self.api.revoke_session(&scoped_account(&r.account_id, &scope)?, &r.session_id, &by).await?;
        Ok(Response::new(pb::RevokeSessionResponse {
            revocation: Some(revocation_entry(&revoked, self.callers.now_secs())),
        }))
    }

    async fn revoke_role_sessions(
        &self,
        request: Request<pb::RevokeRoleSessionsRequest>,
    ) -> Reply<pb::RevokeRoleSessionsResponse> {
        let by = caller_arn(&request);
        let (scope, r) = split(request);
        let account = scoped_account(&r.account_id, &scope)?;
        let revoked =
            self.api.revoke_role_sessions(&account, &r.role_arn, micros_from(r.issued_before.as_ref()), &by).await?;
        Ok(Response::new(pb::RevokeRoleSessionsResponse {
            revocation: Some(revocation_entry(&revoked, self.callers.now_secs())),
        }))
    }

    async fn revoke_principal_sessions(
        &self,
        request: Request<pb::RevokePrincipalSessionsRequest>,
    ) -> Reply<pb::RevokePrincipalSessionsResponse> {
        let by = caller_arn(&request);
        let (scope, r) = split(request);
        let account = scoped_account(&r.account_id, &scope)?;
        let revoked = self
            .api
            .revoke_principal_sessions(&account, &r.principal_arn, micros_from(r.issued_before.as_ref()), &by)
            .await?;
        Ok(Response::new(pb::RevokePrincipalSessionsResponse {
            revocation: Some(revocation_entry(&revoked, self.callers.now_secs())),
        }))
    }

    async fn list_revocations(
        &self,
        request: Request<pb::ListRevocationsRequest>,
    ) -> Reply<pb::ListRevocationsResponse> {
        let (scope, r) = split(request);
        let listed = self.api.list_revocations(&scoped_account(&r.account_id, &scope)?).await?;
        let now = self.callers.now_secs();
        Ok(Response::new(pb::ListRevocationsResponse {
            revocations: listed.revocations.iter().map(|r| revocation_entry(r, now)).collect(),
            stops: listed.stops.iter().map(stop_entry).collect(),
        }))
    }

    async fn stop_issuing(&self, request: Request<pb::StopIssuingRequest>) -> Reply<pb::StopIssuingResponse> {
        let by = caller_arn(&request);
        let (scope, r) = split(request);
        let stop = self.api.stop_issuing(&scoped_account(&r.account_id, &scope)?, &r.arn, &by).await?;
        Ok(Response::new(pb::StopIssuingResponse { stop: Some(stop_entry(&stop)) }))
    }

    async fn resume_issuing(&self, request: Request<pb::ResumeIssuingRequest>) -> Reply<pb::ResumeIssuingResponse> {
        let by = caller_arn(&request);
        let (scope, r) = split(request);
        let lifted = self.api.resume_issuing(&scoped_account(&r.account_id, &scope)?, &r.arn, &by).await?;
        Ok(Response::new(pb::ResumeIssuingResponse { stop: lifted.as_ref().map(stop_entry) }))
    }
}
