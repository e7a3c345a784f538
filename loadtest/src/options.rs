//! The command line: which scenario, how hard (fixed concurrency or fixed rate), for how long,
//! and against what (the in-process server by default, or `--target`).

use std::path::PathBuf;
use std::time::Duration;

/// What one run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// HTTP `POST Action=GetCallerIdentity`, SigV4-signed: authentication only.
    CallerIdentity,
    /// HTTP `POST Action=GetUser` of one user, SigV4-signed: authentication, authorization, one read.
    GetUser,
    /// HTTP `POST Action=AssumeRole` of one role that trusts the caller, SigV4-signed.
    AssumeRole,
    /// One authenticated and authorized gRPC call per request (see `grpc::authorize`).
    Authorize,
}

impl Scenario {
    /// The name on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::CallerIdentity => "caller-identity",
            Scenario::GetUser => "get-user",
            Scenario::AssumeRole => "assume-role",
            Scenario::Authorize => "authorize",
        }
    }

    /// Whether the scenario speaks gRPC rather than the AWS Query API over HTTP.
    pub fn is_grpc(self) -> bool {
        self == Scenario::Authorize
    }
}

/// Telemetry in the load generator's process, where the in-process server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Telemetry {
    /// No tracing subscriber: spans cost nothing (the metrics' counters still count).
    Off,
    /// `tessera serve`'s subscriber (logs) and metrics, no OTLP endpoint.
    On,
    /// As `on`, and traces and metrics exported over OTLP to `--otlp-endpoint`, or to an
    /// in-process collector when it is omitted.
    Otlp,
}

/// `tessera-loadtest`'s options.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "tessera-loadtest",
    about = "Drives one Tessera scenario at a fixed concurrency or rate and reports throughput and latency",
    after_help = "The last line of the output is one JSON object: \
                  {\"scenario\", \"rps\", \"p50_us\", \"p99_us\", \"errors\", \"baseline_rps\", \"ratio\"}."
)]
pub struct Options {
    /// The scenario to drive.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Requests in flight (workers, each with its own connection). With `--rate`, the most in
    /// flight at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Send this many requests per second in total instead of as many as the workers can;
    /// latency then counts from when each request was due, so a server that falls behind shows it.
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// How long to measure (`500ms`, `10s`, `2m`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How long to drive before measuring (`0s` for none).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Also drive, in the same run, an empty server of the same shape (an empty axum handler for
    /// HTTP scenarios, an empty tonic unary service for `authorize`) on loopback, with the same
    /// client code and concurrency.
    #[arg(long)]
    pub with_baseline: bool,
    /// Drive a running server's HTTP endpoint (`http://host:port`) instead of starting one
    /// in-process. Needs `--root-credentials`.
    #[arg(long, requires = "root_credentials")]
    pub target: Option<String>,
    /// The in-process server's store: `redis://HOST:PORT/DB` (a fresh account each run, under the
    /// fixed test master key the server tests use on Redis, removed afterwards), or the embedded
    /// store in a temporary directory when omitted.
    #[arg(long, conflicts_with = "target", value_parser = parse_store)]
    pub store: Option<String>,
    /// The running server's gRPC endpoint (`http://host:port`), for `authorize` with `--target`;
    /// start that server with `--grpc-auth`.
    #[arg(long, requires = "target")]
    pub grpc_target: Option<String>,
    /// The target's root access key, in the `root-credentials.json` shape
    /// (`{"AccessKeyId": ..., "SecretAccessKey": ...}`).
    #[arg(long, requires = "target")]
    pub root_credentials: Option<PathBuf>,
    /// Users the load is signed with, two access keys each; by default half the concurrency (at
    /// most 64), so each worker signs with a key of its own and no key comes near the gateway's
    /// per-key rate limit (2,000/s: 64 workers could send 128,000/s before any is throttled).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub principals: Option<u32>,
    /// HTTP/2 connections the gRPC workers share.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub grpc_connections: u32,
    /// Worker threads of the in-process server's runtime; by default half the machine's cores,
    /// rounded up, so client and server together run no more busy threads than there are cores:
    /// more busy threads than cores take turns at the kernel's scheduler tick (4 ms here), and
    /// that wait, not either side's work, becomes the tail latency.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub server_threads: Option<u32>,
    /// Worker threads of the client's runtime; by default the cores the in-process server does not
    /// take (every core with `--target`), at least one.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub client_threads: Option<u32>,
    /// The region of the SigV4 scope.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Telemetry of the in-process server (`off`, `on`, `otlp`); set up by the command, once
    /// per process.
    #[arg(long, value_enum, default_value = "off")]
    pub telemetry: Telemetry,
    /// The OTLP/gRPC endpoint for `--telemetry otlp` (`http://host:4317`).
    #[arg(long)]
    pub otlp_endpoint: Option<String>,
}

