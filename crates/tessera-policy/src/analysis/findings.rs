//! Policy validation findings in IAM Access Analyzer's four kinds (`ERROR`, `SECURITY_WARNING`,
//! `WARNING`, `SUGGESTION`), each with a stable issue code and the places in the document it is
//! about (a path of members and indexes, and a line/column/offset span).
//!
//! Issue codes are Access Analyzer's own where it has one for the problem (its policy check
//! reference names them; `learnMoreLink` points there); the checks it has no code for carry
//! Tessera codes:
//!
//! | code | kind | what |
//! |---|---|---|
//! | `ALLOW_WITH_NOT_ACTION` | SECURITY_WARNING | `Allow` with `NotAction` grants every action not listed, present and future |
//! | `WILDCARD_GRANTS_IAM_WRITE` | SECURITY_WARNING | a wildcard (or `NotAction`) in an `Allow` matches IAM actions that change permissions or identities |
//! | `SHADOWED_BY_DENY` | WARNING | an `Allow` whose every request an unconditional `Deny` of the same policy refuses |
//! | `CONTRADICTORY_CONDITIONS` | ERROR | the operators on one key of a statement can never all hold |
//! | `MISSING_REQUIRED_CONDITION_KEY` | SECURITY_WARNING | an `Allow` not guarded by a key the caller requires (`aws:SecureTransport`, `aws:SourceIp`, ...), neither in its own conditions nor by a `Deny` covering it |

use serde_json::{Value, json};

use super::catalog::{self, ACTIONS, CATALOGUED_SERVICES};
use super::checks::KeyCandidates;
use super::glob::{self, Glob, Language, Variables};
use crate::compile::{CompiledPolicy, CompiledStatement, PolicyValues, ResourcePattern};
use crate::context::fold_key;
use crate::document::{Effect, Policy, Statement};
use crate::evaluate::evaluate_condition;
use crate::json::{self, Node, Span};
use crate::operator::{Comparison, Family, Operator, SetOperator};
use crate::parse::{ErrorCode, Finding, PolicyKind, check_size, parse_policy, parse_stored_policy};

/// The impact of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingType {
    /// Part of the policy does not work.
    Error,
    /// The policy allows more than is safe.
    SecurityWarning,
    /// The policy does not follow good practice.
    Warning,
    /// A change that would not affect access.
    Suggestion,
}

impl FindingType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingType::Error => "ERROR",
            FindingType::SecurityWarning => "SECURITY_WARNING",
            FindingType::Warning => "WARNING",
            FindingType::Suggestion => "SUGGESTION",
        }
    }
}

/// One step of a location's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathElement {
    /// A member name.
    Value(String),
    /// An array index.
    Index(usize),
}

/// A position as Access Analyzer gives it: 1-based line, 0-based column and offset, in
/// characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AaPosition {
    /// 1-based line.
    pub line: u32,
    /// 0-based column.
    pub column: u32,
    /// 0-based offset from the start of the document.
    pub offset: u32,
}

/// Where a finding is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingLocation {
    /// Members and indexes from the document root.
    pub path: Vec<PathElement>,
    /// From the first character to just past the last.
    pub span: (AaPosition, AaPosition),
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationFinding {
    /// Its impact.
    pub finding_type: FindingType,
    /// The issue code (`PASS_ROLE_WITH_STAR_IN_RESOURCE`).
    pub issue_code: &'static str,
    /// What is wrong and how to fix it.
    pub details: String,
    /// Where.
    pub locations: Vec<FindingLocation>,
}

impl ValidationFinding {
    /// The documentation of the issue code.
    pub fn learn_more_link(&self) -> String {
        let tessera = [
            "ALLOW_WITH_NOT_ACTION",
            "WILDCARD_GRANTS_IAM_WRITE",
            "SHADOWED_BY_DENY",
            "CONTRADICTORY_CONDITIONS",
            "MISSING_REQUIRED_CONDITION_KEY",
            "MALFORMED_POLICY_DOCUMENT",
        ];
        if tessera.contains(&self.issue_code) {
            return format!(
                "https://tessera.invalid/docs/policy-findings#{}",
                self.issue_code.to_lowercase().replace('_', "-")
            );
        }
        let kind = match self.finding_type {
            FindingType::Error => "error",
            FindingType::SecurityWarning => "security-warning",
            FindingType::Warning => "general-warning",
            FindingType::Suggestion => "suggestion",
        };
        format!(
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html#access-analyzer-reference-policy-checks-{kind}-{}",
            self.issue_code.to_lowercase().replace('_', "-")
        )
    }

