//! SSH public keys that IAM users upload (`UploadSSHPublicKey`, for CodeCommit-style SSH access):
//! `ssh-rsa` of at least 2048 bits and `ssh-ed25519`, in OpenSSH's one-line form (read by the
//! `ssh-key` crate) or as PEM (`PUBLIC KEY`, a SubjectPublicKeyInfo, read by `x509-parser`; or
//! `RSA PUBLIC KEY`, PKCS#1). Each key is shown in both encodings (`GetSSHPublicKey`'s `Encoding`)
//! and by AWS's fingerprint: the MD5 digest of the key's SSH wire blob, hex with colons.
//!
//! The PEM form Tessera writes is a SubjectPublicKeyInfo, DER-encoded here by hand: the structure
//! is fixed (an algorithm OID, an optional NULL and a bit string), and no crate in the tree
//! encodes DER.

use md5::{Digest, Md5};
use ssh_key::public::{Ed25519PublicKey, KeyData, RsaPublicKey};
use ssh_key::{Mpint, PublicKey};
use x509_parser::der_parser::der::parse_der;
use x509_parser::oid_registry::OID_SIG_ED25519;
use x509_parser::public_key::PublicKey as SpkiKey;

/// The longest body AWS accepts.
pub const MAX_SSH_KEY_LEN: usize = 16_384;

/// The shortest RSA modulus AWS accepts for an SSH key.
pub const MIN_RSA_BITS: usize = 2048;

/// The longest RSA modulus Tessera accepts (OpenSSH's own limit).
pub const MAX_RSA_BITS: usize = 16_384;

/// Why an SSH public key was refused, with AWS's error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshKeyError {
    /// `UnrecognizedPublicKeyEncoding`: neither OpenSSH's format nor PEM, or a key type AWS does
    /// not take.
    #[error("The public key encoding format is unsupported or unrecognized.")]
    Unrecognized,
    /// `InvalidPublicKey`: a key in a known encoding that AWS refuses (too short).
    #[error("{0}")]
    Invalid(&'static str),
}

impl SshKeyError {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unrecognized => "UnrecognizedPublicKeyEncoding",
            Self::Invalid(_) => "InvalidPublicKey",
        }
    }
}

/// An accepted key in both of AWS's encodings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshPublicKey {
    /// `ssh-rsa AAAA…` / `ssh-ed25519 AAAA…`, without a comment.
    pub openssh: String,
    /// `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo).
    pub pem: String,
    /// MD5 of the SSH wire blob, `aa:bb:…` (47 characters).
    pub fingerprint: String,
}

enum Key {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ed25519([u8; 32]),
}

