//! Encrypted `NameID`s (`EncryptedID`) and attributes (`EncryptedAttribute`) made by
//! `xmlsec1 --encrypt` (an independent XML Encryption implementation) inside assertions `xmlsec1`
//! then signed: they read as plain ones in a plain assertion and inside an encrypted one; the
//! signature is checked over their ciphertext before anything is decrypted; the wrong key, a
//! ciphertext that does not decrypt, and plaintext that is not exactly the one expected element
//! are one `Undecryptable`; `Required` wants the whole assertion encrypted.

mod idp;

use idp::{Claims, Key, assertion, encrypted_data, response, sign, signature_template};
use ring::rand::SystemRandom;
use tessera_saml::{
    Decryption, DecryptionKey, Expectations, PRINCIPAL_TAG_PREFIX, ROLE_ATTRIBUTE, ROLE_SESSION_NAME_ATTRIBUTE,
    SamlError, parse_metadata, verify_encrypted_response,
};

const NOW: i64 = 1_800_000_000;
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

struct Provider {
    signing: Key,
    /// The recipient (service provider) key the identity provider encrypts for.
    encryption: Key,
    certificates: Vec<Vec<u8>>,
    entity_id: String,
}

fn provider() -> Provider {
    let signing = Key::new("el-signing");
    let metadata = parse_metadata(&signing.metadata(idp::ISSUER)).expect("the test metadata parses");
    Provider {
        signing,
        encryption: Key::new("el-encryption"),
        certificates: metadata.signing_certificates,
        entity_id: metadata.entity_id,
    }
}

fn expectations<'a>(p: &'a Provider, endpoints: &'a [String]) -> Expectations<'a> {
    Expectations {
        entity_id: &p.entity_id,
        certificates: &p.certificates,
        audiences: endpoints,
        recipients: endpoints,
        now: NOW,
        skew_secs: 60,
    }
}

fn verify(
    p: &Provider,
    xml: &str,
    keys: &[DecryptionKey],
    required: bool,
) -> Result<tessera_saml::Assertion, SamlError> {
    let endpoints = [tessera_saml::AWS_SAML_ENDPOINT.to_owned()];
    let random = SystemRandom::new();
    verify_encrypted_response(xml, &expectations(p, &endpoints), &Decryption { keys, required, random: &random })
}

fn key(k: &Key) -> DecryptionKey {
    DecryptionKey::from_pem(&k.private_pem()).expect("the test key parses")
}

fn tag_attribute() -> String {
    format!("{PRINCIPAL_TAG_PREFIX}team")
}

fn claims() -> Claims {
    let mut claims = Claims::new(NOW);
    claims.attributes.push((tag_attribute(), vec!["blue".into()]));
    claims
}

/// A response with an unsigned assertion (a signature template in it), for `xmlsec1` to sign
/// once its parts are encrypted.
fn unsigned(claims: &Claims) -> String {
    let template = signature_template("_assertion", idp::EXC_C14N, idp::RSA_SHA256, idp::SHA256, true);
    response(claims, &assertion(claims, "_assertion", &template), "")
}

/// The assertion's `NameID`, `Role` and `PrincipalTag:team` encrypted for `recipient`, then the
/// assertion signed (over the ciphertext).
fn encrypted_parts(p: &Provider, claims: &Claims, recipient: &Key) -> String {
    let xml = idp::encrypt_name_id(&unsigned(claims), recipient);
    let xml = idp::encrypt_attribute(&xml, ROLE_ATTRIBUTE, recipient);
    let xml = idp::encrypt_attribute(&xml, &tag_attribute(), recipient);
    sign(&xml, &p.signing)
}

fn assert_reads_as_plain(verified: &tessera_saml::Assertion) {
    assert_eq!(verified.name_id, "alice@example.com");
    assert_eq!(verified.name_id_format.as_deref(), Some(PERSISTENT));
    assert_eq!(verified.values(ROLE_ATTRIBUTE), [format!("{},{}", idp::ROLE, idp::PROVIDER)]);
    assert_eq!(verified.values(ROLE_SESSION_NAME_ATTRIBUTE), ["alice"]);
    assert_eq!(verified.values(&tag_attribute()), ["blue"]);
    // Decrypted attributes keep their place in document order.
    let names: Vec<&str> = verified.attributes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [ROLE_ATTRIBUTE, ROLE_SESSION_NAME_ATTRIBUTE, tag_attribute().as_str()]);
}

