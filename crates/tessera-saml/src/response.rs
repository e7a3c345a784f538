//! A SAML 2.0 `Response` as `AssumeRoleWithSAML` receives it: decoded, its structure checked
//! against signature wrapping, its signature(s) verified, then the assertion's issuer, audience,
//! subject confirmation and validity window, and its subject and attributes read from the signed
//! element only (an `EncryptedID` or `EncryptedAttribute` decrypted once that element's signature
//! has verified over its ciphertext).

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use roxmltree::Node;

use crate::metadata::decode_base64;
use crate::xmlenc::{Decryption, decrypt_element, is_encrypted_assertion};
use crate::{ASSERTION_NS, DSIG_NS, PROTOCOL_NS, SamlError, children, only_child, parse_instant, parse_xml, text_of};

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const NAME_ID_FORMAT_PREFIX: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:";
/// At most this many `EncryptedID`s and `EncryptedAttribute`s in a response (each costs up to
/// 4 private-key operations per key; AWS reads at most 50 session tags and a few attributes).
const MAX_ENCRYPTED_ELEMENTS: usize = 100;

/// What the verified assertion says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The assertion's `Issuer` (the provider's entity id).
    pub issuer: String,
    /// `Subject/NameID` (decrypted, when the subject has an `EncryptedID`).
    pub name_id: String,
    /// The `NameID`'s `Format`, when it has one.
    pub name_id_format: Option<String>,
    /// The subject confirmation's `Recipient`.
    pub recipient: String,
    /// The audiences of the `AudienceRestriction`s.
    pub audiences: Vec<String>,
    /// The subject confirmation's `NotOnOrAfter` (unix seconds).
    pub not_on_or_after: i64,
    /// The `AuthnStatement`'s `SessionNotOnOrAfter`, when there is one.
    pub session_not_on_or_after: Option<i64>,
    /// The attributes by `Name`, each with its values, in document order (an
    /// `EncryptedAttribute` decrypted in its place).
    pub attributes: Vec<(String, Vec<String>)>,
}

impl Assertion {
    /// The values of the attribute named `name` (empty when absent).
    pub fn values(&self, name: &str) -> &[String] {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice()).unwrap_or(&[])
    }
}

/// What a response must satisfy, besides a valid signature.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// The provider's `entityID`: the issuer.
    pub entity_id: &'a str,
    /// The provider's signing certificates (DER).
    pub certificates: &'a [Vec<u8>],
    /// Accepted `Audience` values (one must be present).
    pub audiences: &'a [String],
    /// Accepted subject confirmation `Recipient`s.
    pub recipients: &'a [String],
    /// Now, unix seconds.
    pub now: i64,
    /// The clock skew allowed on each side of a validity window.
    pub skew_secs: i64,
}

/// Decodes `SAMLAssertion`: base64 (line breaks allowed) of UTF-8 XML.
pub fn decode_response(encoded: &str) -> Result<String, SamlError> {
    let bytes = decode_base64(encoded).ok_or_else(|| SamlError::Malformed("the assertion is not base64".into()))?;
    String::from_utf8(bytes).map_err(|_| SamlError::Malformed("the assertion is not UTF-8".into()))
}

/// `SubjectType` as AWS reports it: the `NameID` format without the SAML 2.0 name-id prefix
/// (`transient`, `persistent`); any other format unchanged; SAML's default (SAML 1.1's
/// `unspecified`) when the `NameID` has none.
pub fn subject_type(format: Option<&str>) -> String {
    match format {
        Some(format) => format.strip_prefix(NAME_ID_FORMAT_PREFIX).unwrap_or(format).to_owned(),
        None => "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified".to_owned(),
    }
}

/// `NameQualifier`: base64 of SHA-1 of the issuer, the account id, `/` and the provider's name.
pub fn name_qualifier(issuer: &str, account_id: &str, provider_name: &str) -> String {
    let input = format!("{issuer}{account_id}/{provider_name}");
    STANDARD.encode(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, input.as_bytes()))
}

fn is(node: Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == name
}

fn instant(node: Node<'_, '_>, attribute: &str) -> Result<Option<i64>, SamlError> {
    match node.attribute(attribute) {
        None => Ok(None),
        Some(text) => parse_instant(text)
            .map(Some)
            .ok_or_else(|| SamlError::Structure(format!("{attribute} is not an xs:dateTime"))),
    }
}

