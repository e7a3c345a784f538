//! SAML federation over real HTTP against a gateway on `127.0.0.1:0`: the SAML provider actions
//! (create, get, update, list, tags, delete and their errors) signed as botocore signs, and the
//! unsigned `AssumeRoleWithSAML` with responses signed by `xmlsec1` (tessera-saml's test identity
//! provider): a good one, and expired, misaddressed, unsigned, wrapped, untrusted and role-less
//! ones.

use crate::common;
#[path = "../../../../crates/tessera-saml/tests/idp/mod.rs"]
mod idp;

use crate::common::{Harness, code, start, tag, tags};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use idp::{Claims, Key};

fn now() -> i64 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    i64::try_from(secs).expect("seconds")
}

async fn ok(h: &Harness, params: &[(&str, &str)]) -> String {
    let (status, body) = h.root(params).await;
    assert_eq!(status, 200, "{params:?}: {body}");
    body
}

async fn fails(h: &Harness, params: &[(&str, &str)], want: (u16, &str)) -> String {
    let (status, body) = h.root(params).await;
    assert_eq!((status, code(&body)), want, "{params:?}: {body}");
    body
}

#[tokio::test]
async fn saml_providers_over_the_query_api() {
    let h = start().await;
    let key = Key::new("gateway-providers");
    let metadata = key.metadata(idp::ISSUER);
    let create = [
        ("Action", "CreateSAMLProvider"),
        ("Name", "Okta"),
        ("SAMLMetadataDocument", metadata.as_str()),
        ("Tags.member.1.Key", "team"),
        ("Tags.member.1.Value", "blue"),
    ];
    let body = ok(&h, &create).await;
    let arn = format!("arn:aws:iam::{}:saml-provider/Okta", h.account.id());
    assert_eq!(tag(&body, "SAMLProviderArn"), Some(arn.as_str()));
    assert_eq!((tags(&body, "Key"), tags(&body, "Value")), (vec!["team"], vec!["blue"]), "{body}");
    fails(&h, &create, (409, "EntityAlreadyExists")).await;

    let get = [("Action", "GetSAMLProvider"), ("SAMLProviderArn", arn.as_str())];
    let body = ok(&h, &get).await;
    assert!(tag(&body, "SAMLMetadataDocument").is_some_and(|d| d.contains("EntityDescriptor")), "{body}");
    assert!(tag(&body, "ValidUntil").is_some() && tag(&body, "CreateDate").is_some(), "{body}");
    assert_eq!(tag(&body, "SAMLProviderUUID").map(str::len), Some(26));

    let other = key.metadata("https://other.example.com");
    let update =
        [("Action", "UpdateSAMLProvider"), ("SAMLProviderArn", arn.as_str()), ("SAMLMetadataDocument", &other)];
    assert_eq!(tag(&ok(&h, &update).await, "SAMLProviderArn"), Some(arn.as_str()));
    let bad = "<x>".to_owned() + &" ".repeat(1000) + "</x>";
    let update_bad =
        [("Action", "UpdateSAMLProvider"), ("SAMLProviderArn", arn.as_str()), ("SAMLMetadataDocument", &bad)];
    let body = fails(&h, &update_bad, (400, "InvalidInput")).await;
    assert_eq!(tag(&body, "Message"), Some("Could not parse metadata"), "{body}");

    let body = ok(&h, &[("Action", "ListSAMLProviders")]).await;
    assert_eq!(tags(&body, "Arn"), [arn.as_str()]);

    let untag = [("Action", "UntagSAMLProvider"), ("SAMLProviderArn", arn.as_str()), ("TagKeys.member.1", "team")];
    ok(&h, &untag).await;
    let body = ok(&h, &[("Action", "ListSAMLProviderTags"), ("SAMLProviderArn", arn.as_str())]).await;
    assert!(tags(&body, "Key").is_empty(), "{body}");

    let delete = [("Action", "DeleteSAMLProvider"), ("SAMLProviderArn", arn.as_str())];
    ok(&h, &delete).await;
    let body = fails(&h, &delete, (404, "NoSuchEntity")).await;
    assert_eq!(tag(&body, "Message"), Some(format!("Manifest not found for arn {arn}").as_str()), "{body}");
    let short = [("Action", "CreateSAMLProvider"), ("Name", "x"), ("SAMLMetadataDocument", "<x/>")];
    fails(&h, &short, (400, "ValidationError")).await;
}

