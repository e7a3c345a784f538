//! The authorizer decides as the policy engine does: over a real store (redb in a temporary
//! directory, and Redis at `REDIS_URL`, default `redis://127.0.0.1:6379/0`), the decisions
//! `Authorizer::decide` makes for a user (inline, managed and group policies, an explicit deny,
//! a permissions boundary) and for a role session with session policies (inline and managed
//! ARNs), presented as its session token the way a bearer credential is, equal the engine's own
//! (`tessera_policy::authorize`) on the same documents, compiled by the test: outcome, deciding
//! layer, reason and the statements that matched. The role's trust evaluation is compared too.

use std::collections::BTreeSet;
use std::sync::Arc;

use tessera_authorizer::{Authorizer, CallerPrincipal, Check, Judged, Trust};
use tessera_credentials::{Argon2Params, MasterKey, RandomSource, SystemRng};
use tessera_identity::{Account, CreateRole, CreateUser, Env, Identity, Random, SystemClock};
use tessera_policy::{
    CompiledPolicy, Context, Decision, Policies as Layers, PolicyKind, PolicySet, Principal, PrincipalKind, Request,
    Trace,
};
use tessera_policy_service::{CreatePolicy, Policies};
use tessera_proto::ErrorCode;
use tessera_store::iam::{EntityKind, Tag};
use tessera_store::{AnyStore, RedbStore, RedisStore};
use tessera_sts::{AssumeRole, CallerCredentials, Sts};

// Every statement has a Sid unique across the documents, so matched statements compare by Sid.
const USER_INLINE: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"UserRead","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*",
   "Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}},
  {"Sid":"UserHome","Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::data/home/${aws:username}/*"}]}"#;
const USER_DENY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"NoSecrets","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::data/secret/*"}]}"#;
const USER_MANAGED: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"ManagedWrite","Effect":"Allow","Action":["s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::data/*"}]}"#;
const GROUP_INLINE: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"GroupList","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::data"},
  {"Sid":"GroupTable","Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}]}"#;
const GROUP_MANAGED: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"GroupQueues","Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#;
/// Caps the user: no DynamoDB, only SendMessage of SQS.
const BOUNDARY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"BoundS3","Effect":"Allow","Action":"s3:*","Resource":"*"},
  {"Sid":"BoundSqs","Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"},
  {"Sid":"BoundNoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::data/keep/*"}]}"#;
const ROLE_INLINE: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"RoleS3","Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::data","arn:aws:s3:::data/*"]},
  {"Sid":"RoleQueues","Effect":"Allow","Action":"sqs:*","Resource":"*",
   "Condition":{"StringEquals":{"aws:PrincipalType":"AssumedRole"}}}]}"#;
const ROLE_MANAGED: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"RoleTables","Effect":"Allow","Action":"dynamodb:*","Resource":"*"},
  {"Sid":"RoleNoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#;
const SESSION_INLINE: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"SessionS3","Effect":"Allow","Action":["s3:GetObject","s3:DeleteObject","s3:ListBucket"],"Resource":"*"},
  {"Sid":"SessionNoSecrets","Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/secret/*"}]}"#;
const SESSION_MANAGED: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"SessionTables","Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"},
  {"Sid":"SessionQueue","Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}"#;

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
];
const RESOURCES: &[&str] = &[
    "arn:aws:s3:::data",
    "arn:aws:s3:::data/a.txt",
    "arn:aws:s3:::data/home/alice/notes",
    "arn:aws:s3:::data/secret/key",
    "arn:aws:s3:::data/keep/log",
    "arn:aws:s3:::other/a.txt",
    "*",
];

fn env() -> Env {
    Env {
        clock: Arc::new(SystemClock),
        master_key: Arc::new(MasterKey::generate(&mut SystemRng::new().unwrap())),
        random: Arc::new(Random::new(SystemRng::new().unwrap())),
        password_params: Argon2Params::FAST_FOR_TESTS,
    }
}