fn expect_issuer(node: Node<'_, '_>, entity_id: &str) -> Result<bool, SamlError> {
    match only_child(node, ASSERTION_NS, "Issuer")? {
        None => Ok(false),
        Some(issuer) => {
            let issuer = text_of(issuer);
            if issuer.trim() != entity_id {
                return Err(SamlError::WrongIssuer(issuer));
            }
            Ok(true)
        }
    }
}

/// Verifies `xml` (a decoded `SAMLAssertion`) and returns its assertion. An encrypted assertion,
/// `NameID` or attribute is refused ([`SamlError::NoDecryptionKey`]): see
/// [`verify_encrypted_response`].
pub fn verify_response(xml: &str, expect: &Expectations<'_>) -> Result<Assertion, SamlError> {
    verify(xml, expect, None)
}

/// Verifies `xml` as [`verify_response`] does, for a provider with private keys: an
/// `EncryptedAssertion` is decrypted with them and its assertion then verified exactly as a plain
/// one would be (a response signature is verified over the encrypted form the identity provider
/// signed); with `decryption.required`, a plain assertion is refused (also one whose `NameID`
/// or attributes are encrypted).
///
/// Unless a verified response signature covers the ciphertext, every failure between decryption
/// and a verified assertion signature is [`SamlError::Undecryptable`], so that a caller sending
/// altered ciphertexts cannot tell padding, parsing and signature failures apart.
///
/// An `EncryptedID` (the subject's) and `EncryptedAttribute`s (in attribute statements), in a
/// plain or a decrypted assertion, are decrypted with the same keys only after the assertion's
/// signature has verified over them as received, so only what the identity provider signed
/// reaches the private keys; each must decrypt to exactly one `NameID` or `Attribute` element
/// (else [`SamlError::Undecryptable`]) and is then read as a plain one.
pub fn verify_encrypted_response(
    xml: &str,
    expect: &Expectations<'_>,
    decryption: &Decryption<'_>,
) -> Result<Assertion, SamlError> {
    verify(xml, expect, Some(decryption))
}

fn verify(xml: &str, expect: &Expectations<'_>, decryption: Option<&Decryption<'_>>) -> Result<Assertion, SamlError> {
    let doc = parse_xml(xml)?;
    let response = doc.root_element();
    if !is(response, PROTOCOL_NS, "Response") {
        return Err(SamlError::structure("the document is not a SAML 2.0 Response"));
    }
    if !doc.descendants().any(is_encrypted_assertion) {
        if decryption.is_some_and(|d| d.required) {
            return Err(SamlError::EncryptionRequired);
        }
        let assertion = signed_assertion(&doc, expect, false)?;
        return claims(response, assertion, expect, decryption);
    }
    let Some(decryption) = decryption else { return Err(SamlError::NoDecryptionKey) };

    // The encrypted form, as the identity provider sent (and maybe signed) it.
    let encrypted = scan(&doc, true)?;
    let response_signed = match only_child(response, DSIG_NS, "Signature")? {
        Some(signature) => {
            crate::dsig::verify(signature, response, expect.certificates)?;
            true
        }
        None => false,
    };
    let opaque = |error: SamlError| match error {
        error if response_signed => error,
        SamlError::Undecryptable(detail) => SamlError::Undecryptable(detail),
        other => SamlError::Undecryptable(other.to_string()),
    };
    // What the decryption refuses before it decrypts (no key, an algorithm not accepted) is
    // read from the clear text and tells nothing of the plaintext.
    let plain = crate::xmlenc::decrypt(encrypted, decryption).map_err(|error| match error {
        SamlError::NoDecryptionKey | SamlError::Unsupported(_) => error,
        other => opaque(other),
    })?;

    // The assertion in the encrypted one's place, in the response's namespace scope. It must
    // be exactly one element: plaintext that closed its ancestors or added siblings would not
    // span exactly the text put in.
    let range = encrypted.range();
    let spliced = format!("{}{}{}", &xml[..range.start], plain, &xml[range.end..]);
    let doc = parse_xml(&spliced).map_err(opaque)?;
    let lead = plain.len() - plain.trim_start().len();
    let expected = range.start + lead..range.start + plain.trim_end().len();
    let assertion = signed_assertion(&doc, expect, response_signed).map_err(opaque)?;
    if assertion.range() != expected {
        return Err(opaque(SamlError::Wrapping("the decrypted assertion is not exactly one element")));
    }
    claims(doc.root_element(), assertion, expect, Some(decryption))
}