/// A provider for `key`, and a role it may federate into.
async fn federation(h: &Harness, key: &Key) -> (String, String) {
    let metadata = key.metadata(idp::ISSUER);
    let created =
        ok(h, &[("Action", "CreateSAMLProvider"), ("Name", "test-idp"), ("SAMLMetadataDocument", &metadata)]).await;
    let provider = tag(&created, "SAMLProviderArn").expect("the provider's ARN").to_owned();
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},"Action":"sts:AssumeRoleWithSAML","Condition":{{"StringEquals":{{"saml:aud":"https://signin.aws.amazon.com/saml","saml:sub_type":"persistent"}}}}}}]}}"#
    );
    let created =
        ok(h, &[("Action", "CreateRole"), ("RoleName", "saml-role"), ("AssumeRolePolicyDocument", &trust)]).await;
    (provider, tag(&created, "Arn").expect("the role's ARN").to_owned())
}

fn claims(role: &str, provider: &str) -> Claims {
    let mut claims = Claims::new(now());
    claims.attributes[0].1 = vec![format!("{role},{provider}")];
    claims
}

async fn assume(h: &Harness, role: &str, provider: &str, xml: &str) -> (u16, String) {
    let encoded = STANDARD.encode(xml);
    let params = [
        ("Action", "AssumeRoleWithSAML"),
        ("Version", "2011-06-15"),
        ("RoleArn", role),
        ("PrincipalArn", provider),
        ("SAMLAssertion", encoded.as_str()),
    ];
    // Unsigned, as botocore sends it.
    let body: String =
        params.iter().map(|(k, v)| format!("{k}={}", common::form_encode(v))).collect::<Vec<_>>().join("&");
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        h.addr,
        body.len()
    );
    common::send(h.addr, raw.as_bytes()).await
}

#[tokio::test]
async fn assume_role_with_saml_over_http() {
    let h = start().await;
    let key = Key::new("gateway-assume");
    let (provider, role) = federation(&h, &key).await;
    let good = claims(&role, &provider);

    let (status, body) = assume(&h, &role, &provider, &idp::signed_assertion(&good, &key)).await;
    assert_eq!(status, 200, "{body}");
    assert!(tag(&body, "AccessKeyId").is_some_and(|k| k.starts_with("ASIA")), "{body}");
    assert_eq!(tag(&body, "Subject"), Some("alice@example.com"));
    assert_eq!(tag(&body, "SubjectType"), Some("persistent"));
    assert_eq!(tag(&body, "Issuer"), Some(idp::ISSUER));
    assert_eq!(tag(&body, "Audience"), Some("https://signin.aws.amazon.com/saml"));
    let expected_arn = format!("arn:aws:sts::{}:assumed-role/saml-role/alice", h.account.id());
    assert_eq!(tag(&body, "Arn"), Some(expected_arn.as_str()));
    let qualifier = tessera_saml::name_qualifier(idp::ISSUER, h.account.id(), "test-idp");
    assert_eq!(tag(&body, "NameQualifier"), Some(qualifier.as_str()));

    let mut expired = good.clone();
    expired.now -= 3600;
    let untrusted = Key::new("gateway-untrusted");
    let mut wrong_audience = good.clone();
    wrong_audience.audience = "https://sp.example.com".into();
    let mut wrong_recipient = good.clone();
    wrong_recipient.recipient = "https://sp.example.com/acs".into();
    let mut other_role = good.clone();
    other_role.attributes[0].1 = vec![format!("{role}-other,{provider}")];
    let unsigned = idp::response(&good, &idp::assertion(&good, "_assertion", ""), "");
    let signed = idp::signed_assertion(&good, &key);
    let start_at = signed.find("<saml:Assertion").expect("an assertion");
    let mut evil = good.clone();
    evil.name_id = "admin@example.com".into();
    let wrapped = format!("{}{}{}", &signed[..start_at], idp::assertion(&evil, "_evil", ""), &signed[start_at..]);
    let cases = [
        ("expired", idp::signed_assertion(&expired, &key), (400, "ExpiredTokenException")),
        ("audience", idp::signed_assertion(&wrong_audience, &key), (400, "InvalidIdentityToken")),
        ("recipient", idp::signed_assertion(&wrong_recipient, &key), (400, "InvalidIdentityToken")),
        ("unsigned", unsigned, (400, "InvalidIdentityToken")),
        ("wrapped", wrapped, (400, "InvalidIdentityToken")),
        ("untrusted", idp::signed_assertion(&good, &untrusted), (400, "InvalidIdentityToken")),
        ("role not granted", idp::signed_assertion(&other_role, &key), (403, "AccessDenied")),
    ];
    for (case, xml, want) in cases {
        let (status, body) = assume(&h, &role, &provider, &xml).await;
        assert_eq!((status, code(&body)), want, "{case}: {body}");
    }
}
