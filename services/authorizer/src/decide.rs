//! The one place a decision about a caller is assembled: [`Authorizer::decide`] (the HTTP Query
//! endpoint, the gRPC gate and the authorizer API turn their requests into [`Check`]s and call
//! it), [`Authorizer::authorize`] (the first denial as AWS's `AccessDenied`), and
//! [`Authorizer::trust`] (a role's trust policy as the resource policy of AssumeRole and
//! AssumeRoleWithWebIdentity). Nothing else in the services calls the engine's
//! [`tessera_policy::authorize`] or words an `AccessDenied` for a policy decision.
//!
//! ```text
//! caller, checks (action, resource, request keys)
//!   --session_may_call--> restrictions on temporary credentials (an error)
//!   --root?--> allowed in its account, no evaluation
//!   --caller_layers (LayerCache)--> identity, boundary, session policies + principal tags
//!   --base_context + settable extra keys + the check's keys--> tessera_policy::authorize
//!   (ChangePassword on oneself: AllowUsersToChangePassword stands in for the identity layer)
//!   --> Vec<Judged>  --authorize--> Ok | AccessDenied ("User: … is not authorized to perform: …")
//! role, trust document (LayerCache, compiled once per role and document) + caller layers
//!   --trust--> Ok | AccessDenied
//! ```

use std::sync::Arc;

use tessera_arn::{Arn, IamEntity};
use tessera_credentials::SessionKind;
use tessera_identity::{Account, Error, Identity, Result};
use tessera_policy::{
    Clause, CompiledPolicy, Context, Decision, Effect, Layer, OneOrMany, Outcome, Policies as Layers, Policy,
    PolicySet, Principal, PrincipalKind, Reason, Request, Span, Statement, Trace, Version,
};
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::{EntityKind, RoleRecord};

use crate::LayerCache;
use crate::caller::{CallerKind, CallerLayers, CallerPrincipal, base_context};

/// One (action, resource) a request needs allowed, with the request's own condition keys for it.
#[derive(Debug, Clone, Default)]
pub struct Check {
    /// `iam:AttachUserPolicy`.
    pub action: String,
    /// The resource ARN, or `*`.
    pub resource: String,
    /// The keys the request itself brings for this check (`iam:PolicyARN`, `aws:RequestTag/*`,
    /// the target's `aws:ResourceTag/*`, ...), set over the caller's.
    pub keys: Context,
    /// ChangePassword by the user on itself: the account's `AllowUsersToChangePassword` grants
    /// it without an identity policy, but an explicit deny, the permissions boundary and
    /// session policies still apply.
    pub change_own_password: bool,
}

/// One decided check.
#[derive(Debug)]
pub struct Judged {
    pub action: String,
    pub resource: String,
    /// `None`: the account root, allowed in its own account without evaluation.
    pub decision: Option<Decision>,
}

impl Judged {
    /// Whether the check is allowed.
    pub fn allowed(&self) -> bool {
        self.decision.as_ref().is_none_or(Decision::is_allowed)
    }
}

/// A role's trust evaluation (AssumeRole, AssumeRoleWithWebIdentity).
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// Who asks, as the engine sees it: a caller's [`CallerPrincipal::principal`], or the OIDC
    /// provider of a web identity.
    pub principal: &'a Principal,
    pub role: &'a RoleRecord,
    pub role_account: &'a Account,
    /// The full request context (the caller's, the role's tags, the `sts:` keys).
    pub context: &'a Context,
    /// The caller's own layers, which §3.4 evaluates with the trust policy; `None` for a web
    /// identity, which has none.
    pub layers: Option<&'a CallerLayers>,
}

/// The policy that stands for the account root's permissions (all of them) where a layer is
/// needed: a federated user made by the root is this capped by its session policies.
fn everything() -> PolicySet {
    let statement = statement(OneOrMany::One("*".to_owned()), OneOrMany::One("*".to_owned()));
    PolicySet::new(vec![CompiledPolicy::compile("root", &policy(statement))])
}

/// What `AllowUsersToChangePassword` grants a user on itself, built without parsing JSON.
fn change_password_grant(resource: &str) -> PolicySet {
    let statement = statement(OneOrMany::One("iam:ChangePassword".to_owned()), OneOrMany::One(resource.to_owned()));
    PolicySet::new(vec![CompiledPolicy::compile("AllowUsersToChangePassword", &policy(statement))])
}

