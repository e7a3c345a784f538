//! The tonic adapter for `tessera.sts.v1.StsService`: decode, call the domain, encode, and map
//! errors through the one catalog.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use tessera_proto::scope::{Scope, split};

use tessera_identity::{Account, Error};
use tessera_proto::common::v1 as common;
use tessera_proto::convert::{system_time, timestamp};
use tessera_proto::sts::v1::sts_service_server::{StsService, StsServiceServer};
use tessera_proto::sts::v1::{self as pb};
use tessera_store::Store;
use tessera_store::iam::Tag;
use tonic::{Request, Response, Status};

use crate::{
    AssumeRole, AssumeRoleWithWebIdentity, CallerCredentials, CallerPrincipal, IssuedCredentials, Issuer, IssuingStop,
    Revocation, Sts,
};

type Reply<T> = Result<Response<T>, Status>;

/// `StsService` over an [`Sts`] domain.
#[derive(Debug)]
pub struct StsGrpc<S> {
    domain: Arc<Sts<S>>,
    issuer: Option<Arc<Issuer>>,
}

/// The tonic service for `sts`, ready to add to a server (without an OIDC issuer:
/// `GetWebIdentityToken` is then unavailable).
pub fn service<S: Store>(sts: Sts<S>) -> StsServiceServer<StsGrpc<S>> {
    StsServiceServer::new(StsGrpc { domain: Arc::new(sts), issuer: None })
}

/// The tonic service for a shared `sts` with Tessera's OIDC issuer.
pub fn service_with_issuer<S: Store>(sts: Arc<Sts<S>>, issuer: Arc<Issuer>) -> StsServiceServer<StsGrpc<S>> {
    StsServiceServer::new(StsGrpc { domain: sts, issuer: Some(issuer) })
}

/// The request's account, which must be the authenticated caller's (see `tessera_proto::scope`).
fn scoped_account(id: &str, scope: &Scope) -> Result<Account, Status> {
    scope.check_account(id)?;
    Ok(Account::new(id)?)
}

fn credentials_of(caller: Option<pb::Caller>, scope: &Scope) -> Result<CallerCredentials, Status> {
    let caller = caller.ok_or_else(|| {
        Status::from(Error::new(
            tessera_proto::ErrorCode::MissingAuthenticationToken,
            "Request is missing Authentication Token",
        ))
    })?;
    scope.check_key(&caller.access_key_id)?;
    Ok(CallerCredentials {
        access_key_id: caller.access_key_id,
        session_token: caller.session_token,
        source_ip: scope.source_ip(caller.source_ip),
    })
}

fn ts(secs: u64) -> Option<prost_types::Timestamp> {
    Some(timestamp(UNIX_EPOCH + Duration::from_secs(secs)))
}

fn credentials(issued: IssuedCredentials) -> Option<pb::Credentials> {
    Some(pb::Credentials {
        access_key_id: issued.access_key_id,
        secret_access_key: issued.secret_access_key.expose().to_owned(),
        session_token: issued.session_token.expose().to_owned(),
        expiration: ts(issued.expiration),
    })
}

fn tags_in(tags: Vec<common::Tag>) -> Vec<Tag> {
    tags.into_iter().map(|t| Tag { key: t.key, value: t.value }).collect()
}

fn arns(policies: Vec<pb::PolicyDescriptorType>) -> Vec<String> {
    policies.into_iter().map(|p| p.arn).collect()
}

/// A cut-off instant in unix microseconds (before 1970 is 0: it covers nothing a session has).
fn cut_off(at: Option<prost_types::Timestamp>) -> Option<u64> {
    at.as_ref()
        .and_then(system_time)
        .map(|t| t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)))
}

fn ts_micros(micros: u64) -> Option<prost_types::Timestamp> {
    Some(timestamp(UNIX_EPOCH + Duration::from_micros(micros)))
}

