//! Key rotation without downtime (issue 13 item 4), on two replicas sharing a private Redis:
//! credentials, sessions, MFA devices and identity tokens made before a master-key rotation keep
//! working on both replicas through it and after it (while requests keep flowing), nothing stays
//! sealed under the old key, a replica holding only the new key serves them, and a replica started
//! with only the old key afterwards refuses to start; after a signing-key rotation, sessions and
//! identity tokens issued before keep verifying on both replicas, whose JWKS list both keys.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::signed_post;
use tessera::serve::{ServeConfig, Server};
use tessera_credentials::{MasterKey, TotpSeed, format_code, step, totp_at};
use tessera_proto::authorizer::v1 as apb;
use tessera_proto::authorizer::v1::authorizer_service_client::AuthorizerServiceClient;
use tessera_proto::identity::v1 as ipb;
use tessera_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tessera_proto::sts::v1 as spb;
use tessera_proto::sts::v1::sts_service_client::StsServiceClient;
use tessera_store::{AnyStore, Scope, Snapshots as _};
use tonic::transport::Channel;

const ACCOUNT: &str = "131313131313";
const ISSUER: &str = "https://issuer.rotation.test";
const AUDIENCE: &str = "widgets";

fn key_file(dir: &Path, name: &str, byte: u8) -> (PathBuf, MasterKey) {
    let key = MasterKey::from_bytes([byte; 32]);
    let path = dir.join(name);
    std::fs::write(&path, key.encode()).unwrap();
    (path, key)
}

fn config(redis: &common::PrivateRedis, dir: &Path, key: &Path, previous: Option<&Path>) -> ServeConfig {
    let mut config = ServeConfig::for_tests(dir);
    config.store = Some(redis.url.clone());
    config.account_id = Some(ACCOUNT.into());
    config.master_key_file = Some(key.to_owned());
    config.previous_master_key_file = previous.map(Path::to_owned);
    config.issuer_url = Some(ISSUER.into());
    config
}

/// A running replica and its clients.
struct Replica {
    _dir: tempfile::TempDir,
    server: Server,
    identity: IdentityServiceClient<Channel>,
    sts: StsServiceClient<Channel>,
    authorizer: AuthorizerServiceClient<Channel>,
}

impl Replica {
    async fn start(redis: &common::PrivateRedis, key: &Path, previous: Option<&Path>) -> Replica {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(config(redis, dir.path(), key, previous)).await.unwrap();
        let channel = Channel::from_shared(format!("http://{}", server.grpc_addr)).unwrap().connect().await.unwrap();
        Replica {
            _dir: dir,
            server,
            identity: IdentityServiceClient::new(channel.clone()),
            sts: StsServiceClient::new(channel.clone()),
            authorizer: AuthorizerServiceClient::new(channel),
        }
    }

    async fn stop(self) {
        self.server.stop().await.unwrap();
    }

    /// A long-term key's secret opens: a SigV4-signed GetCallerIdentity over HTTP.
    async fn key_works(&self, key: &Key) -> Result<(), String> {
        let body = "Action=GetCallerIdentity&Version=2011-06-15";
        let (status, body) = signed_post(self.server.http_addr, &key.id, &key.secret, body).await;
        if status.contains(" 200 ") { Ok(()) } else { Err(format!("{status}: {body}")) }
    }

    /// A session token opens under the replica's ring.
    async fn session_works(&self, session: &spb::Credentials) -> Result<(), tonic::Status> {
        let caller = spb::Caller {
            access_key_id: session.access_key_id.clone(),
            session_token: Some(session.session_token.clone()),
            source_ip: None,
        };
        let mut sts = self.sts.clone();
        let who = sts.get_caller_identity(spb::GetCallerIdentityRequest { caller: Some(caller) }).await?.into_inner();
        assert_eq!(who.arn, format!("arn:aws:iam::{ACCOUNT}:user/alice"));
        Ok(())
    }

    /// An identity token verifies (its signature and, for a session's, its sealed session).
    async fn identity_token_works(&self, token: &str) -> Result<(), tonic::Status> {
        let mut authorizer = self.authorizer.clone();
        let request = apb::AuthorizeRequest {
            credential: Some(apb::authorize_request::Credential::Bearer(apb::Bearer {
                token: token.to_owned(),
                audience: Some(AUDIENCE.into()),
            })),
            question: Some(apb::Question {
                action: "s3:GetObject".into(),
                resources: vec!["arn:aws:s3:::bucket/a".into()],
                context: Vec::new(),
            }),
            source_ip: None,
        };
        authorizer.authorize(request).await.map(drop)
    }

