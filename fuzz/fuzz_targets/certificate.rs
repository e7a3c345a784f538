//! Fuzzes what users upload as X.509 material (issue 14, part B): a certificate body, a private
//! key and a chain, as `UploadServerCertificate` and `UploadSigningCertificate` read them. None
//! may panic; an accepted certificate must print as PEM that parses to the same certificate.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_credentials::x509::{ParsedCertificate, check_chain, check_key_pair, check_key_type, parse_certificate};

/// A certificate the key and chain inputs are checked against.
fn leaf() -> &'static ParsedCertificate {
    static LEAF: OnceLock<ParsedCertificate> = OnceLock::new();
    LEAF.get_or_init(|| parse_certificate(include_str!("../seeds/certificate/leaf.pem")).expect("seed certificate"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(cert) = parse_certificate(&text) {
        let again = parse_certificate(&cert.pem).expect("a certificate prints as PEM that parses");
        assert_eq!(again, cert);
        let _ = check_key_type(&cert);
    }
    let _ = check_key_pair(leaf(), &text);
    let _ = check_chain(leaf(), &text);
});
