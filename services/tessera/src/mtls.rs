//! The mutual-TLS listener (`tessera serve --mtls-addr`): IAM Roles Anywhere's `CreateSession`
//! for a self-hosted server. A workload presents an X.509 client certificate; the TLS handshake
//! verifies it against the trust anchors (`--client-ca-file`, rustls' `WebPkiClientVerifier`), so
//! an untrusted or missing certificate never reaches a handler. `POST /sessions` then asks STS
//! for a session of the role named (`tessera_sts::CertificateSession`: the trust policy must
//! allow `rolesanywhere.amazonaws.com`, with the certificate's attributes as principal tags).
//!
//! ```text
//! TCP accept -> TLS handshake (client cert required, chain to a trust anchor)
//!   -> the leaf certificate parsed once (x509-parser) into a CertificateIdentity
//!   -> HTTP/1.1: POST /sessions {roleArn, durationSeconds?, roleSessionName?}
//!   -> Sts::assume_role_with_certificate -> 201 {"credentialSet":[...]} or an AWS-style error
//! ```
//!
//! AWS signs `CreateSession` with the certificate's key instead of terminating TLS with it; here
//! the TLS connection is that proof, so the request carries no signature.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tessera_proto::ErrorCode;
use tessera_sts::{CertificateIdentity, CertificateSession, Sts};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// How long a client has to finish the TLS handshake, and to send a request's headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest `/sessions` body read.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// Connections open at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 1024;

/// The mutual-TLS listener's settings (`tessera serve` flags and configuration keys).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MtlsConfig {
    /// Serve certificate sessions (IAM Roles Anywhere's `POST /sessions`) over mutual TLS on this
    /// address; off when omitted. Needs --tls-cert-file, --tls-key-file and --client-ca-file.
    #[arg(long, env = "TESSERA_MTLS_ADDR")]
    pub mtls_addr: Option<SocketAddr>,
    /// The mutual-TLS listener's certificate chain (PEM, leaf first).
    #[arg(long, env = "TESSERA_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// The mutual-TLS listener's private key (PEM).
    #[arg(long, env = "TESSERA_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// The trust anchors: CA certificates (PEM) that client certificates must chain to.
    #[arg(long, env = "TESSERA_CLIENT_CA_FILE")]
    pub client_ca_file: Option<PathBuf>,
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read certificates from {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate file", path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no certificate", path.display());
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1); the error never shows the file's text.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|_| anyhow::anyhow!("{} holds no readable PEM private key", path.display()))
}

/// The TLS server configuration: our certificate, client certificates required and verified
/// against the trust anchors.
fn server_config(config: &MtlsConfig) -> Result<rustls::ServerConfig> {
    let (Some(cert), Some(key), Some(ca)) = (&config.tls_cert_file, &config.tls_key_file, &config.client_ca_file)
    else {
        bail!("--mtls-addr needs --tls-cert-file, --tls-key-file and --client-ca-file");
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for anchor in read_certs(ca)? {
        roots.add(anchor).with_context(|| format!("{}: not a usable CA certificate", ca.display()))?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
        .build()
        .context("cannot build the client certificate verifier")?;
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(read_certs(cert)?, read_key(key)?)
        .context("the TLS certificate and key do not match")?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(server)
}

/// What a verified leaf certificate says (subject, issuer, SANs, serial).
pub fn certificate_identity(der: &[u8]) -> Result<CertificateIdentity> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| anyhow::anyhow!("unparsable certificate"))?;
    let text = |attribute: Option<&x509_parser::x509::AttributeTypeAndValue<'_>>| {
        attribute.and_then(|a| a.as_str().ok()).map(str::to_owned)
    };
    let subject = cert.subject();
    let (mut san_dns, mut san_uri) = (None, None);
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(dns) if san_dns.is_none() => {
                    san_dns = Some((*dns).to_owned());
                }
                x509_parser::extensions::GeneralName::URI(uri) if san_uri.is_none() => {
                    san_uri = Some((*uri).to_owned());
                }
                _ => {}
            }
        }
    }
    let serial: String = cert.raw_serial().iter().map(|b| format!("{b:02x}")).collect();
    let serial = serial.trim_start_matches('0');
    Ok(CertificateIdentity {
        subject_cn: text(subject.iter_common_name().next()),
        subject_ou: text(subject.iter_organizational_unit().next()),
        subject_o: text(subject.iter_organization().next()),
        issuer_cn: text(cert.issuer().iter_common_name().next()),
        san_dns,
        san_uri,
        serial_hex: if serial.is_empty() { "0".to_owned() } else { serial.to_owned() },
    })
}

