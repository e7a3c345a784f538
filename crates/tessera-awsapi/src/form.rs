//! Decoding of Query-protocol requests: `application/x-www-form-urlencoded` bodies and raw query
//! strings into [`Params`], and the accessors the gateway reads them with (reference §6).
//!
//! Decisions, with the AWS behaviour they copy (probed against real STS by a public AWS "oracle"
//! test suite; IAM is served by the same front end):
//!
//! - **Duplicates: the first value wins.** `Action=GetCallerIdentity&Action=NoSuchAction`
//!   succeeds on AWS and the reverse order fails; the same holds for `Version`, `RoleArn`,
//!   `RoleSessionName` and `DurationSeconds`.
//! - **Unknown parameters are ignored**, so a list index that is not a canonical positive
//!   integer (`Tags.member.0`, `Tags.member.01`, `Tags.member.x`) is an unknown parameter, not
//!   an error.
//! - **A missing required parameter** is `ValidationError: 1 validation error detected: Value
//!   null at 'roleArn' failed to satisfy constraint: Member must not be null` (not the
//!   `MissingParameter` of the generic AWS error list); an empty value is present, not missing.
//! - **A malformed integer** is `MalformedInput` with no message (`missing value for decimal
//!   type` when empty); `+900` and `0900` are accepted, `900.0` and values outside `i32` are not.
//!   Booleans are `true` or `false`, nothing else (AWS behaviour unverified; botocore sends only
//!   those).
//! - **Every request is bounded** ([`Limits`]): the number of parameters, the length of each name
//!   and value, and the list indexes, so that a sparse `Tags.member.4000000000=x` is refused
//!   (`InvalidQueryParameter`) rather than taken as a member of a four-billion-entry list. AWS
//!   documents no such limits; its models bound the lists that matter far lower, and the gateway
//!   checks those per parameter.
//! - **Invalid percent-escapes and invalid UTF-8** reject the whole request
//!   (`MalformedQueryString`): a lenient decoder would hand the services a different string
//!   than the client signed.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

use crate::error::{InputKind, QueryError};

/// Limits on a decoded request, so that what a request makes the server hold is bounded by its
/// size and no request is costlier than its bytes. The caller limits the body size before
/// buffering it; decoding never makes a name or value longer than its encoded form.
///
/// Every limit is checked while decoding, before any accessor runs, so the accessors (lists,
/// nested members) work on bounded input and need no limits of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most `name=value` pairs a request may have, duplicates included.
    pub max_params: usize,
    /// The longest decoded parameter name, in bytes.
    pub max_name_len: usize,
    /// The longest decoded parameter value, in bytes.
    pub max_value_len: usize,
    /// The largest list index `N` in any `.member.N` of a name, at any nesting level, and so the
    /// most members one list can have.
    pub max_list_index: u32,
}

impl Limits {
    /// 10,000 parameters, names up to 256 bytes, values up to 256 KiB, list indexes up to 1,000:
    /// far beyond any IAM or STS request. The longest names, such as
    /// `ContextEntries.member.10.ContextKeyValues.member.100`, are ~55 bytes; the longest value
    /// is a policy document, at most 131,072 characters in the AWS model, each below U+0100 and so
    /// at most two bytes; the longest list the AWS models bound is 200 (`ServiceNamespaces`), and
    /// the unbounded ones (simulation inputs, client ids) have their own smaller limits.
    pub const DEFAULT: Limits =
        Limits { max_params: 10_000, max_name_len: 256, max_value_len: 256 * 1024, max_list_index: 1_000 };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// The decoded parameters of a Query request, or a view of one list member of them.
///
/// Each name keeps its first value. A view made by [`Params::members`] holds the member's
/// parameters with the `Prefix.member.N.` prefix stripped and remembers that prefix, so nested
/// lists work the same way at every level and errors name the full parameter.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// The wire prefix of this view: empty at the top level, `Tags.member.1.` for a member.
    path: String,
    /// The first value of each name.
    values: BTreeMap<String, String>,
}

/// Values can be passwords, MFA codes or identity tokens, so only the names are shown.
impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Params").field("path", &self.path).field("names", &self.values.keys()).finish()
    }
}

impl Params {
    /// Decodes one `application/x-www-form-urlencoded` body or raw query string (without the
    /// leading `?`), with the [default limits](Limits::DEFAULT).
    pub fn parse(input: &[u8]) -> Result<Params, QueryError> {
        Params::parse_parts(&[input], Limits::DEFAULT)
    }