fn statement(actions: OneOrMany<String>, resources: OneOrMany<String>) -> Statement {
    Statement {
        sid: None,
        effect: Effect::Allow,
        principal: None,
        action: Clause { negated: false, values: actions },
        resource: Some(Clause { negated: false, values: resources }),
        condition: Vec::new(),
        span: Span::default(),
    }
}

fn policy(statement: Statement) -> Policy {
    Policy { version: Some(Version::V2012_10_17), id: None, statements: OneOrMany::One(statement) }
}

fn internal(what: &str) -> Error {
    tracing::error!(what, "authorizer internal failure");
    Error::new(ErrorCode::ServiceFailure, "The request processing has failed because of an unknown error.")
}

/// Context keys a calling service may not set through the authorizer API: Tessera computes them
/// from the credential (and `aws:SourceIp` comes from its own field).
const COMPUTED_KEYS: &[&str] = &[
    "aws:currenttime",
    "aws:epochtime",
    "aws:federatedprovider",
    "aws:multifactorauthage",
    "aws:multifactorauthpresent",
    "aws:sourceidentity",
    "aws:sourceip",
    "aws:tokenissuetime",
    "aws:userid",
    "aws:username",
];

/// Whether a calling service may supply `key` (everything but the caller's own keys).
pub fn settable_key(key: &str) -> bool {
    let folded = key.to_ascii_lowercase();
    !folded.starts_with("aws:principal") && !COMPUTED_KEYS.contains(&folded.as_str())
}

/// What temporary credentials may call (reference §4.1): a federated user's no IAM action
/// (`AccessDenied`) and of STS only GetCallerIdentity; a GetSessionToken session's IAM only when
/// MFA was used (else `InvalidClientTokenId`, as AWS answers), and of STS only AssumeRole and
/// GetCallerIdentity. The same for the account root's sessions.
pub fn session_may_call(caller: &CallerPrincipal, action: &str) -> Result<()> {
    let CallerKind::Session(claims) = &caller.kind else { return Ok(()) };
    let (service, name) = action.split_once(':').unwrap_or(("", action));
    if service == "iam" {
        return match claims.kind {
            SessionKind::FederatedUser => Err(Error::new(
                ErrorCode::AccessDenied,
                format!("Cannot call {name} with federated user credentials: they never reach IAM"),
            )),
            // AWS's answer (reference §4.1).
            SessionKind::SessionToken if claims.mfa_authenticated_at.is_none() => Err(Error::new(
                ErrorCode::InvalidClientTokenId,
                "The security token included in the request is invalid",
            )),
            _ => Ok(()),
        };
    }
    if service != "sts" {
        // Other services' actions (the authorizer API) are limited by policy alone.
        return Ok(());
    }
    let allowed = match claims.kind {
        SessionKind::FederatedUser => name == "GetCallerIdentity",
        SessionKind::SessionToken => matches!(name, "AssumeRole" | "GetCallerIdentity"),
        SessionKind::AssumedRole => true,
    };
    match name {
        _ if allowed => Ok(()),
        "GetSessionToken" | "GetFederationToken" => {
            Err(Error::new(ErrorCode::AccessDenied, format!("Cannot call {name} with session credentials")))
        }
        _ => Err(Error::new(ErrorCode::AccessDenied, format!("Cannot call {name} with these session credentials"))),
    }
}

/// The `AccessDenied` of a check that was not allowed, worded as AWS words it: why, when the
/// decision says.
pub fn denial(caller: &CallerPrincipal, judged: &Judged) -> Error {
    let action = &judged.action;
    let why = match judged.decision.as_ref().map(|d| (d.outcome, d.layer, d.reason)) {
        Some((Outcome::ExplicitDeny, Some(Layer::Boundary), _)) => {
            "with an explicit deny in a permissions boundary".to_owned()
        }
        Some((Outcome::ExplicitDeny, Some(Layer::Session), _)) => {
            "with an explicit deny in a session policy".to_owned()
        }
        Some((Outcome::ExplicitDeny, ..)) => "with an explicit deny in an identity-based policy".to_owned(),
        Some((_, _, Reason::NoBoundaryAllow)) => format!("because no permissions boundary allows the {action} action"),
        Some((_, _, Reason::NoSessionAllow | Reason::NoSessionPolicy)) => {
            format!("because no session policy allows the {action} action")
        }
        _ => format!("because no identity-based policy allows the {action} action"),
    };
    denied(&caller.arn, action, &judged.resource, Some(&why))
}

