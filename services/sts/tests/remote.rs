//! `RemoteSts` against the domain: one script of token operations runs through the in-process
//! `Sts` and through `RemoteSts` (a real tonic server on `127.0.0.1:0`), each side on a fresh
//! store set up the same way with the same seeded random source and a clock stepped the same
//! way, so every answer — credentials, ids, packed sizes, revocations, and errors with their AWS
//! code and message, MFA rejections with their device and reason — must be equal. Each side
//! resolves its callers with a second `Sts` on its store, as a gateway does. Then the retry rule:
//! a read whose replica was unreachable is sent again, issuing is not.

use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use tokio::net::TcpListener;
use tonic::codegen::http;
use tonic::transport::{Channel, Server};

use tessera_credentials::{Argon2Params, MasterKey, SeededRandom, TotpSeed, format_code, totp_at};
use tessera_identity::{Account, Clock, CreateRole, CreateUser, Env, Identity, Random, Result};
use tessera_policy_service::{CreatePolicy, Policies, seed_aws_managed};
use tessera_proto::ErrorCode;
use tessera_store::MemoryStore;
use tessera_store::iam::{EntityKind, Tag};
use tessera_sts::{AssumeRole, AssumeRoleWithWebIdentity, CallerCredentials, CallerPrincipal, RemoteSts, Sts, StsApi};

const ACCOUNT: &str = "111122223333";
const START: u64 = 1_767_225_600;

#[derive(Debug)]
struct StepClock(Mutex<SystemTime>);

impl StepClock {
    fn advance(&self, secs: u64) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += Duration::from_secs(secs);
    }

    fn secs(&self) -> u64 {
        self.now().duration_since(UNIX_EPOCH).unwrap().as_secs()
    }
}

impl Clock for StepClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn env(clock: &Arc<StepClock>, seed: u64) -> Env {
    let mut key_random = SeededRandom::new(99);
    Env {
        clock: Arc::clone(clock) as Arc<dyn Clock>,
        master_key: Arc::new(MasterKey::generate(&mut key_random)),
        random: Arc::new(Random::new(SeededRandom::new(seed))),
        password_params: Argon2Params::FAST_FOR_TESTS,
    }
}

fn trust(principal: &str, condition: Option<serde_json::Value>) -> String {
    let mut statement = json!({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]});
    if let Some(condition) = condition {
        statement["Condition"] = condition;
    }
    json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

/// What a side is set up with, the same on both.
struct Setup {
    clock: Arc<StepClock>,
    store: Arc<MemoryStore>,
    env: Env,
    account: Account,
    root_key: String,
    alice_key: String,
    bob_key: String,
    bob_serial: String,
    bob_seed: TotpSeed,
}

