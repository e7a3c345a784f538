//! The calling side of service-to-service authentication: a workload's current role credentials,
//! read from its `tessera agent` (the container credentials endpoint, the same one the AWS SDKs
//! read), and outgoing requests signed with them: SigV4 for HTTP ([`sign_http`]), and for gRPC
//! the `authorization: Bearer <access key id>:<session token>` metadata the authorizer accepts
//! ([`bearer`], [`authorize_grpc`]). The receiving side is [`crate::AuthorizeLayer`].
//!
//! ```text
//! service A --AgentCredentials::current (agent, refreshed ahead of expiry)--> Credentials
//!           --sign_http--> service B --AuthorizeLayer--> Tessera's authorizer (allowed / denied)
//! ```

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderValue, Request, Uri};
use hyper_util::rt::TokioIo;

/// A role's temporary credentials. `Debug` shows the access key id only.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Unix seconds.
    pub expiration: u64,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// Why credentials could not be had.
#[derive(Debug)]
pub struct CredentialsError(String);

impl std::fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CredentialsError {}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Credentials read from a `tessera agent`'s container endpoint and reused for a short while (at
/// most [`AgentCredentials::REUSE`], and never within 5 minutes of their expiry): the agent does
/// the refreshing.
#[derive(Clone)]
pub struct AgentCredentials {
    uri: Uri,
    token: String,
    cached: Arc<Mutex<Option<(Credentials, u64)>>>,
}

impl std::fmt::Debug for AgentCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentCredentials").field("uri", &self.uri).finish_non_exhaustive()
    }
}

impl AgentCredentials {
    /// How long credentials read from the agent are reused.
    pub const REUSE: Duration = Duration::from_secs(60);

    /// The agent at `url` (`http://127.0.0.1:9911`, or its full `/v1/credentials` URL), with the
    /// token it requires.
    pub fn new(url: &str, token: impl Into<String>) -> Result<Self, CredentialsError> {
        let full = if url.ends_with("/v1/credentials") {
            url.to_owned()
        } else {
            format!("{}/v1/credentials", url.trim_end_matches('/'))
        };
        let uri: Uri = full.parse().map_err(|_| CredentialsError(format!("`{url}` is not a URL")))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(CredentialsError(format!("`{url}`: the agent URL must be http://host:port")));
        }
        Ok(Self { uri, token: token.into(), cached: Arc::new(Mutex::new(None)) })
    }

    /// From `AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]`,
    /// as the SDKs configure themselves.
    pub fn from_env() -> Result<Self, CredentialsError> {
        let url = std::env::var("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .map_err(|_| CredentialsError("AWS_CONTAINER_CREDENTIALS_FULL_URI is not set".into()))?;
        let token = match std::env::var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            Ok(path) => std::fs::read_to_string(&path)
                .map_err(|e| CredentialsError(format!("cannot read {path}: {e}")))?
                .trim()
                .to_owned(),
            Err(_) => std::env::var("AWS_CONTAINER_AUTHORIZATION_TOKEN").unwrap_or_default(),
        };
        Self::new(&url, token)
    }

    /// Forgets the reused credentials: the next [`current`](Self::current) asks the agent.
    pub fn forget(&self) {
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The workload's current credentials.
    pub async fn current(&self) -> Result<Credentials, CredentialsError> {
        let now = now();
        if let Some((credentials, fetched)) = &*self.cached.lock().unwrap_or_else(PoisonError::into_inner)
            && now < fetched + Self::REUSE.as_secs()
            && now + 300 < credentials.expiration
        {
            return Ok(credentials.clone());
        }
        let credentials = self.fetch().await?;
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) = Some((credentials.clone(), now));
        Ok(credentials)
    }

    async fn fetch(&self) -> Result<Credentials, CredentialsError> {
        let fail = |what: &str| CredentialsError(format!("the agent at {}: {what}", self.uri));
        let host = self.uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = self.uri.port_u16().unwrap_or(80);
        let request = Request::get(self.uri.path())
            .header("host", self.uri.authority().map(ToString::to_string).unwrap_or_default())
            .header("authorization", &self.token)
            .body(Body::empty())
            .map_err(|_| fail("the token is not a header value"))?;
        let call = async {
            let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| e.to_string())?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
            let status = response.status();
            let bytes =
                axum::body::to_bytes(Body::new(response.into_body()), 64 * 1024).await.map_err(|e| e.to_string())?;
            Ok::<_, String>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .map_err(|_| fail("no answer"))?
            .map_err(|e| fail(&e))?;
        if !status.is_success() {
            return Err(fail(&format!("answered {status}")));
        }
        let answer: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| fail("the answer is not JSON"))?;
        let field = |name: &str| answer.get(name).and_then(serde_json::Value::as_str).map(str::to_owned);
        let (Some(access_key_id), Some(secret_access_key), Some(session_token), Some(expiration)) =
            (field("AccessKeyId"), field("SecretAccessKey"), field("Token"), field("Expiration"))
        else {
            return Err(fail("the answer lacks credentials"));
        };
        let compact: String = expiration.chars().filter(|c| *c != '-' && *c != ':').collect();
        let expiration = tessera_sigv4::parse_amz_date(&compact).ok_or_else(|| fail("unreadable Expiration"))?;
        Ok(Credentials { access_key_id, secret_access_key, session_token, expiration })
    }
}

