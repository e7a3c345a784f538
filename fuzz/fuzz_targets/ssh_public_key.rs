//! Fuzzes SSH public keys as `UploadSSHPublicKey` reads them (OpenSSH one-line form, PEM
//! SubjectPublicKeyInfo and PKCS#1) (issue 14, part B). None may panic; an accepted key must
//! read back the same from both encodings Tessera shows it in.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_credentials::ssh::parse_ssh_public_key;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(key) = parse_ssh_public_key(&text) {
        assert_eq!(parse_ssh_public_key(&key.openssh).expect("the OpenSSH form parses"), key);
        assert_eq!(parse_ssh_public_key(&key.pem).expect("the PEM form parses"), key);
    }
});
