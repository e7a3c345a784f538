//! Session records and revocation.
//!
//! A revocation is written to the store (global `revocation:` records, so one scan loads them all)
//! and published on [`CHANNEL`]; every replica applies it to its in-memory [`Revocations`] as the
//! message arrives, and reloads everything from the store when its subscription lags or drops, so
//! a revocation made on one replica holds on all of them well within a second. Checking a session
//! is then a few hash lookups, with no storage read.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera_credentials::SessionClaims;
use tessera_identity::{Account, Error, Result};
use tessera_store::iam::{self, Record};
use tessera_store::{Key, Kind, Namespace, Store, SubscriptionError, Transaction, Tx, update};

use crate::{MAX_SESSION_SECS, Sts};

/// The channel revocations are published on.
pub const CHANNEL: &str = "tessera.revocations";

const SESSION: Kind = Kind::new("session");
const REVOCATION: Kind = Kind::new("revocation");

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

/// One revocation: a session, or every session of a role or principal issued up to a time.
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
    },
    Role {
        role_arn: String,
        issued_up_to: u64,
    },
    Principal {
        principal_arn: String,
        issued_up_to: u64,
    },
}

impl Record for Revocation {
    const KIND: Kind = REVOCATION;
}

impl Revocation {
    fn key(&self) -> Key {
        let rest = match self {
            Self::Session { account, session_id, .. } => format!("session:{account}:{session_id}"),
            Self::Role { role_arn, .. } => format!("role:{}", role_arn.to_ascii_lowercase()),
            Self::Principal { principal_arn, .. } => format!("principal:{}", principal_arn.to_ascii_lowercase()),
        };
        Key::new(&Namespace::global(), REVOCATION, &rest)
    }

    /// When the record can go: no session it could match outlives this.
    fn obsolete_after(&self) -> u64 {
        match self {
            Self::Session { expires_at, .. } => *expires_at,
            Self::Role { issued_up_to, .. } | Self::Principal { issued_up_to, .. } => {
                issued_up_to.saturating_add(MAX_SESSION_SECS)
            }
        }
    }
}

/// This replica's copy of every revocation in force.
#[derive(Debug, Default)]
pub(crate) struct Revocations {
    inner: RwLock<Sets>,
}

#[derive(Debug, Default)]
struct Sets {
    /// (account, session id) → when the record can go.
    sessions: HashMap<(String, String), u64>,
    roles: HashMap<String, u64>,
    principals: HashMap<String, u64>,
}

impl Revocations {
    pub(crate) fn apply(&self, revocation: &Revocation) {
        let mut sets = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        match revocation {
            Revocation::Session { account, session_id, expires_at } => {
                sets.sessions.insert((account.clone(), session_id.clone()), *expires_at);
            }
            Revocation::Role { role_arn, issued_up_to } => {
                let slot = sets.roles.entry(role_arn.to_ascii_lowercase()).or_default();
                *slot = (*slot).max(*issued_up_to);
            }
            Revocation::Principal { principal_arn, issued_up_to } => {
                let slot = sets.principals.entry(principal_arn.to_ascii_lowercase()).or_default();
                *slot = (*slot).max(*issued_up_to);
            }
        }
    }

    fn replace(&self, all: Vec<Revocation>) {
        *self.inner.write().unwrap_or_else(PoisonError::into_inner) = Sets::default();
        for revocation in &all {
            self.apply(revocation);
        }
    }

    /// Whether `claims` names a revoked session.
    pub(crate) fn is_revoked(&self, claims: &SessionClaims) -> bool {
        let sets = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        if sets.sessions.contains_key(&(claims.account.clone(), claims.session_id.clone())) {
            return true;
        }
        let up_to = |map: &HashMap<String, u64>, arn: Option<&str>| {
            arn.and_then(|arn| map.get(&arn.to_ascii_lowercase())).is_some_and(|&t| claims.issued_at <= t)
        };
        up_to(&sets.roles, claims.role_arn.as_deref())
            || up_to(&sets.principals, Some(&claims.principal_arn))
            || up_to(&sets.principals, claims.source_user_arn.as_deref())
    }
}

async fn load_all<S: Store + ?Sized>(store: &S) -> Result<Vec<Revocation>> {
    Ok(iam::scan_all::<S, Revocation>(store, &Namespace::global()).await?.into_iter().map(|(_, r)| r).collect())
}

