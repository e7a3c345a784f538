//! The one conversion between the token service's types and `tessera.sts.v1`, both ways: the
//! server adapter (`grpc.rs`) decodes requests and encodes answers with it, and the client
//! (`remote.rs`) encodes requests and decodes answers with the same functions, so a call through
//! [`crate::RemoteSts`] returns what the domain returned on the other side.
//!
//! Each pair is `x` (domain to proto) and `x_from` (proto to domain). Times cross as
//! `google.protobuf.Timestamp`: whole seconds for expirations, microseconds for revocations.

use std::time::{Duration, UNIX_EPOCH};

use tessera_credentials::Secret;
use tessera_identity::Error;
use tessera_proto::ErrorCode;
use tessera_proto::common::v1 as common;
use tessera_proto::convert::{system_time, timestamp};
use tessera_proto::scope::Scope;
use tessera_proto::sts::v1 as pb;
use tessera_store::iam::Tag;
use tonic::Status;

// SAML providers
use crate::{
    AssumeRole, AssumeRoleWithWebIdentity, AssumedRole, CallerCredentials, CallerPrincipal, FederationToken,
    IssuedCredentials, IssuingStop, Revocation, WebIdentityAssumedRole, WebIdentityToken,
};
use crate::{AssumeRoleWithSaml, SamlAssumedRole};

const MICROS: u64 = 1_000_000;

// The caller.

/// The credentials a request's `Caller` names; its key must be the one the gRPC gate
/// authenticated, and its source IP is the gate's when the gate ran.
pub(crate) fn credentials_of(caller: Option<pb::Caller>, scope: &Scope) -> Result<CallerCredentials, Status> {
    let caller = caller.ok_or_else(|| {
        Status::from(Error::new(ErrorCode::MissingAuthenticationToken, "Request is missing Authentication Token"))
    })?;
    scope.check_key(&caller.access_key_id)?;
    Ok(CallerCredentials {
        access_key_id: caller.access_key_id,
        session_token: caller.session_token,
        source_ip: scope.source_ip(caller.source_ip),
    })
}

/// The `Caller` that names `caller` to a remote token service, which resolves it again: its
/// access key, the session token it presented, and its source IP.
pub(crate) fn caller(caller: &CallerPrincipal) -> Result<pb::Caller, Error> {
    if caller.session().is_some() && caller.session_token.is_none() {
        // A session resolved from something other than its token (an identity token) cannot be
        // named to another process; the edges that resolve callers for issuing keep the token.
        tracing::error!(arn = %caller.arn, "a session caller without its token cannot call a remote token service");
        return Err(Error::new(
            ErrorCode::ServiceFailure,
            "The request processing has failed because of an unknown error.",
        ));
    }
    Ok(pb::Caller {
        access_key_id: caller.access_key_id.clone(),
        session_token: caller.session_token.as_ref().map(|t| t.expose().to_owned()),
        source_ip: caller.source_ip.clone(),
    })
}

// Times.

pub(crate) fn ts(secs: u64) -> Option<prost_types::Timestamp> {
    Some(timestamp(UNIX_EPOCH + Duration::from_secs(secs)))
}

fn secs_from(at: Option<&prost_types::Timestamp>) -> u64 {
    at.and_then(system_time).map_or(0, |t| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

pub(crate) fn ts_micros(micros: u64) -> Option<prost_types::Timestamp> {
    Some(timestamp(UNIX_EPOCH + Duration::from_micros(micros)))
}

/// An instant in unix microseconds (before 1970 is 0: it covers nothing a session has).
pub(crate) fn micros_from(at: Option<&prost_types::Timestamp>) -> Option<u64> {
    at.and_then(system_time)
        .map(|t| t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)))
}

fn size(percent: u32) -> i32 {
    i32::try_from(percent).unwrap_or(i32::MAX)
}

fn size_from(percent: i32) -> u32 {
    u32::try_from(percent).unwrap_or(0)
}

// Inputs.

