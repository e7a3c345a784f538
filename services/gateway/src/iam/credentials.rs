//! Passwords, MFA devices, OpenID Connect providers and the account-wide reads (reference §5.4,
//! §5.5, §5.6, §5.8).

use tessera_arn::{Arn, IamEntity};
use tessera_awsapi::Response;
use tessera_identity::{AssignmentStatus, CreateOidcProvider, Error, UpdatePasswordPolicy};
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::{GroupRecord, MfaDeviceRecord, PolicyRecord, RoleRecord, UserRecord};

use super::{boundary_xml, secs, tags_xml, user_xml};
use crate::context::{Cx, Result};

pub(super) const ACTIONS: &[&str] = &[
    "CreateLoginProfile",
    "GetLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
    "ChangePassword",
    "UpdateAccountPasswordPolicy",
    "GetAccountPasswordPolicy",
    "DeleteAccountPasswordPolicy",
    "CreateVirtualMFADevice",
    "EnableMFADevice",
    "ResyncMFADevice",
    "DeactivateMFADevice",
    "DeleteVirtualMFADevice",
    "ListMFADevices",
    "ListVirtualMFADevices",
    "CreateOpenIDConnectProvider",
    "GetOpenIDConnectProvider",
    "ListOpenIDConnectProviders",
    "DeleteOpenIDConnectProvider",
    "AddClientIDToOpenIDConnectProvider",
    "RemoveClientIDFromOpenIDConnectProvider",
    "UpdateOpenIDConnectProviderThumbprint",
    "GetAccountSummary",
    "GetAccountAuthorizationDetails",
    "GenerateCredentialReport",
    "GetCredentialReport",
];

pub(super) async fn dispatch<S: Store>(cx: &Cx<'_, S>) -> Option<Result<String>> {
    if !ACTIONS.contains(&cx.action.as_str()) {
        return None;
    }
    Some(run(cx).await)
}

/// The serial number (ARN) of a virtual MFA device of this account.
fn mfa_arn<S: Store>(cx: &Cx<'_, S>, path: &str, name: &str) -> String {
    Arn::iam("aws", cx.account().id(), &IamEntity::Mfa { path: path.to_owned(), name: name.to_owned() }).to_string()
}

/// The ARN an OIDC provider with this URL has (or would have).
fn oidc_arn<S: Store>(cx: &Cx<'_, S>, url: &str) -> String {
    let url = url.strip_prefix("https://").unwrap_or(url).to_owned();
    Arn::iam("aws", cx.account().id(), &IamEntity::OidcProvider { url }).to_string()
}

async fn run<S: Store>(cx: &Cx<'_, S>) -> Result<String> {
    match cx.action.as_str() {
        "CreateLoginProfile"
        | "GetLoginProfile"
        | "UpdateLoginProfile"
        | "DeleteLoginProfile"
        | "ChangePassword"
        | "UpdateAccountPasswordPolicy"
        | "GetAccountPasswordPolicy"
        | "DeleteAccountPasswordPolicy" => passwords(cx).await,
        "CreateVirtualMFADevice"
        | "EnableMFADevice"
        | "ResyncMFADevice"
        | "DeactivateMFADevice"
        | "DeleteVirtualMFADevice"
        | "ListMFADevices"
        | "ListVirtualMFADevices" => mfa(cx).await,
        "CreateOpenIDConnectProvider"
        | "GetOpenIDConnectProvider"
        | "ListOpenIDConnectProviders"
        | "DeleteOpenIDConnectProvider"
        | "AddClientIDToOpenIDConnectProvider"
        | "RemoveClientIDFromOpenIDConnectProvider"
        | "UpdateOpenIDConnectProviderThumbprint" => oidc(cx).await,
        _ => account_wide(cx).await,
    }
}

