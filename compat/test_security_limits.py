"""Bounded work per request: the simulator pages its results and caps actions x resources, the
Query decoder refuses lists with huge indexes and over-long values, and list parameters obey
the AWS models' limits. Every refusal is an AWS-style error and the server stays healthy."""

import urllib.parse

import pytest
from botocore.exceptions import ClientError

from tessera_compat import IAM_VERSION, STS_VERSION, allow, assert_error, policy_doc, uniq, xml_error

ALLOW_ALL = policy_doc(allow("*"))


def actions(n):
    return [f"s3:Action{i}" for i in range(n)]


def buckets(n):
    return [f"arn:aws:s3:::bucket-{i}" for i in range(n)]


def pairs(results):
    return [(r["EvalActionName"], r["EvalResourceName"]) for r in results]


def healthy(server):
    """The server still answers a signed call correctly."""
    status, _, body = server.signed({"Action": "GetCallerIdentity", "Version": STS_VERSION})
    assert status == 200, body


def test_simulation_with_too_many_actions_times_resources_is_refused(root):
    with pytest.raises(ClientError) as e:
        root.iam.simulate_custom_policy(PolicyInputList=[ALLOW_ALL], ActionNames=actions(101),
                                        ResourceArns=buckets(100))
    assert_error(e, "InvalidInput", 400)
    assert "at most 10000" in e.value.response["Error"]["Message"]
    # The same lists, one fewer action, fit.
    page = root.iam.simulate_custom_policy(PolicyInputList=[ALLOW_ALL], ActionNames=actions(100),
                                           ResourceArns=buckets(100), MaxItems=1000)
    assert len(page["EvaluationResults"]) == 1000 and page["IsTruncated"] is True


def test_simulation_pages_return_every_result_once(root):
    names, arns = actions(7), buckets(3)
    expected = [(a, r) for a in names for r in arns]
    seen, pages, marker = [], 0, None
    while True:
        kwargs = {"Marker": marker} if marker else {}
        page = root.iam.simulate_custom_policy(PolicyInputList=[ALLOW_ALL], ActionNames=names,
                                               ResourceArns=arns, MaxItems=5, **kwargs)
        pages += 1
        assert len(page["EvaluationResults"]) <= 5
        assert all(r["EvalDecision"] == "allowed" for r in page["EvaluationResults"])
        seen += pairs(page["EvaluationResults"])
        if not page["IsTruncated"]:
            assert "Marker" not in page
            break
        marker = page["Marker"]
    assert seen == expected
    assert pages == 5

    # boto3's paginator drives Marker/IsTruncated the same way.
    paginator = root.iam.get_paginator("simulate_custom_policy")
    results = [r for p in paginator.paginate(PolicyInputList=[ALLOW_ALL], ActionNames=names,
                                             ResourceArns=arns, PaginationConfig={"PageSize": 4})
               for r in p["EvaluationResults"]]
    assert pairs(results) == expected

    # Without MaxItems a page holds 100 results, as on AWS.
    first = root.iam.simulate_custom_policy(PolicyInputList=[ALLOW_ALL], ActionNames=actions(11),
                                            ResourceArns=buckets(10))
    assert len(first["EvaluationResults"]) == 100 and first["IsTruncated"] is True
    rest = root.iam.simulate_custom_policy(PolicyInputList=[ALLOW_ALL], ActionNames=actions(11),
                                           ResourceArns=buckets(10), Marker=first["Marker"])
    assert len(rest["EvaluationResults"]) == 10 and rest["IsTruncated"] is False


def test_principal_simulation_pages_too(root, user, account_id):
    root.iam.put_user_policy(UserName=user.name, PolicyName="s3", PolicyDocument=policy_doc(allow("s3:*")))
    paginator = root.iam.get_paginator("simulate_principal_policy")
    arn = f"arn:aws:iam::{account_id}:user/{user.name}"
    pages = list(paginator.paginate(PolicySourceArn=arn, ActionNames=actions(6) + ["iam:ListUsers"],
                                    ResourceArns=buckets(2), PaginationConfig={"PageSize": 3}))
    assert len(pages) == 5
    assert all(p["IsTruncated"] for p in pages[:-1]) and not pages[-1]["IsTruncated"]
    results = [r for p in pages for r in p["EvaluationResults"]]
    assert pairs(results) == [(a, r) for a in actions(6) + ["iam:ListUsers"] for r in buckets(2)]
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in results}
    assert decisions["s3:Action0"] == "allowed" and decisions["iam:ListUsers"] == "implicitDeny"
    # The matched statement still names the user's own policy on later pages.
    last = pages[1]["EvaluationResults"][0]
    assert last["MatchedStatements"][0]["SourcePolicyId"] == "s3"


