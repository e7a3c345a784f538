//! `tessera agent`: a sidecar that holds a bootstrap identity (`agent_sts`) and vends one role's
//! temporary credentials to local workloads through what the AWS SDKs already read, on loopback:
//!
//! - the container credentials endpoint, `GET /v1/credentials` with the `Authorization` token
//!   (`AWS_CONTAINER_CREDENTIALS_FULL_URI`, `AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]`);
//! - an instance-metadata-compatible endpoint (IMDSv2: `PUT /latest/api/token`, then
//!   `/latest/meta-data/iam/security-credentials[-extended]/<role>`), for
//!   `AWS_EC2_METADATA_SERVICE_ENDPOINT`;
//! - `tessera credentials --agent-url` (`credential_process`) reads the container endpoint.
//!
//! Credentials are refreshed ahead of expiry at a jittered fraction of their lifetime (or
//! `--refresh-ahead` before it); while Tessera cannot be reached the cached ones are served until
//! they expire, and refreshing is retried with backoff. They live in memory only: nothing is
//! written to disk, and logs name access key ids and errors, never secrets. `/healthz` and
//! `/metrics` (Prometheus text) describe the agent.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::json;
use tessera_credentials::{RandomSource as _, Secret, SystemRng};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::agent_sts::{Bootstrap, BootstrapArgs, RoleCredentials, RoleRequest, StsEndpoint, unix_now};
use crate::listen::{self, ConnectionLimits, Gate};

/// The longest an IMDSv2 session token may live (AWS: 6 hours).
const MAX_IMDS_TOKEN_TTL: u64 = 21_600;
/// At most this many IMDS tokens are remembered; the oldest are dropped first.
const MAX_IMDS_TOKENS: usize = 10_000;
/// The longest wait between two attempts after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// `tessera agent` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct AgentConfig {
    /// Tessera's AWS endpoint (the STS API), `http://host:port`.
    #[arg(long, env = "AWS_ENDPOINT_URL_STS", default_value = "http://127.0.0.1:8080")]
    pub endpoint: String,
    /// The role whose credentials the agent vends.
    #[arg(long, env = "TESSERA_ROLE_ARN")]
    pub role_arn: String,
    /// The role session name.
    #[arg(long, default_value = "tessera-agent")]
    pub role_session_name: String,
    /// The session lifetime asked for (900 s to the role's maximum).
    #[arg(long, default_value_t = 3600)]
    pub duration_seconds: u32,
    /// The region the agent signs for.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
    /// Where the endpoints listen; a loopback address (`127.0.0.1:0` picks a port, printed on
    /// stdout as `{"listen":"127.0.0.1:PORT"}`).
    #[arg(long, default_value = "127.0.0.1:9911")]
    pub listen: SocketAddr,
    /// A file holding the token the container endpoint requires in `Authorization` (give the
    /// same file to workloads as `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`); without it the
    /// container endpoint is off.
    #[arg(long, env = "TESSERA_AGENT_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Refresh when this much of the credentials' lifetime remains (`5m`, `899s`), instead of
    /// at a jittered 50-75% of it.
    #[arg(long, value_parser = listen::parse_duration)]
    pub refresh_ahead: Option<Duration>,
}

#[derive(Debug, Default)]
struct Counters {
    refreshes: AtomicU64,
    refresh_failures: AtomicU64,
    served_container: AtomicU64,
    served_imds: AtomicU64,
    refused: AtomicU64,
}

struct Shared {
    role_arn: String,
    role_name: String,
    account: String,
    token: Option<Secret>,
    current: RwLock<Option<Arc<RoleCredentials>>>,
    imds_tokens: Mutex<HashMap<String, u64>>,
    last_error: Mutex<Option<String>>,
    counters: Counters,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("role_arn", &self.role_arn).finish_non_exhaustive()
    }
}

impl Shared {
    /// The credentials held, while they have not expired.
    fn valid(&self) -> Option<Arc<RoleCredentials>> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner).clone()?;
        (current.expiration > unix_now()).then_some(current)
    }
}

