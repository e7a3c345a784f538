//! Optimistic read-check-write: [`update`] runs a closure against a [`Tx`] that records what it read,
//! commits the result guarded by those reads, and retries on conflict with jittered backoff.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::{Expect, Key, Store, StoreError, Transaction, Versioned, Write};

/// How [`update_with`] retries after a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The backoff ceiling after the first conflict; it doubles per conflict up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self { attempts: 16, base_delay: Duration::from_micros(500), max_delay: Duration::from_millis(50) }
    }
}

impl Retry {
    /// The pause after conflict number `conflict` (1-based): uniform in `[0, min(max, base·2^(n-1))]`
    /// ("full jitter", so contenders that conflicted together do not retry together). `seed` makes it
    /// deterministic for tests.
    pub fn delay(&self, conflict: u32, seed: u64) -> Duration {
        let ceiling = self.base_delay.saturating_mul(1 << conflict.saturating_sub(1).min(20)).min(self.max_delay);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(splitmix64(seed ^ u64::from(conflict)) % nanos.saturating_add(1))
    }
}

/// A well-mixed 64-bit hash: enough to spread retries, with no dependency on an OS random source.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One attempt of an [`update`]: reads go to the store and are remembered as checks; writes are
/// buffered and committed together when the closure returns `Ok`.
///
/// Reads see the attempt's own earlier writes, and reading a key twice returns the first result.
/// Only keys read with [`Tx::get`] are guarded: a scan is not, so a rule like "at most two access
/// keys" must be checked against a record the closure reads (a counter, or a set in one key), never
/// against a scan alone.
///
/// The closure receives the `Tx` by value (its state is shared with `update`), because a closure
/// taking `&mut Tx` and returning a future that borrows it cannot be proven `Send` by today's
/// compiler once the caller is generic over the store.
#[derive(Debug)]
pub struct Tx<'s, S: ?Sized> {
    store: &'s S,
    state: Arc<Mutex<TxState>>,
}

#[derive(Debug, Default)]
struct TxState {
    reads: BTreeMap<Key, Option<Versioned<Vec<u8>>>>,
    extra_checks: Vec<(Key, Expect)>,
    writes: Vec<(Key, Write)>,
}

impl TxState {
    fn into_transaction(self) -> Transaction {
        let reads = self.reads.into_iter().map(|(key, read)| {
            let expect = read.map_or(Expect::Absent, |v| Expect::Version(v.version));
            (key, expect)
        });
        Transaction { checks: reads.chain(self.extra_checks).collect(), writes: self.writes, ..Transaction::default() }
    }
}

impl<'s, S: Store + ?Sized> Tx<'s, S> {
    fn new(store: &'s S) -> (Self, Arc<Mutex<TxState>>) {
        let state = Arc::new(Mutex::new(TxState::default()));
        (Self { store, state: Arc::clone(&state) }, state)
    }

    fn state(&self) -> MutexGuard<'_, TxState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value of `key` as this attempt sees it; the commit fails if the store's copy changes.
    pub async fn get(&self, key: &Key) -> Result<Option<Vec<u8>>, StoreError> {
        {
            let state = self.state();
            if let Some((_, write)) = state.writes.iter().rev().find(|(k, _)| k == key) {
                return Ok(match write {
                    Write::Put(value) => Some(value.clone()),
                    Write::Delete => None,
                });
            }
            if let Some(read) = state.reads.get(key) {
                return Ok(read.as_ref().map(|v| v.value.clone()));
            }
        }
        let read = self.store.get(key).await?;
        // If the closure read the same key concurrently, the first answer stands for both.
        let mut state = self.state();
        let read = state.reads.entry(key.clone()).or_insert(read);
        Ok(read.as_ref().map(|v| v.value.clone()))
    }

    /// The underlying store, for unguarded reads such as scans.
    pub fn store(&self) -> &'s S {
        self.store
    }

    /// Adds a check that the closure did not get from a read.
    pub fn expect(&self, key: Key, expect: Expect) {
        self.state().extra_checks.push((key, expect));
    }

    pub fn put(&self, key: Key, value: impl Into<Vec<u8>>) {
        self.state().writes.push((key, Write::Put(value.into())));
    }

    pub fn delete(&self, key: Key) {
        self.state().writes.push((key, Write::Delete));
    }
}

/// Runs `f` and commits what it wrote, guarded by what it read, retrying on conflict with
/// [`Retry::default`]. `f` may run several times, so it must have no other side effects. An error
/// from `f` is returned as is, with nothing committed; after the last attempt conflicts, the error is
/// [`StoreError::Contention`].
///
/// ```
/// # use tessera_store::{update, Key, Kind, MemoryStore, Namespace, Store, StoreError};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// const COUNTER: Kind = Kind::new("counter");
/// let store = MemoryStore::new();
/// let key = &Key::new(&Namespace::account("123456789012").unwrap(), COUNTER, "hits");
/// let next = update(&store, |tx| async move {
///     let n = tx.get(key).await?.map_or(0, |b| b[0]) + 1;
///     tx.put(key.clone(), [n]);
///     Ok::<_, StoreError>(n)
/// })
/// .await
/// .unwrap();
/// assert_eq!(next, 1);
/// # });
/// ```
pub async fn update<'s, S, T, E, F, Fut>(store: &'s S, f: F) -> Result<T, E>
where
    S: Store + ?Sized,
    E: From<StoreError>,
    F: FnMut(Tx<'s, S>) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    update_with(store, Retry::default(), f).await
}

