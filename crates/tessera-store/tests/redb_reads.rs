//! The embedded store answers a point read without going through tokio's blocking pool, so reads
//! never queue behind commits (fsync) or scans occupying the pool's threads.

use std::time::Duration;

use tessera_store::{Key, Kind, Namespace, RedbStore, Store, Transaction};

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
