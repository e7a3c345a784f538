//! The two services of the example, one per process:
//!
//! ```sh
//! # B, asking the authorizer of `tessera serve` (gRPC):
//! TESSERA_AUTHORIZER=http://127.0.0.1:50051 ACCOUNT=123456789012 LISTEN=127.0.0.1:3001 s2s orders
//! # A, with its agent's container endpoint (what `tessera agent` serves):
//! AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9911/v1/credentials \
//! AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/run/a/token ORDERS_URL=http://127.0.0.1:3001 \
//! LISTEN=127.0.0.1:3000 s2s frontend
//! ```

use tessera_authz_client::Remote;
use tessera_authz_client::workload::AgentCredentials;
use tessera_example_s2s::{OrdersClient, frontend, orders, serve};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let app = match std::env::args().nth(1).as_deref() {
        Some("orders") => {
            let authorizer = env("TESSERA_AUTHORIZER", "http://127.0.0.1:50051");
            let channel = tonic::transport::Channel::from_shared(authorizer)?.connect().await?;
            orders(Remote::new(channel), &std::env::var("ACCOUNT")?)
        }
        Some("frontend") => {
            frontend(OrdersClient::new(&env("ORDERS_URL", "http://127.0.0.1:3001"), AgentCredentials::from_env()?)?)
        }
        _ => return Err("usage: s2s orders|frontend".into()),
    };
    let listener = tokio::net::TcpListener::bind(env("LISTEN", "127.0.0.1:3000")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    serve(listener, app).await?;
    Ok(())
}
