//! StsService over real gRPC: the identity, policy and token services on `127.0.0.1:0` over one
//! store, with a fake clock the tests step (reference §1.4, §3.4, §4). Every STS action, and each
//! §4.8 error code the service can produce, with AWS's messages where the reference gives them.
//! The last test runs two replicas on the Redis at `REDIS_URL` (default `redis://127.0.0.1:6379/0`).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    Role, assuming, error, identity_policy, keys, random_account_id, secs, serve, session, start, start_on, tag, trust,
};
use serde_json::json;
use tessera_credentials::{MasterKey, SeededRandom, TotpSeed, format_code, totp_at};
use tessera_identity::Account;
use tessera_proto::ErrorCode;
use tessera_proto::identity::v1 as ipb;
use tessera_proto::sts::v1 as pb;
use tessera_proto::sts::v1::sts_service_client::StsServiceClient;
use tessera_store::{AnyStore, Namespace, RedisStore};
use tonic::transport::Channel;

fn denied_message(caller: &str, action: &str, role: &str) -> String {
    format!("User: {caller} is not authorized to perform: {action} on resource: {role}")
}

/// Asserts `result` is the `AccessDenied` of §3.4 for `caller` on `role`.
fn assert_denied<T: std::fmt::Debug>(result: Result<T, tonic::Status>, caller: &str, action: &str, role: &str) {
    let e = error(result);
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::AccessDenied, denied_message(caller, action, role).as_str()));
}

fn assert_code<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: ErrorCode) -> String {
    let e = error(result);
    assert_eq!(e.code, code, "{}", e.message);
    e.message
}

const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
const REVOKED: &str = "The security token included in the request has been revoked.";

