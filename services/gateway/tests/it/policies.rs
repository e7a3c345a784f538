//! Managed and inline policies, attachments and simulation over the real gateway (reference §5.2,
//! §5.7): each action's success and main errors, and that attaching is authorized on the target.

use crate::common::{Creds, Harness, code, start, tag, tags};
use tessera_awsapi::encode_policy_document;
use tessera_identity::CreateUser;
use tessera_store::iam::EntityKind;

const ALLOW_S3: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

fn ok(out: &(u16, String)) -> &str {
    assert_eq!(out.0, 200, "{}", out.1);
    &out.1
}

fn err(out: &(u16, String), status: u16, expected: &str) {
    assert_eq!((out.0, code(&out.1)), (status, expected), "{}", out.1);
}

async fn user(h: &Harness, name: &str) -> Creds {
    let input = CreateUser { path: None, user_name: name.to_owned(), permissions_boundary: None, tags: Vec::new() };
    h.identity.create_user(&h.account, input).await.unwrap();
    let key = h.identity.create_access_key(&h.account, name).await.unwrap();
    Creds { access_key_id: key.access_key_id, secret: key.secret_access_key.expose().to_owned(), token: None }
}

async fn create_policy(h: &Harness, name: &str, document: &str) -> String {
    let out = h.root(&[("Action", "CreatePolicy"), ("PolicyName", name), ("PolicyDocument", document)]).await;
    tag(ok(&out), "Arn").unwrap().to_owned()
}

