//! Groups, roles, tags and permissions boundaries over the wire: each action's success shape and
//! its main AWS errors, signed as botocore signs.

use crate::common::{Creds, Harness, code, start, tag, tags};
use tessera_identity::{CreateOidcProvider, CreateUser};
use tessera_policy_service::CreatePolicy;
use tessera_store::iam::{EntityKind, Tag};

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

#[track_caller]
fn ok(out: &(u16, String)) -> &str {
    assert_eq!(out.0, 200, "expected success, got {}", out.1);
    &out.1
}

#[track_caller]
fn err(out: &(u16, String), status: u16, expected: &str) {
    assert_eq!((out.0, code(&out.1)), (status, expected), "body: {}", out.1);
}

async fn customer_policy(h: &Harness, name: &str) -> String {
    let input = CreatePolicy {
        policy_name: name.into(),
        path: None,
        policy_document: ALLOW_ALL.into(),
        description: None,
        tags: Vec::new(),
    };
    h.policies.create_policy(&h.account, input).await.expect("create policy").record.arn
}

async fn user(h: &Harness, name: &str) {
    ok(&h.root(&[("Action", "CreateUser"), ("UserName", name)]).await);
}

#[tokio::test]
async fn groups_and_memberships() {
    let h = start().await;
    let acct = h.account.id().to_owned();

    let out = h.root(&[("Action", "CreateGroup"), ("GroupName", "devs"), ("Path", "/eng/")]).await;
    let body = ok(&out);
    assert!(body.starts_with("<CreateGroupResponse") || body.contains("<CreateGroupResponse xmlns="), "{body}");
    assert_eq!(tag(body, "GroupName"), Some("devs"));
    assert_eq!(tag(body, "Path"), Some("/eng/"));
    assert_eq!(tag(body, "Arn").unwrap(), format!("arn:aws:iam::{acct}:group/eng/devs"));
    assert!(tag(body, "GroupId").unwrap().starts_with("AGPA"));
    assert!(tag(body, "CreateDate").unwrap().ends_with('Z'));
    err(&h.root(&[("Action", "CreateGroup"), ("GroupName", "DEVS")]).await, 409, "EntityAlreadyExists");
    err(&h.root(&[("Action", "CreateGroup")]).await, 400, "ValidationError");
    err(&h.root(&[("Action", "CreateGroup"), ("GroupName", "bad name!")]).await, 400, "ValidationError");

    // GetGroup: the group, an empty member list, not truncated.
    let out = h.root(&[("Action", "GetGroup"), ("GroupName", "devs")]).await;
    let body = ok(&out);
    assert_eq!(tag(body, "Users"), Some(""));
    assert_eq!(tag(body, "IsTruncated"), Some("false"));
    err(&h.root(&[("Action", "GetGroup"), ("GroupName", "nobody")]).await, 404, "NoSuchEntity");

    // Memberships.
    user(&h, "alice").await;
    user(&h, "bob").await;
    ok(&h.root(&[("Action", "AddUserToGroup"), ("GroupName", "devs"), ("UserName", "alice")]).await);
    ok(&h.root(&[("Action", "AddUserToGroup"), ("GroupName", "devs"), ("UserName", "bob")]).await);
    err(
        &h.root(&[("Action", "AddUserToGroup"), ("GroupName", "devs"), ("UserName", "carol")]).await,
        404,
        "NoSuchEntity",
    );
    err(
        &h.root(&[("Action", "AddUserToGroup"), ("GroupName", "ops"), ("UserName", "alice")]).await,
        404,
        "NoSuchEntity",
    );
    let out = h.root(&[("Action", "GetGroup"), ("GroupName", "devs")]).await;
    assert_eq!(tags(ok(&out), "UserName"), ["alice", "bob"]);
    let out = h.root(&[("Action", "GetGroup"), ("GroupName", "devs"), ("MaxItems", "1")]).await;
    let body = ok(&out);
    assert_eq!(tags(body, "UserName"), ["alice"]);
    assert_eq!(tag(body, "IsTruncated"), Some("true"));
    let marker = tag(body, "Marker").expect("a marker").to_owned();
    let out = h.root(&[("Action", "GetGroup"), ("GroupName", "devs"), ("Marker", &marker)]).await;
    assert_eq!(tags(ok(&out), "UserName"), ["bob"]);

    let out = h.root(&[("Action", "ListGroupsForUser"), ("UserName", "alice")]).await;
    let body = ok(&out);
    assert_eq!(tags(body, "GroupName"), ["devs"]);
    assert_eq!(tag(body, "IsTruncated"), Some("false"));
    err(&h.root(&[("Action", "ListGroupsForUser"), ("UserName", "carol")]).await, 404, "NoSuchEntity");

    // A group with members cannot be deleted.
    err(&h.root(&[("Action", "DeleteGroup"), ("GroupName", "devs")]).await, 409, "DeleteConflict");
    ok(&h.root(&[("Action", "RemoveUserFromGroup"), ("GroupName", "devs"), ("UserName", "alice")]).await);
    ok(&h.root(&[("Action", "RemoveUserFromGroup"), ("GroupName", "devs"), ("UserName", "bob")]).await);
    err(
        &h.root(&[("Action", "RemoveUserFromGroup"), ("GroupName", "devs"), ("UserName", "bob")]).await,
        404,
        "NoSuchEntity",
    );

    // 11th group for a user.
    for i in 0..10 {
        let name = format!("g{i}");
        ok(&h.root(&[("Action", "CreateGroup"), ("GroupName", &name)]).await);
        ok(&h.root(&[("Action", "AddUserToGroup"), ("GroupName", &name), ("UserName", "alice")]).await);
    }
    err(
        &h.root(&[("Action", "AddUserToGroup"), ("GroupName", "devs"), ("UserName", "alice")]).await,
        409,
        "LimitExceeded",
    );

    // ListGroups with a path prefix and paging.
    let out = h.root(&[("Action", "ListGroups"), ("PathPrefix", "/eng/")]).await;
    assert_eq!(tags(ok(&out), "GroupName"), ["devs"]);
    let out = h.root(&[("Action", "ListGroups"), ("MaxItems", "4")]).await;
    let body = ok(&out);
    assert_eq!(tags(body, "GroupName").len(), 4);
    assert_eq!(tag(body, "IsTruncated"), Some("true"));
    assert!(tag(body, "Marker").is_some());

    // UpdateGroup renames and moves; the old name is gone.
    ok(&h
        .root(&[("Action", "UpdateGroup"), ("GroupName", "devs"), ("NewGroupName", "builders"), ("NewPath", "/x/")])
        .await);
    err(&h.root(&[("Action", "GetGroup"), ("GroupName", "devs")]).await, 404, "NoSuchEntity");
    let out = h.root(&[("Action", "GetGroup"), ("GroupName", "builders")]).await;
    assert_eq!(tag(ok(&out), "Arn").unwrap(), format!("arn:aws:iam::{acct}:group/x/builders"));
    err(
        &h.root(&[("Action", "UpdateGroup"), ("GroupName", "g0"), ("NewGroupName", "builders")]).await,
        409,
        "EntityAlreadyExists",
    );
    err(&h.root(&[("Action", "UpdateGroup"), ("GroupName", "nope"), ("NewGroupName", "z")]).await, 404, "NoSuchEntity");

    let out = h.root(&[("Action", "DeleteGroup"), ("GroupName", "builders")]).await;
    let body = ok(&out);
    assert!(body.contains("<DeleteGroupResponse") && !body.contains("DeleteGroupResult"), "{body}");
    err(&h.root(&[("Action", "DeleteGroup"), ("GroupName", "builders")]).await, 404, "NoSuchEntity");
}

