"""Instance profiles, account aliases, service-linked roles, GetMFADevice and the STS
preferences (issue 14, part A) through boto3 and the `aws` CLI: success and each documented error."""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from tessera_compat import allow, assert_error, policy_doc, uniq

TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})


def message(excinfo):
    return excinfo.value.response["Error"]["Message"]


def new_role(iam, path="/"):
    name = uniq("r")
    iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST)
    return name


# ---- Instance profiles ----

def test_instance_profile_lifecycle(root, account_id):
    iam = root.iam
    name = uniq("ip")
    created = iam.create_instance_profile(InstanceProfileName=name, Path="/web/",
                                          Tags=[{"Key": "team", "Value": "a"}])["InstanceProfile"]
    assert created["InstanceProfileName"] == name and created["Path"] == "/web/"
    assert created["Arn"] == f"arn:aws:iam::{account_id}:instance-profile/web/{name}"
    assert created["InstanceProfileId"].startswith("AIPA") and len(created["InstanceProfileId"]) == 21
    assert isinstance(created["CreateDate"], datetime.datetime)
    assert created["Roles"] == []
    assert created["Tags"] == [{"Key": "team", "Value": "a"}]
    for dup in (name, name.upper()):
        with pytest.raises(ClientError) as e:
            iam.create_instance_profile(InstanceProfileName=dup)
        assert_error(e, "EntityAlreadyExists", 409)

    role = new_role(iam)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    got = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == [role]
    assert got["InstanceProfileId"] == created["InstanceProfileId"]
    # A profile holds one role, as AWS words its quota.
    other = new_role(iam)
    for again in (role, other):
        with pytest.raises(ClientError) as e:
            iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=again)
        assert_error(e, "LimitExceeded", 409)
        assert message(e) == "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1"
    for_role = iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in for_role] == [name]
    assert iam.list_instance_profiles_for_role(RoleName=other)["InstanceProfiles"] == []

    # Neither side can be deleted while linked.
    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName=role)
    assert_error(e, "DeleteConflict", 409)
    assert message(e) == \
        "Cannot delete entity, must remove roles from instance profile first."
    with pytest.raises(ClientError) as e:
        iam.delete_instance_profile(InstanceProfileName=name)
    assert_error(e, "DeleteConflict", 409)

    # GetAccountAuthorizationDetails lists the role's instance profiles.
    details = iam.get_account_authorization_details(Filter=["Role"])
    mine = [r for r in details["RoleDetailList"] if r["RoleName"] == role][0]
    assert [p["InstanceProfileName"] for p in mine["InstanceProfileList"]] == [name]
    assert mine["InstanceProfileList"][0]["Roles"][0]["RoleName"] == role

    with pytest.raises(ClientError) as e:
        iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=other)
    assert_error(e, "NoSuchEntity", 404)
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=name)
    iam.delete_role(RoleName=role)
    iam.delete_role(RoleName=other)
    with pytest.raises(ClientError) as e:
        iam.get_instance_profile(InstanceProfileName=name)
    assert_error(e, "NoSuchEntity", 404)
    assert message(e) == f"Instance Profile {name} cannot be found."


def test_instance_profile_missing_entities_and_validation(root):
    iam, lax = root.iam, root.iam_lax
    missing = uniq("none")
    for call in (lambda: iam.get_instance_profile(InstanceProfileName=missing),
                 lambda: iam.delete_instance_profile(InstanceProfileName=missing),
                 lambda: iam.add_role_to_instance_profile(InstanceProfileName=missing, RoleName="x"),
                 lambda: iam.remove_role_from_instance_profile(InstanceProfileName=missing, RoleName="x"),
                 lambda: iam.list_instance_profile_tags(InstanceProfileName=missing),
                 lambda: iam.tag_instance_profile(InstanceProfileName=missing,
                                                  Tags=[{"Key": "k", "Value": "v"}]),
                 lambda: iam.untag_instance_profile(InstanceProfileName=missing, TagKeys=["k"]),
                 lambda: iam.list_instance_profiles_for_role(RoleName=missing)):
        with pytest.raises(ClientError) as e:
            call()
        assert_error(e, "NoSuchEntity", 404)
    name = uniq("ip")
    iam.create_instance_profile(InstanceProfileName=name)
    with pytest.raises(ClientError) as e:
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=missing)
    assert_error(e, "NoSuchEntity", 404)
    for bad in ("has space", "x" * 129, ""):
        with pytest.raises(ClientError) as e:
            lax.create_instance_profile(InstanceProfileName=bad)
        assert_error(e, "ValidationError", 400)
    with pytest.raises(ClientError) as e:
        lax.create_instance_profile(InstanceProfileName=uniq("ip"), Path="no-slashes")
    assert_error(e, "ValidationError", 400)
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    with pytest.raises(ClientError) as e:
        lax.create_instance_profile(InstanceProfileName=uniq("ip"), Tags=many)
    assert_error(e, "ValidationError", 400)
    with pytest.raises(ClientError) as e:
        lax.tag_instance_profile(InstanceProfileName=name, Tags=[{"Key": "a", "Value": "1"},
                                                                 {"Key": "A", "Value": "2"}])
    assert_error(e, "InvalidInput", 400)
    iam.delete_instance_profile(InstanceProfileName=name)


