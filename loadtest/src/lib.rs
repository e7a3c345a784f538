//! `tessera-loadtest`: drives one scenario against Tessera (the all-in-one server started
//! in-process on loopback, or `--target`) and, with `--with-baseline`, against an empty server of
//! the same shape, then reports throughput and latency.
//!
//! A run: start or reach the target; create the fixture with the root key (`fixture.rs`); build
//! one worker per request in flight (`driver.rs`) whose call is a SigV4-signed Query `POST`
//! (`http.rs`) or the `authorize` gRPC call (`grpc.rs`); drive; then the same workers' calls
//! against the baseline (`baseline.rs`); report (`report.rs`). In-process servers run on their
//! own tokio runtime, so the client's tasks and the server's are scheduled apart, as they would
//! be in two processes, and the two runtimes split the cores between them (`--server-threads`,
//! `--client-threads`: a worker thread per core, no more busy threads than cores).

mod baseline;
mod driver;
mod fixture;
mod grpc;
mod histogram;
mod http;
mod options;
mod report;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tessera::serve::{ServeConfig, Server};
use tessera_store::{Key as StoreKey, Kind, Namespace, RedisStore, Store as _, Transaction};
use tokio::runtime::{Handle, Runtime};

pub use options::{Options, Scenario, Telemetry, parse_duration};
pub use report::{Report, Row};

use driver::{Plan, Worker};
use fixture::{Admin, Fixture};
use grpc::AuthorizeCall;
use http::{Connection, Key, QueryCall};

/// Where the requests go.
#[derive(Debug, Clone)]
struct Endpoints {
    /// `host:port` of the HTTP endpoint (also the `Host` header).
    http: String,
    /// `http://host:port` of the gRPC endpoint.
    grpc: Option<String>,
}

/// The server started in-process (none with `--target`), its data directory, and its Redis
/// store when `--store` named one.
#[derive(Debug)]
struct InProcess {
    server: Server,
    _data: tempfile::TempDir,
    redis: Option<RedisStore>,
}

/// The master key of in-process servers on Redis: the fixed, test-only key the server tests use
/// (`services/tessera/tests/it/common`), since a Redis database records the key its secrets are
/// sealed under and refuses servers with another one.
const REDIS_TEST_MASTER_KEY: &str = "tessera-master-key-v1:fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn5+fn4=\n";

/// Runs `options` and returns the report. Progress and error details go to stderr.
pub async fn run(options: &Options) -> Result<Report> {
    // The in-process servers' runtime; dropped with `shutdown_background`, which an async
    // context allows.
    let servers = tokio::runtime::Builder::new_multi_thread()
        .thread_name("loadtest-server")
        .worker_threads(options.server_threads())
        .enable_all()
        .build()
        .context("cannot start the server runtime")?;
    let result = run_with(options, &servers).await;
    servers.shutdown_background();
    result
}

async fn run_with(options: &Options, servers: &Runtime) -> Result<Report> {
    let (in_process, endpoints, root) = open_target(options, servers.handle()).await?;
    let threads = count(options.server_threads(), "worker thread");
    let described = match &in_process {
        Some(InProcess { redis: Some(_), .. }) => format!("in-process tessera (Redis store, --grpc-auth, {threads})"),
        Some(_) => format!("in-process tessera (embedded store, --grpc-auth, {threads})"),
        None => format!("{} ({})", endpoints.http, endpoints.grpc.as_deref().unwrap_or("no gRPC target")),
    };
    let root_key_id = root.id.clone();
    let mut admin = Admin::connect(&endpoints.http, root, &options.region).await?;
    let account = admin.account().await?;
    let fixture = Fixture::create(&mut admin, &account, options.principals()).await?;
    let result = measure(options, &endpoints, &fixture, &described, servers.handle()).await;
    // An in-process server's data goes with its temporary directory, or its Redis account below.
    if in_process.as_ref().is_none_or(|p| p.redis.is_some())
        && let Err(error) = fixture.delete(&mut admin).await
    {
        eprintln!("warning: could not remove the run's users and role: {error:#}");
    }
    drop(admin);
    if let Some(InProcess { server, _data, redis }) = in_process {
        // Drains (the workers' connections are closed by now); bounded, since the report is ready.
        let _ = tokio::time::timeout(Duration::from_secs(5), servers.spawn(server.stop())).await;
        if let Some(redis) = redis
            && let Err(error) = remove_redis_account(&redis, &account, &root_key_id).await
        {
            eprintln!("warning: could not remove the run's account and sessions from Redis: {error:#}");
        }
    }
    result
}

