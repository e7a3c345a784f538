//! The in-memory backend: a `BTreeMap` behind a lock, for unit tests of the logic above the store.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, PoisonError, RwLock};

use crate::notify::Hub;
use crate::snapshot::{Scope, Snapshot};
use crate::txn::scan_start;
use crate::{Entry, Key, Store, StoreError, Subscription, Transaction, Versioned, Write};

/// A store that lives and dies with the process. Clones share the same data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    state: RwLock<State>,
    hub: Hub,
}

#[derive(Debug, Default)]
struct State {
    entries: BTreeMap<Key, Versioned<Vec<u8>>>,
    /// The version of the last committed write.
    version: u64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every entry in key order and the store's counter, under one lock (`snapshot.rs`).
    pub(crate) fn entries_and_version(&self) -> (Vec<Entry>, u64) {
        let state = self.inner.state.read().unwrap_or_else(PoisonError::into_inner);
        (state.entries.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), state.version)
    }

    /// Replaces the snapshot's scope with its records, under one lock (`snapshot.rs`).
    pub(crate) fn replace(&self, snapshot: Snapshot) {
        let mut state = self.inner.state.write().unwrap_or_else(PoisonError::into_inner);
        let scope = &snapshot.scope;
        state.entries.retain(|key, _| match scope {
            Scope::Whole => false,
            Scope::Only(list) => !list.iter().any(|ns| ns.tag() == key.namespace_tag()),
        });
        state.version = crate::snapshot::raised(state.version, &snapshot);
        for ns in snapshot.namespaces {
            state.entries.extend(ns.entries);
        }
    }
}

impl Store for MemoryStore {
    async fn get(&self, key: &Key) -> Result<Option<Versioned<Vec<u8>>>, StoreError> {
        let state = self.inner.state.read().unwrap_or_else(PoisonError::into_inner);
        Ok(state.entries.get(key).cloned())
    }

    async fn scan_prefix(
        &self,
        prefix: &Key,
        start_after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let state = self.inner.state.read().unwrap_or_else(PoisonError::into_inner);
        let range = state.entries.range::<Key, _>((scan_start(prefix, start_after), Bound::Unbounded));
        Ok(range.take_while(|(k, _)| k.starts_with(prefix)).take(limit).map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    async fn commit(&self, txn: Transaction) -> Result<(), StoreError> {
        txn.namespace_tag()?;
        let mut state = self.inner.state.write().unwrap_or_else(PoisonError::into_inner);
        let holds = txn.checks.iter().all(|(key, expect)| expect.holds(state.entries.get(key).map(|v| v.version)));
        if !holds {
            return Err(StoreError::Conflict);
        }
        if txn.writes.is_empty() {
            return Ok(());
        }
        state.version += 1;
        let version = state.version;
        for (key, write) in txn.writes {
            match write {
                Write::Put(value) => {
                    state.entries.insert(key, Versioned { value, version });
                }
                Write::Delete => {
                    state.entries.remove(&key);
                }
            }
        }
        Ok(())
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        self.inner.hub.publish(channel, message);
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        Ok(self.inner.hub.subscribe(channel))
    }
}
