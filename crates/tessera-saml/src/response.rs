//! A SAML 2.0 `Response` as `AssumeRoleWithSAML` receives it: decoded, its structure checked
//! against signature wrapping, its signature(s) verified, then the assertion's issuer, audience,
//! subject confirmation and validity window, and its subject and attributes read from the signed
//! element only.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use roxmltree::Node;

use crate::metadata::decode_base64;
use crate::{ASSERTION_NS, DSIG_NS, PROTOCOL_NS, SamlError, children, only_child, parse_instant, parse_xml, text_of};

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const NAME_ID_FORMAT_PREFIX: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:";

/// What the verified assertion says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The assertion's `Issuer` (the provider's entity id).
    pub issuer: String,
    /// `Subject/NameID`.
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
    /// The attributes by `Name`, each with its values, in document order.
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

/// Verifies `xml` (a decoded `SAMLAssertion`) and returns its assertion.
pub fn verify_response(xml: &str, expect: &Expectations<'_>) -> Result<Assertion, SamlError> {
    let doc = parse_xml(xml)?;
    let response = doc.root_element();
    if !is(response, PROTOCOL_NS, "Response") {
        return Err(SamlError::structure("the document is not a SAML 2.0 Response"));
    }

    // The shape signature wrapping needs is refused before anything is verified.
    let mut ids = HashSet::new();
    let mut assertions = Vec::new();
    for node in doc.descendants().filter(Node::is_element) {
        for attr in node.attributes() {
            // `ID` is the SAML identifier; `Id` and `id` are what other schemes (WS-Security,
            // XML-DSig objects) reference, so they count as identifiers too.
            if attr.namespace().is_none() && matches!(attr.name(), "ID" | "Id" | "id") && !ids.insert(attr.value()) {
                return Err(SamlError::Wrapping("two elements have the same ID"));
            }
        }
        if is(node, ASSERTION_NS, "EncryptedAssertion") || is(node, ASSERTION_NS, "EncryptedID") {
            return Err(SamlError::Unsupported("encrypted assertions"));
        }
        if is(node, ASSERTION_NS, "Assertion") {
            assertions.push(node);
        }
        if is(node, DSIG_NS, "Signature") {
            let parent = node.parent_element();
            let placed = parent
                .is_some_and(|p| p == response || (is(p, ASSERTION_NS, "Assertion") && p.parent() == Some(response)));
            if !placed {
                return Err(SamlError::Wrapping("a signature outside the response and its assertion"));
            }
        }
    }
    let assertion = match assertions.as_slice() {
        [only] if only.parent() == Some(response) => *only,
        [_] => return Err(SamlError::Wrapping("the assertion is not a direct child of the response")),
        [] => return Err(SamlError::structure("the response has no assertion")),
        _ => return Err(SamlError::Wrapping("the response has more than one assertion")),
    };

    // Signatures: each present must verify; one must cover the assertion (the response's
    // covers it, as its only assertion).
    let response_signature = only_child(response, DSIG_NS, "Signature")?;
    let assertion_signature = only_child(assertion, DSIG_NS, "Signature")?;
    if response_signature.is_none() && assertion_signature.is_none() {
        return Err(SamlError::Unsigned);
    }
    if let Some(signature) = response_signature {
        crate::dsig::verify(signature, response, expect.certificates)?;
    }
    if let Some(signature) = assertion_signature {
        crate::dsig::verify(signature, assertion, expect.certificates)?;
    }

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

    // The subject: one NameID, exactly one bearer confirmation with a recipient and an expiry.
    let subject = only_child(assertion, ASSERTION_NS, "Subject")?
        .ok_or_else(|| SamlError::structure("the assertion has no Subject"))?;
    let name_id = only_child(subject, ASSERTION_NS, "NameID")?
        .ok_or_else(|| SamlError::structure("the subject has no NameID"))?;
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

    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    for statement in children(assertion, ASSERTION_NS, "AttributeStatement") {
        for attribute in children(statement, ASSERTION_NS, "Attribute") {
            let name = attribute.attribute("Name").unwrap_or_default().to_owned();
            let values: Vec<String> = children(attribute, ASSERTION_NS, "AttributeValue").map(text_of).collect();
            match attributes.iter_mut().find(|(n, _)| *n == name) {
                Some((_, existing)) => existing.extend(values),
                None => attributes.push((name, values)),
            }
        }
    }

    Ok(Assertion {
        issuer,
        name_id: text_of(name_id),
        name_id_format: name_id.attribute("Format").map(str::to_owned),
        recipient,
        audiences,
        not_on_or_after,
        session_not_on_or_after,
        attributes,
    })
}
