//! What must not verify, and the AWS code and message each failure gets: tampering, wrong keys
//! and scopes, clock skew and expiry at their exact edges, unsigned or missing headers, payload
//! hash games, and a table of malformed `Authorization` headers.

use tessera_sigv4::{
    Authorization, EMPTY_SHA256, PayloadHash, Request, SIGNATURE_DOES_NOT_MATCH_MESSAGE, SigV4Error, SigningKey,
    SigningParams, UNSIGNED_PAYLOAD, VerifyOptions, canonical_request, parse_amz_date, parse_presigned, presign,
    sha256_hex, sign, verify,
};

const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const AMZ_DATE: &str = "20261123T101500Z";
const BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";
const OPTIONS: VerifyOptions<'static> = VerifyOptions::new(&["iam", "sts"]);

fn now() -> u64 {
    parse_amz_date(AMZ_DATE).expect("date")
}

fn params(service: &'static str, amz_date: &'static str) -> SigningParams<'static> {
    SigningParams { access_key_id: "AKIAIOSFODNN7EXAMPLE", secret: SECRET, region: "us-east-1", service, amz_date }
}

fn signed_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Host", "sts.example.internal"),
        ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("X-Amz-Date", AMZ_DATE),
    ]
}

/// Signs `headers` (all of them) over `BODY` with `params`, and returns every header plus
/// `Authorization`.
fn signed(headers: Vec<(&'static str, &'static str)>, params: &SigningParams<'_>) -> Vec<(String, String)> {
    let request =
        Request { method: "POST", path: "/", query: "", headers: &headers, body_sha256: PayloadHash::of(BODY) };
    let authorization = sign(&request, params);
    let mut out: Vec<(String, String)> = headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
    out.push(("Authorization".to_owned(), authorization));
    out
}

fn check(headers: &[(String, String)], body: &[u8], now: u64, options: &VerifyOptions<'_>) -> Result<(), SigV4Error> {
    let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let request = Request { method: "POST", path: "/", query: "", headers: &refs, body_sha256: PayloadHash::of(body) };
    let auth = Authorization::from_request(&request)?;
    verify(&request, &auth, SECRET, now, options).map(|_| ())
}

fn set(headers: &mut [(String, String)], name: &str, value: &str) {
    for (n, v) in headers.iter_mut() {
        if n.eq_ignore_ascii_case(name) {
            *v = value.to_owned();
        }
    }
}

#[test]
fn the_baseline_verifies() {
    assert_eq!(check(&signed(signed_headers(), &params("sts", AMZ_DATE)), BODY, now(), &OPTIONS), Ok(()));
}

#[test]
fn tampering_breaks_the_signature() {
    let good = signed(signed_headers(), &params("sts", AMZ_DATE));
    assert_eq!(
        check(&good, b"Action=GetCallerIdentity&Version=2011-06-16", now(), &OPTIONS),
        Err(SigV4Error::SignatureMismatch)
    );
    assert_eq!(check(&good, b"", now(), &OPTIONS), Err(SigV4Error::SignatureMismatch));

    let mut changed = good.clone();
    set(&mut changed, "Content-Type", "application/json");
    assert_eq!(check(&changed, BODY, now(), &OPTIONS), Err(SigV4Error::SignatureMismatch));

    let mut changed = good.clone();
    set(&mut changed, "Host", "evil.example");
    assert_eq!(check(&changed, BODY, now(), &OPTIONS), Err(SigV4Error::SignatureMismatch));

    // Whitespace a proxy might fold is canonicalised away; an unsigned header may be added.
    let mut changed = good.clone();
    set(&mut changed, "Content-Type", "  application/x-www-form-urlencoded;   charset=utf-8 ");
    changed.push(("User-Agent".to_owned(), "curl/8".to_owned()));
    assert_eq!(check(&changed, BODY, now(), &OPTIONS), Ok(()));

    // A repeated signed header changes its canonical value.
    let mut changed = good.clone();
    changed.push(("content-type".to_owned(), "text/plain".to_owned()));
    assert_eq!(check(&changed, BODY, now(), &OPTIONS), Err(SigV4Error::SignatureMismatch));
}

