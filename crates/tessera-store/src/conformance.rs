//! The conformance suite: one set of checks every backend must pass, so logic tested on memory
//! behaves the same on redb and Redis. `tests/conformance.rs` runs each check on each backend.
//!
//! Each check works in the two fresh accounts of an [`Accounts`] (and on random keys in the global
//! namespace, which it deletes), so runs against a shared Redis never collide.

use std::collections::{BTreeSet, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use tokio::task::JoinSet;

use crate::{
    Entry, Expect, Key, Kind, Namespace, Retry, Scope, Snapshot, Snapshots, Store, StoreError, Subscription,
    Transaction, Versioned, update, update_with,
};

const ITEM: Kind = Kind::new("item");
/// A kind whose name extends `item`, to show prefix scans stop at the `:` after the kind.
const ITEMS: Kind = Kind::new("items");
const COUNTER: Kind = Kind::new("counter");
const SET: Kind = Kind::new("set");
const LOOKUP: Kind = Kind::new("lookup");

/// How long a subscriber may wait for a message before the check fails.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(5);

/// Two fresh accounts for one run of one check.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub a: Namespace,
    pub b: Namespace,
}

impl Accounts {
    /// Accounts with random ids (`ct` + 16 hex digits), distinct from every other run's.
    pub fn random() -> Self {
        let random = RandomState::new();
        let id = |n: u8| format!("ct{:016x}", random.hash_one((n, std::process::id())));
        Self { a: Namespace::account(&id(0)).expect("valid id"), b: Namespace::account(&id(1)).expect("valid id") }
    }
}

async fn value<S: Store>(store: &S, key: &Key) -> Option<Vec<u8>> {
    store.get(key).await.expect("get").map(|v| v.value)
}

async fn version<S: Store>(store: &S, key: &Key) -> u64 {
    store.get(key).await.expect("get").unwrap_or_else(|| panic!("`{key}` exists")).version
}

async fn commit_ok<S: Store>(store: &S, txn: Transaction) {
    store.commit(txn).await.expect("commit succeeds");
}

