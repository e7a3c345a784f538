//! The decision procedure of reference §3: explicit deny wins; RCPs and SCPs must allow at every
//! level; the root of the resource's account is allowed; resource-policy grants by principal kind;
//! identity policies; permissions boundaries; session policies; cross-account evaluation.
//!
//! Every decision carries its explanation: the deciding layer and reason, the statements that
//! matched, and (when traced) the conditions that failed and the context keys that were missing.

use std::fmt;
use std::sync::Arc;

use tessera_arn::{Arn, IamEntity};

use crate::compile::{
    ArnPattern, AwsName, CompiledStatement, Condition, PolicySet, PolicyValues, PrincipalMatcher, ResourceMatcher,
    ResourcePattern, StatementRef, split_arn,
};
use crate::context::Context;
use crate::document::Effect;
use crate::json::Span;
use crate::operator::{Comparison, SetOperator};
use crate::values::{Decimal, Network, parse_binary, parse_bool, parse_date};

/// What kind of caller a request comes from (reference §1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// The account root user.
    Root,
    /// An IAM user.
    User,
    /// A role session.
    AssumedRole,
    /// A GetFederationToken session.
    FederatedUser,
    /// A service principal (`arn` holds its name, for example `ec2.amazonaws.com`).
    Service,
    /// A web-identity or SAML caller (`arn` holds the provider ARN).
    WebIdentity,
    /// An unauthenticated caller.
    Anonymous,
}

/// The caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// What kind of caller.
    pub kind: PrincipalKind,
    /// Its account id (empty for anonymous and service callers).
    pub account: String,
    /// Its ARN (user, assumed-role session, federated user, root), service name or provider ARN.
    pub arn: String,
    /// The user's or role's unique id (`AIDA...`, `AROA...`), for trust policies that store them.
    pub unique_id: Option<String>,
    /// For role sessions: the role's ARN, with its path.
    pub role_arn: Option<String>,
    /// For federated users: the IAM user that called GetFederationToken.
    pub source_user_arn: Option<String>,
}

/// Why a caller ARN could not describe a principal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{arn}` is not the ARN of an account root, user, role session or federated user")]
pub struct PrincipalArnError {
    /// The offending ARN.
    pub arn: String,
}

impl Principal {
    /// Describes the caller named by an ARN: `...:root`, `...:user/...`,
    /// `...:assumed-role/Role/Session` (role ARN derived without a path), `...:federated-user/Name`.
    pub fn from_arn(arn: &str) -> Result<Principal, PrincipalArnError> {
        let error = || PrincipalArnError { arn: arn.to_owned() };
        let parsed = Arn::parse(arn).map_err(|_| error())?;
        let entity = parsed.entity().map_err(|_| error())?;
        let mut principal = Principal {
            kind: PrincipalKind::User,
            account: parsed.account.clone(),
            arn: arn.to_owned(),
            unique_id: None,
            role_arn: None,
            source_user_arn: None,
        };
        match entity {
            IamEntity::Root => principal.kind = PrincipalKind::Root,
            IamEntity::User { .. } => principal.kind = PrincipalKind::User,
            IamEntity::AssumedRole { role_name, .. } => {
                principal.kind = PrincipalKind::AssumedRole;
                principal.role_arn = Some(format!("arn:{}:iam::{}:role/{role_name}", parsed.partition, parsed.account));
            }
            IamEntity::FederatedUser { .. } => principal.kind = PrincipalKind::FederatedUser,
            _ => return Err(error()),
        }
        Ok(principal)
    }

    /// An unauthenticated caller.
    pub fn anonymous() -> Principal {
        Principal {
            kind: PrincipalKind::Anonymous,
            account: String::new(),
            arn: String::new(),
            unique_id: None,
            role_arn: None,
            source_user_arn: None,
        }
    }

    fn is_session(&self) -> bool {
        matches!(self.kind, PrincipalKind::AssumedRole | PrincipalKind::FederatedUser)
    }

    /// Whether the caller acts as a member of an account (SCPs and account principals apply).
    fn is_account_member(&self) -> bool {
        self.has_identity() || self.kind == PrincipalKind::Root
    }

