//! `AssumeRole` (reference §3.4, §4.2, §4.7) and what the token-issuing calls share: duration
//! rules, session policies and their packed size, session tags, MFA, and issuing the credentials.

use std::sync::Arc;

use tessera_arn::{
    Arn, IamEntity, ValidationError, Violation, validate_external_id, validate_mfa_code, validate_mfa_serial,
    validate_role_session_name, validate_source_identity, validate_tag_key, validate_tag_value,
};
use tessera_credentials::{Secret, SessionClaims, SessionKind, SessionPolicy, issue_credentials, new_session_id};
use tessera_identity::{Account, Error, Result};
use tessera_policy::PrincipalKind;
use tessera_policy::{
    CompiledPolicy, Context, Outcome, Policies as Layers, PolicyKind, PolicySet, Request, Trace, authorize,
    parse_policy,
};
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::{EntityKind, RoleRecord, Tag};

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

pub(crate) fn access_denied(caller: &str, action: &str, resource: &str) -> Error {
    Error::new(
        ErrorCode::AccessDenied,
        format!("User: {caller} is not authorized to perform: {action} on resource: {resource}"),
    )
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

/// The policy that stands for the account root's permissions (all of them) where a layer is
/// needed: a federated user made by the root is this capped by its session policies.
const ROOT_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// A caller's compiled identity policies, permissions boundary and session policies (none for
/// the account root), and its principal tags: what [`Sts::caller_layers`] reads from the store.
#[derive(Debug, Default, Clone)]
pub struct CallerLayers {
    pub identity: Option<Arc<PolicySet>>,
    pub boundary: Option<Arc<PolicySet>>,
    pub session: Option<Arc<PolicySet>>,
    /// `aws:PrincipalTag/*`, in order.
    pub principal_tags: Vec<(String, String)>,
    /// The session's entity is gone (deleted, or re-created under the same name with another
    /// unique id): the session may do nothing, not even what a trust policy naming its old
    /// role or user would grant.
    pub orphaned: bool,
}

impl CallerLayers {
    /// The layers as the engine takes them; `resource` is added by the caller where one applies.
    pub fn policies(&self) -> Layers<'_> {
        Layers {
            identity: self.identity.as_deref(),
            boundary: self.boundary.as_deref(),
            session: self.session.as_deref(),
            ..Layers::default()
        }
    }
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

fn internal(what: &str) -> Error {
    tracing::error!(what, "sts internal failure");
    Error::new(ErrorCode::ServiceFailure, "The request processing has failed because of an unknown error.")
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
            parse_policy(text, PolicyKind::Session)
                .map_err(|error| Error::new(ErrorCode::MalformedPolicyDocument, error.to_string()))?;
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

    /// What decisions about `caller` need beyond its credentials: its identity policies,
    /// permissions boundary and session policies, compiled, and its principal tags.
    ///
    /// A session is bound to the entity it was issued for: a role session to its role, a
    /// GetSessionToken session to its user, a federated user to the user that made it, each by
    /// unique id. When that entity is gone, or replaced by a new one of the same name (another
    /// unique id), the session has no identity permissions left: every request it makes is an
    /// implicit deny, as on AWS.
    pub async fn caller_layers(&self, caller: &CallerPrincipal) -> Result<CallerLayers> {
        let session_tags = caller.session().map(|claims| claims.tags.clone()).unwrap_or_default();
        let (entity_arn, bound_id) = match &caller.kind {
            CallerKind::Root => return Ok(CallerLayers::default()),
            CallerKind::User(user) => {
                (std::borrow::Cow::Borrowed(user.principal.arn.as_str()), Some(user.principal.id.as_str()))
            }
            CallerKind::Session(claims) => match claims.kind {
                SessionKind::AssumedRole => (
                    std::borrow::Cow::Borrowed(claims.role_arn.as_deref().ok_or_else(|| internal("role session"))?),
                    claims.principal_id.split(':').next(),
                ),
                SessionKind::SessionToken => {
                    (std::borrow::Cow::Borrowed(claims.principal_arn.as_str()), Some(claims.principal_id.as_str()))
                }
                SessionKind::FederatedUser => (
                    std::borrow::Cow::Borrowed(
                        claims.source_user_arn.as_deref().ok_or_else(|| internal("federated user's source"))?,
                    ),
                    claims.source_user_id.as_deref(),
                ),
            },
        };
        let session = match caller.session().and_then(|claims| claims.session_policy.as_ref()) {
            Some(policy) => Some(self.layers.session(&caller.account, policy).await?),
            None => None,
        };
        let parsed = Arn::parse(&entity_arn).map_err(|_| internal("session principal"))?;
        let (kind, name) = match parsed.entity() {
            Ok(IamEntity::Role { name, .. }) => (EntityKind::Role, name),
            Ok(IamEntity::User { name, .. }) => (EntityKind::User, name),
            // The root's own sessions are the root; a federated user it made has the root's
            // permissions (all of them), capped by the session policies.
            Ok(IamEntity::Root) if session.is_some() => {
                let everything = CompiledPolicy::parse("root", ROOT_POLICY, PolicyKind::Identity)
                    .map_err(|_| internal("root policy"))?;
                return Ok(CallerLayers {
                    identity: Some(Arc::new(PolicySet::new(vec![everything]))),
                    session,
                    principal_tags: session_tags,
                    ..CallerLayers::default()
                });
            }
            Ok(IamEntity::Root) => return Ok(CallerLayers::default()),
            _ => return Err(internal("session principal kind")),
        };
        let gone = || CallerLayers {
            identity: Some(Arc::new(PolicySet::new(Vec::new()))),
            boundary: None,
            session: session.clone(),
            principal_tags: session_tags.clone(),
            orphaned: true,
        };
        let account = Account::new(&parsed.account)?;
        let found = match self.layers.principal(&account, kind, &name).await? {
            Some(found) if bound_id == Some(found.unique_id.as_str()) => found,
            // Gone, or another entity under the same name: the session's own is gone.
            _ => return Ok(gone()),
        };
        // A federated user's principal tags are its session tags alone; everyone else's are the
        // entity's tags, overridden by session tags of the same key (compared without case).
        let mut principal_tags: Vec<(String, String)> =
            if caller.session().is_some_and(|claims| claims.kind == SessionKind::FederatedUser) {
                Vec::new()
            } else {
                found.tags.iter().map(|tag| (tag.key.clone(), tag.value.clone())).collect()
            };
        principal_tags.retain(|(key, _)| !session_tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)));
        principal_tags.extend(session_tags);
        Ok(CallerLayers {
            identity: Some(Arc::clone(&found.identity)),
            boundary: found.boundary.clone(),
            session,
            principal_tags,
            orphaned: false,
        })
    }

    /// The request context every decision about `caller` sees (principal keys and tags, time,
    /// MFA). `layers` are the caller's ([`Sts::caller_layers`]); they hold its principal tags.
    pub fn base_context(&self, caller: &CallerPrincipal, layers: &CallerLayers, now: u64) -> Context {
        let mut ctx = Context::new();
        let principal = caller.principal();
        ctx.insert("aws:PrincipalArn", principal.role_arn.clone().unwrap_or_else(|| caller.arn.clone()));
        ctx.insert("aws:PrincipalAccount", caller.account.id());
        ctx.insert("aws:userid", caller.user_id.clone());
        ctx.insert("aws:CurrentTime", format_time(now));
        ctx.insert("aws:EpochTime", now.to_string());
        // Both listeners speak plain HTTP/h2c; a TLS terminator in front is not visible to them.
        ctx.insert("aws:SecureTransport", "false");
        ctx.insert("aws:ViaAWSService", "false");
        if let Some(ip) = &caller.source_ip {
            ctx.insert("aws:SourceIp", ip.clone());
        }
        match &caller.kind {
            CallerKind::Root => ctx.insert("aws:PrincipalType", "Account"),
            CallerKind::User(user) => {
                ctx.insert("aws:PrincipalType", "User");
                ctx.insert("aws:username", user.principal.name.clone());
            }
            CallerKind::Session(claims) => {
                let kind = match claims.kind {
                    SessionKind::AssumedRole => "AssumedRole",
                    SessionKind::FederatedUser => "FederatedUser",
                    SessionKind::SessionToken if principal.kind == PrincipalKind::Root => "Account",
                    SessionKind::SessionToken => "User",
                };
                ctx.insert("aws:PrincipalType", kind);
                if claims.kind == SessionKind::SessionToken
                    && principal.kind != PrincipalKind::Root
                    && let Some(name) = claims.principal_arn.rsplit('/').next()
                {
                    ctx.insert("aws:username", name.to_owned());
                }
                if let Some(identity) = &claims.source_identity {
                    ctx.insert("aws:SourceIdentity", identity.clone());
                }
                // Temporary credentials always say whether MFA was used (reference §2.5).
                match claims.mfa_authenticated_at {
                    Some(at) => {
                        ctx.insert("aws:MultiFactorAuthPresent", "true");
                        ctx.insert("aws:MultiFactorAuthAge", now.saturating_sub(at).to_string());
                    }
                    None => ctx.insert("aws:MultiFactorAuthPresent", "false"),
                }
                // To the millisecond, as the AWS console writes the instant of `AWSRevokeOlderSessions`.
                let whole = format_time(claims.issued_at);
                let millis = claims.issued_subsec_micros / 1000;
                ctx.insert("aws:TokenIssueTime", format!("{}.{millis:03}Z", whole.trim_end_matches('Z')));
            }
        }
        for (key, value) in &layers.principal_tags {
            ctx.insert(&format!("aws:PrincipalTag/{key}"), value.clone());
        }
        ctx
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
    pub(crate) async fn issue(&self, claims: SessionClaims) -> Result<IssuedCredentials> {
        let claims = self.stamp_issue_time(claims);
        let token = self.keys.seal(&claims, &self.env)?;
        self.record_session(&claims).await?;
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

    /// Evaluates a role's trust policy, with the caller's own policies where §3.4 needs them, for
    /// each action; the first denial is `AccessDenied`.
    // Every argument is a distinct part of the question (who, which role, where, why); bundling
    // them would only move the list into a struct built at both call sites.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn check_trust(
        &self,
        caller_arn: &str,
        principal: &tessera_policy::Principal,
        role: &RoleRecord,
        role_account: &str,
        actions: &[&str],
        ctx: &Context,
        layers: Layers<'_>,
    ) -> Result<()> {
        let document = trust_as_stored(role, principal);
        let trust = CompiledPolicy::parse("trust", &document, PolicyKind::Trust)
            .map_err(|_| internal("stored trust policy"))?;
        let trust = PolicySet::new(vec![trust]);
        let policies = Layers { resource: Some(&trust), resource_policy_required: true, ..layers };
        for action in actions {
            let request = Request::new(principal, action, &role.principal.arn, ctx).with_resource_account(role_account);
            if authorize(&request, &policies, Trace::Off).outcome != Outcome::Allowed {
                return Err(access_denied(caller_arn, action, &role.principal.arn));
            }
        }
        Ok(())
    }

    /// `AssumeRole`.
    /// `AssumeRole` by `caller`, resolved once at the edge.
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
        let denied = || access_denied(&caller.arn, ACTION, &input.role_arn);
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
        if layers.orphaned {
            return Err(access_denied(&caller.arn, ACTION, &role.principal.arn));
        }
        let principal = caller.principal();
        self.check_trust(&caller.arn, &principal, &role, role_account.id(), &actions, &ctx, layers.policies())?;

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

/// The trust policy as AWS holds it: a user or role it names by ARN that has since been deleted
/// and re-created (another unique id) is named by the old unique id instead, so the new entity of
/// the same name is not trusted (reference §1.1).
pub(crate) fn trust_as_stored<'a>(
    role: &'a RoleRecord,
    principal: &tessera_policy::Principal,
) -> std::borrow::Cow<'a, str> {
    let caller_arn = principal.role_arn.as_deref().unwrap_or(&principal.arn);
    let mut document = std::borrow::Cow::Borrowed(role.trust_policy.as_str());
    for (arn, recorded_id) in &role.trust_principal_ids {
        if arn == caller_arn && principal.unique_id.as_deref() != Some(recorded_id.as_str()) {
            document = std::borrow::Cow::Owned(document.replace(&format!("\"{arn}\""), &format!("\"{recorded_id}\"")));
        }
    }
    document
}

/// The target's tags as `aws:ResourceTag/*` and `iam:ResourceTag/*` (IAM resources answer to both).
pub fn insert_resource_tags(ctx: &mut Context, tags: &[Tag]) {
    for tag in tags {
        ctx.insert(&format!("aws:ResourceTag/{}", tag.key), tag.value.clone());
        ctx.insert(&format!("iam:ResourceTag/{}", tag.key), tag.value.clone());
    }
}

/// ISO 8601 UTC (`2026-11-23T10:00:00Z`) from unix seconds, for `aws:CurrentTime`.
pub(crate) fn format_time(secs: u64) -> String {
    tessera_awsapi::iso8601(i64::try_from(secs).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_iso_8601() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_795_428_000), "2026-11-23T10:00:00Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
    }

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