async fn assert_conflict<S: Store>(store: &S, txn: Transaction) {
    match store.commit(txn).await {
        Err(StoreError::Conflict) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Put, get, overwrite and delete, with values that are empty, binary and large.
pub async fn get_put_delete<S: Store>(store: &S, accounts: &Accounts) {
    let key = Key::new(&accounts.a, ITEM, "alice:ünïcode/with:colons");
    assert_eq!(store.get(&key).await.expect("get"), None);
    commit_ok(store, Transaction::new().put(key.clone(), "v1")).await;
    assert_eq!(value(store, &key).await.as_deref(), Some(&b"v1"[..]));
    commit_ok(store, Transaction::new().put(key.clone(), "v2")).await;
    assert_eq!(value(store, &key).await.as_deref(), Some(&b"v2"[..]));
    // The same key in account b is another key.
    assert_eq!(store.get(&Key::new(&accounts.b, ITEM, "alice:ünïcode/with:colons")).await.expect("get"), None);

    for stored in [Vec::new(), vec![0, 0xff, 0, b'\n', 0x80], (0..=255u8).cycle().take(256 * 1024).collect()] {
        commit_ok(store, Transaction::new().put(key.clone(), stored.clone())).await;
        assert_eq!(value(store, &key).await, Some(stored));
    }

    commit_ok(store, Transaction::new().delete(key.clone())).await;
    assert_eq!(store.get(&key).await.expect("get"), None);
    // Deleting what is not there is not an error.
    commit_ok(store, Transaction::new().delete(key.clone())).await;
    // Within one transaction, the last write to a key wins.
    commit_ok(store, Transaction::new().put(key.clone(), "first").delete(key.clone()).put(key.clone(), "last")).await;
    assert_eq!(value(store, &key).await.as_deref(), Some(&b"last"[..]));
}

/// A key's version strictly increases on every write, even across a delete and a re-create.
pub async fn versions_increase<S: Store>(store: &S, accounts: &Accounts) {
    let key = Key::new(&accounts.a, ITEM, "k");
    let other = Key::new(&accounts.a, ITEM, "other");
    commit_ok(store, Transaction::new().put(key.clone(), "1")).await;
    let v1 = version(store, &key).await;
    assert!(v1 > 0, "versions start above zero");
    commit_ok(store, Transaction::new().put(other.clone(), "x")).await;
    assert_eq!(version(store, &key).await, v1, "writing another key leaves this version alone");
    commit_ok(store, Transaction::new().put(key.clone(), "1")).await;
    let v2 = version(store, &key).await;
    assert!(v2 > v1, "rewriting the same value bumps the version: {v1} -> {v2}");
    commit_ok(store, Transaction::new().delete(key.clone())).await;
    commit_ok(store, Transaction::new().put(key.clone(), "1")).await;
    let v3 = version(store, &key).await;
    assert!(v3 > v2, "re-creating after a delete bumps the version: {v2} -> {v3}");
    // So a writer holding the old version cannot overwrite the re-created key.
    assert_conflict(store, Transaction::new().check(key.clone(), Expect::Version(v2)).put(key.clone(), "stale")).await;
    assert_eq!(value(store, &key).await.as_deref(), Some(&b"1"[..]));
}

/// `Expect::Absent`: create-if-absent succeeds once.
pub async fn expect_absent<S: Store>(store: &S, accounts: &Accounts) {
    let key = Key::new(&accounts.a, ITEM, "unique");
    let create = |value: &str| Transaction::new().check(key.clone(), Expect::Absent).put(key.clone(), value);
    commit_ok(store, create("first")).await;
    assert_conflict(store, create("second")).await;
    assert_eq!(value(store, &key).await.as_deref(), Some(&b"first"[..]));
}

/// `Expect::Version`: a write based on a stale read conflicts; a fresh one succeeds.
pub async fn expect_version<S: Store>(store: &S, accounts: &Accounts) {
    let key = Key::new(&accounts.a, ITEM, "cas");
    assert_conflict(store, Transaction::new().check(key.clone(), Expect::Version(1)).put(key.clone(), "x")).await;
    assert_eq!(store.get(&key).await.expect("get"), None, "a version check on an absent key fails");
    commit_ok(store, Transaction::new().put(key.clone(), "a")).await;
    let read = version(store, &key).await;
    commit_ok(store, Transaction::new().check(key.clone(), Expect::Version(read)).put(key.clone(), "b")).await;
    assert_conflict(store, Transaction::new().check(key.clone(), Expect::Version(read)).put(key.clone(), "c")).await;
    assert_eq!(value(store, &key).await.as_deref(), Some(&b"b"[..]));
}

/// `Expect::Present`: guards a write on the existence of another record (a parent).
pub async fn expect_present<S: Store>(store: &S, accounts: &Accounts) {
    let parent = Key::new(&accounts.a, ITEM, "group");
    let child = Key::new(&accounts.a, ITEM, "group-member");
    let attach = Transaction::new().check(parent.clone(), Expect::Present).put(child.clone(), "m");
    assert_conflict(store, attach.clone()).await;
    assert_eq!(store.get(&child).await.expect("get"), None);
    commit_ok(store, Transaction::new().put(parent.clone(), "g")).await;
    commit_ok(store, attach).await;
    assert_eq!(value(store, &child).await.as_deref(), Some(&b"m"[..]));
}

/// One failing check among several aborts every write: nothing of the transaction is visible.
pub async fn failed_check_applies_nothing<S: Store>(store: &S, accounts: &Accounts) {
    let ns = &accounts.a;
    let (guard, existing, fresh, doomed) = (
        Key::new(ns, ITEM, "guard"),
        Key::new(ns, ITEM, "existing"),
        Key::new(ns, ITEM, "fresh"),
        Key::new(ns, ITEM, "doomed"),
    );
    commit_ok(store, Transaction::new().put(guard.clone(), "g").put(existing.clone(), "old").put(doomed.clone(), "d"))
        .await;
    let before = store.scan_prefix(&Key::namespace_prefix(ns), None, 100).await.expect("scan");
    let stale = version(store, &guard).await;
    commit_ok(store, Transaction::new().put(guard.clone(), "g2")).await;
    let before_guard = store.get(&guard).await.expect("get");

    let txn = Transaction::new()
        .check(fresh.clone(), Expect::Absent) // holds
        .check(existing.clone(), Expect::Present) // holds
        .check(guard.clone(), Expect::Version(stale)) // fails
        .put(existing.clone(), "new")
        .put(fresh.clone(), "created")
        .delete(doomed.clone());
    assert_conflict(store, txn).await;

    let after = store.scan_prefix(&Key::namespace_prefix(ns), None, 100).await.expect("scan");
    let without_guard = |entries: &[(Key, Versioned<Vec<u8>>)]| -> Vec<Entry> {
        entries.iter().filter(|(k, _)| *k != guard).cloned().collect()
    };
    assert_eq!(without_guard(&after), without_guard(&before), "no write of the failed transaction applied");
    assert_eq!(store.get(&guard).await.expect("get"), before_guard);
    assert_eq!(store.get(&fresh).await.expect("get"), None);

    // A transaction with checks only commits nothing, whichever way it goes.
    commit_ok(store, Transaction::new().check(doomed.clone(), Expect::Present)).await;
    assert_conflict(store, Transaction::new().check(doomed.clone(), Expect::Absent)).await;
    assert_eq!(store.scan_prefix(&Key::namespace_prefix(ns), None, 100).await.expect("scan"), after);
}

/// Mixing namespaces in one transaction is refused before anything is written.
pub async fn transactions_stay_in_one_namespace<S: Store>(store: &S, accounts: &Accounts) {
    let (in_a, in_b) = (Key::new(&accounts.a, ITEM, "x"), Key::new(&accounts.b, ITEM, "x"));
    let global = Key::new(&Namespace::global(), LOOKUP, &format!("{}-x", accounts.a));
    for txn in [
        Transaction::new().put(in_a.clone(), "a").put(in_b.clone(), "b"),
        Transaction::new().check(in_b.clone(), Expect::Absent).put(in_a.clone(), "a"),
        Transaction::new().put(in_a.clone(), "a").put(global.clone(), "g"),
    ] {
        match store.commit(txn).await {
            Err(StoreError::CrossNamespace { .. }) => {}
            other => panic!("expected CrossNamespace, got {other:?}"),
        }
    }
    for key in [&in_a, &in_b, &global] {
        assert_eq!(store.get(key).await.expect("get"), None, "`{key}` was not written");
    }
}

/// The global namespace holds cross-account lookups with the same guarantees.
pub async fn global_namespace<S: Store>(store: &S, accounts: &Accounts) {
    let global = Namespace::global();
    // Random names: the global namespace is shared by every run against the same Redis.
    let first = Key::new(&global, LOOKUP, &format!("{}-AKIA1", accounts.a));
    let second = Key::new(&global, LOOKUP, &format!("{}-AKIA2", accounts.a));
    let claim = |key: &Key| Transaction::new().check(key.clone(), Expect::Absent).put(key.clone(), accounts.a.tag());
    commit_ok(store, claim(&first).put(second.clone(), accounts.b.tag())).await;
    assert_conflict(store, claim(&first)).await;
    assert_eq!(value(store, &first).await.as_deref(), Some(accounts.a.tag().as_bytes()));
    let mine =
        store.scan_prefix(&Key::new(&global, LOOKUP, &format!("{}-", accounts.a)), None, 10).await.expect("scan");
    assert_eq!(mine.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), [first.clone(), second.clone()]);
    commit_ok(store, Transaction::new().delete(first.clone()).delete(second.clone())).await;
    assert_eq!(store.get(&first).await.expect("get"), None);
}

/// Scans return keys in bytewise order, page with `start_after`, and stay inside their prefix.
pub async fn scan_order_and_pagination<S: Store>(store: &S, accounts: &Accounts) {
    let ns = &accounts.a;
    // Bytewise order differs from numeric and from insertion order.
    let names = ["user-2", "user-10", "User-3", "user-1", "user-1:x", "a", "z", "user-", "ü"];
    for chunk in names.chunks(4) {
        let txn = chunk.iter().fold(Transaction::new(), |t, n| t.put(Key::new(ns, ITEM, n), format!("value of {n}")));
        commit_ok(store, txn).await;
    }
    // Neighbours that must not leak into `item` scans: another kind sharing the name's start, and
    // the same names in another account.
    commit_ok(store, Transaction::new().put(Key::new(ns, ITEMS, "a"), "other kind")).await;
    commit_ok(store, names.iter().fold(Transaction::new(), |t, n| t.put(Key::new(&accounts.b, ITEM, n), "b"))).await;

    let prefix = Key::new(ns, ITEM, "");
    let mut expected: Vec<&str> = names.to_vec();
    expected.sort_unstable();
    let all = store.scan_prefix(&prefix, None, 100).await.expect("scan");
    let got: Vec<&str> = all.iter().map(|(k, _)| k.suffix_after(&prefix).expect("inside the prefix")).collect();
    assert_eq!(got, expected);
    for (key, entry) in &all {
        let name = key.suffix_after(&prefix).expect("inside the prefix");
        assert_eq!(entry.value, format!("value of {name}").into_bytes());
        assert_eq!(entry.version, version(store, key).await);
    }

    // Pages of 4: every key exactly once, in order, then an empty page.
    let mut paged = Vec::new();
    let mut after: Option<Key> = None;
    loop {
        let page = store.scan_prefix(&prefix, after.as_ref(), 4).await.expect("scan");
        assert!(page.len() <= 4);
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        paged.extend(page);
        assert!(paged.len() <= names.len(), "pagination does not terminate");
    }
    assert_eq!(paged, all);

    // A narrower prefix, a start before the prefix, a start past it, and a zero limit.
    let user1 = store.scan_prefix(&Key::new(ns, ITEM, "user-1"), None, 100).await.expect("scan");
    let user1: Vec<&str> = user1.iter().map(|(k, _)| k.suffix_after(&prefix).expect("in prefix")).collect();
    assert_eq!(user1, ["user-1", "user-10", "user-1:x"], "bytewise: `0` sorts before `:`");
    let from_before = store.scan_prefix(&prefix, Some(&Key::namespace_prefix(ns)), 2).await.expect("scan");
    assert_eq!(from_before, all[..2]);
    assert_eq!(store.scan_prefix(&prefix, Some(&Key::new(ns, ITEMS, "")), 10).await.expect("scan"), []);
    assert_eq!(store.scan_prefix(&prefix, None, 0).await.expect("scan"), []);

    // Deleted keys leave scans.
    commit_ok(store, Transaction::new().delete(Key::new(ns, ITEM, "user-10"))).await;
    let after_delete = store.scan_prefix(&prefix, None, 100).await.expect("scan");
    assert_eq!(after_delete.len(), names.len() - 1);
    assert!(!after_delete.iter().any(|(k, _)| k.suffix_after(&prefix) == Some("user-10")));
}

/// A whole-account scan sees that account's keys only.
pub async fn scan_isolates_accounts<S: Store>(store: &S, accounts: &Accounts) {
    commit_ok(store, (0..5).fold(Transaction::new(), |t, i| t.put(Key::new(&accounts.a, ITEM, &i.to_string()), "a")))
        .await;
    commit_ok(store, (0..3).fold(Transaction::new(), |t, i| t.put(Key::new(&accounts.b, SET, &i.to_string()), "b")))
        .await;
    for (ns, count, kind) in [(&accounts.a, 5, ITEM), (&accounts.b, 3, SET)] {
        let entries = store.scan_prefix(&Key::namespace_prefix(ns), None, 100).await.expect("scan");
        assert_eq!(entries.len(), count, "account `{ns}`");
        let own = Key::new(ns, kind, "");
        assert!(entries.iter().all(|(k, _)| k.starts_with(&own) && k.namespace_tag() == ns.tag()), "{entries:?}");
    }
}

async fn next_message(subscription: &mut Subscription) -> Vec<u8> {
    match tokio::time::timeout(DELIVERY_DEADLINE, subscription.recv()).await {
        Ok(Ok(message)) => message,
        Ok(Err(error)) => panic!("subscription failed: {error}"),
        Err(_) => panic!("no message within {DELIVERY_DEADLINE:?}"),
    }
}

/// Messages reach every subscriber of their channel, in order, and no other channel's subscribers.
pub async fn publish_subscribe<S: Store>(store: &S, accounts: &Accounts) {
    let channel = format!("epoch:{}", accounts.a);
    let other = format!("epoch:{}", accounts.b);
    let mut first = store.subscribe(&channel).await.expect("subscribe");
    let mut second = store.subscribe(&channel).await.expect("subscribe");
    let mut elsewhere = store.subscribe(&other).await.expect("subscribe");

    store.publish(&channel, b"1").await.expect("publish");
    store.publish(&channel, b"2\x00\xff").await.expect("publish");
    for subscription in [&mut first, &mut second] {
        assert_eq!(next_message(subscription).await, b"1");
        assert_eq!(next_message(subscription).await, b"2\x00\xff");
    }
    // Had `elsewhere` received either message, it would come before this one.
    store.publish(&other, b"fence").await.expect("publish");
    assert_eq!(next_message(&mut elsewhere).await, b"fence");

    // A subscriber that leaves does not disturb the others or the publisher.
    drop(second);
    store.publish(&channel, b"3").await.expect("publish");
    assert_eq!(next_message(&mut first).await, b"3");
    drop(first);
    store.publish(&channel, b"nobody listens").await.expect("publishing to no one is fine");
}

fn decode_counter(bytes: Option<Vec<u8>>) -> u64 {
    bytes.map_or(0, |b| u64::from_be_bytes(b.try_into().expect("an 8-byte counter")))
}

async fn increment<S: Store>(store: &S, key: &Key, retry: Retry) -> Result<u64, StoreError> {
    update_with(store, retry, |tx| async move {
        let next = decode_counter(tx.get(key).await?) + 1;
        // Let other writers in between the read and the commit, even on the memory backend, whose
        // calls never yield on their own.
        tokio::task::yield_now().await;
        tx.put(key.clone(), next.to_be_bytes());
        Ok(next)
    })
    .await
}

/// Two tasks each increment one counter 100 times through `update`: no increment is lost.
///
/// Optimistic retries promise no lost update, not fairness: one task can lose every race while the
/// other commits back to back (a loaded machine made 16 attempts run out), so this property gets
/// enough attempts that starvation cannot fail it; `contended_counter_loses_nothing` covers giving up.
pub async fn concurrent_counter<S: Store + Clone>(store: &S, accounts: &Accounts) {
    let key = Key::new(&accounts.a, COUNTER, "hits");
    let mut tasks = JoinSet::new();
    for _ in 0..2 {
        let (store, key) = (store.clone(), key.clone());
        tasks.spawn(async move {
            for _ in 0..100 {
                let patient = Retry { attempts: 10_000, ..Retry::default() };
                increment(&store, &key, patient).await.expect("an increment succeeds within its retries");
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("task");
    }
    assert_eq!(decode_counter(value(store, &key).await), 200);
}

/// Many writers at once on one counter: some may give up (`Contention`), but every increment that
/// reported success is in the final value, and no other.
pub async fn contended_counter_loses_nothing<S: Store + Clone>(store: &S, accounts: &Accounts) {
    let key = Key::new(&accounts.a, COUNTER, "contended");
    let mut tasks = JoinSet::new();
    for _ in 0..32 {
        let (store, key) = (store.clone(), key.clone());
        tasks.spawn(async move { increment(&store, &key, Retry::default()).await });
    }
    let mut seen = BTreeSet::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task") {
            Ok(n) => assert!(seen.insert(n), "two increments both produced {n}"),
            Err(StoreError::Contention { .. }) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert!(!seen.is_empty(), "at least one increment succeeds");
    let successes = u64::try_from(seen.len()).expect("small");
    assert_eq!(decode_counter(value(store, &key).await), successes);
    assert_eq!(seen, (1..=successes).collect(), "successful increments saw consecutive values");
}

#[derive(Debug)]
enum AddError {
    Full,
    Store(StoreError),
}

impl From<StoreError> for AddError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

fn decode_set(bytes: Option<Vec<u8>>) -> Vec<String> {
    let text = String::from_utf8(bytes.unwrap_or_default()).expect("UTF-8 set");
    text.split('\n').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// 200 writers race to add an item to a set capped at 2 (like access keys per user): exactly two
/// succeed, the rest see the cap, and the set never holds more than two.
pub async fn concurrent_limit<S: Store + Clone>(store: &S, accounts: &Accounts) {
    const CAP: usize = 2;
    let key = Key::new(&accounts.a, SET, "access-keys");
    let mut tasks = JoinSet::new();
    for i in 0..200 {
        let (store, key) = (store.clone(), key.clone());
        tasks.spawn(async move {
            let item = format!("item-{i}");
            let (key, item_ref) = (&key, &item);
            let outcome = update(&store, |tx| async move {
                let mut items = decode_set(tx.get(key).await?);
                tokio::task::yield_now().await;
                if items.len() >= CAP {
                    return Err(AddError::Full);
                }
                items.push(item_ref.clone());
                tx.put(key.clone(), items.join("\n"));
                Ok(())
            })
            .await;
            (item, outcome)
        });
    }
    let (mut added, mut full) = (HashSet::new(), 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task") {
            (item, Ok(())) => {
                added.insert(item);
            }
            (_, Err(AddError::Full)) => full += 1,
            // Only two commits ever happen, so no writer can conflict more than twice.
            (_, Err(AddError::Store(error))) => panic!("unexpected error: {error}"),
        }
    }
    let stored: HashSet<String> = decode_set(value(store, &key).await).into_iter().collect();
    assert_eq!(stored.len(), CAP, "{stored:?}");
    assert_eq!(stored, added, "the stored items are exactly those whose add succeeded");
    assert_eq!(full, 200 - CAP);
}

/// 60 writers race to create one record each of a kind capped at 10 per account (like users or
/// instance profiles per account), each under its own key: the guard of
/// [`crate::iam::under_account_quota`] lets exactly 10 commit, and the others see the quota.
pub async fn concurrent_account_quota<S: Store + Clone>(store: &S, accounts: &Accounts) {
    const CAP: usize = 10;
    let ns = &accounts.a;
    let mut tasks = JoinSet::new();
    for i in 0..60 {
        let (store, ns) = (store.clone(), ns.clone());
        tasks.spawn(async move {
            let key = Key::new(&ns, ITEM, &format!("entity-{i:02}"));
            let (key, ns) = (&key, &ns);
            update(&store, |tx| async move {
                tokio::task::yield_now().await;
                if !crate::iam::under_account_quota(&tx, ns, ITEM, CAP).await? {
                    return Err(AddError::Full);
                }
                tx.put(key.clone(), b"entity".to_vec());
                Ok(())
            })
            .await
        });
    }
    let (mut added, mut full) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task") {
            Ok(()) => added += 1,
            Err(AddError::Full) => full += 1,
            Err(AddError::Store(error)) => panic!("unexpected error: {error}"),
        }
    }
    let stored = store.scan_prefix(&Key::new(ns, ITEM, ""), None, 100).await.expect("scan").len();
    assert_eq!((added, full, stored), (CAP, 60 - CAP, CAP));
    // Another account has its own quota; and a freed place can be taken again.
    let other = &accounts.b;
    let fits = update(store, |tx| async move { crate::iam::under_account_quota(&tx, other, ITEM, CAP).await }).await;
    assert!(fits.expect("update"));
    let first = store.scan_prefix(&Key::new(ns, ITEM, ""), None, 1).await.expect("scan").remove(0).0;
    commit_ok(store, Transaction::new().delete(first)).await;
    let fits = update(store, |tx| async move { crate::iam::under_account_quota(&tx, ns, ITEM, CAP).await }).await;
    assert!(fits.expect("update"));
}

/// The scope of a snapshot of the check's two accounts (never the whole store: the Redis backend's
/// checks share one server).
fn both(accounts: &Accounts) -> Scope {
    Scope::Only([accounts.a.clone(), accounts.b.clone()].into_iter().collect())
}

/// Every record of `ns`, as the store's ordinary scan reads it.
async fn scan_all<S: Store>(store: &S, ns: &Namespace) -> Vec<Entry> {
    let prefix = Key::namespace_prefix(ns);
    let mut out: Vec<Entry> = Vec::new();
    loop {
        let page = store.scan_prefix(&prefix, out.last().map(|(k, _)| k), 100).await.expect("scan");
        let done = page.len() < 100;
        out.extend(page);
        if done {
            return out;
        }
    }
}

/// Export holds every record with its version and bytes; importing it back over later changes
/// brings back exactly those records (added keys removed, deleted ones restored), keeps their
/// versions, and later writes still get higher versions.
pub async fn snapshot_round_trip<S: Snapshots>(store: &S, accounts: &Accounts) {
    let values: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0, 0xff, 0, b'\n', 0x80],
        b"{\"json\":true}".to_vec(),
        (0..=255u8).cycle().take(70_000).collect(),
    ];
    for (i, stored) in values.iter().enumerate() {
        commit_ok(store, Transaction::new().put(Key::new(&accounts.a, ITEM, &format!("k{i}")), stored.clone())).await;
    }
    for i in 0..250 {
        commit_ok(store, Transaction::new().put(Key::new(&accounts.b, ITEMS, &format!("{i:04}")), format!("b{i}")))
            .await;
    }
    let snapshot = store.export(&both(accounts)).await.expect("export");
    snapshot.validate().expect("an export is valid");
    assert_eq!(snapshot.namespaces.len(), 2);
    assert_eq!(snapshot.len(), values.len() + 250);
    for ns in &snapshot.namespaces {
        assert_eq!(ns.entries, scan_all(store, &ns.namespace).await, "`{}` as scanned", ns.namespace);
        assert!(ns.entries.iter().all(|(_, v)| v.version <= ns.counter));
    }
    let k0 = Key::new(&accounts.a, ITEM, "k0");
    assert_eq!(snapshot.get(&k0).map(|(_, v)| v.value.clone()), Some(Vec::new()));

    // Change things: add, overwrite, delete, in both accounts.
    commit_ok(store, Transaction::new().put(Key::new(&accounts.a, ITEM, "added"), "new")).await;
    commit_ok(store, Transaction::new().put(k0.clone(), "overwritten")).await;
    commit_ok(store, Transaction::new().delete(Key::new(&accounts.a, ITEM, "k1"))).await;
    commit_ok(store, Transaction::new().delete(Key::new(&accounts.b, ITEMS, "0007"))).await;
    let before_import = version(store, &k0).await;

    store.import(snapshot.clone()).await.expect("import");
    let again = store.export(&both(accounts)).await.expect("export");
    for (ours, theirs) in snapshot.namespaces.iter().zip(&again.namespaces) {
        assert_eq!(ours.entries, theirs.entries, "`{}` after the import", ours.namespace);
    }
    assert_eq!(again.namespaces.len(), 2);
    assert_eq!(store.get(&Key::new(&accounts.a, ITEM, "added")).await.expect("get"), None);
    // Versions keep rising after an import: no write after it reuses one.
    commit_ok(store, Transaction::new().put(k0.clone(), "after")).await;
    assert!(version(store, &k0).await > before_import, "versions rise after an import");

    // A namespace in scope but absent from the snapshot is emptied; one out of scope is untouched.
    let only_a = Snapshot {
        scope: both(accounts),
        namespaces: snapshot.namespaces.iter().filter(|ns| ns.namespace == accounts.a).cloned().collect(),
    };
    store.import(only_a).await.expect("import");
    assert!(scan_all(store, &accounts.b).await.is_empty(), "b was in scope and absent: emptied");
    let just_a = Snapshot { scope: Scope::Only([accounts.a.clone()].into_iter().collect()), namespaces: Vec::new() };
    commit_ok(store, Transaction::new().put(Key::new(&accounts.b, ITEM, "kept"), "kept")).await;
    store.import(just_a).await.expect("import");
    assert!(scan_all(store, &accounts.a).await.is_empty());
    assert_eq!(value(store, &Key::new(&accounts.b, ITEM, "kept")).await.as_deref(), Some(&b"kept"[..]));
}

