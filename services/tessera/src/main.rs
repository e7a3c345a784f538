//! The `tessera` binary: the admin command line (and, as the services land, the server).

mod policy;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tessera: self-hosted IAM and STS.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with policy documents offline: no server needed.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Policy(command) => policy::run(command),
    }
}
