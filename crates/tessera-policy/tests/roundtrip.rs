//! Property tests for the policy grammar: generated valid documents print and re-parse to the same
//! model, no input (arbitrary text or a mutated valid document) makes the parser or the simulator
//! panic, and a decision does not depend on whether it was traced.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use serde_json::{Map, Value, json};
use tessera_policy::{
    Clause, CompiledPolicy, ConditionBlock, Context, Decision, Effect, OneOrMany, Outcome, Policies, Policy,
    PolicyKind, PolicySet, Principal, PrincipalClause, PrincipalType, PrincipalValue, Request, Scalar, Span, Statement,
    Trace, Version, authorize, parse_policy, simulate_json,
};

// ---------------------------------------------------------------------------------------------
// Generators of valid documents.
// ---------------------------------------------------------------------------------------------

/// Characters a JSON printer must escape (quote, backslash, every kind of control character) or
/// that stress UTF-8 handling (two-, three- and four-byte characters, U+2028, a BOM), plus the
/// characters patterns give meaning to (`$`, `{`, `}`, `*`, `?`).
const TRICKY: &[char] = &[
    '"', '\\', '/', '\n', '\r', '\t', '\u{0}', '\u{1}', '\u{8}', '\u{c}', '\u{1f}', '\u{7f}', 'é', 'ß', '\u{2028}',
    '\u{feff}', '😀', '$', '{', '}', '*', '?', ' ',
];

/// Text in which roughly one character in three needs care when printed as JSON.
fn tricky_text(max_len: usize) -> impl Strategy<Value = String> {
    vec(
        prop_oneof![2 => prop::char::range('a', 'z'), 1 => prop::char::range('0', '9'), 2 => select(TRICKY)],
        0..max_len,
    )
    .prop_map(String::from_iter)
}

/// One value or a list of one to `max` values, both shapes a document may use.
fn one_or_many<T: Clone + std::fmt::Debug>(
    item: impl Strategy<Value = T>,
    max: usize,
) -> impl Strategy<Value = OneOrMany<T>> {
    (any::<bool>(), vec(item, 1..=max))
        .prop_map(|(one, mut items)| if one { OneOrMany::One(items.swap_remove(0)) } else { OneOrMany::Many(items) })
}

const SERVICES: &[&str] = &["s3", "iam", "ec2", "svc", "S3"];
const ACTION_NAMES: &[&str] = &["GetObject", "PutObject", "Get*", "*", "Name", "List*", "CreateUser", "?etObject"];

fn action() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("*".to_owned()),
        5 => (select(SERVICES), select(ACTION_NAMES)).prop_map(|(service, name)| format!("{service}:{name}")),
        // Vendors may hold `-`, `*` and `?`; names anything but white space and colons.
        1 => ("[a-z0-9*?-]{1,8}", "[A-Za-z0-9*?\"\\\\é]{1,10}").prop_map(|(service, name)| format!("{service}:{name}")),
    ]
}

const BUCKETS: &[&str] = &["docs", "logs", "my-bucket", "*"];
const PATHS: &[&str] = &["", "readme", "docs/", "home/${aws:username}/", "private/", "a?c", "${*}"];

fn resource() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("*".to_owned()),
        5 => (select(BUCKETS), select(PATHS), any::<bool>())
            .prop_map(|(bucket, path, star)| format!("arn:aws:s3:::{bucket}/{path}{}", if star { "*" } else { "" })),
        // Resource paths are free text once the ARN has its six parts.
        2 => ("[a-z0-9-]{1,12}", tricky_text(10)).prop_map(|(bucket, path)| format!("arn:aws:s3:::{bucket}/{path}*")),
    ]
}

fn clause(value: impl Strategy<Value = String>) -> impl Strategy<Value = Clause> {
    (prop::bool::weighted(0.2), one_or_many(value, 3)).prop_map(|(negated, values)| Clause { negated, values })
}

/// How the values of an operator are typed (the engine's own `Family` is private).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueKind {
    Text,
    Numeric,
    Date,
    Bool,
    Ip,
    Arn,
    /// `Null` takes booleans but applies to keys of every type.
    Null,
}

