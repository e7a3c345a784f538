//! Parsing and validation of policy documents by kind (reference §2.1, §2.3, §2.6).
//!
//! Validation reports every finding it can, each with where it is (statement index and Sid,
//! field, line and column) and the offending value, so `tessera policy validate` can list them
//! all; the first one becomes the `MalformedPolicyDocument` message on the wire.

use std::collections::HashSet;
use std::fmt;

use tessera_arn::{Arn, IamEntity, is_account_id};

use crate::document::{
    Clause, ConditionBlock, Effect, OneOrMany, Policy, PrincipalClause, PrincipalType, PrincipalValue, Scalar,
    Statement, Version,
};
use crate::json::{self, Node, Position, Value};
use crate::operator::{Family, Operator};
use crate::values::{Decimal, Network, parse_binary, parse_bool, parse_date};

/// What a policy document is for; it decides which elements are required or forbidden and which
/// size limit applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// An inline identity policy of a user, group or role.
    Identity,
    /// A version of a customer-managed policy (must be version `2012-10-17`).
    Managed,
    /// A permissions boundary.
    Boundary,
    /// A session policy passed to AssumeRole* or GetFederationToken.
    Session,
    /// A resource-based policy (`Principal` required).
    Resource,
    /// A role trust policy (`Principal` required, STS actions only, no `Resource`).
    Trust,
    /// A service control policy.
    ServiceControl,
    /// A resource control policy.
    ResourceControl,
}

impl PolicyKind {
    /// Every kind.
    pub const ALL: [PolicyKind; 8] = [
        PolicyKind::Identity,
        PolicyKind::Managed,
        PolicyKind::Boundary,
        PolicyKind::Session,
        PolicyKind::Resource,
        PolicyKind::Trust,
        PolicyKind::ServiceControl,
        PolicyKind::ResourceControl,
    ];

    /// The size limit in characters, white space excluded (reference §2.6). Inline identity
    /// policies share a per-entity aggregate the store enforces; this is the largest of those.
    pub fn max_size(self) -> usize {
        match self {
            PolicyKind::Identity => 10_240,
            PolicyKind::Managed | PolicyKind::Boundary => 6_144,
            PolicyKind::Session | PolicyKind::Trust => 2_048,
            PolicyKind::ServiceControl | PolicyKind::ResourceControl => 5_120,
            PolicyKind::Resource => 20_480,
        }
    }

    /// The name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Identity => "identity",
            PolicyKind::Managed => "managed",
            PolicyKind::Boundary => "boundary",
            PolicyKind::Session => "session",
            PolicyKind::Resource => "resource",
            PolicyKind::Trust => "trust",
            PolicyKind::ServiceControl => "scp",
            PolicyKind::ResourceControl => "rcp",
        }
    }

    fn has_principal(self) -> bool {
        matches!(self, PolicyKind::Resource | PolicyKind::Trust | PolicyKind::ResourceControl)
    }

    fn requires_resource(self) -> bool {
        matches!(self, PolicyKind::Identity | PolicyKind::Managed | PolicyKind::Boundary | PolicyKind::Session)
    }

    fn strict_sid(self) -> bool {
        self != PolicyKind::Resource
    }
}

impl std::str::FromStr for PolicyKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PolicyKind::ALL.into_iter().find(|kind| kind.as_str() == s).ok_or_else(|| format!("unknown policy kind `{s}`"))
    }
}

/// Where a finding is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// The 0-based statement index.
    pub statement: Option<usize>,
    /// The statement's Sid.
    pub sid: Option<String>,
    /// The element, for example `Condition.StringEquals.aws:username`.
    pub field: Option<String>,
    /// Line and column in the document.
    pub position: Option<Position>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(index) = self.statement {
            parts.push(match &self.sid {
                Some(sid) => format!("Statement[{index}] (Sid `{sid}`)"),
                None => format!("Statement[{index}]"),
            });
        }
        if let Some(field) = &self.field {
            parts.push(format!("`{field}`"));
        }
        if let Some(position) = self.position {
            parts.push(format!("at {position}"));
        }
        f.write_str(&parts.join(" "))
    }
}

/// The wire error code of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The document is not a valid policy.
    MalformedPolicyDocument,
    /// The document is larger than its kind allows.
    LimitExceeded,
}

impl ErrorCode {
    /// The AWS error code string.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedPolicyDocument => "MalformedPolicyDocument",
            ErrorCode::LimitExceeded => "LimitExceeded",
        }
    }
}