async fn setup() -> Setup {
    let clock = Arc::new(StepClock(Mutex::new(UNIX_EPOCH + Duration::from_secs(START))));
    let store = Arc::new(MemoryStore::new());
    let env = env(&clock, 7);
    seed_aws_managed(&*store, env.now()).await.unwrap();
    let identity = Identity::new(Arc::clone(&store), env.clone());
    let policies = Policies::new(Arc::clone(&store), env.clone());
    let account = Account::new(ACCOUNT).unwrap();
    let root_key = identity.bootstrap(Some(&account), None).await.unwrap().root_access_key_id;
    let mut keys = Vec::new();
    for name in ["alice", "bob"] {
        identity.create_user(&account, CreateUser { user_name: name.into(), ..Default::default() }).await.unwrap();
        keys.push(identity.create_access_key(&account, name).await.unwrap().access_key_id);
    }
    let device = identity.create_virtual_mfa_device(&account, None, "bob-phone", Vec::new()).await.unwrap();
    let bob_seed = TotpSeed::from_base32(device.base32_seed.expose()).unwrap();
    let bob_serial = device.device.serial.clone();
    let now = clock.secs();
    let (code1, code2) = (format_code(totp_at(&bob_seed, now - 30)), format_code(totp_at(&bob_seed, now)));
    identity.enable_mfa_device(&account, "bob", &bob_serial, &code1, &code2).await.unwrap();
    let alice = format!("arn:aws:iam::{ACCOUNT}:user/alice");
    let bob = format!("arn:aws:iam::{ACCOUNT}:user/bob");
    let roles = [
        ("reader", trust(&alice, None)),
        ("partner", trust(&alice, Some(json!({"StringEquals": {"sts:ExternalId": "xyz-123"}})))),
        ("guarded", trust(&bob, Some(json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}})))),
        ("closed", trust("arn:aws:iam::444455556666:root", None)),
        ("chained", trust(&format!("arn:aws:iam::{ACCOUNT}:role/reader"), None)),
    ];
    for (name, document) in roles {
        let role = CreateRole { role_name: name.into(), assume_role_policy_document: document, ..Default::default() };
        identity.create_role(&account, role).await.unwrap();
    }
    let document =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
    let input =
        CreatePolicy { policy_name: "s3-read".into(), policy_document: document.to_string(), ..Default::default() };
    policies.create_policy(&account, input).await.unwrap();
    let allow_all =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    for name in ["alice", "bob"] {
        policies.put_inline_policy(&account, EntityKind::User, name, "all", &allow_all.to_string()).await.unwrap();
    }
    policies.put_inline_policy(&account, EntityKind::Role, "reader", "all", &allow_all.to_string()).await.unwrap();
    Setup {
        clock,
        store,
        env,
        account,
        root_key,
        alice_key: keys[0].clone(),
        bob_key: keys[1].clone(),
        bob_serial,
        bob_seed,
    }
}

/// A gateway's token service on the side's store: it resolves callers (and encodes authorization
/// messages), with a random source of its own so the side's sequence is the same on both sides.
async fn gateway(setup: &Setup) -> Sts<MemoryStore> {
    Sts::start(Arc::clone(&setup.store), env(&setup.clock, 1_000)).await.unwrap()
}

/// The in-process side.
async fn local() -> (Setup, Arc<dyn StsApi>, Sts<MemoryStore>) {
    let setup = setup().await;
    let sts = Sts::start(Arc::clone(&setup.store), setup.env.clone()).await.unwrap();
    let gateway = gateway(&setup).await;
    (setup, Arc::new(sts), gateway)
}

async fn serve_sts<L>(sts: Sts<MemoryStore>, layer: L) -> Channel
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
    let routes = tonic::service::Routes::new(tessera_sts::grpc::service(sts));
    tokio::spawn(
        Server::builder()
            .layer(layer)
            .add_routes(routes)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))),
    );
    Channel::from_shared(format!("http://{address}")).unwrap().connect().await.unwrap()
}

/// The remote side: the token service behind a real server, called through `RemoteSts`.
async fn remote() -> (Setup, Arc<dyn StsApi>, Sts<MemoryStore>) {
    let setup = setup().await;
    let sts = Sts::start(Arc::clone(&setup.store), setup.env.clone()).await.unwrap();
    let channel = serve_sts(sts, tower::layer::util::Identity::new()).await;
    let internal = "0123abcd".parse().unwrap();
    let remote = RemoteSts::new(channel).with_metadata("tessera-internal", internal);
    let gateway = gateway(&setup).await;
    (setup, Arc::new(remote), gateway)
}

fn line<T: Debug>(step: &str, answer: Result<T>) -> String {
    match answer {
        Ok(value) => format!("{step}: {value:?}"),
        Err(error) => {
            let mfa = error.mfa_rejection().map(|r| format!(" mfa {} {}", r.serial, r.failure.as_str()));
            let error = error.into_service_error();
            format!("{step}: Err({} {:?}{})", error.code, error.message, mfa.unwrap_or_default())
        }
    }
}