#[tokio::test]
async fn roles() {
    let h = start().await;
    let acct = h.account.id().to_owned();
    let boundary = customer_policy(&h, "bound").await;

    let out = h
        .root(&[
            ("Action", "CreateRole"),
            ("RoleName", "app"),
            ("Path", "/svc/"),
            ("AssumeRolePolicyDocument", TRUST),
            ("Description", "the app"),
            ("MaxSessionDuration", "7200"),
            ("PermissionsBoundary", &boundary),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "core"),
        ])
        .await;
    let body = ok(&out);
    assert_eq!(tag(body, "RoleName"), Some("app"));
    assert_eq!(tag(body, "Arn").unwrap(), format!("arn:aws:iam::{acct}:role/svc/app"));
    assert!(tag(body, "RoleId").unwrap().starts_with("AROA"));
    assert_eq!(tag(body, "Description"), Some("the app"));
    assert_eq!(tag(body, "MaxSessionDuration"), Some("7200"));
    assert_eq!(tag(body, "PermissionsBoundaryArn"), Some(boundary.as_str()));
    assert_eq!(tag(body, "PermissionsBoundaryType"), Some("PermissionsBoundaryPolicy"));
    assert_eq!(tag(body, "Key"), Some("team"));
    assert_eq!(tag(body, "Value"), Some("core"));
    // The trust policy comes back URL-encoded, as IAM sends it.
    let document = tag(body, "AssumeRolePolicyDocument").unwrap();
    assert!(document.starts_with("%7B%22Version%22"), "{document}");

    err(
        &h.root(&[("Action", "CreateRole"), ("RoleName", "APP"), ("AssumeRolePolicyDocument", TRUST)]).await,
        409,
        "EntityAlreadyExists",
    );
    err(
        &h.root(&[("Action", "CreateRole"), ("RoleName", "x"), ("AssumeRolePolicyDocument", "{not json")]).await,
        400,
        "MalformedPolicyDocument",
    );
    err(&h.root(&[("Action", "CreateRole"), ("RoleName", "x")]).await, 400, "ValidationError");
    let short = [
        ("Action", "CreateRole"),
        ("RoleName", "x"),
        ("AssumeRolePolicyDocument", TRUST),
        ("MaxSessionDuration", "60"),
    ];
    err(&h.root(&short).await, 400, "ValidationError");
    let unknown = format!("arn:aws:iam::{acct}:policy/none");
    let bad_boundary = [
        ("Action", "CreateRole"),
        ("RoleName", "x"),
        ("AssumeRolePolicyDocument", TRUST),
        ("PermissionsBoundary", &unknown),
    ];
    err(&h.root(&bad_boundary).await, 404, "NoSuchEntity");

    // GetRole, with defaults on a plain role; RoleLastUsed is always there.
    ok(&h.root(&[("Action", "CreateRole"), ("RoleName", "plain"), ("AssumeRolePolicyDocument", TRUST)]).await);
    let out = h.root(&[("Action", "GetRole"), ("RoleName", "plain")]).await;
    let body = ok(&out);
    assert_eq!(tag(body, "MaxSessionDuration"), Some("3600"));
    assert_eq!(tag(body, "Path"), Some("/"));
    assert!(body.contains("<RoleLastUsed"), "{body}");
    assert_eq!(tag(body, "Description"), None);
    err(&h.root(&[("Action", "GetRole"), ("RoleName", "ghost")]).await, 404, "NoSuchEntity");

    // ListRoles.
    let out = h.root(&[("Action", "ListRoles")]).await;
    let body = ok(&out);
    assert_eq!(tags(body, "RoleName"), ["app", "plain"]);
    assert_eq!(tag(body, "IsTruncated"), Some("false"));
    let out = h.root(&[("Action", "ListRoles"), ("PathPrefix", "/svc/")]).await;
    assert_eq!(tags(ok(&out), "RoleName"), ["app"]);
    let out = h.root(&[("Action", "ListRoles"), ("MaxItems", "1")]).await;
    let body = ok(&out);
    assert_eq!(tag(body, "IsTruncated"), Some("true"));
    let marker = tag(body, "Marker").unwrap().to_owned();
    let out = h.root(&[("Action", "ListRoles"), ("Marker", &marker)]).await;
    assert_eq!(tags(ok(&out), "RoleName"), ["plain"]);

    // UpdateRole: an empty result element; the values change.
    let out = h
        .root(&[("Action", "UpdateRole"), ("RoleName", "plain"), ("MaxSessionDuration", "43200"), ("Description", "d")])
        .await;
    assert!(ok(&out).contains("UpdateRoleResult"));
    let out = h.root(&[("Action", "GetRole"), ("RoleName", "plain")]).await;
    let body = ok(&out);
    assert_eq!(tag(body, "MaxSessionDuration"), Some("43200"));
    assert_eq!(tag(body, "Description"), Some("d"));
    err(
        &h.root(&[("Action", "UpdateRole"), ("RoleName", "plain"), ("MaxSessionDuration", "43201")]).await,
        400,
        "ValidationError",
    );
    err(&h.root(&[("Action", "UpdateRole"), ("RoleName", "ghost"), ("Description", "d")]).await, 404, "NoSuchEntity");

    // UpdateRoleDescription returns the role.
    let out = h.root(&[("Action", "UpdateRoleDescription"), ("RoleName", "plain"), ("Description", "new words")]).await;
    let body = ok(&out);
    assert!(tag(body, "UpdateRoleDescriptionResult").is_some_and(|r| r.trim_start().starts_with("<Role>")), "{body}");
    assert_eq!(tag(body, "Description"), Some("new words"));
    err(
        &h.root(&[("Action", "UpdateRoleDescription"), ("RoleName", "ghost"), ("Description", "x")]).await,
        404,
        "NoSuchEntity",
    );

    // UpdateAssumeRolePolicy.
    let other = TRUST.replace("ec2", "lambda");
    ok(&h.root(&[("Action", "UpdateAssumeRolePolicy"), ("RoleName", "plain"), ("PolicyDocument", &other)]).await);
    let out = h.root(&[("Action", "GetRole"), ("RoleName", "plain")]).await;
    assert!(tag(ok(&out), "AssumeRolePolicyDocument").unwrap().contains("lambda.amazonaws.com"));
    err(
        &h.root(&[("Action", "UpdateAssumeRolePolicy"), ("RoleName", "plain"), ("PolicyDocument", "[]")]).await,
        400,
        "MalformedPolicyDocument",
    );
    err(
        &h.root(&[("Action", "UpdateAssumeRolePolicy"), ("RoleName", "ghost"), ("PolicyDocument", TRUST)]).await,
        404,
        "NoSuchEntity",
    );

    // DeleteRole: refused while a policy is attached.
    let managed = customer_policy(&h, "attached").await;
    h.policies.attach_policy(&h.account, EntityKind::Role, "plain", &managed).await.expect("attach");
    err(&h.root(&[("Action", "DeleteRole"), ("RoleName", "plain")]).await, 409, "DeleteConflict");
    h.policies.detach_policy(&h.account, EntityKind::Role, "plain", &managed).await.expect("detach");
    ok(&h.root(&[("Action", "DeleteRole"), ("RoleName", "plain")]).await);
    err(&h.root(&[("Action", "GetRole"), ("RoleName", "plain")]).await, 404, "NoSuchEntity");
    err(&h.root(&[("Action", "DeleteRole"), ("RoleName", "plain")]).await, 404, "NoSuchEntity");
}