def test_instance_profile_tags_and_paging(root):
    iam = root.iam
    prefix = "/" + uniq("pg") + "/"
    names = sorted(uniq("ip") for _ in range(3))
    for n in names:
        iam.create_instance_profile(InstanceProfileName=n, Path=prefix)
    first = iam.list_instance_profiles(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] and len(first["InstanceProfiles"]) == 2
    rest = iam.list_instance_profiles(PathPrefix=prefix, Marker=first["Marker"])
    assert not rest["IsTruncated"]
    listed = [p["InstanceProfileName"] for p in first["InstanceProfiles"] + rest["InstanceProfiles"]]
    assert listed == names
    paginated = [p["InstanceProfileName"] for page in
                 iam.get_paginator("list_instance_profiles").paginate(PathPrefix=prefix,
                                                                      PaginationConfig={"PageSize": 1})
                 for p in page["InstanceProfiles"]]
    assert paginated == names

    n = names[0]
    iam.tag_instance_profile(InstanceProfileName=n, Tags=[{"Key": "env", "Value": "prod"},
                                                          {"Key": "team", "Value": "a"}])
    iam.tag_instance_profile(InstanceProfileName=n, Tags=[{"Key": "TEAM", "Value": "b"}])
    tags = iam.list_instance_profile_tags(InstanceProfileName=n)
    assert tags["Tags"] == [{"Key": "env", "Value": "prod"}, {"Key": "TEAM", "Value": "b"}]
    assert tags["IsTruncated"] is False
    iam.untag_instance_profile(InstanceProfileName=n, TagKeys=["env"])
    assert iam.list_instance_profile_tags(InstanceProfileName=n)["Tags"] == [{"Key": "TEAM", "Value": "b"}]
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["InstanceProfiles"] >= 3 and summary["InstanceProfilesQuota"] == 1000
    for n in names:
        iam.delete_instance_profile(InstanceProfileName=n)


def test_instance_profiles_are_authorized_on_their_arn(root, user, account_id):
    iam = root.iam
    allowed, denied = uniq("ok"), uniq("no")
    iam.create_instance_profile(InstanceProfileName=allowed, Path="/open/")
    iam.create_instance_profile(InstanceProfileName=denied, Path="/closed/")
    iam.put_user_policy(UserName=user.name, PolicyName="ip", PolicyDocument=policy_doc(
        allow("iam:GetInstanceProfile", f"arn:aws:iam::{account_id}:instance-profile/open/*")))
    assert user.iam.get_instance_profile(InstanceProfileName=allowed)["InstanceProfile"]["Path"] == "/open/"
    with pytest.raises(ClientError) as e:
        user.iam.get_instance_profile(InstanceProfileName=denied)
    assert_error(e, "AccessDenied", 403)
    assert f"instance-profile/closed/{denied}" in message(e)
    iam.delete_user_policy(UserName=user.name, PolicyName="ip")
    for n in (allowed, denied):
        iam.delete_instance_profile(InstanceProfileName=n)


