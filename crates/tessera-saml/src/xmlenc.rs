//! Encrypted assertions, identifiers and attributes (SAML core 2.2.4, 2.3.4, 2.7.3.2; XML
//! Encryption 1.0 and 1.1): the `EncryptedData` of an `EncryptedAssertion`, `EncryptedID` or
//! `EncryptedAttribute` decrypted with a key transported in an `EncryptedKey` under one of the
//! provider's private keys.
//!
//! Accepted: key transport RSA-OAEP (`xmlenc#rsa-oaep-mgf1p`, whose mask function is always
//! MGF1-SHA-1, and `xmlenc11#rsa-oaep` with its `MGF`), with SHA-1, SHA-256, SHA-384 or SHA-512
//! digests, and an optional `OAEPparams` label; data encryption AES-128/192/256-GCM and
//! AES-128/192/256-CBC. Refused: RSA PKCS#1 v1.5 key transport (`xmlenc#rsa-1_5`, open to
//! Bleichenbacher's attack and disallowed by XML Encryption 1.1), key agreement, key wrapping,
//! `CipherReference`, and anything but a whole element (`Type` `xmlenc#Element`).
//!
//! The private-key operation is blinded (`rsa`'s `decrypt_blinded`) with the caller's randomness.
//! Every failure of the decryption is one [`SamlError::Undecryptable`], whose detail is for logs:
//! encryption gives no authenticity (anyone holding the provider's public key can encrypt), so a
//! caller that could tell a padding failure from a parse failure would have a decryption oracle.
//!
//! An `EncryptedID` or `EncryptedAttribute` is decrypted only inside an assertion whose signature
//! has been verified (over its ciphertext, as the identity provider signed it), and what it
//! decrypts to is parsed strictly by [`decrypt_element`]: one `NameID` or one `Attribute` element,
//! in the namespace scope of the encrypted element, bounded in size, with no DTD, no signature, no
//! encrypted data and no assertion inside.

use std::fmt;
use std::fmt::Write as _;

use ring::rand::SecureRandom;
use roxmltree::Node;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use rsa::{Oaep, RsaPrivateKey};

use crate::{ASSERTION_NS, DSIG_NS, SamlError, children, only_child, text_of};

pub(crate) const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
const XENC11_NS: &str = "http://www.w3.org/2009/xmlenc11#";
const TYPE_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP_11: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
/// At most this many `EncryptedKey`s are tried (each costs a private-key operation per key).
const MAX_ENCRYPTED_KEYS: usize = 4;
/// The largest plaintext of an `EncryptedID` or `EncryptedAttribute` parsed, in bytes (a `Role`
/// attribute listing many roles stays well below; the whole `SAMLAssertion` is at most 100,000
/// characters of base64).
const MAX_ELEMENT_PLAINTEXT: usize = 64 * 1024;
/// The RSA key sizes accepted for a provider's private key, in bits.
const MIN_KEY_BITS: usize = 2048;
const MAX_KEY_BITS: usize = 8192;

/// A SAML provider's private key for encrypted assertions (RSA, 2048 to 8192 bits). `Debug`
/// shows only the key size; the key is zeroed when dropped (`rsa`'s `ZeroizeOnDrop`).
#[derive(Clone)]
pub struct DecryptionKey {
    key: RsaPrivateKey,
}

impl fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptionKey").field("bits", &self.bits()).finish_non_exhaustive()
    }
}

/// Why a PEM private key was refused. Never quotes the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("the private key is not an unencrypted PEM RSA private key (PKCS#1 or PKCS#8)")]
    NotRsaPem,
    #[error("the RSA private key must be 2048 to 8192 bits")]
    Size,
}

impl DecryptionKey {
    /// Parses an unencrypted PEM RSA private key: `RSA PRIVATE KEY` (PKCS#1) or `PRIVATE KEY`
    /// (PKCS#8), checked for consistency.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let pem = pem.trim();
        let key = RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
            .map_err(|_| KeyError::NotRsaPem)?;
        key.validate().map_err(|_| KeyError::NotRsaPem)?;
        let key = Self { key };
        if !(MIN_KEY_BITS..=MAX_KEY_BITS).contains(&key.bits()) {
            return Err(KeyError::Size);
        }
        Ok(key)
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.n().bits()
    }
}

