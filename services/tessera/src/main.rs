//! The `tessera` binary: argument parsing, telemetry setup, and signal handling; the work is in the
//! library (`tessera::serve`, `tessera::policy`).

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};
use tessera::{admin, agent, config, credentials, policy, serve};

/// jemalloc rather than glibc's malloc: glibc keeps what thousands of closed connections used in
/// its per-thread arenas for good, while jemalloc's background threads hand freed pages back to the
/// OS within seconds (about 10 s, its `dirty_decay_ms`), even when the server then sits idle
/// (ARCHITECTURE.md, `services/tessera`). Only the binary picks it; the libraries leave the choice
/// to whoever links them.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Tessera: self-hosted IAM and STS.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
struct Cli {
    /// How `tessera serve` writes its logs to stderr: `text` or `json` (one object a line).
    #[arg(long, global = true, env = "TESSERA_LOG_FORMAT", default_value = "text")]
    log_format: tessera_telemetry::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: every service in one process on the embedded store by default.
    Serve(config::ServeArgs),
    /// The configuration file of `tessera serve`: check one, print the effective configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Work with policy documents offline: no server needed.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Print audit events (JSON lines) from a server's data directory, oldest first.
    Audit(AuditArgs),
    /// Operator commands against a running server, with the operator's credentials.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Vend a role's credentials to local workloads (container and instance-metadata endpoints).
    Agent(agent::AgentConfig),
    /// Print a role's credentials as `credential_process` JSON.
    Credentials(credentials::CredentialsArgs),
}

#[derive(Debug, clap::Args)]
struct AuditArgs {
    /// The server's data directory (events are under `<dir>/audit`).
    #[arg(long, env = "TESSERA_DATA_DIR", default_value = "tessera-data")]
    data_dir: std::path::PathBuf,
    /// Only events of this principal ARN.
    #[arg(long)]
    principal: Option<String>,
    /// Only events of this action (`iam:CreateUser`; case-insensitive).
    #[arg(long)]
    action: Option<String>,
    /// Only events at or after this time (unix seconds).
    #[arg(long)]
    since: Option<u64>,
    /// Only events at or before this time (unix seconds).
    #[arg(long)]
    until: Option<u64>,
}

fn audit(args: &AuditArgs) -> anyhow::Result<()> {
    use std::io::Write as _;
    let filter = tessera_gateway::audit::Filter {
        principal_arn: args.principal.clone(),
        action: args.action.clone(),
        since: args.since.map(|s| s.saturating_mul(1000)),
        until: args.until.map(|s| s.saturating_mul(1000).saturating_add(999)),
    };
    let events = tessera_gateway::audit::query(&args.data_dir.join("audit"), &filter)?;
    let mut out = std::io::stdout().lock();
    for event in events {
        writeln!(out, "{}", serde_json::to_string(&event)?)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    // `Cli::parse`, with the file named by `--config` (or `TESSERA_CONFIG`) under the flags.
    let parsed = match config::parse::<Cli>(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("tessera: {error}");
            return ExitCode::from(2);
        }
    };
    let config::Parsed { cli, matches, file } = parsed;
    match cli.command {
        Command::Config(command) => config_command(&command, &matches, file.as_ref()),
        Command::Policy(command) => policy::run(command),
        Command::Admin(command) => admin::run(command),
        Command::Agent(config) => agent::run(config),
        Command::Credentials(args) => credentials::run(&args),
        Command::Audit(args) => match audit(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("tessera: {error:#}");
                ExitCode::FAILURE
            }
        },
        Command::Serve(args) => match run_server(args.serve, args.config.as_deref(), cli.log_format) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("tessera: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn config_command(
    command: &config::ConfigCommand,
    matches: &clap::ArgMatches,
    file: Option<&config::ConfigFile>,
) -> ExitCode {
    let root = Cli::command();
    let result = match command {
        config::ConfigCommand::Check { file } => config::check(&root, file),
        config::ConfigCommand::Print(_) => config::print(&root, matches, file),
        config::ConfigCommand::Reference => config::reference(&root),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("tessera: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run_server(
    config: serve::ServeConfig,
    file: Option<&std::path::Path>,
    log_format: tessera_telemetry::LogFormat,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    // Logs, and OTLP export when `OTEL_EXPORTER_OTLP_ENDPOINT` (or a per-signal one) is set; the
    // exporters' gRPC channels live on the runtime.
    let telemetry = {
        let _runtime = runtime.enter();
        let config = tessera_telemetry::Config {
            log_format,
            otlp: tessera_telemetry::OtlpConfig::from_env(),
            ..Default::default()
        };
        tessera_telemetry::init(config).map_err(anyhow::Error::msg)?
    };
    if let Some(file) = file {
        tracing::info!(file = %file.display(), "configuration file read (flags and TESSERA_* variables override it)");
    }
    let result = runtime.block_on(async {
        // Before the server can answer: a signal from now on is a clean stop.
        let signal = tessera::health::shutdown_signal()?;
        let server = serve::Server::start(config).await?;
        if let Some(account) = &server.account {
            tracing::info!(account_id = %account.account_id, root_access_key_id = %account.root_access_key_id, "account ready");
        }
        server.run_until(signal).await
    });
    // What is buffered goes out, within a bound: an unreachable collector does not hold the exit.
    let _runtime = runtime.enter();
    telemetry.shutdown(std::time::Duration::from_secs(2));
    result
}
