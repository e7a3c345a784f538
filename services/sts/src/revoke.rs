//! Session records, revocation, and the switch that stops issuing for one principal or role.
//!
//! A revocation is written to the store (global `revocation:` records, one per call, so one scan
//! loads them all and they double as the audit trail of who revoked what, when) and published on
//! [`CHANNEL`]; every replica applies it to its in-memory [`Revocations`] as the message arrives,
//! and reloads everything from the store when its subscription lags or drops, so a revocation made
//! on one replica holds on all of them well within a second. Checking a session is then a few hash
//! lookups, with no storage read.
//!
//! **The cut-off is exact.** A revocation of a role's or principal's sessions covers the sessions
//! issued up to an instant in microseconds (the revoking replica's clock when the call is made,
//! or an earlier `issued_before`; never a later one), and tokens carry their issue time in
//! microseconds too ([`SessionClaims::issued_at_micros`]). A session issued after the call
//! returned is issued later on any clock that agrees with the revoker's, so it is never covered;
//! and a replica that already knows a cut-off issues the sessions it covers strictly after it
//! ([`Sts::stamp_issue_time`]), so a slower clock on that replica cannot put a new session under
//! it either. Across machines the remaining window is the clock skew between replicas during the
//! few milliseconds before the revocation reaches them.
//!
//! **Stopping issuance** (incident response): a global `issuing-stop:` record per stopped role or
//! principal, published on the same channel, makes every issuing call for it fail with
//! `AccessDenied` on every replica ([`Sts::check_issuing`], called at the top of AssumeRole,
//! AssumeRoleWithWebIdentity, GetSessionToken and GetFederationToken) until it is resumed.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tessera_arn::{Arn, IamEntity};
use tessera_credentials::SessionClaims;
use tessera_identity::{Account, Error, Result};
use tessera_proto::ErrorCode;
use tessera_store::iam::{self, Record};
use tessera_store::{Key, Kind, Namespace, Store, SubscriptionError, Transaction};

use crate::{CallerKind, CallerPrincipal, MAX_SESSION_SECS, Sts};

/// The channel revocations (and stops and resumptions of issuing) are published on.
pub const CHANNEL: &str = "tessera.revocations";

const SESSION: Kind = Kind::new("session");
const REVOCATION: Kind = Kind::new("revocation");
const ISSUING_STOP: Kind = Kind::new("issuing-stop");

/// Microseconds in a second.
const MICROS: u64 = 1_000_000;

/// How long a revocation record is kept once it can no longer match a session: it is the audit
/// trail of who revoked what, when (`ListRevocations`).
pub const AUDIT_RETENTION_SECS: u64 = 30 * 86_400;

/// What an issued session looks like in the registry (never its secret or token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub account: String,
    pub session_id: String,
    pub principal_arn: String,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub source_user_arn: Option<String>,
    pub issued_at: u64,
    pub expires_at: u64,
}

impl Record for SessionRecord {
    const KIND: Kind = SESSION;
}

/// One revocation: a session, or every session of a role or principal issued up to an instant;
/// with who made it (the caller's ARN, empty when the internal API was called without
/// authentication) and when (unix microseconds; 0 in records written before revocations said).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Revocation {
    /// One session of `account` (the account is checked when matching, so an account can only
    /// revoke its own sessions, whatever session id it names).
    Session {
        // Records written before revocations named their account decode with none: they match
        // nothing, and the sweeper removes them once expired.
        #[serde(default)]
        account: String,
        session_id: String,
        expires_at: u64,
        #[serde(default)]
        revoked_by: String,
        #[serde(default)]
        revoked_at: u64,
    },
    Role {
        role_arn: String,
        /// The cut-off in whole seconds, inclusive: what replicas from before microsecond
        /// cut-offs read (they then also refuse the rest of that second).
        issued_up_to: u64,
        /// The cut-off in unix microseconds, inclusive; 0 in records from before it existed
        /// (then the whole second `issued_up_to` is the cut-off).
        #[serde(default)]
        issued_up_to_micros: u64,
        #[serde(default)]
        revoked_by: String,
        #[serde(default)]
        revoked_at: u64,
    },
    Principal {
        principal_arn: String,
        issued_up_to: u64,
        #[serde(default)]
        issued_up_to_micros: u64,
        #[serde(default)]
        revoked_by: String,
        #[serde(default)]
        revoked_at: u64,
    },
}

impl Record for Revocation {
    const KIND: Kind = REVOCATION;
}

/// A cut-off in microseconds, with its whole-second form for older replicas.
fn cut_off(micros: u64) -> (u64, u64) {
    (micros / MICROS, micros)
}