/// One problem in a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The wire error code.
    pub code: ErrorCode,
    /// Where it is.
    pub location: Location,
    /// AWS's own `Message` for this problem, exactly as IAM words it (the wire message).
    pub aws: String,
    /// What is wrong in Tessera's words, with the offending value in backticks (the wire's
    /// `Detail`, and what `tessera policy validate` prints).
    pub message: String,
}

// AWS's messages for policy grammar errors. Which finding gets which, and where each wording
// comes from, is recorded in the corpus (`tests/data/malformed.json` and
// `tests/data/grammar-boundary.json`: `AwsMessage` and `AwsSource` of each case).
/// IAM's answer to a document that is not JSON or not shaped like a policy.
pub(crate) const SYNTAX: &str = "Syntax errors in policy.";
/// IAM's answer to a document its older grammar cannot read (an unknown `Version`, an `Effect`
/// other than `Allow` or `Deny`).
pub(crate) const LEGACY: &str = "The policy failed legacy parsing";
const SID_PATTERN: &str =
    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*";
const TRUST_ACTIONS: &str = "AssumeRole policy may only specify STS AssumeRole actions.";
const NO_VENDOR: &str = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
const IAM_RESOURCE_PATH: &str = "IAM resource path must either be \"*\" or start with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/.";
const RCP_PRINCIPAL: &str = "Resource control policies only support \"Principal\": \"*\".";

impl Finding {
    /// The additional `<Error>` elements the wire carries beside AWS's message: `Statement`
    /// (0-based index), `Sid`, `Field`, `Line`, `Column` when known, and `Detail` (Tessera's
    /// message).
    pub fn wire_details(&self) -> Vec<(String, String)> {
        let mut details = Vec::new();
        let location = &self.location;
        if let Some(index) = location.statement {
            details.push(("Statement".to_owned(), index.to_string()));
        }
        if let Some(sid) = &location.sid {
            details.push(("Sid".to_owned(), sid.clone()));
        }
        if let Some(field) = &location.field {
            details.push(("Field".to_owned(), field.clone()));
        }
        if let Some(position) = location.position {
            details.push(("Line".to_owned(), position.line.to_string()));
            details.push(("Column".to_owned(), position.column.to_string()));
        }
        details.push(("Detail".to_owned(), self.message.clone()));
        details
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = self.location.to_string();
        if location.is_empty() { f.write_str(&self.message) } else { write!(f, "{location}: {}", self.message) }
    }
}

/// A rejected document: at least one finding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    /// Every finding, in document order.
    pub findings: Vec<Finding>,
}

impl PolicyError {
    fn one(code: ErrorCode, location: Location, aws: impl Into<String>, message: String) -> PolicyError {
        PolicyError { findings: vec![Finding { code, location, aws: aws.into(), message }] }
    }

    /// The wire error code (that of the first finding).
    pub fn code(&self) -> ErrorCode {
        self.findings.first().map_or(ErrorCode::MalformedPolicyDocument, |f| f.code)
    }

    /// The wire message: AWS's wording for the first finding.
    pub fn aws_message(&self) -> &str {
        self.findings.first().map_or(SYNTAX, |f| f.aws.as_str())
    }

    /// The additional `<Error>` elements for the first finding ([`Finding::wire_details`]), and
    /// `Findings`, how many there are in all, when there is more than one.
    pub fn wire_details(&self) -> Vec<(String, String)> {
        let mut details = self.findings.first().map(Finding::wire_details).unwrap_or_default();
        if self.findings.len() > 1 {
            details.push(("Findings".to_owned(), self.findings.len().to_string()));
        }
        details
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.findings.as_slice() {
            [] => f.write_str("invalid policy document"),
            [only] => write!(f, "{only}"),
            [first, rest @ ..] => write!(f, "{first} (and {} more)", rest.len()),
        }
    }
}

/// Checks the size limit of `kind` (white space excluded), as AWS does before parsing.
pub fn check_size(text: &str, kind: PolicyKind) -> Result<(), PolicyError> {
    let size = text.chars().filter(|c| !c.is_whitespace()).count();
    let max = kind.max_size();
    if size > max {
        let detail = format!(
            "the {} policy has {size} characters without white space; at most {max} are allowed",
            kind.as_str()
        );
        let aws = match kind {
            PolicyKind::Managed | PolicyKind::Boundary => format!("Cannot exceed quota for PolicySize: {max}"),
            PolicyKind::Trust => format!("Cannot exceed quota for ACLSizePerRole: {max}"),
            _ => detail.clone(),
        };
        let message = if aws == detail { detail } else { format!("{aws} ({detail})") };
        return Err(PolicyError::one(ErrorCode::LimitExceeded, Location::default(), aws, message));
    }
    Ok(())
}

