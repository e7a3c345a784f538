//! IAM and STS name, path and length rules (reference §1.3), with AWS-style validation messages.
//!
//! Patterns are checked with hand-written character tests rather than a regex engine. `\w` is
//! ASCII `[A-Za-z0-9_]`, as in the AWS models. Lengths count Unicode scalar values.

use std::fmt;

/// One broken constraint of a [`ValidationError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Fewer characters than allowed.
    MinLength(usize),
    /// More characters than allowed.
    MaxLength(usize),
    /// The value does not match the model's pattern, printed as AWS prints it.
    Pattern(&'static str),
    /// The value starts with a reserved prefix (compared case-insensitively).
    ReservedPrefix(&'static str),
    /// A number below the minimum.
    MinValue(i64),
    /// A number above the maximum.
    MaxValue(i64),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::MinLength(n) => {
                write!(f, "Member must have length greater than or equal to {n}")
            }
            Violation::MaxLength(n) => {
                write!(f, "Member must have length less than or equal to {n}")
            }
            Violation::Pattern(p) => {
                write!(f, "Member must satisfy regular expression pattern: {p}")
            }
            Violation::ReservedPrefix(p) => {
                write!(f, "Member must not start with the reserved prefix '{p}'")
            }
            Violation::MinValue(n) => write!(f, "Member must have value greater than or equal to {n}"),
            Violation::MaxValue(n) => write!(f, "Member must have value less than or equal to {n}"),
        }
    }
}

/// A request parameter that breaks one or more model constraints.
///
/// Its `Display` is AWS's exact `ValidationError` message, e.g.
/// `1 validation error detected: Value 'bad name' at 'userName' failed to satisfy constraint:
/// Member must satisfy regular expression pattern: [\w+=,.@-]+`. When several constraints fail,
/// the message is `N validation errors detected: …; …`, one clause per violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// The parameter in AWS's camelCase wire style, e.g. `userName`.
    pub field: &'static str,
    /// The rejected value, echoed as AWS does.
    pub value: String,
    /// The broken constraints, never empty: minimum length, maximum length, pattern, prefix.
    pub violations: Vec<Violation>,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.violations.len();
        let plural = if n == 1 { "" } else { "s" };
        write!(f, "{n} validation error{plural} detected: ")?;
        for (i, violation) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "Value '{}' at '{}' failed to satisfy constraint: {violation}", self.value, self.field)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

/// The model pattern shared by user, group, role, policy and similar names.
pub const NAME_PATTERN: &str = r"[\w+=,.@-]+";
const SESSION_NAME_PATTERN: &str = r"[\w+=,.@-]*";
const PATH_PATTERN: &str = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)";
const POLICY_PATH_PATTERN: &str = r"((/[A-Za-z0-9\.,\+@=_-]+)*)/";
const EXTERNAL_ID_PATTERN: &str = r"[\w+=,.@:\/-]*";
const MFA_SERIAL_PATTERN: &str = r"[\w+=/:,.@-]*";
const MFA_CODE_PATTERN: &str = r"[\d]*";
const TAG_KEY_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+";
const TAG_VALUE_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*";
const RESERVED_PREFIX: &str = "aws:";

/// `\w` as the AWS models mean it: ASCII letters, digits and underscore.
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A character of `[\w+=,.@-]`, the IAM name charset.
pub(crate) fn is_name_char(c: char) -> bool {
    is_word(c) || matches!(c, '+' | '=' | ',' | '.' | '@' | '-')
}

/// A character of `[\w._-]`, the SAML provider name charset.
pub(crate) fn is_saml_name_char(c: char) -> bool {
    is_word(c) || matches!(c, '.' | '-')
}

/// A character of `[\u0021-\u007E]`, printable ASCII other than space.
pub(crate) fn is_path_char(c: char) -> bool {
    ('\u{21}'..='\u{7e}').contains(&c)
}

/// Whether `s` has the shape `/` or `/…/` with printable ASCII in between.
pub(crate) fn is_path_shape(s: &str) -> bool {
    s == "/" || (s.len() >= 3 && s.starts_with('/') && s.ends_with('/') && s.chars().all(is_path_char))
}

fn is_policy_path_shape(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('/') else {
        return false;
    };
    let Some(inner) = inner.strip_suffix('/') else {
        // The only value with a leading slash and nothing after it is `/` itself.
        return inner.is_empty();
    };
    inner.split('/').all(|segment| {
        !segment.is_empty() && segment.chars().all(|c| c.is_ascii_alphanumeric() || ".,+@=_-".contains(c))
    })
}