impl Revocation {
    /// Where the record is kept: one record per session, and one per revocation of a role or
    /// principal (several revocations of one role are all kept, for the audit trail; the latest
    /// cut-off is the one that matters).
    fn key(&self) -> Key {
        let rest = match self {
            Self::Session { account, session_id, .. } => format!("session:{account}:{session_id}"),
            Self::Role { role_arn, revoked_at, .. } => {
                format!("role:{}@{revoked_at:020}", role_arn.to_ascii_lowercase())
            }
            Self::Principal { principal_arn, revoked_at, .. } => {
                format!("principal:{}@{revoked_at:020}", principal_arn.to_ascii_lowercase())
            }
        };
        Key::new(&Namespace::global(), REVOCATION, &rest)
    }

    /// The inclusive cut-off of a role or principal revocation, in unix microseconds.
    pub fn cut_off_micros(&self) -> Option<u64> {
        match self {
            Self::Session { .. } => None,
            Self::Role { issued_up_to, issued_up_to_micros, .. }
            | Self::Principal { issued_up_to, issued_up_to_micros, .. } => Some(if *issued_up_to_micros != 0 {
                *issued_up_to_micros
            } else {
                issued_up_to.saturating_mul(MICROS).saturating_add(MICROS - 1)
            }),
        }
    }

    /// Who made the revocation (an ARN; empty when unknown) and when (unix microseconds).
    pub fn made(&self) -> (&str, u64) {
        match self {
            Self::Session { revoked_by, revoked_at, .. }
            | Self::Role { revoked_by, revoked_at, .. }
            | Self::Principal { revoked_by, revoked_at, .. } => (revoked_by, *revoked_at),
        }
    }

    /// The account whose sessions it revokes.
    pub fn account(&self) -> String {
        match self {
            Self::Session { account, .. } => account.clone(),
            Self::Role { role_arn: arn, .. } | Self::Principal { principal_arn: arn, .. } => {
                Arn::parse(arn).map(|a| a.account).unwrap_or_default()
            }
        }
    }

    /// Whether it can still match a session at `now` (unix seconds); records are kept for
    /// [`AUDIT_RETENTION_SECS`] after that, as the audit trail of revocations.
    pub fn in_force(&self, now: u64) -> bool {
        self.obsolete_after() > now
    }

    /// When it stops mattering: no session it could match outlives this.
    fn obsolete_after(&self) -> u64 {
        match self {
            Self::Session { expires_at, .. } => *expires_at,
            Self::Role { issued_up_to, .. } | Self::Principal { issued_up_to, .. } => {
                issued_up_to.saturating_add(1).saturating_add(MAX_SESSION_SECS)
            }
        }
    }
}

/// A stop of issuing for one role or principal: until it is lifted, no AssumeRole,
/// AssumeRoleWithWebIdentity, GetSessionToken or GetFederationToken issues credentials for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuingStop {
    pub account: String,
    /// The role or principal ARN as the operator gave it.
    pub arn: String,
    pub stopped_by: String,
    /// Unix microseconds.
    pub stopped_at: u64,
}

impl Record for IssuingStop {
    const KIND: Kind = ISSUING_STOP;
}

/// What the channel carries: a revocation (the message format every replica has always read),
/// or a change of the issuing stops (which makes replicas reload them from the store, so a stop
/// and a resumption racing each other settle on what was committed last).
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Notice {
    Revocation(Revocation),
    Issuing(IssuingNotice),
}

#[derive(Debug, Serialize, Deserialize)]
enum IssuingNotice {
    IssuingChanged { arn: String },
}

/// The key a stop is kept under: users and roles by account and name (the path is not part of
/// an entity's identity, and AssumeRole's `RoleArn` may be written without it), other principals
/// by their ARN; case-insensitively, as IAM names are.
fn stop_key(arn: &str) -> String {
    let key = match Arn::parse(arn) {
        Ok(parsed) => match parsed.entity() {
            Ok(IamEntity::Role { name, .. }) => format!("{}:role/{name}", parsed.account),
            Ok(IamEntity::User { name, .. }) => format!("{}:user/{name}", parsed.account),
            _ => arn.to_owned(),
        },
        Err(_) => arn.to_owned(),
    };
    key.to_ascii_lowercase()
}

/// This replica's copy of every revocation and issuing stop in force.
#[derive(Debug, Default)]
pub(crate) struct Revocations {
    inner: RwLock<Sets>,
}

