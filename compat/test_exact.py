"""AWS's answers, exactly (issue 14, item 3): error messages in AWS's own words with Tessera's
detail in extra `<Error>` elements, the account root acting on itself, and response members as
AWS returns them. Each AWS wording asserted here is listed with its source in
crates/tessera-policy/tests/data/malformed.json ("aws" of each case) or the docstrings below.
"""

import json

import botocore.exceptions
import pytest

from tessera_compat import IAM_VERSION, allow, policy_doc, uniq, xml_error

SYNTAX = "Syntax errors in policy."
LEGACY = "The policy failed legacy parsing"


def _error(excinfo):
    return excinfo.value.response["Error"]


# -- the account root without UserName -------------------------------------------------------


def test_root_get_user_is_the_root_shape(root, account_id):
    """AWS answers the root's own shape: the account id as UserId, the root ARN, no UserName."""
    user = root.iam.get_user()["User"]
    assert user["UserId"] == account_id
    assert user["Arn"] == f"arn:aws:iam::{account_id}:root"
    assert "UserName" not in user and "Path" not in user
    assert user["CreateDate"]
    out = root.aws("iam", "get-user")["User"]
    assert out["Arn"] == f"arn:aws:iam::{account_id}:root" and "UserName" not in out


def test_root_manages_its_own_access_keys(root, server):
    """ListAccessKeys/CreateAccessKey/UpdateAccessKey/DeleteAccessKey without UserName act on the
    root's keys ("you can use this operation to manage Amazon Web Services account root user
    credentials"); root keys carry no UserName."""
    keys = root.iam.list_access_keys()["AccessKeyMetadata"]
    ids = [k["AccessKeyId"] for k in keys]
    assert server.root_key_id in ids
    # Another test (the coverage check's CreateAccessKey as root) may have made a second one.
    for other in set(ids) - {server.root_key_id}:
        root.iam.delete_access_key(AccessKeyId=other)
    assert all("UserName" not in k for k in keys)
    created = root.iam.create_access_key()["AccessKey"]
    try:
        assert "UserName" not in created and created["Status"] == "Active"
        new = server.principal(created["AccessKeyId"], created["SecretAccessKey"])
        assert new.sts.get_caller_identity()["Arn"].endswith(":root")
        with pytest.raises(botocore.exceptions.ClientError) as e:
            root.iam.create_access_key()
        assert _error(e)["Code"] == "LimitExceeded"
        root.iam.update_access_key(AccessKeyId=created["AccessKeyId"], Status="Inactive")
        listed = {k["AccessKeyId"]: k["Status"] for k in root.iam.list_access_keys()["AccessKeyMetadata"]}
        assert listed[created["AccessKeyId"]] == "Inactive"
        cli = root.aws("iam", "list-access-keys")["AccessKeyMetadata"]
        assert {k["AccessKeyId"] for k in cli} == set(listed)
    finally:
        root.iam.delete_access_key(AccessKeyId=created["AccessKeyId"])
    ids = [k["AccessKeyId"] for k in root.iam.list_access_keys()["AccessKeyMetadata"]]
    assert created["AccessKeyId"] not in ids and server.root_key_id in ids
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam.delete_access_key(AccessKeyId=created["AccessKeyId"])
    assert _error(e)["Code"] == "NoSuchEntity"


def test_root_lists_its_mfa_devices(root):
    assert root.iam.list_mfa_devices()["MFADevices"] == []


def test_a_user_still_defaults_to_itself(root, user):
    root.iam.attach_user_policy(UserName=user.name, PolicyArn="arn:aws:iam::aws:policy/IAMFullAccess")
    try:
        assert user.iam.get_user()["User"]["UserName"] == user.name
        keys = user.iam.list_access_keys()["AccessKeyMetadata"]
        assert [k["UserName"] for k in keys] == [user.name]
    finally:
        root.iam.detach_user_policy(UserName=user.name, PolicyArn="arn:aws:iam::aws:policy/IAMFullAccess")


def _let_assume(root, user):
    root.iam.put_user_policy(UserName=user.name, PolicyName="assume",
                             PolicyDocument=policy_doc(allow("sts:AssumeRole")))