async fn passwords<S: Store>(cx: &Cx<'_, S>) -> Result<String> {
    let identity = &cx.gateway.identity;
    let account = cx.account();
    let mut r = cx.response();
    match cx.action.as_str() {
        "CreateLoginProfile" => {
            let name = cx.required("UserName")?;
            cx.authorize(&cx.entity_arn(tessera_store::iam::EntityKind::User, &name).await).await?;
            let password = cx.required("Password")?;
            let reset = cx.bool("PasswordResetRequired")?.unwrap_or(false);
            let profile = identity.create_login_profile(account, &name, &password, reset).await?;
            login_profile_xml(&mut r, &profile);
        }
        "GetLoginProfile" => {
            let name = cx.user_or_caller()?;
            cx.authorize(&cx.entity_arn(tessera_store::iam::EntityKind::User, &name).await).await?;
            let profile = identity.get_login_profile(account, &name).await?;
            login_profile_xml(&mut r, &profile);
        }
        "UpdateLoginProfile" => {
            let name = cx.required("UserName")?;
            cx.authorize(&cx.entity_arn(tessera_store::iam::EntityKind::User, &name).await).await?;
            let password = cx.get("Password");
            let reset = cx.bool("PasswordResetRequired")?;
            identity.update_login_profile(account, &name, password.as_deref(), reset).await?;
            return Ok(cx.empty());
        }
        "DeleteLoginProfile" => {
            let name = cx.required("UserName")?;
            cx.authorize(&cx.entity_arn(tessera_store::iam::EntityKind::User, &name).await).await?;
            identity.delete_login_profile(account, &name).await?;
            return Ok(cx.empty());
        }
        "ChangePassword" => {
            let Some(name) = cx.caller_user() else {
                return Err(Error::new(
                    ErrorCode::InvalidUserType,
                    "Only IAM users can change their own password; the caller is not an IAM user.",
                )
                .into());
            };
            let arn = cx.entity_arn(tessera_store::iam::EntityKind::User, &name).await;
            let ask = crate::authz::Ask { change_own_password: true, ..cx.ask(&arn) };
            cx.authorize_ask(&ask).await?;
            let old = cx.required("OldPassword")?;
            let new = cx.required("NewPassword")?;
            identity.change_password(account, &name, &old, &new).await?;
            return Ok(cx.empty());
        }
        "UpdateAccountPasswordPolicy" => {
            cx.authorize("*").await?;
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
            identity.update_account_password_policy(account, input).await?;
            return Ok(cx.empty());
        }
        "GetAccountPasswordPolicy" => {
            cx.authorize("*").await?;
            let p = identity.get_account_password_policy(account).await?;
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
        }
        "DeleteAccountPasswordPolicy" => {
            cx.authorize("*").await?;
            identity.delete_account_password_policy(account).await?;
            return Ok(cx.empty());
        }
        other => {
            return Err(super::unknown(other));
        }
    }
    Ok(r.finish(cx.request_id))
}

fn login_profile_xml(r: &mut Response, profile: &tessera_identity::LoginProfile) {
    r.nested("LoginProfile", |r| {
        r.el("UserName", &profile.user_name)
            .timestamp("CreateDate", secs(profile.create_date))
            .bool("PasswordResetRequired", profile.password_reset_required);
    });
}