pub(crate) fn tags_from(tags: Vec<common::Tag>) -> Vec<Tag> {
    tags.into_iter().map(|t| Tag { key: t.key, value: t.value }).collect()
}

pub(crate) fn tags(tags: &[Tag]) -> Vec<common::Tag> {
    tags.iter().map(|t| common::Tag { key: t.key.clone(), value: t.value.clone() }).collect()
}

pub(crate) fn policy_arns_from(policies: Vec<pb::PolicyDescriptorType>) -> Vec<String> {
    policies.into_iter().map(|p| p.arn).collect()
}

pub(crate) fn policy_arns(arns: &[String]) -> Vec<pb::PolicyDescriptorType> {
    arns.iter().map(|arn| pb::PolicyDescriptorType { arn: arn.clone() }).collect()
}

pub(crate) fn assume_role_from(r: pb::AssumeRoleRequest) -> AssumeRole {
    AssumeRole {
        role_arn: r.role_arn,
        role_session_name: r.role_session_name,
        policy_arns: policy_arns_from(r.policy_arns),
        policy: r.policy,
        duration_seconds: r.duration_seconds,
        tags: tags_from(r.tags),
        transitive_tag_keys: r.transitive_tag_keys,
        external_id: r.external_id,
        serial_number: r.serial_number,
        token_code: r.token_code,
        source_identity: r.source_identity,
    }
}

pub(crate) fn assume_role(caller: pb::Caller, input: AssumeRole) -> pb::AssumeRoleRequest {
    pb::AssumeRoleRequest {
        caller: Some(caller),
        policy_arns: policy_arns(&input.policy_arns),
        tags: tags(&input.tags),
        role_arn: input.role_arn,
        role_session_name: input.role_session_name,
        policy: input.policy,
        duration_seconds: input.duration_seconds,
        transitive_tag_keys: input.transitive_tag_keys,
        external_id: input.external_id,
        serial_number: input.serial_number,
        token_code: input.token_code,
        source_identity: input.source_identity,
    }
}

pub(crate) fn web_identity_from(r: pb::AssumeRoleWithWebIdentityRequest) -> AssumeRoleWithWebIdentity {
    AssumeRoleWithWebIdentity {
        role_arn: r.role_arn,
        role_session_name: r.role_session_name,
        web_identity_token: r.web_identity_token,
        provider_id: r.provider_id,
        policy_arns: policy_arns_from(r.policy_arns),
        policy: r.policy,
        duration_seconds: r.duration_seconds,
    }
}

pub(crate) fn web_identity(input: AssumeRoleWithWebIdentity) -> pb::AssumeRoleWithWebIdentityRequest {
    pb::AssumeRoleWithWebIdentityRequest {
        policy_arns: policy_arns(&input.policy_arns),
        role_arn: input.role_arn,
        role_session_name: input.role_session_name,
        web_identity_token: input.web_identity_token,
        provider_id: input.provider_id,
        policy: input.policy,
        duration_seconds: input.duration_seconds,
    }
}

// Answers.

pub(crate) fn credentials(issued: IssuedCredentials) -> Option<pb::Credentials> {
    Some(pb::Credentials {
        access_key_id: issued.access_key_id,
        secret_access_key: issued.secret_access_key.expose().to_owned(),
        session_token: issued.session_token.expose().to_owned(),
        expiration: ts(issued.expiration),
    })
}

pub(crate) fn credentials_from(credentials: Option<pb::Credentials>) -> IssuedCredentials {
    let credentials = credentials.unwrap_or_default();
    IssuedCredentials {
        expiration: secs_from(credentials.expiration.as_ref()),
        access_key_id: credentials.access_key_id,
        secret_access_key: Secret::new(credentials.secret_access_key),
        session_token: Secret::new(credentials.session_token),
    }
}

pub(crate) fn assumed_role(assumed: AssumedRole) -> pb::AssumeRoleResponse {
    pb::AssumeRoleResponse {
        credentials: credentials(assumed.credentials),
        assumed_role_user: Some(pb::AssumedRoleUser { assumed_role_id: assumed.assumed_role_id, arn: assumed.arn }),
        packed_policy_size: size(assumed.packed_policy_size),
        source_identity: assumed.source_identity,
    }
}