#[derive(Debug, Default)]
struct Sets {
    /// (account, session id) → when the record can go.
    sessions: HashMap<(String, String), u64>,
    /// Role ARN (lowercase) → the latest inclusive cut-off, unix microseconds.
    roles: HashMap<String, u64>,
    principals: HashMap<String, u64>,
    /// [`stop_key`] → the stop.
    stops: HashMap<String, IssuingStop>,
}

impl Revocations {
    pub(crate) fn apply(&self, revocation: &Revocation) {
        let mut sets = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let cut = revocation.cut_off_micros().unwrap_or_default();
        match revocation {
            Revocation::Session { account, session_id, expires_at, .. } => {
                sets.sessions.insert((account.clone(), session_id.clone()), *expires_at);
            }
            Revocation::Role { role_arn, .. } => {
                let slot = sets.roles.entry(role_arn.to_ascii_lowercase()).or_default();
                *slot = (*slot).max(cut);
            }
            Revocation::Principal { principal_arn, .. } => {
                let slot = sets.principals.entry(principal_arn.to_ascii_lowercase()).or_default();
                *slot = (*slot).max(cut);
            }
        }
    }

    fn replace(&self, all: Vec<Revocation>) {
        let fresh = Revocations::default();
        for revocation in &all {
            fresh.apply(revocation);
        }
        let fresh = fresh.inner.into_inner().unwrap_or_else(PoisonError::into_inner);
        let mut sets = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let stops = std::mem::take(&mut sets.stops);
        *sets = Sets { stops, ..fresh };
    }

    fn replace_stops(&self, all: Vec<IssuingStop>) {
        let stops = all.into_iter().map(|stop| (stop_key(&stop.arn), stop)).collect();
        self.inner.write().unwrap_or_else(PoisonError::into_inner).stops = stops;
    }

    /// The latest cut-off that covers sessions like `claims` (by role, principal or source user).
    fn cut_off_for(&self, claims: &SessionClaims) -> Option<u64> {
        let sets = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let up_to = |map: &HashMap<String, u64>, arn: Option<&str>| {
            arn.and_then(|arn| map.get(&arn.to_ascii_lowercase())).copied()
        };
        [
            up_to(&sets.roles, claims.role_arn.as_deref()),
            up_to(&sets.principals, Some(&claims.principal_arn)),
            up_to(&sets.principals, claims.source_user_arn.as_deref()),
        ]
        .into_iter()
        .flatten()
        .max()
    }

    /// The latest cut-off of the revocations of `principal_arn`'s sessions, if any.
    fn principal_cut_off(&self, principal_arn: &str) -> Option<u64> {
        let sets = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        sets.principals.get(&principal_arn.to_ascii_lowercase()).copied()
    }

    /// Whether a registry entry names a revoked session (its issue time is known to the second:
    /// a session issued in the same second as a cut-off, after it, reads as revoked here).
    fn record_revoked(&self, record: &SessionRecord) -> bool {
        let sets = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        if sets.sessions.contains_key(&(record.account.clone(), record.session_id.clone())) {
            return true;
        }
        let at = record.issued_at.saturating_mul(MICROS);
        let up_to = |map: &HashMap<String, u64>, arn: Option<&str>| {
            arn.and_then(|arn| map.get(&arn.to_ascii_lowercase())).copied()
        };
        [
            up_to(&sets.roles, record.role_arn.as_deref()),
            up_to(&sets.principals, Some(&record.principal_arn)),
            up_to(&sets.principals, record.source_user_arn.as_deref()),
        ]
        .into_iter()
        .flatten()
        .any(|cut| at <= cut)
    }

    /// Whether `claims` names a revoked session.
    pub(crate) fn is_revoked(&self, claims: &SessionClaims) -> bool {
        {
            let sets = self.inner.read().unwrap_or_else(PoisonError::into_inner);
            if sets.sessions.contains_key(&(claims.account.clone(), claims.session_id.clone())) {
                return true;
            }
        }
        self.cut_off_for(claims).is_some_and(|cut| claims.issued_at_micros() <= cut)
    }

    /// The stop in force for any of `arns`, if one is.
    fn stopped(&self, arns: &[&str]) -> Option<IssuingStop> {
        let sets = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        if sets.stops.is_empty() {
            return None;
        }
        arns.iter().find_map(|arn| sets.stops.get(&stop_key(arn)).cloned())
    }
}

async fn load_all<S: Store + ?Sized>(store: &S) -> Result<Vec<Revocation>> {
    Ok(iam::scan_all::<S, Revocation>(store, &Namespace::global()).await?.into_iter().map(|(_, r)| r).collect())
}

async fn load_stops<S: Store + ?Sized>(store: &S) -> Result<Vec<IssuingStop>> {
    Ok(iam::scan_all::<S, IssuingStop>(store, &Namespace::global()).await?.into_iter().map(|(_, r)| r).collect())
}

