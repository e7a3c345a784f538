//! Finding and parsing a request's signature: the `Authorization: AWS4-HMAC-SHA256 …` header
//! ([`parse_authorization`]) or the presigned `X-Amz-*` query parameters ([`parse_presigned`]),
//! both into an [`Authorization`] the verifier checks.
//!
//! Parsing is strict: anything but the documented shapes is an error, so that what is logged and
//! looked up (the access key id, the scope) is exactly what the signature covers. The one
//! tolerance is whitespace around the `,` separators, which clients write differently
//! (botocore: `", "`; others: `","`).

use std::fmt;

use crate::error::{SigV4Error, clip};
use crate::{ALGORITHM, Request, encode};

/// The largest `X-Amz-Expires` AWS accepts: a week.
pub const MAX_PRESIGN_EXPIRES_SECS: u64 = 604_800;

/// The most names `SignedHeaders` may list (AWS sets no limit; this bounds the work per request).
pub const MAX_SIGNED_HEADERS: usize = 64;

/// The credential scope of a signature: `<access key id>/<yyyymmdd>/<region>/<service>/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The access key id (1 to 128 ASCII letters and digits).
    pub access_key_id: String,
    /// The scope date, `yyyymmdd` (8 digits; checked against the request time by `verify`).
    pub date: String,
    /// The region (any name of letters, digits and `-`: clients with a custom endpoint sign with
    /// whatever region they are configured with).
    pub region: String,
    /// The service (`iam`, `sts`, …; checked against the allowed services by `verify`).
    pub service: String,
}

impl Credential {
    /// Parses `<access key id>/<yyyymmdd>/<region>/<service>/aws4_request`.
    pub fn parse(value: &str) -> Result<Credential, SigV4Error> {
        let malformed = || SigV4Error::MalformedCredential { credential: clip(value) };
        let mut parts = value.split('/');
        let (Some(access_key_id), Some(date), Some(region), Some(service), Some(terminator), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        if access_key_id.is_empty()
            || access_key_id.len() > 128
            || !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(malformed());
        }
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        if service.is_empty()
            || service.len() > 64
            || !service.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(malformed());
        }
        if region.is_empty() || region.len() > 63 || !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(SigV4Error::InvalidRegion { region: clip(region) });
        }
        if terminator != "aws4_request" {
            return Err(SigV4Error::InvalidTerminator { terminator: clip(terminator) });
        }
        Ok(Credential {
            access_key_id: access_key_id.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        })
    }

    /// `<yyyymmdd>/<region>/<service>/aws4_request`, the scope line of the string to sign.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// Who signed, and for which date, region and service.
    pub credential: Credential,
    /// The lower-case names of the signed headers, in the order given.
    pub signed_headers: Vec<String>,
    /// The signature, decoded from its 64 hex digits.
    pub signature: [u8; 32],
}

/// The parameters of a presigned (query-string authenticated) request.
#[derive(Clone, PartialEq, Eq)]
pub struct PresignedParams {
    /// Who signed, and for which date, region and service (`X-Amz-Credential`).
    pub credential: Credential,
    /// The request time, `yyyymmddThhmmssZ` (`X-Amz-Date`).
    pub amz_date: String,
    /// Seconds the URL stays valid after `amz_date` (`X-Amz-Expires`, 1 to a week).
    pub expires_secs: u64,
    /// The lower-case names of the signed headers (`X-Amz-SignedHeaders`).
    pub signed_headers: Vec<String>,
    /// The signature (`X-Amz-Signature`).
    pub signature: [u8; 32],
    /// The session token of temporary credentials (`X-Amz-Security-Token`), if any.
    pub security_token: Option<String>,
}

impl fmt::Debug for PresignedParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresignedParams")
            .field("credential", &self.credential)
            .field("amz_date", &self.amz_date)
            .field("expires_secs", &self.expires_secs)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &self.signature)
            .field("security_token", &self.security_token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Where a request's signature is: its `Authorization` header or its query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// `Authorization: AWS4-HMAC-SHA256 …`.
    Header(AuthorizationHeader),
    /// `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=…`.
    Presigned(PresignedParams),
}