#[tokio::test]
async fn managed_policies_and_versions() {
    let h = start().await;
    let out = h
        .root(&[
            ("Action", "CreatePolicy"),
            ("PolicyName", "reader"),
            ("Path", "/team/"),
            ("PolicyDocument", ALLOW_S3),
            ("Description", "reads"),
            ("Tags.member.1.Key", "k"),
            ("Tags.member.1.Value", "v"),
        ])
        .await;
    let xml = ok(&out);
    let arn = format!("arn:aws:iam::{}:policy/team/reader", h.account.id());
    assert_eq!(tag(xml, "Arn"), Some(arn.as_str()));
    for (name, value) in [
        ("PolicyName", "reader"),
        ("Path", "/team/"),
        ("DefaultVersionId", "v1"),
        ("AttachmentCount", "0"),
        ("PermissionsBoundaryUsageCount", "0"),
        ("IsAttachable", "true"),
        ("Description", "reads"),
        ("Key", "k"),
    ] {
        assert_eq!(tag(xml, name), Some(value), "{name} in {xml}");
    }
    assert!(tag(xml, "PolicyId").unwrap().starts_with("ANPA"));
    assert!(tag(xml, "CreateDate").is_some() && tag(xml, "UpdateDate").is_some());

    let dup = h.root(&[("Action", "CreatePolicy"), ("PolicyName", "reader"), ("PolicyDocument", ALLOW_S3)]).await;
    err(&dup, 409, "EntityAlreadyExists");
    let bad = h.root(&[("Action", "CreatePolicy"), ("PolicyName", "bad"), ("PolicyDocument", "{\"Statement\":")]).await;
    err(&bad, 400, "MalformedPolicyDocument");

    let got = h.root(&[("Action", "GetPolicy"), ("PolicyArn", &arn)]).await;
    assert_eq!(tag(ok(&got), "PolicyName"), Some("reader"));
    let missing = format!("arn:aws:iam::{}:policy/nope", h.account.id());
    err(&h.root(&[("Action", "GetPolicy"), ("PolicyArn", &missing)]).await, 404, "NoSuchEntity");
    let aws = h.root(&[("Action", "GetPolicy"), ("PolicyArn", ADMIN)]).await;
    assert_eq!(tag(ok(&aws), "PolicyName"), Some("AdministratorAccess"));

    let local = h.root(&[("Action", "ListPolicies"), ("Scope", "Local")]).await;
    assert_eq!(tags(ok(&local), "PolicyName"), ["reader"]);
    assert_eq!(tag(&local.1, "IsTruncated"), Some("false"));
    let aws = h.root(&[("Action", "ListPolicies"), ("Scope", "AWS")]).await;
    let names = tags(ok(&aws), "PolicyName");
    assert!(names.contains(&"AdministratorAccess") && !names.contains(&"reader"));
    let attached = h.root(&[("Action", "ListPolicies"), ("OnlyAttached", "true")]).await;
    assert_eq!(tags(ok(&attached), "PolicyName"), Vec::<&str>::new());
    let prefixed = h.root(&[("Action", "ListPolicies"), ("PathPrefix", "/team/")]).await;
    assert_eq!(tags(ok(&prefixed), "PolicyName"), ["reader"]);
    err(&h.root(&[("Action", "ListPolicies"), ("Scope", "Mine")]).await, 400, "ValidationError");

    // Versions: v2..v5, then the sixth is refused.
    for n in 2..=5 {
        let document = ALLOW_S3.replace("GetObject", &format!("Get{n}"));
        let out =
            h.root(&[("Action", "CreatePolicyVersion"), ("PolicyArn", &arn), ("PolicyDocument", &document)]).await;
        let xml = ok(&out);
        assert_eq!(tag(xml, "VersionId"), Some(format!("v{n}").as_str()));
        assert_eq!(tag(xml, "IsDefaultVersion"), Some("false"));
    }
    let sixth = h.root(&[("Action", "CreatePolicyVersion"), ("PolicyArn", &arn), ("PolicyDocument", ALLOW_S3)]).await;
    err(&sixth, 409, "LimitExceeded");
    let bad = h.root(&[("Action", "CreatePolicyVersion"), ("PolicyArn", &arn), ("PolicyDocument", "[]")]).await;
    err(&bad, 400, "MalformedPolicyDocument");

    let v1 = h.root(&[("Action", "GetPolicyVersion"), ("PolicyArn", &arn), ("VersionId", "v1")]).await;
    let xml = ok(&v1);
    assert_eq!(tag(xml, "Document"), Some(encode_policy_document(ALLOW_S3).as_str()));
    assert!(tag(xml, "Document").unwrap().starts_with("%7B%22Version%22"));
    assert_eq!(tag(xml, "IsDefaultVersion"), Some("true"));
    let none = h.root(&[("Action", "GetPolicyVersion"), ("PolicyArn", &arn), ("VersionId", "v9")]).await;
    err(&none, 404, "NoSuchEntity");

    let list = h.root(&[("Action", "ListPolicyVersions"), ("PolicyArn", &arn)]).await;
    assert_eq!(tags(ok(&list), "VersionId"), ["v5", "v4", "v3", "v2", "v1"]);

    let set = h.root(&[("Action", "SetDefaultPolicyVersion"), ("PolicyArn", &arn), ("VersionId", "v3")]).await;
    ok(&set);
    let got = h.root(&[("Action", "GetPolicy"), ("PolicyArn", &arn)]).await;
    assert_eq!(tag(ok(&got), "DefaultVersionId"), Some("v3"));
    let del = h.root(&[("Action", "DeletePolicyVersion"), ("PolicyArn", &arn), ("VersionId", "v3")]).await;
    err(&del, 409, "DeleteConflict");
    let missing = h.root(&[("Action", "SetDefaultPolicyVersion"), ("PolicyArn", &arn), ("VersionId", "v8")]).await;
    err(&missing, 404, "NoSuchEntity");

    // DeletePolicy needs only the default version left and no attachments.
    err(&h.root(&[("Action", "DeletePolicy"), ("PolicyArn", &arn)]).await, 409, "DeleteConflict");
    for v in ["v1", "v2", "v4", "v5"] {
        ok(&h.root(&[("Action", "DeletePolicyVersion"), ("PolicyArn", &arn), ("VersionId", v)]).await);
    }
    user(&h, "alice").await;
    ok(&h.root(&[("Action", "AttachUserPolicy"), ("UserName", "alice"), ("PolicyArn", &arn)]).await);
    let got = h.root(&[("Action", "GetPolicy"), ("PolicyArn", &arn)]).await;
    assert_eq!(tag(ok(&got), "AttachmentCount"), Some("1"));
    err(&h.root(&[("Action", "DeletePolicy"), ("PolicyArn", &arn)]).await, 409, "DeleteConflict");
    ok(&h.root(&[("Action", "DetachUserPolicy"), ("UserName", "alice"), ("PolicyArn", &arn)]).await);
    ok(&h.root(&[("Action", "DeletePolicy"), ("PolicyArn", &arn)]).await);
    err(&h.root(&[("Action", "GetPolicy"), ("PolicyArn", &arn)]).await, 404, "NoSuchEntity");
    err(&h.root(&[("Action", "DeletePolicy"), ("PolicyArn", &arn)]).await, 404, "NoSuchEntity");
}