#[tokio::test]
async fn assume_role_issues_a_role_session_that_identifies_itself() {
    let mut h = start().await;
    let a = h.account.clone();
    let alice = h.user("alice").await;
    // The role's path is left out of the assumed-role ARN (§1.1).
    let created = h
        .identity
        .create_role(ipb::CreateRoleRequest {
            account_id: a.clone(),
            path: Some("/ci/".into()),
            role_name: "Deployer".into(),
            assume_role_policy_document: trust(&alice.arn, &["sts:AssumeRole"], None),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap();
    let role = Role { name: created.role_name, arn: created.arn, role_id: created.role_id };
    assert_eq!(role.arn, format!("arn:aws:iam::{a}:role/ci/Deployer"));

    let now = h.clock.secs();
    let mut request = assuming(keys(&alice.key), &role, "build-42");
    request.duration_seconds = Some(1800);
    let out = h.assume(request).await.unwrap();
    let creds = out.credentials.unwrap();
    assert!(creds.access_key_id.starts_with("ASIA") && creds.access_key_id.len() == 20, "{}", creds.access_key_id);
    assert_eq!(creds.secret_access_key.len(), 40);
    assert!(!creds.session_token.is_empty());
    assert_eq!(secs(creds.expiration.as_ref()), now + 1800);
    let user = out.assumed_role_user.unwrap();
    assert!(role.role_id.starts_with("AROA"), "{}", role.role_id);
    assert_eq!(user.assumed_role_id, format!("{}:build-42", role.role_id));
    assert_eq!(user.arn, format!("arn:aws:sts::{a}:assumed-role/Deployer/build-42"));
    assert_eq!(out.packed_policy_size, 0);
    assert_eq!(out.source_identity, None);

    // GetCallerIdentity (§1.4): the session, the user, the root.
    let who = h.whoami(session(&creds)).await.unwrap();
    assert_eq!(
        (who.user_id.as_str(), who.account.as_str(), who.arn.as_str()),
        (user.assumed_role_id.as_str(), a.as_str(), user.arn.as_str())
    );
    let who = h.whoami(keys(&alice.key)).await.unwrap();
    assert!(alice.user_id.starts_with("AIDA"));
    assert_eq!((who.user_id, who.account, who.arn), (alice.user_id.clone(), a.clone(), alice.arn.clone()));
    let root = h.root_key.clone();
    let who = h.whoami(keys(&root)).await.unwrap();
    assert_eq!((who.user_id, who.account, who.arn), (a.clone(), a.clone(), format!("arn:aws:iam::{a}:root")));

    // VerifySession returns the claims the gateway needs.
    let claims = h.verify(&creds).await.unwrap();
    assert_eq!(claims.kind, "AssumedRole");
    assert_eq!(claims.account, a);
    assert_eq!(claims.principal_arn, user.arn);
    assert_eq!(claims.principal_id, user.assumed_role_id);
    assert_eq!(claims.role_arn.as_deref(), Some(role.arn.as_str()));
    assert!(!claims.session_id.is_empty());
    assert_eq!(claims.secret_access_key, creds.secret_access_key);
    assert_eq!(secs(claims.issued_at.as_ref()), now);
    assert_eq!(secs(claims.expiration.as_ref()), now + 1800);
    assert_eq!((claims.chain_depth, claims.mfa_authenticated, claims.tags.len()), (0, false, 0));
    assert_eq!(claims.source_identity, None);

    // Without DurationSeconds, one hour; each call gets new credentials.
    let again = h.assume(assuming(keys(&alice.key), &role, "build-43")).await.unwrap();
    let again = again.credentials.unwrap();
    assert_eq!(secs(again.expiration.as_ref()), now + 3600);
    assert_ne!(again.access_key_id, creds.access_key_id);
    assert_ne!(h.verify(&again).await.unwrap().session_id, claims.session_id);
}

#[tokio::test]
async fn assume_role_refusals_name_the_caller_and_the_role() {
    let mut h = start().await;
    let a = h.account.clone();
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let role = h.role("OnlyAlice", &trust(&alice.arn, &["sts:AssumeRole"], None), None).await;

    // A trust policy that does not name the caller.
    let refused = h.assume(assuming(keys(&bob.key), &role, "s1")).await;
    let e = error(refused);
    assert_eq!(e.code.http_status(), 403);
    assert_eq!(e.message, denied_message(&bob.arn, "sts:AssumeRole", &role.arn));

    // A role that does not exist looks the same: nothing leaks.
    let ghost = Role { name: "Ghost".into(), arn: format!("arn:aws:iam::{a}:role/Ghost"), role_id: String::new() };
    assert_denied(h.assume(assuming(keys(&bob.key), &ghost, "s1")).await, &bob.arn, "sts:AssumeRole", &ghost.arn);
    let elsewhere = Role { arn: format!("arn:aws:iam::{}:role/OnlyAlice", random_account_id()), ..role.clone() };
    let refused = h.assume(assuming(keys(&alice.key), &elsewhere, "s1")).await;
    assert_denied(refused, &alice.arn, "sts:AssumeRole", &elsewhere.arn);

    // A trust policy naming only the account delegates to the caller's identity policies.
    let delegated =
        h.role("Delegated", &trust(&format!("arn:aws:iam::{a}:root"), &["sts:AssumeRole"], None), None).await;
    let refused = h.assume(assuming(keys(&bob.key), &delegated, "s1")).await;
    assert_denied(refused, &bob.arn, "sts:AssumeRole", &delegated.arn);
    h.put_user_policy("bob", "assume", &identity_policy("Allow", "sts:AssumeRole", &delegated.arn)).await;
    h.assume(assuming(keys(&bob.key), &delegated, "s1")).await.unwrap();
    // ... and an identity allow alone never suffices when the trust policy names someone else.
    h.put_user_policy("bob", "assume-all", &identity_policy("Allow", "sts:AssumeRole", "*")).await;
    let refused = h.assume(assuming(keys(&bob.key), &role, "s1")).await;
    assert_denied(refused, &bob.arn, "sts:AssumeRole", &role.arn);

    // An explicit deny wins over a trust policy naming the caller.
    h.assume(assuming(keys(&alice.key), &role, "s1")).await.unwrap();
    h.put_user_policy("alice", "fence", &identity_policy("Deny", "sts:AssumeRole", &role.arn)).await;
    let refused = h.assume(assuming(keys(&alice.key), &role, "s2")).await;
    assert_denied(refused, &alice.arn, "sts:AssumeRole", &role.arn);

    // The root may not assume roles, even one trusting the account (§3.3).
    let root = h.root_key.clone();
    let e = error(h.assume(assuming(keys(&root), &delegated, "s1")).await);
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::AccessDenied, "Roles may not be assumed by root accounts."));

    // Nor may a federated user (§4.1).
    let federated = h
        .client
        .get_federation_token(pb::GetFederationTokenRequest {
            caller: keys(&bob.key),
            name: "fed-bob".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .credentials
        .unwrap();
    assert_code(h.assume(assuming(session(&federated), &delegated, "s1")).await, ErrorCode::AccessDenied);
}

#[tokio::test]
async fn an_external_id_condition_needs_the_right_external_id() {
    let mut h = start().await;
    let alice = h.user("alice").await;
    let condition = json!({"StringEquals": {"sts:ExternalId": "partner-7781"}});
    let role = h.role("Partner", &trust(&alice.arn, &["sts:AssumeRole"], Some(condition)), None).await;
    let with = |id: Option<&str>| {
        let mut request = assuming(keys(&alice.key), &role, "partner");
        request.external_id = id.map(str::to_owned);
        request
    };
    let (missing, wrong, right) = (with(None), with(Some("partner-0000")), with(Some("partner-7781")));
    assert_denied(h.assume(missing).await, &alice.arn, "sts:AssumeRole", &role.arn);
    assert_denied(h.assume(wrong).await, &alice.arn, "sts:AssumeRole", &role.arn);
    h.assume(right).await.unwrap();
    // A malformed one is a model violation.
    assert_code(h.assume(with(Some("x"))).await, ErrorCode::ValidationError);
}

#[tokio::test]
async fn an_mfa_condition_needs_a_fresh_code_of_an_enabled_device() {
    let mut h = start().await;
    let a = h.account.clone();
    let alice = h.user("alice").await;
    let device = h
        .identity
        .create_virtual_mfa_device(ipb::CreateVirtualMfaDeviceRequest {
            account_id: a.clone(),
            virtual_mfa_device_name: "alice-phone".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .virtual_mfa_device
        .unwrap();
    let seed = TotpSeed::from_base32(std::str::from_utf8(&device.base32_string_seed).unwrap()).unwrap();
    let serial = device.serial_number.clone();
    // The identity service checks codes against the fake clock.
    let code = |at: u64| format_code(totp_at(&seed, at));
    let now = h.clock.secs();
    h.identity
        .enable_mfa_device(ipb::EnableMfaDeviceRequest {
            account_id: a.clone(),
            user_name: "alice".into(),
            serial_number: serial.clone(),
            authentication_code1: code(now - 30),
            authentication_code2: code(now),
        })
        .await
        .unwrap();
    let condition = json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}});
    let role = h.role("Guarded", &trust(&alice.arn, &["sts:AssumeRole"], Some(condition)), None).await;
    let with = |serial: Option<&str>, code: Option<String>| {
        let mut request = assuming(keys(&alice.key), &role, "mfa");
        request.serial_number = serial.map(str::to_owned);
        request.token_code = code;
        request
    };

    // Without MFA: the trust condition fails.
    assert_denied(h.assume(with(None, None)).await, &alice.arn, "sts:AssumeRole", &role.arn);
    // A wrong code (none of the window's), or half the pair, is refused outright.
    let valid: Vec<String> = [now - 30, now, now + 30].iter().map(|&t| code(t)).collect();
    let wrong = (0..).map(|i| format!("{:06}", (123_456 + i) % 1_000_000)).find(|c| !valid.contains(c)).unwrap();
    let e = error(h.assume(with(Some(&serial), Some(wrong))).await);
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::AccessDenied, "MultiFactorAuthentication failed with invalid MFA one time pass code.")
    );
    assert_code(h.assume(with(Some(&serial), None)).await, ErrorCode::AccessDenied);
    // The next code (the enabling codes are used up) passes, and the session remembers it.
    let next = code(now + 30);
    let out = h.assume(with(Some(&serial), Some(next.clone()))).await.unwrap();
    assert!(h.verify(&out.credentials.unwrap()).await.unwrap().mfa_authenticated);
    // A code is accepted once.
    let e = error(h.assume(with(Some(&serial), Some(next))).await);
    assert_eq!(e.code, ErrorCode::AccessDenied);

    // GetSessionToken with MFA makes a session that satisfies the condition without a new code.
    h.clock.advance(30);
    let later = h.clock.secs();
    let token = h
        .client
        .get_session_token(pb::GetSessionTokenRequest {
            caller: keys(&alice.key),
            serial_number: Some(serial.clone()),
            token_code: Some(code(later + 30)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .credentials
        .unwrap();
    assert!(h.verify(&token).await.unwrap().mfa_authenticated);
    h.assume(assuming(session(&token), &role, "from-mfa-session")).await.unwrap();
}

#[tokio::test]
async fn durations_names_and_tag_counts_are_validated() {
    let mut h = start().await;
    let a = h.account.clone();
    let alice = h.user("alice").await;
    let short = h.role("Short", &trust(&alice.arn, &["sts:AssumeRole"], None), None).await;
    let long = h.role("Long", &trust(&alice.arn, &["sts:AssumeRole"], None), Some(43_200)).await;
    let long_role_arn = long.arn.clone();
    let next = h.role("Next", &trust(&long_role_arn, &["sts:AssumeRole"], None), Some(43_200)).await;
    let with = |role: &Role, caller: Option<pb::Caller>, duration: i32| {
        let mut request = assuming(caller, role, "session");
        request.duration_seconds = Some(duration);
        request
    };

    let e = error(h.assume(with(&long, keys(&alice.key), 899)).await);
    assert_eq!(e.code.http_status(), 400);
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::ValidationError,
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: \
         Member must have value greater than or equal to 900"
        )
    );
    assert_code(h.assume(with(&long, keys(&alice.key), 43_201)).await, ErrorCode::ValidationError);
    let e = error(h.assume(with(&short, keys(&alice.key), 7200)).await);
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::ValidationError, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    );
    let now = h.clock.secs();
    let out = h.assume(with(&long, keys(&alice.key), 43_200)).await.unwrap();
    let long_session = out.credentials.unwrap();
    assert_eq!(secs(long_session.expiration.as_ref()), now + 43_200);

    // Role chaining: at most one hour, whatever the role allows.
    let e = error(h.assume(with(&next, session(&long_session), 7200)).await);
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::ValidationError,
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
        )
    );
    let chained = h.assume(with(&next, session(&long_session), 3600)).await.unwrap();
    let chained = chained.credentials.unwrap();
    assert_eq!(secs(chained.expiration.as_ref()), now + 3600);
    let claims = h.verify(&chained).await.unwrap();
    assert_eq!(claims.chain_depth, 1);
    assert_eq!(claims.principal_arn, format!("arn:aws:sts::{a}:assumed-role/Next/session"));

    // RoleSessionName: 2–64 characters of [\w+=,.@-].
    let mut bad = assuming(keys(&alice.key), &long, "not allowed!");
    let e = error(h.assume(bad.clone()).await);
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::ValidationError,
            r"1 validation error detected: Value 'not allowed!' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*"
        )
    );
    bad.role_session_name = "x".into();
    assert_code(h.assume(bad.clone()).await, ErrorCode::ValidationError);
    bad.role_session_name = "y".repeat(65);
    assert_code(h.assume(bad).await, ErrorCode::ValidationError);

    // At most 50 session tags (checked before the trust policy).
    let mut tagged = assuming(keys(&alice.key), &long, "tagged");
    tagged.tags = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_code(h.assume(tagged).await, ErrorCode::ValidationError);
}

