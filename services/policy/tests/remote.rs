//! `RemotePolicies` against the domain: one script of operations runs through the in-process
//! `Policies` and through `RemotePolicies` (a real tonic server on `127.0.0.1:0` over its own
//! store), each on a fresh store with the same seeded random source and fixed clock, so every
//! answer — ids, dates, pages, and errors with their AWS code and message — must be equal.
//! Then the retry rule: a read whose replica was unreachable is sent again, a write is not.

use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tonic::codegen::http;
use tonic::transport::{Channel, Server};

use tessera_arn::SeededRandom;
use tessera_credentials::{Argon2Params, MasterKey};
use tessera_identity::{Account, Clock, CreateRole, CreateUser, Env, Identity, PageRequest, Random, Result};
use tessera_policy_service::{
    CreatePolicy, EntityFilter, ListPolicies, ManagedPolicy, Policies, PolicyApi, PolicyScope, PolicyUsage,
    RemotePolicies, seed_aws_managed, service,
};
use tessera_proto::ErrorCode;
use tessera_store::MemoryStore;
use tessera_store::iam::{EntityKind, Tag};

const ACCOUNT: &str = "123456789012";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

fn doc(action: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#)
}

fn arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:policy/{name}")
}

#[derive(Debug)]
struct FixedClock(SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// The same environment every time: a fixed clock and a seeded random source.
fn env() -> Env {
    let mut random = SeededRandom::new(12);
    let master_key = MasterKey::generate(&mut random);
    Env {
        clock: Arc::new(FixedClock(UNIX_EPOCH + Duration::from_secs(1_767_225_600))),
        random: Arc::new(Random::new(random)),
        master_key: Arc::new(master_key),
        password_params: Argon2Params::FAST_FOR_TESTS,
    }
}

/// A fresh store with the account's users, groups and roles, the same on every call.
async fn fresh() -> (Arc<MemoryStore>, Env, Identity<MemoryStore>, Account) {
    let store = Arc::new(MemoryStore::new());
    let env = env();
    seed_aws_managed(&*store, env.now()).await.unwrap();
    let identity = Identity::new(Arc::clone(&store), env.clone());
    let account = Account::new(ACCOUNT).unwrap();
    for name in ["alice", "bob"] {
        identity.create_user(&account, CreateUser { user_name: name.into(), ..Default::default() }).await.unwrap();
    }
    identity.create_group(&account, None, "devs").await.unwrap();
    identity.add_user_to_group(&account, "devs", "alice").await.unwrap();
    let role =
        CreateRole { role_name: "builder".into(), assume_role_policy_document: TRUST.into(), ..Default::default() };
    identity.create_role(&account, role).await.unwrap();
    (store, env, identity, account)
}

/// Serves `service` on `127.0.0.1:0` behind `layer` and returns a channel to it.
async fn serve<L>(policies: Policies<MemoryStore>, layer: L) -> Channel
where
    L: tower::Layer<tonic::service::Routes> + Clone + Send + 'static,
    L::Service: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as tower::Service<http::Request<tonic::body::Body>>>::Future: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let routes = tonic::service::Routes::new(service(policies));
    tokio::spawn(
        Server::builder()
            .layer(layer)
            .add_routes(routes)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))),
    );
    Channel::from_shared(format!("http://{address}")).unwrap().connect().await.unwrap()
}

/// The answer as a line of the transcript. A policy decoded from the wire has no versions (AWS's
/// `Policy` carries none), so they are left out of both sides.
fn line<T: Debug>(step: &str, answer: Result<T>) -> String {
    match answer {
        Ok(value) => format!("{step}: {value:?}"),
        Err(error) => {
            let error = error.into_service_error();
            format!("{step}: Err({} {:?})", error.code, error.message)
        }
    }
}

fn bare(mut policy: ManagedPolicy) -> ManagedPolicy {
    policy.record.versions.clear();
    policy.record.next_version = 0;
    policy
}

fn page(max_items: i32, marker: Option<String>) -> PageRequest {
    PageRequest { marker, max_items: Some(max_items) }
}

