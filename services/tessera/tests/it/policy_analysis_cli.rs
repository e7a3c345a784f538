//! Drives `tessera policy validate --findings` and the custom policy checks as a user would:
//! the built binary, files in, Access Analyzer-shaped JSON and the exit status out.

use std::process::{Command, Output};

use serde_json::Value;

fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().expect("the binary runs")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("written");
    path.to_str().expect("utf-8").to_owned()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-analysis-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn validate_findings_prints_access_analyzer_findings_with_locations() {
    let dir = scratch("validate");
    let policy = write(
        &dir,
        "p.json",
        "{\"Version\":\"2012-10-17\",\n\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iam:PassRole\",\"Resource\":\"*\"}]}",
    );
    let output = tessera(&["policy", "validate", "--findings", &policy]);
    assert!(!output.status.success(), "a security warning fails the command");
    let out = json(&output);
    let finding = &out["findings"][0];
    assert_eq!(finding["findingType"], "SECURITY_WARNING");
    assert_eq!(finding["issueCode"], "PASS_ROLE_WITH_STAR_IN_RESOURCE");
    assert_eq!(finding["locations"][0]["path"][0]["value"], "Statement");
    assert_eq!(finding["locations"][0]["path"][1]["index"], 0);
    assert_eq!(finding["locations"][0]["path"][2]["value"], "Action");
    assert_eq!(finding["locations"][0]["span"]["start"]["line"], 2);

    let clean = write(
        &dir,
        "clean.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}"#,
    );
    let output = tessera(&["policy", "validate", "--findings", "--require-key", "aws:SecureTransport", &clean]);
    assert!(output.status.success());
    assert_eq!(json(&output)["findings"], serde_json::json!([]));
    let output = tessera(&["policy", "validate", "--findings", "--require-key", "aws:SourceIp", &clean]);
    assert_eq!(json(&output)["findings"][0]["issueCode"], "MISSING_REQUIRED_CONDITION_KEY");
}

#[test]
fn checks_answer_pass_and_fail_with_examples() {
    let dir = scratch("checks");
    let existing = write(
        &dir,
        "existing.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}"#,
    );
    let narrower = write(
        &dir,
        "narrower.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let wider = write(
        &dir,
        "wider.json",
        r#"{"Version":"2012-10-17","Statement":{"Sid":"All","Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    );

    let output = tessera(&["policy", "check-no-new-access", "--existing", &existing, "--new", &narrower]);
    assert!(output.status.success());
    assert_eq!(json(&output)["result"], "PASS");

    let output = tessera(&["policy", "check-no-new-access", "--existing", &existing, "--new", &wider]);
    assert_eq!(output.status.code(), Some(1));
    let out = json(&output);
    assert_eq!(out["result"], "FAIL");
    assert_eq!(out["reasons"][0]["statementId"], "All");
    let action = out["example"]["action"].as_str().expect("an example action");
    assert!(action.starts_with("s3:") && !action.to_lowercase().starts_with("s3:get"), "{action}");

    let output = tessera(&["policy", "check-access-not-granted", "--policy", &wider, "--action", "s3:DeleteBucket"]);
    assert_eq!(json(&output)["result"], "FAIL");
    let output = tessera(&["policy", "check-access-not-granted", "--policy", &narrower, "--action", "s3:DeleteBucket"]);
    assert_eq!(json(&output)["result"], "PASS");

    let trust = write(
        &dir,
        "trust.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}}"#,
    );
    let output = tessera(&["policy", "check-no-public-access", "--policy", &trust, "--account", "123456789012"]);
    assert_eq!(json(&output)["result"], "FAIL");

    let broken = write(&dir, "broken.json", r#"{"Statement":"#);
    let output = tessera(&["policy", "check-no-new-access", "--existing", &broken, "--new", &wider]);
    assert_eq!(output.status.code(), Some(2));
    assert!(json(&output)["Error"]["Message"].as_str().is_some());
}
