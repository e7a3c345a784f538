//! Differential test: seeded random identity-policy cases decided by Tessera's engine and by the
//! independent `@cloud-copilot/iam-simulate` (npm, pinned in `difftest/package.json`), every
//! disagreement minimized and matched against the adjudication table
//! `difftest/adjudications.json`. Fails on a disagreement the table does not explain and on one
//! the table says Tessera gets wrong.
//!
//! `DIFFTEST_CASES` (default 3000) and `DIFFTEST_SEED` (default 18) choose the run; for a long one:
//! `DIFFTEST_CASES=100000 DIFFTEST_SEED=7 cargo test -p tessera-policy --test difftest -- --nocapture`.
//! `DIFFTEST_SHOW=<entry id>` prints every disagreement a table entry explains.
//! The other engine runs as one `node difftest/runner.mjs` process for the whole run; install it
//! with `npm ci --prefix crates/tessera-policy/difftest`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Map, Value, json};
use tessera_policy::{CompiledPolicy, Context, Outcome, Policies, PolicyKind, PolicySet, Principal, Request, Trace};

const ACCOUNT: &str = "123456789012";
const CALLER: &str = "arn:aws:iam::123456789012:user/alice";

/// splitmix64: small, seedable, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Mostly from `common`, one time in twenty from `rare`.
    fn pick_weighted<'a, T>(&mut self, common: &'a [T], rare: &'a [T]) -> &'a T {
        if self.chance(0.05) { self.pick(rare) } else { self.pick(common) }
    }
}

/// A request context value: one value, or a list (a multivalued key).
#[derive(Clone, Debug, PartialEq)]
enum CtxValue {
    One(String),
    List(Vec<String>),
}

/// One identity-policy case: the caller is always `CALLER`, on a resource of its own account.
#[derive(Clone, Debug, PartialEq)]
struct Case {
    identity: Vec<Value>,
    boundary: Vec<Value>,
    action: String,
    resource: String,
    context: Vec<(String, CtxValue)>,
}

impl Case {
    fn context_json(&self) -> Value {
        let mut map = Map::new();
        for (key, value) in &self.context {
            map.insert(
                key.clone(),
                match value {
                    CtxValue::One(v) => json!(v),
                    CtxValue::List(vs) => json!(vs),
                },
            );
        }
        Value::Object(map)
    }

    fn to_json(&self) -> Value {
        json!({
            "identity": self.identity,
            "boundary": self.boundary,
            "principal": CALLER,
            "action": self.action,
            "resource": self.resource,
            "account": ACCOUNT,
            "context": self.context_json(),
        })
    }
}

/// Tessera's answer, in the other engine's words.
fn tessera(case: &Case) -> String {
    let compile = |policies: &[Value], kind: PolicyKind, name: &str| -> Result<Vec<CompiledPolicy>, String> {
        policies
            .iter()
            .enumerate()
            .map(|(i, p)| CompiledPolicy::parse(format!("{name}{i}"), &p.to_string(), kind).map_err(|e| e.to_string()))
            .collect()
    };
    let (identity, boundary) = match (
        compile(&case.identity, PolicyKind::Identity, "identity"),
        compile(&case.boundary, PolicyKind::Boundary, "boundary"),
    ) {
        (Ok(identity), Ok(boundary)) => (PolicySet::new(identity), PolicySet::new(boundary)),
        _ => return "Invalid".to_owned(),
    };
    let principal = Principal::from_arn(CALLER).expect("the caller ARN is valid");
    let mut context = Context::new();
    for (key, value) in &case.context {
        match value {
            CtxValue::One(v) => context.insert(key, v.clone()),
            CtxValue::List(vs) => context.insert_list(key, vs.clone()),
        }
    }
    let request = Request::new(&principal, &case.action, &case.resource, &context);
    let policies = Policies {
        identity: Some(&identity),
        boundary: (!case.boundary.is_empty()).then_some(&boundary),
        ..Policies::default()
    };
    match tessera_policy::authorize(&request, &policies, Trace::Off).outcome {
        Outcome::Allowed => "Allowed",
        Outcome::ExplicitDeny => "ExplicitlyDenied",
        Outcome::ImplicitDeny => "ImplicitlyDenied",
    }
    .to_owned()
}

