//! Issue 14, part A over the wire: instance profiles, account aliases, service-linked roles,
//! GetMFADevice and the STS preferences, each action's success shape and its AWS errors, and
//! authorization on the instance profile's ARN and tags.

use crate::common::{Creds, code, start, tag, tags};

const ALLOW: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

#[track_caller]
fn ok(out: &(u16, String)) -> &str {
    assert_eq!(out.0, 200, "expected success, got {}", out.1);
    &out.1
}

/// The XML without the white space between elements.
fn compact(xml: &str) -> String {
    xml.split_whitespace().collect()
}

#[track_caller]
fn err(out: &(u16, String), status: u16, expected: &str) {
    assert_eq!((out.0, code(&out.1)), (status, expected), "body: {}", out.1);
}

#[tokio::test]
async fn instance_profiles_hold_one_role_and_show_it() {
    let h = start().await;
    let acct = h.account.id().to_owned();
    let out = h
        .root(&[
            ("Action", "CreateInstanceProfile"),
            ("InstanceProfileName", "web"),
            ("Path", "/app/"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "core"),
        ])
        .await;
    let body = ok(&out);
    assert_eq!(tag(body, "Arn").unwrap(), format!("arn:aws:iam::{acct}:instance-profile/app/web"));
    assert!(tag(body, "InstanceProfileId").unwrap().starts_with("AIPA"));
    assert_eq!(tag(body, "Roles"), Some(""), "Roles is required, so written when empty");
    assert_eq!(tags(body, "Key"), ["team"]);
    err(
        &h.root(&[("Action", "CreateInstanceProfile"), ("InstanceProfileName", "WEB")]).await,
        409,
        "EntityAlreadyExists",
    );
    err(&h.root(&[("Action", "CreateInstanceProfile")]).await, 400, "ValidationError");

    ok(&h.root(&[("Action", "CreateRole"), ("RoleName", "app"), ("AssumeRolePolicyDocument", TRUST)]).await);
    ok(&h.root(&[("Action", "CreateRole"), ("RoleName", "other"), ("AssumeRolePolicyDocument", TRUST)]).await);
    ok(&h.root(&[("Action", "AddRoleToInstanceProfile"), ("InstanceProfileName", "web"), ("RoleName", "app")]).await);
    let out =
        h.root(&[("Action", "AddRoleToInstanceProfile"), ("InstanceProfileName", "web"), ("RoleName", "other")]).await;
    err(&out, 409, "LimitExceeded");
    assert_eq!(tag(&out.1, "Message"), Some("Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1"));
    err(
        &h.root(&[("Action", "AddRoleToInstanceProfile"), ("InstanceProfileName", "web")]).await,
        400,
        "ValidationError",
    );

    let out = h.root(&[("Action", "GetInstanceProfile"), ("InstanceProfileName", "web")]).await;
    assert_eq!(tags(ok(&out), "RoleName"), ["app"]);
    let out = h.root(&[("Action", "ListInstanceProfilesForRole"), ("RoleName", "app")]).await;
    assert_eq!(tags(ok(&out), "InstanceProfileName"), ["web"]);
    let out = h.root(&[("Action", "ListInstanceProfiles"), ("PathPrefix", "/app/")]).await;
    assert_eq!(tags(ok(&out), "InstanceProfileName"), ["web"]);
    assert_eq!(tag(&out.1, "IsTruncated"), Some("false"));
    let out = h.root(&[("Action", "GetAccountAuthorizationDetails"), ("Filter.member.1", "Role")]).await;
    assert_eq!(tags(ok(&out), "InstanceProfileName"), ["web"], "the role's InstanceProfileList");

    let out = h.root(&[("Action", "DeleteRole"), ("RoleName", "app")]).await;
    err(&out, 409, "DeleteConflict");
    assert_eq!(tag(&out.1, "Message"), Some("Cannot delete entity, must remove roles from instance profile first."));
    err(&h.root(&[("Action", "DeleteInstanceProfile"), ("InstanceProfileName", "web")]).await, 409, "DeleteConflict");
    ok(&h
        .root(&[("Action", "RemoveRoleFromInstanceProfile"), ("InstanceProfileName", "web"), ("RoleName", "app")])
        .await);
    ok(&h.root(&[("Action", "DeleteInstanceProfile"), ("InstanceProfileName", "web")]).await);
    let out = h.root(&[("Action", "GetInstanceProfile"), ("InstanceProfileName", "web")]).await;
    err(&out, 404, "NoSuchEntity");
    assert_eq!(tag(&out.1, "Message"), Some("Instance Profile web cannot be found."));
    let out = h.root(&[("Action", "GetAccountSummary")]).await;
    assert!(compact(ok(&out)).contains("<key>InstanceProfiles</key><value>0</value>"), "{}", out.1);
}

