"""AWS's answers, exactly (issue 14, item 3): error messages in AWS's own words with Tessera's
detail in extra `<Error>` elements, the account root acting on itself, and response members as
AWS returns them. Each AWS wording asserted here is listed with its source in
crates/tessera-policy/tests/data/malformed.json ("aws" of each case) or the docstrings below.
"""

import datetime
import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import botocore.exceptions
import pytest

from tessera_compat import IAM_VERSION, Server, allow, policy_doc, uniq, xml_error

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


def _poll(fn, done, what, seconds=15):
    """`fn()` until `done(result)`, or fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = fn()
        if done(result):
            return result
        assert time.monotonic() < deadline, f"{what}: {result}"
        time.sleep(0.1)


def test_root_access_key_last_used_names_the_root(root, server, user):
    """GetAccessKeyLastUsed on a root access key: "UserName" is the owner, the root (AWS's member
    requires a name matching [\\w+=,.@-]+; Tessera answers `root`), and the key's last use. An IAM
    user asks about it on the root's ARN, so without a grant it is denied."""
    got = _poll(lambda: root.iam.get_access_key_last_used(AccessKeyId=server.root_key_id),
                lambda r: "LastUsedDate" in r["AccessKeyLastUsed"], "the root key's use is recorded")
    assert got["UserName"] == "root"
    assert got["AccessKeyLastUsed"]["ServiceName"] in ("iam", "sts")
    assert got["AccessKeyLastUsed"]["Region"] == "us-east-1"
    cli = root.aws("iam", "get-access-key-last-used", "--access-key-id", server.root_key_id)
    assert cli["UserName"] == "root"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.iam.get_access_key_last_used(AccessKeyId=server.root_key_id)
    assert _error(e)["Code"] == "AccessDenied"
    assert f"arn:aws:iam::{got_account(root)}:root" in _error(e)["Message"]


def got_account(root):
    return root.sts.get_caller_identity()["Account"]


def test_root_without_a_console_password_has_no_login_profile(root):
    """GetLoginProfile by the root without UserName acts on the root: with no console password
    set (the session's server has none), `NoSuchEntity` as for a user without one."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam.get_login_profile()
    assert _error(e)["Code"] == "NoSuchEntity"
    assert _error(e)["Message"] == "Login Profile for User root cannot be found."
    p = root.aws("iam", "get-login-profile", check=False)
    assert p.returncode != 0 and "NoSuchEntity" in p.stderr


def test_root_login_profile_is_its_console_password(tmp_path):
    """With a console password (`TESSERA_ROOT_PASSWORD` at first start), GetLoginProfile by the
    root without UserName answers it: UserName `root` (inferred, as for GetAccessKeyLastUsed), its
    date, no reset required. A server of its own, since the session's has no root password."""
    repo = Path(__file__).resolve().parent.parent
    bin_path = Path(os.environ.get("TESSERA_BIN", repo / "target" / "debug" / "tessera"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env["TESSERA_ROOT_PASSWORD"] = "Root-Console-Passw0rd!"
    ports = []
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    data = tmp_path / "data"
    with open(tmp_path / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [str(bin_path), "serve", "--data-dir", str(data), "--http-addr", f"127.0.0.1:{ports[0]}",
             "--grpc-addr", f"127.0.0.1:{ports[1]}"], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{ports[0]}"
    try:
        def ready():
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False
        _poll(ready, bool, "the server is ready", seconds=30)
        creds = json.loads((data / "root-credentials.json").read_text())
        own = Server(url, creds["AccessKeyId"], creds["SecretAccessKey"], tmp_path)
        me = own.principal(own.root_key_id, own.root_secret)
        profile = me.iam.get_login_profile()["LoginProfile"]
        assert profile["UserName"] == "root" and profile["PasswordResetRequired"] is False
        assert profile["CreateDate"]
        assert me.aws("iam", "get-login-profile")["LoginProfile"]["UserName"] == "root"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_root_deactivates_only_its_own_mfa_devices(root, user):
    """DeactivateMFADevice by the root without UserName acts on the root's own devices: a user's
    device is not the root's (`NoSuchEntity`), and stays assigned to the user."""
    serial = root.iam.create_virtual_mfa_device(VirtualMFADeviceName=uniq("mfa"))["VirtualMFADevice"]["SerialNumber"]
    try:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            root.iam.deactivate_mfa_device(SerialNumber=serial)
        assert _error(e)["Code"] == "NoSuchEntity"
        assert _error(e)["Message"] == f"MFA device with serial number {serial} is not enabled for user root."
        # A user without the parameter is still itself (not the root).
        root.iam.put_user_policy(UserName=user.name, PolicyName="mfa",
                                 PolicyDocument=policy_doc(allow("iam:DeactivateMFADevice")))
        with pytest.raises(botocore.exceptions.ClientError) as e:
            user.iam.deactivate_mfa_device(SerialNumber=serial)
        assert _error(e)["Message"] == f"MFA device with serial number {serial} is not enabled for user {user.name}."
    finally:
        root.iam.delete_virtual_mfa_device(SerialNumber=serial)


def test_credential_report_root_row_has_the_roots_keys(root, server):
    """The `<root_account>` row reports the root's access keys like a user's row (active, last
    rotated, last used date/region/service), and GetAccountSummary says root keys are present."""
    _poll(lambda: root.iam.get_access_key_last_used(AccessKeyId=server.root_key_id),
          lambda r: "LastUsedDate" in r["AccessKeyLastUsed"], "the root key's use is recorded")
    keys = [k for k in root.iam.list_access_keys()["AccessKeyMetadata"] if k["Status"] == "Active"]
    assert keys
    _poll(root.iam.generate_credential_report, lambda r: r["State"] == "COMPLETE", "the report is generated")
    csv = root.iam.get_credential_report()["Content"].decode()
    header, *rows = [line.split(",") for line in csv.splitlines()]
    row = dict(zip(header, [r for r in rows if r[0] == "<root_account>"][0]))
    assert row["arn"] == f"arn:aws:iam::{got_account(root)}:root"
    assert row["password_enabled"] == "not_supported" and row["mfa_active"] == "false"
    assert row["access_key_1_active"] == "true"
    assert row["access_key_1_last_rotated"].endswith("+00:00")
    # The report may be one generated earlier in the session (reused for four hours), before
    # this key's use was recorded; its columns are consistent either way.
    if row["access_key_1_last_used_date"] != "N/A":
        assert row["access_key_1_last_used_region"] == "us-east-1"
        assert row["access_key_1_last_used_service"] in ("iam", "sts")
    assert root.iam.get_account_summary()["SummaryMap"]["AccountAccessKeysPresent"] == 1


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


def test_role_last_used_is_when_and_where_a_session_last_made_a_request(root, user, account_id):
    """GetRole's `RoleLastUsed` is empty for an unused role; after a session of the role makes a
    request it has `LastUsedDate` and `Region` ("the date and time, in ISO 8601 date-time format,
    that the role was last used ... the name of the Amazon Web Services Region in which the role
    was last used", API reference RoleLastUsed). Recorded in the background, so polled."""
    role = uniq("r")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "sts:AssumeRole"}]})
    root.iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    try:
        assert root.iam.get_role(RoleName=role)["Role"]["RoleLastUsed"] == {}
        _let_assume(root, user)
        creds = user.sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role}",
                                     RoleSessionName="s1")["Credentials"]
        before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        root.with_credentials(creds).sts.get_caller_identity()
        deadline = time.monotonic() + 10
        while True:
            used = root.iam.get_role(RoleName=role)["Role"]["RoleLastUsed"]
            if used or time.monotonic() > deadline:
                break
        assert set(used) == {"LastUsedDate", "Region"}, used
        assert used["Region"] == root.iam.meta.region_name
        assert before - datetime.timedelta(seconds=5) <= used["LastUsedDate"], (before, used)
        pages = root.iam.get_paginator("get_account_authorization_details").paginate(Filter=["Role"])
        details = [r for page in pages for r in page["RoleDetailList"]]
        assert [r["RoleLastUsed"] for r in details if r["RoleName"] == role] == [used]
    finally:
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


