//! The shared harness of the STS gRPC tests: the real identity, policy and token services on
//! `127.0.0.1:0`, over one store, with a steppable fake clock, and connected gRPC clients.

#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tessera_credentials::{Argon2Params, MasterKey, RandomSource, SystemRng};
use tessera_identity::{Account, Clock, Env, Identity, Random};
use tessera_policy_service::Policies;
use tessera_proto::ServiceError;
use tessera_proto::common::v1 as c;
use tessera_proto::identity::v1 as ipb;
use tessera_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tessera_proto::policy::v1 as ppb;
use tessera_proto::policy::v1::policy_service_client::PolicyServiceClient;
use tessera_proto::sts::v1 as pb;
use tessera_proto::sts::v1::sts_service_client::StsServiceClient;
use tessera_store::{AnyStore, MemoryStore};
use tessera_sts::Sts;
use tokio::net::TcpListener;
use tonic::transport::Channel;

/// A clock the test moves by hand: expiry is tested by stepping it, never by sleeping.
#[derive(Debug)]
pub struct FakeClock(Mutex<SystemTime>);

impl FakeClock {
    /// Starts at the current whole second, so that anything comparing with the real clock (such as
    /// the sweeper of a shared Redis) sees consistent times.
    pub fn new() -> Arc<Self> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        Arc::new(Self(Mutex::new(UNIX_EPOCH + Duration::from_secs(now))))
    }

    pub fn advance(&self, secs: u64) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += Duration::from_secs(secs);
    }

    /// Now, in unix seconds.
    pub fn secs(&self) -> u64 {
        self.now().duration_since(UNIX_EPOCH).unwrap().as_secs()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An environment on the fake clock and the OS generator.
pub fn env(clock: &Arc<FakeClock>, master_key: MasterKey) -> Env {
    Env {
        clock: Arc::clone(clock) as Arc<dyn Clock>,
        random: Arc::new(Random::new(SystemRng::new().unwrap())),
        master_key: Arc::new(master_key),
        password_params: Argon2Params::FAST_FOR_TESTS,
    }
}

pub fn random_master_key() -> MasterKey {
    MasterKey::generate(&mut SystemRng::new().unwrap())
}

/// A fresh random 12-digit account id (not starting with 0, to look like the usual ones).
pub fn random_account_id() -> String {
    let mut bytes = [0u8; 12];
    SystemRng::new().unwrap().fill_bytes(&mut bytes);
    bytes.iter().enumerate().map(|(i, b)| char::from(b'0' + if i == 0 { 1 + b % 9 } else { b % 10 })).collect()
}

/// One replica: the three services served on `127.0.0.1:0`, and the STS domain it serves.
pub async fn serve(store: Arc<AnyStore>, env: Env) -> (Sts<AnyStore>, Channel) {
    let sts = Sts::start(Arc::clone(&store), env.clone()).await.expect("the token service starts");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = tonic::transport::Server::builder()
        .add_service(tessera_identity::grpc::service(Identity::new(Arc::clone(&store), env.clone())))
        .add_service(tessera_policy_service::grpc::service(Policies::new(Arc::clone(&store), env)))
        .add_service(tessera_sts::grpc::service(sts.clone()));
    tokio::spawn(
        router.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))),
    );
    // The listener is bound, so connecting needs no wait.
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    (sts, channel)
}

pub struct Harness {
    pub clock: Arc<FakeClock>,
    pub store: Arc<AnyStore>,
    /// The domain behind the server (shares its key ring and revocations).
    pub sts: Sts<AnyStore>,
    pub client: StsServiceClient<Channel>,
    pub identity: IdentityServiceClient<Channel>,
    pub policy: PolicyServiceClient<Channel>,
    pub account: String,
    /// The account root's access key id.
    pub root_key: String,
}

/// A harness over a fresh in-memory store.
pub async fn start() -> Harness {
    let clock = FakeClock::new();
    let store = Arc::new(AnyStore::from(MemoryStore::new()));
    start_on(store, &clock, random_master_key(), &random_account_id()).await
}

/// A harness over `store`, with `account` bootstrapped and the AWS-managed policies seeded.
pub async fn start_on(store: Arc<AnyStore>, clock: &Arc<FakeClock>, master_key: MasterKey, account: &str) -> Harness {
    let env = env(clock, master_key);
    tessera_policy_service::seed_aws_managed(&*store, env.now()).await.unwrap();
    let (sts, channel) = serve(Arc::clone(&store), env).await;
    let boot = sts.identity().bootstrap(Some(&Account::new(account).unwrap()), None).await.unwrap();
    Harness {
        clock: Arc::clone(clock),
        store,
        sts,
        client: StsServiceClient::new(channel.clone()),
        identity: IdentityServiceClient::new(channel.clone()),
        policy: PolicyServiceClient::new(channel),
        account: account.to_owned(),
        root_key: boot.root_access_key_id,
    }
}