    /// Access Analyzer's `ValidatePolicyFinding` shape.
    pub fn to_json(&self) -> Value {
        let position = |p: &AaPosition| json!({"line": p.line, "column": p.column, "offset": p.offset});
        let locations: Vec<Value> = self
            .locations
            .iter()
            .map(|l| {
                let path: Vec<Value> = l
                    .path
                    .iter()
                    .map(|e| match e {
                        PathElement::Value(v) => json!({"value": v}),
                        PathElement::Index(i) => json!({"index": i}),
                    })
                    .collect();
                json!({"path": path, "span": {"start": position(&l.span.0), "end": position(&l.span.1)}})
            })
            .collect();
        json!({
            "findingType": self.finding_type.as_str(),
            "issueCode": self.issue_code,
            "learnMoreLink": self.learn_more_link(),
            "findingDetails": self.details,
            "locations": locations,
        })
    }
}

/// `{"findings": [...]}`, as ValidatePolicy answers.
pub fn findings_to_json(findings: &[ValidationFinding]) -> Value {
    json!({"findings": findings.iter().map(ValidationFinding::to_json).collect::<Vec<_>>()})
}

/// What to validate against.
#[derive(Clone, Debug)]
pub struct ValidateOptions {
    /// The kind of document.
    pub kind: PolicyKind,
    /// Condition keys every `Allow` must be guarded by (a template's demands), for example
    /// `aws:SecureTransport` and `aws:SourceIp`.
    pub required_keys: Vec<String>,
}

impl ValidateOptions {
    /// No required keys.
    pub fn new(kind: PolicyKind) -> ValidateOptions {
        ValidateOptions { kind, required_keys: Vec::new() }
    }
}

/// Validates a document: grammar errors first, then everything else, each group in document
/// order.
pub fn validate_policy(text: &str, options: &ValidateOptions) -> Vec<ValidationFinding> {
    let root = json::parse(text).ok();
    let lines = LineIndex::new(text);
    let mut v = Validator { root: root.as_ref(), lines, findings: Vec::new() };
    if let Err(error) = check_size(text, options.kind) {
        let (kind, code) = match options.kind {
            PolicyKind::ServiceControl | PolicyKind::ResourceControl => {
                (FindingType::Error, "POLICY_SIZE_EXCEEDS_SCP_QUOTA")
            }
            PolicyKind::Resource => (FindingType::Warning, "POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA"),
            PolicyKind::Trust => (FindingType::Warning, "POLICY_SIZE_EXCEEDS_ROLE_TRUST_POLICY_QUOTA"),
            _ => (FindingType::Warning, "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA"),
        };
        v.push(kind, code, error.to_string(), vec![]);
    }
    let policy = match parse_policy(text, options.kind) {
        Ok(policy) => policy,
        Err(error) => {
            for finding in &error.findings {
                v.grammar(finding);
            }
            // Keep going when the document still reads as a policy: its other problems are
            // worth knowing while the errors are fixed.
            match parse_stored_policy(text) {
                Ok(policy) => policy,
                Err(_) => return v.findings,
            }
        }
    };
    v.semantic(&policy, options);
    v.findings
}

struct Validator<'a> {
    root: Option<&'a Node>,
    lines: LineIndex,
    findings: Vec<ValidationFinding>,
}

/// A path step while locating.
enum Seg<'s> {
    Key(&'s str),
    Idx(usize),
}