def test_a_session_must_name_the_user(root, user, account_id):
    """A role session omitting UserName: AWS's `ValidationError`, "Must specify userName when
    calling with non-User credentials" (observed, aws/aws-sdk-java#1304)."""
    role = uniq("r")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "sts:AssumeRole"}]})
    root.iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    try:
        root.iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=policy_doc(allow("iam:*")))
        _let_assume(root, user)
        creds = user.sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role}",
                                     RoleSessionName="s1")["Credentials"]
        session = root.with_credentials(creds)
        for call in (session.iam.get_user, session.iam.list_access_keys):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                call()
            assert _error(e)["Code"] == "ValidationError"
            assert _error(e)["Message"] == "Must specify userName when calling with non-User credentials"
    finally:
        root.iam.delete_role_policy(RoleName=role, PolicyName="p")
        root.iam.delete_role(RoleName=role)


# -- policy grammar errors: AWS's message, Tessera's detail beside it -------------------------

BAD_POLICIES = [
    # (document, AWS's message, the Field detail or None)
    ("{not json", SYNTAX, None),
    ("null", SYNTAX, None),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "s3:*",
                                                          "Resource": "*"}]}), LEGACY, "Effect"),
    (json.dumps({"Version": "2012-10-18", "Statement": [allow("s3:*")]}), LEGACY, "Version"),
    (json.dumps({"Version": "2012-10-17", "Statement": [allow("GetObject")]}),
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.", "Action"),
    (json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:Get:Object")]}),
     "Actions/Condition can contain only one colon.", "Action"),
    (json.dumps({"Version": "2012-10-17", "Statement": [allow("s 3:GetObject")]}),
     "Vendor s 3 is not valid", "Action"),
    (json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:GetObject", "bucket")]}),
     'Resource bucket must be in ARN format or "*".', "Resource"),
    (json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:*", Sid="a-b")]}),
     "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular "
     "expression [0-9A-Za-z]*", "Sid"),
    (json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:*", Sid="A"), allow("s3:*", Sid="A")]}),
     "Statement IDs (SID) in a single policy must be unique.", "Sid"),
    (json.dumps({"Version": "2012-10-17", "Statement": [
        allow("s3:*", Condition={"StringEqualz": {"aws:username": "x"}})]}),
     "Invalid Condition type : StringEqualz", "Condition.StringEqualz"),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}),
     "Policy statement must contain resources.", "Resource"),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}),
     "Policy statement must contain actions.", "Action"),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Action": "s3:*", "Resource": "*"}]}),
     "Missing required field Effect", "Effect"),
    (json.dumps({"Version": "2012-10-17", "Statement": [allow("s3:*", Principal="*")]}),
     "Policy document should not specify a principal.", "Principal"),
]


@pytest.mark.parametrize("document,message,field", BAD_POLICIES, ids=[m for _, m, _ in BAD_POLICIES])
def test_policy_errors_in_aws_words_with_detail(root, document, message, field):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam_lax.create_policy(PolicyName=uniq("p"), PolicyDocument=document)
    error = _error(e)
    assert (error["Code"], error["Message"]) == ("MalformedPolicyDocument", message)
    # Tessera's detail: its own message, where the problem is.
    assert error["Detail"]
    assert "Line" in error and "Column" in error, error
    if field is not None:
        assert error["Field"] == field
        assert error.get("Statement") in ("0", "1") or field == "Version"


def test_policy_error_detail_names_statement_and_position(root, user):
    document = '{"Version": "2012-10-17", "Statement": [\n  {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},\n' \
               '  {"Sid": "Two", "Effect": "Allow", "Action": "GetObject", "Resource": "*"}\n]}'
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam.put_user_policy(UserName=user.name, PolicyName="p", PolicyDocument=document)
    error = _error(e)
    assert error["Message"] == "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    assert (error["Statement"], error["Sid"], error["Field"], error["Line"]) == ("1", "Two", "Action", "3")
    assert "GetObject" in error["Detail"]
    # The CLI prints AWS's message.
    p = root.aws("iam", "put-user-policy", "--user-name", user.name, "--policy-name", "p",
                 "--policy-document", document, check=False)
    assert p.returncode != 0
    assert "(MalformedPolicyDocument)" in p.stderr and "must be prefaced by a vendor" in p.stderr


