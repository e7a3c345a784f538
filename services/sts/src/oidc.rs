//! The signing keys of external OpenID Connect providers, for `AssumeRoleWithWebIdentity`
//! (reference §4.3 step 4): discovery (`<issuer>/.well-known/openid-configuration` → `jwks_uri`)
//! and the JWKS, fetched over https and cached per issuer.
//!
//! Fetching is the only real I/O here. Every decision about *when* to fetch takes `now` (unix
//! seconds from the injected clock), so expiry, rate limits and the negative cache are tested with
//! a fake clock:
//!
//! - a JWKS is used for [`OidcConfig::jwks_ttl`]; after that the next token refetches it (and
//!   keeps using the stale set, for at most [`STALE_GRACE_SECS`], while the provider is down);
//! - a token naming an unknown `kid` refetches the JWKS (the provider may have rotated), but at
//!   most once per [`OidcConfig::refetch_interval`] per issuer, and a `kid` that was still unknown
//!   after a refetch is remembered for [`OidcConfig::unknown_kid_ttl`]: a flood of tokens with
//!   made-up kids costs the provider one request per interval at most;
//! - fetches for one issuer are serialised (one in flight), so a burst of tokens after a rotation
//!   makes one request, not one per token.
//!
//! The cache is only ever asked about issuers registered as providers in some account (the caller
//! looks the provider up first), so its size is bounded by the registered providers, and an
//! unsigned caller cannot make the service fetch an arbitrary URL.
//!
//! The HTTP client is deliberately small: one HTTP/1.1 connection per fetch over rustls (ring
//! provider), no redirects, no proxies, a connect and a total timeout, and a cap on the response
//! size. Fetches are rare (hourly per issuer, plus rotations), so pooling buys nothing. TLS is
//! checked against the system roots plus an optional extra CA (`--oidc-ca-file`), which is how a
//! private or test identity provider is trusted; the provider's thumbprints are not consulted.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http_body_util::{BodyExt as _, Empty, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::Value;
use tessera_credentials::{Jwks, JwtError};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long a stale JWKS may still be used while its provider cannot be reached, seconds.
pub(crate) const STALE_GRACE_SECS: u64 = 24 * 3600;

/// The most unknown kids remembered per issuer; beyond that the rate limit alone protects the
/// provider.
const MAX_UNKNOWN_KIDS: usize = 256;

/// Longer kids are never remembered (no provider uses them; an attacker could).
const MAX_REMEMBERED_KID_LEN: usize = 256;

/// How Tessera reaches OIDC providers, and how long it trusts what it fetched.
#[derive(Clone)]
pub struct OidcConfig {
    tls: Arc<ClientConfig>,
    /// How long a fetched JWKS is used before it is fetched again.
    pub jwks_ttl: Duration,
    /// The least time between two fetches for one issuer, whatever the reason (unknown `kid`,
    /// expiry after a failure).
    pub refetch_interval: Duration,
    /// How long a `kid` still unknown after a refetch is answered without fetching.
    pub unknown_kid_ttl: Duration,
    /// Time allowed to open the TCP connection.
    pub connect_timeout: Duration,
    /// Time allowed for one whole fetch: connect, TLS, request and body.
    pub request_timeout: Duration,
    /// The largest discovery document or JWKS read, in bytes.
    pub max_response_bytes: usize,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, seconds.
    pub leeway_secs: u64,
}

impl fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcConfig")
            .field("jwks_ttl", &self.jwks_ttl)
            .field("refetch_interval", &self.refetch_interval)
            .field("unknown_kid_ttl", &self.unknown_kid_ttl)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("leeway_secs", &self.leeway_secs)
            .finish_non_exhaustive()
    }
}

/// Why the TLS trust for OIDC providers could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OidcConfigError {
    /// The CA file could not be read.
    #[error("cannot read the OIDC CA file `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The extra CA PEM is malformed.
    #[error("the OIDC CA certificates are not valid PEM: {0}")]
    Pem(String),
    /// The extra CA PEM holds no certificate.
    #[error("the OIDC CA file holds no certificate")]
    NoCertificates,
    /// A certificate cannot be used as a trust anchor.
    #[error("an OIDC CA certificate cannot be used as a trust anchor: {0}")]
    BadCertificate(String),
    /// rustls refused the configuration.
    #[error("cannot configure TLS for OIDC providers: {0}")]
    Tls(String),
}

