"""The coverage check (issue 14): every operation of botocore's IAM and STS models, as the pinned
botocore in this virtual environment ships them, is served, and every member Tessera returns is
one the model's output shape has.

Each operation is sent once with minimal valid parameters (built from the model's input shape,
with the names of a user, group, role and policy made for the purpose where a parameter names
one), serialized by botocore's own Query serializer and signed with SigV4. The answer may be any
AWS error except `InvalidAction`; a success is parsed and walked against the model's output
shape, so an element the model does not know (a misspelt member, a member of another shape)
fails the check.
"""

import datetime
import xml.etree.ElementTree as ET

import botocore.session
import pytest
from botocore.serialize import create_serializer

from tessera_compat import REGION, policy_doc, allow, uniq

# Operations not served yet (issue 14). This set must end EMPTY: remove
# an operation as soon as its work is on main, and never add one that is served.
PENDING: set[str] = set()

SERVICES = {"iam": "iam", "sts": "sts"}


@pytest.fixture(scope="module")
def models():
    session = botocore.session.get_session()
    return {name: session.get_service_model(name) for name in SERVICES}


@pytest.fixture(scope="module")
def names(root, account_id):
    """A user (in a group), a group, a role and a managed policy the parameters can name."""
    iam = root.iam
    user, group, role, policy = uniq("cov-u"), uniq("cov-g"), uniq("cov-r"), uniq("cov-p")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    trust = policy_doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                        "Action": "sts:AssumeRole"})
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    arn = iam.create_policy(PolicyName=policy, PolicyDocument=policy_doc(allow("s3:GetObject")))["Policy"]["Arn"]
    return {
        "UserName": user, "GroupName": group, "RoleName": role, "PolicyArn": arn,
        "user_arn": f"arn:aws:iam::{account_id}:user/{user}",
        "role_arn": f"arn:aws:iam::{account_id}:role/{role}",
        "account_id": account_id,
    }


def value_for(name, shape, names, depth=0):
    """A minimal value the model accepts for member `name` of type `shape`."""
    if name in names and shape.type_name == "string":
        return names[name]
    by_name = {
        "PolicyDocument": policy_doc(allow("s3:GetObject")),
        "AssumeRolePolicyDocument": policy_doc(
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}),
        "PolicySourceArn": names["user_arn"], "Arn": names["user_arn"], "EntityArn": names["user_arn"],
        "RoleArn": names["role_arn"], "PermissionsBoundary": names["PolicyArn"],
        "OpenIDConnectProviderArn": f"arn:aws:iam::{names['account_id']}:oidc-provider/example.com",
        "SerialNumber": f"arn:aws:iam::{names['account_id']}:mfa/none",
        "Url": "https://example.com", "RoleSessionName": "coverage", "Name": "coverage",
        "TargetPrincipal": names["account_id"], "SigningAlgorithm": "ES256",
    }
    if name in by_name:
        return by_name[name]
    t = shape.type_name
    meta = shape.metadata
    if t == "string":
        if shape.enum:
            return shape.enum[0]
        return "a" * max(meta.get("min", 1), 1)
    if t in ("integer", "long"):
        return max(meta.get("min", 1), 1)
    if t == "boolean":
        return False
    if t == "timestamp":
        return datetime.datetime.now(datetime.timezone.utc)
    if t == "blob":
        return b"a"
    if t == "list":
        return [value_for(name, shape.member, names, depth + 1) for _ in range(max(meta.get("min", 1), 1))]
    if t == "map":
        return {}
    if t == "structure":
        return {m: value_for(m, shape.members[m], names, depth + 1) for m in shape.required_members}
    raise AssertionError(f"unhandled shape type {t}")


def local(tag):
    return tag.split("}", 1)[-1]


