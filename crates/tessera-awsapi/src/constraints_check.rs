//! Checking a request against its operation's model constraints, as AWS does before an
//! operation runs: every failed constraint of the request in one `ValidationError`,
//! `N validation errors detected: Value 'x' at 'userName' failed to satisfy constraint: Member
//! must ...; Value ...`.
//!
//! The constraints come from the table `constraints.rs`, generated from botocore's models by
//! `scripts/gen-validation-table.py`. Decisions (AWS's order is not documented; these follow the
//! existing single-parameter checks and the messages AWS is known to send):
//!
//! - Members are checked in the order of the model's input shape; nested structures (list
//!   members such as `Tags.member.2.Key`) are checked in place, named `tags.2.member.key`.
//! - A missing required member is `Value null at '...' failed to satisfy constraint: Member must
//!   not be null`, in the same list as the other failures.
//! - One member's clauses come in the order minimum length, maximum length, pattern, enum; an
//!   empty value that is already too short gets no pattern clause.
//! - A list of strings is checked as AWS checks one (`Value '[a, b]' at 'clientIDList' failed to
//!   satisfy constraint: Member must satisfy constraint: [Member must have length less than or
//!   equal to 255]`): the whole list is echoed, and the constraints its members break listed once.
//! - The values of members the model marks `sensitive` (passwords) are never echoed:
//!   `Value at 'password' failed to satisfy constraint: ...`.
//! - A member that is not an integer or boolean where the model wants one is `MalformedInput`,
//!   which comes before any validation (the request could not be read).

use crate::constraints::{OPERATIONS, PATTERNS, SHAPES};
use crate::error::QueryError;
use crate::form::Params;
use crate::pattern::Pattern;
use std::sync::OnceLock;

/// One member of a structure shape.
#[derive(Debug)]
pub(crate) struct Member {
    /// The wire name (`UserName`).
    pub(crate) name: &'static str,
    pub(crate) required: bool,
    /// Index into `SHAPES`.
    pub(crate) shape: u16,
}

/// A shape of the model, reduced to its constraints.
#[derive(Debug)]
pub(crate) enum Shape {
    Str {
        min: u32,
        max: u32,
        /// Index into `PATTERNS`.
        pattern: Option<u16>,
        /// The enum values; empty when the shape has none.
        values: &'static [&'static str],
        sensitive: bool,
    },
    Int {
        min: i64,
        max: i64,
    },
    Bool,
    List {
        min: u32,
        max: u32,
        member: u16,
    },
    Struct(&'static [Member]),
    /// Strings without constraints, timestamps, blobs.
    Free,
}

fn compiled(index: u16) -> &'static Pattern {
    static COMPILED: OnceLock<Vec<Pattern>> = OnceLock::new();
    let all = COMPILED.get_or_init(|| {
        PATTERNS.iter().map(|text| Pattern::parse(text).expect("every model pattern is supported")).collect()
    });
    &all[usize::from(index)]
}

/// Whether the model has `operation` of `service` (`iam`, `sts`).
pub fn has_operation(service: &str, operation: &str) -> bool {
    find(service, operation).is_some()
}

fn find(service: &str, operation: &str) -> Option<Option<u16>> {
    OPERATIONS.binary_search_by(|&(s, o, _)| (s, o).cmp(&(service, operation))).ok().map(|i| OPERATIONS[i].2)
}

/// Checks `params` against the model constraints of `operation` of `service` (`iam`, `sts`).
/// An operation the models do not have passes. Fails with [`QueryError::Validation`] naming
/// every failed constraint, or [`QueryError::MalformedInput`] for a value that is not of its type.
pub fn validate(service: &str, operation: &str, params: &Params) -> Result<(), QueryError> {
    let Some(Some(input)) = find(service, operation) else { return Ok(()) };
    let Shape::Struct(members) = &SHAPES[usize::from(input)] else { return Ok(()) };
    let mut check = Check { clauses: Vec::new(), malformed: None };
    check.structure(params, members);
    if let Some(error) = check.malformed {
        return Err(error);
    }
    if check.clauses.is_empty() { Ok(()) } else { Err(QueryError::Validation { clauses: check.clauses }) }
}

struct Check {
    clauses: Vec<String>,
    malformed: Option<QueryError>,
}

/// `Value 'x' at 'path'`, `Value at 'path'` for a sensitive value, or `Value null at 'path'`.
fn subject(value: Option<&str>, sensitive: bool, path: &str) -> String {
    match value {
        None => format!("Value null at '{path}'"),
        Some(_) if sensitive => format!("Value at '{path}'"),
        Some(value) => format!("Value '{value}' at '{path}'"),
    }
}

impl Check {
    fn push(&mut self, subject: &str, constraint: &str) {
        self.clauses.push(format!("{subject} failed to satisfy constraint: {constraint}"));
    }

