//! Fuzzes what `AssumeRoleWithSAML` and `CreateSAMLProvider` parse: a SAML response (as XML, and
//! as the base64 `SAMLAssertion` carrying it) verified against a fixed provider, and metadata
//! documents, and the same response decrypting encrypted assertions with a fixed private key
//! (`fuzz/data/saml-encryption-key.pem`, a throwaway key; the seeds `encrypted_response_*.xml`
//! were encrypted for it by `xmlsec1`, and the `encrypted_parts_*.xml` seeds' `EncryptedID` and
//! `EncryptedAttribute`s too). None may panic; no fuzzed response may verify (the provider's
//! signing key is not here), and metadata that parses names at least one RSA signing
//! certificate. Encrypted NameIDs and attributes are decrypted only inside a verified assertion,
//! which no fuzzed one is, so the `fuzzing` feature's `fuzz_decrypt_parts` decrypts and parses
//! them without a signature.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_saml::{
    Decryption, DecryptionKey, Expectations, Metadata, decode_response, fuzz_decrypt_parts, parse_metadata,
    verify_encrypted_response, verify_response,
};

/// A time inside the validity of everything the fuzzer might build.
const NOW: i64 = 1_800_000_000;

/// A self-signed RSA-2048 certificate (public only).
const CERT: &str = include_str!("../../services/identity/tests/data/saml-idp-cert.b64");

fn provider() -> &'static Metadata {
    static PROVIDER: OnceLock<Metadata> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let metadata = format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com/saml"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{CERT}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>"#
        );
        parse_metadata(&metadata).expect("the fixed metadata parses")
    })
}

fn decryption_key() -> &'static DecryptionKey {
    static KEY: OnceLock<DecryptionKey> = OnceLock::new();
    KEY.get_or_init(|| {
        DecryptionKey::from_pem(include_str!("../data/saml-encryption-key.pem")).expect("the fixed key parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let provider = provider();
    let audiences = vec![tessera_saml::AWS_SAML_ENDPOINT.to_owned(), tessera_saml::AWS_AUDIENCE_URN.to_owned()];
    let recipients = vec![tessera_saml::AWS_SAML_ENDPOINT.to_owned()];
    let expect = Expectations {
        entity_id: &provider.entity_id,
        certificates: &provider.signing_certificates,
        audiences: &audiences,
        recipients: &recipients,
        now: NOW,
        skew_secs: 300,
    };
    let text = String::from_utf8_lossy(data);
    assert!(verify_response(&text, &expect).is_err(), "a fuzzed SAML response verified");
    let random = ring::rand::SystemRandom::new();
    let keys = std::slice::from_ref(decryption_key());
    for required in [false, true] {
        let decryption = Decryption { keys, required, random: &random };
        assert!(verify_encrypted_response(&text, &expect, &decryption).is_err(), "a fuzzed encrypted response verified");
    }
    let decryption = Decryption { keys, required: false, random: &random };
    if let Ok(parts) = fuzz_decrypt_parts(&text, &decryption) {
        assert!(parts.len() <= 100, "more encrypted parts decrypted than the limit");
    }
    if let Ok(xml) = decode_response(&text) {
        assert!(verify_response(&xml, &expect).is_err(), "a fuzzed base64 SAML response verified");
    }
    if let Ok(metadata) = parse_metadata(&text) {
        assert!(!metadata.signing_certificates.is_empty());
        assert!(!metadata.entity_id.is_empty());
    }
});