async fn mfa<S: Store>(cx: &Cx<'_, S>) -> Result<String> {
    let identity = &cx.gateway.identity;
    let account = cx.account();
    let mut r = cx.response();
    match cx.action.as_str() {
        "CreateVirtualMFADevice" => {
            let name = cx.required("VirtualMFADeviceName")?;
            let path = cx.get("Path").filter(|p| !p.is_empty());
            cx.authorize(&mfa_arn(cx, path.as_deref().unwrap_or("/"), &name)).await?;
            let created = identity.create_virtual_mfa_device(account, path, &name, cx.tags()).await?;
            r.nested("VirtualMFADevice", |r| {
                r.el("SerialNumber", &created.device.serial)
                    .el("Base32StringSeed", &base64(created.base32_seed.expose().as_bytes()))
                    .el("QRCodePNG", &base64(&created.qr_png));
                tags_xml(r, &created.device.tags);
            });
        }
        "EnableMFADevice" | "ResyncMFADevice" => {
            let name = cx.required("UserName")?;
            cx.authorize(&cx.entity_arn(tessera_store::iam::EntityKind::User, &name).await).await?;
            let serial = cx.required("SerialNumber")?;
            let code1 = cx.required("AuthenticationCode1")?;
            let code2 = cx.required("AuthenticationCode2")?;
            if cx.action == "EnableMFADevice" {
                identity.enable_mfa_device(account, &name, &serial, &code1, &code2).await?;
            } else {
                identity.resync_mfa_device(account, &name, &serial, &code1, &code2).await?;
            }
            return Ok(cx.empty());
        }
        "DeactivateMFADevice" => {
            let name = cx.user_or_caller()?;
            cx.authorize(&cx.entity_arn(tessera_store::iam::EntityKind::User, &name).await).await?;
            identity.deactivate_mfa_device(account, &name, &cx.required("SerialNumber")?).await?;
            return Ok(cx.empty());
        }
        "DeleteVirtualMFADevice" => {
            let serial = cx.required("SerialNumber")?;
            cx.authorize(&serial).await?;
            identity.delete_virtual_mfa_device(account, &serial).await?;
            return Ok(cx.empty());
        }
        "ListMFADevices" => {
            let name = cx.user_or_caller()?;
            cx.authorize(&cx.entity_arn(tessera_store::iam::EntityKind::User, &name).await).await?;
            let page = identity.list_mfa_devices(account, &name, &cx.page()?).await?;
            let user_name = identity.get_user(account, &name).await.map_or(name, |u| u.principal.name);
            r.list("MFADevices", &page.items, |r, d| {
                r.el("UserName", d.user.as_deref().unwrap_or(&user_name))
                    .el("SerialNumber", &d.serial)
                    .timestamp("EnableDate", secs(d.enable_date.unwrap_or(d.create_date)));
            });
            r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
        }
        "ListVirtualMFADevices" => {
            cx.authorize("*").await?;
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
            for device in &page.items {
                let user = match &device.user {
                    Some(name) => identity.get_user(account, name).await.ok(),
                    None => None,
                };
                devices.push((device, user));
            }
            r.list("VirtualMFADevices", devices, |r, (d, user)| {
                r.el("SerialNumber", &d.serial);
                if let Some(user) = &user {
                    r.nested("User", |r| user_xml(r, user));
                }
                r.opt_timestamp("EnableDate", d.enable_date.map(secs));
                tags_xml(r, &d.tags);
            });
            r.bool("IsTruncated", page.is_truncated()).opt("Marker", page.marker.as_deref());
        }
        other => {
            return Err(super::unknown(other));
        }
    }
    Ok(r.finish(cx.request_id))
}