def walk(element, shape, path, problems):
    """Every child of `element` must be a member the model's `shape` has."""
    t = shape.type_name
    if t == "structure":
        by_wire = {m.serialization.get("name", n): m for n, m in shape.members.items()}
        for child in element:
            name = local(child.tag)
            member = by_wire.get(name)
            if member is None:
                problems.append(f"{path}/{name}: not a member of {shape.name}")
                continue
            walk(child, member, f"{path}/{name}", problems)
    elif t == "list":
        item = shape.member.serialization.get("name", "member")
        for child in element:
            if local(child.tag) != item:
                problems.append(f"{path}/{local(child.tag)}: a list of {shape.name} holds <{item}>")
                continue
            walk(child, shape.member, f"{path}/{item}", problems)
    elif t == "map":
        for child in element:
            if local(child.tag) != "entry":
                problems.append(f"{path}/{local(child.tag)}: a map holds <entry>")
                continue
            for part in child:
                which = shape.key if local(part.tag) == "key" else shape.value
                walk(part, which, f"{path}/entry/{local(part.tag)}", problems)
    elif len(element):
        problems.append(f"{path}: scalar {shape.name} has child elements")


def send(server, model, op, params):
    """Serialize with botocore's Query serializer, sign for the model's service, send."""
    request = create_serializer(model.metadata["protocol"]).serialize_to_request(params, op)
    body = request["body"]
    return server.signed(body, service=model.metadata.get("signingName", model.service_name), region=REGION)


def operations(models):
    for service, model in models.items():
        ops = sorted(model.operation_names)
        # Destructive calls last, so the named entities exist while the others run.
        key = lambda o: o.startswith(("Delete", "Remove", "Detach", "Disable", "Untag", "Reject"))  # noqa: E731
        for op in sorted(ops, key=key):
            yield service, model, model.operation_model(op)


def test_every_operation_is_served_and_answers_the_models_shapes(server, models, names):
    missing, problems, pending_served = [], [], []
    checked = 0
    for service, model, op in operations(models):
        qualified = f"{service}:{op.name}"
        params = value_for("", op.input_shape, names) if op.input_shape else {}
        status, _headers, body = send(server, model, op, params)
        root = ET.fromstring(body)
        if local(root.tag) == "ErrorResponse":
            code = next((e.text for e in root.iter() if local(e.tag) == "Code"), None)
            if code == "InvalidAction":
                if qualified not in PENDING:
                    missing.append(qualified)
            elif qualified in PENDING:
                pending_served.append(qualified)
            continue
        if qualified in PENDING:
            pending_served.append(qualified)
        assert status == 200, (qualified, status, body[:300])
        assert local(root.tag) == f"{op.name}Response", (qualified, root.tag)
        wrapper = op.output_shape.serialization.get("resultWrapper") if op.output_shape else None
        for child in root:
            name = local(child.tag)
            if name == "ResponseMetadata":
                continue
            if op.output_shape is None or name != wrapper:
                problems.append(f"{qualified}: unexpected <{name}> in the response")
                continue
            walk(child, op.output_shape, f"{qualified}:{name}", problems)
        checked += 1
    assert not missing, f"operations answering InvalidAction: {missing}"
    assert not problems, "response members outside the model:\n" + "\n".join(problems)
    assert not pending_served, f"served now: remove from PENDING: {sorted(pending_served)}"
    # A success is what the shape check can look at: enough of them must succeed to mean anything.
    assert checked >= 60, checked


def test_the_walk_refuses_a_member_the_model_lacks(models):
    """The shape check itself can fail (a test asserts something that could fail)."""
    op = models["sts"].operation_model("GetCallerIdentity")
    xml = ("<GetCallerIdentityResult><UserId>u</UserId><Account>1</Account><Arn>a</Arn>"
           "<Extra>x</Extra></GetCallerIdentityResult>")
    problems = []
    walk(ET.fromstring(xml), op.output_shape, "GetCallerIdentityResult", problems)
    assert problems == ["GetCallerIdentityResult/Extra: not a member of GetCallerIdentityResponse"]
    op = models["iam"].operation_model("ListUsers")
    xml = "<ListUsersResult><Users><user><UserName>x</UserName></user></Users></ListUsersResult>"
    problems = []
    walk(ET.fromstring(xml), op.output_shape, "ListUsersResult", problems)
    assert problems and "holds <member>" in problems[0], problems
