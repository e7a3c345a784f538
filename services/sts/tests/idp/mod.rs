//! A test OpenID Connect provider for the web-identity tests: https on `127.0.0.1:0` with its own
//! CA (made with rcgen at start), serving the discovery document and a JWKS with an RS256 and an
//! ES256 key. The ES256 key can be rotated, the provider can be made to fail (HTTP 503), and it
//! counts the requests it serves, so tests can check the cache and its rate limits.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tessera_credentials::JwtSigner;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A 2048-bit RSA key (PKCS#8 DER, base64), made for these tests with
/// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` and `openssl pkcs8 -topk8`.
/// Test material only.
const RSA_PKCS8: &str = "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDmAGWYe2heE2ZDMtWhA0fHkPlPmn7favgZDzxphG/tUFbG1s7ctGmJacifDN7D551QW7ZCOX0emD5vvfVkvcAtgxnKqwNV332tPZ/AOm9Keq3oQxfEivUVT8b8gAOlfEKQxqxDaojhSMPZ8HMFiAII8CQBPgA+11oSiOFumSuxmWa1ZCswNJf/SaY615IEzcER2kEn32HlQ0JtgPP8p1/NeOHHVGqN3MxFOYU79Iw2bCjTZgqA2BNti7pCk/HqfVzZQVsKVDwMmuo76X3UN/tmNsEc5ohngKN+BfjSWC9dOKEcLuQe8HDPdVspXdK3zqW4OrspQNTMdDTNaCJSEj6NAgMBAAECgf82NIxnuK3gKLJGeV806JECIiifmh73Mz6aqVHo4aLUoG/TF3epNtuohvBr4PH0jvbZpBj61+b6TucSxAdmtqbpaFGrx0ysmv9Y1NfRdfQZ7s+4QsJXOmiIR++dko30HP+THz95+UxJITJcf/lGVHImU8d92MmLWzWJ02NNrXZJZGthLAkRkjLVyMqd+tJO/rQH7iWvA7Fw6YoSu3If7S3nHIClw8ZNRijjGNDXL07JcJhTw9o5FULfX3W4EcAjujF43hNJX2ZUeqSrvvKobhK7FoOOHa2DJ0MKalIS7fag/G9qo06aSjHUGzyiy5mRkb4EiKHWPk2J4449idphHGUCgYEA+o7/H/CcZpmBArviPNbMgcR8VGO6qLXVZ6t6f8hsXxs6KzV06jrRBvDj7rPtcU5g25yomBRcKno0xwU+hiQKHjoWgBZSEfESfg6BvpVRYCWblX9Y9yq6sM07zEp9n8FybclXPAZzsWGV2jvFw6rJUI+iwITE+JoWB/Y4CBAZWncCgYEA6v8ckJeKVHKV5ESGkMYe5hZY7P1yVD8/Q3uRsDbk2dGKyJC9LgI4fINVbzG/wevxoxBwTx2NqBQCF5+CGkUhNrQgC81Vh02Mx3mLTzY5x9RuSWrKz6Ho2dKwmMZwU0AOD6ujFWUovu1Ni+wLCUN2k7qEP8nJDp/f5ZLmKMAA7BsCgYByf/hsoysF4+5FzpBjlxFb1+utMOnzAS1ls8JGNNP5XlrltgcYpwowrtKqmcTPO68djOiqnttDehc2P9pDuKJ7D7aKkCivFEiMHJsD+f52/pir58dDJF6uPwutnvjrkZ52N0VLI/OowtyVHy2P7jMTQqBwc/wDU37v4n/Wh2zenwKBgQCBdy87keGKCN7/takVVbFsPd+cIT29oGKwQQHQvU1zm3gEa4luMZcBMjH9YsEsi1rC5amaTMPgV7WXYi+BXZig1LfbCLMYKedndlUDvPI0X5qrJAS8Q41PhD36zUjQ9LdKdtsQTH0YQxC4B8FEx0Aqv1Vg90Cnp/joN/hJdw6LBQKBgQClqPwrdmMOC3i615FQtlVVe2edK8n+CWuci2SoZqqo8J0GxAhWSMbHA4d1Ez5sYIhZ7Lqzj+hdlbUVmXGv0sXvxIJHbpOKIh6lcsAjpCME+regHkSpv5nULM5qyoQlryM5Dh2k3bgaN+n/PU6shJX0QYp0Sy0UMOFAcHtt7AzxZA==";

/// The kid of the RSA key in the JWKS.
pub(crate) const RSA_KID: &str = "rsa-2026";

/// What the server task shares with the test.
struct Shared {
    url: String,
    rsa: RsaKeyPair,
    /// The published ES256 keys, current first.
    ec: Mutex<Vec<Arc<JwtSigner>>>,
    down: AtomicBool,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
}

