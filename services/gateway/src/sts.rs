//! The STS actions (reference §4) on the Query protocol.

use tessera_awsapi::{Params, Response, STS_NAMESPACE};
use tessera_store::Store;
use tessera_sts::{AssumeRole, IssuedCredentials};

use crate::Gateway;
use crate::context::{Cx, Result};

/// The STS actions this endpoint serves.
pub(crate) const ACTIONS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithWebIdentity",
    "GetSessionToken",
    "GetFederationToken",
    "GetCallerIdentity",
    "GetAccessKeyInfo",
    "DecodeAuthorizationMessage",
];

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

pub(crate) async fn dispatch<S: Store>(cx: &Cx<'_, S>) -> Result<String> {
    let sts = &cx.gateway.sts;
    let p = cx.params;
    crate::authz::session_may_call(&cx.caller, &format!("sts:{}", cx.action))?;
    if matches!(cx.action.as_str(), "AssumeRole" | "GetSessionToken" | "GetFederationToken") {
        let principal = cx.caller.principal();
        let principal_arn = principal.role_arn.as_deref().unwrap_or(&cx.caller.arn);
        if !cx.gateway.limiter.admit_issue(principal_arn, std::time::Instant::now()) {
            return Err(tessera_identity::Error::new(tessera_proto::ErrorCode::Throttling, "Rate exceeded").into());
        }
    }
    let mut r = cx.response();
    match cx.action.as_str() {
        "GetCallerIdentity" => {
            r.el("UserId", &cx.caller.user_id).el("Account", cx.account().id()).el("Arn", &cx.caller.arn);
        }
        "AssumeRole" => {
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
            let assumed = sts.assume_role(&cx.caller, input).await?;
            credentials(&mut r, &assumed.credentials);
            r.nested("AssumedRoleUser", |r| {
                r.el("AssumedRoleId", &assumed.assumed_role_id).el("Arn", &assumed.arn);
            });
            r.int("PackedPolicySize", assumed.packed_policy_size.into())
                .opt("SourceIdentity", assumed.source_identity.as_deref());
        }
        "GetSessionToken" => {
            let issued = sts
                .get_session_token(
                    &cx.caller,
                    cx.int("DurationSeconds")?,
                    cx.get("SerialNumber").as_deref(),
                    cx.get("TokenCode").as_deref(),
                )
                .await?;
            credentials(&mut r, &issued);
        }
        "GetFederationToken" => {
            let name = cx.required("Name")?;
            cx.authorize(&format!("arn:aws:sts::{}:federated-user/{name}", cx.account().id())).await?;
            let token = sts
                .get_federation_token(
                    &cx.caller,
                    &name,
                    cx.get("Policy"),
                    policy_arns(p),
                    cx.int("DurationSeconds")?,
                    crate::context::tags_of(p),
                )
                .await?;
            credentials(&mut r, &token.credentials);
            r.nested("FederatedUser", |r| {
                r.el("FederatedUserId", &token.federated_user_id).el("Arn", &token.arn);
            });
            r.int("PackedPolicySize", token.packed_policy_size.into());
        }
        "GetAccessKeyInfo" => {
            cx.authorize("*").await?;
            let account = sts.get_access_key_info(&cx.required("AccessKeyId")?).await?;
            r.el("Account", &account);
        }
        "DecodeAuthorizationMessage" => {
            cx.authorize("*").await?;
            let decoded = sts.decode_authorization_message(&cx.caller, &cx.required("EncodedMessage")?)?;
            r.el("DecodedMessage", &decoded);
        }
        other => {
            return Err(tessera_awsapi::QueryError::invalid_action(other, Some(tessera_awsapi::STS_VERSION)).into());
        }
    }
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
    let out = gateway.sts.assume_role_with_web_identity(input).await?;
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