#[tokio::test]
async fn attachments_for_users_groups_and_roles() {
    let h = start().await;
    user(&h, "alice").await;
    h.identity.create_group(&h.account, None, "devs").await.unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = tessera_identity::CreateRole {
        path: None,
        role_name: "app".to_owned(),
        assume_role_policy_document: trust.to_owned(),
        description: None,
        max_session_duration: None,
        permissions_boundary: None,
        tags: Vec::new(),
    };
    h.identity.create_role(&h.account, role).await.unwrap();
    let local = create_policy(&h, "reader", ALLOW_S3).await;

    for (kind, field, name) in
        [("User", "UserName", "alice"), ("Group", "GroupName", "devs"), ("Role", "RoleName", "app")]
    {
        let attach = format!("Attach{kind}Policy");
        let detach = format!("Detach{kind}Policy");
        let list = format!("ListAttached{kind}Policies");
        ok(&h.root(&[("Action", &attach), (field, name), ("PolicyArn", ADMIN)]).await);
        ok(&h.root(&[("Action", &attach), (field, name), ("PolicyArn", &local)]).await);
        // Idempotent.
        ok(&h.root(&[("Action", &attach), (field, name), ("PolicyArn", &local)]).await);
        let out = h.root(&[("Action", &list), (field, name)]).await;
        let xml = ok(&out);
        assert_eq!(tags(xml, "PolicyName").len(), 2, "{xml}");
        assert!(tags(xml, "PolicyArn").contains(&ADMIN));
        assert_eq!(tag(xml, "IsTruncated"), Some("false"));

        let unknown = format!("arn:aws:iam::{}:policy/ghost", h.account.id());
        err(&h.root(&[("Action", &attach), (field, name), ("PolicyArn", &unknown)]).await, 404, "NoSuchEntity");
        err(&h.root(&[("Action", &attach), (field, "nobody"), ("PolicyArn", ADMIN)]).await, 404, "NoSuchEntity");
        err(&h.root(&[("Action", &list), (field, "nobody")]).await, 404, "NoSuchEntity");

        ok(&h.root(&[("Action", &detach), (field, name), ("PolicyArn", ADMIN)]).await);
        err(&h.root(&[("Action", &detach), (field, name), ("PolicyArn", ADMIN)]).await, 404, "NoSuchEntity");
        let out = h.root(&[("Action", &list), (field, name)]).await;
        assert_eq!(tags(ok(&out), "PolicyArn"), [local.as_str()]);
    }

    let entities = h.root(&[("Action", "ListEntitiesForPolicy"), ("PolicyArn", &local)]).await;
    let xml = ok(&entities);
    assert_eq!(tags(xml, "UserName"), ["alice"]);
    assert_eq!(tags(xml, "GroupName"), ["devs"]);
    assert_eq!(tags(xml, "RoleName"), ["app"]);
    assert!(tag(xml, "UserId").unwrap().starts_with("AIDA"));
    let roles = h.root(&[("Action", "ListEntitiesForPolicy"), ("PolicyArn", &local), ("EntityFilter", "Role")]).await;
    let xml = ok(&roles);
    assert_eq!((tags(xml, "RoleName"), tags(xml, "UserName")), (vec!["app"], vec![]));
    let ghost = format!("arn:aws:iam::{}:policy/ghost", h.account.id());
    err(&h.root(&[("Action", "ListEntitiesForPolicy"), ("PolicyArn", &ghost)]).await, 404, "NoSuchEntity");

    // Ten attached policies per user; the eleventh is refused.
    for n in 2..=10 {
        let arn = create_policy(&h, &format!("p{n}"), ALLOW_S3).await;
        ok(&h.root(&[("Action", "AttachUserPolicy"), ("UserName", "alice"), ("PolicyArn", &arn)]).await);
    }
    let eleventh = create_policy(&h, "p11", ALLOW_S3).await;
    let out = h.root(&[("Action", "AttachUserPolicy"), ("UserName", "alice"), ("PolicyArn", &eleventh)]).await;
    err(&out, 409, "LimitExceeded");
}

