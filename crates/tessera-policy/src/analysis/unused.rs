//! Unused access (Access Analyzer's `ACCOUNT_UNUSED_ACCESS` analyzer): roles not used, access
//! keys and passwords not used, and permissions granted but never exercised, within the last
//! `age` days, each with its evidence (when it was last used, and by what request).
//!
//! The inputs are what a front end reads: the account's users and roles with their policy
//! documents and the last-use dates IAM keeps ([`Entity`]), and the audit trail's requests
//! ([`Activity`]). The clock is an argument (`now`, Unix milliseconds). Pure, like the crate.
//!
//! - A role is used when a session of it made an allowed request, or when it was assumed
//!   (an allowed `sts:AssumeRole*` on its ARN).
//! - An access key is used when a request was signed with it (the audit trail), or when IAM
//!   recorded its last use (`GetAccessKeyLastUsed`'s date).
//! - A password is used when IAM recorded a sign-in with it.
//! - A permission is granted when an `Allow` statement of the entity's policies names the action
//!   (by pattern, or by `NotAction` leaving it out) and no unconditional `Deny` on every resource
//!   takes it away; it is exercised by an allowed request of the entity for the action. IAM and
//!   STS, whose actions are all known ([`super::catalog`]), are reported per action; other
//!   services per service, with the actions the policies name literally.

use std::collections::{BTreeMap, BTreeSet};

use super::catalog;
use crate::compile::CompiledPolicy;
use crate::document::Effect;

/// One day in milliseconds.
pub const DAY_MILLIS: u64 = 86_400_000;

/// The finding types of an unused-access analyzer, as Access Analyzer names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnusedType {
    /// `UnusedIAMRole`.
    Role,
    /// `UnusedIAMUserAccessKey`.
    AccessKey,
    /// `UnusedIAMUserPassword`.
    Password,
    /// `UnusedPermission`.
    Permission,
}

impl UnusedType {
    /// Every type, in Access Analyzer's order.
    pub const ALL: [UnusedType; 4] =
        [UnusedType::Role, UnusedType::AccessKey, UnusedType::Password, UnusedType::Permission];

    /// `UnusedIAMRole`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            UnusedType::Role => "UnusedIAMRole",
            UnusedType::AccessKey => "UnusedIAMUserAccessKey",
            UnusedType::Password => "UnusedIAMUserPassword",
            UnusedType::Permission => "UnusedPermission",
        }
    }

    /// The type Access Analyzer's name stands for.
    pub fn parse(text: &str) -> Option<UnusedType> {
        UnusedType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// Whether an entity is a user or a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntityKind {
    /// An IAM user.
    User,
    /// An IAM role.
    Role,
}

impl EntityKind {
    /// `AWS::IAM::User` / `AWS::IAM::Role`.
    pub fn resource_type(self) -> &'static str {
        match self {
            EntityKind::User => "AWS::IAM::User",
            EntityKind::Role => "AWS::IAM::Role",
        }
    }
}

/// An access key of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The access key id.
    pub id: String,
    /// Whether it is `Active` (inactive keys cannot be used, so are not reported).
    pub active: bool,
    /// When IAM last recorded its use (Unix milliseconds), with the service it was used for.
    pub last_used: Option<(u64, String)>,
}

/// A user or role of the account, as the analysis needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// User or role.
    pub kind: EntityKind,
    /// Its name as written.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The documents of every identity policy that applies to it (inline, attached managed and,
    /// for a user, its groups'), as stored.
    pub policies: Vec<String>,
    /// A user's access keys.
    pub keys: Vec<KeyInfo>,
    /// A user's password: `Some(last sign-in)` when it has one.
    pub password: Option<Option<u64>>,
}

/// One request of the audit trail, as the analyses read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    /// Unix milliseconds.
    pub time: u64,
    /// The caller's ARN (a user, an assumed-role session, ...).
    pub principal: String,
    /// `iam:GetUser`.
    pub action: String,
    /// The resource the action was authorized on (`*` when it had none).
    pub resource: String,
    /// The access key that signed it.
    pub access_key_id: Option<String>,
    /// Whether it was allowed.
    pub allowed: bool,
    /// The request id, to find the record again.
    pub request_id: String,
}

