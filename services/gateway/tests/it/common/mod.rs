//! A gateway on a real socket for integration tests, and a tiny signed Query client: start one
//! with [`start`], call it with [`Harness::call`] as the bootstrapped root (or any [`Creds`]), and
//! read the XML with [`tag`] / [`tags`]. The domain handles let a test set up state directly.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tessera_credentials::{Argon2Params, MasterKey, SystemRng};
use tessera_identity::{Account, Env, Identity, Random, SystemClock};
use tessera_policy_service::Policies;
use tessera_sigv4::{PayloadHash, Request, SigningParams, format_amz_date, sign};
use tessera_store::AnyStore;
use tessera_sts::Sts;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An access key pair (long-term; `token` for temporary credentials).
#[derive(Debug, Clone)]
pub(crate) struct Creds {
    pub(crate) access_key_id: String,
    pub(crate) secret: String,
    pub(crate) token: Option<String>,
}

/// A running gateway over an in-memory store, with the account's root key.
pub(crate) struct Harness {
    pub(crate) addr: SocketAddr,
    pub(crate) root: Creds,
    pub(crate) account: Account,
    pub(crate) identity: Identity<AnyStore>,
    pub(crate) policies: Policies<AnyStore>,
    /// The gateway's store, for tests that look at what a request wrote.
    pub(crate) store: Arc<AnyStore>,
}

/// Starts a gateway on `127.0.0.1:0` (AWS-managed policies seeded, one account bootstrapped).
pub(crate) async fn start() -> Harness {
    let store = Arc::new(AnyStore::open("memory:").await.expect("memory store"));
    let rng = SystemRng::new().expect("system rng");
    let master_key = MasterKey::generate(&mut rng.clone());
    let env = Env {
        clock: Arc::new(SystemClock),
        random: Arc::new(Random::new(rng)),
        master_key: Arc::new(master_key),
        password_params: Argon2Params::FAST_FOR_TESTS,
    };
    tessera_policy_service::seed_aws_managed(&*store, env.now()).await.expect("seed AWS-managed policies");
    let identity = Identity::new(Arc::clone(&store), env.clone());
    let booted = identity.bootstrap(None, None).await.expect("bootstrap");
    let root = Creds {
        access_key_id: booted.root_access_key_id.clone(),
        secret: booted.new_root_secret.as_ref().expect("a new root secret").expose().to_owned(),
        token: None,
    };
    let account = Account::new(&booted.account_id).expect("account");
    let sts = Arc::new(Sts::start(Arc::clone(&store), env.clone()).await.expect("sts"));
    let gateway = Arc::new(tessera_gateway::Gateway::new(Arc::clone(&store), env.clone(), sts));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let app = tessera_gateway::router(gateway).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let policies = Policies::new(Arc::clone(&store), env);
    Harness { addr, root, account, identity, policies, store }
}

impl Harness {
    /// A signed IAM Query call as root; `Version=2010-05-08` is added when not given.
    pub(crate) async fn root(&self, params: &[(&str, &str)]) -> (u16, String) {
        self.call(&self.root, params).await
    }

    /// A signed Query call (`POST /`, form body, SigV4 as botocore signs it: content-type, host,
    /// x-amz-date and the token when there is one). Returns the status and the body.
    pub(crate) async fn call(&self, creds: &Creds, params: &[(&str, &str)]) -> (u16, String) {
        let action = params.iter().find(|(k, _)| *k == "Action").map_or("", |(_, v)| *v);
        let mut body = String::new();
        let mut push = |k: &str, v: &str| {
            if !body.is_empty() {
                body.push('&');
            }
            body.push_str(&form_encode(k));
            body.push('=');
            body.push_str(&form_encode(v));
        };
        for (k, v) in params {
            push(k, v);
        }
        if !params.iter().any(|(k, _)| *k == "Version") {
            let version = if is_sts(action) { "2011-06-15" } else { "2010-05-08" };
            push("Version", version);
        }
        let service = if is_sts(action) { "sts" } else { "iam" };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
        let amz_date = format_amz_date(now);
        let host = self.addr.to_string();
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let mut headers: Vec<(&str, &str)> =
            vec![("Content-Type", content_type), ("Host", &host), ("X-Amz-Date", &amz_date)];
        if let Some(token) = &creds.token {
            headers.push(("X-Amz-Security-Token", token));
        }
        let request = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body_sha256: PayloadHash::of(body.as_bytes()),
        };
        let authorization = sign(
            &request,
            &SigningParams {
                access_key_id: &creds.access_key_id,
                secret: creds.secret.as_bytes(),
                region: "us-east-1",
                service,
                amz_date: &amz_date,
            },
        );
        let mut raw = format!("POST / HTTP/1.1\r\nAuthorization: {authorization}\r\n");
        for (name, value) in &headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        raw.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()));
        send(self.addr, raw.as_bytes()).await
    }
}

fn is_sts(action: &str) -> bool {
    matches!(
        action,
        "AssumeRole"
            | "AssumeRoleWithWebIdentity"
            | "AssumeRoleWithSAML"
            | "GetSessionToken"
            | "GetFederationToken"
            | "GetCallerIdentity"
            | "GetAccessKeyInfo"
            | "DecodeAuthorizationMessage"
            | "GetWebIdentityToken"
            | "AssumeRoot"
            | "GetDelegatedAccessToken"
    )
}

/// `application/x-www-form-urlencoded` for one key or value (unreserved characters kept).
pub(crate) fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Sends a raw HTTP/1.1 request and reads the whole response (`Connection: close`).
pub(crate) async fn send(addr: SocketAddr, raw: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(raw).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8(response).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    (status, if chunked { dechunk(body) } else { body.to_owned() })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// The text of the first `<name>…</name>` in `xml` (`None` if absent; `Some("")` for `<name/>`).
pub(crate) fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    tags(xml, name).into_iter().next()
}

/// The texts of every `<name>…</name>` in `xml`, in order (not nested in one another).
pub(crate) fn tags<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close, empty) = (format!("<{name}>"), format!("</{name}>"), format!("<{name}/>"));
    let mut out = Vec::new();
    let mut rest = xml;
    loop {
        let next_open = rest.find(&open);
        let next_empty = rest.find(&empty);
        match (next_open, next_empty) {
            (Some(o), e) if e.is_none_or(|e| o < e) => {
                let inner = &rest[o + open.len()..];
                let Some(end) = inner.find(&close) else { break };
                out.push(&inner[..end]);
                rest = &inner[end + close.len()..];
            }
            (_, Some(e)) => {
                out.push("");
                rest = &rest[e + empty.len()..];
            }
            _ => break,
        }
    }
    out
}

/// The `<Code>` of an error response.
pub(crate) fn code(xml: &str) -> &str {
    tag(xml, "Code").unwrap_or("")
}