def test_trust_policy_errors_in_aws_words(root):
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam.create_role(RoleName=uniq("r"), AssumeRolePolicyDocument=trust)
    assert (_error(e)["Code"], _error(e)["Message"]) == ("MalformedPolicyDocument", "Missing required field Principal")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "s3:GetObject"}]})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam.create_role(RoleName=uniq("r"), AssumeRolePolicyDocument=trust)
    assert _error(e)["Message"] == "AssumeRole policy may only specify STS AssumeRole actions."


def test_session_policy_errors_in_aws_words(root, user, account_id):
    role = uniq("r")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "sts:AssumeRole"}]})
    root.iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    try:
        _let_assume(root, user)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            user.sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role}", RoleSessionName="s1",
                                 Policy=policy_doc(allow("s3:Get:Object")))
        error = _error(e)
        assert (error["Code"], error["Message"]) == ("MalformedPolicyDocument",
                                                     "Actions/Condition can contain only one colon.")
        assert error["Field"] == "Action" and "s3:Get:Object" in error["Detail"]
    finally:
        root.iam.delete_role(RoleName=role)


# -- response members as AWS returns them -----------------------------------------------------


def test_list_roles_and_users_leave_out_what_aws_leaves_out(root, account_id):
    """AWS's ListRoles "does not return ... PermissionsBoundary, RoleLastUsed, Tags" and
    ListUsers "does not return ... PermissionsBoundary, Tags" (API reference); GetRole and GetUser
    do."""
    boundary = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    role, name = uniq("r"), uniq("u")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "sts:AssumeRole"}]})
    root.iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust, PermissionsBoundary=boundary,
                         Tags=[{"Key": "k", "Value": "v"}], Description="d")
    root.iam.create_user(UserName=name, PermissionsBoundary=boundary, Tags=[{"Key": "k", "Value": "v"}])
    try:
        got = root.iam.get_role(RoleName=role)["Role"]
        assert got["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
        assert "RoleLastUsed" in got and got["Tags"] == [{"Key": "k", "Value": "v"}]
        assert got["Description"] == "d"
        listed = [r for r in root.iam.list_roles()["Roles"] if r["RoleName"] == role][0]
        assert not {"PermissionsBoundary", "RoleLastUsed", "Tags"} & set(listed), listed
        assert listed["Description"] == "d"
        got = root.iam.get_user(UserName=name)["User"]
        assert got["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary and got["Tags"]
        listed = [u for u in root.iam.list_users()["Users"] if u["UserName"] == name][0]
        assert not {"PermissionsBoundary", "Tags"} & set(listed), listed
    finally:
        root.iam.delete_role(RoleName=role)
        root.iam.delete_user(UserName=name)


def test_create_policy_returns_its_description_and_no_empty_tags(root):
    name = uniq("p")
    policy = root.iam.create_policy(PolicyName=name, PolicyDocument=policy_doc(allow("s3:*")),
                                    Description="what it is for")["Policy"]
    try:
        assert policy["Description"] == "what it is for"
        assert "Tags" not in policy
        assert "Tags" not in root.iam.create_user(UserName=name)["User"]
        root.iam.delete_user(UserName=name)
    finally:
        root.iam.delete_policy(PolicyArn=policy["Arn"])


def test_tag_validation_names_each_member_as_aws_does(root, user):
    """AWS reports every failed constraint of a request in one ValidationError, each at its member
    path (`tags.2.member.key`)."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam_lax.tag_user(UserName=user.name, Tags=[{"Key": "ok", "Value": "1"}, {"Key": "a*b", "Value": "1"},
                                                        {"Key": "k", "Value": "v" * 257}])
    error = _error(e)
    assert error["Code"] == "ValidationError"
    assert error["Message"].startswith("2 validation errors detected: Value 'a*b' at 'tags.2.member.key' failed to "
                                       "satisfy constraint: Member must satisfy regular expression pattern: "), error
    assert "; Value '" + "v" * 257 + "' at 'tags.3.member.value' failed to satisfy constraint: Member must have " \
           "length less than or equal to 256" in error["Message"], error


def test_several_missing_parameters_are_one_validation_error(server):
    """AWS names every missing required member in one message."""
    status, _, body = server.signed({"Action": "AddUserToGroup", "Version": IAM_VERSION}, service="iam")
    code, message = xml_error(body)
    assert (status, code) == (400, "ValidationError")
    assert message == ("2 validation errors detected: Value null at 'groupName' failed to satisfy constraint: "
                       "Member must not be null; Value null at 'userName' failed to satisfy constraint: "
                       "Member must not be null"), message
