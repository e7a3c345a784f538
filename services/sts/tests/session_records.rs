//! Session records are written in batches: many concurrent AssumeRole calls on the embedded store
//! (in a temporary directory) and on Redis (`REDIS_URL`, default `redis://127.0.0.1:6379/0`) each
//! find their record in the store afterwards, written in fewer commits than sessions; a failed
//! commit reaches every call it held as an error, and the next calls succeed again.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{FakeClock, random_account_id};
use tessera_credentials::{MasterKey, SeededRandom};
use tessera_identity::{Account, CreateRole, CreateUser, Identity};
use tessera_proto::ErrorCode;
use tessera_store::{
    AnyStore, Entry, Key, Kind, Namespace, RedisStore, Store, StoreError, Subscription, Transaction, Versioned,
};
use tessera_sts::{AssumeRole, CallerCredentials, Sts};

/// Sessions issued at once.
const SESSIONS: usize = 200;

/// A real store that counts the commits holding session records, and can be told to fail them.
#[derive(Debug)]
struct Watched {
    inner: AnyStore,
    session_commits: AtomicUsize,
    fail_sessions: AtomicBool,
}

fn is_session(key: &Key) -> bool {
    key.starts_with(&Key::new(&Namespace::global(), Kind::new("session"), ""))
}

impl Store for Watched {
    async fn get(&self, key: &Key) -> Result<Option<Versioned<Vec<u8>>>, StoreError> {
        self.inner.get(key).await
    }

    async fn scan_prefix(
        &self,
        prefix: &Key,
        start_after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.inner.scan_prefix(prefix, start_after, limit).await
    }

    async fn commit(&self, txn: Transaction) -> Result<(), StoreError> {
        if txn.writes.iter().any(|(key, _)| is_session(key)) {
            if self.fail_sessions.load(Ordering::SeqCst) {
                return Err(StoreError::Io(std::io::Error::other("injected failure")));
            }
            self.session_commits.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.commit(txn).await
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        self.inner.publish(channel, message).await
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        self.inner.subscribe(channel).await
    }
}

/// A token service over `store` with a user and a role that trusts it.
struct Fixture {
    store: Arc<Watched>,
    sts: Arc<Sts<Watched>>,
    account: Account,
    caller_key: String,
    role_arn: String,
}

/// Fixed: the token key ring is a global record named after the master key, so a fixed key keeps
/// a Redis from collecting one ring per run (the key of `tests/grpc.rs`'s Redis test).
fn master_key() -> MasterKey {
    MasterKey::generate(&mut SeededRandom::new(0x5EED_0F7E_55E2))
}

async fn fixture(inner: AnyStore) -> Fixture {
    let store =
        Arc::new(Watched { inner, session_commits: AtomicUsize::new(0), fail_sessions: AtomicBool::new(false) });
    let env = common::env(&FakeClock::new(), master_key());
    let account = Account::new(&random_account_id()).unwrap();
    let identity = Identity::new(Arc::clone(&store), env.clone());
    let user = identity
        .create_user(&account, CreateUser { user_name: "caller".into(), ..CreateUser::default() })
        .await
        .unwrap();
    let caller_key = identity.create_access_key(&account, "caller").await.unwrap().access_key_id;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"sts:AssumeRole"}}]}}"#,
        user.principal.arn
    );
    let role = CreateRole { role_name: "Batched".into(), assume_role_policy_document: trust, ..CreateRole::default() };
    let role_arn = identity.create_role(&account, role).await.unwrap().principal.arn;
    let sts = Arc::new(Sts::start(Arc::clone(&store), env).await.expect("the token service starts"));
    Fixture { store, sts, account, caller_key, role_arn }
}

