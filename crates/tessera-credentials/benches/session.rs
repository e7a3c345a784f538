//! Cost of sealing and opening a typical session token (an AssumeRole session without tags or
//! session policies), the check every request signed with temporary credentials pays.
//!
//! The goal is at least 1,000,000 `open` calls per second per core, that is under 1 µs each.
//! Criterion prints the time per call; the token's length is printed once before.
//!
//! Run: `cargo bench -p tessera-credentials --bench session`.

use std::hint::black_box;

use criterion::Criterion;
use tessera_credentials::{SeededRandom, SessionClaims, SessionKind, TokenKeyRing, issue_credentials, new_session_id};

const NOW: u64 = 1_700_000_000;

fn typical(rng: &mut SeededRandom) -> SessionClaims {
    let (access_key_id, secret_access_key) = issue_credentials(rng);
    SessionClaims {
        account: "123456789012".into(),
        kind: SessionKind::AssumedRole,
        principal_arn: "arn:aws:sts::123456789012:assumed-role/deploy-role/ci-build-42".into(),
        principal_id: "AROA3XFRBF535PLBIFPI4:ci-build-42".into(),
        role_arn: Some("arn:aws:iam::123456789012:role/service/deploy-role".into()),
        source_user_arn: Some("arn:aws:iam::123456789012:user/alice".into()),
        source_user_id: None,
        session_name: Some("ci-build-42".into()),
        session_id: new_session_id(rng),
        access_key_id,
        secret_access_key,
        issued_at: NOW,
        issued_subsec_micros: 250_000,
        expires_at: NOW + 3600,
        source_identity: None,
        tags: Vec::new(),
        transitive_tag_keys: Vec::new(),
        session_policy: None,
        mfa_authenticated_at: None,
        chain_depth: 0,
    }
}

fn main() {
    let mut rng = SeededRandom::new(1);
    let mut ring = TokenKeyRing::generate(&mut rng, NOW - 86_400);
    // A realistic ring: one retired key besides the current one.
    ring.rotate(&mut rng, NOW - 3600);
    let claims = typical(&mut rng);
    let token = ring.seal(&claims, &mut rng).expect("a typical token fits");
    println!("typical token: {} characters", token.len());

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("session_token");
    group.bench_function("seal", |b| b.iter(|| ring.seal(black_box(&claims), &mut rng).expect("fits")));
    group.bench_function("open", |b| b.iter(|| ring.open(black_box(&token), black_box(NOW)).expect("valid")));
    group.bench_function("decode_claims", |b| {
        let encoded = claims.encode();
        b.iter(|| SessionClaims::decode(black_box(&encoded)).expect("valid"))
    });
    group.finish();
    criterion.final_summary();
}
