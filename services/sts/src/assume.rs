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
use tessera_policy::{Context, PolicyKind, Principal, PrincipalKind, parse_policy};
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::{RoleRecord, Tag};

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

/// What sets one role session apart from another: the parts of its claims that `AssumeRole` and
/// each federation decide for themselves. The rest is [`Sts::issue_role_session`]'s.
#[derive(Debug, Default)]
pub(crate) struct RoleSession {
    pub(crate) name: String,
    /// Seconds from the time of issue.
    pub(crate) lifetime: u64,
    pub(crate) source_user_arn: Option<String>,
    pub(crate) source_identity: Option<String>,
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) transitive_tag_keys: Vec<String>,
    pub(crate) session_policy: Option<SessionPolicy>,
    pub(crate) mfa_authenticated_at: Option<u64>,
    pub(crate) chain_depth: u8,
}

/// A role session as [`Sts::issue_role_session`] issued it.
#[derive(Debug)]
pub(crate) struct IssuedRoleSession {
    pub(crate) credentials: IssuedCredentials,
    /// `AROA…:<session name>`.
    pub(crate) assumed_role_id: String,
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session name>`.
    pub(crate) arn: String,
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

/// The account and name of the role `role_arn` names. What is not a role ARN is a
/// `ValidationError`; an account that cannot be one is `denied()`, like a missing role.
pub(crate) fn parse_role_arn(role_arn: &str, denied: impl Fn() -> Error) -> Result<(Account, String)> {
    let invalid_arn = || Error::new(ErrorCode::ValidationError, format!("{role_arn} is not a valid role ARN."));
    let parsed = Arn::parse(role_arn).map_err(|_| invalid_arn())?;
    let Ok(IamEntity::Role { name, .. }) = parsed.entity() else { return Err(invalid_arn()) };
    let account = Account::new(&parsed.account).map_err(|_| denied())?;
    Ok((account, name))
}

/// Refuses a requested session duration past the role's `MaxSessionDuration`.
pub(crate) fn check_max_session_duration(requested: u64, role: &RoleRecord) -> Result<()> {
    if requested > u64::from(role.max_session_duration) {
        return Err(Error::new(
            ErrorCode::ValidationError,
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    Ok(())
}

/// The request context of an unsigned (federated) session request: there is no caller, so only
/// the time, the transport and, for an identity provider, `aws:FederatedProvider`.
pub(crate) fn federation_context(now: u64, secure_transport: bool, provider_arn: Option<&str>) -> Context {
    let mut ctx = Context::new();
    ctx.insert("aws:CurrentTime", format_time(now));
    ctx.insert("aws:EpochTime", now.to_string());
    ctx.insert("aws:SecureTransport", secure_transport.to_string());
    if let Some(arn) = provider_arn {
        ctx.insert("aws:FederatedProvider", arn.to_owned());
    }
    ctx
}

/// The keys every session request adds to the trust policy's context: the role's tags, the
/// session name, the session tags it asks for and their transitive keys, the source identity it
/// sets.
pub(crate) fn insert_session_keys(
    ctx: &mut Context,
    role: &RoleRecord,
    session_name: &str,
    tags: &[(String, String)],
    transitive_tag_keys: &[String],
    source_identity: Option<&str>,
) {
    insert_resource_tags(ctx, &role.tags);
    ctx.insert("sts:RoleSessionName", session_name.to_owned());
    if let Some(identity) = source_identity {
        ctx.insert("sts:SourceIdentity", identity.to_owned());
    }
    for (key, value) in tags {
        ctx.insert(&format!("aws:RequestTag/{key}"), value.clone());
    }
    if !tags.is_empty() {
        ctx.insert_list("aws:TagKeys", tags.iter().map(|(k, _)| k.clone()));
    }
    if !transitive_tag_keys.is_empty() {
        ctx.insert_list("sts:TransitiveTagKeys", transitive_tag_keys.iter().cloned());
    }
}

/// The actions a session request needs the trust policy to allow: `action`, with
/// `sts:TagSession` when it sets session tags and `sts:SetSourceIdentity` when it sets a source
/// identity.
pub(crate) fn session_actions(action: &'static str, sets_tags: bool, sets_source_identity: bool) -> Vec<&'static str> {
    let mut actions = vec![action];
    if sets_tags {
        actions.push("sts:TagSession");
    }
    if sets_source_identity {
        actions.push("sts:SetSourceIdentity");
    }
    actions
}

/// The principal a federated session request stands for in the trust policy
/// (`Principal.Federated`): the identity provider of the role's account.
pub(crate) fn federated_principal(account: &Account, provider_arn: &str) -> Principal {
    Principal {
        kind: PrincipalKind::WebIdentity,
        account: account.id().to_owned(),
        arn: provider_arn.to_owned(),
        unique_id: None,
        role_arn: None,
        source_user_arn: None,
    }
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
    /// keys) or the account root (its console-assigned device); returns when MFA was verified. Anything else is `AccessDenied`.
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
            // The root's device, assigned in the console.
            None if matches!(caller.kind, CallerKind::Root) => self
                .identity
                .root_mfa_device(&caller.account)
                .await?
                .is_some_and(|device| device.serial.eq_ignore_ascii_case(serial)),
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

    /// The role a session request names, by its account and name; a missing role, or one whose
    /// ARN is not `role_arn` (the same name under another path), is `denied()`, since AWS does not
    /// tell a missing role from a refusal.
    pub(crate) async fn session_role(
        &self,
        role_account: &Account,
        role_name: &str,
        role_arn: &str,
        denied: impl Fn() -> Error,
    ) -> Result<RoleRecord> {
        match self.identity.get_role(role_account, role_name).await {
            Ok(role) if role.principal.arn == role_arn => Ok(role),
            Ok(_) => Err(denied()),
            Err(error) if error.code() == ErrorCode::NoSuchEntity => Err(denied()),
            Err(error) => Err(error),
        }
    }

    /// The one path every role session takes, `AssumeRole`'s and each federation's: the role's
    /// trust policy decides `actions` for `trust`, then the session's claims are sealed and
    /// recorded ([`Self::issue`]).
    pub(crate) async fn issue_role_session(
        &self,
        trust: Trust<'_>,
        actions: &[&str],
        session: RoleSession,
        now: u64,
    ) -> Result<IssuedRoleSession> {
        self.check_trust(trust, actions).await?;
        let (role, role_account) = (trust.role, trust.role_account);
        let (access_key_id, secret_access_key, session_id) = self.fresh_credentials();
        let arn = Arn::assumed_role(role_account.id(), &role.principal.name, &session.name).to_string();
        let assumed_role_id = format!("{}:{}", role.principal.id, session.name);
        let claims = SessionClaims {
            account: role_account.id().to_owned(),
            kind: SessionKind::AssumedRole,
            principal_arn: arn.clone(),
            principal_id: assumed_role_id.clone(),
            role_arn: Some(role.principal.arn.clone()),
            source_user_arn: session.source_user_arn,
            source_user_id: None,
            session_name: Some(session.name),
            session_id,
            access_key_id,
            secret_access_key,
            issued_at: now,
            issued_subsec_micros: 0,
            expires_at: now + session.lifetime,
            source_identity: session.source_identity,
            tags: session.tags,
            transitive_tag_keys: session.transitive_tag_keys,
            session_policy: session.session_policy,
            mfa_authenticated_at: session.mfa_authenticated_at,
            chain_depth: session.chain_depth,
        };
        let credentials = self.issue(claims).await?;
        Ok(IssuedRoleSession { credentials, assumed_role_id, arn })
    }

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
        let (role_account, role_name) = parse_role_arn(&input.role_arn, denied)?;
        let role = self.session_role(&role_account, &role_name, &input.role_arn, denied).await?;
        let chained = inherited.as_ref().is_some_and(|p| p.kind == SessionKind::AssumedRole);
        if chained && requested > CHAINED_MAX_DURATION {
            return Err(Error::new(
                ErrorCode::ValidationError,
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            ));
        }
        check_max_session_duration(requested, &role)?;
        let session_policies = self.session_policies(&role_account, input.policy, input.policy_arns).await?;
        let packed = packed_size(&session_policies, &tags)?;
        let mfa_at = match self.verify_mfa(caller, input.serial_number.as_deref(), input.token_code.as_deref()).await? {
            Some(at) => Some(at),
            None => inherited.as_ref().and_then(|p| p.mfa_authenticated_at),
        };

        let layers = self.caller_layers(caller).await?;
        let mut ctx = self.base_context(caller, &layers, now);
        insert_session_keys(
            &mut ctx,
            &role,
            &input.role_session_name,
            &tags,
            &input.transitive_tag_keys,
            input.source_identity.as_deref(),
        );
        if let Some(id) = &input.external_id {
            ctx.insert("sts:ExternalId", id.clone());
        }
        if let Some(at) = mfa_at {
            ctx.insert("aws:MultiFactorAuthPresent", "true");
            ctx.insert("aws:MultiFactorAuthAge", now.saturating_sub(at).to_string());
        } else {
            ctx.insert("aws:MultiFactorAuthPresent", "false");
        }
        let actions = session_actions(ACTION, !tags.is_empty(), source_identity.1);
        let principal = caller.principal();
        let trust = Trust {
            principal: &principal,
            role: &role,
            role_account: &role_account,
            context: &ctx,
            layers: Some(&layers),
        };
        let source_user_arn = match &caller.kind {
            CallerKind::User(user) => Some(user.principal.arn.clone()),
            CallerKind::Session(claims) => claims.source_user_arn.clone(),
            CallerKind::Root => None,
        };
        let session = RoleSession {
            name: input.role_session_name,
            lifetime: requested,
            source_user_arn,
            source_identity: source_identity.0.clone(),
            tags: all_tags,
            transitive_tag_keys: transitive,
            session_policy: session_policies.policy,
            mfa_authenticated_at: mfa_at,
            chain_depth: if chained { inherited.map_or(0, |p| p.chain_depth.saturating_add(1)) } else { 0 },
        };
        let issued = self.issue_role_session(trust, &actions, session, now).await?;
        Ok(AssumedRole {
            credentials: issued.credentials,
            assumed_role_id: issued.assumed_role_id,
            arn: issued.arn,
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
