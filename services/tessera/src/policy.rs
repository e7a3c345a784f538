//! `tessera policy simulate` and `tessera policy validate`: the policy engine offline.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use tessera_policy::{PolicyKind, check_size, parse_policy, simulate_json};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Reads a `SimulateCustomPolicy` JSON object on stdin and prints `{"EvaluationResults": [...]}`.
    Simulate,
    /// Validates policy documents and prints every finding with its location.
    Validate {
        /// What the documents are: identity, managed, boundary, session, resource, trust, scp, rcp.
        #[arg(long, default_value = "identity", value_parser = parse_kind)]
        kind: PolicyKind,
        /// Files to check (`-` for stdin).
        #[arg(required = true)]
        files: Vec<String>,
    },
}

fn parse_kind(text: &str) -> Result<PolicyKind, String> {
    text.parse()
}

pub fn run(command: PolicyCommand) -> ExitCode {
    let result = match command {
        PolicyCommand::Simulate => simulate(),
        PolicyCommand::Validate { kind, files } => validate(kind, &files),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "tessera: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn simulate() -> anyhow::Result<ExitCode> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).context("reading the simulation input from stdin")?;
    let (output, code) = match simulate_json(&input) {
        Ok(results) => (results, ExitCode::SUCCESS),
        Err(error) => (error.to_json(), ExitCode::FAILURE),
    };
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &output)?;
    writeln!(stdout)?;
    Ok(code)
}

fn validate(kind: PolicyKind, files: &[String]) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    let mut clean = true;
    for file in files {
        let text = if file == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("reading stdin")?;
            text
        } else {
            std::fs::read_to_string(file).with_context(|| format!("reading `{file}`"))?
        };
        let mut findings = Vec::new();
        if let Err(error) = check_size(&text, kind) {
            findings.extend(error.findings);
        }
        if let Err(error) = parse_policy(&text, kind) {
            findings.extend(error.findings);
        }
        if findings.is_empty() {
            writeln!(stdout, "{file}: ok ({} policy)", kind.as_str())?;
        }
        for finding in &findings {
            clean = false;
            let at = finding.location.position.map(|p| format!("{}:{}:", p.line, p.column)).unwrap_or_default();
            writeln!(stdout, "{file}:{at} {}: {finding}", finding.code.as_str())?;
        }
    }
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
