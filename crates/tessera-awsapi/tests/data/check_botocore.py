#!/usr/bin/env python3
"""Parses every fixture in this directory with botocore's Query parser and the real IAM/STS
output shapes, and compares the result with what a boto3 user would get.

Run by `tests/fixtures.rs` when python3 can import botocore (checked with botocore 1.43.11).
It also applies botocore's IAM `after-call` handler that URL-decodes and JSON-parses policy
documents, so the encoded documents are checked the way boto3 reads them.
"""

import datetime
import json
import os
import sys

import botocore.session
from botocore.handlers import json_decode_policies
from botocore.parsers import QueryParser

HERE = os.path.dirname(os.path.abspath(__file__))
REQUEST_ID = "c6104cbe-af31-41e0-8154-cbc7ccf896c7"
UTC = datetime.timezone.utc
NOV_23 = datetime.datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
HOUR = datetime.timedelta(hours=1)

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Home & <away>",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": "arn:aws:s3:::bucket/home/${aws:username}/*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "données+ü"}},
        }
    ],
}
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def user(name, uid, full=False):
    out = {
        "Path": "/division_abc/",
        "UserName": name,
        "UserId": uid,
        "Arn": f"arn:aws:iam::123456789012:user/division_abc/{name}",
        "CreateDate": NOV_23,
    }
    if full:
        out["PasswordLastUsed"] = NOV_23 + HOUR
        out["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/Boundary",
        }
        out["Tags"] = [{"Key": "team", "Value": "a&b <c>"}, {"Key": "empty", "Value": ""}]
    return out


# fixture -> (service, operation, HTTP status, expected parse without ResponseMetadata)
CASES = {
    "get_user": ("iam", "GetUser", 200, {"User": user("alice", "AIDACKCEVSQ6C2EXAMPLE", full=True)}),
    "list_users": (
        "iam",
        "ListUsers",
        200,
        {
            "Users": [user("alice", "AIDACKCEVSQ6C2EXAMPLE"), user("bob", "AIDAIOSFODNN7EXAMPLE")],
            "IsTruncated": True,
            "Marker": "bob+1/==",
        },
    ),
    "list_users_empty": ("iam", "ListUsers", 200, {"Users": [], "IsTruncated": False}),
    "create_access_key": (
        "iam",
        "CreateAccessKey",
        200,
        {
            "AccessKey": {
                "UserName": "alice",
                "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
                "Status": "Active",
                "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
                "CreateDate": NOV_23,
            }
        },
    ),
    "get_role_policy": (
        "iam",
        "GetRolePolicy",
        200,
        {"RoleName": "Deployer", "PolicyName": "S3Home", "PolicyDocument": POLICY},
    ),
    "get_role": (
        "iam",
        "GetRole",
        200,
        {
            "Role": {
                "Path": "/service-role/",
                "RoleName": "Deployer",
                "RoleId": "AROADBQP57FF2AEXAMPLE",
                "Arn": "arn:aws:iam::123456789012:role/service-role/Deployer",
                "CreateDate": NOV_23,
                "AssumeRolePolicyDocument": TRUST_POLICY,
                "Description": 'Deploys <things> & "stuff"',
                "MaxSessionDuration": 43200,
                "Tags": [{"Key": "env", "Value": "prod"}],
                "RoleLastUsed": {
                    "LastUsedDate": NOV_23 + datetime.timedelta(minutes=1),
                    "Region": "eu-west-1",
                },
            }
        },
    ),
    "assume_role": (
        "sts",
        "AssumeRole",
        200,
        {
            "Credentials": {
                "AccessKeyId": "ASIAIOSFODNN7EXAMPLE",
                "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
                "SessionToken": "FwoGZXIvYXdzEBYaDEXAMPLETOKEN+/=",
                "Expiration": NOV_23 + HOUR,
            },
            "AssumedRoleUser": {
                "AssumedRoleId": "AROADBQP57FF2AEXAMPLE:s1",
                "Arn": "arn:aws:sts::123456789012:assumed-role/Deployer/s1",
            },
            "PackedPolicySize": 8,
            "SourceIdentity": "alice@example.com",
        },
    ),
    "get_caller_identity": (
        "sts",
        "GetCallerIdentity",
        200,
        {
            "UserId": "AIDACKCEVSQ6C2EXAMPLE",
            "Account": "123456789012",
            "Arn": "arn:aws:iam::123456789012:user/division_abc/alice",
        },
    ),
    "get_context_keys": (
        "iam",
        "GetContextKeysForCustomPolicy",
        200,
        {"ContextKeyNames": ["aws:username", "aws:PrincipalTag/team"]},
    ),
    "delete_user": ("iam", "DeleteUser", 200, {}),
    "error_no_such_entity": (
        "iam",
        "GetUser",
        404,
        {"Error": {"Type": "Sender", "Code": "NoSuchEntity", "Message": "The user with name <bob> cannot be found."}},
    ),
    "error_service_failure": (
        "iam",
        "GetUser",
        500,
        {"Error": {"Type": "Receiver", "Code": "ServiceFailure", "Message": "Try again."}},
    ),
    "error_invalid_action": (
        "sts",
        "AssumeRole",
        400,
        {
            "Error": {
                "Type": "Sender",
                "Code": "InvalidAction",
                "Message": "Could not find operation AssumeRole for version NO_VERSION_SPECIFIED",
            }
        },
    ),
    "error_malformed_input": (
        "sts",
        "AssumeRole",
        400,
        # No <Message> element, as AWS sends it; botocore's ClientError then shows "Unknown".
        {"Error": {"Type": "Sender", "Code": "MalformedInput"}},
    ),
}


def main():
    session = botocore.session.get_session()
    models = {name: session.get_service_model(name) for name in ("iam", "sts")}
    parser = QueryParser()
    failures = []
    fixtures = sorted(f[:-4] for f in os.listdir(HERE) if f.endswith(".xml"))
    if set(fixtures) != set(CASES):
        failures.append(f"fixtures {fixtures} do not match the cases {sorted(CASES)}")
    for name, (service, operation, status, expected) in sorted(CASES.items()):
        with open(os.path.join(HERE, name + ".xml"), "rb") as f:
            body = f.read()
        model = models[service].operation_model(operation)
        parsed = parser.parse({"body": body, "headers": {}, "status_code": status}, model.output_shape)
        if service == "iam" and status == 200:
            json_decode_policies(parsed, model)
        metadata = parsed.pop("ResponseMetadata", {})
        if metadata.get("RequestId") != REQUEST_ID:
            failures.append(f"{name}: request id {metadata!r}")
        if parsed != expected:
            failures.append(f"{name}:\n  got      {parsed!r}\n  expected {expected!r}")
        else:
            print(f"{name}: ok")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
