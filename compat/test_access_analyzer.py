"""IAM Access Analyzer's policy operations through boto3's `accessanalyzer` client (restJson1,
signed for `access-analyzer`): ValidatePolicy, CheckNoNewAccess, CheckAccessNotGranted and
CheckNoPublicAccess, authorized as `access-analyzer:<Operation>` like any other action."""

import json

import pytest
from botocore.exceptions import ClientError

from tessera_compat import allow, assert_error, policy_doc, uniq


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


def test_the_aws_cli_with_endpoint_url(root):
    """`aws accessanalyzer ... --endpoint-url` works: the CLI signs and parses the same model."""
    doc = policy_doc(allow("iam:PassRole"))
    out = root.aws("accessanalyzer", "validate-policy", "--policy-document", doc, "--policy-type", "IDENTITY_POLICY")
    assert "PASS_ROLE_WITH_STAR_IN_RESOURCE" in [f["issueCode"] for f in out["findings"]], out
    out = root.aws("accessanalyzer", "check-no-new-access", "--new-policy-document", policy_doc(allow("s3:*")),
                   "--existing-policy-document", policy_doc(allow("s3:Get*")), "--policy-type", "IDENTITY_POLICY")
    assert out["result"] == "FAIL", out
    name = uniq("cli")
    arn = root.aws("accessanalyzer", "create-analyzer", "--analyzer-name", name, "--type", "ACCOUNT_UNUSED_ACCESS")["arn"]
    assert arn.endswith(f":analyzer/{name}")
    assert "findings" in root.aws("accessanalyzer", "list-findings-v2", "--analyzer-arn", arn, "--max-items", "5")
    root.aws("accessanalyzer", "delete-analyzer", "--analyzer-name", name)


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


# -- Unused access and policy generation (issue 17) --------------------------------------------

import datetime
import time


