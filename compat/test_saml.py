"""SAML federation through boto3 and the aws CLI: the IAM SAML provider operations (create, get,
update, list, tags, delete and their documented errors) and sts:AssumeRoleWithSAML end to end
with a test identity provider whose responses are signed by `xmlsec1` (an independent XML-DSig
implementation; scripts/test installs it): a good assertion, and an expired one, a wrong audience,
a wrong recipient, an unsigned one, a signature-wrapped one, one signed with an untrusted
certificate, and one that does not grant the requested role."""

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
        # Encrypted assertions are not supported: a provider that requires them is refused.
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
