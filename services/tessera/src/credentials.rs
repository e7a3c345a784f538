//! `tessera credentials`: the `credential_process` of an AWS config profile. It prints one role's
//! temporary credentials as the SDKs read them (`{"Version":1,"AccessKeyId",...,"Expiration"}`),
//! from a running `tessera agent` (`--agent-url`, its container endpoint; the agent keeps them
//! fresh) or, without one, straight from Tessera's STS with a bootstrap identity. Nothing is
//! written anywhere but stdout.
//!
//! ```ini
//! [profile app]
//! credential_process = tessera credentials --role-arn arn:aws:iam::123456789012:role/app --agent-url http://127.0.0.1:9911 --agent-token-file /run/tessera/token
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::body::Body;
use axum::http::{Request, Uri};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::agent_sts::{BootstrapArgs, RoleRequest, StsEndpoint};

/// `tessera credentials` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct CredentialsArgs {
    /// The role to print credentials for.
    #[arg(long, env = "TESSERA_ROLE_ARN")]
    pub role_arn: String,
    /// A running agent's address (`http://127.0.0.1:9911`): its credentials are printed (the
    /// agent must vend `--role-arn`).
    #[arg(long, env = "TESSERA_AGENT_URL")]
    pub agent_url: Option<String>,
    /// The agent's container-endpoint token file.
    #[arg(long, env = "TESSERA_AGENT_TOKEN_FILE")]
    pub agent_token_file: Option<PathBuf>,
    /// Without an agent: Tessera's AWS endpoint.
    #[arg(long, env = "AWS_ENDPOINT_URL_STS", default_value = "http://127.0.0.1:8080")]
    pub endpoint: String,
    /// Without an agent: the role session name.
    #[arg(long, default_value = "tessera-credentials")]
    pub role_session_name: String,
    /// Without an agent: the session lifetime asked for.
    #[arg(long, default_value_t = 3600)]
    pub duration_seconds: u32,
    /// The region signed for.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Without an agent: the bootstrap identity.
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
}

/// The `credential_process` JSON for `args`.
pub async fn fetch(args: &CredentialsArgs) -> anyhow::Result<Value> {
    if let Some(agent) = &args.agent_url {
        return from_agent(args, agent).await;
    }
    let bootstrap = args.bootstrap.resolve()?;
    let sts = StsEndpoint::new(&args.endpoint, &args.region)?;
    let request = RoleRequest {
        role_arn: args.role_arn.clone(),
        role_session_name: args.role_session_name.clone(),
        duration_seconds: args.duration_seconds,
    };
    let credentials = sts.assume(&bootstrap, &request).await?;
    Ok(json!({
        "Version": 1,
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key.expose(),
        "SessionToken": credentials.session_token.expose(),
        "Expiration": credentials.expiration_iso(),
    }))
}

async fn from_agent(args: &CredentialsArgs, agent: &str) -> anyhow::Result<Value> {
    let uri: Uri = agent.parse().with_context(|| format!("`{agent}` is not a URL"))?;
    let (Some("http"), Some(host)) = (uri.scheme_str(), uri.host()) else {
        bail!("`{agent}`: the agent URL must be http://host:port");
    };
    let token = match &args.agent_token_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the agent token file {}", path.display()))?
            .trim()
            .to_owned(),
        None => bail!("--agent-url needs --agent-token-file (or TESSERA_AGENT_TOKEN_FILE)"),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let authority = uri.authority().map(ToString::to_string).unwrap_or_default();
    let request =
        Request::get("/v1/credentials").header("host", authority).header("authorization", token).body(Body::empty())?;
    let call = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let response = sender.send_request(request).await?;
        let status = response.status();
        let bytes = axum::body::to_bytes(Body::new(response.into_body()), 64 * 1024).await?;
        anyhow::Ok((status, bytes))
    };
    let (status, bytes) = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .map_err(|_| anyhow::anyhow!("the agent at {agent} did not answer"))?
        .with_context(|| format!("cannot reach the agent at {agent}"))?;
    let answer: Value = serde_json::from_slice(&bytes).map_err(|_| anyhow::anyhow!("the agent answered {status}"))?;
    if !status.is_success() {
        let message = answer.get("message").and_then(Value::as_str).unwrap_or_default();
        bail!("the agent answered {status}: {message}");
    }
    let role = answer.get("RoleArn").and_then(Value::as_str).unwrap_or_default();
    if role != args.role_arn {
        bail!("the agent at {agent} vends {role}, not {}", args.role_arn);
    }
    let field = |name: &str| answer.get(name).cloned().unwrap_or(Value::Null);
    Ok(json!({
        "Version": 1,
        "AccessKeyId": field("AccessKeyId"),
        "SecretAccessKey": field("SecretAccessKey"),
        "SessionToken": field("Token"),
        "Expiration": field("Expiration"),
    }))
}

/// `tessera credentials`: prints the JSON, or an error on stderr (status 1).
pub fn run(args: &CredentialsArgs) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(fetch(args)));
    match result {
        Ok(value) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("tessera: {error:#}");
            ExitCode::FAILURE
        }
    }
}
