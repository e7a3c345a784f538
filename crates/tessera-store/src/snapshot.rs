//! Snapshots of a store's records, for backup, restore and moving data between backends
//! (`tessera admin backup|restore|migrate`). Values are copied as stored: secrets stay sealed.
//!
//! **Consistency.** Every transaction stays in one namespace (crate docs), so one namespace's
//! records as of one moment is what any reader of the store can rely on, and it is what a snapshot
//! guarantees on every backend:
//! - memory and redb: the whole store is read under one lock / one read transaction, so the
//!   snapshot is one moment of the whole store (stronger than needed);
//! - Redis: each namespace is read in pages between two reads of its version counter (`t:{NS}:ver`,
//!   which every committing write advances); when the counter moved the namespace is read again
//!   (up to [`REDIS_PAGED_ATTEMPTS`] times), then once more by one script that reads it all
//!   atomically (blocking the server for that long, which is why it is the fallback). Two
//!   namespaces may be read at different moments, which is what a crash between two of Tessera's
//!   transactions would leave, and what the code above the store already tolerates.
//!
//! **Import** replaces the snapshot's scope (the whole store, or the listed namespaces) with the
//! snapshot's records, all or nothing: one lock (memory), one write transaction (redb), one
//! `MULTI`/`EXEC` guarded by `WATCH` on every touched namespace's counter and index (Redis, retried
//! if a write slipped in between). A Redis Cluster has no transaction across slots: there each
//! namespace is replaced by one script in its slot, all or nothing per namespace, one namespace
//! after another (what an export promises anyway); a whole-store scope is found by `SCAN` on every
//! master. Record versions are kept, and every counter is raised to at least the highest version it
//! covers, never lowered, so versions keep rising after a restore.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;

use crate::{Entry, Key, MemoryStore, Namespace, RedbStore, RedisStore, Store, StoreError};

/// How many times the Redis backend reads a namespace page by page before it reads it in one
/// atomic script instead.
pub const REDIS_PAGED_ATTEMPTS: u32 = 5;

/// What a snapshot covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every namespace of the store. Importing it removes the namespaces it does not hold.
    Whole,
    /// These namespaces only. Importing it replaces them and leaves every other one alone.
    Only(BTreeSet<Namespace>),
}

impl Scope {
    fn covers(&self, ns: &Namespace) -> bool {
        match self {
            Scope::Whole => true,
            Scope::Only(list) => list.contains(ns),
        }
    }
}

/// Every record of one namespace at one moment.
#[derive(Clone, PartialEq, Eq)]
pub struct NamespaceSnapshot {
    pub namespace: Namespace,
    /// The namespace's version counter then (memory and redb: the store-wide counter); at least
    /// every entry's version.
    pub counter: u64,
    /// In key order, each key once, every key in `namespace`.
    pub entries: Vec<Entry>,
}

impl fmt::Debug for NamespaceSnapshot {
    // Values hold sealed secrets and large documents: counts are enough in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamespaceSnapshot")
            .field("namespace", &self.namespace)
            .field("counter", &self.counter)
            .field("entries", &self.entries.len())
            .finish()
    }
}

/// A store's records (or some namespaces' records), as [`Snapshots::export`] read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub scope: Scope,
    /// In namespace order; namespaces without records are left out.
    pub namespaces: Vec<NamespaceSnapshot>,
}

