//! IdentityService over real gRPC, against the all-in-one server on `127.0.0.1:0`: users, groups,
//! roles and permissions boundaries, with each AWS error code they can return.

use crate::common::{ALLOW_S3_READ, TRUST_EC2, code, error, start};
use tessera_proto::ErrorCode;
use tessera_proto::common::v1 as c;
use tessera_proto::identity::v1 as pb;
use tessera_proto::policy::v1 as ppb;

fn user(account: &str, name: &str) -> pb::CreateUserRequest {
    pb::CreateUserRequest { account_id: account.into(), user_name: name.into(), ..Default::default() }
}

fn role(account: &str, name: &str) -> pb::CreateRoleRequest {
    pb::CreateRoleRequest {
        account_id: account.into(),
        role_name: name.into(),
        assume_role_policy_document: TRUST_EC2.into(),
        ..Default::default()
    }
}

fn page(max: i32, marker: Option<String>) -> Option<c::PageRequest> {
    Some(c::PageRequest { marker, max_items: Some(max) })
}

#[tokio::test]
async fn users_are_created_read_listed_renamed_and_deleted() {
    let mut h = start().await;
    let a = h.account.clone();
    let mut req = user(&a, "Alice");
    req.path = Some("/eng/".into());
    req.tags = vec![c::Tag { key: "team".into(), value: "core".into() }];
    let created = h.identity.create_user(req).await.unwrap().into_inner().user.unwrap();
    assert_eq!(created.arn, format!("arn:aws:iam::{a}:user/eng/Alice"));
    assert!(created.user_id.starts_with("AIDA") && created.user_id.len() == 21, "{}", created.user_id);
    assert_eq!(created.tags.len(), 1);

    // Names are unique case-insensitively, and lookups ignore case.
    let dup = error(h.identity.create_user(user(&a, "alice")).await);
    assert_eq!(dup.code, ErrorCode::EntityAlreadyExists);
    assert_eq!(dup.message, "User with name alice already exists.");
    let got = h.identity.get_user(pb::GetUserRequest { account_id: a.clone(), user_name: Some("ALICE".into()) }).await;
    assert_eq!(got.unwrap().into_inner().user.unwrap().user_name, "Alice");

    for name in ["bob", "carol", "dave"] {
        h.identity.create_user(user(&a, name)).await.unwrap();
    }
    // Pagination: 2 + 2, then done.
    let first = h
        .identity
        .list_users(pb::ListUsersRequest { account_id: a.clone(), page: page(2, None), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.users.iter().map(|u| u.user_name.as_str()).collect::<Vec<_>>(), ["Alice", "bob"]);
    let p = first.page.unwrap();
    assert!(p.is_truncated);
    let second = h
        .identity
        .list_users(pb::ListUsersRequest { account_id: a.clone(), page: page(2, p.marker), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.users.iter().map(|u| u.user_name.as_str()).collect::<Vec<_>>(), ["carol", "dave"]);
    assert!(!second.page.unwrap().is_truncated);
    let eng = h
        .identity
        .list_users(pb::ListUsersRequest { account_id: a.clone(), path_prefix: Some("/eng/".into()), page: None })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(eng.users.len(), 1);

    // Rename and move: the old name is gone, the ARN follows the path.
    h.identity
        .update_user(pb::UpdateUserRequest {
            account_id: a.clone(),
            user_name: "bob".into(),
            new_path: Some("/ops/".into()),
            new_user_name: Some("robert".into()),
        })
        .await
        .unwrap();
    let moved =
        h.identity.get_user(pb::GetUserRequest { account_id: a.clone(), user_name: Some("robert".into()) }).await;
    assert_eq!(moved.unwrap().into_inner().user.unwrap().arn, format!("arn:aws:iam::{a}:user/ops/robert"));
    let gone =
        error(h.identity.get_user(pb::GetUserRequest { account_id: a.clone(), user_name: Some("bob".into()) }).await);
    assert_eq!(
        (gone.code, gone.message.as_str()),
        (ErrorCode::NoSuchEntity, "The user with name bob cannot be found.")
    );
    let clash = h
        .identity
        .update_user(pb::UpdateUserRequest {
            account_id: a.clone(),
            user_name: "robert".into(),
            new_user_name: Some("CAROL".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(code(clash), ErrorCode::EntityAlreadyExists);

    h.identity.delete_user(pb::DeleteUserRequest { account_id: a.clone(), user_name: "robert".into() }).await.unwrap();
    let again =
        h.identity.delete_user(pb::DeleteUserRequest { account_id: a.clone(), user_name: "robert".into() }).await;
    assert_eq!(code(again), ErrorCode::NoSuchEntity);
}

#[tokio::test]
async fn bad_input_gets_validation_errors_and_writes_nothing() {
    let mut h = start().await;
    let a = h.account.clone();
    let bad_name = error(h.identity.create_user(user(&a, "no spaces")).await);
    assert_eq!(bad_name.code, ErrorCode::ValidationError);
    assert!(bad_name.message.contains("at 'userName' failed to satisfy constraint"), "{}", bad_name.message);
    let mut bad_path = user(&a, "ok");
    bad_path.path = Some("no-slash".into());
    assert_eq!(code(h.identity.create_user(bad_path).await), ErrorCode::ValidationError);
    let mut bad_tag = user(&a, "ok");
    bad_tag.tags = vec![c::Tag { key: "aws:reserved".into(), value: "x".into() }];
    assert_eq!(code(h.identity.create_user(bad_tag).await), ErrorCode::ValidationError);
    let mut too_many = user(&a, "ok");
    too_many.tags = (0..51).map(|i| c::Tag { key: format!("k{i}"), value: String::new() }).collect();
    assert_eq!(code(h.identity.create_user(too_many).await), ErrorCode::LimitExceeded);
    let bad_page = h
        .identity
        .list_users(pb::ListUsersRequest { account_id: a.clone(), page: page(0, None), ..Default::default() })
        .await;
    assert_eq!(code(bad_page), ErrorCode::ValidationError);
    let bad_account = h.identity.create_user(user("not-an-account", "x")).await;
    assert_eq!(code(bad_account), ErrorCode::InvalidInput);
    // Nothing above was written.
    let none = h.identity.get_user(pb::GetUserRequest { account_id: a, user_name: Some("ok".into()) }).await;
    assert_eq!(code(none), ErrorCode::NoSuchEntity);
}

#[tokio::test]
async fn groups_hold_members_on_both_sides_and_cap_a_user_at_ten() {
    let mut h = start().await;
    let a = h.account.clone();
    h.identity.create_user(user(&a, "u")).await.unwrap();
    for g in 0..11 {
        let group = h
            .identity
            .create_group(pb::CreateGroupRequest { account_id: a.clone(), group_name: format!("g{g}"), path: None })
            .await
            .unwrap()
            .into_inner()
            .group
            .unwrap();
        assert!(group.group_id.starts_with("AGPA"));
    }
    let dup = h
        .identity
        .create_group(pb::CreateGroupRequest { account_id: a.clone(), group_name: "G0".into(), path: None })
        .await;
    assert_eq!(code(dup), ErrorCode::EntityAlreadyExists);
    let add = |g: String| pb::AddUserToGroupRequest { account_id: a.clone(), group_name: g, user_name: "u".into() };
    for g in 0..10 {
        h.identity.add_user_to_group(add(format!("g{g}"))).await.unwrap();
    }
    // Adding again is a no-op; the 11th group is over the quota.
    h.identity.add_user_to_group(add("g0".into())).await.unwrap();
    let over = error(h.identity.add_user_to_group(add("g10".into())).await);
    assert_eq!(
        (over.code, over.message.as_str()),
        (ErrorCode::LimitExceeded, "Cannot exceed quota for GroupsPerUser: 10")
    );
    let unknown = h.identity.add_user_to_group(add("nope".into())).await;
    assert_eq!(code(unknown), ErrorCode::NoSuchEntity);

    let groups = h
        .identity
        .list_groups_for_user(pb::ListGroupsForUserRequest { account_id: a.clone(), user_name: "u".into(), page: None })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(groups.groups.len(), 10);
    let g0 = h
        .identity
        .get_group(pb::GetGroupRequest { account_id: a.clone(), group_name: "g0".into(), page: None })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(g0.users.iter().map(|u| u.user_name.as_str()).collect::<Vec<_>>(), ["u"]);
    let listed = h.identity.list_groups(pb::ListGroupsRequest { account_id: a.clone(), ..Default::default() }).await;
    assert_eq!(listed.unwrap().into_inner().groups.len(), 11);

    // A group with members, and a user in groups, cannot be deleted.
    let busy =
        error(h.identity.delete_group(pb::DeleteGroupRequest { account_id: a.clone(), group_name: "g0".into() }).await);
    assert_eq!(
        (busy.code, busy.message.as_str()),
        (ErrorCode::DeleteConflict, "Cannot delete entity, must remove users from group first.")
    );
    let member =
        error(h.identity.delete_user(pb::DeleteUserRequest { account_id: a.clone(), user_name: "u".into() }).await);
    assert_eq!(member.code, ErrorCode::DeleteConflict);

    // Renaming a group carries the membership along.
    h.identity
        .update_group(pb::UpdateGroupRequest {
            account_id: a.clone(),
            group_name: "g0".into(),
            new_group_name: Some("zero".into()),
            new_path: Some("/teams/".into()),
        })
        .await
        .unwrap();
    let groups = h
        .identity
        .list_groups_for_user(pb::ListGroupsForUserRequest { account_id: a.clone(), user_name: "u".into(), page: None })
        .await
        .unwrap()
        .into_inner();
    assert!(groups.groups.iter().any(|g| g.group_name == "zero" && g.arn.ends_with(":group/teams/zero")));

    for g in ["zero".to_owned()].into_iter().chain((1..10).map(|g| format!("g{g}"))) {
        h.identity
            .remove_user_from_group(pb::RemoveUserFromGroupRequest {
                account_id: a.clone(),
                group_name: g,
                user_name: "u".into(),
            })
            .await
            .unwrap();
    }
    let not_member = h
        .identity
        .remove_user_from_group(pb::RemoveUserFromGroupRequest {
            account_id: a.clone(),
            group_name: "g1".into(),
            user_name: "u".into(),
        })
        .await;
    assert_eq!(code(not_member), ErrorCode::NoSuchEntity);
    h.identity.delete_group(pb::DeleteGroupRequest { account_id: a.clone(), group_name: "zero".into() }).await.unwrap();
    h.identity.delete_user(pb::DeleteUserRequest { account_id: a.clone(), user_name: "u".into() }).await.unwrap();
}

#[tokio::test]
async fn roles_validate_their_trust_policy_and_session_duration() {
    let mut h = start().await;
    let a = h.account.clone();
    let mut req = role(&a, "app");
    req.description = Some("the app".into());
    req.max_session_duration = Some(7200);
    let created = h.identity.create_role(req).await.unwrap().into_inner().role.unwrap();
    assert!(created.role_id.starts_with("AROA"));
    assert_eq!(created.max_session_duration, 7200);
    assert_eq!(created.assume_role_policy_document, TRUST_EC2);
    let dup = error(h.identity.create_role(role(&a, "APP")).await);
    assert_eq!(
        (dup.code, dup.message.as_str()),
        (ErrorCode::EntityAlreadyExists, "Role with name APP already exists.")
    );

    let mut malformed = role(&a, "bad");
    malformed.assume_role_policy_document =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#.into();
    assert_eq!(code(h.identity.create_role(malformed).await), ErrorCode::MalformedPolicyDocument);
    let mut syntax = role(&a, "bad");
    syntax.assume_role_policy_document = "{".into();
    assert_eq!(code(h.identity.create_role(syntax).await), ErrorCode::MalformedPolicyDocument);
    let mut huge = role(&a, "bad");
    huge.assume_role_policy_document = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Principal":{{"Service":"ec2.amazonaws.com"}},"Action":"sts:AssumeRole"}}]}}"#,
        "x".repeat(2100)
    );
    assert_eq!(code(h.identity.create_role(huge).await), ErrorCode::LimitExceeded);
    // A principal of this account that does not exist is invalid, as on AWS.
    let mut ghost = role(&a, "bad");
    ghost.assume_role_policy_document = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{a}:user/ghost"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let ghost = error(h.identity.create_role(ghost).await);
    assert_eq!(ghost.code, ErrorCode::MalformedPolicyDocument);
    assert!(ghost.message.contains("Invalid principal in policy"), "{}", ghost.message);
    let mut short = role(&a, "bad");
    short.max_session_duration = Some(600);
    assert_eq!(code(h.identity.create_role(short).await), ErrorCode::ValidationError);

    h.identity
        .update_role(pb::UpdateRoleRequest {
            account_id: a.clone(),
            role_name: "app".into(),
            description: Some("new".into()),
            max_session_duration: Some(43_200),
        })
        .await
        .unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    h.identity
        .update_assume_role_policy(pb::UpdateAssumeRolePolicyRequest {
            account_id: a.clone(),
            role_name: "app".into(),
            policy_document: trust.into(),
        })
        .await
        .unwrap();
    let got = h.identity.get_role(pb::GetRoleRequest { account_id: a.clone(), role_name: "App".into() }).await;
    let got = got.unwrap().into_inner().role.unwrap();
    assert_eq!((got.description.as_deref(), got.max_session_duration), (Some("new"), 43_200));
    assert_eq!(got.assume_role_policy_document, trust);
    let listed = h.identity.list_roles(pb::ListRolesRequest { account_id: a.clone(), ..Default::default() }).await;
    assert_eq!(listed.unwrap().into_inner().roles.len(), 1);
    let missing = h.identity.get_role(pb::GetRoleRequest { account_id: a.clone(), role_name: "nope".into() }).await;
    assert_eq!(code(missing), ErrorCode::NoSuchEntity);

    h.identity.delete_role(pb::DeleteRoleRequest { account_id: a.clone(), role_name: "app".into() }).await.unwrap();
    let gone = h.identity.delete_role(pb::DeleteRoleRequest { account_id: a, role_name: "app".into() }).await;
    assert_eq!(code(gone), ErrorCode::NoSuchEntity);
}

#[tokio::test]
async fn permissions_boundaries_point_at_managed_policies_and_count_as_uses() {
    let mut h = start().await;
    let a = h.account.clone();
    let policy = h
        .policy
        .create_policy(ppb::CreatePolicyRequest {
            account_id: a.clone(),
            policy_name: "Bound".into(),
            policy_document: ALLOW_S3_READ.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    let mut req = user(&a, "bounded");
    req.permissions_boundary = Some(policy.arn.clone());
    let created = h.identity.create_user(req).await.unwrap().into_inner().user.unwrap();
    assert_eq!(created.permissions_boundary.unwrap().permissions_boundary_arn, policy.arn);
    let mut missing = user(&a, "x");
    missing.permissions_boundary = Some(format!("arn:aws:iam::{a}:policy/Nope"));
    assert_eq!(code(h.identity.create_user(missing).await), ErrorCode::NoSuchEntity);

    h.identity.create_role(role(&a, "r")).await.unwrap();
    let entity = |kind: c::EntityKind, name: &str| Some(c::EntityRef { kind: kind.into(), name: name.into() });
    h.identity
        .put_permissions_boundary(pb::PutPermissionsBoundaryRequest {
            account_id: a.clone(),
            entity: entity(c::EntityKind::Role, "r"),
            permissions_boundary: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        })
        .await
        .unwrap();
    let r = h.identity.get_role(pb::GetRoleRequest { account_id: a.clone(), role_name: "r".into() }).await;
    let bound = r.unwrap().into_inner().role.unwrap().permissions_boundary.unwrap();
    assert_eq!(bound.permissions_boundary_arn, "arn:aws:iam::aws:policy/ReadOnlyAccess");

    // The policy is in use as a boundary, so it cannot be deleted.
    let in_use = h
        .policy
        .delete_policy(ppb::DeletePolicyRequest { account_id: a.clone(), policy_arn: policy.arn.clone() })
        .await;
    assert_eq!(code(in_use), ErrorCode::DeleteConflict);
    let group = h
        .identity
        .put_permissions_boundary(pb::PutPermissionsBoundaryRequest {
            account_id: a.clone(),
            entity: entity(c::EntityKind::Group, "g"),
            permissions_boundary: policy.arn.clone(),
        })
        .await;
    assert_eq!(code(group), ErrorCode::InvalidInput);

    h.identity
        .delete_permissions_boundary(pb::DeletePermissionsBoundaryRequest {
            account_id: a.clone(),
            entity: entity(c::EntityKind::User, "bounded"),
        })
        .await
        .unwrap();
    let twice = h
        .identity
        .delete_permissions_boundary(pb::DeletePermissionsBoundaryRequest {
            account_id: a.clone(),
            entity: entity(c::EntityKind::User, "bounded"),
        })
        .await;
    assert_eq!(code(twice), ErrorCode::NoSuchEntity);
    h.policy.delete_policy(ppb::DeletePolicyRequest { account_id: a, policy_arn: policy.arn }).await.unwrap();
}
