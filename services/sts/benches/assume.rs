//! End-to-end token issuance over gRPC: `AssumeRole` through a real tonic server on
//! `127.0.0.1:0` with the session registry on Redis (`REDIS_URL`, default
//! `redis://127.0.0.1:6379`), 64 calls in flight over 4 channels; plus `VerifySession` and
//! `GetWebIdentityToken` (JWT minting) the same way.
//!
//! `cargo bench -p tessera-sts --bench assume`. criterion's elements/s are calls per second for the
//! whole batch of concurrent callers, client and server sharing the machine.

use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tessera_credentials::{Argon2Params, MasterKey, SystemRng};
use tessera_identity::{Account, CreateRole, CreateUser, Env, Identity, Random, SystemClock};
use tessera_proto::sts::v1 as pb;
use tessera_proto::sts::v1::sts_service_client::StsServiceClient;
use tessera_store::AnyStore;
use tonic::transport::Channel;

const IN_FLIGHT: u64 = 64;
const CHANNELS: usize = 4;

struct Fixture {
    clients: Vec<StsServiceClient<Channel>>,
    caller: pb::Caller,
    role_arn: String,
    session: (String, String),
}

async fn fixture() -> Fixture {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let store = Arc::new(AnyStore::open(&url).await.expect("the benchmark needs Redis at REDIS_URL"));
    let mut rng = SystemRng::new().expect("random");
    let env = Env {
        clock: Arc::new(SystemClock),
        master_key: Arc::new(MasterKey::generate(&mut rng)),
        random: Arc::new(Random::new(rng)),
        password_params: Argon2Params::FAST_FOR_TESTS,
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos();
    let account = Account::new(&format!("{:012}", nanos % 900_000_000_000 + 100_000_000_000)).expect("account");
    let identity = Identity::new(Arc::clone(&store), env.clone());
    identity
        .create_user(&account, CreateUser { user_name: "bench".into(), ..CreateUser::default() })
        .await
        .expect("user");
    let key = identity.create_access_key(&account, "bench").await.expect("key");
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:user/bench"}},"Action":"sts:AssumeRole"}}]}}"#,
        account.id()
    );
    let role =
        CreateRole { role_name: "bench-role".into(), assume_role_policy_document: trust, ..CreateRole::default() };
    let role = identity.create_role(&account, role).await.expect("role");
    let sts = tessera_sts::Sts::start(Arc::clone(&store), env.clone()).await.expect("sts");
    let issuer = tessera_sts::Issuer::load_or_create(&*store, &env, "https://tessera.bench").await.expect("issuer");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(tessera_sts::grpc::service_with_issuer(Arc::new(sts), Arc::new(issuer)))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))),
    );
    let mut clients = Vec::new();
    for _ in 0..CHANNELS {
        let channel = Channel::from_shared(format!("http://{addr}")).expect("uri").connect().await.expect("connect");
        clients.push(StsServiceClient::new(channel));
    }
    let caller = pb::Caller { access_key_id: key.access_key_id, ..Default::default() };
    let assumed = clients[0]
        .clone()
        .assume_role(pb::AssumeRoleRequest {
            caller: Some(caller.clone()),
            role_arn: role.principal.arn.clone(),
            role_session_name: "warm".into(),
            ..Default::default()
        })
        .await
        .expect("assume")
        .into_inner()
        .credentials
        .expect("credentials");
    Fixture { clients, caller, role_arn: role.principal.arn, session: (assumed.access_key_id, assumed.session_token) }
}

/// Runs `IN_FLIGHT` callers, each making `iters` calls of `call`, and times the whole batch.
async fn concurrently<F, Fut>(fixture: &Fixture, iters: u64, call: F) -> std::time::Duration
where
    F: Fn(StsServiceClient<Channel>, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for caller in 0..IN_FLIGHT {
        let client = fixture.clients[usize::try_from(caller).unwrap_or(0) % CHANNELS].clone();
        let call = call.clone();
        tasks.spawn(async move {
            for i in 0..iters {
                call(client.clone(), caller * iters + i).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("caller");
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let fixture = rt.block_on(fixture());
    let mut group = c.benchmark_group("sts_grpc_64_in_flight");
    group.throughput(Throughput::Elements(IN_FLIGHT));
    group.sample_size(20);

    let (caller, role_arn) = (fixture.caller.clone(), fixture.role_arn.clone());
    group.bench_function("assume_role_redis", |b| {
        b.iter_custom(|iters| {
            let (caller, role_arn) = (caller.clone(), role_arn.clone());
            rt.block_on(concurrently(&fixture, iters, move |mut client, n| {
                let request = pb::AssumeRoleRequest {
                    caller: Some(caller.clone()),
                    role_arn: role_arn.clone(),
                    role_session_name: format!("s{n}"),
                    ..Default::default()
                };
                async move {
                    client.assume_role(request).await.expect("assume");
                }
            }))
        });
    });

    let (key, token) = fixture.session.clone();
    group.bench_function("verify_session", |b| {
        b.iter_custom(|iters| {
            let (key, token) = (key.clone(), token.clone());
            rt.block_on(concurrently(&fixture, iters, move |mut client, _| {
                let request = pb::VerifySessionRequest { access_key_id: key.clone(), session_token: token.clone() };
                async move {
                    client.verify_session(request).await.expect("verify");
                }
            }))
        });
    });

    let caller = fixture.caller.clone();
    group.bench_function("get_web_identity_token", |b| {
        b.iter_custom(|iters| {
            let caller = caller.clone();
            rt.block_on(concurrently(&fixture, iters, move |mut client, _| {
                let request = pb::GetWebIdentityTokenRequest {
                    caller: Some(caller.clone()),
                    audience: vec!["bench".into()],
                    duration_seconds: None,
                };
                async move {
                    client.get_web_identity_token(request).await.expect("mint");
                }
            }))
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
