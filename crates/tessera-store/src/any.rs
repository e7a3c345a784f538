//! `AnyStore`: the backend chosen at run time from a location string, delegating to the real one,
//! and the one place store calls are traced (a `store.call` span) and measured (latency by
//! operation, errors; an optimistic-commit conflict is not an error).

use std::path::PathBuf;

use tracing::Instrument as _;

use crate::{Entry, Key, MemoryStore, RedbStore, RedisStore, Store, StoreError, Subscription, Transaction, Versioned};

/// One of the backends, chosen by [`AnyStore::open`].
#[derive(Debug, Clone)]
pub enum AnyStore {
    Memory(MemoryStore),
    Redb(RedbStore),
    Redis(RedisStore),
}

impl AnyStore {
    /// Opens the store at `location`: `memory:` (nothing persists), `redis://HOST:PORT/DB` (or
    /// `rediss://`), a Redis Cluster through its seed nodes `redis+cluster://HOST:PORT[,HOST:PORT...]`
    /// (or `rediss+cluster://`), or a directory holding the embedded store's `tessera.redb`.
    pub async fn open(location: &str) -> Result<Self, StoreError> {
        if location == "memory:" {
            Ok(Self::Memory(MemoryStore::new()))
        } else if ["redis://", "rediss://", "redis+cluster://", "rediss+cluster://"]
            .iter()
            .any(|scheme| location.starts_with(scheme))
        {
            Ok(Self::Redis(RedisStore::connect(location).await?))
        } else if location.is_empty() || location.contains("://") || location.ends_with(':') {
            // A typo'd scheme must not silently become a directory named after it.
            Err(StoreError::InvalidLocation(location.to_owned()))
        } else {
            let dir = PathBuf::from(location);
            Ok(Self::Redb(tokio::task::spawn_blocking(move || RedbStore::open(dir)).await??))
        }
    }

    /// The backend's name, for logs and test output.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::Redb(_) => "redb",
            Self::Redis(_) => "redis",
        }
    }
}

impl From<MemoryStore> for AnyStore {
    fn from(store: MemoryStore) -> Self {
        Self::Memory(store)
    }
}

impl From<RedbStore> for AnyStore {
    fn from(store: RedbStore) -> Self {
        Self::Redb(store)
    }
}

impl From<RedisStore> for AnyStore {
    fn from(store: RedisStore) -> Self {
        Self::Redis(store)
    }
}

macro_rules! delegate {
    ($self:ident, $op:literal, $store:ident => $call:expr) => {{
        let started = std::time::Instant::now();
        let span = tracing::info_span!("store.call", op = $op, backend = $self.backend());
        let result = match $self {
            AnyStore::Memory($store) => $call.instrument(span).await,
            AnyStore::Redb($store) => $call.instrument(span).await,
            AnyStore::Redis($store) => $call.instrument(span).await,
        };
        let failed = matches!(&result, Err(e) if !matches!(e, StoreError::Conflict));
        tessera_telemetry::metrics().store_call($op, started.elapsed(), failed);
        result
    }};
}

impl Store for AnyStore {
    async fn get(&self, key: &Key) -> Result<Option<Versioned<Vec<u8>>>, StoreError> {
        delegate!(self, "get", s => s.get(key))
    }

    async fn scan_prefix(
        &self,
        prefix: &Key,
        start_after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        delegate!(self, "scan", s => s.scan_prefix(prefix, start_after, limit))
    }

    async fn commit(&self, txn: Transaction) -> Result<(), StoreError> {
        delegate!(self, "commit", s => s.commit(txn))
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        delegate!(self, "publish", s => s.publish(channel, message))
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        delegate!(self, "subscribe", s => s.subscribe(channel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn locations_select_the_backend() {
        assert_eq!(AnyStore::open("memory:").await.unwrap().backend(), "memory");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let store = AnyStore::open(path.to_str().unwrap()).await.unwrap();
        assert_eq!(store.backend(), "redb");
        assert!(path.join(RedbStore::FILE_NAME).is_file());
        for bad in ["", "memroy:", "postgres://x/y"] {
            assert!(matches!(AnyStore::open(bad).await, Err(StoreError::InvalidLocation(l)) if l == bad), "{bad}");
        }
    }
}
