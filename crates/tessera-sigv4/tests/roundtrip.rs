//! Property tests: whatever the path, query, headers and body, a request [`sign`]ed (or
//! [`presign`]ed) by this crate verifies, and changing a signed part of it makes it fail.

use proptest::prelude::*;
use tessera_sigv4::{
    Authorization, PayloadHash, Request, SigV4Error, SigningParams, VerifyOptions, parse_amz_date, presign, sign,
    uri_encode, verify,
};

const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const AMZ_DATE: &str = "20261123T101500Z";
const OPTIONS: VerifyOptions<'static> = VerifyOptions::new(&["iam", "sts"]);
const PARAMS: SigningParams<'static> = SigningParams {
    access_key_id: "AKIAIOSFODNN7EXAMPLE",
    secret: SECRET,
    region: "eu-west-1",
    service: "iam",
    amz_date: AMZ_DATE,
};

/// A raw path as a client might send it: segments of anything (percent-encoded or not, dots,
/// empty segments), joined by `/`.
fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-zA-Z0-9._~-]{0,8}",
            Just(".".to_owned()),
            Just("..".to_owned()),
            "\\PC{0,6}".prop_map(|s| s.replace(['/', '?', '#'], "")),
            "\\PC{0,6}".prop_map(|s| uri_encode(&s)),
        ],
        0..6,
    )
    .prop_map(|segments| format!("/{}", segments.join("/")))
}

/// A raw query string: names and values either percent-encoded from anything, or raw with `+`,
/// stray `%`, `=` and empty segments (never `X-Amz-*`, which would make it presigned).
fn query() -> impl Strategy<Value = String> {
    let component =
        prop_oneof!["[a-zA-Z0-9._~-]{0,8}", "\\PC{0,8}".prop_map(|s| uri_encode(&s)), "[a-z+%0-9A-F=]{0,8}",];
    prop::collection::vec((component.clone(), prop::option::of(component)), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(name, value)| {
                let name = format!("p{name}");
                match value {
                    Some(value) => format!("{name}={value}"),
                    None => name,
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// Extra headers: token names (prefixed so they never collide with the SigV4 ones, any case,
/// possibly repeated) and visible-ASCII values with odd spacing.
fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("x-p-[a-zA-Z0-9-]{1,6}", "[ \t]{0,2}[!-~]{0,6}([ \t]{1,3}[!-~]{1,6}){0,3}[ \t]{0,2}"), 0..5)
}

fn method() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["GET", "POST", "PUT", "DELETE"]).prop_map(str::to_owned)
}

fn now() -> u64 {
    parse_amz_date(AMZ_DATE).expect("date")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn signed_requests_verify(
        method in method(),
        path in path(),
        query in query(),
        extra in headers(),
        body in prop::collection::vec(any::<u8>(), 0..64),
        token in prop::option::of("[A-Za-z0-9+/=]{1,40}"),
    ) {
        let mut headers: Vec<(&str, &str)> = vec![("Host", "iam.example.internal:8443"), ("X-Amz-Date", AMZ_DATE)];
        headers.extend(extra.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        if let Some(token) = &token {
            headers.push(("X-Amz-Security-Token", token));
        }
        let request = Request { method: &method, path: &path, query: &query, headers: &headers, body_sha256: PayloadHash::of(&body) };
        let authorization = sign(&request, &PARAMS);
        let mut with_auth = headers.clone();
        with_auth.push(("Authorization", &authorization));
        let request = Request { headers: &with_auth, ..request };
        let auth = Authorization::from_request(&request).expect("finds the header");
        let verified = verify(&request, &auth, SECRET, now(), &OPTIONS).expect("a signed request verifies");
        prop_assert_eq!(verified.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        prop_assert_eq!(verified.security_token, token.clone());

        // A different body, method or path is a different request.
        let mut other_body = body.clone();
        other_body.push(0);
        let changed = Request { body_sha256: PayloadHash::of(&other_body), ..request };
        prop_assert_eq!(verify(&changed, &auth, SECRET, now(), &OPTIONS), Err(SigV4Error::SignatureMismatch));
        let changed = Request { method: "PATCH", ..request };
        prop_assert_eq!(verify(&changed, &auth, SECRET, now(), &OPTIONS), Err(SigV4Error::SignatureMismatch));
        let other_path = format!("{path}/x");
        let changed = Request { path: &other_path, ..request };
        prop_assert_eq!(verify(&changed, &auth, SECRET, now(), &OPTIONS), Err(SigV4Error::SignatureMismatch));
        let other_query = if query.is_empty() { "z=1".to_owned() } else { format!("{query}&z=1") };
        let changed = Request { query: &other_query, ..request };
        prop_assert_eq!(verify(&changed, &auth, SECRET, now(), &OPTIONS), Err(SigV4Error::SignatureMismatch));
    }

    #[test]
    fn presigned_requests_verify(
        method in method(),
        path in path(),
        query in query(),
        expires in 1u64..=604_800,
        token in prop::option::of("\\PC{1,20}"),
        elapsed in 0u64..=604_800,
    ) {
        let host = [("Host", "sts.example.internal")];
        let request = Request { method: &method, path: &path, query: &query, headers: &host, body_sha256: PayloadHash::EMPTY };
        let params = SigningParams { service: "sts", ..PARAMS };
        let presigned_query = presign(&request, &params, expires, token.as_deref());
        let request = Request { query: &presigned_query, ..request };
        let auth = Authorization::from_request(&request).expect("finds the parameters");
        let result = verify(&request, &auth, SECRET, now() + elapsed, &OPTIONS);
        if elapsed <= expires {
            let verified = result.expect("a presigned request verifies until it expires");
            prop_assert_eq!(verified.security_token, token);
            prop_assert_eq!(verified.expires_at, Some(now() + expires));
        } else {
            let expired = matches!(result, Err(SigV4Error::PresignExpired { .. }));
            prop_assert!(expired, "expected PresignExpired, got {:?}", result);
        }
    }
}