/// The `AccessDenied` of a role that may not be assumed (its trust policy, or its absence, which
/// AWS does not tell apart): `User: <caller> is not authorized to perform: <action> on
/// resource: <role>`.
pub fn not_authorized(caller_arn: &str, action: &str, resource: &str) -> Error {
    denied(caller_arn, action, resource, None)
}

/// The `AccessDenied` of what only the account root may do, whatever the caller's policies say
/// (the root's own MFA device): the one wording, with the reason.
pub fn root_only(caller_arn: &str, action: &str, resource: &str, what: &str) -> Error {
    denied(caller_arn, action, resource, Some(&format!("because only the root user can {what}")))
}

/// AssumeRoleWithWebIdentity's `AccessDenied` (a role that does not trust the web identity, or
/// that does not exist): AWS names neither the caller nor the role.
pub fn web_identity_not_authorized(action: &str) -> Error {
    Error::new(ErrorCode::AccessDenied, format!("Not authorized to perform {action}"))
}

/// The one wording of a policy decision's `AccessDenied`.
fn denied(caller_arn: &str, action: &str, resource: &str, why: Option<&str>) -> Error {
    let message = match why {
        Some(why) => format!("User: {caller_arn} is not authorized to perform: {action} on resource: {resource} {why}"),
        None => format!("User: {caller_arn} is not authorized to perform: {action} on resource: {resource}"),
    };
    Error::new(ErrorCode::AccessDenied, message)
}

/// The trust policy as AWS holds it: a user or role it names by ARN that has since been deleted
/// and re-created (another unique id) is named by the old unique id instead, so the new entity of
/// the same name is not trusted (reference §1.1). The rewriting depends on the caller, so the
/// compiled policy is cached per role and rewritten document.
pub fn trust_as_stored<'a>(role: &'a RoleRecord, principal: &Principal) -> std::borrow::Cow<'a, str> {
    let caller_arn = principal.role_arn.as_deref().unwrap_or(&principal.arn);
    let mut document = std::borrow::Cow::Borrowed(role.trust_policy.as_str());
    for (arn, recorded_id) in &role.trust_principal_ids {
        if arn == caller_arn && principal.unique_id.as_deref() != Some(recorded_id.as_str()) {
            document = std::borrow::Cow::Owned(document.replace(&format!("\"{arn}\""), &format!("\"{recorded_id}\"")));
        }
    }
    document
}

/// The decision path over one store: a caller's layers from the [`LayerCache`], the request
/// context, and the engine.
#[derive(Debug)]
pub struct Authorizer<S> {
    identity: Identity<S>,
    cache: Arc<LayerCache<S>>,
    /// The account root's permissions as a layer, compiled once.
    everything: Arc<PolicySet>,
}

impl<S: Store> Authorizer<S> {
    /// The authorizer over `identity`'s store, reading principals through `cache`.
    pub fn new(identity: Identity<S>, cache: Arc<LayerCache<S>>) -> Self {
        Self { identity, cache, everything: Arc::new(everything()) }
    }

