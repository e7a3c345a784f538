//! IAM Access Analyzer's policy operations on the wire (restJson1, service `access-analyzer`,
//! API version 2019-11-01): `POST /policy/validation` (`ValidatePolicy`),
//! `/policy/check-no-new-access`, `/policy/check-access-not-granted` and
//! `/policy/check-no-public-access`, JSON body in, JSON body out, as botocore's model has them.
//!
//! This is the whole operation but transport: an HTTP front end authenticates and authorizes the
//! caller (the IAM action is [`Operation::action`] on `*`), then hands the path, query and body
//! here with the caller's account.

use serde_json::{Value, json};

use super::checks::{
    CheckError, CheckPolicyType, check_access_not_granted, check_no_new_access, check_no_public_access,
};
use super::findings::{ValidateOptions, findings_to_json, validate_policy};
use crate::parse::PolicyKind;

/// The operations served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `POST /policy/validation`.
    ValidatePolicy,
    /// `POST /policy/check-no-new-access`.
    CheckNoNewAccess,
    /// `POST /policy/check-access-not-granted`.
    CheckAccessNotGranted,
    /// `POST /policy/check-no-public-access`.
    CheckNoPublicAccess,
}

impl Operation {
    /// The operation a request names, by method and path (without the query).
    pub fn from_request(method: &str, path: &str) -> Option<Operation> {
        if method != "POST" {
            return None;
        }
        match path.trim_end_matches('/') {
            "/policy/validation" => Some(Operation::ValidatePolicy),
            "/policy/check-no-new-access" => Some(Operation::CheckNoNewAccess),
            "/policy/check-access-not-granted" => Some(Operation::CheckAccessNotGranted),
            "/policy/check-no-public-access" => Some(Operation::CheckNoPublicAccess),
            _ => None,
        }
    }

    /// The operation's name.
    pub fn name(self) -> &'static str {
        match self {
            Operation::ValidatePolicy => "ValidatePolicy",
            Operation::CheckNoNewAccess => "CheckNoNewAccess",
            Operation::CheckAccessNotGranted => "CheckAccessNotGranted",
            Operation::CheckNoPublicAccess => "CheckNoPublicAccess",
        }
    }

    /// The IAM action that authorizes it (`access-analyzer:ValidatePolicy`), on resource `*`.
    pub fn action(self) -> String {
        format!("access-analyzer:{}", self.name())
    }
}

/// A refused request: Access Analyzer's error code, HTTP status and message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// `ValidationException`.
    pub code: &'static str,
    /// 400.
    pub status: u16,
    /// What is wrong.
    pub message: String,
}

impl ApiError {
    fn validation(message: impl Into<String>) -> ApiError {
        ApiError { code: "ValidationException", status: 400, message: message.into() }
    }

    /// The error body (`x-amzn-ErrorType` carries the code too).
    pub fn to_json(&self) -> Value {
        json!({"message": self.message, "__type": self.code})
    }
}

impl From<CheckError> for ApiError {
    fn from(error: CheckError) -> ApiError {
        ApiError::validation(error.to_string())
    }
}

/// The largest body accepted (a resource policy is at most 20 KiB; two of them and JSON escaping).
pub const MAX_BODY: usize = 256 * 1024;

/// Runs one operation for a caller in `account`; `query` is the raw query string.
pub fn handle(operation: Operation, query: &str, body: &[u8], account: &str) -> Result<Value, ApiError> {
    if body.len() > MAX_BODY {
        return Err(ApiError::validation(format!("the request body is larger than {MAX_BODY} bytes")));
    }
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::validation(format!("the body is not JSON: {e}")))?
    };
    let string = |name: &str| -> Result<&str, ApiError> {
        body.get(name).and_then(Value::as_str).ok_or_else(|| ApiError::validation(format!("`{name}` is required")))
    };
    match operation {
        Operation::ValidatePolicy => {
            let kind = match string("policyType")? {
                "IDENTITY_POLICY" => PolicyKind::Identity,
                "RESOURCE_POLICY" => match body.get("validatePolicyResourceType").and_then(Value::as_str) {
                    Some("AWS::IAM::AssumeRolePolicyDocument") => PolicyKind::Trust,
                    _ => PolicyKind::Resource,
                },
                "SERVICE_CONTROL_POLICY" => PolicyKind::ServiceControl,
                "RESOURCE_CONTROL_POLICY" => PolicyKind::ResourceControl,
                other => return Err(ApiError::validation(format!("unknown policyType `{other}`"))),
            };
            let findings = validate_policy(string("policyDocument")?, &ValidateOptions::new(kind));
            let (start, max) = page(query)?;
            let end = start.saturating_add(max).min(findings.len());
            let mut out = findings_to_json(findings.get(start..end).unwrap_or(&[]));
            if end < findings.len() {
                out["nextToken"] = json!(end.to_string());
            }
            Ok(out)
        }
        Operation::CheckNoNewAccess => {
            let policy_type = check_type(string("policyType")?)?;
            let outcome =
                check_no_new_access(string("newPolicyDocument")?, string("existingPolicyDocument")?, policy_type)?;
            Ok(outcome.to_json())
        }
        Operation::CheckAccessNotGranted => {
            let policy_type = check_type(string("policyType")?)?;
            let access = body
                .get("access")
                .and_then(Value::as_array)
                .ok_or_else(|| ApiError::validation("`access` is required"))?;
            if access.len() != 1 {
                return Err(ApiError::validation("`access` must hold exactly one item"));
            }
            let list = |name: &str| -> Vec<String> {
                access[0]
                    .get(name)
                    .and_then(Value::as_array)
                    .map(|items| items.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default()
            };
            let outcome =
                check_access_not_granted(string("policyDocument")?, policy_type, &list("actions"), &list("resources"))?;
            Ok(outcome.to_json())
        }
        Operation::CheckNoPublicAccess => {
            let resource_type = string("resourceType")?;
            let policy_type = if resource_type == "AWS::IAM::AssumeRolePolicyDocument" {
                CheckPolicyType::Trust
            } else {
                CheckPolicyType::Resource
            };
            let outcome = check_no_public_access(string("policyDocument")?, policy_type, account)?;
            Ok(outcome.to_json())
        }
    }
}