    async fn session(&self, key: &Key, mfa: Option<(&str, String)>) -> Result<spb::Credentials, tonic::Status> {
        let mut sts = self.sts.clone();
        let (serial_number, token_code) =
            mfa.map_or((None, None), |(serial, code)| (Some(serial.to_owned()), Some(code)));
        let response = sts
            .get_session_token(spb::GetSessionTokenRequest {
                caller: Some(caller(key)),
                duration_seconds: None,
                serial_number,
                token_code,
            })
            .await?;
        Ok(response.into_inner().credentials.unwrap())
    }

    async fn identity_token(&self, caller: spb::Caller) -> String {
        let mut sts = self.sts.clone();
        sts.get_web_identity_token(spb::GetWebIdentityTokenRequest {
            caller: Some(caller),
            audience: vec![AUDIENCE.into()],
            duration_seconds: None,
        })
        .await
        .unwrap()
        .into_inner()
        .web_identity_token
    }

    /// The `kid`s of the replica's JWKS.
    async fn jwks_kids(&self) -> Vec<String> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(self.server.http_addr).await.unwrap();
        let request = "GET /.well-known/jwks.json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        let jwks: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not a JWKS: {response}"));
        let mut kids: Vec<String> =
            jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect();
        kids.sort();
        kids
    }
}

#[derive(Clone)]
struct Key {
    id: String,
    secret: String,
}

fn caller(key: &Key) -> spb::Caller {
    spb::Caller { access_key_id: key.id.clone(), session_token: None, source_ip: None }
}

fn session_caller(session: &spb::Credentials) -> spb::Caller {
    spb::Caller {
        access_key_id: session.access_key_id.clone(),
        session_token: Some(session.session_token.clone()),
        source_ip: None,
    }
}

