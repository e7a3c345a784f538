"""IAM users and access keys through boto3 and through the `aws` CLI."""

import datetime
import time

import pytest
from botocore.exceptions import ClientError

from tessera_compat import assert_error, uniq


def test_user_lifecycle(root, account_id):
    iam = root.iam
    name = uniq("alice")
    r = iam.create_user(UserName=name, Path="/eng/")
    u = r["User"]
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert u["UserName"] == name and u["Path"] == "/eng/"
    assert u["Arn"] == f"arn:aws:iam::{account_id}:user/eng/{name}"
    assert u["UserId"].startswith("AIDA") and len(u["UserId"]) == 21
    assert isinstance(u["CreateDate"], datetime.datetime)
    assert iam.get_user(UserName=name)["User"]["UserId"] == u["UserId"]
    # Names are unique case-insensitively.
    for dup in (name, name.upper()):
        with pytest.raises(ClientError) as e:
            iam.create_user(UserName=dup)
        assert_error(e, "EntityAlreadyExists", 409)
    listed = iam.list_users(PathPrefix="/eng/")["Users"]
    assert name in [x["UserName"] for x in listed]
    assert all(x["Path"].startswith("/eng/") for x in listed)
    assert name not in [x["UserName"] for x in iam.list_users(PathPrefix="/ops/")["Users"]]
    # Rename and move.
    new = uniq("bob")
    iam.update_user(UserName=name, NewUserName=new, NewPath="/ops/")
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=name)
    assert_error(e, "NoSuchEntity", 404)
    moved = iam.get_user(UserName=new)["User"]
    assert moved["UserId"] == u["UserId"]
    assert moved["Arn"] == f"arn:aws:iam::{account_id}:user/ops/{new}"
    iam.delete_user(UserName=new)
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=new)
    assert_error(e, "NoSuchEntity", 404)


def test_user_validation(root):
    for bad in ("has space", "bad/slash", "x" * 65, ""):
        with pytest.raises(ClientError) as e:
            root.iam_lax.create_user(UserName=bad)
        assert_error(e, "ValidationError", 400)
    with pytest.raises(ClientError) as e:
        root.iam_lax.create_user(UserName=uniq("p"), Path="no-slashes")
    assert_error(e, "ValidationError", 400)


def test_pagination(root):
    prefix = "/" + uniq("page") + "/"
    names = sorted(uniq("pg") for _ in range(3))
    for n in names:
        root.iam.create_user(UserName=n, Path=prefix)
    seen, marker = [], None
    while True:
        kw = {"Marker": marker} if marker else {}
        r = root.iam.list_users(PathPrefix=prefix, MaxItems=2, **kw)
        assert len(r["Users"]) <= 2
        seen += [x["UserName"] for x in r["Users"]]
        if not r["IsTruncated"]:
            break
        marker = r["Marker"]
    assert sorted(seen) == names
    paginated = [u["UserName"] for page in root.iam.get_paginator("list_users").paginate(
        PathPrefix=prefix, PaginationConfig={"PageSize": 1}) for u in page["Users"]]
    assert sorted(paginated) == names
    for n in names:
        root.iam.delete_user(UserName=n)


