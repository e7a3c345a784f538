//! Passwords, MFA devices, OpenID Connect providers and the account-wide reads (reference §5.4,
//! §5.5, §5.6, §5.8).

use tessera_awsapi::Response;
use tessera_identity::{AssignmentStatus, CreateOidcProvider, Error, UpdatePasswordPolicy};
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::{GroupRecord, InstanceProfileRecord, MfaDeviceRecord, PolicyRecord, RoleRecord, UserRecord};

use super::{boundary_xml, secs, tags_xml, user_xml};
use crate::actions::Authorized;
use crate::context::{Cx, Result};

pub(crate) async fn create_login_profile<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let password = cx.required("Password")?;
    let reset = cx.bool("PasswordResetRequired")?.unwrap_or(false);
    let profile = cx.gateway.identity.create_login_profile(cx.account(), auth.name(), &password, reset).await?;
    let mut r = cx.response();
    login_profile_xml(&mut r, &profile);
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_login_profile<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let profile = cx.gateway.identity.get_login_profile(cx.account(), auth.name()).await?;
    let mut r = cx.response();
    login_profile_xml(&mut r, &profile);
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn update_login_profile<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let password = cx.get("Password");
    let reset = cx.bool("PasswordResetRequired")?;
    cx.gateway.identity.update_login_profile(cx.account(), auth.name(), password.as_deref(), reset).await?;
    Ok(cx.empty())
}

pub(crate) async fn delete_login_profile<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.delete_login_profile(cx.account(), auth.name()).await?;
    Ok(cx.empty())
}

/// The caller's own password (authorized with the account's `AllowUsersToChangePassword`).
pub(crate) async fn change_password<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let old = cx.required("OldPassword")?;
    let new = cx.required("NewPassword")?;
    cx.gateway.identity.change_password(cx.account(), auth.name(), &old, &new).await?;
    Ok(cx.empty())
}

pub(crate) async fn update_account_password_policy<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let input = UpdatePasswordPolicy {
        minimum_password_length: cx.int("MinimumPasswordLength")?,
        require_symbols: cx.bool("RequireSymbols")?,
        require_numbers: cx.bool("RequireNumbers")?,
        require_uppercase_characters: cx.bool("RequireUppercaseCharacters")?,
        require_lowercase_characters: cx.bool("RequireLowercaseCharacters")?,
        allow_users_to_change_password: cx.bool("AllowUsersToChangePassword")?,
        max_password_age: cx.int("MaxPasswordAge")?,
        password_reuse_prevention: cx.int("PasswordReusePrevention")?,
        hard_expiry: cx.bool("HardExpiry")?,
    };
    cx.gateway.identity.update_account_password_policy(cx.account(), input).await?;
    Ok(cx.empty())
}

pub(crate) async fn get_account_password_policy<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let p = cx.gateway.identity.get_account_password_policy(cx.account()).await?;
    let mut r = cx.response();
    r.nested("PasswordPolicy", |r| {
        r.int("MinimumPasswordLength", p.minimum_password_length.into())
            .bool("RequireSymbols", p.require_symbols)
            .bool("RequireNumbers", p.require_numbers)
            .bool("RequireUppercaseCharacters", p.require_uppercase_characters)
            .bool("RequireLowercaseCharacters", p.require_lowercase_characters)
            .bool("AllowUsersToChangePassword", p.allow_users_to_change_password)
            .bool("ExpirePasswords", p.max_password_age > 0);
        if p.max_password_age > 0 {
            r.int("MaxPasswordAge", p.max_password_age.into());
        }
        if p.password_reuse_prevention > 0 {
            r.int("PasswordReusePrevention", p.password_reuse_prevention.into());
        }
        r.bool("HardExpiry", p.hard_expiry);
    });
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn delete_account_password_policy<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    cx.gateway.identity.delete_account_password_policy(cx.account()).await?;
    Ok(cx.empty())
}

fn login_profile_xml(r: &mut Response, profile: &tessera_identity::LoginProfile) {
    r.nested("LoginProfile", |r| {
        r.el("UserName", super::owner_name(&profile.user_name))
            .timestamp("CreateDate", secs(profile.create_date))
            .bool("PasswordResetRequired", profile.password_reset_required);
    });
}

