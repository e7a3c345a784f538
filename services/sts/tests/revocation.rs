//! The exact revocation cut-off and the stop of issuing, on two replicas sharing the Redis at
//! `REDIS_URL` (default `redis://127.0.0.1:6379/0`), on the real clock: revoke and re-assume in
//! a tight loop, and count the new sessions refused (must be none) and the older sessions still
//! accepted a second after the revocation (must be none), printing how long the revocation took
//! to reach the other replica.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Harness, Role, User, assuming, error, keys, random_account_id, serve, trust};
use tessera_credentials::{Argon2Params, MasterKey, SeededRandom, SystemRng};
use tessera_identity::{Account, Env, Random, SystemClock};
use tessera_proto::ErrorCode;
use tessera_proto::sts::v1 as pb;
use tessera_proto::sts::v1::sts_service_client::StsServiceClient;
use tessera_store::{AnyStore, Namespace, RedisStore};
use tessera_sts::Revocation;
use tonic::transport::Channel;

/// The master key of the Redis tests (fixed, as in `grpc.rs`: the key ring is named after it).
fn redis_master_key() -> MasterKey {
    MasterKey::generate(&mut SeededRandom::new(0x5EED_0F7E_55E2))
}

fn real_env() -> Env {
    Env {
        clock: Arc::new(SystemClock),
        random: Arc::new(Random::new(SystemRng::new().unwrap())),
        master_key: Arc::new(redis_master_key()),
        password_params: Argon2Params::FAST_FOR_TESTS,
    }
}

async fn redis() -> RedisStore {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    RedisStore::connect(&url).await.unwrap_or_else(|e| panic!("Redis must be reachable at `{url}`: {e}"))
}

/// Replica A (with the harness's clients) and replica B (its own client), one fresh account.
async fn two_replicas() -> (Harness, StsServiceClient<Channel>, RedisStore) {
    let redis = redis().await;
    let store_a = Arc::new(AnyStore::from(redis.clone()));
    let store_b = Arc::new(AnyStore::from(self::redis().await));
    let env = real_env();
    tessera_policy_service::seed_aws_managed(&*store_a, env.now()).await.unwrap();
    let (sts, channel) = serve(Arc::clone(&store_a), env).await;
    let account = random_account_id();
    let boot = sts.identity().bootstrap(Some(&Account::new(&account).unwrap()), None).await.unwrap();
    let h = Harness {
        clock: common::FakeClock::new(),
        store: store_a,
        sts,
        client: StsServiceClient::new(channel.clone()),
        identity: tessera_proto::identity::v1::identity_service_client::IdentityServiceClient::new(channel.clone()),
        policy: tessera_proto::policy::v1::policy_service_client::PolicyServiceClient::new(channel),
        account,
        root_key: boot.root_access_key_id,
    };
    let (_b, channel_b) = serve(store_b, real_env()).await;
    (h, StsServiceClient::new(channel_b), redis)
}

/// Removes the account and its revocations (global records, kept for the audit trail) from the
/// shared Redis, so runs do not pile them up for every later replica to load.
async fn purge(redis: &RedisStore, account: &str) {
    use tessera_store::Store as _;
    let global = Namespace::global();
    let mut txn = tessera_store::Transaction::new();
    for (suffix, revocation) in tessera_store::iam::scan_all::<_, Revocation>(redis, &global).await.unwrap() {
        if revocation.account() == account {
            txn = txn.delete(tessera_store::Key::new(&global, tessera_store::Kind::new("revocation"), &suffix));
        }
    }
    redis.commit(txn).await.unwrap();
    redis.purge_namespace(&Namespace::account(account).unwrap()).await.unwrap();
}

fn verify(credentials: &pb::Credentials) -> pb::VerifySessionRequest {
    pb::VerifySessionRequest {
        access_key_id: credentials.access_key_id.clone(),
        session_token: credentials.session_token.clone(),
    }
}

async fn assume(client: &mut StsServiceClient<Channel>, user: &User, role: &Role, name: &str) -> pb::Credentials {
    client.assume_role(assuming(keys(&user.key), role, name)).await.unwrap().into_inner().credentials.unwrap()
}