/// An inline session policy of well over 2,048 non-white characters.
fn long_policy() -> String {
    let actions: Vec<String> = (0..130).map(|i| format!("s3:Action{i:04}")).collect();
    let policy =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]});
    policy.to_string()
}

#[tokio::test]
async fn session_policies_are_checked_and_their_packed_size_reported() {
    let mut h = start().await;
    let alice = h.user("alice").await;
    let role = h.role("Scoped", &trust(&alice.arn, &["sts:AssumeRole", "sts:TagSession"], None), None).await;
    let with = |policy: Option<String>, tags: Vec<tessera_proto::common::v1::Tag>| {
        let mut request = assuming(keys(&alice.key), &role, "scoped");
        request.policy = policy;
        request.tags = tags;
        request
    };

    assert_code(h.assume(with(Some("{not json".into()), vec![])).await, ErrorCode::MalformedPolicyDocument);
    let bad_effect = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"s3:*","Resource":"*"}]}"#;
    let e = error(h.assume(with(Some(bad_effect.into()), vec![])).await);
    assert_eq!((e.code, e.code.http_status()), (ErrorCode::MalformedPolicyDocument, 400));

    let long = long_policy();
    let chars = long.chars().filter(|c| !c.is_whitespace()).count();
    assert!((2049..2300).contains(&chars), "{chars}");
    let e = error(h.assume(with(Some(long), vec![])).await);
    assert_eq!((e.code, e.code.http_status()), (ErrorCode::PackedPolicyTooLarge, 400));
    assert!(e.message.contains("% of allotted space"), "{}", e.message);
    assert!(!e.message.contains(" 100%"), "over the limit cannot be 100%: {}", e.message);

    // A small policy uses a little of the budget; tags use more of it; big tags overflow it.
    let small = identity_policy("Allow", "s3:GetObject", "*");
    let alone = h.assume(with(Some(small.clone()), vec![])).await.unwrap().packed_policy_size;
    assert!((1..=10).contains(&alone), "{alone}");
    let tags = vec![tag("team", "core"), tag("project", "apollo")];
    let with_tags = h.assume(with(Some(small.clone()), tags)).await.unwrap().packed_policy_size;
    assert!(with_tags > alone, "{with_tags} > {alone}");
    let big_tags: Vec<_> = (0..6).map(|i| tag(&format!("{i}{}", "k".repeat(127)), &"v".repeat(256))).collect();
    let e = error(h.assume(with(Some(small.clone()), big_tags)).await);
    assert_eq!(e.code, ErrorCode::PackedPolicyTooLarge);

    // Managed policies as session policies, AWS's or the account's; an unknown one is malformed.
    let mut request = with(Some(small), vec![]);
    request.policy_arns = vec![pb::PolicyDescriptorType { arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into() }];
    let managed = h.assume(request.clone()).await.unwrap().packed_policy_size;
    assert!(managed > alone, "{managed} > {alone}");
    request.policy_arns = vec![pb::PolicyDescriptorType { arn: "arn:aws:iam::aws:policy/NoSuchPolicy".into() }];
    assert_code(h.assume(request).await, ErrorCode::MalformedPolicyDocument);
}