fn unsigned(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn rsa_bits(n: &[u8]) -> usize {
    let n = unsigned(n);
    n.first().map_or(0, |first| n.len() * 8 - first.leading_zeros() as usize)
}

fn from_openssh(text: &str) -> Option<Key> {
    let key = PublicKey::from_openssh(text).ok()?;
    match key.key_data() {
        KeyData::Rsa(rsa) => {
            Some(Key::Rsa { n: rsa.n.as_positive_bytes()?.to_vec(), e: rsa.e.as_positive_bytes()?.to_vec() })
        }
        KeyData::Ed25519(key) => Some(Key::Ed25519(key.0)),
        _ => None,
    }
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn pkcs1_public(der: &[u8]) -> Option<Key> {
    let (rest, object) = parse_der(der).ok()?;
    let fields = object.as_sequence().ok()?;
    if !rest.is_empty() || fields.len() != 2 {
        return None;
    }
    let int = |i: usize| match &fields[i].content {
        x509_parser::der_parser::ber::BerObjectContent::Integer(bytes) => Some(unsigned(bytes).to_vec()),
        _ => None,
    };
    Some(Key::Rsa { n: int(0)?, e: int(1)? })
}

fn from_pem(text: &str) -> Option<Key> {
    let block = pem::parse(text.as_bytes()).ok()?;
    match block.tag() {
        "RSA PUBLIC KEY" => pkcs1_public(block.contents()),
        "PUBLIC KEY" => {
            let spki = crate::x509::spki(block.contents())?;
            if spki.algorithm.algorithm == OID_SIG_ED25519 {
                let key: [u8; 32] = spki.subject_public_key.data.as_ref().try_into().ok()?;
                return Some(Key::Ed25519(key));
            }
            match spki.parsed().ok()? {
                SpkiKey::RSA(rsa) => {
                    Some(Key::Rsa { n: unsigned(rsa.modulus).to_vec(), e: unsigned(rsa.exponent).to_vec() })
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Reads an uploaded SSH public key.
pub fn parse_ssh_public_key(body: &str) -> Result<SshPublicKey, SshKeyError> {
    if body.len() > MAX_SSH_KEY_LEN {
        return Err(SshKeyError::Unrecognized);
    }
    let text = body.trim();
    let key = if text.starts_with("-----BEGIN") { from_pem(text) } else { from_openssh(text) }
        .ok_or(SshKeyError::Unrecognized)?;
    if let Key::Rsa { n, e } = &key {
        let bits = rsa_bits(n);
        if bits < MIN_RSA_BITS {
            return Err(SshKeyError::Invalid("The RSA public key must be at least 2048 bits long."));
        }
        if bits > MAX_RSA_BITS || unsigned(e).is_empty() {
            return Err(SshKeyError::Invalid("The public key is invalid."));
        }
    }
    encode(&key).ok_or(SshKeyError::Unrecognized)
}

fn encode(key: &Key) -> Option<SshPublicKey> {
    let data = match key {
        Key::Rsa { n, e } => KeyData::Rsa(RsaPublicKey {
            e: Mpint::from_positive_bytes(e).ok()?,
            n: Mpint::from_positive_bytes(n).ok()?,
        }),
        Key::Ed25519(bytes) => KeyData::Ed25519(Ed25519PublicKey(*bytes)),
    };
    let public = PublicKey::new(data, "");
    let blob = public.to_bytes().ok()?;
    let openssh = public.to_openssh().ok()?.trim().to_owned();
    let digest = Md5::digest(&blob);
    let fingerprint = digest.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    let spki = match key {
        Key::Rsa { n, e } => {
            let rsa = tlv(0x30, &[tlv(0x02, &der_integer(n)), tlv(0x02, &der_integer(e))].concat());
            // rsaEncryption with NULL parameters.
            let algorithm = tlv(0x30, &[tlv(0x06, &[42, 134, 72, 134, 247, 13, 1, 1, 1]), vec![0x05, 0x00]].concat());
            tlv(0x30, &[algorithm, bit_string(&rsa)].concat())
        }
        Key::Ed25519(bytes) => {
            let algorithm = tlv(0x30, &tlv(0x06, &[43, 101, 112]));
            tlv(0x30, &[algorithm, bit_string(bytes)].concat())
        }
    };
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    let pem = pem::encode_config(&pem::Pem::new("PUBLIC KEY", spki), config).trim_end().to_owned();
    Some(SshPublicKey { openssh, pem, fingerprint })
}

/// A DER tag-length-value.
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(value);
    out
}

/// A positive INTEGER's content: a leading zero when the high bit is set.
fn der_integer(bytes: &[u8]) -> Vec<u8> {
    let bytes = unsigned(bytes);
    let mut out = Vec::with_capacity(bytes.len() + 1);
    if bytes.first().is_none_or(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(bytes);
    out
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    tlv(0x03, &[&[0u8][..], bytes].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@example";

    #[test]
    fn ed25519_round_trips_through_pem() {
        let key = parse_ssh_public_key(ED25519).unwrap();
        assert_eq!(key.openssh, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl");
        assert_eq!(key.fingerprint.len(), 47);
        assert!(key.pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let again = parse_ssh_public_key(&key.pem).unwrap();
        assert_eq!(again, key);
    }

    #[test]
    fn short_rsa_keys_and_garbage_are_refused() {
        assert_eq!(parse_ssh_public_key("ssh-rsa AAAA").unwrap_err().code(), "UnrecognizedPublicKeyEncoding");
        assert_eq!(parse_ssh_public_key("").unwrap_err().code(), "UnrecognizedPublicKeyEncoding");
        // A 1024-bit modulus.
        let key = Key::Rsa { n: [&[0xc0u8][..], &[0x11; 127]].concat(), e: vec![1, 0, 1] };
        let encoded = encode(&key).unwrap();
        assert_eq!(parse_ssh_public_key(&encoded.openssh).unwrap_err().code(), "InvalidPublicKey");
        assert_eq!(parse_ssh_public_key(&encoded.pem).unwrap_err().code(), "InvalidPublicKey");
        let long = Key::Rsa { n: [&[0xc0u8][..], &[0x11; 255]].concat(), e: vec![1, 0, 1] };
        let encoded = encode(&long).unwrap();
        let parsed = parse_ssh_public_key(&encoded.openssh).unwrap();
        assert_eq!(parse_ssh_public_key(&parsed.pem).unwrap(), parsed);
    }
}