#[test]
fn wrong_secret_and_wrong_access_key() {
    let good = signed(signed_headers(), &params("sts", AMZ_DATE));
    let refs: Vec<(&str, &str)> = good.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let request = Request { method: "POST", path: "/", query: "", headers: &refs, body_sha256: PayloadHash::of(BODY) };
    let auth = Authorization::from_request(&request).expect("found");
    let error = verify(&request, &auth, b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEz", now(), &OPTIONS).unwrap_err();
    assert_eq!(error, SigV4Error::SignatureMismatch);
    assert_eq!((error.aws_code(), error.http_status()), ("SignatureDoesNotMatch", 403));
    assert_eq!(error.aws_message(), SIGNATURE_DOES_NOT_MATCH_MESSAGE);
    // Neither the secret nor the signature the server computed leaks into the error.
    let expected_signature = good.last().expect("authorization").1.rsplit('=').next().expect("signature").to_owned();
    for text in [error.to_string(), error.aws_message(), format!("{error:?}")] {
        assert!(!text.contains("wJalrXUtnFEMI") && !text.contains(&expected_signature), "{text}");
    }

    // Another access key id in the credential (same secret) changes the scope string signed.
    let mut changed = good.clone();
    let swapped = changed.last().expect("authorization").1.replace("AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLF");
    set(&mut changed, "Authorization", &swapped);
    assert_eq!(check(&changed, BODY, now(), &OPTIONS), Ok(()), "the access key id is not part of the signature");
}

#[test]
fn scope_service_region_and_date() {
    let error = check(&signed(signed_headers(), &params("s3", AMZ_DATE)), BODY, now(), &OPTIONS).unwrap_err();
    assert!(matches!(error, SigV4Error::WrongService { .. }));
    assert_eq!(error.aws_message(), "Credential should be scoped to correct service: 'iam' or 'sts'.");
    assert_eq!(error.aws_code(), "SignatureDoesNotMatch");
    let only_iam = VerifyOptions::new(&["iam"]);
    let error = check(&signed(signed_headers(), &params("sts", AMZ_DATE)), BODY, now(), &only_iam).unwrap_err();
    assert_eq!(error.aws_message(), "Credential should be scoped to correct service: 'iam'.");

    // Any region is accepted (clients with a custom endpoint sign with their configured region).
    for region in ["eu-west-1", "local", "us-gov-west-1"] {
        let p = SigningParams { region, ..params("iam", AMZ_DATE) };
        assert_eq!(check(&signed(signed_headers(), &p), BODY, now(), &OPTIONS), Ok(()), "{region}");
    }

    // The scope says the 24th, X-Amz-Date the 23rd.
    let error =
        check(&signed(signed_headers(), &params("sts", "20261124T101500Z")), BODY, now(), &OPTIONS).unwrap_err();
    assert!(matches!(error, SigV4Error::ScopeDateMismatch { .. }));
    assert_eq!(
        error.aws_message(),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261124' != \
         '20261123', from '20261123T101500Z'."
    );
}

#[test]
fn clock_skew_edges_and_aws_messages() {
    let good = signed(signed_headers(), &params("sts", AMZ_DATE));
    assert_eq!(check(&good, BODY, now() + 15 * 60, &OPTIONS), Ok(()));
    assert_eq!(check(&good, BODY, now() - 15 * 60, &OPTIONS), Ok(()));

    let error = check(&good, BODY, now() + 16 * 60, &OPTIONS).unwrap_err();
    assert_eq!((error.aws_code(), error.http_status()), ("SignatureDoesNotMatch", 403));
    assert_eq!(
        error.aws_message(),
        "Signature expired: 20261123T101500Z is now earlier than 20261123T101600Z (20261123T103100Z - 15 min.)"
    );
    assert!(matches!(check(&good, BODY, now() + 15 * 60 + 1, &OPTIONS), Err(SigV4Error::SignatureExpired { .. })));

    let error = check(&good, BODY, now() - 16 * 60, &OPTIONS).unwrap_err();
    assert_eq!(error.aws_code(), "SignatureDoesNotMatch");
    assert_eq!(
        error.aws_message(),
        "Signature not yet current: 20261123T101500Z is still later than 20261123T101400Z (20261123T095900Z + 15 min.)"
    );
    assert!(matches!(
        check(&good, BODY, now() - 15 * 60 - 1, &OPTIONS),
        Err(SigV4Error::SignatureNotYetCurrent { .. })
    ));

    // A tighter window is the caller's choice.
    let tight = VerifyOptions { max_skew_secs: 5 * 60, ..OPTIONS };
    let error = check(&good, BODY, now() + 6 * 60, &tight).unwrap_err();
    assert!(error.aws_message().ends_with("(20261123T102100Z - 5 min.)"), "{}", error.aws_message());
    // Times near the epoch do not underflow.
    assert!(check(&good, BODY, 0, &OPTIONS).is_err());
    assert!(check(&good, BODY, u64::MAX, &OPTIONS).is_err());
}

#[test]
fn request_time_headers() {
    // `Date` stands in for a missing `X-Amz-Date`; the string to sign carries its ISO form.
    let headers = vec![("Host", "sts.example.internal"), ("Date", "Mon, 23 Nov 2026 10:15:00 GMT")];
    assert_eq!(check(&signed(headers, &params("sts", AMZ_DATE)), BODY, now(), &OPTIONS), Ok(()));

    let headers = vec![("Host", "sts.example.internal")];
    let error = check(&signed(headers, &params("sts", AMZ_DATE)), BODY, now(), &OPTIONS).unwrap_err();
    assert_eq!(error, SigV4Error::MissingDate);
    assert_eq!(error.aws_code(), "IncompleteSignature");
    assert_eq!(
        error.aws_message(),
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    );

    for bad in ["2026-11-23T10:15:00Z", "20261123T101500", "Mon, 23 Nov 2026 10:15:00 GMT", ""] {
        let headers = vec![("Host", "sts.example.internal"), ("X-Amz-Date", bad)];
        let error = check(&signed(headers, &params("sts", AMZ_DATE)), BODY, now(), &OPTIONS).unwrap_err();
        assert!(matches!(error, SigV4Error::InvalidDate { .. }), "{bad}: {error}");
    }
    // Two X-Amz-Date headers are not one date.
    let mut headers = signed(signed_headers(), &params("sts", AMZ_DATE));
    headers.push(("x-amz-date".to_owned(), AMZ_DATE.to_owned()));
    assert!(matches!(check(&headers, BODY, now(), &OPTIONS), Err(SigV4Error::InvalidDate { .. })));
}

#[test]
fn host_must_be_signed_and_signed_headers_present() {
    let headers = vec![("Content-Type", "application/x-www-form-urlencoded"), ("X-Amz-Date", AMZ_DATE)];
    let mut request = signed(headers, &params("sts", AMZ_DATE));
    request.push(("Host".to_owned(), "sts.example.internal".to_owned()));
    assert_eq!(check(&request, BODY, now(), &OPTIONS), Err(SigV4Error::HostNotSigned));

    let mut headers = signed_headers();
    headers.push(("X-Custom", "1"));
    let mut request = signed(headers, &params("sts", AMZ_DATE));
    request.retain(|(n, _)| n != "X-Custom");
    let error = check(&request, BODY, now(), &OPTIONS).unwrap_err();
    assert_eq!(error, SigV4Error::SignedHeaderMissing { name: "x-custom".to_owned() });
    assert_eq!(error.aws_code(), "SignatureDoesNotMatch");
}

#[test]
fn payload_hash_header() {
    let body_hash = sha256_hex(BODY);
    let mut headers = signed_headers();
    headers.push(("X-Amz-Content-Sha256", Box::leak(body_hash.clone().into_boxed_str())));
    let good = signed(headers, &params("sts", AMZ_DATE));
    assert_eq!(check(&good, BODY, now(), &OPTIONS), Ok(()));
    let error = check(&good, b"Action=CreateUser&UserName=mallory", now(), &OPTIONS).unwrap_err();
    assert_eq!(error, SigV4Error::PayloadHashMismatch);
    assert_eq!(error.aws_message(), "The provided 'x-amz-content-sha256' header does not match what was computed.");

    // UNSIGNED-PAYLOAD leaves the body unsigned: refused for a body unless the caller opts in.
    let mut headers = signed_headers();
    headers.push(("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD));
    let unsigned = signed(headers, &params("sts", AMZ_DATE));
    assert_eq!(check(&unsigned, BODY, now(), &OPTIONS), Err(SigV4Error::PayloadHashMismatch));
    assert_eq!(check(&unsigned, b"", now(), &OPTIONS), Ok(()));
    let lax = VerifyOptions { allow_unsigned_payload: true, ..OPTIONS };
    assert_eq!(check(&unsigned, BODY, now(), &lax), Ok(()));

    // Streaming (S3) payload markers are not hashes of this body.
    let mut headers = signed_headers();
    headers.push(("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"));
    assert_eq!(
        check(&signed(headers, &params("sts", AMZ_DATE)), BODY, now(), &OPTIONS),
        Err(SigV4Error::PayloadHashMismatch)
    );
}

#[test]
fn presigned_expiry_and_tampering() {
    let host = [("Host", "sts.example.internal")];
    let base = Request {
        method: "GET",
        path: "/",
        query: "Action=GetCallerIdentity&Version=2011-06-15",
        headers: &host,
        body_sha256: PayloadHash::EMPTY,
    };
    let query = presign(&base, &params("sts", AMZ_DATE), 900, Some("session+token/=="));
    let run = |query: &str, body: &[u8], now: u64, options: &VerifyOptions<'_>| {
        let request = Request { query, body_sha256: PayloadHash::of(body), ..base };
        let auth = Authorization::from_request(&request)?;
        verify(&request, &auth, SECRET, now, options)
    };

    let verified = run(&query, b"", now(), &OPTIONS).expect("verifies");
    assert_eq!(verified.security_token.as_deref(), Some("session+token/=="));
    assert_eq!(verified.expires_at, Some(now() + 900));
    // Old but within X-Amz-Expires is fine for presigned URLs (no 15-minute rule backwards).
    assert!(run(&query, b"", now() + 900, &OPTIONS).is_ok());
    let error = run(&query, b"", now() + 901, &OPTIONS).unwrap_err();
    assert_eq!(
        error,
        SigV4Error::PresignExpired { expired_at: "20261123T103000Z".into(), now: "20261123T103001Z".into() }
    );
    assert_eq!(
        (error.aws_code(), error.http_status(), error.aws_message().as_str()),
        ("RequestExpired", 400, "Request has expired")
    );
    // From the future by more than the skew.
    assert!(matches!(run(&query, b"", now() - 16 * 60, &OPTIONS), Err(SigV4Error::SignatureNotYetCurrent { .. })));
    // The caller may cap presigned validity below X-Amz-Expires (STS's 15 minutes, say).
    let capped = VerifyOptions { max_presign_expires_secs: 300, ..OPTIONS };
    assert_eq!(run(&query, b"", now() + 300, &capped).expect("valid").expires_at, Some(now() + 300));
    assert!(matches!(run(&query, b"", now() + 301, &capped), Err(SigV4Error::PresignExpired { .. })));

    // Every signed parameter is covered: the action, the expiry, the token.
    for (from, to) in [
        ("Action=GetCallerIdentity", "Action=CreateAccessKey"),
        ("X-Amz-Expires=900", "X-Amz-Expires=3600"),
        ("X-Amz-Security-Token=session", "X-Amz-Security-Token=other"),
    ] {
        let changed = query.replace(from, to);
        assert_ne!(changed, query);
        assert_eq!(run(&changed, b"", now(), &OPTIONS), Err(SigV4Error::SignatureMismatch), "{to}");
    }
    let extra = format!("{query}&UserName=mallory");
    assert_eq!(run(&extra, b"", now(), &OPTIONS), Err(SigV4Error::SignatureMismatch));
    // A body the URL did not sign.
    assert_eq!(run(&query, b"Action=CreateUser&UserName=mallory", now(), &OPTIONS), Err(SigV4Error::SignatureMismatch));

    // An S3-style presign (payload line UNSIGNED-PAYLOAD) of an empty body verifies.
    let request = Request { query: "Action=GetCallerIdentity&Version=2011-06-15", ..base };
    let s3_style = presign_unsigned_payload(&request);
    assert!(run(&s3_style, b"", now(), &OPTIONS).is_ok());
    assert_eq!(run(&s3_style, b"x", now(), &OPTIONS), Err(SigV4Error::SignatureMismatch));
}

/// A presigned query whose canonical request ends in `UNSIGNED-PAYLOAD`, as S3-style signers make
/// it: `presign`'s query, re-signed over a canonical request with that payload line.
fn presign_unsigned_payload(request: &Request<'_>) -> String {
    let base = presign(request, &params("sts", AMZ_DATE), 900, None);
    let (without_signature, _) = base.rsplit_once("&X-Amz-Signature=").expect("signature");
    let auth = Authorization::Presigned(parse_presigned(&base).expect("parses").expect("presigned"));
    let twin = Request { query: without_signature, ..*request };
    let canonical = canonical_request(&twin, &auth).expect("canonical");
    let canonical = format!("{}{UNSIGNED_PAYLOAD}", canonical.strip_suffix(EMPTY_SHA256).expect("empty body hash"));
    let string_to_sign =
        format!("AWS4-HMAC-SHA256\n{AMZ_DATE}\n{}\n{}", auth.credential().scope(), sha256_hex(canonical.as_bytes()));
    let signature = SigningKey::for_credential(SECRET, auth.credential()).sign(&string_to_sign);
    let hex: String = signature.iter().map(|b| format!("{b:02x}")).collect();
    format!("{without_signature}&X-Amz-Signature={hex}")
}

#[test]
fn malformed_authorization_headers_are_incomplete_signatures() {
    let good = signed(signed_headers(), &params("sts", AMZ_DATE));
    let authorization = good.last().expect("authorization").1.clone();
    let signature = authorization.rsplit('=').next().expect("signature").to_owned();
    let cases = [
        String::new(),
        " ".into(),
        "AWS4-HMAC-SHA256".into(),
        "AWS4-HMAC-SHA256 ".into(),
        "Bearer abc".into(),
        "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=".into(),
        authorization.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"),
        authorization.replace("Credential=", "Credentials="),
        authorization.replace("Credential=", "credential="),
        authorization.replace(", Signature=", ", Signature=="),
        authorization.replace(&signature, &signature[..63]),
        authorization.replace(&signature, &format!("{signature}0")),
        authorization.replace(&signature, &"z".repeat(64)),
        authorization.replace(&signature, ""),
        authorization.replace("SignedHeaders=", "SignedHeaders=;"),
        authorization.replace("SignedHeaders=", "SignedHeaders=Host;"),
        authorization.replace("/aws4_request", "/aws4_request/"),
        authorization.replace("/aws4_request", ""),
        authorization.replace("AKIAIOSFODNN7EXAMPLE/", "AKIA IOSFODNN7EXAMPLE/"),
        authorization.replace("AKIAIOSFODNN7EXAMPLE/", "/"),
        authorization.replace("/20261123/", "/2026-11-23/"),
        format!("{authorization}, Signature={signature}"),
        format!("{authorization},"),
        format!("{authorization}, Extra=1"),
        authorization.replace(", ", " "),
        authorization.replace(", ", ";"),
        authorization.replace(", ", ",\t"),
        authorization.replace('=', ""),
        "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=".into(),
        "AWS4-HMAC-SHA256 ,,,".into(),
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f/g/h/i/j, SignedHeaders=host, Signature=".into(),
        "\u{0}AWS4-HMAC-SHA256".into(),
        "AWS4-HMAC-SHA256 Credential=é/20261123/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00".into(),
    ];
    for case in cases {
        let mut headers = good.clone();
        set(&mut headers, "Authorization", &case);
        let error = check(&headers, BODY, now(), &OPTIONS).expect_err(&case);
        assert!(
            matches!(error.aws_code(), "IncompleteSignature" | "SignatureDoesNotMatch"),
            "{case:?}: {error} ({})",
            error.aws_code()
        );
        assert_ne!(error, SigV4Error::SignatureMismatch, "{case:?} should fail before any cryptography");
        assert!(error.aws_message().len() < 600, "{case:?}");
    }
    // A long header is clipped in what the client sees.
    let mut headers = good.clone();
    set(&mut headers, "Authorization", &"A".repeat(100_000));
    let error = check(&headers, BODY, now(), &OPTIONS).unwrap_err();
    assert!(error.aws_message().len() < 300);
}

#[test]
fn no_authentication() {
    let error = check(
        &signed_headers().iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect::<Vec<_>>(),
        BODY,
        now(),
        &OPTIONS,
    )
    .unwrap_err();
    assert_eq!(error, SigV4Error::MissingAuthentication);
    assert_eq!((error.aws_code(), error.http_status()), ("MissingAuthenticationToken", 403));
}