#[tokio::test]
async fn session_tags_need_tag_session_and_transitive_keys_follow_the_chain() {
    let mut h = start().await;
    let alice = h.user("alice").await;
    let plain = h.role("Plain", &trust(&alice.arn, &["sts:AssumeRole"], None), None).await;
    let tagged = h.role("Tagged", &trust(&alice.arn, &["sts:AssumeRole", "sts:TagSession"], None), None).await;
    let tagged_arn = tagged.arn.clone();
    let next = h.role("Next", &trust(&tagged_arn, &["sts:AssumeRole", "sts:TagSession"], None), None).await;
    let with = |role: &Role, caller: Option<pb::Caller>, tags: &[(&str, &str)], transitive: &[&str]| {
        let mut request = assuming(caller, role, "tags");
        request.tags = tags.iter().map(|(k, v)| tag(k, v)).collect();
        request.transitive_tag_keys = transitive.iter().map(|k| (*k).to_owned()).collect();
        request
    };
    let two = [("Project", "apollo"), ("Team", "core")];

    let refused = h.assume(with(&plain, keys(&alice.key), &two, &[])).await;
    assert_denied(refused, &alice.arn, "sts:TagSession", &plain.arn);
    // Without tags the same role is fine.
    h.assume(with(&plain, keys(&alice.key), &[], &[])).await.unwrap();

    let out = h.assume(with(&tagged, keys(&alice.key), &two, &["Project"])).await.unwrap();
    let first = out.credentials.unwrap();
    let claims = h.verify(&first).await.unwrap();
    let mut got: Vec<(String, String)> = claims.tags.into_iter().map(|t| (t.key, t.value)).collect();
    got.sort();
    assert_eq!(got, [("Project".to_owned(), "apollo".to_owned()), ("Team".to_owned(), "core".to_owned())]);

    // Only the transitive key passes to the chained session.
    let chained = h.assume(with(&next, session(&first), &[], &[])).await.unwrap().credentials.unwrap();
    let claims = h.verify(&chained).await.unwrap();
    let got: Vec<(String, String)> = claims.tags.into_iter().map(|t| (t.key, t.value)).collect();
    assert_eq!(got, [("Project".to_owned(), "apollo".to_owned())]);
    // An inherited transitive key cannot be set again; a transitive key must be among the tags.
    let again = h.assume(with(&next, session(&first), &[("project", "hermes")], &[])).await;
    assert_code(again, ErrorCode::ValidationError);
    let stray = h.assume(with(&tagged, keys(&alice.key), &two, &["Cost"])).await;
    assert_code(stray, ErrorCode::ValidationError);
    let reserved = h.assume(with(&tagged, keys(&alice.key), &[("aws:team", "x")], &[])).await;
    assert_code(reserved, ErrorCode::ValidationError);
}

#[tokio::test]
async fn a_source_identity_needs_permission_and_persists_along_the_chain() {
    let mut h = start().await;
    let alice = h.user("alice").await;
    let plain = h.role("Plain", &trust(&alice.arn, &["sts:AssumeRole"], None), None).await;
    let traced = h.role("Traced", &trust(&alice.arn, &["sts:AssumeRole", "sts:SetSourceIdentity"], None), None).await;
    let traced_arn = traced.arn.clone();
    let next = h.role("Next", &trust(&traced_arn, &["sts:AssumeRole"], None), None).await;
    let with = |role: &Role, caller: Option<pb::Caller>, identity: Option<&str>| {
        let mut request = assuming(caller, role, "traced");
        request.source_identity = identity.map(str::to_owned);
        request
    };

    let refused = h.assume(with(&plain, keys(&alice.key), Some("alice@corp"))).await;
    assert_denied(refused, &alice.arn, "sts:SetSourceIdentity", &plain.arn);
    assert_code(h.assume(with(&traced, keys(&alice.key), Some("aws:alice"))).await, ErrorCode::ValidationError);

    let out = h.assume(with(&traced, keys(&alice.key), Some("alice@corp"))).await.unwrap();
    assert_eq!(out.source_identity.as_deref(), Some("alice@corp"));
    let first = out.credentials.unwrap();
    assert_eq!(h.verify(&first).await.unwrap().source_identity.as_deref(), Some("alice@corp"));

    // It persists into a chained session without being passed again (and without the permission).
    let out = h.assume(with(&next, session(&first), None)).await.unwrap();
    assert_eq!(out.source_identity.as_deref(), Some("alice@corp"));
    let chained = out.credentials.unwrap();
    assert_eq!(h.verify(&chained).await.unwrap().source_identity.as_deref(), Some("alice@corp"));
    // Passing the same value again is fine; changing it is not.
    h.assume(with(&next, session(&first), Some("alice@corp"))).await.unwrap();
    assert_code(h.assume(with(&next, session(&first), Some("mallory"))).await, ErrorCode::ValidationError);
}

#[tokio::test]
async fn get_session_token_serves_long_term_keys_only() {
    let mut h = start().await;
    let a = h.account.clone();
    let alice = h.user("alice").await;
    let root = h.root_key.clone();
    let now = h.clock.secs();
    let client = h.client.clone();
    let token = |caller: Option<pb::Caller>, duration: Option<i32>| {
        let mut client = client.clone();
        async move {
            let request = pb::GetSessionTokenRequest { caller, duration_seconds: duration, ..Default::default() };
            client.get_session_token(request).await.map(|r| r.into_inner().credentials.unwrap())
        }
    };

    let creds = token(keys(&alice.key), None).await.unwrap();
    assert!(creds.access_key_id.starts_with("ASIA"));
    assert_eq!(creds.secret_access_key.len(), 40);
    assert_eq!(secs(creds.expiration.as_ref()), now + 43_200);
    let longest = token(keys(&alice.key), Some(129_600)).await.unwrap();
    assert_eq!(secs(longest.expiration.as_ref()), now + 129_600);
    // The root's are capped at an hour, silently.
    let capped = token(keys(&root), Some(7200)).await.unwrap();
    assert_eq!(secs(capped.expiration.as_ref()), now + 3600);
    let capped = token(keys(&root), None).await.unwrap();
    assert_eq!(secs(capped.expiration.as_ref()), now + 3600);

    let e = error(token(session(&creds), None).await);
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::AccessDenied, "Cannot call GetSessionToken with session credentials")
    );
    let e = error(token(keys(&alice.key), Some(129_601)).await);
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::ValidationError,
            "1 validation error detected: Value '129601' at 'durationSeconds' failed to satisfy constraint: \
         Member must have value less than or equal to 129600"
        )
    );
    assert_code(token(keys(&alice.key), Some(899)).await, ErrorCode::ValidationError);

    // The session is the user's.
    let who = h.whoami(session(&creds)).await.unwrap();
    assert_eq!((who.user_id, who.account, who.arn), (alice.user_id.clone(), a.clone(), alice.arn.clone()));
    let claims = h.verify(&creds).await.unwrap();
    assert_eq!((claims.kind.as_str(), claims.principal_arn.as_str()), ("SessionToken", alice.arn.as_str()));
    assert_eq!(claims.role_arn, None);
}

