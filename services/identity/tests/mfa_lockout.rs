//! MFA code guessing is throttled per device, in the store: after `MFA_MAX_FAILURES` unproven codes
//! the device refuses every code (a correct one too) for a period that doubles per lock up to a
//! cap, a correct code resets it, and two replicas on one store (memory, redb, Redis) share it.
//! Sign-in, `EnableMFADevice` and `ResyncMFADevice` all go through the one count.
//!
//! Time is a fake clock shared by both replicas, moved by the test; nothing sleeps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tessera_credentials::{Argon2Params, MasterKey, SystemRng, TotpSeed, format_code, hotp, step};
use tessera_identity::{
    Account, Clock, CreateUser, Env, Error, Identity, MFA_MAX_FAILURES, MfaFailure, Random, mfa_lock_period,
};
use tessera_proto::error::ErrorCode;
use tessera_store::{AnyStore, MemoryStore, RedbStore, RedisStore, Store};

/// 2026-11-23T10:00:00Z, on a TOTP step boundary.
const START_SECS: u64 = 1_795_428_000;

/// A clock that stands still until the test moves it; both replicas read the same one.
#[derive(Debug)]
struct FakeClock(Mutex<SystemTime>);

impl FakeClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }

    fn step(&self) -> u64 {
        step(self.now().duration_since(UNIX_EPOCH).unwrap().as_secs())
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Two replicas (separate `Identity` values over one store, sharing the master key and the clock).
struct Replicas<S> {
    a: Identity<S>,
    b: Identity<S>,
    clock: Arc<FakeClock>,
    account: Account,
}

fn replicas<S: Store>(store: S) -> Replicas<S> {
    let store = Arc::new(store);
    let clock = Arc::new(FakeClock(Mutex::new(UNIX_EPOCH + Duration::from_secs(START_SECS))));
    let master_key = Arc::new(MasterKey::generate(&mut SystemRng::new().unwrap()));
    let env = || Env {
        clock: clock.clone(),
        master_key: Arc::clone(&master_key),
        random: Arc::new(Random::new(SystemRng::new().unwrap())),
        password_params: Argon2Params::FAST_FOR_TESTS,
    };
    let (a, b) = (Identity::new(Arc::clone(&store), env()), Identity::new(store, env()));
    Replicas { a, b, clock, account: fresh_account() }
}

/// A fresh account per test, so runs on a shared Redis never see each other's devices.
fn fresh_account() -> Account {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let salt = u128::from(std::process::id()) << 20 | u128::from(NEXT.fetch_add(1, Ordering::Relaxed));
    Account::new(&format!("{:012}", (nanos ^ salt) % 900_000_000_000 + 100_000_000_000)).unwrap()
}

impl<S: Store> Replicas<S> {
    /// A user with a new device (unassigned): its serial and seed.
    async fn device(&self, user: &str) -> (String, TotpSeed) {
        self.a
            .create_user(&self.account, CreateUser { user_name: user.into(), ..CreateUser::default() })
            .await
            .unwrap();
        let name = format!("{user}-phone");
        let created = self.a.create_virtual_mfa_device(&self.account, None, &name, Vec::new()).await.unwrap();
        (created.device.serial, TotpSeed::from_base32(created.base32_seed.expose()).unwrap())
    }

    /// A user with an enabled device.
    async fn enabled(&self, user: &str) -> (String, TotpSeed) {
        let (serial, seed) = self.device(user).await;
        let (c1, c2) = self.pair(&seed);
        self.b.enable_mfa_device(&self.account, user, &serial, &c1, &c2).await.unwrap();
        (serial, seed)
    }

    /// The code of the current step.
    fn code(&self, seed: &TotpSeed) -> String {
        format_code(hotp(seed, self.clock.step()))
    }

    /// The codes of the previous and the current step, as `EnableMFADevice` wants them.
    fn pair(&self, seed: &TotpSeed) -> (String, String) {
        let now = self.clock.step();
        (format_code(hotp(seed, now - 1)), format_code(hotp(seed, now)))
    }

    /// A code no step near now produces.
    fn wrong(&self, seed: &TotpSeed) -> String {
        let now = self.clock.step();
        let near: Vec<u32> = (now - 12..=now + 12).map(|c| hotp(seed, c)).collect();
        let code = (0..).map(|i| (hotp(seed, now) + 1 + i) % 1_000_000).find(|c| !near.contains(c)).unwrap();
        format_code(code)
    }

    /// The replica that serves attempt `i` (they take turns, as a load balancer would).
    fn replica(&self, i: u32) -> &Identity<S> {
        if i.is_multiple_of(2) { &self.a } else { &self.b }
    }

    /// Moves to the next TOTP step, so the next correct code is fresh (each is accepted once).
    fn next_step(&self) {
        self.clock.advance(Duration::from_secs(30));
    }
}

fn failure(error: &Error) -> MfaFailure {
    error.mfa_rejection().unwrap_or_else(|| panic!("not an MFA rejection: {error}")).failure
}

#[track_caller]
fn assert_locked(result: Result<bool, Error>) {
    let error = result.expect_err("the device is locked");
    assert_eq!(failure(&error), MfaFailure::Locked, "{error}");
    let service = error.into_service_error();
    assert_eq!(service.code, ErrorCode::AccessDenied);
    assert!(service.message.contains("temporarily locked"), "{}", service.message);
}

/// Wrong sign-in codes until the device locks, alternating replicas: each is checked and refused.
async fn fail_until_locked<S: Store>(r: &Replicas<S>, serial: &str, seed: &TotpSeed) {
    for i in 0..MFA_MAX_FAILURES {
        let error = r.replica(i).verify_mfa_code(&r.account, serial, &r.wrong(seed)).await.unwrap_err();
        assert_eq!(failure(&error), MfaFailure::InvalidCode, "attempt {i}: {error}");
        assert_eq!(error.code(), ErrorCode::AccessDenied);
    }
}

async fn sign_in_lock_grows_resets_and_is_shared<S: Store>(store: S) {
    let r = replicas(store);
    let (serial, seed) = r.enabled("alice").await;
    r.next_step();

    // Five wrong codes over both replicas lock the device: the correct code is refused on both.
    fail_until_locked(&r, &serial, &seed).await;
    assert_locked(r.a.verify_mfa_code(&r.account, &serial, &r.code(&seed)).await);
    assert_locked(r.b.verify_mfa_code(&r.account, &serial, &r.code(&seed)).await);

    // The first lock lasts a minute (checked just before and just after, not slept through).
    assert_eq!(mfa_lock_period(1), 60_000);
    r.clock.advance(Duration::from_millis(mfa_lock_period(1) - 1_000));
    assert_locked(r.b.verify_mfa_code(&r.account, &serial, &r.code(&seed)).await);
    r.clock.advance(Duration::from_secs(2));

    // Without a correct code in between, the next lock is twice as long.
    fail_until_locked(&r, &serial, &seed).await;
    assert_eq!(mfa_lock_period(2), 2 * mfa_lock_period(1));
    r.clock.advance(Duration::from_millis(mfa_lock_period(1) + 1_000));
    assert_locked(r.a.verify_mfa_code(&r.account, &serial, &r.code(&seed)).await);
    r.clock.advance(Duration::from_millis(mfa_lock_period(2) - mfa_lock_period(1)));

    // The lock has passed: a correct code is accepted, and resets the count.
    assert!(r.a.verify_mfa_code(&r.account, &serial, &r.code(&seed)).await.unwrap());
    for round in 0..3 {
        for i in 0..MFA_MAX_FAILURES - 1 {
            let error = r.replica(i).verify_mfa_code(&r.account, &serial, &r.wrong(&seed)).await.unwrap_err();
            assert_eq!(failure(&error), MfaFailure::InvalidCode, "round {round}, attempt {i}");
        }
        r.next_step();
        assert!(r.b.verify_mfa_code(&r.account, &serial, &r.code(&seed)).await.unwrap(), "round {round}");
    }

    // ... and the lock period: the next lock is a first one again.
    r.next_step();
    fail_until_locked(&r, &serial, &seed).await;
    r.clock.advance(Duration::from_millis(mfa_lock_period(1) + 1_000));
    assert!(r.b.verify_mfa_code(&r.account, &serial, &r.code(&seed)).await.unwrap());

    // The lock is the device's: another user's device is not affected.
    let (other, other_seed) = r.enabled("bob").await;
    r.next_step();
    fail_until_locked(&r, &serial, &seed).await;
    assert!(r.a.verify_mfa_code(&r.account, &other, &r.code(&other_seed)).await.unwrap());
}

async fn enable_and_resync_share_the_lock<S: Store>(store: S) {
    let r = replicas(store);
    // Enabling: wrong pairs count (answered `InvalidAuthenticationCode`, as AWS), then lock.
    let (serial, seed) = r.device("carol").await;
    for i in 0..MFA_MAX_FAILURES {
        let (wrong, c2) = (r.wrong(&seed), r.pair(&seed).1);
        let error = r.replica(i).enable_mfa_device(&r.account, "carol", &serial, &wrong, &c2).await.unwrap_err();
        assert_eq!(failure(&error), MfaFailure::InvalidCode);
        assert_eq!(error.code(), ErrorCode::InvalidAuthenticationCode);
    }
    let (c1, c2) = r.pair(&seed);
    assert_locked(r.a.enable_mfa_device(&r.account, "carol", &serial, &c1, &c2).await.map(|()| true));
    r.clock.advance(Duration::from_millis(mfa_lock_period(1) + 1_000));
    let (c1, c2) = r.pair(&seed);
    r.b.enable_mfa_device(&r.account, "carol", &serial, &c1, &c2).await.unwrap();

    // Sign-in failures lock resync too, and a correct resync after the lock resets the count.
    r.next_step();
    fail_until_locked(&r, &serial, &seed).await;
    r.next_step();
    let (c1, c2) = r.pair(&seed);
    assert_locked(r.a.resync_mfa_device(&r.account, "carol", &serial, &c1, &c2).await.map(|()| true));
    r.clock.advance(Duration::from_millis(mfa_lock_period(2)));
    let (c1, c2) = r.pair(&seed);
    r.b.resync_mfa_device(&r.account, "carol", &serial, &c1, &c2).await.unwrap();
    for i in 0..MFA_MAX_FAILURES - 1 {
        let (w1, w2) = (r.wrong(&seed), r.wrong(&seed));
        let error = r.replica(i).resync_mfa_device(&r.account, "carol", &serial, &w1, &w2).await.unwrap_err();
        assert_eq!(failure(&error), MfaFailure::InvalidCode);
    }
    r.next_step();
    assert!(r.a.verify_mfa_code(&r.account, &serial, &r.code(&seed)).await.unwrap());

    // Deleting the device deletes its lock: a device created again under the name starts afresh.
    r.next_step();
    fail_until_locked(&r, &serial, &seed).await;
    r.a.deactivate_mfa_device(&r.account, "carol", &serial).await.unwrap();
    r.a.delete_virtual_mfa_device(&r.account, &serial).await.unwrap();
    let again = r.a.create_virtual_mfa_device(&r.account, None, "carol-phone", Vec::new()).await.unwrap();
    let seed = TotpSeed::from_base32(again.base32_seed.expose()).unwrap();
    let (c1, c2) = r.pair(&seed);
    r.b.enable_mfa_device(&r.account, "carol", &serial, &c1, &c2).await.unwrap();
}

/// Guesses sent all at once, half to each replica, still get at most `MFA_MAX_FAILURES` codes
/// checked: the count is taken in one transaction with the lock check, before the code is looked at.
async fn parallel_guesses_are_counted_before_they_are_checked<S: Store>(store: S) {
    let r = Arc::new(replicas(store));
    let (serial, seed) = r.enabled("dave").await;
    r.next_step();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (r, serial, code) = (Arc::clone(&r), serial.clone(), r.wrong(&seed));
        tasks.spawn(async move { r.replica(i).verify_mfa_code(&r.account, &serial, &code).await });
    }
    let (mut checked, mut locked, mut contended) = (0, 0, 0);
    while let Some(result) = tasks.join_next().await {
        let error = result.unwrap().expect_err("every guess is wrong");
        match error.mfa_rejection().map(|r| r.failure) {
            Some(MfaFailure::InvalidCode) => checked += 1,
            Some(MfaFailure::Locked) => locked += 1,
            _ if error.code() == ErrorCode::ConcurrentModification => contended += 1,
            _ => panic!("unexpected {error}"),
        }
    }
    eprintln!("40 parallel guesses: {checked} checked, {locked} refused as locked, {contended} gave up");
    assert!(checked <= MFA_MAX_FAILURES, "{checked} codes were checked");
    assert!(locked > 0);
    assert_locked(r.a.verify_mfa_code(&r.account, &serial, &r.code(&seed)).await);
}