const OPERATORS: &[(&str, ValueKind)] = &[
    ("StringEquals", ValueKind::Text),
    ("StringLike", ValueKind::Text),
    ("NumericLessThan", ValueKind::Numeric),
    ("DateGreaterThan", ValueKind::Date),
    ("Bool", ValueKind::Bool),
    ("IpAddress", ValueKind::Ip),
    ("ArnLike", ValueKind::Arn),
    ("Null", ValueKind::Null),
    ("ForAnyValue:StringEquals", ValueKind::Text),
    ("StringEqualsIfExists", ValueKind::Text),
];

/// Condition keys with the type of their values, so that operators mostly meet keys of their
/// own type (as in real policies, and so that conditions are sometimes true).
const KEYS: &[(&str, ValueKind)] = &[
    ("aws:username", ValueKind::Text),
    ("s3:prefix", ValueKind::Text),
    ("aws:TagKeys", ValueKind::Text),
    ("s3:max-keys", ValueKind::Numeric),
    ("aws:MultiFactorAuthAge", ValueKind::Numeric),
    ("aws:CurrentTime", ValueKind::Date),
    ("aws:TokenIssueTime", ValueKind::Date),
    ("aws:MultiFactorAuthPresent", ValueKind::Bool),
    ("aws:SecureTransport", ValueKind::Bool),
    ("aws:SourceIp", ValueKind::Ip),
    ("aws:VpcSourceIp", ValueKind::Ip),
    ("aws:PrincipalArn", ValueKind::Arn),
    ("aws:SourceArn", ValueKind::Arn),
];

fn keys_for(kind: ValueKind) -> Vec<&'static str> {
    KEYS.iter().filter(|(_, k)| kind == ValueKind::Null || *k == kind).map(|(key, _)| *key).collect()
}

/// A JSON number as the grammar allows it (no leading zeros, optional fraction and exponent).
const JSON_NUMBER: &str = "-?(0|[1-9][0-9]{0,5})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?";

fn iso_date() -> impl Strategy<Value = String> {
    let time = (0..24u32, 0..60u32, 0..60u32, prop::option::of("[0-9]{1,9}"), select(&["Z", "+01:00", "-0530", "+05"]));
    (1970..2100u32, 1..=12u32, 1..=28u32, prop::option::of(time)).prop_map(|(year, month, day, time)| match time {
        None => format!("{year:04}-{month:02}-{day:02}"),
        Some((h, m, s, fraction, zone)) => {
            let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
            format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}{fraction}{zone}")
        }
    })
}

fn ip_network() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => select(&["203.0.113.0/24", "10.0.0.0/8", "0.0.0.0/0", "2001:db8::/32", " 10.1.2.3 "]).prop_map(str::to_owned),
        2 => (any::<[u8; 4]>(), 0..=32u8, any::<bool>()).prop_map(|(octets, prefix, bare)| {
            let address = Ipv4Addr::from(octets);
            if bare { address.to_string() } else { format!("{address}/{prefix}") }
        }),
        1 => (any::<[u16; 8]>(), 0..=128u8).prop_map(|(segments, prefix)| format!("{}/{prefix}", Ipv6Addr::from(segments))),
    ]
}

/// Plain words that requests also use, so that string conditions are sometimes true.
const WORDS: &[&str] = &["alice", "Alice", "bob", "docs/", "team-a", "*", "docs/*"];

