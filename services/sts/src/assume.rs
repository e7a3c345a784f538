//! `AssumeRole` (reference §3.4, §4.2, §4.7) and what the token-issuing calls share: duration
//! rules, session policies and their packed size, session tags, MFA, and issuing the credentials.
//! The trust evaluation and the caller's layers and context are the authorizer's
//! ([`tessera_authorizer::Authorizer::trust`]); this module gathers the keys AssumeRole adds.

use tessera_arn::{
    Arn, IamEntity, ValidationError, Violation, validate_external_id, validate_mfa_code, validate_mfa_serial,
    validate_role_session_name, validate_source_identity, validate_tag_key, validate_tag_value,
};
use tessera_authorizer::{CallerLayers, Trust};
use tessera_credentials::{Secret, SessionClaims, SessionKind, SessionPolicy, issue_credentials, new_session_id};
use tessera_identity::{Account, Error, Result};
use tessera_policy::{Context, PolicyKind, parse_policy};
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::Tag;

use crate::Sts;
use crate::caller::{CallerKind, CallerPrincipal};

/// Session duration bounds, seconds.
pub(crate) const MIN_DURATION: i32 = 900;
const ROLE_MAX_DURATION: i32 = 43_200;
const CHAINED_MAX_DURATION: u64 = 3600;
/// Session policies (inline and ARNs together, white space excluded) and tags share this budget.
const PACKED_POLICY_BUDGET: usize = 2048;
const MAX_POLICY_ARNS: usize = 10;
const MAX_SESSION_TAGS: usize = 50;

/// `AssumeRole`'s input.
#[derive(Debug, Clone, Default)]
pub struct AssumeRole {
    pub role_arn: String,
    pub role_session_name: String,
    pub policy_arns: Vec<String>,
    pub policy: Option<String>,
    pub duration_seconds: Option<i32>,
    pub tags: Vec<Tag>,
    pub transitive_tag_keys: Vec<String>,
    pub external_id: Option<String>,
    pub serial_number: Option<String>,
    pub token_code: Option<String>,
    pub source_identity: Option<String>,
}

/// Temporary credentials as STS returns them. The secret and token are shown once.
#[derive(Debug, Clone)]
pub struct IssuedCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    /// Unix seconds.
    pub expiration: u64,
}

/// `AssumeRole`'s output.
#[derive(Debug, Clone)]
pub struct AssumedRole {
    pub credentials: IssuedCredentials,
    /// `AROA…:<session name>`.
    pub assumed_role_id: String,
    pub arn: String,
    pub packed_policy_size: u32,
    pub source_identity: Option<String>,
}

/// A model constraint on `DurationSeconds` (at least 900).
pub(crate) fn duration(value: Option<i32>, default: i32, max: i32) -> Result<u64> {
    duration_between(value, default, MIN_DURATION, max)
}

/// `DurationSeconds` between `min` and `max`, `default` when omitted.
pub(crate) fn duration_between(value: Option<i32>, default: i32, min: i32, max: i32) -> Result<u64> {
    let value = value.unwrap_or(default);
    let violation = if value < min {
        Violation::MinValue(min.into())
    } else if value > max {
        Violation::MaxValue(max.into())
    } else {
        return Ok(value.unsigned_abs().into());
    };
    Err(ValidationError { field: "durationSeconds", value: value.to_string(), violations: vec![violation] }.into())
}

/// Checked session policies, and their share of the packed budget.
#[derive(Debug, Default)]
pub(crate) struct SessionPolicies {
    pub(crate) policy: Option<SessionPolicy>,
    chars: usize,
}

