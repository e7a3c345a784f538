//! The request context: condition keys and their values (reference §2.5).
//!
//! Keys are case-insensitive, so they are folded once on insertion; compiled conditions fold
//! theirs at compile time, and a lookup is then one hash probe.

use std::borrow::Cow;
use std::collections::HashMap;

/// Keys are few and set by the server (the caller's, the request's, a calling service's settable
/// ones), so a fast seeded hash serves; SipHash was a visible part of every decision.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Folds a condition key for case-insensitive lookup (tag keys may be non-ASCII).
pub fn fold_key(key: &str) -> String {
    if key.is_ascii() { key.to_ascii_lowercase() } else { key.to_lowercase() }
}

/// The keys every decision's context holds, spelt as the server sets them, with their folded
/// forms, so that building a context allocates no key for them.
const WELL_KNOWN: [(&str, &str); 15] = [
    ("aws:PrincipalArn", "aws:principalarn"),
    ("aws:PrincipalAccount", "aws:principalaccount"),
    ("aws:PrincipalType", "aws:principaltype"),
    ("aws:userid", "aws:userid"),
    ("aws:username", "aws:username"),
    ("aws:CurrentTime", "aws:currenttime"),
    ("aws:EpochTime", "aws:epochtime"),
    ("aws:SecureTransport", "aws:securetransport"),
    ("aws:ViaAWSService", "aws:viaawsservice"),
    ("aws:SourceIp", "aws:sourceip"),
    ("aws:MultiFactorAuthPresent", "aws:multifactorauthpresent"),
    ("aws:MultiFactorAuthAge", "aws:multifactorauthage"),
    ("aws:TokenIssueTime", "aws:tokenissuetime"),
    ("aws:SourceIdentity", "aws:sourceidentity"),
    ("aws:RequestedRegion", "aws:requestedregion"),
];

/// The folded form of a [`WELL_KNOWN`] key in its server spelling; `None` for any other key or
/// spelling.
fn well_known(key: &str) -> Option<&'static str> {
    WELL_KNOWN.iter().find(|(spelt, _)| *spelt == key).map(|(_, folded)| *folded)
}

/// `key` folded, borrowed when it is [`well_known`].
fn folded(key: &str) -> Cow<'static, str> {
    match well_known(key) {
        Some(folded) => Cow::Borrowed(folded),
        None => Cow::Owned(fold_key(key)),
    }
}

/// The values of one key.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    values: Values,
    /// Declared as a list (`aws:TagKeys`, `...List` types): never a policy variable.
    multivalued: bool,
}

/// Most keys have one value, held without a list of its own (a request's context is built per
/// decision: one allocation fewer for each of its keys).
#[derive(Clone, Debug)]
enum Values {
    One([String; 1]),
    Many(Vec<String>),
}

impl Values {
    fn as_slice(&self) -> &[String] {
        match self {
            Values::One(one) => one,
            Values::Many(many) => many,
        }
    }
}

impl PartialEq for Values {
    fn eq(&self, other: &Values) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Values {}

/// Condition keys and their values for one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    entries: Map<Cow<'static, str>, Entry>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Context {
        Context::default()
    }

    /// An empty context with room for `keys` keys (a request's context has a dozen or two).
    pub fn with_capacity(keys: usize) -> Context {
        Context { entries: Map::with_capacity_and_hasher(keys, foldhash::fast::RandomState::default()) }
    }

    /// Sets a single-valued key, replacing any earlier value.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.entries.insert(folded(key), Entry { values: Values::One([value.into()]), multivalued: false });
    }

    /// Sets a multivalued key (possibly empty), replacing any earlier values.
    pub fn insert_list(&mut self, key: &str, values: impl IntoIterator<Item = impl Into<String>>) {
        let values = Values::Many(values.into_iter().map(Into::into).collect());
        self.entries.insert(folded(key), Entry { values, multivalued: true });
    }

    /// Sets every key of `other` here, replacing the values this context held for it (a
    /// request's own keys over the caller's).
    pub fn overlay(&mut self, other: &Context) {
        for (key, entry) in &other.entries {
            self.entries.insert(key.clone(), entry.clone());
        }
    }

    /// The values of a key given in folded form; `None` when absent (an empty list is present).
    pub(crate) fn values(&self, folded_key: &str) -> Option<&[String]> {
        self.entries.get(folded_key).map(|entry| entry.values.as_slice())
    }

    /// The value of a single-valued key given in folded form, for policy variables.
    pub(crate) fn single(&self, folded_key: &str) -> Option<&str> {
        match self.entries.get(folded_key) {
            Some(Entry { values: Values::One([value]), multivalued: false }) => Some(value),
            _ => None,
        }
    }

    /// Whether the key is present with at least one value.
    pub fn contains(&self, key: &str) -> bool {
        self.values(&fold_key(key)).is_some_and(|values| !values.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every well-known key's borrowed form is what folding it gives, so a context finds it
    /// whichever way it was inserted and a policy spells it.
    #[test]
    fn well_known_keys_fold_as_any_other() {
        for (key, _) in WELL_KNOWN {
            assert_eq!(well_known(key), Some(fold_key(key).as_str()), "{key}");
            let mut context = Context::new();
            context.insert(key, "v");
            assert_eq!(context.values(&fold_key(&key.to_uppercase())), Some(&["v".to_owned()][..]), "{key}");
        }
        assert_eq!(well_known("AWS:PRINCIPALARN"), None);
        let mut context = Context::new();
        context.insert("AWS:PRINCIPALARN", "a");
        context.insert("aws:PrincipalArn", "b");
        assert_eq!(context.values("aws:principalarn"), Some(&["b".to_owned()][..]), "one key, however spelt");
    }
}
