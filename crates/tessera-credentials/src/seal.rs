//! Secrets at rest: AES-256-GCM under the [`MasterKey`], bound to their owner by associated data.
//!
//! A sealed blob is printable ASCII, `v1.<key id>.<base64url, unpadded, of nonce ‖ ciphertext ‖ tag>`,
//! so it can sit in any string field of a record. The nonce is 96 random bits per blob: with
//! random nonces one key should seal fewer than 2^32 blobs, far more than an IAM store holds.
//!
//! The associated data names the blob's owner (for example `b"access-key:AKIA..."`). It is not
//! stored in the blob; the caller passes it again to [`MasterKey::open`], so a blob copied onto
//! another record fails to open as [`SealError::Tampered`].
//!
//! A blob names the key it was sealed under, so a key set (a [`MasterKey`] carrying previous keys,
//! during a rotation) opens each blob with the key it names; [`sealed_key_id`] tells a rotation
//! which blobs still need sealing again.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use tessera_arn::RandomSource;

use crate::SealError;
use crate::master_key::MasterKey;

/// The format tag at the start of every sealed blob.
pub const SEAL_VERSION: &str = "v1";

/// The AES-GCM tag length in bytes.
const TAG_LEN: usize = 16;

/// The id of the key `sealed` names, when it is a well-formed `v1` blob's; never opens it.
pub fn sealed_key_id(sealed: &str) -> Option<&str> {
    let mut parts = sealed.split('.');
    let (Some(SEAL_VERSION), Some(key_id), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    valid_key_id(key_id).then_some(key_id)
}

fn valid_key_id(key_id: &str) -> bool {
    key_id.len() == 8 && key_id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl MasterKey {
    /// Encrypts `plaintext` bound to `aad` under the current key (never a previous one), with a
    /// nonce from `rng`.
    pub fn seal(
        &self,
        plaintext: &[u8],
        aad: &[u8],
        rng: &mut (impl RandomSource + ?Sized),
    ) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut payload = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        payload.extend_from_slice(&nonce);
        let mut in_out = plaintext.to_vec();
        self.aead()?
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut in_out)
            .map_err(|_| SealError::Encrypt)?;
        payload.extend_from_slice(&in_out);
        Ok(format!("{SEAL_VERSION}.{}.{}", self.key_id(), URL_SAFE_NO_PAD.encode(&payload)))
    }

    /// Decrypts a blob made by [`MasterKey::seal`] with the same key and the same `aad`: the
    /// current key or, during a rotation, the previous key the blob names.
    ///
    /// Any input is safe to pass: failures are errors, never panics, and error messages hold no
    /// plaintext.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut parts = sealed.split('.');
        let (Some(version), Some(key_id), Some(payload), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Malformed { reason: "expected `v1.<key id>.<payload>`" });
        };
        if version != SEAL_VERSION {
            return Err(SealError::Malformed { reason: "unknown format version" });
        }
        if !valid_key_id(key_id) {
            return Err(SealError::Malformed { reason: "the key id is not 8 lowercase hex digits" });
        }
        let Some(key) = self.by_id(key_id) else {
            return Err(SealError::WrongKey { found: key_id.to_owned(), expected: self.key_id().to_owned() });
        };
        let mut payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| SealError::Malformed { reason: "the payload is not base64url" })?;
        if payload.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed { reason: "the payload is too short" });
        }
        let mut ciphertext = payload.split_off(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] =
            payload.as_slice().try_into().map_err(|_| SealError::Malformed { reason: "the payload is too short" })?;
        let plaintext_len = key
            .aead()?
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut ciphertext)
            .map_err(|_| SealError::Tampered)?
            .len();
        ciphertext.truncate(plaintext_len);
        Ok(ciphertext)
    }

    /// The AEAD key. Built per call (a key schedule costs far less than the allocation around
    /// it) so that `MasterKey` holds only bytes and construction cannot fail.
    fn aead(&self) -> Result<LessSafeKey, SealError> {
        let unbound = UnboundKey::new(&AES_256_GCM, self.bytes()).map_err(|_| SealError::Encrypt)?;
        Ok(LessSafeKey::new(unbound))
    }
}

#[cfg(test)]
mod tests {
    use tessera_arn::SeededRandom;

    use super::*;

    const AAD: &[u8] = b"access-key:AKIAIOSFODNN7EXAMPLE";
    const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn key(seed: u64) -> MasterKey {
        MasterKey::generate(&mut SeededRandom::new(seed))
    }

    #[test]
    fn seal_open_round_trip() {
        let key = key(1);
        let mut rng = SeededRandom::new(100);
        let sealed = key.seal(SECRET, AAD, &mut rng).unwrap();
        assert!(sealed.starts_with(&format!("v1.{}.", key.key_id())), "{sealed}");
        assert!(sealed.bytes().all(|b| b.is_ascii_graphic()));
        assert!(!sealed.contains("wJalr"));
        assert_eq!(key.open(&sealed, AAD).unwrap(), SECRET);

        // Fresh nonces: sealing twice gives different blobs that both open.
        let again = key.seal(SECRET, AAD, &mut rng).unwrap();
        assert_ne!(again, sealed);
        assert_eq!(key.open(&again, AAD).unwrap(), SECRET);

        // Empty plaintext and empty AAD are fine.
        let empty = key.seal(b"", b"", &mut rng).unwrap();
        assert_eq!(key.open(&empty, b"").unwrap(), b"");
    }