/// The script: every operation of the trait, its limits and its errors.
async fn script(api: &dyn PolicyApi, account: &Account) -> Vec<String> {
    let mut out = Vec::new();
    let create = |name: &str, document: String| CreatePolicy {
        policy_name: name.into(),
        path: Some("/team/".into()),
        policy_document: document,
        description: Some(format!("the {name} policy")),
        tags: vec![Tag { key: "team".into(), value: "infra".into() }],
    };
    out.push(line("create", api.create_policy(account, create("reader", doc("s3:GetObject"))).await.map(bare)));
    out.push(line("create again", api.create_policy(account, create("READER", doc("s3:GetObject"))).await.map(bare)));
    out.push(line("create malformed", api.create_policy(account, create("bad", "{".into())).await.map(bare)));
    out.push(line("create bad name", api.create_policy(account, create("a b", doc("s3:*"))).await.map(bare)));
    out.push(line("create writer", api.create_policy(account, create("writer", doc("s3:PutObject"))).await.map(bare)));
    let reader = arn("team/reader");
    out.push(line("get", api.get_policy(account, &reader).await.map(bare)));
    out.push(line("get aws", api.get_policy(account, ADMIN).await.map(bare)));
    out.push(line("get missing", api.get_policy(account, &arn("nope")).await.map(bare)));
    out.push(line("get bad arn", api.get_policy(account, "not-an-arn").await.map(bare)));

    // Versions: up to five, the sixth refused; default switching; deleting the default refused.
    for n in 2..=6 {
        let answer = api.create_policy_version(account, &reader, &doc(&format!("s3:Get{n}")), n == 3).await;
        out.push(line(&format!("version {n}"), answer));
    }
    out.push(line("version malformed", api.create_policy_version(account, &reader, "[]", false).await));
    out.push(line("get version", api.get_policy_version(account, &reader, "v3").await));
    out.push(line("get version missing", api.get_policy_version(account, &reader, "v9").await));
    out.push(line("get version bad id", api.get_policy_version(account, &reader, "x").await));
    out.push(line("set default", api.set_default_policy_version(account, &reader, "v5").await));
    out.push(line("set default missing", api.set_default_policy_version(account, &reader, "v7").await));
    out.push(line("delete default version", api.delete_policy_version(account, &reader, "v5").await));
    out.push(line("delete version", api.delete_policy_version(account, &reader, "v1").await));
    let mut marker = None;
    loop {
        let listed = api.list_policy_versions(account, &reader, &page(2, marker.clone())).await;
        let next = listed.as_ref().ok().and_then(|p| p.marker.clone());
        out.push(line("versions page", listed));
        if next.is_none() {
            break;
        }
        marker = next;
    }
    out.push(line("versions bad page", api.list_policy_versions(account, &reader, &page(0, None)).await));
    out.push(line("version on aws", api.create_policy_version(account, ADMIN, &doc("s3:*"), false).await));

    // Attachments.
    out.push(line("attach user", api.attach_policy(account, EntityKind::User, "alice", &reader).await));
    out.push(line("attach user aws", api.attach_policy(account, EntityKind::User, "alice", ADMIN).await));
    out.push(line("attach group", api.attach_policy(account, EntityKind::Group, "devs", &reader).await));
    out.push(line("attach role", api.attach_policy(account, EntityKind::Role, "builder", READ_ONLY).await));
    out.push(line("attach missing user", api.attach_policy(account, EntityKind::User, "zed", &reader).await));
    out.push(line("attach missing policy", api.attach_policy(account, EntityKind::Role, "builder", &arn("x")).await));
    out.push(line(
        "attached",
        api.list_attached_policies(account, EntityKind::User, "alice", None, &PageRequest::default()).await,
    ));
    out.push(line(
        "attached page",
        api.list_attached_policies(account, EntityKind::User, "alice", Some("/"), &page(1, None)).await,
    ));
    out.push(line(
        "attached bad prefix",
        api.list_attached_policies(account, EntityKind::User, "alice", Some("x"), &PageRequest::default()).await,
    ));
    for filter in [EntityFilter::All, EntityFilter::User, EntityFilter::Group, EntityFilter::LocalManagedPolicy] {
        let listed = api
            .list_entities_for_policy(account, &reader, filter, None, None, &PageRequest::default())
            .await
            .map(|mut p| {
                // The wire groups a page by kind; the gateway writes it that way too.
                p.items.sort_by_key(|e| match e.kind {
                    EntityKind::Group => 0,
                    EntityKind::User => 1,
                    EntityKind::Role => 2,
                });
                p
            });
        out.push(line(&format!("entities {filter:?}"), listed));
    }
    out.push(line(
        "entities boundary usage",
        api.list_entities_for_policy(
            account,
            &reader,
            EntityFilter::All,
            None,
            Some(PolicyUsage::PermissionsBoundary),
            &PageRequest::default(),
        )
        .await,
    ));
    out.push(line("delete attached", api.delete_policy(account, &reader).await));
    let query = |scope, only_attached| ListPolicies { scope, only_attached, ..Default::default() };
    out.push(line(
        "list local",
        api.list_policies(account, &query(PolicyScope::Local, false), &PageRequest::default())
            .await
            .map(|p| p.map(bare)),
    ));
    out.push(line(
        "list attached",
        api.list_policies(account, &query(PolicyScope::All, true), &PageRequest::default()).await.map(|p| p.map(bare)),
    ));
    out.push(line(
        "list aws page",
        api.list_policies(account, &query(PolicyScope::Aws, false), &page(3, None)).await.map(|p| p.map(bare)),
    ));
    let bad_prefix = ListPolicies { path_prefix: Some("team".into()), ..Default::default() };
    out.push(line(
        "list bad prefix",
        api.list_policies(account, &bad_prefix, &PageRequest::default()).await.map(|p| p.map(bare)),
    ));
    out.push(line("principal alice", api.principal_policies(account, EntityKind::User, "alice").await));
    out.push(line("principal builder", api.principal_policies(account, EntityKind::Role, "builder").await));
    out.push(line("principal missing", api.principal_policies(account, EntityKind::Group, "ops").await));
    out.push(line("detach", api.detach_policy(account, EntityKind::User, "alice", &reader).await));
    out.push(line("detach again", api.detach_policy(account, EntityKind::User, "alice", &reader).await));

    // Inline policies, their size limit and paging.
    for name in ["b-inline", "a-inline", "c-inline"] {
        let put = api.put_inline_policy(account, EntityKind::Role, "builder", name, &doc("ec2:Describe*")).await;
        out.push(line(&format!("put {name}"), put));
    }
    let big = doc(&format!("s3:{}", "A".repeat(2_100)));
    out.push(line("put too big", api.put_inline_policy(account, EntityKind::User, "bob", "big", &big).await));
    out.push(line("put malformed", api.put_inline_policy(account, EntityKind::User, "bob", "m", "{}").await));
    out.push(line("get inline", api.get_inline_policy(account, EntityKind::Role, "BUILDER", "a-inline").await));
    out.push(line("get inline missing", api.get_inline_policy(account, EntityKind::Role, "builder", "zz").await));
    out.push(line("list inline", api.list_inline_policies(account, EntityKind::Role, "builder", &page(2, None)).await));
    let rest = api.list_inline_policies(account, EntityKind::Role, "builder", &page(2, None)).await.unwrap().marker;
    out.push(line(
        "list inline rest",
        api.list_inline_policies(account, EntityKind::Role, "builder", &page(2, rest)).await,
    ));
    out.push(line("delete inline", api.delete_inline_policy(account, EntityKind::Role, "builder", "b-inline").await));
    out.push(line(
        "delete inline again",
        api.delete_inline_policy(account, EntityKind::Role, "builder", "b-inline").await,
    ));
    out.push(line("delete version of writer", api.delete_policy_version(account, &arn("team/writer"), "v1").await));
    out.push(line("delete writer", api.delete_policy(account, &arn("team/writer")).await));
    out.push(line("get deleted", api.get_policy(account, &arn("team/writer")).await.map(bare)));
    out
}