/// Tags, lists and untags one resource; `id` is the parameter naming it.
async fn tag_cycle(h: &Harness, noun: &str, id: (&str, &str)) {
    let (tag_action, untag_action, list_action) =
        (format!("Tag{noun}"), format!("Untag{noun}"), format!("List{noun}Tags"));
    let list = [("Action", list_action.as_str()), id];
    let out = h.root(&list).await;
    let body = ok(&out);
    assert_eq!(tag(body, "Tags"), Some(""), "{noun}: {body}");
    assert_eq!(tag(body, "IsTruncated"), Some("false"));

    let add = [
        ("Action", tag_action.as_str()),
        id,
        ("Tags.member.1.Key", "a"),
        ("Tags.member.1.Value", "1"),
        ("Tags.member.2.Key", "b"),
        ("Tags.member.2.Value", "2"),
    ];
    let out = h.root(&add).await;
    assert!(!ok(&out).contains("Result"), "{noun}");
    // Keys match without case: `A` overwrites `a`.
    ok(&h.root(&[("Action", tag_action.as_str()), id, ("Tags.member.1.Key", "A"), ("Tags.member.1.Value", "9")]).await);
    let out = h.root(&list).await;
    let body = ok(&out);
    assert_eq!(tags(body, "Key").len(), 2, "{noun}: {body}");
    assert!(tags(body, "Value").contains(&"9"), "{noun}: {body}");
    let out = h.root(&[("Action", list_action.as_str()), id, ("MaxItems", "1")]).await;
    let body = ok(&out);
    assert_eq!(tag(body, "IsTruncated"), Some("true"), "{noun}");
    assert!(tag(body, "Marker").is_some());

    // More than 50 tags fails as a whole.
    let many: Vec<(String, String)> = (1..=50)
        .flat_map(|i| {
            [(format!("Tags.member.{i}.Key"), format!("k{i}")), (format!("Tags.member.{i}.Value"), String::new())]
        })
        .collect();
    let mut params: Vec<(&str, &str)> = vec![("Action", tag_action.as_str()), id];
    params.extend(many.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    err(&h.root(&params).await, 409, "LimitExceeded");

    ok(&h
        .root(&[("Action", untag_action.as_str()), id, ("TagKeys.member.1", "B"), ("TagKeys.member.2", "absent")])
        .await);
    let out = h.root(&list).await;
    assert_eq!(tags(ok(&out), "Key").len(), 1, "{noun}");
}

#[tokio::test]
async fn tags_on_every_taggable_resource() {
    let h = start().await;
    let acct = h.account.id().to_owned();
    user(&h, "alice").await;
    ok(&h.root(&[("Action", "CreateRole"), ("RoleName", "app"), ("AssumeRolePolicyDocument", TRUST)]).await);
    let policy = customer_policy(&h, "p").await;
    let oidc = CreateOidcProvider {
        url: "https://token.example.com".into(),
        client_ids: vec!["sts.amazonaws.com".into()],
        thumbprints: vec!["a".repeat(40)],
        tags: Vec::new(),
    };
    let provider = h.identity.create_open_id_connect_provider(&h.account, oidc).await.expect("oidc").arn;
    let serial =
        h.identity.create_virtual_mfa_device(&h.account, None, "phone", Vec::new()).await.expect("mfa").device.serial;

    tag_cycle(&h, "User", ("UserName", "alice")).await;
    tag_cycle(&h, "Role", ("RoleName", "app")).await;
    tag_cycle(&h, "Policy", ("PolicyArn", &policy)).await;
    tag_cycle(&h, "OpenIDConnectProvider", ("OpenIDConnectProviderArn", &provider)).await;
    tag_cycle(&h, "MFADevice", ("SerialNumber", &serial)).await;

    // User tags show on the user.
    let out = h.root(&[("Action", "GetUser"), ("UserName", "alice")]).await;
    assert_eq!(tag(ok(&out), "Key"), Some("A"));

    // Missing resources.
    let tag1 = [("Tags.member.1.Key", "k"), ("Tags.member.1.Value", "v")];
    let ghost_policy = format!("arn:aws:iam::{acct}:policy/ghost");
    let ghost_oidc = format!("arn:aws:iam::{acct}:oidc-provider/nowhere.example.com");
    let ghost_mfa = format!("arn:aws:iam::{acct}:mfa/ghost");
    for (action, id) in [
        ("TagUser", ("UserName", "ghost")),
        ("TagRole", ("RoleName", "ghost")),
        ("TagPolicy", ("PolicyArn", ghost_policy.as_str())),
        ("TagOpenIDConnectProvider", ("OpenIDConnectProviderArn", ghost_oidc.as_str())),
        ("TagMFADevice", ("SerialNumber", ghost_mfa.as_str())),
    ] {
        err(&h.root(&[("Action", action), id, tag1[0], tag1[1]]).await, 404, "NoSuchEntity");
    }
    err(&h.root(&[("Action", "ListUserTags"), ("UserName", "ghost")]).await, 404, "NoSuchEntity");
    err(
        &h.root(&[("Action", "UntagRole"), ("RoleName", "ghost"), ("TagKeys.member.1", "k")]).await,
        404,
        "NoSuchEntity",
    );
    err(&h.root(&[("Action", "ListRoleTags")]).await, 400, "ValidationError");
    // AWS-managed policies cannot be tagged.
    let aws_policy = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    err(&h.root(&[("Action", "TagPolicy"), ("PolicyArn", aws_policy), tag1[0], tag1[1]]).await, 400, "InvalidInput");
    // A bad tag fails the whole call.
    let long_key = "k".repeat(129);
    err(
        &h.root(&[
            ("Action", "TagUser"),
            ("UserName", "alice"),
            ("Tags.member.1.Key", &long_key),
            ("Tags.member.1.Value", "v"),
        ])
        .await,
        400,
        "ValidationError",
    );
}

#[tokio::test]
async fn permissions_boundaries() {
    let h = start().await;
    let acct = h.account.id().to_owned();
    let boundary = customer_policy(&h, "bound").await;
    user(&h, "alice").await;
    ok(&h.root(&[("Action", "CreateRole"), ("RoleName", "app"), ("AssumeRolePolicyDocument", TRUST)]).await);

    ok(&h
        .root(&[("Action", "PutUserPermissionsBoundary"), ("UserName", "alice"), ("PermissionsBoundary", &boundary)])
        .await);
    let out = h.root(&[("Action", "GetUser"), ("UserName", "alice")]).await;
    assert_eq!(tag(ok(&out), "PermissionsBoundaryArn"), Some(boundary.as_str()));
    // An AWS-managed policy serves too, and replaces the old one.
    let aws_policy = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    ok(&h
        .root(&[("Action", "PutUserPermissionsBoundary"), ("UserName", "alice"), ("PermissionsBoundary", aws_policy)])
        .await);
    let out = h.root(&[("Action", "GetUser"), ("UserName", "alice")]).await;
    assert_eq!(tag(ok(&out), "PermissionsBoundaryArn"), Some(aws_policy));
    ok(&h.root(&[("Action", "DeleteUserPermissionsBoundary"), ("UserName", "alice")]).await);
    let out = h.root(&[("Action", "GetUser"), ("UserName", "alice")]).await;
    assert!(!ok(&out).contains("PermissionsBoundary"));
    err(&h.root(&[("Action", "DeleteUserPermissionsBoundary"), ("UserName", "alice")]).await, 404, "NoSuchEntity");
    err(
        &h.root(&[("Action", "PutUserPermissionsBoundary"), ("UserName", "ghost"), ("PermissionsBoundary", &boundary)])
            .await,
        404,
        "NoSuchEntity",
    );
    let unknown = format!("arn:aws:iam::{acct}:policy/none");
    err(
        &h.root(&[("Action", "PutUserPermissionsBoundary"), ("UserName", "alice"), ("PermissionsBoundary", &unknown)])
            .await,
        404,
        "NoSuchEntity",
    );
    err(&h.root(&[("Action", "PutUserPermissionsBoundary"), ("UserName", "alice")]).await, 400, "ValidationError");

    ok(&h
        .root(&[("Action", "PutRolePermissionsBoundary"), ("RoleName", "app"), ("PermissionsBoundary", &boundary)])
        .await);
    let out = h.root(&[("Action", "GetRole"), ("RoleName", "app")]).await;
    assert_eq!(tag(ok(&out), "PermissionsBoundaryArn"), Some(boundary.as_str()));
    ok(&h.root(&[("Action", "DeleteRolePermissionsBoundary"), ("RoleName", "app")]).await);
    let out = h.root(&[("Action", "GetRole"), ("RoleName", "app")]).await;
    assert!(!ok(&out).contains("PermissionsBoundary"));
    err(&h.root(&[("Action", "DeleteRolePermissionsBoundary"), ("RoleName", "app")]).await, 404, "NoSuchEntity");
    err(
        &h.root(&[("Action", "PutRolePermissionsBoundary"), ("RoleName", "ghost"), ("PermissionsBoundary", &boundary)])
            .await,
        404,
        "NoSuchEntity",
    );
}

#[tokio::test]
async fn a_user_needs_a_policy_that_allows_the_action() {
    let h = start().await;
    let acct = h.account.id().to_owned();
    let input = CreateUser {
        path: None,
        user_name: "dev".into(),
        permissions_boundary: None,
        tags: vec![Tag { key: "k".into(), value: "v".into() }],
    };
    h.identity.create_user(&h.account, input).await.expect("user");
    let key = h.identity.create_access_key(&h.account, "dev").await.expect("key");
    let dev =
        Creds { access_key_id: key.access_key_id, secret: key.secret_access_key.expose().to_owned(), token: None };

    let out = h.call(&dev, &[("Action", "CreateGroup"), ("GroupName", "g")]).await;
    err(&out, 403, "AccessDenied");
    let message = tag(&out.1, "Message").unwrap();
    assert!(message.contains(&format!("iam:CreateGroup on resource: arn:aws:iam::{acct}:group/g")), "{message}");
    err(&h.call(&dev, &[("Action", "ListRoles")]).await, 403, "AccessDenied");

    // Allowed on groups only: groups work, roles are still refused.
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*Group*"],"Resource":"*"}]}"#;
    h.policies.put_inline_policy(&h.account, EntityKind::User, "dev", "groups", allow).await.expect("inline policy");
    ok(&h.call(&dev, &[("Action", "CreateGroup"), ("GroupName", "g")]).await);
    ok(&h.call(&dev, &[("Action", "ListGroups")]).await);
    err(&h.call(&dev, &[("Action", "GetRole"), ("RoleName", "r")]).await, 403, "AccessDenied");
    err(
        &h.call(
            &dev,
            &[("Action", "TagUser"), ("UserName", "dev"), ("Tags.member.1.Key", "x"), ("Tags.member.1.Value", "y")],
        )
        .await,
        403,
        "AccessDenied",
    );
}
