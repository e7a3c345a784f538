//! Fuzzes SigV4 authentication, which every API request passes through before anything else:
//! the input's lines are an `Authorization` header, a query string, a path, a header value and a
//! method. The header and query are parsed, and verified as part of a fixed request against a
//! fixed secret: nothing may panic and nothing fuzzed may verify. Then a request made of the
//! fuzzed path, query, header value and method is signed and presigned with this crate, and must
//! verify: signing and verification share one canonicalisation, so any asymmetry is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_sigv4::{
    Authorization, PayloadHash, Request, SigningParams, VerifyOptions, canonical_request, parse_amz_date,
    parse_authorization, parse_presigned, presign, sign, string_to_sign, verify,
};

const HOST: &str = "sts.example.internal";
const AMZ_DATE: &str = "20261123T101500Z";
/// `AMZ_DATE` in unix seconds.
const NOW: u64 = 1_795_428_900;
const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const OPTIONS: VerifyOptions<'static> = VerifyOptions::new(&["iam", "sts"]);
const PARAMS: SigningParams<'static> = SigningParams {
    access_key_id: "AKIAIOSFODNN7EXAMPLE",
    secret: SECRET,
    region: "us-east-1",
    service: "sts",
    amz_date: AMZ_DATE,
};

/// Checks that `request` (carrying fuzzed authentication) does not verify, exercising every
/// accessor of the error on the way.
fn must_not_verify(request: &Request<'_>) {
    let Ok(auth) = Authorization::from_request(request) else { return };
    let _ = canonical_request(request, &auth);
    let _ = string_to_sign(request, &auth);
    match verify(request, &auth, SECRET, NOW, &OPTIONS) {
        Ok(verified) => panic!("a fuzzed signature verified: {verified:?}"),
        Err(error) => {
            let _ = (error.aws_code(), error.http_status(), error.aws_message(), error.to_string());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let authorization = lines.next().unwrap_or_default();
    let query = lines.next().unwrap_or_default();
    let path = lines.next().unwrap_or("/");
    let value = lines.next().unwrap_or_default();
    let method = lines.next().unwrap_or("POST");

    let _ = parse_authorization(authorization);
    let _ = parse_presigned(query);
    let _ = parse_amz_date(value);

    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let headers = [
        ("Host", HOST),
        ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("X-Amz-Date", AMZ_DATE),
        ("X-Amz-Content-Sha256", value),
        ("Authorization", authorization),
    ];
    let fixed = Request { method: "POST", path: "/", query: "", headers: &headers, body_sha256: PayloadHash::of(body) };
    must_not_verify(&fixed);
    must_not_verify(&Request { query, headers: &headers[..3], ..fixed });
    must_not_verify(&Request { method, path, query, headers: &headers[..3], body_sha256: PayloadHash::EMPTY });

    // Whatever the path, query, header value and method, what this crate signs verifies.
    if query.contains("X-Amz-") {
        return;
    }
    let to_sign = [("Host", HOST), ("X-Amz-Date", AMZ_DATE), ("X-Fuzz", value)];
    let request = Request { method, path, query, headers: &to_sign, body_sha256: PayloadHash::of(data) };
    let authorization = sign(&request, &PARAMS);
    let mut with_auth = to_sign.to_vec();
    with_auth.push(("Authorization", &authorization));
    let request = Request { headers: &with_auth, ..request };
    let auth = Authorization::from_request(&request).expect("the signed request's header parses");
    verify(&request, &auth, SECRET, NOW, &OPTIONS).expect("a request this crate signed verifies");

    let host = [("Host", HOST)];
    let request = Request { method, path, query, headers: &host, body_sha256: PayloadHash::EMPTY };
    let presigned_query = presign(&request, &PARAMS, 900, Some(value));
    let request = Request { query: &presigned_query, ..request };
    let auth = Authorization::from_request(&request).expect("the presigned query parses");
    let verified = verify(&request, &auth, SECRET, NOW + 900, &OPTIONS).expect("a URL this crate presigned verifies");
    assert_eq!(verified.security_token.as_deref(), Some(value));
});
