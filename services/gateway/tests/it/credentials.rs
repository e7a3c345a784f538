//! Passwords, virtual MFA devices, OIDC providers and the account-wide reads over real HTTP,
//! signed as botocore signs, against a gateway on `127.0.0.1:0`.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::{Creds, Harness, code, start, tag, tags};
use tessera_credentials::TotpSeed;
use tessera_credentials::totp::{base32_decode, format_code, hotp, step};
use tessera_identity::CreateRole;
use tessera_policy_service::CreatePolicy;
use tessera_store::iam::EntityKind;

const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for byte in text.bytes().filter(|b| !b.is_ascii_whitespace() && *b != b'=') {
        let value = ALPHABET.iter().position(|&c| c == byte).expect("a base64 character");
        acc = (acc << 6) | u32::try_from(value).expect("6 bits");
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).expect("a byte"));
        }
    }
    out
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

/// The two codes of `seed` at the steps `first` and `first + 1`.
fn codes(seed: &TotpSeed, first: u64) -> (String, String) {
    (format_code(hotp(seed, first)), format_code(hotp(seed, first + 1)))
}

async fn ok(h: &Harness, params: &[(&str, &str)]) -> String {
    let (status, body) = h.root(params).await;
    assert_eq!(status, 200, "{params:?}: {body}");
    compact(&body)
}

/// The XML without the indentation between elements.
fn compact(xml: &str) -> String {
    xml.lines().map(str::trim_start).collect()
}

async fn fails(h: &Harness, creds: Option<&Creds>, params: &[(&str, &str)], status: u16, error: &str) {
    let (got, body) = match creds {
        Some(creds) => h.call(creds, params).await,
        None => h.root(params).await,
    };
    assert_eq!((got, code(&body)), (status, error), "{params:?}: {body}");
}

/// An MFA call with two codes (`EnableMFADevice`, `ResyncMFADevice`) for carol.
async fn two_codes(h: &Harness, action: &str, serial: String, c1: String, c2: String) -> (u16, String) {
    h.root(&[
        ("Action", action),
        ("UserName", "carol"),
        ("SerialNumber", &serial),
        ("AuthenticationCode1", &c1),
        ("AuthenticationCode2", &c2),
    ])
    .await
}

async fn user_with_key(h: &Harness, name: &str) -> Creds {
    ok(h, &[("Action", "CreateUser"), ("UserName", name)]).await;
    let body = ok(h, &[("Action", "CreateAccessKey"), ("UserName", name)]).await;
    Creds {
        access_key_id: tag(&body, "AccessKeyId").expect("a key id").to_owned(),
        secret: tag(&body, "SecretAccessKey").expect("a secret").to_owned(),
        token: None,
    }
}

