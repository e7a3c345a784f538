//! `tessera serve`: opens the store, loads the master key, bootstraps the account on first start,
//! and runs the gRPC services and the HTTP endpoint until shutdown.
//!
//! [`Server::start`] binds and returns the bound addresses before serving, so tests start the real
//! server on `127.0.0.1:0` in-process; `main.rs` only parses arguments and waits for a signal.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::routing::get;
use tessera_credentials::{Argon2Params, MasterKey, SystemRng};
use tessera_identity::{Account, Env, Identity, Random, SystemClock};
use tessera_policy_service::Policies;
use tessera_store::AnyStore;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::health::{HealthOpenLayer, Readiness};
use crate::listen::{self, ConnectionLimits, Gate};

/// The environment variable that may hold the master key (in its key-file form).
pub const MASTER_KEY_ENV: &str = "TESSERA_MASTER_KEY";
/// The environment variable that may hold the previous master key, during a rotation.
pub const PREVIOUS_MASTER_KEY_ENV: &str = "TESSERA_PREVIOUS_MASTER_KEY";

/// Which services this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceSet {
    /// Every service in one process (the default).
    All,
    Identity,
    Policy,
    Sts,
    /// The authorizer API (`tessera.authorizer.v1`) alone: services ask it about their callers.
    Authorizer,
    /// The public entry of a split cluster: the AWS Query API and the native gRPC API over the
    /// identity, policy and sts replicas named by `--upstream`, authenticating and authorizing in
    /// this process on the shared store, and answering the authorizer API itself.
    Gateway,
}

/// A service a gateway calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UpstreamService {
    Identity,
    Policy,
    Sts,
    Authorizer,
}

impl UpstreamService {
    /// Its name in `--upstream SERVICE=URL` and in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Policy => "policy",
            Self::Sts => "sts",
            Self::Authorizer => "authorizer",
        }
    }

    /// The gRPC service whose health says whether a replica can take calls.
    fn grpc_name(self) -> &'static str {
        match self {
            Self::Identity => tessera_proto::identity::v1::identity_service_server::SERVICE_NAME,
            Self::Policy => tessera_proto::policy::v1::policy_service_server::SERVICE_NAME,
            Self::Sts => tessera_proto::sts::v1::sts_service_server::SERVICE_NAME,
            Self::Authorizer => tessera_proto::authorizer::v1::authorizer_service_server::SERVICE_NAME,
        }
    }
}

/// One replica of a service a gateway calls: `--upstream SERVICE=URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUrl {
    pub service: UpstreamService,
    pub url: String,
}

/// Parses `SERVICE=URL` (`identity=http://10.0.0.5:50051`).
pub fn parse_upstream(text: &str) -> Result<UpstreamUrl, String> {
    let (service, url) = text
        .split_once('=')
        .ok_or_else(|| format!("expected SERVICE=URL (identity=http://host:port), not `{text}`"))?;
    let service = match service.trim() {
        "identity" => UpstreamService::Identity,
        "policy" => UpstreamService::Policy,
        "sts" => UpstreamService::Sts,
        "authorizer" => UpstreamService::Authorizer,
        other => return Err(format!("unknown service `{other}`: expected identity, policy, sts or authorizer")),
    };
    let url = url.trim().trim_end_matches('/');
    let authority = url.strip_prefix("http://").ok_or_else(|| format!("`{url}` must start with http://"))?;
    if authority.is_empty() || authority.parse::<axum::http::uri::Authority>().is_err() {
        return Err(format!("`{url}` is not an http://HOST:PORT URL"));
    }
    Ok(UpstreamUrl { service, url: url.to_owned() })
}