    /// The compiled-policy cache.
    pub fn cache(&self) -> &Arc<LayerCache<S>> {
        &self.cache
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
            CallerKind::User(user) => (user.principal.arn.as_str(), Some(user.principal.id.as_str())),
            CallerKind::Session(claims) => match claims.kind {
                SessionKind::AssumedRole => (
                    claims.role_arn.as_deref().ok_or_else(|| internal("role session"))?,
                    claims.principal_id.split(':').next(),
                ),
                SessionKind::SessionToken => (claims.principal_arn.as_str(), Some(claims.principal_id.as_str())),
                SessionKind::FederatedUser => (
                    claims.source_user_arn.as_deref().ok_or_else(|| internal("federated user's source"))?,
                    claims.source_user_id.as_deref(),
                ),
            },
        };
        let session = match caller.session().and_then(|claims| claims.session_policy.as_ref()) {
            Some(policy) => Some(self.cache.session(&caller.account, policy).await?),
            None => None,
        };
        // A user calling with its own key names itself: no ARN to read (every request of one).
        let (account, kind, name) = match &caller.kind {
            CallerKind::User(user) => (caller.account.clone(), EntityKind::User, user.principal.name.clone()),
            _ => {
                let parsed = Arn::parse(entity_arn).map_err(|_| internal("session principal"))?;
                let (kind, name) = match parsed.entity() {
                    Ok(IamEntity::Role { name, .. }) => (EntityKind::Role, name),
                    Ok(IamEntity::User { name, .. }) => (EntityKind::User, name),
                    // The root's own sessions are the root; a federated user it made has the
                    // root's permissions (all of them), capped by the session policies.
                    Ok(IamEntity::Root) if session.is_some() => {
                        return Ok(CallerLayers {
                            identity: Some(Arc::clone(&self.everything)),
                            session,
                            principal_tags: session_tags,
                            ..CallerLayers::default()
                        });
                    }
                    Ok(IamEntity::Root) => return Ok(CallerLayers::default()),
                    _ => return Err(internal("session principal kind")),
                };
                (Account::new(&parsed.account)?, kind, name)
            }
        };
        let gone = || CallerLayers {
            identity: Some(Arc::new(PolicySet::new(Vec::new()))),
            boundary: None,
            session: session.clone(),
            principal_tags: session_tags.clone(),
            orphaned: true,
        };
        let found = match self.cache.principal(&account, kind, &name).await? {
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

    /// The request context every decision about `caller` sees ([`base_context`]).
    pub fn base_context(&self, caller: &CallerPrincipal, layers: &CallerLayers, now: u64) -> Context {
        base_context(caller, layers, now)
    }

    /// Whether decisions about `caller` evaluate policies, and so read the checks' keys: not for
    /// the account root, allowed in its own account (a transport need not gather keys for it).
    pub fn evaluates(&self, caller: &CallerPrincipal) -> bool {
        !caller.is_root()
    }

    /// Decides every check for `caller` at `now` (unix seconds): the restrictions on temporary
    /// credentials (an error), then the account root (allowed in its account), then the
    /// caller's identity policies, permissions boundary and session policies over its context
    /// ([`base_context`]), the `extra` keys of a calling service (only those [`settable_key`]
    /// allows) and the check's own keys. With `first_denial`, stops at the first check that is
    /// not allowed.
    pub async fn decide(
        &self,
        caller: &CallerPrincipal,
        checks: &[Check],
        now: u64,
        extra: &[(String, Vec<String>)],
        trace: Trace,
        first_denial: bool,
    ) -> Result<Vec<Judged>> {
        self.decide_reusing(caller, &mut None, checks, now, extra, trace, first_denial).await
    }

    /// [`Authorizer::decide`], reading the caller's layers into `layers` unless they are there
    /// already: a transport that decides several times, or also reports the caller's tags (the
    /// authorizer API), reads them once per request. Left `None` when no decision needed them.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide_reusing(
        &self,
        caller: &CallerPrincipal,
        layers: &mut Option<CallerLayers>,
        checks: &[Check],
        now: u64,
        extra: &[(String, Vec<String>)],
        trace: Trace,
        first_denial: bool,
    ) -> Result<Vec<Judged>> {
        for check in checks {
            session_may_call(caller, &check.action)?;
        }
        let judge = |check: &Check, decision| Judged {
            action: check.action.clone(),
            resource: check.resource.clone(),
            decision,
        };
        if !self.evaluates(caller) {
            return Ok(checks.iter().map(|check| judge(check, None)).collect());
        }
        if layers.is_none() {
            *layers = Some(self.caller_layers(caller).await?);
        }
        let Some(layers) = layers.as_ref() else { return Err(internal("caller layers")) };
        let mut base = base_context(caller, layers, now);
        for (key, values) in extra.iter().filter(|(key, _)| settable_key(key)) {
            base.insert_list(key, values.iter().cloned());
        }
        let principal = caller.principal();
        let mut judged = Vec::with_capacity(checks.len());
        let mut base = Some(base);
        for (index, check) in checks.iter().enumerate() {
            // The last check takes the base context itself: one check (the usual case) clones none.
            let mut context = match index + 1 == checks.len() {
                true => base.take().unwrap_or_default(),
                false => base.clone().unwrap_or_default(),
            };
            context.overlay(&check.keys);
            let request = Request::new(&principal, &check.action, &check.resource, &context);
            let mut decision = tessera_policy::authorize(&request, &layers.policies(), trace);
            if check.change_own_password
                && decision.reason == Reason::NoIdentityAllow
                && Box::pin(self.identity.get_account_password_policy(&caller.account))
                    .await
                    .is_ok_and(|p| p.allow_users_to_change_password)
            {
                // The grant stands in for the identity layer: an identity deny was already decided
                // above, and the boundary and session policies are evaluated again with it.
                let grant = change_password_grant(&check.resource);
                let policies = Layers { identity: Some(&grant), ..layers.policies() };
                decision = tessera_policy::authorize(&request, &policies, trace);
            }
            let allowed = decision.is_allowed();
            judged.push(judge(check, Some(decision)));
            if first_denial && !allowed {
                break;
            }
        }
        Ok(judged)
    }