/// How a provider takes encrypted assertions, and its keys.
#[derive(Clone, Copy)]
pub struct Decryption<'a> {
    /// The provider's private keys (at most 2 in IAM).
    pub keys: &'a [DecryptionKey],
    /// `AssertionEncryptionMode` `Required`: a plain assertion is refused, also when its
    /// `NameID` or attributes are encrypted (`EncryptedID`, `EncryptedAttribute`): AWS's
    /// `Required` is that the assertion be encrypted, and a plain assertion shows its issuer,
    /// conditions and other attributes to whoever carries it. With `Allowed`, such elements
    /// are decrypted with the same keys.
    pub required: bool,
    /// Randomness for the blinding of the private-key operation.
    pub random: &'a dyn SecureRandom,
}

impl fmt::Debug for Decryption<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decryption").field("keys", &self.keys.len()).field("required", &self.required).finish()
    }
}

/// `ring`'s randomness as the `rand_core` 0.6 generator `rsa` takes.
struct Rng<'a>(&'a dyn SecureRandom);

impl rand_core::RngCore for Rng<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // The system generator does not fail on the platforms Tessera runs on; were it to, the
        // blinding factor would be zeros and the decryption would fail, never succeed wrongly.
        if self.0.fill(dest).is_err() {
            dest.fill(0);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for Rng<'_> {}

fn undecryptable(detail: &str) -> SamlError {
    SamlError::Undecryptable(detail.to_owned())
}

fn xenc_child<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    name: &'static str,
) -> Result<Option<Node<'a, 'input>>, SamlError> {
    only_child(node, XENC_NS, name)
}

/// The base64 `CipherData/CipherValue` of an `EncryptedData` or `EncryptedKey`.
fn cipher_value(node: Node<'_, '_>) -> Result<Vec<u8>, SamlError> {
    let data = xenc_child(node, "CipherData")?.ok_or_else(|| undecryptable("no CipherData"))?;
    if xenc_child(data, "CipherReference")?.is_some() {
        return Err(SamlError::Unsupported("CipherReference in encrypted data"));
    }
    let value = xenc_child(data, "CipherValue")?.ok_or_else(|| undecryptable("no CipherValue"))?;
    crate::metadata::decode_base64(&text_of(value)).ok_or_else(|| undecryptable("the CipherValue is not base64"))
}

fn algorithm<'a>(method: Node<'a, '_>) -> Result<&'a str, SamlError> {
    method.attribute("Algorithm").ok_or_else(|| undecryptable("an EncryptionMethod has no Algorithm"))
}

/// A digest for OAEP, by its XML-DSig/XML-Enc URI.
fn oaep_digest(uri: &str) -> Option<Box<dyn sha2::digest::DynDigest + Send + Sync>> {
    Some(match uri {
        "http://www.w3.org/2000/09/xmldsig#sha1" => Box::new(sha1::Sha1::default()),
        "http://www.w3.org/2001/04/xmlenc#sha256" => Box::new(sha2::Sha256::default()),
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => Box::new(sha2::Sha384::default()),
        "http://www.w3.org/2001/04/xmlenc#sha512" => Box::new(sha2::Sha512::default()),
        _ => return None,
    })
}

/// An MGF1 digest of XML Encryption 1.1, by its URI.
fn mgf_digest(uri: &str) -> Option<Box<dyn sha2::digest::DynDigest + Send + Sync>> {
    Some(match uri {
        "http://www.w3.org/2009/xmlenc11#mgf1sha1" => Box::new(sha1::Sha1::default()),
        "http://www.w3.org/2009/xmlenc11#mgf1sha256" => Box::new(sha2::Sha256::default()),
        "http://www.w3.org/2009/xmlenc11#mgf1sha384" => Box::new(sha2::Sha384::default()),
        "http://www.w3.org/2009/xmlenc11#mgf1sha512" => Box::new(sha2::Sha512::default()),
        _ => return None,
    })
}

