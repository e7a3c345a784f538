//! Fuzzes what Tessera reads back from storage and from callers around secrets: sealed blobs,
//! master key files, base32 TOTP seeds and TOTP codes. (Password hashes are not fuzzed: they are
//! only ever read from records Tessera wrote, and a PHC string names its own memory cost.) None may panic, and a blob
//! that opens must be one this key sealed for this owner.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_credentials::totp::base32_decode;
use tessera_credentials::{MasterKey, SeededRandom, parse_code};

fn key() -> &'static MasterKey {
    static KEY: OnceLock<MasterKey> = OnceLock::new();
    KEY.get_or_init(|| MasterKey::generate(&mut SeededRandom::new(1)))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let key = key();
    if let Ok(plain) = key.open(&text, b"access-key:AKIAFUZZ") {
        // Only a real seal opens; re-sealing what came out must open to the same bytes.
        let again = key.seal(&plain, b"access-key:AKIAFUZZ", &mut SeededRandom::new(2)).expect("seal");
        assert_eq!(key.open(&again, b"access-key:AKIAFUZZ").expect("open"), plain);
    }
    let _ = MasterKey::from_encoded(&text);
    let _ = base32_decode(&text);
    let _ = parse_code(&text);
});