    /// Decodes a request's query string and body together, as AWS accepts parameters in either
    /// (a presigned `GET /?Action=GetCallerIdentity&…` has no body). A name in both keeps the
    /// query string's value, as the first value always wins.
    pub fn from_request(query: &[u8], body: &[u8]) -> Result<Params, QueryError> {
        Params::parse_parts(&[query, body], Limits::DEFAULT)
    }

    /// Decodes several inputs in order, as if joined with `&`, under `limits`.
    pub fn parse_parts(parts: &[&[u8]], limits: Limits) -> Result<Params, QueryError> {
        let mut values = BTreeMap::new();
        let mut count = 0usize;
        for part in parts {
            let mut offset = 0;
            for pair in part.split(|&b| b == b'&') {
                let start = offset;
                offset += pair.len() + 1;
                if pair.is_empty() {
                    continue;
                }
                count += 1;
                if count > limits.max_params {
                    return Err(QueryError::TooManyParameters { limit: limits.max_params });
                }
                let (raw_name, raw_value, value_start) = match pair.iter().position(|&b| b == b'=') {
                    Some(eq) => (&pair[..eq], &pair[eq + 1..], start + eq + 1),
                    None => (pair, &pair[pair.len()..], start + pair.len()),
                };
                let name = decode(raw_name, start)?;
                if name.len() > limits.max_name_len {
                    return Err(QueryError::NameTooLong { limit: limits.max_name_len });
                }
                check_list_indexes(&name, limits.max_list_index)?;
                let value = decode(raw_value, value_start)?;
                if value.len() > limits.max_value_len {
                    return Err(QueryError::ValueTooLong { name, limit: limits.max_value_len });
                }
                // A pair without a name (`=x`) can never be read back, so it is dropped.
                if !name.is_empty() {
                    values.entry(name).or_insert(value);
                }
            }
        }
        Ok(Params { path: String::new(), values })
    }

    /// The `Action` parameter. An empty `Action=` is returned as `""`, which the gateway reports
    /// as `InvalidAction` (`Could not find operation  for version …`), as AWS does.
    pub fn action(&self) -> Result<&str, QueryError> {
        self.get("Action").ok_or(QueryError::MissingAction)
    }

    /// The `Version` parameter, if any. See [`Params::check_version`].
    pub fn version(&self) -> Option<&str> {
        self.get("Version")
    }

    /// Checks that `Version` is `expected`. AWS answers a missing, empty or other version with
    /// `InvalidAction: Could not find operation GetCallerIdentity for version
    /// NO_VERSION_SPECIFIED` (or `… for version 2000-01-01`), so this fails the same way, and
    /// with `MissingAction` when there is no `Action` at all.
    pub fn check_version(&self, expected: &str) -> Result<(), QueryError> {
        let action = self.action()?;
        match self.version() {
            Some(version) if version == expected => Ok(()),
            version => Err(QueryError::invalid_action(action, version)),
        }
    }

    /// The value of `name`, if present (possibly empty).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether `name` is present, even with an empty value (`Tags=` marks an empty list).
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The value of `name`, failing with the `ValidationError` AWS returns for a missing member.
    pub fn required(&self, name: &str) -> Result<&str, QueryError> {
        self.get(name).ok_or_else(|| QueryError::MissingParameter {
            name: format!("{}{name}", self.path),
            member: self.member_path(name),
        })
    }

    /// Every one of `names` (in order), or one `ValidationError` naming all that are absent, as
    /// AWS reports several failed constraints in one message.
    pub fn required_all(&self, names: &[&str]) -> Result<Vec<&str>, QueryError> {
        let mut missing = Vec::new();
        let mut values = Vec::with_capacity(names.len());
        for name in names {
            match self.required(name) {
                Ok(value) => values.push(value),
                Err(QueryError::MissingParameter { name, member }) => missing.push((name, member)),
                Err(other) => return Err(other),
            }
        }
        match missing.len() {
            0 => Ok(values),
            1 => {
                let (name, member) = missing.remove(0);
                Err(QueryError::MissingParameter { name, member })
            }
            _ => Err(QueryError::MissingParameters { names: missing }),
        }
    }

