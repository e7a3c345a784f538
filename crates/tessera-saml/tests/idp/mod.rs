//! A test SAML identity provider whose signatures are made by an independent implementation:
//! `xmlsec1` (libxml2 + xmlsec, installed by `scripts/test`), with keys made by `openssl`. So the
//! verifier (and its hand-written canonicalization) is checked against another implementation.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const ISSUER: &str = "https://idp.example.com/saml";
pub const ROLE: &str = "arn:aws:iam::123456789012:role/saml-role";
pub const PROVIDER: &str = "arn:aws:iam::123456789012:saml-provider/test-idp";
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
pub const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// An RSA key and its self-signed certificate, in a temporary directory.
pub struct Key {
    pub dir: PathBuf,
    pub key: PathBuf,
    pub cert: PathBuf,
}

impl Key {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tessera-saml-{}-{name}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).unwrap();
        let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
        let status = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", "/CN=test-idp"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl is installed (scripts/test installs it)");
        assert!(status.success(), "openssl req failed");
        Self { dir, key, cert }
    }

    /// The certificate's base64 DER, as metadata and KeyInfo carry it.
    pub fn cert_b64(&self) -> String {
        let pem = std::fs::read_to_string(&self.cert).unwrap();
        pem.lines().filter(|l| !l.starts_with("-----")).collect()
    }

    /// The provider's metadata document naming this key.
    pub fn metadata(&self, entity_id: &str) -> String {
        format!(
            r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.com/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#,
            self.cert_b64()
        )
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `2026-12-05T10:00:00Z`.
pub fn instant(secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// What the assertion says.
#[derive(Clone)]
pub struct Claims {
    pub issuer: String,
    pub name_id: String,
    pub audience: String,
    pub recipient: String,
    pub now: i64,
    /// Seconds from `now` to the subject confirmation's and the conditions' `NotOnOrAfter`.
    pub lifetime: i64,
    pub attributes: Vec<(String, Vec<String>)>,
}

impl Claims {
    pub fn new(now: i64) -> Self {
        Self {
            issuer: ISSUER.into(),
            name_id: "alice@example.com".into(),
            audience: "https://signin.aws.amazon.com/saml".into(),
            recipient: "https://signin.aws.amazon.com/saml".into(),
            now,
            lifetime: 300,
            attributes: vec![
                ("https://aws.amazon.com/SAML/Attributes/Role".into(), vec![format!("{ROLE},{PROVIDER}")]),
                ("https://aws.amazon.com/SAML/Attributes/RoleSessionName".into(), vec!["alice".into()]),
            ],
        }
    }
}

/// An XML-DSig template for `id`, which `xmlsec1 --sign` fills in.
pub fn signature_template(id: &str, c14n: &str, method: &str, digest: &str, key_info: bool) -> String {
    let key_info =
        if key_info { "<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>" } else { "" };
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{c14n}"/><ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="{c14n}"/></ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>{key_info}</ds:Signature>"##
    )
}

/// The assertion element (with `signature` placed after its issuer).
pub fn assertion(claims: &Claims, id: &str, signature: &str) -> String {
    let attributes: String = claims
        .attributes
        .iter()
        .map(|(name, values)| {
            let values: String =
                values.iter().map(|v| format!("<saml:AttributeValue>{v}</saml:AttributeValue>")).collect();
            format!(r#"<saml:Attribute Name="{name}">{values}</saml:Attribute>"#)
        })
        .collect();
    let (now, end) = (instant(claims.now), instant(claims.now + claims.lifetime));
    let before = instant(claims.now - 60);
    format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}">
    <saml:Issuer>{issuer}</saml:Issuer>{signature}
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{name_id}</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData NotOnOrAfter="{end}" Recipient="{recipient}"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="{before}" NotOnOrAfter="{end}">
      <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AuthnStatement AuthnInstant="{now}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>
    <saml:AttributeStatement>{attributes}</saml:AttributeStatement>
  </saml:Assertion>"#,
        issuer = claims.issuer,
        name_id = claims.name_id,
        recipient = claims.recipient,
        audience = claims.audience,
    )
}

/// A response around `assertion` (with `signature` placed after its issuer).
pub fn response(claims: &Claims, assertion: &str, signature: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_response" Version="2.0" IssueInstant="{now}" Destination="{recipient}">
  <saml:Issuer>{issuer}</saml:Issuer>{signature}
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  {assertion}
</samlp:Response>
"#,
        now = instant(claims.now),
        recipient = claims.recipient,
        issuer = claims.issuer,
    )
}