/// `tessera serve`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// Where the embedded store, the master key and the root credentials live.
    #[arg(long, env = "TESSERA_DATA_DIR", default_value = "tessera-data")]
    pub data_dir: PathBuf,
    /// The HTTP endpoint (`/healthz`; the AWS Query API lands here).
    #[arg(long, env = "TESSERA_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// The gRPC endpoint.
    #[arg(long, env = "TESSERA_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,
    /// The store: the embedded store under `--data-dir` when omitted, `redis://HOST:PORT/DB`, or a
    /// Redis Cluster by its seed nodes, `redis+cluster://HOST:PORT[,HOST:PORT...]` (`rediss://`,
    /// `rediss+cluster://`: over TLS).
    #[arg(long, env = "TESSERA_STORE")]
    pub store: Option<String>,
    /// Run one service instead of all of them.
    #[arg(long, value_enum, default_value = "all")]
    pub service: ServiceSet,
    /// With `--service gateway`: one replica of a service the gateway calls, `SERVICE=URL`
    /// (`identity=http://10.0.0.5:50051`); repeat it for every replica of identity, policy and sts
    /// (each needs one at least). In the configuration file, a table: `[upstreams]` with `identity
    /// = ["http://h1:50051", "http://h2:50051"]`.
    #[arg(long = "upstream", env = "TESSERA_UPSTREAM", value_name = "SERVICE=URL", value_delimiter = ',', value_parser = parse_upstream)]
    pub upstream: Vec<UpstreamUrl>,
    /// The account created on first start (12 digits); generated when omitted.
    #[arg(long, env = "TESSERA_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// The master key file; `<data-dir>/master.key` (created on first start) when omitted. Every
    /// replica sharing a Redis store must use the same key.
    #[arg(long, env = "TESSERA_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// During a master-key rotation: the previous key's file (or `TESSERA_PREVIOUS_MASTER_KEY`).
    /// Secrets sealed under it still open; new ones are sealed under `--master-key-file`. See
    /// `tessera admin rotate-master-key`.
    #[arg(long, env = "TESSERA_PREVIOUS_MASTER_KEY_FILE")]
    pub previous_master_key_file: Option<PathBuf>,
    /// The `iss` of the identity tokens Tessera mints (its discovery document and JWKS are served
    /// under this URL's `/.well-known/`); `http://<http-addr>` when omitted.
    #[arg(long, env = "TESSERA_ISSUER_URL")]
    pub issuer_url: Option<String>,
    /// Extra CA certificates (PEM) trusted, besides the system roots, when fetching the discovery
    /// document and JWKS of OIDC providers for AssumeRoleWithWebIdentity (a private or test IdP).
    #[arg(long, env = "TESSERA_OIDC_CA_FILE")]
    pub oidc_ca_file: Option<PathBuf>,
    /// Authenticate and authorize every gRPC call (`authorization: Bearer <key-id>:<secret or
    /// session token>`, then the caller's policies on `iam:<Method>`/`sts:<Method>`; see
    /// `tessera_gateway::grpc_auth`). Off by default for now: without it the gRPC port trusts
    /// every request, so expose it only to trusted clients. Serve it over TLS when on.
    #[arg(long, env = "TESSERA_GRPC_AUTH")]
    pub grpc_auth: bool,
    /// Serve gRPC without `--grpc-auth` on an address other than loopback. Without this flag the
    /// server refuses to start that way: the port would trust every request from the network.
    #[arg(long, env = "TESSERA_GRPC_INSECURE_LISTEN")]
    pub grpc_insecure_listen: bool,
    /// Timeouts and the connection cap of both listeners.
    #[command(flatten)]
    pub limits: ConnectionLimits,
    /// Request rates of the AWS endpoint.
    #[command(flatten)]
    pub rates: RequestRates,
    /// How long a stop (SIGTERM) waits for requests in flight to finish before closing their
    /// connections. `500ms`, `20s`, `1m`, ...
    #[arg(long, env = "TESSERA_SHUTDOWN_TIMEOUT", default_value = "20s", value_parser = listen::parse_duration)]
    pub shutdown_timeout: Duration,
    /// The authorizer's cache of compiled principals, session policies, trust policies and key
    /// lookups.
    #[command(flatten)]
    pub authorizer_cache: AuthorizerCache,
    /// The mutual-TLS listener of certificate sessions (`mtls.rs`).
    #[command(flatten)]
    pub mtls: crate::mtls::MtlsConfig,
}

/// The authorizer's cache (`tessera serve` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct AuthorizerCache {
    /// The most entries the authorizer's cache keeps; the least recently used tenth goes when full.
    #[arg(long, env = "TESSERA_AUTHORIZER_CACHE_ENTRIES", default_value_t = 100_000)]
    pub authorizer_cache_entries: usize,
    /// How long cached principals are still served while the policy-epoch channel (Redis pub/sub)
    /// is down; after that, decisions read the store again and fail closed if it is down too.
    #[arg(long, env = "TESSERA_AUTHORIZER_MAX_STALENESS", default_value = "30s", value_parser = listen::parse_duration)]
    pub authorizer_max_staleness: Duration,
}

impl ServiceSet {
    /// The one domain service this process runs alone, by name (`identity`, ...); `None` for the
    /// all-in-one server.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::All | Self::Gateway => None,
            Self::Identity => Some("identity"),
            Self::Policy => Some("policy"),
            Self::Sts => Some("sts"),
            Self::Authorizer => Some("authorizer"),
        }
    }
}

impl Default for AuthorizerCache {
    fn default() -> Self {
        let defaults = tessera_sts::CacheConfig::default();
        Self { authorizer_cache_entries: defaults.capacity, authorizer_max_staleness: defaults.max_staleness }
    }
}

