"""Issue 14, part C through boto3 and the `aws` CLI: context keys of policies, service last
accessed reports from the audit trail, outbound web identity federation and
`sts:GetWebIdentityToken`, and the Organizations, delegation and root-session operations a
standalone account answers with AWS's errors."""

import base64
import json
import os
import time

import pytest
from botocore.exceptions import ClientError

from tessera_compat import CliError, allow, assert_error, policy_doc, uniq

CUSTOM = json.dumps({
    "Version": "2012-10-17",
    "Statement": {
        "Effect": "Allow", "Action": "dynamodb:*",
        "Resource": "arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}",
        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2015-08-16T12:00:00Z"}},
    },
})


# -- context keys --------------------------------------------------------------------------------

def test_context_keys_for_custom_policy_as_aws_documents_them(root):
    keys = root.iam.get_context_keys_for_custom_policy(PolicyInputList=[CUSTOM])["ContextKeyNames"]
    assert keys == ["aws:username", "aws:CurrentTime"]
    other = policy_doc(allow("s3:*", Condition={"DateLessThan": {"AWS:CurrentTime": "2030-01-01T00:00:00Z"}, "Bool": {"aws:SecureTransport": "true"}}))
    keys = root.iam.get_context_keys_for_custom_policy(PolicyInputList=[CUSTOM, other])["ContextKeyNames"]
    assert keys == ["aws:username", "aws:CurrentTime", "aws:SecureTransport"]
    out = root.aws("iam", "get-context-keys-for-custom-policy", "--policy-input-list", CUSTOM)
    assert out["ContextKeyNames"] == ["aws:username", "aws:CurrentTime"]
    with pytest.raises(ClientError) as e:
        root.iam.get_context_keys_for_custom_policy(PolicyInputList=["{not json"])
    assert_error(e, "InvalidInput", 400)