/// Parses and validates a document of the given kind.
pub fn parse_policy(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    read_policy(text, kind, true)
}

/// Parses a document that was validated (as a policy of some kind) when it was stored, without
/// validating it again: only what the model cannot be built without (JSON syntax, the types of
/// fields, `Effect`, `Action`) is checked, not the rules of a policy kind, the form of actions,
/// resources and principals, or condition values. So a stored document keeps compiling when
/// validation tightens, and the hot path does not pay for checks its writer already paid for.
pub fn parse_stored_policy(text: &str) -> Result<Policy, PolicyError> {
    // The kind is not consulted when unchecked.
    read_policy(text, PolicyKind::Identity, false)
}

fn read_policy(text: &str, kind: PolicyKind, checked: bool) -> Result<Policy, PolicyError> {
    let root = json::parse(text).map_err(|error| {
        PolicyError::one(
            ErrorCode::MalformedPolicyDocument,
            Location { position: Some(error.position), ..Location::default() },
            SYNTAX,
            format!("Syntax errors in policy: {}.", error.message),
        )
    })?;
    let mut v = Validator { kind, checked, findings: Vec::new(), statement: None, sid: None };
    let policy = v.policy(&root);
    match policy {
        Some(policy) if v.findings.is_empty() => Ok(policy),
        _ => {
            if v.findings.is_empty() {
                v.push(None, None, SYNTAX, "Syntax errors in policy.".to_owned());
            }
            Err(PolicyError { findings: v.findings })
        }
    }
}

struct Validator {
    kind: PolicyKind,
    /// False for stored documents: only what building the model needs is checked.
    checked: bool,
    findings: Vec<Finding>,
    statement: Option<usize>,
    sid: Option<String>,
}

const STATEMENT_FIELDS: [&str; 9] =
    ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];

/// The resource types an IAM resource ARN may start with.
const IAM_RESOURCE_PREFIXES: [&str; 15] = [
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
    "root",
    "assumed-role/",
];

/// Whether the resource part of an IAM ARN is `*` or starts with its resource type written out.
/// AWS: "You cannot use a wildcard in the portion of the ARN that specifies the resource type,
/// such as the term user in an IAM ARN": `us?r/alice` and `u*` fail this.
pub(crate) fn iam_resource_type_written_out(resource: &str) -> bool {
    resource == "*" || IAM_RESOURCE_PREFIXES.iter().any(|prefix| resource.starts_with(prefix))
}

impl Validator {
    fn push(&mut self, field: Option<&str>, position: Option<Position>, aws: impl Into<String>, message: String) {
        self.findings.push(Finding {
            code: ErrorCode::MalformedPolicyDocument,
            aws: aws.into(),
            location: Location {
                statement: self.statement,
                sid: self.sid.clone(),
                field: field.map(str::to_owned),
                position,
            },
            message,
        });
    }

