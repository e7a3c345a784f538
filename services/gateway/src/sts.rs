//! The STS actions (reference §4) on the Query protocol.

use tessera_awsapi::{Params, Response, STS_NAMESPACE};
use tessera_store::Store;
use tessera_sts::{AssumeRole, IssuedCredentials};

use crate::Gateway;
use crate::actions::Authorized;
use crate::context::{Cx, Result};

fn credentials(r: &mut Response, issued: &IssuedCredentials) {
    r.nested("Credentials", |r| {
        r.el("AccessKeyId", &issued.access_key_id)
            .el("SecretAccessKey", issued.secret_access_key.expose())
            .el("SessionToken", issued.session_token.expose())
            .timestamp("Expiration", i64::try_from(issued.expiration).unwrap_or(i64::MAX));
    });
}

fn policy_arns(params: &Params) -> Vec<String> {
    params.members("PolicyArns").into_iter().filter_map(|m| m.get("arn").map(str::to_owned)).collect()
}

pub(crate) async fn get_caller_identity<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let mut r = cx.response();
    r.el("UserId", &cx.caller.user_id).el("Account", cx.account().id()).el("Arn", &cx.caller.arn);
    Ok(r.finish(cx.request_id))
}

/// Authorized by the role's trust policy, which the token service evaluates.
pub(crate) async fn assume_role<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let p = cx.params;
    let input = AssumeRole {
        role_arn: cx.required("RoleArn")?,
        role_session_name: cx.required("RoleSessionName")?,
        policy_arns: policy_arns(p),
        policy: cx.get("Policy"),
        duration_seconds: cx.int("DurationSeconds")?,
        tags: crate::context::tags_of(p),
        transitive_tag_keys: p.list("TransitiveTagKeys").into_iter().map(str::to_owned).collect(),
        external_id: cx.get("ExternalId"),
        serial_number: cx.get("SerialNumber"),
        token_code: cx.get("TokenCode"),
        source_identity: cx.get("SourceIdentity"),
    };
    let assumed = cx.gateway.tokens.assume_role(&cx.caller, input).await?;
    let mut r = cx.response();
    credentials(&mut r, &assumed.credentials);
    r.nested("AssumedRoleUser", |r| {
        r.el("AssumedRoleId", &assumed.assumed_role_id).el("Arn", &assumed.arn);
    });
    r.int("PackedPolicySize", assumed.packed_policy_size.into())
        .opt("SourceIdentity", assumed.source_identity.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_session_token<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let issued = cx
        .gateway
        .tokens
        .get_session_token(
            &cx.caller,
            cx.int("DurationSeconds")?,
            cx.get("SerialNumber").as_deref(),
            cx.get("TokenCode").as_deref(),
        )
        .await?;
    let mut r = cx.response();
    credentials(&mut r, &issued);
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_federation_token<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let p = cx.params;
    let token = cx
        .gateway
        .tokens
        .get_federation_token(
            &cx.caller,
            auth.name(),
            cx.get("Policy"),
            policy_arns(p),
            cx.int("DurationSeconds")?,
            crate::context::tags_of(p),
        )
        .await?;
    let mut r = cx.response();
    credentials(&mut r, &token.credentials);
    r.nested("FederatedUser", |r| {
        r.el("FederatedUserId", &token.federated_user_id).el("Arn", &token.arn);
    });
    r.int("PackedPolicySize", token.packed_policy_size.into());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_access_key_info<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let account = cx.gateway.tokens.get_access_key_info(&cx.caller, &cx.required("AccessKeyId")?).await?;
    let mut r = cx.response();
    r.el("Account", &account);
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn decode_authorization_message<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let decoded = cx.gateway.tokens.decode_authorization_message(&cx.caller, &cx.required("EncodedMessage")?).await?;
    let mut r = cx.response();
    r.el("DecodedMessage", &decoded);
    Ok(r.finish(cx.request_id))
}

/// `AssumeRoleWithWebIdentity`: unsigned, the token is the credential.
pub(crate) async fn web_identity<S: Store>(gateway: &Gateway<S>, params: &Params, request_id: &str) -> Result<String> {
    let input = tessera_sts::AssumeRoleWithWebIdentity {
        role_arn: params.required("RoleArn")?.to_owned(),
        role_session_name: params.required("RoleSessionName")?.to_owned(),
        web_identity_token: params.required("WebIdentityToken")?.to_owned(),
        provider_id: params.get("ProviderId").map(str::to_owned),
        policy_arns: policy_arns(params),
        policy: params.get("Policy").map(str::to_owned),
        duration_seconds: params.int("DurationSeconds")?,
    };
    let out = gateway.tokens.assume_role_with_web_identity(input).await?;
    let mut r = Response::new("AssumeRoleWithWebIdentity", STS_NAMESPACE);
    credentials(&mut r, &out.credentials);
    r.el("SubjectFromWebIdentityToken", &out.subject_from_web_identity_token);
    r.nested("AssumedRoleUser", |r| {
        r.el("AssumedRoleId", &out.assumed_role_id).el("Arn", &out.arn);
    });
    r.int("PackedPolicySize", out.packed_policy_size.into())
        .el("Provider", &out.provider)
        .el("Audience", &out.audience)
        .opt("SourceIdentity", out.source_identity.as_deref());
    Ok(r.finish(request_id))
}