/// A running agent.
#[derive(Debug)]
pub struct Agent {
    /// Where its endpoints listen.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut rng = SystemRng::new().map_err(|_| anyhow::anyhow!("no system randomness"))?;
    let mut buf = vec![0u8; bytes];
    rng.fill_bytes(&mut buf);
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn jitter() -> f64 {
    let mut byte = [0u8; 2];
    if let Ok(mut rng) = SystemRng::new() {
        rng.fill_bytes(&mut byte);
    }
    f64::from(u16::from_le_bytes(byte)) / f64::from(u16::MAX)
}

/// How long to wait before refreshing `credentials` at `now`: a jittered 50-75% of their lifetime
/// from when they were received, or, with `ahead`, a jittered 90-100% of the time until `ahead`
/// before expiry; at least a second.
pub fn refresh_delay(credentials: &RoleCredentials, now: u64, ahead: Option<Duration>, jitter: f64) -> Duration {
    let seconds = match ahead {
        Some(ahead) => {
            let until = credentials.expiration.saturating_sub(now) as f64 - ahead.as_secs_f64();
            until.max(0.0) * (0.9 + 0.1 * jitter)
        }
        None => {
            let lifetime = credentials.expiration.saturating_sub(credentials.received_at) as f64;
            let at = credentials.received_at as f64 + lifetime * (0.5 + 0.25 * jitter);
            at - now as f64
        }
    };
    Duration::from_secs_f64(seconds.max(1.0))
}

impl Agent {
    /// Binds the endpoints and starts refreshing; credentials are served once the first refresh
    /// succeeded (`/healthz` says when).
    pub async fn start(config: AgentConfig) -> anyhow::Result<Agent> {
        if !config.listen.ip().to_canonical().is_loopback() {
            bail!("the agent serves credentials to local workloads only: --listen must be a loopback address");
        }
        let bootstrap = config.bootstrap.resolve()?;
        let sts = StsEndpoint::new(&config.endpoint, &config.region)?;
        // arn:<partition>:iam::<account>:role/<path/><name>
        let parts: Vec<&str> = config.role_arn.splitn(6, ':').collect();
        let (account, resource) = match parts.as_slice() {
            ["arn", _, "iam", "", account, resource] => (*account, *resource),
            _ => bail!("`{}` is not a role ARN", config.role_arn),
        };
        let role_name = resource.rsplit('/').next().unwrap_or_default().to_owned();
        if !resource.starts_with("role/") || role_name.is_empty() {
            bail!("`{}` is not a role ARN", config.role_arn);
        }
        let token = match &config.auth_token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the token file {}", path.display()))?;
                let text = text.trim();
                if text.is_empty() {
                    bail!("the token file {} is empty", path.display());
                }
                Some(Secret::new(text))
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            role_arn: config.role_arn.clone(),
            role_name,
            account: account.to_owned(),
            token,
            current: RwLock::new(None),
            imds_tokens: Mutex::new(HashMap::new()),
            last_error: Mutex::new(None),
            counters: Counters::default(),
        });
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let limits = ConnectionLimits::default();
        let connections = listen::incoming(listener, Gate::new("agent", limits.max_connections), &limits);
        let mut server_stop = stopped.clone();
        let server = tokio::spawn(listen::serve_http(routes(Arc::clone(&shared)), connections, limits, async move {
            let _ = server_stop.wait_for(|stop| *stop).await;
        }));
        let request = RoleRequest {
            role_arn: config.role_arn.clone(),
            role_session_name: config.role_session_name.clone(),
            duration_seconds: config.duration_seconds,
        };
        let refresher =
            tokio::spawn(refresh_loop(Arc::clone(&shared), sts, bootstrap, request, config.refresh_ahead, stopped));
        tracing::info!(%addr, role_arn = %config.role_arn, "agent listening");
        Ok(Agent { addr, shared, stop, tasks: vec![server, refresher] })
    }

    /// The access key id of the credentials held, if still valid (for tests and logs).
    pub fn access_key_id(&self) -> Option<String> {
        self.shared.valid().map(|c| c.access_key_id.clone())
    }

    /// Stops serving and refreshing.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Runs until `signal`, then stops.
    pub async fn run_until(self, signal: impl Future<Output = ()>) {
        signal.await;
        self.stop().await;
    }
}