#[tokio::test]
async fn get_federation_token_names_the_federated_user() {
    let mut h = start().await;
    let a = h.account.clone();
    let alice = h.user("alice").await;
    let root = h.root_key.clone();
    let now = h.clock.secs();
    let client = h.client.clone();
    let federate = |caller: Option<pb::Caller>, name: &str, duration: Option<i32>, policy: Option<String>| {
        let mut client = client.clone();
        let request = pb::GetFederationTokenRequest {
            caller,
            name: name.into(),
            duration_seconds: duration,
            policy,
            ..Default::default()
        };
        async move { client.get_federation_token(request).await.map(tonic::Response::into_inner) }
    };

    let small = identity_policy("Allow", "s3:GetObject", "*");
    let out = federate(keys(&alice.key), "Bob", None, Some(small)).await.unwrap();
    let user = out.federated_user.unwrap();
    assert_eq!(user.federated_user_id, format!("{a}:Bob"));
    assert_eq!(user.arn, format!("arn:aws:sts::{a}:federated-user/Bob"));
    assert!(out.packed_policy_size > 0);
    let creds = out.credentials.unwrap();
    assert!(creds.access_key_id.starts_with("ASIA"));
    assert_eq!(secs(creds.expiration.as_ref()), now + 43_200);
    let who = h.whoami(session(&creds)).await.unwrap();
    assert_eq!((who.user_id, who.account, who.arn), (user.federated_user_id.clone(), a.clone(), user.arn.clone()));
    assert_eq!(h.verify(&creds).await.unwrap().kind, "FederatedUser");

    let capped = federate(keys(&root), "Ops", Some(7200), None).await.unwrap();
    assert_eq!(secs(capped.credentials.unwrap().expiration.as_ref()), now + 3600);

    let e = error(federate(session(&creds), "Carol", None, None).await);
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::AccessDenied, "Cannot call GetFederationToken with session credentials")
    );
    let e = error(federate(keys(&alice.key), "no spaces", None, None).await);
    assert_eq!(e.code, ErrorCode::ValidationError);
    assert!(e.message.contains("at 'name' failed to satisfy constraint"), "{}", e.message);
    assert_code(federate(keys(&alice.key), "B", None, None).await, ErrorCode::ValidationError);
    assert_code(federate(keys(&alice.key), &"n".repeat(33), None, None).await, ErrorCode::ValidationError);
    assert_code(federate(keys(&alice.key), "Bob", Some(129_601), None).await, ErrorCode::ValidationError);
    assert_code(federate(keys(&alice.key), "Bob", None, Some("[]".into())).await, ErrorCode::MalformedPolicyDocument);
}

#[tokio::test]
async fn get_access_key_info_finds_the_account_of_either_kind_of_key() {
    let mut h = start().await;
    let a = h.account.clone();
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let role = h.role("R", &trust(&alice.arn, &["sts:AssumeRole"], None), None).await;
    let temporary = h.assume(assuming(keys(&alice.key), &role, "sess")).await.unwrap().credentials.unwrap();
    for key in [bob.key.clone(), temporary.access_key_id.clone(), h.root_key.clone()] {
        let request = pb::GetAccessKeyInfoRequest { caller: keys(&alice.key), access_key_id: key };
        assert_eq!(h.client.get_access_key_info(request).await.unwrap().into_inner().account, a);
    }
    // Temporary credentials may ask too.
    let request = pb::GetAccessKeyInfoRequest { caller: session(&temporary), access_key_id: bob.key.clone() };
    assert_eq!(h.client.get_access_key_info(request).await.unwrap().into_inner().account, a);
    let request = pb::GetAccessKeyInfoRequest { caller: keys(&alice.key), access_key_id: "not a key".into() };
    assert_code(h.client.get_access_key_info(request).await, ErrorCode::ValidationError);
}

#[tokio::test]
async fn authorization_messages_decode_only_in_their_account() {
    let mut h = start().await;
    let a = h.account.clone();
    let alice = h.user("alice").await;
    let decoded = json!({
        "allowed": false,
        "explicitDeny": false,
        "matchedStatements": {"items": []},
        "failures": {"items": []},
        "context": {
            "principal": {"id": alice.user_id, "name": "alice", "arn": alice.arn},
            "action": "s3:GetObject",
            "resource": "arn:aws:s3:::bucket/key",
            "conditions": {"items": []}
        }
    });
    let encoded = h.sts.encode_authorization_message(&Account::new(&a).unwrap(), &decoded).unwrap();
    let client = h.client.clone();
    let decode = |message: &str| {
        let mut client = client.clone();
        let request =
            pb::DecodeAuthorizationMessageRequest { caller: keys(&alice.key), encoded_message: message.into() };
        async move { client.decode_authorization_message(request).await.map(|r| r.into_inner().decoded_message) }
    };

    let text = decode(&encoded).await.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), decoded);

    let e = error(decode("garbage-that-is-no-message").await);
    assert_eq!((e.code, e.code.http_status()), (ErrorCode::InvalidAuthorizationMessage, 400));
    assert_eq!(e.code.as_str(), "InvalidAuthorizationMessageException");
    assert_code(decode("").await, ErrorCode::InvalidAuthorizationMessage);
    assert_code(decode(&"A".repeat(10_241)).await, ErrorCode::InvalidAuthorizationMessage);
    // Flip one character of a good message.
    let mut tampered = encoded.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    assert_code(decode(std::str::from_utf8(&tampered).unwrap()).await, ErrorCode::InvalidAuthorizationMessage);
    // A message made for another account does not open here.
    let other = Account::new(&random_account_id()).unwrap();
    let foreign = h.sts.encode_authorization_message(&other, &decoded).unwrap();
    assert_code(decode(&foreign).await, ErrorCode::InvalidAuthorizationMessage);
}