/// A marker for issued credentials, replaced by [`resolved`] with what their session token says.
fn shown(issued: &tessera_sts::IssuedCredentials) -> String {
    format!(
        "CRED[{} {} {}]",
        issued.access_key_id,
        issued.session_token.expose(),
        issued.secret_access_key.expose().len()
    )
}

/// The transcript with every credential replaced by its session as the side's gateway verifies
/// it (all but the random parts: key id, secret, session id), and those random parts masked.
async fn resolved(gateway: &Sts<MemoryStore>, lines: Vec<String>, session_ids: &mut Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for mut line in lines {
        while let Some(start) = line.find("CRED[") {
            let end = start + line[start..].find(']').unwrap();
            let mut parts = line[start + 5..end].split(' ');
            let (key, token, secret_len) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
            let claims = gateway.verify_session(key, token).await.expect("issued credentials verify");
            session_ids.push(claims.session_id.clone());
            let described = format!(
                "session(secret {secret_len} chars, {:?} {} {} {:?} {:?} {:?} {:?} issued {}.{:06} expires {} source {:?} \
                 tags {:?} transitive {:?} policy {:?} mfa {:?} depth {})",
                claims.kind,
                claims.principal_arn,
                claims.principal_id,
                claims.role_arn,
                claims.source_user_arn,
                claims.source_user_id,
                claims.session_name,
                claims.issued_at,
                claims.issued_subsec_micros,
                claims.expires_at,
                claims.source_identity,
                claims.tags,
                claims.transitive_tag_keys,
                claims.session_policy,
                claims.mfa_authenticated_at,
                claims.chain_depth,
            );
            line.replace_range(start..=end, &described);
        }
        for id in session_ids.iter() {
            line = line.replace(id.as_str(), "<session id>");
        }
        out.push(mask_temporary_keys(&line));
    }
    out
}

/// `ASIA…` key ids are random: masked.
fn mask_temporary_keys(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("ASIA") {
        out.push_str(&rest[..at]);
        let id: String = rest[at..].chars().take_while(char::is_ascii_alphanumeric).collect();
        out.push_str(if id.len() == 20 { "ASIA<id>" } else { &id });
        rest = &rest[at + id.len()..];
    }
    out.push_str(rest);
    out
}

async fn caller(gateway: &Sts<MemoryStore>, key: &str, token: Option<&str>) -> CallerPrincipal {
    let credentials = CallerCredentials {
        access_key_id: key.to_owned(),
        session_token: token.map(str::to_owned),
        source_ip: Some("203.0.113.7".into()),
    };
    gateway.resolve_caller(&credentials).await.unwrap()
}

fn assuming(role: &str, session: &str) -> AssumeRole {
    AssumeRole {
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
        role_session_name: session.into(),
        ..Default::default()
    }
}