// ---------------------------------------------------------------------------------------------
// Outbound identity tokens, root sessions and delegated access (issue 14, part C).

/// The signing algorithm Tessera's issuer signs with. AWS's enum is `RS256` and `ES384`; Tessera
/// signs ES256 only (its JWKS publishes P-256 keys), so it names that one rather than sign with
/// an algorithm other than the one asked for.
const SIGNING_ALGORITHMS: &str = "ES256";

/// `GetWebIdentityToken` over the AWS API: refused while the account's outbound web identity
/// federation is not enabled, as AWS refuses it. (Tessera's gRPC API, which its agents use,
/// mints the same tokens without the switch: it is Tessera's own issuer, not AWS's feature.)
pub(crate) async fn get_web_identity_token<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let audiences: Vec<String> = match cx.params.list_opt("Audience") {
        Some(list) => list.into_iter().map(str::to_owned).collect(),
        None => {
            return Err(tessera_awsapi::QueryError::MissingParameter {
                name: "Audience".into(),
                member: "audience".into(),
            }
            .into());
        }
    };
    let algorithm = cx.required("SigningAlgorithm")?;
    if algorithm != SIGNING_ALGORITHMS {
        return Err(tessera_identity::Error::new(
            tessera_proto::ErrorCode::ValidationError,
            format!(
                "1 validation error detected: Value '{algorithm}' at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [{SIGNING_ALGORITHMS}]"
            ),
        )
        .into());
    }
    if !cx.tags().is_empty() {
        return Err(tessera_identity::Error::invalid_input(
            "Tags are not added to Tessera's identity tokens; send the request without Tags.",
        )
        .into());
    }
    if cx.gateway.identity.outbound_web_identity_federation(cx.account()).await? != Some(true) {
        return Err(tessera_identity::Error::new(
            tessera_proto::ErrorCode::OutboundWebIdentityFederationDisabled,
            "The outbound web identity federation feature is not enabled for this account.",
        )
        .into());
    }
    let token = cx.gateway.tokens.get_web_identity_token(&cx.caller, &audiences, cx.int("DurationSeconds")?).await?;
    let mut r = cx.response();
    r.el("WebIdentityToken", token.token.expose())
        .timestamp("Expiration", i64::try_from(token.expiration).unwrap_or(i64::MAX));
    Ok(r.finish(cx.request_id))
}

/// `AssumeRoot`: privileged sessions on an organization's member accounts, which an account in
/// no organization has none of. Authorized on the target's root first, like every action.
pub(crate) async fn assume_root<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    cx.required("TaskPolicyArn.arn")?;
    if let Some(duration) = cx.int("DurationSeconds")?
        && !(0..=900).contains(&duration)
    {
        let violation =
            if duration < 0 { tessera_arn::Violation::MinValue(0) } else { tessera_arn::Violation::MaxValue(900) };
        let error = tessera_arn::ValidationError {
            field: "durationSeconds",
            value: duration.to_string(),
            violations: vec![violation],
        };
        return Err(tessera_identity::Error::from(error).into());
    }
    Err(tessera_identity::Error::new(
        tessera_proto::ErrorCode::AccessDenied,
        "AssumeRoot needs centralized root access in an organization: this account is in no organization, so it has no member accounts to assume root in.",
    )
    .into())
}

/// `GetDelegatedAccessToken`: trade-in tokens come from accepted delegation requests, and no
/// delegation request exists in a standalone account, so no token can be exchanged.
pub(crate) async fn get_delegated_access_token<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    cx.required("TradeInToken")?;
    Err(tessera_identity::Error::new(
        tessera_proto::ErrorCode::ExpiredTradeInToken,
        "The trade-in token provided in the request has expired and can no longer be exchanged for credentials.",
    )
    .into())
}

// SAML providers
/// `AssumeRoleWithSAML`: unsigned, the signed SAML response is the credential.
pub(crate) async fn saml<S: Store>(gateway: &Gateway<S>, params: &Params, request_id: &str) -> Result<String> {
    let input = tessera_sts::AssumeRoleWithSaml {
        role_arn: params.required("RoleArn")?.to_owned(),
        principal_arn: params.required("PrincipalArn")?.to_owned(),
        saml_assertion: params.required("SAMLAssertion")?.to_owned(),
        policy_arns: policy_arns(params),
        policy: params.get("Policy").map(str::to_owned),
        duration_seconds: params.int("DurationSeconds")?,
    };
    let out = gateway.tokens.assume_role_with_saml(input).await?;
    let mut r = Response::new("AssumeRoleWithSAML", STS_NAMESPACE);
    credentials(&mut r, &out.credentials);
    r.nested("AssumedRoleUser", |r| {
        r.el("AssumedRoleId", &out.assumed_role_id).el("Arn", &out.arn);
    });
    r.int("PackedPolicySize", out.packed_policy_size.into())
        .el("Subject", &out.subject)
        .el("SubjectType", &out.subject_type)
        .el("Issuer", &out.issuer)
        .el("Audience", &out.audience)
        .el("NameQualifier", &out.name_qualifier)
        .opt("SourceIdentity", out.source_identity.as_deref());
    Ok(r.finish(request_id))
}