pub(crate) async fn create_virtual_mfa_device<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let path = cx.get("Path").filter(|p| !p.is_empty());
    let created = cx.gateway.identity.create_virtual_mfa_device(cx.account(), path, auth.name(), cx.tags()).await?;
    let mut r = cx.response();
    r.nested("VirtualMFADevice", |r| {
        r.el("SerialNumber", &created.device.serial)
            .el("Base32StringSeed", &base64(created.base32_seed.expose().as_bytes()))
            .el("QRCodePNG", &base64(&created.qr_png));
        tags_xml(r, &created.device.tags);
    });
    Ok(r.finish(cx.request_id))
}

/// The device and the two codes of `EnableMFADevice` and `ResyncMFADevice`.
fn device_codes<S: Store>(cx: &Cx<'_, S>) -> Result<(String, String, String)> {
    Ok((cx.required("SerialNumber")?, cx.required("AuthenticationCode1")?, cx.required("AuthenticationCode2")?))
}

pub(crate) async fn enable_mfa_device<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let (serial, code1, code2) = device_codes(cx)?;
    cx.gateway.identity.enable_mfa_device(cx.account(), auth.name(), &serial, &code1, &code2).await?;
    Ok(cx.empty())
}

pub(crate) async fn resync_mfa_device<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let (serial, code1, code2) = device_codes(cx)?;
    cx.gateway.identity.resync_mfa_device(cx.account(), auth.name(), &serial, &code1, &code2).await?;
    Ok(cx.empty())
}

pub(crate) async fn deactivate_mfa_device<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.deactivate_mfa_device(cx.account(), auth.name(), &cx.required("SerialNumber")?).await?;
    Ok(cx.empty())
}

pub(crate) async fn delete_virtual_mfa_device<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.delete_virtual_mfa_device(cx.account(), auth.arn()).await?;
    Ok(cx.empty())
}

pub(crate) async fn list_mfa_devices<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    // The empty name is the account root: its device, assigned in the console.
    let page = cx.gateway.identity.list_mfa_devices(cx.account(), auth.name(), &cx.page()?).await?;
    // The user as stored (its name's case), read to authorize the call.
    let name = auth.name().to_owned();
    let user_name = if name.is_empty() { name } else { auth.user(cx).await.map_or(name, |u| u.principal.name) };
    let mut r = cx.response();
    r.list("MFADevices", &page.items, |r, d| {
        let owner = d.user.as_deref().filter(|u| !u.is_empty()).unwrap_or(&user_name);
        r.el("UserName", super::owner_name(owner))
            .el("SerialNumber", &d.serial)
            .timestamp("EnableDate", secs(d.enable_date.unwrap_or(d.create_date)));
    });
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn list_virtual_mfa_devices<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let identity = &cx.gateway.identity;
    let account = cx.account();
    let status = match cx.get("AssignmentStatus").as_deref() {
        None | Some("" | "Any") => AssignmentStatus::Any,
        Some("Assigned") => AssignmentStatus::Assigned,
        Some("Unassigned") => AssignmentStatus::Unassigned,
        Some(other) => {
            return Err(Error::new(
                ErrorCode::ValidationError,
                format!(
                    "1 validation error detected: Value '{other}' at 'assignmentStatus' failed to satisfy \
                     constraint: Member must satisfy enum value set: [Unassigned, Any, Assigned]"
                ),
            )
            .into());
        }
    };
    let page = identity.list_virtual_mfa_devices(account, status, &cx.page()?).await?;
    let mut devices: Vec<(&MfaDeviceRecord, Option<UserRecord>)> = Vec::with_capacity(page.items.len());
    let mut root_created = None;
    for device in &page.items {
        let user = match &device.user {
            Some(name) if name.is_empty() => None,
            Some(name) => identity.get_user(account, name).await.ok(),
            None => None,
        };
        if tessera_identity::assigned_to_root(device) && root_created.is_none() {
            // The account exists (its principal called), so this finds its record and writes nothing.
            root_created = Some(identity.create_account(account).await?.create_date);
        }
        devices.push((device, user));
    }
    let mut r = cx.response();
    r.list("VirtualMFADevices", devices, |r, (d, user)| {
        r.el("SerialNumber", &d.serial);
        if let Some(user) = &user {
            r.nested("User", |r| user_xml(r, user));
        } else if let (true, Some(created)) = (tessera_identity::assigned_to_root(d), root_created) {
            // The root's shape, as `GetUser` by the root answers it.
            r.nested("User", |r| {
                r.el("UserId", account.id())
                    .el("Arn", &tessera_arn::Arn::root(account.id()).to_string())
                    .timestamp("CreateDate", secs(created));
            });
        }
        r.opt_timestamp("EnableDate", d.enable_date.map(secs));
        tags_xml(r, &d.tags);
    });
    r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn create_oidc_provider<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let input = CreateOidcProvider {
        url: auth.name().to_owned(),
        client_ids: strings_of(cx, "ClientIDList"),
        thumbprints: strings_of(cx, "ThumbprintList"),
        tags: cx.tags(),
    };
    let provider = cx.gateway.identity.create_open_id_connect_provider(cx.account(), input).await?;
    let mut r = cx.response();
    r.el("OpenIDConnectProviderArn", &provider.arn);
    tags_xml(&mut r, &provider.tags);
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_oidc_provider<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let p = cx.gateway.identity.get_open_id_connect_provider(cx.account(), auth.arn()).await?;
    let mut r = cx.response();
    r.el("Url", &p.url)
        .str_list("ClientIDList", &p.client_ids)
        .str_list("ThumbprintList", &p.thumbprints)
        .timestamp("CreateDate", secs(p.create_date));
    tags_xml(&mut r, &p.tags);
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn list_oidc_providers<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let providers = cx.gateway.identity.list_open_id_connect_providers(cx.account()).await?;
    let mut r = cx.response();
    r.list("OpenIDConnectProviderList", &providers, |r, p| {
        r.el("Arn", &p.arn);
    });
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn delete_oidc_provider<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.delete_open_id_connect_provider(cx.account(), auth.arn()).await?;
    Ok(cx.empty())
}