impl Validator<'_> {
    fn push(
        &mut self,
        finding_type: FindingType,
        issue_code: &'static str,
        details: String,
        locations: Vec<FindingLocation>,
    ) {
        self.findings.push(ValidationFinding { finding_type, issue_code, details, locations });
    }

    /// The location of a path, following the document's real shape (an index into a bare value
    /// is dropped, as Access Analyzer does for `"Action": "s3:GetObject"`).
    fn locate(&self, segs: &[Seg<'_>]) -> FindingLocation {
        let mut path = Vec::new();
        let mut node = self.root;
        let mut span = node.map(|n| n.span);
        for seg in segs {
            let Some(current) = node else { break };
            match seg {
                Seg::Key(key) => {
                    path.push(PathElement::Value((*key).to_owned()));
                    node = match &current.value {
                        json::Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, n)| n),
                        _ => None,
                    };
                }
                Seg::Idx(i) => {
                    if let json::Value::Array(items) = &current.value {
                        path.push(PathElement::Index(*i));
                        node = items.get(*i);
                    }
                }
            }
            if let Some(n) = node {
                span = Some(n.span);
            }
        }
        FindingLocation { path, span: self.lines.span(span.unwrap_or_default()) }
    }

    fn statement_location(&self, index: usize, rest: &[Seg<'_>]) -> FindingLocation {
        let mut segs = vec![Seg::Key("Statement"), Seg::Idx(index)];
        segs.extend(rest.iter().map(|s| match s {
            Seg::Key(k) => Seg::Key(k),
            Seg::Idx(i) => Seg::Idx(*i),
        }));
        self.locate(&segs)
    }

    fn grammar(&mut self, finding: &Finding) {
        let field = finding.location.field.as_deref().unwrap_or("");
        let message = &finding.message;
        let head = field.split('.').next().unwrap_or("");
        let code = if finding.code == ErrorCode::LimitExceeded {
            return;
        } else if message.starts_with("Syntax errors") && !message.contains("unknown field") {
            "JSON_SYNTAX_ERROR"
        } else if message.contains("unknown field") {
            "INVALID_POLICY_ELEMENT"
        } else if message.contains("cannot have both") {
            "UNSUPPORTED_ELEMENT_COMBINATION"
        } else if message.starts_with("Missing required field") {
            match head {
                "Effect" => "MISSING_EFFECT",
                "Action" => "MISSING_ACTION",
                "Resource" => "MISSING_RESOURCE",
                "Principal" => "MISSING_PRINCIPAL",
                "Statement" => "MISSING_STATEMENT",
                _ => "INVALID_POLICY_ELEMENT",
            }
        } else {
            match head {
                "Version" => "INVALID_VERSION",
                "Effect" => "INVALID_EFFECT",
                "Sid" if message.contains("unique") => "UNIQUE_SIDS_REQUIRED",
                "Sid" => "UNSUPPORTED_SID",
                "Action" | "NotAction" if message.starts_with("Vendor") => "INVALID_SERVICE_IN_ACTION",
                "Action" | "NotAction" => "INVALID_ACTION",
                "Resource" | "NotResource" => "INVALID_ARN_RESOURCE",
                "Principal" | "NotPrincipal" => "INVALID_PRINCIPAL_FORMAT",
                "Condition" if message.starts_with("Invalid Condition type") => "INVALID_CONDITION_OPERATOR",
                "Condition" if message.contains("prefaced") => "INVALID_CONDITION_KEY_FORMAT",
                "Condition" => "INVALID_CONDITION_DATA_TYPE",
                _ => "INVALID_POLICY_ELEMENT",
            }
        };
        let mut segs: Vec<Seg<'_>> = Vec::new();
        if let Some(index) = finding.location.statement {
            segs.push(Seg::Key("Statement"));
            segs.push(Seg::Idx(index));
        }
        for part in field_parts(field) {
            segs.push(Seg::Key(part));
        }
        let mut location = self.locate(&segs);
        if let Some(position) = finding.location.position
            && location.path.is_empty()
        {
            let at = self.lines.position(position.line, position.column);
            location.span = (at, at);
        }
        self.push(FindingType::Error, code, message.clone(), vec![location]);
    }

    fn semantic(&mut self, policy: &Policy, options: &ValidateOptions) {
        if policy.version.is_none() {
            let location = self.locate(&[]);
            self.push(
                FindingType::Warning,
                "MISSING_VERSION",
                "add `\"Version\": \"2012-10-17\"`: without it policy variables are literal text".into(),
                vec![location],
            );
        }
        let compiled = CompiledPolicy::compile("validated", policy);
        let statements = policy.statements.as_slice();
        let mut variables = Variables::default();
        let actions: Vec<Language> = compiled.statements.iter().map(|s| Language::of_actions(&s.actions)).collect();
        let resources: Vec<Language> =
            compiled.statements.iter().map(|s| Language::of_resources(s.resources.as_ref(), &mut variables)).collect();
        for (i, (statement, stmt)) in statements.iter().zip(compiled.statements.iter()).enumerate() {
            self.actions(i, statement, stmt);
            self.redundant_values(i, statement, stmt, &mut variables);
            if statement.effect == Effect::Allow {
                self.allow(i, statement, stmt);
            }
            self.conditions(i, statement, stmt);
        }
        self.between_statements(statements, &compiled.statements, &actions, &resources);
        for key in &options.required_keys {
            self.required_key(key, statements, &compiled.statements, &actions, &resources);
        }
    }

    fn actions(&mut self, i: usize, statement: &Statement, stmt: &CompiledStatement) {
        let field = if statement.action.negated { "NotAction" } else { "Action" };
        for (j, (text, pattern)) in statement.action.values.as_slice().iter().zip(&stmt.actions.patterns).enumerate() {
            let Some((service, _)) = text.split_once(':') else { continue };
            let service = service.to_lowercase();
            if !service.contains(['*', '?']) && !catalog::is_known_service(&service) {
                let location = self.statement_location(i, &[Seg::Key(field), Seg::Idx(j)]);
                self.push(
                    FindingType::Error,
                    "INVALID_SERVICE_IN_ACTION",
                    format!("the service `{service}` of action `{text}` is not an AWS or Tessera service"),
                    vec![location],
                );
                continue;
            }
            if CATALOGUED_SERVICES.contains(&service.as_str()) {
                let glob = Glob::action(pattern);
                if !ACTIONS.iter().any(|a| glob.matches(&a.name.to_ascii_lowercase())) {
                    let location = self.statement_location(i, &[Seg::Key(field), Seg::Idx(j)]);
                    self.push(
                        FindingType::Error,
                        "INVALID_ACTION",
                        format!("`{text}` matches no {} action", service.to_uppercase()),
                        vec![location],
                    );
                }
            }
        }
    }

    /// Actions (or resources) of one statement that another of its values already covers.
    fn redundant_values(
        &mut self,
        i: usize,
        statement: &Statement,
        stmt: &CompiledStatement,
        variables: &mut Variables,
    ) {
        let action_globs: Vec<Glob> = stmt.actions.patterns.iter().map(Glob::action).collect();
        let texts: Vec<String> = statement.action.values.as_slice().iter().map(|t| t.to_lowercase()).collect();
        let field = if statement.action.negated { "NotAction" } else { "Action" };
        for j in redundant(&action_globs, &texts, true) {
            let location = self.statement_location(i, &[Seg::Key(field), Seg::Idx(j)]);
            self.push(
                FindingType::Suggestion,
                "REDUNDANT_ACTION",
                format!(
                    "`{}` is already covered by another action of this statement",
                    statement.action.values.as_slice()[j]
                ),
                vec![location],
            );
        }
        if let (Some(clause), Some(matcher)) = (&statement.resource, &stmt.resources) {
            let globs: Vec<Glob> = matcher.patterns.iter().map(|p| Glob::resource(p, variables)).collect();
            let texts: Vec<String> = clause.values.as_slice().to_vec();
            let field = if clause.negated { "NotResource" } else { "Resource" };
            for j in redundant(&globs, &texts, false) {
                let location = self.statement_location(i, &[Seg::Key(field), Seg::Idx(j)]);
                self.push(
                    FindingType::Suggestion,
                    "REDUNDANT_RESOURCE",
                    format!("`{}` is already covered by another resource of this statement", texts[j]),
                    vec![location],
                );
            }
        }
    }

    fn allow(&mut self, i: usize, statement: &Statement, stmt: &CompiledStatement) {
        let action_field = if statement.action.negated { "NotAction" } else { "Action" };
        if statement.action.negated {
            let location = self.statement_location(i, &[Seg::Key("NotAction")]);
            self.push(
                FindingType::SecurityWarning,
                "ALLOW_WITH_NOT_ACTION",
                "`Allow` with `NotAction` grants every action it does not list, including actions services add later; list the allowed actions instead".into(),
                vec![location],
            );
        }
        let has_key =
            |key: &str| statement.condition.iter().any(|b| b.entries.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)));
        // iam:PassRole on any role.
        if stmt.actions.matches("iam:passrole") && !has_key("iam:PassedToService") {
            let explicit = !statement.action.negated
                && statement.action.values.as_slice().iter().any(|a| a.eq_ignore_ascii_case("iam:PassRole"));
            let any_role = |pattern: &ResourcePattern, text: &str| {
                let account = text
                    .split(':')
                    .nth(4)
                    .filter(|a| !a.contains(['*', '?']) && !a.is_empty())
                    .unwrap_or("123456789012");
                Glob::resource(pattern, &mut Variables::default())
                    .matches(&format!("arn:aws:iam::{account}:role/zz-any-role"))
            };
            let resource = match (&statement.resource, &stmt.resources) {
                (Some(clause), Some(matcher)) => {
                    let hits = clause
                        .values
                        .as_slice()
                        .iter()
                        .zip(&matcher.patterns)
                        .any(|(text, pattern)| text.contains('*') && any_role(pattern, text));
                    let not_excluded =
                        !clause.values.as_slice().iter().zip(&matcher.patterns).any(|(t, p)| any_role(p, t));
                    if clause.negated {
                        not_excluded.then_some("NOT_RESOURCE")
                    } else {
                        hits.then_some("STAR_IN_RESOURCE")
                    }
                }
                _ => None,
            };
            if let Some(resource) = resource {
                let code = match (statement.action.negated, explicit, resource) {
                    (true, _, "STAR_IN_RESOURCE") => "PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION",
                    (true, _, _) => "PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE",
                    (false, true, "STAR_IN_RESOURCE") => "PASS_ROLE_WITH_STAR_IN_RESOURCE",
                    (false, true, _) => "PASS_ROLE_WITH_NOT_RESOURCE",
                    (false, false, "STAR_IN_RESOURCE") => "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE",
                    (false, false, _) => "PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE",
                };
                let resource_field = if resource == "NOT_RESOURCE" { "NotResource" } else { "Resource" };
                let locations = vec![
                    self.statement_location(i, &[Seg::Key(action_field)]),
                    self.statement_location(i, &[Seg::Key(resource_field)]),
                ];
                self.push(
                    FindingType::SecurityWarning,
                    code,
                    "`iam:PassRole` is allowed on any role: a caller can hand a service a role with more permissions than its own; name the roles, or add `iam:PassedToService`".into(),
                    locations,
                );
            }
        }
        // Wildcards that grant IAM writes.
        let iam_resources = match &stmt.resources {
            None => true,
            Some(matcher) => {
                matcher.negated
                    || matcher.patterns.iter().any(|p| match p {
                        ResourcePattern::Any => true,
                        ResourcePattern::Arn { parts, .. } => parts[2].literal().is_none_or(|s| s == "iam"),
                        ResourcePattern::Text { .. } => true,
                        ResourcePattern::Nothing { .. } => false,
                    })
            }
        };
        if iam_resources {
            let writes = |matches: &dyn Fn(&str) -> bool| -> Vec<&'static str> {
                ACTIONS
                    .iter()
                    .filter(|a| a.service() == "iam" && a.is_write() && matches(&a.name.to_ascii_lowercase()))
                    .map(|a| a.name)
                    .collect()
            };
            let mut reported = false;
            if statement.action.negated {
                let hit = writes(&|a| stmt.actions.matches(a));
                if !hit.is_empty() {
                    reported = true;
                    self.iam_write(i, None, statement, &hit);
                }
            }
            if !reported {
                for (j, (text, pattern)) in
                    statement.action.values.as_slice().iter().zip(&stmt.actions.patterns).enumerate()
                {
                    let service = text.split_once(':').map_or(text.as_str(), |(s, _)| s);
                    let may_be_iam = service.contains(['*', '?']) || service.eq_ignore_ascii_case("iam");
                    if statement.action.negated || !text.contains(['*', '?']) || !may_be_iam {
                        continue;
                    }
                    let glob = Glob::action(pattern);
                    let hit = writes(&|a| glob.matches(a));
                    if !hit.is_empty() {
                        self.iam_write(i, Some(j), statement, &hit);
                    }
                }
            }
        }
    }

    fn iam_write(&mut self, i: usize, j: Option<usize>, statement: &Statement, hit: &[&str]) {
        let field = if statement.action.negated { "NotAction" } else { "Action" };
        let location = match j {
            Some(j) => self.statement_location(i, &[Seg::Key(field), Seg::Idx(j)]),
            None => self.statement_location(i, &[Seg::Key(field)]),
        };
        let shown: Vec<&str> = hit.iter().take(5).copied().collect();
        let what = match j {
            Some(j) => format!("`{}`", statement.action.values.as_slice()[j]),
            None => "`NotAction`".to_owned(),
        };
        self.push(
            FindingType::SecurityWarning,
            "WILDCARD_GRANTS_IAM_WRITE",
            format!(
                "{what} allows {} IAM actions that change identities or permissions, such as {}; list the IAM actions needed",
                hit.len(),
                shown.join(", ")
            ),
            vec![location],
        );
    }

    fn conditions(&mut self, i: usize, statement: &Statement, stmt: &CompiledStatement) {
        // Keys some listed actions never supply.
        let literal_actions: Vec<&'static catalog::ActionInfo> = if statement.action.negated {
            Vec::new()
        } else {
            statement
                .action
                .values
                .as_slice()
                .iter()
                .filter(|a| !a.contains(['*', '?']))
                .filter_map(|a| catalog::action(a))
                .filter(|a| a.keys.is_some())
                .collect()
        };
        let mut seen_keys: Vec<String> = Vec::new();
        for block in &statement.condition {
            let operator = Operator::parse(&block.operator);
            for (key, values) in &block.entries {
                let folded = fold_key(key);
                let location =
                    || vec![Seg::Key("Condition"), Seg::Key(block.operator.as_str()), Seg::Key(key.as_str())];
                if action_specific(&folded) && !seen_keys.contains(&folded) {
                    let unsupported: Vec<&str> = literal_actions
                        .iter()
                        .filter(|a| !a.keys.unwrap_or(&[]).iter().any(|template| key_matches(template, &folded)))
                        .map(|a| a.name)
                        .collect();
                    if !unsupported.is_empty() {
                        let location = self.statement_location(i, &location());
                        self.push(
                            FindingType::Error,
                            "UNSUPPORTED_ACTION_FOR_CONDITION_KEY",
                            format!(
                                "requests for {} never carry `{key}`, so this condition decides them as if the key were absent; move those actions to a statement without it",
                                unsupported.join(", ")
                            ),
                            vec![location],
                        );
                    }
                }
                seen_keys.push(folded.clone());
                let Some(operator) = operator else { continue };
                if operator.family() == Family::String
                    && operator.base.comparison != Comparison::Like
                    && values.as_slice().iter().any(|v| v.as_text().contains('*'))
                {
                    let location = self.statement_location(i, &location());
                    self.push(
                        FindingType::Warning,
                        "WILDCARD_WITHOUT_LIKE_OPERATOR",
                        format!("`{}` compares `*` literally; use `StringLike` for a wildcard", block.operator),
                        vec![location],
                    );
                }
                if operator.set == Some(SetOperator::ForAllValues) && single_valued(&folded) {
                    let location = self.statement_location(i, &location());
                    self.push(
                        FindingType::SecurityWarning,
                        "FORALLVALUES_WITH_SINGLE_VALUED_KEY",
                        format!("`ForAllValues:` on the single-valued key `{key}` also holds when the key is absent; drop the prefix"),
                        vec![location],
                    );
                }
            }
        }
        // Operators on one key that can never all hold.
        let mut keys: Vec<String> = stmt.conditions.iter().map(|c| c.folded_key.to_string()).collect();
        keys.sort();
        keys.dedup();
        for folded in keys {
            let on_key: Vec<&crate::compile::Condition> =
                stmt.conditions.iter().filter(|c| *c.folded_key == *folded).collect();
            if on_key.len() < 2 {
                continue;
            }
            let mut candidates = KeyCandidates::new(&on_key[0].key);
            for block in &statement.condition {
                let Some(operator) = Operator::parse(&block.operator) else { continue };
                for (key, values) in &block.entries {
                    if fold_key(key) == folded {
                        candidates.add(operator, block, values);
                    }
                }
            }
            // The candidates cover every case, or one plain equality pins the key to values that
            // are all among them.
            let pinned = on_key.iter().any(|c| {
                c.operator.set.is_none()
                    && !c.operator.if_exists
                    && !c.operator.base.negated
                    && c.operator.family() == Family::String
                    && c.operator.base.comparison == Comparison::Equals
                    && matches!(&c.values, PolicyValues::Strings(values) if values.iter().all(|v| !v.has_variables()))
            });
            if !candidates.exact() && !pinned {
                continue;
            }
            let satisfiable = candidates.values().into_iter().any(|value| {
                let mut context = crate::Context::new();
                match value {
                    None => {}
                    Some(super::checks::ContextValue::Single(v)) => context.insert(&folded, v),
                    Some(super::checks::ContextValue::List(vs)) => context.insert_list(&folded, vs),
                }
                on_key.iter().all(|c| evaluate_condition(c, &context, &mut |_| {}))
            });
            if !satisfiable {
                let key = on_key[0].key.to_string();
                let location = self.statement_location(i, &[Seg::Key("Condition")]);
                self.push(
                    FindingType::Error,
                    "CONTRADICTORY_CONDITIONS",
                    format!("no value of `{key}` satisfies every operator this statement applies to it, so the statement never applies"),
                    vec![location],
                );
            }
        }
    }

    fn between_statements(
        &mut self,
        statements: &[Statement],
        compiled: &[CompiledStatement],
        actions: &[Language],
        resources: &[Language],
    ) {
        let covers = |outer: usize, inner: usize| -> bool {
            glob::subset(&actions[inner], &actions[outer], true).unwrap_or(false)
                && glob::subset(&resources[inner], &resources[outer], false).unwrap_or(false)
        };
        for j in 0..statements.len() {
            for i in 0..statements.len() {
                if i == j {
                    continue;
                }
                let (a, b) = (&statements[i], &statements[j]);
                // Statement j adds nothing when i (same effect and principal, no condition j lacks) covers it.
                if a.effect == b.effect
                    && a.principal == b.principal
                    && a.condition.iter().all(|block| b.condition.contains(block))
                    && covers(i, j)
                {
                    // Of two equal statements report only the later one.
                    let equal = b.condition.iter().all(|block| a.condition.contains(block)) && covers(j, i);
                    if !equal || i < j {
                        let locations = vec![self.statement_location(j, &[]), self.statement_location(i, &[])];
                        self.push(
                            FindingType::Suggestion,
                            "REDUNDANT_STATEMENT",
                            format!(
                                "statement {j} grants or denies nothing statement {i} does not already cover; remove it"
                            ),
                            locations,
                        );
                        break;
                    }
                }
                if b.effect == Effect::Allow
                    && a.effect == Effect::Deny
                    && a.condition.is_empty()
                    && compiled[i].principal.as_ref().is_none_or(|p| p.any && !p.negated)
                    && covers(i, j)
                {
                    let locations = vec![self.statement_location(j, &[]), self.statement_location(i, &[])];
                    self.push(
                        FindingType::Warning,
                        "SHADOWED_BY_DENY",
                        format!("statement {i} denies every request statement {j} allows, so statement {j} never takes effect"),
                        locations,
                    );
                    break;
                }
            }
        }
    }

    fn required_key(
        &mut self,
        key: &str,
        statements: &[Statement],
        compiled: &[CompiledStatement],
        actions: &[Language],
        resources: &[Language],
    ) {
        let guards = |s: &Statement| {
            s.condition.iter().any(|b| {
                !b.operator.ends_with("IfExists") && b.entries.iter().any(|(k, _)| k.eq_ignore_ascii_case(key))
            })
        };
        for (j, statement) in statements.iter().enumerate() {
            if statement.effect != Effect::Allow || guards(statement) {
                continue;
            }
            let denied = statements.iter().enumerate().any(|(i, d)| {
                d.effect == Effect::Deny
                    && guards(d)
                    && compiled[i].principal.as_ref().is_none_or(|p| p.any && !p.negated)
                    && glob::subset(&actions[j], &actions[i], true).unwrap_or(false)
                    && glob::subset(&resources[j], &resources[i], false).unwrap_or(false)
            });
            if !denied {
                let location = self.statement_location(j, &[]);
                self.push(
                    FindingType::SecurityWarning,
                    "MISSING_REQUIRED_CONDITION_KEY",
                    format!("this `Allow` is not guarded by `{key}`: add a condition on it, or a `Deny` covering these actions and resources under one"),
                    vec![location],
                );
            }
        }
    }
}