/// The user or role a caller ARN acts as: an IAM user's ARN names the user, an assumed-role
/// session's (`arn:aws:sts::A:assumed-role/NAME/SESSION`) its role. Names come back folded
/// (lowercase), as IAM compares them.
pub fn acting_entity(principal: &str) -> Option<(EntityKind, String)> {
    let mut parts = principal.splitn(6, ':');
    let (arn, _partition, service, _region, _account, rest) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if arn != "arn" {
        return None;
    }
    match service {
        "iam" => {
            let path = rest.strip_prefix("user/")?;
            Some((EntityKind::User, path.rsplit('/').next()?.to_ascii_lowercase()))
        }
        "sts" => {
            let session = rest.strip_prefix("assumed-role/")?;
            let (role, _) = session.split_once('/')?;
            Some((EntityKind::Role, role.to_ascii_lowercase()))
        }
        _ => None,
    }
}

/// When something was last used, and by which request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastUse {
    /// Unix milliseconds.
    pub time: u64,
    /// What the use was: `iam:GetUser by arn:aws:sts::...:assumed-role/R/s (request 1f...)`, or
    /// `recorded by IAM for service iam`.
    pub by: String,
}

impl LastUse {
    fn of(activity: &Activity) -> LastUse {
        LastUse {
            time: activity.time,
            by: format!("{} by {} (request {})", activity.action, activity.principal, activity.request_id),
        }
    }

    fn later(a: Option<LastUse>, b: Option<LastUse>) -> Option<LastUse> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.time > a.time { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

/// An action granted and not used within the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnusedAction {
    /// `iam:CreateUser`.
    pub action: String,
    /// Its last use before the window, if any.
    pub last_used: Option<LastUse>,
}

/// What a finding is about, with its evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnusedDetail {
    /// The role was not used within the window.
    Role {
        /// Its last use, if ever.
        last_used: Option<LastUse>,
    },
    /// The active access key was not used within the window.
    AccessKey {
        /// The key.
        access_key_id: String,
        /// Its last use, if ever.
        last_used: Option<LastUse>,
    },
    /// The user's password was not used within the window.
    Password {
        /// Its last use, if ever.
        last_used: Option<LastUse>,
    },
    /// Permissions of one service granted and not exercised within the window.
    Permission {
        /// `iam`, `s3`.
        service: String,
        /// The unused actions (per action for IAM and STS; for other services the actions the
        /// policies name literally, possibly none).
        actions: Vec<UnusedAction>,
        /// The service's last use by the entity, if ever.
        last_used: Option<LastUse>,
    },
}

/// One unused-access finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnusedFinding {
    /// Stable across runs: derived from the resource, the type and what it is about.
    pub id: String,
    /// The user or role ARN.
    pub resource: String,
    /// User or role.
    pub kind: EntityKind,
    /// The finding type.
    pub finding_type: UnusedType,
    /// What is unused, with its evidence.
    pub detail: UnusedDetail,
}