fn non_white(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// `PackedPolicySize`: the percentage of the budget used by session policies and tags; over 100
/// is `PackedPolicyTooLarge`.
pub(crate) fn packed_size(policies: &SessionPolicies, tags: &[(String, String)]) -> Result<u32> {
    let tag_chars: usize = tags.iter().map(|(k, v)| k.chars().count() + v.chars().count()).sum();
    let used = policies.chars + tag_chars;
    let percent = u32::try_from((used * 100).div_ceil(PACKED_POLICY_BUDGET)).unwrap_or(u32::MAX);
    if percent > 100 {
        return Err(Error::new(
            ErrorCode::PackedPolicyTooLarge,
            format!("Packed policy consumes {percent}% of allotted space, please use smaller policy."),
        ));
    }
    Ok(percent)
}

/// The model's length bounds of `RoleArn` (20 to 2,048).
pub(crate) fn check_role_arn_length(role_arn: &str) -> Result<()> {
    let violation = match role_arn.len() {
        0..20 => Violation::MinLength(20),
        2049.. => Violation::MaxLength(2048),
        _ => return Ok(()),
    };
    Err(ValidationError { field: "roleArn", value: role_arn.to_owned(), violations: vec![violation] }.into())
}

/// Checks session tags: valid keys and values, at most 50, keys unique without case; transitive
/// keys must be among them.
pub(crate) fn session_tags(tags: Vec<Tag>, transitive: &[String]) -> Result<Vec<(String, String)>> {
    if tags.len() > MAX_SESSION_TAGS {
        return Err(ValidationError {
            field: "tags",
            value: format!("{} tags", tags.len()),
            violations: vec![Violation::MaxLength(MAX_SESSION_TAGS)],
        }
        .into());
    }
    let mut out: Vec<(String, String)> = Vec::with_capacity(tags.len());
    for tag in tags {
        validate_tag_key(&tag.key)?;
        validate_tag_value(&tag.value)?;
        if out.iter().any(|(k, _)| k.eq_ignore_ascii_case(&tag.key)) {
            return Err(Error::new(
                ErrorCode::ValidationError,
                format!("Duplicate tag key {} in the session tags.", tag.key),
            ));
        }
        out.push((tag.key, tag.value));
    }
    for key in transitive {
        if !out.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(Error::new(
                ErrorCode::ValidationError,
                format!("The transitive tag key {key} is not among the session tags."),
            ));
        }
    }
    Ok(out)
}

impl<S: Store> Sts<S> {
    /// Checks session policies passed to a token call in `account`.
    pub(crate) async fn session_policies(
        &self,
        account: &Account,
        inline: Option<String>,
        arns: Vec<String>,
    ) -> Result<SessionPolicies> {
        let inline = inline.filter(|p| !p.is_empty());
        if inline.is_none() && arns.is_empty() {
            return Ok(SessionPolicies::default());
        }
        if arns.len() > MAX_POLICY_ARNS {
            return Err(ValidationError {
                field: "policyArns",
                value: format!("{} ARNs", arns.len()),
                violations: vec![Violation::MaxLength(MAX_POLICY_ARNS)],
            }
            .into());
        }
        let mut chars = 0;
        if let Some(text) = &inline {
            chars += non_white(text);
            if chars > PACKED_POLICY_BUDGET {
                return Err(Error::new(
                    ErrorCode::PackedPolicyTooLarge,
                    format!(
                        "Packed policy consumes {}% of allotted space, please use smaller policy.",
                        (chars * 100).div_ceil(PACKED_POLICY_BUDGET)
                    ),
                ));
            }
            parse_policy(text, PolicyKind::Session).map_err(|error| {
                let wire = tessera_proto::ServiceError::new(ErrorCode::MalformedPolicyDocument, error.aws_message());
                Error::Service(wire.with_details(error.wire_details()))
            })?;
        }
        for arn in &arns {
            chars += arn.chars().count();
            // Only that it exists: the session compiles its documents when it is used.
            self.policies.managed_document(account, arn).await?.ok_or_else(|| {
                Error::new(
                    ErrorCode::MalformedPolicyDocument,
                    format!("Policy {arn} does not exist or is not attachable."),
                )
            })?;
        }
        Ok(SessionPolicies { policy: Some(SessionPolicy { inline, policy_arns: arns }), chars })
    }

    /// What decisions about `caller` need beyond its credentials
    /// ([`tessera_authorizer::Authorizer::caller_layers`]).
    pub async fn caller_layers(&self, caller: &CallerPrincipal) -> Result<CallerLayers> {
        self.authorizer.caller_layers(caller).await
    }