/// The OAEP parameters of an `EncryptedKey`'s `EncryptionMethod`.
fn oaep(method: Node<'_, '_>) -> Result<Oaep, SamlError> {
    let uri = algorithm(method)?;
    if uri == RSA_1_5 {
        return Err(SamlError::Unsupported("RSA PKCS#1 v1.5 key transport (rsa-1_5); use RSA-OAEP"));
    }
    if uri != RSA_OAEP_MGF1P && uri != RSA_OAEP_11 {
        return Err(SamlError::Unsupported("the encrypted key's algorithm"));
    }
    let digest = match only_child(method, DSIG_NS, "DigestMethod")? {
        None => Box::new(sha1::Sha1::default()),
        Some(d) => oaep_digest(algorithm(d)?).ok_or(SamlError::Unsupported("the encrypted key's OAEP digest"))?,
    };
    let mgf = match only_child(method, XENC11_NS, "MGF")? {
        None => Box::new(sha1::Sha1::default()),
        // `rsa-oaep-mgf1p` fixes MGF1 with SHA-1.
        Some(_) if uri == RSA_OAEP_MGF1P => return Err(SamlError::Unsupported("an MGF with rsa-oaep-mgf1p")),
        Some(m) => mgf_digest(algorithm(m)?).ok_or(SamlError::Unsupported("the encrypted key's MGF"))?,
    };
    let label = match xenc_child(method, "OAEPparams")? {
        None => None,
        Some(params) => {
            let bytes = crate::metadata::decode_base64(&text_of(params))
                .ok_or_else(|| undecryptable("OAEPparams is not base64"))?;
            // `rsa` takes the label as text; an empty label is no label.
            let label = String::from_utf8(bytes).map_err(|_| SamlError::Unsupported("a binary OAEPparams label"))?;
            Some(label).filter(|l| !l.is_empty())
        }
    };
    Ok(Oaep { digest, mgf_digest: mgf, label })
}

/// The data encryption algorithm: (key length, GCM?).
fn data_algorithm(uri: &str) -> Option<(usize, bool)> {
    Some(match uri {
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => (16, false),
        "http://www.w3.org/2001/04/xmlenc#aes192-cbc" => (24, false),
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => (32, false),
        "http://www.w3.org/2009/xmlenc11#aes128-gcm" => (16, true),
        "http://www.w3.org/2009/xmlenc11#aes192-gcm" => (24, true),
        "http://www.w3.org/2009/xmlenc11#aes256-gcm" => (32, true),
        _ => return None,
    })
}

/// AES-GCM as XML Encryption 1.1 lays it out: a 96-bit IV, the ciphertext, a 128-bit tag.
fn open_gcm(key: &[u8], data: &[u8]) -> Result<Vec<u8>, SamlError> {
    use ring::aead;
    let algorithm = match key.len() {
        16 => &aead::AES_128_GCM,
        32 => &aead::AES_256_GCM,
        // ring has no AES-192; no identity provider is known to use it with GCM.
        _ => return Err(SamlError::Unsupported("AES-192-GCM")),
    };
    if data.len() < aead::NONCE_LEN + algorithm.tag_len() {
        return Err(undecryptable("the GCM ciphertext is too short"));
    }
    let (nonce, sealed) = data.split_at(aead::NONCE_LEN);
    let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| undecryptable("bad GCM nonce"))?;
    let key = aead::UnboundKey::new(algorithm, key).map_err(|_| undecryptable("bad GCM key"))?;
    let mut buffer = sealed.to_vec();
    let plain = aead::LessSafeKey::new(key)
        .open_in_place(nonce, aead::Aad::empty(), &mut buffer)
        .map_err(|_| undecryptable("the GCM tag does not verify"))?
        .len();
    buffer.truncate(plain);
    Ok(buffer)
}

