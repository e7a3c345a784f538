//! Telemetry end to end: an in-process OTLP collector receives one trace for one AssumeRole that
//! spans the gateway, the token service, the identity domain and the store, continuing the W3C
//! `traceparent` the client sent (and a gRPC call's, through the gate's metadata); `/metrics`
//! counts the request, the token issued and the store calls, with bounded labels only.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tessera::serve::{ServeConfig, Server};
use tessera_proto::common::v1 as c;
use tessera_proto::identity::v1 as ipb;
use tessera_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tessera_proto::policy::v1 as ppb;
use tessera_proto::policy::v1::policy_service_client::PolicyServiceClient;
use tessera_telemetry::collector::{CollectedSpan, Collector};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::transport::Channel;

/// The client's trace and span, as a W3C `traceparent` carries them.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";
const GRPC_TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const UNGATED_TRACE_ID: &str = "5c1e2b3a4d5f60718293a4b5c6d7e8f9";

/// A raw HTTP/1.1 request; the status code and body.
async fn send(addr: SocketAddr, head: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let raw = format!("{head}Host: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).unwrap_or_default().parse().unwrap_or(0);
    (status, response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

/// A SigV4-signed Query POST carrying `traceparent`.
async fn signed_post(addr: SocketAddr, key: &str, secret: &str, body: &str, traceparent: &str) -> (u16, String) {
    let (amz_date, authorization) = common::sign_query(addr, (key, secret), "sts", body);
    let head = format!(
        "POST / HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\nX-Amz-Date: {amz_date}\r\nAuthorization: {authorization}\r\ntraceparent: 00-{traceparent}-01\r\n"
    );
    send(addr, &head, body).await
}

/// A gRPC request with the operator's bearer credential.
fn with_key<T>(authorization: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", authorization.parse().unwrap());
    request
}

/// Waits (flushing) until the collector holds spans of `trace_id` named all of `names`.
async fn trace(
    telemetry: &tessera_telemetry::Telemetry,
    collector: &Collector,
    trace_id: &str,
    names: &[&str],
) -> Vec<CollectedSpan> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        telemetry.flush();
        let spans: Vec<_> = collector.spans().into_iter().filter(|s| s.trace_id == trace_id).collect();
        if names.iter().all(|name| spans.iter().any(|s| s.name == *name)) {
            return spans;
        }
        let seen: Vec<_> = spans.iter().map(|s| s.name.as_str()).collect();
        assert!(Instant::now() < deadline, "spans {names:?} of trace {trace_id} within 30 s; seen {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_assume_role_is_one_trace_across_gateway_sts_identity_and_store_and_metrics_count_it() {
    // The subscriber and the OpenTelemetry providers it installs are process-wide, and so are the
    // counts on `/metrics` it checks: other tests would add theirs.
    if common::alone(
        "telemetry::one_assume_role_is_one_trace_across_gateway_sts_identity_and_store_and_metrics_count_it",
    ) {
        return;
    }
    let collector = Collector::start().await.unwrap();
    let telemetry = tessera_telemetry::init(tessera_telemetry::Config {
        otlp: tessera_telemetry::OtlpConfig::endpoint(collector.endpoint()),
        quiet: true,
        ..Default::default()
    })
    .unwrap();
    assert!(telemetry.exporting());

    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::for_tests(dir.path());
    config.grpc_auth = true;
    let server = Server::start(config).await.unwrap();
    let bootstrapped = server.account.as_ref().unwrap();
    let account = bootstrapped.account_id.clone();
    let root = format!(
        "Bearer {}:{}",
        bootstrapped.root_access_key_id,
        bootstrapped.new_root_secret.as_ref().unwrap().expose()
    );
    let channel = Channel::from_shared(format!("http://{}", server.grpc_addr)).unwrap().connect().await.unwrap();
    let mut identity = IdentityServiceClient::new(channel.clone());
    let role_arn = format!("arn:aws:iam::{account}:role/deployer");
    let user_arn = format!("arn:aws:iam::{account}:user/ci");
    identity
        .create_user(with_key(
            &root,
            ipb::CreateUserRequest { account_id: account.clone(), user_name: "ci".into(), ..Default::default() },
        ))
        .await
        .unwrap();
    let key = identity
        .create_access_key(with_key(
            &root,
            ipb::CreateAccessKeyRequest { account_id: account.clone(), user_name: Some("ci".into()) },
        ))
        .await
        .unwrap()
        .into_inner()
        .access_key
        .unwrap();
    identity
        .create_role(with_key(&root, ipb::CreateRoleRequest {
            account_id: account.clone(),
            role_name: "deployer".into(),
            assume_role_policy_document: format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{user_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
            ),
            ..Default::default()
        }))
        .await
        .unwrap();
    PolicyServiceClient::new(channel.clone())
        .put_inline_policy(with_key(&root, ppb::PutInlinePolicyRequest {
            account_id: account.clone(),
            entity: Some(c::EntityRef { kind: c::EntityKind::User.into(), name: "ci".into() }),
            policy_name: "assume".into(),
            policy_document: format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{role_arn}"}}]}}"#
            ),
        }))
        .await
        .unwrap();

    // One AssumeRole over HTTP, continuing the client's trace.
    let body = format!("Action=AssumeRole&Version=2011-06-15&RoleArn={role_arn}&RoleSessionName=deploy");
    let (status, answer) = signed_post(
        server.http_addr,
        &key.access_key_id,
        &key.secret_access_key,
        &body,
        &format!("{TRACE_ID}-{CLIENT_SPAN}"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("<AssumedRoleId>"), "{answer}");

    let spans = trace(
        &telemetry,
        &collector,
        TRACE_ID,
        &["gateway.request", "sts.assume_role", "identity.get_role", "sts.issue", "store.call"],
    )
    .await;
    let named = |name: &str| spans.iter().find(|s| s.name == name).unwrap();
    let request = named("gateway.request");
    // The gateway continues the client's span; every other span descends from the request.
    assert_eq!(request.parent_span_id, CLIENT_SPAN);
    assert!(request.attributes.contains(&("action".to_owned(), "sts:AssumeRole".to_owned())), "{request:?}");
    assert!(request.attributes.contains(&("code".to_owned(), "OK".to_owned())), "{request:?}");
    let ancestors = |span: &CollectedSpan| {
        let mut chain = Vec::new();
        let mut parent = span.parent_span_id.clone();
        while let Some(up) = spans.iter().find(|s| s.span_id == parent) {
            chain.push(up.name.clone());
            parent = up.parent_span_id.clone();
        }
        (chain, parent)
    };
    for span in &spans {
        let (chain, root) = ancestors(span);
        assert_eq!(root, CLIENT_SPAN, "{} does not descend from the client's span", span.name);
        if span.name != "gateway.request" {
            assert!(chain.contains(&"gateway.request".to_owned()), "{}: {chain:?}", span.name);
        }
    }
    let (chain, _) = ancestors(named("identity.get_role"));
    assert!(chain.contains(&"sts.assume_role".to_owned()), "{chain:?}");
    assert!(spans.iter().all(|s| s.service_name == "tessera"));
    // No span carries a secret.
    for span in &spans {
        for (_, value) in &span.attributes {
            assert!(!value.contains(&key.secret_access_key), "{span:?}");
        }
    }

    // A gRPC call through the gate continues the trace in its metadata.
    let mut request =
        with_key(&root, ipb::GetUserRequest { account_id: account.clone(), user_name: Some("ci".into()) });
    request.metadata_mut().insert("traceparent", format!("00-{GRPC_TRACE_ID}-{CLIENT_SPAN}-01").parse().unwrap());
    identity.get_user(request).await.unwrap();
    let spans = trace(&telemetry, &collector, GRPC_TRACE_ID, &["grpc.request", "identity.get_user"]).await;
    assert_eq!(spans.iter().find(|s| s.name == "grpc.request").unwrap().parent_span_id, CLIENT_SPAN);

    // `/metrics` counts it, with bounded labels only.
    let (status, text) = send(server.http_addr, "GET /metrics HTTP/1.1\r\n", "").await;
    assert_eq!(status, 200);
    assert!(
        text.contains(
            "tessera_requests_total{transport=\"http\",action=\"sts:AssumeRole\",code=\"OK\",caller_kind=\"user\"} 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("tessera_request_duration_seconds_count{transport=\"http\",action=\"sts:AssumeRole\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("tessera_tokens_issued_total{kind=\"role_session\"} 1\n"), "{text}");
    assert!(
        text.contains(
            "tessera_requests_total{transport=\"grpc\",action=\"/tessera.identity.v1.IdentityService/GetUser\",code=\"OK\",caller_kind=\"root\"} 1\n"
        ),
        "{text}"
    );
    assert!(text.contains("tessera_store_duration_seconds_count{op=\"get\"}"), "{text}");
    assert!(text.contains("tessera_connections_open{listener=\"http\"} "), "{text}");
    assert!(text.contains("tessera_authorizer_cache_hit_ratio "), "{text}");
    for secret in [&key.access_key_id, &key.secret_access_key, &account] {
        assert!(!text.contains(secret.as_str()), "/metrics names {secret}");
    }

    // A server without the gate (`--grpc-auth` off) traces and counts its gRPC calls all the same.
    let ungated_dir = tempfile::tempdir().unwrap();
    let ungated = Server::start(ServeConfig::for_tests(ungated_dir.path())).await.unwrap();
    let channel = Channel::from_shared(format!("http://{}", ungated.grpc_addr)).unwrap().connect().await.unwrap();
    let mut request = tonic::Request::new(ppb::GetPolicyRequest {
        account_id: account.clone(),
        policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
    });
    request.metadata_mut().insert("traceparent", format!("00-{UNGATED_TRACE_ID}-{CLIENT_SPAN}-01").parse().unwrap());
    PolicyServiceClient::new(channel).get_policy(request).await.unwrap();
    let spans = trace(&telemetry, &collector, UNGATED_TRACE_ID, &["grpc.request"]).await;
    assert_eq!(spans.iter().find(|s| s.name == "grpc.request").unwrap().parent_span_id, CLIENT_SPAN);
    let (_, text) = send(ungated.http_addr, "GET /metrics HTTP/1.1\r\n", "").await;
    assert!(
        text.contains(
            "tessera_requests_total{transport=\"grpc\",action=\"/tessera.policy.v1.PolicyService/GetPolicy\",code=\"OK\",caller_kind=\"anonymous\"} 1\n"
        ),
        "{text}"
    );
    ungated.stop().await.unwrap();

    // The metrics go out over OTLP too.
    let deadline = Instant::now() + Duration::from_secs(30);
    while collector.metric_exports() == 0 {
        telemetry.flush();
        assert!(Instant::now() < deadline, "a metrics export within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await.unwrap();
    telemetry.shutdown(Duration::from_secs(2));
}
