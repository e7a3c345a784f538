//! The AWS Signature Version 4 test suite (`tests/data/aws-sig-v4-test-suite/`, provenance in its
//! README): for every case, the canonical request, the string to sign and the `Authorization`
//! header this crate computes equal AWS's, and the signed request verifies.

mod common;

use common::{RawRequest, case_files, sections};
use tessera_sigv4::{
    Authorization, PayloadHash, Request, SigV4Error, SigningParams, VerifyOptions, canonical_request, parse_amz_date,
    parse_authorization, sign, string_to_sign, verify,
};

const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const AMZ_DATE: &str = "20150830T123600Z";
const OPTIONS: VerifyOptions<'static> = VerifyOptions::new(&["service"]);

#[test]
fn every_suite_case_matches_aws() {
    let files = case_files("aws-sig-v4-test-suite");
    assert!(files.len() >= 25, "only {} suite cases", files.len());
    let now = parse_amz_date(AMZ_DATE).expect("date");
    let mut with_canonical = 0;
    for file in &files {
        let name = file.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(file).expect("readable");
        let case = sections(&text);
        let raw = RawRequest::parse(&case["req"]);
        let headers = raw.header_refs();
        let request = Request {
            method: &raw.method,
            path: &raw.path,
            query: &raw.query,
            headers: &headers,
            body_sha256: PayloadHash::of(&raw.body),
        };
        let auth = Authorization::Header(parse_authorization(&case["authz"]).expect("authz parses"));

        if let (Some(creq), Some(sts)) = (case.get("creq"), case.get("sts")) {
            assert_eq!(&canonical_request(&request, &auth).expect("canonical"), creq, "{name}: canonical request");
            assert_eq!(&string_to_sign(&request, &auth).expect("string to sign"), sts, "{name}: string to sign");
            with_canonical += 1;
        }

        let params = SigningParams {
            access_key_id: "AKIDEXAMPLE",
            secret: SECRET,
            region: "us-east-1",
            service: "service",
            amz_date: AMZ_DATE,
        };
        assert_eq!(sign(&request, &params), case["authz"], "{name}: authorization header");

        let verified = verify(&request, &auth, SECRET, now, &OPTIONS).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.access_key_id, "AKIDEXAMPLE");
        assert_eq!(verified.region, "us-east-1");
        assert_eq!(verified.signed_at, now);

        // One flipped bit in the signature, or a wrong secret, and it no longer verifies.
        let Authorization::Header(mut tampered) = auth.clone() else { unreachable!() };
        tampered.signature[31] ^= 1;
        assert_eq!(
            verify(&request, &Authorization::Header(tampered), SECRET, now, &OPTIONS),
            Err(SigV4Error::SignatureMismatch),
            "{name}"
        );
        assert_eq!(verify(&request, &auth, b"wrong", now, &OPTIONS), Err(SigV4Error::SignatureMismatch), "{name}");
    }
    assert!(with_canonical >= 20, "only {with_canonical} cases check the canonical request");
}

#[test]
fn the_suite_session_token_is_returned() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/aws-sig-v4-test-suite/post-sts-header-before.txt"),
    )
    .expect("readable");
    let case = sections(&text);
    let raw = RawRequest::parse(&case["req"]);
    let mut headers = raw.header_refs();
    headers.push(("Authorization", &case["authz"]));
    let request = Request {
        method: &raw.method,
        path: &raw.path,
        query: &raw.query,
        headers: &headers,
        body_sha256: PayloadHash::EMPTY,
    };
    let auth = Authorization::from_request(&request).expect("found");
    let verified = verify(&request, &auth, SECRET, parse_amz_date(AMZ_DATE).unwrap(), &OPTIONS).expect("verifies");
    assert!(verified.security_token.as_deref().is_some_and(|t| t.starts_with("AQoDYXdzEPT//")));
}
