//! What decisions about a principal need from the store (its identity policies, a user's groups'
//! included, its permissions boundary, its unique id and tags, the session policies a session
//! carries, the owner and secret of a long-term access key, and the trust policies of the roles it
//! assumes), compiled once from the stored documents and shared as `Arc`s until the account's
//! policy epoch moves.
//!
//! ```text
//! lookup(account, entity) --hit (epoch unchanged)--> Arc<Principal>         ~ a hash lookup
//!                         --miss--> read epoch, read documents, compile --> cache, Arc<Principal>
//! EpochSubscription --"<account> <epoch>"--> seen[account] = epoch  (entries built before it miss)
//! ```
//!
//! **Invalidation.** Every write that can change a permission bumps its account's epoch and
//! announces it after the commit ([`tessera_store::iam::publish_epoch`]); a follower task records the
//! newest epoch seen per account, and the epochs this process announced itself count at once
//! ([`tessera_store::iam::published_epoch`]), so a replica reads its own writes. An entry remembers the epoch it was built at (read *before* the
//! documents, so a change racing the build leaves the entry older than the change) and is used only
//! while no newer epoch has been seen for its account. When the subscription lags, every entry is
//! dropped; when it closes (the store is unreachable), entries keep being served for at most
//! [`CacheConfig::max_staleness`], then lookups go to the store again and fail closed if it is
//! still down; after resubscribing, every entry is dropped (announcements may have been missed).
//!
//! Documents were validated when they were written, so they are compiled here without being
//! validated again ([`tessera_policy::CompiledPolicy::parse_stored`]), and each document once: a
//! compiled document is kept by its id and exact text (which no epoch can change), so when an
//! account's epoch moves the principals it drops are rebuilt from documents already compiled, and
//! a managed policy attached to a thousand principals is compiled once, not a thousand times.
//! Those are bounded by [`DOCUMENT_BYTES`] of document text, least recently used tenth first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use tessera_credentials::SessionPolicy;
use tessera_identity::{AccessKeyIdentity, Account, Identity, Result};
use tessera_policy::{CompiledPolicy, PolicySet};
use tessera_policy_service::Policies;
use tessera_proto::ErrorCode;
use tessera_store::iam::{AccessKeyIndexRecord, EntityKind, EpochSubscription, Tag};
use tessera_store::{Namespace, Store, SubscriptionError};

/// How the cache behaves.
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    /// The most entries kept (principals and session-policy sets together); the least recently
    /// used tenth goes when it is full.
    pub capacity: usize,
    /// How long entries are still served while the epoch channel is down.
    pub max_staleness: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self { capacity: 100_000, max_staleness: Duration::from_secs(30) }
    }
}

/// What a decision needs of a user or role (or group), compiled.
#[derive(Debug)]
pub struct Principal {
    /// The entity's unique id: a session issued for another id must not use these policies.
    pub unique_id: String,
    /// The entity's tags (`aws:PrincipalTag/*`).
    pub tags: Vec<Tag>,
    /// Identity policies: the entity's inline and attached ones, then those of a user's groups.
    pub identity: Arc<PolicySet>,
    /// The permissions boundary, if any.
    pub boundary: Option<Arc<PolicySet>>,
    /// The permissions boundary's ARN (`iam:PermissionsBoundary` of requests that act on the
    /// entity).
    pub boundary_arn: Option<String>,
}

/// Counters of the cache, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    /// Hits served while the epoch channel was down (within the staleness bound).
    pub stale_hits: u64,
    pub evictions: u64,
    /// Entries now.
    pub entries: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CacheKey {
    Principal {
        ns: String,
        kind: EntityKind,
        name: String,
    },
    Session {
        ns: String,
        inline: Option<String>,
        arns: Vec<String>,
    },
    /// A role's trust policy, by the role's unique id and the document as evaluated (the stored
    /// one, or its rewriting for a caller whose ARN a re-created entity took over): a changed
    /// document is another key, so it is never served stale whatever the epoch.
    Trust {
        ns: String,
        role_id: String,
        document: String,
    },
    /// A long-term access key by id (its account is learnt from the store).
    AccessKey(String),
}

#[derive(Debug, Clone)]
enum Value {
    Principal(Arc<Principal>),
    /// Session policies or a trust policy.
    Policies(Arc<PolicySet>),
    AccessKey(Arc<AccessKeyIdentity>),
}

