//! How `tessera agent` and `tessera credentials` get role credentials: the bootstrap identity
//! (a long-term key from a key file or a shared-credentials profile, or a web identity token file
//! such as a Kubernetes projected service-account token, or a client certificate: `agent_cert.rs`)
//! and one call to Tessera's STS endpoint
//! (`AssumeRole` signed with SigV4, or the unsigned `AssumeRoleWithWebIdentity`), over HTTP as any
//! AWS SDK would make it. Secrets stay in [`Secret`]s: nothing here logs or writes them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use axum::body::Body;
use axum::http::{Request, Uri};
use hyper_util::rt::TokioIo;
use tessera_credentials::Secret;

/// The most an STS answer may take before the attempt counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest STS answer read.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Where the bootstrap identity comes from (exactly one).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BootstrapArgs {
    /// A long-term access key: a JSON file with `AccessKeyId` and `SecretAccessKey` (the form of
    /// `root-credentials.json`, or of `aws iam create-access-key`'s `AccessKey`).
    #[arg(long, env = "TESSERA_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// A web identity token (JWT) file, read again for every refresh (a Kubernetes projected
    /// service-account token, or a token Tessera minted with `GetWebIdentityToken`); exchanged
    /// with `AssumeRoleWithWebIdentity`.
    #[arg(long, env = "AWS_WEB_IDENTITY_TOKEN_FILE")]
    pub web_identity_token_file: Option<PathBuf>,
    /// A profile of the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
    /// `~/.aws/credentials`) holding `aws_access_key_id` and `aws_secret_access_key`.
    #[arg(long)]
    pub profile_source: Option<String>,
    /// A client certificate (PEM) whose trust anchor Tessera's mutual-TLS listener trusts;
    /// exchanged at `--mtls-endpoint` for role credentials (`agent_cert.rs`), read again for
    /// every refresh.
    #[arg(long, env = "TESSERA_BOOTSTRAP_CERT_FILE")]
    pub bootstrap_cert_file: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "TESSERA_BOOTSTRAP_KEY_FILE")]
    pub bootstrap_key_file: Option<PathBuf>,
    /// Tessera's mutual-TLS listener (`tessera serve --mtls-addr`), `https://host:port`.
    #[arg(long, env = "TESSERA_MTLS_ENDPOINT")]
    pub mtls_endpoint: Option<String>,
    /// The CA certificate (PEM) that signed the mutual-TLS listener's certificate; the system
    /// roots when omitted.
    #[arg(long, env = "TESSERA_CA_FILE")]
    pub ca_file: Option<PathBuf>,
}

/// The identity credentials are requested with.
pub enum Bootstrap {
    /// A long-term key: `AssumeRole` signed with it.
    Key { access_key_id: String, secret: Secret },
    /// A token file: `AssumeRoleWithWebIdentity` with its current content.
    WebIdentityTokenFile(PathBuf),
    /// A client certificate: `POST /sessions` on the mutual-TLS listener.
    Certificate(crate::agent_cert::CertBootstrap),
}

impl fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key { access_key_id, .. } => f.debug_struct("Key").field("access_key_id", access_key_id).finish(),
            Self::WebIdentityTokenFile(path) => f.debug_tuple("WebIdentityTokenFile").field(path).finish(),
            Self::Certificate(cert) => f.debug_tuple("Certificate").field(cert).finish(),
        }
    }
}

impl BootstrapArgs {
    /// The bootstrap identity the arguments name; a key is read now, a token file at each use.
    pub fn resolve(&self) -> anyhow::Result<Bootstrap> {
        if let Some(cert) = crate::agent_cert::resolve(self)? {
            return Ok(Bootstrap::Certificate(cert));
        }
        match (&self.key_file, &self.web_identity_token_file, &self.profile_source) {
            (Some(path), None, None) => read_key_file(path),
            (None, Some(path), None) => Ok(Bootstrap::WebIdentityTokenFile(path.clone())),
            (None, None, Some(profile)) => read_profile(profile),
            (None, None, None) => {
                bail!(
                    "no bootstrap identity: pass --key-file, --web-identity-token-file, --profile-source or \
                     --bootstrap-cert-file"
                )
            }
            _ => bail!("pass only one of --key-file, --web-identity-token-file and --profile-source"),
        }
    }
}

