//! `IdentityApi` local and remote: the same script of operations runs against `Identity` in
//! process and against `RemoteIdentity` calling a real tonic server (`grpc::service` over its own
//! `Identity`) on `127.0.0.1:0`, and both answer alike, records field by field and errors code and
//! message (an MFA rejection with its device and reason). Each side has a fresh in-memory store
//! and the same account id, clock and random seed, so ids, secrets and dates agree without
//! normalising them; what a remote record cannot hold (`convert.rs`: sealed secrets, hashes,
//! relations the API does not list with the record) is cleared on both sides before comparing.
//!
//! Then the call rule: a read whose replica was unreachable is sent again (to another replica
//! when there is one), a write is sent once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tessera_credentials::{
    Argon2Params, MasterKey, RandomSource, SeededRandom, SystemRng, TotpSeed, format_code, hotp, step,
};
use tessera_identity::remote::RemoteIdentity;
use tessera_identity::{
    AccessKeyLastUsed, AccessKeyMetadata, Account, AssignmentStatus, AuthorizationDetails, Clock, CreateOidcProvider,
    CreateRole, CreateUser, Env, Error, Identity, IdentityApi, LoginProfile, MfaFailure, MfaRejection, Page,
    PageRequest, Random, ReportState, Taggable, UpdatePasswordPolicy,
};
use tessera_proto::ErrorCode;
use tessera_store::MemoryStore;
use tessera_store::iam::{
    AccountRecord, CredentialReportRecord, EntityKind, GroupRecord, KeyStatus, MfaDeviceRecord, OidcProviderRecord,
    PasswordPolicyRecord, RoleRecord, Tag, UserRecord,
};
// SAML providers
use tessera_identity::{CreateSamlProvider, UpdateSamlProvider};
use tessera_store::iam::SamlProviderRecord;
use tokio::net::TcpListener;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

/// 2026-11-23T10:00:00Z, on a TOTP step boundary.
const START_SECS: u64 = 1_795_428_000;

const TRUST_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const TRUST_LAMBDA: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

#[derive(Debug)]
struct FakeClock(Mutex<SystemTime>);

