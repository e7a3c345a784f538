//! The verifier against responses signed by `xmlsec1` (an independent XML-DSig implementation):
//! every algorithm combination AWS accepts verifies, and every tampering, wrapping and misdirected
//! assertion is refused with the reason it has.

mod idp;

use idp::{Claims, Key, assertion, response, sign, signature_template};
use tessera_saml::{Expectations, SamlError, parse_metadata, verify_response};

const NOW: i64 = 1_800_000_000;

struct Provider {
    key: Key,
    certificates: Vec<Vec<u8>>,
    entity_id: String,
}

fn provider() -> Provider {
    let key = Key::new("trusted");
    let metadata = parse_metadata(&key.metadata(idp::ISSUER)).expect("the test metadata parses");
    Provider { key, certificates: metadata.signing_certificates, entity_id: metadata.entity_id }
}

fn verify(p: &Provider, xml: &str) -> Result<tessera_saml::Assertion, SamlError> {
    verify_at(p, xml, NOW)
}

fn verify_at(p: &Provider, xml: &str, now: i64) -> Result<tessera_saml::Assertion, SamlError> {
    let audiences = vec![tessera_saml::AWS_SAML_ENDPOINT.to_owned(), tessera_saml::AWS_AUDIENCE_URN.to_owned()];
    let recipients = vec![tessera_saml::AWS_SAML_ENDPOINT.to_owned()];
    verify_response(
        xml,
        &Expectations {
            entity_id: &p.entity_id,
            certificates: &p.certificates,
            audiences: &audiences,
            recipients: &recipients,
            now,
            skew_secs: 60,
        },
    )
}

#[test]
fn assertions_signed_by_xmlsec1_verify_with_every_accepted_algorithm() {
    let p = provider();
    let claims = Claims::new(NOW);
    let combos = [
        (idp::EXC_C14N, idp::RSA_SHA256, idp::SHA256),
        (idp::EXC_C14N, idp::RSA_SHA1, idp::SHA1),
        (idp::EXC_C14N_COMMENTS, idp::RSA_SHA256, idp::SHA256),
        (idp::C14N, idp::RSA_SHA256, idp::SHA1),
    ];
    for (c14n, method, digest) in combos {
        for key_info in [true, false] {
            let template = signature_template("_assertion", c14n, method, digest, key_info);
            let xml = sign(&response(&claims, &assertion(&claims, "_assertion", &template), ""), &p.key);
            let verified = verify(&p, &xml).unwrap_or_else(|e| panic!("{c14n} {method} {digest}: {e}\n{xml}"));
            assert_eq!(verified.name_id, "alice@example.com");
            assert_eq!(verified.issuer, idp::ISSUER);
            assert_eq!(verified.recipient, tessera_saml::AWS_SAML_ENDPOINT);
            assert_eq!(verified.values(tessera_saml::ROLE_SESSION_NAME_ATTRIBUTE), ["alice"]);
            assert_eq!(verified.not_on_or_after, NOW + 300);
        }
    }
}

#[test]
fn a_signed_response_covers_its_assertion_and_both_may_be_signed() {
    let p = provider();
    let claims = Claims::new(NOW);
    let template = signature_template("_response", idp::EXC_C14N, idp::RSA_SHA256, idp::SHA256, true);
    let xml = sign(&response(&claims, &assertion(&claims, "_assertion", ""), &template), &p.key);
    assert_eq!(verify(&p, &xml).unwrap().name_id, "alice@example.com");

    // Both: the assertion first, then the response around it (xmlsec1 signs the first template).
    let signed = idp::signed_assertion(&claims, &p.key);
    let outer = signed.replacen(
        &format!("<saml:Issuer>{}</saml:Issuer>", idp::ISSUER),
        &format!("<saml:Issuer>{}</saml:Issuer>{template}", idp::ISSUER),
        1,
    );
    let both = sign(&outer, &p.key);
    assert_eq!(both.matches("<ds:SignatureValue>").count(), 2, "{both}");
    assert_eq!(verify(&p, &both).unwrap().name_id, "alice@example.com");
}

#[test]
fn tampering_after_signing_is_refused() {
    let p = provider();
    let claims = Claims::new(NOW);
    let xml = idp::signed_assertion(&claims, &p.key);
    let tampered = xml.replace("alice@example.com", "admin@example.com");
    assert!(matches!(verify(&p, &tampered), Err(SamlError::BadSignature(_))));
    let role = xml.replace("role/saml-role", "role/admin");
    assert!(matches!(verify(&p, &role), Err(SamlError::BadSignature(_))));
}

#[test]
fn unsigned_and_untrusted_responses_are_refused() {
    let p = provider();
    let claims = Claims::new(NOW);
    let unsigned = response(&claims, &assertion(&claims, "_assertion", ""), "");
    assert_eq!(verify(&p, &unsigned).unwrap_err(), SamlError::Unsigned);

    // Signed by another key: with its certificate in KeyInfo, and without.
    let other = Key::new("untrusted");
    let xml = idp::signed_assertion(&claims, &other);
    assert_eq!(verify(&p, &xml).unwrap_err(), SamlError::UntrustedCertificate);
    let template = signature_template("_assertion", idp::EXC_C14N, idp::RSA_SHA256, idp::SHA256, false);
    let xml = sign(&response(&claims, &assertion(&claims, "_assertion", &template), ""), &other);
    assert!(matches!(verify(&p, &xml), Err(SamlError::BadSignature(_))));

    // The trusted signature with the untrusted certificate swapped into KeyInfo.
    let xml = idp::signed_assertion(&claims, &p.key);
    let (open, close) = ("<ds:X509Certificate>", "</ds:X509Certificate>");
    let start = xml.find(open).expect("xmlsec1 filled in KeyInfo") + open.len();
    let end = xml.find(close).unwrap();
    let swapped = format!("{}{}{}", &xml[..start], other.cert_b64(), &xml[end..]);
    assert_eq!(verify(&p, &swapped).unwrap_err(), SamlError::UntrustedCertificate);
}

