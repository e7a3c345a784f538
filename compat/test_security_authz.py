"""Regression tests for the authorization holes of the adversarial review (issue 10): the
delegation condition keys, sessions bound to the entity they were issued for, root sessions,
`aws:PrincipalTag/*` for every kind of caller, ChangePassword under policy, and deleted managed
policies used as session policies. Each drives the real server with boto3, as an attacker would."""

import pytest
from botocore.exceptions import ClientError

from tessera_compat import allow, assert_error, deny, policy_doc, uniq

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def trust(principal_arn, actions=("sts:AssumeRole",)):
    return policy_doc({"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": list(actions)})


def new_role(root, principal_arn, name=None, actions=("sts:AssumeRole",), tags=None, policy=None):
    name = name or uniq("role")
    root.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(principal_arn, actions),
                         **({"Tags": tags} if tags else {}))
    if policy:
        root.iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
    return root.iam.get_role(RoleName=name)["Role"]


def delete_role(root, name):
    for p in root.iam.list_role_policies(RoleName=name)["PolicyNames"]:
        root.iam.delete_role_policy(RoleName=name, PolicyName=p)
    for p in root.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        root.iam.detach_role_policy(RoleName=name, PolicyArn=p["PolicyArn"])
    root.iam.delete_role(RoleName=name)


def assume(principal, role_arn, **kw):
    creds = principal.sts.assume_role(RoleArn=role_arn, RoleSessionName="sec-test", **kw)["Credentials"]
    return principal.with_credentials(creds)


def denied(call, code="AccessDenied", status=403):
    with pytest.raises(ClientError) as e:
        call()
    assert_error(e, code, status)
    return e.value.response["Error"]["Message"]


# -- 1. Delegation condition keys ------------------------------------------------------------

def test_policy_arn_guardrail_limits_what_may_be_attached(root, user, account_id):
    victim = root.new_user()
    group = uniq("g")
    root.iam.create_group(GroupName=group)
    try:
        only_read_only = {"ArnEquals": {"iam:PolicyARN": READ_ONLY}}
        root.iam.put_user_policy(UserName=user.name, PolicyName="delegate", PolicyDocument=policy_doc(
            allow(["iam:AttachUserPolicy", "iam:DetachUserPolicy", "iam:AttachGroupPolicy"], "*",
                  Condition=only_read_only)))
        user.iam.attach_user_policy(UserName=victim.name, PolicyArn=READ_ONLY)
        user.iam.detach_user_policy(UserName=victim.name, PolicyArn=READ_ONLY)
        user.iam.attach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
        msg = denied(lambda: user.iam.attach_user_policy(UserName=victim.name, PolicyArn=ADMIN))
        assert "iam:AttachUserPolicy" in msg and f"user/{victim.name}" in msg
        denied(lambda: user.iam.attach_group_policy(GroupName=group, PolicyArn=ADMIN))
        # Not even onto itself: the classic escalation.
        denied(lambda: user.iam.attach_user_policy(UserName=user.name, PolicyArn=ADMIN))
        assert root.iam.list_attached_user_policies(UserName=victim.name)["AttachedPolicies"] == []
    finally:
        root.iam.detach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
        root.iam.delete_group(GroupName=group)
        root.delete_user_fully(victim.name)