#[tokio::test]
async fn the_remote_answers_exactly_what_the_domain_answers() {
    let (store, env, _identity, account) = fresh().await;
    let local = Policies::new(store, env);
    let local_lines = script(&local, &account).await;

    let (store, env, _identity, account) = fresh().await;
    let channel = serve(Policies::new(store, env), tower::layer::util::Identity::new()).await;
    let remote = RemotePolicies::new(channel);
    let remote_lines = script(&remote, &account).await;

    assert_eq!(local_lines.len(), remote_lines.len());
    for (local, remote) in local_lines.iter().zip(&remote_lines) {
        assert_eq!(local, remote);
    }
    // The script reached the errors it means to compare (a missing feature would not).
    let transcript = local_lines.join("\n");
    for expected in [
        "version 6: Err(LimitExceeded \"A managed policy can have up to 5 versions.",
        "create again: Err(EntityAlreadyExists",
        "create malformed: Err(MalformedPolicyDocument",
        "delete attached: Err(DeleteConflict",
        "put too big: Err(LimitExceeded",
        "get missing: Err(NoSuchEntity",
        "versions bad page: Err(ValidationError",
    ] {
        assert!(transcript.contains(expected), "missing `{expected}` in\n{transcript}");
    }
}

#[tokio::test]
async fn epochs_are_watched_through_the_remote() {
    let (store, env, identity, account) = fresh().await;
    let channel = serve(Policies::new(Arc::clone(&store), env.clone()), tower::layer::util::Identity::new()).await;
    let remote = RemotePolicies::new(channel);
    let mut epochs = remote.watch_policy_epochs(Some(&account)).await.unwrap();
    let first = epochs.next().await.unwrap().unwrap();
    assert_eq!(first.account, ACCOUNT);
    drop(identity);
    remote.attach_policy(&account, EntityKind::User, "bob", ADMIN).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(10), epochs.next()).await.unwrap().unwrap().unwrap();
    assert!(next.epoch > first.epoch, "{next:?} after {first:?}");
}

