//! Enveloped XML signatures (XML-DSig 1.0) as SAML identity providers make them: one `Reference`
//! to the signature's parent element by its `ID`, the enveloped-signature transform and one
//! canonicalization, RSA with SHA-256 (SHA-1, SHA-384 and SHA-512 too), verified with the
//! provider's metadata keys only.

use roxmltree::Node;

use crate::c14n::{self, Method};
use crate::metadata::{decode_base64, rsa_public_key};
use crate::{DSIG_NS, SamlError, only_child, text_of};

const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const EXC_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

fn signature_algorithm(uri: &str) -> Option<&'static ring::signature::RsaParameters> {
    use ring::signature as s;
    Some(match uri {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => &s::RSA_PKCS1_2048_8192_SHA256,
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => &s::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => &s::RSA_PKCS1_2048_8192_SHA384,
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => &s::RSA_PKCS1_2048_8192_SHA512,
        _ => return None,
    })
}

fn digest_algorithm(uri: &str) -> Option<&'static ring::digest::Algorithm> {
    use ring::digest as d;
    Some(match uri {
        "http://www.w3.org/2001/04/xmlenc#sha256" => &d::SHA256,
        "http://www.w3.org/2000/09/xmldsig#sha1" => &d::SHA1_FOR_LEGACY_USE_ONLY,
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => &d::SHA384,
        "http://www.w3.org/2001/04/xmlenc#sha512" => &d::SHA512,
        _ => return None,
    })
}

fn required<'a, 'input: 'a>(node: Node<'a, 'input>, name: &'static str) -> Result<Node<'a, 'input>, SamlError> {
    only_child(node, DSIG_NS, name)?.ok_or_else(|| SamlError::Structure(format!("the signature has no `{name}`")))
}

fn algorithm<'a>(node: Node<'a, '_>) -> Result<&'a str, SamlError> {
    node.attribute("Algorithm").ok_or_else(|| SamlError::structure("an algorithm element has no Algorithm"))
}

/// The `InclusiveNamespaces PrefixList` of an exclusive canonicalization element.
fn inclusive_prefixes(method: Node<'_, '_>) -> Vec<String> {
    method
        .children()
        .filter(|c| {
            c.is_element() && c.tag_name().namespace() == Some(EXC_NS) && c.tag_name().name() == "InclusiveNamespaces"
        })
        .filter_map(|c| c.attribute("PrefixList"))
        .flat_map(|list| list.split_ascii_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

/// Verifies `signature`, an enveloped signature directly inside `parent`, which must be the one
/// element it references. `certificates` are the provider's (DER).
pub(crate) fn verify(signature: Node<'_, '_>, parent: Node<'_, '_>, certificates: &[Vec<u8>]) -> Result<(), SamlError> {
    // Only SignedInfo, SignatureValue and KeyInfo: an `Object` could carry content that looks
    // signed to a careless reader.
    for child in signature.children().filter(Node::is_element) {
        let known = child.tag_name().namespace() == Some(DSIG_NS)
            && matches!(child.tag_name().name(), "SignedInfo" | "SignatureValue" | "KeyInfo");
        if !known {
            return Err(SamlError::Unsupported(
                "elements other than SignedInfo, SignatureValue and KeyInfo in a signature",
            ));
        }
    }
    let signed_info = required(signature, "SignedInfo")?;
    let c14n_method = required(signed_info, "CanonicalizationMethod")?;
    let method = Method::from_uri(algorithm(c14n_method)?)
        .ok_or(SamlError::Unsupported("the signature's canonicalization method"))?;
    let rsa = signature_algorithm(algorithm(required(signed_info, "SignatureMethod")?)?)
        .ok_or(SamlError::Unsupported("the signature method"))?;

    let mut references = crate::children(signed_info, DSIG_NS, "Reference");
    let (Some(reference), None) = (references.next(), references.next()) else {
        return Err(SamlError::Wrapping("a signature must have exactly one reference"));
    };
    let id = parent
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or(SamlError::Wrapping("the signed element has no ID"))?;
    match reference.attribute("URI").and_then(|uri| uri.strip_prefix('#')) {
        Some(target) if target == id => {}
        _ => return Err(SamlError::Wrapping("the signature does not reference the element that contains it")),
    }

    // Transforms: the enveloped-signature transform, then at most one canonicalization. A
    // same-document `#id` reference selects the element without comments, whatever the
    // canonicalization says.
    let mut enveloped = false;
    let mut reference_method = Method::Inclusive { comments: false };
    let mut reference_prefixes = Vec::new();
    let mut canonicalizations = 0;
    if let Some(transforms) = only_child(reference, DSIG_NS, "Transforms")? {
        for transform in transforms.children().filter(Node::is_element) {
            if transform.tag_name().namespace() != Some(DSIG_NS) || transform.tag_name().name() != "Transform" {
                return Err(SamlError::structure("Transforms holds something other than Transform"));
            }
            let uri = algorithm(transform)?;
            if uri == ENVELOPED && !enveloped {
                enveloped = true;
            } else if let Some(m) = Method::from_uri(uri).filter(|_| canonicalizations == 0) {
                canonicalizations += 1;
                reference_method = m.without_comments();
                reference_prefixes = inclusive_prefixes(transform);
            } else {
                return Err(SamlError::Unsupported("the reference's transforms"));
            }
        }
    }
    if !enveloped {
        return Err(SamlError::Unsupported("a signature without the enveloped-signature transform"));
    }
    let digest = digest_algorithm(algorithm(required(reference, "DigestMethod")?)?)
        .ok_or(SamlError::Unsupported("the reference's digest method"))?;
    let expected = decode_base64(&text_of(required(reference, "DigestValue")?))
        .ok_or_else(|| SamlError::structure("the digest value is not base64"))?;
    let canonical = c14n::canonicalize(parent, reference_method, &reference_prefixes, Some(signature.id()))?;
    let actual = ring::digest::digest(digest, canonical.as_bytes());
    if actual.as_ref() != expected.as_slice() {
        return Err(SamlError::BadSignature("the signed element's digest does not match"));
    }

    // A certificate in the message is never trusted for its own sake: when one is there, it
    // must be one of the provider's.
    if let Some(key_info) = only_child(signature, DSIG_NS, "KeyInfo")? {
        let embedded = crate::children(key_info, DSIG_NS, "X509Data")
            .flat_map(|data| crate::children(data, DSIG_NS, "X509Certificate"));
        for cert in embedded {
            let der = decode_base64(&text_of(cert)).ok_or(SamlError::UntrustedCertificate)?;
            if !certificates.contains(&der) {
                return Err(SamlError::UntrustedCertificate);
            }
        }
    }

    let signature_value = decode_base64(&text_of(required(signature, "SignatureValue")?))
        .ok_or_else(|| SamlError::structure("the signature value is not base64"))?;
    let c14n_prefixes = match method {
        Method::Exclusive { .. } => inclusive_prefixes(c14n_method),
        Method::Inclusive { .. } => Vec::new(),
    };
    let signed = c14n::canonicalize(signed_info, method, &c14n_prefixes, None)?;
    let verified = certificates.iter().filter_map(|der| rsa_public_key(der)).any(|key| {
        ring::signature::UnparsedPublicKey::new(rsa, key).verify(signed.as_bytes(), &signature_value).is_ok()
    });
    if verified {
        Ok(())
    } else {
        Err(SamlError::BadSignature("the signature does not verify with the provider's certificates"))
    }
}
