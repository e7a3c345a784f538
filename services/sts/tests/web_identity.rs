//! `AssumeRoleWithWebIdentity` end to end against a real https identity provider started inside
//! the test (`idp/`): its own CA, RS256 and ES256 keys, key rotation, outages. Time is a fake,
//! steppable clock, so token expiry, the JWKS cache and its rate limits are tested without sleeps;
//! the provider counts what it serves, so the tests see every fetch.

mod idp;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp::{TestIdp, b64};
use serde_json::{Value, json};
use tessera_credentials::{Argon2Params, MasterKey, SeededRandom};
use tessera_identity::{Account, Clock, CreateOidcProvider, CreateRole, Env, Random};
use tessera_proto::ErrorCode;
use tessera_proto::ServiceError;
use tessera_proto::sts::v1 as pb;
use tessera_proto::sts::v1::sts_service_client::StsServiceClient;
use tessera_store::MemoryStore;
use tessera_sts::{AssumeRoleWithWebIdentity, OidcConfig, Sts, WebIdentityAssumedRole};

const ACCOUNT: &str = "123456789012";
const CLIENT: &str = "my-client";
/// 2026-11-23T08:00:00Z.
const START_SECS: u64 = 1_795_428_000;

/// A clock that stands still until the test moves it.
#[derive(Debug)]
struct TestClock(Mutex<SystemTime>);

impl TestClock {
    fn advance(&self, secs: u64) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += Duration::from_secs(secs);
    }

    fn secs(&self) -> u64 {
        self.now().duration_since(UNIX_EPOCH).unwrap().as_secs()
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Fixture {
    sts: Sts<MemoryStore>,
    clock: Arc<TestClock>,
    idp: TestIdp,
    account: Account,
    provider_arn: String,
}

impl Fixture {
    /// Standard claims from the test provider, valid for 10 minutes from now; `changes` overrides
    /// them (`null` removes one).
    fn claims(&self, changes: Value) -> Value {
        let now = self.clock.secs();
        let mut claims = json!({
            "iss": self.idp.url,
            "sub": "alice",
            "aud": CLIENT,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "amr": ["pwd", "mfa"],
            "email": "alice@example.com",
        });
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    }

    /// A trust policy for the test provider, with `aud` pinned to the client, plus `extra`
    /// conditions (as in `StringEquals`) and the given actions.
    fn trust(&self, actions: &[&str], extra: Value) -> String {
        let mut equals = json!({ format!("{}:aud", self.idp.host()): CLIENT });
        for (key, value) in extra.as_object().unwrap() {
            equals[key] = value.clone();
        }
        json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": self.provider_arn},
            "Action": actions,
            "Condition": {"StringEquals": equals},
        }]})
        .to_string()
    }

    async fn role(&self, name: &str, trust: String) {
        let input =
            CreateRole { role_name: name.to_owned(), assume_role_policy_document: trust, ..CreateRole::default() };
        self.sts.identity().create_role(&self.account, input).await.unwrap();
    }

    async fn assume(&self, role: &str, token: String) -> tessera_identity::Result<WebIdentityAssumedRole> {
        self.sts
            .assume_role_with_web_identity(AssumeRoleWithWebIdentity {
                role_arn: format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
                role_session_name: "app".to_owned(),
                web_identity_token: token,
                ..AssumeRoleWithWebIdentity::default()
            })
            .await
    }
}

fn env(clock: Arc<TestClock>) -> Env {
    let mut rng = SeededRandom::new(7);
    Env {
        clock,
        master_key: Arc::new(MasterKey::generate(&mut rng)),
        random: Arc::new(Random::new(SeededRandom::new(11))),
        password_params: Argon2Params::FAST_FOR_TESTS,
    }
}

/// A test provider, an STS trusting its CA (and nothing else), the provider registered with
/// client id `my-client`, and a role `web` that trusts it for `aud = my-client`.
async fn fixture() -> Fixture {
    let idp = TestIdp::start().await;
    let config = OidcConfig::with_only_roots(idp.ca_pem.as_bytes()).unwrap();
    fixture_with(idp, config).await
}

