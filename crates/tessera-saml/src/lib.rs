//! SAML 2.0 for `sts:AssumeRoleWithSAML` and the IAM SAML providers: parsing and validating an
//! identity provider's metadata document ([`parse_metadata`]), and verifying a base64 SAML
//! `Response` ([`decode_response`], [`verify_response`]) as AWS does: an enveloped XML signature
//! over the `Response` or its `Assertion` made with a key of the provider's metadata, issuer,
//! audience, recipient and validity window, then the assertion's subject and attributes.
//!
//! Encrypted assertions ([`verify_encrypted_response`]) are decrypted with the provider's
//! private keys ([`DecryptionKey`], XML Encryption: RSA-OAEP key transport, AES-GCM or AES-CBC)
//! and then verified exactly as plain ones. An encrypted `NameID` (`EncryptedID` in the subject)
//! and encrypted attributes (`EncryptedAttribute` in an attribute statement), in a plain or an
//! encrypted assertion, are decrypted with the same keys once the assertion's signature (over
//! their ciphertext) has verified, and read as if they had been plain.
//!
//! Pure: no I/O, no async runtime; the time and the randomness are arguments.
//!
//! **Signature wrapping:** the element whose contents are returned is exactly the element the
//! verified signature covers. A document is refused when it has a DTD, duplicate `ID`s, other
//! than exactly one `Assertion` (a direct child of the `Response`), a `Signature` anywhere but
//! directly inside the `Response` or the `Assertion`, a reference other than `#<ID of the
//! signature's parent>`, or transforms other than the enveloped-signature transform and one
//! canonicalization. Text is read as the concatenation of all its text nodes, the view the
//! signature's comment-less canonical form covers, so a comment cannot truncate a `NameID`.

mod c14n;
mod dsig;
mod metadata;
mod response;
mod xmlenc;

use thiserror::Error;

pub use metadata::{Metadata, parse_metadata};
pub use response::{
    Assertion, Expectations, decode_response, name_qualifier, subject_type, verify_encrypted_response, verify_response,
};
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use response::{DecryptedPart, fuzz_decrypt_parts};
pub use xmlenc::{Decryption, DecryptionKey, KeyError};

/// The audience AWS sign-in expects in `AudienceRestriction` (and, as `Recipient`, in the
/// subject confirmation), and the older audience AWS also accepts.
pub const AWS_SAML_ENDPOINT: &str = "https://signin.aws.amazon.com/saml";
pub const AWS_AUDIENCE_URN: &str = "urn:amazon:webservices";

/// The SAML attributes AWS reads (reference §4.4).
pub const ROLE_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
pub const ROLE_SESSION_NAME_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
pub const SESSION_DURATION_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";
pub const SOURCE_IDENTITY_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/SourceIdentity";
pub const PRINCIPAL_TAG_PREFIX: &str = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:";
pub const TRANSITIVE_TAG_KEYS_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/TransitiveTagKeys";

/// Why a metadata document or a SAML response was refused. Messages are lowercase and never
/// quote the assertion's signature or certificates.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SamlError {
    /// Not base64, not UTF-8, not well-formed XML, or has a DTD.
    #[error("the document is not well-formed XML without a DTD: {0}")]
    Malformed(String),
    /// Well-formed, but not the SAML structure expected.
    #[error("{0}")]
    Structure(String),
    /// A SAML or XML-DSig feature Tessera does not accept.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// A structure that signature wrapping uses: duplicate IDs, a second assertion, a signature
    /// out of place or covering another element.
    #[error("signature wrapping: {0}")]
    Wrapping(&'static str),
    /// Neither the response nor the assertion is signed.
    #[error("the response and its assertion are not signed")]
    Unsigned,
    /// The digest of the signed element or the signature value does not match.
    #[error("the signature is invalid: {0}")]
    BadSignature(&'static str),
    /// The signature was made (or claims to be made) with a key not in the provider's metadata.
    #[error("the signing certificate is not one of the provider's")]
    UntrustedCertificate,
    #[error("the issuer `{0}` is not the provider's entity id")]
    WrongIssuer(String),
    #[error("the assertion's audience is not accepted")]
    WrongAudience,
    #[error("the subject confirmation's recipient `{0}` is not accepted")]
    WrongRecipient(String),
    /// Past `NotOnOrAfter` (by more than the allowed clock skew).
    #[error("the assertion expired at {0}")]
    Expired(String),
    /// Before `NotBefore` (by more than the allowed clock skew).
    #[error("the assertion is not valid before {0}")]
    NotYetValid(String),
    /// The provider requires encrypted assertions (`AssertionEncryptionMode` `Required`) and
    /// this one is plain.
    #[error("the provider requires encrypted assertions and this one is not encrypted")]
    EncryptionRequired,
    /// The assertion (or its `NameID` or an attribute) is encrypted and the provider has no
    /// private key.
    #[error("the assertion is encrypted and the provider has no private key")]
    NoDecryptionKey,
    /// The encrypted assertion could not be decrypted with the provider's keys, or (when no
    /// response signature covers the ciphertext) what it decrypts to is not a validly signed
    /// assertion; or an encrypted `NameID` or attribute of the verified assertion does not
    /// decrypt, or not to exactly one `NameID` or `Attribute` element. The detail is for logs
    /// only: callers get one message for every cause.
    #[error("the encrypted content cannot be used: {0}")]
    Undecryptable(String),
}

impl SamlError {
    fn structure(message: impl Into<String>) -> Self {
        Self::Structure(message.into())
    }
}

/// Namespaces.
pub(crate) const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub(crate) const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub(crate) const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub(crate) const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Parses untrusted XML: no DTD (so no entity is ever expanded), a bounded number of nodes.
pub(crate) fn parse_xml(text: &str) -> Result<roxmltree::Document<'_>, SamlError> {
    let options = roxmltree::ParsingOptions { allow_dtd: false, nodes_limit: 200_000, ..Default::default() };
    roxmltree::Document::parse_with_options(text, options).map_err(|error| SamlError::Malformed(error.to_string()))
}

/// The concatenation of an element's descendant text nodes (comments and processing instructions
/// left out, as in the comment-less canonical form the signature covers).
pub(crate) fn text_of(node: roxmltree::Node<'_, '_>) -> String {
    node.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect()
}

/// The element children of `node` in namespace `ns` named `name`.
pub(crate) fn children<'a, 'input: 'a>(
    node: roxmltree::Node<'a, 'input>,
    ns: &'a str,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'input>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().namespace() == Some(ns) && c.tag_name().name() == name)
}

/// The only such child, `None` when absent; more than one is a structure error.
pub(crate) fn only_child<'a, 'input: 'a>(
    node: roxmltree::Node<'a, 'input>,
    ns: &'a str,
    name: &'static str,
) -> Result<Option<roxmltree::Node<'a, 'input>>, SamlError> {
    let mut found = children(node, ns, name);
    let first = found.next();
    if found.next().is_some() {
        return Err(SamlError::structure(format!("more than one `{name}` element")));
    }
    Ok(first)
}

/// An `xs:dateTime` (UTC, `2026-12-05T10:00:00Z`, fractions allowed) in unix seconds.
pub(crate) fn parse_instant(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}