#[derive(Debug)]
struct Slot {
    value: Value,
    /// The namespace tag whose epoch the entry depends on.
    ns: Arc<str>,
    /// The account's epoch when the entry was built.
    epoch: u64,
    /// The follower's generation when the entry was built (a resubscription bumps it).
    generation: u64,
    /// For eviction: the tick of the last use.
    used: AtomicU64,
}

/// How much document text the compiled documents kept may add up to (their compiled forms are of
/// the same order).
const DOCUMENT_BYTES: usize = 64 << 20;

/// Compiled documents by id, then exact text. A policy has few texts (its versions), so they are
/// compared rather than hashed: hashing 5 KB on every lookup cost more than the comparison.
#[derive(Debug, Default)]
struct Documents {
    by_id: HashMap<Box<str>, Vec<Document>>,
    /// The sum of the texts' lengths.
    bytes: usize,
    tick: u64,
}

#[derive(Debug)]
struct Document {
    text: Box<str>,
    compiled: CompiledPolicy,
    used: u64,
}

impl Documents {
    fn get(&mut self, id: &str, text: &str) -> Option<CompiledPolicy> {
        self.tick += 1;
        let tick = self.tick;
        let found = self.by_id.get_mut(id)?.iter_mut().find(|d| &*d.text == text)?;
        found.used = tick;
        Some(found.compiled.clone())
    }

    /// Keeps `compiled`; returns how many documents were evicted to make room.
    fn insert(&mut self, id: &str, text: &str, compiled: CompiledPolicy, budget: usize) -> u64 {
        let mut evicted = 0;
        if self.bytes + text.len() > budget {
            let mut ages: Vec<u64> = self.by_id.values().flatten().map(|d| d.used).collect();
            if !ages.is_empty() {
                let cut = (ages.len() / 10).max(1);
                let (_, threshold, _) = ages.select_nth_unstable(cut - 1);
                let threshold = *threshold;
                let mut freed = 0;
                for texts in self.by_id.values_mut() {
                    texts.retain(|d| {
                        let keep = d.used > threshold;
                        if !keep {
                            freed += d.text.len();
                            evicted += 1;
                        }
                        keep
                    });
                }
                self.by_id.retain(|_, texts| !texts.is_empty());
                self.bytes -= freed;
            }
        }
        self.tick += 1;
        let texts = self.by_id.entry(id.into()).or_default();
        if !texts.iter().any(|d| &*d.text == text) {
            self.bytes += text.len();
            texts.push(Document { text: text.into(), compiled, used: self.tick });
        }
        evicted
    }
}

/// What the epoch follower knows.
#[derive(Debug, Default)]
struct Epochs {
    /// The newest epoch announced per namespace tag.
    seen: FastMap<String, u64>,
    generation: u64,
    /// Since when the channel is down, if it is.
    down_since: Option<Instant>,
}

/// The cache of compiled principals and session-policy sets, shared by every decision of a
/// process.
#[derive(Debug)]
pub struct LayerCache<S> {
    store: Arc<S>,
    policies: Policies<S>,
    config: CacheConfig,
    /// Read on every decision (a hit takes the read locks only: its use tick is atomic).
    slots: RwLock<FastMap<CacheKey, Slot>>,
    documents: Mutex<Documents>,
    epochs: RwLock<Epochs>,
    tick: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    stale_hits: AtomicU64,
    evictions: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// The cache's maps hash keys the caller cannot choose freely (key ids, names in its own account)
/// with foldhash: SipHash cost more per decision than the rest of a hit.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

fn internal(what: &str) -> tessera_identity::Error {
    tracing::error!(what, "a stored policy document does not parse");
    tessera_identity::Error::new(
        ErrorCode::ServiceFailure,
        "The request processing has failed because of an unknown error.",
    )
}

impl<S: Store> LayerCache<S> {
    /// A cache over `store`, following its epoch channel from now on (the subscription is made
    /// before this returns, so no change after it is missed).
    pub async fn start(store: Arc<S>, policies: Policies<S>, config: CacheConfig) -> Result<Arc<Self>> {
        let subscription = EpochSubscription::subscribe(&*store).await?;
        let cache = Arc::new(Self {
            store,
            policies,
            config,
            slots: RwLock::new(FastMap::default()),
            documents: Mutex::new(Documents::default()),
            epochs: RwLock::new(Epochs::default()),
            tick: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stale_hits: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        });
        tokio::spawn(follow(Arc::downgrade(&cache), subscription));
        Ok(cache)
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            stale_hits: self.stale_hits.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: read(&self.slots).len() as u64,
        }
    }

