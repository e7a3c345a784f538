//! Encrypted assertions made by `xmlsec1 --encrypt` (an independent XML Encryption
//! implementation): every data algorithm decrypts with RSA-OAEP key transport and then verifies as
//! a plain assertion would; a signed response covers the ciphertext; a provider that requires
//! encryption refuses plain assertions; the wrong key, altered ciphertext, RSA v1.5 key transport
//! and plaintext that smuggles a second assertion are refused.

mod idp;

use idp::{Claims, Key, assertion, encrypt, encryption_template, response, sign, signature_template};
use ring::rand::SystemRandom;
use tessera_saml::{
    Decryption, DecryptionKey, Expectations, KeyError, SamlError, parse_metadata, verify_encrypted_response,
};

const NOW: i64 = 1_800_000_000;
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

struct Provider {
    signing: Key,
    /// The recipient (service provider) key the identity provider encrypts for.
    encryption: Key,
    certificates: Vec<Vec<u8>>,
    entity_id: String,
}

fn provider() -> Provider {
    let signing = Key::new("signing");
    let metadata = parse_metadata(&signing.metadata(idp::ISSUER)).expect("the test metadata parses");
    Provider {
        signing,
        encryption: Key::new("encryption"),
        certificates: metadata.signing_certificates,
        entity_id: metadata.entity_id,
    }
}

fn verify(
    p: &Provider,
    xml: &str,
    keys: &[DecryptionKey],
    required: bool,
) -> Result<tessera_saml::Assertion, SamlError> {
    let audiences = vec![tessera_saml::AWS_SAML_ENDPOINT.to_owned()];
    let recipients = audiences.clone();
    let expect = Expectations {
        entity_id: &p.entity_id,
        certificates: &p.certificates,
        audiences: &audiences,
        recipients: &recipients,
        now: NOW,
        skew_secs: 60,
    };
    let random = SystemRandom::new();
    verify_encrypted_response(xml, &expect, &Decryption { keys, required, random: &random })
}

fn key(k: &Key) -> DecryptionKey {
    DecryptionKey::from_pem(&k.private_pem()).expect("the test key parses")
}

/// A response whose assertion `xmlsec1` signed, then encrypted with `data` under RSA-OAEP.
fn encrypted(p: &Provider, claims: &Claims, data: &str) -> String {
    let bits = if data.contains("256") { 256 } else { 128 };
    let signed = idp::signed_assertion(claims, &p.signing);
    encrypt(&signed, &p.encryption, &encryption_template(data, idp::RSA_OAEP_MGF1P, Some(SHA1)), bits)
}

#[test]
fn encrypted_assertions_decrypt_with_every_data_algorithm() {
    let p = provider();
    let claims = Claims::new(NOW);
    let keys = [key(&p.encryption)];
    for data in [idp::AES128_CBC, idp::AES256_CBC, idp::AES128_GCM, idp::AES256_GCM] {
        let xml = encrypted(&p, &claims, data);
        assert!(xml.contains("EncryptedAssertion") && !xml.contains("alice@example.com"), "{xml}");
        let verified = verify(&p, &xml, &keys, true).unwrap_or_else(|e| panic!("{data}: {e}\n{xml}"));
        assert_eq!(verified.name_id, "alice@example.com");
        assert_eq!(verified.values(tessera_saml::ROLE_SESSION_NAME_ATTRIBUTE), ["alice"]);
    }
    // The OAEP digest defaults to SHA-1 when the key's method names none; the key may be PKCS#1.
    let signed = idp::signed_assertion(&claims, &p.signing);
    let xml = encrypt(&signed, &p.encryption, &encryption_template(idp::AES128_GCM, idp::RSA_OAEP_MGF1P, None), 128);
    let pkcs1 = DecryptionKey::from_pem(&p.encryption.pkcs1_pem()).unwrap();
    assert_eq!(verify(&p, &xml, &[pkcs1], false).unwrap().name_id, "alice@example.com");
    // With two keys, the one that opens the transported key is used, whichever it is.
    let other = Key::new("other");
    assert!(verify(&p, &xml, &[key(&other), key(&p.encryption)], false).is_ok());
}

#[test]
fn a_signed_response_covers_its_encrypted_assertion() {
    let p = provider();
    let claims = Claims::new(NOW);
    let keys = [key(&p.encryption)];
    // The assertion unsigned, encrypted, then the response signed around the ciphertext.
    let plain = response(&claims, &assertion(&claims, "_assertion", ""), "");
    let template = encryption_template(idp::AES256_GCM, idp::RSA_OAEP_MGF1P, Some(SHA1));
    let xml = encrypt(&plain, &p.encryption, &template, 256);
    let signature = signature_template("_response", idp::EXC_C14N, idp::RSA_SHA256, idp::SHA256, true);
    let xml = xml.replacen(
        &format!("<saml:Issuer>{}</saml:Issuer>", idp::ISSUER),
        &format!("<saml:Issuer>{}</saml:Issuer>{signature}", idp::ISSUER),
        1,
    );
    let xml = sign(&xml, &p.signing);
    assert_eq!(verify(&p, &xml, &keys, true).unwrap().name_id, "alice@example.com");
    // The ciphertext is what the response's signature covers.
    let value = xml.rfind("</xenc:CipherValue>").unwrap() - 4;
    let altered = format!("{}AAAA{}", &xml[..value], &xml[value + 4..]);
    assert!(matches!(verify(&p, &altered, &keys, true), Err(SamlError::BadSignature(_))));

    // Neither signed: the plaintext is nobody's word, and says no more than that.
    let unsigned = encrypt(&plain, &p.encryption, &template, 256);
    assert!(matches!(verify(&p, &unsigned, &keys, false), Err(SamlError::Undecryptable(_))));
}