fn scalar(kind: ValueKind) -> BoxedStrategy<Scalar> {
    match kind {
        ValueKind::Text => prop_oneof![
            3 => select(WORDS).prop_map(|s| Scalar::String(s.to_owned())),
            6 => tricky_text(12).prop_map(Scalar::String),
            1 => JSON_NUMBER.prop_map(Scalar::Number),
            1 => any::<bool>().prop_map(Scalar::Bool),
        ]
        .boxed(),
        ValueKind::Numeric => prop_oneof![
            JSON_NUMBER.prop_map(Scalar::Number),
            "[+-]?[0-9]{1,4}(\\.[0-9]{1,3})?".prop_map(Scalar::String),
        ]
        .boxed(),
        ValueKind::Date => prop_oneof![
            3 => iso_date().prop_map(Scalar::String),
            1 => "(0|[1-9][0-9]{0,9})(\\.[0-9]{1,3})?".prop_map(Scalar::Number),
            1 => "[0-9]{1,10}".prop_map(Scalar::String),
        ]
        .boxed(),
        ValueKind::Bool | ValueKind::Null => prop_oneof![
            any::<bool>().prop_map(Scalar::Bool),
            select(&["true", "false", "True", "FALSE"]).prop_map(|s| Scalar::String(s.to_owned())),
        ]
        .boxed(),
        ValueKind::Ip => ip_network().prop_map(Scalar::String).boxed(),
        ValueKind::Arn => prop_oneof![
            select(&["*", "arn:aws:iam::123456789012:user/*", "arn:aws:iam::*:role/admin-?", "arn:aws:s3:::docs/*"])
                .prop_map(|s| Scalar::String(s.to_owned())),
            tricky_text(10).prop_map(|t| Scalar::String(format!("arn:aws:s3:::b/{t}"))),
        ]
        .boxed(),
    }
}

/// One operator with one to three distinct keys (a JSON object cannot repeat a key).
fn condition_block(operator: &'static str, kind: ValueKind) -> impl Strategy<Value = ConditionBlock> {
    (subsequence(keys_for(kind), 1..=2), prop::option::weighted(0.3, tricky_text(6)))
        .prop_flat_map(move |(keys, tag)| {
            let mut keys: Vec<String> = keys.into_iter().map(str::to_owned).collect();
            // No key in `KEYS` starts like this, so the tag key is always distinct.
            keys.extend(tag.map(|tag| format!("aws:PrincipalTag/{tag}")));
            keys.into_iter().map(|key| (Just(key), one_or_many(scalar(kind), 3))).collect::<Vec<_>>()
        })
        .prop_map(move |entries| ConditionBlock { operator: operator.to_owned(), entries })
}

/// No conditions half of the time (so that statements often apply), else one to three distinct
/// operators in any order.
fn conditions() -> impl Strategy<Value = Vec<ConditionBlock>> {
    prop_oneof![Just(Vec::new()), subsequence(OPERATORS, 1..=3)].prop_shuffle().prop_flat_map(|operators| {
        operators.into_iter().map(|(operator, kind)| condition_block(operator, kind)).collect::<Vec<_>>()
    })
}

fn aws_principal_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{12}",
        "[A-Za-z0-9+=,.@_-]{1,16}".prop_map(|name| format!("arn:aws:iam::123456789012:user/{name}")),
        "[A-Za-z0-9+=,.@_-]{1,16}".prop_map(|name| format!("arn:aws:iam::123456789012:role/team/{name}")),
        Just("arn:aws:iam::111122223333:root".to_owned()),
        Just("*".to_owned()),
    ]
}

fn principal() -> impl Strategy<Value = PrincipalClause> {
    let map = (
        one_or_many(aws_principal_name(), 3),
        prop::option::of(one_or_many(
            select(&["ec2.amazonaws.com", "lambda.amazonaws.com"]).prop_map(str::to_owned),
            2,
        )),
    )
        .prop_map(|(aws, service)| {
            let mut entries = vec![(PrincipalType::Aws, aws)];
            entries.extend(service.map(|names| (PrincipalType::Service, names)));
            PrincipalValue::Map(entries)
        });
    let value = prop_oneof![1 => Just(PrincipalValue::Any), 3 => map];
    (prop::bool::weighted(0.2), value).prop_map(|(negated, value)| PrincipalClause { negated, value })
}

