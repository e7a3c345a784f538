//! `tessera admin`: operator commands against a running server, over its gRPC API with the
//! operator's own credentials. The server's gRPC gate (`tessera serve --grpc-auth`) authorizes
//! them like any other call: `tessera admin revoke` asks `sts:RevokeSession`,
//! `sts:RevokeRoleSessions`, `sts:RevokePrincipalSessions`, `sts:StopIssuing`,
//! `sts:ResumeIssuing` or `sts:ListRevocations` on the role or principal it names, which the
//! operator's policies must allow (the account root is allowed everything in its account).
//!
//! Credentials come from `--credentials-file` (the `credential_process` JSON shape of
//! `root-credentials.json`: `AccessKeyId`, `SecretAccessKey`, optional `SessionToken`) or from
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; never from a flag, which
//! other users of the machine could read. The secret never appears in what the command prints.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use tessera_proto::ServiceError;
use tessera_proto::convert::{system_time, timestamp};
use tessera_proto::sts::v1 as pb;
use tessera_proto::sts::v1::sts_service_client::StsServiceClient;
use tonic::transport::Channel;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Revoke sessions (one, a role's, or a principal's), stop or resume issuing credentials for
    /// a role or principal (incident response), or list what is in force.
    Revoke(RevokeArgs),
    /// Write every record of the store (secrets still sealed) to a file. The embedded store's
    /// server must be stopped; Redis may be live.
    Backup(crate::backup::BackupArgs),
    /// Replace the store's records with a backup's, all or nothing.
    Restore(crate::backup::RestoreArgs),
    /// Copy every record from one store to another (`--from DIR --to redis://...`, or back).
    Migrate(crate::backup::MigrateArgs),
    /// Seal every secret again under a new master key while servers keep serving (give every
    /// server `--master-key-file NEW --previous-master-key-file OLD` first), then make the store
    /// name the new key.
    RotateMasterKey(crate::rotate::RotateMasterKeyArgs),
    /// Rotate the session-token key ring and the identity-token (JWT) signing keys now; older
    /// keys stay until the last token they sealed or signed expires.
    RotateSigningKeys(crate::rotate::RotateSigningKeysArgs),
    /// Set the account root user's console password, read from stdin (one line). The embedded
    /// store's server must be stopped; Redis may be live.
    SetRootPassword(SetRootPasswordArgs),
}

/// `tessera admin set-root-password`.
#[derive(Debug, Args)]
pub struct SetRootPasswordArgs {
    #[command(flatten)]
    store: crate::backup::StoreArgs,
    /// The account; the store's first account when not given.
    #[arg(long, env = "TESSERA_ACCOUNT_ID")]
    account_id: Option<String>,
}