async fn open_target(options: &Options, servers: &Handle) -> Result<(Option<InProcess>, Endpoints, Key)> {
    let Some(target) = &options.target else {
        let data = tempfile::tempdir().context("cannot create a data directory")?;
        let mut config = ServeConfig::for_tests(data.path());
        config.grpc_auth = true;
        let redis = match &options.store {
            Some(url) => {
                let key_file = data.path().join("redis-test-master.key");
                std::fs::write(&key_file, REDIS_TEST_MASTER_KEY).context("cannot write the master key file")?;
                config.store = Some(url.clone());
                config.master_key_file = Some(key_file);
                // A fresh account, so the server bootstraps it and writes its root key.
                config.account_id = Some(fresh_account_id());
                Some(RedisStore::connect(url).await.with_context(|| format!("cannot reach Redis at `{url}`"))?)
            }
            None => None,
        };
        let server = servers.spawn(Server::start(config)).await?.context("the in-process server did not start")?;
        let endpoints =
            Endpoints { http: server.http_addr.to_string(), grpc: Some(format!("http://{}", server.grpc_addr)) };
        let root = read_root_credentials(&data.path().join("root-credentials.json"))?;
        return Ok((Some(InProcess { server, _data: data, redis }), endpoints, root));
    };
    let uri: hyper::Uri = target.parse().with_context(|| format!("`{target}` is not a URL"))?;
    let (Some("http"), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        bail!("--target must be `http://host:port` (TLS is not supported), not `{target}`");
    };
    if options.scenario.is_grpc() && options.grpc_target.is_none() {
        bail!("`{}` needs --grpc-target with --target", options.scenario.name());
    }
    let path = options.root_credentials.as_deref().context("--target needs --root-credentials")?;
    let endpoints = Endpoints { http: authority.to_string(), grpc: options.grpc_target.clone() };
    Ok((None, endpoints, read_root_credentials(path)?))
}

/// A 12-digit account id from the clock, not starting with 0.
fn fresh_account_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{:012}", nanos % 900_000_000_000 + 100_000_000_000)
}

/// Removes what a run on Redis left: the account's namespace, its root key's global index record,
/// and its sessions' global records (one per AssumeRole call; the sweeper would only remove them
/// once expired).
async fn remove_redis_account(redis: &RedisStore, account: &str, root_key_id: &str) -> Result<()> {
    let global = Namespace::global();
    let prefix = StoreKey::new(&global, Kind::new("session"), "");
    let mut after: Option<StoreKey> = None;
    loop {
        let page = redis.scan_prefix(&prefix, after.as_ref(), 1000).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        let mut txn = Transaction::new();
        for (key, entry) in &page {
            let record: serde_json::Value = serde_json::from_slice(&entry.value).unwrap_or_default();
            if record["account"] == account {
                txn = txn.delete(key.clone());
            }
        }
        redis.commit(txn).await?;
    }
    redis.commit(Transaction::new().delete(StoreKey::new(&global, Kind::new("access-key"), root_key_id))).await?;
    redis.purge_namespace(&Namespace::account(account)?).await?;
    Ok(())
}

/// Reads a key in the `root-credentials.json` (`credential_process`) shape.
fn read_root_credentials(path: &Path) -> Result<Key> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("`{}` is not JSON", path.display()))?;
    match (json["AccessKeyId"].as_str(), json["SecretAccessKey"].as_str()) {
        (Some(id), Some(secret)) => Ok(Key { id: id.to_owned(), secret: secret.to_owned() }),
        _ => bail!("`{}` has no AccessKeyId and SecretAccessKey", path.display()),
    }
}