impl OidcConfig {
    /// The system roots plus the certificates of `extra_ca_pem`, if given.
    pub fn new(extra_ca_pem: Option<&[u8]>) -> Result<Self, OidcConfigError> {
        let mut roots = RootCertStore::empty();
        add_system_roots(&mut roots);
        if let Some(pem) = extra_ca_pem {
            add_pem_roots(&mut roots, pem)?;
        }
        Self::with_root_store(roots)
    }

    /// The system roots plus the certificates of the PEM file at `path`, if given
    /// (`--oidc-ca-file`).
    pub fn from_ca_file(path: Option<&Path>) -> Result<Self, OidcConfigError> {
        match path {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|source| OidcConfigError::Read { path: path.display().to_string(), source })?;
                Self::new(Some(&pem))
            }
            None => Self::new(None),
        }
    }

    /// Trusts exactly the certificates of `ca_pem`, not the system roots (tests, closed networks).
    pub fn with_only_roots(ca_pem: &[u8]) -> Result<Self, OidcConfigError> {
        let mut roots = RootCertStore::empty();
        add_pem_roots(&mut roots, ca_pem)?;
        Self::with_root_store(roots)
    }

    fn with_root_store(roots: RootCertStore) -> Result<Self, OidcConfigError> {
        let tls = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|error| OidcConfigError::Tls(error.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self::with_tls(Arc::new(tls)))
    }

    fn with_tls(tls: Arc<ClientConfig>) -> Self {
        Self {
            tls,
            jwks_ttl: Duration::from_secs(3600),
            refetch_interval: Duration::from_secs(10),
            unknown_kid_ttl: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(5),
            max_response_bytes: 1024 * 1024,
            leeway_secs: 60,
        }
    }
}

fn add_system_roots(roots: &mut RootCertStore) {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "cannot read some system CA certificates");
    }
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    tracing::debug!(added, ignored, "system CA certificates loaded for OIDC providers");
}

fn add_pem_roots(roots: &mut RootCertStore, pem: &[u8]) -> Result<(), OidcConfigError> {
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|error| OidcConfigError::Pem(error.to_string()))?;
        roots.add(cert).map_err(|error| OidcConfigError::BadCertificate(error.to_string()))?;
        count += 1;
    }
    if count == 0 {
        return Err(OidcConfigError::NoCertificates);
    }
    Ok(())
}

/// Why keys could not be fetched. Logged where handled; the caller sees `IDPCommunicationError`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("`{0}` is not an https URL Tessera can fetch")]
    InvalidUrl(String),
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    #[error("HTTP exchange failed: {0}")]
    Http(hyper::Error),
    #[error("timed out")]
    Timeout,
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("reading the response failed")]
    Body,
    #[error("the discovery document is unusable: {0}")]
    Discovery(&'static str),
    #[error("the JWKS is unusable: {0}")]
    Jwks(JwtError),
    #[error("the provider could not be reached recently; not retrying yet")]
    RecentlyFailed,
}

/// An https URL split for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpsUrl {
    /// Host name or IP address (IPv6 without brackets).
    host: String,
    port: u16,
    /// `host[:port]` as written, for the `Host` header.
    authority: String,
    /// Path and query, starting with `/`.
    path: String,
}

/// Parses `https://host[:port][/path][?query]`; a fragment is dropped. User info, other schemes,
/// empty hosts, port 0 and non-printable characters are refused.
pub(crate) fn parse_https_url(url: &str) -> Option<HttpsUrl> {
    let rest = url.get(..8).filter(|scheme| scheme.eq_ignore_ascii_case("https://")).map(|_| &url[8..])?;
    let rest = rest.split('#').next().unwrap_or_default();
    if !rest.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c)) {
        return None;
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) if rest[at..].starts_with('?') => (&rest[..at], format!("/{}", &rest[at..])),
        Some(at) => (&rest[..at], rest[at..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        let port = match after {
            "" => 443,
            _ => parse_port(after.strip_prefix(':')?)?,
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, parse_port(port)?),
            None => (authority, 443),
        }
    };
    if host.is_empty() || host.contains(['[', ']']) || (!authority.starts_with('[') && host.contains(':')) {
        return None;
    }
    Some(HttpsUrl { host: host.to_owned(), port, authority: authority.to_owned(), path })
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&port| port != 0)
}

