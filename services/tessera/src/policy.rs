//! `tessera policy simulate`, `tessera policy validate`, the custom policy checks
//! (`check-no-new-access`, `check-access-not-granted`, `check-no-public-access`), unused access
//! (`unused`) and policy generation (`generate`): the policy engine and its analyses offline.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use tessera_policy::analysis::checks::{
    CheckOutcome, CheckPolicyType, CheckResult, DEFAULT_ACCOUNT, check_access_not_granted, check_no_new_access,
    check_no_public_access,
};
use tessera_policy::analysis::findings::{FindingType, ValidateOptions, findings_to_json, validate_policy};
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
        /// Print IAM Access Analyzer's `ValidatePolicy` findings as JSON (errors, security
        /// warnings, warnings, suggestions) instead of the grammar errors alone.
        #[arg(long)]
        findings: bool,
        /// With `--findings`: a condition key every `Allow` must be guarded by (repeatable), for
        /// example `aws:SecureTransport`.
        #[arg(long = "require-key", requires = "findings")]
        require_keys: Vec<String>,
        /// Files to check (`-` for stdin).
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Does the new policy allow any request the existing one does not? Prints `PASS`/`FAIL` as
    /// Access Analyzer's `CheckNoNewAccess` answers, with an example request; exit 1 on `FAIL`.
    CheckNoNewAccess {
        /// The current policy document.
        #[arg(long)]
        existing: String,
        /// The proposed policy document.
        #[arg(long)]
        new: String,
        /// identity, resource or trust.
        #[arg(long = "type", default_value = "identity", value_parser = parse_check_type)]
        policy_type: CheckPolicyType,
    },
    /// Does the policy allow any of these actions (on any of these resources)? Exit 1 on `FAIL`.
    CheckAccessNotGranted {
        /// The policy document.
        #[arg(long)]
        policy: String,
        /// An action or action pattern (repeatable).
        #[arg(long = "action")]
        actions: Vec<String>,
        /// A resource ARN or pattern (repeatable).
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// identity, resource or trust.
        #[arg(long = "type", default_value = "identity", value_parser = parse_check_type)]
        policy_type: CheckPolicyType,
    },
    /// Does a resource or trust policy allow principals outside the account it does not name?
    /// Exit 1 on `FAIL`.
    CheckNoPublicAccess {
        /// The policy document.
        #[arg(long)]
        policy: String,
        /// The account that owns the resource or role.
        #[arg(long, default_value = DEFAULT_ACCOUNT)]
        account: String,
        /// resource or trust.
        #[arg(long = "type", default_value = "trust", value_parser = parse_check_type)]
        policy_type: CheckPolicyType,
    },
    /// Unused access from the store's IAM records and the audit trail: roles, access keys and
    /// passwords not used, and permissions never exercised, within `--days`, each with its
    /// evidence (Access Analyzer's unused-access findings). Exit 1 when there are findings.
    Unused(crate::least_privilege::UnusedArgs),
    /// The policy allowing exactly what a user or role did in the audit trail, proved with the
    /// engine (every recorded allowed request is allowed; `CheckNoNewAccess` against its current
    /// policies passes). Exit 1 when the proof does not hold.
    Generate(crate::least_privilege::GenerateArgs),
}

fn parse_check_type(text: &str) -> Result<CheckPolicyType, String> {
    CheckPolicyType::parse(text).ok_or_else(|| format!("unknown policy type `{text}` (identity, resource, trust)"))
}

fn parse_kind(text: &str) -> Result<PolicyKind, String> {
    text.parse()
}

pub fn run(command: PolicyCommand) -> ExitCode {
    match dispatch(command) {
        Ok(code) => code,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "tessera: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Simulate => simulate(),
        PolicyCommand::Validate { kind, findings: true, require_keys, files } => {
            validate_findings(kind, require_keys, &files)
        }
        PolicyCommand::Validate { kind, files, .. } => validate(kind, &files),
        PolicyCommand::CheckNoNewAccess { existing, new, policy_type } => {
            let (existing, new) = (read(&existing)?, read(&new)?);
            print_check(check_no_new_access(&new, &existing, policy_type))
        }
        PolicyCommand::CheckAccessNotGranted { policy, actions, resources, policy_type } => {
            let policy = read(&policy)?;
            print_check(check_access_not_granted(&policy, policy_type, &actions, &resources))
        }
        PolicyCommand::CheckNoPublicAccess { policy, account, policy_type } => {
            let policy = read(&policy)?;
            print_check(check_no_public_access(&policy, policy_type, &account))
        }
        PolicyCommand::Unused(args) => crate::least_privilege::unused(&args),
        PolicyCommand::Generate(args) => crate::least_privilege::generate(&args),
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

fn read(file: &str) -> anyhow::Result<String> {
    if file == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("reading stdin")?;
        Ok(text)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading `{file}`"))
    }
}

fn print_check(
    outcome: Result<CheckOutcome, tessera_policy::analysis::checks::CheckError>,
) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    let (output, code) = match outcome {
        Ok(outcome) => {
            let code = if outcome.result == CheckResult::Pass { ExitCode::SUCCESS } else { ExitCode::FAILURE };
            (outcome.to_json(), code)
        }
        Err(error) => (
            serde_json::json!({"Error": {"Code": "ValidationException", "Message": error.to_string()}}),
            ExitCode::from(2),
        ),
    };
    serde_json::to_writer_pretty(&mut stdout, &output)?;
    writeln!(stdout)?;
    Ok(code)
}

/// `validate --findings`: Access Analyzer's `ValidatePolicy` response per file (one file: the
/// response itself; several: `{"files": [{"file", "findings"}]}`). Exit 1 when any finding is an
/// error or a security warning.
fn validate_findings(kind: PolicyKind, require_keys: Vec<String>, files: &[String]) -> anyhow::Result<ExitCode> {
    let options = ValidateOptions { kind, required_keys: require_keys };
    let mut serious = false;
    let mut outputs = Vec::new();
    for file in files {
        let text = read(file)?;
        let findings = validate_policy(&text, &options);
        serious |= findings.iter().any(|f| matches!(f.finding_type, FindingType::Error | FindingType::SecurityWarning));
        outputs.push((file, findings_to_json(&findings)));
    }
    let output = match outputs.as_slice() {
        [(_, only)] => only.clone(),
        _ => serde_json::json!({"files": outputs.into_iter().map(|(file, mut findings)| {
            findings["file"] = serde_json::json!(file);
            findings
        }).collect::<Vec<_>>()}),
    };
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &output)?;
    writeln!(stdout)?;
    Ok(if serious { ExitCode::FAILURE } else { ExitCode::SUCCESS })
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
            // Tessera's finding (where, what), then what AWS would answer.
            writeln!(stdout, "{file}:{at} {}: {finding} [AWS: {}]", finding.code.as_str(), finding.aws)?;
        }
    }
    Ok(if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
