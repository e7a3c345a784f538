//! What only a Redis Cluster can show (the conformance suite runs on one as `redis_cluster::*`):
//! two accounts' keys live on different masters while each account's transactions stay atomic, an
//! epoch published through one node reaches a subscriber on another, and a whole-store snapshot
//! visits every master.

use std::time::Duration;

use tessera_store::conformance::Accounts;
use tessera_store::iam::{EPOCH_CHANNEL, EpochSubscription, PolicyEpoch};
use tessera_store::testing::RedisCluster;
use tessera_store::{
    AnyStore, Key, Kind, Namespace, RedisStore, Scope, Snapshot, Snapshots, Store, StoreError, Transaction, update,
};

const ITEM: Kind = Kind::new("item");
/// How long a published message may take to arrive before the test fails.
const DELIVERY: Duration = Duration::from_secs(10);

async fn shared() -> std::sync::Arc<RedisCluster> {
    tokio::task::spawn_blocking(RedisCluster::shared).await.expect("start a Redis Cluster")
}

async fn connect(url: &str) -> RedisStore {
    let store = RedisStore::connect(url).await.expect("connect to the Redis Cluster");
    assert!(store.is_cluster());
    store
}

/// The client ports of the nodes holding keys of `ns`, asked of each node alone: `CLUSTER
/// COUNTKEYSINSLOT` counts only the node's own keys.
fn holders(cluster: &RedisCluster, ns: &Namespace) -> Vec<u16> {
    let mut found = Vec::new();
    for &port in cluster.ports() {
        let mut conn = redis::Client::open(cluster.node_url(port)).unwrap().get_connection().unwrap();
        let slot: u16 =
            redis::cmd("CLUSTER").arg("KEYSLOT").arg(Key::namespace_prefix(ns).as_str()).query(&mut conn).unwrap();
        let keys: u64 = redis::cmd("CLUSTER").arg("COUNTKEYSINSLOT").arg(slot).query(&mut conn).unwrap();
        if keys > 0 {
            found.push(port);
        }
    }
    found
}