async fn script(setup: &Setup, api: &dyn StsApi, gateway: &Sts<MemoryStore>) -> Vec<String> {
    let mut out = Vec::new();
    let account = &setup.account;
    let alice = caller(gateway, &setup.alice_key, None).await;
    let bob = caller(gateway, &setup.bob_key, None).await;
    let root = caller(gateway, &setup.root_key, None).await;

    // AssumeRole: plain, with everything, refused by trust, ExternalId, MFA.
    let plain = api.assume_role(&alice, assuming("reader", "plain")).await;
    let plain_credentials = plain.as_ref().ok().map(|a| a.credentials.clone());
    out.push(line("assume", plain.map(|a| (shown(&a.credentials), a))));
    let full = AssumeRole {
        policy_arns: vec![format!("arn:aws:iam::{ACCOUNT}:policy/s3-read")],
        policy: Some(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sts:*"], "Resource": "*"}]})
                .to_string(),
        ),
        duration_seconds: Some(1800),
        tags: vec![Tag { key: "team".into(), value: "blue".into() }, Tag { key: "cost".into(), value: "7".into() }],
        transitive_tag_keys: vec!["team".into()],
        source_identity: Some("alice-at-laptop".into()),
        ..assuming("reader", "full")
    };
    let full = api.assume_role(&alice, full).await;
    let full_credentials = full.as_ref().ok().map(|a| a.credentials.clone());
    out.push(line("assume full", full.map(|a| (shown(&a.credentials), a))));
    out.push(line("assume closed", api.assume_role(&alice, assuming("closed", "xx")).await.map(|a| a.arn)));
    out.push(line("assume missing role", api.assume_role(&alice, assuming("ghost", "xx")).await.map(|a| a.arn)));
    out.push(line("assume as root", api.assume_role(&root, assuming("reader", "xx")).await.map(|a| a.arn)));
    out.push(line("assume bad name", api.assume_role(&alice, assuming("reader", "a b")).await.map(|a| a.arn)));
    let long = AssumeRole { duration_seconds: Some(100_000), ..assuming("reader", "long") };
    out.push(line("assume too long", api.assume_role(&alice, long).await.map(|a| a.arn)));
    let big = AssumeRole {
        tags: (0..40).map(|i| Tag { key: format!("key-{i:02}-{}", "k".repeat(40)), value: "v".repeat(50) }).collect(),
        ..assuming("reader", "big")
    };
    out.push(line("assume packed too large", api.assume_role(&alice, big).await.map(|a| a.arn)));
    for (step, external_id) in
        [("external missing", None), ("external wrong", Some("nope")), ("external", Some("xyz-123"))]
    {
        let input = AssumeRole { external_id: external_id.map(str::to_owned), ..assuming("partner", "pp") };
        out.push(line(step, api.assume_role(&alice, input).await.map(|a| (shown(&a.credentials), a))));
    }
    out.push(line("mfa missing", api.assume_role(&bob, assuming("guarded", "mm")).await.map(|a| a.arn)));
    let wrong = AssumeRole {
        serial_number: Some(setup.bob_serial.clone()),
        token_code: Some("000000".into()),
        ..assuming("guarded", "mm")
    };
    out.push(line("mfa wrong code", api.assume_role(&bob, wrong).await.map(|a| a.arn)));
    setup.clock.advance(30);
    let right = AssumeRole {
        serial_number: Some(setup.bob_serial.clone()),
        token_code: Some(format_code(totp_at(&setup.bob_seed, setup.clock.secs()))),
        ..assuming("guarded", "mm")
    };
    out.push(line("mfa right code", api.assume_role(&bob, right).await.map(|a| (shown(&a.credentials), a))));

    // Calls made with session credentials: chaining keeps tags and depth; long-term-only calls refuse.
    if let Some(credentials) = &full_credentials {
        let session = caller(gateway, &credentials.access_key_id, Some(credentials.session_token.expose())).await;
        let chained = api.assume_role(&session, assuming("chained", "hop")).await;
        out.push(line("chained", chained.map(|a| (shown(&a.credentials), a))));
        out.push(line("session token from session", api.get_session_token(&session, None, None, None).await));
        let federation = api.get_federation_token(&session, "fed", None, Vec::new(), None, Vec::new()).await;
        out.push(line("federation from session", federation.map(|f| f.arn)));
        out.push(line("key info of session key", api.get_access_key_info(&session, &credentials.access_key_id).await));
    }

    // GetSessionToken, with and without MFA.
    out.push(line("session token", api.get_session_token(&alice, Some(3600), None, None).await.map(|c| shown(&c))));
    out.push(line("session token too short", api.get_session_token(&alice, Some(60), None, None).await));
    let serial = Some(setup.bob_serial.as_str());
    out.push(line("session token wrong mfa", api.get_session_token(&bob, None, serial, Some("111111")).await));
    setup.clock.advance(30);
    let code = format_code(totp_at(&setup.bob_seed, setup.clock.secs()));
    let with_mfa = api.get_session_token(&bob, None, serial, Some(&code)).await;
    out.push(line("session token mfa", with_mfa.map(|c| shown(&c))));

    // GetFederationToken.
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]});
    let federation = api
        .get_federation_token(
            &alice,
            "fed-user",
            Some(policy.to_string()),
            vec![format!("arn:aws:iam::{ACCOUNT}:policy/s3-read")],
            Some(7200),
            vec![Tag { key: "project".into(), value: "x".into() }],
        )
        .await;
    out.push(line("federation", federation.map(|f| (shown(&f.credentials), f))));
    let bad = api.get_federation_token(&alice, "a b", None, Vec::new(), None, Vec::new()).await;
    out.push(line("federation bad name", bad.map(|f| f.arn)));
    let by_root = api.get_federation_token(&root, "rootfed", None, Vec::new(), Some(7200), Vec::new()).await;
    out.push(line("federation by root", by_root.map(|f| (shown(&f.credentials), f))));

    // Lookups.
    out.push(line("key info", api.get_access_key_info(&alice, &setup.bob_key).await));
    out.push(line("key info unknown", api.get_access_key_info(&alice, "AKIAAAAAAAAAAAAAAAAA").await));
    out.push(line("key info malformed", api.get_access_key_info(&alice, "short").await));
    let message = gateway.encode_authorization_message(account, &json!({"allowed": false})).unwrap();
    out.push(line("decode", api.decode_authorization_message(&alice, &message).await));
    out.push(line("decode garbage", api.decode_authorization_message(&alice, "not a message").await));
    out.push(line(
        "identity token without issuer",
        api.get_web_identity_token(&alice, &["aud".into()], None).await.map(|t| t.expiration),
    ));
    let web = AssumeRoleWithWebIdentity {
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/reader"),
        role_session_name: "web".into(),
        web_identity_token: "not.a.jwt".into(),
        ..Default::default()
    };
    out.push(line("web identity bad token", api.assume_role_with_web_identity(web).await.map(|a| a.arn)));

    // Revocation and issuing stops (the sessions issued so far are verified first).
    let mut session_ids = Vec::new();
    let mut out = resolved(gateway, out, &mut session_ids).await;
    let by = format!("arn:aws:iam::{ACCOUNT}:root");
    if let Some(credentials) = &plain_credentials {
        out.push(line("revoke session by key", api.revoke_session(account, &credentials.access_key_id, &by).await));
    }
    out.push(line("revoke session by id", api.revoke_session(account, "some-session-id", "").await));
    out.push(line("revoke session empty", api.revoke_session(account, "", &by).await));
    let role = format!("arn:aws:iam::{ACCOUNT}:role/partner");
    out.push(line("revoke role", api.revoke_role_sessions(account, &role, None, &by).await));
    let before = (START + 10) * 1_000_000 + 123;
    out.push(line("revoke role before", api.revoke_role_sessions(account, &role, Some(before), &by).await));
    out.push(line("revoke role future", api.revoke_role_sessions(account, &role, Some(u64::MAX / 2), &by).await));
    let alice_arn = format!("arn:aws:iam::{ACCOUNT}:user/alice");
    out.push(line("revoke principal", api.revoke_principal_sessions(account, &alice_arn, None, &by).await));
    out.push(line("stop", api.stop_issuing(account, &format!("arn:aws:iam::{ACCOUNT}:role/reader"), &by).await));
    out.push(line("assume stopped", api.assume_role(&alice, assuming("reader", "ss")).await.map(|a| a.arn)));
    out.push(line("list", api.list_revocations(account).await));
    out.push(line("resume", api.resume_issuing(account, &format!("arn:aws:iam::{ACCOUNT}:role/reader"), &by).await));
    out.push(line(
        "resume again",
        api.resume_issuing(account, &format!("arn:aws:iam::{ACCOUNT}:role/reader"), &by).await,
    ));
    setup.clock.advance(1);
    out.push(line(
        "assume resumed",
        api.assume_role(&alice, assuming("reader", "rr")).await.map(|a| shown(&a.credentials)),
    ));
    resolved(gateway, out, &mut session_ids).await
}

