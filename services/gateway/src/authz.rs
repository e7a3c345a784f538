//! What a request of either transport asks, for the one decision path: the HTTP Query endpoint
//! (`Cx::authorize`), the gRPC gate (`grpc_auth`) and the authorizer API each say what a request
//! asks ([`Ask`]: the AWS action, the resource ARN, and the request's own inputs); this module
//! turns it into the authorizer's checks with their request keys, and the authorizer
//! (`tessera_authorizer::Authorizer`) decides them.
//!
//! ```text
//! Query params --Cx--+                          OPERATIONS[action] -> which keys
//!                    +--> Ask --checks--> (action, resource) + request keys (iam:PolicyARN,
//! gRPC message --gate+                      iam:PermissionsBoundary, aws:RequestTag/*,
//!                                           aws:TagKeys, the target's *:ResourceTag/*)
//!                         --Authorizer::decide / authorize--> Judged | Ok | AccessDenied
//! ```
//!
//! [`OPERATIONS`] is the action → resource type → condition keys table of AWS's service
//! authorization reference for every IAM and STS action Tessera knows, generated from the one
//! action table ([`crate::actions`]); the keys an action lists are exactly the request keys
//! [`authorize`] puts in the context for it, and tests check the table's keys and the gRPC methods.

use tessera_arn::{Arn, IamEntity};
use tessera_authorizer::Check;
use tessera_identity::{Account, Error, PageRequest, Taggable};
use tessera_policy::{Context, Trace};
use tessera_store::Store;
use tessera_store::iam::{EntityKind, Tag};
use tessera_sts::{CallerPrincipal, Sts};

#[cfg(test)]
pub(crate) use crate::actions::{OPERATIONS, ResourceType};
pub(crate) use crate::actions::{Operation, operation};

pub(crate) const POLICY_ARN: &str = "iam:PolicyARN";
pub(crate) const BOUNDARY: &str = "iam:PermissionsBoundary";
pub(crate) const REQUEST_TAG: &str = "aws:RequestTag/${TagKey}";
pub(crate) const TAG_KEYS: &str = "aws:TagKeys";
/// The service a service-linked role is created for (issue 14, part A).
pub(crate) const AWS_SERVICE_NAME: &str = "iam:AWSServiceName";

/// What a request carries that the context keys of its action come from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inputs {
    /// `PolicyArn` (`iam:PolicyARN`).
    pub(crate) policy_arn: Option<String>,
    /// The permissions boundary the request sets (`iam:PermissionsBoundary`; otherwise the
    /// target's current boundary).
    pub(crate) boundary: Option<String>,
    /// The tags the request sets (`aws:RequestTag/*`, `aws:TagKeys`).
    pub(crate) tags: Vec<Tag>,
    /// The tag keys an `Untag*` request removes (`aws:TagKeys`).
    pub(crate) tag_keys: Vec<String>,
    /// The resource's tags and boundary when the request already read them (the HTTP endpoint
    /// reads a target user or role once, for its ARN, these keys and the operation); `None`:
    /// read when a key needs them.
    pub(crate) target: Option<Target>,
    /// `AWSServiceName` of `CreateServiceLinkedRole` (`iam:AWSServiceName`).
    pub(crate) aws_service_name: Option<String>,
}

/// What a request asks to do.
#[derive(Debug, Clone)]
pub(crate) struct Ask {
    /// `iam:AttachUserPolicy`.
    pub(crate) action: String,
    /// The resource ARN, or `*`.
    pub(crate) resource: String,
    pub(crate) inputs: Inputs,
    /// ChangePassword by the user on itself: the account's `AllowUsersToChangePassword` grants
    /// it without an identity policy, but an explicit deny, the permissions boundary and
    /// session policies still apply.
    pub(crate) change_own_password: bool,
    /// Further resources the same action must be allowed on (the new ARN of a rename).
    pub(crate) also: Vec<String>,
    /// The role the request hands to a service (`AddRoleToInstanceProfile`'s): AWS also needs
    /// `iam:PassRole` on it.
    pub(crate) passed_role: Option<String>,
}