/// `token` with one character in the middle changed.
fn tamper(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn bad_credentials_get_the_authentication_codes() {
    let mut h = start().await;
    let a = h.account.clone();
    let alice = h.user("alice").await;
    let role = h.role("R", &trust(&alice.arn, &["sts:AssumeRole"], None), None).await;

    // Unknown and inactive access keys.
    let e = error(h.whoami(keys("AKIAIOSFODNN7EXAMPLE")).await);
    assert_eq!(
        (e.code, e.code.http_status(), e.message.as_str()),
        (ErrorCode::InvalidClientTokenId, 403, INVALID_TOKEN)
    );
    let spare = h.access_key("alice").await;
    h.whoami(keys(&spare)).await.unwrap();
    h.identity
        .update_access_key(ipb::UpdateAccessKeyRequest {
            account_id: a.clone(),
            user_name: Some("alice".into()),
            access_key_id: spare.clone(),
            status: ipb::AccessKeyStatus::Inactive.into(),
        })
        .await
        .unwrap();
    assert_code(h.whoami(keys(&spare)).await, ErrorCode::InvalidClientTokenId);
    assert_code(h.assume(assuming(keys(&spare), &role, "sess")).await, ErrorCode::InvalidClientTokenId);

    let mut request = assuming(keys(&alice.key), &role, "sess");
    request.duration_seconds = Some(900);
    let first = h.assume(request.clone()).await.unwrap().credentials.unwrap();
    let second = h.assume(request).await.unwrap().credentials.unwrap();

    // A tampered token, a token presented with another session's key id, a key id without its token.
    let forged = pb::Credentials { session_token: tamper(&first.session_token), ..first.clone() };
    let e = error(h.whoami(session(&forged)).await);
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidClientTokenId, INVALID_TOKEN));
    assert_code(h.verify(&forged).await, ErrorCode::InvalidClientTokenId);
    let swapped = pb::Credentials { access_key_id: second.access_key_id.clone(), ..first.clone() };
    assert_code(h.whoami(session(&swapped)).await, ErrorCode::InvalidClientTokenId);
    assert_code(h.verify(&swapped).await, ErrorCode::InvalidClientTokenId);
    assert_code(h.whoami(keys(&first.access_key_id)).await, ErrorCode::InvalidClientTokenId);

    // Expiry, on the fake clock: valid up to the last second, then ExpiredToken.
    h.clock.advance(899);
    h.whoami(session(&first)).await.unwrap();
    h.clock.advance(2);
    let e = error(h.whoami(session(&first)).await);
    assert_eq!(
        (e.code, e.code.http_status(), e.message.as_str()),
        (ErrorCode::ExpiredToken, 403, "The security token included in the request is expired")
    );
    assert_code(h.verify(&first).await, ErrorCode::ExpiredToken);
    assert_code(h.assume(assuming(session(&first), &role, "sess")).await, ErrorCode::ExpiredToken);

    // No caller at all, on every call that needs one.
    let missing = |e: tessera_proto::ServiceError| {
        assert_eq!((e.code, e.code.http_status()), (ErrorCode::MissingAuthenticationToken, 403), "{}", e.message);
    };
    let mut c = h.client.clone();
    missing(error(c.get_caller_identity(pb::GetCallerIdentityRequest { caller: None }).await));
    missing(error(c.assume_role(assuming(None, &role, "sess")).await));
    missing(error(c.get_session_token(pb::GetSessionTokenRequest::default()).await));
    missing(error(
        c.get_federation_token(pb::GetFederationTokenRequest { name: "Bob".into(), ..Default::default() }).await,
    ));
    missing(error(c.get_access_key_info(pb::GetAccessKeyInfoRequest { caller: None, access_key_id: alice.key }).await));
    let decode = pb::DecodeAuthorizationMessageRequest { caller: None, encoded_message: "x".into() };
    missing(error(c.decode_authorization_message(decode).await));
}

#[tokio::test]
async fn revoked_sessions_are_refused_and_later_ones_are_not() {
    let mut h = start().await;
    let a = h.account.clone();
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let both = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [alice.arn, bob.arn]}, "Action": "sts:AssumeRole"
    }]});
    let role = h.role("Shared", &both.to_string(), None).await;
    let other = h.role("Other", &trust(&alice.arn, &["sts:AssumeRole"], None), None).await;
    let assume = |who: &common::User, role: &Role| assuming(keys(&who.key), role, "sess");

    let s1 = h.assume(assume(&alice, &role)).await.unwrap().credentials.unwrap();
    let s2 = h.assume(assume(&alice, &role)).await.unwrap().credentials.unwrap();
    let s1_id = h.verify(&s1).await.unwrap().session_id;

    // One session, by id.
    h.client.revoke_session(pb::RevokeSessionRequest { account_id: a.clone(), session_id: s1_id }).await.unwrap();
    let e = error(h.verify(&s1).await);
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidClientTokenId, REVOKED));
    let e = error(h.whoami(session(&s1)).await);
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidClientTokenId, REVOKED));
    h.verify(&s2).await.unwrap();

    // Every session of a role issued up to now; one issued a second later is fine.
    let on_other = h.assume(assume(&alice, &other)).await.unwrap().credentials.unwrap();
    let bobs = h.assume(assume(&bob, &role)).await.unwrap().credentials.unwrap();
    let revoke_role =
        pb::RevokeRoleSessionsRequest { account_id: a.clone(), role_arn: role.arn.clone(), issued_before: None };
    h.client.revoke_role_sessions(revoke_role).await.unwrap();
    assert_eq!(error(h.verify(&s2).await).message, REVOKED);
    assert_eq!(error(h.whoami(session(&bobs)).await).message, REVOKED);
    h.verify(&on_other).await.unwrap();
    h.clock.advance(1);
    let s3 = h.assume(assume(&alice, &role)).await.unwrap().credentials.unwrap();
    h.verify(&s3).await.unwrap();
    let bobs = h.assume(assume(&bob, &role)).await.unwrap().credentials.unwrap();

    // Every session made from a user's keys: GetSessionToken's and AssumeRole's (chained too).
    let token = h
        .client
        .get_session_token(pb::GetSessionTokenRequest { caller: keys(&alice.key), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .credentials
        .unwrap();
    let from_token = h.assume(assuming(session(&token), &other, "via-token")).await.unwrap();
    let from_token = from_token.credentials.unwrap();
    let revoke_alice = pb::RevokePrincipalSessionsRequest {
        account_id: a.clone(),
        principal_arn: alice.arn.clone(),
        issued_before: None,
    };
    h.client.revoke_principal_sessions(revoke_alice).await.unwrap();
    for revoked in [&token, &s3, &on_other, &from_token] {
        let e = error(h.verify(revoked).await);
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidClientTokenId, REVOKED));
    }
    h.verify(&bobs).await.unwrap();
    // The user's own keys still work, and so do its next sessions.
    h.whoami(keys(&alice.key)).await.unwrap();
    h.clock.advance(1);
    let fresh = h.assume(assume(&alice, &role)).await.unwrap().credentials.unwrap();
    h.verify(&fresh).await.unwrap();

    // Only the account's own principals.
    let foreign = format!("arn:aws:iam::{}:role/Shared", random_account_id());
    let revoke = pb::RevokeRoleSessionsRequest { account_id: a.clone(), role_arn: foreign, issued_before: None };
    assert_code(h.client.revoke_role_sessions(revoke).await, ErrorCode::InvalidInput);
    let revoke = pb::RevokeSessionRequest { account_id: a, session_id: String::new() };
    assert_code(h.client.revoke_session(revoke).await, ErrorCode::InvalidInput);
}