impl Shared {
    fn jwks(&self) -> Value {
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(self.rsa.public());
        let mut keys = vec![json!({
            "kty": "RSA", "kid": RSA_KID, "use": "sig", "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e),
        })];
        keys.extend(self.ec.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|k| k.jwk()));
        json!({ "keys": keys })
    }

    fn respond(&self, path: &str) -> Response<Full<Bytes>> {
        let (status, body) = if self.down.load(Ordering::SeqCst) {
            (StatusCode::SERVICE_UNAVAILABLE, json!({"error": "down"}))
        } else {
            match path {
                "/.well-known/openid-configuration" => {
                    self.discovery_hits.fetch_add(1, Ordering::SeqCst);
                    let discovery = json!({
                        "issuer": self.url,
                        "jwks_uri": format!("{}/jwks", self.url),
                        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                    });
                    (StatusCode::OK, discovery)
                }
                "/jwks" => {
                    self.jwks_hits.fetch_add(1, Ordering::SeqCst);
                    (StatusCode::OK, self.jwks())
                }
                _ => (StatusCode::NOT_FOUND, json!({"error": "not found"})),
            }
        };
        let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
        *response.status_mut() = status;
        response
    }
}

/// A running test identity provider; stops when dropped.
pub(crate) struct TestIdp {
    /// `https://127.0.0.1:<port>`: the issuer, and the provider URL to register.
    pub(crate) url: String,
    /// The CA certificate that signed the server's certificate, PEM.
    pub(crate) ca_pem: String,
    shared: Arc<Shared>,
    rng: SystemRandom,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestIdp {
    pub(crate) async fn start() -> TestIdp {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "Tessera test IdP CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let mut server_params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        server_params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
        let server_cert = server_params.signed_by(&server_key, &Issuer::from_params(&ca_params, &ca_key)).unwrap();

        let tls = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![server_cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(tls));

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let rng = SystemRandom::new();
        let rsa = RsaKeyPair::from_pkcs8(&STANDARD.decode(RSA_PKCS8).unwrap()).unwrap();
        let shared = Arc::new(Shared {
            url: url.clone(),
            rsa,
            ec: Mutex::new(vec![Arc::new(JwtSigner::generate(&rng).unwrap())]),
            down: AtomicBool::new(false),
            discovery_hits: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
        });
        let server = tokio::spawn(serve(listener, acceptor, Arc::clone(&shared)));
        TestIdp { url, ca_pem: ca_cert.pem(), shared, rng, server }
    }

    /// The provider URL without `https://`: the condition-key prefix and the ARN's resource.
    pub(crate) fn host(&self) -> &str {
        &self.url["https://".len()..]
    }

    /// A token signed with the RSA key.
    pub(crate) fn sign_rs256(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": RSA_KID});
        let input = format!("{}.{}", b64(&header), b64(claims));
        let mut signature = vec![0; self.shared.rsa.public().modulus_len()];
        self.shared.rsa.sign(&RSA_PKCS1_SHA256, &self.rng, input.as_bytes(), &mut signature).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// A token signed with the current ES256 key.
    pub(crate) fn sign_es256(&self, claims: &Value) -> String {
        let current = Arc::clone(&self.shared.ec.lock().unwrap_or_else(PoisonError::into_inner)[0]);
        current.sign(claims, &self.rng).unwrap()
    }

    /// A new ES256 key, not published yet.
    pub(crate) fn new_key(&self) -> Arc<JwtSigner> {
        Arc::new(JwtSigner::generate(&self.rng).unwrap())
    }

    /// Rotates: `key` becomes the only published ES256 key (the old ones are withdrawn).
    pub(crate) fn rotate_to(&self, key: &Arc<JwtSigner>) {
        *self.shared.ec.lock().unwrap_or_else(PoisonError::into_inner) = vec![Arc::clone(key)];
    }

    /// Makes every request fail with HTTP 503 (or work again).
    pub(crate) fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// The JWKS as the provider serves it now.
    pub(crate) fn jwks_document(&self) -> Value {
        self.shared.jwks()
    }

    /// How many discovery documents were served.
    pub(crate) fn discovery_fetches(&self) -> usize {
        self.shared.discovery_hits.load(Ordering::SeqCst)
    }

    /// How many JWKS documents were served.
    pub(crate) fn jwks_fetches(&self) -> usize {
        self.shared.jwks_hits.load(Ordering::SeqCst)
    }
}

pub(crate) fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let (acceptor, shared) = (acceptor.clone(), Arc::clone(&shared));
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let response = shared.respond(request.uri().path());
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
        });
    }
}