impl Ask {
    /// Every (action, resource) the request needs allowed: the action on its resource and on
    /// [`Ask::also`], and the `Tag*` action of a create that sets tags.
    pub(crate) fn checks(&self) -> Vec<(&str, &str)> {
        let mut checks = vec![(self.action.as_str(), self.resource.as_str())];
        checks.extend(self.also.iter().map(|resource| (self.action.as_str(), resource.as_str())));
        checks.extend(self.passed_role.iter().map(|role| ("iam:PassRole", role.as_str())));
        if !self.inputs.tags.is_empty()
            && let Some(tag) = tag_action(&self.action)
        {
            checks.push((tag, self.resource.as_str()));
        }
        checks
    }
}

/// A user's, group's or role's ARN for authorization: the stored one when it exists (it has the
/// path), else built from `path` (`/` when none).
pub(crate) async fn entity_arn(
    identity: &dyn tessera_identity::IdentityApi,
    account: &Account,
    kind: EntityKind,
    name: &str,
    path: Option<&str>,
) -> String {
    let stored = match kind {
        EntityKind::User => identity.get_user(account, name).await.ok().map(|u| u.principal.arn),
        EntityKind::Role => identity.get_role(account, name).await.ok().map(|r| r.principal.arn),
        EntityKind::Group => {
            let page = PageRequest { marker: None, max_items: Some(1) };
            identity.get_group(account, name, &page).await.ok().map(|(g, _)| g.principal.arn)
        }
    };
    stored.unwrap_or_else(|| {
        let (path, name) = (path.filter(|p| !p.is_empty()).unwrap_or("/").to_owned(), name.to_owned());
        let entity = match kind {
            EntityKind::User => IamEntity::User { path, name },
            EntityKind::Group => IamEntity::Group { path, name },
            EntityKind::Role => IamEntity::Role { path, name },
        };
        Arn::iam("aws", account.id(), &entity).to_string()
    })
}

/// What temporary credentials may call: the authorizer's rule, which the HTTP dispatch and the
/// gRPC gate apply before reading a request.
pub(crate) use tessera_authorizer::session_may_call;

/// What the decision needs to know of the resource: its tags and, for users and roles, its
/// permissions boundary.
#[derive(Debug, Clone, Default)]
pub(crate) struct Target {
    pub(crate) tags: Vec<Tag>,
    pub(crate) boundary: Option<String>,
}

/// Reads the target of `resource` in the caller's account (nothing for `*`, other accounts, or
/// resources that do not exist yet). A user's or role's tags and boundary come from the
/// authorizer's cache of principals, kept current by the policy epoch like their policies (every
/// tag or boundary change moves it), so authorizing on them reads no record.
async fn target<S: Store>(sts: &Sts<S>, account: &Account, resource: &str) -> Target {
    let Ok(arn) = Arn::parse(resource) else { return Target::default() };
    if arn.account != account.id() {
        return Target::default();
    }
    let principal = |kind, name: String| async move {
        match sts.authorizer().cache().principal(account, kind, &name).await {
            Ok(Some(found)) => Target { tags: found.tags.clone(), boundary: found.boundary_arn.clone() },
            _ => Target::default(),
        }
    };
    let taggable = match arn.entity() {
        Ok(IamEntity::User { name, .. }) => return principal(EntityKind::User, name).await,
        // Server certificates (issue 14, part B): named by the last segment of their ARN.
        _ if arn.service == "iam" && arn.resource.starts_with("server-certificate/") => {
            Taggable::ServerCertificate(arn.resource.rsplit('/').next().unwrap_or_default().to_owned())
        }
        Ok(IamEntity::Role { name, .. }) => return principal(EntityKind::Role, name).await,
        Ok(IamEntity::Policy { .. }) => Taggable::Policy(resource.to_owned()),
        Ok(IamEntity::OidcProvider { .. }) => Taggable::OidcProvider(resource.to_owned()),
        Ok(IamEntity::Mfa { .. }) => Taggable::MfaDevice(resource.to_owned()),
        Ok(IamEntity::InstanceProfile { name, .. }) => Taggable::InstanceProfile(name),
        // SAML providers
        Ok(IamEntity::SamlProvider { .. }) => Taggable::SamlProvider(resource.to_owned()),
        _ => return Target::default(),
    };
    // At most 50 tags per resource: one page of 100 holds them all.
    let page = PageRequest { marker: None, max_items: Some(100) };
    let tags = sts.identity().list_resource_tags(account, &taggable, &page).await.map(|p| p.items).unwrap_or_default();
    Target { tags, boundary: None }
}