    fn policy(&mut self, root: &Node) -> Option<Policy> {
        let Value::Object(members) = &root.value else {
            self.push(
                None,
                Some(root.span.start),
                SYNTAX,
                format!("the policy must be a JSON object, not {}", root.value.type_name()),
            );
            return None;
        };
        let mut version = None;
        let mut id = None;
        let mut statements = None;
        for (key, node) in members {
            match key.as_str() {
                "Version" => match &node.value {
                    Value::String(s) if s == "2012-10-17" => version = Some(Version::V2012_10_17),
                    Value::String(s) if s == "2008-10-17" => version = Some(Version::V2008_10_17),
                    other => self.push(
                        Some("Version"),
                        Some(node.span.start),
                        LEGACY,
                        format!("The policy failed legacy parsing: `Version` must be \"2012-10-17\" or \"2008-10-17\", not {}", describe(other)),
                    ),
                },
                "Id" => match &node.value {
                    Value::String(s) => id = Some(s.clone()),
                    other => self.push(Some("Id"), Some(node.span.start), SYNTAX, format!("`Id` must be a string, not {}", other.type_name())),
                },
                "Statement" => statements = Some(node),
                other => self.push(Some(other), Some(node.span.start), SYNTAX, format!("Syntax errors in policy: unknown field `{other}`.")),
            }
        }
        if self.checked && self.kind == PolicyKind::Managed && version != Some(Version::V2012_10_17) {
            self.push(
                Some("Version"),
                None,
                "Policy document must be version 2012-10-17 or greater.",
                "Policy document must be version 2012-10-17 or greater.".to_owned(),
            );
        }
        let Some(statements) = statements else {
            self.push(
                Some("Statement"),
                None,
                "Missing required field Statement",
                "Missing required field Statement.".to_owned(),
            );
            return None;
        };
        let statements = match &statements.value {
            Value::Object(_) => OneOrMany::One(self.statement(0, statements)?),
            Value::Array(items) if items.is_empty() => {
                self.push(
                    Some("Statement"),
                    Some(statements.span.start),
                    SYNTAX,
                    "Policy must contain at least one statement.".to_owned(),
                );
                return None;
            }
            Value::Array(items) => {
                let parsed: Vec<Option<Statement>> =
                    items.iter().enumerate().map(|(i, item)| self.statement(i, item)).collect();
                OneOrMany::Many(parsed.into_iter().collect::<Option<Vec<_>>>()?)
            }
            other => {
                self.push(
                    Some("Statement"),
                    Some(statements.span.start),
                    SYNTAX,
                    format!("`Statement` must be an object or a list of objects, not {}", other.type_name()),
                );
                return None;
            }
        };
        self.statement = None;
        self.sid = None;
        let mut seen = HashSet::new();
        for (index, statement) in statements.as_slice().iter().enumerate() {
            if let Some(sid) = &statement.sid
                && !seen.insert(sid.clone())
            {
                self.statement = Some(index);
                self.sid = Some(sid.clone());
                self.push(
                    Some("Sid"),
                    Some(statement.span.start),
                    "Statement IDs (SID) in a single policy must be unique.",
                    format!("Statement IDs (SID) in a single policy must be unique: `{sid}` is repeated."),
                );
            }
        }
        self.statement = None;
        self.sid = None;
        Some(Policy { version, id, statements })
    }

    fn statement(&mut self, index: usize, node: &Node) -> Option<Statement> {
        self.statement = Some(index);
        self.sid = None;
        let Value::Object(members) = &node.value else {
            self.push(
                None,
                Some(node.span.start),
                SYNTAX,
                format!("a statement must be an object, not {}", node.value.type_name()),
            );
            return None;
        };
        let get = |name: &str| members.iter().find(|(key, _)| key == name).map(|(_, node)| node);
        let findings_before = self.findings.len();
        let sid = match get("Sid") {
            Some(node) => match &node.value {
                Value::String(s) => {
                    self.sid = Some(s.clone());
                    if self.checked && self.kind.strict_sid() && !s.chars().all(|c| c.is_ascii_alphanumeric()) {
                        self.push(
                            Some("Sid"),
                            Some(node.span.start),
                            SID_PATTERN,
                            format!("Statement IDs (SID) must be alpha-numeric: `{s}`."),
                        );
                    }
                    Some(s.clone())
                }
                other => {
                    self.push(
                        Some("Sid"),
                        Some(node.span.start),
                        SYNTAX,
                        format!("`Sid` must be a string, not {}", other.type_name()),
                    );
                    None
                }
            },
            None => None,
        };
        for (key, value) in members {
            if !STATEMENT_FIELDS.contains(&key.as_str()) {
                self.push(
                    Some(key),
                    Some(value.span.start),
                    SYNTAX,
                    format!("Syntax errors in policy: unknown field `{key}` in a statement."),
                );
            }
        }
        let effect = match get("Effect") {
            None => {
                self.push(
                    Some("Effect"),
                    Some(node.span.start),
                    "Missing required field Effect",
                    "Missing required field Effect.".to_owned(),
                );
                None
            }
            Some(node) => match &node.value {
                Value::String(s) if s == "Allow" => Some(Effect::Allow),
                Value::String(s) if s == "Deny" => Some(Effect::Deny),
                other => {
                    self.push(
                        Some("Effect"),
                        Some(node.span.start),
                        LEGACY,
                        format!("Invalid effect: {}; it must be \"Allow\" or \"Deny\".", describe(other)),
                    );
                    None
                }
            },
        };
        let principal = self.principal(get("Principal"), get("NotPrincipal"), node);
        let action = self.clause("Action", get("Action"), get("NotAction"), node);
        let resource = self.clause("Resource", get("Resource"), get("NotResource"), node);
        if self.checked && resource.is_some() && self.kind == PolicyKind::Trust {
            self.push(
                Some("Resource"),
                Some(node.span.start),
                "Has prohibited field Resource",
                "Has prohibited field Resource.".to_owned(),
            );
        }
        if self.checked
            && resource.is_none()
            && self.kind.requires_resource()
            && get("Resource").is_none()
            && get("NotResource").is_none()
        {
            self.push(
                Some("Resource"),
                Some(node.span.start),
                "Policy statement must contain resources.",
                "Policy statement must contain resources.".to_owned(),
            );
        }
        let condition = match get("Condition") {
            Some(node) => self.condition(node),
            None => Vec::new(),
        };
        if self.findings.len() > findings_before {
            return None;
        }
        Some(Statement { sid, effect: effect?, principal, action: action?, resource, condition, span: node.span })
    }

