//! Health: `/healthz` (alive), `/readyz` and `grpc.health.v1` (ready: the store answers) report
//! every served service, need no credentials even under `--grpc-auth`, and turn not ready when
//! the store goes away (a private redis-server, stopped) and ready again when it is back; on stop,
//! `Watch` streams see `NOT_SERVING` and end, so they do not hold the drain.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

const SERVICES: [&str; 5] = [
    "",
    "tessera.identity.v1.IdentityService",
    "tessera.policy.v1.PolicyService",
    "tessera.sts.v1.StsService",
    "tessera.authorizer.v1.AuthorizerService",
];

async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: tessera\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

async fn health(addr: SocketAddr) -> HealthClient<tonic::transport::Channel> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    HealthClient::new(channel)
}

async fn check(
    client: &mut HealthClient<tonic::transport::Channel>,
    service: &str,
) -> Result<HealthCheckResponse, tonic::Status> {
    client.check(HealthCheckRequest { service: service.to_owned() }).await.map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_served_service_is_serving_and_health_needs_no_credentials_under_grpc_auth() {
    let h = common::start_with(tempfile::tempdir().unwrap(), |config| config.grpc_auth = true).await;
    assert_eq!(get(h.server.http_addr, "/healthz").await.0, "HTTP/1.1 200 OK");
    assert_eq!(get(h.server.http_addr, "/readyz").await, ("HTTP/1.1 200 OK".to_owned(), "ready\n".to_owned()));
    let mut client = health(h.server.grpc_addr).await;
    for service in SERVICES {
        assert_eq!(check(&mut client, service).await.unwrap().status(), ServingStatus::Serving, "`{service}`");
    }
    let unknown = check(&mut client, "nope.v1.Nope").await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    // Every other method still needs credentials.
    let mut identity = h.identity.clone();
    let call = identity
        .get_user(tessera_proto::identity::v1::GetUserRequest { account_id: h.account.clone(), user_name: None })
        .await;
    assert_eq!(call.unwrap_err().code(), tonic::Code::Unauthenticated);
    h.server.stop().await.unwrap();
}

/// Polls `/readyz` until its status line starts with `want`, with a deadline.
async fn until_readyz(addr: SocketAddr, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(addr, "/readyz").await;
        if status.starts_with(want) {
            return body;
        }
        assert!(Instant::now() < deadline, "/readyz stayed `{status}` ({body}), expected `{want}`");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_is_not_ready_while_its_store_is_down_and_ready_again_after() {
    let redis_dir = tempfile::tempdir().unwrap();
    let mut redis = common::PrivateRedis::start(redis_dir.path());
    let dir = tempfile::tempdir().unwrap();
    let key = common::redis_master_key_file(dir.path());
    let h = common::start_with(dir, |config| {
        config.store = Some(redis.url.clone());
        config.master_key_file = Some(key);
    })
    .await;
    let addr = h.server.http_addr;
    until_readyz(addr, "HTTP/1.1 200").await;
    let mut client = health(h.server.grpc_addr).await;

    redis.stop();
    let reason = until_readyz(addr, "HTTP/1.1 503").await;
    assert!(reason.starts_with("not ready: the store"), "{reason}");
    assert!(!reason.contains("redis://"), "no store URL (it may carry a password): {reason}");
    // Alive all the same, and gRPC health says so per service within a check period.
    assert_eq!(get(addr, "/healthz").await.0, "HTTP/1.1 200 OK");
    let deadline = Instant::now() + Duration::from_secs(30);
    for service in SERVICES {
        while check(&mut client, service).await.unwrap().status() != ServingStatus::NotServing {
            assert!(Instant::now() < deadline, "`{service}` stayed SERVING with the store down");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    redis.restart();
    until_readyz(addr, "HTTP/1.1 200").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while check(&mut client, "").await.unwrap().status() != ServingStatus::Serving {
        assert!(Instant::now() < deadline, "still NOT_SERVING after the store came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_stop_a_health_watch_sees_not_serving_and_ends_cleanly() {
    let h = common::start_with(tempfile::tempdir().unwrap(), |config| {
        config.shutdown_timeout = Duration::from_secs(5);
    })
    .await;
    let mut client = health(h.server.grpc_addr).await;
    let mut watch = client.watch(HealthCheckRequest { service: String::new() }).await.unwrap().into_inner();
    assert_eq!(watch.message().await.unwrap().unwrap().status(), ServingStatus::Serving);
    let stopping = tokio::spawn(h.server.stop());
    assert_eq!(watch.message().await.unwrap().unwrap().status(), ServingStatus::NotServing);
    // The stream ends with OK, not with the connection cut at the shutdown deadline (a deadline
    // on the wait, so that a stream that never ends fails the test instead of hanging it).
    let end = tokio::time::timeout(Duration::from_secs(30), watch.message()).await;
    assert!(matches!(end, Ok(Ok(None))), "the watch did not end cleanly: {end:?}");
    stopping.await.unwrap().unwrap();
}