/// Reloads revocations and stops from the store (after a lag or a dropped subscription).
async fn reload<S: Store + ?Sized>(store: &S, revocations: &Revocations) {
    if let Ok(all) = load_all(store).await {
        revocations.replace(all);
    }
    if let Ok(stops) = load_stops(store).await {
        revocations.replace_stops(stops);
    }
}

/// Loads the revocations and stops and keeps them current: a task follows the channel (reloading
/// after a lag or a dropped subscription) and sweeps expired records once a minute.
pub(crate) async fn follow<S: Store>(
    store: Arc<S>,
    revocations: Arc<Revocations>,
    clock: Arc<dyn tessera_identity::Clock>,
) -> Result<()> {
    let mut subscription = store.subscribe(CHANNEL).await?;
    // Subscribe first, then load: a revocation published in between is seen twice, never missed.
    revocations.replace(load_all(&*store).await?);
    revocations.replace_stops(load_stops(&*store).await?);
    // The tasks hold the store and the revocations weakly, so they end when the service is dropped
    // (and an embedded store can be reopened in the same process).
    let weak = Arc::downgrade(&revocations);
    let weak_store = Arc::downgrade(&store);
    tokio::spawn(async move {
        loop {
            let message = subscription.recv().await;
            let (Some(revocations), Some(store)) = (weak.upgrade(), weak_store.upgrade()) else { return };
            match message {
                Ok(bytes) => match serde_json::from_slice::<Notice>(&bytes) {
                    Ok(Notice::Revocation(revocation)) => revocations.apply(&revocation),
                    Ok(Notice::Issuing(IssuingNotice::IssuingChanged { .. })) => match load_stops(&*store).await {
                        Ok(stops) => revocations.replace_stops(stops),
                        Err(error) => tracing::warn!(%error, "cannot reload the issuing stops"),
                    },
                    Err(error) => tracing::warn!(%error, "ignoring a malformed revocation message"),
                },
                Err(SubscriptionError::Lagged(_)) => reload(&*store, &revocations).await,
                Err(SubscriptionError::Closed) => {
                    // Resubscribe, then reload what may have been missed meanwhile.
                    match store.subscribe(CHANNEL).await {
                        Ok(fresh) => {
                            subscription = fresh;
                            reload(&*store, &revocations).await;
                        }
                        Err(error) => {
                            tracing::warn!(%error, "cannot resubscribe to revocations; retrying");
                            drop((store, revocations));
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            }
        }
    });
    let sweeper = Arc::downgrade(&revocations);
    let weak_store = Arc::downgrade(&store);
    drop(store);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let (Some(_alive), Some(store)) = (sweeper.upgrade(), weak_store.upgrade()) else { return };
            let now = clock.now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            if let Err(error) = sweep(&*store, now).await {
                tracing::warn!(%error, "session sweep failed");
            }
        }
    });
    Ok(())
}

/// Deletes expired session records, and revocations that have matched nothing for
/// [`AUDIT_RETENTION_SECS`].
pub(crate) async fn sweep<S: Store + ?Sized>(store: &S, now: u64) -> Result<usize> {
    let sessions = sweep_kind::<S, SessionRecord>(store, SESSION, |record| record.expires_at <= now).await?;
    let revocations = sweep_kind::<S, Revocation>(store, REVOCATION, |revocation| {
        revocation.obsolete_after().saturating_add(AUDIT_RETENTION_SECS) <= now
    })
    .await?;
    Ok(sessions + revocations)
}

/// How many records one sweep reads per page and deletes per transaction: at thousands of
/// sessions a second a minute's expired records number in the hundreds of thousands, which one
/// read or one transaction must not hold.
const SWEEP_PAGE: usize = 500;

/// Deletes the global records of `R` that are `done`, a page at a time, each page's in one
/// transaction (by the key each was found under: records of older versions had other keys).
async fn sweep_kind<S: Store + ?Sized, R: Record>(store: &S, kind: Kind, done: impl Fn(&R) -> bool) -> Result<usize> {
    let global = Namespace::global();
    let mut removed = 0;
    let mut after: Option<String> = None;
    loop {
        let page = iam::scan::<S, R>(store, &global, "", after.as_deref(), SWEEP_PAGE).await?;
        let last = page.len() < SWEEP_PAGE;
        after = page.last().map(|(suffix, _)| suffix.clone());
        let mut txn = Transaction::new();
        let mut batch = 0;
        for (suffix, record) in &page {
            if done(record) {
                txn = txn.delete(Key::new(&global, kind, suffix));
                batch += 1;
            }
        }
        if batch > 0 {
            store.commit(txn).await?;
            removed += batch;
        }
        if last {
            return Ok(removed);
        }
    }
}

