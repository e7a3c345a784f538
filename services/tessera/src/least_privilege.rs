//! `tessera policy unused` and `tessera policy generate`: Access Analyzer's unused-access
//! findings and policy generation offline, on a store and an audit trail (a stopped server's
//! data directory, or a live Redis store with a copy of a gateway's `audit/`). The analyses are
//! the server's (`tessera_gateway::least_privilege`, over `tessera_policy::analysis`), read
//! through an in-process identity domain.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use serde_json::json;
use tessera_credentials::{Argon2Params, MasterKey, SystemRng};
use tessera_gateway::least_privilege::{activity, details_json, entities, evidence, generate_for, parse_iso};
use tessera_identity::{Account, Env, Identity, Random, SystemClock};
use tessera_policy::analysis::generate::Generalize;
use tessera_policy::analysis::unused::{DAY_MILLIS, unused_access};
use tessera_store::iam::{self, AccountRecord};
use tessera_store::{AnyStore, Namespace};

/// Where the records and the audit trail are.
#[derive(Debug, Clone, clap::Args)]
pub struct TrailArgs {
    /// The data directory (the embedded store, whose server must be stopped, and `audit/`).
    #[arg(long, env = "TESSERA_DATA_DIR", default_value = "tessera-data")]
    pub data_dir: PathBuf,
    /// The store, when not the embedded one under `--data-dir`: `redis://HOST:PORT/DB`, ...
    #[arg(long, env = "TESSERA_STORE")]
    pub store: Option<String>,
    /// The audit trail's directory; `<data-dir>/audit` when not given.
    #[arg(long)]
    pub audit_dir: Option<PathBuf>,
    /// The account; the store's first account when not given.
    #[arg(long, env = "TESSERA_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// The time to analyze at (ISO 8601 UTC, `2026-12-05T00:00:00Z`); now when not given.
    #[arg(long, value_parser = parse_time)]
    pub now: Option<u64>,
}

/// `tessera policy unused`.
#[derive(Debug, Clone, clap::Args)]
pub struct UnusedArgs {
    #[command(flatten)]
    pub trail: TrailArgs,
    /// Access unused for this many days is reported.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
}

/// `tessera policy generate`.
#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub trail: TrailArgs,
    /// The user or role ARN whose requests the policy allows.
    #[arg(long)]
    pub principal: String,
    /// The start of the window read (ISO 8601 UTC); the trail's beginning when not given.
    #[arg(long, value_parser = parse_time)]
    pub start: Option<u64>,
    /// The end of the window (ISO 8601 UTC); `--now` when not given.
    #[arg(long, value_parser = parse_time)]
    pub end: Option<u64>,
    /// How far resources are generalized: exact, prefix (the narrowest pattern covering each
    /// group of one type), type (every resource of the type), any (`*`). A level the proof
    /// refuses falls back to the next narrower one.
    #[arg(long, default_value = "prefix", value_parser = parse_level)]
    pub generalize: Generalize,
}

fn parse_time(text: &str) -> Result<u64, String> {
    parse_iso(text).ok_or_else(|| format!("`{text}` is not an ISO 8601 UTC time such as 2026-12-05T00:00:00Z"))
}

fn parse_level(text: &str) -> Result<Generalize, String> {
    Generalize::parse(text).ok_or_else(|| format!("unknown level `{text}` (exact, prefix, type, any)"))
}

struct Loaded {
    identity: Identity<AnyStore>,
    account: Account,
    audit_dir: PathBuf,
    now: u64,
}

