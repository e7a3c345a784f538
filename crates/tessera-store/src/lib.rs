//! Tessera's storage: a transactional, versioned key-value layer with three backends (memory, redb,
//! Redis or Redis Cluster), a change-notification primitive, and the conformance suite they all pass.
//!
//! The IAM logic above is written once against [`Store`]: it reads with [`Store::get`] and
//! [`Store::scan_prefix`], then commits a [`Transaction`] whose checks guard everything it read
//! (optimistic concurrency); [`update`] wraps that loop with bounded, jittered retries.
//!
//! **Invariant:** all keys of one transaction belong to one namespace (one account, or global). That
//! is what makes a transaction a single Lua script on one Redis Cluster slot; every backend rejects a
//! transaction that breaks it with [`StoreError::CrossNamespace`], so code that works on memory works
//! on Redis.

use std::future::Future;

use thiserror::Error;

mod any;
pub mod iam;
mod key;
mod memory;
mod notify;
mod redb_store;
mod redis_store;
mod snapshot;
#[cfg(feature = "testing")]
pub mod testing;
mod txn;
mod update;

/// The backend conformance suite: public so the suite in `tests/` (and any future backend's tests)
/// can run it; it is test code and panics on the first failed expectation.
pub mod conformance;

pub use any::AnyStore;
pub use key::{Key, KeyError, Kind, Namespace};
pub use memory::MemoryStore;
pub use notify::{Subscription, SubscriptionError};
pub use redb_store::RedbStore;
pub use redis_store::RedisStore;
pub use snapshot::{NamespaceSnapshot, REDIS_PAGED_ATTEMPTS, Scope, Snapshot, Snapshots};
pub use txn::{Durability, Expect, Transaction, Write};
pub use update::{Retry, Tx, update, update_with};

/// A value with the version of the write that produced it.
///
/// Versions come from a counter per store (per namespace on Redis) that every committing
/// transaction advances, so a key's version strictly increases on every write, including across a
/// delete and a re-create: `Expect::Version` cannot be fooled by an ABA sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// A key and its versioned value, as a scan returns them.
pub type Entry = (Key, Versioned<Vec<u8>>);

/// Why a storage operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A check of the transaction did not hold; nothing was written. Re-read and retry.
    #[error("transaction conflict: a checked key no longer matches its expectation")]
    Conflict,
    /// [`update`] kept conflicting until it ran out of attempts.
    #[error("gave up after {attempts} attempts: other writers kept changing the same keys")]
    Contention { attempts: u32 },
    #[error("a transaction spans namespaces `{first}` and `{second}`: all its keys must share one")]
    CrossNamespace { first: String, second: String },
    #[error(
        "unsupported store location `{0}`: expected `memory:`, `redis://HOST:PORT/DB`, \
         `redis+cluster://HOST:PORT[,HOST:PORT...]` or a directory"
    )]
    InvalidLocation(String),
    /// A Redis location that names a Redis scheme but is malformed (the reason names no credential).
    #[error("invalid Redis location: {0}")]
    InvalidRedisUrl(String),
    /// A snapshot given to [`Snapshots::import`] breaks its own rules; nothing was written.
    #[error("invalid snapshot: {0}")]
    InvalidSnapshot(String),
    #[error("corrupt record at `{key}`: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("embedded store: {0}")]
    Redb(#[from] redb::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("timed out connecting to redis at `{0}`")]
    ConnectTimeout(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("storage task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A transactional, versioned key-value store with change notification.
///
/// Methods return `Send` futures so callers can drive them from spawned tasks even when they are
/// generic over the store.
pub trait Store: Send + Sync + 'static {
    /// The current value and version of `key`, if it exists.
    fn get(&self, key: &Key) -> impl Future<Output = Result<Option<Versioned<Vec<u8>>>, StoreError>> + Send;

    /// Up to `limit` entries whose keys start with `prefix`, in bytewise key order, beginning after
    /// `start_after` when given (the last key of the previous page). The page is one consistent
    /// snapshot; successive pages are not.
    fn scan_prefix(
        &self,
        prefix: &Key,
        start_after: Option<&Key>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Entry>, StoreError>> + Send;

    /// Atomically: if every check holds, apply every write (in order) and return `Ok`; otherwise
    /// apply nothing and return [`StoreError::Conflict`]. A transaction with no writes only checks.
    fn commit(&self, txn: Transaction) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Delivers `message` to the current subscribers of `channel`, on every replica sharing the
    /// store (Redis) or in this process (memory, redb). Fire-and-forget: nothing is kept.
    fn publish(&self, channel: &str, message: &[u8]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Subscribes to `channel`. Every message published after this returns is delivered, unless the
    /// subscriber lags or the connection drops, which [`Subscription::recv`] reports.
    fn subscribe(&self, channel: &str) -> impl Future<Output = Result<Subscription, StoreError>> + Send;
}
