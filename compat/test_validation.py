"""Model validation (issue 14, item 3): every IAM and STS parameter is checked against the
constraints of botocore's models (required, length, pattern, numeric range, enum) before the
operation runs, and every failure of a request is named in one `ValidationError`, in AWS's words:
"1 validation error detected: Value 'x' at 'userName' failed to satisfy constraint: Member must
satisfy regular expression pattern: [\\w+=,.@-]+", or "N validation errors detected: ...; ...".

The `_lax` clients skip botocore's own parameter validation (which checks required members and
minimums client-side), so that the request reaches the server as a hand-written one would.
"""

import json
import subprocess
import sys
from pathlib import Path

import botocore.exceptions
import pytest

from tessera_compat import allow, policy_doc, uniq

REPO = Path(__file__).resolve().parent.parent
NAME = r"[\w+=,.@-]+"
PATH = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)"


def _error(excinfo):
    return excinfo.value.response["Error"]


def _validation(excinfo):
    error = _error(excinfo)
    assert error["Code"] == "ValidationError", error
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Message"]


def test_the_table_matches_the_model_in_this_environment():
    """The generated table (crates/tessera-awsapi/src/constraints.rs) is what the generator makes
    from the botocore installed here, the version compat/requirements.txt pins."""
    script = REPO / "scripts" / "gen-validation-table.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_pattern_failure(root):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam.create_user(UserName="bad name")
    assert _validation(e) == (
        "1 validation error detected: Value 'bad name' at 'userName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME}"
    )


def test_a_length_failure_on_a_read(root):
    long = "r" * 65
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam.get_role(RoleName=long)
    assert _validation(e) == (
        f"1 validation error detected: Value '{long}' at 'roleName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64"
    )
    # The same through the CLI.
    out = root.aws("iam", "get-role", "--role-name", long, check=False)
    assert out.returncode != 0 and "Member must have length less than or equal to 64" in out.stderr
    # The model lets an existing user's name be longer than a new one's (128, not 64).
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam.get_user(UserName="u" * 128)
    assert _error(e)["Code"] == "NoSuchEntity"


def test_two_failures_are_one_message_in_model_order(root):
    """CreateUser's members are Path, UserName, ...: the path's clause comes first."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam.create_user(UserName="bad name", Path="nope")
    assert _validation(e) == (
        "2 validation errors detected: "
        f"Value 'nope' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: {PATH}; "
        f"Value 'bad name' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: {NAME}"
    )


def test_one_member_breaking_two_constraints(root):
    value = "a b" * 30
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam.create_role(RoleName=value, AssumeRolePolicyDocument=policy_doc(allow("sts:AssumeRole")))
    assert _validation(e) == (
        f"2 validation errors detected: Value '{value}' at 'roleName' failed to satisfy constraint: "
        f"Member must have length less than or equal to 64; Value '{value}' at 'roleName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {NAME}"
    )


def test_a_missing_member_joins_the_other_failures(root):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam_lax.put_user_policy(UserName="a b", PolicyName="p")
    assert _validation(e) == (
        "2 validation errors detected: "
        f"Value 'a b' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: {NAME}; "
        "Value null at 'policyDocument' failed to satisfy constraint: Member must not be null"
    )


def test_ranges_and_enums(root):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam_lax.list_users(MaxItems=0)
    assert _validation(e) == (
        "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam.list_policies(Scope="Everything", MaxItems=1001)
    assert _validation(e) == (
        "2 validation errors detected: "
        "Value 'Everything' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]; "
        "Value '1001' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000"
    )


def test_sts_parameters(root, account_id):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.sts_lax.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/nobody", RoleSessionName="bad name",
                                 DurationSeconds=899)
    assert _validation(e) == (
        "2 validation errors detected: "
        r"Value 'bad name' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*; "
        "Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
    )


def test_passwords_are_never_echoed(root):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam_lax.change_password(OldPassword="old\x01secret", NewPassword="n" * 129)
    message = _validation(e)
    assert "secret" not in message and "nnnn" not in message
    assert message == (
        "2 validation errors detected: Value at 'oldPassword' failed to satisfy constraint: Member must satisfy "
        r"regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+; Value at 'newPassword' failed to satisfy "
        "constraint: Member must have length less than or equal to 128"
    )


def test_validation_comes_before_existence(root):
    """EntityAlreadyExists (and NoSuchEntity) come after the request is found valid."""
    name = uniq("val-u")
    root.iam.create_user(UserName=name)
    try:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            root.iam.create_user(UserName=name, Path="no-slashes")
        assert f"Value 'no-slashes' at 'path'" in _validation(e)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            root.iam.create_user(UserName=name)
        assert _error(e)["Code"] == "EntityAlreadyExists"
    finally:
        root.iam.delete_user(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam.delete_user(UserName="no such user!")
    assert _error(e)["Code"] == "ValidationError"


def _document(chars):
    """A managed-policy document with `chars` non-whitespace characters."""
    base = policy_doc(allow("s3:GetObject", Sid="S"))
    compact = json.dumps(json.loads(base), separators=(",", ":"))
    pad = chars - len(compact)
    assert pad >= 0
    doc = json.loads(compact)
    doc["Statement"][0]["Sid"] = "S" + "x" * pad
    text = json.dumps(doc, separators=(",", ":"))
    assert len(text) == chars
    return text


def test_create_policy_size_quota(root):
    """Managed policies: at most 6,144 characters not counting whitespace (LimitExceeded, "Cannot
    exceed quota for PolicySize: 6144"); the model's own length limit (131,072) is far above."""
    name = uniq("val-p")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam.create_policy(PolicyName=name, PolicyDocument=_document(6145))
    assert _error(e)["Code"] == "LimitExceeded"
    assert _error(e)["Message"] == "Cannot exceed quota for PolicySize: 6144"
    # Whitespace does not count.
    spaced = _document(6144).replace(",", ",   ")
    assert len(spaced) > 6144
    arn = root.iam.create_policy(PolicyName=name, PolicyDocument=spaced)["Policy"]["Arn"]
    root.iam.delete_policy(PolicyArn=arn)
    # A parameter failing validation is reported before the quota.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.iam.create_policy(PolicyName="bad name", PolicyDocument=_document(6145), Path="x")
    assert _validation(e) == (
        "2 validation errors detected: "
        f"Value 'bad name' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: {NAME}; "
        r"Value 'x' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: ((/[A-Za-z0-9\.,\+@=_-]+)*)/"
    )