def test_permissions_boundary_guardrail(root, user, account_id):
    boundary = root.iam.create_policy(PolicyName=uniq("boundary"), PolicyDocument=policy_doc(
        allow("iam:Get*")))["Policy"]["Arn"]
    bounded, unbounded = uniq("bounded"), uniq("free")
    try:
        with_boundary = {"StringEquals": {"iam:PermissionsBoundary": boundary}}
        root.iam.put_user_policy(UserName=user.name, PolicyName="delegate", PolicyDocument=policy_doc(
            allow(["iam:CreateUser", "iam:PutUserPermissionsBoundary", "iam:PutUserPolicy",
                   "iam:AttachUserPolicy"], "*", Condition=with_boundary)))
        user.iam.create_user(UserName=bounded, PermissionsBoundary=boundary)
        denied(lambda: user.iam.create_user(UserName=unbounded))
        denied(lambda: user.iam.create_user(UserName=unbounded, PermissionsBoundary=READ_ONLY))
        # Acting on a user that has the boundary is allowed; the boundary key is its current one.
        user.iam.put_user_policy(UserName=bounded, PolicyName="x", PolicyDocument=policy_doc(allow("iam:*")))
        user.iam.attach_user_policy(UserName=bounded, PolicyArn=READ_ONLY)
        user.iam.put_user_permissions_boundary(UserName=bounded, PermissionsBoundary=boundary)
        # ... but not on one without it, nor to swap the boundary for another.
        denied(lambda: user.iam.put_user_policy(UserName=user.name, PolicyName="x",
                                                PolicyDocument=policy_doc(allow("*"))))
        denied(lambda: user.iam.put_user_permissions_boundary(UserName=bounded,
                                                              PermissionsBoundary=READ_ONLY))
    finally:
        root.delete_user_fully(bounded)
        root.delete_user_fully(unbounded)
        root.iam.delete_policy(PolicyArn=boundary)


def test_renames_need_permission_on_the_new_name_and_tags_their_own(root, user, account_id):
    name = uniq("dev")
    root.iam.create_user(UserName=name, Path="/dev/")
    renamed = uniq("admin")
    try:
        root.iam.put_user_policy(UserName=user.name, PolicyName="dev", PolicyDocument=policy_doc(
            allow(["iam:UpdateUser", "iam:CreateUser"], f"arn:aws:iam::{account_id}:user/dev/*")))
        # Moving a user out of the path it may manage needs permission on the new ARN too.
        denied(lambda: user.iam.update_user(UserName=name, NewPath="/admin/"))
        user.iam.update_user(UserName=name, NewUserName=renamed)
        # Creating with tags needs the Tag* action as well (AWS).
        tagged = uniq("tagged")
        denied(lambda: user.iam.create_user(UserName=tagged, Path="/dev/", Tags=[{"Key": "k", "Value": "v"}]))
        assert "iam:TagUser" in denied(lambda: user.iam.create_user(
            UserName=tagged, Path="/dev/", Tags=[{"Key": "k", "Value": "v"}]))
    finally:
        root.delete_user_fully(name)
        root.delete_user_fully(renamed)


def test_resource_tags_of_policies_reach_the_context(root, user, account_id):
    arn = root.iam.create_policy(PolicyName=uniq("tagged"), PolicyDocument=policy_doc(allow("s3:Get*")),
                                 Tags=[{"Key": "team", "Value": "a"}])["Policy"]["Arn"]
    other = root.iam.create_policy(PolicyName=uniq("other"), PolicyDocument=policy_doc(allow("s3:Get*")),
                                   Tags=[{"Key": "team", "Value": "b"}])["Policy"]["Arn"]
    try:
        root.iam.put_user_policy(UserName=user.name, PolicyName="abac", PolicyDocument=policy_doc(
            allow("iam:GetPolicy", "*", Condition={"StringEquals": {"iam:ResourceTag/team": "a"}})))
        assert user.iam.get_policy(PolicyArn=arn)["Policy"]["Arn"] == arn
        denied(lambda: user.iam.get_policy(PolicyArn=other))
    finally:
        root.iam.delete_policy(PolicyArn=arn)
        root.iam.delete_policy(PolicyArn=other)


def test_assume_role_sees_the_roles_tags(root, user, account_id):
    role = new_role(root, f"arn:aws:iam::{account_id}:root", tags=[{"Key": "tier", "Value": "gold"}])
    try:
        root.iam.put_user_policy(UserName=user.name, PolicyName="abac", PolicyDocument=policy_doc(
            allow("sts:AssumeRole", "*", Condition={"StringEquals": {"iam:ResourceTag/tier": "gold"}})))
        assume(user, role["Arn"])
        root.iam.tag_role(RoleName=role["RoleName"], Tags=[{"Key": "tier", "Value": "silver"}])
        denied(lambda: assume(user, role["Arn"]))
    finally:
        delete_role(root, role["RoleName"])


