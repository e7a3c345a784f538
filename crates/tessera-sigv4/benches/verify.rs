//! Cost of authenticating one typical STS request, the work every API call pays before it does
//! anything: a botocore-shaped `POST /` (`GetCallerIdentity` with temporary credentials, seven
//! headers, four signed) found, parsed and verified; the same with the body hashed too; and a
//! presigned `GetCallerIdentity` URL (the EKS-token shape).
//!
//! The stack notes (STACK.md) budget about 270,000 verifications per second per core with a
//! hand-written canonicaliser, 3.7 µs each.
//!
//! Run: `cargo bench -p tessera-sigv4 --bench verify`.

use std::hint::black_box;

use criterion::Criterion;
use tessera_sigv4::{Authorization, PayloadHash, Request, SigningParams, VerifyOptions, presign, sign, verify};

const NOW: u64 = 1_795_428_900; // 20261123T101500Z
const BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";
const TOKEN: &str = "T1AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfI";
const PARAMS: SigningParams<'static> = SigningParams {
    access_key_id: "ASIAIOSFODNN7EXAMPLE",
    secret: b"je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    region: "us-east-1",
    service: "sts",
    amz_date: "20261123T101500Z",
};
const OPTIONS: VerifyOptions<'static> = VerifyOptions::new(&["iam", "sts"]);

fn main() {
    let signed: [(&str, &str); 4] = [
        ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("Host", "sts.tessera.example.internal"),
        ("X-Amz-Date", "20261123T101500Z"),
        ("X-Amz-Security-Token", TOKEN),
    ];
    let request =
        Request { method: "POST", path: "/", query: "", headers: &signed, body_sha256: PayloadHash::of(BODY) };
    let authorization = sign(&request, &PARAMS);
    let mut headers = signed.to_vec();
    headers.extend([
        ("User-Agent", "Botocore/1.43.11"),
        ("Content-Length", "43"),
        ("amz-sdk-request", "attempt=1"),
        ("Authorization", authorization.as_str()),
    ]);
    let request = Request { headers: &headers, ..request };
    let auth = Authorization::from_request(&request).expect("signed");
    let verified = verify(&request, &auth, PARAMS.secret, NOW, &OPTIONS).expect("verifies");
    println!("verified {} for {} ({} headers, {} signed)", verified.access_key_id, verified.service, headers.len(), 4);

    let host = [("Host", "sts.tessera.example.internal")];
    let get = Request {
        method: "GET",
        path: "/",
        query: "Action=GetCallerIdentity&Version=2011-06-15",
        headers: &host,
        body_sha256: PayloadHash::EMPTY,
    };
    let presigned_query = presign(&get, &PARAMS, 900, Some(TOKEN));
    let get = Request { query: &presigned_query, ..get };
    verify(&get, &Authorization::from_request(&get).expect("presigned"), PARAMS.secret, NOW, &OPTIONS)
        .expect("presigned verifies");

    let mut criterion = Criterion::default().configure_from_args();
    criterion.bench_function("sts_post/from_request+verify", |b| {
        b.iter(|| {
            let request = black_box(&request);
            let auth = Authorization::from_request(request).expect("signed");
            verify(request, &auth, black_box(PARAMS.secret), NOW, &OPTIONS).expect("verifies")
        })
    });
    criterion.bench_function("sts_post/hash_body+from_request+verify", |b| {
        b.iter(|| {
            let request = Request { body_sha256: PayloadHash::of(black_box(BODY)), ..request };
            let auth = Authorization::from_request(&request).expect("signed");
            verify(&request, &auth, black_box(PARAMS.secret), NOW, &OPTIONS).expect("verifies")
        })
    });
    criterion.bench_function("sts_presigned_get/from_request+verify", |b| {
        b.iter(|| {
            let request = black_box(&get);
            let auth = Authorization::from_request(request).expect("presigned");
            verify(request, &auth, black_box(PARAMS.secret), NOW, &OPTIONS).expect("verifies")
        })
    });
    criterion.bench_function("sts_post/sign", |b| b.iter(|| sign(black_box(&request), &PARAMS)));
    criterion.final_summary();
}