def test_access_keys(root, account_id):
    iam = root.iam
    name = uniq("keys")
    iam.create_user(UserName=name)
    k1 = iam.create_access_key(UserName=name)["AccessKey"]
    assert k1["UserName"] == name and k1["Status"] == "Active"
    assert k1["AccessKeyId"].startswith("AKIA") and len(k1["AccessKeyId"]) == 20
    assert len(k1["SecretAccessKey"]) == 40
    k2 = iam.create_access_key(UserName=name)["AccessKey"]
    with pytest.raises(ClientError) as e:
        iam.create_access_key(UserName=name)
    assert_error(e, "LimitExceeded", 409)
    meta = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert sorted(m["AccessKeyId"] for m in meta) == sorted([k1["AccessKeyId"], k2["AccessKeyId"]])
    assert all("SecretAccessKey" not in m and m["Status"] == "Active" for m in meta)

    # Last-used: N/A before any use, then the service that was called.
    lu = iam.get_access_key_last_used(AccessKeyId=k1["AccessKeyId"])
    assert lu["UserName"] == name
    assert lu["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    assert "LastUsedDate" not in lu["AccessKeyLastUsed"]
    p = root.server.principal(k1["AccessKeyId"], k1["SecretAccessKey"])
    assert p.sts.get_caller_identity()["Arn"].endswith(f":user/{name}")

    # Inactive keys stop authenticating; reactivated keys work again.
    iam.update_access_key(UserName=name, AccessKeyId=k1["AccessKeyId"], Status="Inactive")
    assert {m["AccessKeyId"]: m["Status"] for m in iam.list_access_keys(UserName=name)[
        "AccessKeyMetadata"]}[k1["AccessKeyId"]] == "Inactive"
    fresh = root.server.principal(k1["AccessKeyId"], k1["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        fresh.sts.get_caller_identity()
    assert_error(e, "InvalidClientTokenId", 403)
    iam.update_access_key(UserName=name, AccessKeyId=k1["AccessKeyId"], Status="Active")
    assert fresh.sts.get_caller_identity()["Account"] == account_id

    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=name)
    assert_error(e, "DeleteConflict", 409)
    with pytest.raises(ClientError) as e:
        iam.delete_access_key(UserName=name, AccessKeyId="AKIAIOSFODNN7EXAMPLE")
    assert_error(e, "NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.update_access_key(UserName=name, AccessKeyId=k1["AccessKeyId"], Status="Bogus")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    for k in (k1, k2):
        iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
    with pytest.raises(ClientError) as e:
        fresh.sts.get_caller_identity()
    assert_error(e, "InvalidClientTokenId", 403)
    iam.delete_user(UserName=name)
    with pytest.raises(ClientError) as e:
        iam.list_access_keys(UserName=name)
    assert_error(e, "NoSuchEntity", 404)


def test_access_key_last_used_is_recorded(root, user):
    user.sts.get_caller_identity()
    deadline = time.monotonic() + 3
    while True:
        lu = root.iam.get_access_key_last_used(AccessKeyId=user.key_id)["AccessKeyLastUsed"]
        if lu["ServiceName"] != "N/A" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert lu["ServiceName"] == "sts" and lu["Region"] == "us-east-1" and "LastUsedDate" in lu


def test_keys_of_missing_user(root):
    with pytest.raises(ClientError) as e:
        root.iam.create_access_key(UserName=uniq("ghost"))
    assert_error(e, "NoSuchEntity", 404)


def test_cli_users_and_keys(root, account_id):
    name = uniq("cli")
    out = root.aws("iam", "create-user", "--user-name", name)
    assert out["User"]["UserName"] == name
    assert out["User"]["Arn"] == f"arn:aws:iam::{account_id}:user/{name}"
    users = root.aws("iam", "list-users")["Users"]
    assert name in [u["UserName"] for u in users]
    key = root.aws("iam", "create-access-key", "--user-name", name)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA")
    # The new key works from the CLI, too.
    user = root.server.principal(key["AccessKeyId"], key["SecretAccessKey"])
    ident = user.aws("sts", "get-caller-identity")
    assert ident["Arn"] == f"arn:aws:iam::{account_id}:user/{name}"
    # A user with a key cannot be deleted: DeleteConflict (409).
    p = root.aws("iam", "delete-user", "--user-name", name, check=False)
    assert p.returncode != 0
    assert "DeleteConflict" in p.stderr, p.stderr
    root.aws("iam", "delete-access-key", "--user-name", name, "--access-key-id",
             key["AccessKeyId"])
    root.aws("iam", "delete-user", "--user-name", name)
    p = root.aws("iam", "get-user", "--user-name", name, check=False)
    assert p.returncode != 0 and "NoSuchEntity" in p.stderr