/// [`update`] with an explicit retry policy.
pub async fn update_with<'s, S, T, E, F, Fut>(store: &'s S, retry: Retry, mut f: F) -> Result<T, E>
where
    S: Store + ?Sized,
    E: From<StoreError>,
    F: FnMut(Tx<'s, S>) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    // Each call gets its own jitter sequence; a counter (not the clock or the OS) keeps it cheap.
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let seed = splitmix64(CALLS.fetch_add(1, Ordering::Relaxed));
    let attempts = retry.attempts.max(1);
    for attempt in 1..=attempts {
        let (tx, state) = Tx::new(store);
        let out = f(tx).await?;
        // Take the state rather than unwrap the `Arc`: a closure that kept its `Tx` somewhere must
        // not turn a commit into a panic.
        let txn = std::mem::take(&mut *state.lock().unwrap_or_else(PoisonError::into_inner)).into_transaction();
        match store.commit(txn).await {
            Ok(()) => return Ok(out),
            Err(StoreError::Conflict) if attempt < attempts => {
                tokio::time::sleep(retry.delay(attempt, seed)).await;
            }
            Err(StoreError::Conflict) => break,
            Err(error) => return Err(error.into()),
        }
    }
    Err(StoreError::Contention { attempts }.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Kind, MemoryStore, Namespace};

    const ITEM: Kind = Kind::new("item");

    #[test]
    fn backoff_is_bounded_by_a_doubling_ceiling() {
        let retry = Retry::default();
        for seed in 0..200 {
            assert!(retry.delay(1, seed) <= retry.base_delay);
            assert!(retry.delay(3, seed) <= retry.base_delay * 4);
            assert!(retry.delay(16, seed) <= retry.max_delay);
        }
        // Jitter actually varies with the seed.
        let delays: std::collections::HashSet<Duration> = (0..50).map(|seed| retry.delay(4, seed)).collect();
        assert!(delays.len() > 40, "only {} distinct delays", delays.len());
    }

    #[tokio::test]
    async fn a_transaction_guards_what_it_read_and_sees_its_own_writes() {
        let store = MemoryStore::new();
        let ns = Namespace::account("a").unwrap();
        let (read, fresh) = (Key::new(&ns, ITEM, "read"), Key::new(&ns, ITEM, "fresh"));
        store.commit(Transaction::new().put(read.clone(), "1")).await.unwrap();
        let (tx, state) = Tx::new(&store);
        assert_eq!(tx.get(&read).await.unwrap(), Some(b"1".to_vec()));
        assert_eq!(tx.get(&fresh).await.unwrap(), None);
        tx.put(fresh.clone(), "2");
        assert_eq!(tx.get(&fresh).await.unwrap(), Some(b"2".to_vec()));
        tx.delete(read.clone());
        assert_eq!(tx.get(&read).await.unwrap(), None);
        let version = store.get(&read).await.unwrap().unwrap().version;
        drop(tx);
        let txn = std::mem::take(&mut *state.lock().unwrap()).into_transaction();
        assert_eq!(txn.checks, [(fresh.clone(), Expect::Absent), (read.clone(), Expect::Version(version))]);
        assert_eq!(txn.writes, [(fresh, Write::Put(b"2".to_vec())), (read, Write::Delete)]);
    }

    #[tokio::test]
    async fn errors_from_the_closure_commit_nothing() {
        let store = MemoryStore::new();
        let key = Key::new(&Namespace::account("a").unwrap(), ITEM, "x");
        let key = &key;
        let result: Result<(), StoreError> = update(&store, |tx| async move {
            tx.put(key.clone(), "v");
            Err(StoreError::Conflict)
        })
        .await;
        assert!(matches!(result, Err(StoreError::Conflict)));
        assert_eq!(store.get(key).await.unwrap(), None);
    }

    #[tokio::test]
    async fn endless_conflicts_end_in_contention() {
        let store = MemoryStore::new();
        let key = Key::new(&Namespace::account("a").unwrap(), ITEM, "x");
        let retry = Retry { attempts: 3, base_delay: Duration::ZERO, max_delay: Duration::ZERO };
        let (key, store_ref) = (&key, &store);
        let mut runs = 0;
        let result: Result<(), StoreError> = update_with(&store, retry, |tx| {
            runs += 1;
            async move {
                tx.get(key).await?;
                // Another writer changes the key between this attempt's read and its commit.
                store_ref.commit(Transaction::new().put(key.clone(), "other")).await?;
                tx.put(key.clone(), "mine");
                Ok(())
            }
        })
        .await;
        assert!(matches!(result, Err(StoreError::Contention { attempts: 3 })), "{result:?}");
        assert_eq!(runs, 3);
        assert_eq!(store.get(key).await.unwrap().unwrap().value, b"other");
    }
}