/// Refuses the shapes signature wrapping needs and returns the response's one assertion (one
/// `EncryptedAssertion` when `encrypted`): duplicate IDs, other than exactly one assertion (a
/// direct child of the response), a signature anywhere but directly inside the response or the
/// assertion, an encrypted assertion where a plain one is expected; an `EncryptedID` elsewhere
/// than directly in the assertion's `Subject`, an `EncryptedAttribute` elsewhere than directly in
/// its `AttributeStatement`, more than [`MAX_ENCRYPTED_ELEMENTS`] of them.
fn scan<'a, 'input>(doc: &'a roxmltree::Document<'input>, encrypted: bool) -> Result<Node<'a, 'input>, SamlError> {
    let response = doc.root_element();
    let mut ids = HashSet::new();
    let mut assertions = Vec::new();
    let mut encrypted_elements = 0;
    for node in doc.descendants().filter(Node::is_element) {
        for attr in node.attributes() {
            // `ID` is the SAML identifier; `Id` and `id` are what other schemes (WS-Security,
            // XML-DSig objects, XML Encryption) reference, so they count as identifiers too.
            if attr.namespace().is_none() && matches!(attr.name(), "ID" | "Id" | "id") && !ids.insert(attr.value()) {
                return Err(SamlError::Wrapping("two elements have the same ID"));
            }
        }
        // The parent the element may have, which must be a direct child of an assertion.
        let place = if is(node, ASSERTION_NS, "EncryptedID") {
            Some("Subject")
        } else if is(node, ASSERTION_NS, "EncryptedAttribute") {
            Some("AttributeStatement")
        } else {
            None
        };
        if let Some(place) = place {
            let parent = node.parent_element().filter(|p| is(*p, ASSERTION_NS, place));
            if !parent.and_then(|p| p.parent_element()).is_some_and(|a| is(a, ASSERTION_NS, "Assertion")) {
                return Err(SamlError::Unsupported(
                    "an encrypted identifier or attribute elsewhere than the assertion's subject or attribute statement",
                ));
            }
            encrypted_elements += 1;
            if encrypted_elements > MAX_ENCRYPTED_ELEMENTS {
                return Err(SamlError::Unsupported("more than 100 encrypted identifiers and attributes"));
            }
        }
        if is_encrypted_assertion(node) {
            if !encrypted {
                return Err(SamlError::Wrapping("an encrypted assertion inside an assertion"));
            }
            assertions.push(node);
        }
        if is(node, ASSERTION_NS, "Assertion") {
            assertions.push(node);
        }
        if is(node, DSIG_NS, "Signature") {
            let parent = node.parent_element();
            let placed = parent.is_some_and(|p| {
                p == response || (!encrypted && is(p, ASSERTION_NS, "Assertion") && p.parent() == Some(response))
            });
            if !placed {
                return Err(SamlError::Wrapping("a signature outside the response and its assertion"));
            }
        }
    }
    match assertions.as_slice() {
        [only] if only.parent() == Some(response) => Ok(*only),
        [_] => Err(SamlError::Wrapping("the assertion is not a direct child of the response")),
        [] => Err(SamlError::structure("the response has no assertion")),
        _ => Err(SamlError::Wrapping("the response has more than one assertion")),
    }
}

/// The response's assertion, its structure checked and its signatures verified: each present
/// must verify and one must cover the assertion (the response's covers it, as its only
/// assertion). `response_verified`: the response's signature was verified over the encrypted
/// form already.
fn signed_assertion<'a, 'input>(
    doc: &'a roxmltree::Document<'input>,
    expect: &Expectations<'_>,
    response_verified: bool,
) -> Result<Node<'a, 'input>, SamlError> {
    let response = doc.root_element();
    let assertion = scan(doc, false)?;
    if is_encrypted_assertion(assertion) {
        return Err(SamlError::Wrapping("an encrypted assertion inside an assertion"));
    }
    let response_signature = only_child(response, DSIG_NS, "Signature")?;
    let assertion_signature = only_child(assertion, DSIG_NS, "Signature")?;
    if response_signature.is_none() && assertion_signature.is_none() {
        return Err(SamlError::Unsigned);
    }
    if let Some(signature) = response_signature
        && !response_verified
    {
        crate::dsig::verify(signature, response, expect.certificates)?;
    }
    if let Some(signature) = assertion_signature {
        crate::dsig::verify(signature, assertion, expect.certificates)?;
    }
    Ok(assertion)
}