    /// `Action`/`NotAction` or `Resource`/`NotResource`.
    fn clause(
        &mut self,
        name: &str,
        positive: Option<&Node>,
        negative: Option<&Node>,
        statement: &Node,
    ) -> Option<Clause> {
        let not_name = format!("Not{name}");
        let (negated, node) = match (positive, negative) {
            (Some(_), Some(node)) => {
                self.push(
                    Some(&not_name),
                    Some(node.span.start),
                    SYNTAX,
                    format!("a statement cannot have both `{name}` and `{not_name}`."),
                );
                return None;
            }
            (Some(node), None) => (false, node),
            (None, Some(node)) => (true, node),
            (None, None) => {
                if name == "Action" {
                    self.push(
                        Some("Action"),
                        Some(statement.span.start),
                        "Policy statement must contain actions.",
                        "Policy statement must contain actions.".to_owned(),
                    );
                }
                return None;
            }
        };
        let field = if negated { not_name.as_str() } else { name };
        let values = self.strings(field, node)?;
        if values.as_slice().is_empty() {
            let message = if name == "Action" {
                "Policy statement must contain actions."
            } else {
                "Policy statement must contain resources."
            };
            self.push(Some(field), Some(node.span.start), message, message.to_owned());
            return None;
        }
        let before = self.findings.len();
        for value in values.as_slice() {
            if !self.checked {
                break;
            } else if name == "Action" {
                self.check_action(field, node, value);
            } else {
                self.check_resource(field, node, value);
            }
        }
        (self.findings.len() == before).then_some(Clause { negated, values })
    }

