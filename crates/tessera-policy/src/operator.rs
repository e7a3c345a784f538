//! Condition operators (reference §2.3): the base operators, `...IfExists`, and the
//! `ForAllValues:` / `ForAnyValue:` set prefixes.

/// The family of a base operator: how its values are typed and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    String,
    Numeric,
    Date,
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// How a base operator compares a request value with a policy value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Comparison {
    /// Equal (for strings: exact; for IP: contained in; for ARNs: per-segment glob).
    Equals,
    /// Equal ignoring case (strings only).
    EqualsIgnoreCase,
    /// Glob match (strings only).
    Like,
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
}

/// A base operator: its family, its positive comparison, and whether it is negated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Base {
    pub(crate) family: Family,
    pub(crate) comparison: Comparison,
    /// `...NotEquals`, `StringNotLike`, `NotIpAddress`, `ArnNot...`: true when the request value
    /// matches none of the policy values.
    pub(crate) negated: bool,
}

/// `ForAllValues:` or `ForAnyValue:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SetOperator {
    ForAllValues,
    ForAnyValue,
}

/// A parsed condition operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Operator {
    pub(crate) set: Option<SetOperator>,
    pub(crate) base: Base,
    pub(crate) if_exists: bool,
}

impl Operator {
    /// Parses an operator name; `None` for an unknown one.
    pub(crate) fn parse(name: &str) -> Option<Operator> {
        let (set, rest) = if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (Some(SetOperator::ForAllValues), rest)
        } else if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (Some(SetOperator::ForAnyValue), rest)
        } else {
            (None, name)
        };
        let (if_exists, base) = match rest.strip_suffix("IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let base = base_operator(base)?;
        if if_exists && base.family == Family::Null {
            return None;
        }
        Some(Operator { set, base, if_exists })
    }

    pub(crate) fn family(&self) -> Family {
        self.base.family
    }
}

fn base_operator(name: &str) -> Option<Base> {
    use Comparison::*;
    use Family::*;
    let (family, comparison, negated) = match name {
        "StringEquals" => (String, Equals, false),
        "StringNotEquals" => (String, Equals, true),
        "StringEqualsIgnoreCase" => (String, EqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (String, EqualsIgnoreCase, true),
        "StringLike" => (String, Like, false),
        "StringNotLike" => (String, Like, true),
        "NumericEquals" => (Numeric, Equals, false),
        "NumericNotEquals" => (Numeric, Equals, true),
        "NumericLessThan" => (Numeric, LessThan, false),
        "NumericLessThanEquals" => (Numeric, LessThanEquals, false),
        "NumericGreaterThan" => (Numeric, GreaterThan, false),
        "NumericGreaterThanEquals" => (Numeric, GreaterThanEquals, false),
        "DateEquals" => (Date, Equals, false),
        "DateNotEquals" => (Date, Equals, true),
        "DateLessThan" => (Date, LessThan, false),
        "DateLessThanEquals" => (Date, LessThanEquals, false),
        "DateGreaterThan" => (Date, GreaterThan, false),
        "DateGreaterThanEquals" => (Date, GreaterThanEquals, false),
        "Bool" => (Bool, Equals, false),
        "BinaryEquals" => (Binary, Equals, false),
        "IpAddress" => (Ip, Equals, false),
        "NotIpAddress" => (Ip, Equals, true),
        "ArnEquals" | "ArnLike" => (Arn, Like, false),
        "ArnNotEquals" | "ArnNotLike" => (Arn, Like, true),
        "Null" => (Null, Equals, false),
        _ => return None,
    };
    Some(Base { family, comparison, negated })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prefixes_and_suffixes() {
        let op = Operator::parse("ForAnyValue:StringNotLikeIfExists").unwrap();
        assert_eq!(op.set, Some(SetOperator::ForAnyValue));
        assert!(op.if_exists && op.base.negated);
        assert_eq!(op.base.comparison, Comparison::Like);
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("stringequals").is_none());
        assert!(Operator::parse("ForSomeValues:StringEquals").is_none());
        assert_eq!(Operator::parse("ArnEquals").unwrap().base, Operator::parse("ArnLike").unwrap().base);
    }
}