/// Reads the password from stdin (never a flag: other users could read it) and stores its hash.
async fn set_root_password(args: SetRootPasswordArgs) -> anyhow::Result<Vec<String>> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("cannot read the password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']);
    let location = args.store.store.clone().unwrap_or_else(|| args.store.data_dir.to_string_lossy().into_owned());
    let store = tessera_store::AnyStore::open(&location)
        .await
        .with_context(|| format!("cannot open the store `{location}` (stop a server using an embedded store first)"))?;
    let mut random = tessera_credentials::SystemRng::new().context("the system random source is unavailable")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    let (account, _) =
        tessera_console::set_root_password(&store, args.account_id.as_deref(), password, &mut random, now, false)
            .await?;
    Ok(vec![format!("set the console password of the root user of account {account}")])
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(
    ["session", "role", "principal", "stop_issuing", "resume_issuing", "list"]
)))]
pub struct RevokeArgs {
    /// One session: its session id, or its temporary access key id (`ASIA…`).
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    /// Every session of this role issued up to now (or `--issued-before`).
    #[arg(long, value_name = "ROLE_ARN")]
    role: Option<String>,
    /// Every session of this principal (a role session, federated user or user, and the sessions
    /// made from that user's keys) issued up to now (or `--issued-before`).
    #[arg(long, value_name = "PRINCIPAL_ARN")]
    principal: Option<String>,
    /// With `--role` or `--principal`: only the sessions issued at or before this instant, given
    /// as ISO 8601 UTC (`2026-12-04T22:03:16.123Z`) or unix seconds (`1796421796.123`); never later
    /// than now.
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    issued_before: Option<SystemTime>,
    /// Stop issuing credentials (AssumeRole, AssumeRoleWithWebIdentity, GetSessionToken,
    /// GetFederationToken) for this role or principal on every replica, until resumed. Existing
    /// sessions stay valid: revoke them too.
    #[arg(long, value_name = "ARN")]
    stop_issuing: Option<String>,
    /// Lift a stop of issuing.
    #[arg(long, value_name = "ARN")]
    resume_issuing: Option<String>,
    /// List the revocations and issuing stops in force, with who made them and when.
    #[arg(long)]
    list: bool,
    /// The server's gRPC endpoint.
    #[arg(long, env = "TESSERA_ENDPOINT", default_value = "http://127.0.0.1:50051")]
    endpoint: String,
    /// A JSON file with `AccessKeyId`, `SecretAccessKey` and optionally `SessionToken`; else the
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` variables.
    #[arg(long, env = "TESSERA_CREDENTIALS_FILE", value_name = "PATH")]
    credentials_file: Option<PathBuf>,
}

/// Runs an admin command; the exit code is 0 on success, 1 when the server refused, 2 when the
/// command could not be run (bad arguments, no credentials, server unreachable).
pub fn run(command: AdminCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "tessera: cannot start a runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match command {
            AdminCommand::Revoke(args) => revoke(args).await,
            AdminCommand::Backup(args) => crate::backup::run_backup(&args).await,
            AdminCommand::Restore(args) => crate::backup::run_restore(&args).await,
            AdminCommand::Migrate(args) => crate::backup::run_migrate(&args).await,
            AdminCommand::RotateMasterKey(args) => crate::rotate::rotate_master_key(&args).await,
            AdminCommand::RotateSigningKeys(args) => crate::rotate::rotate_signing_keys(&args).await,
            AdminCommand::SetRootPassword(args) => set_root_password(args).await,
        }
    });
    match result {
        Ok(lines) => {
            let mut out = std::io::stdout().lock();
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            let mut err = std::io::stderr().lock();
            match error.downcast_ref::<tonic::Status>() {
                Some(status) => {
                    let refused = ServiceError::from_status(status);
                    let _ = writeln!(err, "tessera: {}: {}", refused.code.as_str(), refused.message);
                    ExitCode::from(1)
                }
                None => {
                    let _ = writeln!(err, "tessera: {error:#}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// The operator's credentials.
struct Credentials {
    access_key_id: String,
    secret: String,
    session_token: Option<String>,
}

impl Credentials {
    fn load(file: Option<&PathBuf>) -> anyhow::Result<Self> {
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let json: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
            let field = |name: &str| json.get(name).and_then(serde_json::Value::as_str).map(str::to_owned);
            let (Some(access_key_id), Some(secret)) = (field("AccessKeyId"), field("SecretAccessKey")) else {
                bail!("{} has no AccessKeyId and SecretAccessKey", path.display());
            };
            return Ok(Self { access_key_id, secret, session_token: field("SessionToken") });
        }
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (Some(access_key_id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
            bail!("no credentials: pass --credentials-file or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        };
        Ok(Self { access_key_id, secret, session_token: var("AWS_SESSION_TOKEN") })
    }

    /// `authorization: Bearer <key>:<session token or secret>`, as the gRPC gate reads it.
    fn bearer(&self) -> anyhow::Result<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> {
        let credential = self.session_token.as_deref().unwrap_or(&self.secret);
        // The parse error would not show the value; say nothing more than that it is not ASCII.
        format!("Bearer {}:{credential}", self.access_key_id)
            .parse()
            .map_err(|_| anyhow::anyhow!("the credentials are not printable ASCII"))
    }

    fn caller(&self) -> pb::Caller {
        pb::Caller {
            access_key_id: self.access_key_id.clone(),
            session_token: self.session_token.clone(),
            source_ip: None,
        }
    }
}

/// A client whose every call carries the operator's credentials.
struct Client {
    sts: StsServiceClient<Channel>,
    bearer: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
}

impl Client {
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert("authorization", self.bearer.clone());
        request
    }
}

async fn revoke(args: RevokeArgs) -> anyhow::Result<Vec<String>> {
    if args.issued_before.is_some() && args.role.is_none() && args.principal.is_none() {
        bail!("--issued-before goes with --role or --principal");
    }
    let credentials = Credentials::load(args.credentials_file.as_ref())?;
    let channel = Channel::from_shared(args.endpoint.clone())
        .with_context(|| format!("`{}` is not a gRPC endpoint URL", args.endpoint))?
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("cannot reach {}", args.endpoint))?;
    let mut client = Client { sts: StsServiceClient::new(channel), bearer: credentials.bearer()? };
    // Which account the operator acts in, and as whom: the server says.
    let who = pb::GetCallerIdentityRequest { caller: Some(credentials.caller()) };
    let who = client.sts.get_caller_identity(client.request(who)).await?.into_inner();
    let account_id = who.account;
    let issued_before = args.issued_before.map(timestamp);
    let mut lines = Vec::new();
    if let Some(session_id) = args.session {
        let request = client.request(pb::RevokeSessionRequest { account_id, session_id });
        let revoked = client.sts.revoke_session(request).await?.into_inner().revocation;
        lines.push(format!("revoked {}", describe(revoked.as_ref())));
    } else if let Some(role_arn) = args.role {
        let request = client.request(pb::RevokeRoleSessionsRequest { account_id, role_arn, issued_before });
        let revoked = client.sts.revoke_role_sessions(request).await?.into_inner().revocation;
        lines.push(format!("revoked {}", describe(revoked.as_ref())));
    } else if let Some(principal_arn) = args.principal {
        let request = client.request(pb::RevokePrincipalSessionsRequest { account_id, principal_arn, issued_before });
        let revoked = client.sts.revoke_principal_sessions(request).await?.into_inner().revocation;
        lines.push(format!("revoked {}", describe(revoked.as_ref())));
    } else if let Some(arn) = args.stop_issuing {
        let request = client.request(pb::StopIssuingRequest { account_id, arn });
        let stop = client.sts.stop_issuing(request).await?.into_inner().stop;
        lines.push(format!("stopped issuing {}", describe_stop(stop.as_ref())));
    } else if let Some(arn) = args.resume_issuing {
        let request = client.request(pb::ResumeIssuingRequest { account_id, arn: arn.clone() });
        match client.sts.resume_issuing(request).await?.into_inner().stop {
            Some(stop) => lines.push(format!("resumed issuing {}", describe_stop(Some(&stop)))),
            None => lines.push(format!("issuing was not stopped for {arn}")),
        }
    } else {
        let request = client.request(pb::ListRevocationsRequest { account_id: account_id.clone() });
        let listed = client.sts.list_revocations(request).await?.into_inner();
        if listed.revocations.is_empty() && listed.stops.is_empty() {
            lines.push(format!("no revocations or issuing stops in force in account {account_id}"));
        }
        for revocation in &listed.revocations {
            lines.push(format!("revocation: {}", describe(Some(revocation))));
        }
        for stop in &listed.stops {
            lines.push(format!("issuing stopped: {}", describe_stop(Some(stop))));
        }
    }
    Ok(lines)
}

/// `every session of role arn:… issued up to 2026-…Z (by arn:… at 2026-…Z)`.
fn describe(revocation: Option<&pb::RevocationEntry>) -> String {
    let Some(r) = revocation else { return "(the server did not say what)".to_owned() };
    let what = match r.kind.as_str() {
        "Session" => format!("session {}", r.target),
        kind => format!(
            "every session of {} {} issued up to {}",
            kind.to_ascii_lowercase(),
            r.target,
            instant(r.issued_up_to.as_ref().and_then(system_time))
        ),
    };
    let made = made(&r.revoked_by, r.revoked_at.as_ref().and_then(system_time));
    let past = if r.in_force { "" } else { " [no longer in force]" };
    format!("{what} ({made}){past}")
}

fn describe_stop(stop: Option<&pb::IssuingStopEntry>) -> String {
    let Some(s) = stop else { return "(the server did not say what)".to_owned() };
    format!("for {} ({})", s.arn, made(&s.stopped_by, s.stopped_at.as_ref().and_then(system_time)))
}

fn made(by: &str, at: Option<SystemTime>) -> String {
    let by = if by.is_empty() { "an unauthenticated caller of the internal API" } else { by };
    format!("by {by} at {}", instant(at))
}

/// ISO 8601 UTC with microseconds.
fn instant(at: Option<SystemTime>) -> String {
    let Some(time) = at else { return "?".to_owned() };
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let whole = tessera_awsapi::iso8601(i64::try_from(since.as_secs()).unwrap_or(i64::MAX));
    format!("{}.{:06}Z", whole.trim_end_matches('Z'), since.subsec_micros())
}

/// `2026-12-04T22:03:16Z`, `2026-12-04T22:03:16.123456Z` or unix seconds (`1796421796.5`).
fn parse_instant(text: &str) -> Result<SystemTime, String> {
    let bad = || format!("`{text}` is neither ISO 8601 UTC (2026-12-04T22:03:16.123Z) nor unix seconds");
    if let Ok(seconds) = text.parse::<f64>() {
        if !(0.0..1e11).contains(&seconds) {
            return Err(bad());
        }
        return Ok(UNIX_EPOCH + Duration::from_secs_f64(seconds));
    }
    let body = text.strip_suffix('Z').ok_or_else(bad)?;
    let (date, time) = body.split_once('T').ok_or_else(bad)?;
    let number = |s: &str| s.parse::<u64>().map_err(|_| bad());
    let mut date = date.split('-');
    let (Some(y), Some(m), Some(d), None) = (date.next(), date.next(), date.next(), date.next()) else {
        return Err(bad());
    };
    let (year, month, day) = (number(y)?, number(m)?, number(d)?);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut hms = hms.split(':');
    let (Some(h), Some(mi), Some(s), None) = (hms.next(), hms.next(), hms.next(), hms.next()) else {
        return Err(bad());
    };
    let (hour, minute, second) = (number(h)?, number(mi)?, number(s)?);
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(bad());
    }
    if hour > 23 || minute > 59 || second > 59 || fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let nanos = if fraction.is_empty() { 0 } else { number(fraction)? * 10u64.pow(9 - fraction.len() as u32) };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    Ok(UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_nanos(nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date from 1970 on (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_from_iso_8601_and_unix_seconds() {
        let at = |text: &str| parse_instant(text).map(|t| t.duration_since(UNIX_EPOCH).unwrap());
        assert_eq!(at("1970-01-01T00:00:00Z").unwrap(), Duration::ZERO);
        assert_eq!(at("2026-11-23T10:00:00Z").unwrap(), Duration::from_secs(1_795_428_000));
        assert_eq!(at("2000-02-29T00:00:00.5Z").unwrap(), Duration::from_millis(951_782_400_500));
        assert_eq!(at("1795428000.25").unwrap(), Duration::from_millis(1_795_428_000_250));
        for bad in ["", "now", "2026-11-23 10:00:00Z", "2026-11-23T10:00:00", "2026-13-01T00:00:00Z", "-5"] {
            assert!(at(bad).is_err(), "{bad}");
        }
        let printed = instant(Some(UNIX_EPOCH + Duration::from_micros(1_795_428_000_000_123)));
        assert_eq!(printed, "2026-11-23T10:00:00.000123Z");
    }
}