/// AES-CBC as XML Encryption lays it out: a 128-bit IV, then the ciphertext, whose last
/// plaintext byte is the padding length (1 to 16; the other padding bytes are arbitrary).
fn open_cbc(key: &[u8], data: &[u8]) -> Result<Vec<u8>, SamlError> {
    use cbc::cipher::block_padding::NoPadding;
    use cbc::cipher::{BlockDecryptMut as _, KeyIvInit as _};
    if data.len() < 32 || !data.len().is_multiple_of(16) {
        return Err(undecryptable("the CBC ciphertext is not whole blocks after its IV"));
    }
    let (iv, sealed) = data.split_at(16);
    let mut buffer = sealed.to_vec();
    let bad = |_| undecryptable("bad CBC key or IV");
    let unpad = |_| undecryptable("bad CBC blocks");
    let len = match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(bad)?
            .decrypt_padded_mut::<NoPadding>(&mut buffer)
            .map_err(unpad)?
            .len(),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
            .map_err(bad)?
            .decrypt_padded_mut::<NoPadding>(&mut buffer)
            .map_err(unpad)?
            .len(),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(bad)?
            .decrypt_padded_mut::<NoPadding>(&mut buffer)
            .map_err(unpad)?
            .len(),
    };
    let pad = usize::from(buffer[len - 1]);
    if !(1..=16).contains(&pad) {
        return Err(undecryptable("bad CBC padding"));
    }
    buffer.truncate(len - pad);
    Ok(buffer)
}

/// The plaintext of `encrypted` (an `EncryptedAssertion`, `EncryptedID` or `EncryptedAttribute`:
/// its `EncryptedData`, with the transported keys inside that or beside it).
pub(crate) fn decrypt(encrypted: Node<'_, '_>, decryption: &Decryption<'_>) -> Result<String, SamlError> {
    if decryption.keys.is_empty() {
        return Err(SamlError::NoDecryptionKey);
    }
    let data = xenc_child(encrypted, "EncryptedData")?.ok_or_else(|| undecryptable("no EncryptedData"))?;
    if data.attribute("Type").is_some_and(|t| t != TYPE_ELEMENT) {
        return Err(SamlError::Unsupported("encrypted data other than an element"));
    }
    let method = xenc_child(data, "EncryptionMethod")?.ok_or_else(|| undecryptable("no EncryptionMethod"))?;
    let (key_len, gcm) =
        data_algorithm(algorithm(method)?).ok_or(SamlError::Unsupported("the data encryption algorithm"))?;
    let ciphertext = cipher_value(data)?;

    // The transported keys: in the EncryptedData's KeyInfo, or beside it in the container.
    let inline =
        only_child(data, DSIG_NS, "KeyInfo")?.into_iter().flat_map(|info| children(info, XENC_NS, "EncryptedKey"));
    let beside = children(encrypted, XENC_NS, "EncryptedKey");
    let transported: Vec<Node<'_, '_>> = inline.chain(beside).collect();
    if transported.is_empty() {
        return Err(undecryptable("no EncryptedKey"));
    }
    if transported.len() > MAX_ENCRYPTED_KEYS {
        return Err(SamlError::Unsupported("more than 4 EncryptedKeys"));
    }
    let mut rng = Rng(decryption.random);
    for encrypted_key in transported {
        let method =
            xenc_child(encrypted_key, "EncryptionMethod")?.ok_or_else(|| undecryptable("no EncryptionMethod"))?;
        let wrapped = cipher_value(encrypted_key)?;
        for key in decryption.keys {
            let padding = oaep(method)?;
            let Ok(mut content_key) = key.key.decrypt_blinded(&mut rng, padding, &wrapped) else { continue };
            if content_key.len() != key_len {
                content_key.fill(0);
                continue;
            }
            let plain = if gcm { open_gcm(&content_key, &ciphertext) } else { open_cbc(&content_key, &ciphertext) };
            content_key.fill(0);
            let plain = plain?;
            return String::from_utf8(plain).map_err(|_| undecryptable("the plaintext is not UTF-8"));
        }
    }
    Err(undecryptable("no EncryptedKey opens with the provider's private keys"))
}

/// Whether `node` is an `EncryptedAssertion`.
pub(crate) fn is_encrypted_assertion(node: Node<'_, '_>) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(ASSERTION_NS)
        && node.tag_name().name() == "EncryptedAssertion"
}