async fn refresh_loop(
    shared: Arc<Shared>,
    sts: StsEndpoint,
    bootstrap: Bootstrap,
    request: RoleRequest,
    ahead: Option<Duration>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    loop {
        let wait = match sts.assume(&bootstrap, &request).await {
            Ok(credentials) => {
                failures = 0;
                let wait = refresh_delay(&credentials, unix_now(), ahead, jitter());
                tracing::info!(
                    access_key_id = %credentials.access_key_id,
                    expiration = %credentials.expiration_iso(),
                    next_refresh_secs = wait.as_secs(),
                    "role credentials refreshed"
                );
                *shared.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(credentials));
                *shared.last_error.lock().unwrap_or_else(PoisonError::into_inner) = None;
                shared.counters.refreshes.fetch_add(1, Ordering::Relaxed);
                wait
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                shared.counters.refresh_failures.fetch_add(1, Ordering::Relaxed);
                let message = format!("{error:#}");
                let held = shared.valid();
                tracing::warn!(
                    error = %message,
                    serving_cached_until = held.as_ref().map(|c| c.expiration_iso()),
                    "cannot refresh the role credentials"
                );
                *shared.last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
                let backoff = Duration::from_secs(1u64 << failures.min(5).saturating_sub(1)).min(MAX_BACKOFF);
                // Never wait past the held credentials' expiry.
                match held {
                    Some(held) => backoff.min(Duration::from_secs(held.expiration.saturating_sub(unix_now()).max(1))),
                    None => backoff,
                }
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/credentials", get(container))
        .route("/latest/api/token", put(imds_token))
        .route("/latest/meta-data/iam/security-credentials", get(imds_roles))
        .route("/latest/meta-data/iam/security-credentials/", get(imds_roles))
        .route("/latest/meta-data/iam/security-credentials/{role}", get(imds_credentials))
        .route("/latest/meta-data/iam/security-credentials-extended", get(imds_roles))
        .route("/latest/meta-data/iam/security-credentials-extended/", get(imds_roles))
        .route("/latest/meta-data/iam/security-credentials-extended/{role}", get(imds_credentials_extended))
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

fn refuse(shared: &Shared, status: StatusCode, code: &str, message: &str) -> Response {
    shared.counters.refused.fetch_add(1, Ordering::Relaxed);
    (status, axum::Json(json!({ "code": code, "message": message }))).into_response()
}

fn unavailable(shared: &Shared) -> Response {
    refuse(
        shared,
        StatusCode::SERVICE_UNAVAILABLE,
        "CredentialsUnavailable",
        "The agent holds no valid credentials yet.",
    )
}

/// The container credentials endpoint (the ECS/EKS Pod Identity answer).
async fn container(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(token) = &shared.token else {
        return refuse(
            &shared,
            StatusCode::NOT_FOUND,
            "NotFound",
            "The container endpoint is off (no --auth-token-file).",
        );
    };
    let sent = headers.get("authorization").map(|v| v.as_bytes()).unwrap_or_default();
    if !token.ct_eq(sent) {
        return refuse(&shared, StatusCode::UNAUTHORIZED, "Unauthorized", "Missing or wrong Authorization token.");
    }
    let Some(credentials) = shared.valid() else { return unavailable(&shared) };
    shared.counters.served_container.fetch_add(1, Ordering::Relaxed);
    axum::Json(json!({
        "RoleArn": shared.role_arn,
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key.expose(),
        "Token": credentials.session_token.expose(),
        "Expiration": credentials.expiration_iso(),
        "AccountId": shared.account,
    }))
    .into_response()
}

/// `PUT /latest/api/token`: an IMDSv2 session token for the TTL asked.
async fn imds_token(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if headers.contains_key("x-forwarded-for") {
        // As IMDS: a request that went through a proxy is refused.
        return refuse(&shared, StatusCode::FORBIDDEN, "Forbidden", "Forwarded requests are refused.");
    }
    let ttl = headers
        .get("x-aws-ec2-metadata-token-ttl-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ttl| (1..=MAX_IMDS_TOKEN_TTL).contains(ttl));
    let Some(ttl) = ttl else {
        return refuse(
            &shared,
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "X-aws-ec2-metadata-token-ttl-seconds must be 1-21600.",
        );
    };
    let Ok(token) = random_hex(32) else {
        return refuse(&shared, StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "No randomness.");
    };
    let now = unix_now();
    let mut tokens = shared.imds_tokens.lock().unwrap_or_else(PoisonError::into_inner);
    tokens.retain(|_, expires| *expires > now);
    if tokens.len() >= MAX_IMDS_TOKENS
        && let Some(oldest) = tokens.iter().min_by_key(|(_, expires)| **expires).map(|(t, _)| t.clone())
    {
        tokens.remove(&oldest);
    }
    tokens.insert(token.clone(), now + ttl);
    drop(tokens);
    ([("x-aws-ec2-metadata-token-ttl-seconds", ttl.to_string())], token).into_response()
}

fn imds_authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(token) = headers.get("x-aws-ec2-metadata-token").and_then(|v| v.to_str().ok()) else { return false };
    let tokens = shared.imds_tokens.lock().unwrap_or_else(PoisonError::into_inner);
    tokens.get(token).is_some_and(|expires| *expires > unix_now())
}

async fn imds_roles(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !imds_authorized(&shared, &headers) {
        return refuse(&shared, StatusCode::UNAUTHORIZED, "Unauthorized", "An IMDSv2 session token is required.");
    }
    shared.role_name.clone().into_response()
}

fn imds_answer(shared: &Shared, headers: &HeaderMap, role: &str, extended: bool) -> Response {
    if !imds_authorized(shared, headers) {
        return refuse(shared, StatusCode::UNAUTHORIZED, "Unauthorized", "An IMDSv2 session token is required.");
    }
    if role != shared.role_name {
        return refuse(shared, StatusCode::NOT_FOUND, "NotFound", "No such role.");
    }
    let Some(credentials) = shared.valid() else { return unavailable(shared) };
    shared.counters.served_imds.fetch_add(1, Ordering::Relaxed);
    let mut answer = json!({
        "Code": "Success",
        "LastUpdated": tessera_awsapi::iso8601(i64::try_from(credentials.received_at).unwrap_or(0)),
        "Type": "AWS-HMAC",
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key.expose(),
        "Token": credentials.session_token.expose(),
        "Expiration": credentials.expiration_iso(),
    });
    if extended {
        answer["AccountId"] = json!(shared.account);
    }
    axum::Json(answer).into_response()
}

async fn imds_credentials(State(shared): State<Arc<Shared>>, Path(role): Path<String>, headers: HeaderMap) -> Response {
    imds_answer(&shared, &headers, &role, false)
}

async fn imds_credentials_extended(
    State(shared): State<Arc<Shared>>,
    Path(role): Path<String>,
    headers: HeaderMap,
) -> Response {
    imds_answer(&shared, &headers, &role, true)
}

/// 200 while valid credentials are held (even if the last refresh failed), else 503.
async fn health(State(shared): State<Arc<Shared>>) -> Response {
    let held = shared.valid();
    let last_error = shared.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let body = json!({
        "status": if held.is_some() { "ok" } else { "unavailable" },
        "role_arn": shared.role_arn,
        "access_key_id": held.as_ref().map(|c| c.access_key_id.clone()),
        "expiration": held.as_ref().map(|c| c.expiration_iso()),
        "last_refresh_error": last_error,
    });
    let status = if held.is_some() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let c = &shared.counters;
    let remaining = shared.valid().map_or(0, |held| held.expiration.saturating_sub(unix_now()));
    let text = format!(
        "# TYPE tessera_agent_refreshes_total counter\ntessera_agent_refreshes_total {}\n\
         # TYPE tessera_agent_refresh_failures_total counter\ntessera_agent_refresh_failures_total {}\n\
         # TYPE tessera_agent_credentials_served_total counter\n\
         tessera_agent_credentials_served_total{{endpoint=\"container\"}} {}\n\
         tessera_agent_credentials_served_total{{endpoint=\"imds\"}} {}\n\
         # TYPE tessera_agent_requests_refused_total counter\ntessera_agent_requests_refused_total {}\n\
         # TYPE tessera_agent_credentials_remaining_seconds gauge\ntessera_agent_credentials_remaining_seconds {}\n",
        c.refreshes.load(Ordering::Relaxed),
        c.refresh_failures.load(Ordering::Relaxed),
        c.served_container.load(Ordering::Relaxed),
        c.served_imds.load(Ordering::Relaxed),
        c.refused.load(Ordering::Relaxed),
        remaining,
    );
    ([("content-type", "text/plain; version=0.0.4")], text).into_response()
}

/// `tessera agent`: runs until SIGTERM or ctrl-c.
pub fn run(config: AgentConfig) -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = tokio::runtime::Runtime::new().map_err(anyhow::Error::from).and_then(|runtime| {
        runtime.block_on(async {
            let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let agent = Agent::start(config).await?;
            println!("{}", json!({ "listen": agent.addr.to_string() }));
            agent
                .run_until(async move {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = terminate.recv() => {}
                    }
                })
                .await;
            anyhow::Ok(())
        })
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tessera: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(received_at: u64, expiration: u64) -> RoleCredentials {
        RoleCredentials {
            access_key_id: "ASIA".into(),
            secret_access_key: Secret::new("s"),
            session_token: Secret::new("t"),
            expiration,
            received_at,
            assumed_role_arn: String::new(),
        }
    }

    #[test]
    fn refreshes_come_at_a_jittered_fraction_of_the_lifetime_or_ahead_of_expiry() {
        let c = held(1000, 4600);
        assert_eq!(refresh_delay(&c, 1000, None, 0.0), Duration::from_secs(1800));
        assert_eq!(refresh_delay(&c, 1000, None, 1.0), Duration::from_secs(2700));
        assert_eq!(refresh_delay(&c, 1000, Some(Duration::from_secs(600)), 1.0), Duration::from_secs(3000));
        assert_eq!(refresh_delay(&c, 1000, Some(Duration::from_secs(3599)), 0.5), Duration::from_secs(1));
        // Late already: at least a second.
        assert_eq!(refresh_delay(&c, 4000, None, 0.0), Duration::from_secs(1));
    }
}
