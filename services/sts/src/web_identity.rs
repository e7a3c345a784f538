//! `AssumeRoleWithWebIdentity` (reference §3.4, §4.3, §4.7): an unsigned call that trades an
//! OpenID Connect ID token for a role session.
//!
//! The order of the checks matters for what an unauthenticated caller can learn and cause:
//!
//! 1. the parameters are validated without touching the store or the network;
//! 2. the token's `iss` is read *unverified*, only to find a provider registered in the role's
//!    account with that URL; an unregistered issuer is refused before anything is fetched, so a
//!    caller cannot make the service contact a URL of its choosing;
//! 3. the token is verified against the provider's JWKS (see `oidc.rs` for fetching, caching and
//!    rate limits): signature (RS256 or ES256 only), `iss`, `aud` (or `azp`) among the
//!    provider's client ids, `exp`, `nbf` and `iat` with a small leeway;
//! 4. the role's trust policy decides, with `Principal.Federated` = the provider's ARN and the
//!    token's claims as condition keys (`<provider-url>:sub`, `:aud`, `:amr`, …), for
//!    `sts:AssumeRoleWithWebIdentity` and, when the token carries session tags, `sts:TagSession`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use tessera_arn::{ValidationError, Violation, validate_role_session_name};
use tessera_credentials::{Expectations, JwtError, VerifiedToken, verify};
use tessera_identity::{Error, Result};
use tessera_policy::Context;
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::{OidcProviderRecord, Tag};

use crate::Sts;
use crate::assume::{
    IssuedCredentials, RoleSession, check_max_session_duration, check_role_arn_length, duration, federated_principal,
    federation_context, insert_session_keys, packed_size, parse_role_arn, session_actions, session_tags,
};

const ACTION: &str = "sts:AssumeRoleWithWebIdentity";
/// The claim an identity provider passes session tags in (reference §4.3).
const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";
const MIN_TOKEN_LEN: usize = 4;
const MAX_TOKEN_LEN: usize = 20_000;
/// `Policy` is limited to 2048 characters for this call (unlike `AssumeRole`).
const MAX_POLICY_LEN: usize = 2048;
const ROLE_MAX_DURATION: i32 = 43_200;
/// Claims copied into the trust policy's context as `<provider-url>:<claim>` when present.
const CLAIM_KEYS: &[&str] =
    &["sub", "azp", "amr", "email", "email_verified", "name", "preferred_username", "oid", "tid"];

const NO_KEY: &str = "Couldn't retrieve verification key from your identity provider,  please reference \
                      AssumeRoleWithWebIdentity documentation for requirements";
const NOT_VALIDATED: &str = "The web identity token that was passed could not be validated by AWS. Get a new \
                             identity token from the identity provider and then retry the request.";

/// `AssumeRoleWithWebIdentity`'s input. `Debug` hides the token: it is a bearer credential.
#[derive(Clone, Default)]
pub struct AssumeRoleWithWebIdentity {
    pub role_arn: String,
    pub role_session_name: String,
    pub web_identity_token: String,
    /// Only meaningful for OAuth 2.0 access tokens of `www.amazon.com` and `graph.facebook.com`,
    /// which Tessera does not federate with; validated and otherwise ignored.
    pub provider_id: Option<String>,
    pub policy_arns: Vec<String>,
    pub policy: Option<String>,
    pub duration_seconds: Option<i32>,
}

impl fmt::Debug for AssumeRoleWithWebIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleWithWebIdentity")
            .field("role_arn", &self.role_arn)
            .field("role_session_name", &self.role_session_name)
            .field("web_identity_token", &"<redacted>")
            .field("provider_id", &self.provider_id)
            .field("policy_arns", &self.policy_arns)
            .field("policy", &self.policy)
            .field("duration_seconds", &self.duration_seconds)
            .finish()
    }
}