/// Binds the listener when `--mtls-addr` is given and serves it on `tasks` until `stop`; the
/// bound address, or `None` when off.
pub async fn start<S: tessera_store::Store>(
    config: &MtlsConfig,
    sts: Arc<Sts<S>>,
    mut stop: watch::Receiver<bool>,
    tasks: &mut JoinSet<Result<()>>,
) -> Result<Option<SocketAddr>> {
    let Some(addr) = config.mtls_addr else { return Ok(None) };
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config(config)?));
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot bind {addr}"))?;
    let addr = listener.local_addr()?;
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tasks.spawn(async move {
        loop {
            let permit = tokio::select! {
                permit = Arc::clone(&slots).acquire_owned() => permit?,
                _ = stop.wait_for(|stopped| *stopped) => return Ok(()),
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "mTLS accept failed");
                        continue;
                    }
                },
                _ = stop.wait_for(|stopped| *stopped) => return Ok(()),
            };
            let (acceptor, sts) = (acceptor.clone(), Arc::clone(&sts));
            tokio::spawn(async move {
                let _permit = permit;
                let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(error)) => {
                        tracing::info!(%peer, %error, "mTLS handshake refused");
                        return;
                    }
                    Err(_) => return,
                };
                let identity = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|leaf| certificate_identity(leaf));
                let Some(Ok(identity)) = identity else {
                    tracing::info!(%peer, "mTLS client certificate unreadable");
                    return;
                };
                let identity = Arc::new(identity);
                let service = hyper::service::service_fn(move |request| {
                    let (sts, identity) = (Arc::clone(&sts), Arc::clone(&identity));
                    async move { Ok::<_, std::convert::Infallible>(handle(&sts, &identity, request).await) }
                });
                let served = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HANDSHAKE_TIMEOUT)
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
                if let Err(error) = served {
                    tracing::debug!(%peer, %error, "mTLS connection ended");
                }
            });
        }
    });
    tracing::info!(%addr, "certificate sessions (mutual TLS) listening");
    Ok(Some(addr))
}

fn answer(status: StatusCode, body: &Value, error_type: Option<&str>) -> Response<Body> {
    let mut response = Response::builder().status(status).header("content-type", "application/json");
    if let Some(error_type) = error_type {
        response = response.header("x-amzn-errortype", error_type);
    }
    response.body(Body::from(body.to_string())).unwrap_or_default()
}

/// A restJson error as Roles Anywhere answers it.
fn refuse(status: StatusCode, error_type: &str, message: &str) -> Response<Body> {
    answer(status, &json!({"__type": error_type, "message": message}), Some(error_type))
}

async fn handle<S: tessera_store::Store, B>(
    sts: &Sts<S>,
    identity: &CertificateIdentity,
    request: Request<B>,
) -> Response<Body>
where
    B: hyper::body::Body<Data = hyper::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    if request.uri().path() != "/sessions" {
        return refuse(StatusCode::NOT_FOUND, "ResourceNotFoundException", "Only POST /sessions is served here.");
    }
    if request.method() != Method::POST {
        return refuse(StatusCode::METHOD_NOT_ALLOWED, "ValidationException", "Use POST /sessions.");
    }
    let Ok(bytes) = axum::body::to_bytes(Body::new(request.into_body()), MAX_BODY_BYTES).await else {
        return refuse(StatusCode::BAD_REQUEST, "ValidationException", "The request body is too large or unreadable.");
    };
    let Ok(Value::Object(input)) = serde_json::from_slice::<Value>(&bytes) else {
        return refuse(StatusCode::BAD_REQUEST, "ValidationException", "The request body must be a JSON object.");
    };
    let Some(role_arn) = input.get("roleArn").and_then(Value::as_str) else {
        return refuse(StatusCode::BAD_REQUEST, "ValidationException", "roleArn is required.");
    };
    let duration_seconds = match input.get("durationSeconds") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_i64().and_then(|d| i32::try_from(d).ok()) {
            Some(seconds) => Some(seconds),
            None => return refuse(StatusCode::BAD_REQUEST, "ValidationException", "durationSeconds must be a number."),
        },
    };
    // `sessionName` is the deprecated spelling of `roleSessionName`.
    let role_session_name = ["roleSessionName", "sessionName"]
        .iter()
        .find_map(|key| input.get(*key).and_then(Value::as_str))
        .map(str::to_owned);
    let session = CertificateSession {
        role_arn: role_arn.to_owned(),
        role_session_name,
        duration_seconds,
        certificate: identity.clone(),
    };
    match sts.assume_role_with_certificate(session).await {
        Ok(issued) => {
            let expiration = tessera_awsapi::iso8601(i64::try_from(issued.credentials.expiration).unwrap_or(i64::MAX));
            let body = json!({
                "credentialSet": [{
                    "assumedRoleUser": {"arn": issued.arn, "assumedRoleId": issued.assumed_role_id},
                    "credentials": {
                        "accessKeyId": issued.credentials.access_key_id,
                        "secretAccessKey": issued.credentials.secret_access_key.expose(),
                        "sessionToken": issued.credentials.session_token.expose(),
                        "expiration": expiration,
                    },
                    "packedPolicySize": 0,
                    "roleArn": issued.role_arn,
                    "sourceIdentity": issued.source_identity,
                }],
            });
            answer(StatusCode::CREATED, &body, None)
        }
        Err(error) => {
            let error = error.into_service_error();
            let (status, error_type) = match error.code {
                ErrorCode::AccessDenied => (StatusCode::FORBIDDEN, "AccessDeniedException"),
                code if code.sender_fault() => (StatusCode::BAD_REQUEST, "ValidationException"),
                code => (
                    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    code.as_str(),
                ),
            };
            refuse(status, error_type, &error.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_needs_its_certificate_key_and_trust_anchors() {
        let config = MtlsConfig { mtls_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))), ..MtlsConfig::default() };
        let error = server_config(&config).unwrap_err().to_string();
        assert!(error.contains("--client-ca-file"), "{error}");
    }
}
