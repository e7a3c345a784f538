//! Runs the data-driven case corpus under `tests/data/`: each file holds `{"cases": [...]}`, each
//! case a simulator input and the results (or the error) the reference says it must produce.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use tessera_policy::simulate_json;

#[test]
fn corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/data exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut total = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable case file");
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let cases = doc["cases"].as_array().unwrap_or_else(|| panic!("{}: no `cases` array", file.display()));
        let name = file.file_name().expect("file name").to_string_lossy().into_owned();
        println!("{name}: {} cases", cases.len());
        for case in cases {
            total += 1;
            let label = format!("{name} / {}", case["name"].as_str().unwrap_or("?"));
            if let Err(why) = run_case(case) {
                failures.push(format!("{label}: {why}"));
            }
        }
    }
    println!("corpus: {total} cases in {} files", files.len());
    assert!(total > 0, "the corpus is empty");
    assert!(failures.is_empty(), "{} of {total} corpus cases failed:\n{}", failures.len(), failures.join("\n"));
}

fn run_case(case: &Value) -> Result<(), String> {
    let input = serde_json::to_string(&case["input"]).map_err(|e| e.to_string())?;
    let outcome = simulate_json(&input);
    if let Some(expected) = case.get("expect_error") {
        let error = match outcome {
            Ok(results) => return Err(format!("expected an error, got {results}")),
            Err(error) => error,
        };
        if expected["Code"] != error.code {
            return Err(format!("expected code {}, got {error}", expected["Code"]));
        }
        // AWS's own message for the case, where the corpus records it (with its source).
        if let Some(aws) = expected.get("AwsMessage").and_then(Value::as_str)
            && error.aws_message.as_deref() != Some(aws)
        {
            return Err(format!("expected AWS's message `{aws}`, got {:?}", error.aws_message));
        }
        for needle in expected["MessageContains"].as_array().into_iter().flatten() {
            let needle = needle.as_str().unwrap_or_default();
            if !error.message.contains(needle) {
                return Err(format!("message `{}` lacks `{needle}`", error.message));
            }
        }
        return Ok(());
    }
    let results = outcome.map_err(|e| format!("unexpected error {e}"))?;
    let actual = results["EvaluationResults"].as_array().cloned().unwrap_or_default();
    let expected = case["expect"].as_array().ok_or("case has neither `expect` nor `expect_error`")?;
    if actual.len() != expected.len() {
        return Err(format!("expected {} results, got {}", expected.len(), actual.len()));
    }
    for (want, got) in expected.iter().zip(&actual) {
        for field in ["EvalActionName", "EvalResourceName", "EvalDecision"] {
            if want.get(field).is_some() && want[field] != got[field] {
                return Err(format!(
                    "{} on {}: {field} expected {}, got {} ({})",
                    got["EvalActionName"],
                    got["EvalResourceName"],
                    want[field],
                    got[field],
                    got["Explanation"]["Reason"]
                ));
            }
        }
        if let Some(statements) = want.get("MatchedStatements") {
            let keys = |list: &Value, pin: &dyn Fn(&Value) -> bool| -> BTreeSet<String> {
                list.as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        let mut key = s["SourcePolicyId"].as_str().unwrap_or_default().to_owned();
                        for extra in ["Sid", "StatementIndex"] {
                            if pin(&Value::String(extra.into())) {
                                key.push_str(&format!("/{}", s[extra]));
                            }
                        }
                        key
                    })
                    .collect()
            };
            let pinned = |field: &Value| {
                statements.as_array().into_iter().flatten().any(|s| s.get(field.as_str().unwrap_or_default()).is_some())
            };
            let want_set = keys(statements, &pinned);
            let got_set = keys(&got["MatchedStatements"], &pinned);
            if want_set != got_set {
                return Err(format!("MatchedStatements expected {want_set:?}, got {got_set:?}"));
            }
        }
        if let Some(missing) = want.get("MissingContextValues") {
            let set = |v: &Value| -> BTreeSet<String> {
                v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
            };
            if set(missing) != set(&got["MissingContextValues"]) {
                return Err(format!(
                    "MissingContextValues expected {:?}, got {:?}",
                    set(missing),
                    set(&got["MissingContextValues"])
                ));
            }
        }
    }
    Ok(())
}

/// Every operator of reference §2.3 (with its modifiers) and every layer of §3 has cases.
#[test]
fn corpus_covers_every_operator_and_layer() {
    const OPERATORS: [&str; 27] = [
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
        "Null",
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut operator_counts: std::collections::BTreeMap<String, usize> = Default::default();
    let mut layer_counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for entry in std::fs::read_dir(dir).expect("tests/data exists") {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(entry.expect("entry").path()).expect("read"))
            .expect("case file is JSON");
        for case in doc["cases"].as_array().into_iter().flatten() {
            let input = &case["input"];
            let text = input.to_string();
            for operator in OPERATORS {
                // Count the operator as a condition key in any embedded policy, with or without
                // modifiers (`ForAnyValue:StringLikeIfExists`).
                if text.contains(&format!("{operator}\\\":")) || text.contains(&format!("{operator}IfExists\\\":")) {
                    *operator_counts.entry(operator.to_owned()).or_default() += 1;
                }
            }
            for modifier in ["IfExists\\\":", "ForAllValues:", "ForAnyValue:"] {
                if text.contains(modifier) {
                    *operator_counts.entry(modifier.trim_end_matches("\\\":").to_owned()).or_default() += 1;
                }
            }
            let caller = input["CallerArn"].as_str().unwrap_or_default();
            let present = |field: &str| input.get(field).is_some_and(|v| !v.is_null() && v != &Value::Array(vec![]));
            let layers = [
                ("identity", present("PolicyInputList")),
                ("boundary", present("PermissionsBoundaryPolicyInputList")),
                ("session", present("SessionPolicyInputList")),
                ("resource", present("ResourcePolicy")),
                ("scp", present("ServiceControlPolicyInputList")),
                ("rcp", present("ResourceControlPolicyInputList")),
                ("root", caller.ends_with(":root")),
                ("role session", caller.contains(":assumed-role/")),
                ("federated user", caller.contains(":federated-user/")),
                (
                    "cross-account",
                    input["ResourceOwner"].as_str().is_some_and(|owner| {
                        !caller.is_empty() && {
                            let account = |arn: &str| arn.split(':').nth(4).map(str::to_owned);
                            account(owner) != account(caller)
                        }
                    }),
                ),
            ];
            for (layer, here) in layers {
                if here {
                    *layer_counts.entry(layer).or_default() += 1;
                }
            }
        }
    }
    println!("cases per operator: {operator_counts:?}");
    println!("cases per layer: {layer_counts:?}");
    let missing: Vec<&str> = OPERATORS.iter().copied().filter(|o| !operator_counts.contains_key(*o)).collect();
    assert!(missing.is_empty(), "operators without cases: {missing:?}");
    for modifier in ["IfExists", "ForAllValues:", "ForAnyValue:"] {
        assert!(operator_counts.contains_key(modifier), "no case uses {modifier}");
    }
    for layer in [
        "identity",
        "boundary",
        "session",
        "resource",
        "scp",
        "rcp",
        "root",
        "role session",
        "federated user",
        "cross-account",
    ] {
        assert!(layer_counts.get(layer).is_some_and(|n| *n > 0), "no case exercises the {layer} layer");
    }
}