/// The unused-access findings of `entities` at `now` (Unix milliseconds) for a window of
/// `age_days` days, from the audit trail's `activity` (any order).
pub fn unused_access(entities: &[Entity], activity: &[Activity], now: u64, age_days: u32) -> Vec<UnusedFinding> {
    let since = now.saturating_sub(u64::from(age_days) * DAY_MILLIS);
    let mut out = Vec::new();
    let mut by_entity: BTreeMap<(EntityKind, String), Vec<&Activity>> = BTreeMap::new();
    let mut assumed: BTreeMap<String, Vec<&Activity>> = BTreeMap::new();
    let mut by_key: BTreeMap<&str, Vec<&Activity>> = BTreeMap::new();
    for a in activity.iter().filter(|a| a.allowed && a.time <= now) {
        if let Some(who) = acting_entity(&a.principal) {
            by_entity.entry(who).or_default().push(a);
        }
        if a.action.to_ascii_lowercase().starts_with("sts:assumerole") {
            assumed.entry(a.resource.clone()).or_default().push(a);
        }
        if let Some(key) = &a.access_key_id {
            by_key.entry(key.as_str()).or_default().push(a);
        }
    }
    let last = |events: Option<&Vec<&Activity>>| -> Option<LastUse> {
        events.and_then(|e| e.iter().max_by_key(|a| a.time)).map(|a| LastUse::of(a))
    };
    let stale = |used: &Option<LastUse>| used.as_ref().is_none_or(|u| u.time < since);
    for entity in entities {
        let mut findings = Vec::new();
        let own = by_entity.get(&(entity.kind, entity.name.to_ascii_lowercase()));
        match entity.kind {
            EntityKind::Role => {
                let used = LastUse::later(last(own), last(assumed.get(&entity.arn)));
                if stale(&used) {
                    findings.push((UnusedType::Role, UnusedDetail::Role { last_used: used }));
                }
            }
            EntityKind::User => {
                for key in entity.keys.iter().filter(|k| k.active) {
                    let recorded = key.last_used.as_ref().map(|(time, service)| LastUse {
                        time: *time,
                        by: format!("recorded by IAM for service {service}"),
                    });
                    let used = LastUse::later(last(by_key.get(key.id.as_str())), recorded);
                    if stale(&used) {
                        let detail = UnusedDetail::AccessKey { access_key_id: key.id.clone(), last_used: used };
                        findings.push((UnusedType::AccessKey, detail));
                    }
                }
                if let Some(password) = entity.password {
                    let used = password.map(|time| LastUse { time, by: "console sign-in recorded by IAM".into() });
                    if stale(&used) {
                        findings.push((UnusedType::Password, UnusedDetail::Password { last_used: used }));
                    }
                }
            }
        }
        let empty = Vec::new();
        for (service, actions, last_used) in unused_permissions(entity, own.unwrap_or(&empty), since) {
            findings.push((UnusedType::Permission, UnusedDetail::Permission { service, actions, last_used }));
        }
        for (finding_type, detail) in findings {
            let about = match &detail {
                UnusedDetail::AccessKey { access_key_id, .. } => access_key_id.as_str(),
                UnusedDetail::Permission { service, .. } => service.as_str(),
                _ => "",
            };
            out.push(UnusedFinding {
                id: finding_id(&entity.arn, finding_type.as_str(), about),
                resource: entity.arn.clone(),
                kind: entity.kind,
                finding_type,
                detail,
            });
        }
    }
    out
}

/// What an entity's policies grant, decided statement by statement on the compiled form.
struct Grants {
    allows: Vec<crate::compile::ActionMatcher>,
    denies: Vec<crate::compile::ActionMatcher>,
    /// Literal actions named by `Allow` statements, lowercased, with the spelling written.
    literal: BTreeMap<String, String>,
    /// Service prefixes an `Allow` can reach (`None`: every service, from `*` or `NotAction`).
    services: Option<BTreeSet<String>>,
}

impl Grants {
    fn of(documents: &[String]) -> Grants {
        let mut grants = Grants {
            allows: Vec::new(),
            denies: Vec::new(),
            literal: BTreeMap::new(),
            services: Some(BTreeSet::new()),
        };
        for (i, text) in documents.iter().enumerate() {
            let Ok(document) = crate::parse::parse_stored_policy(text) else { continue };
            let policy = CompiledPolicy::compile(format!("policy{i}"), &document);
            for (statement, written) in policy.statements.iter().zip(document.statements.as_slice()) {
                match statement.effect {
                    Effect::Allow => {
                        let actions = &statement.actions;
                        for text in written.action.values.as_slice() {
                            if actions.negated || text == "*" {
                                grants.services = None;
                            } else if let Some((service, verb)) = text.split_once(':') {
                                if let Some(known) = grants.services.as_mut() {
                                    known.insert(service.to_ascii_lowercase());
                                }
                                if !verb.contains(['*', '?']) {
                                    grants.literal.insert(text.to_ascii_lowercase(), text.clone());
                                }
                            }
                        }
                        grants.allows.push(actions.clone());
                    }
                    Effect::Deny => {
                        let everywhere = statement.conditions.is_empty()
                            && statement.resources.as_ref().is_none_or(|r| {
                                !r.negated
                                    && r.patterns.iter().any(|p| matches!(p, crate::compile::ResourcePattern::Any))
                            });
                        if everywhere {
                            grants.denies.push(statement.actions.clone());
                        }
                    }
                }
            }
        }
        grants
    }