/// Adds the keys `op` supports from the request's inputs and its target.
fn request_keys(context: &mut Context, op: Option<&Operation>, inputs: &Inputs, target: &Target) {
    let listed = |key: &str| op.is_some_and(|op| op.keys.contains(&key));
    if listed(POLICY_ARN)
        && let Some(arn) = &inputs.policy_arn
    {
        context.insert(POLICY_ARN, arn.clone());
    }
    if listed(BOUNDARY)
        && let Some(arn) = inputs.boundary.as_ref().or(target.boundary.as_ref())
    {
        context.insert(BOUNDARY, arn.clone());
    }
    if listed(AWS_SERVICE_NAME)
        && let Some(service) = &inputs.aws_service_name
    {
        context.insert(AWS_SERVICE_NAME, service.clone());
    }
    if listed(REQUEST_TAG) {
        for tag in &inputs.tags {
            context.insert(&format!("aws:RequestTag/{}", tag.key), tag.value.clone());
        }
    }
    if listed(TAG_KEYS) {
        let keys: Vec<String> =
            inputs.tags.iter().map(|t| t.key.clone()).chain(inputs.tag_keys.iter().cloned()).collect();
        if !keys.is_empty() {
            context.insert_list(TAG_KEYS, keys);
        }
    }
    // An action of another table (none today) still sees the tags of what it acts on.
    if op.is_none_or(|op| !op.resource.keys().is_empty()) {
        tessera_sts::insert_resource_tags(context, &target.tags);
    }
}

/// One decided check of a request.
pub(crate) use tessera_authorizer::Judged;

/// The checks of `ask` ([`Ask::checks`]) as the authorizer takes them, each with the keys its
/// action supports from the request's inputs and its target (read only when a key comes from it,
/// and not at all for a caller whose decisions read no keys: the account root).
async fn checks<S: Store>(sts: &Sts<S>, caller: &CallerPrincipal, ask: &Ask) -> Vec<Check> {
    let with_keys = sts.authorizer().evaluates(caller);
    let mut checks = Vec::with_capacity(1 + ask.also.len());
    for (action, resource) in ask.checks() {
        let mut keys = Context::new();
        if with_keys {
            let op = operation(action);
            let needs_target = op.is_none_or(|op| !op.resource.keys().is_empty() || op.keys.contains(&BOUNDARY));
            let known = ask.inputs.target.as_ref().filter(|_| resource == ask.resource);
            let target = match known {
                _ if !needs_target => Target::default(),
                Some(known) => known.clone(),
                None => target(sts, &caller.account, resource).await,
            };
            request_keys(&mut keys, op, &ask.inputs, &target);
        }
        checks.push(Check {
            action: action.to_owned(),
            resource: resource.to_owned(),
            keys,
            change_own_password: ask.change_own_password,
        });
    }
    checks
}

/// Decides every check of `ask` for `caller` at `now` (unix seconds) on the one decision path
/// ([`tessera_authorizer::Authorizer::decide`]), with the `extra` keys of a calling service
/// (only those [`tessera_authorizer::settable_key`] allows). With `first_denial`, stops at the
/// first check that is not allowed. The caller's layers are read into `layers` unless they are
/// there already (one read per request however many questions it asks).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn decide<S: Store>(
    sts: &Sts<S>,
    caller: &CallerPrincipal,
    layers: &mut Option<tessera_authorizer::CallerLayers>,
    ask: &Ask,
    now: u64,
    extra: &[(String, Vec<String>)],
    trace: Trace,
    first_denial: bool,
) -> Result<Vec<Judged>, Error> {
    // The restrictions on temporary credentials come before any target is read.
    session_may_call(caller, &ask.action)?;
    let checks = checks(sts, caller, ask).await;
    sts.authorizer().decide_reusing(caller, layers, &checks, now, extra, trace, first_denial).await
}