pub(crate) fn session_key(access_key_id: &str) -> Key {
    Key::new(&Namespace::global(), SESSION, access_key_id)
}

fn micros_of(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// What [`Sts::list_revocations`] returns: the account's revocations (in force, or kept for the
/// audit trail: [`Revocation::in_force`]) and its issuing stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationList {
    /// Oldest first.
    pub revocations: Vec<Revocation>,
    pub stops: Vec<IssuingStop>,
}

impl<S: Store> Sts<S> {
    /// Records an issued session under its access key id.
    pub(crate) async fn record_session(&self, claims: &SessionClaims) -> Result<()> {
        let record = SessionRecord {
            account: claims.account.clone(),
            session_id: claims.session_id.clone(),
            principal_arn: claims.principal_arn.clone(),
            role_arn: claims.role_arn.clone(),
            source_user_arn: claims.source_user_arn.clone(),
            issued_at: claims.issued_at,
            expires_at: claims.expires_at,
        };
        // Batched with concurrent calls' records into one commit (`record.rs`); returns once that
        // commit holds this record.
        let value = serde_json::to_vec(&record).unwrap_or_default();
        self.sessions.put(session_key(&claims.access_key_id), value).await?;
        Ok(())
    }

    /// The registry entry of a temporary access key, if it is still recorded.
    pub async fn session(&self, access_key_id: &str) -> Result<Option<SessionRecord>> {
        Ok(iam::load(&*self.store, &session_key(access_key_id)).await?)
    }

    /// Whether a sign-in of `principal_arn` that is not a token (a web console session) made at
    /// `at_micros` is covered by a revocation of that principal's sessions: the console ends
    /// such sessions as the token service refuses the principal's tokens.
    pub fn principal_revoked(&self, principal_arn: &str, at_micros: u64) -> bool {
        self.revocations.principal_cut_off(principal_arn).is_some_and(|cut| at_micros <= cut)
    }

    /// The recorded sessions of `account` that have not expired or been revoked (the web
    /// console's sessions page), oldest first. A scan of the registry: an operator's page, not a
    /// request path.
    pub async fn live_sessions(&self, account: &Account) -> Result<Vec<SessionRecord>> {
        let now = self.now_secs();
        let mut live: Vec<SessionRecord> = iam::scan_all::<S, SessionRecord>(&*self.store, &Namespace::global())
            .await?
            .into_iter()
            .map(|(_, record)| record)
            .filter(|r| r.account == account.id() && r.expires_at > now && !self.revocations.record_revoked(r))
            .collect();
        live.sort_by_key(|r| r.issued_at);
        Ok(live)
    }

    /// Now, in unix microseconds, from the injected clock.
    fn now_micros(&self) -> u64 {
        micros_of(self.env.now())
    }

    async fn revoke(&self, revocation: Revocation) -> Result<Revocation> {
        // One record per call: nothing to merge, so no transaction to conflict; the latest cut-off
        // wins where they are applied.
        iam::put_blind(&*self.store, revocation.key(), &revocation).await?;
        self.revocations.apply(&revocation);
        let message = serde_json::to_vec(&revocation).unwrap_or_default();
        if let Err(error) = self.store.publish(CHANNEL, &message).await {
            // Replicas still pick it up on their next reload; say so loudly.
            tracing::error!(%error, "failed to publish a revocation");
        }
        let (by, at) = revocation.made();
        tracing::info!(target: "tessera::audit", revoked_by = by, revoked_at_micros = at, ?revocation, "sessions revoked");
        Ok(revocation)
    }

    /// Revokes one session of `account` (known or not: revoking is idempotent, and the id may
    /// belong to a session whose record was swept). Only a session of `account` is affected.
    /// `session` is a session id, or the temporary access key id (`ASIA…`) of a recorded session.
    /// `by` is who asks (an ARN, for the audit trail).
    #[tracing::instrument(name = "sts.revoke_session", skip_all)]
    pub async fn revoke_session(&self, account: &Account, session: &str, by: &str) -> Result<Revocation> {
        if session.is_empty() || session.len() > 128 {
            return Err(Error::invalid_input("SessionId must have 1 to 128 characters."));
        }
        let session_id = if session.starts_with("ASIA") {
            match self.session(session).await? {
                Some(record) if record.account == account.id() => record.session_id,
                _ => return Err(Error::no_such_entity(format!("No session of access key {session} is recorded."))),
            }
        } else {
            session.to_owned()
        };
        let expires_at = self.now_secs().saturating_add(MAX_SESSION_SECS);
        let revoked = self
            .revoke(Revocation::Session {
                account: account.id().to_owned(),
                session_id,
                expires_at,
                revoked_by: by.to_owned(),
                revoked_at: self.now_micros(),
            })
            .await?;
        tessera_telemetry::metrics().revocation("session");
        Ok(revoked)
    }