#[test]
fn encrypted_name_id_and_attributes_read_as_plain_ones() {
    let p = provider();
    let claims = claims();
    let xml = encrypted_parts(&p, &claims, &p.encryption);
    assert_eq!(xml.matches("<saml:EncryptedID>").count(), 1, "{xml}");
    assert_eq!(xml.matches("<saml:EncryptedAttribute>").count(), 2, "{xml}");
    assert!(!xml.contains("alice@example.com") && !xml.contains(idp::ROLE) && !xml.contains("blue"), "{xml}");
    let keys = [key(&p.encryption)];
    assert_reads_as_plain(&verify(&p, &xml, &keys, false).unwrap_or_else(|e| panic!("{e}\n{xml}")));
    // With two keys, the one that opens each transported key is used, whichever it is.
    let other = Key::new("el-other");
    assert_reads_as_plain(&verify(&p, &xml, &[key(&other), key(&p.encryption)], false).unwrap());

    // Without a key (no key at all, or `verify_response`), encrypted parts are not readable.
    assert_eq!(verify(&p, &xml, &[], false).unwrap_err(), SamlError::NoDecryptionKey);
    let endpoints = [tessera_saml::AWS_SAML_ENDPOINT.to_owned()];
    assert_eq!(
        tessera_saml::verify_response(&xml, &expectations(&p, &endpoints)).unwrap_err(),
        SamlError::NoDecryptionKey
    );
}

#[test]
fn required_mode_wants_the_whole_assertion_encrypted() {
    let p = provider();
    let claims = claims();
    let keys = [key(&p.encryption)];
    // A plain assertion whose NameID and attributes are encrypted is still a plain assertion.
    let xml = encrypted_parts(&p, &claims, &p.encryption);
    assert_eq!(verify(&p, &xml, &keys, true).unwrap_err(), SamlError::EncryptionRequired);
    // The same signed assertion, then encrypted whole: its encrypted parts are decrypted after
    // the decrypted assertion's signature verified.
    let template = idp::encryption_template(idp::AES128_GCM, idp::RSA_OAEP_MGF1P, Some(idp::SHA1));
    let whole = idp::encrypt(&xml, &p.encryption, &template, 128);
    assert!(whole.contains("<saml:EncryptedAssertion>") && !whole.contains("<saml:EncryptedID>"), "{whole}");
    assert_reads_as_plain(&verify(&p, &whole, &keys, true).unwrap_or_else(|e| panic!("{e}\n{whole}")));
}

#[test]
fn the_wrong_key_is_undecryptable() {
    let p = provider();
    let claims = claims();
    let wrong = Key::new("el-wrong");
    let keys = [key(&p.encryption)];
    // Each part on its own, encrypted for another key (the others left plain).
    let name_id = sign(&idp::encrypt_name_id(&unsigned(&claims), &wrong), &p.signing);
    let role = sign(&idp::encrypt_attribute(&unsigned(&claims), ROLE_ATTRIBUTE, &wrong), &p.signing);
    let tag = sign(&idp::encrypt_attribute(&unsigned(&claims), &tag_attribute(), &wrong), &p.signing);
    for xml in [name_id, role, tag] {
        let error = verify(&p, &xml, &keys, false).unwrap_err();
        assert!(matches!(error, SamlError::Undecryptable(_)), "{error}");
        // Decrypted with the key it was made for, the same document verifies.
        assert_reads_as_plain(&verify(&p, &xml, &[key(&wrong)], false).unwrap());
    }
}

#[test]
fn the_signature_is_checked_over_the_ciphertext_before_decrypting() {
    let p = provider();
    let claims = claims();
    let keys = [key(&p.encryption)];
    let wrong = Key::new("el-wrong2");
    for (name, recipient) in [("right key", &p.encryption), ("wrong key", &wrong)] {
        let xml = encrypted_parts(&p, &claims, recipient);
        // A byte of each part's data ciphertext and transported key, altered after signing: the
        // signature fails first, even when the key could not have decrypted it anyway.
        let mut at = 0;
        while let Some(found) = xml[at..].find("</xenc:CipherValue>") {
            let value = at + found - 20;
            let flipped = if &xml[value..=value] == "A" { "B" } else { "A" };
            let altered = format!("{}{flipped}{}", &xml[..value], &xml[value + 1..]);
            let error = verify(&p, &altered, &keys, false).unwrap_err();
            assert!(matches!(error, SamlError::BadSignature(_)), "{name} at {value}: {error}");
            at += found + 1;
        }
    }
}

