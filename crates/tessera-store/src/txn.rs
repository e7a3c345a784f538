//! Transactions: the checks that guard a commit and the writes it applies, all in one namespace.

use std::fmt;

use crate::{Key, StoreError};

/// What a transaction expects of a key when it commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The key does not exist.
    Absent,
    /// The key exists with exactly this version (nobody wrote it since it was read).
    Version(u64),
    /// The key exists, whatever its version.
    Present,
}

/// A write to one key.
#[derive(Clone, PartialEq, Eq)]
pub enum Write {
    Put(Vec<u8>),
    Delete,
}

impl fmt::Debug for Write {
    // Values can be large (policy documents) or sealed secrets: a length is enough in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Write::Put(value) => write!(f, "Put({} bytes)", value.len()),
            Write::Delete => f.write_str("Delete"),
        }
    }
}

/// How soon a commit must be on disk. Only the embedded store tells them apart (Redis and the
/// memory store answer every commit the same way).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// On disk when `commit` returns.
    #[default]
    Immediate,
    /// Visible to readers when `commit` returns, on disk with the next immediate commit (any
    /// later commit that is not deferred, including an empty one): a crash before it loses the
    /// writes. For records whose loss costs little (a session record: its token is
    /// self-contained), written by a caller that commits immediately within a bound it chooses.
    Deferred,
}

/// Checks and writes that commit atomically.
///
/// INVARIANT: every key belongs to one namespace (see the crate docs); `commit` rejects others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    pub checks: Vec<(Key, Expect)>,
    pub writes: Vec<(Key, Write)>,
    pub durability: Durability,
}

impl Transaction {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(mut self, key: Key, expect: Expect) -> Self {
        self.checks.push((key, expect));
        self
    }

    pub fn put(mut self, key: Key, value: impl Into<Vec<u8>>) -> Self {
        self.writes.push((key, Write::Put(value.into())));
        self
    }

    pub fn delete(mut self, key: Key) -> Self {
        self.writes.push((key, Write::Delete));
        self
    }

    /// Commits without waiting for the disk ([`Durability::Deferred`]).
    pub fn deferred(mut self) -> Self {
        self.durability = Durability::Deferred;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty() && self.writes.is_empty()
    }

    /// The namespace tag shared by all keys (`None` for an empty transaction), or the error every
    /// backend returns when keys of two namespaces are mixed.
    pub fn namespace_tag(&self) -> Result<Option<&str>, StoreError> {
        let mut keys = self.checks.iter().map(|(k, _)| k).chain(self.writes.iter().map(|(k, _)| k));
        let Some(first) = keys.next() else { return Ok(None) };
        let tag = first.namespace_tag();
        match keys.find(|k| k.namespace_tag() != tag) {
            None => Ok(Some(tag)),
            Some(other) => {
                Err(StoreError::CrossNamespace { first: tag.to_owned(), second: other.namespace_tag().to_owned() })
            }
        }
    }
}

impl Expect {
    /// Whether the expectation holds for a key whose current version is `current` (`None`: absent).
    pub(crate) fn holds(self, current: Option<u64>) -> bool {
        match self {
            Expect::Absent => current.is_none(),
            Expect::Present => current.is_some(),
            Expect::Version(want) => current == Some(want),
        }
    }
}

/// Where a prefix scan starts: at `prefix`, or just after `start_after` when that is further on.
pub(crate) fn scan_start<'a>(prefix: &'a Key, start_after: Option<&'a Key>) -> std::ops::Bound<&'a Key> {
    match start_after {
        Some(after) if after >= prefix => std::ops::Bound::Excluded(after),
        _ => std::ops::Bound::Included(prefix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Kind, Namespace};

    const ITEM: Kind = Kind::new("item");

    #[test]
    fn transactions_must_stay_in_one_namespace() {
        let a = Namespace::account("a").unwrap();
        let b = Namespace::account("b").unwrap();
        assert_eq!(Transaction::new().namespace_tag().unwrap(), None);
        let same = Transaction::new().check(Key::new(&a, ITEM, "1"), Expect::Absent).put(Key::new(&a, ITEM, "2"), "v");
        assert_eq!(same.namespace_tag().unwrap(), Some("a"));
        let mixed = same.delete(Key::new(&b, ITEM, "1"));
        match mixed.namespace_tag() {
            Err(StoreError::CrossNamespace { first, second }) => {
                assert_eq!((first.as_str(), second.as_str()), ("a", "b"))
            }
            other => panic!("expected CrossNamespace, got {other:?}"),
        }
    }

    #[test]
    fn debug_does_not_print_values() {
        let shown = format!("{:?}", Write::Put(b"sealed-secret".to_vec()));
        assert_eq!(shown, "Put(13 bytes)");
    }
}