impl Snapshot {
    /// How many records the snapshot holds.
    pub fn len(&self) -> usize {
        self.namespaces.iter().map(|ns| ns.entries.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record at `key`, if the snapshot holds it.
    pub fn get(&self, key: &Key) -> Option<&Entry> {
        let ns = self.namespaces.iter().find(|ns| ns.namespace.tag() == key.namespace_tag())?;
        ns.entries.binary_search_by(|(k, _)| k.cmp(key)).ok().map(|i| &ns.entries[i])
    }

    /// Checks what every backend's import relies on, before anything is written: namespaces in
    /// order and within the scope, entries in key order and in their namespace, counters at least
    /// every version.
    pub fn validate(&self) -> Result<(), StoreError> {
        let invalid = |reason: String| Err(StoreError::InvalidSnapshot(reason));
        for pair in self.namespaces.windows(2) {
            if pair[0].namespace >= pair[1].namespace {
                return invalid(format!("namespace `{}` is out of order or repeated", pair[1].namespace));
            }
        }
        for ns in &self.namespaces {
            if !self.scope.covers(&ns.namespace) {
                return invalid(format!("namespace `{}` is outside the snapshot's scope", ns.namespace));
            }
            for pair in ns.entries.windows(2) {
                if pair[0].0 >= pair[1].0 {
                    return invalid(format!("key `{}` is out of order or repeated", pair[1].0));
                }
            }
            for (key, value) in &ns.entries {
                if key.namespace_tag() != ns.namespace.tag()
                    || key.suffix_after(&Key::namespace_prefix(&ns.namespace)).is_none_or(str::is_empty)
                {
                    return invalid(format!("key `{key}` is not a record of namespace `{}`", ns.namespace));
                }
                if value.version == 0 || value.version > ns.counter {
                    return invalid(format!(
                        "key `{key}` has version {} outside 1..={} (its namespace's counter)",
                        value.version, ns.counter
                    ));
                }
            }
        }
        Ok(())
    }

    /// The highest counter of the snapshot (what a store-wide counter must reach).
    fn max_counter(&self) -> u64 {
        self.namespaces.iter().map(|ns| ns.counter).max().unwrap_or(0)
    }
}

/// Export and import of whole namespaces, beside [`Store`]: every backend implements both.
pub trait Snapshots: Store {
    /// The records of `scope` (see the module docs for how consistent they are).
    fn export(&self, scope: &Scope) -> impl Future<Output = Result<Snapshot, StoreError>> + Send;

    /// Replaces the records of the snapshot's scope with the snapshot's, all or nothing. Refuses an
    /// invalid snapshot ([`Snapshot::validate`]) before writing anything.
    fn import(&self, snapshot: Snapshot) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Groups key-ordered entries by namespace, keeping those in `scope`.
fn group(entries: impl IntoIterator<Item = Entry>, scope: &Scope, counter: u64) -> Result<Snapshot, StoreError> {
    let mut by_ns: BTreeMap<Namespace, Vec<Entry>> = BTreeMap::new();
    for (key, value) in entries {
        let ns = Namespace::from_tag(key.namespace_tag())
            .map_err(|e| StoreError::Corrupt { key: key.to_string(), reason: e.to_string() })?;
        if scope.covers(&ns) {
            by_ns.entry(ns).or_default().push((key, value));
        }
    }
    let namespaces = by_ns
        .into_iter()
        .map(|(namespace, mut entries)| {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            NamespaceSnapshot { namespace, counter, entries }
        })
        .collect();
    Ok(Snapshot { scope: scope.clone(), namespaces })
}

impl Snapshots for MemoryStore {
    async fn export(&self, scope: &Scope) -> Result<Snapshot, StoreError> {
        let (entries, counter) = self.entries_and_version();
        group(entries, scope, counter)
    }

    async fn import(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        snapshot.validate()?;
        self.replace(snapshot);
        Ok(())
    }
}

impl Snapshots for RedbStore {
    async fn export(&self, scope: &Scope) -> Result<Snapshot, StoreError> {
        let scope = scope.clone();
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let (entries, counter) = store.entries_and_version(&scope)?;
            group(entries, &scope, counter)
        })
        .await?
    }

    async fn import(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        snapshot.validate()?;
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.replace(&snapshot)).await?
    }
}

impl Snapshots for RedisStore {
    async fn export(&self, scope: &Scope) -> Result<Snapshot, StoreError> {
        let namespaces = match scope {
            Scope::Whole => self.namespaces().await?,
            Scope::Only(list) => list.clone(),
        };
        let mut out = Vec::new();
        for namespace in namespaces {
            let (counter, entries) = self.read_namespace(&namespace).await?;
            if !entries.is_empty() {
                out.push(NamespaceSnapshot { namespace, counter, entries });
            }
        }
        Ok(Snapshot { scope: scope.clone(), namespaces: out })
    }

    async fn import(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        snapshot.validate()?;
        self.replace(&snapshot).await
    }
}

impl Snapshots for crate::AnyStore {
    async fn export(&self, scope: &Scope) -> Result<Snapshot, StoreError> {
        match self {
            Self::Memory(s) => s.export(scope).await,
            Self::Redb(s) => s.export(scope).await,
            Self::Redis(s) => s.export(scope).await,
        }
    }

    async fn import(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        match self {
            Self::Memory(s) => s.import(snapshot).await,
            Self::Redb(s) => s.import(snapshot).await,
            Self::Redis(s) => s.import(snapshot).await,
        }
    }
}

/// The counter a store-wide version must reach after importing `snapshot` over `current`.
pub(crate) fn raised(current: u64, snapshot: &Snapshot) -> u64 {
    current.max(snapshot.max_counter())
}
