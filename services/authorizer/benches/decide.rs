//! What a decision costs on the one path, on the in-memory store (so the figures are the
//! authorizer's own, not a backend's): `Authorizer::decide` for a user whose layers are cached,
//! and the trust policy of an AssumeRole three ways: parsed and validated on every call (what the
//! token service did before the trust cache), read without validation (`parse_stored`, a cache
//! miss), and served by the `LayerCache` (a hit).
//!
//! `cargo bench -p tessera-authorizer --bench decide`.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera_authorizer::{CacheConfig, Check, LayerCache};
use tessera_credentials::{Argon2Params, MasterKey, SystemRng};
use tessera_identity::{Account, CreateUser, Env, Identity, Random, SystemClock};
use tessera_policy::{CompiledPolicy, PolicyKind, Trace};
use tessera_policy_service::Policies;
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