    #[test]
    fn deterministic_under_a_fixed_rng() {
        let key = key(1);
        let a = key.seal(SECRET, AAD, &mut SeededRandom::new(7)).unwrap();
        let b = key.seal(SECRET, AAD, &mut SeededRandom::new(7)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn wrong_aad_is_tampered() {
        let key = key(1);
        let sealed = key.seal(SECRET, AAD, &mut SeededRandom::new(2)).unwrap();
        let error = key.open(&sealed, b"access-key:AKIAOTHERKEYEXAMPLE0").unwrap_err();
        assert!(matches!(error, SealError::Tampered), "{error:?}");
    }

    #[test]
    fn every_flipped_payload_byte_is_tampered() {
        let key = key(1);
        let sealed = key.seal(SECRET, AAD, &mut SeededRandom::new(3)).unwrap();
        let (head, payload) = sealed.rsplit_once('.').unwrap();
        let bytes = URL_SAFE_NO_PAD.decode(payload).unwrap();
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x01;
            let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&flipped));
            assert!(matches!(key.open(&forged, AAD), Err(SealError::Tampered)), "byte {i}");
        }
    }

    #[test]
    fn wrong_key_is_reported_by_key_id() {
        let (a, b) = (key(1), key(2));
        assert_ne!(a.key_id(), b.key_id());
        let sealed = a.seal(SECRET, AAD, &mut SeededRandom::new(4)).unwrap();
        match b.open(&sealed, AAD) {
            Err(SealError::WrongKey { found, expected }) => {
                assert_eq!(found, a.key_id());
                assert_eq!(expected, b.key_id());
            }
            other => panic!("expected WrongKey, got {other:?}"),
        }
        // A different key forged under the right id still fails authentication.
        let forged = sealed.replacen(a.key_id(), b.key_id(), 1);
        assert!(matches!(b.open(&forged, AAD), Err(SealError::Tampered)));
    }

    #[test]
    fn a_key_set_opens_blobs_of_each_of_its_keys_and_seals_under_the_current_one() {
        let (old, new) = (key(1), key(2));
        let set = new.clone().with_previous(old.clone());
        let under_old = old.seal(SECRET, AAD, &mut SeededRandom::new(6)).unwrap();
        assert_eq!(set.open(&under_old, AAD).unwrap(), SECRET);
        let sealed = set.seal(SECRET, AAD, &mut SeededRandom::new(7)).unwrap();
        assert_eq!(sealed_key_id(&sealed), Some(new.key_id()));
        assert_eq!(sealed_key_id(&under_old), Some(old.key_id()));
        assert_eq!(new.open(&sealed, AAD).unwrap(), SECRET);
        // The old key alone cannot open what the set sealed, and the set still checks the AAD.
        assert!(matches!(old.open(&sealed, AAD), Err(SealError::WrongKey { .. })));
        assert!(matches!(set.open(&under_old, b"other"), Err(SealError::Tampered)));
        // A key outside the set is still a wrong key, reported against the current one.
        match set.open(&key(3).seal(SECRET, AAD, &mut SeededRandom::new(8)).unwrap(), AAD) {
            Err(SealError::WrongKey { expected, .. }) => assert_eq!(expected, new.key_id()),
            other => panic!("expected WrongKey, got {other:?}"),
        }
        for malformed in ["", "v1.abc.x", "v2.0011aabb.x", "v1.0011aabb.x.y", "v1.0011AABB.x"] {
            assert_eq!(sealed_key_id(malformed), None, "{malformed}");
        }
    }

    #[test]
    fn malformed_blobs_are_errors_not_panics() {
        let key = key(1);
        let id = key.key_id().to_owned();
        let short = URL_SAFE_NO_PAD.encode([0u8; NONCE_LEN + TAG_LEN - 1]);
        let inputs = [
            String::new(),
            ".".into(),
            "..".into(),
            "v1".into(),
            format!("v1.{id}"),
            format!("v1.{id}."),
            format!("v1.{id}.{short}"),
            format!("v2.{id}.AAAA"),
            format!("v1.{id}.AA.AA"),
            format!("v1.{id}.***"),
            format!("v1.{id}.A"),
            "v1.ABCDEF12.AAAA".into(),
            "v1.abc.AAAA".into(),
            "v1.ééééé.AAAA".into(),
            format!("v1.{id}.{}", "A".repeat(10_000)),
        ];
        for input in &inputs {
            let error = key.open(input, AAD).unwrap_err();
            assert!(matches!(error, SealError::Malformed { .. } | SealError::Tampered), "{input:?}: {error:?}");
        }
        assert!(matches!(key.open(&format!("v1.{id}.{short}"), AAD), Err(SealError::Malformed { .. })));
    }

    #[test]
    fn error_messages_carry_no_secret_bytes() {
        let key = key(1);
        let sealed = key.seal(SECRET, AAD, &mut SeededRandom::new(5)).unwrap();
        let error = key.open(&sealed, b"other").unwrap_err().to_string();
        assert!(!error.contains("wJalr"), "{error}");
        assert!(!error.contains(sealed.rsplit_once('.').unwrap().1), "{error}");
    }
}
