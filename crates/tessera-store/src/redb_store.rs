//! The embedded backend (the default): one redb file, every commit durable when it returns, but
//! those the caller defers ([`crate::Durability::Deferred`]: durable with the next one that is not).
//!
//! redb serialises write transactions, so checking the expectations and applying the writes inside
//! one write transaction is serialisable. Commits block (fsync, waiting for the writer lock) and
//! scans can read many pages, so they run on tokio's blocking pool. A point read runs inline: it
//! never waits for the writer (readers see the last commit), and it is a few page lookups in
//! redb's cache or the OS page cache, far cheaper than the hand-off to a pool thread and back,
//! which cost more than the read itself on every request that reads a record.
//!
//! Point reads share one read transaction ([`SharedRead`]) until the next write commits: opening
//! a read transaction and its table cost more than the lookup itself. A commit is bracketed by
//! [`Writing`], which keeps a snapshot taken while it runs from being shared and drops the shared
//! one before the commit is reported, so a read that starts after a commit returned sees it, and
//! no read sees older data than one before it did.

use std::fmt;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use redb::{Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, TableDefinition};

use crate::notify::Hub;
use crate::snapshot::{Scope, Snapshot};
use crate::txn::scan_start;
use crate::{Entry, Key, Namespace, Store, StoreError, Subscription, Transaction, Versioned, Write};

/// key → (version, value).
const ENTRIES: TableDefinition<'_, &str, (u64, &[u8])> = TableDefinition::new("entries");
/// Store-wide counters; `version` is the version of the last committed write.
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
const VERSION: &str = "version";

/// A store in `<dir>/tessera.redb`. Clones share one open database.
#[derive(Clone)]
pub struct RedbStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    path: PathBuf,
    hub: Hub,
    /// A deferred commit ([`crate::Durability::Deferred`]) is not on disk yet: the next
    /// immediate commit, even an empty one, writes it.
    deferred: AtomicBool,
    reads: SharedRead,
}

type Entries = ReadOnlyTable<&'static str, (u64, &'static [u8])>;

/// The entries table of one read transaction, shared by point reads until a write commits.
#[derive(Default)]
struct SharedRead {
    /// Odd while a write transaction is open (see [`Writing`]), raised again when it ends.
    generation: AtomicU64,
    current: RwLock<Option<Arc<Entries>>>,
}

impl SharedRead {
    /// The shared table, or a new read transaction's, which is shared when no write was open
    /// from before it began until now (so it holds the last commit).
    fn entries(&self, db: &Database) -> Result<Arc<Entries>, redb::Error> {
        if let Some(entries) = &*self.current.read().unwrap_or_else(PoisonError::into_inner) {
            return Ok(Arc::clone(entries));
        }
        let before = self.generation.load(Ordering::Acquire);
        let entries = Arc::new(db.begin_read()?.open_table(ENTRIES)?);
        if before.is_multiple_of(2) {
            let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
            if self.generation.load(Ordering::Acquire) == before && current.is_none() {
                *current = Some(Arc::clone(&entries));
            }
        }
        Ok(entries)
    }

    /// Marks a write transaction open until the [`Writing`] is dropped.
    fn writing(&self) -> Writing<'_> {
        self.generation.fetch_add(1, Ordering::AcqRel);
        Writing(self)
    }
}

/// A write transaction open, as point reads know it ([`SharedRead::writing`]): while it lives no
/// new snapshot is shared, and when it ends (after the commit, or an abort or failure) the shared
/// one is dropped. redb holds one write transaction at a time, so these never overlap: take one
/// right after `begin_write` and keep it until the transaction is committed or dropped.
struct Writing<'a>(&'a SharedRead);

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        // Under the lock that sharing takes, so that no snapshot from before this ends is shared.
        let mut current = self.0.current.write().unwrap_or_else(PoisonError::into_inner);
        self.0.generation.fetch_add(1, Ordering::AcqRel);
        *current = None;
    }
}

impl Drop for Inner {
    /// redb keeps deferred commits in memory only: write them before the database closes.
    fn drop(&mut self) {
        if !self.deferred.load(Ordering::Acquire) {
            return;
        }
        let synced = (|| -> Result<(), redb::Error> {
            let mut write = self.db.begin_write()?;
            write.set_durability(Durability::Immediate)?;
            write.commit()?;
            Ok(())
        })();
        if let Err(error) = synced {
            tracing::error!(%error, "cannot write deferred commits before closing the store");
        }
    }
}

impl fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl RedbStore {
    /// The database file's name inside the data directory.
    pub const FILE_NAME: &str = "tessera.redb";