def test_group_users_and_instance_profile_roles_are_the_short_shapes(root, server):
    """AWS's documented GetGroup example lists users with Path, UserName, UserId, Arn and
    CreateDate only, and its GetInstanceProfile example lists the role with Path, RoleName, RoleId,
    Arn, CreateDate and the (URL-encoded) AssumeRolePolicyDocument only: no PermissionsBoundary,
    Tags, Description, MaxSessionDuration or RoleLastUsed, which GetUser and GetRole return."""
    boundary = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    group, name, role, profile = uniq("g"), uniq("u"), uniq("r"), uniq("ip")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    root.iam.create_group(GroupName=group)
    root.iam.create_user(UserName=name, PermissionsBoundary=boundary, Tags=[{"Key": "k", "Value": "v"}])
    root.iam.add_user_to_group(GroupName=group, UserName=name)
    root.iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust), PermissionsBoundary=boundary,
                         Tags=[{"Key": "k", "Value": "v"}], Description="d")
    root.iam.create_instance_profile(InstanceProfileName=profile)
    root.iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    try:
        users = root.iam.get_group(GroupName=group)["Users"]
        assert [u["UserName"] for u in users] == [name]
        assert set(users[0]) == {"Path", "UserName", "UserId", "Arn", "CreateDate"}, users[0]
        short = {"Path", "RoleName", "RoleId", "Arn", "CreateDate", "AssumeRolePolicyDocument"}
        shown = [
            root.iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"],
            [p for p in root.iam.list_instance_profiles()["InstanceProfiles"] if p["InstanceProfileName"] == profile][0],
            root.iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"][0],
        ]
        for p in shown:
            [member] = p["Roles"]
            assert set(member) == short, member
            # botocore un-quotes and parses the URL-encoded document.
            assert member["AssumeRolePolicyDocument"] == trust
        cli = root.aws("iam", "get-instance-profile", "--instance-profile-name", profile)["InstanceProfile"]
        assert set(cli["Roles"][0]) == short
        assert _raw_roles_document_is_url_encoded(server, profile)
    finally:
        root.iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=role)
        root.iam.delete_instance_profile(InstanceProfileName=profile)
        root.iam.delete_role(RoleName=role)
        root.iam.remove_user_from_group(GroupName=group, UserName=name)
        root.iam.delete_user(UserName=name)
        root.iam.delete_group(GroupName=group)


def _raw_roles_document_is_url_encoded(server, profile):
    """The document on the wire, before botocore decodes it: URL-encoded JSON, as AWS sends it."""
    status, _, body = server.signed({"Action": "GetInstanceProfile", "Version": IAM_VERSION,
                                     "InstanceProfileName": profile}, service="iam")
    assert status == 200, body
    body = body.decode()
    start = body.index("<AssumeRolePolicyDocument>") + len("<AssumeRolePolicyDocument>")
    raw = body[start:body.index("</AssumeRolePolicyDocument>")]
    return raw.startswith("%7B") and "{" not in raw


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
