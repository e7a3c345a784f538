"""SAML federation through boto3 and the aws CLI: the IAM SAML provider operations (create, get,
update, list, tags, delete and their documented errors) and sts:AssumeRoleWithSAML end to end
with a test identity provider whose responses are signed by `xmlsec1` (an independent XML-DSig
implementation; scripts/test installs it): a good assertion, and an expired one, a wrong audience,
a wrong recipient, an unsigned one, a signature-wrapped one, one signed with an untrusted
certificate, and one that does not grant the requested role; encrypted assertions (provider
private keys, Required and Allowed modes, wrong key, tampered ciphertext, removed key); an
encrypted NameID and Role attribute (EncryptedID, EncryptedAttribute) in a plain and in an
encrypted assertion; the SessionDuration attribute and TransitiveTagKeys through a role chain."""

import base64
import datetime
import hashlib
import itertools
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tessera_compat import assert_error, policy_doc, uniq

AWS_SAML = "https://signin.aws.amazon.com/saml"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_counter = itertools.count()


def instant(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class SamlIdp:
    """An RSA key (openssl) and a signer (xmlsec1) for SAML responses."""

    def __init__(self, tmp: Path, name: str):
        self.dir = tmp / f"saml-{name}-{next(_counter)}"
        self.dir.mkdir(parents=True)
        self.key, self.cert = self.dir / "key.pem", self.dir / "cert.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                        "-subj", "/CN=compat-idp", "-keyout", str(self.key), "-out", str(self.cert)],
                       check=True, capture_output=True)
        self.issuer = f"https://idp-{uniq('x')}.example.com/saml"

    def cert_b64(self):
        return "".join(l for l in self.cert.read_text().splitlines() if not l.startswith("-----"))

    def metadata(self, issuer=None):
        return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{issuer or self.issuer}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{self.cert_b64()}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.com/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""

    @staticmethod
    def signature(ref):
        return (f'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
                f'<ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/>'
                f'<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
                f'<ds:Reference URI="#{ref}"><ds:Transforms>'
                f'<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
                f'<ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms>'
                f'<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/>'
                f'</ds:Reference></ds:SignedInfo><ds:SignatureValue/>'
                f'<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>')

    def assertion(self, roles, session_name="alice", name_id="alice@example.com", audience=AWS_SAML,
                  recipient=AWS_SAML, lifetime=300, attrs=(), aid="_assertion", signed=True):
        now = datetime.datetime.now(datetime.timezone.utc)
        end = instant(now + datetime.timedelta(seconds=lifetime))
        attributes = [("https://aws.amazon.com/SAML/Attributes/Role", list(roles))]
        if session_name is not None:
            attributes.append(("https://aws.amazon.com/SAML/Attributes/RoleSessionName", [session_name]))
        attributes += list(attrs)
        attr_xml = "".join(
            f'<saml:Attribute Name="{n}">' + "".join(f"<saml:AttributeValue>{v}</saml:AttributeValue>" for v in vs)
            + "</saml:Attribute>" for n, vs in attributes)
        sig = self.signature(aid) if signed else ""
        return f"""<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{aid}" Version="2.0" IssueInstant="{instant(now)}">
    <saml:Issuer>{self.issuer}</saml:Issuer>{sig}
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{name_id}</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData NotOnOrAfter="{end}" Recipient="{recipient}"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="{instant(now - datetime.timedelta(seconds=60))}" NotOnOrAfter="{end}">
      <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AuthnStatement AuthnInstant="{instant(now)}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>
    <saml:AttributeStatement>{attr_xml}</saml:AttributeStatement>
  </saml:Assertion>"""

    def response(self, assertion, recipient=AWS_SAML):
        now = datetime.datetime.now(datetime.timezone.utc)
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_response" Version="2.0" IssueInstant="{instant(now)}" Destination="{recipient}">
  <saml:Issuer>{self.issuer}</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  {assertion}