/// An invalid snapshot is refused before anything is written.
pub async fn snapshot_import_refuses_invalid<S: Snapshots>(store: &S, accounts: &Accounts) {
    let kept = Key::new(&accounts.a, ITEM, "kept");
    commit_ok(store, Transaction::new().put(kept.clone(), "kept")).await;
    let good = store.export(&both(accounts)).await.expect("export");
    let mut stray = good.clone();
    // A record of account b filed under account a.
    stray.namespaces[0]
        .entries
        .push((Key::new(&accounts.b, ITEM, "stray"), Versioned { value: b"x".to_vec(), version: 1 }));
    let mut future_version = good.clone();
    future_version.namespaces[0].entries[0].1.version = future_version.namespaces[0].counter + 1;
    let mut out_of_scope = good.clone();
    out_of_scope.scope = Scope::Only([accounts.b.clone()].into_iter().collect());
    for bad in [stray, future_version, out_of_scope] {
        match store.import(bad).await {
            Err(StoreError::InvalidSnapshot(_)) => {}
            other => panic!("expected InvalidSnapshot, got {other:?}"),
        }
        assert_eq!(value(store, &kept).await.as_deref(), Some(&b"kept"[..]), "nothing was written");
        assert_eq!(store.get(&Key::new(&accounts.b, ITEM, "stray")).await.expect("get"), None);
    }
}

