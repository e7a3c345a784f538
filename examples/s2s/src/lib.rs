//! Service-to-service authentication with Tessera, as two small services:
//!
//! - **orders** (service B) trusts Tessera: every request passes `AuthorizeLayer`, which asks
//!   Tessera's authorizer whether the caller may do what the request asks (`GET /orders/<id>` is
//!   `orders:Read`, `POST /orders/<id>` is `orders:Write`, on `arn:aws:orders:<region>:<account>:order/<id>`);
//! - **frontend** (service A) calls orders with its role's current credentials, which its own
//!   `tessera agent` keeps fresh, signing each request with SigV4 for the service `orders`.
//!
//! Each service runs with its own role through its own agent; what A may do on B is what A's
//! role's policies say (here only `orders:Read`), and revoking A's session stops A at its next call.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{Method, Request, StatusCode, Uri};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tessera_authz_client::workload::{AgentCredentials, sign_http};
use tessera_authz_client::{AuthorizeLayer, Authorizer, Caller, Question};

/// The SigV4 service name and region of the orders service.
pub const SERVICE: &str = "orders";
pub const REGION: &str = "us-east-1";

/// The ARN of order `id` of `account`.
pub fn order_arn(account: &str, id: &str) -> String {
    format!("arn:aws:orders:{REGION}:{account}:order/{id}")
}

/// Service B: orders of `account`, each request authorized by `authorizer`.
pub fn orders<A: Authorizer>(authorizer: A, account: &str) -> Router {
    let account = account.to_owned();
    let layer = AuthorizeLayer::new(authorizer, &[SERVICE], move |parts| {
        let id = parts.uri.path().strip_prefix("/orders/")?;
        let action = match parts.method {
            Method::GET => "orders:Read",
            Method::POST | Method::DELETE => "orders:Write",
            _ => return None,
        };
        Some(Question { action: action.into(), resources: vec![order_arn(&account, id)], context: Vec::new() })
    });
    let answer = |Path(id): Path<String>, Extension(caller): Extension<Caller>| async move {
        axum::Json(json!({ "order": id, "caller": caller.arn, "session": caller.session_id }))
    };
    Router::new().route("/orders/{id}", get(answer).post(answer).delete(answer)).layer(layer)
}

/// Service B's gRPC side, behind the same authorizer layer: the standard `grpc.health.v1.Health`
/// service stands in for an orders API (`Check` is `orders:Read` on `order/status`, `Watch`
/// `orders:Write`). Callers sign their calls with SigV4 (`SigV4GrpcLayer`) or send a bearer
/// session; refusals are gRPC statuses.
pub async fn serve_orders_grpc<A: Authorizer>(
    authorizer: A,
    account: &str,
    listener: tokio::net::TcpListener,
) -> Result<(), tonic::transport::Error> {
    let account = account.to_owned();
    let layer = AuthorizeLayer::new(authorizer, &[SERVICE], move |parts| {
        let action = match parts.uri.path() {
            "/grpc.health.v1.Health/Check" => "orders:Read",
            "/grpc.health.v1.Health/Watch" => "orders:Write",
            _ => return None,
        };
        Some(Question { action: action.into(), resources: vec![order_arn(&account, "status")], context: Vec::new() })
    });
    let stack = tower::ServiceBuilder::new()
        .map_request(|request: Request<tonic::body::Body>| request.map(Body::new))
        .layer(layer)
        .map_response(|response: axum::http::Response<tonic::body::Body>| response.map(Body::new));
    let (_reporter, health) = tonic_health::server::health_reporter();
    tonic::transport::Server::builder()
        .layer(stack)
        .add_service(health)
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
        .await
}

/// Service A's client of service B.
#[derive(Debug, Clone)]
pub struct OrdersClient {
    base: Uri,
    credentials: AgentCredentials,
}

impl OrdersClient {
    /// Orders at `base` (`http://127.0.0.1:3001`), called with the credentials of `credentials`.
    pub fn new(base: &str, credentials: AgentCredentials) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self { base: base.parse()?, credentials })
    }

    /// The credentials this client signs with.
    pub fn credentials(&self) -> &AgentCredentials {
        &self.credentials
    }

    /// `method /orders/<id>`, signed with the workload's current credentials: the status and body.
    pub async fn call(
        &self,
        method: Method,
        id: &str,
    ) -> Result<(StatusCode, serde_json::Value), Box<dyn std::error::Error + Send + Sync>> {
        let credentials = self.credentials.current().await?;
        let authority = self.base.authority().ok_or("no host")?.clone();
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{authority}/orders/{id}"))
            .header("host", authority.as_str())
            .body(())?;
        sign_http(&mut request, b"", &credentials, SERVICE, REGION);
        let (parts, ()) = request.into_parts();
        let mut path_only = Request::from_parts(parts, Body::empty());
        *path_only.uri_mut() = format!("/orders/{id}").parse()?;
        let stream = tokio::net::TcpStream::connect((authority.host(), authority.port_u16().unwrap_or(80))).await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let response = sender.send_request(path_only).await?;
        let status = response.status();
        let bytes = axum::body::to_bytes(Body::new(response.into_body()), 1 << 20).await?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)))
    }
}

/// Service A: `GET /checkout/<id>` reads order `<id>` from service B and relays the answer.
pub fn frontend(client: OrdersClient) -> Router {
    Router::new()
        .route(
            "/checkout/{id}",
            get(|State(client): State<OrdersClient>, Path(id): Path<String>| async move {
                match client.call(Method::GET, &id).await {
                    Ok((status, body)) => (status, axum::Json(body)),
                    Err(error) => (StatusCode::BAD_GATEWAY, axum::Json(json!({ "error": error.to_string() }))),
                }
            }),
        )
        .with_state(client)
}

/// Serves `app` on `listener` (with the peer address, which `AuthorizeLayer` passes on as
/// `aws:SourceIp`).
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
}
