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
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        if !cookies.is_empty() {
            request.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        for (k, v) in &self.extra {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        let body = body.unwrap_or_default();
        if method == "POST" {
            request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
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
    _dir: tempfile::TempDir,
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
    Harness { server, account, _dir: dir }
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