/// `\p{Z}`: space, line and paragraph separators.
fn is_separator(c: char) -> bool {
    matches!(
        c,
        '\u{20}' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// A character of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, the tag charset.
///
/// `char::is_numeric` is exactly `\p{N}`. For `\p{L}` std offers only `is_alphabetic`, which
/// also admits the few marks and symbols that Unicode calls alphabetic (such as Devanagari
/// vowel signs); accepting those is lenient but never rejects a value AWS accepts.
fn is_tag_char(c: char) -> bool {
    c.is_alphabetic() || c.is_numeric() || is_separator(c) || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

fn has_reserved_prefix(s: &str) -> bool {
    s.get(..RESERVED_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(RESERVED_PREFIX))
}

/// A model pattern: its text as AWS prints it, and a test of a whole value against it.
#[derive(Clone, Copy)]
struct Pattern {
    text: &'static str,
    matches: fn(&str) -> bool,
}

/// A model constraint on one string parameter.
struct Rule {
    field: &'static str,
    min: usize,
    max: usize,
    pattern: Option<Pattern>,
    reserved_prefix: bool,
}

impl Rule {
    fn check(&self, value: &str) -> Result<(), ValidationError> {
        let mut violations = Vec::new();
        let len = value.chars().count();
        if len < self.min {
            violations.push(Violation::MinLength(self.min));
        }
        if len > self.max {
            violations.push(Violation::MaxLength(self.max));
        }
        // An empty value is reported by the length rule alone; a second clause saying the
        // empty string does not match `[…]+` would add nothing.
        if let Some(pattern) = self.pattern
            && !value.is_empty()
            && !(pattern.matches)(value)
        {
            violations.push(Violation::Pattern(pattern.text));
        }
        if self.reserved_prefix && has_reserved_prefix(value) {
            violations.push(Violation::ReservedPrefix(RESERVED_PREFIX));
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ValidationError { field: self.field, value: value.to_owned(), violations })
        }
    }
}

fn all_name_chars(s: &str) -> bool {
    s.chars().all(is_name_char)
}

fn name_rule(field: &'static str, min: usize, max: usize, pattern: &'static str) -> Rule {
    Rule { field, min, max, pattern: Some(Pattern { text: pattern, matches: all_name_chars }), reserved_prefix: false }
}

/// `UserName`: 1–64 characters of `[\w+=,.@-]`.
pub fn validate_user_name(name: &str) -> Result<(), ValidationError> {
    name_rule("userName", 1, 64, NAME_PATTERN).check(name)
}

/// `GroupName`: 1–128 characters of `[\w+=,.@-]`.
pub fn validate_group_name(name: &str) -> Result<(), ValidationError> {
    name_rule("groupName", 1, 128, NAME_PATTERN).check(name)
}

/// `RoleName`: 1–64 characters of `[\w+=,.@-]`.
pub fn validate_role_name(name: &str) -> Result<(), ValidationError> {
    name_rule("roleName", 1, 64, NAME_PATTERN).check(name)
}

/// `PolicyName`: 1–128 characters of `[\w+=,.@-]` (the model's rule, used for inline and
/// managed policies alike).
pub fn validate_policy_name(name: &str) -> Result<(), ValidationError> {
    name_rule("policyName", 1, 128, NAME_PATTERN).check(name)
}

/// `ServerCertificateName`: 1–128 characters of `[\w+=,.@-]`.
pub fn validate_server_certificate_name(name: &str) -> Result<(), ValidationError> {
    name_rule("serverCertificateName", 1, 128, NAME_PATTERN).check(name)
}

/// `Path`: 1–512 characters, `/` or `/…/`, printable ASCII other than space.
pub fn validate_path(path: &str) -> Result<(), ValidationError> {
    Rule {
        field: "path",
        min: 1,
        max: 512,
        pattern: Some(Pattern { text: PATH_PATTERN, matches: is_path_shape }),
        reserved_prefix: false,
    }
    .check(path)
}

/// Managed policy `Path`: 1–512 characters of `((/[A-Za-z0-9\.,\+@=_-]+)*)/`.
pub fn validate_policy_path(path: &str) -> Result<(), ValidationError> {
    Rule {
        field: "path",
        min: 1,
        max: 512,
        pattern: Some(Pattern { text: POLICY_PATH_PATTERN, matches: is_policy_path_shape }),
        reserved_prefix: false,
    }
    .check(path)
}

/// `RoleSessionName`: 2–64 characters of `[\w+=,.@-]`.
pub fn validate_role_session_name(name: &str) -> Result<(), ValidationError> {
    name_rule("roleSessionName", 2, 64, SESSION_NAME_PATTERN).check(name)
}

/// `SourceIdentity`: 2–64 characters of `[\w+=,.@-]`, not starting with `aws:`.
///
/// The prefix is compared case-insensitively, like the tag-key rule, so `AWS:x` is refused too.
pub fn validate_source_identity(value: &str) -> Result<(), ValidationError> {
    Rule { reserved_prefix: true, ..name_rule("sourceIdentity", 2, 64, SESSION_NAME_PATTERN) }.check(value)
}

/// `GetFederationToken` `Name`: 2–32 characters of `[\w+=,.@-]`.
pub fn validate_federation_name(name: &str) -> Result<(), ValidationError> {
    name_rule("name", 2, 32, SESSION_NAME_PATTERN).check(name)
}

/// The charset `[\w+=,.@:/-]` shared by external IDs and MFA serial numbers (the two model
/// patterns list the same characters in different orders).
fn all_name_colon_slash_chars(s: &str) -> bool {
    s.chars().all(|c| is_name_char(c) || matches!(c, ':' | '/'))
}

/// `ExternalId`: 2–1224 characters of `[\w+=,.@:\/-]`.
pub fn validate_external_id(value: &str) -> Result<(), ValidationError> {
    Rule {
        field: "externalId",
        min: 2,
        max: 1224,
        pattern: Some(Pattern { text: EXTERNAL_ID_PATTERN, matches: all_name_colon_slash_chars }),
        reserved_prefix: false,
    }
    .check(value)
}

/// MFA `SerialNumber`: 9–256 characters of `[\w+=/:,.@-]`.
pub fn validate_mfa_serial(value: &str) -> Result<(), ValidationError> {
    Rule {
        field: "serialNumber",
        min: 9,
        max: 256,
        pattern: Some(Pattern { text: MFA_SERIAL_PATTERN, matches: all_name_colon_slash_chars }),
        reserved_prefix: false,
    }
    .check(value)
}

/// MFA `TokenCode`: exactly 6 ASCII digits.
pub fn validate_mfa_code(value: &str) -> Result<(), ValidationError> {
    fn all_digits(s: &str) -> bool {
        s.bytes().all(|b| b.is_ascii_digit())
    }
    Rule {
        field: "tokenCode",
        min: 6,
        max: 6,
        pattern: Some(Pattern { text: MFA_CODE_PATTERN, matches: all_digits }),
        reserved_prefix: false,
    }
    .check(value)
}

fn all_tag_chars(s: &str) -> bool {
    s.chars().all(is_tag_char)
}

/// Tag `Key`: 1–128 characters of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, not starting with `aws:` in
/// any case.
pub fn validate_tag_key(key: &str) -> Result<(), ValidationError> {
    Rule {
        field: "tagKey",
        min: 1,
        max: 128,
        pattern: Some(Pattern { text: TAG_KEY_PATTERN, matches: all_tag_chars }),
        reserved_prefix: true,
    }
    .check(key)
}

/// Tag `Value`: 0–256 characters of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
pub fn validate_tag_value(value: &str) -> Result<(), ValidationError> {
    Rule {
        field: "tagValue",
        min: 0,
        max: 256,
        pattern: Some(Pattern { text: TAG_VALUE_PATTERN, matches: all_tag_chars }),
        reserved_prefix: false,
    }
    .check(value)
}

/// Role or policy `Description`: at most 1000 characters.
pub fn validate_description(value: &str) -> Result<(), ValidationError> {
    Rule { field: "description", min: 0, max: 1000, pattern: None, reserved_prefix: false }.check(value)
}

// ---- Instance profiles, account aliases, service-linked roles (issue 14, part A). ----

const ACCOUNT_ALIAS_PATTERN: &str = "^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$";

/// `InstanceProfileName`: 1–128 characters of `[\w+=,.@-]`.
pub fn validate_instance_profile_name(name: &str) -> Result<(), ValidationError> {
    name_rule("instanceProfileName", 1, 128, NAME_PATTERN).check(name)
}

/// `CustomSuffix` of a service-linked role: 1–64 characters of `[\w+=,.@-]`.
pub fn validate_custom_suffix(suffix: &str) -> Result<(), ValidationError> {
    name_rule("customSuffix", 1, 64, NAME_PATTERN).check(suffix)
}

/// `AccountAlias`: 3–63 characters of `^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$`: lowercase
/// letters, digits and single hyphens, starting and ending with a letter or digit.
pub fn validate_account_alias(alias: &str) -> Result<(), ValidationError> {
    fn is_alias(s: &str) -> bool {
        let bytes = s.as_bytes();
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        (3..=63).contains(&bytes.len())
            && bytes.first().is_some_and(alnum)
            && bytes.last().is_some_and(alnum)
            && bytes.iter().all(|b| alnum(b) || *b == b'-')
            && !s.contains("--")
    }
    Rule {
        field: "accountAlias",
        min: 3,
        max: 63,
        pattern: Some(Pattern { text: ACCOUNT_ALIAS_PATTERN, matches: is_alias }),
        reserved_prefix: false,
    }
    .check(alias)
}

/// Whether two IAM names are the same name, ignoring case.
///
/// IAM names are unique case-insensitively. Their charset is ASCII, so ASCII folding suffices.
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The uniqueness key of an IAM name: its ASCII lowercase form (see [`eq_ignore_case`]).
pub fn fold_name(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// The uniqueness key of a tag key: its full Unicode lowercase form.
///
/// Tag keys are unique case-insensitively, but the stored key keeps the caller's case.
pub fn fold_tag_key(key: &str) -> String {
    key.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Validator = fn(&str) -> Result<(), ValidationError>;

    fn violations(f: Validator, value: &str) -> Vec<Violation> {
        f(value).map_or_else(|e| e.violations, |()| Vec::new())
    }

    #[test]
    fn message_shapes_match_aws() {
        let err = validate_user_name("bad name").unwrap_err();
        assert_eq!(err.field, "userName");
        assert_eq!(
            err.to_string(),
            r"1 validation error detected: Value 'bad name' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+"
        );

        let long = "a".repeat(65);
        assert_eq!(
            validate_user_name(&long).unwrap_err().to_string(),
            format!(
                "1 validation error detected: Value '{long}' at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64"
            )
        );
        assert_eq!(
            validate_user_name("").unwrap_err().to_string(),
            "1 validation error detected: Value '' at 'userName' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        assert_eq!(
            validate_role_session_name("a:b").unwrap_err().to_string(),
            r"1 validation error detected: Value 'a:b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        );
    }

    #[test]
    fn several_violations_are_counted_and_joined() {
        let value = format!("{} x", "a".repeat(64));
        let err = validate_role_name(&value).unwrap_err();
        assert_eq!(err.violations, vec![Violation::MaxLength(64), Violation::Pattern(NAME_PATTERN)]);
        assert_eq!(
            err.to_string(),
            format!(
                "2 validation errors detected: Value '{value}' at 'roleName' failed to satisfy constraint: Member must have length less than or equal to 64; Value '{value}' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
            )
        );
    }

    #[test]
    fn name_charset() {
        let cases: [(Validator, &str); 7] = [
            (validate_user_name, NAME_PATTERN),
            (validate_group_name, NAME_PATTERN),
            (validate_role_name, NAME_PATTERN),
            (validate_policy_name, NAME_PATTERN),
            (validate_role_session_name, SESSION_NAME_PATTERN),
            (validate_source_identity, SESSION_NAME_PATTERN),
            (validate_federation_name, SESSION_NAME_PATTERN),
        ];
        for (f, pattern) in cases {
            assert_eq!(f("Az09_+=,.@-"), Ok(()));
            for bad in ["a b", "a/b", "a:b", "a*b", "a?b", "\u{e9}1", "a\tb", "a\\b", "a#b"] {
                assert_eq!(violations(f, bad), vec![Violation::Pattern(pattern)], "{bad}");
            }
        }
    }

    #[test]
    fn name_lengths() {
        let cases: [(Validator, &str, usize, usize); 7] = [
            (validate_user_name, "userName", 1, 64),
            (validate_group_name, "groupName", 1, 128),
            (validate_role_name, "roleName", 1, 64),
            (validate_policy_name, "policyName", 1, 128),
            (validate_role_session_name, "roleSessionName", 2, 64),
            (validate_source_identity, "sourceIdentity", 2, 64),
            (validate_federation_name, "name", 2, 32),
        ];
        for (f, field, min, max) in cases {
            assert_eq!(f(&"a".repeat(min)), Ok(()), "{field}");
            assert_eq!(f(&"a".repeat(max)), Ok(()), "{field}");
            let short = f(&"a".repeat(min - 1)).unwrap_err();
            assert_eq!(short.field, field);
            assert_eq!(short.violations, vec![Violation::MinLength(min)]);
            let long = f(&"a".repeat(max + 1)).unwrap_err();
            assert_eq!(long.field, field);
            assert_eq!(long.violations, vec![Violation::MaxLength(max)]);
        }
    }

    #[test]
    fn paths() {
        for ok in ["/", "/a/", "/a/b/", "/division_abc/subdivision_xyz/", "/a!~/", "///"] {
            assert_eq!(validate_path(ok), Ok(()), "{ok}");
        }
        for bad in ["a", "a/", "/a", "//", "/a b/", "/é/", "/a\t/"] {
            let err = validate_path(bad).unwrap_err();
            assert_eq!(err.field, "path");
            assert_eq!(err.violations, vec![Violation::Pattern(PATH_PATTERN)], "{bad}");
        }
        assert_eq!(validate_path("").unwrap_err().violations, vec![Violation::MinLength(1)]);
        let max = format!("/{}/", "a".repeat(510));
        assert_eq!(validate_path(&max), Ok(()));
        let over = format!("/{}/", "a".repeat(511));
        assert_eq!(validate_path(&over).unwrap_err().violations, vec![Violation::MaxLength(512)]);
        assert_eq!(
            validate_path("/a b/").unwrap_err().to_string(),
            r"1 validation error detected: Value '/a b/' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)"
        );
    }

    #[test]
    fn policy_paths() {
        for ok in ["/", "/a/", "/service-role/", "/a.b,c+d@e=f_g-h/x/"] {
            assert_eq!(validate_policy_path(ok), Ok(()), "{ok}");
        }
        for bad in ["a/", "/a", "//", "///", "/a//b/", "/a!/", "/a b/", "/a*/"] {
            assert_eq!(
                validate_policy_path(bad).unwrap_err().violations,
                vec![Violation::Pattern(POLICY_PATH_PATTERN)],
                "{bad}"
            );
        }
        assert_eq!(validate_policy_path("").unwrap_err().violations, vec![Violation::MinLength(1)]);
        let over = format!("/{}/", "a".repeat(511));
        assert_eq!(validate_policy_path(&over).unwrap_err().violations, vec![Violation::MaxLength(512)]);
    }

    #[test]
    fn source_identity_reserved_prefix() {
        assert_eq!(validate_source_identity("awsuser"), Ok(()));
        // Only a leading `aws:` is reserved; elsewhere the colon just breaks the pattern.
        assert_eq!(violations(validate_source_identity, "my-aws:x"), vec![Violation::Pattern(SESSION_NAME_PATTERN)]);
        for bad in ["aws:x", "AWS:x", "Aws:"] {
            let err = validate_source_identity(bad).unwrap_err();
            assert!(err.violations.contains(&Violation::ReservedPrefix("aws:")), "{bad}");
        }
        assert_eq!(
            validate_source_identity("aws:admin").unwrap_err().to_string(),
            r"2 validation errors detected: Value 'aws:admin' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*; Value 'aws:admin' at 'sourceIdentity' failed to satisfy constraint: Member must not start with the reserved prefix 'aws:'"
        );
    }

    #[test]
    fn external_id() {
        assert_eq!(validate_external_id("ab"), Ok(()));
        assert_eq!(validate_external_id("arn:aws:x/y_Z+=,.@-"), Ok(()));
        assert_eq!(validate_external_id(&"a".repeat(1224)), Ok(()));
        let err = validate_external_id("a").unwrap_err();
        assert_eq!(err.field, "externalId");
        assert_eq!(err.violations, vec![Violation::MinLength(2)]);
        assert_eq!(validate_external_id(&"a".repeat(1225)).unwrap_err().violations, vec![Violation::MaxLength(1224)]);
        assert_eq!(validate_external_id("a b").unwrap_err().violations, vec![Violation::Pattern(EXTERNAL_ID_PATTERN)]);
    }

    #[test]
    fn mfa_serial_and_code() {
        assert_eq!(validate_mfa_serial("arn:aws:iam::123456789012:mfa/alice"), Ok(()));
        assert_eq!(validate_mfa_serial("GAHT12345678"), Ok(()));
        let err = validate_mfa_serial("12345678").unwrap_err();
        assert_eq!(err.field, "serialNumber");
        assert_eq!(err.violations, vec![Violation::MinLength(9)]);
        assert_eq!(validate_mfa_serial(&"a".repeat(257)).unwrap_err().violations, vec![Violation::MaxLength(256)]);
        assert_eq!(
            validate_mfa_serial("arn:aws:iam::1:mfa/a b").unwrap_err().violations,
            vec![Violation::Pattern(MFA_SERIAL_PATTERN)]
        );

        assert_eq!(validate_mfa_code("012345"), Ok(()));
        let err = validate_mfa_code("12345").unwrap_err();
        assert_eq!(err.field, "tokenCode");
        assert_eq!(err.violations, vec![Violation::MinLength(6)]);
        assert_eq!(validate_mfa_code("1234567").unwrap_err().violations, vec![Violation::MaxLength(6)]);
        assert_eq!(validate_mfa_code("12345a").unwrap_err().violations, vec![Violation::Pattern(r"[\d]*")]);
        // Non-ASCII digits are not `\d` in the AWS model.
        assert!(validate_mfa_code("١٢٣٤٥٦").is_err());
    }

    #[test]
    fn tag_keys_and_values() {
        for ok in ["Name", "cost-center", "a.b:c/d=e+f-g@h_i", "Ünïcödé 名前 ٣", "a\u{3000}b"] {
            assert_eq!(validate_tag_key(ok), Ok(()), "{ok}");
            assert_eq!(validate_tag_value(ok), Ok(()), "{ok}");
        }
        for bad in ["a*b", "a#b", "a\tb", "a\nb", "a,b", "a!b", "😀"] {
            assert_eq!(
                validate_tag_key(bad).unwrap_err().violations,
                vec![Violation::Pattern(TAG_KEY_PATTERN)],
                "{bad}"
            );
            assert_eq!(
                validate_tag_value(bad).unwrap_err().violations,
                vec![Violation::Pattern(TAG_VALUE_PATTERN)],
                "{bad}"
            );
        }
        for reserved in ["aws:x", "AWS:cloudformation", "aWs:"] {
            let err = validate_tag_key(reserved).unwrap_err();
            assert_eq!(err.field, "tagKey");
            assert_eq!(err.violations, vec![Violation::ReservedPrefix("aws:")]);
        }
        assert_eq!(validate_tag_value("aws:x"), Ok(()));
        assert_eq!(validate_tag_value(""), Ok(()));
        assert_eq!(validate_tag_key("").unwrap_err().violations, vec![Violation::MinLength(1)]);
        // Lengths count characters, not bytes.
        assert_eq!(validate_tag_key(&"é".repeat(128)), Ok(()));
        assert_eq!(validate_tag_key(&"é".repeat(129)).unwrap_err().violations, vec![Violation::MaxLength(128)]);
        assert_eq!(validate_tag_value(&"名".repeat(256)), Ok(()));
        let err = validate_tag_value(&"名".repeat(257)).unwrap_err();
        assert_eq!(err.field, "tagValue");
        assert_eq!(err.violations, vec![Violation::MaxLength(256)]);
    }

    #[test]
    fn descriptions() {
        assert_eq!(validate_description(""), Ok(()));
        assert_eq!(validate_description(&"ß".repeat(1000)), Ok(()));
        let err = validate_description(&"a".repeat(1001)).unwrap_err();
        assert_eq!(err.field, "description");
        assert_eq!(err.violations, vec![Violation::MaxLength(1000)]);
    }

    #[test]
    fn case_folding() {
        assert!(eq_ignore_case("Alice", "aLICE"));
        assert!(!eq_ignore_case("Alice", "Alicia"));
        assert_eq!(fold_name("Admin-Role"), "admin-role");
        assert_eq!(fold_tag_key("ÉQUIPE"), "équipe");
        assert_eq!(fold_tag_key("CostCenter"), fold_tag_key("costcenter"));
    }
}
