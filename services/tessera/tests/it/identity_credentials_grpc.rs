//! IdentityService over real gRPC, against the all-in-one server on `127.0.0.1:0`: access keys,
//! passwords and the password policy, virtual MFA devices, OpenID Connect providers, tags on every
//! taggable resource, and the account-wide reads, with each AWS error code they can return.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::{ALLOW_S3_READ, TRUST_EC2, code, error, start};
use tessera_credentials::totp::base32_decode;
use tessera_credentials::{TotpSeed, format_code, hotp, step};
use tessera_proto::ErrorCode;
use tessera_proto::common::v1 as c;
use tessera_proto::identity::v1 as pb;
use tessera_proto::policy::v1 as ppb;

/// The credential report's columns, exactly as reference §5.8 lists them.
const REPORT_HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,\
password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,\
access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,\
access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,\
cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

const THUMB: &str = "990F4193972F2BECF12DDEDA5237F9C952F20D9E";
const THUMB2: &str = "6938fd4d98bab03faadb97b34396831e3780aea1";

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn user(account: &str, name: &str) -> pb::CreateUserRequest {
    pb::CreateUserRequest { account_id: account.into(), user_name: name.into(), ..Default::default() }
}

fn delete_user(account: &str, name: &str) -> pb::DeleteUserRequest {
    pb::DeleteUserRequest { account_id: account.into(), user_name: name.into() }
}

fn tag(key: &str, value: &str) -> c::Tag {
    c::Tag { key: key.into(), value: value.into() }
}

fn page(max: i32) -> Option<c::PageRequest> {
    Some(c::PageRequest { marker: None, max_items: Some(max) })
}

fn user_ref(name: &str) -> Option<c::EntityRef> {
    Some(c::EntityRef { kind: c::EntityKind::User.into(), name: name.into() })
}