async fn create_alice(replica: &Replica) -> Key {
    let mut identity = replica.identity.clone();
    identity
        .create_user(ipb::CreateUserRequest {
            account_id: ACCOUNT.into(),
            user_name: "alice".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let key = identity
        .create_access_key(ipb::CreateAccessKeyRequest { account_id: ACCOUNT.into(), user_name: Some("alice".into()) })
        .await
        .unwrap()
        .into_inner()
        .access_key
        .unwrap();
    Key { id: key.access_key_id, secret: key.secret_access_key }
}

/// A virtual MFA device enabled for alice, with two codes of counters before now; returns its
/// serial and seed.
async fn enable_mfa(replica: &Replica) -> (String, TotpSeed) {
    let mut identity = replica.identity.clone();
    let device = identity
        .create_virtual_mfa_device(ipb::CreateVirtualMfaDeviceRequest {
            account_id: ACCOUNT.into(),
            virtual_mfa_device_name: "alice-phone".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .virtual_mfa_device
        .unwrap();
    let seed = TotpSeed::from_base32(std::str::from_utf8(&device.base32_string_seed).unwrap()).unwrap();
    // The codes of the two steps before this one, so the two after it stay for signing in; once
    // more should the server's clock have crossed into the next step in between.
    for attempt in 0..2 {
        let now = now();
        let enabled = identity
            .enable_mfa_device(ipb::EnableMfaDeviceRequest {
                account_id: ACCOUNT.into(),
                user_name: "alice".into(),
                serial_number: device.serial_number.clone(),
                authentication_code1: format_code(totp_at(&seed, now - 60)),
                authentication_code2: format_code(totp_at(&seed, now - 30)),
            })
            .await;
        match enabled {
            Ok(_) => return (device.serial_number, seed),
            Err(error) if attempt == 0 => eprintln!("enabling again: {error}"),
            Err(error) => panic!("cannot enable the MFA device: {error}"),
        }
    }
    unreachable!()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn tessera(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command.args(args);
    for variable in [
        "TESSERA_STORE",
        "TESSERA_DATA_DIR",
        "TESSERA_MASTER_KEY",
        "TESSERA_MASTER_KEY_FILE",
        "TESSERA_PREVIOUS_MASTER_KEY",
        "TESSERA_PREVIOUS_MASTER_KEY_FILE",
    ] {
        command.env_remove(variable);
    }
    command.output().unwrap()
}

fn ok(output: &Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "failed: {stdout}\n{stderr}");
    stdout.into_owned()
}

/// Requests on both replicas with credentials and a session made before the rotation, until
/// stopped; counts them and records the first failure.
fn keep_calling(
    replicas: [Arc<Replica>; 2],
    key: Key,
    session: spb::Credentials,
    stop: Arc<AtomicBool>,
) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<Vec<String>>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let task = tokio::spawn(async move {
        let mut failures = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            for (name, replica) in ["A", "B"].iter().zip(&replicas) {
                if let Err(error) = replica.key_works(&key).await {
                    failures.push(format!("{name}: key: {error}"));
                }
                if let Err(error) = replica.session_works(&session).await {
                    failures.push(format!("{name}: session: {error}"));
                }
                counted.fetch_add(2, Ordering::SeqCst);
            }
        }
        failures
    });
    (calls, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_key_rotation_keeps_everything_working_on_both_replicas_and_locks_out_the_old_key() {
    let dir = tempfile::tempdir().unwrap();
    let redis = common::PrivateRedis::start(dir.path());
    let (old_file, old) = key_file(dir.path(), "old.key", 0x11);
    let (new_file, new) = key_file(dir.path(), "new.key", 0x22);

    // Two replicas on the old key; credentials, a session, an MFA device and identity tokens.
    let a = Replica::start(&redis, &old_file, None).await;
    let b = Replica::start(&redis, &old_file, None).await;
    let key = create_alice(&a).await;
    let (serial, seed) = enable_mfa(&b).await;
    let session = a.session(&key, None).await.unwrap();
    let user_token = b.identity_token(caller(&key)).await;
    let session_token = a.identity_token(session_caller(&session)).await;

    // Rolling restart: each replica gets the new key and keeps the old one; the other, not yet
    // restarted, keeps serving what came before.
    a.stop().await;
    let a = Replica::start(&redis, &new_file, Some(&old_file)).await;
    b.key_works(&key).await.unwrap();
    b.session_works(&session).await.unwrap();
    a.key_works(&key).await.unwrap();
    a.session_works(&session).await.unwrap();
    b.stop().await;
    let b = Replica::start(&redis, &new_file, Some(&old_file)).await;

    // The rotation, while both replicas serve requests.
    let (a, b) = (Arc::new(a), Arc::new(b));
    let stop = Arc::new(AtomicBool::new(false));
    let (calls, traffic) =
        keep_calling([Arc::clone(&a), Arc::clone(&b)], key.clone(), session.clone(), Arc::clone(&stop));
    let rotate = [
        "admin",
        "rotate-master-key",
        "--store",
        &redis.url,
        "--master-key-file",
        new_file.to_str().unwrap(),
        "--previous-master-key-file",
        old_file.to_str().unwrap(),
    ]
    .map(str::to_owned);
    let output = tokio::task::spawn_blocking(move || tessera(&rotate.each_ref().map(String::as_str))).await.unwrap();
    let said = ok(&output);
    // Let the traffic see the rotated store on both replicas before stopping it.
    let seen = calls.load(Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(30);
    while calls.load(Ordering::SeqCst) < seen + 8 {
        assert!(Instant::now() < deadline, "the traffic stalled");
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::SeqCst);
    let failures = traffic.await.unwrap();
    assert!(failures.is_empty(), "requests failed during the rotation: {failures:?}");
    assert!(calls.load(Ordering::SeqCst) >= 8);
    assert!(
        said.contains(
            " access-key secrets, 1 MFA seeds and 0 server certificate and SAML provider private keys in 1 accounts"
        ),
        "{said}"
    );
    assert!(!said.contains(" 0 access-key secrets"), "alice's key and the root's: {said}");
    assert!(said.contains(&format!("now names key {}", new.key_id())), "{said}");

    // Nothing in the store is sealed under the old key any more.
    let store = AnyStore::open(&redis.url).await.unwrap();
    let snapshot = store.export(&Scope::Whole).await.unwrap();
    let old_blob = format!("v1.{}.", old.key_id());
    for ns in &snapshot.namespaces {
        for (key, value) in &ns.entries {
            assert!(!String::from_utf8_lossy(&value.value).contains(&old_blob), "{key} is still under the old key");
        }
    }
    drop(store);

    // Everything made before works on both replicas after it.
    let step_now = step(now());
    for (replica, counter) in [(&a, step_now), (&b, step_now + 1)] {
        replica.key_works(&key).await.unwrap();
        replica.session_works(&session).await.unwrap();
        replica.identity_token_works(&user_token).await.unwrap();
        replica.identity_token_works(&session_token).await.unwrap();
        let code = format_code(totp_at(&seed, counter * 30));
        let with_mfa = replica.session(&key, Some((&serial, code))).await.unwrap();
        replica.session_works(&with_mfa).await.unwrap();
    }

    // A replica with only the new key serves them too: they were sealed again, the ring carried over.
    let c = Replica::start(&redis, &new_file, None).await;
    c.key_works(&key).await.unwrap();
    c.session_works(&session).await.unwrap();
    c.identity_token_works(&user_token).await.unwrap();
    c.stop().await;

    // A replica started with only the old key refuses, naming both keys.
    let refused_dir = tempfile::tempdir().unwrap();
    let Err(error) = Server::start(config(&redis, refused_dir.path(), &old_file, None)).await else {
        panic!("a replica with only the old key must not start");
    };
    let message = format!("{error:#}");
    assert!(message.contains(old.key_id()) && message.contains(new.key_id()), "{message}");
    assert!(message.contains("rotated") && message.contains("refusing to start"), "{message}");

    // A second run finds nothing left to do.
    let again = ok(&tessera(&[
        "admin",
        "rotate-master-key",
        "--store",
        &redis.url,
        "--master-key-file",
        new_file.to_str().unwrap(),
        "--previous-master-key-file",
        old_file.to_str().unwrap(),
    ]));
    assert!(
        again.contains("0 access-key secrets, 0 MFA seeds and 0 server") && again.contains("already named"),
        "{again}"
    );

    for replica in [a, b] {
        Arc::into_inner(replica).expect("the traffic task is done").stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signing_key_rotation_keeps_sessions_and_identity_tokens_verifying_and_publishes_both_keys() {
    let dir = tempfile::tempdir().unwrap();
    let redis = common::PrivateRedis::start(dir.path());
    let (key_path, _) = key_file(dir.path(), "master.key", 0x33);
    let a = Replica::start(&redis, &key_path, None).await;
    let b = Replica::start(&redis, &key_path, None).await;
    let key = create_alice(&a).await;
    let session = a.session(&key, None).await.unwrap();
    let user_token = a.identity_token(caller(&key)).await;
    let session_token = b.identity_token(session_caller(&session)).await;
    let before = a.jwks_kids().await;
    assert_eq!(before.len(), 1);
    assert_eq!(b.jwks_kids().await, before);

    let said = ok(&tessera(&[
        "admin",
        "rotate-signing-keys",
        "--store",
        &redis.url,
        "--master-key-file",
        key_path.to_str().unwrap(),
    ]));
    assert!(said.contains("2 keys in the ring") && said.contains("2 keys in the JWKS"), "{said}");

    // Both replicas publish the new key beside the old one (they read the keys again every 10 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    for replica in [&a, &b] {
        loop {
            let kids = replica.jwks_kids().await;
            if kids.len() == 2 {
                assert!(kids.contains(&before[0]), "{kids:?}");
                break;
            }
            assert!(Instant::now() < deadline, "the JWKS did not list the new key: {kids:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // What was issued before keeps verifying on both replicas, and so do new sessions.
    for replica in [&a, &b] {
        replica.session_works(&session).await.unwrap();
        replica.identity_token_works(&user_token).await.unwrap();
        replica.identity_token_works(&session_token).await.unwrap();
    }
    let later = b.session(&key, None).await.unwrap();
    a.session_works(&later).await.unwrap();
    b.session_works(&later).await.unwrap();

    // A replica started now seals new sessions under the new ring key; both others open them.
    let c = Replica::start(&redis, &key_path, None).await;
    let newest = c.session(&key, None).await.unwrap();
    a.session_works(&newest).await.unwrap();
    b.session_works(&newest).await.unwrap();
    c.session_works(&session).await.unwrap();
    c.stop().await;
    a.stop().await;
    b.stop().await;
}