    fn check_action(&mut self, field: &str, node: &Node, action: &str) {
        let at = Some(node.span.start);
        if action == "*" {
            if self.kind == PolicyKind::Trust {
                self.push(
                    Some(field),
                    at,
                    TRUST_ACTIONS,
                    "AssumeRole policy may only specify STS AssumeRole actions: `*` is not one.".to_owned(),
                );
            }
            return;
        }
        let Some((vendor, name)) = action.split_once(':') else {
            self.push(
                Some(field),
                at,
                NO_VENDOR,
                format!("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.: `{action}`."),
            );
            return;
        };
        if name.contains(':') {
            self.push(
                Some(field),
                at,
                "Actions/Condition can contain only one colon.",
                format!("Actions/Condition can contain only one colon: `{action}`."),
            );
        } else if vendor.is_empty()
            || !vendor.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '*' | '?'))
        {
            self.push(
                Some(field),
                at,
                format!("Vendor {vendor} is not valid"),
                format!("Vendor `{vendor}` is not valid in action `{action}`."),
            );
        } else if name.is_empty() || name.chars().any(char::is_whitespace) {
            self.push(Some(field), at, SYNTAX, format!("Action `{action}` is not valid."));
        } else if self.kind == PolicyKind::Trust && !vendor.eq_ignore_ascii_case("sts") {
            self.push(
                Some(field),
                at,
                TRUST_ACTIONS,
                format!("AssumeRole policy may only specify STS AssumeRole actions: `{action}` is not one."),
            );
        }
    }

    fn check_resource(&mut self, field: &str, node: &Node, resource: &str) {
        if resource == "*" {
            return;
        }
        let at = Some(node.span.start);
        let parts: Vec<&str> = resource.splitn(6, ':').collect();
        if parts.len() < 6 || parts[0] != "arn" {
            // "If the wildcard (*) is the last character of a resource ARN segment, it can expand
            // to match beyond colon boundaries": `arn:aws:s3::*` is every ARN that starts with
            // `arn:aws:s3::` (matched as one pattern over the whole ARN).
            if parts[0] == "arn" && parts.len() > 1 && resource.ends_with('*') {
                return;
            }
            self.push(
                Some(field),
                at,
                format!("Resource {resource} must be in ARN format or \"*\"."),
                format!("Resource `{resource}` must be in ARN format or \"*\"."),
            );
            return;
        }
        // An IAM resource is `*` or starts with its type written out, as IAM's own message says.
        if parts[2] == "iam" && !iam_resource_type_written_out(parts[5]) {
            self.push(
                Some(field),
                at,
                IAM_RESOURCE_PATH,
                format!("IAM resource path must either be \"*\" or start with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/: `{resource}`."),
            );
        }
    }

    /// A string or a non-empty list of strings.
    fn strings(&mut self, field: &str, node: &Node) -> Option<OneOrMany<String>> {
        match &node.value {
            Value::String(s) => Some(OneOrMany::One(s.clone())),
            Value::Array(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    match &item.value {
                        Value::String(s) => values.push(s.clone()),
                        other => {
                            self.push(
                                Some(field),
                                Some(item.span.start),
                                SYNTAX,
                                format!("`{field}` values must be strings, not {}", other.type_name()),
                            );
                            return None;
                        }
                    }
                }
                Some(OneOrMany::Many(values))
            }
            other => {
                self.push(
                    Some(field),
                    Some(node.span.start),
                    SYNTAX,
                    format!("`{field}` must be a string or a list of strings, not {}", other.type_name()),
                );
                None
            }
        }
    }

    fn principal(
        &mut self,
        positive: Option<&Node>,
        negative: Option<&Node>,
        statement: &Node,
    ) -> Option<PrincipalClause> {
        let (negated, node) = match (positive, negative) {
            (Some(_), Some(node)) => {
                self.push(
                    Some("NotPrincipal"),
                    Some(node.span.start),
                    SYNTAX,
                    "a statement cannot have both `Principal` and `NotPrincipal`.".to_owned(),
                );
                return None;
            }
            (Some(node), None) => (false, node),
            (None, Some(node)) => (true, node),
            (None, None) => {
                if self.checked && self.kind.has_principal() {
                    self.push(
                        Some("Principal"),
                        Some(statement.span.start),
                        "Missing required field Principal",
                        "Missing required field Principal.".to_owned(),
                    );
                }
                return None;
            }
        };
        let field = if negated { "NotPrincipal" } else { "Principal" };
        if self.checked && !self.kind.has_principal() {
            self.push(
                Some(field),
                Some(node.span.start),
                "Policy document should not specify a principal.",
                format!(
                    "Policy document should not specify a principal: `{field}` is not allowed in {} policies.",
                    self.kind.as_str()
                ),
            );
            return None;
        }
        if self.checked && negated && self.kind == PolicyKind::Trust {
            self.push(
                Some(field),
                Some(node.span.start),
                "Has prohibited field NotPrincipal",
                "`NotPrincipal` is not allowed in a trust policy.".to_owned(),
            );
            return None;
        }
        if self.checked
            && self.kind == PolicyKind::ResourceControl
            && !matches!(&node.value, Value::String(s) if s == "*")
        {
            self.push(Some(field), Some(node.span.start), RCP_PRINCIPAL, "resource control policies only support `\"Principal\": \"*\"`; narrow them with conditions such as `aws:PrincipalArn`.".to_owned());
            return None;
        }
        let value = match &node.value {
            Value::String(s) if s == "*" => PrincipalValue::Any,
            Value::Object(members) if !members.is_empty() => {
                let mut entries = Vec::new();
                for (key, value) in members {
                    let kind = match key.as_str() {
                        "AWS" => PrincipalType::Aws,
                        "Service" => PrincipalType::Service,
                        "Federated" => PrincipalType::Federated,
                        "CanonicalUser" => PrincipalType::CanonicalUser,
                        other => {
                            self.push(
                                Some(field),
                                Some(value.span.start),
                                SYNTAX,
                                format!("Invalid principal in policy: unknown principal type `{other}`."),
                            );
                            return None;
                        }
                    };
                    let names = self.strings(&format!("{field}.{key}"), value)?;
                    if names.as_slice().is_empty() {
                        self.push(
                            Some(field),
                            Some(value.span.start),
                            SYNTAX,
                            format!("Invalid principal in policy: `{key}` names no principal."),
                        );
                        return None;
                    }
                    for name in names.as_slice() {
                        if self.checked
                            && let Err(why) = check_principal(kind, name)
                        {
                            self.push(
                                Some(field),
                                Some(value.span.start),
                                format!("Invalid principal in policy: \"{key}\":\"{name}\""),
                                format!("Invalid principal in policy: \"{key}\":\"{name}\" ({why})."),
                            );
                        }
                    }
                    entries.push((kind, names));
                }
                PrincipalValue::Map(entries)
            }
            other => {
                self.push(
                    Some(field),
                    Some(node.span.start),
                    SYNTAX,
                    format!("Invalid principal in policy: {}.", describe(other)),
                );
                return None;
            }
        };
        Some(PrincipalClause { negated, value })
    }

    fn condition(&mut self, node: &Node) -> Vec<ConditionBlock> {
        let Value::Object(operators) = &node.value else {
            self.push(
                Some("Condition"),
                Some(node.span.start),
                SYNTAX,
                format!("`Condition` must be an object, not {}", node.value.type_name()),
            );
            return Vec::new();
        };
        let mut blocks = Vec::new();
        for (name, keys) in operators {
            let field = format!("Condition.{name}");
            let Some(operator) = Operator::parse(name) else {
                self.push(
                    Some(&field),
                    Some(keys.span.start),
                    format!("Invalid Condition type : {name}"),
                    format!("Invalid Condition type : `{name}`."),
                );
                continue;
            };
            let Value::Object(keys) = &keys.value else {
                self.push(
                    Some(&field),
                    Some(keys.span.start),
                    SYNTAX,
                    format!("`{name}` must map condition keys to values, not {}", keys.value.type_name()),
                );
                continue;
            };
            let mut entries = Vec::new();
            for (key, values) in keys {
                let field = format!("Condition.{name}.{key}");
                if !key.contains(':') || key.starts_with(':') {
                    self.push(
                        Some(&field),
                        Some(values.span.start),
                        NO_VENDOR,
                        format!("Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.: `{key}`."),
                    );
                    continue;
                }
                let scalars = match &values.value {
                    Value::Array(items) if items.is_empty() => {
                        self.push(
                            Some(&field),
                            Some(values.span.start),
                            SYNTAX,
                            format!("`{key}` under `{name}` has no values."),
                        );
                        continue;
                    }
                    Value::Array(items) => {
                        let mut list = Vec::with_capacity(items.len());
                        for item in items {
                            if let Some(scalar) = self.scalar(&field, item) {
                                list.push(scalar);
                            }
                        }
                        OneOrMany::Many(list)
                    }
                    _ => match self.scalar(&field, values) {
                        Some(scalar) => OneOrMany::One(scalar),
                        None => continue,
                    },
                };
                for scalar in scalars.as_slice() {
                    if self.checked
                        && let Err(why) = check_value(operator.family(), scalar.as_text())
                    {
                        self.push(
                            Some(&field),
                            Some(values.span.start),
                            SYNTAX,
                            format!("Invalid value `{}` for condition operator `{name}`: {why}.", scalar.as_text()),
                        );
                    }
                }
                entries.push((key.clone(), scalars));
            }
            blocks.push(ConditionBlock { operator: name.clone(), entries });
        }
        blocks
    }

    fn scalar(&mut self, field: &str, node: &Node) -> Option<Scalar> {
        match &node.value {
            Value::String(s) => Some(Scalar::String(s.clone())),
            Value::Number(n) => Some(Scalar::Number(n.clone())),
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            other => {
                self.push(
                    Some(field),
                    Some(node.span.start),
                    SYNTAX,
                    format!("condition values must be strings, numbers or booleans, not {}", other.type_name()),
                );
                None
            }
        }
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        Value::Number(n) => format!("`{n}`"),
        other => other.type_name().to_owned(),
    }
}