impl AuthorizerCache {
    fn config(self) -> tessera_sts::CacheConfig {
        tessera_sts::CacheConfig {
            capacity: self.authorizer_cache_entries.max(1),
            max_staleness: self.authorizer_max_staleness,
        }
    }
}

/// Request rates of the AWS-compatible endpoint (`tessera serve` flags), per replica: requests a
/// second, with bursts of twice as many. 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct RequestRates {
    /// Signed requests per second per access key.
    #[arg(long, env = "TESSERA_RATE_PER_KEY", default_value_t = 2000)]
    pub rate_per_key: u32,
    /// Signed requests per second per principal (every session of a role counts as the role).
    #[arg(long, env = "TESSERA_RATE_PER_PRINCIPAL", default_value_t = 0)]
    pub rate_per_principal: u32,
    /// Signed requests per second per account.
    #[arg(long, env = "TESSERA_RATE_PER_ACCOUNT", default_value_t = 0)]
    pub rate_per_account: u32,
    /// Temporary credentials issued per second per principal (AssumeRole, GetSessionToken,
    /// GetFederationToken).
    #[arg(long, env = "TESSERA_ISSUE_RATE_PER_PRINCIPAL", default_value_t = 0)]
    pub issue_rate_per_principal: u32,
}

impl Default for RequestRates {
    fn default() -> Self {
        Self { rate_per_key: 2000, rate_per_principal: 0, rate_per_account: 0, issue_rate_per_principal: 0 }
    }
}

impl RequestRates {
    /// The gateway's limits.
    pub fn limits(&self) -> tessera_gateway::RateLimits {
        let rate = |n: u32| {
            (n > 0).then(|| tessera_gateway::RateLimit { per_second: f64::from(n), burst: 2.0 * f64::from(n) })
        };
        tessera_gateway::RateLimits {
            per_key: rate(self.rate_per_key)
                .unwrap_or(tessera_gateway::RateLimit { per_second: f64::MAX, burst: f64::MAX }),
            per_principal: rate(self.rate_per_principal),
            per_account: rate(self.rate_per_account),
            issue_per_principal: rate(self.issue_rate_per_principal),
        }
    }
}

impl ServeConfig {
    /// A configuration for tests: everything on `127.0.0.1:0` under `data_dir`.
    pub fn for_tests(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            store: None,
            service: ServiceSet::All,
            upstream: Vec::new(),
            account_id: None,
            master_key_file: None,
            previous_master_key_file: None,
            issuer_url: None,
            oidc_ca_file: None,
            grpc_auth: false,
            grpc_insecure_listen: false,
            limits: ConnectionLimits::default(),
            rates: RequestRates::default(),
            shutdown_timeout: Duration::from_secs(20),
            authorizer_cache: AuthorizerCache::default(),
            mtls: crate::mtls::MtlsConfig::default(),
        }
    }

    /// The replicas of `service` named by `--upstream`.
    pub fn upstream_urls(&self, service: UpstreamService) -> Vec<String> {
        self.upstream.iter().filter(|u| u.service == service).map(|u| u.url.clone()).collect()
    }

    /// A gateway needs replicas of identity, policy and sts; other processes take none.
    pub(crate) fn check_upstreams(&self) -> Result<()> {
        if self.service != ServiceSet::Gateway {
            if !self.upstream.is_empty() {
                bail!("--upstream is for --service gateway only (this process runs {:?})", self.service);
            }
            return Ok(());
        }
        let missing: Vec<&str> = [UpstreamService::Identity, UpstreamService::Policy, UpstreamService::Sts]
            .into_iter()
            .filter(|service| self.upstream_urls(*service).is_empty())
            .map(UpstreamService::name)
            .collect();
        if !missing.is_empty() {
            bail!(
                "a gateway needs at least one replica of each of identity, policy and sts; missing: {} (give each as \
                 --upstream SERVICE=http://HOST:PORT, or in the configuration file's [upstreams] table)",
                missing.join(", ")
            );
        }
        Ok(())
    }

    /// Refuses an unauthenticated gRPC port reachable from the network, unless asked for by name.
    pub(crate) fn check_grpc_exposure(&self) -> Result<()> {
        // `to_canonical`: `::ffff:127.0.0.1` is loopback too.
        if self.grpc_auth || self.grpc_addr.ip().to_canonical().is_loopback() {
            return Ok(());
        }
        if !self.grpc_insecure_listen {
            bail!(
                "refusing to serve gRPC on {} without --grpc-auth: the gRPC port would trust every request \
                 (no authentication, any account) from the network; turn on --grpc-auth, listen on a loopback \
                 address (127.0.0.1 or ::1), or pass --grpc-insecure-listen to expose it anyway",
                self.grpc_addr
            );
        }
        tracing::warn!(grpc_addr = %self.grpc_addr, "serving unauthenticated gRPC beyond loopback (--grpc-insecure-listen)");
        Ok(())
    }
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    /// The mutual-TLS listener of certificate sessions, when `--mtls-addr` is given.
    pub mtls_addr: Option<SocketAddr>,
    /// The account bootstrapped (or found) on start, when this process runs the identity service.
    pub account: Option<tessera_identity::bootstrap::Bootstrapped>,
    /// The authorizer API this process serves, for callers in the same process
    /// (`tessera_authz_client::Local`).
    pub authorizer: Option<Arc<tessera_gateway::authorizer_api::AuthorizerApi<AnyStore>>>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<Result<()>>,
    gates: (Gate, Gate),
    readiness: Readiness,
    shutdown_timeout: Duration,
    /// The store, to know when nothing uses it any more (see [`Server::run_until`]).
    store: std::sync::Weak<AnyStore>,
}