    /// The compiled policies, unique id and tags of a user, group or role; `None` when it does
    /// not exist.
    pub async fn principal(&self, account: &Account, kind: EntityKind, name: &str) -> Result<Option<Arc<Principal>>> {
        let key =
            CacheKey::Principal { ns: account.ns().tag().to_owned(), kind, name: tessera_store::iam::folded(name) };
        if let Some(Value::Principal(found)) = self.cached(&key) {
            return Ok(Some(found));
        }
        // The miss reads the store: boxed, so that every hit's future stays small (hits are moved
        // through several futures per request).
        Box::pin(self.principal_miss(key, account, kind, name)).await
    }

    async fn principal_miss(
        &self,
        key: CacheKey,
        account: &Account,
        kind: EntityKind,
        name: &str,
    ) -> Result<Option<Arc<Principal>>> {
        let (epoch, generation) = self.build_marks(account.ns()).await?;
        let found = match self.policies.principal_policies(account, kind, name).await {
            Ok(found) => Arc::new(self.compile_principal(found)?),
            // Not cached: creating an entity bumps no epoch (it grants nothing by itself).
            Err(error) if error.code() == ErrorCode::NoSuchEntity => return Ok(None),
            Err(error) => return Err(error),
        };
        self.insert(key, account.ns().tag(), Value::Principal(Arc::clone(&found)), epoch, generation);
        Ok(Some(found))
    }

    /// The session policies a session carries, compiled as they are now: a managed policy deleted
    /// since contributes nothing, and the set is never empty (an empty session layer would mean
    /// "no session policy", which caps nothing).
    pub async fn session(&self, account: &Account, policy: &SessionPolicy) -> Result<Arc<PolicySet>> {
        let key = CacheKey::Session {
            ns: account.ns().tag().to_owned(),
            inline: policy.inline.clone(),
            arns: policy.policy_arns.clone(),
        };
        if let Some(Value::Policies(set)) = self.cached(&key) {
            return Ok(set);
        }
        Box::pin(self.session_miss(key, account, policy)).await
    }

    async fn session_miss(&self, key: CacheKey, account: &Account, policy: &SessionPolicy) -> Result<Arc<PolicySet>> {
        let (epoch, generation) = self.build_marks(account.ns()).await?;
        let mut compiled = Vec::with_capacity(policy.policy_arns.len() + 1);
        if let Some(text) = &policy.inline {
            // Validated when the session was issued.
            compiled.push(
                self.compile("session-policy", text).unwrap_or_else(|_| CompiledPolicy::nothing("session-policy")),
            );
        }
        for arn in &policy.policy_arns {
            let found = match self.policies.managed_document(account, arn).await? {
                Some((_, document)) => self.compile(arn, &document).ok(),
                None => None,
            };
            compiled.push(found.unwrap_or_else(|| CompiledPolicy::nothing(arn.as_str())));
        }
        if compiled.is_empty() {
            // GetFederationToken without session policies: a session layer that allows nothing.
            compiled.push(CompiledPolicy::nothing("session-policy"));
        }
        let set = Arc::new(PolicySet::new(compiled));
        self.insert(key, account.ns().tag(), Value::Policies(Arc::clone(&set)), epoch, generation);
        Ok(set)
    }

    /// A role's trust policy, compiled from `document` (the stored trust policy, as
    /// `trust_as_stored` gives it for the caller) once per role and document.
    pub async fn trust(&self, account: &Account, role_id: &str, document: &str) -> Result<Arc<PolicySet>> {
        let key = CacheKey::Trust {
            ns: account.ns().tag().to_owned(),
            role_id: role_id.to_owned(),
            document: document.to_owned(),
        };
        if let Some(Value::Policies(set)) = self.cached(&key) {
            return Ok(set);
        }
        Box::pin(self.trust_miss(key, account, document)).await
    }

    async fn trust_miss(&self, key: CacheKey, account: &Account, document: &str) -> Result<Arc<PolicySet>> {
        let (epoch, generation) = self.build_marks(account.ns()).await?;
        let set = Arc::new(PolicySet::new(vec![self.compile("trust", document)?]));
        self.insert(key, account.ns().tag(), Value::Policies(Arc::clone(&set)), epoch, generation);
        Ok(set)
    }

