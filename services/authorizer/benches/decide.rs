//! What a decision costs on the one path, on the in-memory store (so the figures are the
//! authorizer's own, not a backend's): `Authorizer::decide` for a user whose layers are cached,
//! and the trust policy of an AssumeRole three ways: parsed and validated on every call (what the
//! token service did before the trust cache), read without validation (`parse_stored`, a cache
//! miss), and served by the `LayerCache` (a hit).
//!
//! Also a principal with ten 5 KB policies: rebuilt on a miss (the cache cleared, as when the
//! account's epoch moves: its records are read again, its documents were compiled already),
//! rebuilt on the coldest miss (the compiled documents forgotten too), and served on a hit.
//!
//! `cargo bench -p tessera-authorizer --bench decide`.

use std::sync::Arc;

// The server's allocator (the `tessera` binary's), so the figures are the server's.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera_authorizer::{CacheConfig, Check, LayerCache};
use tessera_credentials::{Argon2Params, MasterKey, SystemRng};
use tessera_identity::{Account, CreateUser, Env, Identity, Random, SystemClock};
use tessera_policy::{CompiledPolicy, PolicyKind, Trace};
use tessera_policy_service::{CreatePolicy, Policies};
use tessera_store::iam::EntityKind;
use tessera_store::{AnyStore, MemoryStore};
use tessera_sts::{CallerCredentials, Sts};

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:user/alice","arn:aws:iam::111111111111:role/ci"]},
   "Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"sts:ExternalId":"build-7"},
   "Bool":{"aws:MultiFactorAuthPresent":"true"}}},
  {"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111111111111:oidc-provider/token.actions.example.com"},
   "Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"token.actions.example.com:sub":"repo:org/*"}}}]}"#;

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::data","arn:aws:s3:::data/*"]},
  {"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::data/secret/*"}]}"#;

/// An identity policy of about 5 KB: statements over distinct actions and resources, with a
/// condition each.
fn large_policy(seed: usize) -> String {
    let mut statements = Vec::new();
    let mut size = 0;
    let mut i = 0;
    while size < 4_800 {
        let statement = format!(
            r#"{{"Sid":"S{seed}x{i}","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::bucket-{seed}/team-{i}/*","Condition":{{"StringEquals":{{"aws:PrincipalTag/team":"t{i}"}}}}}}"#
        );
        size += statement.len() + 1;
        statements.push(statement);
        i += 1;
    }
    format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let store = Arc::new(AnyStore::from(MemoryStore::new()));
    let mut rng = SystemRng::new().expect("random");
    let env = Env {
        clock: Arc::new(SystemClock),
        master_key: Arc::new(MasterKey::generate(&mut rng)),
        random: Arc::new(Random::new(rng)),
        password_params: Argon2Params::FAST_FOR_TESTS,
    };
    let account = Account::new("111111111111").expect("account");
    let (sts, caller, cache) = rt
        .block_on(async {
            let identity = Identity::new(Arc::clone(&store), env.clone());
            let policies = Policies::new(Arc::clone(&store), env.clone());
            identity.create_user(&account, CreateUser { user_name: "alice".into(), ..CreateUser::default() }).await?;
            policies.put_inline_policy(&account, EntityKind::User, "alice", "p", POLICY).await?;
            // bob: ten attached managed policies of about 5 KB each, for the cost of a miss.
            identity.create_user(&account, CreateUser { user_name: "bob".into(), ..CreateUser::default() }).await?;
            for p in 0..10 {
                let input = CreatePolicy {
                    policy_name: format!("large-{p}"),
                    path: None,
                    policy_document: large_policy(p),
                    description: None,
                    tags: Vec::new(),
                };
                let created = policies.create_policy(&account, input).await?;
                policies.attach_policy(&account, EntityKind::User, "bob", &created.record.arn).await?;
            }
            let key = identity.create_access_key(&account, "alice").await?;
            let sts = Sts::start(Arc::clone(&store), env.clone()).await?;
            let credentials = CallerCredentials { access_key_id: key.access_key_id, ..CallerCredentials::default() };
            let caller = sts.resolve_caller(&credentials).await?;
            let cache = LayerCache::start(Arc::clone(&store), policies, CacheConfig::default()).await?;
            Ok::<_, tessera_identity::Error>((sts, caller, cache))
        })
        .expect("fixture");
    let checks = [Check {
        action: "s3:GetObject".into(),
        resource: "arn:aws:s3:::data/reports/q3.csv".into(),
        ..Check::default()
    }];
    let now = 1_800_000_000;

    let mut group = c.benchmark_group("authorizer");
    group.bench_function("decide, cached layers", |b| {
        b.iter(|| rt.block_on(sts.authorizer().decide(&caller, &checks, now, &[], Trace::Off, true)).expect("decide"));
    });
    group.bench_function("principal miss: 10 policies of 5 KB", |b| {
        b.iter(|| {
            cache.clear();
            rt.block_on(cache.principal(&account, EntityKind::User, "bob")).expect("bob").expect("exists")
        });
    });
    group.bench_function("principal miss, documents compiled again: 10 policies of 5 KB", |b| {
        b.iter(|| {
            cache.clear();
            cache.clear_documents();
            rt.block_on(cache.principal(&account, EntityKind::User, "bob")).expect("bob").expect("exists")
        });
    });
    group.bench_function("principal hit", |b| {
        b.iter(|| rt.block_on(cache.principal(&account, EntityKind::User, "bob")).expect("bob").expect("exists"));
    });
    group.bench_function("trust policy parsed and validated per call", |b| {
        b.iter(|| CompiledPolicy::parse("trust", TRUST, PolicyKind::Trust).expect("trust"));
    });
    group.bench_function("trust policy read without validation (a miss)", |b| {
        b.iter(|| CompiledPolicy::parse_stored("trust", TRUST).expect("trust"));
    });
    group.bench_function("trust policy from the cache (a hit)", |b| {
        b.iter(|| rt.block_on(cache.trust(&account, "AROAEXAMPLEEXAMPLE01", TRUST)).expect("trust"));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
