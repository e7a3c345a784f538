"""IAM Access Analyzer's policy operations through boto3's `accessanalyzer` client (restJson1,
signed for `access-analyzer`): ValidatePolicy, CheckNoNewAccess, CheckAccessNotGranted and
CheckNoPublicAccess, authorized as `access-analyzer:<Operation>` like any other action."""

import json

import pytest
from botocore.exceptions import ClientError

from tessera_compat import allow, assert_error, policy_doc


def analyzer(principal):
    return principal.client("accessanalyzer")


def test_validate_policy_findings_and_pages(root):
    aa = analyzer(root)
    doc = policy_doc(allow("iam:PassRole"), allow(["s3:Get*", "s3:GetObject"]))
    findings = aa.validate_policy(policyDocument=doc, policyType="IDENTITY_POLICY")["findings"]
    codes = {f["issueCode"] for f in findings}
    assert {"PASS_ROLE_WITH_STAR_IN_RESOURCE", "REDUNDANT_ACTION"} <= codes, findings
    passrole = next(f for f in findings if f["issueCode"] == "PASS_ROLE_WITH_STAR_IN_RESOURCE")
    assert passrole["findingType"] == "SECURITY_WARNING"
    assert passrole["learnMoreLink"].startswith("https://docs.aws.amazon.com/IAM/")
    path = passrole["locations"][0]["path"]
    assert path[0] == {"value": "Statement"} and path[1] == {"index": 0}
    span = passrole["locations"][0]["span"]
    assert span["start"]["offset"] < span["end"]["offset"]
    # The paginator follows nextToken.
    pages = aa.get_paginator("validate_policy").paginate(
        policyDocument=doc, policyType="IDENTITY_POLICY", PaginationConfig={"PageSize": 1})
    paged = [f["issueCode"] for page in pages for f in page["findings"]]
    assert sorted(paged) == sorted(f["issueCode"] for f in findings)
    clean = policy_doc(allow("s3:GetObject", "arn:aws:s3:::docs/*"))
    assert aa.validate_policy(policyDocument=clean, policyType="IDENTITY_POLICY")["findings"] == []


def test_check_no_new_access(root):
    aa = analyzer(root)
    existing = policy_doc(allow("s3:Get*"))
    narrower = policy_doc(allow("s3:GetObject", "arn:aws:s3:::docs/*"))
    wider = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Everything", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    ok = aa.check_no_new_access(newPolicyDocument=narrower, existingPolicyDocument=existing,
                                policyType="IDENTITY_POLICY")
    assert ok["result"] == "PASS"
    bad = aa.check_no_new_access(newPolicyDocument=wider, existingPolicyDocument=existing,
                                 policyType="IDENTITY_POLICY")
    assert bad["result"] == "FAIL"
    assert bad["reasons"][0]["statementIndex"] == 0
    assert bad["reasons"][0]["statementId"] == "Everything"


def test_check_access_not_granted(root):
    aa = analyzer(root)
    doc = policy_doc(allow(["s3:GetObject", "s3:ListBucket"]))
    ok = aa.check_access_not_granted(policyDocument=doc, access=[{"actions": ["s3:PutObject"]}],
                                     policyType="IDENTITY_POLICY")
    assert ok["result"] == "PASS"
    bad = aa.check_access_not_granted(policyDocument=doc, access=[{"actions": ["s3:Get*"]}],
                                      policyType="IDENTITY_POLICY")
    assert bad["result"] == "FAIL"


def test_check_no_public_access(root, account_id):
    aa = analyzer(root)
    open_trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
    named = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
         "Action": "sts:AssumeRole"}]})
    kind = "AWS::IAM::AssumeRolePolicyDocument"
    assert aa.check_no_public_access(policyDocument=open_trust, resourceType=kind)["result"] == "FAIL"
    assert aa.check_no_public_access(policyDocument=named, resourceType=kind)["result"] == "PASS"


def test_invalid_documents_and_unauthorized_callers_are_refused(root, user):
    aa = analyzer(root)
    with pytest.raises(ClientError) as e:
        aa.check_no_new_access(newPolicyDocument='{"Statement":', existingPolicyDocument="{}",
                               policyType="IDENTITY_POLICY")
    assert_error(e, "ValidationException", 400)
    with pytest.raises(ClientError) as e:
        analyzer(user).validate_policy(policyDocument=policy_doc(allow("s3:GetObject")),
                                       policyType="IDENTITY_POLICY")
    assert_error(e, "AccessDeniedException", 403)
    root.iam.put_user_policy(UserName=user.name, PolicyName="analyze",
                             PolicyDocument=policy_doc(allow("access-analyzer:ValidatePolicy")))
    result = analyzer(user).validate_policy(policyDocument=policy_doc(allow("s3:GetObject")),
                                            policyType="IDENTITY_POLICY")
    assert result["findings"] == []