/// `AssumeRoleWithWebIdentity`'s output.
#[derive(Debug, Clone)]
pub struct WebIdentityAssumedRole {
    pub credentials: IssuedCredentials,
    /// The token's `sub`.
    pub subject_from_web_identity_token: String,
    /// `AROA…:<session name>`.
    pub assumed_role_id: String,
    pub arn: String,
    pub packed_policy_size: u32,
    /// The provider's ARN, as AWS reports it for IAM OIDC providers.
    pub provider: String,
    /// The client id the token was accepted for.
    pub audience: String,
    pub source_identity: Option<String>,
}

fn invalid_token(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidIdentityToken, message)
}

fn communication_error() -> Error {
    Error::new(
        ErrorCode::IdpCommunicationError,
        "The request could not be fulfilled because the identity provider (IDP) that was asked to verify the \
         incoming identity token could not be reached. This is often a transient error caused by network \
         conditions. Retry the request a limited number of times and wait between retries.",
    )
}

fn not_authorized(action: &str) -> Error {
    tessera_authorizer::web_identity_not_authorized(action)
}

fn rejected_claim(why: impl fmt::Display) -> Error {
    Error::new(ErrorCode::IdpRejectedClaim, format!("The session tags in the web identity token are invalid: {why}"))
}

/// The payload of a compact JWS, decoded but **not verified**: only for finding the provider.
fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