    /// Opens (creating if needed) the store in directory `dir`. This blocks: it may repair the file
    /// after a crash. From async code, call it through `spawn_blocking` (as `AnyStore::open` does).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        // Owner-only whatever the umask (redb alone would create the file 0666 minus the umask):
        // the file holds sealed secrets.
        tessera_credentials::private_fs::create_dir_all(dir.as_ref())?;
        let path = dir.as_ref().join(Self::FILE_NAME);
        let file = tessera_credentials::private_fs::open(
            &path,
            std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false),
        )?;
        let backend = redb::backends::FileBackend::new(file).map_err(redb::Error::from)?;
        let db = Database::builder().create_with_backend(backend).map_err(redb::Error::from)?;
        // Create the tables once so readers never meet a missing table.
        let txn = db.begin_write().map_err(redb::Error::from)?;
        txn.open_table(ENTRIES).map_err(redb::Error::from)?;
        txn.open_table(META).map_err(redb::Error::from)?;
        txn.commit().map_err(redb::Error::from)?;
        let inner =
            Inner { db, path, hub: Hub::default(), deferred: AtomicBool::new(false), reads: SharedRead::default() };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Every entry of `scope` in key order and the store's counter, from one read transaction
    /// (`snapshot.rs`). Blocks.
    pub(crate) fn entries_and_version(&self, scope: &Scope) -> Result<(Vec<Entry>, u64), StoreError> {
        let txn = self.inner.db.begin_read().map_err(redb::Error::from)?;
        let table = txn.open_table(ENTRIES).map_err(redb::Error::from)?;
        let meta = txn.open_table(META).map_err(redb::Error::from)?;
        let version = meta.get(VERSION).map_err(redb::Error::from)?.map_or(0, |g| g.value());
        let ranges: Vec<(String, String)> = match scope {
            // Every key starts with `t:{`, and `t:|` sorts after all of them (`{` < `|`).
            Scope::Whole => vec![("t:{".to_owned(), "t:|".to_owned())],
            Scope::Only(list) => list.iter().map(namespace_range).collect(),
        };
        let mut out = Vec::new();
        for (start, end) in &ranges {
            for entry in table.range::<&str>(start.as_str()..end.as_str()).map_err(redb::Error::from)? {
                let (key, value) = entry.map_err(redb::Error::from)?;
                let (entry_version, value) = value.value();
                out.push((stored_key(key.value())?, Versioned { value: value.to_vec(), version: entry_version }));
            }
        }
        Ok((out, version))
    }

    /// Replaces the snapshot's scope with its records in one durable write transaction
    /// (`snapshot.rs`). Blocks.
    pub(crate) fn replace(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let mut write = self.inner.db.begin_write().map_err(redb::Error::from)?;
        let _writing = self.inner.reads.writing();
        write.set_durability(Durability::Immediate).map_err(redb::Error::from)?;
        {
            let mut entries = write.open_table(ENTRIES).map_err(redb::Error::from)?;
            match &snapshot.scope {
                Scope::Whole => entries.retain(|_, _| false).map_err(redb::Error::from)?,
                Scope::Only(list) => {
                    for (start, end) in list.iter().map(namespace_range) {
                        entries
                            .retain_in::<&str, _>(start.as_str()..end.as_str(), |_, _| false)
                            .map_err(redb::Error::from)?;
                    }
                }
            }
            for ns in &snapshot.namespaces {
                for (key, value) in &ns.entries {
                    entries.insert(key.as_str(), (value.version, value.value.as_slice())).map_err(redb::Error::from)?;
                }
            }
            let mut meta = write.open_table(META).map_err(redb::Error::from)?;
            let current = meta.get(VERSION).map_err(redb::Error::from)?.map_or(0, |g| g.value());
            meta.insert(VERSION, crate::snapshot::raised(current, snapshot)).map_err(redb::Error::from)?;
        }
        write.commit().map_err(redb::Error::from)?;
        Ok(())
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner)).await?
    }
}

/// The key range of namespace `ns`: its prefix `t:{NS}:` up to `t:{NS};` (`;` follows `:`).
fn namespace_range(ns: &Namespace) -> (String, String) {
    let start = Key::namespace_prefix(ns).into_string();
    let end = format!("{};", &start[..start.len() - 1]);
    (start, end)
}

fn stored_key(raw: &str) -> Result<Key, StoreError> {
    Key::from_stored(raw.to_owned()).map_err(|e| StoreError::Corrupt { key: raw.to_owned(), reason: e.to_string() })
}