/// A user with one access key.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub arn: String,
    pub user_id: String,
    pub key: String,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub arn: String,
    pub role_id: String,
}

impl Harness {
    pub async fn user(&mut self, name: &str) -> User {
        let created = self
            .identity
            .create_user(ipb::CreateUserRequest {
                account_id: self.account.clone(),
                user_name: name.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        let key = self.access_key(name).await;
        User { name: name.into(), arn: created.arn, user_id: created.user_id, key }
    }

    pub async fn access_key(&mut self, user: &str) -> String {
        let request = ipb::CreateAccessKeyRequest { account_id: self.account.clone(), user_name: Some(user.into()) };
        self.identity.create_access_key(request).await.unwrap().into_inner().access_key.unwrap().access_key_id
    }

    pub async fn role(&mut self, name: &str, trust: &str, max_session_duration: Option<i32>) -> Role {
        let created = self
            .identity
            .create_role(ipb::CreateRoleRequest {
                account_id: self.account.clone(),
                role_name: name.into(),
                assume_role_policy_document: trust.into(),
                max_session_duration,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .role
            .unwrap();
        Role { name: name.into(), arn: created.arn, role_id: created.role_id }
    }

    /// Puts an inline policy on a user through PolicyService.
    pub async fn put_user_policy(&mut self, user: &str, name: &str, document: &str) {
        self.policy
            .put_inline_policy(ppb::PutInlinePolicyRequest {
                account_id: self.account.clone(),
                entity: Some(c::EntityRef { kind: c::EntityKind::User.into(), name: user.into() }),
                policy_name: name.into(),
                policy_document: document.into(),
            })
            .await
            .unwrap();
    }

    pub async fn assume(&mut self, request: pb::AssumeRoleRequest) -> Result<pb::AssumeRoleResponse, tonic::Status> {
        self.client.assume_role(request).await.map(tonic::Response::into_inner)
    }

    pub async fn verify(&mut self, credentials: &pb::Credentials) -> Result<pb::VerifySessionResponse, tonic::Status> {
        let request = pb::VerifySessionRequest {
            access_key_id: credentials.access_key_id.clone(),
            session_token: credentials.session_token.clone(),
        };
        self.client.verify_session(request).await.map(tonic::Response::into_inner)
    }

    pub async fn whoami(&mut self, caller: Option<pb::Caller>) -> Result<pb::GetCallerIdentityResponse, tonic::Status> {
        self.client.get_caller_identity(pb::GetCallerIdentityRequest { caller }).await.map(tonic::Response::into_inner)
    }
}

/// `AssumeRole` with only the required parameters.
pub fn assuming(caller: Option<pb::Caller>, role: &Role, session: &str) -> pb::AssumeRoleRequest {
    pb::AssumeRoleRequest {
        caller,
        role_arn: role.arn.clone(),
        role_session_name: session.into(),
        ..Default::default()
    }
}

/// The caller of a call signed with long-term keys.
pub fn keys(access_key_id: &str) -> Option<pb::Caller> {
    Some(pb::Caller { access_key_id: access_key_id.into(), session_token: None, source_ip: None })
}

/// The caller of a call signed with temporary credentials.
pub fn session(credentials: &pb::Credentials) -> Option<pb::Caller> {
    Some(pb::Caller {
        access_key_id: credentials.access_key_id.clone(),
        session_token: Some(credentials.session_token.clone()),
        source_ip: None,
    })
}

/// A trust policy statement allowing `principal` (an AWS principal ARN) the `actions`, with an
/// optional condition block (JSON).
pub fn trust(principal: &str, actions: &[&str], condition: Option<serde_json::Value>) -> String {
    let mut statement = serde_json::json!({
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": actions,
    });
    if let Some(condition) = condition {
        statement["Condition"] = condition;
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

/// An identity policy with one statement.
pub fn identity_policy(effect: &str, action: &str, resource: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": effect, "Action": action, "Resource": resource}],
    })
    .to_string()
}

/// The AWS error (code and message) a failed call carries.
pub fn error<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> ServiceError {
    ServiceError::from_status(&result.expect_err("the call should fail"))
}

/// Unix seconds of a protobuf timestamp.
pub fn secs(timestamp: Option<&prost_types::Timestamp>) -> u64 {
    u64::try_from(timestamp.expect("a timestamp").seconds).unwrap()
}

pub fn tag(key: &str, value: &str) -> c::Tag {
    c::Tag { key: key.into(), value: value.into() }
}
