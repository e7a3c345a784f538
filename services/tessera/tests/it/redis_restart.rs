//! A private Redis is stopped and started again under running servers: they do not crash, the
//! authorizer answers from its cache within the configured staleness bound while Redis is down and
//! fails closed after it, and it recovers by itself afterwards, policy changes from another replica
//! included.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tessera_proto::authorizer::v1 as pb;
use tessera_proto::authorizer::v1::authorizer_service_client::AuthorizerServiceClient;
use tessera_proto::common::v1 as c;
use tessera_proto::policy::v1 as ppb;
use tonic::transport::Channel;

const ALLOW: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

async fn ask(addr: SocketAddr, bearer: &str) -> Result<pb::Outcome, tonic::Status> {
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let request = pb::AuthorizeRequest {
        credential: Some(pb::authorize_request::Credential::Bearer(pb::Bearer {
            token: bearer.to_owned(),
            audience: None,
        })),
        question: Some(pb::Question {
            action: "s3:GetObject".into(),
            resources: vec!["arn:aws:s3:::bucket/key".into()],
            context: vec![],
        }),
        source_ip: None,
    };
    // The authorizer runs alone: it takes the cluster's internal calls.
    let response =
        AuthorizerServiceClient::new(channel).authorize(common::internal(&common::redis_master_key(), request)).await?;
    Ok(response.into_inner().answer.unwrap().outcome())
}

/// Asks until the answer is `want`, for at most `limit`.
async fn until(addr: SocketAddr, bearer: &str, want: pb::Outcome, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    loop {
        let got = tokio::time::timeout(Duration::from_secs(30), ask(addr, bearer)).await.expect("a call hung");
        if got.as_ref().is_ok_and(|o| *o == want) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: still {got:?} after {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizer_survives_a_redis_restart_and_recovers_by_itself() {
    let data = tempfile::tempdir().unwrap();
    let mut redis = common::PrivateRedis::start(data.path());
    let dir = tempfile::tempdir().unwrap();
    let key_file = common::redis_master_key_file(dir.path());
    let store = redis.url.clone();
    let mut h = common::start_with(dir, |c| {
        c.store = Some(store.clone());
        c.master_key_file = Some(key_file.clone());
    })
    .await;
    // Decisions are asked of a second process, so a change made through the first reaches them
    // only over Redis.
    let authorizer = common::start_with(tempfile::tempdir().unwrap(), |c| {
        c.store = Some(store.clone());
        c.master_key_file = Some(key_file);
        c.service = tessera::serve::ServiceSet::Authorizer;
        c.authorizer_cache.authorizer_max_staleness = Duration::from_secs(1);
    })
    .await;
    let (a, grpc) = (h.account.clone(), authorizer.server.grpc_addr);
    let key = common::user_with_key(&mut h, "alice").await;
    let alice = || Some(c::EntityRef { kind: c::EntityKind::User.into(), name: "alice".into() });
    let put = ppb::PutInlinePolicyRequest {
        account_id: a.clone(),
        entity: alice(),
        policy_name: "p".into(),
        policy_document: ALLOW.into(),
    };
    h.policy.put_inline_policy(put).await.unwrap();
    let bearer = format!("{}:{}", key.access_key_id, key.secret_access_key);
    assert_eq!(ask(grpc, &bearer).await.unwrap(), pb::Outcome::Allowed);

    // Redis goes away: answers are the cached one until the staleness bound (a second here) has
    // passed, then errors (fail closed); never another decision, a hang or a crash.
    redis.stop();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = tokio::time::timeout(Duration::from_secs(30), ask(grpc, &bearer)).await.expect("a call hung");
        match answer {
            Ok(pb::Outcome::Allowed) => {}
            Err(_) => break,
            other => panic!("while Redis is down: {other:?}"),
        }
        assert!(Instant::now() < deadline, "still answering from the cache long after the staleness bound");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Redis comes back with its data: decisions resume, and changes propagate again.
    redis.restart();
    until(grpc, &bearer, pb::Outcome::Allowed, Duration::from_secs(15), "after the restart").await;
    let delete = ppb::DeleteInlinePolicyRequest { account_id: a.clone(), entity: alice(), policy_name: "p".into() };
    let deadline = Instant::now() + Duration::from_secs(15);
    while let Err(status) = h.policy.delete_inline_policy(delete.clone()).await {
        assert!(Instant::now() < deadline, "the store never came back for writes: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    until(grpc, &bearer, pb::Outcome::ImplicitDeny, Duration::from_secs(1), "a change after the restart").await;
}
