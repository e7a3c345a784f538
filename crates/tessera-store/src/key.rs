//! Keys namespaced by account and laid out so that one account's keys share a Redis Cluster slot.
//!
//! Every key is `t:{NS}:<kind>:<rest>`, where `NS` is an account id or `global`. Redis Cluster hashes
//! only the part between the first `{` and the following `}`, so all keys of one namespace land in
//! one slot and a multi-key transaction (one Lua script) is legal there.

use std::fmt;

use thiserror::Error;

/// The hash tag of the cross-account namespace (for example access key id → account).
const GLOBAL: &str = "global";

/// Why a namespace or stored key was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("invalid account id `{0}`: expected 1 to 64 ASCII letters, digits, `-` or `_`, and not `global`")]
    InvalidAccount(String),
    #[error("malformed stored key `{0}`: expected `t:{{namespace}}:...`")]
    Malformed(String),
}

/// The namespace of a key: one account, or the global namespace for cross-account lookups.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(String);

impl Namespace {
    /// The namespace of account `id`.
    pub fn account(id: &str) -> Result<Self, KeyError> {
        let valid = !id.is_empty()
            && id.len() <= 64
            && id != GLOBAL
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid { Ok(Self(id.to_owned())) } else { Err(KeyError::InvalidAccount(id.to_owned())) }
    }

    /// The namespace shared by all accounts, for lookups that start without an account.
    pub fn global() -> Self {
        Self(GLOBAL.to_owned())
    }

    /// The namespace whose tag is `tag` (as [`Key::namespace_tag`] returns it): `global` or an
    /// account id.
    pub fn from_tag(tag: &str) -> Result<Self, KeyError> {
        if tag == GLOBAL { Ok(Self::global()) } else { Self::account(tag) }
    }

    pub fn is_global(&self) -> bool {
        self.0 == GLOBAL
    }

    /// The hash tag: the account id, or `global`.
    pub fn tag(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A kind of record (`user`, `role`, ...): a compile-time constant, checked when it is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kind(&'static str);

impl Kind {
    /// Defines a kind. `name` must be 1 to 32 lowercase ASCII letters, digits or `-`; as a `const`
    /// a bad name fails the build rather than a request.
    pub const fn new(name: &'static str) -> Self {
        let bytes = name.as_bytes();
        assert!(!bytes.is_empty() && bytes.len() <= 32, "a kind has 1 to 32 characters");
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            assert!(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-', "a kind is [a-z0-9-]+");
            i += 1;
        }
        Self(name)
    }

    pub const fn name(self) -> &'static str {
        self.0
    }
}

/// A storage key (or a key prefix, for scans): `t:{NS}:<kind>:<rest>`, compared bytewise.
///
/// INVARIANT: a `Key` starts with `t:{NS}:` where `NS` contains no `}`, and it is UTF-8, so it never
/// contains the byte `0xff` (the Redis backend uses that byte as the upper bound of prefix scans).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(String);

impl Key {
    /// The key of record `rest` of `kind` in `ns`. `rest` may be empty (a prefix of the whole kind)
    /// and may contain `:` (for example `group-member:GROUP:USER`).
    pub fn new(ns: &Namespace, kind: Kind, rest: &str) -> Self {
        Self(format!("t:{{{}}}:{}:{rest}", ns.tag(), kind.name()))
    }

    /// The prefix of every key of `ns`, for scanning a whole namespace.
    pub fn namespace_prefix(ns: &Namespace) -> Self {
        Self(format!("t:{{{}}}:", ns.tag()))
    }

    /// Re-reads a key a backend stored, checking the layout.
    pub fn from_stored(raw: String) -> Result<Self, KeyError> {
        let tag_ok = raw
            .strip_prefix("t:{")
            .and_then(|tail| tail.split_once("}:"))
            .is_some_and(|(tag, _)| !tag.is_empty() && !tag.contains('{') && !tag.contains('}'));
        if tag_ok { Ok(Self(raw)) } else { Err(KeyError::Malformed(raw)) }
    }

    /// The namespace tag (account id or `global`).
    pub fn namespace_tag(&self) -> &str {
        // INVARIANT (type): the key starts with `t:{TAG}:` and TAG contains no `}`.
        let tail = &self.0[3..];
        &tail[..tail.find('}').unwrap_or(tail.len())]
    }

    /// What follows `prefix` in this key, if the key starts with it.
    pub fn suffix_after<'a>(&'a self, prefix: &Key) -> Option<&'a str> {
        self.0.strip_prefix(prefix.as_str())
    }

    pub fn starts_with(&self, prefix: &Key) -> bool {
        self.0.starts_with(prefix.as_str())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: Kind = Kind::new("user");

    #[test]
    fn layout_puts_the_namespace_in_a_hash_tag() {
        let ns = Namespace::account("123456789012").unwrap();
        let key = Key::new(&ns, USER, "alice:x");
        assert_eq!(key.as_str(), "t:{123456789012}:user:alice:x");
        assert_eq!(key.namespace_tag(), "123456789012");
        assert_eq!(Key::new(&Namespace::global(), USER, "a").namespace_tag(), "global");
        assert_eq!(key.suffix_after(&Key::new(&ns, USER, "")), Some("alice:x"));
        assert!(key.starts_with(&Key::namespace_prefix(&ns)));
    }

    #[test]
    fn account_ids_that_would_break_the_layout_are_rejected() {
        for bad in ["", "global", "a}b", "a{b", "a:b", "a b", &"1".repeat(65)] {
            assert_eq!(Namespace::account(bad), Err(KeyError::InvalidAccount(bad.to_owned())), "{bad:?}");
        }
        assert!(Namespace::account("Acc_1-x").is_ok());
    }

    #[test]
    fn stored_keys_are_checked() {
        assert!(Key::from_stored("t:{a}:user:x".into()).is_ok());
        for bad in ["t:a:user", "t:{}:x", "x:{a}:y", "t:{a", "t:{a{b}:x"] {
            assert!(Key::from_stored(bad.into()).is_err(), "{bad}");
        }
    }
}
