"""Edge cases across the API surface, written against AWS's documented behaviour."""

import urllib.request

import pytest
from botocore.exceptions import ClientError

from tessera_compat import allow, assert_error, landing, policy_doc, uniq


@landing
def test_xml_special_characters_round_trip(root, account_id):
    desc = 'a<b>&c"d\'e é'
    name = uniq("xml")
    root.iam.create_role(RoleName=name, Description=desc, AssumeRolePolicyDocument=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
         "Action": "sts:AssumeRole", "Condition": {"StringLike": {"sts:ExternalId": "a&b<c>*"}}}))
    got = root.iam.get_role(RoleName=name)["Role"]
    assert got["Description"] == desc
    assert got["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == \
        {"StringLike": {"sts:ExternalId": "a&b<c>*"}}
    root.iam.delete_role(RoleName=name)


@landing
def test_trust_survives_only_for_the_same_user(root, account_id):
    # Trust policies bind the principal's unique ID: a re-created same-named user is not trusted.
    u = root.new_user()
    arn = f"arn:aws:iam::{account_id}:user/{u.name}"
    role = root.iam.create_role(RoleName=uniq("uid"), AssumeRolePolicyDocument=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}))["Role"]
    assert u.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="one")["Credentials"]
    root.delete_user_fully(u.name)
    root.iam.create_user(UserName=u.name)
    key = root.iam.create_access_key(UserName=u.name)["AccessKey"]
    again = root.server.principal(key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        again.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="two")
    assert_error(e, "AccessDenied", 403)
    root.delete_user_fully(u.name)


@landing
def test_session_permissions_follow_the_role(root, user, account_id):
    # Session credentials cannot be revoked, but their permissions are evaluated on every call.
    role = root.iam.create_role(RoleName=uniq("live"), AssumeRolePolicyDocument=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:user/{user.name}"},
         "Action": "sts:AssumeRole"}))["Role"]
    root.iam.put_role_policy(RoleName=role["RoleName"], PolicyName="list",
                             PolicyDocument=policy_doc(allow("iam:ListUsers")))
    temp = user.with_credentials(
        user.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="live")["Credentials"])
    assert temp.iam.list_users()["ResponseMetadata"]["HTTPStatusCode"] == 200
    root.iam.delete_role_policy(RoleName=role["RoleName"], PolicyName="list")
    with pytest.raises(ClientError) as e:
        temp.iam.list_users()
    assert_error(e, "AccessDenied", 403)


@landing
def test_session_of_deleted_role(root, user, account_id):
    role = root.iam.create_role(RoleName=uniq("gone"), AssumeRolePolicyDocument=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:user/{user.name}"},
         "Action": "sts:AssumeRole"}))["Role"]
    temp = user.with_credentials(
        user.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="gone")["Credentials"])
    root.iam.delete_role(RoleName=role["RoleName"])
    with pytest.raises(ClientError) as e:
        temp.iam.list_users()
    assert_error(e, "AccessDenied", 403)


def test_presigned_with_session_token(root, user, account_id):
    temp = user.with_credentials(user.sts.get_session_token(DurationSeconds=900)["Credentials"])
    url = temp.sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    assert "X-Amz-Security-Token=" in url
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200 and f":user/{user.name}".encode() in r.read()


def test_user_cannot_manage_own_keys_without_permission(user):
    with pytest.raises(ClientError) as e:
        user.iam.create_access_key()
    assert_error(e, "AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        user.iam.get_user()
    assert_error(e, "AccessDenied", 403)


@landing
def test_user_self_service_without_user_name(root, user, account_id):
    root.iam.put_user_policy(UserName=user.name, PolicyName="self", PolicyDocument=policy_doc(
        allow(["iam:GetUser", "iam:ListAccessKeys"],
              f"arn:aws:iam::{account_id}:user/${{aws:username}}")))
    assert user.iam.get_user()["User"]["UserName"] == user.name
    keys = user.iam.list_access_keys()["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [user.key_id]


@landing
def test_source_identity_needs_permission(root, user, account_id):
    arn = f"arn:aws:iam::{account_id}:user/{user.name}"
    plain = root.iam.create_role(RoleName=uniq("si"), AssumeRolePolicyDocument=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}))["Role"]
    with pytest.raises(ClientError) as e:
        user.sts.assume_role(RoleArn=plain["Arn"], RoleSessionName="si", SourceIdentity="alice")
    assert_error(e, "AccessDenied", 403)
    ok = root.iam.create_role(RoleName=uniq("si"), AssumeRolePolicyDocument=policy_doc(
        {"Effect": "Allow", "Principal": {"AWS": arn},
         "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}))["Role"]
    r = user.sts.assume_role(RoleArn=ok["Arn"], RoleSessionName="si", SourceIdentity="alice")
    assert r["SourceIdentity"] == "alice"
    with pytest.raises(ClientError) as e:
        user.sts_lax.assume_role(RoleArn=ok["Arn"], RoleSessionName="si",
                                 SourceIdentity="aws:nope")
    assert_error(e, "ValidationError", 400)