/// The subject's `NameID`, or its `EncryptedID`.
enum NameIdElement<'a, 'input> {
    Plain(Node<'a, 'input>),
    Encrypted(Node<'a, 'input>),
}

/// A `NameID`'s value and `Format`.
fn read_name_id(name_id: Node<'_, '_>) -> (String, Option<String>) {
    (text_of(name_id), name_id.attribute("Format").map(str::to_owned))
}

/// An `Attribute`'s `Name` and values.
fn read_attribute(attribute: Node<'_, '_>) -> (String, Vec<String>) {
    let name = attribute.attribute("Name").unwrap_or_default().to_owned();
    (name, children(attribute, ASSERTION_NS, "AttributeValue").map(text_of).collect())
}

/// The claims of a verified assertion: the response's status and issuer, then the assertion's
/// issuer, conditions, subject, authentication and attribute statements. `decryption`: the keys
/// an `EncryptedID` or `EncryptedAttribute` is decrypted with, after every other check.
fn claims(
    response: Node<'_, '_>,
    assertion: Node<'_, '_>,
    expect: &Expectations<'_>,
    decryption: Option<&Decryption<'_>>,
) -> Result<Assertion, SamlError> {
    // The response's status and issuer.
    let status = only_child(response, PROTOCOL_NS, "Status")?
        .and_then(|s| children(s, PROTOCOL_NS, "StatusCode").next())
        .and_then(|c| c.attribute("Value"));
    if status != Some(SUCCESS) {
        return Err(SamlError::structure("the response's status is not Success"));
    }
    expect_issuer(response, expect.entity_id)?;
    if !expect_issuer(assertion, expect.entity_id)? {
        return Err(SamlError::structure("the assertion has no Issuer"));
    }
    let issuer = expect.entity_id.to_owned();

    // Conditions.
    let skew = expect.skew_secs;
    let mut audiences = Vec::new();
    let Some(conditions) = only_child(assertion, ASSERTION_NS, "Conditions")? else {
        return Err(SamlError::structure("the assertion has no Conditions"));
    };
    if let Some(not_before) = instant(conditions, "NotBefore")?
        && expect.now + skew < not_before
    {
        return Err(SamlError::NotYetValid(conditions.attribute("NotBefore").unwrap_or_default().to_owned()));
    }
    if let Some(not_on_or_after) = instant(conditions, "NotOnOrAfter")?
        && expect.now - skew >= not_on_or_after
    {
        return Err(SamlError::Expired(conditions.attribute("NotOnOrAfter").unwrap_or_default().to_owned()));
    }
    let restrictions: Vec<Node<'_, '_>> = children(conditions, ASSERTION_NS, "AudienceRestriction").collect();
    for restriction in &restrictions {
        let listed: Vec<String> =
            children(*restriction, ASSERTION_NS, "Audience").map(|a| text_of(a).trim().to_owned()).collect();
        // Each restriction must be met (SAML core 2.5.1.4).
        if !listed.iter().any(|a| expect.audiences.contains(a)) {
            return Err(SamlError::WrongAudience);
        }
        audiences.extend(listed);
    }
    if restrictions.is_empty() {
        return Err(SamlError::WrongAudience);
    }

    // The subject: one NameID (or EncryptedID), exactly one bearer confirmation with a recipient
    // and an expiry.
    let subject = only_child(assertion, ASSERTION_NS, "Subject")?
        .ok_or_else(|| SamlError::structure("the assertion has no Subject"))?;
    let name_id =
        match (only_child(subject, ASSERTION_NS, "NameID")?, only_child(subject, ASSERTION_NS, "EncryptedID")?) {
            (Some(plain), None) => NameIdElement::Plain(plain),
            (None, Some(encrypted)) => NameIdElement::Encrypted(encrypted),
            (None, None) => return Err(SamlError::structure("the subject has no NameID")),
            (Some(_), Some(_)) => return Err(SamlError::structure("the subject has both a NameID and an EncryptedID")),
        };
    let mut confirmations = children(subject, ASSERTION_NS, "SubjectConfirmation");
    let (Some(confirmation), None) = (confirmations.next(), confirmations.next()) else {
        return Err(SamlError::structure("the subject must have exactly one SubjectConfirmation"));
    };
    if confirmation.attribute("Method") != Some(BEARER) {
        return Err(SamlError::structure("the subject confirmation's method is not bearer"));
    }
    let data = only_child(confirmation, ASSERTION_NS, "SubjectConfirmationData")?
        .ok_or_else(|| SamlError::structure("the subject confirmation has no SubjectConfirmationData"))?;
    let recipient = data
        .attribute("Recipient")
        .ok_or_else(|| SamlError::structure("the subject confirmation has no Recipient"))?
        .to_owned();
    if !expect.recipients.contains(&recipient) {
        return Err(SamlError::WrongRecipient(recipient));
    }
    let not_on_or_after = instant(data, "NotOnOrAfter")?
        .ok_or_else(|| SamlError::structure("the subject confirmation has no NotOnOrAfter"))?;
    if expect.now - skew >= not_on_or_after {
        return Err(SamlError::Expired(data.attribute("NotOnOrAfter").unwrap_or_default().to_owned()));
    }
    if let Some(not_before) = instant(data, "NotBefore")?
        && expect.now + skew < not_before
    {
        return Err(SamlError::NotYetValid(data.attribute("NotBefore").unwrap_or_default().to_owned()));
    }

    let mut session_not_on_or_after: Option<i64> = None;
    for statement in children(assertion, ASSERTION_NS, "AuthnStatement") {
        if let Some(end) = instant(statement, "SessionNotOnOrAfter")? {
            session_not_on_or_after = Some(session_not_on_or_after.map_or(end, |e| e.min(end)));
        }
    }

    // Every check passed: the encrypted parts are decrypted last, so that a refused assertion
    // costs no private-key operation.
    let (name_id, name_id_format) = match name_id {
        NameIdElement::Plain(plain) => read_name_id(plain),
        NameIdElement::Encrypted(encrypted) => decrypt_element(encrypted, "NameID", decryption, read_name_id)?,
    };
    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    for statement in children(assertion, ASSERTION_NS, "AttributeStatement") {
        for element in statement.children().filter(Node::is_element) {
            let (name, values) = if is(element, ASSERTION_NS, "Attribute") {
                read_attribute(element)
            } else if is(element, ASSERTION_NS, "EncryptedAttribute") {
                decrypt_element(element, "Attribute", decryption, read_attribute)?
            } else {
                continue;
            };
            match attributes.iter_mut().find(|(n, _)| *n == name) {
                Some((_, existing)) => existing.extend(values),
                None => attributes.push((name, values)),
            }
        }
    }

    Ok(Assertion {
        issuer,
        name_id,
        name_id_format,
        recipient,
        audiences,
        not_on_or_after,
        session_not_on_or_after,
        attributes,
    })
}