/// Signs `request` (whose body is `body`) with SigV4 for `service` in `region`: sets `host` (from
/// the URI when missing), `x-amz-date`, `x-amz-security-token` and `authorization`. Every header
/// the request carries is signed, so sign last.
pub fn sign_http<B>(request: &mut Request<B>, body: &[u8], credentials: &Credentials, service: &str, region: &str) {
    let date = tessera_sigv4::format_amz_date(now());
    let headers = request.headers_mut();
    if !headers.contains_key("host")
        && let Some(authority) = request.uri().authority().map(ToString::to_string)
        && let Ok(value) = HeaderValue::from_str(&authority)
    {
        request.headers_mut().insert("host", value);
    }
    let headers = request.headers_mut();
    headers.remove("authorization");
    if let Ok(value) = HeaderValue::from_str(&date) {
        headers.insert("x-amz-date", value);
    }
    // A long-term key has no session token.
    if !credentials.session_token.is_empty()
        && let Ok(value) = HeaderValue::from_str(&credentials.session_token)
    {
        headers.insert("x-amz-security-token", value);
    }
    let owned: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    let pairs: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let method = request.method().as_str().to_owned();
    let signed = tessera_sigv4::Request {
        method: &method,
        path: &path,
        query: &query,
        headers: &pairs,
        body_sha256: tessera_sigv4::PayloadHash::of(body),
    };
    let params = tessera_sigv4::SigningParams {
        access_key_id: &credentials.access_key_id,
        secret: credentials.secret_access_key.as_bytes(),
        region,
        service,
        amz_date: &date,
    };
    if let Ok(value) = HeaderValue::from_str(&tessera_sigv4::sign(&signed, &params)) {
        request.headers_mut().insert("authorization", value);
    }
}

/// The `authorization` value of a gRPC call (or an HTTP request) made with `credentials`:
/// `Bearer <access key id>:<session token>`.
pub fn bearer(credentials: &Credentials) -> String {
    format!("Bearer {}:{}", credentials.access_key_id, credentials.session_token)
}

/// Adds the [`bearer`] metadata to an outgoing gRPC request.
pub fn authorize_grpc<T>(request: &mut tonic::Request<T>, credentials: &Credentials) {
    if let Ok(value) = bearer(credentials).parse() {
        request.metadata_mut().insert("authorization", value);
    }
}

/// A tower layer for a gRPC client's channel (`tonic::transport::Channel`) that signs every call
/// with SigV4 for `service` with the workload's current credentials: the `authorization`,
/// `x-amz-date` and `x-amz-security-token` metadata over `POST /<package>.<Service>/<Method>`, the
/// channel's authority as `host`, and the message's hash (calls are buffered to hash them, so
/// use it for unary calls). The callee's `AuthorizeLayer` verifies them like an HTTP request.
#[derive(Debug, Clone)]
pub struct SigV4GrpcLayer {
    credentials: Source,
    authority: String,
    service: String,
    region: String,
}