    /// The request context every decision about `caller` sees ([`tessera_authorizer::base_context`]).
    pub fn base_context(&self, caller: &CallerPrincipal, layers: &CallerLayers, now: u64) -> Context {
        tessera_authorizer::base_context(caller, layers, now)
    }

    /// Verifies `SerialNumber` + `TokenCode` for a user caller (or a session made from a user's
    /// keys); returns when MFA was verified. Anything else is `AccessDenied`.
    pub(crate) async fn verify_mfa(
        &self,
        caller: &CallerPrincipal,
        serial: Option<&str>,
        code: Option<&str>,
    ) -> Result<Option<u64>> {
        let (serial, code) = match (serial.filter(|s| !s.is_empty()), code.filter(|c| !c.is_empty())) {
            (None, None) => return Ok(None),
            (Some(serial), Some(code)) => (serial, code),
            _ => {
                return Err(Error::new(
                    ErrorCode::AccessDenied,
                    "MultiFactorAuthentication failed, both SerialNumber and TokenCode are required.",
                ));
            }
        };
        validate_mfa_serial(serial)?;
        validate_mfa_code(code)?;
        let user = match &caller.kind {
            CallerKind::User(user) => Some(user.principal.name.clone()),
            CallerKind::Session(claims) => {
                claims.source_user_arn.as_deref().and_then(|arn| Arn::parse(arn).ok()).and_then(|arn| {
                    match arn.entity() {
                        Ok(IamEntity::User { name, .. }) => Some(name),
                        _ => None,
                    }
                })
            }
            CallerKind::Root => None,
        };
        let owns = match &user {
            Some(name) => {
                let record = self.identity.get_user(&caller.account, name).await?;
                record.mfa_devices.iter().any(|s| s.eq_ignore_ascii_case(serial))
            }
            None => false,
        };
        if owns && self.identity.verify_mfa_code(&caller.account, serial, code).await? {
            return Ok(Some(self.now_secs()));
        }
        // No device of the caller's to check the code against: nothing is counted, but audited.
        Err(Error::mfa(
            serial,
            tessera_identity::MfaFailure::UnknownDevice,
            ErrorCode::AccessDenied,
            "MultiFactorAuthentication failed with invalid MFA one time pass code.",
        ))
    }

    /// Seals `claims` into a token and records the session.
    #[tracing::instrument(name = "sts.issue", skip_all)]
    pub(crate) async fn issue(&self, claims: SessionClaims) -> Result<IssuedCredentials> {
        let claims = self.stamp_issue_time(claims);
        let token = self.keys.seal(&claims, &self.env)?;
        self.record_session(&claims).await?;
        tessera_telemetry::metrics().token_issued(match claims.kind {
            tessera_credentials::SessionKind::AssumedRole => "role_session",
            tessera_credentials::SessionKind::FederatedUser => "federated_user",
            tessera_credentials::SessionKind::SessionToken => "session_token",
        });
        Ok(IssuedCredentials {
            access_key_id: claims.access_key_id.clone(),
            secret_access_key: claims.secret_access_key.clone(),
            session_token: Secret::new(token),
            expiration: claims.expires_at,
        })
    }

    /// New temporary credentials and a session id.
    pub(crate) fn fresh_credentials(&self) -> (String, Secret, String) {
        self.env.random.with(|r| {
            let (id, secret) = issue_credentials(r);
            (id, secret, new_session_id(r))
        })
    }

    /// Evaluates a role's trust policy for `actions` ([`tessera_authorizer::Authorizer::trust`]).
    pub(crate) async fn check_trust(&self, trust: Trust<'_>, actions: &[&str]) -> Result<()> {
        self.authorizer.trust(trust, actions).await
    }