# -- 2. Sessions are bound to the entity they were issued for --------------------------------

def test_role_session_dies_with_its_role_even_if_recreated(root, user, account_id):
    user_arn = f"arn:aws:iam::{account_id}:user/{user.name}"
    role = new_role(root, user_arn, policy=policy_doc(allow("iam:ListUsers")))
    name = role["RoleName"]
    session = assume(user, role["Arn"])
    session.iam.list_users()
    delete_role(root, name)
    new = new_role(root, user_arn, name=name, policy=policy_doc(allow("iam:ListUsers")))
    try:
        assert new["RoleId"] != role["RoleId"]
        msg = denied(lambda: session.iam.list_users())
        assert "iam:ListUsers" in msg
        # A session of the new role works.
        assume(user, new["Arn"]).iam.list_users()
    finally:
        delete_role(root, name)


def test_trust_policies_do_not_revive_sessions_of_a_deleted_role(root, user, account_id):
    user_arn = f"arn:aws:iam::{account_id}:user/{user.name}"
    first = new_role(root, user_arn)
    # The second role trusts the first by ARN; a same-account trust grant needs no identity allow.
    second = new_role(root, first["Arn"])
    try:
        session = assume(user, first["Arn"])
        assume(session, second["Arn"])
        delete_role(root, first["RoleName"])
        denied(lambda: assume(session, second["Arn"]))
    finally:
        delete_role(root, second["RoleName"])


def test_user_session_dies_with_its_user_even_if_recreated(root, account_id):
    name = uniq("u")
    allow_assume = policy_doc(allow("sts:AssumeRole"))

    def make_user():
        root.iam.create_user(UserName=name)
        root.iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=allow_assume)
        key = root.iam.create_access_key(UserName=name)["AccessKey"]
        return root.server.principal(key["AccessKeyId"], key["SecretAccessKey"])

    role = new_role(root, f"arn:aws:iam::{account_id}:root")
    try:
        first = make_user()
        session = first.with_credentials(first.sts.get_session_token()["Credentials"])
        assume(session, role["Arn"])
        root.delete_user_fully(name)
        make_user()
        # The old session belongs to the deleted user: the new user's policies are not its own.
        denied(lambda: assume(session, role["Arn"]))
    finally:
        root.delete_user_fully(name)
        delete_role(root, role["RoleName"])


# -- 3. Root sessions -------------------------------------------------------------------------

def test_root_sessions_cannot_assume_roles(root, account_id):
    role = new_role(root, f"arn:aws:iam::{account_id}:root")
    try:
        session = root.with_credentials(root.sts.get_session_token()["Credentials"])
        assert session.sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{account_id}:root"
        msg = denied(lambda: assume(session, role["Arn"]))
        assert msg == "Roles may not be assumed by root accounts."
        # Nor may a root session mint further session credentials.
        denied(lambda: session.sts.get_session_token())
        denied(lambda: session.sts.get_federation_token(Name="xy", Policy=policy_doc(allow("*"))))
        # Without MFA a GetSessionToken session (the root's too) cannot call IAM.
        denied(lambda: session.iam.list_users(), "InvalidClientTokenId")
    finally:
        delete_role(root, role["RoleName"])


# -- 4. aws:PrincipalTag for every kind of caller -----------------------------------------------

def test_role_sessions_carry_the_roles_tags(root, user, account_id):
    user_arn = f"arn:aws:iam::{account_id}:user/{user.name}"
    abac = policy_doc(
        allow("iam:ListUsers", "*", Condition={"StringEquals": {"aws:PrincipalTag/team": "a"}}),
        deny("iam:ListRoles", "*", Condition={"StringEquals": {"aws:PrincipalTag/env": "prod"}}),
        allow("iam:ListRoles"))
    role = new_role(root, user_arn, actions=("sts:AssumeRole", "sts:TagSession"), policy=abac,
                    tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "prod"}])
    try:
        session = assume(user, role["Arn"])
        session.iam.list_users()
        denied(lambda: session.iam.list_roles())
        # Session tags win over the role's tags of the same key.
        retagged = assume(user, role["Arn"], Tags=[{"Key": "team", "Value": "b"},
                                                   {"Key": "env", "Value": "dev"}])
        denied(lambda: retagged.iam.list_users())
        retagged.iam.list_roles()
    finally:
        delete_role(root, role["RoleName"])


