//! The context keys a policy refers to, as IAM's `GetContextKeysForCustomPolicy` and
//! `GetContextKeysForPrincipalPolicy` list them: the keys of its `Condition` blocks and the policy
//! variables of its `Resource`/`NotResource` elements and condition values (`${aws:username}`),
//! each once (keys compare case-insensitively; the first spelling is kept), in document order.
//!
//! AWS's own example lists `aws:username` (a variable of the `Resource`) before
//! `aws:CurrentTime` (a condition key of the same statement): within a statement the resource
//! comes first, then the condition operators in the order written.

use crate::context::fold_key;
use crate::document::Policy;
use crate::pattern::{Pattern, Syntax, Token};

/// The context keys `policies` refer to, in first-seen order, each once.
pub fn context_keys<'a>(policies: impl IntoIterator<Item = &'a Policy>) -> Vec<String> {
    let mut keys = Keys::default();
    for policy in policies {
        let variables = policy.variables_enabled();
        for statement in policy.statements.as_slice() {
            if let Some(resource) = &statement.resource
                && variables
            {
                for value in resource.values.as_slice() {
                    keys.variables_of(value);
                }
            }
            for block in &statement.condition {
                for (key, values) in &block.entries {
                    keys.add(key);
                    if variables {
                        for value in values.as_slice() {
                            keys.variables_of(value.as_text());
                        }
                    }
                }
            }
        }
    }
    keys.names
}

#[derive(Default)]
struct Keys {
    names: Vec<String>,
    seen: std::collections::HashSet<String>,
}

impl Keys {
    fn add(&mut self, name: &str) {
        if self.seen.insert(fold_key(name)) {
            self.names.push(name.to_owned());
        }
    }

    fn variables_of(&mut self, text: &str) {
        let pattern = Pattern::new(text, Syntax { wildcards: true, variables: true, lowercase: false });
        for token in pattern.tokens() {
            if let Token::Var { name, .. } = token {
                self.add(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PolicyKind, parse_policy};

    fn keys(documents: &[&str]) -> Vec<String> {
        let policies: Vec<Policy> = documents.iter().map(|d| parse_policy(d, PolicyKind::Identity).unwrap()).collect();
        context_keys(&policies)
    }

    /// AWS's documented example: the resource's variable, then the condition key.
    #[test]
    fn lists_resource_variables_then_condition_keys_as_aws_does() {
        let policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2015-08-16T12:00:00Z"}}}}"#;
        assert_eq!(keys(&[policy]), ["aws:username", "aws:CurrentTime"]);
    }

    #[test]
    fn keys_are_listed_once_across_policies_whatever_their_case() {
        let a = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"${aws:PrincipalTag/team}","s3:prefix":["a","b"]},"Bool":{"aws:SecureTransport":"true"}}}]}"#;
        let b = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:s3:::${aws:userid, 'x'}/*","Condition":{"Bool":{"AWS:securetransport":false}}}}"#;
        assert_eq!(keys(&[a, b]), ["aws:PrincipalTag/team", "s3:prefix", "aws:SecureTransport", "aws:userid"]);
    }

    /// Under the 2008 language (or none) `${...}` is literal text, and escapes are never keys.
    #[test]
    fn variables_only_count_where_they_are_substituted() {
        let old = r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:username}"}}"#;
        assert!(keys(&[old]).is_empty());
        let escaped = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${*}${?}"}}"#;
        assert!(keys(&[escaped]).is_empty());
        assert!(keys(&[]).is_empty());
    }
}
