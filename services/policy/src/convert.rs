//! The one conversion between the policy domain's types and `tessera.policy.v1`, both ways: the
//! server adapter (`grpc.rs`) decodes requests and encodes answers with it, and the client
//! (`remote.rs`) encodes requests and decodes answers with the same functions, so a call through
//! [`crate::RemotePolicies`] returns what the domain returned on the other side.
//!
//! Each pair is `x` (domain to proto) and `x_from` (proto to domain). What the wire does not carry
//! is named where it is lost: a [`ManagedPolicy`] decoded from a `Policy` has no versions
//! (`record.versions` is empty and `record.next_version` 0; AWS's `Policy` has neither), and a
//! `ListEntitiesForPolicy` page comes back grouped by kind (groups, users, roles), each in the
//! order the domain listed it.

use tessera_identity::{Error, Page, PageRequest, from_millis, millis};
use tessera_proto::common::v1 as common;
use tessera_proto::convert::{system_time, timestamp};
use tessera_proto::error::ErrorCode;
use tessera_proto::policy::v1 as pb;
use tessera_store::iam::{EntityKind, Millis, PolicyRecord, Tag};
use tonic::Status;

use crate::{
    AttachedPolicy, EntityFilter, ManagedPolicy, PolicyEntity, PolicyScope, PolicyUsage, PolicyVersion,
    PrincipalPolicies, SourceType, SourcedPolicy,
};

/// AWS's wording for a value outside an enum, e.g. `… at 'scope' failed to satisfy constraint:
/// Member must satisfy enum value set: [All, AWS, Local]`.
pub(crate) fn bad_enum(field: &str, value: impl std::fmt::Display, set: &str) -> Status {
    Error::new(
        ErrorCode::ValidationError,
        format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must \
             satisfy enum value set: [{set}]"
        ),
    )
    .into()
}

// Requests.

pub(crate) fn entity_ref_from(entity: Option<common::EntityRef>) -> Result<(EntityKind, String), Status> {
    let entity = entity.unwrap_or_default();
    let kind = match common::EntityKind::try_from(entity.kind) {
        Ok(common::EntityKind::User) => EntityKind::User,
        Ok(common::EntityKind::Group) => EntityKind::Group,
        Ok(common::EntityKind::Role) => EntityKind::Role,
        Ok(common::EntityKind::Unspecified) | Err(_) => {
            return Err(bad_enum("entity.kind", entity.kind, "User, Group, Role"));
        }
    };
    Ok((kind, entity.name))
}

pub(crate) fn entity_ref(kind: EntityKind, name: &str) -> Option<common::EntityRef> {
    Some(common::EntityRef { kind: entity_kind(kind), name: name.to_owned() })
}

pub(crate) fn entity_kind(kind: EntityKind) -> i32 {
    match kind {
        EntityKind::User => common::EntityKind::User,
        EntityKind::Group => common::EntityKind::Group,
        EntityKind::Role => common::EntityKind::Role,
    }
    .into()
}

pub(crate) fn scope_from(value: i32) -> Result<PolicyScope, Status> {
    match pb::PolicyScope::try_from(value) {
        Ok(pb::PolicyScope::Unspecified | pb::PolicyScope::All) => Ok(PolicyScope::All),
        Ok(pb::PolicyScope::Aws) => Ok(PolicyScope::Aws),
        Ok(pb::PolicyScope::Local) => Ok(PolicyScope::Local),
        Err(_) => Err(bad_enum("scope", value, "All, AWS, Local")),
    }
}

pub(crate) fn scope(scope: PolicyScope) -> i32 {
    match scope {
        PolicyScope::All => pb::PolicyScope::All,
        PolicyScope::Aws => pb::PolicyScope::Aws,
        PolicyScope::Local => pb::PolicyScope::Local,
    }
    .into()
}

pub(crate) fn usage_from(value: i32) -> Result<Option<PolicyUsage>, Status> {
    match pb::PolicyUsage::try_from(value) {
        Ok(pb::PolicyUsage::Unspecified) => Ok(None),
        Ok(pb::PolicyUsage::PermissionsPolicy) => Ok(Some(PolicyUsage::PermissionsPolicy)),
        Ok(pb::PolicyUsage::PermissionsBoundary) => Ok(Some(PolicyUsage::PermissionsBoundary)),
        Err(_) => Err(bad_enum("policyUsageFilter", value, "PermissionsPolicy, PermissionsBoundary")),
    }
}