async fn oidc<S: Store>(cx: &Cx<'_, S>) -> Result<String> {
    let identity = &cx.gateway.identity;
    let account = cx.account();
    let mut r = cx.response();
    match cx.action.as_str() {
        "CreateOpenIDConnectProvider" => {
            let url = cx.required("Url")?;
            cx.authorize(&oidc_arn(cx, &url)).await?;
            let input = CreateOidcProvider {
                url,
                client_ids: strings_of(cx, "ClientIDList"),
                thumbprints: strings_of(cx, "ThumbprintList"),
                tags: cx.tags(),
            };
            let provider = identity.create_open_id_connect_provider(account, input).await?;
            r.el("OpenIDConnectProviderArn", &provider.arn);
            tags_xml(&mut r, &provider.tags);
        }
        "GetOpenIDConnectProvider" => {
            let arn = cx.required("OpenIDConnectProviderArn")?;
            cx.authorize(&arn).await?;
            let p = identity.get_open_id_connect_provider(account, &arn).await?;
            r.el("Url", &p.url)
                .str_list("ClientIDList", &p.client_ids)
                .str_list("ThumbprintList", &p.thumbprints)
                .timestamp("CreateDate", secs(p.create_date));
            tags_xml(&mut r, &p.tags);
        }
        "ListOpenIDConnectProviders" => {
            cx.authorize("*").await?;
            let providers = identity.list_open_id_connect_providers(account).await?;
            r.list("OpenIDConnectProviderList", &providers, |r, p| {
                r.el("Arn", &p.arn);
            });
        }
        "DeleteOpenIDConnectProvider" => {
            let arn = cx.required("OpenIDConnectProviderArn")?;
            cx.authorize(&arn).await?;
            identity.delete_open_id_connect_provider(account, &arn).await?;
            return Ok(cx.empty());
        }
        "AddClientIDToOpenIDConnectProvider" => {
            let arn = cx.required("OpenIDConnectProviderArn")?;
            cx.authorize(&arn).await?;
            identity.add_client_id_to_open_id_connect_provider(account, &arn, &cx.required("ClientID")?).await?;
            return Ok(cx.empty());
        }
        "RemoveClientIDFromOpenIDConnectProvider" => {
            let arn = cx.required("OpenIDConnectProviderArn")?;
            cx.authorize(&arn).await?;
            identity.remove_client_id_from_open_id_connect_provider(account, &arn, &cx.required("ClientID")?).await?;
            return Ok(cx.empty());
        }
        "UpdateOpenIDConnectProviderThumbprint" => {
            let arn = cx.required("OpenIDConnectProviderArn")?;
            cx.authorize(&arn).await?;
            identity
                .update_open_id_connect_provider_thumbprint(account, &arn, &strings_of(cx, "ThumbprintList"))
                .await?;
            return Ok(cx.empty());
        }
        other => {
            return Err(super::unknown(other));
        }
    }
    Ok(r.finish(cx.request_id))
}

async fn account_wide<S: Store>(cx: &Cx<'_, S>) -> Result<String> {
    let identity = &cx.gateway.identity;
    let account = cx.account();
    let mut r = cx.response();
    cx.authorize("*").await?;
    match cx.action.as_str() {
        "GetAccountSummary" => {
            let summary = identity.get_account_summary(account).await?;
            r.nested("SummaryMap", |r| {
                for (key, value) in &summary {
                    r.nested("entry", |r| {
                        r.el("key", key).int("value", *value);
                    });
                }
            });
        }
        "GetAccountAuthorizationDetails" => {
            let filter = strings_of(cx, "Filter");
            let details = identity.get_account_authorization_details(account, &filter, &cx.page()?).await?;
            let mut counts = Vec::with_capacity(details.policies.len());
            for policy in &details.policies {
                let managed = cx.gateway.policies.get_policy(account, &policy.arn).await;
                counts.push(managed.map_or((0, 0), |m| (m.attachment_count, m.permissions_boundary_usage_count)));
            }
            r.list("UserDetailList", &details.users, user_detail_xml);
            r.list("GroupDetailList", &details.groups, group_detail_xml);
            r.list("RoleDetailList", &details.roles, role_detail_xml);
            r.list("Policies", details.policies.iter().zip(counts), |r, (p, counts)| policy_detail_xml(r, p, counts));
            r.bool("IsTruncated", details.is_truncated()).opt("Marker", details.marker.as_deref());
        }
        "GenerateCredentialReport" => {
            let (state, description) = identity.generate_credential_report(account).await?;
            r.el("State", state.as_str()).el("Description", &description);
        }
        "GetCredentialReport" => {
            let report = identity.get_credential_report(account).await?;
            r.el("Content", &base64(report.csv.as_bytes()))
                .el("ReportFormat", "text/csv")
                .timestamp("GeneratedTime", secs(report.generated));
        }
        other => {
            return Err(super::unknown(other));
        }
    }
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

fn role_detail_xml(r: &mut Response, role: &RoleRecord) {
    let p = &role.principal;
    r.el("Path", &p.path)
        .el("RoleName", &p.name)
        .el("RoleId", &p.id)
        .el("Arn", &p.arn)
        .timestamp("CreateDate", secs(p.create_date))
        .policy_document("AssumeRolePolicyDocument", &role.trust_policy);
    r.list("InstanceProfileList", std::iter::empty::<()>(), |_, ()| {});
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
