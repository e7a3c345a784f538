//! Runs the `tessera-loadtest` binary for each scenario, briefly and at concurrency 2, against
//! the in-process server with the baseline (on the embedded store, and once on Redis): every call
//! succeeds and the last line is the JSON summary. No timing is asserted.

use std::process::Command;

fn run(scenario: &str) -> serde_json::Value {
    run_with(scenario, &[])
}

fn run_with(scenario: &str, extra: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_tessera-loadtest"))
        .args([scenario, "--concurrency", "2", "--duration", "1s", "--warmup", "200ms", "--with-baseline"])
        .args(extra)
        .output()
        .expect("the binary runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{scenario} failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    let summary: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|e| {
        panic!("{scenario}: the last line is not JSON ({e})\nstdout:\n{stdout}\nstderr:\n{stderr}")
    });
    let keys: Vec<&str> = summary.as_object().expect("an object").keys().map(String::as_str).collect();
    assert_eq!(keys, ["scenario", "rps", "p50_us", "p99_us", "errors", "baseline_rps", "ratio"]);
    assert_eq!(summary["scenario"], scenario);
    assert_eq!(summary["errors"], 0, "{scenario} had errors\nstdout:\n{stdout}\nstderr:\n{stderr}");
    // Some calls completed, against the server and against the baseline.
    assert!(summary["rps"].as_f64().is_some_and(|rps| rps > 0.0), "{stdout}");
    assert!(summary["baseline_rps"].as_f64().is_some_and(|rps| rps > 0.0), "{stdout}");
    assert!(summary["ratio"].is_number(), "{stdout}");
    summary
}

#[test]
fn caller_identity() {
    run("caller-identity");
}

#[test]
fn get_user() {
    run("get-user");
}

#[test]
fn assume_role() {
    run("assume-role");
}

#[test]
fn authorize() {
    run("authorize");
}

/// The in-process server on Redis (`REDIS_URL`, default `redis://127.0.0.1:6379/0`).
#[test]
fn assume_role_on_redis() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let summary = run_with("assume-role", &["--store", &url]);
    assert_eq!(summary["scenario"], "assume-role");
}
