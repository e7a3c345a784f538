//! The policy document model (reference §2.1) and its canonical JSON form.
//!
//! The model keeps what a document said, in the shape it said it (a bare string or a list, one
//! statement or many), so that printing a parsed document and parsing it again gives the same
//! model. Meaning is given to it by [`crate::compile`].

use std::fmt;

use crate::json::{Span, write_string};

/// The policy language version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// `2012-10-17`: the current language, with policy variables.
    V2012_10_17,
    /// `2008-10-17`: the original language; `${...}` is literal text.
    V2008_10_17,
}

impl Version {
    /// The version string as written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2012_10_17 => "2012-10-17",
            Version::V2008_10_17 => "2008-10-17",
        }
    }
}

/// One value or a list of values, as the document wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OneOrMany<T> {
    /// A bare value.
    One(T),
    /// A JSON array.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values, whichever way they were written.
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(value) => std::slice::from_ref(value),
            OneOrMany::Many(values) => values,
        }
    }
}

/// A policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// `Version`, when present.
    pub version: Option<Version>,
    /// `Id`, when present.
    pub id: Option<String>,
    /// `Statement`: one object or a list.
    pub statements: OneOrMany<Statement>,
}

impl Policy {
    /// Whether policy variables are substituted (only under `2012-10-17`).
    pub fn variables_enabled(&self) -> bool {
        self.version == Some(Version::V2012_10_17)
    }
}

/// `Allow` or `Deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `Allow`.
    Allow,
    /// `Deny`.
    Deny,
}

impl Effect {
    /// The effect as written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// One statement. `span` is where it stood in the source (not part of equality).
#[derive(Clone, Debug)]
pub struct Statement {
    /// `Sid`.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Principal` or `NotPrincipal`.
    pub principal: Option<PrincipalClause>,
    /// `Action` or `NotAction`.
    pub action: Clause,
    /// `Resource` or `NotResource`.
    pub resource: Option<Clause>,
    /// `Condition`: operators in document order.
    pub condition: Vec<ConditionBlock>,
    /// Where the statement object stood in the source.
    pub span: Span,
}

impl PartialEq for Statement {
    fn eq(&self, other: &Self) -> bool {
        self.sid == other.sid
            && self.effect == other.effect
            && self.principal == other.principal
            && self.action == other.action
            && self.resource == other.resource
            && self.condition == other.condition
    }
}

impl Eq for Statement {}

/// `Action`/`NotAction` or `Resource`/`NotResource`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clause {
    /// True for `NotAction` / `NotResource`.
    pub negated: bool,
    /// The patterns.
    pub values: OneOrMany<String>,
}

/// `Principal` or `NotPrincipal`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrincipalClause {
    /// True for `NotPrincipal`.
    pub negated: bool,
    /// What it names.
    pub value: PrincipalValue,
}

/// The value of a `Principal` element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalValue {
    /// `"*"`: everyone, including anonymous callers.
    Any,
    /// A map from principal type to names, in document order.
    Map(Vec<(PrincipalType, OneOrMany<String>)>),
}

/// The keys of a `Principal` map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// `AWS`: accounts, users, roles, sessions, unique ids.
    Aws,
    /// `Service`: service principals such as `ec2.amazonaws.com`.
    Service,
    /// `Federated`: OIDC and SAML providers.
    Federated,
    /// `CanonicalUser`: S3 canonical user ids.
    CanonicalUser,
}

impl PrincipalType {
    /// The key as written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::Aws => "AWS",
            PrincipalType::Service => "Service",
            PrincipalType::Federated => "Federated",
            PrincipalType::CanonicalUser => "CanonicalUser",
        }
    }
}

/// One operator of a `Condition` block with its keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionBlock {
    /// The operator as written, for example `ForAnyValue:StringLikeIfExists`.
    pub operator: String,
    /// Keys and their values, in document order.
    pub entries: Vec<(String, OneOrMany<Scalar>)>,
}

/// A condition value. JSON numbers and booleans are allowed besides strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scalar {
    /// A JSON string.
    String(String),
    /// A JSON number, as written.
    Number(String),
    /// A JSON boolean.
    Bool(bool),
}

impl Scalar {
    /// The value as text, the way conditions compare it.
    pub fn as_text(&self) -> &str {
        match self {
            Scalar::String(s) | Scalar::Number(s) => s,
            Scalar::Bool(true) => "true",
            Scalar::Bool(false) => "false",
        }
    }
}

impl fmt::Display for Policy {
    /// Prints the document as compact JSON, in a canonical member order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        out.push('{');
        let mut first = true;
        let mut member = |out: &mut String, name: &str| {
            if !first {
                out.push(',');
            }
            first = false;
            write_string(out, name);
            out.push(':');
        };
        if let Some(version) = self.version {
            member(&mut out, "Version");
            write_string(&mut out, version.as_str());
        }
        if let Some(id) = &self.id {
            member(&mut out, "Id");
            write_string(&mut out, id);
        }
        member(&mut out, "Statement");
        write_one_or_many(&mut out, &self.statements, write_statement);
        out.push('}');
        f.write_str(&out)
    }
}

fn write_one_or_many<T>(out: &mut String, values: &OneOrMany<T>, write: impl Fn(&mut String, &T)) {
    match values {
        OneOrMany::One(value) => write(out, value),
        OneOrMany::Many(values) => {
            out.push('[');
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, value);
            }
            out.push(']');
        }
    }
}

fn write_scalar(out: &mut String, value: &Scalar) {
    match value {
        Scalar::String(s) => write_string(out, s),
        Scalar::Number(n) => out.push_str(n),
        Scalar::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

fn write_statement(out: &mut String, statement: &Statement) {
    out.push('{');
    if let Some(sid) = &statement.sid {
        out.push_str("\"Sid\":");
        write_string(out, sid);
        out.push(',');
    }
    out.push_str("\"Effect\":");
    write_string(out, statement.effect.as_str());
    if let Some(principal) = &statement.principal {
        out.push_str(if principal.negated { ",\"NotPrincipal\":" } else { ",\"Principal\":" });
        match &principal.value {
            PrincipalValue::Any => out.push_str("\"*\""),
            PrincipalValue::Map(entries) => {
                out.push('{');
                for (i, (kind, names)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, kind.as_str());
                    out.push(':');
                    write_one_or_many(out, names, |out, name: &String| write_string(out, name));
                }
                out.push('}');
            }
        }
    }
    out.push_str(if statement.action.negated { ",\"NotAction\":" } else { ",\"Action\":" });
    write_one_or_many(out, &statement.action.values, |out, name: &String| write_string(out, name));
    if let Some(resource) = &statement.resource {
        out.push_str(if resource.negated { ",\"NotResource\":" } else { ",\"Resource\":" });
        write_one_or_many(out, &resource.values, |out, name: &String| write_string(out, name));
    }
    if !statement.condition.is_empty() {
        out.push_str(",\"Condition\":{");
        for (i, block) in statement.condition.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(out, &block.operator);
            out.push_str(":{");
            for (j, (key, values)) in block.entries.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_one_or_many(out, values, write_scalar);
            }
            out.push('}');
        }
        out.push('}');
    }
    out.push('}');
}