    /// The owner, status and secret of a long-term access key, through `identity` on a miss;
    /// `None` for a key that does not exist (not cached, so unknown ids cannot fill the cache).
    /// Every change to a key or its user moves the account's epoch.
    pub async fn access_key(&self, identity: &Identity<S>, key_id: &str) -> Result<Option<Arc<AccessKeyIdentity>>> {
        let key = CacheKey::AccessKey(key_id.to_owned());
        if let Some(Value::AccessKey(found)) = self.cached(&key) {
            return Ok(Some(found));
        }
        Box::pin(self.access_key_miss(key, identity, key_id)).await
    }

    async fn access_key_miss(
        &self,
        key: CacheKey,
        identity: &Identity<S>,
        key_id: &str,
    ) -> Result<Option<Arc<AccessKeyIdentity>>> {
        // The index names the account; its epoch is read before the key's record.
        let index_key = tessera_store::Key::new(&Namespace::global(), tessera_store::iam::ACCESS_KEY, key_id);
        let Some(index) = tessera_store::iam::load::<S, AccessKeyIndexRecord>(&*self.store, &index_key).await? else {
            return Ok(None);
        };
        let Ok(account) = Account::new(&index.account) else { return Ok(None) };
        let (epoch, generation) = self.build_marks(account.ns()).await?;
        let Some(found) = identity.authenticate_access_key(key_id).await? else { return Ok(None) };
        let found = Arc::new(found);
        self.insert(key, found.account.ns().tag(), Value::AccessKey(Arc::clone(&found)), epoch, generation);
        Ok(Some(found))
    }

    fn compile_principal(&self, found: tessera_policy_service::PrincipalPolicies) -> Result<Principal> {
        let mut identity = Vec::with_capacity(found.identity.len());
        for policy in &found.identity {
            identity.push(self.compile(&policy.source_id, &policy.document)?);
        }
        let boundary = match &found.boundary {
            Some((arn, document)) => Some(Arc::new(PolicySet::new(vec![self.compile(arn, document)?]))),
            None => None,
        };
        Ok(Principal {
            unique_id: found.unique_id,
            tags: found.tags,
            identity: Arc::new(PolicySet::new(identity)),
            boundary,
            boundary_arn: found.boundary.map(|(arn, _)| arn),
        })
    }

    /// `document` (validated when it was written) compiled, once per id and text.
    fn compile(&self, id: &str, document: &str) -> Result<CompiledPolicy> {
        if let Some(compiled) = lock(&self.documents).get(id, document) {
            return Ok(compiled);
        }
        let compiled = CompiledPolicy::parse_stored(id, document).map_err(|_| internal(id))?;
        let evicted = lock(&self.documents).insert(id, document, compiled.clone(), DOCUMENT_BYTES);
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
        Ok(compiled)
    }

    /// Forgets every compiled document too (what [`LayerCache::clear`] keeps): the next lookups
    /// compile everything again. For measuring the coldest miss.
    pub fn clear_documents(&self) {
        *lock(&self.documents) = Documents::default();
    }