def test_user_sessions_carry_the_users_tags(root, user, account_id):
    root.iam.tag_user(UserName=user.name, Tags=[{"Key": "team", "Value": "a"}])
    role = new_role(root, f"arn:aws:iam::{account_id}:root")
    try:
        root.iam.put_user_policy(UserName=user.name, PolicyName="abac", PolicyDocument=policy_doc(
            allow("sts:AssumeRole", "*", Condition={"StringEquals": {"aws:PrincipalTag/team": "a"}})))
        assume(user, role["Arn"])
        session = user.with_credentials(user.sts.get_session_token()["Credentials"])
        assume(session, role["Arn"])
        root.iam.tag_user(UserName=user.name, Tags=[{"Key": "team", "Value": "b"}])
        denied(lambda: assume(session, role["Arn"]))
    finally:
        delete_role(root, role["RoleName"])


# -- 5. ChangePassword obeys policy -----------------------------------------------------------

def test_change_password_allowed_by_the_account_but_not_past_a_deny(root, user):
    root.iam.update_account_password_policy(AllowUsersToChangePassword=True, MinimumPasswordLength=8)
    try:
        root.iam.create_login_profile(UserName=user.name, Password="First-Pass-1")
        user.iam.change_password(OldPassword="First-Pass-1", NewPassword="Second-Pass-2")
        root.iam.put_user_policy(UserName=user.name, PolicyName="no", PolicyDocument=policy_doc(
            deny("iam:ChangePassword")))
        msg = denied(lambda: user.iam.change_password(OldPassword="Second-Pass-2", NewPassword="Third-Pass-3"))
        assert "explicit deny" in msg
        root.iam.delete_user_policy(UserName=user.name, PolicyName="no")
        # A permissions boundary that does not allow it still caps the account's grant.
        boundary = root.iam.create_policy(PolicyName=uniq("b"), PolicyDocument=policy_doc(
            allow("iam:Get*")))["Policy"]["Arn"]
        try:
            root.iam.put_user_permissions_boundary(UserName=user.name, PermissionsBoundary=boundary)
            denied(lambda: user.iam.change_password(OldPassword="Second-Pass-2", NewPassword="Third-Pass-3"))
            root.iam.delete_user_permissions_boundary(UserName=user.name)
            user.iam.change_password(OldPassword="Second-Pass-2", NewPassword="Third-Pass-3")
        finally:
            try:
                root.iam.delete_user_permissions_boundary(UserName=user.name)
            except ClientError:
                pass
            root.iam.delete_policy(PolicyArn=boundary)
    finally:
        root.iam.delete_account_password_policy()


# -- 8. A deleted managed policy used as a session policy -----------------------------------------

def test_deleted_session_policy_contributes_nothing(root, user, account_id):
    user_arn = f"arn:aws:iam::{account_id}:user/{user.name}"
    role = new_role(root, user_arn, policy=policy_doc(allow("iam:ListUsers")))
    session_policy = root.iam.create_policy(PolicyName=uniq("sp"), PolicyDocument=policy_doc(
        allow("iam:ListUsers")))["Policy"]["Arn"]
    try:
        session = assume(user, role["Arn"], PolicyArns=[{"arn": session_policy}])
        session.iam.list_users()
        root.iam.delete_policy(PolicyArn=session_policy)
        msg = denied(lambda: session.iam.list_users())
        assert "session policy" in msg
        # A new session naming the deleted policy is refused at issue time, as AWS does.
        with pytest.raises(ClientError) as e:
            assume(user, role["Arn"], PolicyArns=[{"arn": session_policy}])
        assert_error(e, "MalformedPolicyDocument", 400)
    finally:
        delete_role(root, role["RoleName"])