def wait_for(fetch, ok, timeout=20):
    """`fetch()` polled until `ok(result)` holds or the deadline passes (the audit trail is
    written in the background); returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if ok(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def make_role(root, principal_arn, *statements):
    name = uniq("role")
    trust = policy_doc({"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": "sts:AssumeRole"})
    role = root.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]
    if statements:
        root.iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy_doc(*statements))
    return role


def assume(user, role):
    creds = user.sts.assume_role(RoleArn=role["Arn"], RoleSessionName="work")["Credentials"]
    return user.with_credentials(creds)


def findings_of(aa, analyzer_arn, resource, status="ACTIVE"):
    pages = aa.get_paginator("list_findings_v2").paginate(
        analyzerArn=analyzer_arn, filter={"resource": {"eq": [resource]}, "status": {"eq": [status]}})
    return [f for page in pages for f in page["findings"]]


def test_unused_access_analyzer(root, user, account_id):
    aa = analyzer(root)
    me = f"arn:aws:iam::{account_id}:user/{user.name}"
    busy = make_role(root, me, allow(["iam:ListUsers", "iam:ListRoles"]))
    idle = make_role(root, me, allow("iam:ListGroups"))
    # A user with a key and a password, neither used.
    dormant = root.new_user()
    root.iam.create_login_profile(UserName=dormant.name, Password="Unused-pa55word!")
    dormant_arn = f"arn:aws:iam::{account_id}:user/{dormant.name}"
    session = assume(user, busy)
    session.iam.list_users()

    name = uniq("unused")
    with pytest.raises(ClientError) as e:
        aa.create_analyzer(analyzerName=name, type="ACCOUNT_UNUSED_ACCESS",
                           configuration={"unusedAccess": {"unusedAccessAge": 0}})
    assert_error(e, "ValidationException", 400)
    arn = aa.create_analyzer(analyzerName=name, type="ACCOUNT_UNUSED_ACCESS",
                             configuration={"unusedAccess": {"unusedAccessAge": 1}})["arn"]
    assert arn == f"arn:aws:access-analyzer:us-east-1:{account_id}:analyzer/{name}"
    with pytest.raises(ClientError) as e:
        aa.create_analyzer(analyzerName=name, type="ACCOUNT_UNUSED_ACCESS")
    assert_error(e, "ConflictException", 409)
    got = aa.get_analyzer(analyzerName=name)["analyzer"]
    assert (got["arn"], got["type"], got["status"]) == (arn, "ACCOUNT_UNUSED_ACCESS", "ACTIVE")
    assert got["configuration"]["unusedAccess"]["unusedAccessAge"] == 1
    assert arn in [a["arn"] for a in aa.list_analyzers(type="ACCOUNT_UNUSED_ACCESS")["analyzers"]]

    # The busy role: used (no UnusedIAMRole), ListRoles granted and never called.
    def busy_findings():
        return findings_of(aa, arn, busy["Arn"])

    def busy_ok(found):
        if not found or any(f["findingType"] == "UnusedIAMRole" for f in found):
            return False
        perm = [f for f in found if f["findingType"] == "UnusedPermission"]
        if not perm:
            return False
        detail = aa.get_finding_v2(analyzerArn=arn, id=perm[0]["id"])["findingDetails"][0]
        return "iam:ListUsers" not in [a["action"] for a in detail["unusedPermissionDetails"]["actions"]]

    found = wait_for(busy_findings, busy_ok)
    assert busy_ok(found), found
    perm = next(f for f in found if f["findingType"] == "UnusedPermission")
    assert (perm["resourceType"], perm["resourceOwnerAccount"], perm["status"]) == \
        ("AWS::IAM::Role", account_id, "ACTIVE")
    finding = aa.get_finding_v2(analyzerArn=arn, id=perm["id"])
    details = finding["findingDetails"][0]["unusedPermissionDetails"]
    assert details["serviceNamespace"] == "iam"
    assert [a["action"] for a in details["actions"]] == ["iam:ListRoles"]
    # Last use of the service is the session's ListUsers, with its timestamp.
    assert isinstance(details["lastAccessed"], datetime.datetime)

    # The idle role: never used, so UnusedIAMRole without a last access, and its permission.
    idle_found = findings_of(aa, arn, idle["Arn"])
    role_finding = next(f for f in idle_found if f["findingType"] == "UnusedIAMRole")
    detail = aa.get_finding_v2(analyzerArn=arn, id=role_finding["id"])["findingDetails"][0]
    assert detail == {"unusedIamRoleDetails": {}}

    # The dormant user: its key and its password.
    user_found = findings_of(aa, arn, dormant_arn)
    kinds = {f["findingType"]: f for f in user_found}
    assert {"UnusedIAMUserAccessKey", "UnusedIAMUserPassword"} <= set(kinds), user_found
    key = aa.get_finding_v2(analyzerArn=arn, id=kinds["UnusedIAMUserAccessKey"]["id"])["findingDetails"][0]
    assert key == {"unusedIamUserAccessKeyDetails": {"accessKeyId": dormant.key_id}}
    password = aa.get_finding_v2(analyzerArn=arn, id=kinds["UnusedIAMUserPassword"]["id"])
    assert password["findingDetails"] == [{"unusedIamUserPasswordDetails": {}}]
    assert password["resourceType"] == "AWS::IAM::User"
    # The user whose key assumed the role used it: no key finding for it.
    mine = findings_of(aa, arn, me)
    assert not [f for f in mine if f["findingType"] == "UnusedIAMUserAccessKey"], mine

    # Statistics count by type.
    stats = aa.get_findings_statistics(analyzerArn=arn)["findingsStatistics"][0]["unusedAccessFindingsStatistics"]
    by_type = {s["unusedAccessType"]: s["total"] for s in stats["unusedAccessTypeStatistics"]}
    assert by_type["UnusedIAMRole"] >= 1 and by_type["UnusedIAMUserPassword"] >= 1
    assert stats["totalActiveFindings"] == sum(by_type.values())

    # Archive the idle role's finding, find it archived, bring it back.
    aa.update_findings(analyzerArn=arn, ids=[role_finding["id"]], status="ARCHIVED")
    archived = aa.list_findings_v2(analyzerArn=arn, filter={"status": {"eq": ["ARCHIVED"]}})["findings"]
    assert [f["id"] for f in archived] == [role_finding["id"]]
    after = aa.get_findings_statistics(analyzerArn=arn)["findingsStatistics"][0]["unusedAccessFindingsStatistics"]
    assert after["totalArchivedFindings"] == 1
    aa.update_findings(analyzerArn=arn, resourceArn=idle["Arn"], status="ACTIVE")
    assert aa.list_findings_v2(analyzerArn=arn, filter={"status": {"eq": ["ARCHIVED"]}})["findings"] == []
    with pytest.raises(ClientError) as e:
        aa.get_finding_v2(analyzerArn=arn, id="00000000-0000-0000-0000-000000000000")
    assert_error(e, "ResourceNotFoundException", 404)

    # Findings whose condition stops holding are RESOLVED at the next analysis: the idle role
    # gets used, the dormant user's key is deleted, the busy role's unused permission gets
    # exercised. An archived one stays archived when its condition goes: the password's.
    aa.update_findings(analyzerArn=arn, ids=[kinds["UnusedIAMUserPassword"]["id"]], status="ARCHIVED")
    assume(user, idle).iam.list_groups()
    assume(user, busy).iam.list_roles()
    root.iam.delete_access_key(UserName=dormant.name, AccessKeyId=dormant.key_id)
    root.iam.delete_login_profile(UserName=dormant.name)
    expected = {role_finding["id"]: "RESOLVED", perm["id"]: "RESOLVED",
                kinds["UnusedIAMUserAccessKey"]["id"]: "RESOLVED", kinds["UnusedIAMUserPassword"]["id"]: "ARCHIVED"}

    def statuses():
        return {f["id"]: f["status"] for page in aa.get_paginator("list_findings_v2").paginate(analyzerArn=arn)
                for f in page["findings"] if f["id"] in expected}

    assert wait_for(statuses, lambda found: found == expected) == expected
    resolved = aa.get_finding_v2(analyzerArn=arn, id=role_finding["id"])
    assert resolved["status"] == "RESOLVED" and resolved["updatedAt"] >= resolved["createdAt"]
    assert resolved["findingDetails"] == [{"unusedIamRoleDetails": {}}], "its last details are kept"
    assert all(f["findingType"] != "UnusedIAMRole" for f in findings_of(aa, arn, idle["Arn"]))
    resolved_only = aa.list_findings_v2(analyzerArn=arn, filter={"status": {"eq": ["RESOLVED"]}})["findings"]
    assert {f["id"] for f in resolved_only} >= {role_finding["id"], perm["id"]}
    stats = aa.get_findings_statistics(analyzerArn=arn)["findingsStatistics"][0]["unusedAccessFindingsStatistics"]
    assert stats["totalResolvedFindings"] >= 3 and stats["totalArchivedFindings"] == 1, stats

    # Only callers allowed access-analyzer:* may look; the request is audited as such.
    with pytest.raises(ClientError) as e:
        analyzer(user).list_findings_v2(analyzerArn=arn)
    assert_error(e, "AccessDeniedException", 403)
    aa.delete_analyzer(analyzerName=name)
    with pytest.raises(ClientError) as e:
        aa.get_analyzer(analyzerName=name)
    assert_error(e, "ResourceNotFoundException", 404)
    root.delete_user_fully(dormant.name)


def test_access_analyzer_requests_are_audited(root, user, server):
    aa = analyzer(root)
    with pytest.raises(ClientError):
        analyzer(user).list_analyzers()
    aa.list_analyzers()
    audit_dir = server.tmp / "data" / "audit"

    def events():
        lines = [line for f in sorted(audit_dir.glob("*.jsonl")) for line in f.read_text().splitlines() if line]
        return [e for e in map(json.loads, lines) if e["action"] == "access-analyzer:ListAnalyzers"]

    def ok(found):
        return {e["decision"] for e in found} >= {"allowed", "denied"}

    found = wait_for(events, ok)
    assert ok(found), found
    denied = next(e for e in found if e["decision"] == "denied")
    assert denied["principal_arn"].endswith(f":user/{user.name}")
    assert denied["error_code"] == "AccessDeniedException" and denied["status"] == 403
    assert denied["resource"] == "*"


def test_policy_generation_from_the_audit_trail(root, user, account_id):
    """A scripted workload through boto3, then the generated policy, enforced on a fresh role,
    allows every call the workload made and denies one it never made."""
    aa = analyzer(root)
    me = f"arn:aws:iam::{account_id}:user/{user.name}"
    worker = make_role(root, me, allow(["iam:Get*", "iam:List*"]))
    prefix = uniq("app")
    for suffix in ("a", "b"):
        root.iam.create_user(UserName=f"{prefix}-{suffix}")
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    session = assume(user, worker)
    workload = [
        lambda p: p.iam.get_user(UserName=f"{prefix}-a"),
        lambda p: p.iam.get_user(UserName=f"{prefix}-b"),
        lambda p: p.iam.get_role(RoleName=worker["RoleName"]),
        lambda p: p.iam.list_roles(),
    ]
    for call in workload:
        call(session)

    def generated():
        job = aa.start_policy_generation(
            policyGenerationDetails={"principalArn": worker["Arn"]},
            cloudTrailDetails={"trails": [{"cloudTrailArn": f"arn:aws:cloudtrail:us-east-1:{account_id}:trail/t",
                                           "allRegions": True}],
                               "accessRole": worker["Arn"], "startTime": start})["jobId"]
        return job, aa.get_generated_policy(jobId=job)

    def complete(result):
        policies = result[1]["generatedPolicyResult"].get("generatedPolicies", [])
        text = policies[0]["policy"] if policies else ""
        return all(a in text for a in ("iam:GetUser", "iam:GetRole", "iam:ListRoles"))

    job, result = wait_for(generated, complete)
    assert complete((job, result)), result
    assert result["jobDetails"]["status"] == "SUCCEEDED"
    assert result["generatedPolicyResult"]["properties"]["principalArn"] == worker["Arn"]
    policy = json.loads(result["generatedPolicyResult"]["generatedPolicies"][0]["policy"])
    text = json.dumps(policy)
    # The two users are generalized to the narrowest pattern covering both.
    assert f"arn:aws:iam::{account_id}:user/{prefix}-*" in text, text
    assert "iam:ListUsers" not in text and "iam:CreateUser" not in text, text

    # Enforce it: a fresh role with only the generated policy repeats the workload.
    replay = make_role(root, me)
    root.iam.put_role_policy(RoleName=replay["RoleName"], PolicyName="generated",
                             PolicyDocument=json.dumps(policy))
    replay_session = assume(user, replay)
    for call in workload:
        call(replay_session)
    with pytest.raises(ClientError) as e:
        replay_session.iam.list_users()
    assert_error(e, "AccessDenied", 403)

    # The job is listed; cancelling a finished job leaves it; an unknown job is refused.
    jobs = aa.list_policy_generations(principalArn=worker["Arn"])["policyGenerations"]
    assert job in [j["jobId"] for j in jobs]
    aa.cancel_policy_generation(jobId=job)
    assert aa.get_generated_policy(jobId=job)["jobDetails"]["status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as e:
        aa.get_generated_policy(jobId="no-such-job")
    assert_error(e, "ValidationException", 400)
    # Resource placeholders: every resource of the observed types.
    typed = aa.get_generated_policy(jobId=job, includeResourcePlaceholders=True)
    assert f"arn:aws:iam::{account_id}:user/*" in typed["generatedPolicyResult"]["generatedPolicies"][0]["policy"]
    # A principal that is not a user or role of the account fails the job.
    failed = aa.start_policy_generation(
        policyGenerationDetails={"principalArn": f"arn:aws:iam::{account_id}:role/{uniq('none')}"})["jobId"]
    details = aa.get_generated_policy(jobId=failed)["jobDetails"]
    assert (details["status"], details["jobError"]["code"]) == ("FAILED", "RESOURCE_NOT_FOUND_ERROR")
    for suffix in ("a", "b"):
        root.iam.delete_user(UserName=f"{prefix}-{suffix}")
