//! `GetCallerIdentity` over HTTP with SigV4, 64 requests in flight (64 keep-alive connections),
//! against the gateway on the embedded store (redb in a temporary directory): every request is
//! signed by the client, its signature verified, its key looked up, and XML written back.
//!
//! `cargo bench -p tessera-gateway --bench caller_identity`; elements/s are requests per second,
//! client and server sharing the machine.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tessera_credentials::{Argon2Params, MasterKey, SystemRng};
use tessera_identity::{Account, Env, Identity, Random, SystemClock};
use tessera_store::AnyStore;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const IN_FLIGHT: u64 = 64;
const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

async fn server(dir: &std::path::Path) -> (SocketAddr, String, String) {
    let store = Arc::new(AnyStore::open(dir.to_str().expect("UTF-8 path")).await.expect("redb"));
    let mut rng = SystemRng::new().expect("random");
    let env = Env {
        clock: Arc::new(SystemClock),
        master_key: Arc::new(MasterKey::generate(&mut rng)),
        random: Arc::new(Random::new(rng)),
        password_params: Argon2Params::FAST_FOR_TESTS,
    };
    let account = Account::new("123456789012").expect("account");
    let boot = Identity::new(Arc::clone(&store), env.clone()).bootstrap(Some(&account), None).await.expect("bootstrap");
    let secret = boot.new_root_secret.expect("a new root key").expose().to_owned();
    let sts = Arc::new(tessera_sts::Sts::start(Arc::clone(&store), env.clone()).await.expect("sts"));
    // One key makes every request here: lift its rate limit, which would otherwise be the figure.
    let unlimited = tessera_gateway::RateLimit { per_second: 1e12, burst: 1e12 };
    let gateway = Arc::new(tessera_gateway::Gateway::new(store, env, sts).with_rate_limit(unlimited));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = tessera_gateway::router(gateway).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, boot.root_access_key_id, secret)
}

/// One signed request on a keep-alive connection; returns when the whole response is read.
async fn call(stream: &mut BufReader<TcpStream>, addr: SocketAddr, key: &str, secret: &str) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let amz_date = tessera_sigv4::format_amz_date(now);
    let host = addr.to_string();
    let headers = [("host", host.as_str()), ("x-amz-date", amz_date.as_str())];
    let request = tessera_sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body_sha256: tessera_sigv4::PayloadHash::of(BODY.as_bytes()),
    };
    let params = tessera_sigv4::SigningParams {
        access_key_id: key,
        secret: secret.as_bytes(),
        region: "us-east-1",
        service: "sts",
        amz_date: &amz_date,
    };
    let authorization = tessera_sigv4::sign(&request, &params);
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nX-Amz-Date: {amz_date}\r\nAuthorization: {authorization}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    stream.get_mut().write_all(raw.as_bytes()).await.expect("write");
    let mut length = 0;
    let mut line = String::new();
    let mut ok = false;
    loop {
        line.clear();
        stream.read_line(&mut line).await.expect("read");
        if line.starts_with("HTTP/1.1 200") {
            ok = true;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().expect("length");
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.expect("body");
    assert!(ok, "{}", String::from_utf8_lossy(&body));
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let (addr, key, secret) = rt.block_on(server(dir.path()));
    let mut group = c.benchmark_group("gateway_http_64_in_flight");
    group.throughput(Throughput::Elements(IN_FLIGHT));
    group.sample_size(20);
    group.bench_function("get_caller_identity_sigv4", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                let mut tasks = tokio::task::JoinSet::new();
                for _ in 0..IN_FLIGHT {
                    let (key, secret) = (key.clone(), secret.clone());
                    tasks.spawn(async move {
                        let stream = TcpStream::connect(addr).await.expect("connect");
                        stream.set_nodelay(true).expect("nodelay");
                        let mut stream = BufReader::new(stream);
                        for _ in 0..iters {
                            call(&mut stream, addr, &key, &secret).await;
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
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