fn read_key_file(path: &Path) -> anyhow::Result<Bootstrap> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the key file {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| anyhow::anyhow!("the key file {} is not JSON", path.display()))?;
    let key = value.get("AccessKey").unwrap_or(&value);
    let field = |name: &str| key.get(name).and_then(serde_json::Value::as_str).map(str::to_owned);
    match (field("AccessKeyId"), field("SecretAccessKey")) {
        (Some(access_key_id), Some(secret)) => Ok(Bootstrap::Key { access_key_id, secret: Secret::new(secret) }),
        _ => bail!("the key file {} has no AccessKeyId and SecretAccessKey", path.display()),
    }
}

fn read_profile(profile: &str) -> anyhow::Result<Bootstrap> {
    let path = match std::env::var_os("AWS_SHARED_CREDENTIALS_FILE") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(".aws/credentials"),
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let (mut in_profile, mut key, mut secret) = (false, None, None);
    for line in text.lines().map(str::trim) {
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = section.trim() == profile;
        } else if in_profile && let Some((name, value)) = line.split_once('=') {
            match name.trim() {
                "aws_access_key_id" => key = Some(value.trim().to_owned()),
                "aws_secret_access_key" => secret = Some(Secret::new(value.trim())),
                _ => {}
            }
        }
    }
    match (key, secret) {
        (Some(access_key_id), Some(secret)) => Ok(Bootstrap::Key { access_key_id, secret }),
        _ => bail!("profile `{profile}` of {} has no aws_access_key_id and aws_secret_access_key", path.display()),
    }
}

/// Temporary credentials of a role session.
#[derive(Clone)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    /// Unix seconds.
    pub expiration: u64,
    /// When they were received (unix seconds).
    pub received_at: u64,
    /// The `AssumedRoleUser` ARN.
    pub assumed_role_arn: String,
}

impl fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .field("assumed_role_arn", &self.assumed_role_arn)
            .finish_non_exhaustive()
    }
}

impl RoleCredentials {
    /// `Expiration` as the SDKs read it (`2026-11-23T10:00:00Z`).
    pub fn expiration_iso(&self) -> String {
        tessera_awsapi::iso8601(i64::try_from(self.expiration).unwrap_or(i64::MAX))
    }
}

/// What the credentials are for.
#[derive(Debug, Clone)]
pub struct RoleRequest {
    pub role_arn: String,
    pub role_session_name: String,
    pub duration_seconds: u32,
}

/// Tessera's STS endpoint (`http://host:port`).
#[derive(Debug, Clone)]
pub struct StsEndpoint {
    uri: Uri,
    region: String,
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl StsEndpoint {
    pub fn new(endpoint: &str, region: &str) -> anyhow::Result<Self> {
        let uri: Uri = endpoint.parse().with_context(|| format!("`{endpoint}` is not a URL"))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            bail!("`{endpoint}`: the endpoint must be an http://host:port URL (Tessera's AWS endpoint)");
        }
        Ok(Self { uri, region: region.to_owned() })
    }

