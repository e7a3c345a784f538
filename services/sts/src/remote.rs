//! [`RemoteSts`]: [`StsApi`] over gRPC, for a gateway in front of token service replicas.
//!
//! A caller crosses as the `sts.v1.Caller` its credentials make (access key id, the session token
//! it presented, source IP: [`CallerPrincipal`] keeps all three where the edge resolved it), and
//! the service resolves it again, so MFA state, tags and chain depth come from the same token; the
//! `tessera-internal` metadata given at construction is what lets the service trust that the
//! gateway verified the signature. A revocation's `by` crosses as the `tessera-caller-arn`
//! metadata. Requests and answers go through `convert.rs`, the adapter's own conversions; errors
//! come back with their AWS code and message, and a refused MFA code with its device and reason
//! (`tessera_identity::Error::from_status`). Reads (`GetAccessKeyInfo`, `ListRevocations`,
//! `DecodeAuthorizationMessage`) are sent again while their replica was unreachable; issuing and
//! revoking are sent once.

use tonic::Request;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

use tessera_identity::{Account, Result};
use tessera_proto::sts::v1 as pb;
use tessera_proto::sts::v1::sts_service_client::StsServiceClient;
use tessera_proto::upstream;
use tessera_store::iam::Tag;

use crate::api::StsApi;
use crate::convert;
use crate::grpc::CALLER_ARN_METADATA;
// SAML providers
use crate::{
    AssumeRole, AssumeRoleWithWebIdentity, AssumedRole, CallerPrincipal, FederationToken, IssuedCredentials,
    IssuingStop, Revocation, RevocationList, WebIdentityAssumedRole, WebIdentityToken,
};
use crate::{AssumeRoleWithSaml, SamlAssumedRole};

/// The token service on the other end of a channel (one replica, or a balanced set of them).
#[derive(Clone, Debug)]
pub struct RemoteSts {
    client: upstream::Client<StsServiceClient<Channel>>,
}

impl RemoteSts {
    pub fn new(channel: Channel) -> Self {
        Self { client: upstream::Client::new(StsServiceClient::new(channel)) }
    }

    /// Sends `key: value` with every call (the cluster's `tessera-internal` proof, for one).
    pub fn with_metadata(mut self, key: &'static str, value: AsciiMetadataValue) -> Self {
        self.client = self.client.with_metadata(key, value);
        self
    }

    /// A revocation request, saying who makes it.
    fn by<T>(&self, message: T, by: &str) -> Request<T> {
        let mut request = self.client.request(message);
        if !by.is_empty() {
            match AsciiMetadataValue::try_from(by) {
                Ok(value) => {
                    request.metadata_mut().insert(CALLER_ARN_METADATA, value);
                }
                // IAM ARNs are ASCII; anything else is left out of the audit trail, not refused.
                Err(_) => tracing::warn!("a revocation's caller ARN is not ASCII; sent without it"),
            }
        }
        request
    }
}

#[async_trait::async_trait]
impl StsApi for RemoteSts {
    async fn assume_role(&self, caller: &CallerPrincipal, input: AssumeRole) -> Result<AssumedRole> {
        let message = convert::assume_role(convert::caller(caller)?, input);
        let answer = self.client.write(message, |mut c, r| async move { c.assume_role(r).await }).await?;
        Ok(convert::assumed_role_from(answer))
    }

    async fn assume_role_with_web_identity(&self, input: AssumeRoleWithWebIdentity) -> Result<WebIdentityAssumedRole> {
        let message = convert::web_identity(input);
        let answer =
            self.client.write(message, |mut c, r| async move { c.assume_role_with_web_identity(r).await }).await?;
        Ok(convert::web_identity_assumed_from(answer))
    }

    // SAML providers
    async fn assume_role_with_saml(&self, input: AssumeRoleWithSaml) -> Result<SamlAssumedRole> {
        let message = convert::saml(input);
        let answer = self.client.write(message, |mut c, r| async move { c.assume_role_with_saml(r).await }).await?;
        Ok(convert::saml_assumed_from(answer))
    }

    async fn get_session_token(
        &self,
        caller: &CallerPrincipal,
        duration_seconds: Option<i32>,
        serial_number: Option<&str>,
        token_code: Option<&str>,
    ) -> Result<IssuedCredentials> {
        let message = pb::GetSessionTokenRequest {
            caller: Some(convert::caller(caller)?),
            duration_seconds,
            serial_number: serial_number.map(str::to_owned),
            token_code: token_code.map(str::to_owned),
        };
        let answer = self.client.write(message, |mut c, r| async move { c.get_session_token(r).await }).await?;
        Ok(convert::credentials_from(answer.credentials))
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
        let message = pb::GetFederationTokenRequest {
            caller: Some(convert::caller(caller)?),
            name: name.to_owned(),
            policy,
            policy_arns: convert::policy_arns(&policy_arns),
            duration_seconds,
            tags: convert::tags(&tags),
        };
        let answer = self.client.write(message, |mut c, r| async move { c.get_federation_token(r).await }).await?;
        Ok(convert::federation_token_from(answer))
    }

