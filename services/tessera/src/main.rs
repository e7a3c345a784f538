//! The `tessera` binary: argument parsing, telemetry setup, and signal handling; the work is in the
//! library (`tessera::serve`, `tessera::policy`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tessera::{policy, serve};

/// Tessera: self-hosted IAM and STS.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: every service in one process on the embedded store by default.
    Serve(serve::ServeConfig),
    /// Work with policy documents offline: no server needed.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Policy(command) => policy::run(command),
        Command::Serve(config) => match run_server(config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("tessera: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run_server(config: serve::ServeConfig) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let server = serve::Server::start(config).await?;
        if let Some(account) = &server.account {
            tracing::info!(account_id = %account.account_id, root_access_key_id = %account.root_access_key_id, "account ready");
        }
        server.run_until(shutdown_signal()).await
    })
}

async fn shutdown_signal() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; stop with ctrl-c");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}