pub(crate) fn usage(usage: Option<PolicyUsage>) -> i32 {
    match usage {
        None => pb::PolicyUsage::Unspecified,
        Some(PolicyUsage::PermissionsPolicy) => pb::PolicyUsage::PermissionsPolicy,
        Some(PolicyUsage::PermissionsBoundary) => pb::PolicyUsage::PermissionsBoundary,
    }
    .into()
}

pub(crate) fn entity_filter_from(value: i32) -> Result<EntityFilter, Status> {
    match common::EntityFilter::try_from(value) {
        Ok(common::EntityFilter::Unspecified) => Ok(EntityFilter::All),
        Ok(common::EntityFilter::User) => Ok(EntityFilter::User),
        Ok(common::EntityFilter::Group) => Ok(EntityFilter::Group),
        Ok(common::EntityFilter::Role) => Ok(EntityFilter::Role),
        Ok(common::EntityFilter::LocalManagedPolicy) => Ok(EntityFilter::LocalManagedPolicy),
        Ok(common::EntityFilter::AwsManagedPolicy) => Ok(EntityFilter::AwsManagedPolicy),
        Err(_) => Err(bad_enum("entityFilter", value, "User, Role, Group, LocalManagedPolicy, AWSManagedPolicy")),
    }
}

pub(crate) fn entity_filter(filter: EntityFilter) -> i32 {
    match filter {
        EntityFilter::All => common::EntityFilter::Unspecified,
        EntityFilter::User => common::EntityFilter::User,
        EntityFilter::Group => common::EntityFilter::Group,
        EntityFilter::Role => common::EntityFilter::Role,
        EntityFilter::LocalManagedPolicy => common::EntityFilter::LocalManagedPolicy,
        EntityFilter::AwsManagedPolicy => common::EntityFilter::AwsManagedPolicy,
    }
    .into()
}

pub(crate) fn page_request_from(page: Option<common::PageRequest>) -> PageRequest {
    let page = page.unwrap_or_default();
    PageRequest { marker: page.marker, max_items: page.max_items }
}

pub(crate) fn page_request(page: &PageRequest) -> Option<common::PageRequest> {
    Some(common::PageRequest { marker: page.marker.clone(), max_items: page.max_items })
}

pub(crate) fn tags_from(tags: Vec<common::Tag>) -> Vec<Tag> {
    tags.into_iter().map(|t| Tag { key: t.key, value: t.value }).collect()
}

pub(crate) fn tags(tags: &[Tag]) -> Vec<common::Tag> {
    tags.iter().map(|t| common::Tag { key: t.key.clone(), value: t.value.clone() }).collect()
}

// Answers.

pub(crate) fn page_response<T>(page: &Page<T>) -> Option<common::PageResponse> {
    Some(common::PageResponse { is_truncated: page.is_truncated(), marker: page.marker.clone() })
}

/// A page of `items` with the marker of `page` (a truncated page always has one).
pub(crate) fn page_from<T>(items: Vec<T>, page: Option<common::PageResponse>) -> Page<T> {
    Page { items, marker: page.and_then(|p| p.marker) }
}

fn time(ms: Millis) -> Option<prost_types::Timestamp> {
    Some(timestamp(from_millis(ms)))
}