async fn measure(
    options: &Options,
    endpoints: &Endpoints,
    fixture: &Fixture,
    described: &str,
    servers: &Handle,
) -> Result<Report> {
    let scenario = options.scenario;
    let plan = Plan { warmup: options.warmup, duration: options.duration, rate: options.rate };
    let keys = fixture.keys();
    let load = match options.rate {
        Some(rate) => format!("{rate} requests/s, at most {} in flight", options.concurrency),
        None => format!("{} in flight", options.concurrency),
    };
    let load = format!("{load} from {}", count(options.client_threads(), "client thread"));
    let setup = format!(
        "{} against {described}: {load}, {:?} after {:?} of warm-up, signed by {} keys of {} users; {}",
        scenario.name(),
        options.duration,
        options.warmup,
        keys.len(),
        options.principals(),
        request_summary(scenario, fixture, &keys[0])?,
    );
    eprintln!("driving {} for {:?} after {:?} of warm-up ...", scenario.name(), options.duration, options.warmup);

    if scenario.is_grpc()
        && let Some(url) = &endpoints.grpc
    {
        let channel = grpc::channels(url, 1).await?.remove(0);
        if grpc::unauthenticated_probe(
            &channel,
            &AuthorizeCall::get_user(&keys[0], &fixture.account, &fixture.target_user)?,
        )
        .await
        {
            eprintln!(
                "warning: the gRPC target answered a call without credentials (is it started with --grpc-auth?); \
                 `authorize` then measures no authentication or authorization"
            );
        }
    }
    let outcome = driver::drive(workers(options, endpoints, fixture, &keys).await?, plan).await;
    report_errors(scenario.name(), &outcome);
    let measured = Row::new(scenario.name(), &outcome, options.duration);

    let baseline = if options.with_baseline {
        let (label, endpoints) = if scenario.is_grpc() {
            let addr = baseline::start_grpc(servers).await?;
            ("baseline (empty tonic)", Endpoints { http: endpoints.http.clone(), grpc: Some(format!("http://{addr}")) })
        } else {
            let addr = baseline::start_http(servers).await?;
            ("baseline (empty axum)", Endpoints { http: addr.to_string(), grpc: None })
        };
        eprintln!("driving the {label} ...");
        let outcome = driver::drive(workers(options, &endpoints, fixture, &keys).await?, plan).await;
        report_errors(label, &outcome);
        Some(Row::new(label, &outcome, options.duration))
    } else {
        None
    };
    Ok(Report { scenario, setup, measured, baseline })
}

/// `1 thing`, `2 things`.
fn count(n: usize, thing: &str) -> String {
    if n == 1 { format!("1 {thing}") } else { format!("{n} {thing}s") }
}

/// What each request of `scenario` asks, for the report's first line.
fn request_summary(scenario: Scenario, fixture: &Fixture, key: &Key) -> Result<String> {
    Ok(match scenario {
        Scenario::CallerIdentity => "each request: sts:GetCallerIdentity".to_owned(),
        Scenario::GetUser => format!("each request: iam:GetUser of `{}`", fixture.target_user),
        Scenario::AssumeRole => format!("each request: sts:AssumeRole of `{}`", fixture.role_arn),
        Scenario::Authorize => {
            format!(
                "each request: {}",
                AuthorizeCall::get_user(key, &fixture.account, &fixture.target_user)?.describe()
            )
        }
    })
}

/// One worker per request in flight; worker `i` signs with key `i % keys.len()`.
async fn workers(options: &Options, endpoints: &Endpoints, fixture: &Fixture, keys: &[Key]) -> Result<Vec<Worker>> {
    let count = options.concurrency as usize;
    let mut workers = Vec::with_capacity(count);
    let Some(call) = query_call(options.scenario, fixture) else {
        let url = endpoints.grpc.as_deref().context("no gRPC endpoint")?;
        let channels = grpc::channels(url, (options.grpc_connections as usize).min(count)).await?;
        let calls = keys
            .iter()
            .map(|key| AuthorizeCall::get_user(key, &fixture.account, &fixture.target_user).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..count {
            let (channel, call) = (channels[i % channels.len()].clone(), Arc::clone(&calls[i % calls.len()]));
            workers.push(Worker::Grpc { channel, call });
        }
        return Ok(workers);
    };
    let call = Arc::new(call);
    let (authority, region): (Arc<str>, Arc<str>) = (endpoints.http.as_str().into(), options.region.as_str().into());
    for i in 0..count {
        workers.push(Worker::Http {
            connection: Connection::open(&endpoints.http).await?,
            call: Arc::clone(&call),
            authority: Arc::clone(&authority),
            region: Arc::clone(&region),
            key: keys[i % keys.len()].clone(),
        });
    }
    Ok(workers)
}

/// The AWS Query request of an HTTP scenario; `None` for the gRPC one.
fn query_call(scenario: Scenario, fixture: &Fixture) -> Option<QueryCall> {
    Some(match scenario {
        Scenario::CallerIdentity => {
            QueryCall::new("sts", &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")])
        }
        Scenario::GetUser => QueryCall::new(
            "iam",
            &[("Action", "GetUser"), ("UserName", &fixture.target_user), ("Version", "2010-05-08")],
        ),
        // A short session: every call stores one until it expires.
        Scenario::AssumeRole => QueryCall::new(
            "sts",
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &fixture.role_arn),
                ("RoleSessionName", "loadtest"),
                ("DurationSeconds", "900"),
                ("Version", "2011-06-15"),
            ],
        ),
        Scenario::Authorize => return None,
    })
}

fn report_errors(label: &str, outcome: &driver::Outcome) {
    for (kind, (count, message)) in &outcome.errors {
        eprintln!("{label}: {count} × {kind}: {message}");
    }
}