    /// `name` as an `i32`, `None` when absent, `MalformedInput` when not an integer.
    pub fn int(&self, name: &str) -> Result<Option<i32>, QueryError> {
        let Some(value) = self.get(name) else { return Ok(None) };
        // `i32::from_str` accepts exactly what AWS does: an optional sign, leading zeros, and
        // nothing outside the `i32` range.
        value.parse::<i32>().map(Some).map_err(|_| self.malformed(name, InputKind::Integer, value))
    }

    /// `name` as a boolean (`true` or `false`), `None` when absent, `MalformedInput` otherwise.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, QueryError> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(value) => Err(self.malformed(name, InputKind::Boolean, value)),
        }
    }

    /// The list `Prefix.member.1`, `Prefix.member.2`, … in index order. Gaps are skipped; an
    /// absent list and the empty-list form `Prefix=` both give an empty list.
    pub fn list(&self, prefix: &str) -> Vec<&str> {
        self.list_opt(prefix).unwrap_or_default()
    }

    /// Like [`Params::list`], but `None` when the request has neither `Prefix=` nor any member,
    /// for the operations where "not given" and "empty" differ.
    pub fn list_opt(&self, prefix: &str) -> Option<Vec<&str>> {
        let mut items: Vec<(u32, &str)> = self
            .member_entries(prefix)
            .filter_map(|(index, rest, value)| rest.is_none().then_some((index, value)))
            .collect();
        if items.is_empty() && !self.contains(prefix) {
            return None;
        }
        items.sort_by_key(|&(index, _)| index);
        Some(items.into_iter().map(|(_, value)| value).collect())
    }

    /// How many members the list `Prefix` has, scalar or structure: the distinct indexes `N` of
    /// its `Prefix.member.N` and `Prefix.member.N.*` parameters. Counts without copying, so a
    /// list's length can be checked before its members are read.
    pub fn member_count(&self, prefix: &str) -> usize {
        let mut count = 0;
        let mut last = None;
        // Names are sorted, so one index's parameters are adjacent.
        for (index, _, _) in self.member_entries(prefix) {
            if last != Some(index) {
                count += 1;
                last = Some(index);
            }
        }
        count
    }

    /// The structure members of the list `Prefix`: one view per index (in index order) holding
    /// the `Prefix.member.N.*` parameters with `Prefix.member.N.` stripped. Views nest:
    /// `members("ContextEntries")[0].list("ContextKeyValues")`.
    pub fn members(&self, prefix: &str) -> Vec<Params> {
        let mut groups: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for (index, rest, value) in self.member_entries(prefix) {
            if let Some(rest) = rest.filter(|rest| !rest.is_empty()) {
                groups.entry(index).or_default().insert(rest.to_owned(), value.to_owned());
            }
        }
        groups
            .into_iter()
            .map(|(index, values)| Params { path: format!("{}{prefix}.member.{index}.", self.path), values })
            .collect()
    }

    /// The members of the structure parameter `Prefix` (`TaskPolicyArn.arn`): a view holding the
    /// `Prefix.*` parameters with `Prefix.` stripped, named from the full parameter in errors.
    pub fn nested(&self, prefix: &str) -> Params {
        let start = format!("{prefix}.");
        let values = self
            .values
            .range::<str, _>((Bound::Included(start.as_str()), Bound::Unbounded))
            .take_while(|(name, _)| name.starts_with(start.as_str()))
            .filter(|(name, _)| name.len() > start.len())
            .map(|(name, value)| (name[start.len()..].to_owned(), value.clone()))
            .collect();
        Params { path: format!("{}{start}", self.path), values }
    }

    /// The chosen `fields` of each structure member of the list `Prefix`, in index order; a
    /// field the member lacks is absent from its map. For `Tags.member.N.Key`/`.Value`:
    /// `struct_list("Tags", &["Key", "Value"])`.
    pub fn struct_list<'a, 'f>(&'a self, prefix: &str, fields: &[&'f str]) -> Vec<BTreeMap<&'f str, &'a str>> {
        let mut groups: BTreeMap<u32, BTreeMap<&'f str, &'a str>> = BTreeMap::new();
        for (index, rest, value) in self.member_entries(prefix) {
            let Some(rest) = rest else { continue };
            if let Some(field) = fields.iter().find(|field| **field == rest) {
                groups.entry(index).or_default().insert(field, value);
            }
        }
        groups.into_values().collect()
    }

    /// The names and values, ordered by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// How many distinct names there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The wire prefix of this view: `""` at the top level, `Tags.member.1.` for a member.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The name AWS gives parameter `name` of this view in validation messages: each name part
    /// starts lowercase and list indexes come before `member` (`Tags.member.1.Key` is
    /// `tags.1.member.key`), as in `Value null at 'roleArn' failed to satisfy constraint`.
    pub fn member_path(&self, name: &str) -> String {
        member_path(&format!("{}{name}", self.path))
    }

    /// Every `Prefix.member.N[.rest]` parameter with a canonical index: `(N, rest, value)`,
    /// in name order (not index order).
    fn member_entries<'a, 'p>(
        &'a self,
        prefix: &'p str,
    ) -> impl Iterator<Item = (u32, Option<&'a str>, &'a str)> + use<'a, 'p> {
        // `Prefix.member.` without building it: every request checks its lists' lengths.
        const MEMBER: &str = ".member.";
        let skip = prefix.len() + MEMBER.len();
        self.values
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(name, _)| name.starts_with(prefix))
            .filter(move |(name, _)| name[prefix.len()..].starts_with(MEMBER))
            .filter_map(move |(name, value)| {
                let tail = &name[skip..];
                let (index, rest) = match tail.split_once('.') {
                    Some((index, rest)) => (index, Some(rest)),
                    None => (tail, None),
                };
                Some((parse_index(index)?, rest, value.as_str()))
            })
    }

    fn malformed(&self, name: &str, kind: InputKind, value: &str) -> QueryError {
        QueryError::malformed_input(format!("{}{name}", self.path), kind, value)
    }
}