async fn fixture_with(idp: TestIdp, config: OidcConfig) -> Fixture {
    let clock = Arc::new(TestClock(Mutex::new(UNIX_EPOCH + Duration::from_secs(START_SECS))));
    let store = Arc::new(MemoryStore::new());
    let sts = Sts::start_with(store, env(Arc::clone(&clock)), config).await.unwrap();
    let account = Account::new(ACCOUNT).unwrap();
    sts.identity().create_account(&account).await.unwrap();
    let provider =
        CreateOidcProvider { url: idp.url.clone(), client_ids: vec![CLIENT.to_owned()], ..Default::default() };
    let provider = sts.identity().create_open_id_connect_provider(&account, provider).await.unwrap();
    let fixture = Fixture { sts, clock, idp, account, provider_arn: provider.arn };
    fixture.role("web", fixture.trust(&["sts:AssumeRoleWithWebIdentity"], json!({}))).await;
    fixture
}

/// The AWS code and message of a failure.
fn failure<T: std::fmt::Debug>(result: tessera_identity::Result<T>) -> (ErrorCode, String) {
    let error = result.expect_err("the call should fail").into_service_error();
    (error.code, error.message)
}

const NO_KEY: &str = "Couldn't retrieve verification key from your identity provider,  please reference \
                      AssumeRoleWithWebIdentity documentation for requirements";

