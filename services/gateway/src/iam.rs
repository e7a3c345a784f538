//! The IAM actions (reference §5) on the Query protocol: their handlers, by group, in `iam/`
//! (dispatched by [`crate::actions`]), and the XML shapes they share.

use tessera_awsapi::Response;
use tessera_store::iam::{GroupRecord, RoleRecord, Tag, UserRecord};

pub(crate) mod access;
pub(crate) mod certificates;
pub(crate) mod credentials;
pub(crate) mod entities;
pub(crate) mod policies;
pub(crate) mod standalone;
// SAML providers
pub(crate) mod saml;
pub(crate) mod users;
// Issue 14, part A.
pub(crate) mod account_settings;
pub(crate) mod instance_profiles;
pub(crate) mod service_linked_roles;

/// Milliseconds to the seconds the XML writer takes.
pub(crate) fn secs(ms: u64) -> i64 {
    i64::try_from(ms / 1000).unwrap_or(i64::MAX)
}

/// The `UserName` AWS answers for the account root where an output names the owner of a
/// credential (`GetAccessKeyLastUsed`, `GetLoginProfile`): the identity service gives the root an
/// empty name, and AWS's member requires one matching `[\w+=,.@-]+`.
pub(crate) const ROOT_USER_NAME: &str = "root";

/// `name`, or [`ROOT_USER_NAME`] for the root's empty one.
pub(crate) fn owner_name(name: &str) -> &str {
    if name.is_empty() { ROOT_USER_NAME } else { name }
}

pub(crate) fn tags_xml(r: &mut Response, tags: &[Tag]) {
    if !tags.is_empty() {
        r.list("Tags", tags, |r, t| {
            r.el("Key", &t.key).el("Value", &t.value);
        });
    }
}

fn boundary_xml(r: &mut Response, boundary: Option<&String>) {
    if let Some(arn) = boundary {
        r.nested("PermissionsBoundary", |r| {
            r.el("PermissionsBoundaryType", "PermissionsBoundaryPolicy").el("PermissionsBoundaryArn", arn);
        });
    }
}

/// The fields of a `User` element.
pub(crate) fn user_xml(r: &mut Response, user: &UserRecord) {
    user_list_xml(r, user);
    boundary_xml(r, user.boundary.as_ref());
    tags_xml(r, &user.tags);
}

/// The fields of a `User` element in `ListUsers`, which AWS documents "does not return ...
/// PermissionsBoundary, Tags".
pub(crate) fn user_list_xml(r: &mut Response, user: &UserRecord) {
    let p = &user.principal;
    r.el("Path", &p.path)
        .el("UserName", &p.name)
        .el("UserId", &p.id)
        .el("Arn", &p.arn)
        .timestamp("CreateDate", secs(p.create_date));
    r.opt_timestamp("PasswordLastUsed", user.password_last_used.map(secs));
}

/// The fields of a `Group` element.
pub(crate) fn group_xml(r: &mut Response, group: &GroupRecord) {
    let p = &group.principal;
    r.el("Path", &p.path)
        .el("GroupName", &p.name)
        .el("GroupId", &p.id)
        .el("Arn", &p.arn)
        .timestamp("CreateDate", secs(p.create_date));
}

/// The fields of a `Role` element in `ListRoles`, which AWS documents "does not return ...
/// PermissionsBoundary, RoleLastUsed, Tags" (see `GetRole`).
pub(crate) fn role_list_xml(r: &mut Response, role: &RoleRecord) {
    profile_role_xml(r, role);
    r.opt("Description", role.description.as_deref());
    r.int("MaxSessionDuration", role.max_session_duration.into());
}

/// The fields of a `Role` element.
pub(crate) fn role_xml(r: &mut Response, role: &RoleRecord) {
    role_list_xml(r, role);
    boundary_xml(r, role.boundary.as_ref());
    tags_xml(r, &role.tags);
    r.nested("RoleLastUsed", |r| {
        if let Some(used) = &role.last_used {
            r.timestamp("LastUsedDate", secs(used.date)).el("Region", &used.region);
        }
    });
}

/// The fields of a `Role` inside an instance profile: AWS's documented `GetInstanceProfile`
/// example gives exactly these six (no `Description`, `MaxSessionDuration`, `PermissionsBoundary`,
/// `Tags` or `RoleLastUsed`: `GetRole` has those).
fn profile_role_xml(r: &mut Response, role: &RoleRecord) {
    let p = &role.principal;
    r.el("Path", &p.path)
        .el("RoleName", &p.name)
        .el("RoleId", &p.id)
        .el("Arn", &p.arn)
        .timestamp("CreateDate", secs(p.create_date));
    r.policy_document("AssumeRolePolicyDocument", &role.trust_policy);
}

/// The fields of an `InstanceProfile` element, with `roles` as its `Roles` (required: written
/// even when empty).
pub(crate) fn instance_profile_xml<'a>(
    r: &mut Response,
    profile: &tessera_store::iam::InstanceProfileRecord,
    roles: impl IntoIterator<Item = &'a RoleRecord>,
) {
    r.el("Path", &profile.path)
        .el("InstanceProfileName", &profile.name)
        .el("InstanceProfileId", &profile.id)
        .el("Arn", &profile.arn)
        .timestamp("CreateDate", secs(profile.create_date));
    r.list("Roles", roles, profile_role_xml);
    tags_xml(r, &profile.tags);
}
