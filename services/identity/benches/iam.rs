//! IAM-level read and write throughput per backend: `GetUser` (one record read and decoded) and
//! `TagUser` (a guarded read-modify-write of the user, a blind epoch bump, and the epoch published
//! after the commit), one caller back to back and 32 callers at once.
//!
//! `cargo bench -p tessera-identity --bench iam` (Redis from `REDIS_URL`, default
//! `redis://127.0.0.1:6379`; skipped with a note when none answers). criterion's elements/s are
//! operations per second.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tessera_credentials::{Argon2Params, MasterKey, SeededRandom};
use tessera_identity::{Account, CreateUser, Env, Identity, Random, SystemClock, Taggable};
use tessera_store::AnyStore;
use tessera_store::iam::Tag;

const CALLERS: u64 = 32;

/// Each backend's name and an identity service over it.
type Backends = Vec<(&'static str, Arc<Identity<AnyStore>>)>;

fn identities(rt: &tokio::runtime::Runtime) -> (Backends, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut stores = vec![
        rt.block_on(AnyStore::open("memory:")).expect("memory"),
        rt.block_on(AnyStore::open(dir.path().to_str().expect("UTF-8 path"))).expect("redb"),
    ];
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    match rt.block_on(AnyStore::open(&url)) {
        Ok(redis) => stores.push(redis),
        Err(error) => eprintln!("skipping redis: {error}"),
    }
    let mut rng = SeededRandom::new(3);
    let env = Env {
        clock: Arc::new(SystemClock),
        master_key: Arc::new(MasterKey::generate(&mut rng)),
        random: Arc::new(Random::new(rng)),
        password_params: Argon2Params::FAST_FOR_TESTS,
    };
    let identities = stores
        .into_iter()
        .map(|store| (store.backend(), Arc::new(Identity::new(Arc::new(store), env.clone()))))
        .collect();
    (identities, dir)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let (identities, _dir) = identities(&rt);
    // A fresh account per run keeps runs on a shared Redis apart.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos();
    let account = Account::new(&format!("{:012}", nanos % 900_000_000_000 + 100_000_000_000)).expect("account");
    for (_, identity) in &identities {
        for u in 0..CALLERS {
            let user = CreateUser { user_name: format!("u{u}"), ..CreateUser::default() };
            rt.block_on(identity.create_user(&account, user)).expect("seed user");
        }
    }

    let mut group = c.benchmark_group("get_user");
    group.throughput(Throughput::Elements(1));
    for (backend, identity) in &identities {
        group.bench_function(*backend, |b| {
            b.iter(|| rt.block_on(async { black_box(identity.get_user(&account, "u0").await.expect("get")) }));
        });
    }
    group.finish();

    let mut group = c.benchmark_group("tag_user");
    group.throughput(Throughput::Elements(1));
    for (backend, identity) in &identities {
        let mut n = 0u64;
        group.bench_function(*backend, |b| {
            b.iter(|| {
                n += 1;
                let tags = vec![Tag { key: "n".into(), value: n.to_string() }];
                rt.block_on(identity.tag_resource(&account, &Taggable::User("u0".into()), tags)).expect("tag");
            });
        });
    }
    group.finish();

    // 32 callers at once, each on its own user: what one process can push through the store.
    for (name, write) in [("get_user_32_callers", false), ("tag_user_32_callers", true)] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(CALLERS));
        for (backend, identity) in &identities {
            group.bench_function(*backend, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        let mut tasks = tokio::task::JoinSet::new();
                        for u in 0..CALLERS {
                            let (identity, account) = (Arc::clone(identity), account.clone());
                            tasks.spawn(async move {
                                let user = format!("u{u}");
                                for i in 0..iters {
                                    if write {
                                        let tags = vec![Tag { key: "i".into(), value: i.to_string() }];
                                        identity
                                            .tag_resource(&account, &Taggable::User(user.clone()), tags)
                                            .await
                                            .expect("tag");
                                    } else {
                                        black_box(identity.get_user(&account, &user).await.expect("get"));
                                    }
                                }
                            });
                        }
                        while let Some(done) = tasks.join_next().await {
                            done.expect("caller");
                        }
                        start.elapsed()
                    })
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
