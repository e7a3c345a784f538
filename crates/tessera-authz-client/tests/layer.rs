//! The layer in front of a small axum service, asking the real `tessera serve` on loopback over
//! gRPC or in the same process: SigV4-signed and bearer callers (keys and identity tokens) are let
//! through or refused as their policies say, the same either way, and the handler sees who called.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Extension;
use axum::routing::get;
use tessera::serve::{ServeConfig, Server};
use tessera_authz_client::{AuthorizeLayer, Authorizer, Caller, Local, Question, Remote};
use tessera_proto::common::v1 as c;
use tessera_proto::identity::v1 as ipb;
use tessera_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tessera_proto::policy::v1 as ppb;
use tessera_proto::policy::v1::policy_service_client::PolicyServiceClient;
use tessera_proto::sts::v1 as spb;
use tessera_proto::sts::v1::sts_service_client::StsServiceClient;
use tessera_sigv4::{PayloadHash, Request, SigningParams, format_amz_date, sign};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::transport::Channel;

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"widgets:GetWidget","Resource":"arn:aws:widgets:::widget/public/*"}]}"#;

/// `GET <path>` to `addr` with `headers`; the status code and body.
async fn fetch(addr: SocketAddr, path: &str, headers: &[(&str, String)]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut raw = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).unwrap_or_default().parse().unwrap_or(0);
    (status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

/// The SigV4 headers of `GET <path>` to `addr` for the `widgets` service.
fn signed(addr: SocketAddr, path: &str, key: &str, secret: &str) -> Vec<(&'static str, String)> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let date = format_amz_date(now);
    let host = addr.to_string();
    let headers = [("host", host.as_str()), ("x-amz-date", date.as_str())];
    let request = Request { method: "GET", path, query: "", headers: &headers, body_sha256: PayloadHash::EMPTY };
    let params = SigningParams {
        access_key_id: key,
        secret: secret.as_bytes(),
        region: "us-east-1",
        service: "widgets",
        amz_date: &date,
    };
    vec![("x-amz-date", date.clone()), ("authorization", sign(&request, &params))]
}

/// The widgets service behind the layer: `GET /widgets/<path>` is `widgets:GetWidget` on
/// `widget/<path>`; the handler answers the caller's ARN.
async fn widgets<A: Authorizer>(authorizer: A) -> SocketAddr {
    let layer = AuthorizeLayer::new(authorizer, &["widgets"], |parts| {
        let name = parts.uri.path().strip_prefix("/widgets/")?;
        Some(Question {
            action: "widgets:GetWidget".into(),
            resources: vec![format!("arn:aws:widgets:::widget/{name}")],
            context: Vec::new(),
        })
    })
    .with_audience("widgets");
    let app = Router::new()
        .route("/widgets/{*name}", get(|Extension(caller): Extension<Caller>| async move { caller.arn }))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    addr
}

/// Alice's answers from the service at `addr`: the same whichever way it asks Tessera.
async fn check(addr: SocketAddr, key: &ipb::AccessKey, identity_token: &str, alice: &str) {
    let path = "/widgets/public/a";
    let (key_id, secret) = (key.access_key_id.as_str(), key.secret_access_key.as_str());
    assert_eq!(fetch(addr, path, &signed(addr, path, key_id, secret)).await, (200, alice.to_owned()));
    let private = "/widgets/private/b";
    let (status, body) = fetch(addr, private, &signed(addr, private, key_id, secret)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("AccessDenied"), "{body}");
    // A signature made for another path, none at all, or the wrong secret: not authenticated.
    let (status, body) = fetch(addr, private, &signed(addr, path, key_id, secret)).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    assert_eq!(fetch(addr, path, &[]).await.0, 401);
    // A bearer key works the same, and so does an identity token minted for this service.
    let bearer = vec![("authorization", format!("Bearer {key_id}:{secret}"))];
    assert_eq!(fetch(addr, path, &bearer).await, (200, alice.to_owned()));
    assert_eq!(fetch(addr, private, &bearer).await.0, 403);
    let wrong = vec![("authorization", format!("Bearer {key_id}:{}", "x".repeat(40)))];
    assert_eq!(fetch(addr, path, &wrong).await.0, 401);
    let token = vec![("authorization", format!("Bearer {identity_token}"))];
    assert_eq!(fetch(addr, path, &token).await, (200, alice.to_owned()));
    assert_eq!(fetch(addr, private, &token).await.0, 403);
}

#[tokio::test]
async fn callers_are_authorized_by_tessera_before_the_handler_runs_remotely_or_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(ServeConfig::for_tests(dir.path())).await.unwrap();
    let account = server.account.as_ref().unwrap().account_id.clone();
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr)).unwrap().connect().await.unwrap();
    let mut identity = IdentityServiceClient::new(channel.clone());
    let mut policy = PolicyServiceClient::new(channel.clone());
    identity
        .create_user(ipb::CreateUserRequest {
            account_id: account.clone(),
            user_name: "alice".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let key = identity
        .create_access_key(ipb::CreateAccessKeyRequest { account_id: account.clone(), user_name: Some("alice".into()) })
        .await
        .unwrap()
        .into_inner()
        .access_key
        .unwrap();
    policy
        .put_inline_policy(ppb::PutInlinePolicyRequest {
            account_id: account.clone(),
            entity: Some(c::EntityRef { kind: c::EntityKind::User.into(), name: "alice".into() }),
            policy_name: "widgets".into(),
            policy_document: POLICY.into(),
        })
        .await
        .unwrap();
    let identity_token = StsServiceClient::new(channel.clone())
        .get_web_identity_token(spb::GetWebIdentityTokenRequest {
            caller: Some(spb::Caller { access_key_id: key.access_key_id.clone(), ..Default::default() }),
            audience: vec!["widgets".into()],
            duration_seconds: None,
        })
        .await
        .unwrap()
        .into_inner()
        .web_identity_token;

    let alice = format!("arn:aws:iam::{account}:user/alice");
    check(widgets(Remote::new(channel)).await, &key, &identity_token, &alice).await;
    let in_process = server.authorizer.clone().expect("the all-in-one server runs the authorizer");
    check(widgets(Local::new(in_process)).await, &key, &identity_token, &alice).await;
}
