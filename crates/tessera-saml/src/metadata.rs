//! An identity provider's SAML metadata (`EntityDescriptor`), as `CreateSAMLProvider` and
//! `UpdateSAMLProvider` validate it: the entity id, the IdP's signing certificates (RSA keys in
//! `KeyDescriptor`s whose `use` is `signing` or absent), and `validUntil`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use roxmltree::Node;
use x509_parser::public_key::PublicKey;

use crate::{DSIG_NS, METADATA_NS, SamlError, children, parse_instant, parse_xml, text_of};

/// What Tessera keeps from a metadata document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// `entityID`: what an assertion's `Issuer` must be.
    pub entity_id: String,
    /// The DER of each signing certificate (all RSA).
    pub signing_certificates: Vec<Vec<u8>>,
    /// `validUntil` in unix seconds, when the document has one.
    pub valid_until: Option<i64>,
}

/// The RSA public key (PKCS#1 `RSAPublicKey` DER, as `ring` takes it) of a certificate.
pub(crate) fn rsa_public_key(der: &[u8]) -> Option<Vec<u8>> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let spki = cert.public_key();
    match spki.parsed() {
        Ok(PublicKey::RSA(_)) => Some(spki.subject_public_key.data.to_vec()),
        _ => None,
    }
}

/// Base64 with the line breaks and spaces XML documents put in it.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).ok()
}

fn entity_descriptor<'a, 'input>(root: Node<'a, 'input>) -> Result<Node<'a, 'input>, SamlError> {
    let is =
        |n: &Node<'_, '_>, name: &str| n.tag_name().namespace() == Some(METADATA_NS) && n.tag_name().name() == name;
    if is(&root, "EntityDescriptor") {
        return Ok(root);
    }
    if is(&root, "EntitiesDescriptor") {
        let mut entities = children(root, METADATA_NS, "EntityDescriptor");
        if let (Some(only), None) = (entities.next(), entities.next()) {
            return Ok(only);
        }
        return Err(SamlError::structure("the metadata must describe exactly one entity"));
    }
    Err(SamlError::structure("the metadata's root element is not an EntityDescriptor"))
}

/// Parses and validates a metadata document.
pub fn parse_metadata(xml: &str) -> Result<Metadata, SamlError> {
    let doc = parse_xml(xml)?;
    let entity = entity_descriptor(doc.root_element())?;
    let entity_id = entity.attribute("entityID").map(str::trim).unwrap_or_default();
    if entity_id.is_empty() || entity_id.chars().count() > 1024 {
        return Err(SamlError::structure("the EntityDescriptor has no valid entityID"));
    }
    let mut idp = children(entity, METADATA_NS, "IDPSSODescriptor");
    let (Some(idp), None) = (idp.next(), idp.next()) else {
        return Err(SamlError::structure("the metadata must have exactly one IDPSSODescriptor"));
    };
    let mut signing_certificates: Vec<Vec<u8>> = Vec::new();
    for key in children(idp, METADATA_NS, "KeyDescriptor") {
        match key.attribute("use") {
            None | Some("signing") => {}
            Some("encryption") => continue,
            Some(_) => return Err(SamlError::structure("a KeyDescriptor's use is neither signing nor encryption")),
        }
        let certs = children(key, DSIG_NS, "KeyInfo")
            .flat_map(|info| children(info, DSIG_NS, "X509Data"))
            .flat_map(|data| children(data, DSIG_NS, "X509Certificate"));
        for cert in certs {
            let der = decode_base64(&text_of(cert))
                .ok_or_else(|| SamlError::structure("an X509Certificate is not base64"))?;
            if rsa_public_key(&der).is_none() {
                return Err(SamlError::structure("a signing certificate is not an X.509 certificate with an RSA key"));
            }
            if !signing_certificates.contains(&der) {
                signing_certificates.push(der);
            }
        }
    }
    if signing_certificates.is_empty() {
        return Err(SamlError::structure("the IDPSSODescriptor has no signing certificate"));
    }
    let valid_until = match entity.attribute("validUntil").or_else(|| idp.attribute("validUntil")) {
        None => None,
        Some(text) => {
            Some(parse_instant(text).ok_or_else(|| SamlError::structure("validUntil is not an xs:dateTime"))?)
        }
    };
    Ok(Metadata { entity_id: entity_id.to_owned(), signing_certificates, valid_until })
}