#[tokio::test]
async fn rs256_and_es256_tokens_are_exchanged_for_role_sessions() {
    let f = fixture().await;
    assert_eq!(f.provider_arn, format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{}", f.idp.host()));
    let now = f.clock.secs();
    for token in [f.idp.sign_rs256(&f.claims(json!({}))), f.idp.sign_es256(&f.claims(json!({})))] {
        let assumed = f.assume("web", token).await.unwrap();
        assert_eq!(assumed.subject_from_web_identity_token, "alice");
        assert_eq!(assumed.audience, CLIENT);
        assert_eq!(assumed.provider, f.provider_arn);
        assert_eq!(assumed.arn, format!("arn:aws:sts::{ACCOUNT}:assumed-role/web/app"));
        assert!(assumed.assumed_role_id.starts_with("AROA") && assumed.assumed_role_id.ends_with(":app"));
        assert_eq!(assumed.packed_policy_size, 0);
        assert_eq!(assumed.source_identity, None);
        assert!(assumed.credentials.access_key_id.starts_with("ASIA"));
        assert_eq!(assumed.credentials.expiration, now + 3600);
        // The credentials work: the session verifies as a session of the role.
        let session = f
            .sts
            .verify_session(&assumed.credentials.access_key_id, assumed.credentials.session_token.expose())
            .await
            .unwrap();
        assert_eq!(session.role_arn.as_deref(), Some(format!("arn:aws:iam::{ACCOUNT}:role/web").as_str()));
        assert_eq!(session.principal_arn, assumed.arn);
    }
    // One discovery and one JWKS fetch served both tokens.
    assert_eq!((f.idp.discovery_fetches(), f.idp.jwks_fetches()), (1, 1));

    // After the cache time, the keys are fetched again (discovery included).
    f.clock.advance(3601);
    f.assume("web", f.idp.sign_rs256(&f.claims(json!({})))).await.unwrap();
    assert_eq!((f.idp.discovery_fetches(), f.idp.jwks_fetches()), (2, 2));
}

#[tokio::test]
async fn the_audience_must_be_a_registered_client_id() {
    let f = fixture().await;
    let token = f.idp.sign_rs256(&f.claims(json!({"aud": "someone-else"})));
    assert_eq!(
        failure(f.assume("web", token).await),
        (ErrorCode::InvalidIdentityToken, "Incorrect token audience".to_owned())
    );
    let token = f.idp.sign_rs256(&f.claims(json!({"aud": null})));
    assert_eq!(
        failure(f.assume("web", token).await),
        (ErrorCode::InvalidIdentityToken, "Missing a required claim: aud".to_owned())
    );
    // One of several audiences is enough.
    let token = f.idp.sign_es256(&f.claims(json!({"aud": ["other", CLIENT]})));
    assert_eq!(f.assume("web", token).await.unwrap().audience, CLIENT);
    // An authorized party that is the client is accepted too (Google's ID tokens), and the trust
    // policy's `aud` key then carries it.
    let token = f.idp.sign_es256(&f.claims(json!({"aud": "backend", "azp": CLIENT})));
    assert_eq!(f.assume("web", token).await.unwrap().audience, CLIENT);
    let token = f.idp.sign_es256(&f.claims(json!({"aud": "backend", "azp": "stranger"})));
    assert_eq!(failure(f.assume("web", token).await).0, ErrorCode::InvalidIdentityToken);
}

#[tokio::test]
async fn an_unregistered_issuer_is_refused_without_contacting_it() {
    let f = fixture().await;
    for iss in ["https://127.0.0.1:1", "https://idp.example.com", "http://127.0.0.1:1"] {
        let token = f.idp.sign_rs256(&f.claims(json!({"iss": iss})));
        assert_eq!(
            failure(f.assume("web", token).await),
            (ErrorCode::InvalidIdentityToken, format!("No OpenIDConnect provider found in your account for {iss}"))
        );
    }
    let token = f.idp.sign_rs256(&f.claims(json!({"iss": null})));
    assert_eq!(failure(f.assume("web", token).await).0, ErrorCode::InvalidIdentityToken);
    // The provider is looked up in the role's account, not anywhere else.
    let token = f.idp.sign_rs256(&f.claims(json!({})));
    let result = f
        .sts
        .assume_role_with_web_identity(AssumeRoleWithWebIdentity {
            role_arn: "arn:aws:iam::999999999999:role/web".to_owned(),
            role_session_name: "app".to_owned(),
            web_identity_token: token,
            ..AssumeRoleWithWebIdentity::default()
        })
        .await;
    assert_eq!(
        failure(result),
        (ErrorCode::InvalidIdentityToken, format!("No OpenIDConnect provider found in your account for {}", f.idp.url))
    );
    assert_eq!(f.idp.discovery_fetches() + f.idp.jwks_fetches(), 0);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let f = fixture().await;
    let now = f.clock.secs();
    let token = f.idp.sign_rs256(&f.claims(json!({"iat": now - 3600, "nbf": now - 3600, "exp": now - 120})));
    let (code, message) = failure(f.assume("web", token).await);
    assert_eq!(code, ErrorCode::ExpiredTokenException);
    assert!(message.starts_with("Token expired"), "{message}");

    // A token that was valid expires as the clock moves past `exp` and the leeway.
    let token = f.idp.sign_es256(&f.claims(json!({})));
    f.assume("web", token.clone()).await.unwrap();
    f.clock.advance(600 + 60);
    assert_eq!(failure(f.assume("web", token).await).0, ErrorCode::ExpiredTokenException);

    // Not yet valid, or issued in the future (beyond the leeway).
    let now = f.clock.secs();
    let token = f.idp.sign_es256(&f.claims(json!({"nbf": now + 600})));
    assert_eq!(failure(f.assume("web", token).await).0, ErrorCode::InvalidIdentityToken);
    let token = f.idp.sign_es256(&f.claims(json!({"iat": now + 600})));
    assert_eq!(failure(f.assume("web", token).await).0, ErrorCode::InvalidIdentityToken);
}

#[tokio::test]
async fn unsigned_hmac_and_tampered_tokens_are_refused() {
    let f = fixture().await;
    let payload = b64(&f.claims(json!({})));
    let not_validated = "The web identity token that was passed could not be validated by AWS. Get a new identity \
                         token from the identity provider and then retry the request.";
    // `alg: none`, with and without a signature part.
    for token in [
        format!("{}.{payload}.", b64(&json!({"alg": "none", "typ": "JWT"}))),
        format!("{}.{payload}.AAAA", b64(&json!({"alg": "none", "kid": idp::RSA_KID}))),
    ] {
        assert_eq!(failure(f.assume("web", token).await), (ErrorCode::InvalidIdentityToken, not_validated.to_owned()));
    }
    // HS256 "signed" with the provider's public RSA modulus, the classic key confusion.
    let n = f.idp.jwks_document()["keys"][0]["n"].as_str().unwrap().to_owned();
    let header = b64(&json!({"alg": "HS256", "kid": idp::RSA_KID}));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, n.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{header}.{payload}").as_bytes());
    let token = format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(tag));
    assert_eq!(failure(f.assume("web", token).await), (ErrorCode::InvalidIdentityToken, not_validated.to_owned()));
    // A valid signature over other claims.
    let genuine = f.idp.sign_rs256(&f.claims(json!({"sub": "alice"})));
    let (_, rest) = genuine.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let forged_payload = b64(&f.claims(json!({"sub": "admin"})));
    let forged = format!("{}.{forged_payload}.{signature}", genuine.split('.').next().unwrap());
    assert_eq!(failure(f.assume("web", forged).await), (ErrorCode::InvalidIdentityToken, not_validated.to_owned()));
    // Not a JWT at all.
    assert_eq!(failure(f.assume("web", "not-a-jwt".to_owned()).await).0, ErrorCode::InvalidIdentityToken);
}