    fn has_identity(&self) -> bool {
        matches!(self.kind, PrincipalKind::User | PrincipalKind::AssumedRole | PrincipalKind::FederatedUser)
    }
}

/// One authorization question: may `principal` do `action` on `resource` in `context`?
#[derive(Clone, Debug)]
pub struct Request<'a> {
    principal: &'a Principal,
    action: &'a str,
    action_folded: String,
    service_len: usize,
    resource: &'a str,
    resource_parts: Option<[&'a str; 6]>,
    resource_account: &'a str,
    context: &'a Context,
}

impl<'a> Request<'a> {
    /// A request on a resource in the principal's own account.
    pub fn new(principal: &'a Principal, action: &'a str, resource: &'a str, context: &'a Context) -> Request<'a> {
        // INVARIANT: folded exactly as action patterns are at compile time (`fold_key`).
        let action_folded = crate::context::fold_key(action);
        let service_len = action_folded.find(':').unwrap_or(action_folded.len());
        Request {
            principal,
            action,
            action_folded,
            service_len,
            resource,
            resource_parts: split_arn(resource),
            resource_account: &principal.account,
            context,
        }
    }

    /// The account that owns the resource (and its resource policy); default: the principal's.
    pub fn with_resource_account(mut self, account: &'a str) -> Request<'a> {
        self.resource_account = account;
        self
    }

    /// The action as given.
    pub fn action(&self) -> &str {
        self.action
    }

    /// The resource as given.
    pub fn resource(&self) -> &str {
        self.resource
    }
}

/// The policy layers that apply to a request. Absent layers do not take part.
#[derive(Clone, Copy, Debug, Default)]
pub struct Policies<'a> {
    /// The principal's identity policies (a user's own and its groups', or a role's).
    pub identity: Option<&'a PolicySet>,
    /// The principal's permissions boundary.
    pub boundary: Option<&'a PolicySet>,
    /// The session policies of a role session or federated user.
    pub session: Option<&'a PolicySet>,
    /// The resource's policy (a role's trust policy for AssumeRole*).
    pub resource: Option<&'a PolicySet>,
    /// SCPs, one set per level from the organization root down to the account.
    pub service_control: &'a [PolicySet],
    /// RCPs, one set per level.
    pub resource_control: &'a [PolicySet],
    /// True for trust policies: the resource policy must allow; an identity allow alone never does.
    pub resource_policy_required: bool,
}

/// The outcome of a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Allowed.
    Allowed,
    /// Denied by a statement.
    ExplicitDeny,
    /// Denied because nothing allowed it.
    ImplicitDeny,
}

impl Outcome {
    /// The simulator's name: `allowed`, `explicitDeny`, `implicitDeny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::ExplicitDeny => "explicitDeny",
            Outcome::ImplicitDeny => "implicitDeny",
        }
    }
}

/// An evaluation layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Resource control policies at a level (0 = organization root).
    ResourceControl(u32),
    /// Service control policies at a level.
    ServiceControl(u32),
    /// The resource policy.
    Resource,
    /// Identity policies.
    Identity,
    /// The permissions boundary.
    Boundary,
    /// Session policies.
    Session,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layer::ResourceControl(level) => write!(f, "resource control policies (level {})", level + 1),
            Layer::ServiceControl(level) => write!(f, "service control policies (level {})", level + 1),
            Layer::Resource => f.write_str("resource policy"),
            Layer::Identity => f.write_str("identity policies"),
            Layer::Boundary => f.write_str("permissions boundary"),
            Layer::Session => f.write_str("session policies"),
        }
    }
}