    /// The inclusive cut-off of a revocation made now: `issued_before` (unix microseconds) or
    /// now, never later than now (a later one would refuse sessions issued after the call
    /// returned: stopping issuance is [`Sts::stop_issuing`]).
    fn cut_off_now(&self, issued_before: Option<u64>) -> Result<(u64, u64)> {
        let now = self.now_micros();
        match issued_before {
            Some(at) if at > now => Err(Error::invalid_input(
                "IssuedBefore must not be later than now; to refuse new sessions, stop issuing for the role or principal.",
            )),
            Some(at) => Ok((at, now)),
            None => Ok((now, now)),
        }
    }

    /// Revokes every session of a role of `account` issued up to `issued_before` (unix
    /// microseconds, inclusive; now when `None`).
    #[tracing::instrument(name = "sts.revoke_role_sessions", skip_all)]
    pub async fn revoke_role_sessions(
        &self,
        account: &Account,
        role_arn: &str,
        issued_before: Option<u64>,
        by: &str,
    ) -> Result<Revocation> {
        self.revoke_up_to(account, role_arn, issued_before, by, Covers::Role).await
    }

    /// Revokes every session of a principal of `account` (the role session, federated user or user
    /// itself, or sessions started from that user's keys) issued up to `issued_before` (unix
    /// microseconds, inclusive; now when `None`).
    #[tracing::instrument(name = "sts.revoke_principal_sessions", skip_all)]
    pub async fn revoke_principal_sessions(
        &self,
        account: &Account,
        principal_arn: &str,
        issued_before: Option<u64>,
        by: &str,
    ) -> Result<Revocation> {
        self.revoke_up_to(account, principal_arn, issued_before, by, Covers::Principal).await
    }

    /// The revocation of every session of the role or principal `arn` of `account` issued up to
    /// `issued_before`.
    async fn revoke_up_to(
        &self,
        account: &Account,
        arn: &str,
        issued_before: Option<u64>,
        by: &str,
        covers: Covers,
    ) -> Result<Revocation> {
        check_owned(account, arn)?;
        let (cut, now) = self.cut_off_now(issued_before)?;
        let (issued_up_to, issued_up_to_micros) = cut_off(cut);
        let stored = self.stored_arn(account, arn).await;
        let (revoked_by, revoked_at) = (by.to_owned(), now);
        let revocation = match covers {
            Covers::Role => {
                Revocation::Role { role_arn: stored, issued_up_to, issued_up_to_micros, revoked_by, revoked_at }
            }
            Covers::Principal => Revocation::Principal {
                principal_arn: stored,
                issued_up_to,
                issued_up_to_micros,
                revoked_by,
                revoked_at,
            },
        };
        let revoked = self.revoke(revocation).await?;
        tessera_telemetry::metrics().revocation(match covers {
            Covers::Role => "role",
            Covers::Principal => "principal",
        });
        Ok(revoked)
    }

    /// The ARN a role or user of `account` is stored under (with its path, which sessions carry),
    /// so that `role/app` revokes the sessions of `role/ops/app`; any other ARN, or an entity that
    /// no longer exists, as given.
    async fn stored_arn(&self, account: &Account, arn: &str) -> String {
        let stored = match Arn::parse(arn).ok().and_then(|parsed| parsed.entity().ok()) {
            Some(IamEntity::Role { name, .. }) => self.identity.get_role(account, &name).await.map(|r| r.principal.arn),
            Some(IamEntity::User { name, .. }) => self.identity.get_user(account, &name).await.map(|u| u.principal.arn),
            _ => return arn.to_owned(),
        };
        stored.unwrap_or_else(|_| arn.to_owned())
    }

    /// Sets the issue time of new `claims` to now in microseconds (it was the whole second the
    /// call started in), and strictly after any cut-off this replica knows that would cover
    /// them, within a second: a session issued after a revocation returned is never covered by
    /// it, even on a replica whose clock is slightly behind the revoker's. Moving the issue time
    /// moves the expiry with it, so the lifetime stays what was asked.
    pub(crate) fn stamp_issue_time(&self, mut claims: SessionClaims) -> SessionClaims {
        let whole = claims.issued_at.saturating_mul(MICROS);
        let mut at = self.now_micros().max(whole);
        if let Some(cut) = self.revocations.cut_off_for(&claims)
            && cut >= at
            && cut - at < MICROS
        {
            at = cut + 1;
        }
        let secs = at / MICROS;
        claims.expires_at = claims.expires_at.saturating_add(secs.saturating_sub(claims.issued_at));
        claims.issued_at = secs;
        claims.issued_subsec_micros = u32::try_from(at % MICROS).unwrap_or_default();
        claims
    }

