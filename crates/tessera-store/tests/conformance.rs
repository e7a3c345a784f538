//! Runs the conformance suite on every backend: `memory::*`, `redb::*` (a fresh temporary directory
//! per test), `redis::*` (the server at `REDIS_URL`, default `redis://127.0.0.1:6379`) and
//! `redis_cluster::*` (a three-master Redis Cluster the tests start, `tessera_store::testing`).
//!
//! The Redis tests fail, not skip, when no server answers (or `redis-server` is missing): CI starts
//! one, and a silently skipped backend is how a backend rots.

use std::future::Future;
use std::sync::Arc;

use tempfile::TempDir;
use tessera_store::conformance::{self, Accounts};
use tessera_store::testing::RedisCluster;
use tessera_store::{AnyStore, Store};

/// A store for one test, and what must outlive it.
struct Fixture {
    store: AnyStore,
    _dir: Option<TempDir>,
    _cluster: Option<Arc<RedisCluster>>,
}

async fn memory() -> Fixture {
    Fixture { store: AnyStore::open("memory:").await.expect("memory store"), _dir: None, _cluster: None }
}

async fn redb() -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = AnyStore::open(dir.path().to_str().expect("UTF-8 path")).await.expect("redb store");
    Fixture { store, _dir: Some(dir), _cluster: None }
}

async fn redis() -> Fixture {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let store = AnyStore::open(&url)
        .await
        .unwrap_or_else(|e| panic!("Redis must be reachable at `{url}` (set REDIS_URL; CI starts one): {e}"));
    Fixture { store, _dir: None, _cluster: None }
}

async fn redis_cluster() -> Fixture {
    let cluster = tokio::task::spawn_blocking(RedisCluster::shared).await.expect("start a Redis Cluster");
    let store = AnyStore::open(&cluster.url()).await.expect("connect to the Redis Cluster");
    Fixture { store, _dir: None, _cluster: Some(cluster) }
}

/// Runs `check` on the fixture's store with fresh accounts, then deletes those accounts' keys from
/// Redis whether the check passed or not, then reports the check's outcome.
async fn run<C, Fut>(fixture: impl Future<Output = Fixture>, check: C)
where
    C: FnOnce(AnyStore, Accounts) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let fixture = fixture.await;
    let accounts = Accounts::random();
    eprintln!("backend: {}, accounts: {} {}", fixture.store.backend(), accounts.a, accounts.b);
    let outcome = tokio::spawn(check(fixture.store.clone(), accounts.clone())).await;
    if let AnyStore::Redis(redis) = &fixture.store {
        for ns in [&accounts.a, &accounts.b] {
            redis.purge_namespace(ns).await.expect("clean up the test's keys");
        }
        for ns in [&accounts.a, &accounts.b] {
            let left = redis.scan_prefix(&tessera_store::Key::namespace_prefix(ns), None, 1).await.expect("scan");
            assert!(left.is_empty(), "purge left keys in `{ns}`");
        }
    }
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

macro_rules! suite {
    ($backend:ident: $($check:ident),* $(,)?) => {
        mod $backend {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    run(super::$backend(), |store, accounts| async move {
                        conformance::$check(&store, &accounts).await
                    })
                    .await;
                }
            )*
        }
    };
}

macro_rules! every_backend {
    ($($backend:ident),*) => {
        $(
            suite!($backend:
                get_put_delete,
                versions_increase,
                expect_absent,
                expect_version,
                expect_present,
                failed_check_applies_nothing,
                transactions_stay_in_one_namespace,
                global_namespace,
                scan_order_and_pagination,
                scan_isolates_accounts,
                publish_subscribe,
                concurrent_counter,
                contended_counter_loses_nothing,
                concurrent_limit,
                concurrent_account_quota,
                snapshot_round_trip,
                snapshot_import_refuses_invalid,
                snapshot_is_consistent_under_writes,
            );
        )*
    };
}

every_backend!(memory, redb, redis, redis_cluster);