/// Aborts the connection task when the fetch ends, however it ends (timeouts included).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the cache knows about one issuer.
#[derive(Default)]
struct KeyState {
    jwks: Option<Arc<Jwks>>,
    /// From the discovery document; refetches for an unknown kid skip discovery.
    jwks_uri: Option<HttpsUrl>,
    /// When `jwks` was fetched.
    fetched_at: u64,
    /// When the last fetch (successful or not) started.
    attempted_at: Option<u64>,
    /// Kids still unknown after a refetch, with when to forget them.
    unknown_kids: HashMap<String, u64>,
}

impl KeyState {
    fn fresh(&self, now: u64, ttl: u64) -> Option<Arc<Jwks>> {
        self.jwks.as_ref().filter(|_| now < self.fetched_at.saturating_add(ttl)).cloned()
    }

    fn knows(&self, kid: &str) -> Option<Arc<Jwks>> {
        self.jwks.as_ref().filter(|jwks| jwks.kids().any(|known| known == kid)).cloned()
    }

    fn tried_recently(&self, now: u64, interval: u64) -> bool {
        self.attempted_at.is_some_and(|at| now < at.saturating_add(interval))
    }

    fn remember_unknown(&mut self, kid: &str, until: u64, now: u64) {
        if kid.len() > MAX_REMEMBERED_KID_LEN {
            return;
        }
        self.unknown_kids.retain(|_, forget_at| now < *forget_at);
        if self.unknown_kids.len() < MAX_UNKNOWN_KIDS {
            self.unknown_kids.insert(kid.to_owned(), until);
        }
    }
}

/// One issuer's keys, and the lock that keeps its fetches one at a time.
#[derive(Default)]
struct IssuerKeys {
    state: Mutex<KeyState>,
    fetching: tokio::sync::Mutex<()>,
}

impl IssuerKeys {
    fn state(&self) -> std::sync::MutexGuard<'_, KeyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The JWKS of every provider tokens were presented for, by issuer URL.
pub(crate) struct JwksCache {
    config: OidcConfig,
    issuers: Mutex<HashMap<String, Arc<IssuerKeys>>>,
}

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let issuers = self.issuers.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("JwksCache").field("config", &self.config).field("issuers", &issuers).finish()
    }
}

