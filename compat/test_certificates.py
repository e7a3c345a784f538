"""SSH public keys, signing certificates, server certificates and service-specific credentials
through boto3 and the `aws` CLI (issue 14, part B). Keys and certificates are generated here with
`cryptography`; no private key is committed."""

import base64
import datetime
import hashlib
import json
import time

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from tessera_compat import assert_error, uniq

PEM = serialization.Encoding.PEM
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
OPENSSH = serialization.Encoding.OpenSSH


def ssh_ed25519():
    return ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        OPENSSH, serialization.PublicFormat.OpenSSH).decode()


def ssh_rsa(bits=2048):
    return rsa.generate_private_key(65537, bits).public_key()


def md5_fingerprint(openssh):
    blob = base64.b64decode(openssh.split()[1])
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def certificate(key, cn="example.com", issuer=None, issuer_key=None, ca=False, days=365):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer or subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return cert


def cert_pem(cert):
    return cert.public_bytes(PEM).decode()


def key_pem(key, fmt=serialization.PrivateFormat.PKCS8):
    return key.private_bytes(PEM, fmt, serialization.NoEncryption()).decode()


def new_user(root):
    name = uniq("certs")
    root.iam.create_user(UserName=name)
    return name


# -- SSH public keys --------------------------------------------------------------------------