</samlp:Response>
"""

    def sign(self, xml):
        n = next(_counter)
        src, out = self.dir / f"in-{n}.xml", self.dir / f"out-{n}.xml"
        src.write_text(xml)
        subprocess.run(["xmlsec1", "--sign", "--privkey-pem", f"{self.key},{self.cert}",
                        "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                        "--output", str(out), str(src)], check=True, capture_output=True)
        return out.read_text()

    def signed(self, roles, **kw):
        return self.sign(self.response(self.assertion(roles, **kw)))


def b64(xml):
    return base64.b64encode(xml.encode()).decode()


@pytest.fixture(scope="module")
def idp(server):
    return SamlIdp(server.tmp, "trusted")


@pytest.fixture(scope="module")
def federation(root, account_id, idp):
    """A SAML provider for the test IdP and a role that trusts it (saml:aud checked)."""
    name = uniq("idp")
    provider = root.iam.create_saml_provider(Name=name, SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"]
    trust = policy_doc({"Effect": "Allow", "Principal": {"Federated": provider},
                        "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity"],
                        "Condition": {"StringEquals": {"SAML:aud": AWS_SAML}}})
    role = root.iam.create_role(RoleName=uniq("saml"), AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    yield provider, role, name
    root.iam.delete_role(RoleName=role.rsplit("/", 1)[1])
    root.iam.delete_saml_provider(SAMLProviderArn=provider)


def assume(root, role, provider, xml, **kw):
    return root.sts.assume_role_with_saml(RoleArn=role, PrincipalArn=provider, SAMLAssertion=b64(xml), **kw)


# -- providers ---------------------------------------------------------------------------------

def test_provider_lifecycle_boto3(root, account_id, idp):
    iam = root.iam
    name = uniq("okta")
    created = iam.create_saml_provider(Name=name, SAMLMetadataDocument=idp.metadata(),
                                       Tags=[{"Key": "team", "Value": "blue"}])
    arn = created["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::{account_id}:saml-provider/{name}"
    assert created["Tags"] == [{"Key": "team", "Value": "blue"}]
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == idp.metadata()
    assert got["ValidUntil"] > got["CreateDate"]
    assert len(got["SAMLProviderUUID"]) >= 22
    assert got["Tags"] == [{"Key": "team", "Value": "blue"}]
    listed = [p for p in iam.list_saml_providers()["SAMLProviderList"] if p["Arn"] == arn]
    assert len(listed) == 1 and listed[0]["CreateDate"] == got["CreateDate"]

    other = idp.metadata(issuer="https://other.example.com/saml").replace(
        "entityID=", 'validUntil="2035-01-01T00:00:00Z" entityID=')
    assert iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=other)["SAMLProviderArn"] == arn
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == other and got["ValidUntil"].year == 2035

    iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "env", "Value": "prod"}])
    tags = iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"]
    assert sorted(t["Key"] for t in tags) == ["env", "team"]
    iam.untag_saml_provider(SAMLProviderArn=arn, TagKeys=["team"])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]

    iam.delete_saml_provider(SAMLProviderArn=arn)
    with pytest.raises(ClientError) as e:
        iam.get_saml_provider(SAMLProviderArn=arn)
    assert_error(e, "NoSuchEntity", 404)
    assert e.value.response["Error"]["Message"] == f"Manifest not found for arn {arn}"
    with pytest.raises(ClientError) as e:
        iam.delete_saml_provider(SAMLProviderArn=arn)
    assert_error(e, "NoSuchEntity", 404)


def test_provider_errors(root, account_id, idp):
    iam = root.iam
    name = uniq("dup")
    arn = iam.create_saml_provider(Name=name, SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"]
    try:
        with pytest.raises(ClientError) as e:
            iam.create_saml_provider(Name=name, SAMLMetadataDocument=idp.metadata())
        assert_error(e, "EntityAlreadyExists", 409)
        with pytest.raises(ClientError) as e:
            iam.create_saml_provider(Name=uniq("bad"), SAMLMetadataDocument="<x>" + " " * 1000 + "</x>")
        assert_error(e, "InvalidInput", 400)
        assert e.value.response["Error"]["Message"] == "Could not parse metadata"
        with pytest.raises(ClientError) as e:
            iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument="<x>" + " " * 1000 + "</x>")
        assert_error(e, "InvalidInput", 400)
        with pytest.raises(ClientError) as e:
            iam.update_saml_provider(SAMLProviderArn=arn)
        assert_error(e, "InvalidInput", 400)
        assert e.value.response["Error"]["Message"] == (
            "Unable to update identity provider. No updates are defined for metadata or encryption assertion.")
        # A provider that requires encrypted assertions needs a private key to decrypt them.
        with pytest.raises(ClientError) as e:
            iam.update_saml_provider(SAMLProviderArn=arn, AssertionEncryptionMode="Required")
        assert_error(e, "InvalidInput", 400)
        # More than the model's 50 tags in one request is a validation error (as for users and
        # roles); a provider already holding 50 refuses one more with LimitExceeded.
        many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
        with pytest.raises(ClientError) as e:
            iam.tag_saml_provider(SAMLProviderArn=arn, Tags=many)
        assert_error(e, "ValidationError", 400)
        assert "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50" \
            in e.value.response["Error"]["Message"]
        iam.tag_saml_provider(SAMLProviderArn=arn, Tags=many[:50])
        with pytest.raises(ClientError) as e:
            iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "one-more", "Value": "v"}])
        assert_error(e, "LimitExceeded", 409)
        missing = f"arn:aws:iam::{account_id}:saml-provider/{uniq('none')}"
        for call in (lambda: iam.get_saml_provider(SAMLProviderArn=missing),
                     lambda: iam.tag_saml_provider(SAMLProviderArn=missing, Tags=[{"Key": "a", "Value": "b"}]),
                     lambda: iam.list_saml_provider_tags(SAMLProviderArn=missing)):
            with pytest.raises(ClientError) as e:
                call()
            assert_error(e, "NoSuchEntity", 404)
        with pytest.raises(ClientError) as e:
            iam.get_saml_provider(SAMLProviderArn=f"arn:aws:iam::{account_id}:role/not-a-provider")
        assert_error(e, "InvalidInput", 400)
        # Client-side validation aside, the server checks the model's limits too.
        lax = root.iam_lax
        with pytest.raises(ClientError) as e:
            lax.create_saml_provider(Name="bad name", SAMLMetadataDocument=idp.metadata())
        assert_error(e, "ValidationError", 400)
        with pytest.raises(ClientError) as e:
            lax.create_saml_provider(Name=uniq("short"), SAMLMetadataDocument="<x/>")
        assert_error(e, "ValidationError", 400)
    finally:
        iam.delete_saml_provider(SAMLProviderArn=arn)


def test_provider_operations_with_the_aws_cli(root, idp):
    meta = idp.dir / "metadata.xml"
    meta.write_text(idp.metadata())
    name = uniq("cli")
    arn = root.aws("iam", "create-saml-provider", "--name", name,
                   "--saml-metadata-document", f"file://{meta}")["SAMLProviderArn"]
    assert root.aws("iam", "get-saml-provider", "--saml-provider-arn", arn)["SAMLMetadataDocument"] == idp.metadata()
    assert arn in [p["Arn"] for p in root.aws("iam", "list-saml-providers")["SAMLProviderList"]]
    root.aws("iam", "update-saml-provider", "--saml-provider-arn", arn, "--saml-metadata-document", f"file://{meta}")
    root.aws("iam", "tag-saml-provider", "--saml-provider-arn", arn, "--tags", "Key=a,Value=b")
    assert root.aws("iam", "list-saml-provider-tags", "--saml-provider-arn", arn)["Tags"] == [{"Key": "a", "Value": "b"}]
    root.aws("iam", "untag-saml-provider", "--saml-provider-arn", arn, "--tag-keys", "a")
    # Documented errors, as the CLI reports them.
    p = root.aws("iam", "create-saml-provider", "--name", name, "--saml-metadata-document", f"file://{meta}",
                 check=False)
    assert p.returncode != 0 and "(EntityAlreadyExists)" in p.stderr, p.stderr
    bad = idp.dir / "bad-metadata.xml"
    bad.write_text("<x>" + " " * 1000 + "</x>")
    p = root.aws("iam", "update-saml-provider", "--saml-provider-arn", arn, "--saml-metadata-document",
                 f"file://{bad}", check=False)
    assert p.returncode != 0 and "(InvalidInput)" in p.stderr and "Could not parse metadata" in p.stderr, p.stderr
    root.aws("iam", "delete-saml-provider", "--saml-provider-arn", arn)
    p = root.aws("iam", "get-saml-provider", "--saml-provider-arn", arn, check=False)
    assert p.returncode != 0 and "(NoSuchEntity)" in p.stderr, p.stderr
    p = root.aws("iam", "delete-saml-provider", "--saml-provider-arn", arn, check=False)
    assert p.returncode != 0 and "(NoSuchEntity)" in p.stderr, p.stderr


# -- AssumeRoleWithSAML ------------------------------------------------------------------------

def test_good_assertion(root, account_id, idp, federation):
    provider, role, name = federation
    tag = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:team"
    source = "https://aws.amazon.com/SAML/Attributes/SourceIdentity"
    xml = idp.signed([f"{role},{provider}"], attrs=[(tag, ["blue"]), (source, ["alice"])])
    r = assume(root, role, provider, xml, DurationSeconds=900)
    creds = r["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    role_name = role.rsplit("/", 1)[1]
    assert r["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account_id}:assumed-role/{role_name}/alice"
    assert r["Subject"] == "alice@example.com"
    assert r["SubjectType"] == "persistent"
    assert r["Issuer"] == idp.issuer
    assert r["Audience"] == AWS_SAML
    expected = base64.b64encode(hashlib.sha1(
        f"{idp.issuer}{account_id}/{name}".encode()).digest()).decode()
    assert r["NameQualifier"] == expected
    assert r["SourceIdentity"] == "alice"
    session = root.server.principal(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert session.sts.get_caller_identity()["Arn"] == r["AssumedRoleUser"]["Arn"]


def test_good_assertion_with_the_aws_cli(root, idp, federation):
    provider, role, _ = federation
    xml = idp.signed([f"{provider},{role}"])  # either order
    r = root.aws("sts", "assume-role-with-saml", "--role-arn", role, "--principal-arn", provider,
                 "--saml-assertion", b64(xml))
    assert r["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert r["Subject"] == "alice@example.com"
    # A refusal, as the CLI reports it.
    expired = idp.signed([f"{role},{provider}"], lifetime=-600)
    p = root.aws("sts", "assume-role-with-saml", "--role-arn", role, "--principal-arn", provider,
                 "--saml-assertion", b64(expired), check=False)
    assert p.returncode != 0 and "(ExpiredTokenException)" in p.stderr, p.stderr


# Each refusal is checked by code and by the message naming its cause, so a case cannot pass by
# failing for another reason (the good assertion above passes with the same IdP and role).
REFUSALS = {
    "expired": ("ExpiredTokenException", "The SAML assertion expired at "),
    "audience": ("InvalidIdentityToken", "Response does not contain the required audience."),
    "recipient": ("InvalidIdentityToken", "Recipient https://sp.example.com/acs of the SAML assertion"),
    "unsigned": ("InvalidIdentityToken", "The SAML response is not signed."),
    "wrapped": ("InvalidIdentityToken", "signature wrapping: the response has more than one assertion"),
    "moved": ("InvalidIdentityToken", "signature wrapping: "),
    "untrusted": ("InvalidIdentityToken", "signed with a certificate that is not in the provider's metadata"),
    "untrusted-without-key-info": ("InvalidIdentityToken", "Response signature invalid"),
    "tampered": ("InvalidIdentityToken", "Response signature invalid"),
    "wrong-issuer": ("InvalidIdentityToken", "Issuer not present in specified provider"),
    "no-session-name": ("InvalidIdentityToken", "RoleSessionName is required in AuthnResponse"),
    "bad-session-name": ("InvalidIdentityToken", "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refused_assertions(root, server, idp, federation, case):
    provider, role, _ = federation
    roles = [f"{role},{provider}"]
    if case == "expired":
        xml = idp.signed(roles, lifetime=-600)
    elif case == "audience":
        xml = idp.signed(roles, audience="https://sp.example.com")
    elif case == "recipient":
        xml = idp.signed(roles, recipient="https://sp.example.com/acs")
    elif case == "unsigned":
        xml = idp.response(idp.assertion(roles, signed=False))
    elif case == "wrapped":
        # A second, unsigned assertion in front of the signed one.
        good = idp.signed(roles, name_id="alice@example.com")
        evil = idp.assertion(roles, name_id="admin@example.com", aid="_evil", signed=False)
        start = good.index("<saml:Assertion")
        xml = good[:start] + evil + good[start:]
    elif case == "moved":
        # The signed assertion moved into the response's Extensions, an unsigned one in its place.
        good = idp.signed(roles, name_id="alice@example.com")
        start, end = good.index("<saml:Assertion"), good.index("</saml:Assertion>") + len("</saml:Assertion>")
        evil = idp.assertion(roles, name_id="admin@example.com", aid="_evil", signed=False)
        status = good.index("<samlp:Status>")
        xml = (good[:status] + "<samlp:Extensions>" + good[start:end] + "</samlp:Extensions>"
               + good[status:start] + evil + good[end:])
    elif case in ("untrusted", "untrusted-without-key-info"):
        # Another key claiming the trusted issuer; without its certificate in KeyInfo, the
        # signature is checked against the provider's certificate and fails.
        other = SamlIdp(server.tmp, "untrusted")
        other.issuer = idp.issuer
        xml = other.signed(roles)
        if case == "untrusted-without-key-info":
            start, end = xml.index("<ds:KeyInfo>"), xml.index("</ds:KeyInfo>") + len("</ds:KeyInfo>")
            xml = xml[:start] + xml[end:]
    elif case == "tampered":
        xml = idp.signed(roles).replace("alice@example.com", "admin@example.com")
    elif case == "wrong-issuer":
        impostor = SamlIdp(server.tmp, "impostor")
        impostor.key, impostor.cert = idp.key, idp.cert  # the trusted key, another entity id
        xml = impostor.signed(roles)
    elif case == "no-session-name":
        xml = idp.signed(roles, session_name=None)
    else:
        xml = idp.signed(roles, session_name="a")
    code, message = REFUSALS[case]
    with pytest.raises(ClientError) as e:
        assume(root, role, provider, xml)
    assert_error(e, code, 400)
    assert message in e.value.response["Error"]["Message"], e.value.response["Error"]


def test_role_not_in_the_assertion(root, idp, federation):
    provider, role, _ = federation
    other_role = role + "-other"
    xml = idp.signed([f"{other_role},{provider}"])
    with pytest.raises(ClientError) as e:
        assume(root, role, provider, xml)
    assert_error(e, "AccessDenied", 403)
    assert e.value.response["Error"]["Message"] == "Not authorized to perform sts:AssumeRoleWithSAML"
    # The role paired with another provider is not a grant either.
    other_provider = provider + "-other"
    with pytest.raises(ClientError) as e:
        assume(root, role, provider, idp.signed([f"{role},{other_provider}"]))
    assert_error(e, "AccessDenied", 403)


def test_trust_policy_conditions_on_saml_keys(root, idp, federation):
    provider, _, _ = federation
    trust = policy_doc({"Effect": "Allow", "Principal": {"Federated": provider},
                        "Action": "sts:AssumeRoleWithSAML",
                        "Condition": {"StringEquals": {"saml:sub": "bob@example.com", "saml:iss": idp.issuer}}})
    role = root.iam.create_role(RoleName=uniq("samlsub"), AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    try:
        with pytest.raises(ClientError) as e:
            assume(root, role, provider, idp.signed([f"{role},{provider}"], name_id="alice@example.com"))
        assert_error(e, "AccessDenied", 403)
        r = assume(root, role, provider, idp.signed([f"{role},{provider}"], name_id="bob@example.com",
                                                    session_name="bob"))
        assert r["Subject"] == "bob@example.com"
    finally:
        root.iam.delete_role(RoleName=role.rsplit("/", 1)[1])


def test_unknown_provider_and_session_policy_errors(root, account_id, idp, federation):
    provider, role, _ = federation
    missing = f"arn:aws:iam::{account_id}:saml-provider/{uniq('none')}"
    with pytest.raises(ClientError) as e:
        assume(root, role, missing, idp.signed([f"{role},{missing}"]))
    assert_error(e, "InvalidIdentityToken", 400)
    with pytest.raises(ClientError) as e:
        assume(root, role, provider, idp.signed([f"{role},{provider}"]), Policy="{not json")
    assert_error(e, "MalformedPolicyDocument", 400)


# -- encrypted assertions ----------------------------------------------------------------------
# The test IdP encrypts with `cryptography` (XML Encryption written out by hand): RSA-OAEP key
# transport and AES-GCM or AES-CBC data encryption, as an IdP configured for AWS does; the Rust
# crate's own tests decrypt what `xmlsec1 --encrypt` makes.

import os  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
DIGESTS = {"sha1": ("http://www.w3.org/2000/09/xmldsig#sha1", hashes.SHA1),
           "sha256": ("http://www.w3.org/2001/04/xmlenc#sha256", hashes.SHA256)}


def new_private_key():
    """A fresh RSA-2048 private key as PEM (PKCS#8), what AddPrivateKey takes."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def encrypt_assertion(xml, private_pem, data="aes256-gcm", transport="rsa-oaep-mgf1p", digest="sha1", mgf=None):
    """`xml` with its assertion replaced by an EncryptedAssertion for `private_pem`'s public key."""
    start = xml.index("<saml:Assertion")
    end = xml.index("</saml:Assertion>") + len("</saml:Assertion>")
    encrypted = encrypted_data(xml[start:end].encode(), private_pem, data, transport, digest, mgf)
    return xml[:start] + f"<saml:EncryptedAssertion>{encrypted}</saml:EncryptedAssertion>" + xml[end:]


def encrypted_data(plaintext, private_pem, data="aes256-gcm", transport="rsa-oaep-mgf1p", digest="sha1", mgf=None):
    """An xenc:EncryptedData of `plaintext` (bytes), its key transported for `private_pem`'s public key."""
    gcm = data.endswith("gcm")
    cek = os.urandom(16 if "128" in data else 32)
    if gcm:
        iv = os.urandom(12)
        ciphertext = iv + AESGCM(cek).encrypt(iv, plaintext, None)
        data_uri = XENC11 + data
    else:
        iv = os.urandom(16)
        pad = 16 - len(plaintext) % 16
        padded = plaintext + os.urandom(pad - 1) + bytes([pad])
        enc = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
        ciphertext = iv + enc.update(padded) + enc.finalize()
        data_uri = XENC + data
    public = serialization.load_pem_private_key(private_pem.encode(), None).public_key()
    digest_uri, digest_cls = DIGESTS[digest]
    mgf_cls = hashes.SHA1 if mgf is None else DIGESTS[mgf][1]
    wrapped = public.encrypt(cek, padding.OAEP(mgf=padding.MGF1(mgf_cls()), algorithm=digest_cls(), label=None))
    transport_uri = (XENC if transport == "rsa-oaep-mgf1p" else XENC11) + transport
    mgf_xml = f'<xenc11:MGF xmlns:xenc11="{XENC11}" Algorithm="{XENC11}mgf1{mgf}"/>' if mgf else ""
    return (
        f'<xenc:EncryptedData xmlns:xenc="{XENC}" Type="{XENC}Element">'
        f'<xenc:EncryptionMethod Algorithm="{data_uri}"/>'
        f'<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>'
        f'<xenc:EncryptionMethod Algorithm="{transport_uri}"><ds:DigestMethod Algorithm="{digest_uri}"/>{mgf_xml}'
        f'</xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{base64.b64encode(wrapped).decode()}'
        f'</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>'
        f'<xenc:CipherData><xenc:CipherValue>{base64.b64encode(ciphertext).decode()}</xenc:CipherValue>'
        f'</xenc:CipherData></xenc:EncryptedData>')


UNDECRYPTABLE = "The encrypted SAML assertion cannot be decrypted with the SAML provider's private keys"


@pytest.fixture(scope="module")
def encrypted_federation(root, idp):
    """A provider that requires encrypted assertions (one private key) and a role trusting it."""
    pem = new_private_key()
    name = uniq("encidp")
    provider = root.iam.create_saml_provider(Name=name, SAMLMetadataDocument=idp.metadata(),
                                             AssertionEncryptionMode="Required",
                                             AddPrivateKey=pem)["SAMLProviderArn"]
    trust = policy_doc({"Effect": "Allow", "Principal": {"Federated": provider},
                        "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"]})
    role = root.iam.create_role(RoleName=uniq("encsaml"), AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    yield provider, role, pem
    root.iam.delete_role(RoleName=role.rsplit("/", 1)[1])
    root.iam.delete_saml_provider(SAMLProviderArn=provider)


def test_provider_private_keys(root, idp):
    iam = root.iam
    first, second, third = new_private_key(), new_private_key(), new_private_key()
    arn = iam.create_saml_provider(Name=uniq("keys"), SAMLMetadataDocument=idp.metadata(),
                                   AssertionEncryptionMode="Required", AddPrivateKey=first)["SAMLProviderArn"]
    try:
        got = iam.get_saml_provider(SAMLProviderArn=arn)
        assert got["AssertionEncryptionMode"] == "Required"
        [key] = got["PrivateKeyList"]
        assert len(key["KeyId"]) >= 22 and key["KeyId"].isalnum() and key["KeyId"].isupper()
        assert abs((key["Timestamp"] - got["CreateDate"]).total_seconds()) < 5
        assert "PRIVATE KEY" not in str(got)
        # A second key; a third is over the limit of two.
        iam.update_saml_provider(SAMLProviderArn=arn, AddPrivateKey=second)
        keys = iam.get_saml_provider(SAMLProviderArn=arn)["PrivateKeyList"]
        assert len(keys) == 2 and keys[0]["KeyId"] == key["KeyId"]
        with pytest.raises(ClientError) as e:
            iam.update_saml_provider(SAMLProviderArn=arn, AddPrivateKey=third)
        assert_error(e, "LimitExceeded", 409)
        # Removing: an unknown id, then the first key.
        with pytest.raises(ClientError) as e:
            iam.update_saml_provider(SAMLProviderArn=arn, RemovePrivateKey="A" * 26)
        assert_error(e, "InvalidInput", 400)
        iam.update_saml_provider(SAMLProviderArn=arn, RemovePrivateKey=key["KeyId"])
        [left] = iam.get_saml_provider(SAMLProviderArn=arn)["PrivateKeyList"]
        assert left["KeyId"] == keys[1]["KeyId"]
        # Required mode keeps a key; Allowed may drop the last.
        with pytest.raises(ClientError) as e:
            iam.update_saml_provider(SAMLProviderArn=arn, RemovePrivateKey=left["KeyId"])
        assert_error(e, "InvalidInput", 400)
        iam.update_saml_provider(SAMLProviderArn=arn, AssertionEncryptionMode="Allowed",
                                 RemovePrivateKey=left["KeyId"])
        got = iam.get_saml_provider(SAMLProviderArn=arn)
        assert got["AssertionEncryptionMode"] == "Allowed" and "PrivateKeyList" not in got
        # Not a PEM RSA private key (a certificate), and a provider requiring a key without one.
        with pytest.raises(ClientError) as e:
            iam.update_saml_provider(SAMLProviderArn=arn, AddPrivateKey=idp.cert.read_text())
        assert_error(e, "InvalidInput", 400)
        assert "BEGIN" not in e.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as e:
            iam.create_saml_provider(Name=uniq("nokey"), SAMLMetadataDocument=idp.metadata(),
                                     AssertionEncryptionMode="Required")
        assert_error(e, "InvalidInput", 400)
    finally:
        iam.delete_saml_provider(SAMLProviderArn=arn)


def test_provider_private_keys_with_the_aws_cli(root, idp):
    pem_file = idp.dir / "sp-key.pem"
    pem_file.write_text(new_private_key())
    meta = idp.dir / "metadata.xml"
    meta.write_text(idp.metadata())
    arn = root.aws("iam", "create-saml-provider", "--name", uniq("clienc"), "--saml-metadata-document",
                   f"file://{meta}", "--assertion-encryption-mode", "Required",
                   "--add-private-key", f"file://{pem_file}")["SAMLProviderArn"]
    got = root.aws("iam", "get-saml-provider", "--saml-provider-arn", arn)
    assert got["AssertionEncryptionMode"] == "Required" and len(got["PrivateKeyList"]) == 1
    root.aws("iam", "delete-saml-provider", "--saml-provider-arn", arn)


@pytest.mark.parametrize("data,transport,digest,mgf", [
    ("aes128-cbc", "rsa-oaep-mgf1p", "sha1", None),
    ("aes256-cbc", "rsa-oaep-mgf1p", "sha256", None),
    ("aes128-gcm", "rsa-oaep-mgf1p", "sha1", None),
    ("aes256-gcm", "rsa-oaep", "sha256", "sha256"),
])
def test_encrypted_assertion(root, idp, encrypted_federation, data, transport, digest, mgf):
    provider, role, pem = encrypted_federation
    xml = encrypt_assertion(idp.signed([f"{role},{provider}"]), pem, data, transport, digest, mgf)
    assert "alice@example.com" not in xml
    r = assume(root, role, provider, xml)
    assert r["Subject"] == "alice@example.com"
    assert r["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_encrypted_assertion_refusals(root, idp, encrypted_federation):
    provider, role, pem = encrypted_federation
    roles = [f"{role},{provider}"]
    # Required: a plain (signed) assertion is refused.
    with pytest.raises(ClientError) as e:
        assume(root, role, provider, idp.signed(roles))
    assert_error(e, "InvalidIdentityToken", 400)
    assert "requires encrypted assertions" in e.value.response["Error"]["Message"]
    # Encrypted for another key.
    with pytest.raises(ClientError) as e:
        assume(root, role, provider, encrypt_assertion(idp.signed(roles), new_private_key()))
    assert_error(e, "InvalidIdentityToken", 400)
    assert UNDECRYPTABLE in e.value.response["Error"]["Message"]
    # Tampered ciphertext (GCM and CBC), refused with the same message.
    for data in ("aes256-gcm", "aes128-cbc"):
        xml = encrypt_assertion(idp.signed(roles), pem, data)
        at = xml.rindex("</xenc:CipherValue>") - 30
        xml = xml[:at] + ("A" if xml[at] != "A" else "B") + xml[at + 1:]
        with pytest.raises(ClientError) as e:
            assume(root, role, provider, xml)
        assert_error(e, "InvalidIdentityToken", 400)
        assert UNDECRYPTABLE in e.value.response["Error"]["Message"], data
    # Encrypted but unsigned: nobody's word.
    with pytest.raises(ClientError) as e:
        assume(root, role, provider, encrypt_assertion(idp.response(idp.assertion(roles, signed=False)), pem))
    assert_error(e, "InvalidIdentityToken", 400)
    assert UNDECRYPTABLE in e.value.response["Error"]["Message"]
    # RSA v1.5 key transport is not accepted.
    xml = encrypt_assertion(idp.signed(roles), pem).replace(XENC + "rsa-oaep-mgf1p", XENC + "rsa-1_5")
    with pytest.raises(ClientError) as e:
        assume(root, role, provider, xml)
    assert_error(e, "InvalidIdentityToken", 400)
    assert "rsa-1_5" in e.value.response["Error"]["Message"]


def test_removed_key_no_longer_decrypts(root, idp):
    iam = root.iam
    old, new = new_private_key(), new_private_key()
    provider = iam.create_saml_provider(Name=uniq("rotate"), SAMLMetadataDocument=idp.metadata(),
                                        AssertionEncryptionMode="Allowed", AddPrivateKey=old)["SAMLProviderArn"]
    trust = policy_doc({"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithSAML"})
    role = iam.create_role(RoleName=uniq("rotate"), AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    try:
        roles = [f"{role},{provider}"]
        assert assume(root, role, provider, encrypt_assertion(idp.signed(roles), old))["Subject"]
        # Allowed: plain assertions still work.
        assert assume(root, role, provider, idp.signed(roles))["Subject"] == "alice@example.com"
        # Rotation: add the new key, remove the old one.
        iam.update_saml_provider(SAMLProviderArn=provider, AddPrivateKey=new)
        old_id = iam.get_saml_provider(SAMLProviderArn=provider)["PrivateKeyList"][0]["KeyId"]
        iam.update_saml_provider(SAMLProviderArn=provider, RemovePrivateKey=old_id)
        assert assume(root, role, provider, encrypt_assertion(idp.signed(roles), new))["Subject"]
        with pytest.raises(ClientError) as e:
            assume(root, role, provider, encrypt_assertion(idp.signed(roles), old))
        assert_error(e, "InvalidIdentityToken", 400)
        assert UNDECRYPTABLE in e.value.response["Error"]["Message"]
    finally:
        iam.delete_role(RoleName=role.rsplit("/", 1)[1])
        iam.delete_saml_provider(SAMLProviderArn=provider)


# -- encrypted NameID and attributes -----------------------------------------------------------
# An IdP may encrypt the subject's NameID (EncryptedID) and attributes (EncryptedAttribute) and
# sign the assertion over their ciphertext; AWS accepts them.

ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"


def encrypt_element(xml, open_tag, close_tag, container, private_pem, data="aes256-gcm"):
    """`xml` with its first element from `open_tag` to `close_tag` replaced by `<saml:{container}>`
    holding it encrypted for `private_pem`'s public key (serialized as it stands, its `saml` prefix
    declared by the response, as IdPs that serialize a subtree leave it)."""
    start = xml.index(open_tag)
    end = xml.index(close_tag, start) + len(close_tag)
    encrypted = encrypted_data(xml[start:end].encode(), private_pem, data)
    return xml[:start] + f"<saml:{container}>{encrypted}</saml:{container}>" + xml[end:]


def encrypted_parts(idp, roles, private_pem, **kw):
    """A response whose assertion's NameID (AES-256-GCM) and Role attribute (AES-128-CBC) are
    encrypted for `private_pem`, then signed by the IdP over the ciphertext."""
    xml = idp.response(idp.assertion(roles, **kw))
    xml = encrypt_element(xml, "<saml:NameID", "</saml:NameID>", "EncryptedID", private_pem)
    xml = encrypt_element(xml, f'<saml:Attribute Name="{ROLE_ATTRIBUTE}">', "</saml:Attribute>",
                          "EncryptedAttribute", private_pem, "aes128-cbc")
    return idp.sign(xml)


@pytest.fixture(scope="module")
def allowed_federation(root, idp):
    """A provider that allows encrypted assertions (one private key), and a role whose trust
    policy names the subject (saml:sub, saml:sub_type), which the IdP sends encrypted."""
    pem = new_private_key()
    provider = root.iam.create_saml_provider(Name=uniq("encid"), SAMLMetadataDocument=idp.metadata(),
                                             AssertionEncryptionMode="Allowed",
                                             AddPrivateKey=pem)["SAMLProviderArn"]
    trust = policy_doc({"Effect": "Allow", "Principal": {"Federated": provider},
                        "Action": "sts:AssumeRoleWithSAML",
                        "Condition": {"StringEquals": {"saml:sub": "carol@example.com",
                                                       "saml:sub_type": "persistent"}}})
    role = root.iam.create_role(RoleName=uniq("encid"), AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    yield provider, role, pem
    root.iam.delete_role(RoleName=role.rsplit("/", 1)[1])
    root.iam.delete_saml_provider(SAMLProviderArn=provider)


def test_encrypted_name_id_and_role(root, account_id, idp, allowed_federation):
    provider, role, pem = allowed_federation
    roles = [f"{role},{provider}"]
    xml = encrypted_parts(idp, roles, pem, name_id="carol@example.com", session_name="carol")
    assert "<saml:EncryptedID>" in xml and "<saml:EncryptedAttribute>" in xml
    assert "carol@example.com" not in xml and role not in xml
    r = assume(root, role, provider, xml)
    # The trust policy's saml:sub and saml:sub_type conditions matched the decrypted NameID, and
    # the decrypted Role attribute granted the role.
    assert r["Subject"] == "carol@example.com"
    assert r["SubjectType"] == "persistent"
    role_name = role.rsplit("/", 1)[1]
    assert r["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account_id}:assumed-role/{role_name}/carol"
    creds = r["Credentials"]
    session = root.server.principal(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert session.sts.get_caller_identity()["Arn"] == r["AssumedRoleUser"]["Arn"]
    # Another encrypted subject does not meet the trust policy's saml:sub.
    with pytest.raises(ClientError) as e:
        assume(root, role, provider, encrypted_parts(idp, roles, pem, name_id="mallory@example.com"))
    assert_error(e, "AccessDenied", 403)
    # An encrypted Role attribute that names another role is no grant.
    with pytest.raises(ClientError) as e:
        assume(root, role, provider, encrypted_parts(idp, [f"{role}-other,{provider}"], pem,
                                                     name_id="carol@example.com"))
    assert_error(e, "AccessDenied", 403)


def test_encrypted_name_id_and_role_refusals(root, idp, federation, allowed_federation):
    provider, role, pem = allowed_federation
    roles = [f"{role},{provider}"]
    # Encrypted for another key: the one message of every decryption failure.
    with pytest.raises(ClientError) as e:
        assume(root, role, provider, encrypted_parts(idp, roles, new_private_key(), name_id="carol@example.com"))
    assert_error(e, "InvalidIdentityToken", 400)
    assert UNDECRYPTABLE in e.value.response["Error"]["Message"]
    # The IdP signed a ciphertext that does not decrypt: the same message.
    xml = idp.response(idp.assertion(roles, name_id="carol@example.com", session_name="carol"))
    xml = encrypt_element(xml, "<saml:NameID", "</saml:NameID>", "EncryptedID", pem)
    at = xml.rindex("</xenc:CipherValue>") - 30
    with pytest.raises(ClientError) as e:
        assume(root, role, provider, idp.sign(xml[:at] + ("A" if xml[at] != "A" else "B") + xml[at + 1:]))
    assert_error(e, "InvalidIdentityToken", 400)
    assert UNDECRYPTABLE in e.value.response["Error"]["Message"]
    # A decrypted NameID that is not a NameID element: the same message.
    xml = idp.response(idp.assertion(roles, name_id="carol@example.com", session_name="carol"))
    start, end = xml.index("<saml:NameID"), xml.index("</saml:NameID>") + len("</saml:NameID>")
    not_a_name_id = encrypted_data(b'<saml:Attribute Name="x"/>', pem)
    with pytest.raises(ClientError) as e:
        assume(root, role, provider,
               idp.sign(xml[:start] + f"<saml:EncryptedID>{not_a_name_id}</saml:EncryptedID>" + xml[end:]))
    assert_error(e, "InvalidIdentityToken", 400)
    assert UNDECRYPTABLE in e.value.response["Error"]["Message"]
    # Ciphertext altered after the IdP signed it: the signature, checked before decrypting, fails.
    good = encrypted_parts(idp, roles, pem, name_id="carol@example.com", session_name="carol")
    at = good.index("</xenc:CipherValue>") - 30
    with pytest.raises(ClientError) as e:
        assume(root, role, provider, good[:at] + ("A" if good[at] != "A" else "B") + good[at + 1:])
    assert_error(e, "InvalidIdentityToken", 400)
    assert e.value.response["Error"]["Message"] == "Response signature invalid"
    # A provider without private keys cannot read them.
    plain_provider, plain_role, _ = federation
    with pytest.raises(ClientError) as e:
        assume(root, plain_role, plain_provider, encrypted_parts(idp, [f"{plain_role},{plain_provider}"], pem))
    assert_error(e, "InvalidIdentityToken", 400)
    assert "has no private key" in e.value.response["Error"]["Message"]


def test_required_mode_and_encrypted_name_id(root, idp, encrypted_federation):
    """Required means the assertion is encrypted: a plain one is refused even when its NameID and
    Role are encrypted; encrypted whole, its encrypted parts are read too."""
    provider, role, pem = encrypted_federation
    roles = [f"{role},{provider}"]
    parts = encrypted_parts(idp, roles, pem, name_id="dave@example.com", session_name="dave")
    with pytest.raises(ClientError) as e:
        assume(root, role, provider, parts)
    assert_error(e, "InvalidIdentityToken", 400)
    assert "requires encrypted assertions" in e.value.response["Error"]["Message"]
    whole = encrypt_assertion(parts, pem)
    assert "<saml:EncryptedAssertion>" in whole and "<saml:EncryptedID>" not in whole
    r = assume(root, role, provider, whole)
    assert r["Subject"] == "dave@example.com"
    assert r["AssumedRoleUser"]["Arn"].endswith("/dave")


# -- session duration and transitive tags ------------------------------------------------------

SESSION_DURATION = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
TRANSITIVE = "https://aws.amazon.com/SAML/Attributes/TransitiveTagKeys"
PRINCIPAL_TAG = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:"


def lifetime(r):
    creds = r["Credentials"]
    return (creds["Expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()


def test_session_duration(root, idp):
    """DurationSeconds (default an hour, at most the role's MaxSessionDuration) sets the lifetime,
    as the STS API reference says; the SessionDuration attribute is the console session's length
    and leaves the API credentials' alone (a malformed one is still refused)."""
    provider = root.iam.create_saml_provider(Name=uniq("dur"), SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"]
    trust = policy_doc({"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithSAML"})
    role = root.iam.create_role(RoleName=uniq("dur"), AssumeRolePolicyDocument=trust,
                                MaxSessionDuration=7200)["Role"]["Arn"]
    try:
        roles = [f"{role},{provider}"]

        def signed(seconds):
            return idp.signed(roles, attrs=[(SESSION_DURATION, [str(seconds)])] if seconds else [])

        cases = [
            (None, None, 3600),     # the default
            (1800, None, 3600),     # the attribute neither shortens the default
            (5400, None, 3600),     # ... nor extends it
            (1200, 7200, 7200),     # DurationSeconds up to the role's maximum
            (43200, 7200, 7200),
            (None, 5400, 5400),
        ]
        for attribute, duration, expected in cases:
            kw = {"DurationSeconds": duration} if duration else {}
            got = lifetime(assume(root, role, provider, signed(attribute), **kw))
            assert expected - 30 <= got <= expected + 5, (attribute, duration, got)
        # Past the role's maximum, DurationSeconds is refused; a malformed attribute is too.
        with pytest.raises(ClientError) as e:
            assume(root, role, provider, signed(None), DurationSeconds=10800)
        assert_error(e, "ValidationError", 400)
        with pytest.raises(ClientError) as e:
            assume(root, role, provider, signed(60))
        assert_error(e, "IDPRejectedClaim", 403)
    finally:
        root.iam.delete_role(RoleName=role.rsplit("/", 1)[1])
        root.iam.delete_saml_provider(SAMLProviderArn=provider)


def test_transitive_tags_survive_role_chaining(root, idp):
    """SAML -> first role -> second role -> third role, where only a session carrying the tag
    team=blue may assume the third: the second role's session has it only when the assertion
    named it in TransitiveTagKeys."""
    iam = root.iam
    provider = iam.create_saml_provider(Name=uniq("tt"), SAMLMetadataDocument=idp.metadata())["SAMLProviderArn"]
    first = iam.create_role(RoleName=uniq("tt1"), AssumeRolePolicyDocument=policy_doc(
        {"Effect": "Allow", "Principal": {"Federated": provider},
         "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"]}))["Role"]
    second = iam.create_role(RoleName=uniq("tt2"), AssumeRolePolicyDocument=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": first["Arn"]}, "Action": ["sts:AssumeRole", "sts:TagSession"]}))["Role"]
    third = iam.create_role(RoleName=uniq("tt3"), AssumeRolePolicyDocument=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": second["Arn"]}, "Action": ["sts:AssumeRole", "sts:TagSession"],
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}}))["Role"]
    for role, target in ((first, second), (second, third)):
        iam.put_role_policy(RoleName=role["RoleName"], PolicyName="chain", PolicyDocument=policy_doc(
            {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": target["Arn"]}))

    def session(creds):
        return root.server.principal(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])

    def federated(transitive):
        attrs = [(PRINCIPAL_TAG + "team", ["blue"]), (PRINCIPAL_TAG + "cost", ["42"])]
        if transitive:
            attrs.append((TRANSITIVE, ["team"]))
        xml = idp.signed([f"{first['Arn']},{provider}"], attrs=attrs)
        return session(assume(root, first["Arn"], provider, xml)["Credentials"])

    try:
        one = federated(transitive=True)
        two = session(one.sts.assume_role(RoleArn=second["Arn"], RoleSessionName="two")["Credentials"])
        three = two.sts.assume_role(RoleArn=third["Arn"], RoleSessionName="three")
        assert three["AssumedRoleUser"]["Arn"].endswith(f"assumed-role/{third['RoleName']}/three")
        # A transitive tag cannot be set again down the chain; a non-transitive one can.
        with pytest.raises(ClientError) as e:
            one.sts.assume_role(RoleArn=second["Arn"], RoleSessionName="override",
                                Tags=[{"Key": "team", "Value": "red"}])
        assert_error(e, "ValidationError", 400)
        one.sts.assume_role(RoleArn=second["Arn"], RoleSessionName="recost", Tags=[{"Key": "cost", "Value": "7"}])

        # Without TransitiveTagKeys the tag stays with the first session.
        one = federated(transitive=False)
        two = session(one.sts.assume_role(RoleArn=second["Arn"], RoleSessionName="two")["Credentials"])
        with pytest.raises(ClientError) as e:
            two.sts.assume_role(RoleArn=third["Arn"], RoleSessionName="three")
        assert_error(e, "AccessDenied", 403)
    finally:
        for role in (first, second):
            iam.delete_role_policy(RoleName=role["RoleName"], PolicyName="chain")
        for role in (first, second, third):
            iam.delete_role(RoleName=role["RoleName"])
        iam.delete_saml_provider(SAMLProviderArn=provider)