impl SigV4GrpcLayer {
    /// Signs for the server at `origin` (the channel's URL, `http://host:port`: tonic adds it
    /// below this layer, so the layer is told).
    pub fn new(
        credentials: AgentCredentials,
        origin: &str,
        service: &str,
        region: &str,
    ) -> Result<Self, CredentialsError> {
        let uri: Uri = origin.parse().map_err(|_| CredentialsError(format!("`{origin}` is not a URL")))?;
        let authority = uri.authority().ok_or_else(|| CredentialsError(format!("`{origin}` has no host")))?.to_string();
        Ok(Self {
            credentials: Source::Agent(credentials),
            authority,
            service: service.to_owned(),
            region: region.to_owned(),
        })
    }

    /// Signs with fixed `credentials` (a long-term key, or a session the caller manages).
    pub fn with_credentials(
        credentials: Credentials,
        origin: &str,
        service: &str,
        region: &str,
    ) -> Result<Self, CredentialsError> {
        let agent = Self::new(AgentCredentials::new("http://127.0.0.1:1", "")?, origin, service, region)?;
        Ok(Self { credentials: Source::Fixed(credentials), ..agent })
    }
}

/// Where [`SigV4GrpcLayer`] takes its credentials from.
#[derive(Debug, Clone)]
enum Source {
    Agent(AgentCredentials),
    Fixed(Credentials),
}

impl Source {
    async fn current(&self) -> Result<Credentials, CredentialsError> {
        match self {
            Self::Agent(agent) => agent.current().await,
            Self::Fixed(credentials) => Ok(credentials.clone()),
        }
    }
}

impl<S> tower::Layer<S> for SigV4GrpcLayer {
    type Service = SigV4Grpc<S>;

    fn layer(&self, inner: S) -> SigV4Grpc<S> {
        SigV4Grpc { inner, layer: self.clone() }
    }
}

/// The service [`SigV4GrpcLayer`] makes.
#[derive(Debug, Clone)]
pub struct SigV4Grpc<S> {
    inner: S,
    layer: SigV4GrpcLayer,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S> tower::Service<Request<tonic::body::Body>> for SigV4Grpc<S>
where
    S: tower::Service<Request<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<tonic::body::Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let credentials = layer.credentials.current().await?;
            let (parts, body) = request.into_parts();
            let bytes = http_body_util::BodyExt::collect(body).await.map_err(Into::<BoxError>::into)?.to_bytes();
            let mut request = Request::from_parts(parts, ());
            if request.uri().authority().is_none() {
                let host = HeaderValue::from_str(&layer.authority).map_err(Into::<BoxError>::into)?;
                request.headers_mut().insert("host", host);
            }
            sign_http(&mut request, &bytes, &credentials, &layer.service, &layer.region);
            let request = request.map(|()| tonic::body::Body::new(http_body_util::Full::new(bytes)));
            inner.call(request).await.map_err(Into::into)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_requests_carry_the_session_and_a_signature_and_debug_hides_secrets() {
        let credentials = Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "very-secret".into(),
            session_token: "token".into(),
            expiration: 0,
        };
        let mut request = Request::get("http://127.0.0.1:1/orders/1").body(()).unwrap();
        sign_http(&mut request, b"", &credentials, "orders", "us-east-1");
        let auth = request.headers()["authorization"].to_str().unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/"), "{auth}");
        assert!(auth.contains("/us-east-1/orders/aws4_request"), "{auth}");
        assert!(auth.contains("SignedHeaders=host;x-amz-date;x-amz-security-token"), "{auth}");
        assert_eq!(request.headers()["host"], "127.0.0.1:1");
        assert_eq!(bearer(&credentials), "Bearer ASIAEXAMPLE:token");
        let mut grpc = tonic::Request::new(());
        authorize_grpc(&mut grpc, &credentials);
        assert_eq!(grpc.metadata().get("authorization").unwrap(), "Bearer ASIAEXAMPLE:token");
        assert!(!format!("{credentials:?}").contains("very-secret"));
    }
}