pub(crate) fn assumed_role_from(r: pb::AssumeRoleResponse) -> AssumedRole {
    let user = r.assumed_role_user.unwrap_or_default();
    AssumedRole {
        credentials: credentials_from(r.credentials),
        assumed_role_id: user.assumed_role_id,
        arn: user.arn,
        packed_policy_size: size_from(r.packed_policy_size),
        source_identity: r.source_identity,
    }
}

pub(crate) fn web_identity_assumed(assumed: WebIdentityAssumedRole) -> pb::AssumeRoleWithWebIdentityResponse {
    pb::AssumeRoleWithWebIdentityResponse {
        credentials: credentials(assumed.credentials),
        subject_from_web_identity_token: assumed.subject_from_web_identity_token,
        assumed_role_user: Some(pb::AssumedRoleUser { assumed_role_id: assumed.assumed_role_id, arn: assumed.arn }),
        packed_policy_size: size(assumed.packed_policy_size),
        provider: assumed.provider,
        audience: assumed.audience,
        source_identity: assumed.source_identity,
    }
}

pub(crate) fn web_identity_assumed_from(r: pb::AssumeRoleWithWebIdentityResponse) -> WebIdentityAssumedRole {
    let user = r.assumed_role_user.unwrap_or_default();
    WebIdentityAssumedRole {
        credentials: credentials_from(r.credentials),
        subject_from_web_identity_token: r.subject_from_web_identity_token,
        assumed_role_id: user.assumed_role_id,
        arn: user.arn,
        packed_policy_size: size_from(r.packed_policy_size),
        provider: r.provider,
        audience: r.audience,
        source_identity: r.source_identity,
    }
}

// SAML providers
pub(crate) fn saml_from(r: pb::AssumeRoleWithSamlRequest) -> AssumeRoleWithSaml {
    AssumeRoleWithSaml {
        role_arn: r.role_arn,
        principal_arn: r.principal_arn,
        saml_assertion: r.saml_assertion,
        policy_arns: policy_arns_from(r.policy_arns),
        policy: r.policy,
        duration_seconds: r.duration_seconds,
    }
}

pub(crate) fn saml(input: AssumeRoleWithSaml) -> pb::AssumeRoleWithSamlRequest {
    pb::AssumeRoleWithSamlRequest {
        policy_arns: policy_arns(&input.policy_arns),
        role_arn: input.role_arn,
        principal_arn: input.principal_arn,
        saml_assertion: input.saml_assertion,
        policy: input.policy,
        duration_seconds: input.duration_seconds,
    }
}

pub(crate) fn saml_assumed(assumed: SamlAssumedRole) -> pb::AssumeRoleWithSamlResponse {
    pb::AssumeRoleWithSamlResponse {
        credentials: credentials(assumed.credentials),
        assumed_role_user: Some(pb::AssumedRoleUser { assumed_role_id: assumed.assumed_role_id, arn: assumed.arn }),
        packed_policy_size: size(assumed.packed_policy_size),
        subject: assumed.subject,
        subject_type: assumed.subject_type,
        issuer: assumed.issuer,
        audience: assumed.audience,
        name_qualifier: assumed.name_qualifier,
        source_identity: assumed.source_identity,
    }
}

pub(crate) fn saml_assumed_from(r: pb::AssumeRoleWithSamlResponse) -> SamlAssumedRole {
    let user = r.assumed_role_user.unwrap_or_default();
    SamlAssumedRole {
        credentials: credentials_from(r.credentials),
        assumed_role_id: user.assumed_role_id,
        arn: user.arn,
        packed_policy_size: size_from(r.packed_policy_size),
        subject: r.subject,
        subject_type: r.subject_type,
        issuer: r.issuer,
        audience: r.audience,
        name_qualifier: r.name_qualifier,
        source_identity: r.source_identity,
    }
}