fn get(inner: &Inner, key: &Key) -> Result<Option<Versioned<Vec<u8>>>, redb::Error> {
    let table = inner.reads.entries(&inner.db)?;
    Ok(table.get(key.as_str())?.map(|guard| {
        let (version, value) = guard.value();
        Versioned { value: value.to_vec(), version }
    }))
}

fn scan(db: &Database, prefix: &Key, start_after: Option<&Key>, limit: usize) -> Result<Vec<Entry>, StoreError> {
    let txn = db.begin_read().map_err(redb::Error::from)?;
    let table = txn.open_table(ENTRIES).map_err(redb::Error::from)?;
    let start = match scan_start(prefix, start_after) {
        Bound::Excluded(key) => Bound::Excluded(key.as_str()),
        Bound::Included(key) => Bound::Included(key.as_str()),
        Bound::Unbounded => Bound::Unbounded,
    };
    let mut out = Vec::new();
    for entry in table.range::<&str>((start, Bound::Unbounded)).map_err(redb::Error::from)? {
        if out.len() >= limit {
            break;
        }
        let (key, value) = entry.map_err(redb::Error::from)?;
        if !key.value().starts_with(prefix.as_str()) {
            break;
        }
        let (version, value) = value.value();
        out.push((stored_key(key.value())?, Versioned { value: value.to_vec(), version }));
    }
    Ok(out)
}

/// Commits `txn`; `sync`: a deferred commit is not on disk yet, so a transaction without writes
/// still commits (immediately) to write it.
fn commit(inner: &Inner, txn: Transaction, sync: bool) -> Result<(), StoreError> {
    let mut write = inner.db.begin_write().map_err(redb::Error::from)?;
    let _writing = inner.reads.writing();
    // Immediate is redb's default; saying so keeps the kill -9 guarantee from depending on it.
    let durability = match txn.durability {
        crate::Durability::Immediate => Durability::Immediate,
        crate::Durability::Deferred => Durability::None,
    };
    write.set_durability(durability).map_err(redb::Error::from)?;
    {
        let mut entries = write.open_table(ENTRIES).map_err(redb::Error::from)?;
        for (key, expect) in &txn.checks {
            let current = entries.get(key.as_str()).map_err(redb::Error::from)?.map(|g| g.value().0);
            if !expect.holds(current) {
                // Dropping the transaction aborts it: nothing was written.
                return Err(StoreError::Conflict);
            }
        }
        if txn.writes.is_empty() {
            if sync && txn.durability == crate::Durability::Immediate {
                // Nothing to write, but committing makes the deferred commits durable.
                drop(entries);
                write.commit().map_err(redb::Error::from)?;
            }
            return Ok(());
        }
        let mut meta = write.open_table(META).map_err(redb::Error::from)?;
        let version = meta.get(VERSION).map_err(redb::Error::from)?.map_or(0, |g| g.value()) + 1;
        meta.insert(VERSION, version).map_err(redb::Error::from)?;
        for (key, op) in &txn.writes {
            match op {
                Write::Put(value) => {
                    entries.insert(key.as_str(), (version, value.as_slice())).map_err(redb::Error::from)?;
                }
                Write::Delete => {
                    entries.remove(key.as_str()).map_err(redb::Error::from)?;
                }
            }
        }
    }
    write.commit().map_err(redb::Error::from)?;
    Ok(())
}

impl Store for RedbStore {
    async fn get(&self, key: &Key) -> Result<Option<Versioned<Vec<u8>>>, StoreError> {
        // Inline, not on the blocking pool: see the module docs.
        Ok(get(&self.inner, key)?)
    }

    async fn scan_prefix(
        &self,
        prefix: &Key,
        start_after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (prefix, start_after) = (prefix.clone(), start_after.cloned());
        self.blocking(move |inner| scan(&inner.db, &prefix, start_after.as_ref(), limit)).await
    }

    async fn commit(&self, txn: Transaction) -> Result<(), StoreError> {
        txn.namespace_tag()?;
        let deferred = txn.durability == crate::Durability::Deferred;
        let pending = self.inner.deferred.load(Ordering::Acquire);
        // An empty immediate commit still writes what deferred commits left in memory.
        if txn.is_empty() && (deferred || !pending) {
            return Ok(());
        }
        if !deferred {
            // Cleared before the commit: a deferred commit racing this one sets it again.
            self.inner.deferred.store(false, Ordering::Release);
        }
        let result = self.blocking(move |inner| commit(inner, txn, pending)).await;
        if (deferred && result.is_ok()) || (!deferred && pending && result.is_err()) {
            self.inner.deferred.store(true, Ordering::Release);
        }
        result
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        self.inner.hub.publish(channel, message);
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        Ok(self.inner.hub.subscribe(channel))
    }
}
