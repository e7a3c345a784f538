//! Drives the `tessera policy` commands as a user would: the built binary, stdin and files in,
//! stdout and the exit status out.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn tessera(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("stdin written");
    child.wait_with_output().expect("the binary exits")
}

fn simulate(input: &Value) -> (Value, bool) {
    let output = tessera(&["policy", "simulate"], &input.to_string());
    let stdout: Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    (stdout, output.status.success())
}

#[test]
fn simulate_answers_the_aws_cli_example_with_aws_positions() {
    // The `aws iam simulate-custom-policy` example from the AWS CLI documentation, whose
    // published output reports this statement at columns 38 to 167.
    let policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}"#;
    let input = json!({
        "PolicyInputList": [policy],
        "ActionNames": ["dynamodb:CreateBackup"],
        "ContextEntries": [{"ContextKeyName": "aws:CurrentTime", "ContextKeyValues": ["2019-04-25T11:00:00Z"], "ContextKeyType": "date"}],
    });
    let (output, ok) = simulate(&input);
    assert!(ok);
    let result = &output["EvaluationResults"][0];
    assert_eq!(result["EvalDecision"], "allowed");
    assert_eq!(result["EvalResourceName"], "*");
    let statement = &result["MatchedStatements"][0];
    assert_eq!(statement["SourcePolicyId"], "PolicyInputList.1");
    assert_eq!(statement["StartPosition"], json!({"Line": 1, "Column": 38}));
    assert_eq!(statement["EndPosition"], json!({"Line": 1, "Column": 167}));
    assert_eq!(result["MissingContextValues"], json!([]));

    // Before the date the same policy does not allow, and the explanation names the condition.
    let mut before = input.clone();
    before["ContextEntries"][0]["ContextKeyValues"] = json!(["2017-01-01T00:00:00Z"]);
    let (output, _) = simulate(&before);
    let result = &output["EvaluationResults"][0];
    assert_eq!(result["EvalDecision"], "implicitDeny");
    assert_eq!(result["Explanation"]["FailedConditions"][0]["Operator"], "DateGreaterThan");
    assert_eq!(result["Explanation"]["FailedConditions"][0]["Key"], "aws:CurrentTime");
}

#[test]
fn simulate_reports_missing_context_and_explicit_denies() {
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Home","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"},
        {"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#;
    let input = json!({
        "PolicyInputList": [policy],
        "ActionNames": ["s3:GetObject", "s3:DeleteObject"],
        "ResourceArns": ["arn:aws:s3:::home/alice/notes"],
    });
    let (output, ok) = simulate(&input);
    assert!(ok);
    let results = output["EvaluationResults"].as_array().expect("results");
    assert_eq!(results[0]["EvalDecision"], "implicitDeny");
    assert_eq!(results[0]["MissingContextValues"], json!(["aws:username"]));
    assert_eq!(results[1]["EvalDecision"], "explicitDeny");
    assert_eq!(results[1]["MatchedStatements"][0]["Sid"], "NoDelete");
}

#[test]
fn simulate_rejects_malformed_documents_with_a_located_message() {
    let input = json!({
        "PolicyInputList": [r#"{"Version":"2012-10-17","Statement":[{"Sid":"Ok","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"Bad","Effect":"Permit","Action":"s3:GetObject","Resource":"*"}]}"#],
        "ActionNames": ["s3:GetObject"],
    });
    let (output, ok) = simulate(&input);
    assert!(!ok, "a malformed policy must exit non-zero");
    assert_eq!(output["Error"]["Code"], "MalformedPolicyDocument");
    let message = output["Error"]["Message"].as_str().expect("message");
    for needle in ["PolicyInputList.1", "Statement[1]", "Bad", "Effect", "Permit"] {
        assert!(message.contains(needle), "`{message}` should mention `{needle}`");
    }

    let output = tessera(&["policy", "simulate"], "{not json");
    assert!(!output.status.success());
    let error: Value = serde_json::from_slice(&output.stdout).expect("JSON error");
    assert_eq!(error["Error"]["Code"], "InvalidInput");
}

#[test]
fn validate_prints_every_finding_with_its_location() {
    let dir = std::env::temp_dir().join(format!("tessera-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("good.json");
    let bad = dir.join("bad.json");
    std::fs::write(
        &good,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
    )
    .expect("write");
    std::fs::write(
        &bad,
        "{\"Version\":\"2012-10-17\",\"Statement\":[\n  {\"Effect\":\"Allow\",\"Action\":\"GetObject\",\"Resource\":\"*\"},\n  {\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\",\"Condition\":{\"NumericEquals\":{\"s3:max-keys\":\"abc\"}}}\n]}",
    )
    .expect("write");

    let output = tessera(&["policy", "validate", good.to_str().expect("utf-8")], "");
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok"));

    let output = tessera(&["policy", "validate", good.to_str().expect("utf-8"), bad.to_str().expect("utf-8")], "");
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let findings: Vec<&str> = stdout.lines().filter(|l| l.contains("MalformedPolicyDocument")).collect();
    assert_eq!(findings.len(), 2, "both findings are listed: {stdout}");
    assert!(findings[0].contains(":2:") && findings[0].contains("Statement[0]") && findings[0].contains("GetObject"));
    assert!(findings[1].contains(":3:") && findings[1].contains("NumericEquals") && findings[1].contains("abc"));
    // Beside Tessera's detail, the message AWS answers with.
    assert!(
        findings[0].ends_with("[AWS: Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.]"),
        "{}",
        findings[0]
    );

    let output = tessera(&["policy", "validate", "--kind", "trust", good.to_str().expect("utf-8")], "");
    assert!(!output.status.success(), "an identity policy is not a valid trust policy");
    std::fs::remove_dir_all(&dir).ok();
}