pub(crate) async fn add_client_id<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let client_id = cx.required("ClientID")?;
    cx.gateway.identity.add_client_id_to_open_id_connect_provider(cx.account(), auth.arn(), &client_id).await?;
    Ok(cx.empty())
}

pub(crate) async fn remove_client_id<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let client_id = cx.required("ClientID")?;
    cx.gateway.identity.remove_client_id_from_open_id_connect_provider(cx.account(), auth.arn(), &client_id).await?;
    Ok(cx.empty())
}

pub(crate) async fn update_thumbprint<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let thumbprints = strings_of(cx, "ThumbprintList");
    cx.gateway.identity.update_open_id_connect_provider_thumbprint(cx.account(), auth.arn(), &thumbprints).await?;
    Ok(cx.empty())
}

pub(crate) async fn get_account_summary<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let summary = cx.gateway.identity.get_account_summary(cx.account()).await?;
    let mut r = cx.response();
    r.nested("SummaryMap", |r| {
        for (key, value) in &summary {
            r.nested("entry", |r| {
                r.el("key", key).int("value", *value);
            });
        }
    });
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_account_authorization_details<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let account = cx.account();
    let filter = strings_of(cx, "Filter");
    let details = cx.gateway.identity.get_account_authorization_details(account, &filter, &cx.page()?).await?;
    let mut counts = Vec::with_capacity(details.policies.len());
    for policy in &details.policies {
        let managed = cx.gateway.policies.get_policy(account, &policy.arn).await;
        counts.push(managed.map_or((0, 0), |m| (m.attachment_count, m.permissions_boundary_usage_count)));
    }
    let mut r = cx.response();
    r.list("UserDetailList", &details.users, user_detail_xml);
    r.list("GroupDetailList", &details.groups, group_detail_xml);
    r.list("RoleDetailList", &details.roles, |r, role| role_detail_xml(r, role, &details.instance_profiles));
    r.list("Policies", details.policies.iter().zip(counts), |r, (p, counts)| policy_detail_xml(r, p, counts));
    r.bool("IsTruncated", details.is_truncated()).opt("Marker", details.marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn generate_credential_report<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let (state, description) = cx.gateway.identity.generate_credential_report(cx.account()).await?;
    let mut r = cx.response();
    r.el("State", state.as_str()).el("Description", &description);
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_credential_report<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let report = cx.gateway.identity.get_credential_report(cx.account()).await?;
    let mut r = cx.response();
    r.el("Content", &base64(report.csv.as_bytes()))
        .el("ReportFormat", "text/csv")
        .timestamp("GeneratedTime", secs(report.generated));
    Ok(r.finish(cx.request_id))
}