    fn grants(&self, action: &str) -> bool {
        let action = action.to_ascii_lowercase();
        self.allows.iter().any(|m| m.matches(&action)) && !self.denies.iter().any(|m| m.matches(&action))
    }
}

/// Per service granted to `entity`: the actions not exercised since `since` and the service's
/// last use; only services with something unused.
fn unused_permissions(
    entity: &Entity,
    activity: &[&Activity],
    since: u64,
) -> Vec<(String, Vec<UnusedAction>, Option<LastUse>)> {
    let grants = Grants::of(&entity.policies);
    if grants.allows.is_empty() {
        return Vec::new();
    }
    let mut last_by_action: BTreeMap<String, &Activity> = BTreeMap::new();
    let mut last_by_service: BTreeMap<String, &Activity> = BTreeMap::new();
    for &a in activity {
        let action = a.action.to_ascii_lowercase();
        let service = action.split_once(':').map_or("", |(s, _)| s).to_owned();
        for (map, key) in [(&mut last_by_action, action), (&mut last_by_service, service)] {
            let slot = map.entry(key).or_insert(a);
            if a.time > slot.time {
                *slot = a;
            }
        }
    }
    let services: BTreeSet<String> = match &grants.services {
        Some(services) => services.clone(),
        // `*` or `NotAction`: every service the catalog knows fully, and every one used.
        None => catalog::CATALOGUED_SERVICES
            .iter()
            .map(|s| (*s).to_owned())
            .chain(last_by_service.keys().filter(|s| !s.is_empty()).cloned())
            .collect(),
    };
    let used_since = |a: Option<&&Activity>| a.is_some_and(|a| a.time >= since);
    let mut out = Vec::new();
    for service in services {
        let service_last = last_by_service.get(&service).map(|a| LastUse::of(a));
        let unused: Vec<UnusedAction> = if catalog::CATALOGUED_SERVICES.contains(&service.as_str()) {
            catalog::ACTIONS
                .iter()
                .filter(|info| info.name.split_once(':').is_some_and(|(s, _)| s == service))
                .filter(|info| grants.grants(info.name))
                .filter(|info| !used_since(last_by_action.get(&info.name.to_ascii_lowercase())))
                .map(|info| UnusedAction {
                    action: info.name.to_owned(),
                    last_used: last_by_action.get(&info.name.to_ascii_lowercase()).map(|a| LastUse::of(a)),
                })
                .collect()
        } else {
            if used_since(last_by_service.get(&service)) {
                continue;
            }
            grants
                .literal
                .iter()
                .filter(|(folded, _)| folded.split_once(':').is_some_and(|(s, _)| s == service))
                .filter(|(folded, _)| grants.grants(folded))
                .map(|(folded, written)| UnusedAction {
                    action: written.clone(),
                    last_used: last_by_action.get(folded).map(|a| LastUse::of(a)),
                })
                .collect()
        };
        let catalogued = catalog::CATALOGUED_SERVICES.contains(&service.as_str());
        if (catalogued && unused.is_empty())
            || (!catalogued && grants.literal.is_empty() && !grants.grants_any(&service))
        {
            continue;
        }
        out.push((service, unused, service_last));
    }
    out
}

impl Grants {
    /// Whether some action of `service` may be granted (a pattern naming the service, or `*`).
    fn grants_any(&self, service: &str) -> bool {
        self.services.as_ref().is_none_or(|s| s.contains(service))
    }
}

