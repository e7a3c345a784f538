//! Unique IDs (`AIDA…`, `AROA…`) and access key IDs (`AKIA…`, `ASIA…`) from caller-supplied randomness.

use std::fmt;

/// A source of random bytes. Callers supply it, so this crate stays deterministic under test.
///
/// Production code should pass a cryptographically secure generator: unique IDs and access
/// key IDs are not secrets, but they must not be predictable or collide.
pub trait RandomSource {
    /// Fills `dest` with random bytes.
    fn fill_bytes(&mut self, dest: &mut [u8]);
}

impl<T: RandomSource + ?Sized> RandomSource for &mut T {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        (**self).fill_bytes(dest);
    }
}

/// A tiny deterministic generator (SplitMix64) for tests and examples.
///
/// **Not cryptographic**: its output is predictable from its seed. Never use it to mint IDs,
/// keys or secrets in a running service. The field is the current state; any value is a valid
/// seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeededRandom(pub u64);

impl SeededRandom {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> SeededRandom {
        SeededRandom(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl RandomSource for SeededRandom {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// The 4-character prefix that tells what kind of thing an ID names (reference §1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdPrefix {
    /// `AIDA`: IAM user.
    User,
    /// `AGPA`: IAM group.
    Group,
    /// `AROA`: IAM role.
    Role,
    /// `AIPA`: instance profile.
    InstanceProfile,
    /// `AKIA`: long-term access key ID.
    AccessKey,
    /// `ASIA`: temporary (STS) access key ID.
    TemporaryAccessKey,
    /// `ANPA`: managed policy.
    Policy,
    /// `ANVA`: managed policy version.
    PolicyVersion,
    /// `APKA`: public key.
    PublicKey,
    /// `ASCA`: certificate.
    Certificate,
    /// `ABIA`: STS bearer token.
    BearerToken,
    /// `ACCA`: context-specific credential.
    ContextCredential,
}

impl IdPrefix {
    /// Every prefix, in declaration order.
    pub const ALL: [IdPrefix; 12] = [
        IdPrefix::User,
        IdPrefix::Group,
        IdPrefix::Role,
        IdPrefix::InstanceProfile,
        IdPrefix::AccessKey,
        IdPrefix::TemporaryAccessKey,
        IdPrefix::Policy,
        IdPrefix::PolicyVersion,
        IdPrefix::PublicKey,
        IdPrefix::Certificate,
        IdPrefix::BearerToken,
        IdPrefix::ContextCredential,
    ];

    /// The four uppercase letters, e.g. `AIDA`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdPrefix::User => "AIDA",
            IdPrefix::Group => "AGPA",
            IdPrefix::Role => "AROA",
            IdPrefix::InstanceProfile => "AIPA",
            IdPrefix::AccessKey => "AKIA",
            IdPrefix::TemporaryAccessKey => "ASIA",
            IdPrefix::Policy => "ANPA",
            IdPrefix::PolicyVersion => "ANVA",
            IdPrefix::PublicKey => "APKA",
            IdPrefix::Certificate => "ASCA",
            IdPrefix::BearerToken => "ABIA",
            IdPrefix::ContextCredential => "ACCA",
        }
    }
}

impl fmt::Display for IdPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The characters after the prefix: uppercase base32 (`A`–`Z`, `2`–`7`).
pub const ID_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Length of a unique ID: 4-character prefix plus 17 characters.
pub const UNIQUE_ID_LEN: usize = 21;

/// Length of an access key ID: 4-character prefix plus 16 characters.
pub const ACCESS_KEY_ID_LEN: usize = 20;

/// Appends `prefix` and `n` random alphabet characters to a new string.
fn random_id(prefix: IdPrefix, n: usize, rng: &mut impl RandomSource) -> String {
    let mut bytes = [0u8; UNIQUE_ID_LEN];
    let bytes = &mut bytes[..n];
    rng.fill_bytes(bytes);
    let mut id = String::with_capacity(4 + n);
    id.push_str(prefix.as_str());
    // INVARIANT: the alphabet has 32 = 2^5 letters, so the low 5 bits of a uniform byte pick
    // a letter uniformly with no rejection needed.
    id.extend(bytes.iter().map(|b| char::from(ID_ALPHABET[usize::from(b & 0x1f)])));
    id
}

/// A new 21-character unique ID such as `AIDAJQABLZS4A3QDU576Q`.
pub fn unique_id(prefix: IdPrefix, rng: &mut impl RandomSource) -> String {
    random_id(prefix, UNIQUE_ID_LEN - 4, rng)
}

/// A new 20-character access key ID: `ASIA…` when `temporary`, else `AKIA…`.
pub fn access_key_id(temporary: bool, rng: &mut impl RandomSource) -> String {
    let prefix = if temporary { IdPrefix::TemporaryAccessKey } else { IdPrefix::AccessKey };
    random_id(prefix, ACCESS_KEY_ID_LEN - 4, rng)
}

/// The kind of an ID, from its first four characters; `None` if they are no known prefix.
pub fn prefix_of(id: &str) -> Option<IdPrefix> {
    let head = id.get(..4)?;
    IdPrefix::ALL.into_iter().find(|p| p.as_str() == head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_distinct_four_letter_codes() {
        let mut seen = std::collections::HashSet::new();
        for p in IdPrefix::ALL {
            assert_eq!(p.as_str().len(), 4);
            assert!(p.as_str().bytes().all(|b| b.is_ascii_uppercase()));
            assert!(seen.insert(p.as_str()), "{p} twice");
            assert_eq!(p.to_string(), p.as_str());
        }
        assert_eq!(IdPrefix::User.as_str(), "AIDA");
        assert_eq!(IdPrefix::Role.as_str(), "AROA");
        assert_eq!(IdPrefix::TemporaryAccessKey.as_str(), "ASIA");
    }

    #[test]
    fn unique_ids_have_prefix_length_and_alphabet() {
        let mut rng = SeededRandom::new(7);
        for p in IdPrefix::ALL {
            let id = unique_id(p, &mut rng);
            assert_eq!(id.len(), UNIQUE_ID_LEN);
            assert!(id.starts_with(p.as_str()));
            assert!(id[4..].bytes().all(|b| ID_ALPHABET.contains(&b)), "{id}");
            assert_eq!(prefix_of(&id), Some(p));
        }
    }

    #[test]
    fn access_key_ids() {
        let mut rng = SeededRandom::new(1);
        let long = access_key_id(false, &mut rng);
        let temp = access_key_id(true, &mut rng);
        assert_eq!(long.len(), ACCESS_KEY_ID_LEN);
        assert_eq!(temp.len(), ACCESS_KEY_ID_LEN);
        assert_eq!(prefix_of(&long), Some(IdPrefix::AccessKey));
        assert_eq!(prefix_of(&temp), Some(IdPrefix::TemporaryAccessKey));
        assert!(temp[4..].bytes().all(|b| ID_ALPHABET.contains(&b)));
    }

    #[test]
    fn seeded_random_is_deterministic_and_varies() {
        let a = unique_id(IdPrefix::User, &mut SeededRandom::new(42));
        let b = unique_id(IdPrefix::User, &mut SeededRandom::new(42));
        let c = unique_id(IdPrefix::User, &mut SeededRandom::new(43));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut rng = SeededRandom::new(42);
        assert_ne!(unique_id(IdPrefix::User, &mut rng), unique_id(IdPrefix::User, &mut rng));
    }

    #[test]
    fn seeded_random_matches_splitmix64_reference() {
        // First outputs of SplitMix64 seeded with 1234567, as published with the algorithm.
        let mut rng = SeededRandom::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn fill_bytes_handles_partial_chunks() {
        let mut whole = [0u8; 16];
        SeededRandom::new(9).fill_bytes(&mut whole);
        let mut part = [0u8; 11];
        SeededRandom::new(9).fill_bytes(&mut part);
        assert_eq!(part[..8], whole[..8]);
        assert_eq!(part[8..], whole[8..11]);
    }

    #[test]
    fn every_alphabet_letter_is_reachable() {
        // A constant source that counts up hits each residue mod 32.
        struct Counter(u8);
        impl RandomSource for Counter {
            fn fill_bytes(&mut self, dest: &mut [u8]) {
                for b in dest {
                    *b = self.0;
                    self.0 = self.0.wrapping_add(1);
                }
            }
        }
        let mut counter = Counter(0);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2 {
            seen.extend(unique_id(IdPrefix::Group, &mut counter)[4..].bytes());
        }
        assert_eq!(seen.len(), 32);
    }

    #[test]
    fn dyn_sources_work_through_references() {
        let mut rng = SeededRandom::new(3);
        let dyn_rng: &mut dyn RandomSource = &mut rng;
        let id = unique_id(IdPrefix::Role, &mut &mut *dyn_rng);
        assert_eq!(prefix_of(&id), Some(IdPrefix::Role));
    }

    #[test]
    fn prefix_of_unknown_or_short() {
        assert_eq!(prefix_of(""), None);
        assert_eq!(prefix_of("AID"), None);
        assert_eq!(prefix_of("AIDA"), Some(IdPrefix::User));
        assert_eq!(prefix_of("aida1234"), None);
        assert_eq!(prefix_of("AXXA1234"), None);
        assert_eq!(prefix_of("AIDé"), None);
        assert_eq!(prefix_of("123456789012"), None);
    }
}