#[tokio::test]
async fn inline_policies() {
    let h = start().await;
    user(&h, "alice").await;
    h.identity.create_group(&h.account, None, "devs").await.unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = tessera_identity::CreateRole {
        path: None,
        role_name: "app".to_owned(),
        assume_role_policy_document: trust.to_owned(),
        description: None,
        max_session_duration: None,
        permissions_boundary: None,
        tags: Vec::new(),
    };
    h.identity.create_role(&h.account, role).await.unwrap();

    for (kind, field, name) in
        [("User", "UserName", "alice"), ("Group", "GroupName", "devs"), ("Role", "RoleName", "app")]
    {
        let put = format!("Put{kind}Policy");
        let get = format!("Get{kind}Policy");
        let delete = format!("Delete{kind}Policy");
        let list = format!("List{kind}Policies");
        ok(&h.root(&[("Action", &put), (field, name), ("PolicyName", "b"), ("PolicyDocument", ALLOW_S3)]).await);
        ok(&h.root(&[("Action", &put), (field, name), ("PolicyName", "a"), ("PolicyDocument", ALLOW_ALL)]).await);
        // Replacing keeps one policy of that name.
        ok(&h.root(&[("Action", &put), (field, name), ("PolicyName", "a"), ("PolicyDocument", ALLOW_S3)]).await);
        let out = h.root(&[("Action", &list), (field, name)]).await;
        assert_eq!(tags(ok(&out), "member"), ["a", "b"]);

        let out = h.root(&[("Action", &get), (field, name), ("PolicyName", "a")]).await;
        let xml = ok(&out);
        assert_eq!(tag(xml, field), Some(name));
        assert_eq!(tag(xml, "PolicyName"), Some("a"));
        assert_eq!(tag(xml, "PolicyDocument"), Some(encode_policy_document(ALLOW_S3).as_str()));
        assert!(!tag(xml, "PolicyDocument").unwrap().contains('{'));

        let bad = h.root(&[("Action", &put), (field, name), ("PolicyName", "x"), ("PolicyDocument", "nope")]).await;
        err(&bad, 400, "MalformedPolicyDocument");
        let out = h.root(&[("Action", &get), (field, name), ("PolicyName", "zzz")]).await;
        err(&out, 404, "NoSuchEntity");
        let out =
            h.root(&[("Action", &put), (field, "nobody"), ("PolicyName", "a"), ("PolicyDocument", ALLOW_S3)]).await;
        err(&out, 404, "NoSuchEntity");

        ok(&h.root(&[("Action", &delete), (field, name), ("PolicyName", "b")]).await);
        err(&h.root(&[("Action", &delete), (field, name), ("PolicyName", "b")]).await, 404, "NoSuchEntity");
        let out = h.root(&[("Action", &list), (field, name)]).await;
        assert_eq!(tags(ok(&out), "member"), ["a"]);
    }

    // A user's inline policies share 2,048 characters (white space not counted).
    let statement =
        |n: usize| format!(r#"{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-{n:04}/*"}}"#);
    let big = |from: usize| {
        let statements: Vec<String> = (from..from + 12).map(statement).collect();
        format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","))
    };
    let first = big(0);
    assert!(first.len() < 2048 && first.len() > 1024, "{}", first.len());
    ok(&h
        .root(&[("Action", "PutUserPolicy"), ("UserName", "alice"), ("PolicyName", "big1"), ("PolicyDocument", &first)])
        .await);
    let second = big(100);
    let out = h
        .root(&[
            ("Action", "PutUserPolicy"),
            ("UserName", "alice"),
            ("PolicyName", "big2"),
            ("PolicyDocument", &second),
        ])
        .await;
    err(&out, 409, "LimitExceeded");
}

fn decisions(xml: &str) -> Vec<&str> {
    tags(xml, "EvalDecision")
}