#[test]
fn the_encryption_mode_and_the_keys_decide() {
    let p = provider();
    let claims = Claims::new(NOW);
    let plain = idp::signed_assertion(&claims, &p.signing);
    let keys = [key(&p.encryption)];
    assert_eq!(verify(&p, &plain, &keys, true).unwrap_err(), SamlError::EncryptionRequired);
    assert_eq!(verify(&p, &plain, &keys, false).unwrap().name_id, "alice@example.com");
    assert_eq!(verify(&p, &plain, &[], false).unwrap().name_id, "alice@example.com");

    let xml = encrypted(&p, &claims, idp::AES128_CBC);
    assert_eq!(verify(&p, &xml, &[], false).unwrap_err(), SamlError::NoDecryptionKey);
    let wrong = Key::new("wrong");
    assert!(matches!(verify(&p, &xml, &[key(&wrong)], true), Err(SamlError::Undecryptable(_))));
    // `verify_response` (no keys) refuses encrypted assertions.
    let audiences = vec![tessera_saml::AWS_SAML_ENDPOINT.to_owned()];
    let expect = Expectations {
        entity_id: &p.entity_id,
        certificates: &p.certificates,
        audiences: &audiences,
        recipients: &audiences,
        now: NOW,
        skew_secs: 60,
    };
    assert_eq!(tessera_saml::verify_response(&xml, &expect).unwrap_err(), SamlError::NoDecryptionKey);
}

#[test]
fn altered_ciphertexts_are_refused_alike() {
    let p = provider();
    let claims = Claims::new(NOW);
    let keys = [key(&p.encryption)];
    for data in [idp::AES128_CBC, idp::AES256_GCM] {
        let xml = encrypted(&p, &claims, data);
        // A byte of the data's ciphertext (the last CipherValue) and of the transported key.
        let data_value = xml.rfind("</xenc:CipherValue>").unwrap() - 30;
        let key_value = xml.find("</xenc:CipherValue>").unwrap() - 30;
        for at in [data_value, key_value] {
            let flipped = if &xml[at..=at] == "A" { "B" } else { "A" };
            let altered = format!("{}{flipped}{}", &xml[..at], &xml[at + 1..]);
            let error = verify(&p, &altered, &keys, true).unwrap_err();
            assert!(matches!(error, SamlError::Undecryptable(_)), "{data} at {at}: {error}");
        }
    }
}

#[test]
fn rsa_v1_5_key_transport_is_refused() {
    let p = provider();
    let claims = Claims::new(NOW);
    let signed = idp::signed_assertion(&claims, &p.signing);
    let xml = encrypt(&signed, &p.encryption, &encryption_template(idp::AES128_CBC, idp::RSA_1_5, None), 128);
    let error = verify(&p, &xml, &[key(&p.encryption)], true).unwrap_err();
    assert!(error.to_string().contains("rsa-1_5"), "{error}");
}

#[test]
fn plaintext_must_be_exactly_one_assertion() {
    let p = provider();
    let claims = Claims::new(NOW);
    let keys = [key(&p.encryption)];
    let signed = idp::signed_assertion(&claims, &p.signing);
    let start = signed.find("<saml:Assertion").unwrap();
    let end = signed.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let mut evil_claims = claims.clone();
    evil_claims.name_id = "admin@example.com".into();
    let evil = assertion(&evil_claims, "_evil", "");
    // Decrypted text that holds more than the genuine assertion: a second assertion after it,
    // or markup that closes the response early.
    let genuine = &signed[start..end];
    for plaintext in [format!("{genuine}{evil}"), format!("{evil}{genuine}"), format!("{genuine}</samlp:Response>")] {
        let xml = idp::encrypt_bytes(&signed[..start], &plaintext, &signed[end..], &p.encryption);
        let error = verify(&p, &xml, &keys, true).unwrap_err();
        assert!(matches!(error, SamlError::Undecryptable(_)), "{error}");
    }
    // The genuine assertion alone, encrypted the same way, verifies.
    let xml = idp::encrypt_bytes(&signed[..start], genuine, &signed[end..], &p.encryption);
    assert_eq!(verify(&p, &xml, &keys, true).unwrap().name_id, "alice@example.com");

    // A second encrypted assertion beside the first.
    let xml = encrypted(&p, &claims, idp::AES128_GCM);
    let enc_start = xml.find("<saml:EncryptedAssertion>").unwrap();
    let enc_end = xml.find("</saml:EncryptedAssertion>").unwrap() + "</saml:EncryptedAssertion>".len();
    let twice = format!("{}{}{}", &xml[..enc_end], &xml[enc_start..enc_end], &xml[enc_end..]);
    assert!(matches!(verify(&p, &twice, &keys, true), Err(SamlError::Wrapping(_))));
    // A plain assertion beside the encrypted one.
    let beside = format!("{}{evil}{}", &xml[..enc_end], &xml[enc_end..]);
    assert!(matches!(verify(&p, &beside, &keys, true), Err(SamlError::Wrapping(_))));
}

#[test]
fn private_keys_are_validated() {
    let k = Key::new("validated");
    assert!(DecryptionKey::from_pem(&k.private_pem()).unwrap().bits() >= 2048);
    assert_eq!(DecryptionKey::from_pem("not a key").unwrap_err(), KeyError::NotRsaPem);
    let cert = std::fs::read_to_string(&k.cert).unwrap();
    assert_eq!(DecryptionKey::from_pem(&cert).unwrap_err(), KeyError::NotRsaPem);
    let debug = format!("{:?}", DecryptionKey::from_pem(&k.private_pem()).unwrap());
    assert!(!debug.contains("PRIVATE") && debug.contains("bits"), "{debug}");
}