/// A stable id in a UUID's shape: two FNV-1a hashes of the parts.
pub fn finding_id(resource: &str, finding_type: &str, about: &str) -> String {
    let hash = |seed: u64| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
        for part in [resource, finding_type, about] {
            for b in part.bytes().chain([0u8]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        h
    };
    let value = (u128::from(hash(0)) << 64) | u128::from(hash(0x9e37_79b9_7f4a_7c15));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        value >> 96,
        (value >> 80) & 0xFFFF,
        (value >> 64) & 0xFFFF,
        (value >> 48) & 0xFFFF,
        value & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;
    const ACCOUNT: &str = "123456789012";

    fn role(name: &str, policies: &[&str]) -> Entity {
        Entity {
            kind: EntityKind::Role,
            name: name.into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
            policies: policies.iter().map(|p| (*p).to_owned()).collect(),
            keys: Vec::new(),
            password: None,
        }
    }

    fn call(days_ago: u64, principal: &str, action: &str, resource: &str) -> Activity {
        Activity {
            time: NOW - days_ago * DAY_MILLIS,
            principal: principal.into(),
            action: action.into(),
            resource: resource.into(),
            access_key_id: None,
            allowed: true,
            request_id: format!("req-{days_ago}-{action}"),
        }
    }

    fn session(role: &str) -> String {
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s")
    }

    #[test]
    fn principals_resolve_to_their_user_or_role() {
        assert_eq!(acting_entity("arn:aws:iam::1:user/a/b/Alice"), Some((EntityKind::User, "alice".into())));
        assert_eq!(acting_entity("arn:aws:sts::1:assumed-role/App/x"), Some((EntityKind::Role, "app".into())));
        assert_eq!(acting_entity("arn:aws:iam::1:root"), None);
        assert_eq!(acting_entity("nonsense"), None);
    }

    #[test]
    fn roles_are_unused_when_neither_assumed_nor_acting_within_the_window() {
        let policy = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}"#;
        let entities =
            [role("Busy", &[policy]), role("Old", &[policy]), role("Never", &[policy]), role("Assumed", &[])];
        let activity = [
            call(1, &session("Busy"), "iam:GetUser", "*"),
            call(40, &session("Old"), "iam:GetUser", "*"),
            call(2, "arn:aws:iam::123456789012:user/ops", "sts:AssumeRole", "arn:aws:iam::123456789012:role/Assumed"),
            Activity { allowed: false, ..call(0, &session("Never"), "iam:GetUser", "*") },
        ];
        let findings = unused_access(&entities, &activity, NOW, 30);
        let roles: Vec<(&str, Option<u64>)> = findings
            .iter()
            .filter_map(|f| match &f.detail {
                UnusedDetail::Role { last_used } => {
                    Some((f.resource.rsplit('/').next().unwrap(), last_used.as_ref().map(|u| u.time)))
                }
                _ => None,
            })
            .collect();
        assert_eq!(roles, [("Old", Some(NOW - 40 * DAY_MILLIS)), ("Never", None)]);
        let old = findings.iter().find(|f| f.resource.ends_with("/Old")).unwrap();
        match &old.detail {
            UnusedDetail::Role { last_used: Some(used) } => {
                assert!(used.by.contains("iam:GetUser by arn:aws:sts"), "{used:?}")
            }
            other => panic!("{other:?}"),
        }
        // The old role's GetUser is also an unused permission; the busy one's is not.
        let permissions: Vec<&str> = findings
            .iter()
            .filter(|f| f.finding_type == UnusedType::Permission)
            .map(|f| f.resource.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(permissions, ["Old", "Never"]);
        // With a window of 50 days the old role counts as used.
        assert!(!unused_access(&entities, &activity, NOW, 50).iter().any(|f| f.resource.ends_with("/Old")));
        // Ids are stable.
        assert_eq!(findings, unused_access(&entities, &activity, NOW, 30));
    }

    #[test]
    fn keys_and_passwords_take_the_later_of_the_trail_and_iam_records() {
        let user = Entity {
            kind: EntityKind::User,
            name: "alice".into(),
            arn: "arn:aws:iam::123456789012:user/alice".into(),
            policies: Vec::new(),
            keys: vec![
                KeyInfo { id: "AKIAUSED".into(), active: true, last_used: None },
                KeyInfo { id: "AKIARECORDED".into(), active: true, last_used: Some((NOW - DAY_MILLIS, "iam".into())) },
                KeyInfo {
                    id: "AKIASTALE".into(),
                    active: true,
                    last_used: Some((NOW - 100 * DAY_MILLIS, "sts".into())),
                },
                KeyInfo { id: "AKIAOFF".into(), active: false, last_used: None },
            ],
            password: Some(Some(NOW - 91 * DAY_MILLIS)),
        };
        let mut used = call(3, &user.arn, "iam:ListUsers", "*");
        used.access_key_id = Some("AKIAUSED".into());
        let findings = unused_access(std::slice::from_ref(&user), &[used], NOW, 90);
        let keys: Vec<&str> = findings
            .iter()
            .filter_map(|f| match &f.detail {
                UnusedDetail::AccessKey { access_key_id, .. } => Some(access_key_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(keys, ["AKIASTALE"]);
        let stale = findings.iter().find(|f| f.finding_type == UnusedType::AccessKey).unwrap();
        match &stale.detail {
            UnusedDetail::AccessKey { last_used: Some(u), .. } => assert_eq!(u.by, "recorded by IAM for service sts"),
            other => panic!("{other:?}"),
        }
        assert!(findings.iter().any(|f| f.finding_type == UnusedType::Password));
        let recent = Entity { password: Some(Some(NOW - DAY_MILLIS)), ..user };
        assert!(!unused_access(&[recent], &[], NOW, 90).iter().any(|f| f.finding_type == UnusedType::Password));
    }

    #[test]
    fn unused_permissions_are_per_action_for_iam_and_per_service_otherwise() {
        let policy = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["iam:Get*","s3:GetObject","dynamodb:Query"],"Resource":"*"},
            {"Effect":"Deny","Action":"iam:GetRole","Resource":"*"}]}"#;
        let entity = role("App", &[policy]);
        let activity = [
            call(1, &session("App"), "iam:GetUser", "arn:aws:iam::123456789012:user/x"),
            call(2, &session("App"), "s3:GetObject", "arn:aws:s3:::b/k"),
            call(200, &session("App"), "iam:GetGroup", "*"),
        ];
        let findings = unused_access(&[entity], &activity, NOW, 90);
        let by_service: BTreeMap<&str, &UnusedDetail> = findings
            .iter()
            .filter_map(|f| match &f.detail {
                d @ UnusedDetail::Permission { service, .. } => Some((service.as_str(), d)),
                _ => None,
            })
            .collect();
        assert_eq!(by_service.keys().copied().collect::<Vec<_>>(), ["dynamodb", "iam"]);
        let UnusedDetail::Permission { actions, .. } = by_service["iam"] else { unreachable!() };
        let names: Vec<&str> = actions.iter().map(|a| a.action.as_str()).collect();
        assert!(names.contains(&"iam:GetGroup") && names.contains(&"iam:GetPolicy"), "{names:?}");
        assert!(!names.contains(&"iam:GetUser"), "used");
        assert!(!names.contains(&"iam:GetRole"), "denied everywhere, so not granted");
        assert!(!names.contains(&"iam:CreateUser"), "not granted");
        let group = actions.iter().find(|a| a.action == "iam:GetGroup").unwrap();
        assert_eq!(group.last_used.as_ref().map(|u| u.time), Some(NOW - 200 * DAY_MILLIS));
        let UnusedDetail::Permission { actions, last_used, .. } = by_service["dynamodb"] else { unreachable!() };
        assert_eq!((actions.len(), actions[0].action.as_str(), last_used), (1, "dynamodb:Query", &None));
    }
}