    fn structure(&mut self, params: &Params, members: &[Member]) {
        for member in members {
            let shape = &SHAPES[usize::from(member.shape)];
            // Named only in a failure's message: built when one is written.
            let path = || params.member_path(member.name);
            match shape {
                Shape::List { min, max, member: item } => {
                    let present = params.contains(member.name) || params.member_count(member.name) > 0;
                    if !present {
                        if member.required {
                            self.push(&subject(None, false, &path()), "Member must not be null");
                        }
                        continue;
                    }
                    self.list(params, member.name, &path(), *min, *max, usize::from(*item));
                }
                Shape::Struct(inner) => {
                    let nested = params.nested(member.name);
                    if nested.is_empty() {
                        if member.required {
                            self.push(&subject(None, false, &path()), "Member must not be null");
                        }
                        continue;
                    }
                    self.structure(&nested, inner);
                }
                _ => match params.get(member.name) {
                    None if member.required => self.push(&subject(None, false, &path()), "Member must not be null"),
                    None => {}
                    Some(value) => {
                        let failed = self.scalar(params, member.name, value, shape);
                        let sensitive = matches!(shape, Shape::Str { sensitive: true, .. });
                        for constraint in failed {
                            self.push(&subject(Some(value), sensitive, &path()), &constraint);
                        }
                    }
                },
            }
        }
    }