#[tokio::test]
async fn a_rotated_key_is_found_by_refetching_within_the_rate_limit() {
    let f = fixture().await;
    f.assume("web", f.idp.sign_es256(&f.claims(json!({})))).await.unwrap();
    assert_eq!(f.idp.jwks_fetches(), 1);

    // A token signed with a key the provider has not published yet: one refetch, then refused.
    let next = f.idp.new_key();
    f.clock.advance(11);
    let early = next.sign(&f.claims(json!({})), &ring::rand::SystemRandom::new()).unwrap();
    assert_eq!(failure(f.assume("web", early.clone()).await), (ErrorCode::InvalidIdentityToken, NO_KEY.to_owned()));
    assert_eq!(f.idp.jwks_fetches(), 2);
    // Another unknown kid within the rate-limit window does not make the provider fetch again.
    let stranger = f.idp.new_key().sign(&f.claims(json!({})), &ring::rand::SystemRandom::new()).unwrap();
    assert_eq!(failure(f.assume("web", stranger).await), (ErrorCode::InvalidIdentityToken, NO_KEY.to_owned()));
    assert_eq!(f.idp.jwks_fetches(), 2);
    // Past the window, a kid found missing a moment ago is still answered from the negative cache.
    f.clock.advance(11);
    assert_eq!(failure(f.assume("web", early).await).0, ErrorCode::InvalidIdentityToken);
    assert_eq!(f.idp.jwks_fetches(), 2);

    // The provider rotates to the new key, withdrawing the old one; once the negative entry has lapsed, a burst of tokens
    // signed with it makes one refetch and all succeed.
    let signed_with_old_key = f.idp.sign_es256(&f.claims(json!({})));
    f.idp.rotate_to(&next);
    f.clock.advance(61);
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..5 {
        let token =
            next.sign(&f.claims(json!({"sub": format!("user-{i}")})), &ring::rand::SystemRandom::new()).unwrap();
        let sts = f.sts.clone();
        burst.spawn(async move {
            sts.assume_role_with_web_identity(AssumeRoleWithWebIdentity {
                role_arn: format!("arn:aws:iam::{ACCOUNT}:role/web"),
                role_session_name: "app".to_owned(),
                web_identity_token: token,
                ..AssumeRoleWithWebIdentity::default()
            })
            .await
        });
    }
    while let Some(result) = burst.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(f.idp.jwks_fetches(), 3, "one refetch for the whole burst");
    assert_eq!(f.idp.discovery_fetches(), 1, "refetches for a kid reuse the discovered jwks_uri");

    // The withdrawn key is unknown now, and the last fetch was just now: refused, no new fetch.
    assert_eq!(
        failure(f.assume("web", signed_with_old_key).await),
        (ErrorCode::InvalidIdentityToken, NO_KEY.to_owned())
    );
    assert_eq!(f.idp.jwks_fetches(), 3);
    // The RSA key was not rotated and still works from the cache.
    f.assume("web", f.idp.sign_rs256(&f.claims(json!({})))).await.unwrap();
    assert_eq!(f.idp.jwks_fetches(), 3);
}