/// Why the decision came out as it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A statement denied it.
    ExplicitDeny,
    /// The principal is the root of the resource's account.
    AccountRoot,
    /// A resource policy named the principal directly.
    ResourcePolicyGrant,
    /// Identity policies (or a capped resource-policy grant) allowed, and every cap agreed.
    Allowed,
    /// Both accounts allowed a cross-account request.
    CrossAccountAllowed,
    /// No RCP at this level allowed it.
    NoResourceControlAllow,
    /// No SCP at this level allowed it.
    NoServiceControlAllow,
    /// No resource policy statement allowed this principal (required cross-account, for trust
    /// policies, and for callers without identity policies).
    NoResourcePolicyAllow,
    /// No identity policy allowed it.
    NoIdentityAllow,
    /// The permissions boundary did not allow it.
    NoBoundaryAllow,
    /// The session policies did not allow it.
    NoSessionAllow,
    /// A federated user without session policies has no permissions.
    NoSessionPolicy,
}

/// A statement that matched the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchedStatement {
    /// The layer of its policy.
    pub layer: Layer,
    /// The policy's id.
    pub policy_id: Arc<str>,
    /// The 0-based statement index in the policy.
    pub statement: u32,
    /// The statement's Sid.
    pub sid: Option<Arc<str>>,
    /// Its effect.
    pub effect: Effect,
    /// Where it stands in the policy's source.
    pub span: Span,
}

/// A condition that was false in a statement whose action, resource and principal matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedCondition {
    /// The statement.
    pub statement: MatchedStatement,
    /// The operator as written.
    pub operator: Arc<str>,
    /// The key as written.
    pub key: Arc<str>,
    /// True when the key was absent from the context.
    pub missing: bool,
}

/// A decision and its explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Allowed, explicit deny or implicit deny.
    pub outcome: Outcome,
    /// Why.
    pub reason: Reason,
    /// The layer that decided (none when the account root was allowed).
    pub layer: Option<Layer>,
    /// Applicable `Deny` statements.
    pub denies: Vec<MatchedStatement>,
    /// Applicable `Allow` statements, in every layer.
    pub allows: Vec<MatchedStatement>,
    /// Conditions that were false (traced decisions only).
    pub failed_conditions: Vec<FailedCondition>,
    /// Context keys that applicable statements needed and the context lacked, as written in the
    /// policies, first-seen order (traced decisions only).
    pub missing_keys: Vec<Arc<str>>,
    /// Whether the permissions boundary allowed it, when there is one.
    pub allowed_by_boundary: Option<bool>,
    /// Whether every SCP level allowed it, when there are SCPs.
    pub allowed_by_organizations: Option<bool>,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allowed
    }

    /// The statements that determine the result, as the simulator lists them: the denies of an
    /// explicit deny, the allows of an allow, none for an implicit deny.
    pub fn deciding_statements(&self) -> &[MatchedStatement] {
        match self.outcome {
            Outcome::ExplicitDeny => &self.denies,
            Outcome::Allowed => &self.allows,
            Outcome::ImplicitDeny => &[],
        }
    }

    /// A sentence that explains the decision for `action` on `resource`.
    pub fn explain(&self, action: &str, resource: &str) -> String {
        let statement = |m: &MatchedStatement| match &m.sid {
            Some(sid) => format!("statement {} (Sid `{sid}`) of `{}`", m.statement, m.policy_id),
            None => format!("statement {} of `{}`", m.statement, m.policy_id),
        };
        let layer = self.layer.map(|l| l.to_string()).unwrap_or_default();
        let mut text = match self.reason {
            Reason::ExplicitDeny => match self.denies.first() {
                Some(deny) => {
                    format!("`{action}` on `{resource}` is explicitly denied by {} in the {layer}", statement(deny))
                }
                None => format!("`{action}` on `{resource}` is explicitly denied"),
            },
            Reason::AccountRoot => format!("the account root may do `{action}` on `{resource}` in its own account"),
            Reason::ResourcePolicyGrant => format!("the resource policy allows the caller `{action}` on `{resource}`"),
            Reason::Allowed | Reason::CrossAccountAllowed => match self.allows.first() {
                Some(allow) => format!("`{action}` on `{resource}` is allowed by {}", statement(allow)),
                None => format!("`{action}` on `{resource}` is allowed"),
            },
            Reason::NoResourceControlAllow | Reason::NoServiceControlAllow => {
                format!("no statement in the {layer} allows `{action}` on `{resource}`")
            }
            Reason::NoResourcePolicyAllow => {
                format!("no statement in the resource policy allows this caller `{action}` on `{resource}`")
            }
            Reason::NoIdentityAllow => format!("no identity-based policy allows `{action}` on `{resource}`"),
            Reason::NoBoundaryAllow => format!("the permissions boundary does not allow `{action}` on `{resource}`"),
            Reason::NoSessionAllow => format!("the session policies do not allow `{action}` on `{resource}`"),
            Reason::NoSessionPolicy => "a federated user without a session policy has no permissions".to_owned(),
        };
        // Only an allow that failed a condition explains an implicit deny; a deny whose
        // condition was not met did not take part.
        let failed: Vec<String> = self
            .failed_conditions
            .iter()
            .filter(|f| f.statement.effect == Effect::Allow)
            .map(|f| {
                let why = if f.missing { "missing from the request" } else { "not satisfied" };
                format!("`{}` `{}` in {} ({why})", f.operator, f.key, statement(&f.statement))
            })
            .collect();
        if self.outcome == Outcome::ImplicitDeny && !failed.is_empty() {
            text.push_str("; failed conditions: ");
            text.push_str(&failed.join(", "));
        }
        text
    }
}