/// Authorizes `ask` for `caller` ([`tessera_authorizer::Authorizer::authorize`]); the first check
/// that is not allowed is `AccessDenied` with AWS's message.
pub(crate) async fn authorize<S: Store>(
    sts: &Sts<S>,
    caller: &CallerPrincipal,
    ask: &Ask,
    now: u64,
) -> Result<(), Error> {
    session_may_call(caller, &ask.action)?;
    let checks = checks(sts, caller, ask).await;
    sts.authorizer().authorize(caller, &checks, now).await
}

/// The ARN a user or group gets from `UpdateUser`/`UpdateGroup` with `NewPath`/`New*Name`, when
/// either is given: AWS authorizes the update on the current and the new ARN.
pub(crate) fn renamed_arn(current: &str, new_path: Option<&str>, new_name: Option<&str>) -> Option<String> {
    let (new_path, new_name) = (new_path.filter(|p| !p.is_empty()), new_name.filter(|n| !n.is_empty()));
    if new_path.is_none() && new_name.is_none() {
        return None;
    }
    let arn = Arn::parse(current).ok()?;
    let renamed = match arn.entity().ok()? {
        IamEntity::User { path, name } => {
            IamEntity::User { path: new_path.map_or(path, str::to_owned), name: new_name.map_or(name, str::to_owned) }
        }
        IamEntity::Group { path, name } => {
            IamEntity::Group { path: new_path.map_or(path, str::to_owned), name: new_name.map_or(name, str::to_owned) }
        }
        _ => return None,
    };
    Some(Arn::iam(&arn.partition, &arn.account, &renamed).to_string())
}