/// Whether `replica` accepts the session now; a refusal must be the revocation's.
async fn accepted(replica: &mut StsServiceClient<Channel>, credentials: &pb::Credentials) -> bool {
    match replica.verify_session(verify(credentials)).await {
        Ok(_) => true,
        Err(status) => {
            let e = tessera_proto::ServiceError::from_status(&status);
            assert_eq!(e.code, ErrorCode::InvalidClientTokenId, "{}", e.message);
            false
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::test]
async fn revoking_and_reassuming_in_a_tight_loop_refuses_exactly_the_older_sessions() {
    const ROUNDS: usize = 100;
    let (mut h, b, redis) = two_replicas().await;
    let alice = h.user("alice").await;
    let role = h.role("TightLoop", &trust(&alice.arn, &["sts:AssumeRole"], None), None).await;
    let account = h.account.clone();
    let mut replicas = [h.client.clone(), b];

    let (mut false_refusals, mut late_acceptances) = (0, 0);
    let mut propagation = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        // Alternate the replica that revokes: the revocation must reach the other one.
        let (here, there) = if round % 2 == 0 { (0, 1) } else { (1, 0) };
        let older = assume(&mut replicas[there], &alice, &role, "older").await;
        let request = pb::RevokeRoleSessionsRequest {
            account_id: account.clone(),
            role_arn: role.arn.clone(),
            issued_before: None,
        };
        replicas[here].revoke_role_sessions(request).await.unwrap();
        let returned = Instant::now();
        // Issued after the revocation returned, on both replicas, at once: never refused, on
        // either replica, before or after the revocation reaches it.
        let newer_there = assume(&mut replicas[there], &alice, &role, "newer-there").await;
        let newer_here = assume(&mut replicas[here], &alice, &role, "newer-here").await;
        for replica in replicas.iter_mut() {
            for newer in [&newer_there, &newer_here] {
                false_refusals += usize::from(!accepted(replica, newer).await);
            }
        }
        assert!(!accepted(&mut replicas[here], &older).await, "the revoking replica refuses at once");
        // The older session: refused by the other replica within a second (polled, no sleeps
        // beyond a millisecond between polls).
        loop {
            if !accepted(&mut replicas[there], &older).await {
                propagation.push(returned.elapsed());
                break;
            }
            if returned.elapsed() > Duration::from_secs(1) {
                late_acceptances += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Once the revocation is everywhere, the newer sessions are still fine.
        for replica in replicas.iter_mut() {
            for newer in [&newer_there, &newer_here] {
                false_refusals += usize::from(!accepted(replica, newer).await);
            }
        }
    }
    propagation.sort();
    println!(
        "revocation cut-off over {ROUNDS} rounds on two replicas: {false_refusals} newer sessions refused, \
         {late_acceptances} older sessions accepted after 1 s; propagation to the other replica \
         p50 {:?}, p99 {:?}, max {:?}",
        percentile(&propagation, 50.0),
        percentile(&propagation, 99.0),
        propagation.last().copied().unwrap_or_default(),
    );
    assert_eq!(false_refusals, 0, "sessions issued after a revocation returned were refused");
    assert_eq!(late_acceptances, 0, "older sessions were still accepted a second after the revocation");

    // The revocations are listed with who made them and when, oldest first.
    let listed = h
        .client
        .list_revocations(pb::ListRevocationsRequest { account_id: account.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.revocations.len(), ROUNDS);
    assert!(listed.revocations.iter().all(|r| r.kind == "Role" && r.target == role.arn && r.in_force));
    assert!(listed.revocations.windows(2).all(|w| {
        let at = |r: &pb::RevocationEntry| r.revoked_at.map(|t| (t.seconds, t.nanos));
        at(&w[0]) <= at(&w[1])
    }));
    purge(&redis, &account).await;
}

#[tokio::test]
async fn a_cut_off_later_than_now_is_refused() {
    let (mut h, _b, redis) = two_replicas().await;
    let alice = h.user("alice").await;
    let role = h.role("Later", &trust(&alice.arn, &["sts:AssumeRole"], None), None).await;
    let later = std::time::SystemTime::now() + Duration::from_secs(60);
    let request = pb::RevokeRoleSessionsRequest {
        account_id: h.account.clone(),
        role_arn: role.arn.clone(),
        issued_before: Some(tessera_proto::convert::timestamp(later)),
    };
    assert_eq!(error(h.client.revoke_role_sessions(request).await).code, ErrorCode::InvalidInput);
    // An earlier cut-off revokes the sessions issued up to it, and only those.
    let before = assume(&mut h.client, &alice, &role, "before").await;
    let cut = std::time::SystemTime::now();
    let after = assume(&mut h.client, &alice, &role, "after").await;
    let request = pb::RevokeRoleSessionsRequest {
        account_id: h.account.clone(),
        role_arn: role.arn.clone(),
        issued_before: Some(tessera_proto::convert::timestamp(cut)),
    };
    h.client.revoke_role_sessions(request).await.unwrap();
    assert!(!accepted(&mut h.client, &before).await);
    assert!(accepted(&mut h.client, &after).await);
    purge(&redis, &h.account).await;
}

/// Polls `call` until it gives `want`, for at most a second; returns how long that took.
async fn within_a_second<F, Fut>(want: bool, mut call: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if call().await == want {
            return started.elapsed();
        }
        assert!(started.elapsed() <= Duration::from_secs(1), "not within a second");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn stopping_issuing_refuses_every_issuing_call_on_every_replica_until_resumed() {
    let (mut h, b, redis) = two_replicas().await;
    let a = h.account.clone();
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let both = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [alice.arn, bob.arn]}, "Action": "sts:AssumeRole"
    }]});
    let role = h.role("Incident", &both.to_string(), None).await;
    let other = h.role("Unaffected", &trust(&alice.arn, &["sts:AssumeRole"], None), None).await;
    let before = assume(&mut h.client, &alice, &role, "before").await;

    // Stopped on A (named without its path, any case): B refuses AssumeRole for the role within
    // a second, with AccessDenied saying why; other roles are unaffected.
    let stop = pb::StopIssuingRequest { account_id: a.clone(), arn: format!("arn:aws:iam::{a}:role/INCIDENT") };
    let stopped = h.client.stop_issuing(stop).await.unwrap().into_inner().stop.unwrap();
    assert!(stopped.stopped_at.is_some());
    let on_b = b.clone();
    let bob_key = bob.key.clone();
    let took = within_a_second(false, || {
        let (mut b, role) = (on_b.clone(), role.clone());
        let bob_key = bob_key.clone();
        async move { b.assume_role(assuming(keys(&bob_key), &role, "during")).await.is_ok() }
    })
    .await;
    println!("the stop of issuing reached the other replica in {took:?}");
    let e = error(b.clone().assume_role(assuming(keys(&alice.key), &role, "during")).await);
    assert_eq!(e.code, ErrorCode::AccessDenied);
    assert!(e.message.contains("has been stopped by an administrator"), "{}", e.message);
    assert!(b.clone().assume_role(assuming(keys(&alice.key), &other, "other")).await.is_ok());
    // Existing sessions are untouched (revoking them is a separate decision)...
    assert!(accepted(&mut b.clone(), &before).await);
    // ...but cannot chain into anything while their role is stopped.
    let chained = assuming(common::session(&before), &other, "chained");
    assert_eq!(error(b.clone().assume_role(chained).await).code, ErrorCode::AccessDenied);

    // Stopping a user stops its GetSessionToken and GetFederationToken, and its AssumeRole.
    let stop = pb::StopIssuingRequest { account_id: a.clone(), arn: bob.arn.clone() };
    b.clone().stop_issuing(stop).await.unwrap();
    let token = pb::GetSessionTokenRequest { caller: keys(&bob.key), ..Default::default() };
    within_a_second(false, || {
        let (mut client, token) = (h.client.clone(), token.clone());
        async move { client.get_session_token(token).await.is_ok() }
    })
    .await;
    let federation = pb::GetFederationTokenRequest { caller: keys(&bob.key), name: "fed".into(), ..Default::default() };
    assert_eq!(error(h.client.get_federation_token(federation.clone()).await).code, ErrorCode::AccessDenied);
    assert!(
        h.client
            .get_session_token(pb::GetSessionTokenRequest { caller: keys(&alice.key), ..Default::default() })
            .await
            .is_ok()
    );

    // Both are listed with who stopped them (the internal API here: nobody authenticated).
    let listed = h.client.list_revocations(pb::ListRevocationsRequest { account_id: a.clone() }).await.unwrap();
    let arns: Vec<String> = listed.into_inner().stops.into_iter().map(|s| s.arn).collect();
    assert_eq!(arns.len(), 2, "{arns:?}");
    assert!(arns.contains(&bob.arn));

    // Resumed on B: A issues again within a second.
    let resume = pb::ResumeIssuingRequest { account_id: a.clone(), arn: role.arn.clone() };
    let lifted = b.clone().resume_issuing(resume.clone()).await.unwrap().into_inner();
    assert!(lifted.stop.is_some());
    within_a_second(true, || {
        let (mut client, role, key) = (h.client.clone(), role.clone(), alice.key.clone());
        async move { client.assume_role(assuming(keys(&key), &role, "after")).await.is_ok() }
    })
    .await;
    assert!(b.clone().resume_issuing(resume).await.unwrap().into_inner().stop.is_none(), "nothing left to lift");
    let resume = pb::ResumeIssuingRequest { account_id: a.clone(), arn: bob.arn.clone() };
    h.client.resume_issuing(resume).await.unwrap();
    within_a_second(true, || {
        let (mut client, token) = (b.clone(), token.clone());
        async move { client.get_session_token(token).await.is_ok() }
    })
    .await;

    // Only the account's own principals.
    let foreign =
        pb::StopIssuingRequest { account_id: a.clone(), arn: format!("arn:aws:iam::{}:role/x", random_account_id()) };
    assert_eq!(error(h.client.stop_issuing(foreign).await).code, ErrorCode::InvalidInput);
    purge(&redis, &a).await;
}