fn strings_of<S: Store>(cx: &Cx<'_, S>, name: &str) -> Vec<String> {
    cx.params.list(name).into_iter().map(str::to_owned).collect()
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `PolicyDetail` list members: inline policies, documents URL-encoded.
fn inline_xml(r: &mut Response, name: &str, inline: &[(String, String)]) {
    r.list(name, inline, |r, (policy_name, document)| {
        r.el("PolicyName", policy_name).policy_document("PolicyDocument", document);
    });
}

/// `AttachedManagedPolicies`: the name is the last segment of the ARN.
fn attached_xml(r: &mut Response, arns: &[String]) {
    r.list("AttachedManagedPolicies", arns, |r, arn| {
        let name = arn.rsplit('/').next().unwrap_or(arn);
        r.el("PolicyName", name).el("PolicyArn", arn);
    });
}

fn user_detail_xml(r: &mut Response, u: &UserRecord) {
    let p = &u.principal;
    r.el("Path", &p.path)
        .el("UserName", &p.name)
        .el("UserId", &p.id)
        .el("Arn", &p.arn)
        .timestamp("CreateDate", secs(p.create_date));
    inline_xml(r, "UserPolicyList", &p.inline);
    r.str_list("GroupList", &u.groups);
    attached_xml(r, &p.attached);
    boundary_xml(r, u.boundary.as_ref());
    tags_xml(r, &u.tags);
}

fn group_detail_xml(r: &mut Response, g: &GroupRecord) {
    let p = &g.principal;
    r.el("Path", &p.path)
        .el("GroupName", &p.name)
        .el("GroupId", &p.id)
        .el("Arn", &p.arn)
        .timestamp("CreateDate", secs(p.create_date));
    inline_xml(r, "GroupPolicyList", &p.inline);
    attached_xml(r, &p.attached);
}

fn role_detail_xml(r: &mut Response, role: &RoleRecord, profiles: &[InstanceProfileRecord]) {
    let p = &role.principal;
    r.el("Path", &p.path)
        .el("RoleName", &p.name)
        .el("RoleId", &p.id)
        .el("Arn", &p.arn)
        .timestamp("CreateDate", secs(p.create_date))
        .policy_document("AssumeRolePolicyDocument", &role.trust_policy);
    // Each of the role's instance profiles, with the role as its one role.
    let name = tessera_store::iam::folded(&p.name);
    let own = profiles.iter().filter(|ip| ip.roles.iter().any(|n| tessera_store::iam::folded(n) == name));
    r.list("InstanceProfileList", own, |r, ip| super::instance_profile_xml(r, ip, [role]));
    inline_xml(r, "RolePolicyList", &p.inline);
    attached_xml(r, &p.attached);
    boundary_xml(r, role.boundary.as_ref());
    tags_xml(r, &role.tags);
    r.nested("RoleLastUsed", |r| {
        if let Some(used) = &role.last_used {
            r.timestamp("LastUsedDate", secs(used.date)).el("Region", &used.region);
        }
    });
}

fn policy_detail_xml(r: &mut Response, p: &PolicyRecord, (attached, bounding): (usize, usize)) {
    r.el("PolicyName", &p.name)
        .el("PolicyId", &p.id)
        .el("Arn", &p.arn)
        .el("Path", &p.path)
        .el("DefaultVersionId", &p.default_version)
        .int("AttachmentCount", count(attached))
        .int("PermissionsBoundaryUsageCount", count(bounding))
        .bool("IsAttachable", true)
        .opt("Description", p.description.as_deref())
        .timestamp("CreateDate", secs(p.create_date))
        .timestamp("UpdateDate", secs(p.update_date));
    r.list("PolicyVersionList", &p.versions, |r, v| {
        r.policy_document("Document", &v.document)
            .el("VersionId", &v.id)
            .bool("IsDefaultVersion", v.id == p.default_version)
            .timestamp("CreateDate", secs(v.create_date));
    });
}

/// Standard base64 with padding, as the Query protocol carries blobs.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