/// Checks a condition value against its operator family.
fn check_value(family: Family, text: &str) -> Result<(), &'static str> {
    let ok = match family {
        Family::String | Family::Arn => true,
        Family::Numeric => Decimal::parse(text).is_some(),
        Family::Date => parse_date(text).is_some(),
        Family::Bool | Family::Null => parse_bool(text).is_some(),
        Family::Binary => parse_binary(text).is_some(),
        Family::Ip => Network::parse(text).is_some(),
    };
    if ok {
        Ok(())
    } else {
        Err(match family {
            Family::Numeric => "not a number",
            Family::Date => "not an ISO 8601 date or epoch seconds",
            Family::Bool | Family::Null => "not `true` or `false`",
            Family::Binary => "not base64",
            Family::Ip => "not an IP address or CIDR block",
            Family::String | Family::Arn => "invalid",
        })
    }
}

/// Checks one name of a `Principal` map.
fn check_principal(kind: PrincipalType, name: &str) -> Result<(), &'static str> {
    if name == "*" {
        return Ok(());
    }
    if name.contains(['*', '?']) {
        return Err("wildcards are only allowed as the whole value `*`");
    }
    match kind {
        PrincipalType::Aws => {
            if is_account_id(name) || is_unique_id(name) {
                return Ok(());
            }
            let arn = Arn::parse(name).map_err(|_| "not an account id, ARN or unique id")?;
            match arn.entity() {
                Ok(
                    IamEntity::Root
                    | IamEntity::User { .. }
                    | IamEntity::Role { .. }
                    | IamEntity::AssumedRole { .. }
                    | IamEntity::FederatedUser { .. },
                ) => Ok(()),
                _ => Err("not an account, user, role, role session or federated user ARN"),
            }
        }
        PrincipalType::Service | PrincipalType::Federated | PrincipalType::CanonicalUser => {
            if name.is_empty() || name.chars().any(char::is_whitespace) {
                Err("empty or contains white space")
            } else {
                Ok(())
            }
        }
    }
}