def test_context_keys_for_principal_policy(root, account_id):
    iam = root.iam
    user, group = uniq("ck-u"), uniq("ck-g")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=policy_doc(
        allow("s3:GetObject", Condition={"StringEquals": {"s3:prefix": "home/${aws:username}"}})))
    iam.put_group_policy(GroupName=group, PolicyName="g", PolicyDocument=policy_doc(
        allow("ec2:*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})))
    arn = f"arn:aws:iam::{account_id}:user/{user}"
    keys = iam.get_context_keys_for_principal_policy(PolicySourceArn=arn)["ContextKeyNames"]
    assert sorted(keys) == ["aws:SourceIp", "aws:username", "s3:prefix"]
    keys = iam.get_context_keys_for_principal_policy(PolicySourceArn=arn, PolicyInputList=[CUSTOM])["ContextKeyNames"]
    assert "aws:CurrentTime" in keys
    out = root.aws("iam", "get-context-keys-for-principal-policy", "--policy-source-arn",
                   f"arn:aws:iam::{account_id}:group/{group}")
    assert out["ContextKeyNames"] == ["aws:SourceIp"]
    with pytest.raises(ClientError) as e:
        iam.get_context_keys_for_principal_policy(PolicySourceArn=f"arn:aws:iam::{account_id}:user/{uniq('none')}")
    assert_error(e, "NoSuchEntity", 404)


def test_context_keys_are_authorized(root, user):
    with pytest.raises(ClientError) as e:
        user.iam.get_context_keys_for_custom_policy(PolicyInputList=[CUSTOM])
    assert_error(e, "AccessDenied", 403)
    root.iam.put_user_policy(UserName=user.name, PolicyName="ck",
                             PolicyDocument=policy_doc(allow("iam:GetContextKeysForCustomPolicy")))
    deadline = time.monotonic() + 10
    while True:
        try:
            assert user.iam.get_context_keys_for_custom_policy(PolicyInputList=[CUSTOM])["ContextKeyNames"]
            break
        except ClientError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


# -- service last accessed -----------------------------------------------------------------------

def report(iam, arn, granularity="SERVICE_LEVEL", until=None):
    """Generate a report for `arn` (again, until `until(services)` holds or a deadline passes:
    the audit trail is written in the background) and return (job id, details)."""
    deadline = time.monotonic() + 15
    while True:
        job = iam.generate_service_last_accessed_details(Arn=arn, Granularity=granularity)["JobId"]
        details = iam.get_service_last_accessed_details(JobId=job)
        assert details["JobStatus"] == "COMPLETED"
        services = {s["ServiceNamespace"]: s for s in details["ServicesLastAccessed"]}
        if until is None or until(services) or time.monotonic() > deadline:
            return job, details, services
        time.sleep(0.2)


def test_service_last_accessed_details_from_the_audit_trail(root, user, account_id):
    iam = root.iam
    iam.put_user_policy(UserName=user.name, PolicyName="la", PolicyDocument=policy_doc(
        allow(["iam:GetUser", "iam:ListUsers"]), allow("s3:GetObject")))
    user_arn = f"arn:aws:iam::{account_id}:user/{user.name}"
    deadline = time.monotonic() + 10
    while True:
        try:
            user.iam.get_user()
            break
        except ClientError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    job, details, services = report(iam, user_arn, "ACTION_LEVEL",
                                     until=lambda s: "LastAuthenticated" in s.get("iam", {}))
    assert len(job) == 36 and details["JobType"] == "ACTION_LEVEL"
    assert set(services) == {"iam", "s3"}, services
    used, unused = services["iam"], services["s3"]
    assert used["ServiceName"] == "AWS Identity and Access Management"
    assert used["LastAuthenticatedEntity"] == user_arn
    assert used["LastAuthenticatedRegion"] == "us-east-1"
    assert used["TotalAuthenticatedEntities"] == 1
    assert "GetUser" in [a["ActionName"] for a in used["TrackedActionsLastAccessed"]]
    assert "LastAuthenticated" not in unused and unused["TotalAuthenticatedEntities"] == 0
    assert details["JobCompletionDate"] >= details["JobCreationDate"]
    # Paged, one service at a time.
    first = iam.get_service_last_accessed_details(JobId=job, MaxItems=1)
    assert first["IsTruncated"] and len(first["ServicesLastAccessed"]) == 1
    rest = iam.get_service_last_accessed_details(JobId=job, Marker=first["Marker"])
    assert not rest["IsTruncated"] and len(rest["ServicesLastAccessed"]) == 1
    entities = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="iam")
    assert entities["JobStatus"] == "COMPLETED"
    [entity] = entities["EntityDetailsList"]
    assert entity["EntityInfo"]["Arn"] == user_arn and entity["EntityInfo"]["Type"] == "USER"
    assert "LastAuthenticated" in entity
    out = root.aws("iam", "get-service-last-accessed-details", "--job-id", job)
    assert {s["ServiceNamespace"] for s in out["ServicesLastAccessed"]} == {"iam", "s3"}
    out = root.aws("iam", "generate-service-last-accessed-details", "--arn", user_arn)
    assert len(out["JobId"]) == 36


def test_service_last_accessed_errors(root, account_id):
    iam = root.iam
    with pytest.raises(ClientError) as e:
        iam.generate_service_last_accessed_details(Arn=f"arn:aws:iam::{account_id}:role/{uniq('none')}")
    assert_error(e, "NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.get_service_last_accessed_details(JobId="00000000-0000-4000-8000-000000000000")
    assert_error(e, "NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        root.iam_lax.get_service_last_accessed_details(JobId="short")
    assert_error(e, "ValidationError", 400)
    with pytest.raises(ClientError) as e:
        root.iam_lax.generate_service_last_accessed_details(
            Arn=f"arn:aws:iam::{account_id}:root", Granularity="EVERYTHING")
    assert_error(e, "ValidationError", 400)
    p = root.aws("iam", "get-service-last-accessed-details-with-entities", "--job-id",
                 "00000000-0000-4000-8000-000000000000", "--service-namespace", "iam", check=False)
    assert p.returncode != 0 and "NoSuchEntity" in p.stderr


def test_group_and_policy_reports_count_their_members(root, account_id):
    iam = root.iam
    group, policy = uniq("la-g"), uniq("la-p")
    iam.create_group(GroupName=group)
    arn = iam.create_policy(PolicyName=policy, PolicyDocument=policy_doc(allow("sts:GetCallerIdentity")))["Policy"]["Arn"]
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    members = [root.new_user() for _ in range(2)]
    for m in members:
        iam.add_user_to_group(GroupName=group, UserName=m.name)
        m.sts.get_caller_identity()
    for target in (f"arn:aws:iam::{account_id}:group/{group}", arn):
        job, _, services = report(iam, target, until=lambda s: s.get("sts", {}).get("TotalAuthenticatedEntities") == 2)
        assert list(services) == ["sts"] and services["sts"]["TotalAuthenticatedEntities"] == 2
        listed = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="sts")
        assert sorted(e["EntityInfo"]["Name"] for e in listed["EntityDetailsList"]) == sorted(m.name for m in members)


def test_policies_granting_service_access(root, account_id):
    iam = root.iam
    user, group, policy = uniq("pg-u"), uniq("pg-g"), uniq("pg-p")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    arn = iam.create_policy(PolicyName=policy, PolicyDocument=policy_doc(allow("s3:*")))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.put_group_policy(GroupName=group, PolicyName="gi", PolicyDocument=policy_doc(allow("iam:Get*")))
    out = iam.list_policies_granting_service_access(
        Arn=f"arn:aws:iam::{account_id}:user/{user}", ServiceNamespaces=["s3", "iam", "ec2"])
    by_ns = {e["ServiceNamespace"]: e["Policies"] for e in out["PoliciesGrantingServiceAccess"]}
    assert by_ns["s3"] == [{"PolicyName": policy, "PolicyType": "MANAGED", "PolicyArn": arn}]
    assert by_ns["iam"] == [{"PolicyName": "gi", "PolicyType": "INLINE", "EntityType": "GROUP", "EntityName": group}]
    assert by_ns["ec2"] == []
    assert out["IsTruncated"] is False
    cli = root.aws("iam", "list-policies-granting-service-access", "--arn",
                   f"arn:aws:iam::{account_id}:group/{group}", "--service-namespaces", "iam")
    assert cli["PoliciesGrantingServiceAccess"][0]["Policies"][0]["PolicyName"] == "gi"
    with pytest.raises(ClientError) as e:
        iam.list_policies_granting_service_access(Arn=arn, ServiceNamespaces=["s3"])
    assert_error(e, "InvalidInput", 400)


# -- outbound web identity federation ------------------------------------------------------------

def jwt_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_outbound_web_identity_federation_gates_get_web_identity_token(root, user, account_id):
    iam, sts = root.iam, root.sts
    # The session may have enabled it already (the coverage check calls every operation).
    try:
        iam.disable_outbound_web_identity_federation()
    except ClientError as e:
        assert e.response["Error"]["Code"] == "FeatureDisabled"
    with pytest.raises(ClientError) as e:
        iam.disable_outbound_web_identity_federation()
    assert_error(e, "FeatureDisabled", 404)
    with pytest.raises(ClientError) as e:
        sts.get_web_identity_token(Audience=["https://api.example.com"], SigningAlgorithm="ES256")
    assert_error(e, "OutboundWebIdentityFederationDisabledException", 403)

    issuer = iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    assert issuer.startswith("http")
    with pytest.raises(ClientError) as e:
        iam.enable_outbound_web_identity_federation()
    assert_error(e, "FeatureEnabled", 409)
    info = iam.get_outbound_web_identity_federation_info()
    assert info["IssuerIdentifier"] == issuer and info["JwtVendingEnabled"] is True

    out = sts.get_web_identity_token(Audience=["https://api.example.com"], SigningAlgorithm="ES256",
                                     DurationSeconds=120)
    claims = jwt_claims(out["WebIdentityToken"])
    # The split cluster's gateway and token service each default --issuer-url to their own
    # address (a deployment sets the same URL on both); all-in-one they are one server.
    if os.environ.get("TESSERA_SPLIT") != "1":
        assert claims["iss"] == issuer
    assert claims["aud"] == "https://api.example.com"
    assert claims["sub"] == f"arn:aws:iam::{account_id}:root"
    assert claims["exp"] - claims["iat"] == 120
    assert abs(out["Expiration"].timestamp() - claims["exp"]) < 2
    cli = root.aws("sts", "get-web-identity-token", "--audience", "a", "--signing-algorithm", "ES256")
    assert jwt_claims(cli["WebIdentityToken"])["aud"] == "a"
    with pytest.raises(ClientError) as e:
        sts.get_web_identity_token(Audience=["a"], SigningAlgorithm="RS256")
    assert_error(e, "ValidationError", 400)
    # Authorized like every action: a user without sts:GetWebIdentityToken is refused.
    with pytest.raises(ClientError) as e:
        user.sts.get_web_identity_token(Audience=["a"], SigningAlgorithm="ES256")
    assert_error(e, "AccessDenied", 403)

    iam.disable_outbound_web_identity_federation()
    info = root.aws("iam", "get-outbound-web-identity-federation-info")
    assert info["JwtVendingEnabled"] is False and info["IssuerIdentifier"] == issuer
    with pytest.raises(ClientError) as e:
        sts.get_web_identity_token(Audience=["a"], SigningAlgorithm="ES256")
    assert_error(e, "OutboundWebIdentityFederationDisabledException", 403)


# -- a standalone account: Organizations, delegation, root sessions ------------------------------

@pytest.mark.parametrize("call", [
    "enable_organizations_root_credentials_management", "disable_organizations_root_credentials_management",
    "enable_organizations_root_sessions", "disable_organizations_root_sessions", "list_organizations_features",
])
def test_organizations_features_of_a_standalone_account(root, call):
    with pytest.raises(ClientError) as e:
        getattr(root.iam, call)()
    assert_error(e, "OrganizationNotFoundException", 400)


def test_organizations_access_report_of_a_standalone_account(root):
    with pytest.raises(ClientError) as e:
        root.iam.generate_organizations_access_report(EntityPath="o-a1b2c3d4e5/r-f6g7h8i9j0example")
    assert_error(e, "OrganizationNotFoundException", 400)
    with pytest.raises(ClientError) as e:
        root.iam.get_organizations_access_report(JobId="00000000-0000-4000-8000-000000000000")
    assert_error(e, "NoSuchEntity", 404)
    p = root.aws("iam", "list-organizations-features", check=False)
    assert p.returncode != 0 and "OrganizationNotFoundException" in p.stderr


def test_delegation_requests_of_a_standalone_account(root, account_id):
    iam = root.iam
    listed = iam.list_delegation_requests()
    assert listed["DelegationRequests"] == [] and listed["isTruncated"] is False
    rid = "dr-0123456789abcdef"
    for call in ("get_delegation_request", "accept_delegation_request", "associate_delegation_request",
                 "reject_delegation_request", "update_delegation_request", "send_delegation_token"):
        with pytest.raises(ClientError) as e:
            getattr(iam, call)(DelegationRequestId=rid)
        assert_error(e, "NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        root.iam_lax.get_delegation_request(DelegationRequestId="short")
    assert_error(e, "ValidationError", 400)
    with pytest.raises(ClientError) as e:
        iam.create_delegation_request(
            Description="deploy", Permissions={"PolicyTemplateArn": "arn:aws:iam::aws:policy/template"},
            RequestorWorkflowId="workflow-1", NotificationChannel="arn:aws:sns:us-east-1:123456789012:t",
            SessionDuration=3600)
    assert_error(e, "InvalidInput", 400)
    with pytest.raises(ClientError) as e:
        iam.get_human_readable_summary(EntityArn=f"arn:aws:iam::{account_id}:delegation-request/{rid}")
    assert_error(e, "NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.get_human_readable_summary(EntityArn=f"arn:aws:iam::{account_id}:user/alice")
    assert_error(e, "InvalidInput", 400)
    out = root.aws("iam", "list-delegation-requests")
    assert out.get("DelegationRequests", []) == []


def test_assume_root_and_delegated_access_of_a_standalone_account(root, user, account_id):
    task = "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"
    with pytest.raises(ClientError) as e:
        root.sts.assume_root(TargetPrincipal="111122223333", TaskPolicyArn={"arn": task})
    assert_error(e, "AccessDenied", 403)
    # Authorized first: the user's refusal names the action and the target's root.
    with pytest.raises(ClientError) as e:
        user.sts.assume_root(TargetPrincipal="111122223333", TaskPolicyArn={"arn": task})
    assert_error(e, "AccessDenied", 403)
    assert "sts:AssumeRoot" in str(e.value) and "arn:aws:iam::111122223333:root" in str(e.value)
    with pytest.raises(ClientError) as e:
        root.sts_lax.assume_root(TargetPrincipal="111122223333", TaskPolicyArn={"arn": task}, DurationSeconds=901)
    assert_error(e, "ValidationError", 400)
    with pytest.raises(ClientError) as e:
        root.sts.get_delegated_access_token(TradeInToken="a" * 64)
    assert_error(e, "ExpiredTradeInTokenException", 400)
    p = root.aws("sts", "get-delegated-access-token", "--trade-in-token", "a" * 64, check=False)
    assert p.returncode != 0 and "ExpiredTradeInTokenException" in p.stderr