/// Loads the revocations and keeps them current: a task follows the channel (reloading after a
/// lag or a dropped subscription) and sweeps expired records once a minute.
pub(crate) async fn follow<S: Store>(
    store: Arc<S>,
    revocations: Arc<Revocations>,
    clock: Arc<dyn tessera_identity::Clock>,
) -> Result<()> {
    let mut subscription = store.subscribe(CHANNEL).await?;
    // Subscribe first, then load: a revocation published in between is seen twice, never missed.
    revocations.replace(load_all(&*store).await?);
    // The tasks hold the store and the revocations weakly, so they end when the service is dropped
    // (and an embedded store can be reopened in the same process).
    let weak = Arc::downgrade(&revocations);
    let weak_store = Arc::downgrade(&store);
    tokio::spawn(async move {
        loop {
            let message = subscription.recv().await;
            let (Some(revocations), Some(store)) = (weak.upgrade(), weak_store.upgrade()) else { return };
            match message {
                Ok(bytes) => match serde_json::from_slice::<Revocation>(&bytes) {
                    Ok(revocation) => revocations.apply(&revocation),
                    Err(error) => tracing::warn!(%error, "ignoring a malformed revocation message"),
                },
                Err(SubscriptionError::Lagged(_)) => {
                    if let Ok(all) = load_all(&*store).await {
                        revocations.replace(all);
                    }
                }
                Err(SubscriptionError::Closed) => {
                    // Resubscribe, then reload what may have been missed meanwhile.
                    match store.subscribe(CHANNEL).await {
                        Ok(fresh) => {
                            subscription = fresh;
                            if let Ok(all) = load_all(&*store).await {
                                revocations.replace(all);
                            }
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

/// Deletes expired session records and revocations that can no longer match anything.
pub(crate) async fn sweep<S: Store + ?Sized>(store: &S, now: u64) -> Result<usize> {
    let mut removed = 0;
    let mut txn = Transaction::new();
    for (suffix, record) in iam::scan_all::<S, SessionRecord>(store, &Namespace::global()).await? {
        if record.expires_at <= now {
            txn = txn.delete(Key::new(&Namespace::global(), SESSION, &suffix));
            removed += 1;
        }
    }
    for (_, revocation) in iam::scan_all::<S, Revocation>(store, &Namespace::global()).await? {
        if revocation.obsolete_after() <= now {
            txn = txn.delete(revocation.key());
            removed += 1;
        }
    }
    if removed > 0 {
        store.commit(txn).await?;
    }
    Ok(removed)
}

pub(crate) fn session_key(access_key_id: &str) -> Key {
    Key::new(&Namespace::global(), SESSION, access_key_id)
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
        iam::put_blind(&*self.store, session_key(&claims.access_key_id), &record).await?;
        Ok(())
    }

    /// The registry entry of a temporary access key, if it is still recorded.
    pub async fn session(&self, access_key_id: &str) -> Result<Option<SessionRecord>> {
        Ok(iam::load(&*self.store, &session_key(access_key_id)).await?)
    }

    async fn revoke(&self, revocation: Revocation) -> Result<()> {
        let key = revocation.key();
        let (key, record) = (&key, &revocation);
        update(&*self.store, |tx: Tx<'_, S>| async move {
            // Keep the later cut-off when two revocations of one role or principal race.
            let merged = match (tx.read::<Revocation>(key).await?, record) {
                (Some(Revocation::Role { issued_up_to: old, .. }), Revocation::Role { role_arn, issued_up_to }) => {
                    Revocation::Role { role_arn: role_arn.clone(), issued_up_to: old.max(*issued_up_to) }
                }
                (
                    Some(Revocation::Principal { issued_up_to: old, .. }),
                    Revocation::Principal { principal_arn, issued_up_to },
                ) => {
                    Revocation::Principal { principal_arn: principal_arn.clone(), issued_up_to: old.max(*issued_up_to) }
                }
                _ => record.clone(),
            };
            tx.write(key.clone(), &merged);
            Ok::<_, Error>(())
        })
        .await?;
        self.revocations.apply(&revocation);
        let message = serde_json::to_vec(&revocation).unwrap_or_default();
        if let Err(error) = self.store.publish(CHANNEL, &message).await {
            // Replicas still pick it up on their next reload; say so loudly.
            tracing::error!(%error, "failed to publish a revocation");
        }
        Ok(())
    }

    /// Revokes one session of `account` (known or not: revoking is idempotent, and the id may
    /// belong to a session whose record was swept). Only a session of `account` is affected.
    pub async fn revoke_session(&self, account: &Account, session_id: &str) -> Result<()> {
        if session_id.is_empty() || session_id.len() > 128 {
            return Err(Error::invalid_input("SessionId must have 1 to 128 characters."));
        }
        let expires_at = self.now_secs().saturating_add(MAX_SESSION_SECS);
        let revocation =
            Revocation::Session { account: account.id().to_owned(), session_id: session_id.to_owned(), expires_at };
        self.revoke(revocation).await
    }

    /// Revokes every session of a role of `account` issued up to `issued_up_to` (unix seconds).
    pub async fn revoke_role_sessions(
        &self,
        account: &Account,
        role_arn: &str,
        issued_up_to: Option<u64>,
    ) -> Result<()> {
        check_owned(account, role_arn)?;
        let issued_up_to = issued_up_to.unwrap_or_else(|| self.now_secs());
        self.revoke(Revocation::Role { role_arn: role_arn.to_owned(), issued_up_to }).await
    }

    /// Revokes every session of a principal of `account` (the role session, federated user or user
    /// itself, or sessions started from that user's keys) issued up to `issued_up_to`.
    pub async fn revoke_principal_sessions(
        &self,
        account: &Account,
        principal_arn: &str,
        issued_up_to: Option<u64>,
    ) -> Result<()> {
        check_owned(account, principal_arn)?;
        let issued_up_to = issued_up_to.unwrap_or_else(|| self.now_secs());
        self.revoke(Revocation::Principal { principal_arn: principal_arn.to_owned(), issued_up_to }).await
    }
}

/// An account may revoke only its own principals' sessions.
fn check_owned(account: &Account, arn: &str) -> Result<()> {
    match tessera_arn::Arn::parse(arn) {
        Ok(parsed) if parsed.account == account.id() => Ok(()),
        Ok(_) => Err(Error::invalid_input(format!("{arn} does not belong to account {}.", account.id()))),
        Err(_) => Err(Error::invalid_input(format!("ARN {arn} is not valid."))),
    }
}