/// Who the gateway's gRPC layer authenticated (its ARN), for the audit trail of revocations;
/// empty when the layer did not run (the internal API).
fn caller_arn<T>(request: &Request<T>) -> String {
    request.metadata().get(CALLER_ARN_METADATA).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// The metadata key the gateway's gRPC layer sets to the authenticated caller's ARN.
const CALLER_ARN_METADATA: &str = "tessera-caller-arn";

fn revocation_entry(revocation: &Revocation, now: u64) -> pb::RevocationEntry {
    let (kind, target) = match revocation {
        Revocation::Session { session_id, .. } => ("Session", session_id),
        Revocation::Role { role_arn, .. } => ("Role", role_arn),
        Revocation::Principal { principal_arn, .. } => ("Principal", principal_arn),
    };
    let (by, at) = revocation.made();
    pb::RevocationEntry {
        kind: kind.to_owned(),
        target: target.clone(),
        issued_up_to: revocation.cut_off_micros().and_then(ts_micros),
        revoked_by: by.to_owned(),
        revoked_at: ts_micros(at),
        in_force: revocation.in_force(now),
    }
}

fn stop_entry(stop: &IssuingStop) -> pb::IssuingStopEntry {
    pb::IssuingStopEntry {
        arn: stop.arn.clone(),
        stopped_by: stop.stopped_by.clone(),
        stopped_at: ts_micros(stop.stopped_at),
    }
}

impl<S: Store> StsGrpc<S> {
    /// The caller a request's `Caller` stands for, resolved once for the whole call.
    async fn caller(&self, caller: Option<pb::Caller>, scope: &Scope) -> Result<CallerPrincipal, Status> {
        Ok(self.domain.resolve_caller(&credentials_of(caller, scope)?).await?)
    }
}

#[tonic::async_trait]
impl<S: Store> StsService for StsGrpc<S> {
    async fn assume_role(&self, request: Request<pb::AssumeRoleRequest>) -> Reply<pb::AssumeRoleResponse> {
        let (scope, r) = split(request);
        let caller = self.caller(r.caller, &scope).await?;
        let input = AssumeRole {
            role_arn: r.role_arn,
            role_session_name: r.role_session_name,
            policy_arns: arns(r.policy_arns),
            policy: r.policy,
            duration_seconds: r.duration_seconds,
            tags: tags_in(r.tags),
            transitive_tag_keys: r.transitive_tag_keys,
            external_id: r.external_id,
            serial_number: r.serial_number,
            token_code: r.token_code,
            source_identity: r.source_identity,
        };
        let assumed = self.domain.assume_role(&caller, input).await?;
        Ok(Response::new(pb::AssumeRoleResponse {
            credentials: credentials(assumed.credentials),
            assumed_role_user: Some(pb::AssumedRoleUser { assumed_role_id: assumed.assumed_role_id, arn: assumed.arn }),
            packed_policy_size: i32::try_from(assumed.packed_policy_size).unwrap_or(i32::MAX),
            source_identity: assumed.source_identity,
        }))
    }

    async fn assume_role_with_web_identity(
        &self,
        request: Request<pb::AssumeRoleWithWebIdentityRequest>,
    ) -> Reply<pb::AssumeRoleWithWebIdentityResponse> {
        // Unsigned: the web identity token is the credential, so there is no caller to scope.
        let r = request.into_inner();
        let input = AssumeRoleWithWebIdentity {
            role_arn: r.role_arn,
            role_session_name: r.role_session_name,
            web_identity_token: r.web_identity_token,
            provider_id: r.provider_id,
            policy_arns: arns(r.policy_arns),
            policy: r.policy,
            duration_seconds: r.duration_seconds,
        };
        let assumed = self.domain.assume_role_with_web_identity(input).await?;
        Ok(Response::new(pb::AssumeRoleWithWebIdentityResponse {
            credentials: credentials(assumed.credentials),
            subject_from_web_identity_token: assumed.subject_from_web_identity_token,
            assumed_role_user: Some(pb::AssumedRoleUser { assumed_role_id: assumed.assumed_role_id, arn: assumed.arn }),
            packed_policy_size: i32::try_from(assumed.packed_policy_size).unwrap_or(i32::MAX),
            provider: assumed.provider,
            audience: assumed.audience,
            source_identity: assumed.source_identity,
        }))
    }

    async fn get_session_token(
        &self,
        request: Request<pb::GetSessionTokenRequest>,
    ) -> Reply<pb::GetSessionTokenResponse> {
        let (scope, r) = split(request);
        let issued = self
            .domain
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
            .domain
            .get_federation_token(
                &self.caller(r.caller, &scope).await?,
                &r.name,
                r.policy,
                arns(r.policy_arns),
                r.duration_seconds,
                tags_in(r.tags),
            )
            .await?;
        Ok(Response::new(pb::GetFederationTokenResponse {
            credentials: credentials(token.credentials),
            federated_user: Some(pb::FederatedUser { federated_user_id: token.federated_user_id, arn: token.arn }),
            packed_policy_size: i32::try_from(token.packed_policy_size).unwrap_or(i32::MAX),
        }))
    }

    async fn get_caller_identity(
        &self,
        request: Request<pb::GetCallerIdentityRequest>,
    ) -> Reply<pb::GetCallerIdentityResponse> {
        let (scope, r) = split(request);
        let who = self.domain.get_caller_identity(&self.caller(r.caller, &scope).await?);
        Ok(Response::new(pb::GetCallerIdentityResponse { user_id: who.user_id, account: who.account, arn: who.arn }))
    }

    async fn get_access_key_info(
        &self,
        request: Request<pb::GetAccessKeyInfoRequest>,
    ) -> Reply<pb::GetAccessKeyInfoResponse> {
        let (scope, r) = split(request);
        self.caller(r.caller, &scope).await?;
        let account = self.domain.get_access_key_info(&r.access_key_id).await?;
        Ok(Response::new(pb::GetAccessKeyInfoResponse { account }))
    }

    async fn decode_authorization_message(
        &self,
        request: Request<pb::DecodeAuthorizationMessageRequest>,
    ) -> Reply<pb::DecodeAuthorizationMessageResponse> {
        let (scope, r) = split(request);
        let decoded_message =
            self.domain.decode_authorization_message(&self.caller(r.caller, &scope).await?, &r.encoded_message)?;
        Ok(Response::new(pb::DecodeAuthorizationMessageResponse { decoded_message }))
    }

    async fn get_web_identity_token(
        &self,
        request: Request<pb::GetWebIdentityTokenRequest>,
    ) -> Reply<pb::GetWebIdentityTokenResponse> {
        let (scope, r) = split(request);
        let issuer =
            self.issuer.as_ref().ok_or_else(|| Status::unimplemented("this server has no OIDC issuer configured"))?;
        let token = self
            .domain
            .get_web_identity_token(issuer, &self.caller(r.caller, &scope).await?, &r.audience, r.duration_seconds)
            .await?;
        Ok(Response::new(pb::GetWebIdentityTokenResponse {
            web_identity_token: token.token.expose().to_owned(),
            expiration: ts(token.expiration),
        }))
    }

    async fn verify_session(&self, request: Request<pb::VerifySessionRequest>) -> Reply<pb::VerifySessionResponse> {
        let (scope, r) = split(request);
        let claims = self.domain.verify_session(&r.access_key_id, &r.session_token).await?;
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
        let revoked = self.domain.revoke_session(&scoped_account(&r.account_id, &scope)?, &r.session_id, &by).await?;
        Ok(Response::new(pb::RevokeSessionResponse {
            revocation: Some(revocation_entry(&revoked, self.domain.now_secs())),
        }))
    }

    async fn revoke_role_sessions(
        &self,
        request: Request<pb::RevokeRoleSessionsRequest>,
    ) -> Reply<pb::RevokeRoleSessionsResponse> {
        let by = caller_arn(&request);
        let (scope, r) = split(request);
        let account = scoped_account(&r.account_id, &scope)?;
        let revoked = self.domain.revoke_role_sessions(&account, &r.role_arn, cut_off(r.issued_before), &by).await?;
        Ok(Response::new(pb::RevokeRoleSessionsResponse {
            revocation: Some(revocation_entry(&revoked, self.domain.now_secs())),
        }))
    }

    async fn revoke_principal_sessions(
        &self,
        request: Request<pb::RevokePrincipalSessionsRequest>,
    ) -> Reply<pb::RevokePrincipalSessionsResponse> {
        let by = caller_arn(&request);
        let (scope, r) = split(request);
        let account = scoped_account(&r.account_id, &scope)?;
        let revoked =
            self.domain.revoke_principal_sessions(&account, &r.principal_arn, cut_off(r.issued_before), &by).await?;
        Ok(Response::new(pb::RevokePrincipalSessionsResponse {
            revocation: Some(revocation_entry(&revoked, self.domain.now_secs())),
        }))
    }

    async fn list_revocations(
        &self,
        request: Request<pb::ListRevocationsRequest>,
    ) -> Reply<pb::ListRevocationsResponse> {
        let (scope, r) = split(request);
        let listed = self.domain.list_revocations(&scoped_account(&r.account_id, &scope)?).await?;
        let now = self.domain.now_secs();
        Ok(Response::new(pb::ListRevocationsResponse {
            revocations: listed.revocations.iter().map(|r| revocation_entry(r, now)).collect(),
            stops: listed.stops.iter().map(stop_entry).collect(),
        }))
    }

    async fn stop_issuing(&self, request: Request<pb::StopIssuingRequest>) -> Reply<pb::StopIssuingResponse> {
        let by = caller_arn(&request);
        let (scope, r) = split(request);
        let stop = self.domain.stop_issuing(&scoped_account(&r.account_id, &scope)?, &r.arn, &by).await?;
        Ok(Response::new(pb::StopIssuingResponse { stop: Some(stop_entry(&stop)) }))
    }

    async fn resume_issuing(&self, request: Request<pb::ResumeIssuingRequest>) -> Reply<pb::ResumeIssuingResponse> {
        let by = caller_arn(&request);
        let (scope, r) = split(request);
        let lifted = self.domain.resume_issuing(&scoped_account(&r.account_id, &scope)?, &r.arn, &by).await?;
        Ok(Response::new(pb::ResumeIssuingResponse { stop: lifted.as_ref().map(stop_entry) }))
    }
}