/// Indexes of values another value of the same list covers (of equal values, the later ones).
fn redundant(globs: &[Glob], texts: &[String], lowercase: bool) -> Vec<usize> {
    // Different literal services never cover each other, and the check is quadratic: compare
    // within a service, and wildcard services with everything.
    let services: Vec<Option<&str>> = texts
        .iter()
        .map(|t| t.split_once(':').map(|(s, _)| s).filter(|s| lowercase && !s.contains(['*', '?'])))
        .collect();
    let mut out = Vec::new();
    for j in 0..globs.len() {
        for i in 0..globs.len() {
            if i == j || globs[i].never {
                continue;
            }
            if let (Some(a), Some(b)) = (services[i], services[j])
                && a != b
            {
                continue;
            }
            if !lowercase && !texts[i].contains(['*', '?']) && texts[i] != texts[j] {
                continue;
            }
            if covers(&globs[i], &globs[j], lowercase) {
                let equal = covers(&globs[j], &globs[i], lowercase);
                if !equal || i < j {
                    out.push(j);
                    break;
                }
            }
        }
    }
    out
}

/// Whether every string of `inner` is in `outer`; patterns of the form `literal*` (most action
/// lists) are decided by their text, the rest by the automaton.
fn covers(outer: &Glob, inner: &Glob, lowercase: bool) -> bool {
    let literal = |g: &Glob| -> String {
        g.syms
            .iter()
            .map_while(|s| match s {
                glob::Sym::Lit(c) => Some(*c),
                _ => None,
            })
            .collect()
    };
    let (outer_prefix, inner_prefix) = (literal(outer), literal(inner));
    let outer_is_prefix_star =
        outer.syms.len() == outer_prefix.chars().count() + 1 && outer.syms.last() == Some(&glob::Sym::Star);
    if outer_is_prefix_star && !inner.never {
        if inner_prefix.starts_with(&outer_prefix) {
            return true;
        }
        if !outer_prefix.starts_with(&inner_prefix) {
            return false;
        }
    }
    let inner = Language { globs: vec![inner.clone()], negated: false };
    let outer = Language { globs: vec![outer.clone()], negated: false };
    glob::subset(&inner, &outer, lowercase).unwrap_or(false)
}

