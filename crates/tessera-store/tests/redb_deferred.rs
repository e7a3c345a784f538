//! Deferred commits on the embedded store (`Transaction::deferred`): visible at once, and written
//! to disk by the next immediate commit, an empty one included, or when the store closes.

use tessera_store::{Key, Kind, Namespace, RedbStore, Store, Transaction};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn deferred_commits_are_visible_at_once_and_kept_when_the_store_closes() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            Key::new(&Namespace::global(), Kind::new("item"), "a"),
            Key::new(&Namespace::global(), Kind::new("item"), "b"),
        );
        {
            let store = RedbStore::open(dir.path()).unwrap();
            store.commit(Transaction::new().put(a.clone(), "1").deferred()).await.unwrap();
            assert_eq!(store.get(&a).await.unwrap().expect("visible before it is on disk").value, b"1");
            // An empty immediate commit writes it; a later deferred one is written on close.
            store.commit(Transaction::new()).await.unwrap();
            store.commit(Transaction::new().put(b.clone(), "2").deferred()).await.unwrap();
        }
        let store = RedbStore::open(dir.path()).unwrap();
        assert_eq!(store.get(&a).await.unwrap().expect("kept").value, b"1");
        assert_eq!(store.get(&b).await.unwrap().expect("written when the store closed").value, b"2");
    });
}