/// Whether to record failed conditions and missing keys (the simulator and explanations) or to
/// stop at the first false condition (the hot path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trace {
    /// Stop early; record only matched statements.
    Off,
    /// Evaluate every condition of applicable statements and record what failed.
    On,
}

/// How strongly a resource-policy statement named the principal (reference §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Strength {
    /// Only its account: delegation to the account's identity policies.
    Account,
    /// Its role (for a session) or the user behind a federated session: capped by boundary and
    /// session policies.
    Capped,
    /// The principal itself (user, session, federated user, `*`, service, provider).
    Direct,
}

#[derive(Clone, Copy, Debug, Default)]
struct LayerResult {
    allow: bool,
    deny: bool,
    /// For resource policies: the strongest principal match among applicable allows.
    strength: Option<Strength>,
}

/// Decides a request against its policies.
pub fn authorize(request: &Request<'_>, policies: &Policies<'_>, trace: Trace) -> Decision {
    let mut e = Evaluator { request, trace, decision: Decision::empty(), scratch: Vec::new() };
    e.decide(policies);
    e.finish()
}

struct Evaluator<'r, 'a> {
    request: &'r Request<'a>,
    trace: Trace,
    decision: Decision,
    scratch: Vec<StatementRef>,
}

impl Decision {
    fn empty() -> Decision {
        Decision {
            outcome: Outcome::ImplicitDeny,
            reason: Reason::NoIdentityAllow,
            layer: None,
            denies: Vec::new(),
            allows: Vec::new(),
            failed_conditions: Vec::new(),
            missing_keys: Vec::new(),
            allowed_by_boundary: None,
            allowed_by_organizations: None,
        }
    }
}

impl Evaluator<'_, '_> {
    fn finish(mut self) -> Decision {
        let mut seen = std::collections::HashSet::new();
        self.decision.missing_keys.retain(|key| seen.insert(key.clone()));
        self.decision
    }

    fn set(&mut self, outcome: Outcome, reason: Reason, layer: Option<Layer>) {
        self.decision.outcome = outcome;
        self.decision.reason = reason;
        self.decision.layer = layer;
    }

