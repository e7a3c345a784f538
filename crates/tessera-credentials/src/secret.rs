//! [`Secret`], a string that never shows up in `Debug` output, and a constant-time comparison.

use std::fmt;

/// A secret string (a secret access key, a session token, a password in transit).
///
/// It has no `Display`, and its `Debug` prints `Secret(***)`, so a secret inside a struct that
/// is logged with `{:?}` stays hidden. Read it with [`Secret::expose`], and compare it with
/// [`Secret::ct_eq`], never with `==` (there is deliberately no `PartialEq`).
///
/// On drop the bytes are overwritten with zeros. This is best effort: copies made before the
/// value reached the `Secret` (or by reallocation while building the string) are not wiped.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself. Call this only where the value is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret's length in bytes (not secret: every access key secret has the same length).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares the secret with `other` in time that depends only on the lengths.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        constant_time_eq(self.0.as_bytes(), other)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(std::mem::take(&mut self.0).into_bytes());
    }
}

/// Overwrites `bytes` with zeros before freeing them; `black_box` keeps the compiler from
/// removing the writes as dead stores.
pub(crate) fn wipe(mut bytes: Vec<u8>) {
    bytes.fill(0);
    std::hint::black_box(&bytes);
}

/// Whether `a == b`, in time that depends only on the lengths of the inputs, not their contents.
///
/// Inputs of different lengths are unequal (the lengths of the secrets compared here are public).
/// ring's `constant_time` module is deprecated in ring 0.17, hence this XOR fold.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // `black_box` stops the optimiser from turning the fold into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(Secret(***))");
        assert_eq!(secret.expose(), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert_eq!(secret.len(), 40);
        assert!(!secret.is_empty());
    }

    #[test]
    fn ct_eq_compares_contents_and_lengths() {
        let secret = Secret::from(String::from("abc"));
        assert!(secret.ct_eq(b"abc"));
        assert!(!secret.ct_eq(b"abd"));
        assert!(!secret.ct_eq(b"ab"));
        assert!(!secret.ct_eq(b"abcd"));
        assert!(!secret.ct_eq(b""));
        assert!(Secret::new("").ct_eq(b""));
    }

    #[test]
    fn constant_time_eq_table() {
        for (a, b, equal) in [
            (&b""[..], &b""[..], true),
            (b"a", b"a", true),
            (b"a", b"b", false),
            (b"\x00", b"\x80", false),
            (b"same length", b"same lengtH", false),
            (b"short", b"longer", false),
        ] {
            assert_eq!(constant_time_eq(a, b), equal, "{a:?} vs {b:?}");
        }
    }
}