    /// Role credentials for `request`, with `bootstrap`'s identity.
    pub async fn assume(&self, bootstrap: &Bootstrap, request: &RoleRequest) -> anyhow::Result<RoleCredentials> {
        let mut form = vec![
            ("Version", "2011-06-15".to_owned()),
            ("RoleArn", request.role_arn.clone()),
            ("RoleSessionName", request.role_session_name.clone()),
            ("DurationSeconds", request.duration_seconds.to_string()),
        ];
        let signer = match bootstrap {
            Bootstrap::Key { access_key_id, secret } => {
                form.insert(0, ("Action", "AssumeRole".to_owned()));
                Some((access_key_id.as_str(), secret))
            }
            Bootstrap::Certificate(cert) => return cert.create_session(request).await,
            Bootstrap::WebIdentityTokenFile(path) => {
                let token = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the web identity token file {}", path.display()))?;
                form.insert(0, ("Action", "AssumeRoleWithWebIdentity".to_owned()));
                form.push(("WebIdentityToken", token.trim().to_owned()));
                None
            }
        };
        let body = form
            .iter()
            .map(|(name, value)| format!("{name}={}", tessera_sigv4::uri_encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        let text = self.post(&body, signer).await?;
        parse_credentials(&text)
    }

    /// POSTs the form `body` to the endpoint, signed for `sts` when `signer` is given; the answer
    /// body of a 200, else an error naming AWS's code and message.
    async fn post(&self, body: &str, signer: Option<(&str, &Secret)>) -> anyhow::Result<String> {
        let host = self.uri.authority().map(ToString::to_string).unwrap_or_default();
        let port = self.uri.port_u16().unwrap_or(80);
        let hostname = self.uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
        let path = self.uri.path().to_owned();
        let mut builder = Request::post(if path.is_empty() { "/" } else { path.as_str() })
            .header("host", &host)
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8");
        if let Some((access_key_id, secret)) = signer {
            let date = tessera_sigv4::format_amz_date(unix_now());
            let content_type = "application/x-www-form-urlencoded; charset=utf-8";
            let headers = [("content-type", content_type), ("host", host.as_str()), ("x-amz-date", date.as_str())];
            let signed = tessera_sigv4::Request {
                method: "POST",
                path: if path.is_empty() { "/" } else { path.as_str() },
                query: "",
                headers: &headers,
                body_sha256: tessera_sigv4::PayloadHash::of(body.as_bytes()),
            };
            let params = tessera_sigv4::SigningParams {
                access_key_id,
                secret: secret.expose().as_bytes(),
                region: &self.region,
                service: "sts",
                amz_date: &date,
            };
            builder =
                builder.header("x-amz-date", &date).header("authorization", tessera_sigv4::sign(&signed, &params));
        }
        let request = builder.body(Body::from(body.to_owned()))?;
        let call = async {
            let stream = tokio::net::TcpStream::connect((hostname.as_str(), port)).await?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let response = sender.send_request(request).await?;
            let status = response.status();
            let bytes = axum::body::to_bytes(Body::new(response.into_body()), MAX_ANSWER_BYTES).await?;
            anyhow::Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
        };
        let (status, text) = tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| anyhow::anyhow!("{} did not answer within {CALL_TIMEOUT:?}", self.uri))?
            .with_context(|| format!("cannot reach {}", self.uri))?;
        if !status.is_success() {
            let code = tag(&text, "Code").unwrap_or_else(|| status.to_string());
            let message = tag(&text, "Message").unwrap_or_default();
            bail!("STS answered {code}: {message}");
        }
        Ok(text)
    }
}

/// The text of the first `<name>` element of `xml`, unescaped.
fn tag(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// `2026-11-23T10:00:00Z` (fractions allowed) in unix seconds.
pub fn parse_iso8601(text: &str) -> Option<u64> {
    let compact: String = text.chars().filter(|c| *c != '-' && *c != ':').collect();
    let compact = match compact.find('.') {
        Some(dot) => format!("{}Z", &compact[..dot]),
        None => compact,
    };
    tessera_sigv4::parse_amz_date(&compact)
}

fn parse_credentials(xml: &str) -> anyhow::Result<RoleCredentials> {
    let field = |name: &str| tag(xml, name).with_context(|| format!("the STS answer has no {name}"));
    let expiration = field("Expiration")?;
    Ok(RoleCredentials {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: Secret::new(field("SecretAccessKey")?),
        session_token: Secret::new(field("SessionToken")?),
        expiration: parse_iso8601(&expiration).with_context(|| format!("unreadable Expiration `{expiration}`"))?,
        received_at: unix_now(),
        assumed_role_arn: tag(xml, "Arn").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_and_times_parsed() {
        let xml = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAX</AccessKeyId>\
            <SecretAccessKey>s&amp;1</SecretAccessKey><SessionToken>t</SessionToken>\
            <Expiration>2026-11-23T10:00:00Z</Expiration></Credentials><AssumedRoleUser>\
            <Arn>arn:aws:sts::1:assumed-role/r/s</Arn></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>";
        let credentials = parse_credentials(xml).unwrap();
        assert_eq!(credentials.secret_access_key.expose(), "s&1");
        assert_eq!(credentials.expiration_iso(), "2026-11-23T10:00:00Z");
        assert_eq!(parse_iso8601("2026-11-23T10:00:00.123Z"), Some(credentials.expiration));
        assert!(!format!("{credentials:?}").contains("s&1"));
        assert!(parse_credentials("<x/>").is_err());
    }
}