/// A list index: a positive decimal integer without leading zeros, so that each member has one
/// spelling.
fn parse_index(index: &str) -> Option<u32> {
    if index.starts_with('0') || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    index.parse().ok()
}

/// Fails when a `.member.N` of `name` has an index above `limit`. Indexes that are not canonical
/// (`0`, `01`, `x`) stay unknown parameters, as before; a canonical one too large for any integer
/// type is above the limit too.
fn check_list_indexes(name: &str, limit: u32) -> Result<(), QueryError> {
    let mut parts = name.split('.');
    while let Some(part) = parts.next() {
        if part != "member" {
            continue;
        }
        let Some(index) = parts.clone().next() else { break };
        if index.is_empty() || index.starts_with('0') || !index.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // At most ten digits fit a `u64` comparison with room to spare; more is above any limit.
        let within = index.len() <= 10 && index.parse::<u64>().is_ok_and(|n| n <= u64::from(limit));
        if !within {
            return Err(QueryError::ListIndexTooLarge { name: name.to_owned(), limit });
        }
    }
    Ok(())
}

/// See [`Params::member_path`].
fn member_path(wire: &str) -> String {
    let parts: Vec<&str> = wire.split('.').collect();
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    let mut i = 0;
    while i < parts.len() {
        if parts[i] == "member" && parts.get(i + 1).is_some_and(|index| parse_index(index).is_some()) {
            out.push(parts[i + 1].to_owned());
            out.push("member".to_owned());
            i += 2;
            continue;
        }
        let mut chars = parts[i].chars();
        out.push(match chars.next() {
            Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
            None => String::new(),
        });
        i += 1;
    }
    out.join(".")
}