/// Keys that only some actions supply (service keys and the request/resource tag keys).
fn action_specific(folded: &str) -> bool {
    folded.starts_with("iam:")
        || folded.starts_with("sts:")
        || folded.starts_with("aws:requesttag/")
        || folded == "aws:tagkeys"
        || folded.starts_with("aws:resourcetag/")
}

/// Whether a catalog key (`aws:RequestTag/${TagKey}`) is `folded`.
fn key_matches(template: &str, folded: &str) -> bool {
    let template = fold_key(template);
    match template.strip_suffix("${tagkey}") {
        Some(prefix) => folded.starts_with(prefix) && folded.len() > prefix.len(),
        None => template == folded,
    }
}

fn single_valued(folded: &str) -> bool {
    const KEYS: [&str; 16] = [
        "aws:sourceip",
        "aws:securetransport",
        "aws:username",
        "aws:userid",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principaltype",
        "aws:requestedregion",
        "aws:multifactorauthpresent",
        "aws:multifactorauthage",
        "aws:currenttime",
        "aws:epochtime",
        "iam:policyarn",
        "iam:permissionsboundary",
        "sts:externalid",
        "sts:rolesessionname",
    ];
    KEYS.contains(&folded)
        || folded.starts_with("aws:principaltag/")
        || folded.starts_with("aws:requesttag/")
        || folded.starts_with("aws:resourcetag/")
}