mod memory {
    use super::*;

    #[tokio::test]
    async fn sign_in_lock_grows_resets_and_is_shared() {
        super::sign_in_lock_grows_resets_and_is_shared(MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn enable_and_resync_share_the_lock() {
        super::enable_and_resync_share_the_lock(MemoryStore::new()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_guesses_are_counted_before_they_are_checked() {
        super::parallel_guesses_are_counted_before_they_are_checked(MemoryStore::new()).await;
    }
}

mod redb {
    use super::*;

    fn open() -> (tempfile::TempDir, RedbStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path()).unwrap();
        (dir, store)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sign_in_lock_grows_resets_and_is_shared() {
        let (_dir, store) = open();
        super::sign_in_lock_grows_resets_and_is_shared(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_guesses_are_counted_before_they_are_checked() {
        let (_dir, store) = open();
        super::parallel_guesses_are_counted_before_they_are_checked(store).await;
    }
}

mod redis {
    use super::*;

    async fn open() -> AnyStore {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
        AnyStore::from(RedisStore::connect(&url).await.expect("Redis must be reachable at REDIS_URL"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sign_in_lock_grows_resets_and_is_shared() {
        super::sign_in_lock_grows_resets_and_is_shared(open().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn enable_and_resync_share_the_lock() {
        super::enable_and_resync_share_the_lock(open().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_guesses_are_counted_before_they_are_checked() {
        super::parallel_guesses_are_counted_before_they_are_checked(open().await).await;
    }
}