/// Signs the first signature template of `xml` with `key`, by `xmlsec1`.
pub fn sign(xml: &str, key: &Key) -> String {
    let n = unique();
    let (input, output) = (key.dir.join(format!("in-{n}.xml")), key.dir.join(format!("out-{n}.xml")));
    std::fs::write(&input, xml).unwrap();
    let keys = format!("{},{}", key.key.display(), key.cert.display());
    let out = Command::new("xmlsec1")
        .args(["--sign", "--privkey-pem", &keys])
        .args(["--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"])
        .args(["--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response"])
        .arg("--output")
        .arg(&output)
        .arg(&input)
        .output()
        .expect("xmlsec1 is installed (scripts/test installs it)");
    assert!(out.status.success(), "xmlsec1 --sign failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(&output).unwrap()
}

/// A response whose assertion `xmlsec1` signed (exclusive c14n, RSA-SHA256, SHA-256).
pub fn signed_assertion(claims: &Claims, key: &Key) -> String {
    let template = signature_template("_assertion", EXC_C14N, RSA_SHA256, SHA256, true);
    sign(&response(claims, &assertion(claims, "_assertion", &template), ""), key)
}

pub fn path_exists(p: &Path) -> bool {
    p.exists()
}

pub const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
pub const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
pub const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
pub const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";

impl Key {
    /// The private key as PEM (PKCS#8, as `openssl req` writes it).
    pub fn private_pem(&self) -> String {
        std::fs::read_to_string(&self.key).unwrap()
    }

    /// The private key as PKCS#1 PEM (`RSA PRIVATE KEY`).
    pub fn pkcs1_pem(&self) -> String {
        let out = Command::new("openssl")
            .args(["rsa", "-traditional", "-in"])
            .arg(&self.key)
            .output()
            .expect("openssl is installed");
        assert!(out.status.success(), "openssl rsa failed");
        String::from_utf8(out.stdout).unwrap()
    }
}

/// An XML Encryption template for `xmlsec1 --encrypt`: the data encrypted with `data` under a
/// session key that `transport` (with `digest`, when given) encrypts for the recipient.
pub fn encryption_template(data: &str, transport: &str, digest: Option<&str>) -> String {
    let digest = digest.map(|d| format!(r#"<ds:DigestMethod Algorithm="{d}"/>"#)).unwrap_or_default();
    format!(
        r#"<?xml version="1.0"?>
<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{data}"/><ds:KeyInfo><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="{transport}">{digest}</xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"#
    )
}

/// `xml` with its `Assertion` (ID `_assertion`) inside an `EncryptedAssertion`, encrypted by
/// `xmlsec1` for `recipient`'s certificate with `template` and a fresh AES session key of
/// `session_bits`.
pub fn encrypt(xml: &str, recipient: &Key, template: &str, session_bits: u32) -> String {
    let start = xml.find("<saml:Assertion").expect("an assertion");
    let end = xml.find("</saml:Assertion>").expect("an assertion") + "</saml:Assertion>".len();
    let wrapped = format!(
        "{}<saml:EncryptedAssertion>{}</saml:EncryptedAssertion>{}",
        &xml[..start],
        &xml[start..end],
        &xml[end..]
    );
    let n = unique();
    let dir = &recipient.dir;
    let (data, tmpl, output) =
        (dir.join(format!("data-{n}.xml")), dir.join(format!("tmpl-{n}.xml")), dir.join(format!("enc-{n}.xml")));
    std::fs::write(&data, wrapped).unwrap();
    std::fs::write(&tmpl, template).unwrap();
    let out = Command::new("xmlsec1")
        .args(["--encrypt", "--pubkey-cert-pem"])
        .arg(&recipient.cert)
        .args(["--session-key", &format!("aes-{session_bits}")])
        .args(["--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"])
        .arg("--xml-data")
        .arg(&data)
        .args(["--node-id", "_assertion"])
        .arg("--output")
        .arg(&output)
        .arg(&tmpl)
        .output()
        .expect("xmlsec1 is installed (scripts/test installs it)");
    assert!(out.status.success(), "xmlsec1 --encrypt failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(&output).unwrap()
}

/// `before` + an `EncryptedAssertion` whose plaintext is exactly `plaintext` (any bytes,
/// encrypted by `xmlsec1 --binary-data` with AES-128-GCM and RSA-OAEP) + `after`.
pub fn encrypt_bytes(before: &str, plaintext: &str, after: &str, recipient: &Key) -> String {
    let encrypted = encrypted_data(plaintext, recipient);
    format!("{before}<saml:EncryptedAssertion>{encrypted}</saml:EncryptedAssertion>{after}")
}

/// An `EncryptedData` whose plaintext is exactly `plaintext` (any bytes, encrypted by
/// `xmlsec1 --binary-data` with AES-128-GCM and RSA-OAEP for `recipient`).
pub fn encrypted_data(plaintext: &str, recipient: &Key) -> String {
    let n = unique();
    let dir = &recipient.dir;
    let (data, tmpl, output) =
        (dir.join(format!("bin-{n}.txt")), dir.join(format!("btmpl-{n}.xml")), dir.join(format!("benc-{n}.xml")));
    std::fs::write(&data, plaintext).unwrap();
    let template = encryption_template(AES128_GCM, RSA_OAEP_MGF1P, None);
    std::fs::write(&tmpl, template).unwrap();
    let out = Command::new("xmlsec1")
        .args(["--encrypt", "--pubkey-cert-pem"])
        .arg(&recipient.cert)
        .args(["--session-key", "aes-128", "--binary-data"])
        .arg(&data)
        .arg("--output")
        .arg(&output)
        .arg(&tmpl)
        .output()
        .expect("xmlsec1 is installed (scripts/test installs it)");
    assert!(out.status.success(), "xmlsec1 --encrypt failed: {}", String::from_utf8_lossy(&out.stderr));
    let encrypted = std::fs::read_to_string(&output).unwrap();
    encrypted.trim_start_matches("<?xml version=\"1.0\"?>").trim().to_owned()
}

/// The range of `xml` from the first `open` to the end of the first `close` after it.
pub fn element_range(xml: &str, open: &str, close: &str) -> std::ops::Range<usize> {
    let start = xml.find(open).unwrap_or_else(|| panic!("no {open}"));
    let end = start + xml[start..].find(close).unwrap_or_else(|| panic!("no {close}")) + close.len();
    start..end
}

/// `xml` with the element at `range` put inside `<saml:{container}>` and encrypted there by
/// `xmlsec1 --encrypt` (the element found by `xpath`) for `recipient`, with `data` under
/// RSA-OAEP: what an identity provider makes of an `EncryptedID` or `EncryptedAttribute`.
pub fn encrypt_element(
    xml: &str,
    range: std::ops::Range<usize>,
    container: &str,
    xpath: &str,
    recipient: &Key,
    data: &str,
) -> String {
    let wrapped = format!(
        "{}<saml:{container}>{}</saml:{container}>{}",
        &xml[..range.start],
        &xml[range.clone()],
        &xml[range.end..]
    );
    let bits = if data.contains("256") { "256" } else { "128" };
    let n = unique();
    let dir = &recipient.dir;
    let (input, tmpl, output) =
        (dir.join(format!("el-{n}.xml")), dir.join(format!("eltmpl-{n}.xml")), dir.join(format!("elenc-{n}.xml")));
    std::fs::write(&input, wrapped).unwrap();
    std::fs::write(&tmpl, encryption_template(data, RSA_OAEP_MGF1P, Some(SHA1))).unwrap();
    let out = Command::new("xmlsec1")
        .args(["--encrypt", "--pubkey-cert-pem"])
        .arg(&recipient.cert)
        .args(["--session-key", &format!("aes-{bits}")])
        .arg("--xml-data")
        .arg(&input)
        .args(["--node-xpath", xpath])
        .arg("--output")
        .arg(&output)
        .arg(&tmpl)
        .output()
        .expect("xmlsec1 is installed (scripts/test installs it)");
    assert!(out.status.success(), "xmlsec1 --encrypt failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(&output).unwrap()
}

/// `xml` with its subject's `NameID` in an `EncryptedID` for `recipient` (AES-256-GCM).
pub fn encrypt_name_id(xml: &str, recipient: &Key) -> String {
    let range = element_range(xml, "<saml:NameID", "</saml:NameID>");
    encrypt_element(xml, range, "EncryptedID", "//*[local-name()='NameID']", recipient, AES256_GCM)
}

/// `xml` with its attribute named `name` in an `EncryptedAttribute` for `recipient` (AES-128-CBC).
pub fn encrypt_attribute(xml: &str, name: &str, recipient: &Key) -> String {
    let range = element_range(xml, &format!(r#"<saml:Attribute Name="{name}">"#), "</saml:Attribute>");
    let xpath = format!("//*[local-name()='Attribute'][@Name='{name}']");
    encrypt_element(xml, range, "EncryptedAttribute", &xpath, recipient, AES128_CBC)
}