impl JwksCache {
    pub(crate) fn new(config: OidcConfig) -> Self {
        Self { config, issuers: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn config(&self) -> &OidcConfig {
        &self.config
    }

    fn issuer(&self, issuer: &str) -> Arc<IssuerKeys> {
        let mut issuers = self.issuers.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(issuers.entry(issuer.to_owned()).or_default())
    }

    /// The keys of `issuer` (`https://…`, as registered): cached while fresh, fetched otherwise.
    /// While the provider cannot be reached, a stale set is used for up to [`STALE_GRACE_SECS`].
    pub(crate) async fn keys(&self, issuer: &str, now: u64) -> Result<Arc<Jwks>, FetchError> {
        let ttl = self.config.jwks_ttl.as_secs();
        let entry = self.issuer(issuer);
        if let Some(jwks) = entry.state().fresh(now, ttl) {
            return Ok(jwks);
        }
        let _one_at_a_time = entry.fetching.lock().await;
        let usable_stale = |state: &KeyState| {
            state.jwks.as_ref().filter(|_| now < state.fetched_at.saturating_add(ttl + STALE_GRACE_SECS)).cloned()
        };
        {
            let state = entry.state();
            if let Some(jwks) = state.fresh(now, ttl) {
                return Ok(jwks);
            }
            if state.tried_recently(now, self.config.refetch_interval.as_secs()) {
                return usable_stale(&state).ok_or(FetchError::RecentlyFailed);
            }
        }
        entry.state().attempted_at = Some(now);
        let fetched = self.fetch_keys(issuer, None).await;
        let mut state = entry.state();
        match fetched {
            Ok((uri, jwks)) => {
                let jwks = Arc::new(jwks);
                state.jwks = Some(Arc::clone(&jwks));
                state.jwks_uri = Some(uri);
                state.fetched_at = now;
                state.unknown_kids.clear();
                Ok(jwks)
            }
            Err(error) => match usable_stale(&state) {
                Some(stale) => {
                    tracing::warn!(%error, issuer, "cannot refresh the provider's keys; using the cached ones");
                    Ok(stale)
                }
                None => Err(error),
            },
        }
    }

    /// After a token named `kid` and the cached keys do not have it: refetches the JWKS, unless
    /// the issuer was fetched less than [`OidcConfig::refetch_interval`] ago or `kid` was recently
    /// found missing. Returns the keys to retry with, or `None` when no new keys can be had now.
    pub(crate) async fn refetch_for_kid(
        &self,
        issuer: &str,
        kid: &str,
        now: u64,
    ) -> Result<Option<Arc<Jwks>>, FetchError> {
        let interval = self.config.refetch_interval.as_secs();
        let entry = self.issuer(issuer);
        let settled = |state: &KeyState| -> Option<Option<Arc<Jwks>>> {
            if let Some(jwks) = state.knows(kid) {
                // Another request refetched in the meantime.
                return Some(Some(jwks));
            }
            if state.unknown_kids.get(kid).is_some_and(|&forget_at| now < forget_at) {
                return Some(None);
            }
            state.tried_recently(now, interval).then_some(None)
        };
        {
            // Before waiting for an in-flight fetch, only what that fetch cannot change: the
            // rate limit is checked after it, since the fetch itself counts as the last attempt.
            let state = entry.state();
            if let Some(jwks) = state.knows(kid) {
                return Ok(Some(jwks));
            }
            if state.unknown_kids.get(kid).is_some_and(|&forget_at| now < forget_at) {
                return Ok(None);
            }
        }
        let _one_at_a_time = entry.fetching.lock().await;
        let jwks_uri = {
            let mut state = entry.state();
            if let Some(answer) = settled(&state) {
                return Ok(answer);
            }
            state.attempted_at = Some(now);
            state.jwks_uri.clone()
        };
        tracing::info!(issuer, kid, "unknown key id: refetching the provider's keys");
        let (uri, jwks) = self.fetch_keys(issuer, jwks_uri).await?;
        let jwks = Arc::new(jwks);
        let mut state = entry.state();
        state.jwks = Some(Arc::clone(&jwks));
        state.jwks_uri = Some(uri);
        state.fetched_at = now;
        state.unknown_kids.clear();
        if state.knows(kid).is_none() {
            let until = now.saturating_add(self.config.unknown_kid_ttl.as_secs());
            state.remember_unknown(kid, until, now);
        }
        Ok(Some(jwks))
    }

    /// Discovery (unless the JWKS URL is known), then the JWKS.
    #[tracing::instrument(name = "sts.oidc.fetch_keys", skip_all, fields(upstream = issuer))]
    async fn fetch_keys(&self, issuer: &str, jwks_uri: Option<HttpsUrl>) -> Result<(HttpsUrl, Jwks), FetchError> {
        let uri = match jwks_uri {
            Some(uri) => uri,
            None => {
                let discovery = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
                let url = parse_https_url(&discovery).ok_or(FetchError::InvalidUrl(discovery))?;
                let body = self.get(&url).await?;
                let document: Value =
                    serde_json::from_slice(&body).map_err(|_| FetchError::Discovery("it is not JSON"))?;
                let jwks_uri =
                    document.get("jwks_uri").and_then(Value::as_str).ok_or(FetchError::Discovery("no `jwks_uri`"))?;
                parse_https_url(jwks_uri).ok_or(FetchError::Discovery("`jwks_uri` is not an https URL"))?
            }
        };
        let body = self.get(&uri).await?;
        let jwks = Jwks::parse(&body).map_err(FetchError::Jwks)?;
        Ok((uri, jwks))
    }

    /// One GET over a fresh TLS connection, within the total timeout.
    async fn get(&self, url: &HttpsUrl) -> Result<Bytes, FetchError> {
        tokio::time::timeout(self.config.request_timeout, self.get_unbounded(url))
            .await
            .map_err(|_| FetchError::Timeout)?
    }

    async fn get_unbounded(&self, url: &HttpsUrl) -> Result<Bytes, FetchError> {
        let name = ServerName::try_from(url.host.as_str())
            .map_err(|_| FetchError::InvalidUrl(url.authority.clone()))?
            .to_owned();
        let tcp = tokio::time::timeout(self.config.connect_timeout, TcpStream::connect((url.host.as_str(), url.port)))
            .await
            .map_err(|_| FetchError::Timeout)?
            .map_err(FetchError::Connect)?;
        // Small request, small response: no point in Nagle's delay.
        let _ = tcp.set_nodelay(true);
        let tls = TlsConnector::from(Arc::clone(&self.config.tls)).connect(name, tcp).await.map_err(FetchError::Tls)?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(FetchError::Http)?;
        let _driver = AbortOnDrop(tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "OIDC provider connection ended with an error");
            }
        }));
        let request = Request::get(url.path.as_str())
            .header(header::HOST, url.authority.as_str())
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "tessera-sts")
            .body(Empty::<Bytes>::new())
            .map_err(|_| FetchError::InvalidUrl(url.authority.clone()))?;
        let response = sender.send_request(request).await.map_err(FetchError::Http)?;
        if response.status() != StatusCode::OK {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let max = self.config.max_response_bytes;
        let declared = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > max as u64) {
            return Err(FetchError::TooLarge(max));
        }
        let body = Limited::new(response.into_body(), max).collect().await.map_err(|error| {
            if error.is::<LengthLimitError>() { FetchError::TooLarge(max) } else { FetchError::Body }
        })?;
        Ok(body.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(host: &str, port: u16, authority: &str, path: &str) -> HttpsUrl {
        HttpsUrl { host: host.into(), port, authority: authority.into(), path: path.into() }
    }

    #[test]
    fn https_urls_split_into_host_port_and_path() {
        assert_eq!(
            parse_https_url("https://idp.example.com"),
            Some(url("idp.example.com", 443, "idp.example.com", "/"))
        );
        assert_eq!(
            parse_https_url("HTTPS://127.0.0.1:8443/.well-known/jwks?x=1#frag"),
            Some(url("127.0.0.1", 8443, "127.0.0.1:8443", "/.well-known/jwks?x=1"))
        );
        assert_eq!(parse_https_url("https://[::1]:9000/k"), Some(url("::1", 9000, "[::1]:9000", "/k")));
        assert_eq!(parse_https_url("https://[::1]"), Some(url("::1", 443, "[::1]", "/")));
        assert_eq!(parse_https_url("https://h.example?q"), Some(url("h.example", 443, "h.example", "/?q")));
        for bad in [
            "http://idp.example.com",
            "https://",
            "https:///path",
            "https://user@idp.example.com",
            "https://idp.example.com:0",
            "https://idp.example.com:99999",
            "https://idp.example.com:x",
            "https://idp.example.com:",
            "https://a:b:c",
            "https://[::1",
            "https://[::1]x",
            "https://idp.example.com/a b",
            "idp.example.com",
        ] {
            assert_eq!(parse_https_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn extra_ca_pem_must_hold_certificates() {
        assert!(matches!(OidcConfig::with_only_roots(b""), Err(OidcConfigError::NoCertificates)));
        let garbage = b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
        assert!(matches!(OidcConfig::with_only_roots(garbage), Err(OidcConfigError::Pem(_))));
        let not_a_cert = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(OidcConfig::with_only_roots(not_a_cert), Err(OidcConfigError::BadCertificate(_))));
        let missing = OidcConfig::from_ca_file(Some(Path::new("/nonexistent/ca.pem")));
        assert!(matches!(missing, Err(OidcConfigError::Read { .. })));
    }

    #[test]
    fn the_negative_cache_is_bounded_and_expires() {
        let mut state = KeyState::default();
        for i in 0..MAX_UNKNOWN_KIDS + 10 {
            state.remember_unknown(&format!("kid-{i}"), 100, 0);
        }
        assert_eq!(state.unknown_kids.len(), MAX_UNKNOWN_KIDS);
        state.remember_unknown(&"k".repeat(MAX_REMEMBERED_KID_LEN + 1), 100, 0);
        assert_eq!(state.unknown_kids.len(), MAX_UNKNOWN_KIDS);
        // Once they have expired, room is made again.
        state.remember_unknown("late", 300, 200);
        assert_eq!(state.unknown_kids.len(), 1);
    }
}