    /// Refuses to issue credentials while issuing is stopped for the role to be assumed or for
    /// the caller (its ARN; for a session, also its role and the user whose keys started it).
    /// Called first by every issuing call; with no stop in force it is one lock and a length check.
    pub(crate) fn check_issuing(&self, caller: Option<&CallerPrincipal>, role_arn: Option<&str>) -> Result<()> {
        let mut arns: Vec<&str> = Vec::with_capacity(4);
        arns.extend(role_arn);
        if let Some(caller) = caller {
            arns.push(&caller.arn);
            if let CallerKind::Session(claims) = &caller.kind {
                arns.extend(claims.role_arn.as_deref());
                arns.extend(claims.source_user_arn.as_deref());
            }
        }
        match self.revocations.stopped(&arns) {
            Some(stop) => Err(Error::new(
                ErrorCode::AccessDenied,
                format!(
                    "Issuing temporary credentials for {} has been stopped by an administrator (incident response) until it is resumed.",
                    stop.arn
                ),
            )),
            None => Ok(()),
        }
    }

    async fn announce_issuing_change(&self, arn: &str) {
        let notice = Notice::Issuing(IssuingNotice::IssuingChanged { arn: arn.to_owned() });
        let message = serde_json::to_vec(&notice).unwrap_or_default();
        if let Err(error) = self.store.publish(CHANNEL, &message).await {
            tracing::error!(%error, "failed to publish a change of issuing stops");
        }
    }

    /// Stops issuing credentials for a role or principal of `account` on every replica, until
    /// [`Sts::resume_issuing`]. Existing sessions are untouched (revoke them too).
    pub async fn stop_issuing(&self, account: &Account, arn: &str, by: &str) -> Result<IssuingStop> {
        check_owned(account, arn)?;
        let stop = IssuingStop {
            account: account.id().to_owned(),
            arn: arn.to_owned(),
            stopped_by: by.to_owned(),
            stopped_at: self.now_micros(),
        };
        let key = stop_key(arn);
        iam::put_blind(&*self.store, Key::new(&Namespace::global(), ISSUING_STOP, &key), &stop).await?;
        self.revocations.inner.write().unwrap_or_else(PoisonError::into_inner).stops.insert(key, stop.clone());
        self.announce_issuing_change(arn).await;
        tracing::info!(target: "tessera::audit", stopped_by = by, arn, "issuing stopped");
        Ok(stop)
    }

    /// Lifts a stop of issuing; returns the stop that was in force, if any.
    pub async fn resume_issuing(&self, account: &Account, arn: &str, by: &str) -> Result<Option<IssuingStop>> {
        check_owned(account, arn)?;
        let key = stop_key(arn);
        let store_key = Key::new(&Namespace::global(), ISSUING_STOP, &key);
        let Some(stop) = iam::load::<S, IssuingStop>(&*self.store, &store_key).await? else { return Ok(None) };
        self.store.commit(Transaction::new().delete(store_key)).await?;
        self.revocations.inner.write().unwrap_or_else(PoisonError::into_inner).stops.remove(&key);
        self.announce_issuing_change(arn).await;
        tracing::info!(target: "tessera::audit", resumed_by = by, arn, "issuing resumed");
        Ok(Some(stop))
    }

    /// The revocations of `account` of the last [`AUDIT_RETENTION_SECS`] and more (oldest
    /// first) and its issuing stops, read from the store: who made each, when, and what it covers.
    pub async fn list_revocations(&self, account: &Account) -> Result<RevocationList> {
        let mut revocations: Vec<Revocation> =
            load_all(&*self.store).await?.into_iter().filter(|r| r.account() == account.id()).collect();
        revocations.sort_by_key(|r| r.made().1);
        let mut stops: Vec<IssuingStop> =
            load_stops(&*self.store).await?.into_iter().filter(|s| s.account == account.id()).collect();
        stops.sort_by_key(|s| s.stopped_at);
        Ok(RevocationList { revocations, stops })
    }
}

/// What a time-bounded revocation covers.
#[derive(Debug, Clone, Copy)]
enum Covers {
    Role,
    Principal,
}