#[tokio::test]
async fn login_profiles_and_the_password_policy() {
    let h = start().await;
    let alice = user_with_key(&h, "alice").await;
    ok(&h, &[("Action", "CreateUser"), ("UserName", "bob")]).await;

    let create = [
        ("Action", "CreateLoginProfile"),
        ("UserName", "alice"),
        ("Password", "first-Passw0rd"),
        ("PasswordResetRequired", "true"),
    ];
    let body = ok(&h, &create).await;
    assert_eq!(tag(&body, "UserName"), Some("alice"));
    assert_eq!(tag(&body, "PasswordResetRequired"), Some("true"));
    assert!(tag(&body, "CreateDate").is_some_and(|d| d.ends_with('Z')), "{body}");
    fails(&h, None, &create, 409, "EntityAlreadyExists").await;

    let body = ok(&h, &[("Action", "GetLoginProfile"), ("UserName", "alice")]).await;
    assert!(body.contains("<GetLoginProfileResult><LoginProfile><UserName>alice</UserName>"), "{body}");
    fails(&h, None, &[("Action", "GetLoginProfile"), ("UserName", "bob")], 404, "NoSuchEntity").await;
    fails(&h, None, &[("Action", "GetLoginProfile"), ("UserName", "nobody")], 404, "NoSuchEntity").await;

    // No policy yet.
    fails(&h, None, &[("Action", "GetAccountPasswordPolicy")], 404, "NoSuchEntity").await;
    fails(&h, None, &[("Action", "DeleteAccountPasswordPolicy")], 404, "NoSuchEntity").await;
    ok(
        &h,
        &[
            ("Action", "UpdateAccountPasswordPolicy"),
            ("MinimumPasswordLength", "12"),
            ("RequireNumbers", "true"),
            ("AllowUsersToChangePassword", "true"),
            ("MaxPasswordAge", "90"),
        ],
    )
    .await;
    let body = ok(&h, &[("Action", "GetAccountPasswordPolicy")]).await;
    assert_eq!(tag(&body, "MinimumPasswordLength"), Some("12"));
    assert_eq!(tag(&body, "RequireNumbers"), Some("true"));
    assert_eq!(tag(&body, "RequireSymbols"), Some("false"));
    assert_eq!(tag(&body, "AllowUsersToChangePassword"), Some("true"));
    assert_eq!(tag(&body, "ExpirePasswords"), Some("true"));
    assert_eq!(tag(&body, "MaxPasswordAge"), Some("90"));
    assert_eq!(tag(&body, "HardExpiry"), Some("false"));
    fails(
        &h,
        None,
        &[("Action", "UpdateAccountPasswordPolicy"), ("MinimumPasswordLength", "3")],
        400,
        "ValidationError",
    )
    .await;

    // The policy applies to new passwords.
    let update =
        |password: &'static str| [("Action", "UpdateLoginProfile"), ("UserName", "alice"), ("Password", password)];
    fails(&h, None, &update("short1"), 400, "PasswordPolicyViolation").await;
    fails(&h, None, &update("long-enough-but-no-digits"), 400, "PasswordPolicyViolation").await;
    ok(&h, &update("second-Passw0rd")).await;
    ok(&h, &[("Action", "UpdateLoginProfile"), ("UserName", "alice"), ("PasswordResetRequired", "false")]).await;
    let body = ok(&h, &[("Action", "GetLoginProfile"), ("UserName", "alice")]).await;
    assert_eq!(tag(&body, "PasswordResetRequired"), Some("false"));
    fails(&h, None, &[("Action", "UpdateLoginProfile"), ("UserName", "bob")], 404, "NoSuchEntity").await;

    // ChangePassword: the caller's own; root is no IAM user. Alice has no policy, but the
    // password policy lets users change their password.
    let change = |old: &'static str, new: &'static str| {
        [("Action", "ChangePassword"), ("OldPassword", old), ("NewPassword", new)]
    };
    fails(&h, None, &change("second-Passw0rd", "third-Passw0rd"), 400, "InvalidUserType").await;
    fails(&h, Some(&alice), &change("wrong-Passw0rd", "third-Passw0rd"), 403, "AccessDenied").await;
    fails(&h, Some(&alice), &change("second-Passw0rd", "tooshort1"), 400, "PasswordPolicyViolation").await;
    let (status, body) = h.call(&alice, &change("second-Passw0rd", "third-Passw0rd")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<ChangePasswordResponse"), "{body}");
    assert!(h.identity.verify_password(&h.account, "alice", "third-Passw0rd").await.unwrap());

    // Without AllowUsersToChangePassword (and no policy), alice may not.
    ok(&h, &[("Action", "UpdateAccountPasswordPolicy"), ("MinimumPasswordLength", "8")]).await;
    fails(&h, Some(&alice), &change("third-Passw0rd", "fourth-Passw0rd"), 403, "AccessDenied").await;
    // Nor may she read the login profile.
    fails(&h, Some(&alice), &[("Action", "GetLoginProfile")], 403, "AccessDenied").await;

    ok(&h, &[("Action", "DeleteLoginProfile"), ("UserName", "alice")]).await;
    fails(&h, None, &[("Action", "DeleteLoginProfile"), ("UserName", "alice")], 404, "NoSuchEntity").await;
    ok(&h, &[("Action", "DeleteAccountPasswordPolicy")]).await;
    fails(&h, None, &[("Action", "GetAccountPasswordPolicy")], 404, "NoSuchEntity").await;
}

#[tokio::test]
async fn virtual_mfa_devices() {
    let h = start().await;
    ok(&h, &[("Action", "CreateUser"), ("UserName", "carol")]).await;
    let create = [("Action", "CreateVirtualMFADevice"), ("VirtualMFADeviceName", "carol-phone")];
    let body = ok(&h, &create).await;
    let serial = tag(&body, "SerialNumber").expect("a serial").to_owned();
    assert_eq!(serial, format!("arn:aws:iam::{}:mfa/carol-phone", h.account.id()));
    let base32 = base64_decode(tag(&body, "Base32StringSeed").expect("a seed"));
    let base32 = String::from_utf8(base32).expect("base32 text");
    let seed = TotpSeed::from_bytes(&base32_decode(&base32).expect("base32")).expect("a seed");
    let png = base64_decode(tag(&body, "QRCodePNG").expect("a QR code"));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    fails(&h, None, &create, 409, "EntityAlreadyExists").await;

    let body = ok(&h, &[("Action", "ListVirtualMFADevices"), ("AssignmentStatus", "Unassigned")]).await;
    assert_eq!(tags(&body, "SerialNumber"), vec![serial.as_str()]);
    assert!(!body.contains("Base32StringSeed"), "the seed is shown once: {body}");

    let enable = |c1: String, c2: String| two_codes(&h, "EnableMFADevice", serial.clone(), c1, c2);
    let resync = |c1: String, c2: String| two_codes(&h, "ResyncMFADevice", serial.clone(), c1, c2);

    let s = step(now_secs());
    let (old1, old2) = codes(&seed, s - 1000);
    let (status, body) = enable(old1.clone(), old2.clone()).await;
    assert_eq!((status, code(&body)), (403, "InvalidAuthenticationCode"), "{body}");
    let (c1, c2) = codes(&seed, s - 1);
    let (status, body) = enable(c1.clone(), c2.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<EnableMFADeviceResponse"), "{body}");
    // Assigned already.
    let (status, body) = enable(c1.clone(), c2.clone()).await;
    assert_eq!((status, code(&body)), (409, "EntityAlreadyExists"), "{body}");

    let body = ok(&h, &[("Action", "ListMFADevices"), ("UserName", "carol")]).await;
    assert_eq!(tags(&body, "SerialNumber"), vec![serial.as_str()]);
    assert_eq!(tag(&body, "UserName"), Some("carol"));
    assert!(tag(&body, "EnableDate").is_some(), "{body}");
    assert_eq!(tag(&body, "IsTruncated"), Some("false"));
    fails(&h, None, &[("Action", "ListMFADevices"), ("UserName", "nobody")], 404, "NoSuchEntity").await;
    let body = ok(&h, &[("Action", "ListVirtualMFADevices"), ("AssignmentStatus", "Assigned")]).await;
    assert_eq!(tags(&body, "SerialNumber"), vec![serial.as_str()]);
    assert_eq!(tag(&body, "UserName"), Some("carol"), "{body}");
    let body = ok(&h, &[("Action", "ListVirtualMFADevices"), ("AssignmentStatus", "Unassigned")]).await;
    assert!(tags(&body, "SerialNumber").is_empty(), "{body}");
    fails(&h, None, &[("Action", "ListVirtualMFADevices"), ("AssignmentStatus", "Some")], 400, "ValidationError").await;
    let body = ok(&h, &[("Action", "GetAccountSummary")]).await;
    assert!(body.contains("<entry><key>MFADevicesInUse</key><value>1</value></entry>"), "{body}");

    let delete = [("Action", "DeleteVirtualMFADevice"), ("SerialNumber", serial.as_str())];
    fails(&h, None, &delete, 409, "DeleteConflict").await;

    // Resync: fresh codes, later than the ones used to enable.
    let (status, body) = resync(old1, old2).await;
    assert_eq!((status, code(&body)), (403, "InvalidAuthenticationCode"), "{body}");
    let s = step(now_secs());
    let (n1, n2) = codes(&seed, s + 1);
    let (status, body) = resync(n1.clone(), n2.clone()).await;
    assert_eq!(status, 200, "{body}");
    // The same codes again are a replay.
    let (status, body) = resync(n1.clone(), n2.clone()).await;
    assert_eq!((status, code(&body)), (403, "InvalidAuthenticationCode"), "{body}");

    let deactivate = [("Action", "DeactivateMFADevice"), ("UserName", "carol"), ("SerialNumber", serial.as_str())];
    ok(&h, &deactivate).await;
    fails(&h, None, &deactivate, 404, "NoSuchEntity").await;
    let body = ok(&h, &[("Action", "ListMFADevices"), ("UserName", "carol")]).await;
    assert!(body.contains("<MFADevices/>"), "{body}");
    ok(&h, &delete).await;
    fails(&h, None, &delete, 404, "NoSuchEntity").await;
}

#[tokio::test]
async fn open_id_connect_providers() {
    let h = start().await;
    let thumb1 = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";
    let thumb2 = "a031c46782e6e6c662c2c87c76da9aa62ccabd8e";
    let create = [
        ("Action", "CreateOpenIDConnectProvider"),
        ("Url", "https://token.example.com"),
        ("ClientIDList.member.1", "sts.amazonaws.com"),
        ("ThumbprintList.member.1", thumb1),
        ("Tags.member.1.Key", "team"),
        ("Tags.member.1.Value", "platform"),
    ];
    let body = ok(&h, &create).await;
    let arn = format!("arn:aws:iam::{}:oidc-provider/token.example.com", h.account.id());
    assert_eq!(tag(&body, "OpenIDConnectProviderArn"), Some(arn.as_str()));
    assert_eq!(tag(&body, "Key"), Some("team"));
    fails(&h, None, &create, 409, "EntityAlreadyExists").await;

    let get = [("Action", "GetOpenIDConnectProvider"), ("OpenIDConnectProviderArn", arn.as_str())];
    let body = ok(&h, &get).await;
    assert_eq!(tag(&body, "Url"), Some("token.example.com"));
    assert!(body.contains("<ClientIDList><member>sts.amazonaws.com</member></ClientIDList>"), "{body}");
    assert!(body.contains(&format!("<ThumbprintList><member>{thumb1}</member></ThumbprintList>")), "{body}");
    assert!(tag(&body, "CreateDate").is_some());

    let with_arn = |action: &'static str, name: &'static str, value: &'static str| {
        [("Action", action), ("OpenIDConnectProviderArn", arn.as_str()), (name, value)]
    };
    ok(&h, &with_arn("AddClientIDToOpenIDConnectProvider", "ClientID", "my-app")).await;
    ok(&h, &with_arn("RemoveClientIDFromOpenIDConnectProvider", "ClientID", "sts.amazonaws.com")).await;
    ok(&h, &with_arn("UpdateOpenIDConnectProviderThumbprint", "ThumbprintList.member.1", thumb2)).await;
    let body = ok(&h, &get).await;
    assert!(body.contains("<ClientIDList><member>my-app</member></ClientIDList>"), "{body}");
    assert!(body.contains(&format!("<ThumbprintList><member>{thumb2}</member></ThumbprintList>")), "{body}");

    let body = ok(&h, &[("Action", "ListOpenIDConnectProviders")]).await;
    assert!(body.contains(&format!("<OpenIDConnectProviderList><member><Arn>{arn}</Arn></member>")), "{body}");
    let body = ok(&h, &[("Action", "GetAccountSummary")]).await;
    assert!(body.contains("<entry><key>Providers</key><value>1</value></entry>"), "{body}");

    let delete = [("Action", "DeleteOpenIDConnectProvider"), ("OpenIDConnectProviderArn", arn.as_str())];
    ok(&h, &delete).await;
    fails(&h, None, &delete, 404, "NoSuchEntity").await;
    fails(&h, None, &get, 404, "NoSuchEntity").await;
    fails(&h, None, &with_arn("AddClientIDToOpenIDConnectProvider", "ClientID", "x"), 404, "NoSuchEntity").await;
    let body = ok(&h, &[("Action", "ListOpenIDConnectProviders")]).await;
    assert!(body.contains("<OpenIDConnectProviderList/>"), "{body}");
}

#[tokio::test]
async fn account_summary_authorization_details_and_credential_report() {
    let h = start().await;
    fails(&h, None, &[("Action", "GetCredentialReport")], 410, "ReportNotPresent").await;

    let dave = user_with_key(&h, "dave").await;
    h.policies.put_inline_policy(&h.account, EntityKind::User, "dave", "inline-read", DOC).await.unwrap();
    let policy = h
        .policies
        .create_policy(
            &h.account,
            CreatePolicy {
                policy_name: "reader".into(),
                path: None,
                policy_document: DOC.into(),
                description: Some("reads".into()),
                tags: Vec::new(),
            },
        )
        .await
        .unwrap();
    h.policies.attach_policy(&h.account, EntityKind::User, "dave", &policy.record.arn).await.unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    h.identity
        .create_role(
            &h.account,
            CreateRole {
                path: None,
                role_name: "worker".into(),
                assume_role_policy_document: trust.into(),
                description: None,
                max_session_duration: None,
                permissions_boundary: None,
                tags: Vec::new(),
            },
        )
        .await
        .unwrap();

    let body = ok(&h, &[("Action", "GetAccountSummary")]).await;
    assert!(body.contains("<SummaryMap><entry><key>"), "{body}");
    assert!(body.contains("<entry><key>Users</key><value>1</value></entry>"), "{body}");
    assert!(body.contains("<entry><key>Roles</key><value>1</value></entry>"), "{body}");
    assert!(body.contains("<entry><key>Policies</key><value>1</value></entry>"), "{body}");

    let body = ok(&h, &[("Action", "GetAccountAuthorizationDetails")]).await;
    let users = tag(&body, "UserDetailList").expect("users");
    assert_eq!(tag(users, "UserName"), Some("dave"));
    assert_eq!(tag(users, "PolicyName"), Some("inline-read"));
    let encoded = tag(users, "PolicyDocument").expect("an inline document");
    assert!(encoded.starts_with("%7B%22Version%22"), "URL-encoded: {encoded}");
    assert!(users.contains(&format!(
        "<AttachedManagedPolicies><member><PolicyName>reader</PolicyName><PolicyArn>{}</PolicyArn></member>",
        policy.record.arn
    )));
    assert!(users.contains("<GroupList/>"), "{users}");
    let roles = tag(&body, "RoleDetailList").expect("roles");
    assert_eq!(tag(roles, "RoleName"), Some("worker"));
    assert!(tag(roles, "AssumeRolePolicyDocument").is_some_and(|d| d.contains("%22sts%3AAssumeRole%22")), "{roles}");
    assert!(roles.contains("<InstanceProfileList/>"), "{roles}");
    assert_eq!(tag(&body, "GroupDetailList"), Some(""));
    let policies = tag(&body, "Policies").expect("policies");
    assert_eq!(tag(policies, "PolicyName"), Some("reader"));
    assert_eq!(tag(policies, "AttachmentCount"), Some("1"));
    assert_eq!(tag(policies, "DefaultVersionId"), Some("v1"));
    assert_eq!(tag(policies, "IsDefaultVersion"), Some("true"));
    assert!(tag(policies, "Document").is_some_and(|d| d.starts_with("%7B")), "{policies}");
    assert_eq!(tag(&body, "IsTruncated"), Some("false"));

    let body =
        ok(&h, &[("Action", "GetAccountAuthorizationDetails"), ("Filter.member.1", "Role"), ("MaxItems", "1")]).await;
    assert_eq!(tag(&body, "UserDetailList"), Some(""));
    assert_eq!(tag(&body, "RoleName"), Some("worker"));
    fails(
        &h,
        None,
        &[("Action", "GetAccountAuthorizationDetails"), ("Filter.member.1", "Bogus")],
        400,
        "ValidationError",
    )
    .await;
    // Dave may not read the account.
    fails(&h, Some(&dave), &[("Action", "GetAccountAuthorizationDetails")], 403, "AccessDenied").await;

    let body = ok(&h, &[("Action", "GenerateCredentialReport")]).await;
    assert_eq!(tag(&body, "State"), Some("COMPLETE"));
    assert!(tag(&body, "Description").is_some());
    let body = ok(&h, &[("Action", "GetCredentialReport")]).await;
    assert_eq!(tag(&body, "ReportFormat"), Some("text/csv"));
    assert!(tag(&body, "GeneratedTime").is_some());
    let csv = String::from_utf8(base64_decode(tag(&body, "Content").expect("content"))).expect("a CSV");
    let mut lines = csv.lines();
    assert!(lines.next().is_some_and(|header| header.starts_with("user,arn,user_creation_time,password_enabled")));
    assert!(csv.contains("\n<root_account>,"), "{csv}");
    assert!(csv.contains(&format!("\ndave,arn:aws:iam::{}:user/dave,", h.account.id())), "{csv}");
}

/// `RoleLastUsed`: empty for a role nobody used; once a session of the role makes a request,
/// `GetRole` and `GetAccountAuthorizationDetails` report when and in which region (recorded in
/// the background, so polled), and `ListRoles` still leaves it out as AWS does.
#[tokio::test]
async fn role_last_used_follows_its_sessions() {
    let h = start().await;
    let acct = h.account.id().to_owned();
    let alice = user_with_key(&h, "alice").await;
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    ok(&h, &[("Action", "PutUserPolicy"), ("UserName", "alice"), ("PolicyName", "assume"), ("PolicyDocument", allow)])
        .await;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{acct}:user/alice"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    ok(&h, &[("Action", "CreateRole"), ("RoleName", "worker"), ("AssumeRolePolicyDocument", &trust)]).await;
    let fresh = ok(&h, &[("Action", "GetRole"), ("RoleName", "worker")]).await;
    assert!(fresh.contains("<RoleLastUsed/>") || fresh.contains("<RoleLastUsed></RoleLastUsed>"), "{fresh}");
    assert_eq!(tag(&fresh, "LastUsedDate"), None, "{fresh}");

    let role_arn = format!("arn:aws:iam::{acct}:role/worker");
    let (status, body) =
        h.call(&alice, &[("Action", "AssumeRole"), ("RoleArn", &role_arn), ("RoleSessionName", "s1")]).await;
    assert_eq!(status, 200, "{body}");
    // Assuming the role is not using it: the role's session has made no request yet.
    let still = ok(&h, &[("Action", "GetRole"), ("RoleName", "worker")]).await;
    assert_eq!(tag(&still, "LastUsedDate"), None, "{still}");
    let session = Creds {
        access_key_id: tag(&body, "AccessKeyId").expect("a key id").to_owned(),
        secret: tag(&body, "SecretAccessKey").expect("a secret").to_owned(),
        token: Some(tag(&body, "SessionToken").expect("a token").to_owned()),
    };
    let before = now_secs();
    let (status, body) = h.call(&session, &[("Action", "GetCallerIdentity")]).await;
    assert_eq!(status, 200, "{body}");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let used = loop {
        let body = ok(&h, &[("Action", "GetRole"), ("RoleName", "worker")]).await;
        if tag(&body, "LastUsedDate").is_some() {
            break body;
        }
        assert!(std::time::Instant::now() < deadline, "no LastUsedDate after the session's request: {body}");
        tokio::task::yield_now().await;
    };
    assert_eq!(tag(&used, "Region"), Some("us-east-1"), "{used}");
    let date = tag(&used, "LastUsedDate").unwrap();
    assert!(date.starts_with("20") && date.ends_with('Z'), "{date}");
    let year: u64 = date[..4].parse().expect("a year");
    assert!(year >= 1970 + before / 31_556_952, "{date}");

    let details = ok(&h, &[("Action", "GetAccountAuthorizationDetails"), ("Filter.member.1", "Role")]).await;
    assert_eq!(tag(&details, "LastUsedDate"), Some(date), "{details}");
    assert_eq!(tag(&details, "Region"), Some("us-east-1"), "{details}");
    let listed = ok(&h, &[("Action", "ListRoles")]).await;
    assert!(!listed.contains("RoleLastUsed"), "{listed}");

    // A role deleted and created again under the same name starts unused.
    ok(&h, &[("Action", "DeleteRole"), ("RoleName", "worker")]).await;
    ok(&h, &[("Action", "CreateRole"), ("RoleName", "worker"), ("AssumeRolePolicyDocument", &trust)]).await;
    let again = ok(&h, &[("Action", "GetRole"), ("RoleName", "worker")]).await;
    assert_eq!(tag(&again, "LastUsedDate"), None, "{again}");
}