    fn decide(&mut self, policies: &Policies<'_>) {
        let principal = self.request.principal;
        let identity_applies = principal.has_identity();
        let rcps: Vec<LayerResult> = policies
            .resource_control
            .iter()
            .enumerate()
            .map(|(level, set)| self.layer(Layer::ResourceControl(level as u32), set))
            .collect();
        let scps: Vec<LayerResult> = if principal.is_account_member() {
            policies
                .service_control
                .iter()
                .enumerate()
                .map(|(level, set)| self.layer(Layer::ServiceControl(level as u32), set))
                .collect()
        } else {
            Vec::new()
        };
        let resource = policies.resource.map(|set| self.layer(Layer::Resource, set));
        let identity_set = policies.identity.filter(|_| identity_applies);
        let identity = identity_set.map(|set| self.layer(Layer::Identity, set)).unwrap_or_default();
        let boundary = policies.boundary.filter(|_| identity_applies).map(|set| self.layer(Layer::Boundary, set));
        let session = policies
            .session
            .filter(|set| identity_applies && principal.is_session() && !set.is_empty())
            .map(|set| self.layer(Layer::Session, set));
        self.decision.allowed_by_boundary = boundary.map(|b| b.allow);
        if !scps.is_empty() {
            self.decision.allowed_by_organizations = Some(scps.iter().all(|s| s.allow && !s.deny));
        }

        // Explicit deny in any layer wins; report the first layer in evaluation order.
        let deny_layer = rcps
            .iter()
            .enumerate()
            .find(|(_, r)| r.deny)
            .map(|(i, _)| Layer::ResourceControl(i as u32))
            .or_else(|| scps.iter().enumerate().find(|(_, r)| r.deny).map(|(i, _)| Layer::ServiceControl(i as u32)))
            .or_else(|| resource.filter(|r| r.deny).map(|_| Layer::Resource))
            .or_else(|| identity.deny.then_some(Layer::Identity))
            .or_else(|| boundary.filter(|r| r.deny).map(|_| Layer::Boundary))
            .or_else(|| session.filter(|r| r.deny).map(|_| Layer::Session));
        if let Some(layer) = deny_layer {
            return self.set(Outcome::ExplicitDeny, Reason::ExplicitDeny, Some(layer));
        }
        if let Some(level) = rcps.iter().position(|r| !r.allow) {
            return self.set(
                Outcome::ImplicitDeny,
                Reason::NoResourceControlAllow,
                Some(Layer::ResourceControl(level as u32)),
            );
        }
        if let Some(level) = scps.iter().position(|r| !r.allow) {
            return self.set(
                Outcome::ImplicitDeny,
                Reason::NoServiceControlAllow,
                Some(Layer::ServiceControl(level as u32)),
            );
        }

        let strength = resource.and_then(|r| r.strength);
        if !identity_applies && principal.kind != PrincipalKind::Root {
            // Services, federated providers and anonymous callers have no identity policies:
            // only the resource policy can grant.
            return match strength {
                Some(_) => self.set(Outcome::Allowed, Reason::ResourcePolicyGrant, Some(Layer::Resource)),
                None => self.set(Outcome::ImplicitDeny, Reason::NoResourcePolicyAllow, Some(Layer::Resource)),
            };
        }
        if policies.resource_policy_required && strength.is_none() {
            return self.set(Outcome::ImplicitDeny, Reason::NoResourcePolicyAllow, Some(Layer::Resource));
        }

        let same_account = principal.account == self.request.resource_account;
        if !same_account {
            // Reference §3.2: the principal's account and the resource's account must both allow.
            let denial = (principal.kind != PrincipalKind::Root)
                .then(|| Self::principal_side(identity.allow, boundary, session, principal))
                .flatten();
            if let Some((reason, layer)) = denial {
                return self.set(Outcome::ImplicitDeny, reason, Some(layer));
            }
            return match strength {
                Some(_) => self.set(Outcome::Allowed, Reason::CrossAccountAllowed, Some(Layer::Resource)),
                None => self.set(Outcome::ImplicitDeny, Reason::NoResourcePolicyAllow, Some(Layer::Resource)),
            };
        }

        if principal.kind == PrincipalKind::Root {
            return self.set(Outcome::Allowed, Reason::AccountRoot, None);
        }
        if strength == Some(Strength::Direct) {
            return self.set(Outcome::Allowed, Reason::ResourcePolicyGrant, Some(Layer::Resource));
        }
        let resource_grant = strength == Some(Strength::Capped);
        if let Some((reason, layer)) =
            Self::principal_side(identity.allow || resource_grant, boundary, session, principal)
        {
            return self.set(Outcome::ImplicitDeny, reason, Some(layer));
        }
        if identity.allow {
            self.set(Outcome::Allowed, Reason::Allowed, Some(Layer::Identity));
        } else {
            self.set(Outcome::Allowed, Reason::ResourcePolicyGrant, Some(Layer::Resource));
        }
    }