/// Decrypts `encrypted`, the `EncryptedID` or `EncryptedAttribute` of an assertion whose signature
/// was verified, and gives `read` what it holds: exactly one `expected` element of the SAML
/// assertion namespace (`NameID` or `Attribute`), parsed in the namespace scope of `encrypted`
/// (identity providers serialize the element without its ancestors' declarations, as `xmlsec1`
/// does).
///
/// Refused as [`SamlError::Undecryptable`], like every failure of the decryption itself:
/// plaintext over 64 KiB, not well-formed, with a DTD, with anything but whitespace around the
/// one element, another element than `expected`, a `NameID` with child elements, an `Attribute`
/// with children other than `AttributeValue`s, and anything inside that is XML-DSig or XML
/// Encryption markup or an (encrypted) assertion, identifier or attribute: no signature can be
/// carried in, and nothing decrypted is decrypted again. No key, and what is refused before
/// decrypting (an algorithm not accepted), are their own errors, as for encrypted assertions.
pub(crate) fn decrypt_element<T>(
    encrypted: Node<'_, '_>,
    expected: &'static str,
    decryption: Option<&Decryption<'_>>,
    read: impl FnOnce(Node<'_, '_>) -> T,
) -> Result<T, SamlError> {
    let decryption = decryption.ok_or(SamlError::NoDecryptionKey)?;
    let plain = decrypt(encrypted, decryption).map_err(|error| match error {
        SamlError::NoDecryptionKey | SamlError::Unsupported(_) | SamlError::Undecryptable(_) => error,
        other => SamlError::Undecryptable(other.to_string()),
    })?;
    if plain.len() > MAX_ELEMENT_PLAINTEXT {
        return Err(undecryptable("the decrypted element is too large"));
    }
    // The plaintext inside a wrapper that declares the namespaces in scope where it was: the
    // wrapper's children are then exactly the plaintext's top-level nodes (plaintext that closed
    // the wrapper early would leave a second root, which does not parse).
    let mut text = String::with_capacity(plain.len() + 256);
    text.push_str("<tessera-decrypted");
    for namespace in encrypted.namespaces() {
        match namespace.name() {
            Some("xml") => {}
            Some(prefix) => {
                let _ = write!(text, r#" xmlns:{prefix}="{}""#, escape_attribute(namespace.uri()));
            }
            None => {
                let _ = write!(text, r#" xmlns="{}""#, escape_attribute(namespace.uri()));
            }
        }
    }
    text.push('>');
    text.push_str(&plain);
    text.push_str("</tessera-decrypted>");
    let doc = crate::parse_xml(&text).map_err(|error| SamlError::Undecryptable(error.to_string()))?;
    let mut elements = Vec::new();
    for node in doc.root_element().children() {
        if node.is_element() {
            elements.push(node);
        } else if !node.is_text() || !node.text().unwrap_or_default().trim().is_empty() {
            return Err(undecryptable("the decrypted content has more than its element"));
        }
    }
    let [element] = elements.as_slice() else {
        return Err(undecryptable("the decrypted content is not exactly one element"));
    };
    let element = *element;
    if element.tag_name().namespace() != Some(ASSERTION_NS) || element.tag_name().name() != expected {
        return Err(undecryptable("the decrypted element is not the one expected"));
    }
    for child in element.children().filter(Node::is_element) {
        let value = child.tag_name().namespace() == Some(ASSERTION_NS) && child.tag_name().name() == "AttributeValue";
        if expected != "Attribute" || !value {
            return Err(undecryptable("the decrypted element has unexpected children"));
        }
    }
    for inner in element.descendants().skip(1).filter(Node::is_element) {
        let name = inner.tag_name();
        let forbidden = match name.namespace() {
            Some(DSIG_NS | XENC_NS | XENC11_NS) => true,
            Some(ASSERTION_NS) => {
                matches!(name.name(), "Assertion" | "EncryptedAssertion" | "EncryptedID" | "EncryptedAttribute")
            }
            _ => false,
        };
        if forbidden {
            return Err(undecryptable("the decrypted element carries signed or encrypted content"));
        }
    }
    Ok(read(element))
}

/// `value` as the content of a double-quoted XML attribute.
fn escape_attribute(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;")
}