#[tokio::test]
async fn a_role_named_without_its_path_has_its_sessions_revoked() {
    let mut h = common::start().await;
    let alice = h.user("alice").await;
    let created = h
        .identity
        .create_role(tessera_proto::identity::v1::CreateRoleRequest {
            account_id: h.account.clone(),
            path: Some("/ops/".into()),
            role_name: "Deployer".into(),
            assume_role_policy_document: trust(&alice.arn, &["sts:AssumeRole"], None),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap();
    let role = Role { name: "Deployer".into(), arn: created.arn, role_id: created.role_id };
    let session = assume(&mut h.client, &alice, &role, "deploy").await;
    let without_path = format!("arn:aws:iam::{}:role/deployer", h.account);
    let request =
        pb::RevokeRoleSessionsRequest { account_id: h.account.clone(), role_arn: without_path, issued_before: None };
    let revoked = h.client.revoke_role_sessions(request).await.unwrap().into_inner().revocation.unwrap();
    assert_eq!(revoked.target, role.arn, "revoked under the ARN its sessions carry");
    assert!(!accepted(&mut h.client, &session).await);
}

#[tokio::test]
async fn a_stopped_role_is_refused_to_web_identities_before_their_token_is_even_read() {
    let mut h = common::start().await;
    let alice = h.user("alice").await;
    let role = h.role("Federated", &trust(&alice.arn, &["sts:AssumeRole"], None), None).await;
    let request = pb::AssumeRoleWithWebIdentityRequest {
        role_arn: role.arn.clone(),
        role_session_name: "web".into(),
        web_identity_token: "not.a.jwt".into(),
        ..Default::default()
    };
    let unverified = error(h.client.assume_role_with_web_identity(request.clone()).await);
    assert_ne!(unverified.code, ErrorCode::AccessDenied, "{}", unverified.message);
    let stop = pb::StopIssuingRequest { account_id: h.account.clone(), arn: role.arn.clone() };
    h.client.stop_issuing(stop).await.unwrap();
    let stopped = error(h.client.assume_role_with_web_identity(request.clone()).await);
    assert_eq!(stopped.code, ErrorCode::AccessDenied);
    assert!(stopped.message.contains("stopped by an administrator"), "{}", stopped.message);
    let resume = pb::ResumeIssuingRequest { account_id: h.account.clone(), arn: role.arn.clone() };
    h.client.resume_issuing(resume).await.unwrap();
    let again = error(h.client.assume_role_with_web_identity(request).await);
    assert_eq!(again.code, unverified.code);
}
