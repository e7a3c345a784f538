//! `tessera.authorizer.v1.AuthorizerService` on the real server: a service passes the SigV4
//! material or bearer credential its client sent, and gets the same decision the policy engine
//! makes from the caller's documents, with the caller and an explanation.

use crate::common;

use crate::common::{error, start};
use tessera_policy::{Outcome as EngineOutcome, Policies, Principal, PrincipalKind, Request as EngineRequest, Trace};
use tessera_proto::ErrorCode;
use tessera_proto::authorizer::v1 as pb;
use tessera_proto::authorizer::v1::authorizer_service_client::AuthorizerServiceClient;
use tessera_proto::common::v1 as c;
use tessera_proto::identity::v1 as ipb;
use tessera_proto::policy::v1 as ppb;
use tessera_proto::sts::v1 as spb;
use tessera_proto::sts::v1::sts_service_client::StsServiceClient;
use tessera_sigv4::{PayloadHash, Request, SigningParams, format_amz_date, sign};
use tonic::transport::Channel;

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/public/*"},
  {"Sid":"NotThat","Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/public/secret"},
  {"Sid":"Home","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::bucket",
   "Condition":{"StringEquals":{"s3:prefix":"home/"}}}]}"#;

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The SigV4 material of `GET /bucket/<key>` signed for `s3` with `key_id`/`secret`.
fn signed(key_id: &str, secret: &str, object: &str) -> pb::SigV4Request {
    let date = format_amz_date(now());
    let path = format!("/bucket/{object}");
    let headers = [("host", "s3.example.test"), ("x-amz-date", date.as_str())];
    let request = Request { method: "GET", path: &path, query: "", headers: &headers, body_sha256: PayloadHash::EMPTY };
    let params = SigningParams {
        access_key_id: key_id,
        secret: secret.as_bytes(),
        region: "us-east-1",
        service: "s3",
        amz_date: &date,
    };
    let authorization = sign(&request, &params);
    let mut headers: Vec<pb::Header> =
        headers.iter().map(|(n, v)| pb::Header { name: (*n).into(), value: (*v).into() }).collect();
    headers.push(pb::Header { name: "authorization".into(), value: authorization });
    pb::SigV4Request { method: "GET".into(), path, query: String::new(), headers, ..Default::default() }
}

fn question(action: &str, resource: &str, context: &[(&str, &str)]) -> pb::Question {
    pb::Question {
        action: action.into(),
        resources: vec![resource.into()],
        context: context
            .iter()
            .map(|(k, v)| pb::ContextEntry { key: (*k).into(), values: vec![(*v).into()] })
            .collect(),
    }
}

fn outcome(response: &pb::AuthorizeResponse) -> pb::Outcome {
    response.answer.as_ref().unwrap().outcome()
}

/// What the engine decides for `alice` with `POLICY` alone, to compare the service with.
fn engine(account: &str, action: &str, resource: &str, context: &[(&str, &str)]) -> pb::Outcome {
    let policy = tessera_policy::CompiledPolicy::parse("p", POLICY, tessera_policy::PolicyKind::Identity).unwrap();
    let set = tessera_policy::PolicySet::new(vec![policy]);
    let principal = Principal {
        kind: PrincipalKind::User,
        account: account.into(),
        arn: format!("arn:aws:iam::{account}:user/alice"),
        unique_id: None,
        role_arn: None,
        source_user_arn: None,
    };
    let mut ctx = tessera_policy::Context::new();
    for (k, v) in context {
        ctx.insert(k, *v);
    }
    let decision = tessera_policy::authorize(
        &EngineRequest::new(&principal, action, resource, &ctx),
        &Policies { identity: Some(&set), ..Policies::default() },
        Trace::Off,
    );
    match decision.outcome {
        EngineOutcome::Allowed => pb::Outcome::Allowed,
        EngineOutcome::ExplicitDeny => pb::Outcome::ExplicitDeny,
        EngineOutcome::ImplicitDeny => pb::Outcome::ImplicitDeny,
    }
}

#[tokio::test]
async fn decisions_for_sigv4_and_bearer_callers_are_the_engines() {
    let mut h = start().await;
    let a = h.account.clone();
    let channel = Channel::from_shared(format!("http://{}", h.server.grpc_addr)).unwrap().connect().await.unwrap();
    let mut authorizer = AuthorizerServiceClient::new(channel.clone());
    let mut sts = StsServiceClient::new(channel);

    h.identity
        .create_user(ipb::CreateUserRequest {
            account_id: a.clone(),
            user_name: "alice".into(),
            tags: vec![c::Tag { key: "team".into(), value: "blue".into() }],
            ..Default::default()
        })
        .await
        .unwrap();
    let key = h
        .identity
        .create_access_key(ipb::CreateAccessKeyRequest { account_id: a.clone(), user_name: Some("alice".into()) })
        .await
        .unwrap()
        .into_inner()
        .access_key
        .unwrap();
    let put = |document: &str| ppb::PutInlinePolicyRequest {
        account_id: a.clone(),
        entity: Some(c::EntityRef { kind: c::EntityKind::User.into(), name: "alice".into() }),
        policy_name: "p".into(),
        policy_document: document.into(),
    };
    h.policy.put_inline_policy(put(POLICY)).await.unwrap();

    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
    let cases: &[Case<'_>] = &[
        ("s3:GetObject", "arn:aws:s3:::bucket/public/a.txt", &[]),
        ("s3:GetObject", "arn:aws:s3:::bucket/public/secret", &[]),
        ("s3:GetObject", "arn:aws:s3:::bucket/private/a.txt", &[]),
        ("s3:ListBucket", "arn:aws:s3:::bucket", &[("s3:prefix", "home/")]),
        ("s3:ListBucket", "arn:aws:s3:::bucket", &[("s3:prefix", "etc/")]),
        // A calling service cannot pass itself off as another principal.
        ("s3:ListBucket", "arn:aws:s3:::bucket", &[("aws:PrincipalArn", "arn:aws:iam::123456789012:root")]),
    ];
    let mut seen = std::collections::HashSet::new();
    for (action, resource, context) in cases {
        let want = engine(&a, action, resource, context);
        seen.insert(want as i32);
        let by_sigv4 = authorizer
            .authorize(pb::AuthorizeRequest {
                credential: Some(pb::authorize_request::Credential::Sigv4(signed(
                    &key.access_key_id,
                    &key.secret_access_key,
                    "public/a.txt",
                ))),
                question: Some(question(action, resource, context)),
                source_ip: Some("198.51.100.7".into()),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(outcome(&by_sigv4), want, "{action} {resource} {context:?}");
        let bearer = pb::Bearer { token: format!("{}:{}", key.access_key_id, key.secret_access_key), audience: None };
        let by_bearer = authorizer
            .authorize(pb::AuthorizeRequest {
                credential: Some(pb::authorize_request::Credential::Bearer(bearer)),
                question: Some(question(action, resource, context)),
                source_ip: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(outcome(&by_bearer), want, "bearer: {action} {resource}");
        let caller = by_sigv4.caller.unwrap();
        assert_eq!(caller.arn, format!("arn:aws:iam::{a}:user/alice"));
        assert_eq!((caller.account.as_str(), caller.principal_type.as_str()), (a.as_str(), "User"));
        assert_eq!(caller.tags, vec![pb::ContextEntry { key: "team".into(), values: vec!["blue".into()] }]);
    }
    assert_eq!(seen.len(), 3, "the cases cover allow, explicit deny and implicit deny");

    // The explanation names the deciding statement.
    let denied = authorizer
        .authorize(pb::AuthorizeRequest {
            credential: Some(pb::authorize_request::Credential::Bearer(pb::Bearer {
                token: format!("{}:{}", key.access_key_id, key.secret_access_key),
                audience: None,
            })),
            question: Some(question("s3:GetObject", "arn:aws:s3:::bucket/public/secret", &[])),
            source_ip: None,
        })
        .await
        .unwrap()
        .into_inner();
    let explanation = &denied.answer.unwrap().explanations[0];
    assert_eq!(explanation.outcome(), pb::Outcome::ExplicitDeny);
    assert!(explanation.matched.iter().any(|m| m == "p#NotThat"), "{explanation:?}");

    // A session of alice: same permissions; a batch asks several questions at once.
    let session = sts
        .get_session_token(spb::GetSessionTokenRequest {
            caller: Some(spb::Caller {
                access_key_id: key.access_key_id.clone(),
                session_token: None,
                source_ip: None,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .credentials
        .unwrap();
    let batch = authorizer
        .authorize_batch(pb::AuthorizeBatchRequest {
            credential: Some(pb::authorize_batch_request::Credential::Bearer(pb::Bearer {
                token: format!("{}:{}", session.access_key_id, session.session_token),
                audience: None,
            })),
            questions: vec![
                question("s3:GetObject", "arn:aws:s3:::bucket/public/a.txt", &[]),
                question("s3:PutObject", "arn:aws:s3:::bucket/public/a.txt", &[]),
            ],
            source_ip: None,
        })
        .await
        .unwrap()
        .into_inner();
    let outcomes: Vec<pb::Outcome> = batch.answers.iter().map(pb::Answer::outcome).collect();
    assert_eq!(outcomes, [pb::Outcome::Allowed, pb::Outcome::ImplicitDeny]);
    assert!(batch.caller.unwrap().session_id.is_some());

    // A policy change is seen by the next decision.
    let allow_put =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#;
    h.policy.put_inline_policy(put(allow_put)).await.unwrap();
    let after = authorizer
        .authorize(pb::AuthorizeRequest {
            credential: Some(pb::authorize_request::Credential::Bearer(pb::Bearer {
                token: format!("{}:{}", key.access_key_id, key.secret_access_key),
                audience: None,
            })),
            question: Some(question("s3:PutObject", "arn:aws:s3:::bucket/x", &[])),
            source_ip: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(outcome(&after), pb::Outcome::Allowed);

    // Bad credentials are authentication errors, not decisions.
    let mut tampered = signed(&key.access_key_id, &key.secret_access_key, "public/a.txt");
    tampered.path = "/bucket/other".into();
    let refused = error(
        authorizer
            .authorize(pb::AuthorizeRequest {
                credential: Some(pb::authorize_request::Credential::Sigv4(tampered)),
                question: Some(question("s3:GetObject", "arn:aws:s3:::bucket/public/a.txt", &[])),
                source_ip: None,
            })
            .await,
    );
    assert_eq!(refused.code, ErrorCode::SignatureDoesNotMatch, "{}", refused.message);
    let wrong = error(
        authorizer
            .authorize(pb::AuthorizeRequest {
                credential: Some(pb::authorize_request::Credential::Bearer(pb::Bearer {
                    token: format!("{}:{}", key.access_key_id, "x".repeat(40)),
                    audience: None,
                })),
                question: Some(question("s3:GetObject", "*", &[])),
                source_ip: None,
            })
            .await,
    );
    assert_eq!(wrong.code, ErrorCode::InvalidClientTokenId);
}

/// `tessera serve --service authorizer` answers for the users of the store it shares with the
/// process that manages them, and sees their policy changes; it serves nothing else.
#[tokio::test]
async fn an_authorizer_process_decides_for_the_store_it_shares() {
    use tessera::serve::ServiceSet;
    let dir = tempfile::tempdir().unwrap();
    let key_file = common::redis_master_key_file(dir.path());
    let mut h = common::start_with(dir, |c| {
        c.store = Some(common::redis_url());
        c.master_key_file = Some(key_file.clone());
    })
    .await;
    let a = h.account.clone();
    let name = format!("authz-{}-{}", std::process::id(), now());
    let key = common::user_with_key(&mut h, &name).await;
    let put = ppb::PutInlinePolicyRequest {
        account_id: a.clone(),
        entity: Some(c::EntityRef { kind: c::EntityKind::User.into(), name: name.clone() }),
        policy_name: "p".into(),
        policy_document: POLICY.into(),
    };
    h.policy.put_inline_policy(put).await.unwrap();

    let second = tempfile::tempdir().unwrap();
    let mut only = common::start_with(second, |c| {
        c.store = Some(common::redis_url());
        c.master_key_file = Some(key_file);
        c.service = ServiceSet::Authorizer;
    })
    .await;
    assert!(only.server.account.is_none(), "an authorizer process bootstraps nothing");
    let channel = Channel::from_shared(format!("http://{}", only.server.grpc_addr)).unwrap().connect().await.unwrap();
    let mut authorizer = AuthorizerServiceClient::new(channel);
    let bearer = format!("{}:{}", key.access_key_id, key.secret_access_key);
    let mut ask = async |action: &str, resource: &str| {
        let request = pb::AuthorizeRequest {
            credential: Some(pb::authorize_request::Credential::Bearer(pb::Bearer {
                token: bearer.clone(),
                audience: None,
            })),
            question: Some(question(action, resource, &[])),
            source_ip: None,
        };
        // A service started alone takes the cluster's internal calls (its gateways').
        let response =
            authorizer.authorize(common::internal(&common::redis_master_key(), request)).await.unwrap().into_inner();
        outcome(&response)
    };
    assert_eq!(ask("s3:GetObject", "arn:aws:s3:::bucket/public/a.txt").await, pb::Outcome::Allowed);
    assert_eq!(ask("s3:GetObject", "arn:aws:s3:::bucket/public/secret").await, pb::Outcome::ExplicitDeny);

    // The change is made through the other process; this one flips within a second.
    h.policy
        .delete_inline_policy(ppb::DeleteInlinePolicyRequest {
            account_id: a.clone(),
            entity: Some(c::EntityRef { kind: c::EntityKind::User.into(), name: name.clone() }),
            policy_name: "p".into(),
        })
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let got = ask("s3:GetObject", "arn:aws:s3:::bucket/public/a.txt").await;
        if got == pb::Outcome::ImplicitDeny {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the authorizer process still says {got:?} after a second");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    // Nothing else is served there: no identity service, no AWS endpoint.
    let list = ipb::ListUsersRequest { account_id: a.clone(), ..Default::default() };
    let absent = only.identity.list_users(common::internal(&common::redis_master_key(), list)).await;
    assert_eq!(absent.unwrap_err().code(), tonic::Code::Unimplemented);
    let (status, _) = common::signed_post(
        only.server.http_addr,
        &key.access_key_id,
        &key.secret_access_key,
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    assert!(status.contains("404"), "{status}");
    let key_id = key.access_key_id;
    let delete_key =
        ipb::DeleteAccessKeyRequest { account_id: a.clone(), user_name: Some(name.clone()), access_key_id: key_id };
    h.identity.delete_access_key(delete_key).await.unwrap();
    h.identity.delete_user(ipb::DeleteUserRequest { account_id: a, user_name: name }).await.unwrap();
}

/// An identity token Tessera minted (`GetWebIdentityToken`) is a bearer credential for the
/// audience it names: a user's is decided as the user, a role session's as that session (its
/// session policy included), and a revoked session's is refused.
#[tokio::test]
async fn identity_tokens_are_bearer_credentials_for_their_audience() {
    let mut h = start().await;
    let a = h.account.clone();
    let channel = Channel::from_shared(format!("http://{}", h.server.grpc_addr)).unwrap().connect().await.unwrap();
    let mut authorizer = AuthorizerServiceClient::new(channel.clone());
    let mut sts = StsServiceClient::new(channel);
    let key = common::user_with_key(&mut h, "alice").await;
    let put = |entity: c::EntityRef, name: &str, document: &str| ppb::PutInlinePolicyRequest {
        account_id: a.clone(),
        entity: Some(entity),
        policy_name: name.into(),
        policy_document: document.into(),
    };
    let alice = || c::EntityRef { kind: c::EntityKind::User.into(), name: "alice".into() };
    h.policy.put_inline_policy(put(alice(), "p", POLICY)).await.unwrap();
    let role_arn = format!("arn:aws:iam::{a}:role/reader");
    let assume = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{role_arn}"}}]}}"#
    );
    h.policy.put_inline_policy(put(alice(), "assume", &assume)).await.unwrap();
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{a}:user/alice"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    h.identity
        .create_role(ipb::CreateRoleRequest {
            account_id: a.clone(),
            role_name: "reader".into(),
            assume_role_policy_document: trust,
            ..Default::default()
        })
        .await
        .unwrap();
    let reader = c::EntityRef { kind: c::EntityKind::Role.into(), name: "reader".into() };
    let read_all =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    h.policy.put_inline_policy(put(reader, "read", read_all)).await.unwrap();

    let mut minter = sts.clone();
    let mut mint = async |caller: spb::Caller| {
        minter
            .get_web_identity_token(spb::GetWebIdentityTokenRequest {
                caller: Some(caller),
                audience: vec!["widgets".into()],
                duration_seconds: None,
            })
            .await
            .unwrap()
            .into_inner()
            .web_identity_token
    };
    let by_key = spb::Caller { access_key_id: key.access_key_id.clone(), session_token: None, source_ip: None };
    let user_token = mint(by_key.clone()).await;
    let ask = |token: &str, audience: Option<&str>, object: &str| pb::AuthorizeRequest {
        credential: Some(pb::authorize_request::Credential::Bearer(pb::Bearer {
            token: token.to_owned(),
            audience: audience.map(str::to_owned),
        })),
        question: Some(question("s3:GetObject", &format!("arn:aws:s3:::bucket/{object}"), &[])),
        source_ip: None,
    };
    for object in ["public/a.txt", "public/secret", "private/a.txt"] {
        let want = engine(&a, "s3:GetObject", &format!("arn:aws:s3:::bucket/{object}"), &[]);
        let got = authorizer.authorize(ask(&user_token, Some("widgets"), object)).await.unwrap().into_inner();
        assert_eq!(outcome(&got), want, "{object}");
        assert_eq!(got.caller.unwrap().arn, format!("arn:aws:iam::{a}:user/alice"));
    }
    // Another audience's service cannot use it, nor can anyone alter it.
    let other = error(authorizer.authorize(ask(&user_token, Some("gadgets"), "public/a.txt")).await);
    assert_eq!(other.code, ErrorCode::InvalidIdentityToken, "{}", other.message);
    let unnamed = error(authorizer.authorize(ask(&user_token, None, "public/a.txt")).await);
    assert_eq!(unnamed.code, ErrorCode::InvalidInput, "{}", unnamed.message);
    let mut tampered = user_token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let forged = error(authorizer.authorize(ask(&tampered, Some("widgets"), "public/a.txt")).await);
    assert_eq!(forged.code, ErrorCode::InvalidIdentityToken);

    // A role session with a session policy: the token is decided as the session.
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/public/*"}]}"#;
    let assumed = sts
        .assume_role(spb::AssumeRoleRequest {
            caller: Some(by_key),
            role_arn: role_arn.clone(),
            role_session_name: "narrow".into(),
            policy: Some(narrow.into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let credentials = assumed.credentials.unwrap();
    let session_token = mint(spb::Caller {
        access_key_id: credentials.access_key_id.clone(),
        session_token: Some(credentials.session_token.clone()),
        source_ip: None,
    })
    .await;
    let public = authorizer.authorize(ask(&session_token, Some("widgets"), "public/a.txt")).await.unwrap();
    assert_eq!(outcome(&public.into_inner()), pb::Outcome::Allowed);
    let private = authorizer.authorize(ask(&session_token, Some("widgets"), "private/a.txt")).await.unwrap();
    assert_eq!(outcome(&private.into_inner()), pb::Outcome::ImplicitDeny, "the session policy applies");

    // Revoking the role's sessions refuses the session's token too.
    sts.revoke_role_sessions(spb::RevokeRoleSessionsRequest {
        account_id: a.clone(),
        role_arn: role_arn.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let revoked = error(authorizer.authorize(ask(&session_token, Some("widgets"), "public/a.txt")).await);
    assert_eq!(revoked.code, ErrorCode::InvalidIdentityToken, "{}", revoked.message);
}

/// A decision on an IAM user reads the target's tags through the authorizer's cache, and a tag
/// change is seen by the next decision.
#[tokio::test]
async fn resource_tags_of_a_target_follow_its_tag_changes() {
    let mut h = start().await;
    let a = h.account.clone();
    let channel = Channel::from_shared(format!("http://{}", h.server.grpc_addr)).unwrap().connect().await.unwrap();
    let mut authorizer = AuthorizerServiceClient::new(channel);
    let key = common::user_with_key(&mut h, "alice").await;
    let bob = ipb::CreateUserRequest { account_id: a.clone(), user_name: "bob".into(), ..Default::default() };
    h.identity.create_user(bob).await.unwrap();
    let blue_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*",
        "Condition":{"StringEquals":{"aws:ResourceTag/team":"blue"}}}]}"#;
    h.policy
        .put_inline_policy(ppb::PutInlinePolicyRequest {
            account_id: a.clone(),
            entity: Some(c::EntityRef { kind: c::EntityKind::User.into(), name: "alice".into() }),
            policy_name: "blue".into(),
            policy_document: blue_only.into(),
        })
        .await
        .unwrap();
    let bob = format!("arn:aws:iam::{a}:user/bob");
    let mut ask = async || {
        let response = authorizer
            .authorize(pb::AuthorizeRequest {
                credential: Some(pb::authorize_request::Credential::Bearer(pb::Bearer {
                    token: format!("{}:{}", key.access_key_id, key.secret_access_key),
                    audience: None,
                })),
                question: Some(question("iam:GetUser", &bob, &[])),
                source_ip: None,
            })
            .await
            .unwrap()
            .into_inner();
        outcome(&response)
    };
    assert_eq!(ask().await, pb::Outcome::ImplicitDeny);
    let tag = |value: &str| ipb::TagResourceRequest {
        account_id: a.clone(),
        resource: Some(c::TaggableRef { kind: c::TaggableKind::User.into(), id: "bob".into() }),
        tags: vec![c::Tag { key: "team".into(), value: value.into() }],
    };
    h.identity.tag_resource(tag("blue")).await.unwrap();
    assert_eq!(ask().await, pb::Outcome::Allowed);
    h.identity.tag_resource(tag("red")).await.unwrap();
    assert_eq!(ask().await, pb::Outcome::ImplicitDeny);
}