impl FakeClock {
    fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(UNIX_EPOCH + Duration::from_secs(START_SECS))))
    }

    fn step(&self) -> u64 {
        step(self.now().duration_since(UNIX_EPOCH).unwrap().as_secs())
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A domain with the given clock and the same seeds every time: two of them draw the same ids and
/// secrets for the same calls.
fn identity(clock: &Arc<FakeClock>) -> Identity<MemoryStore> {
    let env = Env {
        clock: Arc::clone(clock) as Arc<dyn Clock>,
        random: Arc::new(Random::new(SeededRandom::new(12))),
        master_key: Arc::new(MasterKey::generate(&mut SeededRandom::new(34))),
        password_params: Argon2Params::FAST_FOR_TESTS,
    };
    Identity::new(Arc::new(MemoryStore::new()), env)
}

/// A fresh random account id.
fn fresh_account() -> Account {
    let mut bytes = [0u8; 12];
    SystemRng::new().unwrap().fill_bytes(&mut bytes);
    let id: String =
        bytes.iter().enumerate().map(|(i, b)| char::from(b'0' + if i == 0 { 1 + b % 9 } else { b % 10 })).collect();
    Account::new(&id).unwrap()
}

/// A server of the test, on `127.0.0.1:0`.
struct Running {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Running {
    /// Stops the server and waits until it has (its listener closed, its connections gone).
    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// Serves `identity` on `127.0.0.1:0`; `gate` sees every call first (it may count or fail it).
async fn serve(
    identity: impl Into<Arc<dyn IdentityApi>>,
    gate: impl Fn() -> Result<(), tonic::Status> + Clone + Send + Sync + 'static,
) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = tonic::service::interceptor::InterceptedService::new(
        tessera_identity::grpc::service(identity),
        move |request: tonic::Request<()>| gate().map(|()| request),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(tonic::transport::Server::builder().add_service(service).serve_with_incoming_shutdown(
        tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
        async {
            stopped.await.ok();
        },
    ));
    Running { addr, stop, task }
}

fn endpoint(addr: std::net::SocketAddr) -> Endpoint {
    Endpoint::from_shared(format!("http://{addr}")).unwrap()
}

/// The remote domain over one server, with the internal-call metadata the gateway sends.
async fn remote_over(addr: std::net::SocketAddr) -> RemoteIdentity {
    let channel: Channel = endpoint(addr).connect().await.unwrap();
    RemoteIdentity::new(channel).with_metadata("tessera-internal", MetadataValue::from_static("00ff"))
}

// ---------------------------------------------------------------------------------------------
// What a step answered, with what a remote record cannot hold cleared.

#[derive(Debug, PartialEq)]
enum Step {
    Done,
    Failed {
        code: ErrorCode,
        message: String,
        mfa: Option<(String, MfaFailure)>,
    },
    Account(AccountRecord),
    Summary(BTreeMap<String, i64>),
    User(UserRecord),
    Users(Page<UserRecord>),
    Group(GroupRecord),
    Groups(Page<GroupRecord>),
    GroupWithUsers(GroupRecord, Page<UserRecord>),
    Role(RoleRecord),
    Roles(Page<RoleRecord>),
    Tags(Page<Tag>),
    Key {
        user_name: String,
        id: String,
        status: KeyStatus,
        secret: String,
        create_date: u64,
    },
    Keys(Page<AccessKeyMetadata>),
    LastUsed(AccessKeyLastUsed),
    Profile(LoginProfile),
    PasswordPolicy(PasswordPolicyRecord),
    NewDevice {
        device: MfaDeviceRecord,
        seed: String,
        qr_png: Vec<u8>,
    },
    Devices(Page<MfaDeviceRecord>),
    Provider(OidcProviderRecord),
    Providers(Vec<OidcProviderRecord>),
    // SAML providers
    SamlProvider(SamlProviderRecord),
    SamlProviders(Vec<SamlProviderRecord>),
    Details(AuthorizationDetails),
    ReportGenerated(ReportState, String),
    Report(CredentialReportRecord),
    /// Issue 14, part A: a shown value, by its `Debug` text.
    Shown(String),
}

fn user_shown(mut u: UserRecord) -> UserRecord {
    u.groups.clear();
    u.access_keys.clear();
    u.login_profile = None;
    u.mfa_devices.clear();
    u.principal.attached.clear();
    u.principal.inline.clear();
    u
}

fn group_shown(mut g: GroupRecord) -> GroupRecord {
    g.members.clear();
    g.principal.attached.clear();
    g.principal.inline.clear();
    g
}

fn role_shown(mut r: RoleRecord) -> RoleRecord {
    r.trust_principal_ids.clear();
    r.principal.attached.clear();
    r.principal.inline.clear();
    r
}

fn device_shown(mut d: MfaDeviceRecord) -> MfaDeviceRecord {
    d.sealed_seed.clear();
    d.last_counter = None;
    d.create_date = 0;
    d
}

/// `GetAccountAuthorizationDetails` lists no keys, login profiles, devices or last sign-in of a
/// user, no members of a group, no description or session duration of a role.
fn details_shown(mut d: AuthorizationDetails) -> AuthorizationDetails {
    for u in &mut d.users {
        u.access_keys.clear();
        u.login_profile = None;
        u.mfa_devices.clear();
        u.password_last_used = None;
    }
    for g in &mut d.groups {
        g.members.clear();
    }
    for r in &mut d.roles {
        r.description = None;
        r.max_session_duration = 0;
        r.trust_principal_ids.clear();
    }
    for p in &mut d.policies {
        p.next_version = 0;
        p.tags.clear();
    }
    d
}

fn page_of<T>(page: Page<T>, f: impl FnMut(T) -> T) -> Page<T> {
    page.map(f)
}

/// Runs one operation and records its answer (or its error, code and message and MFA detail).
fn rec<T>(steps: &mut Vec<Step>, result: Result<T, Error>, f: impl FnOnce(T) -> Step) {
    steps.push(match result {
        Ok(value) => f(value),
        Err(error) => {
            let mfa = error.mfa_rejection().map(|r: &MfaRejection| (r.serial.clone(), r.failure));
            let error = error.into_service_error();
            Step::Failed { code: error.code, message: error.message, mfa }
        }
    });
}

fn done(_: ()) -> Step {
    Step::Done
}

fn codes(clock: &FakeClock, seed: &str) -> (String, String) {
    let seed = TotpSeed::from_base32(seed).unwrap();
    let now = clock.step();
    (format_code(hotp(&seed, now - 1)), format_code(hotp(&seed, now)))
}

fn first(max: i32) -> PageRequest {
    PageRequest { marker: None, max_items: Some(max) }
}

fn after(marker: Option<String>, max: i32) -> PageRequest {
    PageRequest { marker, max_items: Some(max) }
}

/// The script: every kind of operation the gateway calls, with the failures each can return.
#[allow(clippy::too_many_lines)]
async fn script(api: &dyn IdentityApi, a: &Account, clock: &FakeClock) -> Vec<Step> {
    let mut s = Vec::new();
    let steps = &mut s;
    let user = |name: &str| CreateUser { user_name: name.into(), ..CreateUser::default() };

    // Accounts and the report before there is one.
    rec(steps, api.create_account(a).await, Step::Account);
    rec(steps, api.get_credential_report(a).await, Step::Report);

    // Users: create (path, tags), duplicate, invalid name, case-insensitive read, paging, rename.
    let alice = CreateUser {
        path: Some("/eng/".into()),
        user_name: "Alice".into(),
        permissions_boundary: None,
        tags: vec![Tag { key: "team".into(), value: "core".into() }],
    };
    rec(steps, api.create_user(a, alice).await, |u| Step::User(user_shown(u)));
    for name in ["bob", "carol", "dave"] {
        rec(steps, api.create_user(a, user(name)).await, |u| Step::User(user_shown(u)));
    }
    rec(steps, api.create_user(a, user("alice")).await, |u| Step::User(user_shown(u)));
    rec(steps, api.create_user(a, user("bad name!")).await, |u| Step::User(user_shown(u)));
    rec(steps, api.get_user(a, "ALICE").await, |u| Step::User(user_shown(u)));
    rec(steps, api.get_user(a, "nobody").await, |u| Step::User(user_shown(u)));
    let page = api.list_users(a, None, &first(2)).await;
    let marker = page.as_ref().ok().and_then(|p| p.marker.clone());
    assert!(marker.is_some(), "the first page of four users in pages of 2 is truncated");
    rec(steps, page, |p| Step::Users(page_of(p, user_shown)));
    rec(steps, api.list_users(a, None, &after(marker, 2)).await, |p| Step::Users(page_of(p, user_shown)));
    rec(steps, api.list_users(a, Some("/eng/"), &PageRequest::default()).await, |p| {
        Step::Users(page_of(p, user_shown))
    });
    rec(steps, api.list_users(a, None, &first(0)).await, |p| Step::Users(page_of(p, user_shown)));
    rec(steps, api.update_user(a, "bob", Some("/ops/".into()), Some("robert".into())).await, done);
    rec(steps, api.get_user(a, "robert").await, |u| Step::User(user_shown(u)));
    rec(steps, api.get_user(a, "bob").await, |u| Step::User(user_shown(u)));

    // Groups and membership.
    rec(steps, api.create_group(a, None, "devs").await, |g| Step::Group(group_shown(g)));
    rec(steps, api.create_group(a, Some("/x/".into()), "admins").await, |g| Step::Group(group_shown(g)));
    rec(steps, api.create_group(a, None, "DEVS").await, |g| Step::Group(group_shown(g)));
    rec(steps, api.add_user_to_group(a, "devs", "Alice").await, done);
    rec(steps, api.add_user_to_group(a, "devs", "robert").await, done);
    rec(steps, api.add_user_to_group(a, "devs", "nobody").await, done);
    rec(steps, api.get_group(a, "devs", &first(1)).await, |(g, users)| {
        Step::GroupWithUsers(group_shown(g), page_of(users, user_shown))
    });
    rec(steps, api.list_groups(a, None, &PageRequest::default()).await, |p| Step::Groups(page_of(p, group_shown)));
    rec(steps, api.list_groups_for_user(a, "alice", &PageRequest::default()).await, |p| {
        Step::Groups(page_of(p, group_shown))
    });
    rec(steps, api.remove_user_from_group(a, "devs", "robert").await, done);
    rec(steps, api.delete_group(a, "devs").await, done);
    rec(steps, api.update_group(a, "admins", None, Some("operators".into())).await, done);

    // Roles with trust policies.
    let app = CreateRole {
        path: Some("/svc/".into()),
        role_name: "app".into(),
        assume_role_policy_document: TRUST_EC2.into(),
        description: Some("the app".into()),
        max_session_duration: Some(7200),
        permissions_boundary: None,
        tags: vec![Tag { key: "env".into(), value: "prod".into() }],
    };
    rec(steps, api.create_role(a, app.clone()).await, |r| Step::Role(role_shown(r)));
    rec(steps, api.create_role(a, app.clone()).await, |r| Step::Role(role_shown(r)));
    let short = CreateRole { role_name: "short".into(), max_session_duration: Some(100), ..app.clone() };
    rec(steps, api.create_role(a, short).await, |r| Step::Role(role_shown(r)));
    let malformed = CreateRole { role_name: "bad".into(), assume_role_policy_document: "{".into(), ..app.clone() };
    rec(steps, api.create_role(a, malformed).await, |r| Step::Role(role_shown(r)));
    rec(steps, api.create_role(a, CreateRole { role_name: "worker".into(), ..app }).await, |r| {
        Step::Role(role_shown(r))
    });
    rec(steps, api.update_role(a, "app", Some("the new app".into()), Some(3600)).await, done);
    rec(steps, api.update_assume_role_policy(a, "app", TRUST_LAMBDA).await, done);
    rec(steps, api.update_assume_role_policy(a, "app", "{\"Statement\":[]}").await, done);
    rec(steps, api.get_role(a, "APP").await, |r| Step::Role(role_shown(r)));
    rec(steps, api.list_roles(a, None, &first(1)).await, |p| Step::Roles(page_of(p, role_shown)));
    rec(steps, api.list_roles(a, Some("/svc/"), &PageRequest::default()).await, |p| {
        Step::Roles(page_of(p, role_shown))
    });

    // Permissions boundaries: a group cannot have one, an unknown policy is refused.
    let boundary = format!("arn:aws:iam::{}:policy/none", a.id());
    rec(steps, api.set_permissions_boundary(a, EntityKind::Group, "operators", Some(&boundary)).await, done);
    rec(steps, api.set_permissions_boundary(a, EntityKind::User, "Alice", Some(&boundary)).await, done);
    rec(steps, api.set_permissions_boundary(a, EntityKind::Role, "app", None).await, done);

    // Tags on users and roles, with paging and the quota.
    let tags = |n: usize| (0..n).map(|i| Tag { key: format!("k{i}"), value: format!("v{i}") }).collect::<Vec<_>>();
    let alice = Taggable::User("Alice".into());
    rec(steps, api.tag_resource(a, &alice, tags(3)).await, done);
    let page = api.list_resource_tags(a, &alice, &first(2)).await;
    let marker = page.as_ref().ok().and_then(|p| p.marker.clone());
    rec(steps, page, Step::Tags);
    rec(steps, api.list_resource_tags(a, &alice, &after(marker, 2)).await, Step::Tags);
    rec(steps, api.untag_resource(a, &alice, &["k0".into(), "team".into()]).await, done);
    rec(steps, api.tag_resource(a, &alice, tags(60)).await, done);
    rec(steps, api.tag_resource(a, &Taggable::Role("ghost".into()), tags(1)).await, done);
    rec(steps, api.list_resource_tags(a, &Taggable::Role("app".into()), &PageRequest::default()).await, Step::Tags);

    // Access keys: the secret is shown once, two per user, status, last use.
    let mut key_ids = Vec::new();
    for _ in 0..3 {
        let created = api.create_access_key(a, "Alice").await;
        if let Ok(key) = &created {
            key_ids.push(key.access_key_id.clone());
        }
        rec(steps, created, |k| {
            assert!(!k.secret_access_key.expose().is_empty());
            Step::Key {
                user_name: k.user_name,
                id: k.access_key_id,
                status: k.status,
                secret: k.secret_access_key.expose().to_owned(),
                create_date: k.create_date,
            }
        });
    }
    assert_eq!(key_ids.len(), 2, "two keys per user");
    rec(steps, api.list_access_keys(a, "Alice", &first(1)).await, Step::Keys);
    rec(steps, api.update_access_key(a, "Alice", &key_ids[0], KeyStatus::Inactive).await, done);
    rec(steps, api.get_access_key_last_used(a, &key_ids[1]).await, Step::LastUsed);
    rec(steps, api.record_access_key_use(a, &key_ids[1], "iam", "us-east-1").await, done);
    rec(steps, api.get_access_key_last_used(a, &key_ids[1]).await, Step::LastUsed);
    rec(steps, api.get_access_key_last_used(a, "AKIANOSUCHKEY0000000").await, Step::LastUsed);
    rec(steps, api.list_access_keys(a, "Alice", &PageRequest::default()).await, Step::Keys);
    rec(steps, api.delete_access_key(a, "Alice", "AKIANOSUCHKEY0000000").await, done);
    rec(steps, api.delete_user(a, "Alice").await, done);

    // Passwords: the account policy, a login profile, changing it.
    rec(steps, api.get_account_password_policy(a).await, Step::PasswordPolicy);
    let policy = UpdatePasswordPolicy {
        minimum_password_length: Some(10),
        require_symbols: Some(true),
        allow_users_to_change_password: Some(true),
        max_password_age: Some(90),
        password_reuse_prevention: Some(3),
        ..UpdatePasswordPolicy::default()
    };
    rec(steps, api.update_account_password_policy(a, policy).await, done);
    rec(steps, api.get_account_password_policy(a).await, Step::PasswordPolicy);
    rec(steps, api.create_login_profile(a, "Alice", "short", false).await, Step::Profile);
    rec(steps, api.create_login_profile(a, "Alice", "a-Long-enough-1!", true).await, Step::Profile);
    rec(steps, api.create_login_profile(a, "Alice", "a-Long-enough-1!", true).await, Step::Profile);
    rec(steps, api.get_login_profile(a, "alice").await, Step::Profile);
    rec(steps, api.get_login_profile(a, "carol").await, Step::Profile);
    rec(steps, api.update_login_profile(a, "Alice", None, Some(false)).await, done);
    rec(steps, api.change_password(a, "Alice", "wrong-Password-1!", "b-Long-enough-2!").await, done);
    rec(steps, api.change_password(a, "Alice", "a-Long-enough-1!", "b-Long-enough-2!").await, done);
    rec(steps, api.get_login_profile(a, "Alice").await, Step::Profile);
    rec(steps, api.delete_login_profile(a, "Alice").await, done);
    rec(steps, api.delete_account_password_policy(a).await, done);
    rec(steps, api.delete_account_password_policy(a).await, done);

    // MFA: a device, wrong codes (an MFA rejection naming the device), the right ones, listings.
    let mut seed = String::new();
    let mut serial = String::new();
    let created = api.create_virtual_mfa_device(a, None, "alice-phone", tags(1)).await;
    rec(steps, created, |c| {
        seed = c.base32_seed.expose().to_owned();
        serial.clone_from(&c.device.serial);
        Step::NewDevice { device: device_shown(c.device), seed: seed.clone(), qr_png: c.qr_png }
    });
    assert!(!seed.is_empty() && serial.contains(":mfa/alice-phone"), "{serial}");
    rec(steps, api.create_virtual_mfa_device(a, None, "alice-phone", Vec::new()).await, |c| Step::NewDevice {
        device: device_shown(c.device),
        seed: c.base32_seed.expose().to_owned(),
        qr_png: c.qr_png,
    });
    let (c1, c2) = codes(clock, &seed);
    let wrong = |c: &str| format!("{:06}", (c.parse::<u32>().unwrap() + 1) % 1_000_000);
    let wrong_enable = api.enable_mfa_device(a, "Alice", &serial, &wrong(&c1), &wrong(&c2)).await;
    let rejection = wrong_enable.as_ref().err().and_then(Error::mfa_rejection).cloned().expect("an MFA rejection");
    assert_eq!((rejection.serial.as_str(), rejection.failure), (serial.as_str(), MfaFailure::InvalidCode));
    assert_eq!(rejection.error.code, ErrorCode::InvalidAuthenticationCode);
    rec(steps, wrong_enable, done);
    rec(steps, api.enable_mfa_device(a, "Alice", &serial, "12ab56", &c2).await, done);
    rec(steps, api.enable_mfa_device(a, "Alice", &serial, &c1, &c2).await, done);
    rec(steps, api.create_virtual_mfa_device(a, Some("/spare/".into()), "spare", Vec::new()).await, |c| {
        Step::NewDevice { device: device_shown(c.device), seed: c.base32_seed.expose().to_owned(), qr_png: c.qr_png }
    });
    rec(steps, api.list_mfa_devices(a, "Alice", &PageRequest::default()).await, |p| {
        // `ListMFADevices` lists serials and dates, not the devices' tags.
        Step::Devices(page_of(p, |d| MfaDeviceRecord { tags: Vec::new(), ..device_shown(d) }))
    });
    for status in [AssignmentStatus::Any, AssignmentStatus::Assigned, AssignmentStatus::Unassigned] {
        rec(steps, api.list_virtual_mfa_devices(a, status, &first(1)).await, |p| {
            Step::Devices(page_of(p, device_shown))
        });
    }
    rec(steps, api.delete_virtual_mfa_device(a, &serial).await, done);
    rec(steps, api.deactivate_mfa_device(a, "Alice", &serial).await, done);
    rec(steps, api.delete_virtual_mfa_device(a, &serial).await, done);
    rec(steps, api.delete_virtual_mfa_device(a, &serial).await, done);

    // OpenID Connect providers.
    let thumbprint = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";
    let provider = CreateOidcProvider {
        url: "https://token.example.com/tenant".into(),
        client_ids: vec!["app-1".into()],
        thumbprints: vec![thumbprint.into()],
        tags: tags(2),
    };
    let mut arn = String::new();
    rec(steps, api.create_open_id_connect_provider(a, provider.clone()).await, |p| {
        arn.clone_from(&p.arn);
        // The answer is the ARN and the tags (the URL is the ARN's).
        Step::Provider(OidcProviderRecord { client_ids: Vec::new(), thumbprints: Vec::new(), create_date: 0, ..p })
    });
    rec(steps, api.create_open_id_connect_provider(a, provider.clone()).await, Step::Provider);
    let insecure = CreateOidcProvider { url: "http://token.example.com".into(), ..provider.clone() };
    rec(steps, api.create_open_id_connect_provider(a, insecure).await, Step::Provider);
    let second = CreateOidcProvider { url: "https://other.example.com".into(), ..provider };
    rec(steps, api.create_open_id_connect_provider(a, second).await, |p| Step::Provider(p.arn.into_oidc()));
    rec(steps, api.add_client_id_to_open_id_connect_provider(a, &arn, "app-2").await, done);
    rec(steps, api.remove_client_id_from_open_id_connect_provider(a, &arn, "app-1").await, done);
    let thumbprints = vec!["0000000000000000000000000000000000000000".to_owned()];
    rec(steps, api.update_open_id_connect_provider_thumbprint(a, &arn, &thumbprints).await, done);
    rec(steps, api.get_open_id_connect_provider(a, &arn).await, Step::Provider);
    rec(steps, api.list_open_id_connect_providers(a).await, Step::Providers);
    let unknown = format!("arn:aws:iam::{}:oidc-provider/nowhere.example.com", a.id());
    rec(steps, api.get_open_id_connect_provider(a, &unknown).await, Step::Provider);
    rec(steps, api.delete_open_id_connect_provider(a, &arn).await, done);

    // SAML providers: the list shows ARNs and dates only.
    let cert = include_str!("data/saml-idp-cert.b64");
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>"#
    );
    let saml =
        CreateSamlProvider { name: "Okta".into(), metadata_document: metadata, tags: tags(2), ..Default::default() };
    rec(steps, api.create_saml_provider(a, saml.clone()).await, Step::SamlProvider);
    rec(steps, api.create_saml_provider(a, saml.clone()).await, Step::SamlProvider);
    let keyed = CreateSamlProvider { name: "Keyed".into(), add_private_key: Some("not supported".into()), ..saml };
    rec(steps, api.create_saml_provider(a, keyed).await, Step::SamlProvider);
    let saml_arn = format!("arn:aws:iam::{}:saml-provider/Okta", a.id());
    let allowed = UpdateSamlProvider { assertion_encryption_mode: Some("Allowed".into()), ..Default::default() };
    rec(steps, api.update_saml_provider(a, &saml_arn, allowed).await, Step::SamlProvider);
    rec(steps, api.get_saml_provider(a, &saml_arn).await, Step::SamlProvider);
    rec(steps, api.list_saml_providers(a).await, |providers| {
        Step::SamlProviders(
            providers
                .into_iter()
                .map(|p| SamlProviderRecord {
                    metadata_document: String::new(),
                    entity_id: String::new(),
                    uuid: String::new(),
                    assertion_encryption_mode: None,
                    tags: Vec::new(),
                    ..p
                })
                .collect(),
        )
    });
    let saml_tags = Taggable::SamlProvider(saml_arn.clone());
    rec(steps, api.list_resource_tags(a, &saml_tags, &PageRequest::default()).await, Step::Tags);
    rec(steps, api.delete_saml_provider(a, &saml_arn).await, done);
    rec(steps, api.get_saml_provider(a, &saml_arn).await, Step::SamlProvider);

    // Account-wide reads.
    rec(steps, api.get_account_summary(a).await, Step::Summary);
    rec(steps, api.get_account_authorization_details(a, &[], &PageRequest::default()).await, |d| {
        Step::Details(details_shown(d))
    });
    let page = api.get_account_authorization_details(a, &[], &first(2)).await;
    let marker = page.as_ref().ok().and_then(|d| d.marker.clone());
    assert!(marker.is_some(), "details in pages of 2 are truncated");
    rec(steps, page, |d| Step::Details(details_shown(d)));
    rec(steps, api.get_account_authorization_details(a, &[], &after(marker, 3)).await, |d| {
        Step::Details(details_shown(d))
    });
    rec(steps, api.get_account_authorization_details(a, &["Role".into(), "Group".into()], &first(5)).await, |d| {
        Step::Details(details_shown(d))
    });
    rec(steps, api.get_account_authorization_details(a, &["Bogus".into()], &first(5)).await, |d| {
        Step::Details(details_shown(d))
    });
    rec(steps, api.generate_credential_report(a).await, |(state, text)| Step::ReportGenerated(state, text));
    rec(steps, api.generate_credential_report(a).await, |(state, text)| Step::ReportGenerated(state, text));
    rec(steps, api.get_credential_report(a).await, Step::Report);

    // Deletions and the conflicts they meet.
    rec(steps, api.delete_role(a, "app").await, done);
    rec(steps, api.delete_role(a, "app").await, done);
    rec(steps, api.delete_group(a, "operators").await, done);
    s
}

/// A provider record known only by its ARN (the URL is the ARN's).
trait IntoOidc {
    fn into_oidc(self) -> OidcProviderRecord;
}

impl IntoOidc for String {
    fn into_oidc(self) -> OidcProviderRecord {
        let url = self.split_once(":oidc-provider/").map(|(_, url)| url.to_owned()).unwrap_or_default();
        OidcProviderRecord {
            url,
            arn: self,
            client_ids: Vec::new(),
            thumbprints: Vec::new(),
            create_date: 0,
            tags: Vec::new(),
        }
    }
}

#[tokio::test]
async fn local_and_remote_answer_the_same_script_alike() {
    let account = fresh_account();
    let local_clock = FakeClock::new();
    let local = identity(&local_clock);
    let remote_clock = FakeClock::new();
    let server = serve(identity(&remote_clock), || Ok(())).await;
    let remote = remote_over(server.addr).await;

    let expected = script(&local, &account, &local_clock).await;
    let got = script(&remote, &account, &remote_clock).await;

    // The script reaches every kind of failure the brief names, with real values.
    let failed: Vec<ErrorCode> = expected
        .iter()
        .filter_map(|s| match s {
            Step::Failed { code, .. } => Some(*code),
            _ => None,
        })
        .collect();
    for code in [
        ErrorCode::NoSuchEntity,
        ErrorCode::EntityAlreadyExists,
        ErrorCode::LimitExceeded,
        ErrorCode::DeleteConflict,
        ErrorCode::ValidationError,
        ErrorCode::InvalidInput,
        ErrorCode::MalformedPolicyDocument,
        ErrorCode::PasswordPolicyViolation,
        ErrorCode::InvalidAuthenticationCode,
        ErrorCode::ReportNotPresent,
    ] {
        assert!(failed.contains(&code), "the script never fails with {code}: {failed:?}");
    }
    assert!(expected.iter().filter(|s| !matches!(s, Step::Failed { .. })).count() > 60);

    assert_eq!(expected.len(), got.len());
    for (i, (local, remote)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(local, remote, "step {i} differs between the local and the remote domain");
    }
}

/// A server that fails its first `failures` calls as an unreachable replica does (Unavailable,
/// no AWS code), counting every call.
async fn flaky(failures: usize) -> (Running, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let gate = move || {
        let n = counted.fetch_add(1, Ordering::SeqCst);
        if n < failures { Err(tonic::Status::unavailable("the replica is shutting down")) } else { Ok(()) }
    };
    (serve(identity(&FakeClock::new()), gate).await, calls)
}

#[tokio::test]
async fn reads_are_sent_again_when_the_replica_was_unreachable_and_writes_are_sent_once() {
    let account = fresh_account();

    // A read: the first send fails, the second is answered.
    let (server, calls) = flaky(1).await;
    let remote = remote_over(server.addr).await;
    let error = remote.get_user(&account, "nobody").await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::NoSuchEntity, "{error}");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the read was sent again once");

    // A write under the same failure: sent once, and the failure is the caller's to see.
    let (server, calls) = flaky(1).await;
    let remote = remote_over(server.addr).await;
    let error = remote.create_user(&account, CreateUser { user_name: "x".into(), ..CreateUser::default() }).await;
    let error = error.unwrap_err();
    assert_eq!(error.code(), ErrorCode::ServiceFailure, "{error}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a write is never sent again");
    // The same write, answered: it went through exactly once more.
    remote.create_user(&account, CreateUser { user_name: "x".into(), ..CreateUser::default() }).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // A read whose replica stays unreachable gives up after the last attempt.
    let (server, calls) = flaky(usize::MAX).await;
    let remote = remote_over(server.addr).await;
    assert_eq!(remote.get_account_summary(&account).await.unwrap_err().code(), ErrorCode::ServiceFailure);
    assert_eq!(calls.load(Ordering::SeqCst), tessera_proto::upstream::READ_ATTEMPTS as usize);
}

#[tokio::test]
async fn reads_reach_a_live_replica_when_another_is_down() {
    let account = fresh_account();
    let clock = FakeClock::new();
    // Two replicas over one store: what one wrote, the other reads.
    let shared = identity(&clock);
    let (calls_a, calls_b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let count = |calls: &Arc<AtomicUsize>| {
        let calls = Arc::clone(calls);
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    };
    let a = serve(shared.clone(), count(&calls_a)).await;
    let b = serve(shared, count(&calls_b)).await;
    let remote = RemoteIdentity::new(Channel::balance_list([endpoint(a.addr), endpoint(b.addr)].into_iter()));

    remote.create_user(&account, CreateUser { user_name: "alice".into(), ..CreateUser::default() }).await.unwrap();
    for _ in 0..20 {
        assert_eq!(remote.get_user(&account, "alice").await.unwrap().principal.name, "alice");
    }
    assert!(calls_a.load(Ordering::SeqCst) + calls_b.load(Ordering::SeqCst) >= 21);

    // Replica a goes away: every read still succeeds, answered by b.
    a.stop().await;
    let (before_a, before_b) = (calls_a.load(Ordering::SeqCst), calls_b.load(Ordering::SeqCst));
    for i in 0..20 {
        let user = remote.get_user(&account, "alice").await;
        assert_eq!(user.unwrap_or_else(|e| panic!("read {i} after a replica stopped: {e}")).principal.name, "alice");
    }
    assert_eq!(calls_a.load(Ordering::SeqCst), before_a, "the stopped replica answered nothing");
    assert_eq!(calls_b.load(Ordering::SeqCst), before_b + 20, "the live replica answered every read");
}

// ---------------------------------------------------------------------------------------------
// Issue 14, part A: instance profiles, account aliases, service-linked roles, GetMFADevice and
// the STS preferences, local and remote alike.

fn shown<T: std::fmt::Debug>(value: T) -> Step {
    Step::Shown(format!("{value:?}"))
}

/// A profile as the API shows it: its roles without what a remote role cannot hold.
fn profile_shown(mut p: tessera_identity::InstanceProfile) -> Step {
    p.roles = p
        .roles
        .into_iter()
        .map(role_shown)
        .map(|mut r| {
            r.instance_profiles.clear();
            r
        })
        .collect();
    shown(p)
}

async fn script_part_a(api: &dyn IdentityApi, a: &Account) -> Vec<Step> {
    let mut s = Vec::new();
    let steps = &mut s;
    let role = |name: &str| CreateRole {
        role_name: name.into(),
        assume_role_policy_document: TRUST_EC2.into(),
        ..CreateRole::default()
    };
    rec(steps, api.create_role(a, role("web")).await, |r| Step::Role(role_shown(r)));
    let tags = vec![Tag { key: "team".into(), value: "a".into() }];
    rec(steps, api.create_instance_profile(a, Some("/p/".into()), "Web", tags).await, profile_shown);
    rec(steps, api.create_instance_profile(a, None, "web", Vec::new()).await, profile_shown);
    rec(steps, api.create_instance_profile(a, None, "bad name", Vec::new()).await, profile_shown);
    rec(steps, api.add_role_to_instance_profile(a, "Web", "web").await, done);
    rec(steps, api.add_role_to_instance_profile(a, "Web", "web").await, done);
    rec(steps, api.add_role_to_instance_profile(a, "none", "web").await, done);
    rec(steps, api.get_instance_profile(a, "web").await, profile_shown);
    rec(steps, api.list_instance_profiles(a, Some("/p/"), &first(5)).await, |p| shown(p.map(profile_shown)));
    rec(steps, api.list_instance_profiles_for_role(a, "web", &first(5)).await, |p| shown(p.map(profile_shown)));
    rec(steps, api.list_instance_profiles_for_role(a, "none", &first(5)).await, |p| shown(p.map(profile_shown)));
    let profile = Taggable::InstanceProfile("Web".into());
    rec(steps, api.tag_resource(a, &profile, vec![Tag { key: "env".into(), value: "b".into() }]).await, done);
    rec(steps, api.list_resource_tags(a, &profile, &first(5)).await, Step::Tags);
    rec(steps, api.delete_role(a, "web").await, done);
    rec(steps, api.delete_instance_profile(a, "Web").await, done);
    rec(steps, api.get_account_authorization_details(a, &["Role".into()], &first(5)).await, |d| {
        shown(d.instance_profiles)
    });
    rec(steps, api.remove_role_from_instance_profile(a, "Web", "web").await, done);
    rec(steps, api.delete_instance_profile(a, "Web").await, done);
    rec(steps, api.get_account_summary(a).await, |m| shown(m.get("InstanceProfiles").copied()));

    rec(steps, api.create_account_alias(a, &format!("co-{}", a.id())).await, done);
    rec(steps, api.create_account_alias(a, "other-alias").await, done);
    rec(steps, api.create_account_alias(a, "Bad--alias").await, done);
    rec(steps, api.list_account_aliases(a, &first(5)).await, shown);
    rec(steps, api.delete_account_alias(a, "other-alias").await, done);
    rec(steps, api.delete_account_alias(a, &format!("co-{}", a.id())).await, done);

    rec(steps, api.create_service_linked_role(a, "ecs.amazonaws.com", Some("d".into()), None).await, |r| {
        Step::Role(role_shown(r))
    });
    rec(steps, api.create_service_linked_role(a, "ecs.amazonaws.com", None, None).await, |r| Step::Role(role_shown(r)));
    rec(steps, api.create_service_linked_role(a, "ecs.amazonaws.com", None, Some("x".into())).await, |r| {
        Step::Role(role_shown(r))
    });
    rec(steps, api.update_assume_role_policy(a, "AWSServiceRoleForECS", TRUST_LAMBDA).await, done);
    let task = api.delete_service_linked_role(a, "AWSServiceRoleForECS").await;
    let task_id = task.as_ref().ok().cloned().unwrap_or_default();
    rec(steps, task, shown);
    rec(steps, api.get_service_linked_role_deletion_status(a, &task_id).await, shown);
    rec(steps, api.get_service_linked_role_deletion_status(a, "task/none").await, shown);

    let device = api.create_virtual_mfa_device(a, None, "phone", Vec::new()).await.map(|d| d.device.serial);
    let serial = device.unwrap_or_default();
    rec(steps, api.get_mfa_device(a, &serial, None).await, |d| {
        let mut d = device_shown(d);
        d.tags.clear();
        shown(d)
    });
    rec(steps, api.get_mfa_device(a, &serial, Some("nobody")).await, |d| shown(d.serial));
    rec(steps, api.set_security_token_service_preferences(a, "v2Token").await, done);
    rec(steps, api.set_security_token_service_preferences(a, "v9Token").await, done);
    rec(steps, api.get_account_summary(a).await, |m| shown(m.get("GlobalEndpointTokenVersion").copied()));
    s
}

#[tokio::test]
async fn local_and_remote_answer_part_a_alike() {
    let account = fresh_account();
    let local = identity(&FakeClock::new());
    let server = serve(identity(&FakeClock::new()), || Ok(())).await;
    let remote = remote_over(server.addr).await;

    let expected = script_part_a(&local, &account).await;
    let got = script_part_a(&remote, &account).await;
    let failed: Vec<ErrorCode> = expected
        .iter()
        .filter_map(|s| match s {
            Step::Failed { code, .. } => Some(*code),
            _ => None,
        })
        .collect();
    for code in [
        ErrorCode::NoSuchEntity,
        ErrorCode::EntityAlreadyExists,
        ErrorCode::LimitExceeded,
        ErrorCode::DeleteConflict,
        ErrorCode::ValidationError,
        ErrorCode::InvalidInput,
        ErrorCode::UnmodifiableEntity,
    ] {
        assert!(failed.contains(&code), "the script never fails with {code}: {failed:?}");
    }
    assert_eq!(expected.len(), got.len());
    for (i, (local, remote)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(local, remote, "step {i} differs between the local and the remote domain");
    }
}
