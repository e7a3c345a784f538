//! The web console (issue 16) over HTTP against a real server on Redis: sign-in, cookies and
//! their flags, session ids at sign-in, CSRF, throttling, forced password change, a denied page,
//! and a secret shown once. Each test uses its own account in the shared Redis database.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tessera::serve::{ServeConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ROOT_PASSWORD: &str = "root-console-Passw0rd!";

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn set_cookies(&self) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie")).map(|(_, v)| v.as_str()).collect()
    }

    /// The value of the hidden `csrf` field of the page's first form.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
        self.body[at..].split('"').next().unwrap().to_owned()
    }
}

/// A cookie-keeping HTTP/1.1 client, as small as a browser's essentials.
struct Browser {
    addr: SocketAddr,
    jar: BTreeMap<String, String>,
    extra: Vec<(String, String)>,
}

fn encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl Browser {
    fn new(addr: SocketAddr) -> Self {
        Self { addr, jar: BTreeMap::new(), extra: Vec::new() }
    }

    async fn send(&mut self, method: &str, path: &str, body: Option<String>) -> Reply {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        // A multipart form is a POST whose content type is among the extra headers.
        let verb = if method == "MULTIPART" { "POST" } else { method };
        let mut request = format!("{verb} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        if !cookies.is_empty() {
            request.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        for (k, v) in &self.extra {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        let body = body.unwrap_or_default();
        if method == "POST" {
            request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        }
        if method != "GET" {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> =
            lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
        let reply = Reply { status, headers, body: body.to_owned() };
        for cookie in reply.set_cookies() {
            let (pair, attributes) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        reply
    }

    async fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, None).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.send("POST", path, Some(encode(form))).await
    }

    /// A `multipart/form-data` POST, as a browser sends a form with a file: `file` is the
    /// (field, file name, content) of the upload.
    async fn post_multipart(&mut self, path: &str, form: &[(&str, &str)], file: (&str, &str, &str)) -> Reply {
        let boundary = "----TesseraConsoleTestBoundary7MA4YWxk";
        let mut body = String::new();
        for (name, value) in form {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        let (name, file_name, content) = file;
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
             Content-Type: text/xml\r\n\r\n{content}\r\n--{boundary}--\r\n"
        ));
        self.extra.push(("Content-Type".into(), format!("multipart/form-data; boundary={boundary}")));
        let reply = self.send("MULTIPART", path, Some(body)).await;
        self.extra.pop();
        reply
    }

    /// Fills and sends the sign-in form; the reply to the POST.
    async fn sign_in(&mut self, account: &str, user: &str, password: &str) -> Reply {
        let form = self.get("/console/signin").await;
        assert_eq!(form.status, 200);
        let csrf = form.csrf();
        self.post("/console/signin", &[("csrf", &csrf), ("account", account), ("user", user), ("password", password)])
            .await
    }

    fn session(&self) -> Option<String> {
        self.jar.get("tessera-console").cloned()
    }
}

struct Harness {
    server: Server,
    account: String,
    dir: tempfile::TempDir,
}

/// A server on the test Redis database with an account of its own, whose root has a console
/// password.
async fn start() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("redis-test-master.key");
    // The fixed test-only key every server test on the shared Redis database uses.
    std::fs::write(&key_file, tessera_credentials::MasterKey::from_bytes([0x7e; 32]).encode()).unwrap();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let mut random = tessera_credentials::SystemRng::new().unwrap();
    let mut bytes = [0u8; 8];
    tessera_credentials::RandomSource::fill_bytes(&mut random, &mut bytes);
    let account = format!("{:012}", u64::from_le_bytes(bytes) % 1_000_000_000_000);
    let mut config = ServeConfig::for_tests(dir.path());
    config.store = Some(url.clone());
    config.master_key_file = Some(key_file);
    config.account_id = Some(account.clone());
    let server = Server::start(config).await.unwrap();
    let store = tessera_store::AnyStore::open(&url).await.unwrap();
    let (id, set) =
        tessera_console::set_root_password(&store, Some(&account), ROOT_PASSWORD, &mut random, 0, false).await.unwrap();
    assert!(set && id == account);
    Harness { server, account, dir }
}

impl Harness {
    async fn root(&self) -> Browser {
        let mut browser = Browser::new(self.server.http_addr);
        let reply = browser.sign_in(&self.account, "", ROOT_PASSWORD).await;
        assert_eq!((reply.status, reply.header("location")), (303, Some("/console/home")), "{}", reply.body);
        browser
    }
}