/// A statement without its Sid (Sids are assigned per policy, to keep them unique).
fn statement(resource_kind: bool) -> impl Strategy<Value = Statement> {
    let principal = if resource_kind { principal().prop_map(Some).boxed() } else { Just(None).boxed() };
    // Identity policies must name resources; resource policies may leave them out.
    let resource = if resource_kind {
        prop::option::weighted(0.8, clause(resource())).boxed()
    } else {
        clause(resource()).prop_map(Some).boxed()
    };
    (any::<bool>(), principal, clause(action()), resource, conditions()).prop_map(
        |(allow, principal, action, resource, condition)| Statement {
            sid: None,
            effect: if allow { Effect::Allow } else { Effect::Deny },
            principal,
            action,
            resource,
            condition,
            span: Span::default(),
        },
    )
}

/// A valid policy: an identity policy, or (`resource_kind`) a resource policy with principals.
fn policy(resource_kind: bool) -> impl Strategy<Value = Policy> {
    let version = prop_oneof![
        4 => Just(Some(Version::V2012_10_17)),
        2 => Just(Some(Version::V2008_10_17)),
        1 => Just(None),
    ];
    // Identity Sids must be alphanumeric; resource policies take any text.
    let sid = if resource_kind { tricky_text(6).boxed() } else { "[A-Za-z0-9]{0,6}".boxed() };
    let statements = vec((statement(resource_kind), prop::option::of(sid)), 1..=5);
    (version, prop::option::of(tricky_text(10)), any::<bool>(), statements).prop_map(
        |(version, id, single, statements)| {
            let mut statements: Vec<Statement> = statements
                .into_iter()
                .enumerate()
                // The index suffix makes Sids unique: each ends in a different digit.
                .map(|(index, (statement, sid))| Statement { sid: sid.map(|sid| format!("{sid}{index}")), ..statement })
                .collect();
            let statements =
                if single { OneOrMany::One(statements.swap_remove(0)) } else { OneOrMany::Many(statements) };
            Policy { version, id, statements }
        },
    )
}

// ---------------------------------------------------------------------------------------------
// An independent oracle for the printer: the model as serde_json sees it.
// ---------------------------------------------------------------------------------------------

fn json_one_or_many<T>(values: &OneOrMany<T>, item: impl Fn(&T) -> Value) -> Value {
    match values {
        OneOrMany::One(value) => item(value),
        OneOrMany::Many(values) => Value::Array(values.iter().map(item).collect()),
    }
}

fn json_scalar(scalar: &Scalar) -> Value {
    match scalar {
        Scalar::String(s) => json!(s),
        Scalar::Number(n) => serde_json::from_str(n).expect("generated numbers are JSON numbers"),
        Scalar::Bool(b) => json!(b),
    }
}

fn json_strings(values: &OneOrMany<String>) -> Value {
    json_one_or_many(values, |s| json!(s))
}

fn expected_json(policy: &Policy) -> Value {
    let mut root = Map::new();
    if let Some(version) = policy.version {
        root.insert("Version".into(), json!(version.as_str()));
    }
    if let Some(id) = &policy.id {
        root.insert("Id".into(), json!(id));
    }
    let statement = |s: &Statement| {
        let mut out = Map::new();
        if let Some(sid) = &s.sid {
            out.insert("Sid".into(), json!(sid));
        }
        out.insert("Effect".into(), json!(s.effect.as_str()));
        if let Some(principal) = &s.principal {
            let value = match &principal.value {
                PrincipalValue::Any => json!("*"),
                PrincipalValue::Map(entries) => Value::Object(
                    entries.iter().map(|(kind, names)| (kind.as_str().to_owned(), json_strings(names))).collect(),
                ),
            };
            out.insert(if principal.negated { "NotPrincipal" } else { "Principal" }.into(), value);
        }
        out.insert(if s.action.negated { "NotAction" } else { "Action" }.into(), json_strings(&s.action.values));
        if let Some(resource) = &s.resource {
            out.insert(
                if resource.negated { "NotResource" } else { "Resource" }.into(),
                json_strings(&resource.values),
            );
        }
        if !s.condition.is_empty() {
            let blocks = s.condition.iter().map(|block| {
                let entries =
                    block.entries.iter().map(|(key, values)| (key.clone(), json_one_or_many(values, json_scalar)));
                (block.operator.clone(), Value::Object(entries.collect()))
            });
            out.insert("Condition".into(), Value::Object(blocks.collect()));
        }
        Value::Object(out)
    };
    root.insert("Statement".into(), json_one_or_many(&policy.statements, statement));
    Value::Object(root)
}

