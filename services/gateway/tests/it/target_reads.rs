//! A request reads its target user or role once: the read that finds its ARN (with its path) also
//! gives the decision the target's tags and boundary and gives the operation its record.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::{Creds, code, form_encode, send, tag};
use tessera_credentials::{Argon2Params, MasterKey, SystemRng};
use tessera_identity::{Account, CreateRole, CreateUser, Env, Identity, Random, SystemClock};
use tessera_policy_service::Policies;
use tessera_sigv4::{PayloadHash, Request, SigningParams, format_amz_date, sign};
use tessera_store::iam::{EntityKind, Tag};
use tessera_store::{Entry, Key, MemoryStore, Store, StoreError, Subscription, Transaction, Versioned};
use tessera_sts::Sts;

/// A memory store that counts the reads of one key.
#[derive(Debug, Default)]
struct Counting {
    inner: MemoryStore,
    watched: Mutex<Option<String>>,
    reads: AtomicUsize,
}

impl Counting {
    fn watch(&self, key: &Key) {
        *self.watched.lock().unwrap() = Some(key.as_str().to_owned());
        self.reads.store(0, Ordering::SeqCst);
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

impl Store for Counting {
    async fn get(&self, key: &Key) -> Result<Option<Versioned<Vec<u8>>>, StoreError> {
        if self.watched.lock().unwrap().as_deref() == Some(key.as_str()) {
            self.reads.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.get(key).await
    }

    async fn scan_prefix(
        &self,
        prefix: &Key,
        start_after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.inner.scan_prefix(prefix, start_after, limit).await
    }

    async fn commit(&self, txn: Transaction) -> Result<(), StoreError> {
        self.inner.commit(txn).await
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        self.inner.publish(channel, message).await
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        self.inner.subscribe(channel).await
    }
}

/// A signed IAM Query call (as `common::Harness::call`, for a gateway over another store).
async fn call(addr: SocketAddr, creds: &Creds, params: &[(&str, &str)]) -> (u16, String) {
    let mut body: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v))).collect();
    body.push("Version=2010-05-08".to_owned());
    let body = body.join("&");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let amz_date = format_amz_date(now);
    let host = addr.to_string();
    let headers: Vec<(&str, &str)> = vec![
        ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("Host", &host),
        ("X-Amz-Date", &amz_date),
    ];
    let request = Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body_sha256: PayloadHash::of(body.as_bytes()),
    };
    let params = SigningParams {
        access_key_id: &creds.access_key_id,
        secret: creds.secret.as_bytes(),
        region: "us-east-1",
        service: "iam",
        amz_date: &amz_date,
    };
    let mut raw = format!("POST / HTTP/1.1\r\nAuthorization: {}\r\n", sign(&request, &params));
    for (name, value) in &headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()));
    send(addr, raw.as_bytes()).await
}

#[tokio::test]
async fn a_target_user_or_role_is_read_once_per_request() {
    let store = Arc::new(Counting::default());
    let rng = SystemRng::new().expect("system rng");
    let env = Env {
        clock: Arc::new(SystemClock),
        random: Arc::new(Random::new(rng.clone())),
        master_key: Arc::new(MasterKey::generate(&mut rng.clone())),
        password_params: Argon2Params::FAST_FOR_TESTS,
    };
    let identity = Identity::new(Arc::clone(&store), env.clone());
    let booted = identity.bootstrap(None, None).await.expect("bootstrap");
    let account = Account::new(&booted.account_id).expect("account");
    let team = vec![Tag { key: "team".into(), value: "core".into() }];
    let user = CreateUser {
        user_name: "target".into(),
        path: Some("/dev/".into()),
        tags: team.clone(),
        ..CreateUser::default()
    };
    identity.create_user(&account, user).await.expect("target user");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = CreateRole {
        role_name: "target-role".into(),
        assume_role_policy_document: trust.into(),
        tags: team,
        ..CreateRole::default()
    };
    identity.create_role(&account, role).await.expect("target role");
    identity.create_user(&account, CreateUser { user_name: "alice".into(), ..CreateUser::default() }).await.unwrap();
    // Alice may read what is tagged for her team only: the decision needs the target's tags.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","iam:GetRole"],"Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"core"}}}]}"#;
    Policies::new(Arc::clone(&store), env.clone())
        .put_inline_policy(&account, EntityKind::User, "alice", "read", policy)
        .await
        .expect("alice's policy");
    let key = identity.create_access_key(&account, "alice").await.expect("alice's key");
    let alice =
        Creds { access_key_id: key.access_key_id, secret: key.secret_access_key.expose().to_owned(), token: None };

    let sts = Arc::new(Sts::start(Arc::clone(&store), env.clone()).await.expect("sts"));
    let gateway = Arc::new(tessera_gateway::Gateway::new(Arc::clone(&store), env, sts));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let app = tessera_gateway::router(gateway).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    // Alice's own records are read (and cached) by a first call.
    assert_eq!(call(addr, &alice, &[("Action", "GetUser"), ("UserName", "alice")]).await.0, 403);

    for (action, name_field, name, kind, arn) in [
        ("GetUser", "UserName", "target", EntityKind::User, ":user/dev/target"),
        ("GetRole", "RoleName", "target-role", EntityKind::Role, ":role/target-role"),
    ] {
        store.watch(&tessera_identity::entity::key(&account, kind, name));
        let (status, body) = call(addr, &alice, &[("Action", action), (name_field, name)]).await;
        assert_eq!(status, 200, "{action}: {} {body}", code(&body));
        assert!(tag(&body, "Arn").is_some_and(|a| a.ends_with(arn)), "{body}");
        assert_eq!(store.reads(), 1, "{action} reads its target once: for its ARN, its tags and its answer");
    }
}