    /// The principal's own account's checks: an allow, then the boundary and session caps.
    /// Returns the denial, if any.
    fn principal_side(
        allowed: bool,
        boundary: Option<LayerResult>,
        session: Option<LayerResult>,
        principal: &Principal,
    ) -> Option<(Reason, Layer)> {
        if !allowed {
            return Some((Reason::NoIdentityAllow, Layer::Identity));
        }
        if boundary.is_some_and(|b| !b.allow) {
            return Some((Reason::NoBoundaryAllow, Layer::Boundary));
        }
        match session {
            Some(s) if !s.allow => Some((Reason::NoSessionAllow, Layer::Session)),
            None if principal.kind == PrincipalKind::FederatedUser => Some((Reason::NoSessionPolicy, Layer::Session)),
            _ => None,
        }
    }

    /// Evaluates the statements of one layer that can match the request's action.
    fn layer(&mut self, layer: Layer, set: &PolicySet) -> LayerResult {
        let request = self.request;
        let mut result = LayerResult::default();
        let mut candidates = std::mem::take(&mut self.scratch);
        set.candidates(
            &request.action_folded,
            &request.action_folded[..request.service_len],
            request.resource,
            &mut candidates,
        );
        for &at in &candidates {
            let statement = set.statement(at);
            if !statement.actions.matches(&request.action_folded) {
                continue;
            }
            let Some(strength) = self.applies(layer, set, at, statement) else { continue };
            let matched = MatchedStatement {
                layer,
                policy_id: set.policies[at.policy as usize].id.clone(),
                statement: statement.index,
                sid: statement.sid.clone(),
                effect: statement.effect,
                span: statement.span,
            };
            match statement.effect {
                Effect::Deny => {
                    result.deny = true;
                    self.decision.denies.push(matched);
                }
                Effect::Allow => {
                    result.allow = true;
                    result.strength = result.strength.max(Some(strength));
                    self.decision.allows.push(matched);
                }
            }
        }
        self.scratch = candidates;
        result
    }

    /// Whether a statement whose action matched applies; the principal-match strength if so.
    fn applies(
        &mut self,
        layer: Layer,
        set: &PolicySet,
        at: StatementRef,
        statement: &CompiledStatement,
    ) -> Option<Strength> {
        let request = self.request;
        let strength = match &statement.principal {
            Some(matcher) => principal_strength(matcher, request.principal)?,
            None => Strength::Direct,
        };
        let tracing = self.trace == Trace::On;
        let mut missing_keys = std::mem::take(&mut self.decision.missing_keys);
        let mut note_missing = |name: &str| {
            if tracing {
                missing_keys.push(name.into());
            }
        };
        let resource_ok = match &statement.resources {
            Some(matcher) => resource_matches(matcher, request, &mut note_missing),
            None => true,
        };
        if !resource_ok {
            self.decision.missing_keys = missing_keys;
            return None;
        }
        let mut all = true;
        for condition in &statement.conditions {
            let mut key_missing = false;
            let ok = evaluate_condition(condition, request.context, &mut |name| {
                key_missing |= name == &*condition.key;
                note_missing(name);
            });
            if !ok {
                all = false;
                if !tracing {
                    break;
                }
                self.decision.failed_conditions.push(FailedCondition {
                    statement: MatchedStatement {
                        layer,
                        policy_id: set.policies[at.policy as usize].id.clone(),
                        statement: statement.index,
                        sid: statement.sid.clone(),
                        effect: statement.effect,
                        span: statement.span,
                    },
                    operator: condition.operator_name.clone(),
                    key: condition.key.clone(),
                    missing: key_missing,
                });
            }
        }
        self.decision.missing_keys = missing_keys;
        all.then_some(strength)
    }
}