#[tokio::test]
async fn an_unreachable_provider_is_an_idp_communication_error() {
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let f = fixture().await;
    let url = format!("https://127.0.0.1:{port}");
    let provider = CreateOidcProvider { url: url.clone(), client_ids: vec![CLIENT.to_owned()], ..Default::default() };
    f.sts.identity().create_open_id_connect_provider(&f.account, provider).await.unwrap();
    let token = f.idp.sign_rs256(&f.claims(json!({"iss": url})));
    assert_eq!(failure(f.assume("web", token.clone()).await).0, ErrorCode::IdpCommunicationError);
    // Retried at once: answered from the failure without another connection attempt.
    assert_eq!(failure(f.assume("web", token).await).0, ErrorCode::IdpCommunicationError);

    // A provider answering errors before its keys were ever fetched.
    f.idp.set_down(true);
    let token = f.idp.sign_rs256(&f.claims(json!({})));
    assert_eq!(failure(f.assume("web", token).await).0, ErrorCode::IdpCommunicationError);
    // Back up; after the retry interval its keys are fetched and cached.
    f.idp.set_down(false);
    f.clock.advance(11);
    f.assume("web", f.idp.sign_rs256(&f.claims(json!({})))).await.unwrap();
    // Down again after the cache time: the stale keys keep working meanwhile.
    f.idp.set_down(true);
    f.clock.advance(3601);
    f.assume("web", f.idp.sign_es256(&f.claims(json!({})))).await.unwrap();
}

#[tokio::test]
async fn the_provider_certificate_must_chain_to_a_trusted_root() {
    let idp = TestIdp::start().await;
    // The system roots only: the test CA is not among them.
    let f = fixture_with(idp, OidcConfig::new(None).unwrap()).await;
    let token = f.idp.sign_rs256(&f.claims(json!({})));
    assert_eq!(failure(f.assume("web", token).await).0, ErrorCode::IdpCommunicationError);
    assert_eq!(f.idp.discovery_fetches(), 0);
}

#[tokio::test]
async fn the_trust_policy_sees_the_claims() {
    let f = fixture().await;
    let sub = format!("{}:sub", f.idp.host());
    f.role("alice-only", f.trust(&["sts:AssumeRoleWithWebIdentity"], json!({ sub.clone(): "alice" }))).await;
    f.assume("alice-only", f.idp.sign_rs256(&f.claims(json!({})))).await.unwrap();
    let token = f.idp.sign_rs256(&f.claims(json!({"sub": "bob"})));
    assert_eq!(
        failure(f.assume("alice-only", token).await),
        (ErrorCode::AccessDenied, "Not authorized to perform sts:AssumeRoleWithWebIdentity".to_owned())
    );
    // Multivalued `amr`, through ForAnyValue.
    let amr = format!("{}:amr", f.idp.host());
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": f.provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"ForAnyValue:StringEquals": { amr: "mfa" }},
    }]});
    f.role("mfa-only", trust.to_string()).await;
    f.assume("mfa-only", f.idp.sign_es256(&f.claims(json!({})))).await.unwrap();
    let token = f.idp.sign_es256(&f.claims(json!({"amr": ["pwd"]})));
    assert_eq!(failure(f.assume("mfa-only", token).await).0, ErrorCode::AccessDenied);
    // Another provider's ARN in `Principal.Federated` does not match.
    let other = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/idp.example.com")},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }]});
    f.role("other-idp", other.to_string()).await;
    let token = f.idp.sign_es256(&f.claims(json!({})));
    assert_eq!(failure(f.assume("other-idp", token).await).0, ErrorCode::AccessDenied);
    // A role that does not exist is a refusal too.
    let token = f.idp.sign_es256(&f.claims(json!({})));
    assert_eq!(failure(f.assume("nobody", token).await).0, ErrorCode::AccessDenied);
}

#[tokio::test]
async fn session_tags_from_the_token_need_tag_session() {
    let f = fixture().await;
    let tags = json!({"https://aws.amazon.com/tags": {
        "principal_tags": {"team": ["blue"], "project": ["tessera"]},
        "transitive_tag_keys": ["team"],
    }});
    let token = f.idp.sign_rs256(&f.claims(tags.clone()));
    assert_eq!(
        failure(f.assume("web", token).await),
        (ErrorCode::AccessDenied, "Not authorized to perform sts:TagSession".to_owned())
    );
    f.role("tagged", f.trust(&["sts:AssumeRoleWithWebIdentity", "sts:TagSession"], json!({}))).await;
    let assumed = f.assume("tagged", f.idp.sign_rs256(&f.claims(tags))).await.unwrap();
    assert!(assumed.packed_policy_size > 0);
    let session = f
        .sts
        .verify_session(&assumed.credentials.access_key_id, assumed.credentials.session_token.expose())
        .await
        .unwrap();
    assert_eq!(session.tags, [("team".to_owned(), "blue".to_owned()), ("project".to_owned(), "tessera".to_owned())]);
    assert_eq!(session.transitive_tag_keys, ["team"]);
    // A malformed tags claim is the provider's claim rejected.
    let token = f.idp.sign_rs256(&f.claims(json!({"https://aws.amazon.com/tags": {"principal_tags": ["team"]}})));
    assert_eq!(failure(f.assume("tagged", token).await).0, ErrorCode::IdpRejectedClaim);
}