/// A fresh random account, so runs on a shared Redis never see each other's records.
fn fresh_account() -> Account {
    let mut bytes = [0u8; 12];
    SystemRng::new().unwrap().fill_bytes(&mut bytes);
    let id: String =
        bytes.iter().enumerate().map(|(i, b)| char::from(b'0' + if i == 0 { 1 + b % 9 } else { b % 10 })).collect();
    Account::new(&id).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn set(documents: &[(&str, &str)]) -> PolicySet {
    PolicySet::new(
        documents.iter().map(|(id, text)| CompiledPolicy::parse(*id, text, PolicyKind::Identity).unwrap()).collect(),
    )
}

/// What a decision is compared by: outcome, deciding layer, reason, and the Sids that matched.
fn summary(decision: &Decision) -> String {
    let sids = |matched: &[tessera_policy::MatchedStatement]| -> BTreeSet<String> {
        matched.iter().map(|m| format!("{:?}:{}", m.layer, m.sid.as_deref().unwrap_or("?"))).collect()
    };
    format!(
        "{:?} by {:?} ({:?}); denies {:?}; allows {:?}",
        decision.outcome,
        decision.layer,
        decision.reason,
        sids(&decision.denies),
        sids(&decision.allows)
    )
}

/// Asks the authorizer every action on every resource, and compares each decision with the
/// engine's on `layers` for `principal` with `context`; returns the decisions for coverage checks.
async fn compare(
    authorizer: &Authorizer<AnyStore>,
    caller: &CallerPrincipal,
    principal: &Principal,
    context: &Context,
    layers: &Layers<'_>,
) -> Vec<Decision> {
    let checks: Vec<Check> = ACTIONS
        .iter()
        .flat_map(|action| {
            RESOURCES.iter().map(|resource| Check {
                action: (*action).to_owned(),
                resource: (*resource).to_owned(),
                ..Check::default()
            })
        })
        .collect();
    let judged: Vec<Judged> = authorizer.decide(caller, &checks, now(), &[], Trace::Off, false).await.unwrap();
    assert_eq!(judged.len(), checks.len());
    let mut decisions = Vec::new();
    for j in judged {
        let request = Request::new(principal, &j.action, &j.resource, context);
        let want = tessera_policy::authorize(&request, layers, Trace::Off);
        let got = j.decision.expect("an evaluated decision");
        assert_eq!(summary(&got), summary(&want), "{} on {} for {}", j.action, j.resource, caller.arn);
        decisions.push(got);
    }
    decisions
}

async fn create_policy(policies: &Policies<AnyStore>, account: &Account, name: &str, document: &str) -> String {
    let input = CreatePolicy { policy_name: name.into(), policy_document: document.into(), ..CreatePolicy::default() };
    policies.create_policy(account, input).await.unwrap().record.arn
}

async fn decisions_are_the_engines(store: Arc<AnyStore>) {
    let env = env();
    let sts = Sts::start(Arc::clone(&store), env.clone()).await.unwrap();
    let identity = Identity::new(Arc::clone(&store), env.clone());
    let policies = Policies::new(Arc::clone(&store), env);
    let account = fresh_account();
    let a = account.id().to_owned();

    // The user: inline policies (one an explicit deny), a managed policy, a group with an inline
    // and a managed policy, and a permissions boundary; tagged team=blue.
    let boundary = create_policy(&policies, &account, "boundary", BOUNDARY).await;
    let user_managed = create_policy(&policies, &account, "user-managed", USER_MANAGED).await;
    let group_managed = create_policy(&policies, &account, "group-managed", GROUP_MANAGED).await;
    let role_managed = create_policy(&policies, &account, "role-managed", ROLE_MANAGED).await;
    let session_managed = create_policy(&policies, &account, "session-managed", SESSION_MANAGED).await;
    let alice = identity
        .create_user(
            &account,
            CreateUser {
                user_name: "alice".into(),
                permissions_boundary: Some(boundary.clone()),
                tags: vec![Tag { key: "team".into(), value: "blue".into() }],
                ..CreateUser::default()
            },
        )
        .await
        .unwrap();
    policies.put_inline_policy(&account, EntityKind::User, "alice", "read", USER_INLINE).await.unwrap();
    policies.put_inline_policy(&account, EntityKind::User, "alice", "deny", USER_DENY).await.unwrap();
    policies.attach_policy(&account, EntityKind::User, "alice", &user_managed).await.unwrap();
    identity.create_group(&account, None, "devs").await.unwrap();
    identity.add_user_to_group(&account, "devs", "alice").await.unwrap();
    policies.put_inline_policy(&account, EntityKind::Group, "devs", "list", GROUP_INLINE).await.unwrap();
    policies.attach_policy(&account, EntityKind::Group, "devs", &group_managed).await.unwrap();
    let key = identity.create_access_key(&account, "alice").await.unwrap();

    let authorizer = sts.authorizer();
    let credentials = CallerCredentials { access_key_id: key.access_key_id.clone(), ..CallerCredentials::default() };
    let caller = sts.resolve_caller(&credentials).await.unwrap();
    let principal = Principal {
        kind: PrincipalKind::User,
        account: a.clone(),
        arn: format!("arn:aws:iam::{a}:user/alice"),
        unique_id: Some(alice.principal.id.clone()),
        role_arn: None,
        source_user_arn: None,
    };
    let mut context = Context::new();
    context.insert("aws:PrincipalTag/team", "blue");
    context.insert("aws:username", "alice");
    let identity_set = set(&[
        ("read", USER_INLINE),
        ("deny", USER_DENY),
        ("user-managed", USER_MANAGED),
        ("list", GROUP_INLINE),
        ("group-managed", GROUP_MANAGED),
    ]);
    let boundary_set = set(&[("boundary", BOUNDARY)]);
    let layers = Layers { identity: Some(&identity_set), boundary: Some(&boundary_set), ..Layers::default() };
    let decisions = compare(authorizer, &caller, &principal, &context, &layers).await;
    let outcomes: BTreeSet<String> = decisions.iter().map(|d| format!("{:?} {:?}", d.outcome, d.layer)).collect();
    for seen in ["Allowed", "ExplicitDeny Some(Identity)", "ExplicitDeny Some(Boundary)", "ImplicitDeny Some(Boundary)"]
    {
        assert!(outcomes.iter().any(|o| o.starts_with(seen)), "no `{seen}` among {outcomes:?}");
    }

    // The role, assumed by alice with session policies (inline and managed), presented as its
    // session token.
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Alice","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{a}:user/alice"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let role = identity
        .create_role(
            &account,
            CreateRole {
                role_name: "worker".into(),
                assume_role_policy_document: trust.clone(),
                ..CreateRole::default()
            },
        )
        .await
        .unwrap();
    policies.put_inline_policy(&account, EntityKind::Role, "worker", "work", ROLE_INLINE).await.unwrap();
    policies.attach_policy(&account, EntityKind::Role, "worker", &role_managed).await.unwrap();
    let assumed = sts
        .assume_role(
            &caller,
            AssumeRole {
                role_arn: role.principal.arn.clone(),
                role_session_name: "job".into(),
                policy: Some(SESSION_INLINE.into()),
                policy_arns: vec![session_managed.clone()],
                ..AssumeRole::default()
            },
        )
        .await
        .unwrap();
    let bearer = CallerCredentials {
        access_key_id: assumed.credentials.access_key_id.clone(),
        session_token: Some(assumed.credentials.session_token.expose().to_owned()),
        source_ip: None,
    };
    let session = sts.resolve_caller(&bearer).await.unwrap();
    let principal = Principal {
        kind: PrincipalKind::AssumedRole,
        account: a.clone(),
        arn: format!("arn:aws:sts::{a}:assumed-role/worker/job"),
        unique_id: Some(role.principal.id.clone()),
        role_arn: Some(role.principal.arn.clone()),
        source_user_arn: Some(format!("arn:aws:iam::{a}:user/alice")),
    };
    let mut context = Context::new();
    context.insert("aws:PrincipalType", "AssumedRole");
    let identity_set = set(&[("work", ROLE_INLINE), ("role-managed", ROLE_MANAGED)]);
    let session_set = set(&[("session", SESSION_INLINE), ("session-managed", SESSION_MANAGED)]);
    let layers = Layers { identity: Some(&identity_set), session: Some(&session_set), ..Layers::default() };
    let decisions = compare(authorizer, &session, &principal, &context, &layers).await;
    let outcomes: BTreeSet<String> = decisions.iter().map(|d| format!("{:?} {:?}", d.outcome, d.layer)).collect();
    for seen in ["Allowed", "ExplicitDeny Some(Identity)", "ExplicitDeny Some(Session)", "ImplicitDeny Some(Session)"] {
        assert!(outcomes.iter().any(|o| o.starts_with(seen)), "no `{seen}` among {outcomes:?}");
    }

    // The trust evaluation: alice may assume the role, a user it does not name may not, as the
    // engine decides with the trust policy as the resource policy.
    identity.create_user(&account, CreateUser { user_name: "bob".into(), ..CreateUser::default() }).await.unwrap();
    policies
        .put_inline_policy(
            &account,
            EntityKind::User,
            "bob",
            "assume",
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Assume","Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
        )
        .await
        .unwrap();
    let bob_key = identity.create_access_key(&account, "bob").await.unwrap();
    let bob = sts
        .resolve_caller(&CallerCredentials { access_key_id: bob_key.access_key_id, ..CallerCredentials::default() })
        .await
        .unwrap();
    let trust_set = PolicySet::new(vec![CompiledPolicy::parse("trust", &trust, PolicyKind::Trust).unwrap()]);
    for (who, allowed) in [(&caller, true), (&bob, false)] {
        let layers = authorizer.caller_layers(who).await.unwrap();
        let context = authorizer.base_context(who, &layers, now());
        let principal = who.principal();
        let trust = Trust {
            principal: &principal,
            role: &role,
            role_account: &account,
            context: &context,
            layers: Some(&layers),
        };
        let got = authorizer.trust(trust, &["sts:AssumeRole"]).await;
        let request = Request::new(&principal, "sts:AssumeRole", &role.principal.arn, &context);
        let engine = Layers { resource: Some(&trust_set), resource_policy_required: true, ..layers.policies() };
        let want = tessera_policy::authorize(&request, &engine, Trace::Off);
        assert_eq!(got.is_ok(), want.is_allowed(), "{}: {}", who.arn, summary(&want));
        assert_eq!(got.is_ok(), allowed, "{}", who.arn);
        if let Err(error) = got {
            assert_eq!(error.code(), ErrorCode::AccessDenied);
            assert_eq!(
                error.into_service_error().message,
                format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                    who.arn, role.principal.arn
                )
            );
        }
    }
}

#[tokio::test]
async fn redb_decisions_are_the_engines() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(AnyStore::from(RedbStore::open(dir.path()).unwrap()));
    decisions_are_the_engines(store).await;
}

#[tokio::test]
async fn redis_decisions_are_the_engines() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let store = Arc::new(AnyStore::from(RedisStore::connect(&url).await.expect("Redis at REDIS_URL")));
    decisions_are_the_engines(store).await;
}