def test_instance_profiles_with_the_cli(root):
    name, role = uniq("ip"), new_role(root.iam)
    out = root.aws("iam", "create-instance-profile", "--instance-profile-name", name)
    assert out["InstanceProfile"]["InstanceProfileName"] == name
    root.aws("iam", "add-role-to-instance-profile", "--instance-profile-name", name, "--role-name", role)
    got = root.aws("iam", "get-instance-profile", "--instance-profile-name", name)
    assert got["InstanceProfile"]["Roles"][0]["RoleName"] == role
    listed = root.aws("iam", "list-instance-profiles-for-role", "--role-name", role)
    assert [p["InstanceProfileName"] for p in listed["InstanceProfiles"]] == [name]
    p = root.aws("iam", "delete-instance-profile", "--instance-profile-name", name, check=False)
    assert p.returncode != 0 and "DeleteConflict" in p.stderr
    root.aws("iam", "remove-role-from-instance-profile", "--instance-profile-name", name,
             "--role-name", role)
    root.aws("iam", "delete-instance-profile", "--instance-profile-name", name)
    p = root.aws("iam", "get-instance-profile", "--instance-profile-name", name, check=False)
    assert p.returncode != 0 and "NoSuchEntity" in p.stderr
    root.iam.delete_role(RoleName=role)


# ---- Account aliases ----

def test_account_alias_lifecycle(root):
    iam = root.iam
    assert iam.list_account_aliases()["AccountAliases"] == []
    alias = uniq("co").lower().replace("_", "-")
    iam.create_account_alias(AccountAlias=alias)
    iam.create_account_alias(AccountAlias=alias)  # the alias the account has: no change
    listed = iam.list_account_aliases()
    assert listed["AccountAliases"] == [alias] and listed["IsTruncated"] is False
    with pytest.raises(ClientError) as e:
        iam.create_account_alias(AccountAlias=alias + "-two")
    assert_error(e, "LimitExceeded", 409)
    with pytest.raises(ClientError) as e:
        iam.delete_account_alias(AccountAlias=alias + "-two")
    assert_error(e, "NoSuchEntity", 404)
    assert root.aws("iam", "list-account-aliases")["AccountAliases"] == [alias]
    root.aws("iam", "delete-account-alias", "--account-alias", alias)
    assert iam.list_account_aliases()["AccountAliases"] == []
    root.aws("iam", "create-account-alias", "--account-alias", alias)
    iam.delete_account_alias(AccountAlias=alias)


def test_account_alias_validation(root):
    for bad in ("ab", "-abc", "abc-", "a--b", "Upper", "under_score", "x" * 64):
        with pytest.raises(ClientError) as e:
            root.iam_lax.create_account_alias(AccountAlias=bad)
        assert_error(e, "ValidationError", 400)
    assert root.iam.list_account_aliases()["AccountAliases"] == []


# ---- Service-linked roles ----

def test_service_linked_role_lifecycle(root, account_id):
    iam = root.iam
    role = iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com",
                                          Description="for eb")["Role"]
    name = "AWSServiceRoleForElasticBeanstalk"
    assert role["RoleName"] == name
    assert role["Path"] == "/aws-service-role/elasticbeanstalk.amazonaws.com/"
    assert role["Arn"] == \
        f"arn:aws:iam::{account_id}:role/aws-service-role/elasticbeanstalk.amazonaws.com/{name}"
    assert role["Description"] == "for eb"
    trust = role["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": ["elasticbeanstalk.amazonaws.com"]}
    assert trust["Statement"][0]["Action"] == ["sts:AssumeRole"]
    assert iam.get_role(RoleName=name)["Role"]["RoleId"] == role["RoleId"]

    with pytest.raises(ClientError) as e:
        iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")
    assert_error(e, "InvalidInput", 400)
    assert message(e) == (f"Service role name {name} has been taken in this account, "
                                          "please try a different suffix.")
    # Only AWS may change a service-linked role.
    for call in (lambda: iam.delete_role(RoleName=name),
                 lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=TRUST),
                 lambda: iam.put_role_policy(RoleName=name, PolicyName="p",
                                             PolicyDocument=policy_doc(allow("s3:GetObject"))),
                 lambda: iam.attach_role_policy(RoleName=name,
                                                PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")):
        with pytest.raises(ClientError) as e:
            call()
        assert_error(e, "UnmodifiableEntity", 400)
        assert message(e) == (f"Cannot perform the operation on the protected role "
                                              f"'{name}' - this role is only modifiable by AWS")
    profile = uniq("ip")
    iam.create_instance_profile(InstanceProfileName=profile)
    with pytest.raises(ClientError) as e:
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=name)
    assert_error(e, "UnmodifiableEntity", 400)
    iam.delete_instance_profile(InstanceProfileName=profile)

    task = iam.delete_service_linked_role(RoleName=name)["DeletionTaskId"]
    assert task.startswith(f"task/aws-service-role/elasticbeanstalk.amazonaws.com/{name}/")
    status = iam.get_service_linked_role_deletion_status(DeletionTaskId=task)
    assert status["Status"] == "SUCCEEDED" and "Reason" not in status
    with pytest.raises(ClientError) as e:
        iam.get_role(RoleName=name)
    assert_error(e, "NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.delete_service_linked_role(RoleName=name)
    assert_error(e, "NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.get_service_linked_role_deletion_status(DeletionTaskId=task[:-4] + "0000")
    assert_error(e, "NoSuchEntity", 404)


def test_service_linked_role_errors_and_cli(root):
    iam, lax = root.iam, root.iam_lax
    with pytest.raises(ClientError) as e:
        iam.create_service_linked_role(AWSServiceName="es.amazonaws.com", CustomSuffix="x")
    assert_error(e, "InvalidInput", 400)
    assert message(e) == "Custom suffix is not allowed for es.amazonaws.com"
    with pytest.raises(ClientError) as e:
        iam.create_service_linked_role(AWSServiceName="nothing.example.com")
    assert_error(e, "InvalidInput", 400)
    with pytest.raises(ClientError) as e:
        lax.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="bad suffix")
    assert_error(e, "ValidationError", 400)
    # CreateRole cannot make a role that looks service-linked.
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName=uniq("r"), Path="/aws-service-role/x.amazonaws.com/",
                        AssumeRolePolicyDocument=TRUST)
    assert_error(e, "InvalidInput", 400)
    ordinary = new_role(iam)
    with pytest.raises(ClientError) as e:
        iam.delete_service_linked_role(RoleName=ordinary)
    assert_error(e, "InvalidInput", 400)
    iam.delete_role(RoleName=ordinary)

    suffix = uniq("s").replace("_", "-")
    out = root.aws("iam", "create-service-linked-role", "--aws-service-name", "autoscaling.amazonaws.com",
                   "--custom-suffix", suffix)
    name = out["Role"]["RoleName"]
    assert name == f"AWSServiceRoleForAutoScaling_{suffix}"
    task = root.aws("iam", "delete-service-linked-role", "--role-name", name)["DeletionTaskId"]
    status = root.aws("iam", "get-service-linked-role-deletion-status", "--deletion-task-id", task)
    assert status["Status"] == "SUCCEEDED"