#[tokio::test]
async fn parameters_are_validated() {
    let f = fixture().await;
    let call = |change: &dyn Fn(&mut AssumeRoleWithWebIdentity)| {
        let mut input = AssumeRoleWithWebIdentity {
            role_arn: format!("arn:aws:iam::{ACCOUNT}:role/web"),
            role_session_name: "app".to_owned(),
            web_identity_token: f.idp.sign_rs256(&f.claims(json!({}))),
            ..AssumeRoleWithWebIdentity::default()
        };
        change(&mut input);
        f.sts.assume_role_with_web_identity(input)
    };
    let (code, message) = failure(call(&|i| i.web_identity_token = "abc".to_owned()).await);
    assert_eq!(code, ErrorCode::ValidationError);
    assert!(message.contains("'webIdentityToken'") && !message.contains("abc"), "{message}");
    assert_eq!(failure(call(&|i| i.role_session_name = "a b".to_owned()).await).0, ErrorCode::ValidationError);
    assert_eq!(failure(call(&|i| i.duration_seconds = Some(600)).await).0, ErrorCode::ValidationError);
    // Longer than the role allows (1 hour by default).
    let (code, message) = failure(call(&|i| i.duration_seconds = Some(7200)).await);
    assert_eq!(code, ErrorCode::ValidationError);
    assert!(message.contains("MaxSessionDuration"), "{message}");
    assert_eq!(
        failure(call(&|i| i.role_arn = "arn:aws:iam::123456789012:user/web".to_owned()).await).0,
        ErrorCode::ValidationError
    );
    assert_eq!(failure(call(&|i| i.policy = Some("x".repeat(2049))).await).0, ErrorCode::ValidationError);
    // A session policy counts towards the packed size.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let assumed = call(&|i| i.policy = Some(policy.to_owned())).await.unwrap();
    assert!(assumed.packed_policy_size > 0);
    let assumed = call(&|i| i.duration_seconds = Some(900)).await.unwrap();
    assert_eq!(assumed.credentials.expiration, f.clock.secs() + 900);
}

#[tokio::test]
async fn the_grpc_adapter_decodes_calls_and_encodes() {
    let f = fixture().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = tessera_sts::grpc::service(f.sts.clone());
    let server = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)))
            .await
    });
    let mut client = StsServiceClient::connect(format!("http://{addr}")).await.unwrap();
    let request = |token: String| pb::AssumeRoleWithWebIdentityRequest {
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/web"),
        role_session_name: "grpc".to_owned(),
        web_identity_token: token,
        duration_seconds: Some(1800),
        ..Default::default()
    };
    let response = client
        .assume_role_with_web_identity(request(f.idp.sign_es256(&f.claims(json!({})))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.subject_from_web_identity_token, "alice");
    assert_eq!(response.provider, f.provider_arn);
    assert_eq!(response.audience, CLIENT);
    let user = response.assumed_role_user.unwrap();
    assert_eq!(user.arn, format!("arn:aws:sts::{ACCOUNT}:assumed-role/web/grpc"));
    let credentials = response.credentials.unwrap();
    assert!(credentials.access_key_id.starts_with("ASIA"));
    assert_eq!(credentials.expiration.unwrap().seconds, i64::try_from(f.clock.secs() + 1800).unwrap());

    let token = f.idp.sign_es256(&f.claims(json!({"aud": "nope"})));
    let status = client.assume_role_with_web_identity(request(token)).await.unwrap_err();
    let error = ServiceError::from_status(&status);
    assert_eq!((error.code, error.message.as_str()), (ErrorCode::InvalidIdentityToken, "Incorrect token audience"));
    server.abort();
}