def test_ssh_public_keys(root):
    iam = root.iam
    name = new_user(root)
    body = ssh_ed25519() + " alice@example"
    up = iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=body)["SSHPublicKey"]
    assert up["UserName"] == name and up["Status"] == "Active"
    assert up["SSHPublicKeyId"].startswith("APKA") and len(up["SSHPublicKeyId"]) >= 20
    assert up["Fingerprint"] == md5_fingerprint(body)
    assert isinstance(up["UploadDate"], datetime.datetime)
    key_id = up["SSHPublicKeyId"]

    got = iam.get_ssh_public_key(UserName=name, SSHPublicKeyId=key_id, Encoding="SSH")["SSHPublicKey"]
    assert got["SSHPublicKeyBody"].split()[:2] == body.split()[:2]
    pem = iam.get_ssh_public_key(UserName=name, SSHPublicKeyId=key_id, Encoding="PEM")["SSHPublicKey"]
    loaded = serialization.load_pem_public_key(pem["SSHPublicKeyBody"].encode())
    assert loaded.public_bytes(OPENSSH, serialization.PublicFormat.OpenSSH).decode() == " ".join(body.split()[:2])
    # The same key in PEM is a duplicate.
    with pytest.raises(ClientError) as e:
        iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=pem["SSHPublicKeyBody"])
    assert_error(e, "DuplicateSSHPublicKey", 400)

    # RSA: PEM (SPKI and PKCS#1) and OpenSSH of 2048 bits; 1024 bits is refused.
    rsa_key = ssh_rsa()
    spki = rsa_key.public_bytes(PEM, SPKI).decode()
    iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=spki)
    pkcs1 = ssh_rsa().public_bytes(PEM, serialization.PublicFormat.PKCS1).decode()
    iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=pkcs1)
    with pytest.raises(ClientError) as e:
        short = ssh_rsa(1024).public_bytes(OPENSSH, serialization.PublicFormat.OpenSSH).decode()
        iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=short)
    assert_error(e, "InvalidPublicKey", 400)
    for garbage in ("ssh-rsa AAAA", "not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"):
        with pytest.raises(ClientError) as e:
            iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=garbage)
        assert_error(e, "UnrecognizedPublicKeyEncoding", 400)

    listed = iam.list_ssh_public_keys(UserName=name)["SSHPublicKeys"]
    assert len(listed) == 3 and {k["Status"] for k in listed} == {"Active"}
    assert set(listed[0]) >= {"UserName", "SSHPublicKeyId", "Status", "UploadDate"}
    assert "SSHPublicKeyBody" not in listed[0]
    iam.update_ssh_public_key(UserName=name, SSHPublicKeyId=key_id, Status="Inactive")
    got = iam.get_ssh_public_key(UserName=name, SSHPublicKeyId=key_id, Encoding="SSH")["SSHPublicKey"]
    assert got["Status"] == "Inactive"

    # Five keys at most.
    for _ in range(2):
        iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=ssh_ed25519())
    with pytest.raises(ClientError) as e:
        iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=ssh_ed25519())
    assert_error(e, "LimitExceeded", 409)

    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=name)
    assert_error(e, "DeleteConflict", 409)
    for k in iam.list_ssh_public_keys(UserName=name)["SSHPublicKeys"]:
        iam.delete_ssh_public_key(UserName=name, SSHPublicKeyId=k["SSHPublicKeyId"])
    with pytest.raises(ClientError) as e:
        iam.get_ssh_public_key(UserName=name, SSHPublicKeyId=key_id, Encoding="SSH")
    assert_error(e, "NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.delete_ssh_public_key(UserName=name, SSHPublicKeyId=key_id)
    assert_error(e, "NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        root.iam_lax.get_ssh_public_key(UserName=name, SSHPublicKeyId=key_id, Encoding="DER")
    assert_error(e, "ValidationError", 400)
    iam.delete_user(UserName=name)


def test_ssh_public_keys_cli(root):
    name = new_user(root)
    body = ssh_ed25519()
    up = root.aws("iam", "upload-ssh-public-key", "--user-name", name, "--ssh-public-key-body", body)
    key_id = up["SSHPublicKey"]["SSHPublicKeyId"]
    listed = root.aws("iam", "list-ssh-public-keys", "--user-name", name)["SSHPublicKeys"]
    assert [k["SSHPublicKeyId"] for k in listed] == [key_id]
    root.aws("iam", "update-ssh-public-key", "--user-name", name, "--ssh-public-key-id", key_id,
             "--status", "Inactive")
    got = root.aws("iam", "get-ssh-public-key", "--user-name", name, "--ssh-public-key-id", key_id,
                   "--encoding", "PEM")["SSHPublicKey"]
    assert got["Status"] == "Inactive" and got["SSHPublicKeyBody"].startswith("-----BEGIN PUBLIC KEY-----")
    root.aws("iam", "delete-ssh-public-key", "--user-name", name, "--ssh-public-key-id", key_id)
    p = root.aws("iam", "delete-ssh-public-key", "--user-name", name, "--ssh-public-key-id", key_id, check=False)
    assert p.returncode != 0 and "NoSuchEntity" in p.stderr
    root.iam.delete_user(UserName=name)


# -- Signing certificates ---------------------------------------------------------------------


def test_signing_certificates(root, user):
    iam = root.iam
    name = user.name
    pem = cert_pem(certificate(ec.generate_private_key(ec.SECP256R1())))
    up = iam.upload_signing_certificate(UserName=name, CertificateBody=pem)["Certificate"]
    assert up["UserName"] == name and up["Status"] == "Active" and len(up["CertificateId"]) >= 24
    assert up["CertificateBody"].strip() == pem.strip()
    with pytest.raises(ClientError) as e:
        iam.upload_signing_certificate(UserName=name, CertificateBody=pem)
    assert_error(e, "DuplicateCertificate", 409)
    with pytest.raises(ClientError) as e:
        iam.upload_signing_certificate(UserName=name, CertificateBody="not a certificate")
    assert_error(e, "MalformedCertificate", 400)

    # Without UserName, the calling user's own; as on AWS, the user still needs the permission
    # (AWS's "manage your own credentials" policies grant it on arn:aws:iam::*:user/${aws:username}).
    own_body = cert_pem(certificate(rsa.generate_private_key(65537, 2048)))
    with pytest.raises(ClientError) as e:
        user.iam.upload_signing_certificate(CertificateBody=own_body)
    assert_error(e, "AccessDenied", 403)
    iam.put_user_policy(UserName=name, PolicyName="own-signing-certificates", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow",
                       "Action": ["iam:UploadSigningCertificate", "iam:ListSigningCertificates"],
                       "Resource": "arn:aws:iam::*:user/${aws:username}"}]}))
    deadline = time.monotonic() + 10  # the split cluster's gateways see the policy on its epoch
    while True:
        try:
            own = user.iam.upload_signing_certificate(CertificateBody=own_body)["Certificate"]
            break
        except ClientError as e:
            if e.response["Error"]["Code"] != "AccessDenied" or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert own["UserName"] == name
    listed = user.iam.list_signing_certificates()["Certificates"]
    assert {c["CertificateId"] for c in listed} == {up["CertificateId"], own["CertificateId"]}
    with pytest.raises(ClientError) as e:
        iam.upload_signing_certificate(UserName=name,
                                       CertificateBody=cert_pem(certificate(ec.generate_private_key(ec.SECP256R1()))))
    assert_error(e, "LimitExceeded", 409)

    iam.update_signing_certificate(UserName=name, CertificateId=up["CertificateId"], Status="Inactive")
    statuses = {c["CertificateId"]: c["Status"] for c in iam.list_signing_certificates(UserName=name)["Certificates"]}
    assert statuses[up["CertificateId"]] == "Inactive"
    with pytest.raises(ClientError) as e:
        root.iam_lax.update_signing_certificate(UserName=name, CertificateId=up["CertificateId"], Status="Gone")
    assert_error(e, "ValidationError", 400)

    # The credential report shows them.
    iam.generate_credential_report()
    report = iam.get_credential_report()["Content"].decode().splitlines()
    header = report[0].split(",")
    row = dict(zip(header, next(r for r in report if r.startswith(name + ",")).split(",")))
    assert {row["cert_1_active"], row["cert_2_active"]} == {"true", "false"}
    assert row["cert_1_last_rotated"] != "N/A" and row["cert_2_last_rotated"] != "N/A"

    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=name)
    assert_error(e, "DeleteConflict", 409)
    for c in (up, own):
        root.aws("iam", "delete-signing-certificate", "--user-name", name, "--certificate-id", c["CertificateId"])
    with pytest.raises(ClientError) as e:
        iam.delete_signing_certificate(UserName=name, CertificateId=up["CertificateId"])
    assert_error(e, "NoSuchEntity", 404)
    assert root.aws("iam", "list-signing-certificates", "--user-name", name)["Certificates"] == []