/// How a `Principal` element names the caller, or `None` if the statement does not apply to it.
/// `NotPrincipal` applies unless every identity of the caller (its account, its role, itself) is
/// listed (reference §2.1).
pub(crate) fn principal_strength(matcher: &PrincipalMatcher, principal: &Principal) -> Option<Strength> {
    if matcher.negated {
        return (!excluded(matcher, principal)).then_some(Strength::Direct);
    }
    if matcher.any {
        return Some(Strength::Direct);
    }
    let mut best = None;
    match principal.kind {
        PrincipalKind::Service if matcher.services.iter().any(|s| **s == principal.arn) => {
            return Some(Strength::Direct);
        }
        PrincipalKind::WebIdentity if matcher.federated.iter().any(|s| **s == principal.arn) => {
            return Some(Strength::Direct);
        }
        _ => {}
    }
    for name in &matcher.aws {
        let strength = match name {
            AwsName::Any => Some(Strength::Direct),
            AwsName::Account(account) => {
                (principal.is_account_member() && **account == principal.account).then_some(Strength::Account)
            }
            AwsName::Arn(arn) => {
                if principal.has_identity() && **arn == principal.arn {
                    Some(Strength::Direct)
                } else if principal.role_arn.as_deref() == Some(&**arn)
                    || principal.source_user_arn.as_deref() == Some(&**arn)
                {
                    Some(Strength::Capped)
                } else {
                    None
                }
            }
            AwsName::UniqueId(id) => match principal.unique_id.as_deref() {
                Some(own) if own == &**id => Some(match principal.kind {
                    PrincipalKind::User => Strength::Direct,
                    _ => Strength::Capped,
                }),
                _ => None,
            },
        };
        best = best.max(strength);
    }
    best
}

/// Whether `NotPrincipal` lists every identity of the caller.
fn excluded(matcher: &PrincipalMatcher, principal: &Principal) -> bool {
    if matcher.any || matcher.aws.contains(&AwsName::Any) {
        return true;
    }
    let listed_arn = |arn: &str| matcher.aws.iter().any(|n| matches!(n, AwsName::Arn(a) if **a == *arn));
    let listed_id = |id: Option<&str>| {
        id.is_some_and(|id| matcher.aws.iter().any(|n| matches!(n, AwsName::UniqueId(u) if **u == *id)))
    };
    let account = matcher.aws.iter().any(|n| matches!(n, AwsName::Account(a) if **a == principal.account));
    match principal.kind {
        PrincipalKind::Root => account,
        PrincipalKind::User => account && (listed_arn(&principal.arn) || listed_id(principal.unique_id.as_deref())),
        PrincipalKind::AssumedRole => {
            account
                && listed_arn(&principal.arn)
                && (principal.role_arn.as_deref().is_some_and(listed_arn) || listed_id(principal.unique_id.as_deref()))
        }
        PrincipalKind::FederatedUser => account && listed_arn(&principal.arn),
        PrincipalKind::Service => matcher.services.iter().any(|s| **s == principal.arn),
        PrincipalKind::WebIdentity => matcher.federated.iter().any(|s| **s == principal.arn),
        PrincipalKind::Anonymous => false,
    }
}

fn resource_matches(matcher: &ResourceMatcher, request: &Request<'_>, missing: &mut dyn FnMut(&str)) -> bool {
    matcher.patterns.iter().any(|pattern| pattern_matches(pattern, request, missing)) != matcher.negated
}

/// Whether one resource pattern matches the request's resource.
pub(crate) fn pattern_matches(pattern: &ResourcePattern, request: &Request<'_>, missing: &mut dyn FnMut(&str)) -> bool {
    let context = request.context;
    // Variables are resolved (and reported missing) only once the literal text before them has
    // matched, so that a trace is the same whether or not the resource index, which skips
    // statements by that text, offered the statement.
    match pattern {
        ResourcePattern::Any => true,
        ResourcePattern::Arn { prefix, parts } => match &request.resource_parts {
            Some(value) => {
                parts[..5].iter().zip(&value[..5]).all(|(p, v)| p.matches_static(v))
                    && (!parts[5].has_variables() || request.resource.starts_with(&**prefix))
                    && parts[5].resolve(context, false, missing).is_some_and(|r| r.matches(value[5]))
            }
            None => false,
        },
        ResourcePattern::Text { prefix, pattern } => {
            (!pattern.has_variables() || request.resource.starts_with(&**prefix))
                && pattern.resolve(context, false, missing).is_some_and(|r| r.matches(request.resource))
        }
        ResourcePattern::Nothing { .. } => false,
    }
}