/// What [`fuzz_decrypt_parts`] makes of one encrypted part: a name (the `NameID`'s value, or the
/// attribute's `Name`) and values (the `NameID`'s format, or the attribute's values).
#[cfg(feature = "fuzzing")]
pub type DecryptedPart = Result<(String, Vec<String>), SamlError>;

/// For the fuzz target only (feature `fuzzing`): every `EncryptedID` and `EncryptedAttribute` of
/// `xml` (at most [`MAX_ENCRYPTED_ELEMENTS`]) decrypted and parsed as an assertion's are once its
/// signature has verified, here without any signature, so that fuzzing reaches that code: a
/// `NameID` as its value and its format, an attribute as its name and values. It reads nothing
/// anyone vouched for: never use it to read an assertion.
#[cfg(feature = "fuzzing")]
pub fn fuzz_decrypt_parts(xml: &str, decryption: &Decryption<'_>) -> Result<Vec<DecryptedPart>, SamlError> {
    let doc = parse_xml(xml)?;
    let parts =
        doc.descendants().filter(|n| is(*n, ASSERTION_NS, "EncryptedID") || is(*n, ASSERTION_NS, "EncryptedAttribute"));
    Ok(parts
        .take(MAX_ENCRYPTED_ELEMENTS)
        .map(|part| {
            if is(part, ASSERTION_NS, "EncryptedID") {
                decrypt_element(part, "NameID", Some(decryption), read_name_id)
                    .map(|(value, format)| (value, format.into_iter().collect()))
            } else {
                decrypt_element(part, "Attribute", Some(decryption), read_attribute)
            }
        })
        .collect())
}