impl Authorization {
    /// Finds and parses the signature of `request`: its `Authorization` header, or presigned
    /// query parameters. Neither is [`SigV4Error::MissingAuthentication`]; both is
    /// [`SigV4Error::AmbiguousAuthentication`].
    pub fn from_request(request: &Request<'_>) -> Result<Authorization, SigV4Error> {
        let mut headers = request.header_values("authorization");
        let header = headers.next();
        if headers.next().is_some() {
            return Err(SigV4Error::MalformedAuthorization {
                reason: "The request has more than one Authorization header.".to_owned(),
            });
        }
        match (header, parse_presigned(request.query)?) {
            (Some(_), Some(_)) => Err(SigV4Error::AmbiguousAuthentication),
            (Some(header), None) => parse_authorization(header).map(Authorization::Header),
            (None, Some(presigned)) => Ok(Authorization::Presigned(presigned)),
            (None, None) => Err(SigV4Error::MissingAuthentication),
        }
    }

    /// The credential scope.
    pub fn credential(&self) -> &Credential {
        match self {
            Authorization::Header(header) => &header.credential,
            Authorization::Presigned(presigned) => &presigned.credential,
        }
    }

    /// The access key id that signed (what the caller looks the secret up by).
    pub fn access_key_id(&self) -> &str {
        &self.credential().access_key_id
    }

    /// The signed header names.
    pub fn signed_headers(&self) -> &[String] {
        match self {
            Authorization::Header(header) => &header.signed_headers,
            Authorization::Presigned(presigned) => &presigned.signed_headers,
        }
    }

    /// The signature sent.
    pub fn signature(&self) -> &[u8; 32] {
        match self {
            Authorization::Header(header) => &header.signature,
            Authorization::Presigned(presigned) => &presigned.signature,
        }
    }

    /// Whether this is a presigned (query-string) signature.
    pub fn is_presigned(&self) -> bool {
        matches!(self, Authorization::Presigned(_))
    }
}

/// Parses an `Authorization` header value:
/// `AWS4-HMAC-SHA256 Credential=<credential>, SignedHeaders=<a;b>, Signature=<64 hex>`.
///
/// The three parameters may come in any order, each exactly once; spaces around the commas are
/// tolerated. Anything else is an error ([`SigV4Error::IncompleteAuthorization`] lists what is
/// missing).
pub fn parse_authorization(header: &str) -> Result<AuthorizationHeader, SigV4Error> {
    let header = header.trim_matches(|c| c == ' ' || c == '\t');
    let (algorithm, rest) = header.split_once(' ').unwrap_or((header, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm { algorithm: clip(algorithm) });
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    let rest = rest.trim_start_matches(' ');
    for part in rest.split(',') {
        let part = part.trim_matches(' ');
        let Some((name, value)) = part.split_once('=') else {
            return Err(SigV4Error::MalformedAuthorization {
                reason: format!(
                    "'{}' not a valid key=value pair (missing equal-sign) in Authorization header.",
                    clip(part)
                ),
            });
        };
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(SigV4Error::MalformedAuthorization {
                    reason: format!("'{}' is not a parameter of the Authorization header.", clip(name)),
                });
            }
        };
        if slot.replace(value).is_some() {
            return Err(SigV4Error::MalformedAuthorization {
                reason: format!("Authorization header has more than one '{name}' parameter."),
            });
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        let missing = [("Credential", credential), ("Signature", signature), ("SignedHeaders", signed_headers)]
            .into_iter()
            .filter_map(|(name, value)| value.is_none().then_some(name))
            .collect();
        return Err(SigV4Error::IncompleteAuthorization { missing });
    };
    Ok(AuthorizationHeader {
        credential: Credential::parse(credential)?,
        signed_headers: parse_signed_headers(signed_headers)?,
        signature: parse_signature(signature)?,
    })
}