    /// The entry for `key`, if it is still valid: one read of the epochs and one of the slots,
    /// nothing allocated.
    fn cached(&self, key: &CacheKey) -> Option<Value> {
        let epochs = read(&self.epochs);
        let stale = epochs.down_since.map(|since| since.elapsed());
        if stale.is_some_and(|down| down > self.config.max_staleness) {
            // The channel has been down too long to trust anything cached: go to the store.
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let valid = {
            let slots = read(&self.slots);
            slots.get(key).filter(|slot| slot.generation == epochs.generation).and_then(|slot| {
                slot.used.store(self.tick.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
                // This process's own announcements count at once (read-your-writes on one replica).
                let seen = epochs.seen.get(&*slot.ns).copied();
                let newest = seen.max(tessera_store::iam::published_epoch(&*self.store, &slot.ns));
                newest.is_none_or(|newest| newest <= slot.epoch).then(|| slot.value.clone())
            })
        };
        drop(epochs);
        match valid {
            Some(value) => {
                let counter = if stale.is_some() { &self.stale_hits } else { &self.hits };
                counter.fetch_add(1, Ordering::Relaxed);
                Some(value)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// The marks an entry built now carries: the account's epoch, read before its documents, and
    /// the follower's generation.
    async fn build_marks(&self, ns: &Namespace) -> Result<(u64, u64)> {
        let generation = read(&self.epochs).generation;
        let epoch = tessera_store::iam::current_epoch(&*self.store, ns).await?;
        Ok((epoch, generation))
    }

    fn insert(&self, key: CacheKey, ns: &str, value: Value, epoch: u64, generation: u64) {
        let mut slots = write(&self.slots);
        if slots.len() >= self.config.capacity && !slots.contains_key(&key) {
            // Evict the least recently used tenth in one pass, so that eviction is rare.
            let mut ages: Vec<u64> = slots.values().map(|s| s.used.load(Ordering::Relaxed)).collect();
            let cut = (slots.len() / 10).max(1);
            let (_, threshold, _) = ages.select_nth_unstable(cut - 1);
            let threshold = *threshold;
            let before = slots.len();
            slots.retain(|_, slot| slot.used.load(Ordering::Relaxed) > threshold);
            self.evictions.fetch_add((before - slots.len()) as u64, Ordering::Relaxed);
        }
        let used = AtomicU64::new(self.tick.fetch_add(1, Ordering::Relaxed));
        slots.insert(key, Slot { value, ns: ns.into(), epoch, generation, used });
    }

    /// Drops every entry, as when the epoch channel lagged: the next lookups read the store (and
    /// reuse the documents compiled already).
    pub fn clear(&self) {
        self.invalidate_all();
    }

    /// Drops every entry (the follower lagged or resubscribed).
    fn invalidate_all(&self) {
        let mut epochs = write(&self.epochs);
        epochs.generation += 1;
        epochs.seen.clear();
        drop(epochs);
        write(&self.slots).clear();
    }
}

/// Follows the epoch channel for as long as the cache lives.
async fn follow<S: Store>(cache: Weak<LayerCache<S>>, mut subscription: EpochSubscription) {
    loop {
        let message = subscription.recv().await;
        let Some(live) = cache.upgrade() else { return };
        match message {
            Ok(change) => {
                let mut epochs = write(&live.epochs);
                let seen = epochs.seen.entry(change.account).or_insert(0);
                *seen = (*seen).max(change.epoch);
            }
            Err(SubscriptionError::Lagged(_)) => {
                tracing::warn!("the policy epoch channel lagged; dropping every cached principal");
                live.invalidate_all();
            }
            Err(SubscriptionError::Closed) => {
                let since = *write(&live.epochs).down_since.get_or_insert_with(Instant::now);
                tracing::warn!(
                    staleness_bound_secs = live.config.max_staleness.as_secs(),
                    down_for_ms = since.elapsed().as_millis() as u64,
                    "the policy epoch channel is down; serving cached principals within the staleness bound, then \
                     reading the store"
                );
                match EpochSubscription::subscribe(&*live.store).await {
                    Ok(fresh) => {
                        subscription = fresh;
                        // Announcements may have been missed while it was down.
                        live.invalidate_all();
                        write(&live.epochs).down_since = None;
                        tracing::info!("the policy epoch channel is back; the cache starts afresh");
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot resubscribe to policy epochs; retrying");
                        drop(live);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(action: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"{action}","Resource":"*"}}}}"#)
    }

    #[test]
    fn documents_are_kept_by_id_and_exact_text_within_their_budget() {
        let mut documents = Documents::default();
        let (a, b) = (policy("s3:GetObject"), policy("s3:PutObject"));
        let compiled = CompiledPolicy::parse_stored("p", &a).unwrap();
        assert_eq!(documents.insert("p", &a, compiled, 1 << 20), 0);
        assert!(documents.get("p", &a).is_some());
        assert!(documents.get("p", &b).is_none(), "another text of the same policy is another document");
        assert!(documents.get("q", &a).is_none(), "the id names the policy in explanations");
        assert_eq!(documents.bytes, a.len());

        // A budget of three documents: the fourth evicts the least recently used one.
        let budget = 3 * a.len();
        let mut documents = Documents::default();
        for id in ["1", "2", "3"] {
            documents.insert(id, &a, CompiledPolicy::parse_stored(id, &a).unwrap(), budget);
        }
        assert!(documents.get("1", &a).is_some(), "1 is now the most recently used");
        let evicted = documents.insert("4", &a, CompiledPolicy::parse_stored("4", &a).unwrap(), budget);
        assert_eq!(evicted, 1);
        assert!(documents.get("2", &a).is_none(), "2 was used least recently");
        assert!(documents.get("1", &a).is_some() && documents.get("4", &a).is_some());
        assert_eq!(documents.bytes, 3 * a.len());
    }
}