/// A replica that answers the first `down` calls as one shutting down would (Unavailable, no AWS
/// code), then serves; it counts every call it receives by method.
#[derive(Clone)]
struct Flaky<S> {
    inner: S,
    down: Arc<AtomicUsize>,
    calls: Arc<Mutex<Vec<String>>>,
}

impl<S> tower::Service<http::Request<tonic::body::Body>> for Flaky<S>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        >,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = std::result::Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        self.calls.lock().unwrap().push(request.uri().path().to_owned());
        let refuse = self.down.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if refuse {
            let response = tonic::Status::unavailable("the replica is shutting down").into_http();
            return Box::pin(async move { Ok(response) });
        }
        Box::pin(self.inner.call(request))
    }
}

#[tokio::test]
async fn reads_are_sent_again_after_an_unreachable_replica_and_writes_are_not() {
    let (store, env, _identity, account) = fresh().await;
    let down = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let layer = {
        let (down, calls) = (Arc::clone(&down), Arc::clone(&calls));
        tower::layer::layer_fn(move |inner| Flaky { inner, down: Arc::clone(&down), calls: Arc::clone(&calls) })
    };
    let remote = RemotePolicies::new(serve(Policies::new(store, env), layer).await);

    // A read that meets the down replica first is answered by the next send.
    down.store(1, Ordering::SeqCst);
    let policy = remote.get_policy(&account, ADMIN).await.unwrap();
    assert_eq!(policy.record.arn, ADMIN);
    assert_eq!(calls.lock().unwrap().len(), 2, "sent twice: {:?}", calls.lock().unwrap());

    // A write is sent once: its error comes back, and nothing was attached.
    calls.lock().unwrap().clear();
    down.store(1, Ordering::SeqCst);
    let error = remote.attach_policy(&account, EntityKind::User, "bob", ADMIN).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::ServiceFailure, "{error:?}");
    assert_eq!(calls.lock().unwrap().as_slice(), ["/tessera.policy.v1.PolicyService/AttachPolicy"]);
    let everything = PageRequest::default();
    let attached = remote.list_attached_policies(&account, EntityKind::User, "bob", None, &everything).await;
    assert!(attached.unwrap().items.is_empty());

    // A domain error is final: sent once.
    calls.lock().unwrap().clear();
    let missing = remote.get_policy(&account, &arn("missing")).await.unwrap_err();
    assert_eq!(missing.code(), ErrorCode::NoSuchEntity);
    assert_eq!(calls.lock().unwrap().len(), 1);

    // Three unreachable sends in a row: the read gives up with the transport's failure.
    calls.lock().unwrap().clear();
    down.store(3, Ordering::SeqCst);
    assert_eq!(remote.get_policy(&account, ADMIN).await.unwrap_err().code(), ErrorCode::ServiceFailure);
    assert_eq!(calls.lock().unwrap().len(), 3);
}

/// The internal proof a remote sends is a credential: its Debug form names the key only.
#[tokio::test]
async fn the_remote_never_prints_its_metadata_values() {
    let channel = Channel::from_static("http://127.0.0.1:9").connect_lazy();
    let remote = tessera_policy_service::RemotePolicies::new(channel)
        .with_metadata("tessera-internal", "c0ffee-proof".parse().unwrap());
    let printed = format!("{remote:?}");
    assert!(printed.contains("tessera-internal") && !printed.contains("c0ffee-proof"), "{printed}");
}