/// A user or role unique id as trust policies store them (`AIDA...`, `AROA...`).
pub(crate) fn is_unique_id(name: &str) -> bool {
    (name.starts_with("AIDA") || name.starts_with("AROA"))
        && (16..=128).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(text: &str, kind: PolicyKind) -> Finding {
        parse_policy(text, kind).expect_err("rejected").findings.remove(0)
    }

    #[test]
    fn findings_carry_aws_wording_and_tessera_detail() {
        let text = "{\"Version\":\"2012-10-17\",\"Statement\":[\n{\"Sid\":\"One\",\"Effect\":\"Allow\",\"Action\":\"s3:Get:Object\",\"Resource\":\"*\"}]}";
        let finding = first(text, PolicyKind::Identity);
        assert_eq!(finding.aws, "Actions/Condition can contain only one colon.");
        assert!(finding.message.contains("`s3:Get:Object`"), "{}", finding.message);
        let details = finding.wire_details();
        let get = |name: &str| details.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(
            (get("Statement"), get("Sid"), get("Field"), get("Line")),
            (Some("0"), Some("One"), Some("Action"), Some("2"))
        );
        assert_eq!(get("Detail"), Some(finding.message.as_str()));
        assert!(get("Column").is_some());
    }

    #[test]
    fn aws_messages_by_problem() {
        let cases = [
            ("{not json", PolicyKind::Identity, SYNTAX),
            ("null", PolicyKind::Identity, SYNTAX),
            (
                r#"{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
                PolicyKind::Identity,
                LEGACY,
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"s3:*","Resource":"*"}}"#,
                PolicyKind::Identity,
                LEGACY,
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s 3:x","Resource":"*"}}"#,
                PolicyKind::Identity,
                "Vendor s 3 is not valid",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:x","Resource":"b"}}"#,
                PolicyKind::Identity,
                "Resource b must be in ARN format or \"*\".",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"StringEqualz":{"aws:a":"b"}}}}"#,
                PolicyKind::Identity,
                "Invalid Condition type : StringEqualz",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#,
                PolicyKind::Trust,
                "Missing required field Principal",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:x","Resource":"*"}}"#,
                PolicyKind::Identity,
                "Policy document should not specify a principal.",
            ),
            (
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"sts:AssumeRole"}}"#,
                PolicyKind::Trust,
                "Invalid principal in policy: \"AWS\":\"bob\"",
            ),
        ];
        for (text, kind, aws) in cases {
            assert_eq!(first(text, kind).aws, aws, "{text}");
        }
    }

    #[test]
    fn several_findings_are_counted_on_the_wire() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"x","Resource":"*"},{"Effect":"Allow","Action":"y","Resource":"*"}]}"#;
        let error = parse_policy(text, PolicyKind::Identity).expect_err("rejected");
        assert_eq!(error.aws_message(), NO_VENDOR);
        assert!(error.wire_details().contains(&("Findings".to_owned(), "2".to_owned())));
    }

    #[test]
    fn size_limits_keep_aws_wording() {
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:s3:::{}"}}}}"#,
            "a".repeat(7000)
        );
        let error = check_size(&big, PolicyKind::Managed).expect_err("too large");
        assert_eq!(error.aws_message(), "Cannot exceed quota for PolicySize: 6144");
        assert_eq!(error.code(), ErrorCode::LimitExceeded);
    }
}