/// Polls `request` on `replica` every 10 ms until it is refused as revoked, for at most a second;
/// returns how long that took.
async fn poll_until_refused(mut replica: StsServiceClient<Channel>, request: pb::VerifySessionRequest) -> Duration {
    let started = Instant::now();
    loop {
        match replica.verify_session(request.clone()).await {
            Err(status) => {
                let e = tessera_proto::ServiceError::from_status(&status);
                assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidClientTokenId, REVOKED));
                return started.elapsed();
            }
            Ok(_) if started.elapsed() > Duration::from_secs(1) => {
                panic!("the other replica still accepts the session")
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// The master key of the Redis test. Fixed: the token key ring is a global record named after the
/// master key, and a fixed key keeps the Redis from collecting one ring per run.
fn redis_master_key() -> MasterKey {
    MasterKey::generate(&mut SeededRandom::new(0x5EED_0F7E_55E2))
}

#[tokio::test]
async fn a_revocation_on_one_replica_reaches_another_within_a_second() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let connect = || async {
        RedisStore::connect(&url).await.unwrap_or_else(|e| panic!("Redis must be reachable at `{url}`: {e}"))
    };
    let redis = connect().await;
    let store_a = Arc::new(AnyStore::from(redis.clone()));
    let store_b = Arc::new(AnyStore::from(connect().await));
    let clock = common::FakeClock::new();

    let account = random_account_id();
    let mut h = start_on(Arc::clone(&store_a), &clock, redis_master_key(), &account).await;
    let (_replica_b, channel_b) = serve(store_b, common::env(&clock, redis_master_key())).await;
    let mut b = StsServiceClient::new(channel_b);

    let alice = h.user("alice").await;
    let role = h.role("Replicated", &trust(&alice.arn, &["sts:AssumeRole"], None), None).await;
    let first = h.assume(assuming(keys(&alice.key), &role, "one")).await.unwrap().credentials.unwrap();
    let second = h.assume(assuming(keys(&alice.key), &role, "two")).await.unwrap().credentials.unwrap();
    let verify = |credentials: &pb::Credentials| pb::VerifySessionRequest {
        access_key_id: credentials.access_key_id.clone(),
        session_token: credentials.session_token.clone(),
    };

    // Issued on A, verified on B: B shares A's key ring through the store.
    let on_a = h.verify(&first).await.unwrap();
    let on_b = b.verify_session(verify(&first)).await.unwrap().into_inner();
    assert_eq!(on_b, on_a);
    let who = b.get_caller_identity(pb::GetCallerIdentityRequest { caller: session(&first) }).await.unwrap();
    assert_eq!(who.into_inner().account, account);

    // Revoked on A: B refuses it within a second (polled, never slept on).
    let request = pb::RevokeSessionRequest { account_id: account.clone(), session_id: on_a.session_id.clone() };
    h.client.revoke_session(request).await.unwrap();
    let took = poll_until_refused(b.clone(), verify(&first)).await;
    assert!(took <= Duration::from_secs(1), "{took:?}");
    b.verify_session(verify(&second)).await.unwrap();

    let request =
        pb::RevokeRoleSessionsRequest { account_id: account.clone(), role_arn: role.arn.clone(), issued_before: None };
    h.client.revoke_role_sessions(request).await.unwrap();
    let took = poll_until_refused(b.clone(), verify(&second)).await;
    assert!(took <= Duration::from_secs(1), "{took:?}");

    // A key rotation on A: B still opens tokens under the old key, and reloads the ring from the
    // store for a token under the new one.
    h.clock.advance(1);
    let old_key = h.assume(assuming(keys(&alice.key), &role, "three")).await.unwrap().credentials.unwrap();
    h.sts.rotate_token_keys().await.unwrap();
    let new_key = h.assume(assuming(keys(&alice.key), &role, "four")).await.unwrap().credentials.unwrap();
    assert_eq!(b.verify_session(verify(&new_key)).await.unwrap().into_inner(), h.verify(&new_key).await.unwrap());
    b.verify_session(verify(&old_key)).await.unwrap();

    redis.purge_namespace(&Namespace::account(&account).unwrap()).await.unwrap();
}

/// Whether `caller` may `action` any S3 object now, by the layers the token service reads for it.
async fn may(h: &common::Harness, caller: &Option<pb::Caller>, action: &str) -> (bool, bool) {
    let caller = caller.clone().unwrap();
    let credentials = tessera_sts::CallerCredentials {
        access_key_id: caller.access_key_id,
        session_token: caller.session_token,
        source_ip: None,
    };
    let caller = h.sts.resolve_caller(&credentials).await.unwrap();
    let layers = h.sts.caller_layers(&caller).await.unwrap();
    let context = h.sts.base_context(&caller, &layers, h.clock.secs());
    let principal = caller.principal();
    let request = tessera_policy::Request::new(&principal, action, "arn:aws:s3:::bucket/key", &context);
    let decision = tessera_policy::authorize(&request, &layers.policies(), tessera_policy::Trace::Off);
    (decision.is_allowed(), layers.orphaned)
}

#[tokio::test]
async fn a_federated_user_is_bound_to_the_user_that_made_it() {
    let mut h = start().await;
    let a = h.account.clone();
    let get_object = identity_policy("Allow", "s3:GetObject", "*");
    let alice = h.user("alice").await;
    h.put_user_policy("alice", "s3", &get_object).await;
    let client = h.client.clone();
    let federate = |key: String| {
        let mut client = client.clone();
        let policy = Some(identity_policy("Allow", "s3:*", "*"));
        async move {
            let request =
                pb::GetFederationTokenRequest { caller: keys(&key), name: "Fed".into(), policy, ..Default::default() };
            client.get_federation_token(request).await.unwrap().into_inner().credentials.unwrap()
        }
    };
    let fed = session(&federate(alice.key.clone()).await);
    // The user's permissions capped by the session policy.
    assert_eq!(may(&h, &fed, "s3:GetObject").await, (true, false));
    assert_eq!(may(&h, &fed, "s3:PutObject").await, (false, false));

    // The user is deleted and another created under the same name, with the same policy.
    h.policy
        .delete_inline_policy(tessera_proto::policy::v1::DeleteInlinePolicyRequest {
            account_id: a.clone(),
            entity: Some(tessera_proto::common::v1::EntityRef { kind: 1, name: "alice".into() }),
            policy_name: "s3".into(),
        })
        .await
        .unwrap();
    let request = ipb::DeleteAccessKeyRequest {
        account_id: a.clone(),
        user_name: Some("alice".into()),
        access_key_id: alice.key.clone(),
    };
    h.identity.delete_access_key(request).await.unwrap();
    h.identity.delete_user(ipb::DeleteUserRequest { account_id: a.clone(), user_name: "alice".into() }).await.unwrap();
    let again = h.user("alice").await;
    assert_ne!(again.user_id, alice.user_id);
    h.put_user_policy("alice", "s3", &get_object).await;
    assert_eq!(may(&h, &fed, "s3:GetObject").await, (false, true), "the old federated user is orphaned");
    assert_eq!(may(&h, &session(&federate(again.key).await), "s3:GetObject").await, (true, false));

    // A federated user the root made has the root's permissions, capped by its session policy.
    let rooted = session(&federate(h.root_key.clone()).await);
    assert_eq!(may(&h, &rooted, "s3:PutObject").await, (true, false));
    assert_eq!(may(&h, &rooted, "ec2:RunInstances").await, (false, false));
}

/// A federated user's `aws:PrincipalTag/*` are its session tags alone, never the tags of the user
/// that made it; a user's own calls carry the user's tags.
#[tokio::test]
async fn a_federated_users_principal_tags_are_its_session_tags() {
    let mut h = start().await;
    let a = h.account.clone();
    let alice = h.user("alice").await;
    let resource = tessera_proto::common::v1::TaggableRef { kind: 1, id: "alice".into() };
    let request = ipb::TagResourceRequest { account_id: a, resource: Some(resource), tags: vec![tag("team", "a")] };
    h.identity.tag_resource(request).await.unwrap();
    let tags_of = async |caller: Option<pb::Caller>| {
        let caller = caller.unwrap();
        let credentials = tessera_sts::CallerCredentials {
            access_key_id: caller.access_key_id,
            session_token: caller.session_token,
            source_ip: None,
        };
        let caller = h.sts.resolve_caller(&credentials).await.unwrap();
        h.sts.caller_layers(&caller).await.unwrap().principal_tags
    };
    assert_eq!(tags_of(keys(&alice.key)).await, [("team".to_owned(), "a".to_owned())]);
    let request = pb::GetFederationTokenRequest {
        caller: keys(&alice.key),
        name: "Fed".into(),
        policy: Some(identity_policy("Allow", "s3:*", "*")),
        tags: vec![tag("env", "dev")],
        ..Default::default()
    };
    let fed = h.client.clone().get_federation_token(request).await.unwrap().into_inner().credentials.unwrap();
    assert_eq!(tags_of(session(&fed)).await, [("env".to_owned(), "dev".to_owned())]);
}

/// A session verified once is not opened again, and what is checked on every use still is: a
/// tampered or swapped token, expiry, revocation.
#[tokio::test]
async fn verified_sessions_are_remembered_and_still_checked_every_time() {
    let mut h = start().await;
    let alice = h.user("alice").await;
    let role = h.role("reader", &trust(&alice.arn, &["sts:AssumeRole"], None), None).await;
    let mut request = assuming(keys(&alice.key), &role, "sess");
    request.duration_seconds = Some(900);
    let first = h.assume(request.clone()).await.unwrap().credentials.unwrap();
    let second = h.assume(request).await.unwrap().credentials.unwrap();

    let before = h.sts.verified_sessions();
    let session_id = h.verify(&first).await.unwrap().session_id;
    let opened = h.sts.verified_sessions();
    assert_eq!((opened.misses, opened.hits), (before.misses + 1, before.hits));
    h.whoami(session(&first)).await.unwrap();
    let remembered = h.sts.verified_sessions();
    assert_eq!((remembered.misses, remembered.hits), (opened.misses, opened.hits + 1));

    // What is remembered is the token with its key id: anything else is opened (and refused).
    let forged = pb::Credentials { session_token: tamper(&first.session_token), ..first.clone() };
    assert_code(h.whoami(session(&forged)).await, ErrorCode::InvalidClientTokenId);
    let swapped = pb::Credentials { access_key_id: second.access_key_id.clone(), ..first.clone() };
    assert_code(h.whoami(session(&swapped)).await, ErrorCode::InvalidClientTokenId);
    h.whoami(session(&first)).await.unwrap();

    // Revocation and expiry hold for a remembered session.
    h.whoami(session(&second)).await.unwrap();
    h.client.revoke_session(pb::RevokeSessionRequest { account_id: h.account.clone(), session_id }).await.unwrap();
    assert_code(h.whoami(session(&first)).await, ErrorCode::InvalidClientTokenId);
    h.clock.advance(901);
    assert_code(h.whoami(session(&second)).await, ErrorCode::ExpiredToken);
}
