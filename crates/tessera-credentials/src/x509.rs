//! X.509 certificates and private keys that IAM users upload: server certificates (a PEM
//! certificate, its private key and an optional chain, `UploadServerCertificate`) and signing
//! certificates (a PEM certificate, `UploadSigningCertificate`).
//!
//! PEM armour is read by the `pem` crate, certificates by `x509-parser` (signatures of a chain
//! checked with its `ring` backend). Private keys are PKCS#1 (`RSA PRIVATE KEY`), SEC1
//! (`EC PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`) DER read with `der-parser` (the DER reader
//! x509-parser is built on): Tessera only needs the public half of a key to compare it with the
//! certificate's, which no small well-kept crate in the tree offers for all three forms. An RSA
//! key matches when its modulus and exponent are the certificate's; an EC key when `ring`
//! accepts its private scalar together with the certificate's public point (ring derives the
//! point and refuses a mismatch).
//!
//! Key sizes are AWS's: RSA of 1024 to 4096 bits, ECDSA on P-256 or P-384. The private key is a
//! secret: it appears in no error message and in no `Debug` output.

use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::ber::BerObject;
use x509_parser::der_parser::der::parse_der;
use x509_parser::der_parser::oid::Oid;
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// The largest certificate body or private key AWS accepts (its model's `max`).
pub const MAX_PEM_LEN: usize = 16_384;

/// The largest certificate chain AWS accepts.
pub const MAX_CHAIN_LEN: usize = 2_097_152;

/// Why an uploaded certificate, key or chain was refused; each carries AWS's error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// `MalformedCertificate`: not a PEM X.509 certificate (or chain, or key) Tessera can read.
    #[error("{0}")]
    Malformed(&'static str),
    /// `KeyPairMismatch`: the private key is not the certificate's.
    #[error("The private key did not match the public key in the certificate.")]
    KeyPairMismatch,
    /// `InvalidCertificate`: a well-formed certificate that AWS would not accept (expired, or a
    /// key AWS does not support).
    #[error("{0}")]
    Invalid(&'static str),
}

impl CertificateError {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "MalformedCertificate",
            Self::KeyPairMismatch => "KeyPairMismatch",
            Self::Invalid(_) => "InvalidCertificate",
        }
    }
}

const NOT_PEM: &str = "Unable to parse certificate. Please ensure the certificate is in PEM format.";
const BAD_KEY: &str = "Unable to parse private key. Please ensure the private key is in PEM format.";
const BAD_CHAIN: &str = "Unable to parse certificate chain. Please ensure the certificate chain is in PEM format.";
const CHAIN_ORDER: &str = "Unable to validate certificate chain. The certificate chain must start with the immediate signing certificate, followed by any intermediaries in order.";
const BAD_KEY_TYPE: &str = "The certificate's public key is not supported: use an RSA key of 1024 to 4096 bits or an ECDSA key on P-256 or P-384.";

/// A certificate as read from its PEM: its DER, validity (unix seconds) and the PEM text
/// normalized (one certificate, no surrounding text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCertificate {
    pub der: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    /// The certificate re-armoured as PEM (64-column base64, `\n` line ends).
    pub pem: String,
}

/// The PEM blocks of `text` with label `label`; `None` when the text is not PEM at all or has a
/// block of another label.
fn blocks(text: &str, labels: &[&str]) -> Option<Vec<pem::Pem>> {
    let blocks = pem::parse_many(text.as_bytes()).ok()?;
    if blocks.is_empty() || blocks.iter().any(|b| !labels.contains(&b.tag())) {
        return None;
    }
    Some(blocks)
}

fn armour(der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new("CERTIFICATE", der.to_vec()), config).trim_end().to_owned()
}

fn parse_der_certificate(der: &[u8]) -> Option<X509Certificate<'_>> {
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], cert)) => Some(cert),
        _ => None,
    }
}

fn parsed(der: Vec<u8>) -> Option<ParsedCertificate> {
    let cert = parse_der_certificate(&der)?;
    let (not_before, not_after) = (cert.validity().not_before.timestamp(), cert.validity().not_after.timestamp());
    let pem = armour(&der);
    Some(ParsedCertificate { der, not_before, not_after, pem })
}

/// Exactly one PEM certificate (a signing certificate, a server certificate's body).
pub fn parse_certificate(body: &str) -> Result<ParsedCertificate, CertificateError> {
    if body.len() > MAX_PEM_LEN {
        return Err(CertificateError::Malformed(NOT_PEM));
    }
    let mut blocks = blocks(body, &["CERTIFICATE"]).ok_or(CertificateError::Malformed(NOT_PEM))?;
    if blocks.len() != 1 {
        return Err(CertificateError::Malformed(NOT_PEM));
    }
    parsed(blocks.remove(0).into_contents()).ok_or(CertificateError::Malformed(NOT_PEM))
}