fn decimal(bytes: Option<Vec<u8>>) -> u64 {
    String::from_utf8(bytes.expect("present")).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accounts_on_different_masters_each_commit_atomically() {
    let cluster = shared().await;
    let store = connect(&cluster.url()).await;
    // Accounts until two live on different masters (a third of pairs share one).
    let a = Accounts::random().a;
    let start =
        |ns: &Namespace| Transaction::new().put(Key::new(ns, ITEM, "x"), "1000").put(Key::new(ns, ITEM, "y"), "0");
    store.commit(start(&a)).await.unwrap();
    let a_node = holders(&cluster, &a);
    assert_eq!(a_node.len(), 1, "one account's keys are on one master: {a_node:?}");
    let b = loop {
        let b = Accounts::random().a;
        store.commit(start(&b)).await.unwrap();
        if holders(&cluster, &b) != a_node {
            break b;
        }
        store.purge_namespace(&b).await.unwrap();
    };
    let b_node = holders(&cluster, &b);
    assert_eq!(b_node.len(), 1);
    assert_ne!(a_node, b_node, "the two accounts are on different masters");

    // Writers in both accounts at once, each move one transaction over two keys.
    let mut writers = Vec::new();
    for ns in [&a, &b, &a, &b] {
        let (store, ns) = (store.clone(), ns.clone());
        writers.push(tokio::spawn(async move {
            let (x, y) = (Key::new(&ns, ITEM, "x"), Key::new(&ns, ITEM, "y"));
            for _ in 0..100 {
                let (x, y) = (&x, &y);
                update(&store, |tx| async move {
                    let (from, to) = (decimal(tx.get(x).await?), decimal(tx.get(y).await?));
                    tx.put(x.clone(), (from - 1).to_string());
                    tx.put(y.clone(), (to + 1).to_string());
                    Ok::<_, StoreError>(())
                })
                .await
                .expect("move");
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    for ns in [&a, &b] {
        let page = store.scan_prefix(&Key::new(ns, ITEM, ""), None, 10).await.unwrap();
        let values: Vec<u64> = page.into_iter().map(|(_, v)| decimal(Some(v.value))).collect();
        assert_eq!(values, [800, 200], "`{ns}`: every move applied whole");
    }
    // A failed check in b applies none of its writes.
    let failed = Transaction::new()
        .check(Key::new(&b, ITEM, "x"), tessera_store::Expect::Version(1))
        .put(Key::new(&b, ITEM, "z"), "z")
        .delete(Key::new(&b, ITEM, "y"));
    assert!(matches!(store.commit(failed).await, Err(StoreError::Conflict)));
    assert_eq!(store.get(&Key::new(&b, ITEM, "z")).await.unwrap(), None);
    assert!(store.get(&Key::new(&b, ITEM, "y")).await.unwrap().is_some());
    // Still one master per account: the index and counter went where the records are.
    assert_eq!((holders(&cluster, &a), holders(&cluster, &b)), (a_node, b_node));
    for ns in [&a, &b] {
        store.purge_namespace(ns).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_epoch_published_through_another_node_reaches_the_subscriber() {
    let cluster = shared().await;
    let [first, others @ ..] = cluster.ports() else { unreachable!("three nodes") };
    // Seeded with the first node only, the store subscribes there.
    let subscriber = connect(&format!("redis+cluster://127.0.0.1:{first}")).await;
    let mut epochs = EpochSubscription::subscribe(&subscriber).await.unwrap();
    let account = Accounts::random().a;
    for (n, &port) in (1u64..).zip(others) {
        // A plain connection to another node: the message enters the cluster there.
        let publisher = RedisStore::connect(&cluster.node_url(port)).await.unwrap();
        publisher.publish(EPOCH_CHANNEL, format!("{account} {n}").as_bytes()).await.unwrap();
        let got = tokio::time::timeout(DELIVERY, epochs.recv()).await.expect("delivered").unwrap();
        assert_eq!(got, PolicyEpoch { account: account.tag().to_owned(), epoch: n }, "published on node {port}");
    }
    // And through the cluster store, after a commit that bumps the epoch.
    let publisher = connect(&cluster.url()).await;
    update(&publisher, |tx| {
        let account = account.clone();
        async move {
            tx.bump_epoch(&account);
            Ok::<_, StoreError>(())
        }
    })
    .await
    .unwrap();
    let epoch = tessera_store::iam::publish_epoch(&publisher, &account).await.unwrap();
    assert!(epoch > 0);
    let got = tokio::time::timeout(DELIVERY, epochs.recv()).await.expect("delivered").unwrap();
    assert_eq!(got, PolicyEpoch { account: account.tag().to_owned(), epoch });
    publisher.purge_namespace(&account).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_whole_store_snapshot_visits_every_master() {
    // A cluster of its own: importing the whole store replaces everything on it.
    let cluster = tokio::task::spawn_blocking(RedisCluster::start).await.unwrap();
    let store = AnyStore::open(&cluster.url()).await.unwrap();
    let mut accounts = vec![Namespace::global()];
    while accounts.len() < 3 || cluster.ports().iter().any(|p| !accounts.iter().any(|ns| holders(&cluster, ns) == [*p]))
    {
        let ns = Accounts::random().a;
        for i in 0..3 {
            store.commit(Transaction::new().put(Key::new(&ns, ITEM, &format!("{i}")), ns.tag())).await.unwrap();
        }
        accounts.push(ns);
    }
    store.commit(Transaction::new().put(Key::new(&Namespace::global(), ITEM, "g"), "g")).await.unwrap();
    let snapshot = store.export(&Scope::Whole).await.unwrap();
    let found: Vec<&Namespace> = snapshot.namespaces.iter().map(|ns| &ns.namespace).collect();
    let mut expected: Vec<&Namespace> = accounts.iter().collect();
    expected.sort();
    assert_eq!(found, expected, "every namespace, whichever master holds it");

    // Emptying the whole store reaches every master; the snapshot brings it all back.
    store.import(Snapshot { scope: Scope::Whole, namespaces: Vec::new() }).await.unwrap();
    assert!(store.export(&Scope::Whole).await.unwrap().is_empty());
    store.import(snapshot.clone()).await.unwrap();
    assert_eq!(store.export(&Scope::Whole).await.unwrap(), snapshot);
    // Versions keep rising after the import.
    let key = Key::new(&accounts[1], ITEM, "0");
    let before = store.get(&key).await.unwrap().unwrap().version;
    store.commit(Transaction::new().put(key.clone(), "after")).await.unwrap();
    assert!(store.get(&key).await.unwrap().unwrap().version > before);
}
