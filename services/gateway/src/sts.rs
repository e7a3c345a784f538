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