/// How many connections each listener has open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenConnections {
    pub http: usize,
    pub grpc: usize,
}

impl Server {
    /// Opens everything and binds both endpoints, then serves in the background.
    pub async fn start(config: ServeConfig) -> Result<Self> {
        config.check_grpc_exposure()?;
        config.check_upstreams()?;
        tessera_credentials::private_fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data directory `{}`", config.data_dir.display()))?;
        let location = match &config.store {
            Some(location) => location.clone(),
            None => config.data_dir.to_string_lossy().into_owned(),
        };
        let store =
            Arc::new(AnyStore::open(&location).await.with_context(|| format!("cannot open the store `{location}`"))?);
        let rng = SystemRng::new().context("the system random source is unavailable")?;
        let master_key = load_master_key(&config, &mut rng.clone())?;
        // Before anything is written: a replica with another key would re-seal shared secrets.
        match crate::key_check::verify_or_record(&*store, &master_key).await? {
            crate::key_check::KeyCheck::Recorded => tracing::info!(
                master_key_id = master_key.key_id(),
                "recorded the master key's key-check value in the store"
            ),
            crate::key_check::KeyCheck::Previous(store_key_id) => tracing::warn!(
                master_key_id = master_key.key_id(),
                store_key_id,
                "the store is sealed under the previous master key: run `tessera admin rotate-master-key`"
            ),
            crate::key_check::KeyCheck::Matched => {}
        }
        let env = Env {
            clock: Arc::new(SystemClock),
            random: Arc::new(Random::new(rng)),
            master_key: Arc::new(master_key),
            password_params: Argon2Params::DEFAULT,
        };
        let identity = Identity::new(Arc::clone(&store), env.clone());
        let policies = Policies::new(Arc::clone(&store), env.clone());

        let runs_identity = matches!(config.service, ServiceSet::All | ServiceSet::Identity);
        let runs_policy = matches!(config.service, ServiceSet::All | ServiceSet::Policy);
        let runs_sts = matches!(config.service, ServiceSet::All | ServiceSet::Sts);
        if runs_policy {
            tessera_policy_service::seed_aws_managed(&*store, env.now())
                .await
                .context("cannot seed AWS-managed policies")?;
        }
        let account = if runs_identity {
            let account_id = config
                .account_id
                .as_deref()
                .map(Account::new)
                .transpose()
                .map_err(|e| anyhow::anyhow!("{}", e.into_service_error()))?;
            let root_key = root_key_from_env()?;
            let bootstrapped = identity
                .bootstrap(account_id.as_ref(), root_key)
                .await
                .map_err(|e| anyhow::anyhow!("bootstrap failed: {}", e.into_service_error()))?;
            if let Some(secret) = &bootstrapped.new_root_secret {
                write_root_credentials(&config.data_dir, &bootstrapped.root_access_key_id, secret.expose())?;
            }
            Some(bootstrapped)
        } else {
            None
        };

        let grpc_listener =
            TcpListener::bind(config.grpc_addr).await.with_context(|| format!("cannot bind {}", config.grpc_addr))?;
        let http_listener =
            TcpListener::bind(config.http_addr).await.with_context(|| format!("cannot bind {}", config.http_addr))?;
        let (grpc_addr, http_addr) = (grpc_listener.local_addr()?, http_listener.local_addr()?);
        let (shutdown, signal) = watch::channel(false);
        let mut tasks = JoinSet::new();

        let mut routes = tonic::service::Routes::default();
        // The gRPC services this process serves, by name, for `grpc.health.v1`.
        let mut served = Vec::new();
        if runs_identity {
            routes = routes.add_service(tessera_identity::grpc::service(identity));
            served.push(tessera_proto::identity::v1::identity_service_server::SERVICE_NAME);
        }
        if runs_policy {
            routes = routes.add_service(tessera_policy_service::grpc::service(policies));
            served.push(tessera_proto::policy::v1::policy_service_server::SERVICE_NAME);
        }
        let mut app = Router::new().route("/healthz", get(|| async { "ok" })).merge(crate::metrics::route());
        let mut auth_sts = None;
        // The HTTP gateway's notes of key and role use, shared with the gRPC gate.
        let mut usage = None;
        let mut mtls_addr = None;
        let mut authorizer = None;
        if runs_sts || config.service == ServiceSet::Authorizer {
            let oidc = tessera_sts::OidcConfig::from_ca_file(config.oidc_ca_file.as_deref())
                .context("cannot set up TLS for OIDC providers")?;
            let cache = config.authorizer_cache.config();
            let sts = tessera_sts::Sts::start_configured(Arc::clone(&store), env.clone(), oidc, cache)
                .await
                .map_err(|e| anyhow::anyhow!("cannot start the token service: {}", e.into_service_error()))?;
            let sts = Arc::new(sts);
            auth_sts = Some(Arc::clone(&sts));
            if runs_sts {
                mtls_addr = crate::mtls::start(&config.mtls, Arc::clone(&sts), signal.clone(), &mut tasks).await?;
            }
            // The OIDC issuer: an authorizer process verifies its tokens only when told its URL.
            let issuer_url = match (&config.issuer_url, runs_sts) {
                (Some(url), _) => Some(url.clone()),
                (None, true) => Some(format!("http://{http_addr}")),
                (None, false) => None,
            };
            let mut issuer = None;
            if let Some(issuer_url) = issuer_url {
                let loaded = tessera_sts::Issuer::load_or_create(&*store, &env, &issuer_url)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot load the issuer keys: {}", e.into_service_error()))?;
                let loaded = Arc::new(loaded);
                tessera_sts::issuer::refresh_periodically(Arc::downgrade(&store), Arc::downgrade(&loaded), env.clone());
                issuer = Some(loaded);
            }
            if runs_sts && let Some(issuer) = &issuer {
                app = app.merge(tessera_sts::issuer::routes(Arc::clone(issuer)));
                routes =
                    routes.add_service(tessera_sts::grpc::service_with_issuer(Arc::clone(&sts), Arc::clone(issuer)));
                served.push(tessera_proto::sts::v1::sts_service_server::SERVICE_NAME);
            }
            if matches!(config.service, ServiceSet::All | ServiceSet::Authorizer) {
                let audit = tessera_gateway::audit::AuditLog::start(&config.data_dir.join("audit"))
                    .context("cannot open the audit log")?;
                let sts_for_console = Arc::clone(&sts);
                // The console records its actions through the gateway's writer (one trail).
                let audit_for_console = audit.clone();
                let gateway = tessera_gateway::Gateway::new(Arc::clone(&store), env.clone(), sts)
                    .with_audit(audit)
                    .with_rate_limits(config.rates.limits());
                let gateway = Arc::new(gateway);
                usage = Some(gateway.usage());
                // The authorizer API: services ask it about their own callers' credentials.
                let api = Arc::new(tessera_gateway::authorizer_api::AuthorizerApi::new(Arc::clone(&gateway), issuer));
                routes = routes.add_service(tessera_gateway::authorizer_api::service(Arc::clone(&api)));
                served.push(tessera_proto::authorizer::v1::authorizer_service_server::SERVICE_NAME);
                authorizer = Some(api);
                if config.service == ServiceSet::All {
                    // The AWS-compatible endpoint: every IAM and STS action on one URL.
                    app = app.merge(tessera_gateway::router(gateway));
                    // The web console (issue 16), on the same port, over the same domain and authorizer.
                    let account_id = account.as_ref().map(|a| a.account_id.as_str());
                    let settings = tessera_console::Settings {
                        audit_dir: Some(config.data_dir.join("audit")),
                        audit: Some(audit_for_console),
                        // Role use noted once a minute per role on this replica, whichever entry.
                        usage: usage.clone(),
                        ..Default::default()
                    };
                    let console = tessera_console::serve(Arc::clone(&sts_for_console), account_id, settings);
                    app = app.merge(console.await.context("cannot start the console")?);
                }
            }
        }
        // A gateway: the domains are remote, authentication and authorization stay here.
        let mut upstreams = Vec::new();
        if config.service == ServiceSet::Gateway {
            let oidc = tessera_sts::OidcConfig::from_ca_file(config.oidc_ca_file.as_deref())
                .context("cannot set up TLS for OIDC providers")?;
            let cache = config.authorizer_cache.config();
            let sts = tessera_sts::Sts::start_configured(Arc::clone(&store), env.clone(), oidc, cache)
                .await
                .map_err(|e| anyhow::anyhow!("cannot start the token service: {}", e.into_service_error()))?;
            let sts = Arc::new(sts);
            auth_sts = Some(Arc::clone(&sts));
            let issuer_url = config.issuer_url.clone().unwrap_or_else(|| format!("http://{http_addr}"));
            let issuer = tessera_sts::Issuer::load_or_create(&*store, &env, &issuer_url)
                .await
                .map_err(|e| anyhow::anyhow!("cannot load the issuer keys: {}", e.into_service_error()))?;
            let issuer = Arc::new(issuer);
            tessera_sts::issuer::refresh_periodically(Arc::downgrade(&store), Arc::downgrade(&issuer), env.clone());
            app = app.merge(tessera_sts::issuer::routes(Arc::clone(&issuer)));
            // The gateway names this issuer in GetOutboundWebIdentityFederationInfo.
            sts.set_issuer(Arc::clone(&issuer));
            let split = crate::serve::split_domains(&config, &env)?;
            routes = routes
                .add_service(tessera_identity::grpc::service(Arc::clone(&split.identity)))
                .add_service(tessera_policy_service::grpc::service_over(Arc::clone(&split.policies)))
                .add_service(tessera_sts::grpc::service_over(
                    Arc::clone(&split.tokens),
                    Arc::clone(&sts) as Arc<dyn tessera_sts::CallerResolver>,
                ));
            served.extend([
                tessera_proto::identity::v1::identity_service_server::SERVICE_NAME,
                tessera_proto::policy::v1::policy_service_server::SERVICE_NAME,
                tessera_proto::sts::v1::sts_service_server::SERVICE_NAME,
            ]);
            let audit = tessera_gateway::audit::AuditLog::start(&config.data_dir.join("audit"))
                .context("cannot open the audit log")?;
            let gateway =
                tessera_gateway::Gateway::with_domains(env.clone(), sts, split.identity, split.policies, split.tokens)
                    .with_audit(audit)
                    .with_rate_limits(config.rates.limits());
            let gateway = Arc::new(gateway);
            usage = Some(gateway.usage());
            // The authorizer API is answered here, from this process's caches.
            let api = Arc::new(tessera_gateway::authorizer_api::AuthorizerApi::new(Arc::clone(&gateway), Some(issuer)));
            routes = routes.add_service(tessera_gateway::authorizer_api::service(Arc::clone(&api)));
            served.push(tessera_proto::authorizer::v1::authorizer_service_server::SERVICE_NAME);
            authorizer = Some(api);
            app = app.merge(tessera_gateway::router(gateway));
            upstreams = split.upstreams;
        }
        let metrics_sts = auth_sts.clone();
        let grpc_auth = match (config.grpc_auth, auth_sts) {
            (false, _) => None,
            // The gate notes key and role use with the HTTP gateway's notes when there is one.
            (true, Some(sts)) => Some(match usage {
                Some(usage) => tessera_gateway::grpc_auth::GrpcAuthLayer::with_usage(sts, env.clone(), usage),
                None => tessera_gateway::grpc_auth::GrpcAuthLayer::new(sts, env.clone()),
            }),
            (true, None) => {
                let oidc = tessera_sts::OidcConfig::from_ca_file(config.oidc_ca_file.as_deref())
                    .context("cannot set up TLS for OIDC providers")?;
                let cache = config.authorizer_cache.config();
                let sts = tessera_sts::Sts::start_configured(Arc::clone(&store), env.clone(), oidc, cache)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot start the token service: {}", e.into_service_error()))?;
                Some(tessera_gateway::grpc_auth::GrpcAuthLayer::new(Arc::new(sts), env.clone()))
            }
        };
        // Health: `grpc.health.v1` per service and `/readyz`, SERVING once the store answers.
        let (reporter, health_service) = tonic_health::server::health_reporter();
        routes = routes.add_service(health_service);
        let readiness = Readiness::new(Arc::clone(&store), reporter, served).with_upstreams(upstreams);
        if !readiness.refresh().await {
            tracing::warn!("not ready at start: {}", readiness.check().await.err().unwrap_or_default());
        }
        let ready = readiness.clone();
        app = app.route("/readyz", get(move || async move { ready.answer().await }));
        let (ready, mut stop) = (readiness.clone(), signal.clone());
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(crate::health::CHECK_EVERY) => {}
                    () = wait(&mut stop) => return Ok(()),
                }
                ready.refresh().await;
            }
        });
        // A domain service on its own takes calls only from cluster members (the internal-call
        // proof) or, with --grpc-auth, from authenticated callers (`internal.rs`).
        let internal = config.service.name().map(|service| {
            crate::internal::InternalGateLayer::new(Arc::clone(&env.master_key), grpc_auth.clone(), service)
        });
        // Said before either server task starts, so no answer on either address precedes it.
        tracing::info!(%grpc_addr, %http_addr, store = store.backend(), service = ?config.service, "tessera is serving");
        let mut stop = signal.clone();
        // Both listeners: timeouts, keepalive and a connection cap (`listen.rs`).
        let limits = config.limits;
        listen::ensure_open_files(&limits);
        let gates = (Gate::new("http", limits.max_connections), Gate::new("grpc", limits.max_connections));
        let grpc_gate = gates.1.clone();
        crate::metrics::register(&store, &gates, metrics_sts.as_ref());
        tasks.spawn(async move {
            let incoming = listen::incoming(grpc_listener, grpc_gate, &limits);
            let builder = listen::grpc_server(&limits);
            match (internal, grpc_auth) {
                (Some(layer), _) => {
                    builder
                        .layer(layer)
                        .add_routes(routes)
                        .serve_with_incoming_shutdown(incoming, wait(&mut stop))
                        .await
                }
                (None, Some(layer)) => {
                    builder
                        .layer(HealthOpenLayer { gate: layer })
                        .add_routes(routes)
                        .serve_with_incoming_shutdown(incoming, wait(&mut stop))
                        .await
                }
                // Without the gate, every request still gets its span and counts.
                (None, None) => {
                    builder
                        .layer(tessera_gateway::grpc_auth::GrpcTelemetryLayer)
                        .add_routes(routes)
                        .serve_with_incoming_shutdown(incoming, wait(&mut stop))
                        .await
                }
            }
            .context("the gRPC server failed")
        });

        let mut stop = signal;
        let http_connections = listen::incoming(http_listener, gates.0.clone(), &limits);
        tasks.spawn(async move {
            listen::serve_http(app, http_connections, limits, async move { wait(&mut stop).await }).await;
            Ok(())
        });
        let shutdown_timeout = config.shutdown_timeout;
        let store = Arc::downgrade(&store);
        Ok(Self {
            http_addr,
            grpc_addr,
            mtls_addr,
            account,
            authorizer,
            shutdown,
            tasks,
            gates,
            readiness,
            shutdown_timeout,
            store,
        })
    }

    /// The connections each listener has open now.
    pub fn open_connections(&self) -> OpenConnections {
        OpenConnections { http: self.gates.0.open(), grpc: self.gates.1.open() }
    }

    /// Serves until `signal` resolves, then drains ([`Server::stop`]) and waits, within the
    /// shutdown timeout, until nothing uses the store any more: work the requests left behind
    /// (recording a key's last use) and background work under way (a key rotation) finishes
    /// instead of being cut off, with errors, when the process exits.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<()> {
        tokio::select! {
            () = signal => {}
            Some(result) = self.tasks.join_next() => {
                result??;
                bail!("a server task ended unexpectedly");
            }
        }
        let (store, deadline) = (self.store.clone(), tokio::time::Instant::now() + self.shutdown_timeout);
        self.stop().await?;
        while store.strong_count() > 0 {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("background work still using the store at the shutdown deadline: leaving it");
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// Stops serving: reports not ready, stops accepting, and waits up to the shutdown timeout for
    /// requests in flight to finish (their writes are committed or never acknowledged), then closes
    /// what is left. The audit writer flushes once the last handler holding it is gone.
    pub async fn stop(mut self) -> Result<()> {
        self.readiness.stop().await;
        let _ = self.shutdown.send(true);
        let tasks = &mut self.tasks;
        let drained = tokio::time::timeout(self.shutdown_timeout, async move {
            while let Some(result) = tasks.join_next().await {
                result??;
            }
            Ok::<_, anyhow::Error>(())
        })
        .await;
        match drained {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(
                    timeout = ?self.shutdown_timeout,
                    "requests still in flight at the shutdown deadline: closing their connections"
                );
                self.tasks.shutdown().await;
                Ok(())
            }
        }
    }
}