impl Fixture {
    /// `count` AssumeRole calls at once, each with its own session name; their results in order.
    async fn assume_many(&self, count: usize) -> Vec<tessera_identity::Result<tessera_sts::AssumedRole>> {
        let credentials = CallerCredentials { access_key_id: self.caller_key.clone(), ..CallerCredentials::default() };
        let caller = Arc::new(self.sts.resolve_caller(&credentials).await.unwrap());
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..count {
            let (sts, caller) = (Arc::clone(&self.sts), Arc::clone(&caller));
            let input = AssumeRole {
                role_arn: self.role_arn.clone(),
                role_session_name: format!("s{i}"),
                ..AssumeRole::default()
            };
            calls.spawn(async move { (i, sts.assume_role(&caller, input).await) });
        }
        let mut results: Vec<_> = calls.join_all().await;
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, result)| result).collect()
    }

    /// Issues [`SESSIONS`] sessions at once and finds each one's record in the store.
    async fn every_session_is_recorded(&self) -> Vec<String> {
        let issued = self.assume_many(SESSIONS).await;
        let mut ids = Vec::new();
        for (i, result) in issued.into_iter().enumerate() {
            let assumed = result.unwrap_or_else(|e| panic!("call {i} failed: {e}"));
            let id = assumed.credentials.access_key_id.clone();
            let record = self.sts.session(&id).await.unwrap().unwrap_or_else(|| panic!("no record of session {i}"));
            assert_eq!(record.account, self.account.id());
            assert_eq!(record.role_arn.as_deref(), Some(self.role_arn.as_str()));
            assert!(record.principal_arn.ends_with(&format!("/Batched/s{i}")), "{}", record.principal_arn);
            ids.push(id);
        }
        let commits = self.store.session_commits.load(Ordering::SeqCst);
        eprintln!("{SESSIONS} sessions recorded in {commits} commits");
        assert!(commits < SESSIONS, "{SESSIONS} concurrent sessions took {commits} commits: nothing was batched");
        ids
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sessions_are_all_recorded_in_batches_on_redb() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture(AnyStore::open(dir.path().to_str().unwrap()).await.unwrap()).await;
    fixture.every_session_is_recorded().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sessions_are_all_recorded_in_batches_on_redis() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let redis = RedisStore::connect(&url).await.unwrap_or_else(|e| panic!("Redis must be reachable at `{url}`: {e}"));
    let fixture = fixture(AnyStore::from(redis.clone())).await;
    let ids = fixture.every_session_is_recorded().await;

    // Leave the shared Redis as it was: the sessions, the caller's key index entry, the account.
    let global = Namespace::global();
    let mut txn = Transaction::new().delete(Key::new(&global, Kind::new("access-key"), &fixture.caller_key));
    for id in &ids {
        txn = txn.delete(Key::new(&global, Kind::new("session"), id));
    }
    redis.commit(txn).await.unwrap();
    redis.purge_namespace(&Namespace::account(fixture.account.id()).unwrap()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_fails_every_call_it_held_and_the_next_calls_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = fixture(AnyStore::open(dir.path().to_str().unwrap()).await.unwrap()).await;

    fixture.store.fail_sessions.store(true, Ordering::SeqCst);
    for (i, result) in fixture.assume_many(20).await.into_iter().enumerate() {
        let error = result.err().unwrap_or_else(|| panic!("call {i} succeeded without its record"));
        assert_eq!(error.code(), ErrorCode::ServiceFailure, "call {i}: {error}");
        // What the caller is told names no storage detail.
        let wire = error.into_service_error();
        assert_eq!(wire.message, "The request processing has failed because of an unknown error.");
    }
    assert_eq!(fixture.store.session_commits.load(Ordering::SeqCst), 0);

    // The recorder survives a failed commit.
    fixture.store.fail_sessions.store(false, Ordering::SeqCst);
    let assumed = fixture.assume_many(1).await.remove(0).unwrap();
    assert!(fixture.sts.session(&assumed.credentials.access_key_id).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_service_releases_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().to_str().unwrap().to_owned();
    let fixture = fixture(AnyStore::open(&location).await.unwrap()).await;
    let id = fixture.assume_many(1).await.remove(0).unwrap().credentials.access_key_id;
    drop(fixture);
    // The recorder's task holds the store weakly: once the service is gone the file can be
    // reopened (redb refuses a second open of a database still open in this process).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let reopened = loop {
        match AnyStore::open(&location).await {
            Ok(store) => break store,
            Err(error) if std::time::Instant::now() < deadline => {
                let _ = error;
                tokio::task::yield_now().await;
            }
            Err(error) => panic!("the store was not released: {error}"),
        }
    };
    let key = Key::new(&Namespace::global(), Kind::new("session"), &id);
    assert!(reopened.get(&key).await.unwrap().is_some());
}
