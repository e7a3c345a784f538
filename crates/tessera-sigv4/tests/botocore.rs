//! Requests signed by botocore (`tests/data/botocore/`, written by its `generate.py` with fixed
//! credentials and a frozen clock): IAM and STS Query POSTs with a custom endpoint, and presigned
//! `GetCallerIdentity` URLs. Each verifies exactly as captured, is reproduced byte for byte by
//! [`sign`] / [`presign`], and stops verifying when its body, time or secret is wrong.

mod common;

use common::{RawRequest, case_files, fields, sections};
use tessera_sigv4::{
    Authorization, PayloadHash, Request, SigV4Error, SigningParams, VerifyOptions, parse_amz_date, presign, sign,
    verify,
};

const OPTIONS: VerifyOptions<'static> = VerifyOptions::new(&["iam", "sts"]);

struct Fixture {
    name: String,
    secret: String,
    now: u64,
    amz_date: String,
    raw: RawRequest,
    expect: std::collections::BTreeMap<String, String>,
}

fn fixtures() -> Vec<Fixture> {
    let files = case_files("botocore");
    assert!(files.len() >= 5, "only {} botocore fixtures", files.len());
    files
        .iter()
        .map(|file| {
            let case = sections(&std::fs::read_to_string(file).expect("readable"));
            let meta = fields(&case["meta"]);
            Fixture {
                name: file.file_stem().unwrap_or_default().to_string_lossy().into_owned(),
                secret: meta["secret"].clone(),
                now: parse_amz_date(&meta["now"]).expect("now"),
                amz_date: meta["now"].clone(),
                raw: RawRequest::parse(&case["req"]),
                expect: fields(&case["expect"]),
            }
        })
        .collect()
}

fn request<'a>(raw: &'a RawRequest, headers: &'a [(&'a str, &'a str)], body: &[u8]) -> Request<'a> {
    Request { method: &raw.method, path: &raw.path, query: &raw.query, headers, body_sha256: PayloadHash::of(body) }
}

#[test]
fn botocore_requests_verify() {
    for fixture in fixtures() {
        let Fixture { name, secret, now, raw, expect, .. } = &fixture;
        let headers = raw.header_refs();
        let request = request(raw, &headers, &raw.body);
        let auth = Authorization::from_request(&request).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(auth.is_presigned(), raw.query.contains("X-Amz-Signature="), "{name}");
        let verified =
            verify(&request, &auth, secret.as_bytes(), *now, &OPTIONS).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.access_key_id, expect["access_key_id"], "{name}");
        assert_eq!(verified.region, expect["region"], "{name}");
        assert_eq!(verified.service, expect["service"], "{name}");
        assert_eq!(verified.security_token.as_ref(), expect.get("security_token"), "{name}");
        assert_eq!(verified.signed_at, *now, "{name}");

        // Valid until the edge of the window, not after it.
        let last_valid = match &auth {
            Authorization::Header(_) => now + 15 * 60,
            Authorization::Presigned(presigned) => now + presigned.expires_secs,
        };
        assert!(verify(&request, &auth, secret.as_bytes(), last_valid, &OPTIONS).is_ok(), "{name}");
        let late = verify(&request, &auth, secret.as_bytes(), last_valid + 1, &OPTIONS).unwrap_err();
        assert!(
            matches!(late, SigV4Error::SignatureExpired { .. } | SigV4Error::PresignExpired { .. }),
            "{name}: {late}"
        );

        assert_eq!(
            verify(&request, &auth, b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEX", *now, &OPTIONS),
            Err(SigV4Error::SignatureMismatch),
            "{name}"
        );
        // The body is signed: one changed byte and the signature no longer matches.
        let mut tampered = raw.body.clone();
        tampered.extend_from_slice(b"&UserName=mallory");
        assert_eq!(
            verify(&self::request(raw, &headers, &tampered), &auth, secret.as_bytes(), *now, &OPTIONS),
            Err(SigV4Error::SignatureMismatch),
            "{name}"
        );
        // Only the services the endpoint serves are accepted.
        assert!(matches!(
            verify(&request, &auth, secret.as_bytes(), *now, &VerifyOptions::new(&["s3"])),
            Err(SigV4Error::WrongService { .. })
        ));
    }
}

#[test]
fn sign_and_presign_reproduce_botocore() {
    for fixture in fixtures() {
        let Fixture { name, secret, raw, expect, amz_date, .. } = &fixture;
        let params = SigningParams {
            access_key_id: &expect["access_key_id"],
            secret: secret.as_bytes(),
            region: &expect["region"],
            service: &expect["service"],
            amz_date,
        };
        let all = raw.header_refs();
        match Authorization::from_request(&request(raw, &all, &raw.body)).expect("found") {
            Authorization::Header(header) => {
                let signed: Vec<(&str, &str)> = all
                    .iter()
                    .copied()
                    .filter(|(n, _)| header.signed_headers.iter().any(|s| s.eq_ignore_ascii_case(n)))
                    .collect();
                let authorization = all.iter().find(|(n, _)| *n == "Authorization").expect("authorization").1;
                assert_eq!(sign(&request(raw, &signed, &raw.body), &params), authorization.trim(), "{name}");
            }
            Authorization::Presigned(presigned) => {
                let operation = raw.query.split("&X-Amz-Algorithm=").next().expect("operation parameters");
                let signed: Vec<(&str, &str)> = all
                    .iter()
                    .copied()
                    .filter(|(n, _)| presigned.signed_headers.iter().any(|s| s.eq_ignore_ascii_case(n)))
                    .collect();
                let unsigned = Request { query: operation, ..request(raw, &signed, b"") };
                let query = presign(&unsigned, &params, presigned.expires_secs, presigned.security_token.as_deref());
                assert_eq!(query, raw.query, "{name}");
            }
        }
    }
}