/// An account may revoke only its own principals' sessions.
fn check_owned(account: &Account, arn: &str) -> Result<()> {
    match tessera_arn::Arn::parse(arn) {
        Ok(parsed) if parsed.account == account.id() => Ok(()),
        Ok(_) => Err(Error::invalid_input(format!("{arn} does not belong to account {}.", account.id()))),
        Err(_) => Err(Error::invalid_input(format!("ARN {arn} is not valid."))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn revocations_are_kept_as_the_audit_trail_for_a_while_after_they_stop_mattering() {
        let store = tessera_store::MemoryStore::new();
        let revocation = Revocation::Role {
            role_arn: "arn:aws:iam::111111111111:role/r".into(),
            issued_up_to: 1_000,
            issued_up_to_micros: 1_000_000_000,
            revoked_by: "arn:aws:iam::111111111111:root".into(),
            revoked_at: 1_000_000_000,
        };
        iam::put_blind(&store, revocation.key(), &revocation).await.unwrap();
        let obsolete = 1_000 + 1 + MAX_SESSION_SECS;
        assert!(revocation.in_force(obsolete - 1) && !revocation.in_force(obsolete));
        assert_eq!(sweep(&store, obsolete + AUDIT_RETENTION_SECS - 1).await.unwrap(), 0);
        assert_eq!(load_all(&store).await.unwrap(), [revocation]);
        assert_eq!(sweep(&store, obsolete + AUDIT_RETENTION_SECS).await.unwrap(), 1);
        assert!(load_all(&store).await.unwrap().is_empty());
    }

    /// Expired sessions go, page by page, however many there are; live ones stay.
    #[tokio::test]
    async fn the_sweep_removes_every_expired_session_across_pages() {
        let store = tessera_store::MemoryStore::new();
        let total = SWEEP_PAGE * 2 + 101;
        for i in 0..total {
            let record = SessionRecord {
                account: "111111111111".into(),
                session_id: format!("s{i}"),
                principal_arn: "arn:aws:sts::111111111111:assumed-role/r/s".into(),
                role_arn: None,
                source_user_arn: None,
                issued_at: 0,
                // Every third session is still live at 1,000.
                expires_at: if i % 3 == 0 { 2_000 } else { 500 },
            };
            iam::put_blind(&store, session_key(&format!("ASIA{i:016}")), &record).await.unwrap();
        }
        let live = total.div_ceil(3);
        assert_eq!(sweep(&store, 1_000).await.unwrap(), total - live);
        let left = iam::scan_all::<_, SessionRecord>(&store, &Namespace::global()).await.unwrap();
        assert_eq!(left.len(), live);
        assert!(left.iter().all(|(_, record)| record.expires_at == 2_000));
        assert_eq!(sweep(&store, 1_000).await.unwrap(), 0);
    }

    #[test]
    fn stops_match_users_and_roles_by_name_whatever_the_path() {
        assert_eq!(
            stop_key("arn:aws:iam::111111111111:role/ops/Deploy"),
            stop_key("arn:aws:iam::111111111111:role/deploy")
        );
        assert_eq!(stop_key("arn:aws:iam::111111111111:user/a/Alice"), "111111111111:user/alice");
        assert_ne!(stop_key("arn:aws:iam::111111111111:user/x"), stop_key("arn:aws:iam::111111111111:role/x"));
        assert_eq!(stop_key("not an arn"), "not an arn");
    }

    #[test]
    fn records_of_whole_second_cut_offs_still_cut_off_their_whole_second() {
        // A record as replicas before microsecond cut-offs wrote it.
        let old: Revocation =
            serde_json::from_str(r#"{"Role":{"role_arn":"arn:aws:iam::111111111111:role/r","issued_up_to":100}}"#)
                .unwrap();
        assert_eq!(old.cut_off_micros(), Some(100_999_999));
        assert_eq!(old.made(), ("", 0));
        let new = Revocation::Role {
            role_arn: "arn:aws:iam::111111111111:role/r".into(),
            issued_up_to: 100,
            issued_up_to_micros: 100_000_123,
            revoked_by: "arn:aws:iam::111111111111:root".into(),
            revoked_at: 100_000_123,
        };
        assert_eq!(new.cut_off_micros(), Some(100_000_123));
        // The channel carries revocations as before, and issuing changes beside them.
        let message = serde_json::to_vec(&new).unwrap();
        assert!(matches!(serde_json::from_slice::<Notice>(&message).unwrap(), Notice::Revocation(r) if r == new));
        let change = serde_json::to_vec(&Notice::Issuing(IssuingNotice::IssuingChanged { arn: "x".into() })).unwrap();
        assert!(matches!(serde_json::from_slice::<Notice>(&change).unwrap(), Notice::Issuing(_)));
    }
}