    /// `AssumeRole`.
    /// `AssumeRole` by `caller`, resolved once at the edge.
    #[tracing::instrument(name = "sts.assume_role", skip_all)]
    pub async fn assume_role(&self, caller: &CallerPrincipal, input: AssumeRole) -> Result<AssumedRole> {
        self.check_issuing(Some(caller), Some(&input.role_arn))?;
        let now = self.now_secs();
        const ACTION: &str = "sts:AssumeRole";
        // The root's own sessions (GetSessionToken as root) are the root too.
        if caller.is_root() {
            return Err(Error::new(ErrorCode::AccessDenied, "Roles may not be assumed by root accounts."));
        }
        if caller.session().is_some_and(|claims| claims.kind == SessionKind::FederatedUser) {
            return Err(Error::new(ErrorCode::AccessDenied, "Cannot call AssumeRole with federated user credentials."));
        }
        validate_role_session_name(&input.role_session_name)?;
        check_role_arn_length(&input.role_arn)?;
        let requested = duration(input.duration_seconds, 3600, ROLE_MAX_DURATION)?;
        if let Some(id) = &input.external_id {
            validate_external_id(id)?;
        }
        if let Some(identity) = &input.source_identity {
            validate_source_identity(identity)?;
        }
        let inherited = caller.session().cloned();
        let tags = session_tags(input.tags, &input.transitive_tag_keys)?;
        // Transitive tags of the calling session pass on; passing one again is refused.
        let mut all_tags: Vec<(String, String)> = Vec::new();
        let mut transitive: Vec<String> = Vec::new();
        if let Some(parent) = &inherited {
            for key in &parent.transitive_tag_keys {
                if tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
                    return Err(Error::new(
                        ErrorCode::ValidationError,
                        format!(
                            "The session tag {key} is transitive from the calling session and cannot be set again."
                        ),
                    ));
                }
                if let Some(tag) = parent.tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
                    all_tags.push(tag.clone());
                    transitive.push(key.clone());
                }
            }
        }
        all_tags.extend(tags.iter().cloned());
        transitive.extend(input.transitive_tag_keys.iter().cloned());
        let source_identity =
            match (inherited.as_ref().and_then(|p| p.source_identity.clone()), input.source_identity.clone()) {
                (Some(old), Some(new)) if old != new => {
                    return Err(Error::new(
                        ErrorCode::ValidationError,
                        "The source identity of a session cannot be changed once set.",
                    ));
                }
                (Some(old), _) => (Some(old), false),
                (None, Some(new)) => (Some(new), true),
                (None, None) => (None, false),
            };

        // The role: its absence is indistinguishable from a refusal, as on AWS.
        let denied = || tessera_authorizer::not_authorized(&caller.arn, ACTION, &input.role_arn);
        let parsed = Arn::parse(&input.role_arn).map_err(|_| {
            Error::new(ErrorCode::ValidationError, format!("{} is not a valid role ARN.", input.role_arn))
        })?;
        let Ok(IamEntity::Role { name: role_name, .. }) = parsed.entity() else {
            return Err(Error::new(ErrorCode::ValidationError, format!("{} is not a valid role ARN.", input.role_arn)));
        };
        let role_account = Account::new(&parsed.account).map_err(|_| denied())?;
        let role = match self.identity.get_role(&role_account, &role_name).await {
            Ok(role) if role.principal.arn == input.role_arn => role,
            Ok(_) => return Err(denied()),
            Err(error) if error.code() == ErrorCode::NoSuchEntity => return Err(denied()),
            Err(error) => return Err(error),
        };
        let chained = inherited.as_ref().is_some_and(|p| p.kind == SessionKind::AssumedRole);
        if chained && requested > CHAINED_MAX_DURATION {
            return Err(Error::new(
                ErrorCode::ValidationError,
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            ));
        }
        if requested > u64::from(role.max_session_duration) {
            return Err(Error::new(
                ErrorCode::ValidationError,
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        let session_policies = self.session_policies(&role_account, input.policy, input.policy_arns).await?;
        let packed = packed_size(&session_policies, &tags)?;
        let mfa_at = match self.verify_mfa(caller, input.serial_number.as_deref(), input.token_code.as_deref()).await? {
            Some(at) => Some(at),
            None => inherited.as_ref().and_then(|p| p.mfa_authenticated_at),
        };

        let layers = self.caller_layers(caller).await?;
        let mut ctx = self.base_context(caller, &layers, now);
        insert_resource_tags(&mut ctx, &role.tags);
        ctx.insert("sts:RoleSessionName", input.role_session_name.clone());
        if let Some(id) = &input.external_id {
            ctx.insert("sts:ExternalId", id.clone());
        }
        if let Some(identity) = &input.source_identity {
            ctx.insert("sts:SourceIdentity", identity.clone());
        }
        if let Some(at) = mfa_at {
            ctx.insert("aws:MultiFactorAuthPresent", "true");
            ctx.insert("aws:MultiFactorAuthAge", now.saturating_sub(at).to_string());
        } else {
            ctx.insert("aws:MultiFactorAuthPresent", "false");
        }
        for (key, value) in &tags {
            ctx.insert(&format!("aws:RequestTag/{key}"), value.clone());
        }
        if !tags.is_empty() {
            ctx.insert_list("aws:TagKeys", tags.iter().map(|(k, _)| k.clone()));
        }
        if !input.transitive_tag_keys.is_empty() {
            ctx.insert_list("sts:TransitiveTagKeys", input.transitive_tag_keys.iter().cloned());
        }
        let mut actions = vec![ACTION];
        if !tags.is_empty() {
            actions.push("sts:TagSession");
        }
        if source_identity.1 {
            actions.push("sts:SetSourceIdentity");
        }
        let principal = caller.principal();
        let trust = Trust {
            principal: &principal,
            role: &role,
            role_account: &role_account,
            context: &ctx,
            layers: Some(&layers),
        };
        self.check_trust(trust, &actions).await?;

        let (access_key_id, secret, session_id) = self.fresh_credentials();
        let arn = Arn::assumed_role(role_account.id(), &role.principal.name, &input.role_session_name).to_string();
        let assumed_role_id = format!("{}:{}", role.principal.id, input.role_session_name);
        let source_user_arn = match &caller.kind {
            CallerKind::User(user) => Some(user.principal.arn.clone()),
            CallerKind::Session(claims) => claims.source_user_arn.clone(),
            CallerKind::Root => None,
        };
        let claims = SessionClaims {
            account: role_account.id().to_owned(),
            kind: SessionKind::AssumedRole,
            principal_arn: arn.clone(),
            principal_id: assumed_role_id.clone(),
            role_arn: Some(role.principal.arn.clone()),
            source_user_arn,
            source_user_id: None,
            session_name: Some(input.role_session_name),
            session_id,
            access_key_id,
            secret_access_key: secret,
            issued_at: now,
            issued_subsec_micros: 0,
            expires_at: now + requested,
            source_identity: source_identity.0.clone(),
            tags: all_tags,
            transitive_tag_keys: transitive,
            session_policy: session_policies.policy,
            mfa_authenticated_at: mfa_at,
            chain_depth: if chained { inherited.map_or(0, |p| p.chain_depth.saturating_add(1)) } else { 0 },
        };
        let credentials = self.issue(claims).await?;
        Ok(AssumedRole {
            credentials,
            assumed_role_id,
            arn,
            packed_policy_size: packed,
            source_identity: source_identity.0,
        })
    }
}

/// The target's tags as `aws:ResourceTag/*` and `iam:ResourceTag/*` (IAM resources answer to both).
pub fn insert_resource_tags(ctx: &mut Context, tags: &[Tag]) {
    for tag in tags {
        ctx.insert(&format!("aws:ResourceTag/{}", tag.key), tag.value.clone());
        ctx.insert(&format!("iam:ResourceTag/{}", tag.key), tag.value.clone());
    }
}

pub(crate) use tessera_authorizer::format_time;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_outside_the_model_are_validation_errors() {
        assert_eq!(duration(None, 3600, 43_200).unwrap(), 3600);
        assert_eq!(duration(Some(899), 3600, 43_200).unwrap_err().code(), ErrorCode::ValidationError);
        assert_eq!(duration(Some(43_201), 3600, 43_200).unwrap_err().code(), ErrorCode::ValidationError);
    }

    #[test]
    fn the_packed_size_counts_policies_and_tags() {
        let policies = SessionPolicies { chars: 1024, ..SessionPolicies::default() };
        assert_eq!(packed_size(&policies, &[]).unwrap(), 50);
        let tags = vec![("k".repeat(128), "v".repeat(900))];
        assert_eq!(packed_size(&policies, &tags).unwrap_err().code(), ErrorCode::PackedPolicyTooLarge);
    }
}