#[test]
fn signature_wrapping_is_refused() {
    let p = provider();
    let claims = Claims::new(NOW);
    let signed = idp::signed_assertion(&claims, &p.key);
    let start = signed.find("<saml:Assertion").unwrap();
    let end = signed.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let genuine = &signed[start..end];
    let mut evil_claims = claims.clone();
    evil_claims.name_id = "admin@example.com".into();
    let evil = assertion(&evil_claims, "_evil", "");

    // A second, unsigned assertion beside the signed one (before and after it).
    for doc in [
        format!("{}{evil}{}", &signed[..start], &signed[start..]),
        format!("{}{evil}{}", &signed[..end], &signed[end..]),
    ] {
        assert!(matches!(verify(&p, &doc), Err(SamlError::Wrapping(_))), "{doc}");
    }
    // The signed assertion moved into an extension, an unsigned one in its place.
    let moved = format!("{}<samlp:Extensions>{genuine}</samlp:Extensions>{evil}{}", &signed[..start], &signed[end..]);
    assert!(matches!(verify(&p, &moved), Err(SamlError::Wrapping(_))));
    // The unsigned assertion given the signed one's ID: the signature covers "another" element.
    let same_id = assertion(&evil_claims, "_assertion", "");
    let duplicated = format!("{}{same_id}{}", &signed[..start], &signed[end..]).replacen(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{genuine}</samlp:Extensions><samlp:Status>"),
        1,
    );
    assert!(matches!(verify(&p, &duplicated), Err(SamlError::Wrapping(_))));
    // The signature taken out of the assertion and placed in the response: it no longer
    // references its parent.
    let sig_start = genuine.find("<ds:Signature").unwrap();
    let sig_end = genuine.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let signature = &genuine[sig_start..sig_end];
    let stripped = format!("{}{}", &genuine[..sig_start], &genuine[sig_end..]);
    let relocated = format!("{}{stripped}{}", &signed[..start], &signed[end..]).replacen(
        "<samlp:Status>",
        &format!("{signature}<samlp:Status>"),
        1,
    );
    assert!(matches!(verify(&p, &relocated), Err(SamlError::Wrapping(_))));
}

#[test]
fn comments_do_not_truncate_the_name_id() {
    let p = provider();
    let mut claims = Claims::new(NOW);
    claims.name_id = "alice@example.com<!---->.evil.com".into();
    let xml = idp::signed_assertion(&claims, &p.key);
    assert_eq!(verify(&p, &xml).unwrap().name_id, "alice@example.com.evil.com");
}

#[test]
fn dtds_are_refused_before_anything_is_expanded() {
    let p = provider();
    let claims = Claims::new(NOW);
    let xml = idp::signed_assertion(&claims, &p.key).replacen(
        "<samlp:Response",
        "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><samlp:Response",
        1,
    );
    assert!(matches!(verify(&p, &xml), Err(SamlError::Malformed(_))));
}

#[test]
fn time_audience_recipient_and_issuer_are_checked() {
    let p = provider();
    let claims = Claims::new(NOW);
    let xml = idp::signed_assertion(&claims, &p.key);
    assert!(verify_at(&p, &xml, NOW + 300 + 59).is_ok(), "within the skew");
    assert!(matches!(verify_at(&p, &xml, NOW + 300 + 61), Err(SamlError::Expired(_))));
    assert!(matches!(verify_at(&p, &xml, NOW - 200), Err(SamlError::NotYetValid(_))));

    let mut wrong = claims.clone();
    wrong.audience = "https://sp.example.com".into();
    assert_eq!(verify(&p, &idp::signed_assertion(&wrong, &p.key)).unwrap_err(), SamlError::WrongAudience);
    let mut urn = claims.clone();
    urn.audience = tessera_saml::AWS_AUDIENCE_URN.into();
    assert!(verify(&p, &idp::signed_assertion(&urn, &p.key)).is_ok());

    let mut wrong = claims.clone();
    wrong.recipient = "https://sp.example.com/acs".into();
    assert!(matches!(verify(&p, &idp::signed_assertion(&wrong, &p.key)), Err(SamlError::WrongRecipient(_))));

    let mut wrong = claims.clone();
    wrong.issuer = "https://evil.example.com".into();
    assert!(matches!(verify(&p, &idp::signed_assertion(&wrong, &p.key)), Err(SamlError::WrongIssuer(_))));
}

#[test]
fn metadata_is_validated() {
    let key = Key::new("metadata");
    let metadata = parse_metadata(&key.metadata("urn:idp")).unwrap();
    assert_eq!(metadata.entity_id, "urn:idp");
    assert_eq!(metadata.signing_certificates.len(), 1);
    assert_eq!(metadata.valid_until, None);
    let until = key.metadata("urn:idp").replace("entityID=", "validUntil=\"2030-01-01T00:00:00Z\" entityID=");
    assert_eq!(parse_metadata(&until).unwrap().valid_until, Some(1_893_456_000));
    for bad in [
        key.metadata(""),
        key.metadata("urn:idp").replace("IDPSSODescriptor", "SPSSODescriptor"),
        key.metadata("urn:idp").replace("use=\"signing\"", "use=\"encryption\""),
        key.metadata("urn:idp").replace(&key.cert_b64(), "bm90IGEgY2VydGlmaWNhdGU="),
        "<x/>".to_owned(),
        "not xml".to_owned(),
    ] {
        assert!(parse_metadata(&bad).is_err(), "{bad}");
    }
}
