//! Fuzzes what callers hand to STS and every authenticated request: session tokens opened with a
//! fixed key ring, their claims decoded directly (the fuzzer cannot forge the AEAD tag, so the
//! decoder is also fed raw), web identity JWTs verified against a fixed JWKS, and JWKS documents.
//! None may panic; claims that decode must re-encode to the same bytes (the encoding is
//! canonical) and survive a seal/open round trip; no forged token may open or verify.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_credentials::{Expectations, Jwks, SeededRandom, SessionClaims, TokenKeyRing, verify};

/// A time inside the validity of everything the fuzzer might build.
const NOW: u64 = 1_700_000_000;

/// The public keys of a fixed JWKS: an RSA-2048 key (`rsa`) and a P-256 key (`ec`), plus a key
/// type the parser skips. Their private keys are not here, so no input can verify.
const JWKS: &str = r#"{"keys":[
 {"kty":"RSA","kid":"rsa","use":"sig","alg":"RS256","e":"AQAB","n":"uPjpAhDE3o2H7TBw3blVcrSzm6zG4dTN_8rygmPVOKYyxV-92Z9nW9yIupQvTGl4aa7l99aalBfm1wMIsQ6j8GonFLQB7PTAqTYUSb473NINIE9sHJqm23_G_fdNoIywsnr_vg6t3TLvVl0y1mlUFgBfDK5n7brmkFREfP6VvrtVV9SlS0MFk83eJYbf3yg5tD0RvL854P1k2smrJvIhBFGkASX1gy4eleeyPWXLb_Nkyu4piQE-M3IEezNW0xlLBn2Wg6c8OAQASoFON3pVe7ct21vX2-nHx-MufDEcwaIA6YyDljYbx1s1bmDehTX5xv6KZRUJyrgfl63erh0IYw"},
 {"kty":"EC","crv":"P-256","kid":"ec","use":"sig","alg":"ES256","x":"UuWwhKMHDfCKgiKntlHzweYnd-jEuUD1Tkil_v7WxGI","y":"EEaCShZynB0D6nibnx83FelUgrbl0M5YpHFI58UGdqQ"},
 {"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
]}"#;

struct Fixture {
    ring: TokenKeyRing,
    jwks: Jwks,
    audiences: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut ring = TokenKeyRing::generate(&mut SeededRandom::new(1), NOW - 7200);
        ring.rotate(&mut SeededRandom::new(2), NOW - 3600);
        Fixture {
            ring,
            jwks: Jwks::parse(JWKS.as_bytes()).expect("the fixed JWKS parses"),
            audiences: vec!["tessera-client".to_owned()],
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let text = String::from_utf8_lossy(data);

    // Only a token this ring sealed opens, and nothing here sealed one.
    assert!(fixture.ring.open(&text, NOW).is_err(), "a fuzzed session token opened");

    if let Ok(claims) = SessionClaims::decode(data) {
        assert_eq!(claims.encode(), data, "claims decoded from bytes that are not their encoding");
        // A token is valid until the second before `expires_at`; at 0 it never was.
        if let (Ok(token), Some(last_valid)) =
            (fixture.ring.seal(&claims, &mut SeededRandom::new(3)), claims.expires_at.checked_sub(1))
        {
            let opened = fixture.ring.open(&token, last_valid).expect("a sealed token opens");
            assert_eq!(opened.encode(), data);
        }
    }

    let expectations =
        Expectations { issuer: "https://idp.example.com", audiences: &fixture.audiences, now: NOW, leeway_secs: 60 };
    assert!(verify(&text, &fixture.jwks, &expectations).is_err(), "a fuzzed JWT verified");

    let _ = Jwks::parse(data);
});
