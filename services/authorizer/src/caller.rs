//! Who a decision is about: a resolved caller ([`CallerPrincipal`]: the account root, a user by
//! its long-term key, or a session by its verified token), its layers ([`CallerLayers`]: compiled
//! identity policies, permissions boundary, session policies and principal tags) and the request
//! context every decision about it starts from ([`base_context`]).

use std::sync::Arc;

use tessera_arn::Arn;
use tessera_credentials::{Secret, SessionClaims, SessionKind};
use tessera_identity::{AccessKeyIdentity, Account, Result};
use tessera_policy::{Context, Policies as Layers, PolicySet, Principal, PrincipalKind};
use tessera_store::iam::UserRecord;

/// What kind of principal is calling.
#[derive(Debug, Clone)]
pub enum CallerKind {
    Root,
    /// Shared with the cached access key it was resolved from (no copy per request).
    User(Arc<UserRecord>),
    Session(Box<SessionClaims>),
}

/// A resolved caller.
#[derive(Debug, Clone)]
pub struct CallerPrincipal {
    pub account: Account,
    /// `Arn` as GetCallerIdentity reports it.
    pub arn: String,
    /// `UserId` as GetCallerIdentity reports it (§1.4).
    pub user_id: String,
    pub kind: CallerKind,
    pub access_key_id: String,
    pub source_ip: Option<String>,
    /// The session token the caller presented, kept where the edge verified it, so a remote token
    /// service can be named the same caller (`tessera_sts::RemoteSts` sends it as the
    /// `sts.v1.Caller` of its calls). `None` for long-term keys and for callers resolved from
    /// something else (an identity token).
    pub session_token: Option<Secret>,
}

impl CallerPrincipal {
    /// The caller a verified session token stands for, with the token it presented (`None` when
    /// it presented something else standing for the session, such as an identity token).
    pub fn of_session(claims: SessionClaims, session_token: Option<&str>, source_ip: Option<String>) -> Result<Self> {
        Ok(Self {
            account: Account::new(&claims.account)?,
            arn: claims.principal_arn.clone(),
            user_id: claims.principal_id.clone(),
            access_key_id: claims.access_key_id.clone(),
            kind: CallerKind::Session(Box::new(claims)),
            source_ip,
            session_token: session_token.map(Secret::new),
        })
    }

    /// The caller a long-term access key stands for: its user, or the account root.
    pub fn of_key(found: &AccessKeyIdentity, access_key_id: &str, source_ip: Option<String>) -> Self {
        let account = found.account.clone();
        match &found.user {
            Some(user) => Self {
                arn: user.principal.arn.clone(),
                user_id: user.principal.id.clone(),
                kind: CallerKind::User(Arc::clone(user)),
                account,
                access_key_id: access_key_id.to_owned(),
                source_ip,
                session_token: None,
            },
            None => Self {
                arn: Arn::root(account.id()).to_string(),
                user_id: account.id().to_owned(),
                kind: CallerKind::Root,
                account,
                access_key_id: access_key_id.to_owned(),
                source_ip,
                session_token: None,
            },
        }
    }

    /// The principal the policy engine evaluates.
    pub fn principal(&self) -> Principal {
        let (kind, unique_id, role_arn, source_user_arn) = match &self.kind {
            CallerKind::Root => (PrincipalKind::Root, None, None, None),
            CallerKind::User(user) => (PrincipalKind::User, Some(user.principal.id.clone()), None, None),
            CallerKind::Session(claims) => match claims.kind {
                SessionKind::AssumedRole => {
                    // The role's unique id: `AROA…` before the `:<session>` of the UserId.
                    let role_id = claims.principal_id.split(':').next().map(str::to_owned);
                    (PrincipalKind::AssumedRole, role_id, claims.role_arn.clone(), claims.source_user_arn.clone())
                }
                SessionKind::FederatedUser => {
                    (PrincipalKind::FederatedUser, None, None, claims.source_user_arn.clone())
                }
                SessionKind::SessionToken if claims.principal_arn.ends_with(":root") => {
                    (PrincipalKind::Root, None, None, None)
                }
                SessionKind::SessionToken => (PrincipalKind::User, Some(claims.principal_id.clone()), None, None),
            },
        };
        Principal {
            kind,
            account: self.account.id().to_owned(),
            arn: self.arn.clone(),
            unique_id,
            role_arn,
            source_user_arn,
        }
    }

    /// Whether the caller is the account root: its long-term key, or a session it made with
    /// GetSessionToken (which is the root too, with every rule AWS applies to the root).
    pub fn is_root(&self) -> bool {
        // What `principal()` says, without building it (asked several times per request).
        match &self.kind {
            CallerKind::Root => true,
            CallerKind::User(_) => false,
            CallerKind::Session(claims) => {
                claims.kind == SessionKind::SessionToken && claims.principal_arn.ends_with(":root")
            }
        }
    }

    /// The session claims, when the caller uses temporary credentials.
    pub fn session(&self) -> Option<&SessionClaims> {
        match &self.kind {
            CallerKind::Session(claims) => Some(claims),
            _ => None,
        }
    }
}

/// A caller's compiled identity policies, permissions boundary and session policies (none for
/// the account root), and its principal tags: what [`crate::Authorizer::caller_layers`] reads
/// from the store.
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

/// ISO 8601 UTC (`2026-11-23T10:00:00Z`) from unix seconds, for `aws:CurrentTime`.
pub fn format_time(secs: u64) -> String {
    // Every decision of a second formats the same instant: each thread keeps its last one.
    thread_local! {
        static LAST: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    LAST.with_borrow_mut(|(at, text)| {
        if *at != secs {
            *text = tessera_awsapi::iso8601(i64::try_from(secs).unwrap_or(i64::MAX));
            *at = secs;
        }
        text.clone()
    })
}

/// The request context every decision about `caller` sees (principal keys and tags, time,
/// MFA). `layers` are the caller's ([`crate::Authorizer::caller_layers`]); they hold its
/// principal tags.
pub fn base_context(caller: &CallerPrincipal, layers: &CallerLayers, now: u64) -> Context {
    // The keys below, the principal's tags, and room for a request's own keys.
    let mut ctx = Context::with_capacity(24 + layers.principal_tags.len());
    // A role session's principal is its role; everyone else's its own ARN (`principal()`'s
    // `role_arn`, without building the whole principal).
    let role_arn = match &caller.kind {
        CallerKind::Session(claims) if claims.kind == SessionKind::AssumedRole => claims.role_arn.as_ref(),
        _ => None,
    };
    let root = caller.is_root();
    ctx.insert("aws:PrincipalArn", role_arn.unwrap_or(&caller.arn).clone());
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
                SessionKind::SessionToken if root => "Account",
                SessionKind::SessionToken => "User",
            };
            ctx.insert("aws:PrincipalType", kind);
            if claims.kind == SessionKind::SessionToken
                && !root
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_iso_8601() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_795_428_000), "2026-11-23T10:00:00Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
    }
}