/// A gateway's remote domains and the upstreams they call through.
struct SplitDomains {
    identity: Arc<dyn tessera_identity::IdentityApi>,
    policies: Arc<dyn tessera_policy_service::PolicyApi>,
    tokens: Arc<dyn tessera_sts::StsApi>,
    upstreams: Vec<Arc<tessera_proto::upstream::Upstream>>,
}

/// One balanced channel per service over its `--upstream` replicas, and the remote domains over
/// them, every call carrying the cluster's internal-call proof (derived once, here).
fn split_domains(config: &ServeConfig, env: &Env) -> Result<SplitDomains> {
    use tessera_proto::upstream::{INTERNAL_LABEL, INTERNAL_METADATA, Upstream, UpstreamConfig, internal_proof};
    let proof = internal_proof(&env.master_key.derive_mac(INTERNAL_LABEL));
    let upstream = |service: UpstreamService| -> Result<Arc<Upstream>> {
        let urls = config.upstream_urls(service);
        let upstream = Upstream::new(service.name(), service.grpc_name(), &urls, UpstreamConfig::default())?;
        tracing::info!(service = service.name(), replicas = ?urls, "upstream");
        Ok(Arc::new(upstream))
    };
    let (identity, policy, sts) =
        (upstream(UpstreamService::Identity)?, upstream(UpstreamService::Policy)?, upstream(UpstreamService::Sts)?);
    if !config.upstream_urls(UpstreamService::Authorizer).is_empty() {
        tracing::info!(
            "--upstream authorizer=...: a gateway answers tessera.authorizer.v1 itself, from its own caches"
        );
    }
    Ok(SplitDomains {
        identity: Arc::new(
            tessera_identity::remote::RemoteIdentity::new(identity.channel())
                .with_metadata(INTERNAL_METADATA, proof.clone()),
        ),
        policies: Arc::new(
            tessera_policy_service::RemotePolicies::new(policy.channel())
                .with_metadata(INTERNAL_METADATA, proof.clone()),
        ),
        tokens: Arc::new(tessera_sts::RemoteSts::new(sts.channel()).with_metadata(INTERNAL_METADATA, proof)),
        upstreams: vec![identity, policy, sts],
    })
}