def test_bad_simulation_pages_are_refused(root):
    lax = root.iam_lax
    for max_items in (0, 1001):
        with pytest.raises(ClientError) as e:
            lax.simulate_custom_policy(PolicyInputList=[ALLOW_ALL], ActionNames=actions(2), MaxItems=max_items)
        assert_error(e, "ValidationError", 400)
    for marker in ("not-a-marker", "2", "999999999999999999999"):
        with pytest.raises(ClientError) as e:
            root.iam.simulate_custom_policy(PolicyInputList=[ALLOW_ALL], ActionNames=actions(2), Marker=marker)
        assert_error(e, "InvalidInput", 400)


def test_huge_list_indexes_are_refused_and_the_server_stays_healthy(server):
    # (form, service): sparse members that a naive decoder would size a list by.
    requests = [
        (f"Action=TagUser&Version={IAM_VERSION}&UserName=nobody"
         "&Tags.member.4000000000.Key=k&Tags.member.4000000000.Value=v", "iam"),
        (f"Action=ListUsers&Version={IAM_VERSION}&Tags.member.999999999=x", "iam"),
        (f"Action=SimulateCustomPolicy&Version={IAM_VERSION}&ActionNames.member.1=s3%3AGetObject"
         f"&PolicyInputList.member.1={urllib.parse.quote(ALLOW_ALL)}"
         "&ContextEntries.member.1.ContextKeyName=aws%3ATagKeys"
         "&ContextEntries.member.1.ContextKeyValues.member.4294967295=v", "iam"),
        (f"Action=GetCallerIdentity&Version={STS_VERSION}&Anything.member.1001=x", "sts"),
    ]
    for form, service in requests:
        status, _, body = server.signed(form, service=service)
        code, message = xml_error(body)
        assert (status, code) == (400, "InvalidQueryParameter"), (form, status, code, message)
        assert "larger than 1000" in message, message
        healthy(server)
    # Index 1000 is still a list member.
    status, _, body = server.signed(f"Action=GetCallerIdentity&Version={STS_VERSION}&Anything.member.1000=x")
    assert status == 200, body


def test_over_long_values_and_too_many_parameters_are_refused(server):
    long_value = "x" * (256 * 1024 + 1)
    status, _, body = server.signed({"Action": "CreatePolicy", "Version": IAM_VERSION, "PolicyName": uniq("p"),
                                     "PolicyDocument": long_value}, service="iam")
    code, message = xml_error(body)
    assert (status, code) == (400, "InvalidQueryParameter"), (status, code, message)
    assert "PolicyDocument" in message
    many = "&".join(f"P{i}=1" for i in range(10_001))
    status, _, body = server.signed(f"Action=GetCallerIdentity&Version={STS_VERSION}&{many}")
    assert (status, xml_error(body)[0]) == (400, "InvalidQueryParameter")
    healthy(server)


def test_list_parameters_obey_the_model_limits(root, user, account_id):
    iam = root.iam
    trust = policy_doc({"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"}})
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    for call in (lambda: iam.create_user(UserName=uniq("u"), Tags=tags),
                 lambda: iam.tag_user(UserName=user.name, Tags=tags),
                 lambda: iam.create_role(RoleName=uniq("r"), Tags=tags, AssumeRolePolicyDocument=trust)):
        with pytest.raises(ClientError) as e:
            call()
        assert_error(e, "ValidationError", 400)
        assert "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50" \
            in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        iam.untag_user(UserName=user.name, TagKeys=[f"k{i}" for i in range(51)])
    assert_error(e, "ValidationError", 400)
    assert "'tagKeys'" in e.value.response["Error"]["Message"]
    # 50 fit, and the quota on what a resource holds is still LimitExceeded.
    iam.tag_user(UserName=user.name, Tags=tags[:50])
    with pytest.raises(ClientError) as e:
        iam.tag_user(UserName=user.name, Tags=[{"Key": "one-more", "Value": "v"}])
    assert_error(e, "LimitExceeded", 409)

    sts = root.sts
    role_arn = "arn:aws:iam::123456789012:role/none"
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="limits", Tags=tags[:1],
                        TransitiveTagKeys=[f"k{i}" for i in range(51)])
    assert_error(e, "ValidationError", 400)
    assert "'transitiveTagKeys'" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="limits",
                        ProvidedContexts=[{"ProviderArn": "arn:aws:iam::aws:contextProvider/IdentityCenter",
                                           "ContextAssertion": "x" * 4}] * 6)
    assert_error(e, "ValidationError", 400)

    # Quotas counted after duplicates are removed stay with the domain: LimitExceeded.
    with pytest.raises(ClientError) as e:
        iam.create_open_id_connect_provider(Url=f"https://{uniq('idp')}.example.com",
                                            ClientIDList=[f"client-{i}" for i in range(101)],
                                            ThumbprintList=["a" * 40])
    assert_error(e, "LimitExceeded", 409)