#[tokio::test]
async fn the_remote_answers_exactly_what_the_domain_answers() {
    let (setup, api, gateway) = local().await;
    let local_lines = script(&setup, &*api, &gateway).await;
    let (setup, api, gateway) = remote().await;
    let remote_lines = script(&setup, &*api, &gateway).await;

    assert_eq!(local_lines.len(), remote_lines.len());
    for (local, remote) in local_lines.iter().zip(&remote_lines) {
        assert_eq!(local, remote);
    }
    let transcript = local_lines.join("\n");
    for expected in [
        "assume: (\"session(secret 40 chars, AssumedRole",
        "assume closed: Err(AccessDenied",
        "external wrong: Err(AccessDenied",
        "external: (\"session(",
        "mfa wrong code: Err(AccessDenied",
        " mfa arn:aws:iam::111122223333:mfa/bob-phone mfa_invalid_code",
        "mfa right code: (\"session(",
        "chained: (\"session(",
        "depth 1)",
        "tags [(\"team\", \"blue\")",
        "session token wrong mfa: Err(",
        "session token mfa: \"session(",
        "federation: (\"session(secret 40 chars, FederatedUser",
        "assume packed too large: Err(PackedPolicyTooLarge",
        "decode: \"{",
        "revoke role future: Err(InvalidInput",
        "assume stopped: Err(AccessDenied",
        "resume again: None",
    ] {
        assert!(transcript.contains(expected), "missing `{expected}` in\n{transcript}");
    }
}