async fn wait(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which also means stop.
    let _ = stop.wait_for(|stopped| *stopped).await;
}

fn load_master_key(config: &ServeConfig, rng: &mut SystemRng) -> Result<MasterKey> {
    let current = load_current_master_key(config, rng)?;
    Ok(match load_previous_master_key(config.previous_master_key_file.as_deref())? {
        Some(previous) => current.with_previous(previous),
        None => current,
    })
}

/// The previous master key of a rotation: `TESSERA_PREVIOUS_MASTER_KEY`, else `file`.
pub fn load_previous_master_key(file: Option<&Path>) -> Result<Option<MasterKey>> {
    if let Ok(encoded) = std::env::var(PREVIOUS_MASTER_KEY_ENV) {
        return MasterKey::from_encoded(&encoded)
            .map(Some)
            .with_context(|| format!("{PREVIOUS_MASTER_KEY_ENV} is not a valid master key"));
    }
    file.map(|path| {
        MasterKey::load(path).with_context(|| format!("cannot load the previous master key `{}`", path.display()))
    })
    .transpose()
}

fn load_current_master_key(config: &ServeConfig, rng: &mut SystemRng) -> Result<MasterKey> {
    if let Ok(encoded) = std::env::var(MASTER_KEY_ENV) {
        return MasterKey::from_encoded(&encoded)
            .with_context(|| format!("{MASTER_KEY_ENV} is not a valid master key"));
    }
    match &config.master_key_file {
        Some(path) => MasterKey::load(path).with_context(|| format!("cannot load the master key `{}`", path.display())),
        None => {
            let path = config.data_dir.join("master.key");
            MasterKey::load_or_create(&path, rng).with_context(|| format!("cannot load or create `{}`", path.display()))
        }
    }
}