/// Parses the presigned parameters of a raw query string. `Ok(None)` when the query carries none
/// of `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-SignedHeaders` or `X-Amz-Signature` (the
/// request is not presigned); an error when it carries some but not all that are required, or
/// any of them twice.
pub fn parse_presigned(query: &str) -> Result<Option<PresignedParams>, SigV4Error> {
    const NAMES: [&str; 7] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    ];
    // Cheap test first: nearly every request that reaches here is header-signed.
    if !query.contains("X-Amz-") {
        return Ok(None);
    }
    let mut values: [Option<String>; 7] = Default::default();
    for (name, value) in encode::query_pairs(query) {
        let Some(index) = NAMES.iter().position(|candidate| candidate.as_bytes() == &*name) else { continue };
        if values[index].replace(String::from_utf8_lossy(&value).into_owned()).is_some() {
            return Err(SigV4Error::DuplicateQueryParameter { name: NAMES[index] });
        }
    }
    let [algorithm, credential, amz_date, expires, signed_headers, signature, security_token] = values;
    if algorithm.is_none() && credential.is_none() && signed_headers.is_none() && signature.is_none() {
        return Ok(None);
    }
    let (Some(algorithm), Some(credential), Some(amz_date), Some(expires), Some(signed_headers), Some(signature)) =
        (&algorithm, &credential, &amz_date, &expires, &signed_headers, &signature)
    else {
        let present = [&algorithm, &credential, &signature, &amz_date, &signed_headers, &expires];
        let names = [
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Signature",
            "X-Amz-Date",
            "X-Amz-SignedHeaders",
            "X-Amz-Expires",
        ];
        let missing =
            names.into_iter().zip(present).filter_map(|(name, value)| value.is_none().then_some(name)).collect();
        return Err(SigV4Error::IncompletePresign { missing });
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm { algorithm: clip(algorithm) });
    }
    let expires_secs = parse_expires(expires)?;
    Ok(Some(PresignedParams {
        credential: Credential::parse(credential)?,
        amz_date: amz_date.clone(),
        expires_secs,
        signed_headers: parse_signed_headers(signed_headers)?,
        signature: parse_signature(signature)?,
        security_token,
    }))
}

fn parse_expires(value: &str) -> Result<u64, SigV4Error> {
    let invalid = || SigV4Error::InvalidExpires { value: clip(value), max: MAX_PRESIGN_EXPIRES_SECS };
    if value.is_empty() || value.len() > 7 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match value.parse::<u64>() {
        Ok(secs) if (1..=MAX_PRESIGN_EXPIRES_SECS).contains(&secs) => Ok(secs),
        _ => Err(invalid()),
    }
}