/// A replica that answers the first `down` calls as one shutting down would, and counts calls.
#[derive(Clone)]
struct Flaky<S> {
    inner: S,
    down: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
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
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            let response = tonic::Status::unavailable("the replica is shutting down").into_http();
            return Box::pin(async move { Ok(response) });
        }
        Box::pin(self.inner.call(request))
    }
}

#[tokio::test]
async fn lookups_are_sent_again_after_an_unreachable_replica_and_issuing_is_not() {
    let setup = setup().await;
    let sts = Sts::start(Arc::clone(&setup.store), setup.env.clone()).await.unwrap();
    let (down, calls) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let layer = {
        let (down, calls) = (Arc::clone(&down), Arc::clone(&calls));
        tower::layer::layer_fn(move |inner| Flaky { inner, down: Arc::clone(&down), calls: Arc::clone(&calls) })
    };
    let remote = RemoteSts::new(serve_sts(sts, layer).await);
    let gateway = gateway(&setup).await;
    let alice = caller(&gateway, &setup.alice_key, None).await;

    down.store(1, Ordering::SeqCst);
    assert_eq!(remote.get_access_key_info(&alice, &setup.bob_key).await.unwrap(), ACCOUNT);
    assert_eq!(calls.swap(0, Ordering::SeqCst), 2, "the lookup was sent again");

    down.store(1, Ordering::SeqCst);
    let error = remote.assume_role(&alice, assuming("reader", "once")).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::ServiceFailure, "{error:?}");
    assert_eq!(calls.swap(0, Ordering::SeqCst), 1, "issuing is sent once");

    down.store(1, Ordering::SeqCst);
    let revoked = remote.revoke_session(&setup.account, "sid", "").await.unwrap_err();
    assert_eq!(revoked.code(), ErrorCode::ServiceFailure);
    assert_eq!(calls.swap(0, Ordering::SeqCst), 1, "revoking is sent once");
    assert!(remote.list_revocations(&setup.account).await.unwrap().revocations.is_empty());
}

/// The internal proof a remote sends is a credential: its Debug form names the key only.
#[tokio::test]
async fn the_remote_never_prints_its_metadata_values() {
    let channel = Channel::from_static("http://127.0.0.1:9").connect_lazy();
    let remote =
        tessera_sts::RemoteSts::new(channel).with_metadata("tessera-internal", "c0ffee-proof".parse().unwrap());
    let printed = format!("{remote:?}");
    assert!(printed.contains("tessera-internal") && !printed.contains("c0ffee-proof"), "{printed}");
}
