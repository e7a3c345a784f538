//! The embedded store answers a point read without going through tokio's blocking pool, so reads
//! never queue behind commits (fsync) or scans occupying the pool's threads.

use std::time::Duration;

use tessera_store::{Expect, Key, Kind, Namespace, RedbStore, Store, Transaction};

#[test]
fn a_point_read_does_not_wait_for_the_blocking_pool() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path()).unwrap();
        let key = Key::new(&Namespace::global(), Kind::new("item"), "a");
        store.commit(Transaction::new().put(key.clone(), "v")).await.unwrap();

        // The pool's only thread is busy until the read has been answered.
        let (release, busy_until) = std::sync::mpsc::channel::<()>();
        let busy = tokio::task::spawn_blocking(move || {
            let _ = busy_until.recv();
        });
        // Not a speed goal: a deadline that only a read queued behind the busy thread misses.
        let read = tokio::time::timeout(Duration::from_secs(10), store.get(&key)).await;
        release.send(()).unwrap();
        busy.await.unwrap();
        let found = read.expect("the read waited for the blocking pool").unwrap().expect("the key was written");
        assert_eq!(found.value, b"v");
    });
}

/// Point reads share a read transaction until the next commit: a read that starts after a commit
/// returned sees it, and no read sees an older value than an earlier read did, while a writer
/// commits (immediately and deferred, with failed commits between) and readers read concurrently.
#[test]
fn shared_reads_see_every_commit_once_it_returns_and_never_go_back() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path()).unwrap();
        let key = Key::new(&Namespace::global(), Kind::new("counter"), "n");
        let read = |store: RedbStore, key: Key| async move {
            let found = store.get(&key).await.unwrap();
            found.map_or(0, |v| String::from_utf8(v.value).unwrap().parse::<u64>().unwrap())
        };
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let (store, key, stop) = (store.clone(), key.clone(), std::sync::Arc::clone(&stop));
                tokio::spawn(async move {
                    let mut last = 0;
                    let mut reads = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Acquire) {
                        let now = read(store.clone(), key.clone()).await;
                        assert!(now >= last, "a read saw {now} after one saw {last}");
                        last = now;
                        reads += 1;
                        tokio::task::yield_now().await;
                    }
                    reads
                })
            })
            .collect();
        for n in 1..=200u64 {
            let mut txn = Transaction::new().put(key.clone(), n.to_string());
            if n % 3 == 0 {
                txn = txn.deferred();
            }
            store.commit(txn).await.unwrap();
            assert_eq!(read(store.clone(), key.clone()).await, n, "the read right after commit {n}");
            if n % 10 == 0 {
                // A commit that fails its check writes nothing and still ends its write.
                let stale = Transaction::new().check(key.clone(), Expect::Absent).put(key.clone(), "0");
                assert!(store.commit(stale).await.is_err());
                assert_eq!(read(store.clone(), key.clone()).await, n);
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Release);
        for reader in readers {
            assert!(reader.await.unwrap() > 0);
        }
    });
}