/// Whether the certificate's key is one AWS accepts: RSA of 1024 to 4096 bits, ECDSA on P-256 or
/// P-384.
pub fn check_key_type(cert: &ParsedCertificate) -> Result<(), CertificateError> {
    let x509 = parse_der_certificate(&cert.der).ok_or(CertificateError::Malformed(NOT_PEM))?;
    match public_key(x509.public_key()) {
        Some(_) => Ok(()),
        None => Err(CertificateError::Invalid(BAD_KEY_TYPE)),
    }
}

/// The certificate's public key, when it is of a type and size AWS accepts.
enum CertKey<'a> {
    Rsa { modulus: &'a [u8], exponent: &'a [u8] },
    Ec { curve: Curve, point: &'a [u8] },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

impl Curve {
    fn of(oid: &Oid<'_>) -> Option<Self> {
        if *oid == OID_EC_P256 {
            Some(Self::P256)
        } else if *oid == OID_NIST_EC_P384 {
            Some(Self::P384)
        } else {
            None
        }
    }

    fn scalar_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }

    fn signing(self) -> &'static ring::signature::EcdsaSigningAlgorithm {
        match self {
            Self::P256 => &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            Self::P384 => &ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        }
    }
}

/// A big-endian unsigned integer without its leading zero bytes.
fn unsigned(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn bits(bytes: &[u8]) -> usize {
    let bytes = unsigned(bytes);
    match bytes.first() {
        Some(first) => bytes.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

fn public_key<'a>(spki: &'a SubjectPublicKeyInfo<'a>) -> Option<CertKey<'a>> {
    match spki.parsed().ok()? {
        PublicKey::RSA(rsa) => {
            let size = bits(rsa.modulus);
            (1024..=4096).contains(&size).then_some(CertKey::Rsa { modulus: rsa.modulus, exponent: rsa.exponent })
        }
        PublicKey::EC(_) => {
            let params = spki.algorithm.parameters.as_ref()?;
            let curve = Curve::of(&Oid::try_from(params).ok()?)?;
            // The point as the certificate encodes it; ring refuses any other than uncompressed.
            Some(CertKey::Ec { curve, point: spki.subject_public_key.data.as_ref() })
        }
        _ => None,
    }
}

/// The parts of a private key needed to match it with a certificate.
enum PrivateKey<'a> {
    Rsa { modulus: &'a [u8], exponent: &'a [u8] },
    Ec { scalar: &'a [u8] },
}

fn integer<'a>(object: &BerObject<'a>) -> Option<&'a [u8]> {
    match &object.content {
        x509_parser::der_parser::ber::BerObjectContent::Integer(bytes) => Some(bytes),
        _ => None,
    }
}

/// `RSAPrivateKey ::= SEQUENCE { version, modulus, publicExponent, privateExponent, ... }`.
fn pkcs1(der: &[u8]) -> Option<PrivateKey<'_>> {
    let (rest, object) = parse_der(der).ok()?;
    let fields = object.as_sequence().ok()?;
    if !rest.is_empty() || fields.len() < 9 {
        return None;
    }
    Some(PrivateKey::Rsa { modulus: integer(&fields[1])?, exponent: integer(&fields[2])? })
}

/// `ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [0] params, [1] publicKey }`.
fn sec1(der: &[u8]) -> Option<PrivateKey<'_>> {
    let (rest, object) = parse_der(der).ok()?;
    let fields = object.as_sequence().ok()?;
    if !rest.is_empty() || fields.len() < 2 || fields[0].as_u32().ok()? != 1 {
        return None;
    }
    Some(PrivateKey::Ec { scalar: fields[1].as_slice().ok()? })
}

/// `PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier, privateKey OCTET STRING, ... }`.
fn pkcs8(der: &[u8]) -> Option<PrivateKey<'_>> {
    let (rest, object) = parse_der(der).ok()?;
    let fields = object.as_sequence().ok()?;
    if !rest.is_empty() || fields.len() < 3 {
        return None;
    }
    let algorithm = fields[1].as_sequence().ok()?.first()?.as_oid().ok()?.clone();
    let inner = fields[2].as_slice().ok()?;
    if algorithm == OID_PKCS1_RSAENCRYPTION {
        pkcs1(inner)
    } else if algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        sec1(inner)
    } else {
        None
    }
}

