//! Domain values <-> `tessera.identity.v1` messages, both directions, in one place: the server
//! adapter (`grpc.rs`) encodes what the domain returns and decodes requests with these functions,
//! and the remote implementation (`remote.rs`) does the reverse with their counterparts, so a
//! value crosses the wire one way only.
//!
//! A record rebuilt from a message carries what the API shows. Fields that never leave the service
//! stay empty on the remote side: sealed secrets, password hashes and MFA replay counters, the
//! relations the API does not list with the record (a user's groups, keys, login profile and
//! devices outside `GetAccountAuthorizationDetails`; a group's members; a role's trust principal
//! ids; attached and inline policies outside the details), a policy's tags and version counter,
//! and a virtual MFA device's creation date.

use std::collections::BTreeMap;

use tessera_arn::{Arn, IamEntity};
use tessera_credentials::Secret;
use tessera_proto::common::v1 as common;
use tessera_proto::convert::{system_time, timestamp};
use tessera_proto::identity::v1 as pb;
use tessera_proto::policy::v1 as ppb;
use tessera_store::iam::{
    AccountRecord, CredentialReportRecord, EntityKind, GroupRecord, InstanceProfileRecord, KeyStatus, MfaDeviceRecord,
    Millis, OidcProviderRecord, PasswordPolicyRecord, PolicyRecord, PolicyVersionRecord, Principal, RoleLastUsed,
    RoleRecord, SamlPrivateKeyRecord, SamlProviderRecord, Tag, UserRecord,
};
use tonic::Status;

use crate::{ServerCertificate, ServiceCredential, SigningCertificate, SshEncoding, SshPublicKey};

use crate::InstanceProfile;
use crate::{
    AccessKeyLastUsed, AccessKeyMetadata, AssignmentStatus, AuthorizationDetails, CreatedAccessKey, CreatedMfaDevice,
    Error, LoginProfile, Page, PageRequest, ReportState, Taggable, UpdatePasswordPolicy, from_millis, millis,
};
use tessera_store::iam::DeletionStatus;

// ---------------------------------------------------------------------------------------------
// Scalars, paging, tags.

pub(crate) fn ts(ms: Millis) -> Option<prost_types::Timestamp> {
    Some(timestamp(from_millis(ms)))
}

/// The milliseconds of a timestamp (`None` when unset or outside what `SystemTime` holds).
pub(crate) fn ms(time: Option<&prost_types::Timestamp>) -> Option<Millis> {
    time.and_then(system_time).map(millis)
}

fn ms_or_zero(time: Option<&prost_types::Timestamp>) -> Millis {
    ms(time).unwrap_or(0)
}

fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn uint(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

pub(crate) fn page(request: Option<common::PageRequest>) -> PageRequest {
    request.map(|p| PageRequest { marker: p.marker, max_items: p.max_items }).unwrap_or_default()
}

pub(crate) fn page_request(request: &PageRequest) -> Option<common::PageRequest> {
    Some(common::PageRequest { marker: request.marker.clone(), max_items: request.max_items })
}

pub(crate) fn page_out<T>(page: &Page<T>) -> Option<common::PageResponse> {
    Some(common::PageResponse { is_truncated: page.is_truncated(), marker: page.marker.clone() })
}

/// A page of `items` with the marker the response carries (present exactly when truncated).
pub(crate) fn page_in<T>(items: Vec<T>, page: Option<common::PageResponse>) -> Page<T> {
    Page { items, marker: page.filter(|p| p.is_truncated).and_then(|p| p.marker) }
}

pub(crate) fn tags_in(tags: Vec<common::Tag>) -> Vec<Tag> {
    tags.into_iter().map(|t| Tag { key: t.key, value: t.value }).collect()
}

pub(crate) fn tags_out(tags: &[Tag]) -> Vec<common::Tag> {
    tags.iter().map(|t| common::Tag { key: t.key.clone(), value: t.value.clone() }).collect()
}

pub(crate) fn boundary(arn: Option<&String>) -> Option<common::PermissionsBoundary> {
    arn.map(|arn| common::PermissionsBoundary {
        permissions_boundary_type: "PermissionsBoundaryPolicy".to_owned(),
        permissions_boundary_arn: arn.clone(),
    })
}

fn boundary_in(boundary: Option<common::PermissionsBoundary>) -> Option<String> {
    boundary.map(|b| b.permissions_boundary_arn)
}

/// Decodes an `EntityRef` (kind is required).
pub fn entity_ref(entity: Option<common::EntityRef>) -> Result<(EntityKind, String), Status> {
    let entity = entity.ok_or_else(|| Status::from(Error::invalid_input("the entity is required")))?;
    let kind = match common::EntityKind::try_from(entity.kind) {
        Ok(common::EntityKind::User) => EntityKind::User,
        Ok(common::EntityKind::Group) => EntityKind::Group,
        Ok(common::EntityKind::Role) => EntityKind::Role,
        _ => return Err(Error::invalid_input("the entity kind must be user, group or role").into()),
    };
    Ok((kind, entity.name))
}

pub(crate) fn entity_ref_out(kind: EntityKind, name: &str) -> Option<common::EntityRef> {
    let kind = match kind {
        EntityKind::User => common::EntityKind::User,
        EntityKind::Group => common::EntityKind::Group,
        EntityKind::Role => common::EntityKind::Role,
    };
    Some(common::EntityRef { kind: kind.into(), name: name.to_owned() })
}

pub(crate) fn taggable(resource: Option<common::TaggableRef>) -> Result<Taggable, Status> {
    let resource = resource.ok_or_else(|| Status::from(Error::invalid_input("the resource is required")))?;
    Ok(match common::TaggableKind::try_from(resource.kind) {
        Ok(common::TaggableKind::User) => Taggable::User(resource.id),
        Ok(common::TaggableKind::Role) => Taggable::Role(resource.id),
        Ok(common::TaggableKind::Policy) => Taggable::Policy(resource.id),
        Ok(common::TaggableKind::ServerCertificate) => Taggable::ServerCertificate(resource.id),
        Ok(common::TaggableKind::OpenIdConnectProvider) => Taggable::OidcProvider(resource.id),
        Ok(common::TaggableKind::MfaDevice) => Taggable::MfaDevice(resource.id),
        Ok(common::TaggableKind::InstanceProfile) => Taggable::InstanceProfile(resource.id),
        Ok(common::TaggableKind::SamlProvider) => Taggable::SamlProvider(resource.id),
        _ => return Err(Error::invalid_input("the resource kind is required").into()),
    })
}

pub(crate) fn taggable_out(resource: &Taggable) -> Option<common::TaggableRef> {
    let (kind, id) = match resource {
        Taggable::User(id) => (common::TaggableKind::User, id),
        Taggable::Role(id) => (common::TaggableKind::Role, id),
        Taggable::ServerCertificate(id) => (common::TaggableKind::ServerCertificate, id),
        Taggable::Policy(id) => (common::TaggableKind::Policy, id),
        Taggable::OidcProvider(id) => (common::TaggableKind::OpenIdConnectProvider, id),
        Taggable::MfaDevice(id) => (common::TaggableKind::MfaDevice, id),
        Taggable::InstanceProfile(id) => (common::TaggableKind::InstanceProfile, id),
        Taggable::SamlProvider(id) => (common::TaggableKind::SamlProvider, id),
    };
    Some(common::TaggableRef { kind: kind.into(), id: id.clone() })
}

// ---------------------------------------------------------------------------------------------
// Accounts.

pub(crate) fn account_out(record: AccountRecord) -> pb::Account {
    pb::Account { account_id: record.id, create_date: ts(record.create_date) }
}

pub(crate) fn account_in(account: Option<pb::Account>) -> AccountRecord {
    let account = account.unwrap_or_default();
    AccountRecord { id: account.account_id, create_date: ms_or_zero(account.create_date.as_ref()) }
}

pub(crate) fn summary_out(summary: BTreeMap<String, i64>) -> std::collections::HashMap<String, i32> {
    summary.into_iter().map(|(k, v)| (k, i32::try_from(v).unwrap_or(i32::MAX))).collect()
}

pub(crate) fn summary_in(summary: std::collections::HashMap<String, i32>) -> BTreeMap<String, i64> {
    summary.into_iter().map(|(k, v)| (k, i64::from(v))).collect()
}

// ---------------------------------------------------------------------------------------------
// Users, groups, roles.

fn principal_in(
    name: String,
    path: String,
    id: String,
    arn: String,
    create_date: Option<&prost_types::Timestamp>,
) -> Principal {
    Principal { name, path, id, arn, create_date: ms_or_zero(create_date), attached: Vec::new(), inline: Vec::new() }
}

pub(crate) fn user_out(user: &UserRecord) -> pb::User {
    let p = &user.principal;
    pb::User {
        path: p.path.clone(),
        user_name: p.name.clone(),
        user_id: p.id.clone(),
        arn: p.arn.clone(),
        create_date: ts(p.create_date),
        password_last_used: user.password_last_used.and_then(ts),
        permissions_boundary: boundary(user.boundary.as_ref()),
        tags: tags_out(&user.tags),
    }
}

pub(crate) fn user_in(user: pb::User) -> UserRecord {
    UserRecord {
        principal: principal_in(user.user_name, user.path, user.user_id, user.arn, user.create_date.as_ref()),
        boundary: boundary_in(user.permissions_boundary),
        tags: tags_in(user.tags),
        groups: Vec::new(),
        access_keys: Vec::new(),
        login_profile: None,
        mfa_devices: Vec::new(),
        signing_certificates: Vec::new(),
        ssh_public_keys: Vec::new(),
        service_credentials: Vec::new(),
        password_last_used: ms(user.password_last_used.as_ref()),
    }
}

pub(crate) fn user_in_required(user: Option<pb::User>) -> UserRecord {
    user_in(user.unwrap_or_default())
}

pub(crate) fn group_out(group: &GroupRecord) -> pb::Group {
    let p = &group.principal;
    pb::Group {
        path: p.path.clone(),
        group_name: p.name.clone(),
        group_id: p.id.clone(),
        arn: p.arn.clone(),
        create_date: ts(p.create_date),
    }
}

pub(crate) fn group_in(group: pb::Group) -> GroupRecord {
    GroupRecord {
        principal: principal_in(group.group_name, group.path, group.group_id, group.arn, group.create_date.as_ref()),
        members: Vec::new(),
    }
}

pub(crate) fn role_out(role: &RoleRecord) -> pb::Role {
    let p = &role.principal;
    pb::Role {
        path: p.path.clone(),
        role_name: p.name.clone(),
        role_id: p.id.clone(),
        arn: p.arn.clone(),
        create_date: ts(p.create_date),
        assume_role_policy_document: role.trust_policy.clone(),
        description: role.description.clone(),
        max_session_duration: int(role.max_session_duration),
        permissions_boundary: boundary(role.boundary.as_ref()),
        tags: tags_out(&role.tags),
        role_last_used: role_last_used_out(role.last_used.as_ref()),
    }
}

fn role_last_used_out(used: Option<&RoleLastUsed>) -> Option<pb::RoleLastUsed> {
    Some(pb::RoleLastUsed { last_used_date: used.and_then(|u| ts(u.date)), region: used.map(|u| u.region.clone()) })
}

fn role_last_used_in(used: Option<pb::RoleLastUsed>) -> Option<RoleLastUsed> {
    let used = used?;
    Some(RoleLastUsed { date: ms(used.last_used_date.as_ref())?, region: used.region.unwrap_or_default() })
}

pub(crate) fn role_in(role: pb::Role) -> RoleRecord {
    RoleRecord {
        principal: principal_in(role.role_name, role.path, role.role_id, role.arn, role.create_date.as_ref()),
        trust_policy: role.assume_role_policy_document,
        description: role.description,
        max_session_duration: uint(role.max_session_duration),
        boundary: boundary_in(role.permissions_boundary),
        tags: tags_in(role.tags),
        last_used: role_last_used_in(role.role_last_used),
        trust_principal_ids: Vec::new(),
        instance_profiles: Vec::new(),
    }
}

pub(crate) fn role_in_required(role: Option<pb::Role>) -> RoleRecord {
    role_in(role.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Access keys.

pub(crate) fn key_status_out(status: KeyStatus) -> pb::AccessKeyStatus {
    match status {
        KeyStatus::Active => pb::AccessKeyStatus::Active,
        KeyStatus::Inactive => pb::AccessKeyStatus::Inactive,
    }
}

/// The domain status of a wire status; `None` for unspecified (and `Expired`, which keys never are).
pub(crate) fn key_status_in(status: i32) -> Option<KeyStatus> {
    match pb::AccessKeyStatus::try_from(status) {
        Ok(pb::AccessKeyStatus::Active) => Some(KeyStatus::Active),
        Ok(pb::AccessKeyStatus::Inactive) => Some(KeyStatus::Inactive),
        _ => None,
    }
}

pub(crate) fn created_key_out(key: CreatedAccessKey) -> pb::AccessKey {
    pb::AccessKey {
        user_name: key.user_name,
        access_key_id: key.access_key_id,
        status: key_status_out(key.status).into(),
        secret_access_key: key.secret_access_key.expose().to_owned(),
        create_date: ts(key.create_date),
    }
}

pub(crate) fn created_key_in(key: Option<pb::AccessKey>) -> CreatedAccessKey {
    let key = key.unwrap_or_default();
    CreatedAccessKey {
        user_name: key.user_name,
        access_key_id: key.access_key_id,
        status: key_status_in(key.status).unwrap_or(KeyStatus::Inactive),
        secret_access_key: Secret::new(key.secret_access_key),
        create_date: ms_or_zero(key.create_date.as_ref()),
    }
}

pub(crate) fn key_metadata_out(key: AccessKeyMetadata) -> pb::AccessKeyMetadata {
    pb::AccessKeyMetadata {
        user_name: key.user_name,
        access_key_id: key.access_key_id,
        status: key_status_out(key.status).into(),
        create_date: ts(key.create_date),
    }
}

pub(crate) fn key_metadata_in(key: pb::AccessKeyMetadata) -> AccessKeyMetadata {
    AccessKeyMetadata {
        user_name: key.user_name,
        access_key_id: key.access_key_id,
        status: key_status_in(key.status).unwrap_or(KeyStatus::Inactive),
        create_date: ms_or_zero(key.create_date.as_ref()),
    }
}

pub(crate) fn key_last_used_out(used: AccessKeyLastUsed) -> pb::GetAccessKeyLastUsedResponse {
    pb::GetAccessKeyLastUsedResponse {
        user_name: used.user_name,
        access_key_last_used: Some(pb::AccessKeyLastUsed {
            last_used_date: used.last_used_date.and_then(ts),
            service_name: used.service_name,
            region: used.region,
        }),
    }
}

pub(crate) fn key_last_used_in(response: pb::GetAccessKeyLastUsedResponse) -> AccessKeyLastUsed {
    let used = response.access_key_last_used.unwrap_or_default();
    AccessKeyLastUsed {
        user_name: response.user_name,
        last_used_date: ms(used.last_used_date.as_ref()),
        service_name: used.service_name,
        region: used.region,
    }
}

// ---------------------------------------------------------------------------------------------
// Passwords.

pub(crate) fn login_profile_out(profile: LoginProfile) -> pb::LoginProfile {
    pb::LoginProfile {
        user_name: profile.user_name,
        create_date: ts(profile.create_date),
        password_reset_required: profile.password_reset_required,
    }
}

pub(crate) fn login_profile_in(profile: Option<pb::LoginProfile>) -> LoginProfile {
    let profile = profile.unwrap_or_default();
    LoginProfile {
        user_name: profile.user_name,
        create_date: ms_or_zero(profile.create_date.as_ref()),
        password_reset_required: profile.password_reset_required,
    }
}

pub(crate) fn password_policy_update_in(r: pb::UpdateAccountPasswordPolicyRequest) -> UpdatePasswordPolicy {
    UpdatePasswordPolicy {
        minimum_password_length: r.minimum_password_length,
        require_symbols: r.require_symbols,
        require_numbers: r.require_numbers,
        require_uppercase_characters: r.require_uppercase_characters,
        require_lowercase_characters: r.require_lowercase_characters,
        allow_users_to_change_password: r.allow_users_to_change_password,
        max_password_age: r.max_password_age,
        password_reuse_prevention: r.password_reuse_prevention,
        hard_expiry: r.hard_expiry,
    }
}

pub(crate) fn password_policy_update_out(
    account_id: String,
    input: UpdatePasswordPolicy,
) -> pb::UpdateAccountPasswordPolicyRequest {
    pb::UpdateAccountPasswordPolicyRequest {
        account_id,
        minimum_password_length: input.minimum_password_length,
        require_symbols: input.require_symbols,
        require_numbers: input.require_numbers,
        require_uppercase_characters: input.require_uppercase_characters,
        require_lowercase_characters: input.require_lowercase_characters,
        allow_users_to_change_password: input.allow_users_to_change_password,
        max_password_age: input.max_password_age,
        password_reuse_prevention: input.password_reuse_prevention,
        hard_expiry: input.hard_expiry,
    }
}

pub(crate) fn password_policy_out(p: &PasswordPolicyRecord) -> pb::PasswordPolicy {
    pb::PasswordPolicy {
        minimum_password_length: int(p.minimum_password_length),
        require_symbols: p.require_symbols,
        require_numbers: p.require_numbers,
        require_uppercase_characters: p.require_uppercase_characters,
        require_lowercase_characters: p.require_lowercase_characters,
        allow_users_to_change_password: p.allow_users_to_change_password,
        expire_passwords: p.max_password_age > 0,
        max_password_age: (p.max_password_age > 0).then(|| int(p.max_password_age)),
        password_reuse_prevention: (p.password_reuse_prevention > 0).then(|| int(p.password_reuse_prevention)),
        hard_expiry: Some(p.hard_expiry),
    }
}

pub(crate) fn password_policy_in(p: Option<pb::PasswordPolicy>) -> PasswordPolicyRecord {
    let p = p.unwrap_or_default();
    PasswordPolicyRecord {
        minimum_password_length: uint(p.minimum_password_length),
        require_symbols: p.require_symbols,
        require_numbers: p.require_numbers,
        require_uppercase_characters: p.require_uppercase_characters,
        require_lowercase_characters: p.require_lowercase_characters,
        allow_users_to_change_password: p.allow_users_to_change_password,
        max_password_age: p.max_password_age.map_or(0, uint),
        password_reuse_prevention: p.password_reuse_prevention.map_or(0, uint),
        hard_expiry: p.hard_expiry.unwrap_or(false),
    }
}

// ---------------------------------------------------------------------------------------------
// MFA devices.

pub(crate) fn mfa_device_out(device: &MfaDeviceRecord, user: Option<&UserRecord>) -> pb::VirtualMfaDevice {
    pb::VirtualMfaDevice {
        serial_number: device.serial.clone(),
        base32_string_seed: Vec::new(),
        qr_code_png: Vec::new(),
        user: user.map(user_out),
        enable_date: device.enable_date.and_then(ts),
        tags: tags_out(&device.tags),
    }
}

/// A device record named by its serial (`arn:aws:iam::<account>:mfa<path><name>`).
fn device_named(serial: String) -> MfaDeviceRecord {
    let (path, name) = match Arn::parse(&serial).ok().and_then(|arn| arn.entity().ok()) {
        Some(IamEntity::Mfa { path, name }) => (path, name),
        _ => (String::new(), String::new()),
    };
    MfaDeviceRecord {
        name,
        path,
        serial,
        sealed_seed: String::new(),
        create_date: 0,
        user: None,
        enable_date: None,
        last_counter: None,
        tags: Vec::new(),
    }
}

pub(crate) fn mfa_device_in(device: pb::VirtualMfaDevice) -> MfaDeviceRecord {
    let enable_date = ms(device.enable_date.as_ref());
    MfaDeviceRecord {
        user: device.user.map(|u| u.user_name),
        enable_date,
        tags: tags_in(device.tags),
        ..device_named(device.serial_number)
    }
}

pub(crate) fn created_mfa_out(created: CreatedMfaDevice) -> pb::VirtualMfaDevice {
    let mut device = mfa_device_out(&created.device, None);
    device.base32_string_seed = created.base32_seed.expose().as_bytes().to_vec();
    device.qr_code_png = created.qr_png;
    device
}

pub(crate) fn created_mfa_in(device: Option<pb::VirtualMfaDevice>) -> CreatedMfaDevice {
    let mut device = device.unwrap_or_default();
    let seed = String::from_utf8(std::mem::take(&mut device.base32_string_seed)).unwrap_or_default();
    let qr_png = std::mem::take(&mut device.qr_code_png);
    CreatedMfaDevice { device: mfa_device_in(device), base32_seed: Secret::new(seed), qr_png }
}

/// A device of `ListMFADevices` (a user's enabled devices).
pub(crate) fn listed_mfa_out(device: &MfaDeviceRecord) -> pb::MfaDevice {
    pb::MfaDevice {
        user_name: device.user.clone().unwrap_or_default(),
        serial_number: device.serial.clone(),
        enable_date: device.enable_date.and_then(ts),
    }
}

pub(crate) fn listed_mfa_in(device: pb::MfaDevice) -> MfaDeviceRecord {
    let enable_date = ms(device.enable_date.as_ref());
    MfaDeviceRecord {
        user: Some(device.user_name).filter(|n| !n.is_empty()),
        enable_date,
        ..device_named(device.serial_number)
    }
}

pub(crate) fn assignment_status_in(status: i32) -> AssignmentStatus {
    match pb::AssignmentStatus::try_from(status) {
        Ok(pb::AssignmentStatus::Assigned) => AssignmentStatus::Assigned,
        Ok(pb::AssignmentStatus::Unassigned) => AssignmentStatus::Unassigned,
        _ => AssignmentStatus::Any,
    }
}

pub(crate) fn assignment_status_out(status: AssignmentStatus) -> pb::AssignmentStatus {
    match status {
        AssignmentStatus::Assigned => pb::AssignmentStatus::Assigned,
        AssignmentStatus::Unassigned => pb::AssignmentStatus::Unassigned,
        AssignmentStatus::Any => pb::AssignmentStatus::Any,
    }
}

// ---------------------------------------------------------------------------------------------
// OpenID Connect providers.

pub(crate) fn provider_out(p: OidcProviderRecord) -> pb::GetOpenIdConnectProviderResponse {
    pb::GetOpenIdConnectProviderResponse {
        url: p.url,
        client_id_list: p.client_ids,
        thumbprint_list: p.thumbprints,
        create_date: ts(p.create_date),
        tags: tags_out(&p.tags),
    }
}

pub(crate) fn provider_in(arn: String, p: pb::GetOpenIdConnectProviderResponse) -> OidcProviderRecord {
    OidcProviderRecord {
        url: p.url,
        arn,
        client_ids: p.client_id_list,
        thumbprints: p.thumbprint_list,
        create_date: ms_or_zero(p.create_date.as_ref()),
        tags: tags_in(p.tags),
    }
}

/// What `CreateOpenIDConnectProvider` answers (its ARN and tags) as a record: the URL is the
/// ARN's; the lists and the date are not in the answer.
pub(crate) fn created_provider_in(r: pb::CreateOpenIdConnectProviderResponse) -> OidcProviderRecord {
    let url = match Arn::parse(&r.open_id_connect_provider_arn).ok().and_then(|arn| arn.entity().ok()) {
        Some(IamEntity::OidcProvider { url }) => url,
        _ => String::new(),
    };
    OidcProviderRecord {
        url,
        arn: r.open_id_connect_provider_arn,
        client_ids: Vec::new(),
        thumbprints: Vec::new(),
        create_date: 0,
        tags: tags_in(r.tags),
    }
}

// ---------------------------------------------------------------------------------------------
// SAML providers

pub(crate) fn saml_provider_out(p: SamlProviderRecord) -> pb::SamlProvider {
    pb::SamlProvider {
        saml_provider_arn: p.arn,
        saml_provider_uuid: p.uuid,
        saml_metadata_document: p.metadata_document,
        create_date: ts(p.create_date),
        valid_until: ts(p.valid_until),
        tags: tags_out(&p.tags),
        assertion_encryption_mode: p.assertion_encryption_mode,
        entity_id: p.entity_id,
        private_keys: p
            .private_keys
            .iter()
            .map(|k| pb::SamlPrivateKey { key_id: k.key_id.clone(), timestamp: ts(k.timestamp) })
            .collect(),
    }
}

pub(crate) fn saml_provider_in(p: pb::SamlProvider) -> SamlProviderRecord {
    let name = match Arn::parse(&p.saml_provider_arn).ok().and_then(|arn| arn.entity().ok()) {
        Some(IamEntity::SamlProvider { name }) => name,
        _ => String::new(),
    };
    SamlProviderRecord {
        name,
        arn: p.saml_provider_arn,
        metadata_document: p.saml_metadata_document,
        entity_id: p.entity_id,
        uuid: p.saml_provider_uuid,
        create_date: ms_or_zero(p.create_date.as_ref()),
        valid_until: ms_or_zero(p.valid_until.as_ref()),
        assertion_encryption_mode: p.assertion_encryption_mode,
        tags: tags_in(p.tags),
        private_keys: p
            .private_keys
            .into_iter()
            .map(|k| SamlPrivateKeyRecord {
                key_id: k.key_id,
                timestamp: ms_or_zero(k.timestamp.as_ref()),
                sealed_private_key: String::new(),
            })
            .collect(),
    }
}

/// A list entry as a record: the list carries no metadata document, entity id, UUID or tags.
pub(crate) fn saml_list_entry_in(e: pb::SamlProviderListEntry) -> SamlProviderRecord {
    saml_provider_in(pb::SamlProvider {
        saml_provider_arn: e.arn,
        create_date: e.create_date,
        valid_until: e.valid_until,
        ..Default::default()
    })
}

// ---------------------------------------------------------------------------------------------
// Account-wide reads.

/// `GetAccountAuthorizationDetails`' `Filter` values (AWS strings) as the wire enum; values outside
/// it are refused before they are sent (see `account::check_filter`).
pub(crate) fn filter_out(values: &[String]) -> Vec<i32> {
    values
        .iter()
        .filter_map(|v| match v.as_str() {
            "User" => Some(common::EntityFilter::User),
            "Role" => Some(common::EntityFilter::Role),
            "Group" => Some(common::EntityFilter::Group),
            "LocalManagedPolicy" => Some(common::EntityFilter::LocalManagedPolicy),
            "AWSManagedPolicy" => Some(common::EntityFilter::AwsManagedPolicy),
            _ => None,
        })
        .map(i32::from)
        .collect()
}

pub(crate) fn filter_in(values: &[i32]) -> Vec<String> {
    values
        .iter()
        .filter_map(|f| match common::EntityFilter::try_from(*f) {
            Ok(common::EntityFilter::User) => Some("User"),
            Ok(common::EntityFilter::Role) => Some("Role"),
            Ok(common::EntityFilter::Group) => Some("Group"),
            Ok(common::EntityFilter::LocalManagedPolicy) => Some("LocalManagedPolicy"),
            Ok(common::EntityFilter::AwsManagedPolicy) => Some("AWSManagedPolicy"),
            _ => None,
        })
        .map(str::to_owned)
        .collect()
}

fn inline_out(inline: &[(String, String)]) -> Vec<common::PolicyDetail> {
    inline
        .iter()
        .map(|(name, doc)| common::PolicyDetail { policy_name: name.clone(), policy_document: doc.clone() })
        .collect()
}

fn inline_in(inline: Vec<common::PolicyDetail>) -> Vec<(String, String)> {
    inline.into_iter().map(|p| (p.policy_name, p.policy_document)).collect()
}

/// Attached policies as AWS lists them: name and ARN (the name is the ARN's last segment).
pub fn attached_out(attached: &[String]) -> Vec<common::AttachedPolicy> {
    attached
        .iter()
        .map(|arn| common::AttachedPolicy {
            policy_name: arn.rsplit('/').next().unwrap_or(arn).to_owned(),
            policy_arn: arn.clone(),
        })
        .collect()
}

fn attached_in(attached: Vec<common::AttachedPolicy>) -> Vec<String> {
    attached.into_iter().map(|p| p.policy_arn).collect()
}

fn user_detail(user: &UserRecord) -> pb::UserDetail {
    let p = &user.principal;
    pb::UserDetail {
        path: p.path.clone(),
        user_name: p.name.clone(),
        user_id: p.id.clone(),
        arn: p.arn.clone(),
        create_date: ts(p.create_date),
        user_policy_list: inline_out(&p.inline),
        group_list: user.groups.clone(),
        attached_managed_policies: attached_out(&p.attached),
        permissions_boundary: boundary(user.boundary.as_ref()),
        tags: tags_out(&user.tags),
    }
}

fn user_detail_in(u: pb::UserDetail) -> UserRecord {
    let mut principal = principal_in(u.user_name, u.path, u.user_id, u.arn, u.create_date.as_ref());
    principal.inline = inline_in(u.user_policy_list);
    principal.attached = attached_in(u.attached_managed_policies);
    UserRecord {
        principal,
        boundary: boundary_in(u.permissions_boundary),
        tags: tags_in(u.tags),
        groups: u.group_list,
        access_keys: Vec::new(),
        login_profile: None,
        mfa_devices: Vec::new(),
        signing_certificates: Vec::new(),
        ssh_public_keys: Vec::new(),
        service_credentials: Vec::new(),
        password_last_used: None,
    }
}

fn group_detail(group: &GroupRecord) -> pb::GroupDetail {
    let p = &group.principal;
    pb::GroupDetail {
        path: p.path.clone(),
        group_name: p.name.clone(),
        group_id: p.id.clone(),
        arn: p.arn.clone(),
        create_date: ts(p.create_date),
        group_policy_list: inline_out(&p.inline),
        attached_managed_policies: attached_out(&p.attached),
    }
}

fn group_detail_in(g: pb::GroupDetail) -> GroupRecord {
    let mut principal = principal_in(g.group_name, g.path, g.group_id, g.arn, g.create_date.as_ref());
    principal.inline = inline_in(g.group_policy_list);
    principal.attached = attached_in(g.attached_managed_policies);
    GroupRecord { principal, members: Vec::new() }
}

fn role_detail(role: &RoleRecord, profiles: &[InstanceProfileRecord]) -> pb::RoleDetail {
    let r = role_out(role);
    let name = tessera_store::iam::folded(&role.principal.name);
    let instance_profile_list = profiles
        .iter()
        .filter(|p| p.roles.iter().any(|n| tessera_store::iam::folded(n) == name))
        .map(|p| profile_record_out(p, vec![r.clone()]))
        .collect();
    pb::RoleDetail {
        path: r.path,
        role_name: r.role_name,
        role_id: r.role_id,
        arn: r.arn,
        create_date: r.create_date,
        assume_role_policy_document: r.assume_role_policy_document,
        role_policy_list: inline_out(&role.principal.inline),
        attached_managed_policies: attached_out(&role.principal.attached),
        permissions_boundary: r.permissions_boundary,
        tags: r.tags,
        role_last_used: r.role_last_used,
        instance_profile_list,
    }
}

/// A role of the details (AWS `RoleDetail` has no description and no maximum session duration).
fn role_detail_in(r: pb::RoleDetail) -> RoleRecord {
    let mut principal = principal_in(r.role_name, r.path, r.role_id, r.arn, r.create_date.as_ref());
    principal.inline = inline_in(r.role_policy_list);
    principal.attached = attached_in(r.attached_managed_policies);
    RoleRecord {
        principal,
        trust_policy: r.assume_role_policy_document,
        description: None,
        max_session_duration: 0,
        boundary: boundary_in(r.permissions_boundary),
        tags: tags_in(r.tags),
        last_used: role_last_used_in(r.role_last_used),
        trust_principal_ids: Vec::new(),
        instance_profiles: Vec::new(),
    }
}

/// A managed policy version as the policy package encodes it.
pub fn policy_version_out(policy: &PolicyRecord, version: &PolicyVersionRecord) -> ppb::PolicyVersion {
    ppb::PolicyVersion {
        document: version.document.clone(),
        version_id: version.id.clone(),
        is_default_version: version.id == policy.default_version,
        create_date: ts(version.create_date),
    }
}

fn policy_detail(policy: &PolicyRecord) -> pb::ManagedPolicyDetail {
    pb::ManagedPolicyDetail {
        policy_name: policy.name.clone(),
        policy_id: policy.id.clone(),
        arn: policy.arn.clone(),
        path: policy.path.clone(),
        default_version_id: policy.default_version.clone(),
        // Use counts live in the policy service's records; GetPolicy reports them.
        attachment_count: 0,
        permissions_boundary_usage_count: 0,
        is_attachable: true,
        description: policy.description.clone(),
        create_date: ts(policy.create_date),
        update_date: ts(policy.update_date),
        policy_version_list: policy.versions.iter().map(|v| policy_version_out(policy, v)).collect(),
    }
}

fn policy_detail_in(p: pb::ManagedPolicyDetail) -> PolicyRecord {
    PolicyRecord {
        name: p.policy_name,
        path: p.path,
        id: p.policy_id,
        arn: p.arn,
        description: p.description,
        create_date: ms_or_zero(p.create_date.as_ref()),
        update_date: ms_or_zero(p.update_date.as_ref()),
        default_version: p.default_version_id,
        versions: p
            .policy_version_list
            .into_iter()
            .map(|v| PolicyVersionRecord {
                id: v.version_id,
                document: v.document,
                create_date: ms_or_zero(v.create_date.as_ref()),
            })
            .collect(),
        next_version: 0,
        tags: Vec::new(),
    }
}

pub(crate) fn details_out(d: &AuthorizationDetails) -> pb::GetAccountAuthorizationDetailsResponse {
    pb::GetAccountAuthorizationDetailsResponse {
        page: Some(common::PageResponse { is_truncated: d.is_truncated(), marker: d.marker.clone() }),
        user_detail_list: d.users.iter().map(user_detail).collect(),
        group_detail_list: d.groups.iter().map(group_detail).collect(),
        role_detail_list: d.roles.iter().map(|r| role_detail(r, &d.instance_profiles)).collect(),
        policies: d.policies.iter().map(policy_detail).collect(),
    }
}

pub(crate) fn details_in(d: pb::GetAccountAuthorizationDetailsResponse) -> AuthorizationDetails {
    let mut instance_profiles: Vec<InstanceProfileRecord> = Vec::new();
    for profile in d.role_detail_list.iter().flat_map(|r| r.instance_profile_list.iter()) {
        if !instance_profiles.iter().any(|p| p.arn == profile.arn) {
            instance_profiles.push(instance_profile_in(profile.clone()).profile);
        }
    }
    AuthorizationDetails {
        instance_profiles,
        users: d.user_detail_list.into_iter().map(user_detail_in).collect(),
        groups: d.group_detail_list.into_iter().map(group_detail_in).collect(),
        roles: d.role_detail_list.into_iter().map(role_detail_in).collect(),
        policies: d.policies.into_iter().map(policy_detail_in).collect(),
        marker: d.page.filter(|p| p.is_truncated).and_then(|p| p.marker),
    }
}

pub(crate) fn report_state_out(state: ReportState) -> pb::ReportState {
    match state {
        ReportState::Started => pb::ReportState::Started,
        ReportState::InProgress => pb::ReportState::InProgress,
        ReportState::Complete => pb::ReportState::Complete,
    }
}

pub(crate) fn report_state_in(state: i32) -> ReportState {
    match pb::ReportState::try_from(state) {
        Ok(pb::ReportState::Started) => ReportState::Started,
        Ok(pb::ReportState::InProgress) => ReportState::InProgress,
        _ => ReportState::Complete,
    }
}

pub(crate) fn report_out(report: CredentialReportRecord) -> pb::GetCredentialReportResponse {
    pb::GetCredentialReportResponse {
        content: report.csv.into_bytes(),
        report_format: "text/csv".to_owned(),
        generated_time: ts(report.generated),
    }
}

pub(crate) fn report_in(r: pb::GetCredentialReportResponse) -> CredentialReportRecord {
    CredentialReportRecord {
        generated: ms_or_zero(r.generated_time.as_ref()),
        csv: String::from_utf8(r.content).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

// ---------------------------------------------------------------------------------------------
// Issue 14, part A: instance profiles, service-linked role deletions, GetMFADevice.

fn profile_record_out(p: &InstanceProfileRecord, roles: Vec<pb::Role>) -> pb::InstanceProfile {
    pb::InstanceProfile {
        path: p.path.clone(),
        instance_profile_name: p.name.clone(),
        instance_profile_id: p.id.clone(),
        arn: p.arn.clone(),
        create_date: ts(p.create_date),
        roles,
        tags: tags_out(&p.tags),
    }
}

pub(crate) fn instance_profile_out(p: &InstanceProfile) -> pb::InstanceProfile {
    profile_record_out(&p.profile, p.roles.iter().map(role_out).collect())
}

pub(crate) fn instance_profile_in(p: pb::InstanceProfile) -> InstanceProfile {
    let roles: Vec<RoleRecord> = p.roles.into_iter().map(role_in).collect();
    InstanceProfile {
        profile: InstanceProfileRecord {
            name: p.instance_profile_name,
            path: p.path,
            id: p.instance_profile_id,
            arn: p.arn,
            create_date: ms_or_zero(p.create_date.as_ref()),
            roles: roles.iter().map(|r| r.principal.name.clone()).collect(),
            tags: tags_in(p.tags),
        },
        roles,
    }
}

pub(crate) fn instance_profile_in_required(p: Option<pb::InstanceProfile>) -> InstanceProfile {
    instance_profile_in(p.unwrap_or_default())
}

pub(crate) fn deletion_status_out(status: DeletionStatus) -> pb::DeletionTaskStatus {
    match status {
        DeletionStatus::Succeeded => pb::DeletionTaskStatus::Succeeded,
        DeletionStatus::InProgress => pb::DeletionTaskStatus::InProgress,
        DeletionStatus::Failed => pb::DeletionTaskStatus::Failed,
        DeletionStatus::NotStarted => pb::DeletionTaskStatus::NotStarted,
    }
}

pub(crate) fn deletion_status_in(status: i32) -> DeletionStatus {
    match pb::DeletionTaskStatus::try_from(status) {
        Ok(pb::DeletionTaskStatus::Succeeded) => DeletionStatus::Succeeded,
        Ok(pb::DeletionTaskStatus::InProgress) => DeletionStatus::InProgress,
        Ok(pb::DeletionTaskStatus::Failed) => DeletionStatus::Failed,
        _ => DeletionStatus::NotStarted,
    }
}

pub(crate) fn mfa_device_info_out(device: &MfaDeviceRecord) -> pb::GetMfaDeviceResponse {
    pb::GetMfaDeviceResponse {
        user_name: device.user.clone(),
        serial_number: device.serial.clone(),
        enable_date: device.enable_date.and_then(ts),
    }
}

pub(crate) fn mfa_device_info_in(r: pb::GetMfaDeviceResponse) -> MfaDeviceRecord {
    let mut device = device_named(r.serial_number);
    device.user = r.user_name;
    device.enable_date = ms(r.enable_date.as_ref());
    device
}

// ---------------------------------------------------------------------------------------------
// SSH public keys and signing certificates (issue 14, part B).

pub(crate) fn ssh_key_out(key: SshPublicKey) -> pb::SshPublicKey {
    pb::SshPublicKey {
        user_name: key.user_name,
        ssh_public_key_id: key.id,
        fingerprint: key.fingerprint,
        ssh_public_key_body: key.body,
        status: key_status_out(key.status).into(),
        upload_date: ts(key.upload_date),
    }
}

pub(crate) fn ssh_key_in(key: Option<pb::SshPublicKey>) -> SshPublicKey {
    let key = key.unwrap_or_default();
    SshPublicKey {
        status: key_status_in(key.status).unwrap_or(KeyStatus::Inactive),
        upload_date: ms_or_zero(key.upload_date.as_ref()),
        user_name: key.user_name,
        id: key.ssh_public_key_id,
        fingerprint: key.fingerprint,
        body: key.ssh_public_key_body,
    }
}

pub(crate) fn ssh_encoding_out(encoding: SshEncoding) -> pb::SshKeyEncoding {
    match encoding {
        SshEncoding::Ssh => pb::SshKeyEncoding::Ssh,
        SshEncoding::Pem => pb::SshKeyEncoding::Pem,
    }
}

pub(crate) fn ssh_encoding_in(encoding: i32) -> Option<SshEncoding> {
    match pb::SshKeyEncoding::try_from(encoding) {
        Ok(pb::SshKeyEncoding::Ssh) => Some(SshEncoding::Ssh),
        Ok(pb::SshKeyEncoding::Pem) => Some(SshEncoding::Pem),
        _ => None,
    }
}

pub(crate) fn signing_certificate_out(cert: SigningCertificate) -> pb::SigningCertificate {
    pb::SigningCertificate {
        user_name: cert.user_name,
        certificate_id: cert.id,
        certificate_body: cert.body,
        status: key_status_out(cert.status).into(),
        upload_date: ts(cert.upload_date),
    }
}

pub(crate) fn signing_certificate_in(cert: Option<pb::SigningCertificate>) -> SigningCertificate {
    let cert = cert.unwrap_or_default();
    SigningCertificate {
        status: key_status_in(cert.status).unwrap_or(KeyStatus::Inactive),
        upload_date: ms_or_zero(cert.upload_date.as_ref()),
        user_name: cert.user_name,
        id: cert.certificate_id,
        body: cert.certificate_body,
    }
}

// ---------------------------------------------------------------------------------------------
// Server certificates (issue 14, part B).

pub(crate) fn server_certificate_metadata_out(cert: &ServerCertificate) -> pb::ServerCertificateMetadata {
    pb::ServerCertificateMetadata {
        path: cert.path.clone(),
        server_certificate_name: cert.name.clone(),
        server_certificate_id: cert.id.clone(),
        arn: cert.arn.clone(),
        upload_date: ts(cert.upload_date),
        expiration: ts(cert.expiration),
    }
}

pub(crate) fn server_certificate_out(cert: ServerCertificate) -> pb::ServerCertificate {
    pb::ServerCertificate {
        server_certificate_metadata: Some(server_certificate_metadata_out(&cert)),
        tags: tags_out(&cert.tags),
        certificate_body: cert.body,
        certificate_chain: cert.chain,
    }
}

/// A certificate from its metadata (body, chain and tags empty, as in lists).
pub(crate) fn server_certificate_metadata_in(m: Option<pb::ServerCertificateMetadata>) -> ServerCertificate {
    let m = m.unwrap_or_default();
    ServerCertificate {
        upload_date: ms_or_zero(m.upload_date.as_ref()),
        expiration: ms_or_zero(m.expiration.as_ref()),
        name: m.server_certificate_name,
        path: m.path,
        id: m.server_certificate_id,
        arn: m.arn,
        ..ServerCertificate::default()
    }
}

pub(crate) fn server_certificate_in(cert: Option<pb::ServerCertificate>) -> ServerCertificate {
    let cert = cert.unwrap_or_default();
    ServerCertificate {
        body: cert.certificate_body,
        chain: cert.certificate_chain,
        tags: tags_in(cert.tags),
        ..server_certificate_metadata_in(cert.server_certificate_metadata)
    }
}

// ---------------------------------------------------------------------------------------------
// Service-specific credentials (issue 14, part B).

pub(crate) fn service_credential_out(c: ServiceCredential) -> pb::ServiceSpecificCredential {
    pb::ServiceSpecificCredential {
        status: key_status_out(c.status).into(),
        create_date: ts(c.create_date),
        expiration_date: c.expiration_date.and_then(ts),
        service_password: c.password.map(|p| p.expose().to_owned()),
        user_name: c.user_name,
        service_specific_credential_id: c.id,
        service_name: c.service_name,
        service_user_name: c.service_user_name,
    }
}

pub(crate) fn service_credential_in(c: Option<pb::ServiceSpecificCredential>) -> ServiceCredential {
    let c = c.unwrap_or_default();
    ServiceCredential {
        status: key_status_in(c.status).unwrap_or(KeyStatus::Inactive),
        create_date: ms_or_zero(c.create_date.as_ref()),
        expiration_date: ms(c.expiration_date.as_ref()),
        password: c.service_password.map(Secret::new),
        user_name: c.user_name,
        id: c.service_specific_credential_id,
        service_name: c.service_name,
        service_user_name: c.service_user_name,
    }
}