# -- Server certificates ----------------------------------------------------------------------


def chain_and_leaf(key):
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca = certificate(ca_key, cn="Test CA", ca=True)
    leaf = certificate(key, cn="www.example.com", issuer=ca.subject, issuer_key=ca_key, days=90)
    return ca, leaf


def test_server_certificates(root, account_id):
    iam = root.iam
    key = rsa.generate_private_key(65537, 2048)
    ca, leaf = chain_and_leaf(key)
    name = uniq("web")
    up = iam.upload_server_certificate(
        Path="/cloudfront/", ServerCertificateName=name, CertificateBody=cert_pem(leaf),
        PrivateKey=key_pem(key, serialization.PrivateFormat.TraditionalOpenSSL),
        CertificateChain=cert_pem(ca), Tags=[{"Key": "env", "Value": "test"}])
    meta = up["ServerCertificateMetadata"]
    assert meta["Arn"] == f"arn:aws:iam::{account_id}:server-certificate/cloudfront/{name}"
    assert meta["ServerCertificateId"].startswith("ASCA") and meta["Path"] == "/cloudfront/"
    assert meta["Expiration"].replace(microsecond=0) == leaf.not_valid_after_utc.replace(microsecond=0)
    assert up["Tags"] == [{"Key": "env", "Value": "test"}]

    got = iam.get_server_certificate(ServerCertificateName=name)["ServerCertificate"]
    assert got["CertificateBody"].strip() == cert_pem(leaf).strip()
    assert got["CertificateChain"].strip() == cert_pem(ca).strip()
    assert "PrivateKey" not in got and "PRIVATE KEY" not in str(got)
    assert got["Tags"] == [{"Key": "env", "Value": "test"}]

    # Errors: a name taken, a key of another certificate, a malformed body, a chain out of order.
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ClientError) as e:
        iam.upload_server_certificate(ServerCertificateName=name, CertificateBody=cert_pem(certificate(other)),
                                      PrivateKey=key_pem(other))
    assert_error(e, "EntityAlreadyExists", 409)
    with pytest.raises(ClientError) as e:
        iam.upload_server_certificate(ServerCertificateName=uniq("bad"), CertificateBody=cert_pem(leaf),
                                      PrivateKey=key_pem(other))
    assert_error(e, "KeyPairMismatch", 400)
    with pytest.raises(ClientError) as e:
        iam.upload_server_certificate(ServerCertificateName=uniq("bad"), CertificateBody="garbage",
                                      PrivateKey=key_pem(other))
    assert_error(e, "MalformedCertificate", 400)
    with pytest.raises(ClientError) as e:
        iam.upload_server_certificate(ServerCertificateName=uniq("bad"), CertificateBody=cert_pem(leaf),
                                      PrivateKey=key_pem(key), CertificateChain=cert_pem(leaf))
    assert_error(e, "MalformedCertificate", 400)

    listed = iam.list_server_certificates(PathPrefix="/cloudfront/")["ServerCertificateMetadataList"]
    assert [m["ServerCertificateName"] for m in listed] == [name]
    assert name not in [m["ServerCertificateName"]
                        for m in iam.list_server_certificates(PathPrefix="/elb/")["ServerCertificateMetadataList"]]

    iam.tag_server_certificate(ServerCertificateName=name, Tags=[{"Key": "team", "Value": "web"}])
    iam.untag_server_certificate(ServerCertificateName=name, TagKeys=["env"])
    assert iam.list_server_certificate_tags(ServerCertificateName=name)["Tags"] == [{"Key": "team", "Value": "web"}]

    renamed = uniq("web2")
    iam.update_server_certificate(ServerCertificateName=name, NewServerCertificateName=renamed, NewPath="/elb/")
    with pytest.raises(ClientError) as e:
        iam.get_server_certificate(ServerCertificateName=name)
    assert_error(e, "NoSuchEntity", 404)
    moved = iam.get_server_certificate(ServerCertificateName=renamed)["ServerCertificate"]["ServerCertificateMetadata"]
    assert moved["Arn"] == f"arn:aws:iam::{account_id}:server-certificate/elb/{renamed}"
    assert moved["ServerCertificateId"] == meta["ServerCertificateId"]
    iam.delete_server_certificate(ServerCertificateName=renamed)
    with pytest.raises(ClientError) as e:
        iam.delete_server_certificate(ServerCertificateName=renamed)
    assert_error(e, "NoSuchEntity", 404)