    async fn get_access_key_info(&self, caller: &CallerPrincipal, access_key_id: &str) -> Result<String> {
        let message = pb::GetAccessKeyInfoRequest {
            caller: Some(convert::caller(caller)?),
            access_key_id: access_key_id.to_owned(),
        };
        let answer = self.client.read(message, |mut c, r| async move { c.get_access_key_info(r).await }).await?;
        Ok(answer.account)
    }

    async fn decode_authorization_message(&self, caller: &CallerPrincipal, encoded: &str) -> Result<String> {
        let message = pb::DecodeAuthorizationMessageRequest {
            caller: Some(convert::caller(caller)?),
            encoded_message: encoded.to_owned(),
        };
        let answer =
            self.client.read(message, |mut c, r| async move { c.decode_authorization_message(r).await }).await?;
        Ok(answer.decoded_message)
    }

    async fn get_web_identity_token(
        &self,
        caller: &CallerPrincipal,
        audiences: &[String],
        duration_seconds: Option<i32>,
    ) -> Result<WebIdentityToken> {
        let message = pb::GetWebIdentityTokenRequest {
            caller: Some(convert::caller(caller)?),
            audience: audiences.to_vec(),
            duration_seconds,
        };
        let answer = self.client.write(message, |mut c, r| async move { c.get_web_identity_token(r).await }).await?;
        Ok(convert::web_identity_token_from(answer))
    }

    async fn revoke_session(&self, account: &Account, session: &str, by: &str) -> Result<Revocation> {
        let message = pb::RevokeSessionRequest { account_id: account.id().to_owned(), session_id: session.to_owned() };
        let answer =
            self.client.send(self.by(message, by), |mut c, r| async move { c.revoke_session(r).await }).await?;
        convert::revocation_from(answer.revocation.unwrap_or_default(), account.id())
    }

    async fn revoke_role_sessions(
        &self,
        account: &Account,
        role_arn: &str,
        issued_before: Option<u64>,
        by: &str,
    ) -> Result<Revocation> {
        let message = pb::RevokeRoleSessionsRequest {
            account_id: account.id().to_owned(),
            role_arn: role_arn.to_owned(),
            issued_before: issued_before.and_then(convert::ts_micros),
        };
        let answer =
            self.client.send(self.by(message, by), |mut c, r| async move { c.revoke_role_sessions(r).await }).await?;
        convert::revocation_from(answer.revocation.unwrap_or_default(), account.id())
    }

    async fn revoke_principal_sessions(
        &self,
        account: &Account,
        principal_arn: &str,
        issued_before: Option<u64>,
        by: &str,
    ) -> Result<Revocation> {
        let message = pb::RevokePrincipalSessionsRequest {
            account_id: account.id().to_owned(),
            principal_arn: principal_arn.to_owned(),
            issued_before: issued_before.and_then(convert::ts_micros),
        };
        let answer = self
            .client
            .send(self.by(message, by), |mut c, r| async move { c.revoke_principal_sessions(r).await })
            .await?;
        convert::revocation_from(answer.revocation.unwrap_or_default(), account.id())
    }

    async fn list_revocations(&self, account: &Account) -> Result<RevocationList> {
        let message = pb::ListRevocationsRequest { account_id: account.id().to_owned() };
        let answer = self.client.read(message, |mut c, r| async move { c.list_revocations(r).await }).await?;
        let revocations =
            answer.revocations.into_iter().map(|e| convert::revocation_from(e, account.id())).collect::<Result<_>>()?;
        let stops = answer.stops.into_iter().map(|e| convert::stop_from(e, account.id())).collect();
        Ok(RevocationList { revocations, stops })
    }

    async fn stop_issuing(&self, account: &Account, arn: &str, by: &str) -> Result<IssuingStop> {
        let message = pb::StopIssuingRequest { account_id: account.id().to_owned(), arn: arn.to_owned() };
        let answer = self.client.send(self.by(message, by), |mut c, r| async move { c.stop_issuing(r).await }).await?;
        Ok(convert::stop_from(answer.stop.unwrap_or_default(), account.id()))
    }

    async fn resume_issuing(&self, account: &Account, arn: &str, by: &str) -> Result<Option<IssuingStop>> {
        let message = pb::ResumeIssuingRequest { account_id: account.id().to_owned(), arn: arn.to_owned() };
        let answer =
            self.client.send(self.by(message, by), |mut c, r| async move { c.resume_issuing(r).await }).await?;
        Ok(answer.stop.map(|stop| convert::stop_from(stop, account.id())))
    }
}