async fn load(args: &TrailArgs) -> Result<Loaded> {
    let location = args.store.clone().unwrap_or_else(|| args.data_dir.to_string_lossy().into_owned());
    if !location.contains("://") && !args.data_dir.join(tessera_store::RedbStore::FILE_NAME).is_file() {
        bail!("no embedded store at `{location}` (no {})", tessera_store::RedbStore::FILE_NAME);
    }
    let store = AnyStore::open(&location)
        .await
        .with_context(|| format!("cannot open the store `{location}` (stop a server using an embedded store first)"))?;
    let id = match &args.account_id {
        Some(id) => id.clone(),
        None => iam::scan::<AnyStore, AccountRecord>(&store, &Namespace::global(), "", None, 1)
            .await?
            .pop()
            .map(|(_, record)| record.id)
            .context("the store holds no account")?,
    };
    let account = Account::new(&id).map_err(|e| anyhow::anyhow!("{}", e.into_service_error().message))?;
    // The analyses read policies and last-use dates, never a sealed secret: a throwaway key will do.
    let mut rng = SystemRng::new().context("the system random source is unavailable")?;
    let master_key = MasterKey::generate(&mut rng);
    let env = Env {
        clock: Arc::new(SystemClock),
        random: Arc::new(Random::new(rng)),
        master_key: Arc::new(master_key),
        password_params: Argon2Params::DEFAULT,
    };
    let now = args.now.unwrap_or_else(|| env.now_millis());
    let audit_dir = args.audit_dir.clone().unwrap_or_else(|| args.data_dir.join("audit"));
    Ok(Loaded { identity: Identity::new(Arc::new(store), env), account, audit_dir, now })
}

fn service(error: tessera_identity::Error) -> anyhow::Error {
    let error = error.into_service_error();
    anyhow::anyhow!("{}: {}", error.code.as_str(), error.message)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start a runtime")
}

/// Prints the unused-access findings as JSON (Access Analyzer's `findingDetails` with Tessera's
/// `evidence`); exit 1 when there are any.
pub fn unused(args: &UnusedArgs) -> Result<ExitCode> {
    if !(1..=365).contains(&args.days) {
        bail!("--days must be between 1 and 365");
    }
    runtime()?.block_on(async {
        let loaded = load(&args.trail).await?;
        let entities = entities(&loaded.identity, &loaded.account).await.map_err(service)?;
        let trail = activity(&loaded.audit_dir, loaded.account.id(), 0, loaded.now)
            .with_context(|| format!("cannot read the audit trail in `{}`", loaded.audit_dir.display()))?;
        let findings = unused_access(&entities, &trail, loaded.now, args.days);
        let out: Vec<_> = findings
            .iter()
            .map(|f| {
                json!({
                    "id": f.id, "resource": f.resource, "resourceType": f.kind.resource_type(),
                    "findingType": f.finding_type.as_str(), "findingDetails": details_json(&f.detail),
                    "evidence": evidence(&f.detail),
                })
            })
            .collect();
        let since = loaded.now.saturating_sub(u64::from(args.days) * DAY_MILLIS);
        let report = json!({"account": loaded.account.id(), "unusedSince": tessera_awsapi::iso8601_millis(since as i64),
                            "findings": out});
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
        Ok(if findings.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    })
}

/// Prints the generated policy and its proof as JSON; exit 1 when the proof does not hold.
pub fn generate(args: &GenerateArgs) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let loaded = load(&args.trail).await?;
        let entities = entities(&loaded.identity, &loaded.account).await.map_err(service)?;
        let Some(entity) = entities.iter().find(|e| e.arn == args.principal) else {
            bail!("{} is not a user or role of account {}", args.principal, loaded.account.id());
        };
        let end = args.end.unwrap_or(loaded.now);
        let trail = activity(&loaded.audit_dir, loaded.account.id(), args.start.unwrap_or(0), end)
            .with_context(|| format!("cannot read the audit trail in `{}`", loaded.audit_dir.display()))?;
        let generated = generate_for(entity, &trail, args.generalize);
        let policy: serde_json::Value = serde_json::from_str(&generated.policy)?;
        let report = json!({
            "principalArn": entity.arn,
            "policy": policy,
            "generalization": {"requested": generated.requested.as_str(), "used": generated.level.as_str()},
            "proof": generated.proof.to_json(),
        });
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
        Ok(if generated.proof.holds() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    })
}