#[tokio::test]
async fn simulate_custom_policy() {
    let h = start().await;
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#;
    let out = h
        .root(&[
            ("Action", "SimulateCustomPolicy"),
            ("PolicyInputList.member.1", ALLOW_ALL),
            ("PolicyInputList.member.2", deny),
            ("ActionNames.member.1", "s3:GetObject"),
            ("ActionNames.member.2", "s3:DeleteObject"),
        ])
        .await;
    let xml = ok(&out);
    assert_eq!(tags(xml, "EvalActionName"), ["s3:GetObject", "s3:DeleteObject"]);
    assert_eq!(tags(xml, "EvalResourceName"), ["*", "*"]);
    assert_eq!(decisions(xml), ["allowed", "explicitDeny"]);
    assert_eq!(tags(xml, "SourcePolicyId"), ["PolicyInputList.1", "PolicyInputList.2"]);
    assert_eq!(tag(xml, "SourcePolicyType"), Some("IAM Policy"));
    assert!(tag(tag(xml, "StartPosition").unwrap(), "Line").is_some());
    assert!(tag(tag(xml, "EndPosition").unwrap(), "Column").is_some());
    assert_eq!(tag(xml, "IsTruncated"), Some("false"));

    let conditional = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:RequestTag/team":"red"}}}]}"#;
    let base = [
        ("Action", "SimulateCustomPolicy"),
        ("PolicyInputList.member.1", conditional),
        ("ActionNames.member.1", "s3:GetObject"),
        ("ActionNames.member.2", "s3:PutObject"),
        ("ResourceArns.member.1", "arn:aws:s3:::b/k"),
    ];
    let out = h.root(&base).await;
    let xml = ok(&out);
    assert_eq!(tags(xml, "EvalDecision"), ["implicitDeny", "implicitDeny"]);
    assert!(tags(xml, "MissingContextValues").iter().any(|m| m.contains("aws:RequestTag/team")), "{xml}");
    let mut with_context = base.to_vec();
    with_context.extend([
        ("ContextEntries.member.1.ContextKeyName", "aws:RequestTag/team"),
        ("ContextEntries.member.1.ContextKeyValues.member.1", "red"),
        ("ContextEntries.member.1.ContextKeyType", "string"),
    ]);
    let out = h.root(&with_context).await;
    let xml = ok(&out);
    assert_eq!(tag(xml, "EvalDecision"), Some("allowed"));
    assert_eq!(tag(xml, "EvalResourceName"), Some("arn:aws:s3:::b/k"));

    let bad = h
        .root(&[
            ("Action", "SimulateCustomPolicy"),
            ("PolicyInputList.member.1", "{"),
            ("ActionNames.member.1", "s3:X"),
        ])
        .await;
    err(&bad, 400, "MalformedPolicyDocument");
    let wildcard = h
        .root(&[
            ("Action", "SimulateCustomPolicy"),
            ("PolicyInputList.member.1", ALLOW_ALL),
            ("ActionNames.member.1", "s3:*"),
        ])
        .await;
    err(&wildcard, 400, "InvalidInput");
}

#[tokio::test]
async fn simulate_principal_policy() {
    let h = start().await;
    user(&h, "alice").await;
    h.identity.create_group(&h.account, None, "devs").await.unwrap();
    h.identity.add_user_to_group(&h.account, "devs", "alice").await.unwrap();
    h.policies.put_inline_policy(&h.account, EntityKind::User, "alice", "own", ALLOW_S3).await.unwrap();
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#;
    h.policies.put_inline_policy(&h.account, EntityKind::Group, "devs", "nodelete", deny).await.unwrap();
    let arn = format!("arn:aws:iam::{}:user/alice", h.account.id());
    let out = h
        .root(&[
            ("Action", "SimulatePrincipalPolicy"),
            ("PolicySourceArn", &arn),
            ("ActionNames.member.1", "s3:GetObject"),
            ("ActionNames.member.2", "s3:DeleteObject"),
            ("ActionNames.member.3", "ec2:RunInstances"),
        ])
        .await;
    let xml = ok(&out);
    assert_eq!(decisions(xml), ["allowed", "explicitDeny", "implicitDeny"]);
    assert_eq!(tags(xml, "SourcePolicyId"), ["own", "nodelete"]);
    assert_eq!(tags(xml, "SourcePolicyType"), ["user", "group"]);

    // Extra policies from the request are added to the principal's.
    let out = h
        .root(&[
            ("Action", "SimulatePrincipalPolicy"),
            ("PolicySourceArn", &arn),
            ("PolicyInputList.member.1", ALLOW_ALL),
            ("ActionNames.member.1", "ec2:RunInstances"),
        ])
        .await;
    let xml = ok(&out);
    assert_eq!(decisions(xml), ["allowed"]);
    assert_eq!(tag(xml, "SourcePolicyId"), Some("PolicyInputList.1"));

    let ghost = format!("arn:aws:iam::{}:user/ghost", h.account.id());
    let out = h
        .root(&[("Action", "SimulatePrincipalPolicy"), ("PolicySourceArn", &ghost), ("ActionNames.member.1", "s3:X")])
        .await;
    err(&out, 404, "NoSuchEntity");
}