#[test]
fn a_signed_ciphertext_that_does_not_decrypt_is_undecryptable() {
    let p = provider();
    let claims = claims();
    let keys = [key(&p.encryption)];
    // The identity provider signed ciphertexts that do not decrypt: a byte of the data (GCM for
    // the NameID, CBC for the attributes) or of the transported key altered before signing.
    for (part, encrypt) in [
        ("NameID", Box::new(|xml: &str| idp::encrypt_name_id(xml, &p.encryption)) as Box<dyn Fn(&str) -> String>),
        ("Role", Box::new(|xml: &str| idp::encrypt_attribute(xml, ROLE_ATTRIBUTE, &p.encryption))),
    ] {
        let xml = encrypt(&unsigned(&claims));
        for end in [xml.rfind("</xenc:CipherValue>").unwrap(), xml.find("</xenc:CipherValue>").unwrap()] {
            let value = end - 20;
            let flipped = if &xml[value..=value] == "A" { "B" } else { "A" };
            let altered = sign(&format!("{}{flipped}{}", &xml[..value], &xml[value + 1..]), &p.signing);
            let error = verify(&p, &altered, &keys, false).unwrap_err();
            assert!(matches!(error, SamlError::Undecryptable(_)), "{part} at {value}: {error}");
        }
        // Unaltered, it decrypts.
        assert!(verify(&p, &sign(&xml, &p.signing), &keys, false).is_ok(), "{part}");
    }
}