/// `host;x-amz-date` → `["host", "x-amz-date"]`: non-empty, lower-case header-name tokens, no
/// repeats, at most [`MAX_SIGNED_HEADERS`].
fn parse_signed_headers(value: &str) -> Result<Vec<String>, SigV4Error> {
    let malformed = || SigV4Error::MalformedSignedHeaders { signed_headers: clip(value) };
    let mut names: Vec<String> = Vec::new();
    for name in value.split(';') {
        // RFC 9110 `token` characters, lower case only.
        let valid = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid || names.iter().any(|seen| seen == name) || names.len() == MAX_SIGNED_HEADERS {
            return Err(malformed());
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

fn parse_signature(value: &str) -> Result<[u8; 32], SigV4Error> {
    let bytes = value.as_bytes();
    if bytes.len() != 64 {
        return Err(SigV4Error::MalformedSignature);
    }
    let mut signature = [0u8; 32];
    for (out, pair) in signature.iter_mut().zip(bytes.chunks_exact(2)) {
        let (Some(hi), Some(lo)) = (hex_digit(pair[0]), hex_digit(pair[1])) else {
            return Err(SigV4Error::MalformedSignature);
        };
        *out = hi << 4 | lo;
    }
    Ok(signature)
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    fn header(credential: &str, signed: &str, signature: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed}, Signature={signature}")
    }

    #[test]
    fn parses_the_botocore_shape_and_tolerates_spacing() {
        let expected = AuthorizationHeader {
            credential: Credential {
                access_key_id: "AKIDEXAMPLE".into(),
                date: "20150830".into(),
                region: "us-east-1".into(),
                service: "iam".into(),
            },
            signed_headers: vec!["host".into(), "x-amz-date".into()],
            signature: parse_signature(SIG).unwrap(),
        };
        let credential = "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request";
        for text in [
            header(credential, "host;x-amz-date", SIG),
            format!("AWS4-HMAC-SHA256 Credential={credential},SignedHeaders=host;x-amz-date,Signature={SIG}"),
            format!("AWS4-HMAC-SHA256   Credential={credential},   SignedHeaders=host;x-amz-date ,Signature={SIG}  "),
            format!("AWS4-HMAC-SHA256 Signature={SIG}, Credential={credential}, SignedHeaders=host;x-amz-date"),
            header(credential, "host;x-amz-date", &SIG.to_uppercase()),
        ] {
            assert_eq!(parse_authorization(&text), Ok(expected.clone()), "{text}");
        }
    }

    #[test]
    fn rejects_malformed_headers() {
        let credential = "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request";
        let code = |text: &str| parse_authorization(text).map(|_| ()).map_err(|e| (e.aws_code(), e.to_string()));
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "unsupported signing algorithm ``"),
            ("AWS4-HMAC-SHA256".into(), "'' not a valid"),
            ("AWS AKIDEXAMPLE:c2lnbmF0dXJl".into(), "unsupported signing algorithm `AWS`"),
            (
                header(credential, "host", SIG).replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
                "`AWS4-ECDSA-P256-SHA256`",
            ),
            (
                header(credential, "host", SIG).replace("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256"),
                "unsupported signing algorithm",
            ),
            (header(credential, "host", SIG).to_lowercase(), "unsupported signing algorithm"),
            (format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host"), "lacks `Signature`"),
            ("AWS4-HMAC-SHA256 Foo=bar".into(), "'Foo' is not a parameter"),
            (format!("AWS4-HMAC-SHA256 Credential={credential}"), "lacks `Signature` and `SignedHeaders`"),
            (format!("{}, Signature={SIG}", header(credential, "host", SIG)), "more than one 'Signature'"),
            (format!("{},", header(credential, "host", SIG)), "missing equal-sign"),
            (header(credential, "host", SIG).replace(", ", "; "), "lacks `Signature` and `SignedHeaders`"),
            (header(credential, "", SIG), "malformed signed headers ``"),
            (header(credential, "host;", SIG), "malformed signed headers"),
            (header(credential, "Host;x-amz-date", SIG), "malformed signed headers"),
            (header(credential, "host;host", SIG), "malformed signed headers"),
            (header(credential, "host x-amz-date", SIG), "malformed signed headers"),
            (header(credential, "host", &SIG[1..]), "64 hex"),
            (header(credential, "host", &format!("{}g", &SIG[1..])), "64 hex"),
            (header(credential, "host", &format!("{SIG}00")), "64 hex"),
            (header("AKIDEXAMPLE/20150830/us-east-1/iam", "host", SIG), "malformed credential"),
            (header("AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request/x", "host", SIG), "malformed credential"),
            (header("/20150830/us-east-1/iam/aws4_request", "host", SIG), "malformed credential"),
            (header("AKID EXAMPLE/20150830/us-east-1/iam/aws4_request", "host", SIG), "malformed credential"),
            (header("AKIDEXAMPLE/2015083/us-east-1/iam/aws4_request", "host", SIG), "malformed credential"),
            (header("AKIDEXAMPLE/20150830//iam/aws4_request", "host", SIG), "invalid region ``"),
            (header("AKIDEXAMPLE/20150830/us_east_1/iam/aws4_request", "host", SIG), "invalid region"),
            (header("AKIDEXAMPLE/20150830/us-east-1/IAM/aws4_request", "host", SIG), "malformed credential"),
            (header("AKIDEXAMPLE/20150830/us-east-1/iam/aws4_requests", "host", SIG), "`aws4_requests`"),
        ];
        for (text, expected) in cases {
            let (_, message) = code(&text).expect_err(&text);
            assert!(message.contains(expected), "{text:?}: {message}");
        }
        let many = (0..=MAX_SIGNED_HEADERS).map(|i| format!("h{i}")).collect::<Vec<_>>().join(";");
        assert!(matches!(
            parse_authorization(&header(credential, &many, SIG)),
            Err(SigV4Error::MalformedSignedHeaders { .. })
        ));
    }

    #[test]
    fn presigned_parameters() {
        let query = format!(
            "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20150830T123600Z\
             &X-Amz-Expires=900&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Security-Token=a%2Bb%2F%3D\
             &X-Amz-Signature={SIG}"
        );
        let presigned = parse_presigned(&query).unwrap().unwrap();
        assert_eq!(presigned.credential.service, "sts");
        assert_eq!(presigned.amz_date, "20150830T123600Z");
        assert_eq!(presigned.expires_secs, 900);
        assert_eq!(presigned.signed_headers, ["host", "x-k8s-aws-id"]);
        assert_eq!(presigned.security_token.as_deref(), Some("a+b/="));
        assert!(!format!("{presigned:?}").contains("a+b/="), "the token is redacted");

        assert_eq!(parse_presigned(""), Ok(None));
        assert_eq!(parse_presigned("Action=ListUsers&Version=2010-05-08"), Ok(None));
        assert_eq!(parse_presigned("X-Amz-Date=20150830T123600Z&X-Amz-Security-Token=t"), Ok(None));

        let without =
            |name: &str| query.split('&').filter(|p| !p.starts_with(&format!("{name}="))).collect::<Vec<_>>().join("&");
        for name in [
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
        ] {
            let error = parse_presigned(&without(name)).unwrap_err();
            assert_eq!(error, SigV4Error::IncompletePresign { missing: vec![name] }, "{name}");
        }
        assert_eq!(
            parse_presigned(&format!("{query}&X-Amz-Date=20150830T123600Z")),
            Err(SigV4Error::DuplicateQueryParameter { name: "X-Amz-Date" })
        );
        for expires in ["0", "604801", "-1", "1.5", "", "99999999999999999999", "+900"] {
            let changed = query.replace("X-Amz-Expires=900", &format!("X-Amz-Expires={expires}"));
            assert!(matches!(parse_presigned(&changed), Err(SigV4Error::InvalidExpires { .. })), "{expires}");
        }
        assert_eq!(
            parse_presigned(&query.replace("X-Amz-Expires=900", "X-Amz-Expires=604800")).unwrap().unwrap().expires_secs,
            604_800
        );
        let changed = query.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256");
        assert!(matches!(parse_presigned(&changed), Err(SigV4Error::UnsupportedAlgorithm { .. })));
    }

    #[test]
    fn authorization_from_request() {
        let auth = header("AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request", "host;x-amz-date", SIG);
        let presigned = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fiam%2Faws4_request\
             &X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature={SIG}"
        );
        let find = |headers: &[(&str, &str)], query: &str| {
            Authorization::from_request(&Request {
                method: "GET",
                path: "/",
                query,
                headers,
                body_sha256: crate::PayloadHash::EMPTY,
            })
        };

        let found = find(&[("AUTHORIZATION", &auth)], "").unwrap();
        assert!(!found.is_presigned());
        assert_eq!(found.access_key_id(), "AKIDEXAMPLE");
        let found = find(&[], &presigned).unwrap();
        assert!(found.is_presigned());
        assert_eq!(found.signed_headers(), ["host"]);
        assert_eq!(find(&[], ""), Err(SigV4Error::MissingAuthentication));
        assert_eq!(find(&[("authorization", &auth)], &presigned), Err(SigV4Error::AmbiguousAuthentication));
        assert!(matches!(
            find(&[("authorization", &auth), ("Authorization", &auth)], ""),
            Err(SigV4Error::MalformedAuthorization { .. })
        ));
    }
}