#[tokio::test]
async fn no_privilege_escalation_through_attach() {
    let h = start().await;
    let mallory = user(&h, "mallory").await;
    user(&h, "bob").await;
    let account = h.account.id();
    // Mallory may attach policies to other users only.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["iam:AttachUserPolicy","iam:PutUserPolicy"],"Resource":"arn:aws:iam::{account}:user/*"}},{{"Effect":"Deny","Action":["iam:AttachUserPolicy","iam:PutUserPolicy"],"Resource":"arn:aws:iam::{account}:user/mallory"}}]}}"#
    );
    h.policies.put_inline_policy(&h.account, EntityKind::User, "mallory", "attach-others", &policy).await.unwrap();

    let own = h.call(&mallory, &[("Action", "AttachUserPolicy"), ("UserName", "mallory"), ("PolicyArn", ADMIN)]).await;
    err(&own, 403, "AccessDenied");
    let own = h
        .call(
            &mallory,
            &[("Action", "PutUserPolicy"), ("UserName", "mallory"), ("PolicyName", "x"), ("PolicyDocument", ALLOW_ALL)],
        )
        .await;
    err(&own, 403, "AccessDenied");
    let other = h.call(&mallory, &[("Action", "AttachUserPolicy"), ("UserName", "bob"), ("PolicyArn", ADMIN)]).await;
    ok(&other);
    // Nothing was attached to Mallory.
    let page = tessera_identity::PageRequest::default();
    let attached = h.policies.list_attached_policies(&h.account, EntityKind::User, "mallory", None, &page).await;
    assert!(attached.unwrap().items.is_empty());

    // Allowed only on another user's ARN (no deny at all): the implicit deny holds for itself.
    let trent = user(&h, "trent").await;
    let only_bob = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iam:AttachUserPolicy","Resource":"arn:aws:iam::{account}:user/bob"}}]}}"#
    );
    h.policies.put_inline_policy(&h.account, EntityKind::User, "trent", "bob-only", &only_bob).await.unwrap();
    let own = h.call(&trent, &[("Action", "AttachUserPolicy"), ("UserName", "trent"), ("PolicyArn", ADMIN)]).await;
    err(&own, 403, "AccessDenied");
    assert!(own.1.contains("iam:AttachUserPolicy"), "{}", own.1);
    let own = h.call(&trent, &[("Action", "AttachGroupPolicy"), ("GroupName", "g"), ("PolicyArn", ADMIN)]).await;
    err(&own, 403, "AccessDenied");
    ok(&h.call(&trent, &[("Action", "AttachUserPolicy"), ("UserName", "bob"), ("PolicyArn", ADMIN)]).await);
    let detach = h.call(&trent, &[("Action", "DetachUserPolicy"), ("UserName", "bob"), ("PolicyArn", ADMIN)]).await;
    err(&detach, 403, "AccessDenied");

    // A user with no policies can do nothing here, not even create a policy or simulate.
    let eve = user(&h, "eve").await;
    let out = h.call(&eve, &[("Action", "AttachUserPolicy"), ("UserName", "eve"), ("PolicyArn", ADMIN)]).await;
    err(&out, 403, "AccessDenied");
    let out = h.call(&eve, &[("Action", "CreatePolicy"), ("PolicyName", "p"), ("PolicyDocument", ALLOW_ALL)]).await;
    err(&out, 403, "AccessDenied");
    let out = h.call(&eve, &[("Action", "ListPolicies")]).await;
    err(&out, 403, "AccessDenied");
    let out = h
        .call(
            &eve,
            &[
                ("Action", "SimulateCustomPolicy"),
                ("PolicyInputList.member.1", ALLOW_ALL),
                ("ActionNames.member.1", "s3:X"),
            ],
        )
        .await;
    err(&out, 403, "AccessDenied");
}
