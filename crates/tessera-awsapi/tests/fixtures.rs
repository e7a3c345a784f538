//! Responses written with the crate's API, compared byte for byte with `tests/data/*.xml`.
//!
//! The fixtures were checked once with botocore's own Query parser (`tests/data/check_botocore.py`
//! parses each with the IAM or STS output shape and compares the result with the dict a boto3
//! user would get). [`botocore_parses_the_fixtures`] reruns that check when `python3` can import
//! botocore, and prints a note and passes otherwise. After an intended change in the output, run
//! with `TESSERA_BLESS=1` to rewrite the fixtures, then rerun the botocore check.

use std::path::{Path, PathBuf};
use std::process::Command;

use tessera_awsapi::{IAM_NAMESPACE, InputKind, QueryError, Response, STS_NAMESPACE, empty_response, error_response};

const REQUEST_ID: &str = "c6104cbe-af31-41e0-8154-cbc7ccf896c7";
/// 2026-11-23T10:00:00Z.
const NOV_23: i64 = 1_795_428_000;

/// A policy with spaces, a policy variable, `&`, `<`, quotes, a newline and non-ASCII text, to
/// exercise both the URL-encoding and the XML escaping.
const POLICY: &str = "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Sid\": \"Home & <away>\", \"Effect\": \"Allow\",\n\
    \"Action\": [\"s3:GetObject\", \"s3:ListBucket\"], \"Resource\": \"arn:aws:s3:::bucket/home/${aws:username}/*\",\n\
    \"Condition\": {\"StringEquals\": {\"aws:PrincipalTag/team\": \"données+ü\"}}}]}";

const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;