fn taggable(kind: c::TaggableKind, id: &str) -> Option<c::TaggableRef> {
    Some(c::TaggableRef { kind: kind.into(), id: id.into() })
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

// ---------------------------------------------------------------------------------------------
// Access keys (reference §5.3).

fn key_update(account: &str, user: &str, key: &str, status: pb::AccessKeyStatus) -> pb::UpdateAccessKeyRequest {
    pb::UpdateAccessKeyRequest {
        account_id: account.into(),
        user_name: Some(user.into()),
        access_key_id: key.into(),
        status: status.into(),
    }
}

fn key_delete(account: &str, user: &str, key: &str) -> pb::DeleteAccessKeyRequest {
    pb::DeleteAccessKeyRequest { account_id: account.into(), user_name: Some(user.into()), access_key_id: key.into() }
}

fn key_last_used(account: &str, key: &str) -> pb::GetAccessKeyLastUsedRequest {
    pb::GetAccessKeyLastUsedRequest { account_id: account.into(), access_key_id: key.into() }
}

fn list_keys(account: &str, user: &str) -> pb::ListAccessKeysRequest {
    pb::ListAccessKeysRequest { account_id: account.into(), user_name: Some(user.into()), page: None }
}

#[tokio::test]
async fn access_keys_are_created_listed_toggled_and_deleted() {
    let mut h = start().await;
    let a = h.account.clone();
    h.identity.create_user(user(&a, "alice")).await.unwrap();
    let create = |name: &str| pb::CreateAccessKeyRequest { account_id: a.clone(), user_name: Some(name.into()) };

    let mut keys = Vec::new();
    for _ in 0..2 {
        // The user name is matched without case and answered as stored.
        let key = h.identity.create_access_key(create("ALICE")).await.unwrap().into_inner().access_key.unwrap();
        assert_eq!(key.user_name, "alice");
        assert!(key.access_key_id.starts_with("AKIA") && key.access_key_id.len() == 20, "{}", key.access_key_id);
        assert!(key.access_key_id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        assert_eq!(key.secret_access_key.len(), 40);
        assert_eq!(key.status(), pb::AccessKeyStatus::Active);
        assert!(key.create_date.is_some());
        keys.push(key);
    }
    assert_ne!(keys[0].access_key_id, keys[1].access_key_id);
    assert_ne!(keys[0].secret_access_key, keys[1].secret_access_key);

    let third = error(h.identity.create_access_key(create("alice")).await);
    assert_eq!(
        (third.code, third.message.as_str()),
        (ErrorCode::LimitExceeded, "Cannot exceed quota for AccessKeysPerUser: 2")
    );
    let nobody = error(h.identity.create_access_key(create("nobody")).await);
    assert_eq!(
        (nobody.code, nobody.message.as_str()),
        (ErrorCode::NoSuchEntity, "The user with name nobody cannot be found.")
    );
    // Without a user name (the gateway fills in an IAM caller's), the root caller must name one.
    let unnamed = h.identity.create_access_key(pb::CreateAccessKeyRequest { account_id: a.clone(), user_name: None });
    assert_eq!(code(unnamed.await), ErrorCode::InvalidInput);
    // An explicitly empty name is the account root's own keys (what the gateway asks for a root
    // caller omitting UserName, as AWS lets the root manage its keys); they have no user name.
    let root_key = h
        .identity
        .create_access_key(pb::CreateAccessKeyRequest { account_id: a.clone(), user_name: Some(String::new()) })
        .await
        .expect("a root key")
        .into_inner()
        .access_key
        .expect("the key");
    assert_eq!(root_key.user_name, "");
    let root_keys = h.identity.list_access_keys(list_keys(&a, "")).await.expect("root keys").into_inner();
    assert!(root_keys.access_key_metadata.iter().any(|k| k.access_key_id == root_key.access_key_id));

    // Listing shows metadata only: no secret anywhere in the response.
    let listed = h.identity.list_access_keys(list_keys(&a, "alice")).await.unwrap().into_inner();
    let mut expected: Vec<&str> = keys.iter().map(|k| k.access_key_id.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(listed.access_key_metadata.iter().map(|k| k.access_key_id.as_str()).collect::<Vec<_>>(), expected);
    for meta in &listed.access_key_metadata {
        assert_eq!((meta.user_name.as_str(), meta.status()), ("alice", pb::AccessKeyStatus::Active));
        assert!(meta.create_date.is_some());
    }
    let shown = format!("{listed:?}");
    for key in &keys {
        assert!(!shown.contains(&key.secret_access_key), "the secret leaked into ListAccessKeys");
    }
    assert!(!listed.page.unwrap().is_truncated);
    let unknown_user = h.identity.list_access_keys(list_keys(&a, "nobody")).await;
    assert_eq!(code(unknown_user), ErrorCode::NoSuchEntity);

    // Deactivate, then reactivate.
    let first = keys[0].access_key_id.clone();
    h.identity.update_access_key(key_update(&a, "alice", &first, pb::AccessKeyStatus::Inactive)).await.unwrap();
    let status_of = |listed: pb::ListAccessKeysResponse, id: &str| {
        listed.access_key_metadata.iter().find(|k| k.access_key_id == id).map(|k| k.status())
    };
    let listed = h.identity.list_access_keys(list_keys(&a, "alice")).await.unwrap().into_inner();
    assert_eq!(status_of(listed, &first), Some(pb::AccessKeyStatus::Inactive));
    h.identity.update_access_key(key_update(&a, "alice", &first, pb::AccessKeyStatus::Active)).await.unwrap();
    let listed = h.identity.list_access_keys(list_keys(&a, "alice")).await.unwrap().into_inner();
    assert_eq!(status_of(listed, &first), Some(pb::AccessKeyStatus::Active));

    let unknown = error(
        h.identity
            .update_access_key(key_update(&a, "alice", "AKIAIOSFODNN7EXAMPLE", pb::AccessKeyStatus::Inactive))
            .await,
    );
    assert_eq!(
        (unknown.code, unknown.message.as_str()),
        (ErrorCode::NoSuchEntity, "The Access Key with id AKIAIOSFODNN7EXAMPLE cannot be found")
    );
    for status in [pb::AccessKeyStatus::Unspecified, pb::AccessKeyStatus::Expired] {
        let bad = error(h.identity.update_access_key(key_update(&a, "alice", &first, status)).await);
        assert_eq!((bad.code, bad.message.as_str()), (ErrorCode::InvalidInput, "Status must be Active or Inactive."));
    }

    // Never used: no date, service and region "N/A".
    let used = h.identity.get_access_key_last_used(key_last_used(&a, &first)).await.unwrap().into_inner();
    assert_eq!(used.user_name, "alice");
    let last = used.access_key_last_used.unwrap();
    assert!(last.last_used_date.is_none());
    assert_eq!((last.service_name.as_str(), last.region.as_str()), ("N/A", "N/A"));
    let unknown = error(h.identity.get_access_key_last_used(key_last_used(&a, "AKIAIOSFODNN7EXAMPLE")).await);
    assert_eq!(
        (unknown.code, unknown.message.as_str()),
        (ErrorCode::NoSuchEntity, "The Access Key with id AKIAIOSFODNN7EXAMPLE cannot be found")
    );

    // Keys block deleting the user.
    let busy = error(h.identity.delete_user(delete_user(&a, "alice")).await);
    assert_eq!(
        (busy.code, busy.message.as_str()),
        (ErrorCode::DeleteConflict, "Cannot delete entity, must delete access keys first.")
    );

    h.identity.delete_access_key(key_delete(&a, "alice", &first)).await.unwrap();
    let again = error(h.identity.delete_access_key(key_delete(&a, "alice", &first)).await);
    assert_eq!(
        (again.code, again.message),
        (ErrorCode::NoSuchEntity, format!("The Access Key with id {first} cannot be found"))
    );
    assert_eq!(code(h.identity.get_access_key_last_used(key_last_used(&a, &first)).await), ErrorCode::NoSuchEntity);
    // With one key gone there is room for another.
    let replacement = h.identity.create_access_key(create("alice")).await.unwrap().into_inner().access_key.unwrap();
    for key in [keys[1].access_key_id.clone(), replacement.access_key_id] {
        h.identity.delete_access_key(key_delete(&a, "alice", &key)).await.unwrap();
    }
    let listed = h.identity.list_access_keys(list_keys(&a, "alice")).await.unwrap().into_inner();
    assert!(listed.access_key_metadata.is_empty());
    h.identity.delete_user(delete_user(&a, "alice")).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Passwords (reference §5.4).

fn login(account: &str, user: &str, password: &str, reset: Option<bool>) -> pb::CreateLoginProfileRequest {
    pb::CreateLoginProfileRequest {
        account_id: account.into(),
        user_name: user.into(),
        password: password.into(),
        password_reset_required: reset,
    }
}

fn change(account: &str, user: &str, old: &str, new: &str) -> pb::ChangePasswordRequest {
    pb::ChangePasswordRequest {
        account_id: account.into(),
        user_name: user.into(),
        old_password: old.into(),
        new_password: new.into(),
    }
}

#[tokio::test]
async fn the_password_policy_governs_login_profiles_and_password_changes() {
    let mut h = start().await;
    let a = h.account.clone();
    let get_policy = || pb::GetAccountPasswordPolicyRequest { account_id: a.clone() };
    let policy_update = |input: pb::UpdateAccountPasswordPolicyRequest| pb::UpdateAccountPasswordPolicyRequest {
        account_id: a.clone(),
        ..input
    };

    // No policy yet.
    let none = error(h.identity.get_account_password_policy(get_policy()).await);
    assert_eq!(
        (none.code, none.message),
        (ErrorCode::NoSuchEntity, format!("The Password Policy with domain name {a} cannot be found."))
    );
    let delete_none = h
        .identity
        .delete_account_password_policy(pb::DeleteAccountPasswordPolicyRequest { account_id: a.clone() })
        .await;
    assert_eq!(code(delete_none), ErrorCode::NoSuchEntity);

    // Out-of-range values are validation errors, and write nothing.
    let short = error(
        h.identity
            .update_account_password_policy(policy_update(pb::UpdateAccountPasswordPolicyRequest {
                minimum_password_length: Some(5),
                ..Default::default()
            }))
            .await,
    );
    assert_eq!(
        (short.code, short.message.as_str()),
        (
            ErrorCode::ValidationError,
            "1 validation error detected: Value '5' at 'minimumPasswordLength' failed to satisfy constraint: \
             Member must have value greater than or equal to 6"
        )
    );
    let two = error(
        h.identity
            .update_account_password_policy(policy_update(pb::UpdateAccountPasswordPolicyRequest {
                minimum_password_length: Some(129),
                max_password_age: Some(1096),
                ..Default::default()
            }))
            .await,
    );
    assert_eq!(two.code, ErrorCode::ValidationError);
    assert!(two.message.starts_with("2 validation errors detected: "), "{}", two.message);
    assert!(
        two.message.contains(
            "Value '1096' at 'maxPasswordAge' failed to satisfy constraint: Member must have value less than or equal \
             to 1095"
        ),
        "{}",
        two.message
    );
    for bad in [
        pb::UpdateAccountPasswordPolicyRequest { max_password_age: Some(0), ..Default::default() },
        pb::UpdateAccountPasswordPolicyRequest { password_reuse_prevention: Some(0), ..Default::default() },
        pb::UpdateAccountPasswordPolicyRequest { password_reuse_prevention: Some(25), ..Default::default() },
    ] {
        let result = h.identity.update_account_password_policy(policy_update(bad)).await;
        assert_eq!(code(result), ErrorCode::ValidationError);
    }
    assert_eq!(code(h.identity.get_account_password_policy(get_policy()).await), ErrorCode::NoSuchEntity);

    h.identity
        .update_account_password_policy(policy_update(pb::UpdateAccountPasswordPolicyRequest {
            minimum_password_length: Some(8),
            require_numbers: Some(true),
            max_password_age: Some(90),
            password_reuse_prevention: Some(2),
            ..Default::default()
        }))
        .await
        .unwrap();
    let policy = h.identity.get_account_password_policy(get_policy()).await.unwrap().into_inner().password_policy;
    let policy = policy.unwrap();
    assert_eq!(policy.minimum_password_length, 8);
    assert!(policy.require_numbers);
    assert!(!policy.require_symbols && !policy.require_uppercase_characters && !policy.require_lowercase_characters);
    assert!(!policy.allow_users_to_change_password);
    assert!(policy.expire_passwords, "ExpirePasswords is derived from MaxPasswordAge > 0");
    assert_eq!(policy.max_password_age, Some(90));
    assert_eq!(policy.password_reuse_prevention, Some(2));
    assert_eq!(policy.hard_expiry, Some(false));

    // Login profiles.
    h.identity.create_user(user(&a, "bob")).await.unwrap();
    let get_profile = || pb::GetLoginProfileRequest { account_id: a.clone(), user_name: "bob".into() };
    let missing = error(h.identity.get_login_profile(get_profile()).await);
    assert_eq!(
        (missing.code, missing.message.as_str()),
        (ErrorCode::NoSuchEntity, "Login Profile for User bob cannot be found.")
    );
    let weak = error(h.identity.create_login_profile(login(&a, "bob", "short", None)).await);
    assert_eq!(
        (weak.code, weak.message.as_str()),
        (
            ErrorCode::PasswordPolicyViolation,
            "Password should have a minimum length of 8; Password should have at least one number"
        )
    );
    assert_eq!(
        code(h.identity.create_login_profile(login(&a, "nobody", "password-1", None)).await),
        ErrorCode::NoSuchEntity
    );
    let created =
        h.identity.create_login_profile(login(&a, "bob", "password-1", Some(true))).await.unwrap().into_inner();
    let created = created.login_profile.unwrap();
    assert_eq!(created.user_name, "bob");
    assert!(created.password_reset_required);
    assert!(created.create_date.is_some());
    let dup = error(h.identity.create_login_profile(login(&a, "BOB", "password-9", None)).await);
    assert_eq!(
        (dup.code, dup.message.as_str()),
        (ErrorCode::EntityAlreadyExists, "Login Profile for user bob already exists.")
    );
    let got = h.identity.get_login_profile(get_profile()).await.unwrap().into_inner().login_profile.unwrap();
    assert_eq!(got, created);

    // An administrator clears the reset flag; a new password must satisfy the policy.
    let profile_update = |password: Option<&str>, reset: Option<bool>| pb::UpdateLoginProfileRequest {
        account_id: a.clone(),
        user_name: "bob".into(),
        password: password.map(str::to_owned),
        password_reset_required: reset,
    };
    h.identity.update_login_profile(profile_update(None, Some(false))).await.unwrap();
    let got = h.identity.get_login_profile(get_profile()).await.unwrap().into_inner().login_profile.unwrap();
    assert!(!got.password_reset_required);
    let weak = h.identity.update_login_profile(profile_update(Some("nodigits"), None)).await;
    assert_eq!(code(weak), ErrorCode::PasswordPolicyViolation);

    // ChangePassword: the old password must match, and the last two passwords cannot come back.
    let wrong = error(h.identity.change_password(change(&a, "bob", "not-my-password-1", "password-2")).await);
    assert_eq!((wrong.code, wrong.message.as_str()), (ErrorCode::AccessDenied, "The old password is incorrect."));
    let same = error(h.identity.change_password(change(&a, "bob", "password-1", "password-1")).await);
    assert_eq!(
        (same.code, same.message.as_str()),
        (ErrorCode::PasswordPolicyViolation, "Password should not be one of your last 2 passwords")
    );
    let weak = h.identity.change_password(change(&a, "bob", "password-1", "no-digits")).await;
    assert_eq!(code(weak), ErrorCode::PasswordPolicyViolation);
    h.identity.change_password(change(&a, "bob", "password-1", "password-2")).await.unwrap();
    let back = error(h.identity.change_password(change(&a, "bob", "password-2", "password-1")).await);
    assert_eq!(back.code, ErrorCode::PasswordPolicyViolation);
    // The old password no longer works.
    let stale = h.identity.change_password(change(&a, "bob", "password-1", "password-3")).await;
    assert_eq!(code(stale), ErrorCode::AccessDenied);

    // A login profile blocks deleting the user.
    let busy = error(h.identity.delete_user(delete_user(&a, "bob")).await);
    assert_eq!(
        (busy.code, busy.message.as_str()),
        (ErrorCode::DeleteConflict, "Cannot delete entity, must delete login profile first.")
    );
    let delete_profile = || pb::DeleteLoginProfileRequest { account_id: a.clone(), user_name: "bob".into() };
    h.identity.delete_login_profile(delete_profile()).await.unwrap();
    let again = error(h.identity.delete_login_profile(delete_profile()).await);
    assert_eq!(
        (again.code, again.message.as_str()),
        (ErrorCode::NoSuchEntity, "Login Profile for User bob cannot be found.")
    );
    assert_eq!(code(h.identity.get_login_profile(get_profile()).await), ErrorCode::NoSuchEntity);
    assert_eq!(code(h.identity.update_login_profile(profile_update(None, Some(true))).await), ErrorCode::NoSuchEntity);
    let no_profile = h.identity.change_password(change(&a, "bob", "password-2", "password-3")).await;
    assert_eq!(code(no_profile), ErrorCode::NoSuchEntity);
    h.identity.delete_user(delete_user(&a, "bob")).await.unwrap();

    // Updating replaces the whole policy: omitted fields revert to their defaults.
    h.identity
        .update_account_password_policy(policy_update(pb::UpdateAccountPasswordPolicyRequest::default()))
        .await
        .unwrap();
    let policy = h.identity.get_account_password_policy(get_policy()).await.unwrap().into_inner();
    let policy = policy.password_policy.unwrap();
    assert_eq!(policy.minimum_password_length, 6);
    assert!(!policy.require_numbers && !policy.expire_passwords);
    assert_eq!((policy.max_password_age, policy.password_reuse_prevention), (None, None));

    h.identity
        .delete_account_password_policy(pb::DeleteAccountPasswordPolicyRequest { account_id: a.clone() })
        .await
        .unwrap();
    assert_eq!(code(h.identity.get_account_password_policy(get_policy()).await), ErrorCode::NoSuchEntity);
}

// ---------------------------------------------------------------------------------------------
// MFA (reference §5.5).

fn mfa_codes(seed: &TotpSeed, first: u64) -> (String, String) {
    (format_code(hotp(seed, first)), format_code(hotp(seed, first + 1)))
}

fn enable(account: &str, user: &str, serial: &str, codes: &(String, String)) -> pb::EnableMfaDeviceRequest {
    pb::EnableMfaDeviceRequest {
        account_id: account.into(),
        user_name: user.into(),
        serial_number: serial.into(),
        authentication_code1: codes.0.clone(),
        authentication_code2: codes.1.clone(),
    }
}

fn resync(account: &str, user: &str, serial: &str, codes: &(String, String)) -> pb::ResyncMfaDeviceRequest {
    pb::ResyncMfaDeviceRequest {
        account_id: account.into(),
        user_name: user.into(),
        serial_number: serial.into(),
        authentication_code1: codes.0.clone(),
        authentication_code2: codes.1.clone(),
    }
}

fn list_virtual(account: &str, status: pb::AssignmentStatus) -> pb::ListVirtualMfaDevicesRequest {
    pb::ListVirtualMfaDevicesRequest { account_id: account.into(), assignment_status: status.into(), page: None }
}

fn create_device(account: &str, name: &str) -> pb::CreateVirtualMfaDeviceRequest {
    pb::CreateVirtualMfaDeviceRequest {
        account_id: account.into(),
        virtual_mfa_device_name: name.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn virtual_mfa_devices_are_enabled_resynced_deactivated_and_deleted() {
    let mut h = start().await;
    let a = h.account.clone();
    for name in ["carol", "dave"] {
        h.identity.create_user(user(&a, name)).await.unwrap();
    }

    let mut req = create_device(&a, "carol-phone");
    req.tags = vec![tag("owner", "carol")];
    let device = h.identity.create_virtual_mfa_device(req).await.unwrap().into_inner().virtual_mfa_device.unwrap();
    let serial = device.serial_number.clone();
    assert_eq!(serial, format!("arn:aws:iam::{a}:mfa/carol-phone"));
    let seed_text = String::from_utf8(device.base32_string_seed.clone()).expect("the seed is base32 text");
    assert!(seed_text.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)), "{seed_text}");
    let seed_bytes = base32_decode(&seed_text).expect("the seed decodes as base32");
    assert_eq!(seed_bytes.len(), 20);
    let seed = TotpSeed::from_bytes(&seed_bytes).unwrap();
    assert!(device.qr_code_png.starts_with(PNG_SIGNATURE), "QRCodePNG is not a PNG");
    assert!(device.user.is_none() && device.enable_date.is_none());
    assert_eq!(device.tags, [tag("owner", "carol")]);
    // `Debug` shows neither the seed nor the QR code.
    assert!(!format!("{device:?}").contains(&seed_text));

    let dup = error(h.identity.create_virtual_mfa_device(create_device(&a, "Carol-Phone")).await);
    assert_eq!(
        (dup.code, dup.message.as_str()),
        (ErrorCode::EntityAlreadyExists, "MFADevice entity at the same path and name already exists.")
    );
    assert_eq!(
        code(h.identity.create_virtual_mfa_device(create_device(&a, "no spaces")).await),
        ErrorCode::ValidationError
    );
    let spare = h.identity.create_virtual_mfa_device(create_device(&a, "spare")).await.unwrap().into_inner();
    let spare = spare.virtual_mfa_device.unwrap().serial_number;

    // Listing never returns the seed or the QR code.
    let unassigned =
        h.identity.list_virtual_mfa_devices(list_virtual(&a, pb::AssignmentStatus::Unassigned)).await.unwrap();
    let unassigned = unassigned.into_inner().virtual_mfa_devices;
    let mut serials: Vec<&str> = unassigned.iter().map(|d| d.serial_number.as_str()).collect();
    serials.sort_unstable();
    assert_eq!(serials, [serial.as_str(), spare.as_str()]);
    for d in &unassigned {
        assert!(d.base32_string_seed.is_empty() && d.qr_code_png.is_empty(), "{}", d.serial_number);
        assert!(d.user.is_none());
    }
    let assigned = h.identity.list_virtual_mfa_devices(list_virtual(&a, pb::AssignmentStatus::Assigned)).await;
    assert!(assigned.unwrap().into_inner().virtual_mfa_devices.is_empty());

    let now = step(unix_now());
    // Wrong codes (consecutive, but far from now), and malformed ones.
    let wrong = error(h.identity.enable_mfa_device(enable(&a, "carol", &serial, &mfa_codes(&seed, now + 50))).await);
    assert_eq!(
        (wrong.code, wrong.message.as_str()),
        (ErrorCode::InvalidAuthenticationCode, "Authentication code for device is not valid.")
    );
    let swapped = (format_code(hotp(&seed, now + 1)), format_code(hotp(&seed, now)));
    let swapped = h.identity.enable_mfa_device(enable(&a, "carol", &serial, &swapped)).await;
    assert_eq!(code(swapped), ErrorCode::InvalidAuthenticationCode);
    let malformed = h.identity.enable_mfa_device(enable(&a, "carol", &serial, &("12345".into(), "123456".into())));
    assert_eq!(code(malformed.await), ErrorCode::ValidationError);
    let codes = mfa_codes(&seed, now);
    assert_eq!(
        code(h.identity.enable_mfa_device(enable(&a, "nobody", &serial, &codes)).await),
        ErrorCode::NoSuchEntity
    );
    let unknown_serial = format!("arn:aws:iam::{a}:mfa/unknown");
    let unknown = error(h.identity.enable_mfa_device(enable(&a, "carol", &unknown_serial, &codes)).await);
    assert_eq!(
        (unknown.code, unknown.message),
        (ErrorCode::NoSuchEntity, format!("VirtualMFADevice with serial number {unknown_serial} doesn't exist."))
    );

    // Two consecutive codes computed from the seed enable the device.
    h.identity.enable_mfa_device(enable(&a, "carol", &serial, &codes)).await.unwrap();
    let taken = error(h.identity.enable_mfa_device(enable(&a, "dave", &serial, &mfa_codes(&seed, now + 2))).await);
    assert_eq!(
        (taken.code, taken.message),
        (ErrorCode::EntityAlreadyExists, format!("MFA device {serial} is already in use."))
    );

    let list_mfa =
        |name: &str| pb::ListMfaDevicesRequest { account_id: a.clone(), user_name: Some(name.into()), page: None };
    let mine = h.identity.list_mfa_devices(list_mfa("carol")).await.unwrap().into_inner().mfa_devices;
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].user_name.as_str(), mine[0].serial_number.as_str()), ("carol", serial.as_str()));
    assert!(mine[0].enable_date.is_some());
    assert!(h.identity.list_mfa_devices(list_mfa("dave")).await.unwrap().into_inner().mfa_devices.is_empty());
    assert_eq!(code(h.identity.list_mfa_devices(list_mfa("nobody")).await), ErrorCode::NoSuchEntity);

    let assigned = h.identity.list_virtual_mfa_devices(list_virtual(&a, pb::AssignmentStatus::Assigned)).await.unwrap();
    let assigned = assigned.into_inner().virtual_mfa_devices;
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0].serial_number, serial);
    assert_eq!(assigned[0].user.as_ref().map(|u| u.user_name.as_str()), Some("carol"));
    assert!(assigned[0].enable_date.is_some());
    assert!(assigned[0].base32_string_seed.is_empty() && assigned[0].qr_code_png.is_empty());
    let unassigned =
        h.identity.list_virtual_mfa_devices(list_virtual(&a, pb::AssignmentStatus::Unassigned)).await.unwrap();
    assert_eq!(
        unassigned.into_inner().virtual_mfa_devices.iter().map(|d| d.serial_number.as_str()).collect::<Vec<_>>(),
        [spare.as_str()]
    );
    for status in [pb::AssignmentStatus::Any, pb::AssignmentStatus::Unspecified] {
        let all = h.identity.list_virtual_mfa_devices(list_virtual(&a, status)).await.unwrap().into_inner();
        assert_eq!(all.virtual_mfa_devices.len(), 2, "{status:?}");
        assert!(all.virtual_mfa_devices.iter().all(|d| d.base32_string_seed.is_empty() && d.qr_code_png.is_empty()));
    }

    // Resync with two later codes; the same codes cannot be replayed.
    let later = mfa_codes(&seed, now + 2);
    h.identity.resync_mfa_device(resync(&a, "carol", &serial, &later)).await.unwrap();
    let replay = error(h.identity.resync_mfa_device(resync(&a, "carol", &serial, &later)).await);
    assert_eq!(replay.code, ErrorCode::InvalidAuthenticationCode);
    let wrong = h.identity.resync_mfa_device(resync(&a, "carol", &serial, &mfa_codes(&seed, now + 60))).await;
    assert_eq!(code(wrong), ErrorCode::InvalidAuthenticationCode);
    let not_hers = h.identity.resync_mfa_device(resync(&a, "dave", &serial, &mfa_codes(&seed, now + 4))).await;
    assert_eq!(code(not_hers), ErrorCode::NoSuchEntity);

    // An enabled device blocks deleting the user and the device.
    let busy = error(h.identity.delete_user(delete_user(&a, "carol")).await);
    assert_eq!(
        (busy.code, busy.message.as_str()),
        (ErrorCode::DeleteConflict, "Cannot delete entity, must delete MFA device first.")
    );
    let delete_device =
        |serial: &str| pb::DeleteVirtualMfaDeviceRequest { account_id: a.clone(), serial_number: serial.into() };
    let in_use = error(h.identity.delete_virtual_mfa_device(delete_device(&serial)).await);
    assert_eq!((in_use.code, in_use.message.as_str()), (ErrorCode::DeleteConflict, "MFA device is still in use."));
    // A serial is the device's ARN: the same name under another path names no device.
    let elsewhere = serial.replace(":mfa/", ":mfa/elsewhere/");
    assert_eq!(code(h.identity.delete_virtual_mfa_device(delete_device(&elsewhere)).await), ErrorCode::NoSuchEntity);

    let deactivate = |name: &str, serial: &str| pb::DeactivateMfaDeviceRequest {
        account_id: a.clone(),
        user_name: Some(name.into()),
        serial_number: serial.into(),
    };
    let wrong_user = error(h.identity.deactivate_mfa_device(deactivate("dave", &serial)).await);
    assert_eq!(
        (wrong_user.code, wrong_user.message),
        (ErrorCode::NoSuchEntity, format!("MFA device with serial number {serial} is not enabled for user dave."))
    );
    h.identity.deactivate_mfa_device(deactivate("carol", &serial)).await.unwrap();
    assert_eq!(code(h.identity.deactivate_mfa_device(deactivate("carol", &serial)).await), ErrorCode::NoSuchEntity);
    assert!(h.identity.list_mfa_devices(list_mfa("carol")).await.unwrap().into_inner().mfa_devices.is_empty());
    let assigned = h.identity.list_virtual_mfa_devices(list_virtual(&a, pb::AssignmentStatus::Assigned)).await;
    assert!(assigned.unwrap().into_inner().virtual_mfa_devices.is_empty());

    for s in [&serial, &spare] {
        h.identity.delete_virtual_mfa_device(delete_device(s)).await.unwrap();
    }
    let gone = error(h.identity.delete_virtual_mfa_device(delete_device(&serial)).await);
    assert_eq!(
        (gone.code, gone.message),
        (ErrorCode::NoSuchEntity, format!("VirtualMFADevice with serial number {serial} doesn't exist."))
    );
    // A device of another account is simply not found.
    let foreign = h.identity.delete_virtual_mfa_device(delete_device("arn:aws:iam::210987654321:mfa/carol-phone"));
    assert_eq!(code(foreign.await), ErrorCode::NoSuchEntity);
    h.identity.delete_user(delete_user(&a, "carol")).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// OpenID Connect providers (reference §5.6).