fn decimal(bytes: Option<Vec<u8>>) -> u64 {
    String::from_utf8(bytes.expect("present")).expect("UTF-8").parse().expect("a decimal number")
}

/// Snapshots taken while writers move value between two keys in one transaction each always see
/// the two keys' sum intact: a snapshot is one moment of each namespace.
pub async fn snapshot_is_consistent_under_writes<S: Snapshots + Clone>(store: &S, accounts: &Accounts) {
    // `counter:x` sorts before the padding and `items:y` after it: a namespace read in pages (Redis)
    // reads them in different pages.
    let (x, y) = (Key::new(&accounts.a, COUNTER, "x"), Key::new(&accounts.a, ITEMS, "y"));
    for chunk in 0..3 {
        let mut txn = Transaction::new();
        for i in 0..1000 {
            txn = txn.put(Key::new(&accounts.a, ITEM, &format!("pad{chunk}-{i:04}")), "p");
        }
        commit_ok(store, txn).await;
    }
    commit_ok(store, Transaction::new().put(x.clone(), "1000").put(y.clone(), "0")).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, x, y, stop) = (store.clone(), x.clone(), y.clone(), std::sync::Arc::clone(&stop));
        tokio::spawn(async move {
            let mut moves = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && moves < 100_000 {
                let (x, y) = (&x, &y);
                update(&store, |tx| async move {
                    let a = decimal(tx.get(x).await?);
                    let b = decimal(tx.get(y).await?);
                    let (a, b) = if a > 0 { (a - 1, b + 1) } else { (b, 0) };
                    tx.put(x.clone(), a.to_string());
                    tx.put(y.clone(), b.to_string());
                    Ok::<_, StoreError>(())
                })
                .await
                .expect("move");
                moves += 1;
            }
        })
    };
    for _ in 0..10 {
        let snapshot = store.export(&both(accounts)).await.expect("export");
        let read = |key: &Key| decimal(snapshot.get(key).map(|(_, v)| v.value.clone()));
        assert_eq!(read(&x) + read(&y), 1000, "a snapshot saw half a transaction");
        assert_eq!(snapshot.len(), 3002);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.expect("writer");
}