/// A signed response whose subject's `NameID` (with `container` `EncryptedID`) or `Role`
/// attribute (`EncryptedAttribute`) is an `EncryptedData` of exactly `plaintext`.
fn with_plaintext(p: &Provider, container: &str, plaintext: &str) -> String {
    let xml = unsigned(&claims());
    let range = if container == "EncryptedID" {
        idp::element_range(&xml, "<saml:NameID", "</saml:NameID>")
    } else {
        idp::element_range(&xml, &format!(r#"<saml:Attribute Name="{ROLE_ATTRIBUTE}">"#), "</saml:Attribute>")
    };
    let encrypted = encrypted_data(plaintext, &p.encryption);
    let xml = format!("{}<saml:{container}>{encrypted}</saml:{container}>{}", &xml[..range.start], &xml[range.end..]);
    sign(&xml, &p.signing)
}

#[test]
fn the_plaintext_must_be_exactly_the_expected_element() {
    let p = provider();
    let keys = [key(&p.encryption)];
    let role = format!("{},{}", idp::ROLE, idp::PROVIDER);
    let attribute = format!(
        r#"<saml:Attribute Name="{ROLE_ATTRIBUTE}"><saml:AttributeValue>{role}</saml:AttributeValue></saml:Attribute>"#
    );
    let signature = signature_template("_x", idp::EXC_C14N, idp::RSA_SHA256, idp::SHA256, false);

    // What identity providers send decrypts, whitespace around it and in the parent's namespace
    // scope (the `saml` prefix is declared outside the ciphertext) or declaring its own.
    let good =
        with_plaintext(&p, "EncryptedID", &format!("\n <saml:NameID Format=\"{PERSISTENT}\">bob</saml:NameID>\n"));
    let verified = verify(&p, &good, &keys, false).unwrap();
    assert_eq!((verified.name_id.as_str(), verified.name_id_format.as_deref()), ("bob", Some(PERSISTENT)));
    let own_scope = format!(
        r#"<Attribute xmlns="urn:oasis:names:tc:SAML:2.0:assertion" Name="{ROLE_ATTRIBUTE}"><AttributeValue>{role}</AttributeValue></Attribute>"#
    );
    let verified = verify(&p, &with_plaintext(&p, "EncryptedAttribute", &own_scope), &keys, false).unwrap();
    assert_eq!(verified.values(ROLE_ATTRIBUTE), std::slice::from_ref(&role));

    let name_ids = [
        // Another element than a NameID.
        attribute.clone(),
        "<saml:BaseID NameQualifier=\"x\"/>".to_owned(),
        // More than one element, or text beside it.
        "<saml:NameID>bob</saml:NameID><saml:NameID>admin</saml:NameID>".to_owned(),
        "<saml:NameID>bob</saml:NameID>admin".to_owned(),
        "<!-- x --><saml:NameID>bob</saml:NameID>".to_owned(),
        // Markup that closes the wrapper it is parsed in.
        "<saml:NameID>bob</saml:NameID></tessera-decrypted><tessera-decrypted>".to_owned(),
        // A DTD, an entity, an XML declaration.
        "<!DOCTYPE x [<!ENTITY e \"admin\">]><saml:NameID>&e;</saml:NameID>".to_owned(),
        "<saml:NameID>&e;</saml:NameID>".to_owned(),
        "<?xml version=\"1.0\"?><saml:NameID>bob</saml:NameID>".to_owned(),
        // Child elements: a signature, an assertion, anything.
        format!("<saml:NameID>bob{signature}</saml:NameID>"),
        "<saml:NameID>bob<saml:Assertion/></saml:NameID>".to_owned(),
        "<saml:NameID><b>bob</b></saml:NameID>".to_owned(),
        // An unbound prefix, not XML, only whitespace, too much.
        "<x:NameID>bob</x:NameID>".to_owned(),
        "not xml".to_owned(),
        " \n ".to_owned(),
        format!("<saml:NameID>{}</saml:NameID>", "a".repeat(70_000)),
    ];
    for plaintext in &name_ids {
        let xml = with_plaintext(&p, "EncryptedID", plaintext);
        let error = verify(&p, &xml, &keys, false).unwrap_err();
        assert!(matches!(error, SamlError::Undecryptable(_)), "{plaintext:.80}: {error}");
    }
    let attributes = [
        // A NameID where an attribute goes, two attributes.
        "<saml:NameID>bob</saml:NameID>".to_owned(),
        format!("{attribute}{attribute}"),
        // Children other than values, and values carrying signed or encrypted content.
        format!(r#"<saml:Attribute Name="{ROLE_ATTRIBUTE}"><saml:Issuer>x</saml:Issuer></saml:Attribute>"#),
        format!(
            r#"<saml:Attribute Name="{ROLE_ATTRIBUTE}"><saml:AttributeValue>{role}{signature}</saml:AttributeValue></saml:Attribute>"#
        ),
        format!(
            r#"<saml:Attribute Name="{ROLE_ATTRIBUTE}"><saml:AttributeValue><saml:EncryptedAttribute/></saml:AttributeValue></saml:Attribute>"#
        ),
        format!(
            r#"<saml:Attribute Name="{ROLE_ATTRIBUTE}"><saml:AttributeValue><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:AttributeValue></saml:Attribute>"#
        ),
    ];
    for plaintext in &attributes {
        let xml = with_plaintext(&p, "EncryptedAttribute", plaintext);
        let error = verify(&p, &xml, &keys, false).unwrap_err();
        assert!(matches!(error, SamlError::Undecryptable(_)), "{plaintext:.80}: {error}");
    }
}

#[test]
fn encrypted_parts_are_accepted_only_in_their_place() {
    let p = provider();
    let keys = [key(&p.encryption)];
    let xml = unsigned(&claims());
    let name_id = idp::element_range(&xml, "<saml:NameID", "</saml:NameID>");
    let encrypted_id = format!(
        "<saml:EncryptedID>{}</saml:EncryptedID>",
        encrypted_data("<saml:NameID>bob</saml:NameID>", &p.encryption)
    );
    // Beside a plain NameID.
    let both = sign(&format!("{}{encrypted_id}{}", &xml[..name_id.end], &xml[name_id.end..]), &p.signing);
    assert!(matches!(verify(&p, &both, &keys, false), Err(SamlError::Structure(_))));
    // In the subject confirmation, in the response, as a direct child of the assertion.
    let confirmation = xml.find("<saml:SubjectConfirmationData").unwrap();
    let response_issuer = xml.find("<samlp:Status>").unwrap();
    let conditions = xml.find("<saml:Conditions").unwrap();
    for at in [confirmation, response_issuer, conditions] {
        let misplaced = sign(&format!("{}{encrypted_id}{}", &xml[..at], &xml[at..]), &p.signing);
        assert!(matches!(verify(&p, &misplaced, &keys, false), Err(SamlError::Unsupported(_))), "{at}");
    }
    let encrypted_attribute = encrypted_id.replace("EncryptedID", "EncryptedAttribute");
    let misplaced = sign(&format!("{}{encrypted_attribute}{}", &xml[..conditions], &xml[conditions..]), &p.signing);
    assert!(matches!(verify(&p, &misplaced, &keys, false), Err(SamlError::Unsupported(_))));
}
