"""Per-call authorization: implicit deny, allow by policy, explicit deny, privilege escalation."""

import pytest
from botocore.exceptions import ClientError

from tessera_compat import allow, assert_error, deny, landing, policy_doc


def test_no_policy_means_access_denied(user, account_id):
    with pytest.raises(ClientError) as e:
        user.iam.list_users()
    assert_error(e, "AccessDenied", 403)
    msg = e.value.response["Error"]["Message"]
    assert f"arn:aws:iam::{account_id}:user/{user.name}" in msg and "iam:ListUsers" in msg
    with pytest.raises(ClientError) as e:
        user.iam.create_user(UserName="sneaky")
    assert_error(e, "AccessDenied", 403)
    # GetCallerIdentity needs no permission.
    assert user.sts.get_caller_identity()["Arn"].endswith(user.name)


@landing
def test_inline_allow_then_explicit_deny(root, user):
    root.iam.put_user_policy(UserName=user.name, PolicyName="list",
                             PolicyDocument=policy_doc(allow("iam:ListUsers")))
    assert user.iam.list_users()["ResponseMetadata"]["HTTPStatusCode"] == 200
    # Only what is allowed: GetUser on another user is still denied.
    with pytest.raises(ClientError) as e:
        user.iam.list_access_keys(UserName="someone-else")
    assert_error(e, "AccessDenied", 403)
    root.iam.put_user_policy(UserName=user.name, PolicyName="deny",
                             PolicyDocument=policy_doc(deny("iam:List*")))
    with pytest.raises(ClientError) as e:
        user.iam.list_users()
    assert_error(e, "AccessDenied", 403)
    assert "explicit deny" in e.value.response["Error"]["Message"]
    root.iam.delete_user_policy(UserName=user.name, PolicyName="deny")
    assert user.iam.list_users()["ResponseMetadata"]["HTTPStatusCode"] == 200


@landing
def test_resource_scoped_self_service(root, user, account_id):
    me = f"arn:aws:iam::{account_id}:user/${{aws:username}}"
    root.iam.put_user_policy(UserName=user.name, PolicyName="self",
                             PolicyDocument=policy_doc(allow(["iam:ListAccessKeys"], me)))
    keys = user.iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [user.key_id]
    other = root.new_user()
    try:
        with pytest.raises(ClientError) as e:
            user.iam.list_access_keys(UserName=other.name)
        assert_error(e, "AccessDenied", 403)
    finally:
        root.delete_user_fully(other.name)


@landing
def test_no_privilege_escalation_via_attach(root, user, account_id):
    victim = root.new_user()
    try:
        victim_arn = f"arn:aws:iam::{account_id}:user/{victim.name}"
        root.iam.put_user_policy(UserName=user.name, PolicyName="attach-victim",
                                 PolicyDocument=policy_doc(allow("iam:AttachUserPolicy",
                                                                 victim_arn)))
        admin = "arn:aws:iam::aws:policy/AdministratorAccess"
        with pytest.raises(ClientError) as e:
            user.iam.attach_user_policy(UserName=user.name, PolicyArn=admin)
        assert_error(e, "AccessDenied", 403)
        attached = root.iam.list_attached_user_policies(UserName=user.name)["AttachedPolicies"]
        assert attached == []
        # Still powerless afterwards.
        with pytest.raises(ClientError) as e:
            user.iam.list_users()
        assert_error(e, "AccessDenied", 403)
        # Nor can it rewrite its own inline policy.
        with pytest.raises(ClientError) as e:
            user.iam.put_user_policy(UserName=user.name, PolicyName="x",
                                     PolicyDocument=policy_doc(allow("*")))
        assert_error(e, "AccessDenied", 403)
        # The permitted target works (positive control), with a customer-managed policy.
        pol = root.iam.create_policy(PolicyName=f"p-{victim.name}",
                                     PolicyDocument=policy_doc(allow("iam:GetUser")))["Policy"]
        user.iam.attach_user_policy(UserName=victim.name, PolicyArn=pol["Arn"])
        assert [p["PolicyArn"] for p in root.iam.list_attached_user_policies(
            UserName=victim.name)["AttachedPolicies"]] == [pol["Arn"]]
        root.iam.detach_user_policy(UserName=victim.name, PolicyArn=pol["Arn"])
        root.iam.delete_policy(PolicyArn=pol["Arn"])
    finally:
        root.delete_user_fully(victim.name)


@landing
def test_permissions_boundary_caps(root, user):
    root.iam.put_user_policy(UserName=user.name, PolicyName="admin",
                             PolicyDocument=policy_doc(allow("*")))
    assert user.iam.list_users()["ResponseMetadata"]["HTTPStatusCode"] == 200
    pol = root.iam.create_policy(PolicyName=f"b-{user.name}",
                                 PolicyDocument=policy_doc(allow("iam:GetUser")))["Policy"]
    root.iam.put_user_permissions_boundary(UserName=user.name, PermissionsBoundary=pol["Arn"])
    got = root.iam.get_user(UserName=user.name)["User"]["PermissionsBoundary"]
    assert got == {"PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                   "PermissionsBoundaryArn": pol["Arn"]}
    with pytest.raises(ClientError) as e:
        user.iam.list_users()
    assert_error(e, "AccessDenied", 403)
    assert user.iam.get_user(UserName=user.name)["User"]["UserName"] == user.name
    root.iam.delete_user_permissions_boundary(UserName=user.name)
    assert user.iam.list_users()["ResponseMetadata"]["HTTPStatusCode"] == 200
    root.iam.delete_user_policy(UserName=user.name, PolicyName="admin")
    root.iam.delete_policy(PolicyArn=pol["Arn"])