/// Evaluates one key under one operator (reference §2.3 rules 1–3).
pub(crate) fn evaluate_condition(condition: &Condition, context: &Context, missing: &mut dyn FnMut(&str)) -> bool {
    let entry = context.values(&condition.folded_key);
    let values = entry.unwrap_or_default();
    let operator = condition.operator;
    if let PolicyValues::Null { absent, present } = condition.values {
        return if values.is_empty() { absent } else { present };
    }
    let negated = operator.base.negated;
    if values.is_empty() {
        // A key given as an empty list is present (not reported missing) but has no values.
        if entry.is_none() {
            missing(&condition.key);
        }
        if operator.if_exists {
            return true;
        }
        return match operator.set {
            Some(SetOperator::ForAllValues) => true,
            Some(SetOperator::ForAnyValue) => false,
            None => negated,
        };
    }
    let mut hit = |value: &str| matches_any(condition, value, context, missing);
    match operator.set {
        None => values.iter().any(|v| hit(v)) != negated,
        Some(SetOperator::ForAnyValue) => values.iter().any(|v| hit(v) != negated),
        Some(SetOperator::ForAllValues) => values.iter().all(|v| hit(v) != negated),
    }
}

/// Whether a request value satisfies the positive form of the operator for some policy value.
fn matches_any(condition: &Condition, value: &str, context: &Context, missing: &mut dyn FnMut(&str)) -> bool {
    let comparison = condition.operator.base.comparison;
    match &condition.values {
        PolicyValues::Strings(patterns) => {
            let folded;
            let value = if comparison == Comparison::EqualsIgnoreCase {
                folded = value.to_lowercase();
                folded.as_str()
            } else {
                value
            };
            let lowercase = comparison == Comparison::EqualsIgnoreCase;
            patterns.iter().any(|p| p.resolve(context, lowercase, missing).is_some_and(|r| r.matches(value)))
        }
        PolicyValues::Numbers(numbers) => {
            Decimal::parse(value).is_some_and(|v| numbers.iter().any(|n| compare(comparison, v.cmp(n))))
        }
        PolicyValues::Dates(dates) => {
            parse_date(value).is_some_and(|v| dates.iter().any(|d| compare(comparison, v.cmp(d))))
        }
        PolicyValues::Bools(bools) => parse_bool(value).is_some_and(|v| bools.contains(&v)),
        PolicyValues::Binaries(binaries) => parse_binary(value).is_some_and(|v| binaries.contains(&v)),
        PolicyValues::Networks(networks) => {
            Network::parse_address(value).is_some_and(|v| networks.iter().any(|n| n.contains(&v)))
        }
        PolicyValues::Arns(patterns) => {
            let parts = split_arn(value);
            patterns.iter().any(|pattern| match pattern {
                ArnPattern::Any => parts.is_some(),
                ArnPattern::Parts(pattern_parts) => parts.is_some_and(|parts| {
                    pattern_parts
                        .iter()
                        .zip(parts)
                        .all(|(p, v)| p.resolve(context, false, missing).is_some_and(|r| r.matches(v)))
                }),
                ArnPattern::Text(p) => p.resolve(context, false, missing).is_some_and(|r| r.matches(value)),
            })
        }
        PolicyValues::Null { .. } => false,
    }
}

fn compare(comparison: Comparison, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match comparison {
        Comparison::Equals | Comparison::EqualsIgnoreCase | Comparison::Like => ordering == Equal,
        Comparison::LessThan => ordering == Less,
        Comparison::LessThanEquals => ordering != Greater,
        Comparison::GreaterThan => ordering == Greater,
        Comparison::GreaterThanEquals => ordering != Less,
    }
}