/// Reads the PEM private key `key` and checks that it is the private half of `cert`'s key.
pub fn check_key_pair(cert: &ParsedCertificate, key: &str) -> Result<(), CertificateError> {
    if key.len() > MAX_PEM_LEN {
        return Err(CertificateError::Malformed(BAD_KEY));
    }
    let blocks = blocks(key, &["RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "EC PARAMETERS"])
        .ok_or(CertificateError::Malformed(BAD_KEY))?;
    let mut keys = blocks.iter().filter(|b| b.tag() != "EC PARAMETERS");
    let (Some(block), None) = (keys.next(), keys.next()) else {
        return Err(CertificateError::Malformed(BAD_KEY));
    };
    let private = match block.tag() {
        "RSA PRIVATE KEY" => pkcs1(block.contents()),
        "EC PRIVATE KEY" => sec1(block.contents()),
        _ => pkcs8(block.contents()),
    }
    .ok_or(CertificateError::Malformed(BAD_KEY))?;
    let x509 = parse_der_certificate(&cert.der).ok_or(CertificateError::Malformed(NOT_PEM))?;
    let public = public_key(x509.public_key()).ok_or(CertificateError::Invalid(BAD_KEY_TYPE))?;
    let matches = match (public, private) {
        (CertKey::Rsa { modulus, exponent }, PrivateKey::Rsa { modulus: n, exponent: e }) => {
            unsigned(modulus) == unsigned(n) && unsigned(exponent) == unsigned(e)
        }
        (CertKey::Ec { curve, point }, PrivateKey::Ec { scalar }) => {
            scalar.len() == curve.scalar_len()
                && ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
                    curve.signing(),
                    scalar,
                    point,
                    &ring::rand::SystemRandom::new(),
                )
                .is_ok()
        }
        _ => false,
    };
    if matches { Ok(()) } else { Err(CertificateError::KeyPairMismatch) }
}

/// Reads a certificate chain (PEM certificates, the issuer of `leaf` first, each followed by its
/// own issuer) and checks each link's signature. Returns the chain re-armoured.
pub fn check_chain(leaf: &ParsedCertificate, chain: &str) -> Result<String, CertificateError> {
    if chain.len() > MAX_CHAIN_LEN {
        return Err(CertificateError::Malformed(BAD_CHAIN));
    }
    let blocks = blocks(chain, &["CERTIFICATE"]).ok_or(CertificateError::Malformed(BAD_CHAIN))?;
    let mut certs = Vec::with_capacity(blocks.len());
    for block in blocks {
        certs.push(parsed(block.into_contents()).ok_or(CertificateError::Malformed(BAD_CHAIN))?);
    }
    let mut child = leaf.clone();
    for issuer in &certs {
        let (Some(c), Some(i)) = (parse_der_certificate(&child.der), parse_der_certificate(&issuer.der)) else {
            return Err(CertificateError::Malformed(BAD_CHAIN));
        };
        if c.issuer() != i.subject() || c.verify_signature(Some(i.public_key())).is_err() {
            return Err(CertificateError::Malformed(CHAIN_ORDER));
        }
        child = issuer.clone();
    }
    Ok(certs.iter().map(|c| c.pem.as_str()).collect::<Vec<_>>().join("\n"))
}

/// `SubjectPublicKeyInfo` DER, for the SSH module's PEM keys.
pub(crate) fn spki(der: &[u8]) -> Option<SubjectPublicKeyInfo<'_>> {
    match SubjectPublicKeyInfo::from_der(der) {
        Ok(([], spki)) => Some(spki),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(alg: &'static rcgen::SignatureAlgorithm) -> (String, String) {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["example.com".into()]).unwrap().self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn matching_keys_are_accepted_and_others_refused() {
        // rcgen's ring backend cannot generate RSA keys: the compat suite covers RSA.
        for alg in [&rcgen::PKCS_ECDSA_P256_SHA256, &rcgen::PKCS_ECDSA_P384_SHA384] {
            let (cert, key) = self_signed(alg);
            let parsed = parse_certificate(&cert).unwrap();
            assert!(parsed.not_after > parsed.not_before);
            check_key_pair(&parsed, &key).unwrap();
            let (_, other) = self_signed(alg);
            assert_eq!(check_key_pair(&parsed, &other), Err(CertificateError::KeyPairMismatch));
        }
    }

    #[test]
    fn ed25519_certificates_are_not_server_certificates() {
        let (cert, key) = self_signed(&rcgen::PKCS_ED25519);
        let parsed = parse_certificate(&cert).unwrap();
        assert_eq!(check_key_type(&parsed).unwrap_err().code(), "InvalidCertificate");
        assert_eq!(check_key_pair(&parsed, &key).unwrap_err().code(), "MalformedCertificate");
    }

    #[test]
    fn garbage_is_malformed() {
        for body in ["", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"] {
            assert_eq!(parse_certificate(body).unwrap_err().code(), "MalformedCertificate");
        }
        let (cert, key) = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
        let parsed = parse_certificate(&cert).unwrap();
        assert_eq!(parse_certificate(&format!("{cert}{cert}")).unwrap_err().code(), "MalformedCertificate");
        assert_eq!(check_key_pair(&parsed, &cert).unwrap_err().code(), "MalformedCertificate");
        // The key is in no message.
        let err = check_key_pair(&parsed, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        assert!(!format!("{err:?}").contains("AAAA"));
        let _ = key;
    }

    #[test]
    fn chains_must_be_in_order() {
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let leaf_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let leaf =
            rcgen::CertificateParams::new(vec!["example.com".into()]).unwrap().signed_by(&leaf_key, &issuer).unwrap();
        let parsed = parse_certificate(&leaf.pem()).unwrap();
        assert!(check_chain(&parsed, &ca.pem()).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
        let (other, _) = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
        assert_eq!(check_chain(&parsed, &other).unwrap_err(), CertificateError::Malformed(CHAIN_ORDER));
        assert_eq!(check_chain(&parsed, "junk").unwrap_err(), CertificateError::Malformed(BAD_CHAIN));
    }
}