/// Percent-decodes one name or value (`+` is a space) and checks it is UTF-8. `offset` is where
/// `raw` starts in its input, for error messages.
fn decode(raw: &[u8], offset: usize) -> Result<String, QueryError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let high = raw.get(i + 1).and_then(|&b| hex_digit(b));
                let low = raw.get(i + 2).and_then(|&b| hex_digit(b));
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(QueryError::InvalidPercentEncoding { offset: offset + i });
                };
                out.push(high << 4 | low);
                i += 3;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| QueryError::InvalidUtf8 { offset })
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Params {
        Params::parse(input.as_bytes()).unwrap_or_else(|error| panic!("{input:?} does not parse: {error}"))
    }

    #[test]
    fn decodes_names_and_values() {
        // (input, name, expected value)
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("A=b", "A", Some("b")),
            ("A=a+b", "A", Some("a b")),
            ("A=a%20b", "A", Some("a b")),
            ("A=a%2Bb", "A", Some("a+b")),
            ("A=%e2%82%AC", "A", Some("€")),
            ("A=€", "A", Some("€")),
            ("A=", "A", Some("")),
            ("A", "A", Some("")),
            ("A=x=y", "A", Some("x=y")),
            ("My+Name=1", "My Name", Some("1")),
            ("%41=1", "A", Some("1")),
            ("&&A=1&", "A", Some("1")),
            ("A=1&A=2", "A", Some("1")),
            ("A=%26%3D", "A", Some("&=")),
            ("=x", "", None),
            ("a=1", "A", None),
        ];
        for &(input, name, expected) in cases {
            assert_eq!(parse(input).get(name), expected, "{input:?} -> {name}");
        }
    }

    #[test]
    fn rejects_malformed_input() {
        let cases: &[(&[u8], &str)] = &[
            (b"A=%", "MalformedQueryString"),
            (b"A=%4", "MalformedQueryString"),
            (b"A=%zz", "MalformedQueryString"),
            (b"A=%%41", "MalformedQueryString"),
            (b"%G1=1", "MalformedQueryString"),
            (b"A=%ff", "MalformedQueryString"),
            (b"A=%c3%28", "MalformedQueryString"),
            (b"A=\xff", "MalformedQueryString"),
            (b"\xc3=1", "MalformedQueryString"),
            (b"A=%ed%a0%80", "MalformedQueryString"),
        ];
        for &(input, code) in cases {
            let error = Params::parse(input).expect_err(&format!("{input:?} parses"));
            assert_eq!(error.aws_code(), code, "{input:?}: {error}");
        }
    }

    #[test]
    fn reports_where_decoding_failed() {
        assert_eq!(Params::parse(b"Action=X&Bad=%4g").unwrap_err(), QueryError::InvalidPercentEncoding { offset: 13 });
        assert_eq!(Params::parse(b"Action=X&Bad=\xff").unwrap_err(), QueryError::InvalidUtf8 { offset: 13 });
    }

    #[test]
    fn enforces_limits() {
        let limits = Limits { max_params: 3, max_name_len: 8, ..Limits::DEFAULT };
        assert!(Params::parse_parts(&[b"a=1&b=2", b"c=3"], limits).is_ok());
        assert_eq!(
            Params::parse_parts(&[b"a=1&b=2", b"a=3&d=4"], limits).unwrap_err(),
            QueryError::TooManyParameters { limit: 3 },
        );
        assert!(Params::parse_parts(&[b"Abcdefgh=1"], limits).is_ok());
        assert_eq!(Params::parse_parts(&[b"Abcdefghi=1"], limits).unwrap_err(), QueryError::NameTooLong { limit: 8 },);
        let many = vec!["A=1"; 10_001].join("&");
        assert_eq!(Params::parse(many.as_bytes()).unwrap_err().aws_code(), "InvalidQueryParameter");
        assert!(Params::parse(&many.as_bytes()[4..]).is_ok());
    }

    #[test]
    fn list_indexes_are_bounded_at_every_level() {
        // (input, whether it decodes)
        let cases: &[(&str, bool)] = &[
            ("Tags.member.1000.Key=k", true),
            ("Tags.member.1001.Key=k", false),
            ("Tags.member.999999999=1", false),
            ("Tags.member.4000000000=1", false),
            ("Tags.member.4294967296=1", false),
            ("Tags.member.99999999999999999999999999=1", false),
            ("ContextEntries.member.1.ContextKeyValues.member.1001=v", false),
            ("ContextEntries.member.1001.ContextKeyValues.member.1=v", false),
            ("A.member.1.B.member.1.C.member.5000=v", false),
            // Not canonical indexes: unknown parameters, ignored as before.
            ("Tags.member.0=1&Tags.member.01000000=1&Tags.member.x1=1&Tags.member.=1", true),
            ("Tags.member=1&member.5000=1", false),
            ("member=1&Amember.5000=1", true),
        ];
        for &(input, ok) in cases {
            match Params::parse(input.as_bytes()) {
                Ok(_) => assert!(ok, "{input:?} decodes"),
                Err(error) => {
                    assert!(!ok, "{input:?}: {error}");
                    assert_eq!((error.aws_code(), error.http_status()), ("InvalidQueryParameter", 400), "{input:?}");
                    assert!(error.message().contains("larger than 1000"), "{input:?}: {}", error.message());
                }
            }
        }
        let error = Params::parse(b"Action=TagUser&Tags.member.4000000000.Key=k").unwrap_err();
        assert_eq!(error, QueryError::ListIndexTooLarge { name: "Tags.member.4000000000.Key".into(), limit: 1000 });
        assert_eq!(
            error.message(),
            "The list index in parameter Tags.member.4000000000.Key is larger than 1000; a list has at most 1000 members."
        );
        // A list therefore has at most `max_list_index` members, whatever the request.
        let full: String = (1..=1000).map(|i| format!("L.member.{i}=v&")).collect();
        assert_eq!(parse(&full).list("L").len(), 1000);
    }

    #[test]
    fn values_are_bounded_after_decoding() {
        let limits = Limits { max_value_len: 4, ..Limits::DEFAULT };
        assert!(Params::parse_parts(&[b"A=abcd&B=%41%42%43%44"], limits).is_ok());
        assert_eq!(
            Params::parse_parts(&[b"A=1&B=abcde"], limits).unwrap_err(),
            QueryError::ValueTooLong { name: "B".into(), limit: 4 },
        );
        // Escapes shrink: ten encoded bytes that decode to four are within the limit.
        assert!(Params::parse_parts(&[b"A=%E2%82%AC1"], limits).is_ok());
        let long = format!("PolicyDocument={}", "x".repeat(256 * 1024 + 1));
        let error = Params::parse(long.as_bytes()).unwrap_err();
        assert_eq!(error.aws_code(), "InvalidQueryParameter");
        assert_eq!(error.message(), "The value of parameter PolicyDocument is longer than 262144 bytes.");
        assert!(Params::parse(&long.as_bytes()[..long.len() - 1]).is_ok());
    }

    #[test]
    fn query_string_and_body_merge_with_the_query_first() {
        let params = Params::from_request(b"Action=GetCallerIdentity&X=q", b"Version=2011-06-15&X=b").unwrap();
        assert_eq!(params.action().unwrap(), "GetCallerIdentity");
        assert_eq!(params.version(), Some("2011-06-15"));
        assert_eq!(params.get("X"), Some("q"));
        assert_eq!(params.len(), 3);
    }

    #[test]
    fn action_and_version() {
        // (input, check_version result as (code, message) or None for success)
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("Action=GetCallerIdentity&Version=2011-06-15", None),
            ("Action=GetCallerIdentity&Version=2011-06-15&Version=2000-01-01", None),
            ("Version=2011-06-15", Some(("MissingAction", "No action was supplied with this request."))),
            (
                "Action=GetCallerIdentity",
                Some(("InvalidAction", "Could not find operation GetCallerIdentity for version NO_VERSION_SPECIFIED")),
            ),
            (
                "Action=GetCallerIdentity&Version=",
                Some(("InvalidAction", "Could not find operation GetCallerIdentity for version ")),
            ),
            (
                "Action=GetCallerIdentity&Version=2000-01-01&Version=2011-06-15",
                Some(("InvalidAction", "Could not find operation GetCallerIdentity for version 2000-01-01")),
            ),
            ("Action=&Version=2000-01-01", Some(("InvalidAction", "Could not find operation  for version 2000-01-01"))),
        ];
        for &(input, expected) in cases {
            let result = parse(input).check_version("2011-06-15");
            match (result, expected) {
                (Ok(()), None) => {}
                (Err(error), Some((code, message))) => {
                    assert_eq!((error.aws_code(), error.message().as_str()), (code, message), "{input:?}");
                }
                (result, expected) => panic!("{input:?}: got {result:?}, expected {expected:?}"),
            }
        }
        assert_eq!(parse("Action=&Version=1").action().unwrap(), "");
        assert_eq!(parse("Version=1").action().unwrap_err(), QueryError::MissingAction);
    }

    #[test]
    fn required_parameters_fail_like_aws() {
        let params = parse("Action=AssumeRole&RoleSessionName=");
        assert_eq!(params.required("RoleSessionName").unwrap(), "");
        let error = params.required("RoleArn").unwrap_err();
        assert_eq!(error.aws_code(), "ValidationError");
        assert_eq!(error.http_status(), 400);
        assert_eq!(
            error.message(),
            "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(error.to_string(), "missing required parameter `RoleArn`");

        let tags = parse("Tags.member.1.Value=v").members("Tags");
        let error = tags[0].required("Key").unwrap_err();
        assert_eq!(error.to_string(), "missing required parameter `Tags.member.1.Key`");
        assert!(error.message().contains("Value null at 'tags.1.member.key'"), "{}", error.message());
    }

    #[test]
    fn several_missing_parameters_fail_together() {
        let params = parse("Action=CreatePolicy&Description=d");
        let error = params.required_all(&["PolicyName", "PolicyDocument"]).unwrap_err();
        assert!(
            error.message().starts_with("2 validation errors detected: Value null at 'policyName'"),
            "{}",
            error.message()
        );
        let one = params.required_all(&["PolicyName", "Description"]).unwrap_err();
        assert_eq!(one, QueryError::MissingParameter { name: "PolicyName".into(), member: "policyName".into() });
        assert_eq!(params.required_all(&["Description"]).unwrap(), vec!["d"]);
    }

    #[test]
    fn member_paths() {
        let cases = [
            ("RoleArn", "roleArn"),
            ("durationSeconds", "durationSeconds"),
            ("Tags.member.1.Key", "tags.1.member.key"),
            ("PolicyArns.member.12.arn", "policyArns.12.member.arn"),
            ("ContextEntries.member.2.ContextKeyValues.member.3", "contextEntries.2.member.contextKeyValues.3.member"),
            ("A.member", "a.member"),
            ("A.member.x", "a.member.x"),
        ];
        for (wire, aws) in cases {
            assert_eq!(member_path(wire), aws, "{wire}");
        }
    }

    #[test]
    fn integers() {
        // (value, expected) where Err holds the AWS message.
        let cases: &[(&str, Result<i32, &str>)] = &[
            ("900", Ok(900)),
            ("+900", Ok(900)),
            ("0900", Ok(900)),
            ("-1", Ok(-1)),
            ("2147483647", Ok(i32::MAX)),
            ("-2147483648", Ok(i32::MIN)),
            ("2147483648", Err("")),
            ("-2147483649", Err("")),
            ("900.0", Err("")),
            ("abc", Err("")),
            (" 900", Err("")),
            ("1e3", Err("")),
            ("", Err("missing value for decimal type")),
        ];
        for &(value, expected) in cases {
            let params = Params::parse(format!("DurationSeconds={}", value.replace('+', "%2B")).as_bytes()).unwrap();
            match (params.int("DurationSeconds"), expected) {
                (Ok(Some(got)), Ok(want)) => assert_eq!(got, want, "{value:?}"),
                (Err(error), Err(message)) => {
                    assert_eq!(error.aws_code(), "MalformedInput", "{value:?}");
                    assert_eq!(error.message(), message, "{value:?}");
                }
                (got, want) => panic!("{value:?}: got {got:?}, expected {want:?}"),
            }
        }
        assert_eq!(parse("A=1").int("B"), Ok(None));
    }

    #[test]
    fn booleans() {
        let params = parse("T=true&F=false&U=True&E=&N=1");
        assert_eq!(params.bool("T"), Ok(Some(true)));
        assert_eq!(params.bool("F"), Ok(Some(false)));
        assert_eq!(params.bool("Missing"), Ok(None));
        for name in ["U", "E", "N"] {
            assert_eq!(params.bool(name).unwrap_err().aws_code(), "MalformedInput", "{name}");
        }
    }

    #[test]
    fn lists() {
        // (input, list prefix, expected list_opt)
        let cases: &[(&str, &str, Option<&[&str]>)] = &[
            ("", "Keys", None),
            ("Keys=", "Keys", Some(&[])),
            ("Keys=x", "Keys", Some(&[])),
            ("Keys.member.1=a", "Keys", Some(&["a"])),
            ("Keys.member.2=b&Keys.member.1=a", "Keys", Some(&["a", "b"])),
            ("Keys.member.10=j&Keys.member.9=i&Keys.member.2=b", "Keys", Some(&["b", "i", "j"])),
            ("Keys.member.1=a&Keys.member.3=c", "Keys", Some(&["a", "c"])),
            ("Keys.member.1=a&Keys.member.1=z", "Keys", Some(&["a"])),
            ("Keys.member.1=&Keys.member.2=b", "Keys", Some(&["", "b"])),
            ("Keys.member.0=z&Keys.member.01=z&Keys.member.x=z&Keys.member.-1=z", "Keys", None),
            ("Keys.member.1=a&Keys=", "Keys", Some(&["a"])),
            ("Keys.member.1=a&KeysX.member.1=z&Key.member.1=z", "Keys", Some(&["a"])),
            ("Keys.member.1.Sub=z", "Keys", None),
            ("Keys.member.1000=last&Keys.member.1=a", "Keys", Some(&["a", "last"])),
        ];
        for &(input, prefix, expected) in cases {
            let params = parse(input);
            assert_eq!(params.list_opt(prefix).as_deref(), expected, "{input:?}");
            assert_eq!(params.list(prefix), expected.unwrap_or_default(), "{input:?}");
        }
    }

    #[test]
    fn member_counts() {
        // (input, prefix, count)
        let cases: &[(&str, &str, usize)] = &[
            ("", "Tags", 0),
            ("Tags=", "Tags", 0),
            ("Tags.member.1=a&Tags.member.3=c", "Tags", 2),
            ("Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.10.Key=k&Tags.member.2.Value=v", "Tags", 3),
            ("Tags.member.1=a&Tags.member.1.Key=k&Tags.member.1-x=z&Tags.member.10=j", "Tags", 2),
            ("Tags.member.0=z&Tags.member.01=z&TagsX.member.1=z", "Tags", 0),
        ];
        for &(input, prefix, count) in cases {
            assert_eq!(parse(input).member_count(prefix), count, "{input:?}");
        }
        let many: String = (1..=60).rev().map(|i| format!("Tags.member.{i}.Key=k&Tags.member.{i}.Value=v&")).collect();
        assert_eq!(parse(&many).member_count("Tags"), 60);
    }

    #[test]
    fn struct_lists() {
        let params = parse(
            "Tags.member.2.Key=k2&Tags.member.2.Value=v2&Tags.member.1.Key=k1&Tags.member.1.Value=v1\
             &Tags.member.1.Other=o&Tags.member.5.Value=only-value&Tags.member.x.Key=z",
        );
        let tags = params.struct_list("Tags", &["Key", "Value"]);
        let expected: Vec<BTreeMap<&str, &str>> = vec![
            BTreeMap::from([("Key", "k1"), ("Value", "v1")]),
            BTreeMap::from([("Key", "k2"), ("Value", "v2")]),
            BTreeMap::from([("Value", "only-value")]),
        ];
        assert_eq!(tags, expected);
        assert_eq!(parse("Tags=").struct_list("Tags", &["Key"]), Vec::<BTreeMap<&str, &str>>::new());

        let arns = parse("PolicyArns.member.1.arn=arn:aws:iam::aws:policy/A&PolicyArns.member.2.arn=B");
        let arns: Vec<&str> = arns.struct_list("PolicyArns", &["arn"]).iter().map(|m| m["arn"]).collect();
        assert_eq!(arns, ["arn:aws:iam::aws:policy/A", "B"]);
    }

    #[test]
    fn nested_members() {
        let params = parse(
            "ContextEntries.member.1.ContextKeyName=aws%3ASourceIp\
             &ContextEntries.member.1.ContextKeyType=ipList\
             &ContextEntries.member.1.ContextKeyValues.member.2=10.0.0.2\
             &ContextEntries.member.1.ContextKeyValues.member.1=10.0.0.1\
             &ContextEntries.member.2.ContextKeyName=aws%3AMultiFactorAuthPresent\
             &ContextEntries.member.2.ContextKeyValues=\
             &ContextEntries.member.3=scalar",
        );
        let entries = params.members("ContextEntries");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].path(), "ContextEntries.member.1.");
        assert_eq!(entries[0].get("ContextKeyName"), Some("aws:SourceIp"));
        assert_eq!(entries[0].list("ContextKeyValues"), ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(entries[0].required("ContextKeyType").unwrap(), "ipList");
        assert_eq!(entries[1].list_opt("ContextKeyValues"), Some(vec![]));
        assert_eq!(entries[1].member_path("ContextKeyType"), "contextEntries.2.member.contextKeyType");
        assert_eq!(params.members("Nothing"), vec![]);

        // Three levels deep, to show views compose.
        let deep = parse("A.member.1.B.member.1.C.member.2=y&A.member.1.B.member.1.C.member.1=x");
        let b = &deep.members("A")[0].members("B")[0];
        assert_eq!(b.path(), "A.member.1.B.member.1.");
        assert_eq!(b.list("C"), ["x", "y"]);
        assert_eq!(
            b.int("C.member.1").unwrap_err().to_string(),
            "`A.member.1.B.member.1.C.member.1` is not an integer: `x`"
        );
    }

    #[test]
    fn debug_hides_values() {
        let params = parse("Action=ChangePassword&NewPassword=hunter2");
        let debug = format!("{params:?}");
        assert!(debug.contains("NewPassword") && !debug.contains("hunter2"), "{debug}");
    }
}
