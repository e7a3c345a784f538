"""STS through boto3: identities, AssumeRole (trust, ExternalId, tags, durations, chaining),
GetSessionToken, GetFederationToken, GetAccessKeyInfo, DecodeAuthorizationMessage."""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from tessera_compat import allow, assert_error, landing, policy_doc, uniq


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def lifetime(creds):
    return (creds["Expiration"] - now()).total_seconds()


def assert_temp_creds(creds):
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) >= 40
    assert creds["SessionToken"]


def make_role(root, principal_arn, condition=None, actions=("sts:AssumeRole",), path="/",
              max_session=None):
    stmt = {"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": list(actions)}
    if condition:
        stmt["Condition"] = condition
    kw = {"MaxSessionDuration": max_session} if max_session else {}
    name = uniq("role")
    role = root.iam.create_role(RoleName=name, Path=path,
                                AssumeRolePolicyDocument=policy_doc(stmt), **kw)["Role"]
    return role


def test_caller_identity_root(root, account_id):
    r = root.sts.get_caller_identity()
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert len(account_id) == 12 and account_id.isdigit()
    assert r["UserId"] == account_id
    assert r["Arn"] == f"arn:aws:iam::{account_id}:root"


def test_caller_identity_user(root, user, account_id):
    u = root.iam.get_user(UserName=user.name)["User"]
    r = user.sts.get_caller_identity()
    assert r["Account"] == account_id
    assert r["UserId"] == u["UserId"] and r["UserId"].startswith("AIDA")
    assert r["Arn"] == f"arn:aws:iam::{account_id}:user/{user.name}" == u["Arn"]


def test_caller_identity_user_with_path(root, account_id):
    u = root.new_user(path="/team/dev/")
    try:
        assert u.sts.get_caller_identity()["Arn"] == \
            f"arn:aws:iam::{account_id}:user/team/dev/{u.name}"
    finally:
        root.delete_user_fully(u.name)


def test_get_access_key_info(root, user, account_id):
    assert root.sts.get_access_key_info(AccessKeyId=user.key_id)["Account"] == account_id
    assert root.sts.get_access_key_info(AccessKeyId=root.key_id)["Account"] == account_id
    # Unlike GetCallerIdentity, GetAccessKeyInfo needs sts:GetAccessKeyInfo.
    with pytest.raises(ClientError) as e:
        user.sts.get_access_key_info(AccessKeyId=root.key_id)
    assert_error(e, "AccessDenied", 403)


def test_decode_authorization_message_rejects_garbage(root):
    with pytest.raises(ClientError) as e:
        root.sts.decode_authorization_message(EncodedMessage="not-a-real-message")
    assert_error(e, "InvalidAuthorizationMessageException", 400)


def test_root_cannot_assume_role(root, account_id):
    with pytest.raises(ClientError) as e:
        root.sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/whatever",
                             RoleSessionName="s1")
    assert_error(e, "AccessDenied", 403)


