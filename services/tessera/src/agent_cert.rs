//! The certificate bootstrap of `tessera agent` and `tessera credentials`: a client certificate
//! and its key (files read again at every refresh, so a rotated certificate is picked up) and
//! Tessera's mutual-TLS listener (`tessera serve --mtls-addr`, `mtls.rs`), which turns the
//! certificate into role credentials with `POST /sessions` (IAM Roles Anywhere's `CreateSession`
//! shape). The key stays in memory inside rustls; nothing here logs it or the credentials.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::body::Body;
use axum::http::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tessera_credentials::Secret;

use crate::agent_sts::{BootstrapArgs, RoleCredentials, RoleRequest, parse_iso8601, unix_now};

/// The most a `/sessions` answer may take before the attempt counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The session names `tessera agent` and `tessera credentials` default to: with a certificate,
/// the session is named after its serial number instead, as Roles Anywhere names it.
const DEFAULT_SESSION_NAMES: [&str; 2] = ["tessera-agent", "tessera-credentials"];
/// The largest answer read.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// A client certificate, its key and where to present them.
#[derive(Debug, Clone)]
pub struct CertBootstrap {
    cert_file: PathBuf,
    key_file: PathBuf,
    ca_file: Option<PathBuf>,
    endpoint: Uri,
}

/// The certificate bootstrap the arguments name, if any (`--bootstrap-cert-file`,
/// `--bootstrap-key-file` and `--mtls-endpoint` together).
pub fn resolve(args: &BootstrapArgs) -> anyhow::Result<Option<CertBootstrap>> {
    let (cert_file, key_file, endpoint) =
        match (&args.bootstrap_cert_file, &args.bootstrap_key_file, &args.mtls_endpoint) {
            (None, None, None) => return Ok(None),
            (Some(cert), Some(key), Some(endpoint)) => (cert, key, endpoint),
            _ => bail!("a certificate bootstrap needs --bootstrap-cert-file, --bootstrap-key-file and --mtls-endpoint"),
        };
    if args.key_file.is_some() || args.web_identity_token_file.is_some() || args.profile_source.is_some() {
        bail!(
            "pass only one bootstrap identity: a certificate, --key-file, --web-identity-token-file or --profile-source"
        );
    }
    let uri: Uri = endpoint.parse().with_context(|| format!("`{endpoint}` is not a URL"))?;
    if uri.scheme_str() != Some("https") || uri.host().is_none() {
        bail!("`{endpoint}`: --mtls-endpoint must be an https://host:port URL (Tessera's --mtls-addr)");
    }
    Ok(Some(CertBootstrap {
        cert_file: cert_file.clone(),
        key_file: key_file.clone(),
        ca_file: args.ca_file.clone(),
        endpoint: uri,
    }))
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read certificates from {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate file", path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no certificate", path.display());
    }
    Ok(certs)
}

impl CertBootstrap {
    /// The TLS client: the server verified against `--ca-file` (else the system roots), our
    /// certificate and key presented.
    fn client_config(&self) -> anyhow::Result<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                for cert in read_certs(path)? {
                    roots.add(cert).with_context(|| format!("{}: not a usable CA certificate", path.display()))?;
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
        }
        let chain = read_certs(&self.cert_file)?;
        let key = crate::mtls::read_key(&self.key_file)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .with_context(|| format!("the certificate {} and its key do not match", self.cert_file.display()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// Role credentials for `request`, from `POST /sessions` with the certificate.
    pub async fn create_session(&self, request: &RoleRequest) -> anyhow::Result<RoleCredentials> {
        let connector = tokio_rustls::TlsConnector::from(Arc::new(self.client_config()?));
        let host = self.endpoint.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = self.endpoint.port_u16().unwrap_or(443);
        let server_name = ServerName::try_from(host.clone()).with_context(|| format!("`{host}` is not a host name"))?;
        let mut body = json!({"roleArn": request.role_arn, "durationSeconds": request.duration_seconds});
        if !DEFAULT_SESSION_NAMES.contains(&request.role_session_name.as_str()) {
            body["roleSessionName"] = Value::from(request.role_session_name.clone());
        }
        let http = Request::post("/sessions")
            .header("host", self.endpoint.authority().map(ToString::to_string).unwrap_or_default())
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))?;
        let call = async {
            let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            let tls = connector.connect(server_name, stream).await?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
            tokio::spawn(connection);
            let response = sender.send_request(http).await?;
            let status = response.status();
            let bytes = axum::body::to_bytes(Body::new(response.into_body()), MAX_ANSWER_BYTES).await?;
            anyhow::Ok((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| anyhow::anyhow!("{} did not answer within {CALL_TIMEOUT:?}", self.endpoint))?
            .with_context(|| format!("cannot reach {} with the certificate", self.endpoint))?;
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            let code = answer["__type"].as_str().map_or_else(|| status.to_string(), str::to_owned);
            let message = answer["message"].as_str().unwrap_or_default();
            bail!("{} answered {code}: {message}", self.endpoint);
        }
        parse_session(&answer)
    }
}

/// The first entry of a `credentialSet`.
fn parse_session(answer: &Value) -> anyhow::Result<RoleCredentials> {
    let set = &answer["credentialSet"][0];
    let field = |name: &str| {
        set["credentials"][name].as_str().map(str::to_owned).with_context(|| format!("the answer has no {name}"))
    };
    let expiration = field("expiration")?;
    Ok(RoleCredentials {
        access_key_id: field("accessKeyId")?,
        secret_access_key: Secret::new(field("secretAccessKey")?),
        session_token: Secret::new(field("sessionToken")?),
        expiration: parse_iso8601(&expiration).with_context(|| format!("unreadable expiration `{expiration}`"))?,
        received_at: unix_now(),
        assumed_role_arn: set["assumedRoleUser"]["arn"].as_str().unwrap_or_default().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_set_is_read() {
        let answer = json!({"credentialSet": [{
            "assumedRoleUser": {"arn": "arn:aws:sts::1:assumed-role/r/1f", "assumedRoleId": "AROA:1f"},
            "credentials": {"accessKeyId": "ASIAX", "secretAccessKey": "s", "sessionToken": "t",
                            "expiration": "2026-11-23T10:00:00Z"},
        }]});
        let credentials = parse_session(&answer).unwrap();
        assert_eq!(credentials.assumed_role_arn, "arn:aws:sts::1:assumed-role/r/1f");
        assert_eq!(credentials.expiration_iso(), "2026-11-23T10:00:00Z");
        assert!(parse_session(&json!({"credentialSet": []})).is_err());
    }

    #[test]
    fn a_certificate_bootstrap_is_all_or_nothing() {
        let mut args = BootstrapArgs::default();
        assert!(resolve(&args).unwrap().is_none());
        args.bootstrap_cert_file = Some("c.pem".into());
        assert!(resolve(&args).is_err());
        args.bootstrap_key_file = Some("k.pem".into());
        args.mtls_endpoint = Some("http://127.0.0.1:1".into());
        assert!(resolve(&args).is_err(), "plain http is refused");
        args.mtls_endpoint = Some("https://127.0.0.1:1".into());
        assert!(resolve(&args).unwrap().is_some());
        args.key_file = Some("key.json".into());
        assert!(resolve(&args).is_err());
    }
}