/// The root key given by the environment, for automation.
fn root_key_from_env() -> Result<Option<(String, tessera_credentials::Secret)>> {
    let id = std::env::var("TESSERA_ROOT_ACCESS_KEY_ID").ok().filter(|v| !v.is_empty());
    let secret = std::env::var("TESSERA_ROOT_SECRET_ACCESS_KEY").ok().filter(|v| !v.is_empty());
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some((id, tessera_credentials::Secret::new(secret)))),
        (None, None) => Ok(None),
        _ => bail!("set both TESSERA_ROOT_ACCESS_KEY_ID and TESSERA_ROOT_SECRET_ACCESS_KEY, or neither"),
    }
}

/// Writes the root key in the `credential_process` shape, readable by the owner only.
fn write_root_credentials(dir: &Path, key_id: &str, secret: &str) -> Result<()> {
    use std::io::Write as _;
    let path = dir.join("root-credentials.json");
    let body = serde_json::json!({ "Version": 1, "AccessKeyId": key_id, "SecretAccessKey": secret });
    let mut file = tessera_credentials::private_fs::open(
        &path,
        std::fs::OpenOptions::new().write(true).create(true).truncate(true),
    )
    .with_context(|| format!("cannot write `{}`", path.display()))?;
    writeln!(file, "{body:#}")?;
    file.sync_all()?;
    Ok(())
}