/// The `Tag*` action that creating with tags also needs (AWS: "to add tags when you create a
/// user, you also need `iam:TagUser`").
fn tag_action(action: &str) -> Option<&'static str> {
    Some(match action {
        "iam:CreateUser" => "iam:TagUser",
        "iam:CreateRole" => "iam:TagRole",
        "iam:CreatePolicy" => "iam:TagPolicy",
        "iam:CreateOpenIDConnectProvider" => "iam:TagOpenIDConnectProvider",
        "iam:CreateVirtualMFADevice" => "iam:TagMFADevice",
        "iam:CreateInstanceProfile" => "iam:TagInstanceProfile",
        // SAML providers
        "iam:CreateSAMLProvider" => "iam:TagSAMLProvider",
        "iam:UploadServerCertificate" => "iam:TagServerCertificate",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys of the table that the token service fills while evaluating a trust policy, rather
    /// than [`authorize`] (its own tests cover them).
    const TOKEN_SERVICE_KEYS: &[&str] =
        &["sts:ExternalId", "sts:RoleSessionName", "sts:SourceIdentity", "sts:TransitiveTagKeys"];

    /// Every key of the table has a source: the request's inputs, the target, or the token
    /// service's trust evaluation.
    #[test]
    fn every_listed_key_is_filled() {
        for op in OPERATIONS {
            for key in op.keys.iter().chain(op.resource.keys()) {
                let known = [POLICY_ARN, BOUNDARY, REQUEST_TAG, TAG_KEYS, AWS_SERVICE_NAME].contains(key)
                    || key.ends_with(":ResourceTag/${TagKey}")
                    || TOKEN_SERVICE_KEYS.contains(key);
                assert!(known, "{}: nothing fills `{key}`", op.action);
            }
            let duplicates = OPERATIONS.iter().filter(|o| o.action == op.action).count();
            assert_eq!(duplicates, 1, "{} is listed {duplicates} times", op.action);
        }
    }

    #[test]
    fn renames_and_tagged_creates_imply_further_checks() {
        let user = "arn:aws:iam::111111111111:user/dev/alice";
        assert_eq!(renamed_arn(user, None, Some("bob")).as_deref(), Some("arn:aws:iam::111111111111:user/dev/bob"));
        assert_eq!(renamed_arn(user, Some("/ops/"), None).as_deref(), Some("arn:aws:iam::111111111111:user/ops/alice"));
        assert_eq!(renamed_arn(user, None, Some("")), None);
        let tagged = Ask {
            action: "iam:CreateRole".into(),
            resource: "arn:aws:iam::111111111111:role/r".into(),
            inputs: Inputs { tags: vec![Tag { key: "k".into(), value: "v".into() }], ..Inputs::default() },
            change_own_password: false,
            also: vec!["arn:aws:iam::111111111111:role/other".into()],
            passed_role: None,
        };
        let actions: Vec<&str> = tagged.checks().iter().map(|(a, _)| *a).collect();
        assert_eq!(actions, ["iam:CreateRole", "iam:CreateRole", "iam:TagRole"]);
        let passing = Ask {
            action: "iam:AddRoleToInstanceProfile".into(),
            resource: "arn:aws:iam::111111111111:instance-profile/p".into(),
            inputs: Inputs::default(),
            change_own_password: false,
            also: Vec::new(),
            passed_role: Some("arn:aws:iam::111111111111:role/r".into()),
        };
        assert_eq!(
            passing.checks(),
            [
                ("iam:AddRoleToInstanceProfile", "arn:aws:iam::111111111111:instance-profile/p"),
                ("iam:PassRole", "arn:aws:iam::111111111111:role/r")
            ]
        );
    }

    /// Every action the HTTP endpoint serves has its row.
    #[test]
    fn every_served_action_is_in_the_table() {
        let served = crate::actions::Action::ALL.iter().filter(|a| a.is_served());
        for action in served {
            let qualified = format!("{}:{}", action.prefix(), action.name());
            assert!(operation(&qualified).is_some(), "{qualified} is served but not in OPERATIONS");
        }
        assert!(served_count() > 100, "{}", served_count());
    }

    fn served_count() -> usize {
        crate::actions::Action::ALL.iter().filter(|a| a.is_served()).count()
    }

    /// The delegation guardrails of AWS's documentation: the policy and boundary keys on the
    /// actions that attach, detach, put or delete what bounds a user or role.
    #[test]
    fn delegation_keys_follow_aws() {
        let keys = |action: &str| operation(action).unwrap().keys;
        for action in ["iam:AttachUserPolicy", "iam:DetachUserPolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy"] {
            assert!(keys(action).contains(&POLICY_ARN) && keys(action).contains(&BOUNDARY), "{action}");
        }
        for action in ["iam:AttachGroupPolicy", "iam:DetachGroupPolicy"] {
            assert_eq!(keys(action), &[POLICY_ARN], "{action}");
        }
        for action in [
            "iam:CreateUser",
            "iam:CreateRole",
            "iam:PutUserPermissionsBoundary",
            "iam:PutRolePermissionsBoundary",
            "iam:DeleteUserPermissionsBoundary",
            "iam:DeleteRolePermissionsBoundary",
            "iam:PutUserPolicy",
            "iam:PutRolePolicy",
            "iam:DeleteUserPolicy",
            "iam:DeleteRolePolicy",
        ] {
            assert!(keys(action).contains(&BOUNDARY), "{action}");
        }
        assert_eq!(ResourceType::Group.keys(), &[] as &[&str], "groups carry no tags");
    }

    #[test]
    fn request_keys_come_from_inputs_and_target() {
        let mut context = Context::new();
        let inputs = Inputs {
            policy_arn: Some("arn:aws:iam::aws:policy/ReadOnlyAccess".into()),
            tags: vec![Tag { key: "team".into(), value: "a".into() }],
            ..Inputs::default()
        };
        let target = Target {
            tags: vec![Tag { key: "env".into(), value: "prod".into() }],
            boundary: Some("arn:aws:iam::111111111111:policy/b".into()),
        };
        request_keys(&mut context, operation("iam:AttachUserPolicy"), &inputs, &target);
        assert!(context.contains("iam:PolicyARN"));
        assert!(context.contains("iam:PermissionsBoundary"), "the target's current boundary");
        assert!(context.contains("aws:ResourceTag/env") && context.contains("iam:ResourceTag/env"));
        assert!(!context.contains("aws:RequestTag/team"), "AttachUserPolicy takes no tags");
        let mut context = Context::new();
        request_keys(&mut context, operation("iam:AttachGroupPolicy"), &inputs, &Target::default());
        assert!(context.contains("iam:PolicyARN") && !context.contains("iam:PermissionsBoundary"));
    }
}