fn user(w: &mut Response, name: &str, id: &str, boundary: bool, tags: &[(&str, &str)]) {
    w.el("Path", "/division_abc/")
        .el("UserName", name)
        .el("UserId", id)
        .el("Arn", &format!("arn:aws:iam::123456789012:user/division_abc/{name}"))
        .timestamp("CreateDate", NOV_23)
        .opt_timestamp("PasswordLastUsed", boundary.then_some(NOV_23 + 3600));
    if boundary {
        w.nested("PermissionsBoundary", |w| {
            w.el("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
                .el("PermissionsBoundaryArn", "arn:aws:iam::123456789012:policy/Boundary");
        });
    }
    if !tags.is_empty() {
        w.list("Tags", tags, |w, (key, value)| {
            w.el("Key", key).el("Value", value);
        });
    }
}

fn cases() -> Vec<(&'static str, String)> {
    let mut get_user = Response::new("GetUser", IAM_NAMESPACE);
    get_user.nested("User", |w| {
        user(w, "alice", "AIDACKCEVSQ6C2EXAMPLE", true, &[("team", "a&b <c>"), ("empty", "")]);
    });

    let mut list_users = Response::new("ListUsers", IAM_NAMESPACE);
    list_users
        .list("Users", [("alice", "AIDACKCEVSQ6C2EXAMPLE"), ("bob", "AIDAIOSFODNN7EXAMPLE")], |w, (name, id)| {
            user(w, name, id, false, &[]);
        })
        .bool("IsTruncated", true)
        .el("Marker", "bob+1/==");

    let mut list_users_empty = Response::new("ListUsers", IAM_NAMESPACE);
    list_users_empty.list("Users", Vec::<(&str, &str)>::new(), |_, _| {}).bool("IsTruncated", false);

    let mut create_access_key = Response::new("CreateAccessKey", IAM_NAMESPACE);
    create_access_key.nested("AccessKey", |w| {
        w.el("UserName", "alice")
            .el("AccessKeyId", "AKIAIOSFODNN7EXAMPLE")
            .el("Status", "Active")
            .el("SecretAccessKey", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY")
            .timestamp("CreateDate", NOV_23);
    });

    let mut get_role_policy = Response::new("GetRolePolicy", IAM_NAMESPACE);
    get_role_policy.el("RoleName", "Deployer").el("PolicyName", "S3Home").policy_document("PolicyDocument", POLICY);

    let mut get_role = Response::new("GetRole", IAM_NAMESPACE);
    get_role.nested("Role", |w| {
        w.el("Path", "/service-role/")
            .el("RoleName", "Deployer")
            .el("RoleId", "AROADBQP57FF2AEXAMPLE")
            .el("Arn", "arn:aws:iam::123456789012:role/service-role/Deployer")
            .timestamp("CreateDate", NOV_23)
            .policy_document("AssumeRolePolicyDocument", TRUST_POLICY)
            .el("Description", "Deploys <things> & \"stuff\"")
            .int("MaxSessionDuration", 43_200)
            .list("Tags", [("env", "prod")], |w, (key, value)| {
                w.el("Key", key).el("Value", value);
            })
            .nested("RoleLastUsed", |w| {
                w.timestamp("LastUsedDate", NOV_23 + 60).el("Region", "eu-west-1");
            });
    });

    let mut assume_role = Response::new("AssumeRole", STS_NAMESPACE);
    assume_role
        .nested("Credentials", |w| {
            w.el("AccessKeyId", "ASIAIOSFODNN7EXAMPLE")
                .el("SecretAccessKey", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY")
                .el("SessionToken", "FwoGZXIvYXdzEBYaDEXAMPLETOKEN+/=")
                .timestamp("Expiration", NOV_23 + 3600);
        })
        .nested("AssumedRoleUser", |w| {
            w.el("AssumedRoleId", "AROADBQP57FF2AEXAMPLE:s1")
                .el("Arn", "arn:aws:sts::123456789012:assumed-role/Deployer/s1");
        })
        .int("PackedPolicySize", 8)
        .el("SourceIdentity", "alice@example.com");

    let mut get_caller_identity = Response::new("GetCallerIdentity", STS_NAMESPACE);
    get_caller_identity
        .el("UserId", "AIDACKCEVSQ6C2EXAMPLE")
        .el("Account", "123456789012")
        .el("Arn", "arn:aws:iam::123456789012:user/division_abc/alice");

    let mut get_context_keys = Response::new("GetContextKeysForCustomPolicy", IAM_NAMESPACE);
    get_context_keys.str_list("ContextKeyNames", ["aws:username", "aws:PrincipalTag/team"]);

    vec![
        ("get_user", get_user.finish(REQUEST_ID)),
        ("list_users", list_users.finish(REQUEST_ID)),
        ("list_users_empty", list_users_empty.finish(REQUEST_ID)),
        ("create_access_key", create_access_key.finish(REQUEST_ID)),
        ("get_role_policy", get_role_policy.finish(REQUEST_ID)),
        ("get_role", get_role.finish(REQUEST_ID)),
        ("assume_role", assume_role.finish(REQUEST_ID)),
        ("get_caller_identity", get_caller_identity.finish(REQUEST_ID)),
        ("get_context_keys", get_context_keys.finish(REQUEST_ID)),
        ("delete_user", empty_response("DeleteUser", IAM_NAMESPACE, REQUEST_ID)),
        (
            "error_no_such_entity",
            error_response(
                IAM_NAMESPACE,
                "NoSuchEntity",
                "The user with name <bob> cannot be found.",
                true,
                REQUEST_ID,
            ),
        ),
        ("error_service_failure", error_response(IAM_NAMESPACE, "ServiceFailure", "Try again.", false, REQUEST_ID)),
        ("error_invalid_action", QueryError::invalid_action("AssumeRole", None).to_xml(STS_NAMESPACE, REQUEST_ID)),
        (
            "error_malformed_input",
            QueryError::malformed_input("DurationSeconds", InputKind::Integer, "abc").to_xml(STS_NAMESPACE, REQUEST_ID),
        ),
    ]
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

#[test]
fn responses_match_the_fixtures() {
    let bless = std::env::var_os("TESSERA_BLESS").is_some();
    let mut mismatches = Vec::new();
    for (name, xml) in cases() {
        let path = data_dir().join(format!("{name}.xml"));
        if bless {
            std::fs::write(&path, &xml).expect("write fixture");
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if xml != expected {
            mismatches.push(format!("{name}:\n--- expected\n{expected}--- got\n{xml}"));
        }
    }
    assert!(mismatches.is_empty(), "responses differ from fixtures:\n{}", mismatches.join("\n"));
}

#[test]
fn botocore_parses_the_fixtures() {
    let has_botocore =
        Command::new("python3").args(["-c", "import botocore"]).output().is_ok_and(|output| output.status.success());
    if !has_botocore {
        println!("note: python3 with botocore is not available; skipping the botocore check of tests/data");
        return;
    }
    let output = Command::new("python3").arg(data_dir().join("check_botocore.py")).output().expect("python3 runs");
    assert!(
        output.status.success(),
        "botocore check failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