fn check_type(text: &str) -> Result<CheckPolicyType, ApiError> {
    match text {
        "IDENTITY_POLICY" => Ok(CheckPolicyType::Identity),
        "RESOURCE_POLICY" => Ok(CheckPolicyType::Resource),
        other => Err(ApiError::validation(format!("unknown policyType `{other}`"))),
    }
}

/// `nextToken` (an index this module issued) and `maxResults` from the query.
fn page(query: &str) -> Result<(usize, usize), ApiError> {
    let (mut start, mut max) = (0, usize::MAX);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "nextToken" => start = value.parse().map_err(|_| ApiError::validation("`nextToken` is not valid"))?,
            "maxResults" => {
                max = value
                    .parse()
                    .ok()
                    .filter(|&m| m > 0)
                    .ok_or_else(|| ApiError::validation("`maxResults` is not valid"))?
            }
            _ => {}
        }
    }
    Ok((start, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_answer_in_access_analyzer_shapes() {
        assert_eq!(Operation::from_request("POST", "/policy/validation"), Some(Operation::ValidatePolicy));
        assert_eq!(Operation::from_request("GET", "/policy/validation"), None);
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"},{"Effect":"Allow","Action":"s4:Get","Resource":"*"}]}"#;
        let body = json!({"policyDocument": policy, "policyType": "IDENTITY_POLICY"}).to_string();
        let all = handle(Operation::ValidatePolicy, "", body.as_bytes(), "123456789012").unwrap();
        assert_eq!(all["findings"].as_array().unwrap().len(), 2);
        let first = handle(Operation::ValidatePolicy, "maxResults=1", body.as_bytes(), "123456789012").unwrap();
        assert_eq!(first["findings"].as_array().unwrap().len(), 1);
        let token = first["nextToken"].as_str().unwrap();
        let rest = handle(Operation::ValidatePolicy, &format!("maxResults=1&nextToken={token}"), body.as_bytes(), "1")
            .unwrap();
        assert_ne!(rest["findings"][0]["issueCode"], first["findings"][0]["issueCode"]);
        assert!(rest.get("nextToken").is_none());

        let broken = r#"{"Statement":"#;
        let body =
            json!({"newPolicyDocument": broken, "existingPolicyDocument": policy, "policyType": "IDENTITY_POLICY"})
                .to_string();
        let error = handle(Operation::CheckNoNewAccess, "", body.as_bytes(), "1").unwrap_err();
        assert_eq!((error.code, error.status), ("ValidationException", 400), "{error}");
        let fine = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}"#;
        let body = json!({"newPolicyDocument": fine, "existingPolicyDocument": fine, "policyType": "IDENTITY_POLICY"})
            .to_string();
        assert_eq!(handle(Operation::CheckNoNewAccess, "", body.as_bytes(), "1").unwrap()["result"], "PASS");
        let body =
            json!({"policyDocument": fine, "policyType": "IDENTITY_POLICY", "access": [{"actions": ["s3:GetObject"]}]})
                .to_string();
        let out = handle(Operation::CheckAccessNotGranted, "", body.as_bytes(), "1").unwrap();
        assert_eq!(out["result"], "FAIL");
        assert_eq!(out["reasons"][0]["statementIndex"], 0);
        let trust =
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}"#;
        let body = json!({"policyDocument": trust, "resourceType": "AWS::IAM::AssumeRolePolicyDocument"}).to_string();
        assert_eq!(
            handle(Operation::CheckNoPublicAccess, "", body.as_bytes(), "123456789012").unwrap()["result"],
            "FAIL"
        );
        assert_eq!(handle(Operation::CheckNoPublicAccess, "", b"{}", "1").unwrap_err().status, 400);
        assert_eq!(handle(Operation::CheckNoPublicAccess, "", b"not json", "1").unwrap_err().status, 400);
    }
}