/// The token's `aud` values (a string or an array of strings).
fn audiences(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// Maps a verification failure to AWS's error.
fn token_error(error: JwtError, now: u64) -> Error {
    match error {
        JwtError::Expired { expired_at } => Error::new(
            ErrorCode::ExpiredTokenException,
            format!("Token expired: current date/time {now} must be before the expiration date/time {expired_at}"),
        ),
        JwtError::MissingClaim(claim) => invalid_token(format!("Missing a required claim: {claim}")),
        JwtError::WrongAudience => invalid_token("Incorrect token audience"),
        JwtError::WrongIssuer(_) => invalid_token("Incorrect token issuer"),
        JwtError::InvalidClaim(claim) => invalid_token(format!("Invalid value of the claim: {claim}")),
        JwtError::NotYetValid { .. } => invalid_token("The token is not yet valid (nbf)"),
        JwtError::IssuedInFuture { .. } => invalid_token("The token was issued in the future (iat)"),
        JwtError::UnknownKid(_) | JwtError::MissingKid => invalid_token(NO_KEY),
        _ => invalid_token(NOT_VALIDATED),
    }
}

/// The session tags an identity provider passed in its token.
#[derive(Debug, Default, PartialEq, Eq)]
struct ClaimedTags {
    tags: Vec<(String, String)>,
    transitive: Vec<String>,
}

/// Session tags and transitive keys from the `https://aws.amazon.com/tags` claim:
/// `{"principal_tags": {"k": ["v"]}, "transitive_tag_keys": ["k"]}` (a bare string value is
/// accepted too). Anything else is `IDPRejectedClaim`.
fn tags_from_claim(claims: &Map<String, Value>) -> Result<ClaimedTags> {
    let Some(claim) = claims.get(TAGS_CLAIM) else { return Ok(ClaimedTags::default()) };
    let claim = claim.as_object().ok_or_else(|| rejected_claim("the claim is not a JSON object"))?;
    let mut tags = Vec::new();
    if let Some(principal_tags) = claim.get("principal_tags") {
        let principal_tags =
            principal_tags.as_object().ok_or_else(|| rejected_claim("`principal_tags` is not an object"))?;
        for (key, value) in principal_tags {
            let value = match value {
                Value::String(value) => value.clone(),
                Value::Array(values) => match values.as_slice() {
                    [Value::String(value)] => value.clone(),
                    _ => return Err(rejected_claim(format!("tag `{key}` must have exactly one string value"))),
                },
                _ => return Err(rejected_claim(format!("tag `{key}` must have exactly one string value"))),
            };
            tags.push(Tag { key: key.clone(), value });
        }
    }
    let transitive = match claim.get("transitive_tag_keys") {
        None => Vec::new(),
        Some(Value::Array(keys)) => keys
            .iter()
            .map(|key| key.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| rejected_claim("`transitive_tag_keys` must be an array of strings"))?,
        Some(_) => return Err(rejected_claim("`transitive_tag_keys` must be an array of strings")),
    };
    let tags = session_tags(tags, &transitive).map_err(|error| rejected_claim(error.into_service_error().message))?;
    Ok(ClaimedTags { tags, transitive })
}

/// The trust policy's view of the token: `<prefix>:aud`, `:sub`, and the other claims present.
fn claim_context(ctx: &mut Context, prefix: &str, claims: &Map<String, Value>, audience: &str, via_azp: bool) {
    ctx.insert(&format!("{prefix}:aud"), audience);
    if via_azp {
        // As for Google: `aud` carries the authorized party, `oaud` the token's own audience.
        ctx.insert_list(&format!("{prefix}:oaud"), audiences(claims));
    }
    for name in CLAIM_KEYS {
        let key = format!("{prefix}:{name}");
        match claims.get(*name) {
            Some(Value::String(value)) => ctx.insert(&key, value.clone()),
            Some(Value::Bool(value)) => ctx.insert(&key, value.to_string()),
            Some(Value::Number(value)) => ctx.insert(&key, value.to_string()),
            Some(Value::Array(values)) => {
                ctx.insert_list(&key, values.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            _ => {}
        }
    }
}

impl<S: Store> Sts<S> {
    /// Verifies `token` with the provider's keys, refetching them once when the token names a
    /// key the cache does not have. Returns the verified token and the accepted audience, and
    /// whether it was accepted through `azp`.
    async fn verify_web_identity(
        &self,
        provider: &OidcProviderRecord,
        token: &str,
        unverified: &Map<String, Value>,
        now: u64,
    ) -> Result<(VerifiedToken, String, bool)> {
        let issuer_url = format!("https://{}", provider.url);
        let issuer = unverified.get("iss").and_then(Value::as_str).unwrap_or_default();
        let leeway_secs = self.oidc.config().leeway_secs;
        let mut jwks = self.oidc.keys(&issuer_url, now).await.map_err(|error| {
            tracing::warn!(%error, issuer = %issuer_url, "cannot fetch the identity provider's keys");
            communication_error()
        })?;
        let mut verified =
            verify(token, &jwks, &Expectations { issuer, audiences: &provider.client_ids, now, leeway_secs });
        if let Err(JwtError::UnknownKid(kid)) = &verified {
            let kid = kid.clone();
            match self.oidc.refetch_for_kid(&issuer_url, &kid, now).await {
                Ok(Some(fresh)) => {
                    jwks = fresh;
                    verified = verify(
                        token,
                        &jwks,
                        &Expectations { issuer, audiences: &provider.client_ids, now, leeway_secs },
                    );
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, issuer = %issuer_url, "cannot refetch the identity provider's keys");
                    return Err(communication_error());
                }
            }
        }
        match verified {
            Ok(token) => {
                let audience = audiences(&token.claims)
                    .into_iter()
                    .find(|aud| provider.client_ids.contains(aud))
                    .unwrap_or_default();
                Ok((token, audience, false))
            }
            // The authorized party may be the registered client when the audience is another
            // (Google issues such tokens); the token is verified again for its own audiences.
            Err(JwtError::WrongAudience) => {
                let azp = unverified
                    .get("azp")
                    .and_then(Value::as_str)
                    .filter(|azp| provider.client_ids.iter().any(|id| id == azp));
                let Some(azp) = azp else { return Err(invalid_token("Incorrect token audience")) };
                let own = audiences(unverified);
                let token = verify(token, &jwks, &Expectations { issuer, audiences: &own, now, leeway_secs })
                    .map_err(|error| token_error(error, now))?;
                if token.str_claim("azp") != Some(azp) {
                    return Err(invalid_token("Incorrect token audience"));
                }
                Ok((token, azp.to_owned(), true))
            }
            Err(error) => Err(token_error(error, now)),
        }
    }

    /// `AssumeRoleWithWebIdentity`.
    #[tracing::instrument(name = "sts.assume_role_with_web_identity", skip_all)]
    pub async fn assume_role_with_web_identity(
        &self,
        input: AssumeRoleWithWebIdentity,
    ) -> Result<WebIdentityAssumedRole> {
        self.check_issuing(None, Some(&input.role_arn))?;
        let now = self.now_secs();
        // 1. The parameters, as the model constrains them.
        check_role_arn_length(&input.role_arn)?;
        validate_role_session_name(&input.role_session_name)?;
        let token_len = input.web_identity_token.chars().count();
        if !(MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&token_len) {
            return Err(ValidationError {
                field: "webIdentityToken",
                // Never echo a bearer token.
                value: "***".to_owned(),
                violations: vec![if token_len < MIN_TOKEN_LEN {
                    Violation::MinLength(MIN_TOKEN_LEN)
                } else {
                    Violation::MaxLength(MAX_TOKEN_LEN)
                }],
            }
            .into());
        }
        if let Some(id) = &input.provider_id {
            let len = id.chars().count();
            if !(4..=2048).contains(&len) {
                return Err(ValidationError {
                    field: "providerId",
                    value: id.clone(),
                    violations: vec![if len < 4 { Violation::MinLength(4) } else { Violation::MaxLength(2048) }],
                }
                .into());
            }
        }
        if let Some(policy) = input.policy.as_deref().filter(|p| p.chars().count() > MAX_POLICY_LEN) {
            return Err(ValidationError {
                field: "policy",
                value: policy.to_owned(),
                violations: vec![Violation::MaxLength(MAX_POLICY_LEN)],
            }
            .into());
        }
        let requested = duration(input.duration_seconds, 3600, ROLE_MAX_DURATION)?;
        let (role_account, role_name) = parse_role_arn(&input.role_arn, || not_authorized(ACTION))?;

        // 2. The provider, found by the unverified issuer in the role's account.
        let unverified = unverified_claims(&input.web_identity_token).ok_or_else(|| invalid_token(NOT_VALIDATED))?;
        let issuer = match unverified.get("iss") {
            Some(Value::String(iss)) => iss.clone(),
            Some(_) => return Err(invalid_token("Invalid value of the claim: iss")),
            None => return Err(invalid_token("Missing a required claim: iss")),
        };
        let provider =
            self.identity.find_open_id_connect_provider(&role_account, &issuer).await?.ok_or_else(|| {
                invalid_token(format!("No OpenIDConnect provider found in your account for {issuer}"))
            })?;

        // 3. The token.
        let (token, audience, via_azp) =
            self.verify_web_identity(&provider, &input.web_identity_token, &unverified, now).await?;
        let subject = token
            .str_claim("sub")
            .filter(|sub| !sub.is_empty())
            .ok_or_else(|| invalid_token("Missing a required claim: sub"))?
            .to_owned();
        let ClaimedTags { tags, transitive } = tags_from_claim(&token.claims)?;

        // 4. The role and its trust policy. A missing role is a refusal, as on AWS.
        let role = self.session_role(&role_account, &role_name, &input.role_arn, || not_authorized(ACTION)).await?;
        check_max_session_duration(requested, &role)?;
        let session_policies = self.session_policies(&role_account, input.policy, input.policy_arns).await?;
        let packed = packed_size(&session_policies, &tags)?;

        let mut ctx = federation_context(now, false, Some(&provider.arn));
        claim_context(&mut ctx, &provider.url, &token.claims, &audience, via_azp);
        insert_session_keys(&mut ctx, &role, &input.role_session_name, &tags, &transitive, None);
        let principal = federated_principal(&role_account, &provider.arn);
        let actions = session_actions(ACTION, !tags.is_empty(), false);
        let trust = tessera_authorizer::Trust {
            principal: &principal,
            role: &role,
            role_account: &role_account,
            context: &ctx,
            layers: None,
        };

        // 5. The trust policy decides, then the session is issued.
        let session = RoleSession {
            name: input.role_session_name,
            lifetime: requested,
            tags,
            transitive_tag_keys: transitive,
            session_policy: session_policies.policy,
            ..RoleSession::default()
        };
        let issued = self.issue_role_session(trust, &actions, session, now).await?;
        tracing::info!(role_arn = %role.principal.arn, provider = %provider.arn, "web identity session issued");
        Ok(WebIdentityAssumedRole {
            credentials: issued.credentials,
            subject_from_web_identity_token: subject,
            assumed_role_id: issued.assumed_role_id,
            arn: issued.arn,
            packed_policy_size: packed,
            provider: provider.arn,
            audience,
            source_identity: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_issuer_is_peeked_without_verification() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://idp.example.com","sub":"x"}"#);
        let peeked = unverified_claims(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(peeked["iss"], "https://idp.example.com");
        for bad in ["", "a.b", "a.b.c.d", "e30.!!.x", &format!("e30.{}.x", URL_SAFE_NO_PAD.encode(b"[1]"))] {
            assert!(unverified_claims(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_tags_claim_becomes_session_tags() {
        let ClaimedTags { tags, transitive } = tags_from_claim(&claims(json!({TAGS_CLAIM: {
            "principal_tags": {"team": ["blue"], "env": "prod"},
            "transitive_tag_keys": ["team"],
        }})))
        .unwrap();
        assert_eq!(tags, [("team".to_owned(), "blue".to_owned()), ("env".to_owned(), "prod".to_owned())]);
        assert_eq!(transitive, ["team"]);
        assert_eq!(tags_from_claim(&claims(json!({"sub": "x"}))).unwrap(), ClaimedTags::default());
        for bad in [
            json!({TAGS_CLAIM: "team=blue"}),
            json!({TAGS_CLAIM: {"principal_tags": ["team"]}}),
            json!({TAGS_CLAIM: {"principal_tags": {"team": ["a", "b"]}}}),
            json!({TAGS_CLAIM: {"principal_tags": {"team": 5}}}),
            json!({TAGS_CLAIM: {"principal_tags": {"team": ["a"]}, "transitive_tag_keys": "team"}}),
            json!({TAGS_CLAIM: {"principal_tags": {"team": ["a"]}, "transitive_tag_keys": ["other"]}}),
            json!({TAGS_CLAIM: {"principal_tags": {"Team": ["a"], "team": ["b"]}}}),
        ] {
            let error = tags_from_claim(&claims(bad.clone())).unwrap_err();
            assert_eq!(error.code(), ErrorCode::IdpRejectedClaim, "{bad}");
        }
    }

    #[test]
    fn claims_become_condition_keys_under_the_provider_url() {
        let mut ctx = Context::new();
        let token = claims(json!({"sub": "user-1", "aud": ["a", "b"], "amr": ["pwd", "mfa"], "email_verified": true}));
        claim_context(&mut ctx, "127.0.0.1:8443", &token, "b", true);
        for key in ["127.0.0.1:8443:aud", "127.0.0.1:8443:oaud", "127.0.0.1:8443:sub", "127.0.0.1:8443:amr"] {
            assert!(ctx.contains(key), "{key}");
        }
        assert!(ctx.contains("127.0.0.1:8443:email_verified"));
        assert!(!ctx.contains("127.0.0.1:8443:email"));
    }

    #[test]
    fn verification_failures_map_to_aws_errors() {
        let cases = [
            (JwtError::Expired { expired_at: 5 }, ErrorCode::ExpiredTokenException),
            (JwtError::WrongAudience, ErrorCode::InvalidIdentityToken),
            (JwtError::UnsupportedAlgorithm("none".into()), ErrorCode::InvalidIdentityToken),
            (JwtError::BadSignature, ErrorCode::InvalidIdentityToken),
            (JwtError::UnknownKid("k".into()), ErrorCode::InvalidIdentityToken),
        ];
        for (error, code) in cases {
            assert_eq!(token_error(error, 10).code(), code);
        }
        assert_eq!(
            token_error(JwtError::MissingClaim("aud"), 0).into_service_error().message,
            "Missing a required claim: aud"
        );
    }
}