    /// The constraints `value` breaks, in AWS's words.
    fn scalar(&mut self, params: &Params, name: &str, value: &str, shape: &Shape) -> Vec<String> {
        let mut failed = Vec::new();
        match shape {
            Shape::Str { min, max, pattern, values, .. } => {
                let len = value.chars().count();
                let short = len < *min as usize;
                if short {
                    failed.push(format!("Member must have length greater than or equal to {min}"));
                }
                if len > *max as usize {
                    failed.push(format!("Member must have length less than or equal to {max}"));
                }
                if let Some(pattern) = pattern
                    && !(short && value.is_empty())
                    && !compiled(*pattern).matches(value)
                {
                    failed.push(format!(
                        "Member must satisfy regular expression pattern: {}",
                        PATTERNS[usize::from(*pattern)]
                    ));
                }
                if !values.is_empty() && !values.contains(&value) {
                    failed.push(format!("Member must satisfy enum value set: [{}]", values.join(", ")));
                }
            }
            Shape::Int { min, max } => match params.int(name) {
                Ok(Some(n)) => {
                    let n = i64::from(n);
                    if n < *min {
                        failed.push(format!("Member must have value greater than or equal to {min}"));
                    }
                    if n > *max {
                        failed.push(format!("Member must have value less than or equal to {max}"));
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    self.malformed.get_or_insert(error);
                }
            },
            Shape::Bool => {
                if let Err(error) = params.bool(name) {
                    self.malformed.get_or_insert(error);
                }
            }
            _ => {}
        }
        failed
    }

    fn list(&mut self, params: &Params, name: &str, path: &str, min: u32, max: u32, item: usize) {
        let count = params.member_count(name);
        let item_shape = &SHAPES[item];
        if let Shape::Struct(inner) = item_shape {
            let bounds = length_bounds(count, min, max);
            if !bounds.is_empty() {
                let subject = subject(Some(&format!("{count} members")), false, path);
                for constraint in bounds {
                    self.push(&subject, &constraint);
                }
            }
            for view in params.members(name) {
                self.structure(&view, inner);
            }
            return;
        }
        // A list of scalars: the whole list echoed once per failed constraint.
        let values = params.list(name);
        let mut element_failures: Vec<String> = Vec::new();
        for value in &values {
            for constraint in self.scalar_at(params, name, value, item_shape) {
                if !element_failures.contains(&constraint) {
                    element_failures.push(constraint);
                }
            }
        }
        let mut constraints = length_bounds(count, min, max);
        if !element_failures.is_empty() {
            constraints.push(format!("Member must satisfy constraint: [{}]", element_failures.join(", ")));
        }
        if !constraints.is_empty() {
            let sensitive = matches!(item_shape, Shape::Str { sensitive: true, .. });
            let shown = format!("[{}]", values.join(", "));
            let subject = subject(Some(&shown), sensitive, path);
            for constraint in constraints {
                self.push(&subject, &constraint);
            }
        }
    }

    /// [`Check::scalar`] for a member of a list of scalars. Integers and booleans in lists are
    /// not in the IAM or STS models, so only strings are checked.
    fn scalar_at(&mut self, params: &Params, name: &str, value: &str, shape: &Shape) -> Vec<String> {
        match shape {
            Shape::Str { .. } => self.scalar(params, name, value, shape),
            _ => Vec::new(),
        }
    }
}

fn length_bounds(count: usize, min: u32, max: u32) -> Vec<String> {
    let mut out = Vec::new();
    if count < min as usize {
        out.push(format!("Member must have length greater than or equal to {min}"));
    }
    if count > max as usize {
        out.push(format!("Member must have length less than or equal to {max}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str) -> Result<(), QueryError> {
        let params = Params::parse(input.as_bytes()).expect("decodes");
        let action = params.action().expect("has an action").to_owned();
        let service = if has_operation("iam", &action) { "iam" } else { "sts" };
        validate(service, &action, &params)
    }

    fn message(input: &str) -> String {
        check(input).expect_err("fails").message()
    }

    #[test]
    fn every_model_pattern_is_supported() {
        for (i, text) in PATTERNS.iter().enumerate() {
            assert!(Pattern::parse(text).is_ok(), "pattern {i}: {text}");
        }
    }

    #[test]
    fn the_table_is_sorted_for_lookup() {
        assert!(OPERATIONS.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
        assert!(has_operation("iam", "CreateUser"));
        assert!(has_operation("sts", "AssumeRole"));
        assert!(!has_operation("iam", "AssumeRole"));
    }

    #[test]
    fn valid_requests_pass() {
        assert!(check("Action=CreateUser&UserName=alice&Path=/team/").is_ok());
        assert!(check("Action=ListUsers&MaxItems=1000&PathPrefix=/").is_ok());
        assert!(check("Action=TagUser&UserName=a&Tags.member.1.Key=k&Tags.member.1.Value=").is_ok());
        assert!(check("Action=AssumeRole&RoleArn=arn:aws:iam::123456789012:role/r&RoleSessionName=s1").is_ok());
        assert!(check("Action=NoSuchOperation&Anything=goes").is_ok());
    }

    #[test]
    fn one_failure_is_aws_message() {
        assert_eq!(
            message("Action=CreateUser&UserName=bad%20name"),
            r"1 validation error detected: Value 'bad name' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+"
        );
        assert_eq!(
            message(&format!("Action=GetRole&RoleName={}", "r".repeat(65))),
            format!(
                "1 validation error detected: Value '{}' at 'roleName' failed to satisfy constraint: Member must have length less than or equal to 64",
                "r".repeat(65)
            )
        );
        // An existing user's name may be longer than a new one's (existingUserNameType).
        assert!(check(&format!("Action=GetUser&UserName={}", "u".repeat(128))).is_ok());
        assert_eq!(
            message("Action=ListUsers&MaxItems=0"),
            "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );
        assert_eq!(
            message("Action=ListPolicies&Scope=Everything"),
            "1 validation error detected: Value 'Everything' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
        );
    }

    #[test]
    fn several_failures_are_one_message_in_member_order() {
        let text = message(&format!("Action=CreateUser&Path=nope&UserName={}", "u*".repeat(40)));
        assert_eq!(
            text,
            format!(
                "3 validation errors detected: Value 'nope' at 'path' failed to satisfy constraint: Member must satisfy \
                 regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F); Value '{u}' at 'userName' \
                 failed to satisfy constraint: Member must have length less than or equal to 64; Value '{u}' at \
                 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+",
                u = "u*".repeat(40)
            )
        );
        let missing = message("Action=PutUserPolicy&UserName=a%20b&PolicyName=p");
        assert_eq!(
            missing,
            r"2 validation errors detected: Value 'a b' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+; Value null at 'policyDocument' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn nested_members_and_lists() {
        assert_eq!(
            message(
                "Action=TagRole&RoleName=r&Tags.member.1.Key=ok&Tags.member.1.Value=v&Tags.member.2.Key=a*b&Tags.member.2.Value=v"
            ),
            r"1 validation error detected: Value 'a*b' at 'tags.2.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+"
        );
        assert_eq!(
            message("Action=TagRole&RoleName=r&Tags.member.1.Key=k"),
            "1 validation error detected: Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(
            message("Action=GetAccountAuthorizationDetails&Filter.member.1=User&Filter.member.2=Bogus"),
            "1 validation error detected: Value '[User, Bogus]' at 'filter' failed to satisfy constraint: Member must \
             satisfy constraint: [Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]]"
        );
    }

    #[test]
    fn sensitive_values_are_not_echoed() {
        let text = message(&format!("Action=ChangePassword&OldPassword=secret%01&NewPassword={}", "p".repeat(129)));
        assert!(!text.contains("secret"), "{text}");
        assert!(text.starts_with("2 validation errors detected: Value at 'oldPassword' failed"), "{text}");
        assert!(
            text.contains(
                "Value at 'newPassword' failed to satisfy constraint: Member must have length less than or equal to 128"
            ),
            "{text}"
        );
    }

    #[test]
    fn malformed_values_come_first() {
        let error = check("Action=ListUsers&MaxItems=x&PathPrefix=nope").unwrap_err();
        assert_eq!(error.aws_code(), "MalformedInput");
    }
}