/// Root creates `name` with a console password (and an access key when `key`); the reply.
async fn create_user(root: &mut Browser, name: &str, password: &str, reset: bool, key: bool) -> Reply {
    let csrf = root.get("/console/users/new").await.csrf();
    let mut form = vec![("csrf", csrf.as_str()), ("name", name), ("console", "1"), ("password", password)];
    if reset {
        form.push(("reset", "1"));
    }
    if key {
        form.push(("key", "1"));
    }
    root.post("/console/users", &form).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_strict_and_sign_in_issues_a_fresh_session() {
    let h = start().await;
    let mut browser = Browser::new(h.server.http_addr);
    assert_eq!(browser.get("/console/home").await.header("location"), Some("/console/signin"));
    let reply = browser.sign_in(&h.account, "", ROOT_PASSWORD).await;
    assert_eq!(reply.status, 303);
    let cookie = reply.set_cookies().into_iter().find(|c| c.starts_with("tessera-console=")).unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let first = browser.session().unwrap();
    let home = browser.get("/console/home").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("IAM Dashboard") && home.body.contains(&format!("arn:aws:iam::{}:root", h.account)));
    assert!(home.header("cache-control").is_some_and(|v| v.contains("no-store")));
    // The bootstrap gave the root an access key, and there is no password policy yet.
    for todo in ["root-keys", "password-policy", "root-mfa"] {
        assert!(home.body.contains(&format!("id=\"rec-{todo}\" class=\"warn\" data-state=\"todo\"")), "{todo}");
    }
    assert!(home.body.contains("id=\"rec-key-rotation\" class=\"ok\""));
    // Fixation: an id planted in a browser before sign-in is not the one sign-in issues, and
    // stays worthless after it.
    let planted = "ab".repeat(32);
    let mut victim = Browser::new(h.server.http_addr);
    victim.jar.insert("tessera-console".into(), planted.clone());
    assert_eq!(victim.sign_in(&h.account, "", ROOT_PASSWORD).await.status, 303);
    let issued = victim.session().unwrap();
    assert_ne!(issued, planted);
    assert_ne!(issued, first, "every sign-in has its own id");
    let mut attacker = Browser::new(h.server.http_addr);
    attacker.jar.insert("tessera-console".into(), planted);
    assert_eq!(attacker.get("/console/home").await.header("location"), Some("/console/signin"));
    // Behind a TLS terminator the cookie is Secure.
    let mut tls = Browser::new(h.server.http_addr);
    tls.extra.push(("X-Forwarded-Proto".into(), "https".into()));
    let reply = tls.sign_in(&h.account, "", ROOT_PASSWORD).await;
    assert!(reply.set_cookies().iter().all(|c| c.contains("; Secure")), "{:?}", reply.set_cookies());
    // Sign out ends the session on the server, not only in the browser.
    let session = browser.session().unwrap();
    let csrf = browser.get("/console/home").await.csrf();
    let out = browser.post("/console/signout", &[("csrf", &csrf)]).await;
    assert_eq!(out.header("location"), Some("/console/signin"));
    assert!(browser.session().is_none());
    browser.jar.insert("tessera-console".into(), session);
    assert_eq!(browser.get("/console/home").await.header("location"), Some("/console/signin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_needs_its_csrf_token() {
    let h = start().await;
    // The sign-in form: its double-submit token.
    let mut browser = Browser::new(h.server.http_addr);
    browser.get("/console/signin").await;
    let forged =
        browser.post("/console/signin", &[("account", &h.account), ("user", ""), ("password", ROOT_PASSWORD)]).await;
    assert_eq!(forged.status, 403);
    assert!(browser.session().is_none());
    let mut root = h.root().await;
    let csrf = root.get("/console/home").await.csrf();
    for form in [vec![("name", "mallory")], vec![("name", "mallory"), ("csrf", "0".repeat(64).leak() as &str)]] {
        let refused = root.post("/console/users", &form).await;
        assert_eq!(refused.status, 403, "{form:?}");
        assert!(refused.body.contains("CSRF"));
    }
    let list = root.get("/console/users").await;
    assert!(!list.body.contains("mallory"), "no user was created by a forged form");
    assert_eq!(root.post("/console/signout", &[]).await.status, 403);
    assert_eq!(root.get("/console/home").await.status, 200, "still signed in");
    let created = root.post("/console/users", &[("csrf", &csrf), ("name", "mallory")]).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(root.get("/console/users").await.body.contains("mallory"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_throttled_per_user_name() {
    let h = start().await;
    let mut root = h.root().await;
    assert_eq!(create_user(&mut root, "tina", "Tina-Passw0rd!", false, false).await.status, 200);
    let mut browser = Browser::new(h.server.http_addr);
    for attempt in 0..tessera_console::SIGN_IN_MAX_FAILURES {
        let reply = browser.sign_in(&h.account, "tina", "wrong-password").await;
        assert_eq!(reply.status, 401, "attempt {attempt}");
        assert!(reply.body.contains("Your authentication information is incorrect"));
    }
    // Locked: the right password is refused unchecked.
    let reply = browser.sign_in(&h.account, "tina", "Tina-Passw0rd!").await;
    assert_eq!(reply.status, 429);
    assert!(browser.session().is_none());
    // Another user name is not locked.
    assert_eq!(h.root().await.get("/console/home").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_permissions_sees_why_and_no_data() {
    let h = start().await;
    let mut root = h.root().await;
    assert_eq!(create_user(&mut root, "secretive-sam", "Sam-Passw0rd!", false, false).await.status, 200);
    assert_eq!(create_user(&mut root, "dora", "Dora-Passw0rd!", true, false).await.status, 200);
    let mut dora = Browser::new(h.server.http_addr);
    let reply = dora.sign_in(&h.account, "dora", "Dora-Passw0rd!").await;
    // The profile requires a new password first; nothing else is reachable until then.
    assert_eq!(reply.header("location"), Some("/console/change-password"));
    assert_eq!(dora.get("/console/users").await.header("location"), Some("/console/change-password"));
    let form = dora.get("/console/change-password").await;
    let csrf = form.csrf();
    let mismatch = dora
        .post("/console/change-password", &[("csrf", &csrf), ("old", "Dora-Passw0rd!"), ("new", "a"), ("confirm", "b")])
        .await;
    assert_eq!(mismatch.status, 400);
    let new = "Dora-New-Passw0rd!";
    let changed = dora
        .post("/console/change-password", &[("csrf", &csrf), ("old", "Dora-Passw0rd!"), ("new", new), ("confirm", new)])
        .await;
    assert_eq!(changed.header("location"), Some("/console/home"), "{}", changed.body);
    let home = dora.get("/console/home").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Not authorized") && home.body.contains("iam:GetAccountSummary"));
    let users = dora.get("/console/users").await;
    assert_eq!(users.status, 403);
    let explanation = format!(
        "User: arn:aws:iam::{}:user/dora is not authorized to perform: iam:ListUsers on resource: \
         arn:aws:iam::{}:user/* because no identity-based policy allows the iam:ListUsers action",
        h.account, h.account
    );
    assert!(users.body.contains("Not authorized") && users.body.contains(&explanation), "{}", users.body);
    assert!(!users.body.contains("secretive-sam") && !users.body.contains("<table"));
    let detail = dora.get("/console/users/secretive-sam").await;
    assert_eq!(detail.status, 403);
    assert!(detail.body.contains("iam:GetUser") && !detail.body.contains("AIDA"));
    for (path, action) in [("/console/groups", "iam:ListGroups"), ("/console/roles", "iam:ListRoles")] {
        let page = dora.get(path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(
            page.body.contains(&format!("is not authorized to perform: {action}")) && !page.body.contains("<table")
        );
        let page = root.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(page.body.contains("<table"));
    }
    // The new password is the one that works now.
    assert_eq!(Browser::new(h.server.http_addr).sign_in(&h.account, "dora", new).await.status, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_secret_is_shown_once() {
    let h = start().await;
    let mut root = h.root().await;
    let created = create_user(&mut root, "kim", "Kim-Passw0rd!", false, true).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.header("cache-control").is_some_and(|v| v.contains("no-store")));
    let at = created.body.find("id=\"secret-access-key\">").unwrap() + 23;
    let secret = created.body[at..].split('<').next().unwrap().to_owned();
    assert_eq!(secret.len(), 40, "{secret}");
    for path in ["/console/users", "/console/users/kim", "/console/home"] {
        let page = root.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(!page.body.contains(&secret), "{path} shows the secret again");
    }
    // A second key from the user's page: shown once too.
    let csrf = root.get("/console/users/kim").await.csrf();
    let second = root.post("/console/users/kim/access-keys", &[("csrf", &csrf)]).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert!(second.body.contains("secret-access-key") && !second.body.contains(&secret));
    assert!(!root.get("/console/users/kim").await.body.contains("secret-access-key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_with_an_mfa_device_gives_its_code_before_any_page() {
    use std::sync::Arc;
    use tessera_credentials::{SystemRng, TotpSeed, format_code, hotp, step};
    let h = start().await;
    let mut root = h.root().await;
    assert_eq!(create_user(&mut root, "mia", "Mia-Passw0rd!", false, false).await.status, 200);
    // The device, enabled through the identity domain on the same store (the console has no MFA
    // enrolment page yet).
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let env = tessera_identity::Env {
        clock: Arc::new(tessera_identity::SystemClock),
        random: Arc::new(tessera_identity::Random::new(SystemRng::new().unwrap())),
        master_key: Arc::new(tessera_credentials::MasterKey::from_bytes([0x7e; 32])),
        password_params: tessera_credentials::Argon2Params::DEFAULT,
    };
    let identity = tessera_identity::Identity::new(Arc::new(tessera_store::AnyStore::open(&url).await.unwrap()), env);
    let account = tessera_identity::Account::new(&h.account).unwrap();
    let device = identity.create_virtual_mfa_device(&account, None, "mia", Vec::new()).await.unwrap();
    let seed = TotpSeed::from_base32(device.base32_seed.expose()).unwrap();
    let serial = device.device.serial.clone();
    let now = step(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs());
    let (code1, code2) = (format_code(hotp(&seed, now - 1)), format_code(hotp(&seed, now)));
    identity.enable_mfa_device(&account, "mia", &serial, &code1, &code2).await.unwrap();

    let mut mia = Browser::new(h.server.http_addr);
    let reply = mia.sign_in(&h.account, "mia", "Mia-Passw0rd!").await;
    assert_eq!(reply.header("location"), Some("/console/mfa"));
    let after_password = mia.session().unwrap();
    assert_eq!(mia.get("/console/home").await.header("location"), Some("/console/mfa"));
    let form = mia.get("/console/mfa").await;
    assert!(form.body.contains("<label for=\"code\">MFA code</label>"));
    let csrf = form.csrf();
    assert_eq!(mia.post("/console/mfa", &[("code", "123456")]).await.status, 403, "no CSRF token");
    let wrong = if code2 == "000000" { "111111" } else { "000000" };
    assert_eq!(mia.post("/console/mfa", &[("csrf", &csrf), ("code", wrong)]).await.status, 401);
    // A code newer than the two that enabled the device.
    let code = format_code(hotp(&seed, now + 1));
    let done = mia.post("/console/mfa", &[("csrf", &csrf), ("code", &code)]).await;
    assert_eq!(done.header("location"), Some("/console/home"), "{}", done.body);
    assert_ne!(mia.session().unwrap(), after_password, "the MFA step issues a new id");
    assert_eq!(mia.get("/console/home").await.status, 200);
    // The same code again is a replay.
    let mut again = Browser::new(h.server.http_addr);
    again.sign_in(&h.account, "mia", "Mia-Passw0rd!").await;
    let csrf = again.get("/console/mfa").await.csrf();
    assert_eq!(again.post("/console/mfa", &[("csrf", &csrf), ("code", &code)]).await.status, 401);
    assert_eq!(again.get("/console/home").await.header("location"), Some("/console/mfa"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_of_every_page_needs_its_csrf_token() {
    let h = start().await;
    let mut root = h.root().await;
    let paths = [
        "/console/users",
        "/console/users/x/access-keys",
        "/console/users/x/access-keys/AKIAEXAMPLE",
        "/console/users/x/permissions",
        "/console/users/x/mfa",
        "/console/users/x/mfa/enable",
        "/console/groups",
        "/console/groups/x/users",
        "/console/groups/x/permissions",
        "/console/roles",
        "/console/policies",
        "/console/policies/validate",
        "/console/policies/versions",
        "/console/switch-role",
        "/console/switch-role/back",
        "/console/simulator",
        "/console/sessions",
        "/console/account",
        "/console/credential-report",
        "/console/account/alias",
        "/console/identity-providers/saml",
        "/console/identity-providers/saml/x",
        "/console/signout",
    ];
    for path in paths {
        for form in [vec![("name", "forged")], vec![("name", "forged"), ("csrf", "0".repeat(64).leak() as &str)]] {
            let refused = root.post(path, &form).await;
            assert_eq!(refused.status, 403, "{path} {form:?}");
            assert!(refused.body.contains("CSRF"), "{path}");
        }
    }
    assert!(!root.get("/console/groups").await.body.contains("forged"));
    assert_eq!(root.get("/console/home").await.status, 200, "still signed in");
}

/// A policy's findings, at their lines: the editor's validation, server-side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_editor_shows_each_finding_at_its_line() {
    let h = start().await;
    let mut root = h.root().await;
    let csrf = root.get("/console/policies/new").await.csrf();
    let document = "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\",\n\"Action\": \"iam:PassRole\", \"Resource\": \"*\"}]}";
    let found =
        root.post("/console/policies/validate", &[("csrf", &csrf), ("kind", "managed"), ("document", document)]).await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert!(found.body.contains("data-line=\"2\" data-code=\"PASS_ROLE_WITH_STAR_IN_RESOURCE\""), "{}", found.body);
    // Without JavaScript: the editor's "Validate" button renders the same findings in the page.
    let page = root
        .post("/console/policies", &[("csrf", &csrf), ("op", "validate"), ("name", "p"), ("document", document)])
        .await;
    assert!(
        page.status == 200 && page.body.contains("PASS_ROLE_WITH_STAR_IN_RESOURCE") && page.body.contains("<textarea")
    );
    // A malformed document is not created, and says why at its line.
    let bad = "{\"Version\": \"2012-10-17\",\n\"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\"}]}";
    let refused =
        root.post("/console/policies", &[("csrf", &csrf), ("op", "create"), ("name", "bad"), ("document", bad)]).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("Line 2"), "{}", refused.body);
}

/// Root writes a policy, a role and a group; a user in the group signs in, switches to the role
/// (the console session becomes the role session) and back; root revokes the user's sessions and
/// the user's next page is refused. MFA enrolment shows its seed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_roles_switch_role_and_revocation() {
    use tessera_credentials::{TotpSeed, format_code, hotp, step};
    let h = start().await;
    let account = h.account.clone();
    let mut root = h.root().await;
    let csrf = root.get("/console/home").await.csrf();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","iam:GetUser","iam:CreateVirtualMFADevice","iam:EnableMFADevice"],"Resource":"*"}]}"#;
    let created = root
        .post("/console/policies", &[("csrf", &csrf), ("op", "create"), ("name", "Switcher"), ("document", policy)])
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let policy_arn = format!("arn:aws:iam::{account}:policy/Switcher");
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let readonly = "arn:aws:iam::aws:policy/IAMReadOnlyAccess";
    let role = root
        .post("/console/roles", &[("csrf", &csrf), ("name", "ops"), ("document", &trust), ("policy", readonly)])
        .await;
    assert_eq!(role.header("location"), Some("/console/roles/ops"), "{}", role.body);
    assert!(root.get("/console/roles/ops").await.body.contains("IAMReadOnlyAccess"));
    assert_eq!(create_user(&mut root, "sam", "Sam-Passw0rd!", false, false).await.status, 200);
    let group = root.post("/console/groups", &[("csrf", &csrf), ("name", "switchers"), ("policy", &policy_arn)]).await;
    assert_eq!(group.header("location"), Some("/console/groups/switchers"), "{}", group.body);
    let added = root.post("/console/groups/switchers/users", &[("csrf", &csrf), ("user", "sam")]).await;
    assert_eq!(added.status, 303, "{}", added.body);
    let page = root.get("/console/groups/switchers").await;
    assert!(page.body.contains(">sam</a>") && page.body.contains(&policy_arn), "{}", page.body);

    let mut sam = Browser::new(h.server.http_addr);
    assert_eq!(sam.sign_in(&account, "sam", "Sam-Passw0rd!").await.header("location"), Some("/console/home"));
    // MFA enrolment: the QR code and seed once, then two codes.
    let csrf_sam = sam.get("/console/home").await.csrf();
    let enrol = sam.post("/console/users/sam/mfa", &[("csrf", &csrf_sam), ("device", "sam")]).await;
    assert_eq!(enrol.status, 200, "{}", enrol.body);
    assert!(enrol.body.contains("<svg") && enrol.header("cache-control").is_some_and(|v| v.contains("no-store")));
    let at = enrol.body.find("id=\"mfa-secret\">").unwrap() + 16;
    let seed_text = enrol.body[at..].split('<').next().unwrap().to_owned();
    let seed = TotpSeed::from_base32(&seed_text).unwrap();
    let serial = format!("arn:aws:iam::{account}:mfa/sam");
    let now = step(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs());
    let (code1, code2) = (format_code(hotp(&seed, now - 1)), format_code(hotp(&seed, now)));
    let enabled = sam
        .post(
            "/console/users/sam/mfa/enable",
            &[("csrf", &csrf_sam), ("serial", &serial), ("code1", &code1), ("code2", &code2)],
        )
        .await;
    assert_eq!(enabled.header("location"), Some("/console/users/sam"), "{}", enabled.body);
    let detail = sam.get("/console/users/sam").await;
    assert!(detail.body.contains(&serial) && !detail.body.contains(&seed_text), "the seed is shown once");

    // Switch role: the pages act as the role session.
    assert_eq!(sam.get("/console/users").await.status, 403);
    let switched = sam
        .post(
            "/console/switch-role",
            &[("csrf", &csrf_sam), ("account", &account), ("role", "ops"), ("display", "Ops"), ("colour", "green")],
        )
        .await;
    assert_eq!(switched.header("location"), Some("/console/home"), "{}", switched.body);
    let home = sam.get("/console/home").await;
    assert!(home.body.contains(&format!("arn:aws:sts::{account}:assumed-role/ops/sam")), "{}", home.body);
    assert!(home.body.contains("id=\"role-display\" data-colour=\"green\""));
    assert_eq!(sam.get("/console/users").await.status, 200, "IAMReadOnlyAccess lists users");
    // The old CSRF token went with the old session id.
    let csrf_role = home.csrf();
    assert_ne!(csrf_role, csrf_sam);
    let back = sam.post("/console/switch-role/back", &[("csrf", &csrf_role)]).await;
    assert_eq!(back.header("location"), Some("/console/home"));
    assert!(sam.get("/console/home").await.body.contains(&format!("arn:aws:iam::{account}:user/sam")));
    assert_eq!(sam.get("/console/users").await.status, 403);

    // Root sees the user's sessions and revokes them all: the user's next page is refused.
    let sessions = root.get("/console/sessions").await;
    assert!(sessions.body.contains(&format!("arn:aws:iam::{account}:user/sam")), "{}", sessions.body);
    assert!(sessions.body.contains(&format!("arn:aws:sts::{account}:assumed-role/ops/sam")));
    let revoked = root
        .post(
            "/console/sessions",
            &[("csrf", &csrf), ("kind", "principal"), ("target", &format!("arn:aws:iam::{account}:user/sam"))],
        )
        .await;
    assert_eq!(revoked.header("location"), Some("/console/sessions"), "{}", revoked.body);
    let refused = sam.get("/console/home").await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(refused.body.contains("revoked") && sam.session().is_none());
    // Signing in again (after the revocation) works: the cut-off is in the past.
    let mut again = Browser::new(h.server.http_addr);
    assert_eq!(again.sign_in(&account, "sam", "Sam-Passw0rd!").await.header("location"), Some("/console/mfa"));
}

/// The audit trail's events of `account`, once `done` holds of them (the writer is a background
/// task: poll with a deadline).
async fn audit_events(
    h: &Harness,
    done: impl Fn(&[tessera_gateway::audit::AuditEvent]) -> bool,
) -> Vec<tessera_gateway::audit::AuditEvent> {
    let dir = h.dir.path().join("audit");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let events: Vec<_> = tessera_gateway::audit::query(&dir, &tessera_gateway::audit::Filter::default())
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.account.as_deref() == Some(h.account.as_str()) || e.account.is_none())
            .collect();
        if done(&events) {
            return events;
        }
        assert!(std::time::Instant::now() < deadline, "the trail never had what was expected: {events:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn elements(event: &tessera_gateway::audit::AuditEvent, key: &str) -> Option<String> {
    event.response_elements.as_ref()?.get(key).cloned()
}

fn additional(event: &tessera_gateway::audit::AuditEvent, key: &str) -> Option<String> {
    event.additional_event_data.as_ref()?.get(key).cloned()
}

/// Everything the trail keeps as text (numbers aside): where a secret could leak.
fn trail_text(h: &Harness) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(h.dir.path().join("audit")).unwrap() {
        let mut event: Vec<tessera_gateway::audit::AuditEvent> = std::fs::read_to_string(entry.unwrap().path())
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        for e in &mut event {
            (e.time, e.latency_micros) = (0, 0);
            text.push_str(&serde_json::to_string(e).unwrap());
        }
    }
    text
}

/// Console sign-ins (success and failure, CloudTrail's `ConsoleLogin`), "Switch role"
/// (`SwitchRole`, as the role session) and the IAM actions the console performs are in the
/// gateway's audit trail, with no password, code or secret; a role used only from the console
/// does not read as unused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sign_ins_switches_and_actions_are_audited_without_secrets() {
    let h = start().await;
    let account = h.account.clone();
    let root_arn = format!("arn:aws:iam::{account}:root");
    // Failures first: root's wrong password, and a "user name" that is really a password.
    let mut stranger = Browser::new(h.server.http_addr);
    assert_eq!(stranger.sign_in(&account, "", "Wrong-Root-Passw0rd!").await.status, 401);
    assert_eq!(stranger.sign_in(&account, "Hunter2-Typed-In-Name", "x").await.status, 401);
    let mut root = h.root().await;
    let csrf = root.get("/console/home").await.csrf();
    let policy =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    let created = root
        .post("/console/policies", &[("csrf", &csrf), ("op", "create"), ("name", "Switcher"), ("document", policy)])
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{root_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    for role in ["ops", "idle"] {
        let readonly = "arn:aws:iam::aws:policy/IAMReadOnlyAccess";
        let made = root
            .post("/console/roles", &[("csrf", &csrf), ("name", role), ("document", &trust), ("policy", readonly)])
            .await;
        assert_eq!(made.status, 303, "{}", made.body);
    }
    let sam_password = "Sam-Audit-Passw0rd!";
    let made = create_user(&mut root, "sam", sam_password, false, true).await;
    let at = made.body.find("id=\"secret-access-key\">").unwrap() + 23;
    let secret = made.body[at..].split('<').next().unwrap().to_owned();
    let policy_arn = format!("arn:aws:iam::{account}:policy/Switcher");
    let group = root.post("/console/groups", &[("csrf", &csrf), ("name", "switchers"), ("policy", &policy_arn)]).await;
    assert_eq!(group.status, 303, "{}", group.body);
    assert_eq!(root.post("/console/groups/switchers/users", &[("csrf", &csrf), ("user", "sam")]).await.status, 303);

    let mut sam = Browser::new(h.server.http_addr);
    assert_eq!(sam.sign_in(&account, "sam", sam_password).await.status, 303);
    assert_eq!(sam.get("/console/users").await.status, 403);
    let csrf_sam = sam.get("/console/home").await.csrf();
    let missing =
        sam.post("/console/switch-role", &[("csrf", &csrf_sam), ("account", &account), ("role", "nope")]).await;
    assert_eq!(missing.status, 403, "{}", missing.body);
    let switched =
        sam.post("/console/switch-role", &[("csrf", &csrf_sam), ("account", &account), ("role", "ops")]).await;
    assert_eq!(switched.header("location"), Some("/console/home"), "{}", switched.body);
    assert_eq!(sam.get("/console/users").await.status, 200);

    let (sam_arn, ops_arn) = (format!("arn:aws:iam::{account}:user/sam"), format!("arn:aws:iam::{account}:role/ops"));
    let session_arn = format!("arn:aws:sts::{account}:assumed-role/ops/sam");
    let events = audit_events(&h, |events| {
        events.iter().any(|e| e.action == "iam:ListUsers" && e.principal_arn.as_deref() == Some(session_arn.as_str()))
    })
    .await;
    let logins: Vec<_> = events.iter().filter(|e| e.action == "signin:ConsoleLogin").collect();
    let outcome = |e: &&tessera_gateway::audit::AuditEvent| {
        (e.principal_arn.clone(), elements(e, "ConsoleLogin"), additional(e, "MFAUsed"), e.decision.clone())
    };
    let outcomes: Vec<_> = logins.iter().map(outcome).collect();
    let (yes, no) = (Some("Success".to_owned()), Some("Failure".to_owned()));
    let mfa_no = Some("No".to_owned());
    assert_eq!(
        outcomes,
        [
            (Some(root_arn.clone()), no.clone(), mfa_no.clone(), "denied".to_owned()),
            // The name that names no user is not recorded (it may be a password).
            (None, no, mfa_no.clone(), "denied".to_owned()),
            (Some(root_arn.clone()), yes.clone(), mfa_no.clone(), "allowed".to_owned()),
            (Some(sam_arn.clone()), yes, mfa_no, "allowed".to_owned()),
        ]
    );
    assert_eq!(logins[0].reason.as_deref(), Some("failed_authentication"));
    assert!(logins.iter().all(|e| !e.source_ip.is_empty() && !e.request_id.is_empty()));
    // Switch role: the failed one as the user, the done one as the role session, each after the
    // AssumeRole the console made for the user.
    let switches: Vec<_> = events.iter().filter(|e| e.action == "signin:SwitchRole").collect();
    assert_eq!(switches.len(), 2, "{switches:#?}");
    assert_eq!(
        (switches[0].principal_arn.as_deref(), elements(switches[0], "SwitchRole").as_deref()),
        (Some(sam_arn.as_str()), Some("Failure"))
    );
    let done = switches[1];
    assert_eq!(done.principal_arn.as_deref(), Some(session_arn.as_str()));
    assert_eq!((done.resource.as_deref(), done.decision.as_str()), (Some(ops_arn.as_str()), "allowed"));
    assert_eq!(elements(done, "SwitchRole").as_deref(), Some("Success"));
    assert_eq!(additional(done, "SwitchFrom").as_deref(), Some(sam_arn.as_str()));
    assert!(done.access_key_id.as_deref().is_some_and(|k| k.starts_with("ASIA")) && done.session_token_hash.is_some());
    assert!(events.iter().any(|e| e.action == "sts:AssumeRole"
        && e.principal_arn.as_deref() == Some(sam_arn.as_str())
        && e.resource.as_deref() == Some(ops_arn.as_str())
        && e.decision == "allowed"));
    // The console's IAM actions, as the API records them: root's CreateUser, sam's refused
    // ListUsers, the role session's allowed one.
    let sam_user = format!("arn:aws:iam::{account}:user/sam");
    assert!(events.iter().any(|e| e.action == "iam:CreateUser"
        && e.principal_arn.as_deref() == Some(root_arn.as_str())
        && e.resource.as_deref() == Some(sam_user.as_str())
        && e.decision == "allowed"));
    let refused = events
        .iter()
        .find(|e| e.action == "iam:ListUsers" && e.principal_arn.as_deref() == Some(sam_arn.as_str()))
        .unwrap();
    assert_eq!(
        (refused.decision.as_str(), refused.error_code.as_deref(), refused.status),
        ("denied", Some("AccessDenied"), 403)
    );
    // No secret: passwords (right and wrong), the mistyped name, the new key's secret, cookies.
    let text = trail_text(&h);
    for secret in [ROOT_PASSWORD, "Wrong-Root-Passw0rd!", "Hunter2-Typed-In-Name", sam_password, &secret] {
        assert!(!text.contains(secret), "the trail holds {secret}");
    }
    for browser in [&root, &sam] {
        assert!(!text.contains(&browser.session().unwrap()), "the trail holds a session id");
    }
    assert!(!text.contains(&csrf) && !text.contains(&csrf_sam));

    // Unused access: the role used only from the console is used; the other one is not.
    let made = root
        .post("/console/access-analyzer", &[("csrf", &csrf), ("op", "create"), ("name", "unused"), ("age", "1")])
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let findings = root.get("/console/access-analyzer?analyzer=unused").await;
    assert_eq!(findings.status, 200, "{}", findings.body);
    let idle = format!("UnusedIAMRole arn:aws:iam::{account}:role/idle");
    assert!(findings.body.contains(&idle), "{}", findings.body);
    assert!(!findings.body.contains(&format!("UnusedIAMRole {ops_arn}")), "{}", findings.body);
}

/// An MFA sign-in is recorded with `MFAUsed: Yes`, a wrong code as a failure with its device and
/// reason, never the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mfa_sign_in_is_audited_with_mfa_used_and_no_code() {
    use std::sync::Arc;
    use tessera_credentials::{SystemRng, TotpSeed, format_code, hotp, step};
    let h = start().await;
    let mut root = h.root().await;
    assert_eq!(create_user(&mut root, "meg", "Meg-Passw0rd!", false, false).await.status, 200);
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let env = tessera_identity::Env {
        clock: Arc::new(tessera_identity::SystemClock),
        random: Arc::new(tessera_identity::Random::new(SystemRng::new().unwrap())),
        master_key: Arc::new(tessera_credentials::MasterKey::from_bytes([0x7e; 32])),
        password_params: tessera_credentials::Argon2Params::DEFAULT,
    };
    let identity = tessera_identity::Identity::new(Arc::new(tessera_store::AnyStore::open(&url).await.unwrap()), env);
    let account = tessera_identity::Account::new(&h.account).unwrap();
    let device = identity.create_virtual_mfa_device(&account, None, "meg", Vec::new()).await.unwrap();
    let seed = TotpSeed::from_base32(device.base32_seed.expose()).unwrap();
    let serial = device.device.serial.clone();
    let now = step(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs());
    let (code1, code2) = (format_code(hotp(&seed, now - 1)), format_code(hotp(&seed, now)));
    identity.enable_mfa_device(&account, "meg", &serial, &code1, &code2).await.unwrap();
    let mut meg = Browser::new(h.server.http_addr);
    assert_eq!(meg.sign_in(&h.account, "meg", "Meg-Passw0rd!").await.header("location"), Some("/console/mfa"));
    let csrf = meg.get("/console/mfa").await.csrf();
    let code = format_code(hotp(&seed, now + 1));
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(meg.post("/console/mfa", &[("csrf", &csrf), ("code", wrong)]).await.status, 401);
    assert_eq!(
        meg.post("/console/mfa", &[("csrf", &csrf), ("code", &code)]).await.header("location"),
        Some("/console/home")
    );
    let meg_arn = format!("arn:aws:iam::{}:user/meg", h.account);
    let events = audit_events(&h, |events| {
        events
            .iter()
            .filter(|e| e.action == "signin:ConsoleLogin" && e.principal_arn.as_deref() == Some(&meg_arn))
            .count()
            == 2
    })
    .await;
    let logins: Vec<_> = events
        .iter()
        .filter(|e| e.action == "signin:ConsoleLogin" && e.principal_arn.as_deref() == Some(meg_arn.as_str()))
        .collect();
    // The password alone is no sign-in: the code is due; then the wrong code, then the right one.
    let seen: Vec<_> = logins
        .iter()
        .map(|e| (elements(e, "ConsoleLogin"), additional(e, "MFAUsed"), e.reason.clone(), e.mfa_serial.clone()))
        .collect();
    let yes = Some("Yes".to_owned());
    assert_eq!(
        seen,
        [
            (Some("Failure".to_owned()), yes.clone(), Some("mfa_invalid_code".to_owned()), Some(serial.clone())),
            (Some("Success".to_owned()), yes, None, None),
        ]
    );
    let text = trail_text(&h);
    for secret in ["Meg-Passw0rd!", &format!("\"{code}\""), &format!("\"{wrong}\""), device.base32_seed.expose()] {
        assert!(!text.contains(secret), "the trail holds {secret}");
    }
}

/// SAML provider metadata for `entity_id`, signed by the identity domain's test certificate.
fn saml_metadata(entity_id: &str) -> String {
    let cert = include_str!("../../../identity/tests/data/saml-idp-cert.b64").trim();
    format!(
        r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
    )
}

/// The account alias (create, view, delete) and SAML providers (create from an uploaded
/// metadata file, view, replace the metadata, delete); a user without the permissions is refused
/// in AWS's words and sees no data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_alias_and_saml_provider_pages() {
    let h = start().await;
    let account = h.account.clone();
    let mut root = h.root().await;
    let page = root.get("/console/account").await;
    assert!(page.body.contains("id=\"no-account-alias\""), "{}", page.body);
    let csrf = page.csrf();
    // Aliases are global: each test run uses its account's own.
    let alias = format!("tessera-console-{account}");
    let bad =
        root.post("/console/account/alias", &[("csrf", &csrf), ("op", "create"), ("alias", "Not_An_Alias")]).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("Not_An_Alias") || bad.body.contains("alias"), "{}", bad.body);
    let made = root.post("/console/account/alias", &[("csrf", &csrf), ("op", "create"), ("alias", &alias)]).await;
    assert_eq!(made.header("location"), Some("/console/account"), "{}", made.body);
    let page = root.get("/console/account").await;
    assert!(page.body.contains(&format!("<dd id=\"account-alias\">{alias}</dd>")), "{}", page.body);
    let second =
        root.post("/console/account/alias", &[("csrf", &csrf), ("op", "create"), ("alias", "another-alias-x")]).await;
    assert_eq!(second.status, 400, "one alias per account: {}", second.body);

    // SAML: create from the uploaded file, view, replace the metadata, delete.
    let metadata = saml_metadata("https://idp.example.com/metadata");
    let created = root
        .post_multipart(
            "/console/identity-providers/saml",
            &[("csrf", &csrf), ("name", "Okta")],
            ("metadata", "okta.xml", &metadata),
        )
        .await;
    assert_eq!(created.header("location"), Some("/console/identity-providers/saml/Okta"), "{}", created.body);
    let list = root.get("/console/identity-providers").await;
    assert!(list.body.contains(&format!("arn:aws:iam::{account}:saml-provider/Okta")), "{}", list.body);
    let detail = root.get("/console/identity-providers/saml/Okta").await;
    assert!(detail.body.contains("<dd id=\"entity-id\">https://idp.example.com/metadata</dd>"), "{}", detail.body);
    let replaced = root
        .post_multipart(
            "/console/identity-providers/saml/Okta",
            &[("csrf", &csrf), ("op", "update")],
            ("metadata", "new.xml", &saml_metadata("https://idp.example.com/v2")),
        )
        .await;
    assert_eq!(replaced.status, 303, "{}", replaced.body);
    assert!(root.get("/console/identity-providers/saml/Okta").await.body.contains("https://idp.example.com/v2"));
    // Not metadata: the domain's AWS message, nothing created.
    let refused = root
        .post_multipart(
            "/console/identity-providers/saml",
            &[("csrf", &csrf), ("name", "Broken")],
            ("metadata", "x.xml", "<not-metadata/>"),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    // A forged upload (no token) is refused.
    let forged = root
        .post_multipart("/console/identity-providers/saml", &[("name", "Forged")], ("metadata", "f.xml", &metadata))
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("CSRF"));

    // A user with no permissions: AWS's refusal, no data.
    assert_eq!(create_user(&mut root, "nell", "Nell-Passw0rd!", false, false).await.status, 200);
    let mut nell = Browser::new(h.server.http_addr);
    assert_eq!(nell.sign_in(&account, "nell", "Nell-Passw0rd!").await.status, 303);
    let user = format!("User: arn:aws:iam::{account}:user/nell is not authorized to perform:");
    let providers = nell.get("/console/identity-providers").await;
    assert!(providers.body.contains(&format!("{user} iam:ListSAMLProviders on resource: *")), "{}", providers.body);
    assert!(!providers.body.contains("saml-provider/Okta"));
    let detail = nell.get("/console/identity-providers/saml/Okta").await;
    assert_eq!(detail.status, 403);
    let okta = format!("arn:aws:iam::{account}:saml-provider/Okta");
    assert!(detail.body.contains(&format!("{user} iam:GetSAMLProvider on resource: {okta}")), "{}", detail.body);
    assert!(!detail.body.contains("idp.example.com"));
    let settings = nell.get("/console/account").await;
    assert!(settings.body.contains(&format!("{user} iam:ListAccountAliases")) && !settings.body.contains(&alias));
    let csrf_nell = settings.csrf();
    let delete = nell.post("/console/identity-providers/saml/Okta", &[("csrf", &csrf_nell), ("op", "delete")]).await;
    assert_eq!(delete.status, 403);
    assert!(delete.body.contains(&format!("{user} iam:DeleteSAMLProvider on resource: {okta}")), "{}", delete.body);
    let unalias =
        nell.post("/console/account/alias", &[("csrf", &csrf_nell), ("op", "delete"), ("alias", &alias)]).await;
    assert!(unalias.status == 403 && unalias.body.contains(&format!("{user} iam:DeleteAccountAlias")));

    // Root deletes both.
    let deleted = root.post("/console/identity-providers/saml/Okta", &[("csrf", &csrf), ("op", "delete")]).await;
    assert_eq!(deleted.header("location"), Some("/console/identity-providers"), "{}", deleted.body);
    assert!(!root.get("/console/identity-providers").await.body.contains("saml-provider/Okta"));
    assert_eq!(root.get("/console/identity-providers/saml/Okta").await.status, 404);
    let unaliased = root.post("/console/account/alias", &[("csrf", &csrf), ("op", "delete"), ("alias", &alias)]).await;
    assert_eq!(unaliased.header("location"), Some("/console/account"), "{}", unaliased.body);
    assert!(root.get("/console/account").await.body.contains("id=\"no-account-alias\""));
}

/// The identity domain on the test store, as the server sees it.
async fn identity_on_store() -> tessera_identity::Identity<tessera_store::AnyStore> {
    use std::sync::Arc;
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let env = tessera_identity::Env {
        clock: Arc::new(tessera_identity::SystemClock),
        random: Arc::new(tessera_identity::Random::new(tessera_credentials::SystemRng::new().unwrap())),
        master_key: Arc::new(tessera_credentials::MasterKey::from_bytes([0x7e; 32])),
        password_params: tessera_credentials::Argon2Params::DEFAULT,
    };
    tessera_identity::Identity::new(Arc::new(tessera_store::AnyStore::open(&url).await.unwrap()), env)
}

/// The root assigns its own MFA device in the console (AWS offers it nowhere else): the secret
/// and QR code once, two consecutive codes, AWS's serial; then the root's sign-in asks for a code,
/// the dashboard counts it, and the root removes it. Nobody else reaches the page, and the trail
/// holds the steps but not the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_assigns_and_removes_its_mfa_device_in_the_console() {
    use tessera_credentials::{TotpSeed, format_code, hotp, step};
    let h = start().await;
    let account = tessera_identity::Account::new(&h.account).unwrap();
    let identity = identity_on_store().await;
    let serial = format!("arn:aws:iam::{}:mfa/root-account-mfa-device", h.account);
    let mut root = h.root().await;
    let page = root.get("/console/account/mfa").await;
    assert!(page.body.contains("data-state=\"none\""), "{}", page.body);
    assert!(root.get("/console/home").await.body.contains("id=\"rec-root-mfa\" class=\"warn\""));
    let csrf = page.csrf();
    assert_eq!(root.post("/console/account/mfa", &[("op", "assign")]).await.status, 403, "no CSRF token");
    let shown = root.post("/console/account/mfa", &[("csrf", &csrf), ("op", "assign")]).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.header("cache-control"), Some("no-store"));
    assert!(shown.body.contains("id=\"mfa-qr\"") && shown.body.contains(&serial), "{}", shown.body);
    let at = shown.body.find("id=\"mfa-secret\">").unwrap() + 16;
    let secret = shown.body[at..].split('<').next().unwrap().to_owned();
    let seed = TotpSeed::from_base32(&secret).unwrap();
    let now = step(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs());
    let (code1, code2) = (format_code(hotp(&seed, now - 1)), format_code(hotp(&seed, now)));
    // Codes in the wrong order prove nothing; the form comes back without the secret.
    let enable = |c1: &str, c2: &str| {
        vec![("csrf", csrf.clone()), ("serial", serial.clone()), ("code1", c1.to_owned()), ("code2", c2.to_owned())]
    };
    let form = enable(&code2, &code1);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let wrong = root.post("/console/account/mfa/enable", &pairs).await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(!wrong.body.contains(&secret));
    assert!(identity.root_mfa_device(&account).await.unwrap().is_none());
    let form = enable(&code1, &code2);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = root.post("/console/account/mfa/enable", &pairs).await;
    assert_eq!(done.header("location"), Some("/console/account/mfa"), "{}", done.body);
    let device = identity.root_mfa_device(&account).await.unwrap().expect("the root's device");
    assert_eq!(device.serial, serial);
    let page = root.get("/console/account/mfa").await;
    assert!(page.body.contains("data-state=\"assigned\"") && !page.body.contains(&secret), "{}", page.body);
    assert!(root.get("/console/home").await.body.contains("id=\"rec-root-mfa\" class=\"ok\""));
    // A second assignment while one is in use is refused (the device stays).
    let again = root.post("/console/account/mfa", &[("csrf", &csrf), ("op", "assign")]).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(identity.root_mfa_device(&account).await.unwrap().is_some());

    // The root's sign-in now asks for a code; a fresh one lets it in.
    let mut next = Browser::new(h.server.http_addr);
    let reply = next.sign_in(&h.account, "", ROOT_PASSWORD).await;
    assert_eq!(reply.header("location"), Some("/console/mfa"));
    assert_eq!(next.get("/console/home").await.header("location"), Some("/console/mfa"));
    let csrf_next = next.get("/console/mfa").await.csrf();
    assert_eq!(next.post("/console/mfa", &[("csrf", &csrf_next), ("code", &code2)]).await.status, 401, "spent");
    let code = format_code(hotp(&seed, now + 1));
    let signed = next.post("/console/mfa", &[("csrf", &csrf_next), ("code", &code)]).await;
    assert_eq!(signed.header("location"), Some("/console/home"), "{}", signed.body);
    assert_eq!(next.get("/console/home").await.status, 200);

    // A user, whatever its policies, does not reach the page.
    assert_eq!(create_user(&mut root, "nia", "Nia-Passw0rd!", false, false).await.status, 200);
    let mut nia = Browser::new(h.server.http_addr);
    assert_eq!(nia.sign_in(&h.account, "nia", "Nia-Passw0rd!").await.status, 303);
    assert_eq!(nia.get("/console/account/mfa").await.status, 403);
    let csrf_nia = nia.get("/console/home").await.csrf();
    assert_eq!(nia.post("/console/account/mfa", &[("csrf", &csrf_nia), ("op", "remove")]).await.status, 403);
    assert!(identity.root_mfa_device(&account).await.unwrap().is_some());

    // The root removes it: the device is gone and the sign-in asks for no code.
    let removed = root.post("/console/account/mfa", &[("csrf", &csrf), ("op", "remove")]).await;
    assert_eq!(removed.header("location"), Some("/console/account/mfa"), "{}", removed.body);
    assert!(identity.root_mfa_device(&account).await.unwrap().is_none());
    let serial_key = identity.get_mfa_device(&account, &serial, None).await.unwrap_err();
    assert_eq!(serial_key.code(), tessera_proto::ErrorCode::NoSuchEntity);
    let mut last = Browser::new(h.server.http_addr);
    assert_eq!(last.sign_in(&h.account, "", ROOT_PASSWORD).await.header("location"), Some("/console/home"));

    let root_arn = format!("arn:aws:iam::{}:root", h.account);
    let events = audit_events(&h, |events| events.iter().any(|e| e.action == "iam:DeleteVirtualMFADevice")).await;
    let steps: Vec<_> = events
        .iter()
        .filter(|e| e.principal_arn.as_deref() == Some(root_arn.as_str()) && e.action.contains("MFADevice"))
        .map(|e| (e.action.as_str(), e.decision.as_str(), e.error_code.as_deref()))
        .collect();
    assert_eq!(
        steps,
        [
            ("iam:ListMFADevices", "allowed", None),
            ("iam:CreateVirtualMFADevice", "allowed", None),
            ("iam:EnableMFADevice", "denied", Some("InvalidAuthenticationCode")),
            ("iam:EnableMFADevice", "allowed", None),
            ("iam:ListMFADevices", "allowed", None),
            ("iam:CreateVirtualMFADevice", "error", Some("EntityAlreadyExists")),
            ("iam:DeactivateMFADevice", "allowed", None),
            ("iam:DeleteVirtualMFADevice", "allowed", None),
        ]
    );
    let text = trail_text(&h);
    assert!(!text.contains(&secret) && !text.contains(&code), "the trail holds the secret or a code");
}

/// The console records an action's outcome as the API does: a domain refusal after an allowed
/// decision is `error` with AWS's code and status, not `allowed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_refusal_after_an_allowed_decision_is_recorded_as_an_error() {
    let h = start().await;
    let mut root = h.root().await;
    assert_eq!(create_user(&mut root, "dup", "Dup-Passw0rd!", false, false).await.status, 200);
    let taken = create_user(&mut root, "dup", "Dup-Passw0rd!", false, false).await;
    assert_ne!(taken.status, 200, "{}", taken.body);
    assert!(taken.body.contains("already exists"), "{}", taken.body);
    let csrf = root.get("/console/home").await.csrf();
    let group = root.post("/console/groups", &[("csrf", &csrf), ("name", "team")]).await;
    assert_eq!(group.status, 303, "{}", group.body);
    let missing = root.post("/console/groups/team/users", &[("csrf", &csrf), ("user", "nobody")]).await;
    assert_eq!(missing.status, 400, "{}", missing.body);

    let user_arn = format!("arn:aws:iam::{}:user/dup", h.account);
    let events = audit_events(&h, |events| events.iter().any(|e| e.action == "iam:AddUserToGroup")).await;
    let creates: Vec<_> = events
        .iter()
        .filter(|e| e.action == "iam:CreateUser" && e.resource.as_deref() == Some(user_arn.as_str()))
        .map(|e| (e.decision.as_str(), e.error_code.as_deref(), e.status))
        .collect();
    assert_eq!(creates, [("allowed", None, 200), ("error", Some("EntityAlreadyExists"), 409)]);
    let added: Vec<_> = events
        .iter()
        .filter(|e| e.action == "iam:AddUserToGroup")
        .map(|e| (e.decision.as_str(), e.error_code.as_deref(), e.status))
        .collect();
    assert_eq!(added, [("error", Some("NoSuchEntity"), 404)]);
}

/// Pages seen after "Switch role" are the role's use (`RoleLastUsed`), as its sessions' API
/// requests are; switching alone is the user's `AssumeRole`, and another role stays unused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_seen_as_a_switched_role_record_the_role_use() {
    let h = start().await;
    let account = tessera_identity::Account::new(&h.account).unwrap();
    let identity = identity_on_store().await;
    let mut root = h.root().await;
    let csrf = root.get("/console/home").await.csrf();
    let user_arn = format!("arn:aws:iam::{}:user/rue", h.account);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{user_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let policy =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    let made = root
        .post("/console/policies", &[("csrf", &csrf), ("op", "create"), ("name", "MaySwitch"), ("document", policy)])
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    assert_eq!(create_user(&mut root, "rue", "Rue-Passw0rd!", false, false).await.status, 200);
    let arn = format!("arn:aws:iam::{}:policy/MaySwitch", h.account);
    let group = root.post("/console/groups", &[("csrf", &csrf), ("name", "switchers"), ("policy", &arn)]).await;
    assert_eq!(group.status, 303, "{}", group.body);
    assert_eq!(root.post("/console/groups/switchers/users", &[("csrf", &csrf), ("user", "rue")]).await.status, 303);
    for role in ["viewer", "spare"] {
        let readonly = "arn:aws:iam::aws:policy/IAMReadOnlyAccess";
        let made = root
            .post("/console/roles", &[("csrf", &csrf), ("name", role), ("document", &trust), ("policy", readonly)])
            .await;
        assert_eq!(made.status, 303, "{}", made.body);
    }
    assert!(identity.get_role(&account, "viewer").await.unwrap().last_used.is_none());

    let mut rue = Browser::new(h.server.http_addr);
    assert_eq!(rue.sign_in(&h.account, "rue", "Rue-Passw0rd!").await.status, 303);
    let csrf_rue = rue.get("/console/home").await.csrf();
    let switched =
        rue.post("/console/switch-role", &[("csrf", &csrf_rue), ("account", &h.account), ("role", "viewer")]).await;
    assert_eq!(switched.header("location"), Some("/console/home"), "{}", switched.body);
    assert_eq!(rue.get("/console/users").await.status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let used = loop {
        if let Some(used) = identity.get_role(&account, "viewer").await.unwrap().last_used {
            break used;
        }
        assert!(std::time::Instant::now() < deadline, "the role's use was never recorded");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(used.region, "us-east-1");
    assert!(identity.get_role(&account, "spare").await.unwrap().last_used.is_none());
}