/// The model after a trip through serde_json, which keeps strings but rewrites number literals
/// (`1e2` becomes `100.0`).
fn with_serde_numbers(policy: &Policy) -> Policy {
    let mut policy = policy.clone();
    let statements: &mut [Statement] = match &mut policy.statements {
        OneOrMany::One(statement) => std::slice::from_mut(statement),
        OneOrMany::Many(statements) => statements,
    };
    for statement in statements {
        for block in &mut statement.condition {
            for (_, values) in &mut block.entries {
                let values: &mut [Scalar] = match values {
                    OneOrMany::One(value) => std::slice::from_mut(value),
                    OneOrMany::Many(values) => values,
                };
                for value in values {
                    if let Scalar::Number(n) = value {
                        *n = json_scalar(&Scalar::Number(n.clone())).to_string();
                    }
                }
            }
        }
    }
    policy
}

/// Checks the printed text of a valid `policy` of `kind` against serde_json and the parser.
fn check_round_trip(policy: &Policy, kind: PolicyKind) -> Result<(), TestCaseError> {
    let text = policy.to_string();
    prop_assert_eq!(parse_policy(&text, kind), Ok(policy.clone()), "printed as {}", text);
    // An independent JSON reader sees the same document, so the escapes are standard JSON.
    let value: Value = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
    prop_assert_eq!(&value, &expected_json(policy));
    // Another printer's escapes and white space read back to the same model.
    let pretty = serde_json::to_string_pretty(&value).expect("a JSON value prints");
    prop_assert_eq!(parse_policy(&pretty, kind), Ok(with_serde_numbers(policy)), "pretty-printed as {}", pretty);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Helpers for the robustness properties.
// ---------------------------------------------------------------------------------------------

/// Fragments that are likely to keep a mutated document close to valid JSON, or to hit the edge
/// cases of strings and numbers.
const FRAGMENTS: &[&str] = &[
    "\"",
    "\\",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "true",
    "-",
    "0",
    "1e999",
    "\\u",
    "\\ud800",
    "\\udc00",
    "\\u0000",
    "é",
    "${",
    "*",
    "\"Sid\":\"x\",",
    "\"Condition\":{}",
    "\"StringLike\":{\"a:b\":[]}",
    "2012-10-17",
];

#[derive(Clone, Debug)]
enum Mutation {
    /// XOR one byte with a non-zero mask.
    Flip(Index, u8),
    /// Cut the text at a byte.
    Truncate(Index),
    /// Remove one byte.
    Delete(Index),
    /// Insert a fragment before a byte.
    Insert(Index, &'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1..=u8::MAX).prop_map(|(at, mask)| Mutation::Flip(at, mask)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        2 => any::<Index>().prop_map(Mutation::Delete),
        3 => (any::<Index>(), select(FRAGMENTS)).prop_map(|(at, fragment)| Mutation::Insert(at, fragment)),
    ]
}

/// Applies mutations to the bytes of `text`; invalid UTF-8 becomes U+FFFD, since the parser only
/// ever sees `&str`.
fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for mutation in mutations {
        if bytes.is_empty() {
            break;
        }
        match mutation {
            Mutation::Flip(at, mask) => {
                let at = at.index(bytes.len());
                bytes[at] ^= mask;
            }
            Mutation::Truncate(at) => bytes.truncate(at.index(bytes.len())),
            Mutation::Delete(at) => {
                bytes.remove(at.index(bytes.len()));
            }
            Mutation::Insert(at, fragment) => {
                let at = at.index(bytes.len());
                bytes.splice(at..at, fragment.bytes());
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Parses `text` as every kind. Whatever is accepted must round-trip and evaluate; whatever is
/// rejected must say why.
fn exercise_parser(text: &str) -> Result<(), TestCaseError> {
    let alice = Principal::from_arn("arn:aws:iam::123456789012:user/alice").expect("a user ARN");
    let mut context = Context::new();
    context.insert("aws:username", "alice");
    for kind in PolicyKind::ALL {
        match parse_policy(text, kind) {
            Ok(policy) => {
                let printed = policy.to_string();
                prop_assert_eq!(
                    parse_policy(&printed, kind),
                    Ok(policy.clone()),
                    "{:?} re-printed as {}",
                    text,
                    printed
                );
                let set = PolicySet::new(vec![CompiledPolicy::compile("mutant", &policy)]);
                let policies = Policies { identity: Some(&set), resource: Some(&set), ..Policies::default() };
                let request = Request::new(&alice, "s3:GetObject", "arn:aws:s3:::docs/readme", &context);
                let off = authorize(&request, &policies, Trace::Off);
                prop_assert_eq!(off.outcome, authorize(&request, &policies, Trace::On).outcome);
            }
            Err(error) => {
                prop_assert!(!error.findings.is_empty(), "{:?} rejected without a finding", text);
                prop_assert!(!error.to_string().is_empty());
            }
        }
    }
    Ok(())
}

/// Runs the simulator; an error must carry one of its two codes.
fn exercise_simulator(input: &str) -> Result<Option<Value>, TestCaseError> {
    match simulate_json(input) {
        Ok(results) => {
            prop_assert!(results["EvaluationResults"].is_array(), "{}", results);
            Ok(Some(results))
        }
        Err(error) => {
            prop_assert!(matches!(error.code, "InvalidInput" | "MalformedPolicyDocument"), "{}", error);
            Ok(None)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests for the evaluation properties.
// ---------------------------------------------------------------------------------------------

const CALLERS: &[&str] = &[
    "arn:aws:iam::123456789012:user/alice",
    "arn:aws:iam::123456789012:user/division/bob",
    "arn:aws:sts::123456789012:assumed-role/admin/session",
];
const REQUEST_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "S3:getobject",
    "iam:CreateUser",
    "svc:Name",
    "ec2:RunInstances",
    "s3:ListBucket",
];
const REQUEST_RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::docs/readme",
    "arn:aws:s3:::docs/private/x",
    "arn:aws:s3:::logs/home/alice/today",
    "arn:aws:s3:::my-bucket/abc",
    "arn:aws:iam::123456789012:user/alice",
];

#[derive(Clone, Debug)]
struct Call {
    caller: &'static str,
    action: String,
    resource: String,
    /// Key and values; one value is a single-valued key, several a list, none leaves it out
    /// (the simulator's rules for `ContextEntries`).
    context: Vec<(&'static str, Vec<String>)>,
}

/// A request value for a key of `kind`; now and then text of any shape, as callers may send.
fn context_value(kind: ValueKind) -> impl Strategy<Value = String> {
    let typed = match kind {
        ValueKind::Text | ValueKind::Null => prop_oneof![select(WORDS).prop_map(str::to_owned), tricky_text(8)].boxed(),
        ValueKind::Numeric => prop_oneof!["[0-9]{1,3}", JSON_NUMBER].boxed(),
        ValueKind::Date => iso_date().boxed(),
        ValueKind::Bool => select(&["true", "false", "TRUE"]).prop_map(str::to_owned).boxed(),
        ValueKind::Ip => {
            prop_oneof![select(&["203.0.113.9", "10.1.2.3", "2001:db8::1"]).prop_map(str::to_owned), ip_network()]
                .boxed()
        }
        ValueKind::Arn => select(CALLERS).prop_map(str::to_owned).boxed(),
    };
    prop_oneof![6 => typed, 1 => tricky_text(8)]
}

fn call() -> impl Strategy<Value = Call> {
    let action = prop_oneof![4 => select(REQUEST_ACTIONS).prop_map(str::to_owned), 1 => "[a-z0-9]{1,4}:[A-Za-z]{1,8}"];
    let resource = prop_oneof![
        4 => select(REQUEST_RESOURCES).prop_map(str::to_owned),
        1 => tricky_text(10).prop_map(|path| format!("arn:aws:s3:::docs/{path}")),
    ];
    let entry = select(KEYS).prop_flat_map(|(key, kind)| (Just(key), vec(context_value(kind), 0..3)));
    let context = vec(entry, 0..6);
    (select(CALLERS), action, resource, context).prop_map(|(caller, action, resource, context)| Call {
        caller,
        action,
        resource,
        context,
    })
}

fn context_of(call: &Call) -> Context {
    let mut context = Context::new();
    for (key, values) in &call.context {
        match values.as_slice() {
            [] => {}
            [value] => context.insert(key, value.clone()),
            values => context.insert_list(key, values.iter().cloned()),
        }
    }
    context
}

/// Aims `call` at one action and one resource that a statement of `policy` names, with their
/// wildcards filled in, so that statements often apply and their conditions get evaluated.
fn aim(mut call: Call, policy: &Policy, statement: Index, value: Index) -> Call {
    let concrete = |pattern: &String| pattern.replace('*', "x").replace('?', "y");
    let statement = statement.get(policy.statements.as_slice());
    call.action = concrete(value.get(statement.action.values.as_slice()));
    if !call.action.contains(':') {
        // The simulator only takes actions with a service prefix.
        call.action = format!("svc:{}", call.action);
    }
    if let Some(resource) = &statement.resource {
        call.resource = concrete(value.get(resource.values.as_slice()));
    }
    call
}

fn decide(set: &PolicySet, call: &Call, context: &Context, trace: Trace) -> Decision {
    let principal = Principal::from_arn(call.caller).expect("callers are valid ARNs");
    let request = Request::new(&principal, &call.action, &call.resource, context);
    authorize(&request, &Policies { identity: Some(set), ..Policies::default() }, trace)
}

// ---------------------------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn identity_policies_round_trip(policy in policy(false)) {
        check_round_trip(&policy, PolicyKind::Identity)?;
        // The same document is valid wherever identity-style policies are...
        for kind in [PolicyKind::Boundary, PolicyKind::Session, PolicyKind::ServiceControl] {
            check_round_trip(&policy, kind)?;
        }
        let text = policy.to_string();
        // ...as a managed policy only under the current version...
        prop_assert_eq!(parse_policy(&text, PolicyKind::Managed).is_ok(), policy.version == Some(Version::V2012_10_17));
        // ...and never where a `Principal` is required.
        for kind in [PolicyKind::Resource, PolicyKind::Trust, PolicyKind::ResourceControl] {
            let error = parse_policy(&text, kind).expect_err("principal-less documents need a Principal here");
            prop_assert!(error.findings.iter().any(|f| f.location.field.as_deref() == Some("Principal")), "{}", error);
        }
    }

    #[test]
    fn resource_policies_round_trip(policy in policy(true)) {
        check_round_trip(&policy, PolicyKind::Resource)?;
        let error = parse_policy(&policy.to_string(), PolicyKind::Identity).expect_err("identity policies name no principal");
        prop_assert!(error.findings.iter().any(|f| f.message.contains("should not specify a principal")), "{}", error);
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        exercise_parser(&text)?;
        exercise_simulator(&text)?;
        exercise_simulator(&json!({"PolicyInputList": [text], "ActionNames": ["s3:GetObject"]}).to_string())?;
    }

    #[test]
    fn json_like_text_never_panics(text in "[\\[\\]{}\",:0-9a-zA-Z\\\\ *.$-]{0,96}") {
        exercise_parser(&text)?;
        exercise_simulator(&text)?;
    }

    #[test]
    fn mutated_policies_never_panic(
        resource_kind in any::<bool>(),
        policy in policy(false),
        resource_policy in policy(true),
        mutations in vec(mutation(), 1..4),
    ) {
        let policy = if resource_kind { resource_policy } else { policy };
        exercise_parser(&mutate(&policy.to_string(), &mutations))?;
    }

    #[test]
    fn mutated_simulations_never_panic(
        policy in policy(false),
        resource_policy in policy(true),
        call in call(),
        mutations in vec(mutation(), 1..4),
    ) {
        let input = json!({
            "PolicyInputList": [policy.to_string()],
            "ResourcePolicy": resource_policy.to_string(),
            "CallerArn": call.caller,
            "ActionNames": [call.action],
            "ResourceArns": [call.resource],
            "ContextEntries": call.context.iter().map(|(key, values)| json!({
                "ContextKeyName": key, "ContextKeyValues": values, "ContextKeyType": "string",
            })).collect::<Vec<_>>(),
        });
        // Unmutated, the input is valid and yields one result per action and resource.
        let results = exercise_simulator(&input.to_string())?.expect("a valid simulation runs");
        prop_assert_eq!(results["EvaluationResults"].as_array().map(Vec::len), Some(1));
        exercise_simulator(&mutate(&input.to_string(), &mutations))?;
        exercise_simulator(&mutate(&serde_json::to_string_pretty(&input).expect("prints"), &mutations))?;
    }

    #[test]
    fn tracing_does_not_change_decisions(
        policy in policy(false),
        call in call(),
        target in prop::option::weighted(0.7, (any::<Index>(), any::<Index>())),
    ) {
        let call = match target {
            Some((statement, value)) => aim(call, &policy, statement, value),
            None => call,
        };
        let compiled = CompiledPolicy::parse("PolicyInputList.1", &policy.to_string(), PolicyKind::Identity)
            .expect("generated policies are valid");
        let set = PolicySet::new(vec![compiled]);
        let context = context_of(&call);
        let off = decide(&set, &call, &context, Trace::Off);
        let on = decide(&set, &call, &context, Trace::On);
        prop_assert_eq!(off.outcome, on.outcome);
        prop_assert_eq!(off.reason, on.reason);
        prop_assert_eq!(off.layer, on.layer);
        prop_assert_eq!(&off.allows, &on.allows);
        prop_assert_eq!(&off.denies, &on.denies);
        prop_assert!(off.failed_conditions.is_empty() && off.missing_keys.is_empty());
        match on.outcome {
            Outcome::Allowed => prop_assert!(!on.allows.is_empty()),
            Outcome::ExplicitDeny => prop_assert!(!on.denies.is_empty()),
            Outcome::ImplicitDeny => prop_assert!(on.denies.is_empty()),
        }
        // Deciding again gives the same decision, explanation included.
        prop_assert_eq!(&decide(&set, &call, &context, Trace::On), &on);

        // Compiling the model directly decides like compiling its text.
        let direct = PolicySet::new(vec![CompiledPolicy::compile("PolicyInputList.1", &policy)]);
        prop_assert_eq!(decide(&direct, &call, &context, Trace::Off).outcome, off.outcome);

        // The simulator decides with the same engine.
        let input = json!({
            "PolicyInputList": [policy.to_string()],
            "CallerArn": call.caller,
            "ActionNames": [call.action],
            "ResourceArns": [call.resource],
            "ContextEntries": call.context.iter().map(|(key, values)| json!({
                "ContextKeyName": key, "ContextKeyValues": values,
            })).collect::<Vec<_>>(),
        });
        let simulated = simulate_json(&input.to_string()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&simulated["EvaluationResults"][0]["EvalDecision"], &json!(on.outcome.as_str()));

        // An unconditional `Deny` of everything wins over whatever else the policy says.
        let mut statements = policy.statements.as_slice().to_vec();
        statements.push(Statement {
            sid: None,
            effect: Effect::Deny,
            principal: None,
            action: Clause { negated: false, values: OneOrMany::One("*".into()) },
            resource: Some(Clause { negated: false, values: OneOrMany::One("*".into()) }),
            condition: Vec::new(),
            span: Span::default(),
        });
        let denied = Policy { statements: OneOrMany::Many(statements), ..policy };
        let denied = PolicySet::new(vec![CompiledPolicy::compile("deny-all", &denied)]);
        prop_assert_eq!(decide(&denied, &call, &context, Trace::Off).outcome, Outcome::ExplicitDeny);
    }
}