#[tokio::test]
async fn instance_profiles_are_authorized_on_their_arn_and_tags() {
    let h = start().await;
    let acct = h.account.id().to_owned();
    for (name, team) in [("mine", "core"), ("theirs", "other")] {
        ok(&h
            .root(&[
                ("Action", "CreateInstanceProfile"),
                ("InstanceProfileName", name),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", team),
            ])
            .await);
    }
    ok(&h.root(&[("Action", "CreateUser"), ("UserName", "dev")]).await);
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iam:GetInstanceProfile","Resource":"arn:aws:iam::{acct}:instance-profile/*","Condition":{{"StringEquals":{{"aws:ResourceTag/team":"core"}}}}}}]}}"#
    );
    ok(&h
        .root(&[("Action", "PutUserPolicy"), ("UserName", "dev"), ("PolicyName", "p"), ("PolicyDocument", &policy)])
        .await);
    let key = h.identity.create_access_key(&h.account, "dev").await.expect("key");
    let dev =
        Creds { access_key_id: key.access_key_id, secret: key.secret_access_key.expose().to_owned(), token: None };
    ok(&h.call(&dev, &[("Action", "GetInstanceProfile"), ("InstanceProfileName", "mine")]).await);
    let out = h.call(&dev, &[("Action", "GetInstanceProfile"), ("InstanceProfileName", "theirs")]).await;
    err(&out, 403, "AccessDenied");
    assert!(
        out.1.contains(&format!("iam:GetInstanceProfile on resource: arn:aws:iam::{acct}:instance-profile/theirs"))
    );
}

/// AWS: "The caller of this operation must be granted the PassRole permission on the IAM role".
#[tokio::test]
async fn adding_a_role_to_an_instance_profile_needs_pass_role_on_the_role() {
    let h = start().await;
    let acct = h.account.id().to_owned();
    ok(&h.root(&[("Action", "CreateInstanceProfile"), ("InstanceProfileName", "web")]).await);
    ok(&h.root(&[("Action", "CreateRole"), ("RoleName", "app"), ("AssumeRolePolicyDocument", TRUST)]).await);
    ok(&h.root(&[("Action", "CreateUser"), ("UserName", "ops")]).await);
    let put = |actions: &str| {
        format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#)
    };
    let only_add = put(r#"["iam:AddRoleToInstanceProfile"]"#);
    ok(&h
        .root(&[("Action", "PutUserPolicy"), ("UserName", "ops"), ("PolicyName", "p"), ("PolicyDocument", &only_add)])
        .await);
    let key = h.identity.create_access_key(&h.account, "ops").await.expect("key");
    let ops =
        Creds { access_key_id: key.access_key_id, secret: key.secret_access_key.expose().to_owned(), token: None };
    let add = [("Action", "AddRoleToInstanceProfile"), ("InstanceProfileName", "web"), ("RoleName", "app")];
    let out = h.call(&ops, &add).await;
    err(&out, 403, "AccessDenied");
    assert!(out.1.contains(&format!("iam:PassRole on resource: arn:aws:iam::{acct}:role/app")), "{}", out.1);
    let with_pass = put(r#"["iam:AddRoleToInstanceProfile","iam:PassRole"]"#);
    ok(&h
        .root(&[("Action", "PutUserPolicy"), ("UserName", "ops"), ("PolicyName", "p"), ("PolicyDocument", &with_pass)])
        .await);
    ok(&h.call(&ops, &add).await);
    let out = h.root(&[("Action", "GetInstanceProfile"), ("InstanceProfileName", "web")]).await;
    assert_eq!(tags(ok(&out), "RoleName"), ["app"]);
}

#[tokio::test]
async fn aliases_service_linked_roles_mfa_devices_and_sts_preferences() {
    let h = start().await;
    ok(&h.root(&[("Action", "CreateAccountAlias"), ("AccountAlias", "my-company")]).await);
    err(&h.root(&[("Action", "CreateAccountAlias"), ("AccountAlias", "second")]).await, 409, "LimitExceeded");
    err(&h.root(&[("Action", "CreateAccountAlias"), ("AccountAlias", "a--b")]).await, 400, "ValidationError");
    let out = h.root(&[("Action", "ListAccountAliases")]).await;
    assert_eq!(tags(ok(&out), "member"), ["my-company"]);
    err(&h.root(&[("Action", "DeleteAccountAlias"), ("AccountAlias", "second")]).await, 404, "NoSuchEntity");
    ok(&h.root(&[("Action", "DeleteAccountAlias"), ("AccountAlias", "my-company")]).await);

    let out =
        h.root(&[("Action", "CreateServiceLinkedRole"), ("AWSServiceName", "elasticbeanstalk.amazonaws.com")]).await;
    let body = ok(&out);
    assert_eq!(tag(body, "RoleName"), Some("AWSServiceRoleForElasticBeanstalk"));
    assert_eq!(tag(body, "Path"), Some("/aws-service-role/elasticbeanstalk.amazonaws.com/"));
    let name = "AWSServiceRoleForElasticBeanstalk";
    err(&h.root(&[("Action", "DeleteRole"), ("RoleName", name)]).await, 400, "UnmodifiableEntity");
    err(
        &h.root(&[("Action", "PutRolePolicy"), ("RoleName", name), ("PolicyName", "p"), ("PolicyDocument", ALLOW)])
            .await,
        400,
        "UnmodifiableEntity",
    );
    let out = h.root(&[("Action", "DeleteServiceLinkedRole"), ("RoleName", name)]).await;
    let task = tag(ok(&out), "DeletionTaskId").unwrap().to_owned();
    let out = h.root(&[("Action", "GetServiceLinkedRoleDeletionStatus"), ("DeletionTaskId", &task)]).await;
    assert_eq!(tag(ok(&out), "Status"), Some("SUCCEEDED"));
    err(&h.root(&[("Action", "GetRole"), ("RoleName", name)]).await, 404, "NoSuchEntity");
    let unknown = format!("task/aws-service-role/ecs.amazonaws.com/{name}/00000000-0000-4000-8000-000000000000");
    err(
        &h.root(&[("Action", "GetServiceLinkedRoleDeletionStatus"), ("DeletionTaskId", &unknown)]).await,
        404,
        "NoSuchEntity",
    );

    let out = h.root(&[("Action", "CreateVirtualMFADevice"), ("VirtualMFADeviceName", "phone")]).await;
    let serial = tag(ok(&out), "SerialNumber").unwrap().to_owned();
    let out = h.root(&[("Action", "GetMFADevice"), ("SerialNumber", &serial)]).await;
    assert_eq!(tag(ok(&out), "SerialNumber"), Some(serial.as_str()));
    assert_eq!(tag(&out.1, "UserName"), None, "an unassigned device has no user");
    err(&h.root(&[("Action", "GetMFADevice"), ("SerialNumber", &format!("{serial}x"))]).await, 404, "NoSuchEntity");

    ok(&h.root(&[("Action", "SetSecurityTokenServicePreferences"), ("GlobalEndpointTokenVersion", "v2Token")]).await);
    let out = h.root(&[("Action", "GetAccountSummary")]).await;
    assert!(compact(ok(&out)).contains("<key>GlobalEndpointTokenVersion</key><value>2</value>"), "{}", out.1);
    err(
        &h.root(&[("Action", "SetSecurityTokenServicePreferences"), ("GlobalEndpointTokenVersion", "v3")]).await,
        400,
        "ValidationError",
    );
}