/// Splits `Condition.StringEquals.aws:username` into its members; keys may hold dots, so the
/// first two are split off and the rest kept whole.
fn field_parts(field: &str) -> Vec<&str> {
    if field.is_empty() {
        return Vec::new();
    }
    if let Some(rest) = field.strip_prefix("Condition.") {
        let mut out = vec!["Condition"];
        match rest.split_once('.') {
            Some((operator, key)) => {
                out.push(operator);
                out.push(key);
            }
            None => out.push(rest),
        }
        return out;
    }
    vec![field]
}

/// Line starts, to turn line/column into offsets.
struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        for (i, c) in text.chars().enumerate() {
            if c == '\n' {
                starts.push(i as u32 + 1);
            }
        }
        LineIndex { starts }
    }

    fn position(&self, line: u32, column: u32) -> AaPosition {
        let start = self.starts.get(line.saturating_sub(1) as usize).copied().unwrap_or(0);
        let column = column.saturating_sub(1);
        AaPosition { line, column, offset: start + column }
    }

    /// An inclusive, 1-based span as Access Analyzer's half-open, 0-based one.
    fn span(&self, span: Span) -> (AaPosition, AaPosition) {
        let start = self.position(span.start.line, span.start.column);
        let end = self.position(span.end.line, span.end.column + 1);
        (start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str, kind: PolicyKind, required: &[&str]) -> Vec<&'static str> {
        let options = ValidateOptions { kind, required_keys: required.iter().map(|s| s.to_string()).collect() };
        validate_policy(text, &options).into_iter().map(|f| f.issue_code).collect()
    }

    #[test]
    fn each_check_fires_on_its_case_and_not_on_a_clean_policy() {
        let clean = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","iam:GetUser"],"Resource":"arn:aws:s3:::b/*"}]}"#;
        assert_eq!(codes(clean, PolicyKind::Identity, &[]), Vec::<&str>::new());
        for (text, code) in [
            (r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#, "MISSING_VERSION"),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s4:GetObject","Resource":"*"}}"#,
                "INVALID_SERVICE_IN_ACTION",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUsr","Resource":"*"}}"#,
                "INVALID_ACTION",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:Fly*","Resource":"*"}}"#,
                "INVALID_ACTION",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}}"#,
                "PASS_ROLE_WITH_STAR_IN_RESOURCE",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::123456789012:role/*"}}"#,
                "PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}}"#,
                "ALLOW_WITH_NOT_ACTION",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:Put*","Resource":"*"}}"#,
                "WILDCARD_GRANTS_IAM_WRITE",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:Get*","s3:GetObject"],"Resource":"*"}}"#,
                "REDUNDANT_ACTION",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::b/*","arn:aws:s3:::b/x"]}}"#,
                "REDUNDANT_RESOURCE",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"},{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
                "REDUNDANT_STATEMENT",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#,
                "SHADOWED_BY_DENY",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"StringEquals":{"iam:PolicyARN":"arn:aws:iam::aws:policy/X"}}}}"#,
                "UNSUPPORTED_ACTION_FOR_CONDITION_KEY",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"5"},"NumericGreaterThan":{"aws:MultiFactorAuthAge":"10"}}}}"#,
                "CONTRADICTORY_CONDITIONS",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"a"},"StringLike":{"aws:PrincipalTag/team":"b*"}}}}"#,
                "CONTRADICTORY_CONDITIONS",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"a*"}}}}"#,
                "WILDCARD_WITHOUT_LIKE_OPERATOR",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:username":"a"}}}}"#,
                "FORALLVALUES_WITH_SINGLE_VALUED_KEY",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"Null":"x"}}}"#,
                "INVALID_CONDITION_DATA_TYPE",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Alow","Action":"s3:GetObject","Resource":"*"}}"#,
                "INVALID_EFFECT",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*""#,
                "JSON_SYNTAX_ERROR",
            ),
        ] {
            let found = codes(text, PolicyKind::Identity, &[]);
            assert!(found.contains(&code), "{code} not among {found:?} for {text}");
        }
        let guarded = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
        assert_eq!(codes(guarded, PolicyKind::Identity, &["aws:SecureTransport"]), Vec::<&str>::new());
        assert_eq!(codes(guarded, PolicyKind::Identity, &["aws:SourceIp"]), ["MISSING_REQUIRED_CONDITION_KEY"]);
    }

    #[test]
    fn locations_follow_the_document() {
        let text = "{\"Version\":\"2012-10-17\",\n \"Statement\":[{\"Effect\":\"Allow\",\n  \"Action\":[\"s3:GetObject\",\"s4:Get\"],\"Resource\":\"*\"}]}";
        let findings = validate_policy(text, &ValidateOptions::new(PolicyKind::Identity));
        let finding = findings.iter().find(|f| f.issue_code == "INVALID_SERVICE_IN_ACTION").expect("found");
        let location = &finding.locations[0];
        assert_eq!(
            location.path,
            [
                PathElement::Value("Statement".into()),
                PathElement::Index(0),
                PathElement::Value("Action".into()),
                PathElement::Index(1)
            ]
        );
        let (start, end) = location.span;
        assert_eq!((start.line, start.column), (3, 27));
        assert_eq!(
            &text.chars().skip(start.offset as usize).take((end.offset - start.offset) as usize).collect::<String>(),
            "\"s4:Get\""
        );
        let json = findings_to_json(&findings);
        assert_eq!(json["findings"][0]["issueCode"], "INVALID_SERVICE_IN_ACTION");
        assert!(
            json["findings"][0]["learnMoreLink"]
                .as_str()
                .unwrap()
                .ends_with("#access-analyzer-reference-policy-checks-error-invalid-service-in-action")
        );
    }
}