fn oidc(account: &str, url: &str, client_ids: &[&str], thumbprints: &[&str]) -> pb::CreateOpenIdConnectProviderRequest {
    pb::CreateOpenIdConnectProviderRequest {
        account_id: account.into(),
        url: url.into(),
        client_id_list: client_ids.iter().map(|s| (*s).to_owned()).collect(),
        thumbprint_list: thumbprints.iter().map(|s| (*s).to_owned()).collect(),
        tags: Vec::new(),
    }
}

#[tokio::test]
async fn oidc_providers_are_created_read_changed_and_deleted() {
    let mut h = start().await;
    let a = h.account.clone();
    let mut req = oidc(&a, "https://Token.Example.com/tenant", &["app-1", "app-1"], &[THUMB]);
    req.tags = vec![tag("team", "core")];
    let created = h.identity.create_open_id_connect_provider(req).await.unwrap().into_inner();
    let arn = created.open_id_connect_provider_arn;
    assert_eq!(arn, format!("arn:aws:iam::{a}:oidc-provider/token.example.com/tenant"));
    assert_eq!(created.tags, [tag("team", "core")]);

    let get = |arn: &str| pb::GetOpenIdConnectProviderRequest {
        account_id: a.clone(),
        open_id_connect_provider_arn: arn.into(),
    };
    let got = h.identity.get_open_id_connect_provider(get(&arn)).await.unwrap().into_inner();
    assert_eq!(got.url, "token.example.com/tenant");
    assert_eq!(got.client_id_list, ["app-1"]);
    assert_eq!(got.thumbprint_list, [THUMB.to_ascii_lowercase()]);
    assert!(got.create_date.is_some());
    assert_eq!(got.tags, [tag("team", "core")]);

    // The URL must be https, without a query or a bad port (a port is allowed, for local and test
    // IdPs; the ARN keeps it).
    let http = error(h.identity.create_open_id_connect_provider(oidc(&a, "http://x.example.com", &[], &[])).await);
    assert_eq!(
        (http.code, http.message.as_str()),
        (ErrorCode::InvalidInput, "Invalid URL http://x.example.com: the scheme must be https.")
    );
    for bad in ["https://x.example.com:0", "https://x.example.com:http", "https://x.example.com/?a=b", "https://"] {
        let result = h.identity.create_open_id_connect_provider(oidc(&a, bad, &[], &[])).await;
        assert_eq!(code(result), ErrorCode::InvalidInput, "{bad}");
    }
    let ported = h
        .identity
        .create_open_id_connect_provider(oidc(&a, "https://127.0.0.1:8443", &[], &[]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ported.open_id_connect_provider_arn, format!("arn:aws:iam::{a}:oidc-provider/127.0.0.1:8443"));
    h.identity
        .delete_open_id_connect_provider(pb::DeleteOpenIdConnectProviderRequest {
            account_id: a.clone(),
            open_id_connect_provider_arn: ported.open_id_connect_provider_arn,
        })
        .await
        .unwrap();
    // Host names compare without case.
    let dup =
        error(h.identity.create_open_id_connect_provider(oidc(&a, "https://TOKEN.example.com/tenant", &[], &[])).await);
    assert_eq!(
        (dup.code, dup.message.as_str()),
        (ErrorCode::EntityAlreadyExists, "Provider with url https://token.example.com/tenant already exists.")
    );
    let not_hex = "z".repeat(40);
    let bad_thumb =
        error(h.identity.create_open_id_connect_provider(oidc(&a, "https://b.example.com", &[], &[&not_hex])).await);
    assert_eq!(
        (bad_thumb.code, bad_thumb.message),
        (ErrorCode::InvalidInput, format!("Thumbprint {not_hex} is not 40 hexadecimal digits."))
    );
    let short_thumb = h.identity.create_open_id_connect_provider(oidc(&a, "https://b.example.com", &[], &["abc"]));
    assert_eq!(code(short_thumb.await), ErrorCode::ValidationError);
    let six: Vec<String> = (0..6).map(|i| format!("{i:040x}")).collect();
    let six: Vec<&str> = six.iter().map(String::as_str).collect();
    let too_many =
        error(h.identity.create_open_id_connect_provider(oidc(&a, "https://b.example.com", &[], &six)).await);
    assert_eq!(
        (too_many.code, too_many.message.as_str()),
        (ErrorCode::LimitExceeded, "Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: 5")
    );

    let unknown_arn = format!("arn:aws:iam::{a}:oidc-provider/unknown.example.com");
    let unknown = error(h.identity.get_open_id_connect_provider(get(&unknown_arn)).await);
    assert_eq!(
        (unknown.code, unknown.message),
        (ErrorCode::NoSuchEntity, format!("OpenIDConnect Provider not found for arn {unknown_arn}"))
    );
    let not_oidc = h.identity.get_open_id_connect_provider(get(&format!("arn:aws:iam::{a}:user/alice"))).await;
    assert_eq!(code(not_oidc), ErrorCode::InvalidInput);

    let second = h
        .identity
        .create_open_id_connect_provider(oidc(&a, "https://b.example.com", &[], &[]))
        .await
        .unwrap()
        .into_inner()
        .open_id_connect_provider_arn;
    let list = || pb::ListOpenIdConnectProvidersRequest { account_id: a.clone(), page: None };
    let listed = h.identity.list_open_id_connect_providers(list()).await.unwrap().into_inner();
    let mut arns: Vec<&str> = listed.open_id_connect_provider_list.iter().map(|p| p.arn.as_str()).collect();
    arns.sort_unstable();
    let mut expected = [arn.as_str(), second.as_str()];
    expected.sort_unstable();
    assert_eq!(arns, expected);

    // Client IDs: adding one twice keeps one; removing an absent one is fine.
    let add = |arn: &str, id: &str| pb::AddClientIdToOpenIdConnectProviderRequest {
        account_id: a.clone(),
        open_id_connect_provider_arn: arn.into(),
        client_id: id.into(),
    };
    let remove = |arn: &str, id: &str| pb::RemoveClientIdFromOpenIdConnectProviderRequest {
        account_id: a.clone(),
        open_id_connect_provider_arn: arn.into(),
        client_id: id.into(),
    };
    h.identity.add_client_id_to_open_id_connect_provider(add(&arn, "app-2")).await.unwrap();
    h.identity.add_client_id_to_open_id_connect_provider(add(&arn, "app-2")).await.unwrap();
    let got = h.identity.get_open_id_connect_provider(get(&arn)).await.unwrap().into_inner();
    assert_eq!(got.client_id_list, ["app-1", "app-2"]);
    h.identity.remove_client_id_from_open_id_connect_provider(remove(&arn, "app-1")).await.unwrap();
    h.identity.remove_client_id_from_open_id_connect_provider(remove(&arn, "never-added")).await.unwrap();
    let got = h.identity.get_open_id_connect_provider(get(&arn)).await.unwrap().into_inner();
    assert_eq!(got.client_id_list, ["app-2"]);
    let empty_id = h.identity.add_client_id_to_open_id_connect_provider(add(&arn, "")).await;
    assert_eq!(code(empty_id), ErrorCode::ValidationError);
    assert_eq!(
        code(h.identity.add_client_id_to_open_id_connect_provider(add(&unknown_arn, "x")).await),
        ErrorCode::NoSuchEntity
    );
    assert_eq!(
        code(h.identity.remove_client_id_from_open_id_connect_provider(remove(&unknown_arn, "x")).await),
        ErrorCode::NoSuchEntity
    );

    // Thumbprints are replaced as a whole.
    let thumbprints = |arn: &str, list: &[&str]| pb::UpdateOpenIdConnectProviderThumbprintRequest {
        account_id: a.clone(),
        open_id_connect_provider_arn: arn.into(),
        thumbprint_list: list.iter().map(|s| (*s).to_owned()).collect(),
    };
    h.identity.update_open_id_connect_provider_thumbprint(thumbprints(&arn, &[THUMB2])).await.unwrap();
    let got = h.identity.get_open_id_connect_provider(get(&arn)).await.unwrap().into_inner();
    assert_eq!(got.thumbprint_list, [THUMB2]);
    let bad = h.identity.update_open_id_connect_provider_thumbprint(thumbprints(&arn, &[&not_hex])).await;
    assert_eq!(code(bad), ErrorCode::InvalidInput);
    let unknown = h.identity.update_open_id_connect_provider_thumbprint(thumbprints(&unknown_arn, &[THUMB])).await;
    assert_eq!(code(unknown), ErrorCode::NoSuchEntity);
    let got = h.identity.get_open_id_connect_provider(get(&arn)).await.unwrap().into_inner();
    assert_eq!(got.thumbprint_list, [THUMB2], "a rejected update changed nothing");

    let delete = |arn: &str| pb::DeleteOpenIdConnectProviderRequest {
        account_id: a.clone(),
        open_id_connect_provider_arn: arn.into(),
    };
    h.identity.delete_open_id_connect_provider(delete(&arn)).await.unwrap();
    assert_eq!(code(h.identity.get_open_id_connect_provider(get(&arn)).await), ErrorCode::NoSuchEntity);
    assert_eq!(code(h.identity.delete_open_id_connect_provider(delete(&arn)).await), ErrorCode::NoSuchEntity);
    let listed = h.identity.list_open_id_connect_providers(list()).await.unwrap().into_inner();
    assert_eq!(listed.open_id_connect_provider_list.iter().map(|p| p.arn.as_str()).collect::<Vec<_>>(), [second]);
}

// ---------------------------------------------------------------------------------------------
// Tags (reference §5.1, §1.3).

#[tokio::test]
async fn every_taggable_resource_is_tagged_untagged_and_listed() {
    let mut h = start().await;
    let a = h.account.clone();
    h.identity.create_user(user(&a, "u")).await.unwrap();
    h.identity
        .create_role(pb::CreateRoleRequest {
            account_id: a.clone(),
            role_name: "r".into(),
            assume_role_policy_document: TRUST_EC2.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let policy = h
        .policy
        .create_policy(ppb::CreatePolicyRequest {
            account_id: a.clone(),
            policy_name: "Managed".into(),
            policy_document: ALLOW_S3_READ.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap()
        .arn;
    let provider = h
        .identity
        .create_open_id_connect_provider(oidc(&a, "https://idp.example.com", &["app"], &[]))
        .await
        .unwrap()
        .into_inner()
        .open_id_connect_provider_arn;
    let device = h.identity.create_virtual_mfa_device(create_device(&a, "token")).await.unwrap().into_inner();
    let device = device.virtual_mfa_device.unwrap().serial_number;

    let resources = [
        (c::TaggableKind::User, "u".to_owned(), "TagsPerUser"),
        (c::TaggableKind::Role, "r".to_owned(), "TagsPerRole"),
        (c::TaggableKind::Policy, policy.clone(), "TagsPerPolicy"),
        (c::TaggableKind::OpenIdConnectProvider, provider, "TagsPerOpenIDConnectProvider"),
        (c::TaggableKind::MfaDevice, device, "TagsPerVirtualMFADevice"),
    ];
    for (kind, id, quota) in &resources {
        let what = format!("{kind:?} {id}");
        let tag_req =
            |tags: Vec<c::Tag>| pb::TagResourceRequest { account_id: a.clone(), resource: taggable(*kind, id), tags };
        let list_req = |page: Option<c::PageRequest>| pb::ListResourceTagsRequest {
            account_id: a.clone(),
            resource: taggable(*kind, id),
            page,
        };
        h.identity.tag_resource(tag_req(vec![tag("team", "core"), tag("env", "prod")])).await.unwrap();
        let listed = h.identity.list_resource_tags(list_req(None)).await.unwrap().into_inner();
        assert_eq!(listed.tags, [tag("team", "core"), tag("env", "prod")], "{what}");

        // An existing key (matched without case) is overwritten, keeping the new case.
        h.identity.tag_resource(tag_req(vec![tag("TEAM", "edge")])).await.unwrap();
        let listed = h.identity.list_resource_tags(list_req(None)).await.unwrap().into_inner();
        assert_eq!(listed.tags, [tag("TEAM", "edge"), tag("env", "prod")], "{what}");
        let first = h.identity.list_resource_tags(list_req(page(1))).await.unwrap().into_inner();
        assert_eq!(first.tags, [tag("TEAM", "edge")], "{what}");
        assert!(first.page.unwrap().is_truncated, "{what}");

        // 2 + 49 new keys is 51: over the quota, and nothing changes.
        let many: Vec<c::Tag> = (0..49).map(|i| tag(&format!("k{i}"), "v")).collect();
        let over = error(h.identity.tag_resource(tag_req(many)).await);
        assert_eq!(
            (over.code, over.message),
            (ErrorCode::LimitExceeded, format!("Cannot exceed quota for {quota}: 50"))
        );
        let fifty_one: Vec<c::Tag> = (0..51).map(|i| tag(&format!("n{i}"), "")).collect();
        assert_eq!(code(h.identity.tag_resource(tag_req(fifty_one)).await), ErrorCode::LimitExceeded, "{what}");
        let dup = error(h.identity.tag_resource(tag_req(vec![tag("owner", "a"), tag("Owner", "b")])).await);
        assert_eq!(
            (dup.code, dup.message.as_str()),
            (ErrorCode::InvalidInput, "Duplicate tag keys found. Please note that Tag keys are case insensitive."),
            "{what}"
        );
        let reserved = h.identity.tag_resource(tag_req(vec![tag("aws:thing", "x")])).await;
        assert_eq!(code(reserved), ErrorCode::ValidationError, "{what}");
        let listed = h.identity.list_resource_tags(list_req(None)).await.unwrap().into_inner();
        assert_eq!(listed.tags, [tag("TEAM", "edge"), tag("env", "prod")], "{what}: a rejected change wrote nothing");

        // Exactly 50 fits; untagging matches keys without case and ignores absent ones.
        let fill: Vec<c::Tag> = (0..48).map(|i| tag(&format!("k{i}"), "v")).collect();
        h.identity.tag_resource(tag_req(fill)).await.unwrap();
        assert_eq!(h.identity.list_resource_tags(list_req(None)).await.unwrap().into_inner().tags.len(), 50, "{what}");
        let mut keys: Vec<String> = (0..48).map(|i| format!("K{i}")).collect();
        keys.extend(["team".to_owned(), "missing".to_owned()]);
        h.identity
            .untag_resource(pb::UntagResourceRequest {
                account_id: a.clone(),
                resource: taggable(*kind, id),
                tag_keys: keys,
            })
            .await
            .unwrap();
        let listed = h.identity.list_resource_tags(list_req(None)).await.unwrap().into_inner();
        assert_eq!(listed.tags, [tag("env", "prod")], "{what}");
    }

    // Where tags show up in the resources' own reads.
    let got = h.identity.get_user(pb::GetUserRequest { account_id: a.clone(), user_name: Some("u".into()) }).await;
    assert_eq!(got.unwrap().into_inner().user.unwrap().tags, [tag("env", "prod")]);
    let got = h.identity.get_role(pb::GetRoleRequest { account_id: a.clone(), role_name: "r".into() }).await;
    assert_eq!(got.unwrap().into_inner().role.unwrap().tags, [tag("env", "prod")]);

    // AWS-managed policies cannot be tagged.
    let aws_managed = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    let managed = error(
        h.identity
            .tag_resource(pb::TagResourceRequest {
                account_id: a.clone(),
                resource: taggable(c::TaggableKind::Policy, aws_managed),
                tags: vec![tag("k", "v")],
            })
            .await,
    );
    assert_eq!(
        (managed.code, managed.message),
        (ErrorCode::InvalidInput, format!("Policy {aws_managed} is an AWS managed policy and cannot be tagged."))
    );

    // Unknown resources of each kind.
    let missing_policy = format!("arn:aws:iam::{a}:policy/Nope");
    let unknown = [
        (c::TaggableKind::User, "nobody".to_owned()),
        (c::TaggableKind::Role, "nothing".to_owned()),
        (c::TaggableKind::Policy, missing_policy.clone()),
        (c::TaggableKind::OpenIdConnectProvider, format!("arn:aws:iam::{a}:oidc-provider/none.example.com")),
        (c::TaggableKind::MfaDevice, format!("arn:aws:iam::{a}:mfa/none")),
    ];
    for (kind, id) in &unknown {
        let listed = h
            .identity
            .list_resource_tags(pb::ListResourceTagsRequest {
                account_id: a.clone(),
                resource: taggable(*kind, id),
                page: None,
            })
            .await;
        assert_eq!(code(listed), ErrorCode::NoSuchEntity, "{kind:?} {id}");
    }
    let nope = error(
        h.identity
            .untag_resource(pb::UntagResourceRequest {
                account_id: a.clone(),
                resource: taggable(c::TaggableKind::Policy, &missing_policy),
                tag_keys: vec!["k".into()],
            })
            .await,
    );
    assert_eq!((nope.code, nope.message), (ErrorCode::NoSuchEntity, format!("Policy {missing_policy} was not found.")));
    let no_kind = h
        .identity
        .tag_resource(pb::TagResourceRequest {
            account_id: a.clone(),
            resource: taggable(c::TaggableKind::Unspecified, "u"),
            tags: vec![tag("k", "v")],
        })
        .await;
    assert_eq!(code(no_kind), ErrorCode::InvalidInput);
}

// ---------------------------------------------------------------------------------------------
// The account and the account-wide reads (reference §5.8).

#[tokio::test]
async fn account_summary_authorization_details_and_the_credential_report() {
    let mut h = start().await;
    let a = h.account.clone();

    // CreateAccount is idempotent.
    let create = |id: &str| pb::CreateAccountRequest { account_id: id.into() };
    let first = h.identity.create_account(create(&a)).await.unwrap().into_inner().account.unwrap();
    assert_eq!(first.account_id, a);
    let again = h.identity.create_account(create(&a)).await.unwrap().into_inner().account.unwrap();
    assert_eq!(again, first);
    let other = h.identity.create_account(create("210987654321")).await.unwrap().into_inner().account.unwrap();
    assert_eq!(other.account_id, "210987654321");
    let other_again = h.identity.create_account(create("210987654321")).await.unwrap().into_inner().account.unwrap();
    assert_eq!(other_again, other);
    assert_eq!(code(h.identity.create_account(create("12345")).await), ErrorCode::InvalidInput);

    // No report yet.
    let get_report = || pb::GetCredentialReportRequest { account_id: a.clone() };
    let absent = error(h.identity.get_credential_report(get_report()).await);
    assert_eq!(absent.code, ErrorCode::ReportNotPresent);
    assert!(absent.message.contains("GenerateCredentialReport"), "{}", absent.message);

    let summary = |id: &str| pb::GetAccountSummaryRequest { account_id: id.into() };
    let before = h.identity.get_account_summary(summary(&a)).await.unwrap().into_inner().summary_map;
    assert_eq!(before.get("Users"), Some(&0));

    for name in ["alice", "bob", "carol"] {
        h.identity.create_user(user(&a, name)).await.unwrap();
    }
    h.identity
        .create_group(pb::CreateGroupRequest { account_id: a.clone(), group_name: "devs".into(), path: None })
        .await
        .unwrap();
    h.identity
        .add_user_to_group(pb::AddUserToGroupRequest {
            account_id: a.clone(),
            group_name: "devs".into(),
            user_name: "alice".into(),
        })
        .await
        .unwrap();
    h.identity
        .create_role(pb::CreateRoleRequest {
            account_id: a.clone(),
            role_name: "svc".into(),
            assume_role_policy_document: TRUST_EC2.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let managed = h
        .policy
        .create_policy(ppb::CreatePolicyRequest {
            account_id: a.clone(),
            policy_name: "Managed".into(),
            policy_document: ALLOW_S3_READ.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap()
        .arn;
    h.policy
        .put_inline_policy(ppb::PutInlinePolicyRequest {
            account_id: a.clone(),
            entity: user_ref("alice"),
            policy_name: "inline-read".into(),
            policy_document: ALLOW_S3_READ.into(),
        })
        .await
        .unwrap();
    h.policy
        .attach_policy(ppb::AttachPolicyRequest {
            account_id: a.clone(),
            entity: user_ref("alice"),
            policy_arn: managed.clone(),
        })
        .await
        .unwrap();
    h.identity
        .create_access_key(pb::CreateAccessKeyRequest { account_id: a.clone(), user_name: Some("bob".into()) })
        .await
        .unwrap();

    let counts = h.identity.get_account_summary(summary(&a)).await.unwrap().into_inner().summary_map;
    assert_eq!(counts.get("Users"), Some(&3));
    assert_eq!(counts.get("Groups"), Some(&1));
    assert_eq!(counts.get("Roles"), Some(&1));
    assert_eq!(counts.get("Policies"), Some(&1));
    assert_eq!(counts.get("AccessKeysPerUserQuota"), Some(&2));
    assert_eq!(counts.get("UsersQuota"), Some(&5000));
    // Another account's summary counts its own entities only.
    let theirs = h.identity.get_account_summary(summary("210987654321")).await.unwrap().into_inner().summary_map;
    assert_eq!(theirs.get("Users"), Some(&0));

    // Everything.
    let details = |filter: Vec<c::EntityFilter>| pb::GetAccountAuthorizationDetailsRequest {
        account_id: a.clone(),
        filter: filter.into_iter().map(Into::into).collect(),
        page: None,
    };
    let all = h.identity.get_account_authorization_details(details(Vec::new())).await.unwrap().into_inner();
    let mut names: Vec<&str> = all.user_detail_list.iter().map(|u| u.user_name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["alice", "bob", "carol"]);
    assert_eq!(all.group_detail_list.iter().map(|g| g.group_name.as_str()).collect::<Vec<_>>(), ["devs"]);
    assert_eq!(all.role_detail_list.iter().map(|r| r.role_name.as_str()).collect::<Vec<_>>(), ["svc"]);
    assert_eq!(all.role_detail_list[0].assume_role_policy_document, TRUST_EC2);
    let policy = all.policies.iter().find(|p| p.arn == managed).expect("the customer managed policy is listed");
    assert_eq!((policy.policy_name.as_str(), policy.default_version_id.as_str()), ("Managed", "v1"));
    assert_eq!(policy.policy_version_list.len(), 1);
    assert!(policy.policy_version_list[0].is_default_version);
    assert_eq!(policy.policy_version_list[0].document, ALLOW_S3_READ);
    assert!(!all.page.unwrap().is_truncated);

    let alice = all.user_detail_list.iter().find(|u| u.user_name == "alice").unwrap();
    assert_eq!(alice.arn, format!("arn:aws:iam::{a}:user/alice"));
    assert_eq!(alice.user_policy_list.len(), 1);
    assert_eq!(alice.user_policy_list[0].policy_name, "inline-read");
    assert_eq!(alice.user_policy_list[0].policy_document, ALLOW_S3_READ);
    assert_eq!(
        alice.attached_managed_policies,
        [c::AttachedPolicy { policy_name: "Managed".into(), policy_arn: managed.clone() }]
    );
    assert_eq!(alice.group_list, ["devs"]);
    let bob = all.user_detail_list.iter().find(|u| u.user_name == "bob").unwrap();
    assert!(bob.user_policy_list.is_empty() && bob.attached_managed_policies.is_empty() && bob.group_list.is_empty());

    // Filtered to users: nothing else.
    let users = h.identity.get_account_authorization_details(details(vec![c::EntityFilter::User])).await;
    let users = users.unwrap().into_inner();
    assert_eq!(users.user_detail_list.len(), 3);
    assert!(users.group_detail_list.is_empty() && users.role_detail_list.is_empty() && users.policies.is_empty());
    let roles = h.identity.get_account_authorization_details(details(vec![c::EntityFilter::Role])).await;
    let roles = roles.unwrap().into_inner();
    assert_eq!(roles.role_detail_list.len(), 1);
    assert!(roles.user_detail_list.is_empty() && roles.group_detail_list.is_empty() && roles.policies.is_empty());
    let local = h.identity.get_account_authorization_details(details(vec![c::EntityFilter::LocalManagedPolicy])).await;
    let local = local.unwrap().into_inner();
    assert_eq!(local.policies.iter().map(|p| p.arn.as_str()).collect::<Vec<_>>(), [managed.as_str()]);
    assert!(local.user_detail_list.is_empty());
    // Paginated across the concatenated lists.
    let mut paged = details(Vec::new());
    paged.page = page(2);
    let first_page = h.identity.get_account_authorization_details(paged).await.unwrap().into_inner();
    assert_eq!(first_page.user_detail_list.len(), 2);
    assert!(first_page.page.unwrap().is_truncated);

    // The credential report.
    let generate = || pb::GenerateCredentialReportRequest { account_id: a.clone() };
    let generated = h.identity.generate_credential_report(generate()).await.unwrap().into_inner();
    assert_eq!(generated.state(), pb::ReportState::Complete);
    assert!(!generated.description.is_empty());
    let report = h.identity.get_credential_report(get_report()).await.unwrap().into_inner();
    assert_eq!(report.report_format, "text/csv");
    assert!(report.generated_time.is_some());
    let csv = String::from_utf8(report.content.clone()).expect("the report is text");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], REPORT_HEADER);
    assert_eq!(lines.len(), 1 + 1 + 3, "{csv}");
    assert!(lines[1].starts_with(&format!("<root_account>,arn:aws:iam::{a}:root,")), "{}", lines[1]);
    for name in ["alice", "bob", "carol"] {
        let prefix = format!("{name},arn:aws:iam::{a}:user/{name},");
        assert_eq!(lines.iter().filter(|l| l.starts_with(&prefix)).count(), 1, "{name}: {csv}");
    }
    for line in &lines {
        assert_eq!(line.split(',').count(), 22, "{line}");
    }
    // Bob has one unused key: key 1 active, never used; key 2 absent.
    let bob = lines.iter().find(|l| l.starts_with("bob,")).unwrap();
    let bob: Vec<&str> = bob.split(',').collect();
    assert_eq!(bob[3], "false", "password_enabled");
    assert_eq!(&bob[10..13], ["N/A", "N/A", "N/A"], "key 1 never used");
    assert_eq!(&bob[14..18], ["N/A", "N/A", "N/A", "N/A"], "no key 2");

    // A report younger than four hours is reused.
    let reused = h.identity.generate_credential_report(generate()).await.unwrap().into_inner();
    assert_eq!(reused.state(), pb::ReportState::Complete);
    let same = h.identity.get_credential_report(get_report()).await.unwrap().into_inner();
    assert_eq!(same, report);
    // Another account has no report of its own.
    let theirs = h.identity.get_credential_report(pb::GetCredentialReportRequest { account_id: "210987654321".into() });
    assert_eq!(code(theirs.await), ErrorCode::ReportNotPresent);
}
