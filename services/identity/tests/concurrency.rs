//! Two clients of 100 concurrent writers each, all on the same user, on the embedded store and on
//! Redis: no lost update, no limit exceeded, both sides of every relation in step.
//!
//! Each writer either succeeds or fails with an AWS error a real client could get
//! (`LimitExceeded`, `ConcurrentModification`); the final state must equal what the successes
//! imply.

use std::collections::BTreeSet;
use std::sync::Arc;

use tessera_credentials::{Argon2Params, MasterKey, SystemRng};
use tessera_identity::{Account, CreateUser, Env, Identity, PageRequest, Random, SystemClock};
use tessera_proto::error::ErrorCode;
use tessera_store::{AnyStore, RedbStore, RedisStore, Store};

const WRITERS: usize = 100;

/// One replica's environment; replicas share the master key, as they must.
fn env(master_key: &Arc<MasterKey>) -> Env {
    // The OS generator, not a seeded one: key ids live in a global index on a Redis shared by every
    // run, so a fixed seed would replay ids earlier runs already hold.
    Env {
        clock: Arc::new(SystemClock),
        master_key: Arc::clone(master_key),
        random: Arc::new(Random::new(SystemRng::new().unwrap())),
        password_params: Argon2Params::FAST_FOR_TESTS,
    }
}

/// A fresh account per run, so runs on a shared Redis never see each other's records.
fn fresh_account() -> Account {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let id = format!("{:012}", (nanos ^ u128::from(std::process::id())) % 900_000_000_000 + 100_000_000_000);
    Account::new(&id).unwrap()
}

/// Two "clients" (separate `Identity` values over one shared store, as two replicas would be),
/// 100 writers each.
async fn clients<S: Store>(store: S) -> (Arc<Identity<S>>, Arc<Identity<S>>) {
    let store = Arc::new(store);
    let master_key = Arc::new(MasterKey::generate(&mut SystemRng::new().unwrap()));
    (Arc::new(Identity::new(Arc::clone(&store), env(&master_key))), Arc::new(Identity::new(store, env(&master_key))))
}

async fn access_keys_never_exceed_two<S: Store>(store: S) {
    let (a, b) = clients(store).await;
    let account = fresh_account();
    a.create_user(&account, CreateUser { user_name: "shared".into(), ..CreateUser::default() }).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..2 * WRITERS {
        let (client, account) = (if i % 2 == 0 { Arc::clone(&a) } else { Arc::clone(&b) }, account.clone());
        tasks.spawn(async move { client.create_access_key(&account, "shared").await.map(|k| k.access_key_id) });
    }
    let (mut created, mut limited, mut contended) = (BTreeSet::new(), 0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(id) => assert!(created.insert(id)),
            Err(error) if error.code() == ErrorCode::LimitExceeded => limited += 1,
            Err(error) if error.code() == ErrorCode::ConcurrentModification => contended += 1,
            Err(error) => panic!("unexpected {error}"),
        }
    }
    eprintln!("access keys: {} created, {limited} over the limit, {contended} gave up under contention", created.len());
    assert_eq!(created.len(), 2, "exactly two of {} concurrent creations succeed", 2 * WRITERS);
    let listed = a.list_access_keys(&account, "shared", &PageRequest::default()).await.unwrap();
    let listed: BTreeSet<String> = listed.items.into_iter().map(|k| k.access_key_id).collect();
    assert_eq!(listed, created, "every acknowledged key is stored, and nothing else");
    for id in &created {
        assert!(b.authenticate_access_key(id).await.unwrap().is_some(), "the index finds {id}");
    }
}

async fn group_changes_are_not_lost<S: Store>(store: S) {
    let (a, b) = clients(store).await;
    let account = fresh_account();
    a.create_user(&account, CreateUser { user_name: "member".into(), ..CreateUser::default() }).await.unwrap();
    // 12 groups, so the 10-group limit is reachable; writers add and remove concurrently.
    for g in 0..12 {
        a.create_group(&account, None, &format!("g{g}")).await.unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..2 * WRITERS {
        let (client, account) = (if i % 2 == 0 { Arc::clone(&a) } else { Arc::clone(&b) }, account.clone());
        tasks.spawn(async move {
            let group = format!("g{}", i % 12);
            let result = if i % 5 == 4 {
                client.remove_user_from_group(&account, &group, "member").await
            } else {
                client.add_user_to_group(&account, &group, "member").await
            };
            (i, result)
        });
    }
    let (mut succeeded, mut contended) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.unwrap();
        succeeded += usize::from(result.is_ok());
        if let Err(error) = result {
            contended += usize::from(error.code() == ErrorCode::ConcurrentModification);
            let expected = if i % 5 == 4 {
                // Removing a user who is not (yet, or any more) a member.
                matches!(error.code(), ErrorCode::NoSuchEntity | ErrorCode::ConcurrentModification)
            } else {
                matches!(error.code(), ErrorCode::LimitExceeded | ErrorCode::ConcurrentModification)
            };
            assert!(expected, "writer {i}: unexpected {error}");
        }
    }
    eprintln!("group changes: {succeeded} succeeded, {contended} gave up under contention");
    let user = a.get_user(&account, "member").await.unwrap();
    assert!(user.groups.len() <= 10, "the user is in {} groups", user.groups.len());
    let mut member_of = BTreeSet::new();
    for g in 0..12 {
        let name = format!("g{g}");
        let (_, members) = b.get_group(&account, &name, &PageRequest::default()).await.unwrap();
        if !members.items.is_empty() {
            assert_eq!(members.items.len(), 1);
            member_of.insert(name);
        }
    }
    let user_side: BTreeSet<String> = user.groups.into_iter().collect();
    assert_eq!(user_side, member_of, "the user's groups and the groups' members agree");
    // And the writes went through: after the storm a final add is still bounded by the limit.
    let extra = (0..12).map(|g| format!("g{g}")).find(|g| !member_of.contains(g)).unwrap();
    let result = a.add_user_to_group(&account, &extra, "member").await;
    if member_of.len() == 10 {
        assert_eq!(result.unwrap_err().code(), ErrorCode::LimitExceeded);
    } else {
        result.unwrap();
    }
}

mod redb {
    use super::*;

    async fn open() -> (tempfile::TempDir, RedbStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path()).unwrap();
        (dir, store)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn access_keys_never_exceed_two() {
        let (_dir, store) = open().await;
        super::access_keys_never_exceed_two(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_changes_are_not_lost() {
        let (_dir, store) = open().await;
        super::group_changes_are_not_lost(store).await;
    }
}

mod redis {
    use super::*;

    async fn open() -> AnyStore {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
        AnyStore::from(RedisStore::connect(&url).await.expect("Redis must be reachable at REDIS_URL"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn access_keys_never_exceed_two() {
        super::access_keys_never_exceed_two(open().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_changes_are_not_lost() {
        super::group_changes_are_not_lost(open().await).await;
    }
}