def test_service_linked_role_is_authorized_with_the_service_name(root, user, account_id):
    iam = root.iam
    iam.put_user_policy(UserName=user.name, PolicyName="slr", PolicyDocument=policy_doc(
        allow("iam:CreateServiceLinkedRole",
              f"arn:aws:iam::{account_id}:role/aws-service-role/ecs.amazonaws.com/*",
              Condition={"StringEquals": {"iam:AWSServiceName": "ecs.amazonaws.com"}})))
    with pytest.raises(ClientError) as e:
        user.iam.create_service_linked_role(AWSServiceName="rds.amazonaws.com")
    assert_error(e, "AccessDenied", 403)
    role = user.iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")["Role"]
    assert role["RoleName"] == "AWSServiceRoleForECS"
    iam.delete_user_policy(UserName=user.name, PolicyName="slr")
    iam.delete_service_linked_role(RoleName="AWSServiceRoleForECS")


# ---- GetMFADevice and the STS preferences ----

def test_get_mfa_device(root, user):
    iam = root.iam
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=uniq("mfa"))["VirtualMFADevice"]
    serial = device["SerialNumber"]
    got = iam.get_mfa_device(SerialNumber=serial)
    assert got["SerialNumber"] == serial
    assert "UserName" not in got and "EnableDate" not in got and "Certifications" not in got
    with pytest.raises(ClientError) as e:
        iam.get_mfa_device(SerialNumber=serial, UserName=user.name)
    assert_error(e, "NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.get_mfa_device(SerialNumber=serial + "x")
    assert_error(e, "NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.get_mfa_device(SerialNumber=serial, UserName=uniq("nobody"))
    assert_error(e, "NoSuchEntity", 404)
    out = root.aws("iam", "get-mfa-device", "--serial-number", serial)
    assert out["SerialNumber"] == serial
    iam.delete_virtual_mfa_device(SerialNumber=serial)


def test_security_token_service_preferences(root):
    iam = root.iam
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 2
    root.aws("iam", "set-security-token-service-preferences", "--global-endpoint-token-version", "v1Token")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 1
    with pytest.raises(ClientError) as e:
        root.iam_lax.set_security_token_service_preferences(GlobalEndpointTokenVersion="v3Token")
    assert_error(e, "ValidationError", 400)
