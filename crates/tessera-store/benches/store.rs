//! Throughput of point reads and single-key durable commits on each backend (Redis from
//! `REDIS_URL`, default `redis://127.0.0.1:6379`; skipped with a note when none answers).
//!
//! `cargo bench -p tessera-store --bench store`; criterion reports elements/s = operations/s for one
//! caller issuing operations back to back (latency-bound, not the server's capacity).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tessera_store::conformance::Accounts;
use tessera_store::{AnyStore, Key, Kind, Store, Transaction};

const BENCH: Kind = Kind::new("bench");

fn stores(rt: &tokio::runtime::Runtime) -> (Vec<AnyStore>, tempfile::TempDir) {
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
    (stores, dir)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let (stores, _dir) = stores(&rt);
    let accounts = Accounts::random();
    let read_key = Key::new(&accounts.a, BENCH, "read");
    let write_key = Key::new(&accounts.a, BENCH, "write");
    let value = vec![7u8; 256];

    let mut group = c.benchmark_group("point_read");
    group.throughput(Throughput::Elements(1));
    for store in &stores {
        rt.block_on(store.commit(Transaction::new().put(read_key.clone(), value.clone()))).expect("seed");
        group.bench_function(store.backend(), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(store.get(&read_key).await.expect("get"));
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("commit_one_key");
    group.throughput(Throughput::Elements(1));
    for store in &stores {
        group.bench_function(store.backend(), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        store.commit(Transaction::new().put(write_key.clone(), value.clone())).await.expect("commit");
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();

    for store in &stores {
        if let AnyStore::Redis(redis) = store {
            rt.block_on(redis.purge_namespace(&accounts.a)).expect("clean up");
        }
    }
}

criterion_group! {
    name = benches;
    // Short runs: these figures are orders of magnitude on a shared machine, not a regression gate.
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
