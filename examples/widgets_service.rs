//! A service that trusts Tessera: every request is authenticated and authorized by Tessera's
//! authorizer before its handler runs, and the handler knows who called.
//!
//! ```sh
//! cargo run --release -p tessera -- serve                 # in one shell
//! cargo run -p tessera-authz-client --example widgets_service   # in another
//! # Sign GET http://127.0.0.1:3000/widgets/<name> with SigV4 for the service `widgets`, or send
//! # `authorization: Bearer <access key id>:<secret>`; a policy grants `widgets:GetWidget` on
//! # `arn:aws:widgets:::widget/<name>`.
//! ```

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Extension, Path};
use axum::routing::get;
use tessera_authz_client::{AuthorizeLayer, Caller, Question, Remote};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let authorizer = std::env::var("TESSERA_AUTHORIZER").unwrap_or_else(|_| "http://127.0.0.1:50051".to_owned());
    let channel = tonic::transport::Channel::from_shared(authorizer)?.connect().await?;
    // What each request asks: GET /widgets/<name> is `widgets:GetWidget` on that widget.
    let layer = AuthorizeLayer::new(Remote::new(channel), &["widgets"], |parts| {
        let name = parts.uri.path().strip_prefix("/widgets/")?;
        Some(Question {
            action: "widgets:GetWidget".into(),
            resources: vec![format!("arn:aws:widgets:::widget/{name}")],
            context: Vec::new(),
        })
    });
    let app = Router::new()
        .route(
            "/widgets/{*name}",
            get(|Path(name): Path<String>, Extension(caller): Extension<Caller>| async move {
                format!("widget {name}, for {}\n", caller.arn)
            }),
        )
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("widgets on http://{}", listener.local_addr()?);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}