def test_server_certificates_cli(root, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "cert.pem").write_text(cert_pem(certificate(key)))
    (tmp_path / "key.pem").write_text(key_pem(key, serialization.PrivateFormat.TraditionalOpenSSL))
    name = uniq("cli")
    up = root.aws("iam", "upload-server-certificate", "--server-certificate-name", name,
                  "--certificate-body", f"file://{tmp_path / 'cert.pem'}",
                  "--private-key", f"file://{tmp_path / 'key.pem'}")
    assert up["ServerCertificateMetadata"]["ServerCertificateName"] == name
    got = root.aws("iam", "get-server-certificate", "--server-certificate-name", name)
    assert got["ServerCertificate"]["ServerCertificateMetadata"]["ServerCertificateId"].startswith("ASCA")
    names = [m["ServerCertificateName"]
             for m in root.aws("iam", "list-server-certificates")["ServerCertificateMetadataList"]]
    assert name in names
    root.aws("iam", "delete-server-certificate", "--server-certificate-name", name)
    p = root.aws("iam", "get-server-certificate", "--server-certificate-name", name, check=False)
    assert p.returncode != 0 and "NoSuchEntity" in p.stderr


# -- Service-specific credentials -------------------------------------------------------------


def test_service_specific_credentials(root, account_id):
    iam = root.iam
    name = new_user(root)
    created = iam.create_service_specific_credential(UserName=name, ServiceName="codecommit.amazonaws.com")
    c = created["ServiceSpecificCredential"]
    assert c["UserName"] == name and c["Status"] == "Active" and c["ServiceName"] == "codecommit.amazonaws.com"
    assert c["ServiceUserName"] == f"{name}-at-{account_id}"
    assert c["ServiceSpecificCredentialId"].startswith("ACCA") and len(c["ServicePassword"]) >= 20
    # An expiry is for API keys only (AWS: CredentialAgeDays "is only valid for Bedrock and
    # CloudWatch Logs API keys"; ExpirationDate "is only present for" them).
    with pytest.raises(ClientError) as e:
        iam.create_service_specific_credential(UserName=name, ServiceName="codecommit.amazonaws.com",
                                               CredentialAgeDays=30)
    assert_error(e, "InvalidInput", 400)
    second = iam.create_service_specific_credential(UserName=name,
                                                    ServiceName="codecommit.amazonaws.com")["ServiceSpecificCredential"]
    assert second["ServiceUserName"] != c["ServiceUserName"] and "ExpirationDate" not in second
    with pytest.raises(ClientError) as e:
        iam.create_service_specific_credential(UserName=name, ServiceName="codecommit.amazonaws.com")
    assert_error(e, "LimitExceeded", 409)
    with pytest.raises(ClientError) as e:
        iam.create_service_specific_credential(UserName=name, ServiceName="s3.amazonaws.com")
    assert_error(e, "NotSupportedService", 404)
    # Another service: the same service user name as CodeCommit's first, as on AWS.
    keyspaces = iam.create_service_specific_credential(UserName=name, ServiceName="cassandra.amazonaws.com")
    assert keyspaces["ServiceSpecificCredential"]["ServiceUserName"] == f"{name}-at-{account_id}"
    api_key = iam.create_service_specific_credential(UserName=name, ServiceName="bedrock.amazonaws.com",
                                                     CredentialAgeDays=30)["ServiceSpecificCredential"]
    assert "ExpirationDate" in api_key and api_key["ServiceCredentialSecret"]
    assert "ServicePassword" not in api_key and "ServiceUserName" not in api_key

    listed = iam.list_service_specific_credentials(UserName=name)["ServiceSpecificCredentials"]
    assert len(listed) == 4 and all("ServicePassword" not in x for x in listed)
    only = iam.list_service_specific_credentials(UserName=name, ServiceName="cassandra.amazonaws.com")
    assert len(only["ServiceSpecificCredentials"]) == 1

    reset = iam.reset_service_specific_credential(UserName=name,
                                                  ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])
    assert reset["ServiceSpecificCredential"]["ServicePassword"] != c["ServicePassword"]
    iam.update_service_specific_credential(UserName=name, ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"],
                                           Status="Inactive")
    statuses = {x["ServiceSpecificCredentialId"]: x["Status"]
                for x in iam.list_service_specific_credentials(UserName=name)["ServiceSpecificCredentials"]}
    assert statuses[c["ServiceSpecificCredentialId"]] == "Inactive"

    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=name)
    assert_error(e, "DeleteConflict", 409)
    for x in iam.list_service_specific_credentials(UserName=name)["ServiceSpecificCredentials"]:
        root.aws("iam", "delete-service-specific-credential", "--user-name", name,
                 "--service-specific-credential-id", x["ServiceSpecificCredentialId"])
    with pytest.raises(ClientError) as e:
        iam.reset_service_specific_credential(UserName=name,
                                              ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])
    assert_error(e, "NoSuchEntity", 404)
    iam.delete_user(UserName=name)