    /// Authorizes every check for `caller` ([`Authorizer::decide`]); the first that is not
    /// allowed is `AccessDenied` with AWS's message ([`denial`]).
    pub async fn authorize(&self, caller: &CallerPrincipal, checks: &[Check], now: u64) -> Result<()> {
        let judged = self.decide(caller, checks, now, &[], Trace::Off, true).await?;
        match judged.iter().find(|j| !j.allowed()) {
            Some(denied) => Err(denial(caller, denied)),
            None => Ok(()),
        }
    }

    /// Evaluates a role's trust policy (compiled once per role and document, [`trust_as_stored`])
    /// as the resource policy, with the caller's own layers where §3.4 needs them, for each
    /// action; the first that is not allowed is `AccessDenied` ([`not_authorized`], or
    /// [`web_identity_not_authorized`] for a web identity). A session whose entity is gone may
    /// assume nothing.
    pub async fn trust(&self, trust: Trust<'_>, actions: &[&str]) -> Result<()> {
        let refuse = |action: &str| match trust.principal.kind {
            PrincipalKind::WebIdentity => web_identity_not_authorized(action),
            _ => not_authorized(&trust.principal.arn, action, &trust.role.principal.arn),
        };
        if trust.layers.is_some_and(|layers| layers.orphaned) {
            return Err(refuse(actions.first().copied().unwrap_or("sts:AssumeRole")));
        }
        let document = trust_as_stored(trust.role, trust.principal);
        let policy = self.cache.trust(trust.role_account, &trust.role.principal.id, &document).await?;
        let layers = trust.layers.map(CallerLayers::policies).unwrap_or_default();
        let policies = Layers { resource: Some(&policy), resource_policy_required: true, ..layers };
        for action in actions {
            let request = Request::new(trust.principal, action, &trust.role.principal.arn, trust.context)
                .with_resource_account(trust.role_account.id());
            if tessera_policy::authorize(&request, &policies, Trace::Off).outcome != Outcome::Allowed {
                return Err(refuse(action));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_policies_allow_what_their_json_allowed() {
        let alice = Principal::from_arn("arn:aws:iam::111111111111:user/alice").unwrap();
        let context = Context::new();
        let allows = |set: &PolicySet, action: &str, resource: &str| {
            let request = Request::new(&alice, action, resource, &context);
            tessera_policy::authorize(&request, &Layers { identity: Some(set), ..Layers::default() }, Trace::Off)
                .is_allowed()
        };
        let own = "arn:aws:iam::111111111111:user/alice";
        let grant = change_password_grant(own);
        assert!(allows(&grant, "iam:ChangePassword", own));
        assert!(!allows(&grant, "iam:ChangePassword", "arn:aws:iam::111111111111:user/bob"));
        assert!(!allows(&grant, "iam:CreateUser", own));
        let all = everything();
        assert!(allows(&all, "iam:CreateUser", own) && allows(&all, "s3:GetObject", "arn:aws:s3:::b/k"));
    }

    #[test]
    fn callers_keys_cannot_be_set_by_a_service() {
        assert!(settable_key("s3:prefix") && settable_key("aws:ResourceTag/team"));
        for key in ["aws:PrincipalArn", "aws:principaltag/team", "AWS:SourceIp", "aws:userid"] {
            assert!(!settable_key(key), "{key}");
        }
    }
}