/// The other engine: one `node runner.mjs` process, one JSON line each way per case.
struct Other {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

const INSTALL: &str = "install it with `npm ci --prefix crates/tessera-policy/difftest` (Node 20 or later; \
                       scripts/test and .ci/run do this)";

impl Other {
    fn start(dir: &Path) -> Other {
        let package = dir.join("node_modules/@cloud-copilot/iam-simulate/package.json");
        assert!(package.exists(), "the differential test needs @cloud-copilot/iam-simulate: {INSTALL}");
        let mut child = Command::new("node")
            .arg("runner.mjs")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("the differential test needs `node` ({e}): {INSTALL}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Other { child, stdin, stdout }
    }

    /// The other engine's decision: `Allowed`, `ExplicitlyDenied`, `ImplicitlyDenied`, `Invalid`
    /// (its validator refused a policy) or `Error` (it threw).
    fn decide(&mut self, case: &Case) -> String {
        writeln!(self.stdin, "{}", case.to_json()).expect("write to the node runner");
        self.stdin.flush().expect("flush to the node runner");
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).expect("read from the node runner");
        assert!(n > 0, "the node runner exited early: {INSTALL}");
        let answer: Value = serde_json::from_str(&line).expect("the node runner answers JSON");
        answer["decision"].as_str().unwrap_or("Error").to_owned()
    }
}

impl Drop for Other {
    fn drop(&mut self) {
        // Stop the runner and reap it, so that no process is left behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The generator.

/// Actions in statements; the rare ones are constructs the engines dispute, drawn one time in twenty
/// so that they do not hide the rest of a case.
const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:Get*",
    "s3:*",
    "*",
    "s3:PutObject",
    "s3:?etObject",
    "iam:GetUser",
    "iam:*",
    "ec2:RunInstances",
];
const RARE_ACTIONS: &[&str] = &["S3:getobject", "*:GetObject"];

const REQUEST_ACTIONS: &[&str] = &["s3:GetObject", "s3:PutObject", "iam:GetUser", "ec2:RunInstances"];

const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:s3:::b1/*",
    "arn:aws:s3:::b1/x",
    "arn:aws:s3:::b1/${aws:username}/*",
    "arn:aws:s3:::b1/${aws:PrincipalTag/team, 'red'}/*",
    "arn:aws:s3:::b1/${*}",
    "arn:aws:s3:::b?/x",
    "arn:aws:s3:::*",
    "arn:aws:iam::123456789012:user/*",
    "arn:aws:iam::123456789012:user/${aws:username}",
    "arn:aws:iam::*:user/alice",
    "arn:aws:iam::123456789012:*",
    "arn:aws:iam::123456789012:user/Alice",
    "arn:aws:ec2:*:123456789012:instance/*",
];
const RARE_RESOURCE_PATTERNS: &[&str] = &[
    "arn:aws:s3::*",
    "arn:aws:s3:*",
    "arn:aws:iam::123456789012:us?r/alice",
    "arn:aws:iam::123456789012:u*",
    "arn:AWS:s3:::b1/x",
    "arn:aws:S3:::b1/*",
    "arn:aws:ec2:US-EAST-1:123456789012:instance/*",
];

const REQUEST_RESOURCES: &[&str] = &[
    "arn:aws:s3:::b1/x",
    "arn:aws:s3:::b1/alice/x",
    "arn:aws:s3:::b1/red/x",
    "arn:aws:s3:::b2",
    "arn:aws:iam::123456789012:user/alice",
    "arn:aws:iam::123456789012:user/Alice",
    "arn:aws:iam::123456789012:role/r",
    "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
];

#[derive(Clone, Copy, PartialEq)]
enum Family {
    String,
    Numeric,
    Date,
    Bool,
    Binary,
    Ip,
    Arn,
}

/// Condition keys: their family, whether requests carry them as lists, and request values
/// (some of the wrong type).
const KEYS: &[(&str, Family, bool, &[&str])] = &[
    ("aws:username", Family::String, false, &["alice", "bob", "Alice", "al*"]),
    ("aws:PrincipalTag/team", Family::String, false, &["red", "blue", "alice"]),
    ("aws:TagKeys", Family::String, true, &["env", "team", "Env"]),
    ("aws:MultiFactorAuthAge", Family::Numeric, false, &["0", "10", "3600", "abc", "3.5"]),
    ("aws:CurrentTime", Family::Date, false, &["2025-06-01T12:00:00Z", "1700000000", "not-a-date", "2020-01-01"]),
    ("aws:MultiFactorAuthPresent", Family::Bool, false, &["true", "false", "yes", "TRUE"]),
    ("custom:Blob", Family::Binary, false, &["QUJD", "YWJj", "!!"]),
    ("aws:SourceIp", Family::Ip, false, &["203.0.113.9", "10.0.0.1", "2001:db8::5", "203.0.113.0/24", "nope"]),
    (
        "aws:SourceArn",
        Family::Arn,
        false,
        &["arn:aws:s3:::b1/x", "arn:aws:iam::123456789012:user/alice", "arn:aws:s3:::b2", "not-an-arn"],
    ),
];

const OPERATORS: &[(&str, Family)] = &[
    ("StringEquals", Family::String),
    ("StringNotEquals", Family::String),
    ("StringEqualsIgnoreCase", Family::String),
    ("StringNotEqualsIgnoreCase", Family::String),
    ("StringLike", Family::String),
    ("StringNotLike", Family::String),
    ("NumericEquals", Family::Numeric),
    ("NumericNotEquals", Family::Numeric),
    ("NumericLessThan", Family::Numeric),
    ("NumericLessThanEquals", Family::Numeric),
    ("NumericGreaterThan", Family::Numeric),
    ("NumericGreaterThanEquals", Family::Numeric),
    ("DateEquals", Family::Date),
    ("DateNotEquals", Family::Date),
    ("DateLessThan", Family::Date),
    ("DateLessThanEquals", Family::Date),
    ("DateGreaterThan", Family::Date),
    ("DateGreaterThanEquals", Family::Date),
    ("Bool", Family::Bool),
    ("BinaryEquals", Family::Binary),
    ("IpAddress", Family::Ip),
    ("NotIpAddress", Family::Ip),
    ("ArnEquals", Family::Arn),
    ("ArnLike", Family::Arn),
    ("ArnNotEquals", Family::Arn),
    ("ArnNotLike", Family::Arn),
];

/// Policy values per family (all valid for the family).
fn policy_values(family: Family) -> &'static [&'static str] {
    match family {
        Family::String => &["alice", "Alice", "al*", "red", "env", "${aws:username}", "*"],
        Family::Numeric => &["0", "10", "3600", "1e3", "-1", "3.5"],
        Family::Date => &["2020-01-01T00:00:00Z", "2030-01-01", "1577836800", "2025-06-01T12:00:00Z"],
        Family::Bool => &["true", "false"],
        Family::Binary => &["QUJD", "YWJj"],
        Family::Ip => &["203.0.113.0/24", "10.0.0.1", "2001:db8::/32", "0.0.0.0/0"],
        Family::Arn => &[
            "arn:aws:s3:::b1/*",
            "*",
            "arn:aws:iam::123456789012:user/*",
            "arn:aws:iam::*:user/alice",
            "arn:aws:s3:::b?",
        ],
    }
}

fn one_or_many(rng: &mut Rng, values: Vec<String>) -> Value {
    if values.len() == 1 && rng.chance(0.5) { json!(values[0]) } else { json!(values) }
}

fn condition(rng: &mut Rng) -> Value {
    let mut operators = Map::new();
    for _ in 0..1 + rng.below(2) {
        let &(key, key_family, _, _) = rng.pick(KEYS);
        let null = rng.chance(0.12);
        let (base, family) = if null {
            ("Null", Family::Bool)
        } else if rng.chance(0.8) {
            // Mostly an operator of the key's family; sometimes any, for mistyped comparisons.
            let matching: Vec<_> = OPERATORS.iter().filter(|(_, f)| *f == key_family).collect();
            let &&(name, family) = rng.pick(&matching);
            (name, family)
        } else {
            *rng.pick(OPERATORS)
        };
        let mut name = String::new();
        if !null && rng.chance(0.25) {
            name.push_str(if rng.chance(0.5) { "ForAnyValue:" } else { "ForAllValues:" });
        }
        name.push_str(base);
        if !null && rng.chance(0.2) {
            name.push_str("IfExists");
        }
        let pool = policy_values(family);
        let values: Vec<String> = (0..1 + rng.below(3)).map(|_| rng.pick(pool).to_string()).collect();
        let entry = operators.entry(name).or_insert_with(|| json!({}));
        entry[key] = one_or_many(rng, values);
    }
    Value::Object(operators)
}

fn statement(rng: &mut Rng) -> Value {
    let mut s = Map::new();
    s.insert("Effect".into(), json!(if rng.chance(0.7) { "Allow" } else { "Deny" }));
    let actions: Vec<String> =
        (0..1 + rng.below(2)).map(|_| rng.pick_weighted(ACTIONS, RARE_ACTIONS).to_string()).collect();
    let action_key = if rng.chance(0.12) { "NotAction" } else { "Action" };
    s.insert(action_key.into(), one_or_many(rng, actions));
    let resources: Vec<String> = (0..1 + rng.below(2))
        .map(|_| rng.pick_weighted(RESOURCE_PATTERNS, RARE_RESOURCE_PATTERNS).to_string())
        .collect();
    let resource_key = if rng.chance(0.12) { "NotResource" } else { "Resource" };
    s.insert(resource_key.into(), one_or_many(rng, resources));
    if rng.chance(0.6) {
        s.insert("Condition".into(), condition(rng));
    }
    Value::Object(s)
}

fn policy(rng: &mut Rng) -> Value {
    let statements: Vec<Value> = (0..1 + rng.below(3)).map(|_| statement(rng)).collect();
    let version = if rng.chance(0.08) { "2008-10-17" } else { "2012-10-17" };
    json!({"Version": version, "Statement": statements})
}

fn generate(rng: &mut Rng) -> Case {
    let identity = (0..1 + rng.below(2)).map(|_| policy(rng)).collect();
    let boundary = if rng.chance(0.2) { vec![policy(rng)] } else { Vec::new() };
    let mut context = Vec::new();
    for &(key, _, multi, values) in KEYS {
        if !rng.chance(0.5) {
            continue;
        }
        let value = if multi || rng.chance(0.1) {
            CtxValue::List((0..rng.below(3)).map(|_| rng.pick(values).to_string()).collect())
        } else {
            CtxValue::One(rng.pick(values).to_string())
        };
        context.push((key.to_owned(), value));
    }
    Case {
        identity,
        boundary,
        action: rng.pick(REQUEST_ACTIONS).to_string(),
        resource: rng.pick(REQUEST_RESOURCES).to_string(),
        context,
    }
}

// ---------------------------------------------------------------------------------------------
// Minimization.

/// Elements a policy needs; the minimizer never removes them.
const REQUIRED: &[&str] = &["Version", "Statement", "Effect", "Action", "NotAction", "Resource", "NotResource"];

/// Every copy of `value` with one array element (of a list of two or more) or one optional
/// object member (of an object with two or more) removed, at any depth.
fn shrink_json(value: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    match value {
        Value::Array(items) => {
            for i in 0..items.len() {
                if items.len() > 1 {
                    let mut copy = items.clone();
                    copy.remove(i);
                    out.push(Value::Array(copy));
                }
                for smaller in shrink_json(&items[i]) {
                    let mut copy = items.clone();
                    copy[i] = smaller;
                    out.push(Value::Array(copy));
                }
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                if members.len() > 1 && !REQUIRED.contains(&key.as_str()) {
                    let mut copy = members.clone();
                    copy.remove(key);
                    out.push(Value::Object(copy));
                }
                for smaller in shrink_json(member) {
                    let mut copy = members.clone();
                    copy.insert(key.clone(), smaller);
                    out.push(Value::Object(copy));
                }
            }
        }
        _ => {}
    }
    out
}

/// Smaller versions of a case, smallest steps first.
fn shrink(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    for i in 0..case.boundary.len() {
        let mut c = case.clone();
        c.boundary.remove(i);
        out.push(c);
    }
    for i in 0..case.identity.len() {
        let mut c = case.clone();
        c.identity.remove(i);
        out.push(c);
    }
    for i in 0..case.context.len() {
        let mut c = case.clone();
        c.context.remove(i);
        out.push(c);
        if let CtxValue::List(values) = &case.context[i].1 {
            for j in 0..values.len() {
                let mut c = case.clone();
                if let CtxValue::List(values) = &mut c.context[i].1 {
                    values.remove(j);
                }
                out.push(c);
            }
        }
    }
    for (field, policies) in [("identity", &case.identity), ("boundary", &case.boundary)] {
        for (i, policy) in policies.iter().enumerate() {
            for smaller in shrink_json(policy) {
                let mut c = case.clone();
                if field == "identity" {
                    c.identity[i] = smaller
                } else {
                    c.boundary[i] = smaller
                }
                out.push(c);
            }
        }
    }
    out
}

/// Shrinks a disagreement while both engines keep the same two answers.
fn minimize(case: &Case, answers: &(String, String), other: &mut Other) -> Case {
    let mut current = case.clone();
    'outer: loop {
        for candidate in shrink(&current) {
            if tessera(&candidate) == answers.0 && other.decide(&candidate) == answers.1 {
                current = candidate;
                continue 'outer;
            }
        }
        return current;
    }
}

// ---------------------------------------------------------------------------------------------
// Adjudication.

/// One entry of `difftest/adjudications.json`.
struct Entry {
    id: String,
    right: String,
    /// Field of the minimized case (`policies`, `context`, `action`, `resource`, `tessera`,
    /// `other`) to what it must contain: a needle or a list of needles (all of them), a needle
    /// being a string or `{"any": [...]}` (one of those strings).
    matches: BTreeMap<String, Vec<Needle>>,
}

fn load_table(path: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let entries = doc["entries"].as_array().unwrap_or_else(|| panic!("{}: no `entries` array", path.display()));
    entries
        .iter()
        .map(|e| {
            let id = e["id"].as_str().expect("entry id").to_owned();
            for field in ["construct", "right"] {
                assert!(e[field].is_string(), "entry {id} has no `{field}`");
            }
            let documented = e["aws"]["url"].is_string() && e["aws"]["sentence"].is_string();
            assert!(documented || e["reasoning"].is_string(), "entry {id} has neither aws.url+sentence nor reasoning");
            let right = e["right"].as_str().expect("right").to_owned();
            assert!(["tessera", "iam-simulate"].contains(&right.as_str()), "entry {id}: `right` is {right}");
            let matches = e["match"]
                .as_object()
                .unwrap_or_else(|| panic!("entry {id} has no `match`"))
                .iter()
                .map(|(field, needles)| {
                    let needle = |value: &Value| -> Needle {
                        match value {
                            Value::String(s) => Needle::Text(s.clone()),
                            Value::Object(any) if any["any"].is_array() => Needle::Any(
                                any["any"]
                                    .as_array()
                                    .expect("array")
                                    .iter()
                                    .map(|n| n.as_str().expect("string needle").to_owned())
                                    .collect(),
                            ),
                            _ => panic!("entry {id}: match.{field}: a needle is a string or {{\"any\": [...]}}"),
                        }
                    };
                    let needles = match needles {
                        Value::Array(items) => items.iter().map(needle).collect(),
                        single => vec![needle(single)],
                    };
                    (field.clone(), needles)
                })
                .collect();
            Entry { id, right, matches }
        })
        .collect()
}

/// One thing a field of a minimized case must contain.
enum Needle {
    Text(String),
    Any(Vec<String>),
}

/// The minimized case as the text fields the table's `match` looks at.
fn fields(case: &Case, answers: &(String, String)) -> BTreeMap<&'static str, String> {
    let policies: Vec<&Value> = case.identity.iter().chain(&case.boundary).collect();
    BTreeMap::from([
        ("policies", serde_json::to_string(&policies).expect("JSON")),
        ("context", case.context_json().to_string()),
        ("action", case.action.clone()),
        ("resource", case.resource.clone()),
        ("tessera", answers.0.clone()),
        ("other", answers.1.clone()),
    ])
}

fn explain<'a>(table: &'a [Entry], fields: &BTreeMap<&'static str, String>) -> Option<&'a Entry> {
    table.iter().find(|entry| {
        entry.matches.iter().all(|(field, needles)| {
            let text =
                fields.get(field.as_str()).unwrap_or_else(|| panic!("entry {}: unknown field {field}", entry.id));
            needles.iter().all(|needle| match needle {
                Needle::Text(needle) => text.contains(needle.as_str()),
                Needle::Any(any) => any.iter().any(|needle| text.contains(needle.as_str())),
            })
        })
    })
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text.parse().unwrap_or_else(|_| panic!("{name}={text} is not a number")),
        Err(_) => default,
    }
}

#[test]
fn tessera_agrees_with_iam_simulate_or_the_table_explains_why() {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("difftest");
    let table = load_table(&dir.join("adjudications.json"));
    let cases = env_number("DIFFTEST_CASES", 3000);
    let seed = env_number("DIFFTEST_SEED", 18);
    // DIFFTEST_SHOW=<entry id> prints every disagreement that entry explains.
    let show = std::env::var("DIFFTEST_SHOW").ok();
    let mut other = Other::start(&dir);
    let mut rng = Rng(seed);
    let mut agreed = 0u64;
    // Cases whose policies both engines accept, and those of them they decide alike.
    let (mut both_valid, mut agreed_valid) = (0u64, 0u64);
    let mut by_entry: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut unexplained: Vec<String> = Vec::new();
    let mut tessera_wrong: Vec<String> = Vec::new();
    for _ in 0..cases {
        let case = generate(&mut rng);
        let answers = (tessera(&case), other.decide(&case));
        if answers.0 != "Invalid" && answers.1 != "Invalid" {
            both_valid += 1;
            if answers.0 == answers.1 {
                agreed_valid += 1;
            }
        }
        if answers.0 == answers.1 {
            agreed += 1;
            continue;
        }
        let small = minimize(&case, &answers, &mut other);
        let fields = fields(&small, &answers);
        let shown = format!(
            "tessera {} / iam-simulate {}: {} on {} with context {} under {}",
            answers.0, answers.1, fields["action"], fields["resource"], fields["context"], fields["policies"]
        );
        match explain(&table, &fields) {
            Some(entry) => {
                if show.as_deref() == Some(entry.id.as_str()) {
                    println!("  [{}] {shown}", entry.id);
                }
                let seen = by_entry.entry(entry.id.clone()).or_insert((0, shown.clone()));
                seen.0 += 1;
                if entry.right != "tessera" && tessera_wrong.len() < 20 {
                    tessera_wrong.push(format!("[{}] {shown}", entry.id));
                }
            }
            None => unexplained.push(shown),
        }
    }
    println!(
        "difftest: seed {seed}, {cases} cases, {agreed} agreed ({:.2}%)",
        100.0 * agreed as f64 / cases.max(1) as f64
    );
    println!(
        "difftest: {both_valid} cases both engines accept, {agreed_valid} decided alike ({:.2}%)",
        100.0 * agreed_valid as f64 / both_valid.max(1) as f64
    );
    for (id, (count, example)) in &by_entry {
        println!("  {count:5} x {id}: e.g. {example}");
    }
    for shown in &unexplained {
        println!("  unexplained: {shown}");
    }
    assert!(
        unexplained.is_empty(),
        "{} disagreements the adjudication table does not explain (minimized; the first 20):\n{}",
        unexplained.len(),
        unexplained[..unexplained.len().min(20)].join("\n")
    );
    assert!(
        tessera_wrong.is_empty(),
        "disagreements the adjudication table says Tessera gets wrong (first 20):\n{}",
        tessera_wrong.join("\n")
    );
}