fn time_from(at: Option<&prost_types::Timestamp>) -> Millis {
    at.and_then(system_time).map_or(0, millis)
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn count_from(n: i32) -> usize {
    usize::try_from(n).unwrap_or(0)
}

pub(crate) fn policy(policy: ManagedPolicy) -> pb::Policy {
    let record = policy.record;
    pb::Policy {
        policy_name: record.name,
        policy_id: record.id,
        arn: record.arn,
        path: record.path,
        default_version_id: record.default_version,
        attachment_count: count(policy.attachment_count),
        permissions_boundary_usage_count: count(policy.permissions_boundary_usage_count),
        is_attachable: true,
        description: record.description,
        create_date: time(record.create_date),
        update_date: time(record.update_date),
        tags: tags(&record.tags),
    }
}

/// The policy a `Policy` describes; AWS-managed exactly when its ARN is in the `aws` account.
pub(crate) fn policy_from(policy: pb::Policy) -> ManagedPolicy {
    let aws_managed = policy.arn.starts_with("arn:aws:iam::aws:");
    ManagedPolicy {
        record: PolicyRecord {
            create_date: time_from(policy.create_date.as_ref()),
            update_date: time_from(policy.update_date.as_ref()),
            name: policy.policy_name,
            path: policy.path,
            id: policy.policy_id,
            arn: policy.arn,
            description: policy.description,
            default_version: policy.default_version_id,
            versions: Vec::new(),
            next_version: 0,
            tags: tags_from(policy.tags),
        },
        aws_managed,
        attachment_count: count_from(policy.attachment_count),
        permissions_boundary_usage_count: count_from(policy.permissions_boundary_usage_count),
    }
}

pub(crate) fn version(version: PolicyVersion) -> pb::PolicyVersion {
    pb::PolicyVersion {
        document: version.document,
        version_id: version.version_id,
        is_default_version: version.is_default_version,
        create_date: time(version.create_date),
    }
}

pub(crate) fn version_from(version: pb::PolicyVersion) -> PolicyVersion {
    PolicyVersion {
        create_date: time_from(version.create_date.as_ref()),
        version_id: version.version_id,
        document: version.document,
        is_default_version: version.is_default_version,
    }
}

pub(crate) fn attached(policy: AttachedPolicy) -> common::AttachedPolicy {
    common::AttachedPolicy { policy_name: policy.policy_name, policy_arn: policy.policy_arn }
}

pub(crate) fn attached_from(policy: common::AttachedPolicy) -> AttachedPolicy {
    AttachedPolicy { policy_name: policy.policy_name, policy_arn: policy.policy_arn }
}

pub(crate) fn entities(page: Page<PolicyEntity>) -> pb::ListEntitiesForPolicyResponse {
    let mut response = pb::ListEntitiesForPolicyResponse { page: page_response(&page), ..Default::default() };
    for entity in page.items {
        match entity.kind {
            EntityKind::User => {
                response.policy_users.push(pb::PolicyUser { user_name: entity.name, user_id: entity.id })
            }
            EntityKind::Group => {
                response.policy_groups.push(pb::PolicyGroup { group_name: entity.name, group_id: entity.id });
            }
            EntityKind::Role => {
                response.policy_roles.push(pb::PolicyRole { role_name: entity.name, role_id: entity.id })
            }
        }
    }
    response
}

/// Groups, then users, then roles: the order the gateway writes them in.
pub(crate) fn entities_from(response: pb::ListEntitiesForPolicyResponse) -> Page<PolicyEntity> {
    let groups = response.policy_groups.into_iter().map(|g| PolicyEntity {
        kind: EntityKind::Group,
        name: g.group_name,
        id: g.group_id,
    });
    let users = response.policy_users.into_iter().map(|u| PolicyEntity {
        kind: EntityKind::User,
        name: u.user_name,
        id: u.user_id,
    });
    let roles = response.policy_roles.into_iter().map(|r| PolicyEntity {
        kind: EntityKind::Role,
        name: r.role_name,
        id: r.role_id,
    });
    page_from(groups.chain(users).chain(roles).collect(), response.page)
}

fn source_type_from(value: &str) -> Result<SourceType, Error> {
    [SourceType::User, SourceType::Group, SourceType::Role, SourceType::AwsManaged, SourceType::UserManaged]
        .into_iter()
        .find(|t| t.as_str() == value)
        .ok_or_else(|| Error::new(ErrorCode::ServiceFailure, format!("unknown policy source type `{value}`")))
}

pub(crate) fn principal_policies(policies: PrincipalPolicies) -> pb::GetPrincipalPoliciesResponse {
    let (boundary_arn, boundary_document) = policies.boundary.unzip();
    pb::GetPrincipalPoliciesResponse {
        unique_id: policies.unique_id,
        tags: tags(&policies.tags),
        identity: policies
            .identity
            .into_iter()
            .map(|p| pb::SourcedPolicy {
                source_type: p.source_type.as_str().to_owned(),
                source_id: p.source_id,
                document: p.document,
            })
            .collect(),
        boundary_arn,
        boundary_document,
    }
}

pub(crate) fn principal_policies_from(response: pb::GetPrincipalPoliciesResponse) -> Result<PrincipalPolicies, Error> {
    let identity = response
        .identity
        .into_iter()
        .map(|p| {
            Ok(SourcedPolicy {
                source_type: source_type_from(&p.source_type)?,
                source_id: p.source_id,
                document: p.document,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(PrincipalPolicies {
        unique_id: response.unique_id,
        tags: tags_from(response.tags),
        identity,
        boundary: response.boundary_arn.zip(response.boundary_document),
    })
}