impl Options {
    /// Options for `scenario` with every other option at its default.
    pub fn new(scenario: Scenario) -> Self {
        <Self as clap::Parser>::parse_from(["tessera-loadtest", scenario.name()])
    }

    /// The in-process server runtime's worker threads (see `--server-threads`).
    pub fn server_threads(&self) -> usize {
        self.server_threads.map_or_else(|| cores().div_ceil(2), |n| n as usize)
    }

    /// The client runtime's worker threads (see `--client-threads`).
    pub fn client_threads(&self) -> usize {
        match self.client_threads {
            Some(n) => n as usize,
            None if self.target.is_some() => cores(),
            None => cores().saturating_sub(self.server_threads()).max(1),
        }
    }

    /// How many users sign the load.
    pub(crate) fn principals(&self) -> usize {
        match self.principals {
            Some(n) => n as usize,
            None => (self.concurrency as usize).div_ceil(2).clamp(1, 64),
        }
    }
}

/// The cores this process may run on.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Parses `250ms`, `10s`, `1.5s`, `2m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration (`500ms`, `10s`, `2m`)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("`{text}` has an unknown unit (use `ms`, `s`, `m` or `h`)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` is out of range"))
}

fn parse_store(text: &str) -> Result<String, String> {
    if text.starts_with("redis://") {
        Ok(text.to_owned())
    } else {
        Err(format!("`{text}` is not a Redis URL (`redis://HOST:PORT/DB`); omit --store for the embedded store"))
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!("`{text}` is not a positive number of requests per second")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_and_without_units() {
        for (text, millis) in [("500ms", 500), ("10s", 10_000), ("1.5s", 1500), ("2m", 120_000), ("3", 3000), ("0s", 0)]
        {
            assert_eq!(parse_duration(text), Ok(Duration::from_millis(millis)), "{text}");
        }
        for text in ["", "s", "10x", "-1s", "1e3s"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let options = Options::new(Scenario::Authorize);
        assert_eq!(options.concurrency, 64);
        assert_eq!(options.duration, Duration::from_secs(10));
        assert_eq!(options.warmup, Duration::from_secs(2));
        assert_eq!(options.principals(), 32);
        assert!(options.rate.is_none() && options.target.is_none() && !options.with_baseline);
        // The cores split between server and client, neither without a thread.
        let (server, client) = (options.server_threads(), options.client_threads());
        assert!(server >= 1 && client >= 1);
        assert_eq!(server + client, cores().max(2));
        let pinned =
            <Options as clap::Parser>::parse_from(["l", "authorize", "--server-threads", "3", "--client-threads", "5"]);
        assert_eq!((pinned.server_threads(), pinned.client_threads()), (3, 5));
        // Against a running server nothing in this process serves: the client takes every core.
        let remote = <Options as clap::Parser>::parse_from([
            "l",
            "get-user",
            "--target",
            "http://127.0.0.1:1",
            "--root-credentials",
            "root.json",
        ]);
        assert_eq!(remote.client_threads(), cores());
    }

    #[test]
    fn a_target_needs_root_credentials() {
        let parsed = <Options as clap::Parser>::try_parse_from([
            "tessera-loadtest",
            "get-user",
            "--target",
            "http://127.0.0.1:8080",
        ]);
        assert!(parsed.is_err());
    }

    #[test]
    fn a_store_is_a_redis_url_for_the_in_process_server() {
        let parse = |args: &[&str]| <Options as clap::Parser>::try_parse_from(args);
        let options = parse(&["tessera-loadtest", "assume-role", "--store", "redis://127.0.0.1:6379/0"]).unwrap();
        assert_eq!(options.store.as_deref(), Some("redis://127.0.0.1:6379/0"));
        assert!(parse(&["tessera-loadtest", "assume-role", "--store", "/tmp/data"]).is_err());
        let with_target = [
            "tessera-loadtest",
            "assume-role",
            "--store",
            "redis://127.0.0.1:6379/0",
            "--target",
            "http://127.0.0.1:8080",
            "--root-credentials",
            "root.json",
        ];
        assert!(parse(&with_target).is_err());
    }
}