pub(crate) fn federation_token(token: FederationToken) -> pb::GetFederationTokenResponse {
    pb::GetFederationTokenResponse {
        credentials: credentials(token.credentials),
        federated_user: Some(pb::FederatedUser { federated_user_id: token.federated_user_id, arn: token.arn }),
        packed_policy_size: size(token.packed_policy_size),
    }
}

pub(crate) fn federation_token_from(r: pb::GetFederationTokenResponse) -> FederationToken {
    let user = r.federated_user.unwrap_or_default();
    FederationToken {
        credentials: credentials_from(r.credentials),
        federated_user_id: user.federated_user_id,
        arn: user.arn,
        packed_policy_size: size_from(r.packed_policy_size),
    }
}

pub(crate) fn web_identity_token(token: WebIdentityToken) -> pb::GetWebIdentityTokenResponse {
    pb::GetWebIdentityTokenResponse {
        web_identity_token: token.token.expose().to_owned(),
        expiration: ts(token.expiration),
    }
}

pub(crate) fn web_identity_token_from(r: pb::GetWebIdentityTokenResponse) -> WebIdentityToken {
    WebIdentityToken { token: Secret::new(r.web_identity_token), expiration: secs_from(r.expiration.as_ref()) }
}

/// A revocation as listed, `in_force` at `now` (unix seconds).
pub(crate) fn revocation_entry(revocation: &Revocation, now: u64) -> pb::RevocationEntry {
    let (kind, target, session_expires_at) = match revocation {
        Revocation::Session { session_id, expires_at, .. } => ("Session", session_id, ts(*expires_at)),
        Revocation::Role { role_arn, .. } => ("Role", role_arn, None),
        Revocation::Principal { principal_arn, .. } => ("Principal", principal_arn, None),
    };
    let (by, at) = revocation.made();
    pb::RevocationEntry {
        kind: kind.to_owned(),
        target: target.clone(),
        issued_up_to: revocation.cut_off_micros().and_then(ts_micros),
        revoked_by: by.to_owned(),
        revoked_at: ts_micros(at),
        in_force: revocation.in_force(now),
        session_expires_at,
    }
}

/// The revocation an entry of `account` describes (a cut-off crosses in microseconds, so a
/// record from before microsecond cut-offs comes back with its second's last microsecond).
pub(crate) fn revocation_from(entry: pb::RevocationEntry, account: &str) -> Result<Revocation, Error> {
    let revoked_at = micros_from(entry.revoked_at.as_ref()).unwrap_or(0);
    let cut_off = micros_from(entry.issued_up_to.as_ref()).unwrap_or(0);
    match entry.kind.as_str() {
        "Session" => Ok(Revocation::Session {
            account: account.to_owned(),
            session_id: entry.target,
            expires_at: secs_from(entry.session_expires_at.as_ref()),
            revoked_by: entry.revoked_by,
            revoked_at,
        }),
        "Role" => Ok(Revocation::Role {
            role_arn: entry.target,
            issued_up_to: cut_off / MICROS,
            issued_up_to_micros: cut_off,
            revoked_by: entry.revoked_by,
            revoked_at,
        }),
        "Principal" => Ok(Revocation::Principal {
            principal_arn: entry.target,
            issued_up_to: cut_off / MICROS,
            issued_up_to_micros: cut_off,
            revoked_by: entry.revoked_by,
            revoked_at,
        }),
        other => Err(Error::new(ErrorCode::ServiceFailure, format!("unknown revocation kind `{other}`"))),
    }
}

pub(crate) fn stop_entry(stop: &IssuingStop) -> pb::IssuingStopEntry {
    pb::IssuingStopEntry {
        arn: stop.arn.clone(),
        stopped_by: stop.stopped_by.clone(),
        stopped_at: ts_micros(stop.stopped_at),
    }
}

pub(crate) fn stop_from(entry: pb::IssuingStopEntry, account: &str) -> IssuingStop {
    IssuingStop {
        account: account.to_owned(),
        stopped_at: micros_from(entry.stopped_at.as_ref()).unwrap_or(0),
        arn: entry.arn,
        stopped_by: entry.stopped_by,
    }
}