def test_session_token_for_user(root, user, account_id):
    r = user.sts.get_session_token(DurationSeconds=900)
    creds = r["Credentials"]
    assert_temp_creds(creds)
    assert 800 <= lifetime(creds) <= 960
    temp = user.with_credentials(creds)
    # GetSessionToken credentials act as the user who made them.
    ident = temp.sts.get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{account_id}:user/{user.name}"
    assert root.sts.get_access_key_info(AccessKeyId=creds["AccessKeyId"])["Account"] == account_id
    # A wrong session token with the right key is not accepted.
    forged = user.server.principal(creds["AccessKeyId"], creds["SecretAccessKey"],
                                   creds["SessionToken"][:-4] + "AAAA")
    with pytest.raises(ClientError) as e:
        forged.sts.get_caller_identity()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # Without the session token the temporary key is unknown.
    tokenless = user.server.principal(creds["AccessKeyId"], creds["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        tokenless.sts.get_caller_identity()
    assert_error(e, "InvalidClientTokenId", 403)


def test_session_token_credentials_limits(user):
    temp = user.with_credentials(user.sts.get_session_token()["Credentials"])
    # Session credentials cannot mint more session credentials (reference §4.1).
    with pytest.raises(ClientError) as e:
        temp.sts.get_session_token()
    assert_error(e, "AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        temp.sts.get_federation_token(Name="fed")
    assert_error(e, "AccessDenied", 403)
    # Without MFA, GetSessionToken credentials cannot call IAM.
    with pytest.raises(ClientError) as e:
        temp.iam.list_users()
    assert_error(e, "InvalidClientTokenId", 403)


def test_session_token_durations(root, user):
    default = user.sts.get_session_token()["Credentials"]
    assert 43200 - 120 <= lifetime(default) <= 43200 + 60
    # Root sessions are silently capped at one hour.
    capped = root.sts.get_session_token(DurationSeconds=129600)["Credentials"]
    assert lifetime(capped) <= 3600 + 60
    for bad in (899, 129601):
        with pytest.raises(ClientError) as e:
            user.sts_lax.get_session_token(DurationSeconds=bad)
        assert_error(e, "ValidationError", 400)


def check_federation_token(principal, account_id, name):
    doc = policy_doc(allow("sts:GetCallerIdentity"))
    r = principal.sts.get_federation_token(Name=name, Policy=doc, DurationSeconds=900)
    assert_temp_creds(r["Credentials"])
    assert 800 <= lifetime(r["Credentials"]) <= 960
    fed = r["FederatedUser"]
    assert fed["Arn"] == f"arn:aws:sts::{account_id}:federated-user/{name}"
    assert fed["FederatedUserId"] == f"{account_id}:{name}"
    assert "PackedPolicySize" in r
    temp = principal.with_credentials(r["Credentials"])
    ident = temp.sts.get_caller_identity()
    assert ident["Arn"] == fed["Arn"] and ident["UserId"] == fed["FederatedUserId"]
    # Federation credentials never reach IAM.
    with pytest.raises(ClientError) as e:
        temp.iam.list_users()
    assert_error(e, "AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        principal.sts_lax.get_federation_token(Name="x")
    assert_error(e, "ValidationError", 400)


def test_federation_token_root(root, account_id):
    check_federation_token(root, account_id, "rootfed")
    capped = root.sts.get_federation_token(Name="rootfed", DurationSeconds=129600)
    assert lifetime(capped["Credentials"]) <= 3600 + 60


def test_federation_token_needs_permission(user, account_id):
    with pytest.raises(ClientError) as e:
        user.sts.get_federation_token(Name="fed-user")
    assert_error(e, "AccessDenied", 403)
    assert "sts:GetFederationToken" in e.value.response["Error"]["Message"]


@landing
def test_federation_token_user(root, user, account_id):
    root.iam.put_user_policy(UserName=user.name, PolicyName="fed",
                             PolicyDocument=policy_doc(allow("sts:GetFederationToken")))
    check_federation_token(user, account_id, "fed-user")


@landing
def test_assume_role_trust_externalid_and_identity(root, user, account_id):
    role = make_role(root, f"arn:aws:iam::{account_id}:user/{user.name}",
                     condition={"StringEquals": {"sts:ExternalId": "ext-123"}}, path="/svc/")
    assert role["RoleId"].startswith("AROA")
    assert role["Arn"] == f"arn:aws:iam::{account_id}:role/svc/{role['RoleName']}"
    with pytest.raises(ClientError) as e:
        user.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert_error(e, "AccessDenied", 403)
    assert role["Arn"] in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        user.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", ExternalId="wrong-id")
    assert_error(e, "AccessDenied", 403)

    r = user.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", ExternalId="ext-123")
    assert_temp_creds(r["Credentials"])
    assert 3600 - 120 <= lifetime(r["Credentials"]) <= 3600 + 60
    # The assumed-role ARN omits the role path.
    session_arn = f"arn:aws:sts::{account_id}:assumed-role/{role['RoleName']}/s1"
    assert r["AssumedRoleUser"]["Arn"] == session_arn
    assert r["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:s1"
    temp = user.with_credentials(r["Credentials"])
    ident = temp.sts.get_caller_identity()
    assert ident == {**ident, "Arn": session_arn, "UserId": f"{role['RoleId']}:s1",
                     "Account": account_id}
    # Role sessions cannot mint session or federation tokens.
    with pytest.raises(ClientError) as e:
        temp.sts.get_session_token()
    assert_error(e, "AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        temp.sts.get_federation_token(Name="fed")
    assert_error(e, "AccessDenied", 403)
    # A role that does not exist is denied, not revealed.
    with pytest.raises(ClientError) as e:
        user.sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/nope-{uniq('x')}",
                             RoleSessionName="s1")
    assert_error(e, "AccessDenied", 403)


@landing
def test_assume_role_durations_and_validation(root, user, account_id):
    role = make_role(root, f"arn:aws:iam::{account_id}:user/{user.name}", max_session=7200)
    r = user.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="dd", DurationSeconds=7200)
    assert 7200 - 120 <= lifetime(r["Credentials"]) <= 7200 + 60
    for bad in (899, 7201, 43201):
        with pytest.raises(ClientError) as e:
            user.sts_lax.assume_role(RoleArn=role["Arn"], RoleSessionName="dd",
                                     DurationSeconds=bad)
        assert_error(e, "ValidationError", 400)
    for bad_name in ("x", "has space", "a" * 65):
        with pytest.raises(ClientError) as e:
            user.sts_lax.assume_role(RoleArn=role["Arn"], RoleSessionName=bad_name)
        assert_error(e, "ValidationError", 400)


@landing
def test_assume_role_session_tags_need_tag_session(root, user, account_id):
    arn = f"arn:aws:iam::{account_id}:user/{user.name}"
    plain = make_role(root, arn)
    tags = [{"Key": "team", "Value": "blue"}]
    with pytest.raises(ClientError) as e:
        user.sts.assume_role(RoleArn=plain["Arn"], RoleSessionName="tg", Tags=tags)
    assert_error(e, "AccessDenied", 403)
    tagging = make_role(root, arn, actions=("sts:AssumeRole", "sts:TagSession"))
    r = user.sts.assume_role(RoleArn=tagging["Arn"], RoleSessionName="tg", Tags=tags,
                             TransitiveTagKeys=["team"])
    assert_temp_creds(r["Credentials"])
    # TransitiveTagKeys must be a subset of the session tags.
    with pytest.raises(ClientError) as e:
        user.sts.assume_role(RoleArn=tagging["Arn"], RoleSessionName="tg", Tags=tags,
                             TransitiveTagKeys=["other"])
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)


@landing
def test_role_chaining(root, user, account_id):
    first = make_role(root, f"arn:aws:iam::{account_id}:user/{user.name}")
    second = make_role(root, first["Arn"], max_session=43200)
    r1 = user.sts.assume_role(RoleArn=first["Arn"], RoleSessionName="hop1")
    hop1 = user.with_credentials(r1["Credentials"])
    # Chained sessions are limited to one hour whatever the role allows.
    with pytest.raises(ClientError) as e:
        hop1.sts.assume_role(RoleArn=second["Arn"], RoleSessionName="hop2", DurationSeconds=7200)
    assert_error(e, "ValidationError", 400)
    r2 = hop1.sts.assume_role(RoleArn=second["Arn"], RoleSessionName="hop2")
    assert lifetime(r2["Credentials"]) <= 3600 + 60
    hop2 = user.with_credentials(r2["Credentials"])
    assert hop2.sts.get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{account_id}:assumed-role/{second['RoleName']}/hop2"
    # The user itself is not trusted by the second role.
    with pytest.raises(ClientError) as e:
        user.sts.assume_role(RoleArn=second["Arn"], RoleSessionName="direct")
    assert_error(e, "AccessDenied", 403)


@landing
def test_role_session_uses_role_permissions(root, user, account_id):
    role = make_role(root, f"arn:aws:iam::{account_id}:user/{user.name}")
    temp = user.with_credentials(
        user.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="perm")["Credentials"])
    with pytest.raises(ClientError) as e:
        temp.iam.list_users()
    assert_error(e, "AccessDenied", 403)
    root.iam.put_role_policy(RoleName=role["RoleName"], PolicyName="list",
                             PolicyDocument=policy_doc(allow("iam:ListUsers")))
    assert temp.iam.list_users()["ResponseMetadata"]["HTTPStatusCode"] == 200
    # A session policy caps the role's permissions.
    capped = user.with_credentials(user.sts.assume_role(
        RoleArn=role["Arn"], RoleSessionName="capped",
        Policy=policy_doc(allow("iam:GetUser")))["Credentials"])
    with pytest.raises(ClientError) as e:
        capped.iam.list_users()
    assert_error(e, "AccessDenied", 403)
