//! End-to-end tests of `PolicyService`: the real tonic server in-process on `127.0.0.1:0`, a
//! generated client, and users, groups and roles created through `tessera_identity::Identity` on
//! the same store. Every operation and every error code it can return is asserted as the client
//! sees it: the gRPC code, the AWS code carried in the metadata, and AWS's message where the
//! reference gives one.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Server};
use tonic::{Status, Streaming};

use tessera_credentials::{Argon2Params, MasterKey, SystemRng};
use tessera_identity::{Account, CreateRole, CreateUser, Env, Identity, Random, SystemClock};
use tessera_policy_service::{AWS_MANAGED, Policies, SourceType, seed_aws_managed, service};
use tessera_proto::common::v1::{self as common, EntityFilter, EntityKind, EntityRef, PageRequest};
use tessera_proto::error::{ErrorCode, ServiceError};
use tessera_proto::policy::v1::policy_service_client::PolicyServiceClient;
use tessera_proto::policy::v1::*;
use tessera_store::iam::EntityKind as Kind;
use tessera_store::{MemoryStore, RedbStore, Store};

const ACCOUNT: &str = "123456789012";
const OTHER_ACCOUNT: &str = "210987654321";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// A managed policy document allowing `action` on everything.
fn doc(action: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#)
}

/// A valid document of exactly `size` characters without white space (at least 80).
fn doc_of_size(size: usize) -> String {
    let base = doc("s3:GetObject");
    let padding = size - base.len() + "s3:GetObject".len();
    let action = format!("s3:{}", "A".repeat(padding - 3));
    let document = doc(&action);
    assert_eq!(document.len(), size);
    document
}

fn local_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:policy/{name}")
}

fn user(name: &str) -> Option<EntityRef> {
    Some(EntityRef { kind: EntityKind::User.into(), name: name.into() })
}

fn group(name: &str) -> Option<EntityRef> {
    Some(EntityRef { kind: EntityKind::Group.into(), name: name.into() })
}

fn role(name: &str) -> Option<EntityRef> {
    Some(EntityRef { kind: EntityKind::Role.into(), name: name.into() })
}

fn page(max_items: i32, marker: Option<String>) -> Option<PageRequest> {
    Some(PageRequest { marker, max_items: Some(max_items) })
}

/// Asserts that a call failed with `code` on both the gRPC and the AWS level, and with `message`
/// when one is given.
#[track_caller]
fn assert_error<T: Debug>(result: Result<T, Status>, code: ErrorCode, message: Option<&str>) -> ServiceError {
    let status = result.expect_err("the call should have failed");
    assert_eq!(status.code(), code.grpc_code(), "{status:?}");
    let error = ServiceError::from_status(&status);
    assert_eq!(error.code, code, "{error}");
    if let Some(message) = message {
        assert_eq!(error.message, message);
    }
    error
}

fn env() -> Env {
    let mut rng = SystemRng::new().expect("the OS random generator");
    Env {
        clock: Arc::new(SystemClock),
        master_key: Arc::new(MasterKey::generate(&mut rng)),
        random: Arc::new(Random::new(rng)),
        password_params: Argon2Params::FAST_FOR_TESTS,
    }
}

/// A running server and what the tests drive it with.
struct Harness<S> {
    client: PolicyServiceClient<Channel>,
    identity: Identity<S>,
    policies: Policies<S>,
    account: Account,
}

impl<S: Store> Harness<S> {
    async fn start(store: S) -> Self {
        let store = Arc::new(store);
        let env = env();
        seed_aws_managed(&*store, env.now()).await.unwrap();
        let policies = Policies::new(Arc::clone(&store), env.clone());
        // Bound before the server task starts, so the client's connection is queued, not refused.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = Server::builder().add_service(service(policies.clone()));
        tokio::spawn(
            server.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))),
        );
        let client = PolicyServiceClient::connect(format!("http://{address}")).await.unwrap();
        Self { client, identity: Identity::new(store, env), policies, account: Account::new(ACCOUNT).unwrap() }
    }

    fn client(&self) -> PolicyServiceClient<Channel> {
        self.client.clone()
    }

    async fn user(&self, name: &str) {
        let input = CreateUser { user_name: name.into(), ..Default::default() };
        self.identity.create_user(&self.account, input).await.unwrap();
    }

    async fn group(&self, name: &str) {
        self.identity.create_group(&self.account, None, name).await.unwrap();
    }

    async fn role(&self, name: &str, path: Option<&str>) {
        let input = CreateRole {
            role_name: name.into(),
            path: path.map(str::to_owned),
            assume_role_policy_document: TRUST.into(),
            ..Default::default()
        };
        self.identity.create_role(&self.account, input).await.unwrap();
    }

    async fn create(&self, name: &str, path: Option<&str>) -> Result<Policy, Status> {
        let request = CreatePolicyRequest {
            account_id: ACCOUNT.into(),
            policy_name: name.into(),
            path: path.map(str::to_owned),
            policy_document: doc("s3:GetObject"),
            description: Some(format!("the {name} policy")),
            tags: vec![common::Tag { key: "team".into(), value: "infra".into() }],
        };
        Ok(self.client().create_policy(request).await?.into_inner().policy.unwrap())
    }

    async fn get(&self, arn: &str) -> Result<Policy, Status> {
        let request = GetPolicyRequest { account_id: ACCOUNT.into(), policy_arn: arn.into() };
        Ok(self.client().get_policy(request).await?.into_inner().policy.unwrap())
    }

    async fn list(&self, request: ListPoliciesRequest) -> Result<ListPoliciesResponse, Status> {
        Ok(self
            .client()
            .list_policies(ListPoliciesRequest { account_id: ACCOUNT.into(), ..request })
            .await?
            .into_inner())
    }

    async fn delete(&self, arn: &str) -> Result<(), Status> {
        let request = DeletePolicyRequest { account_id: ACCOUNT.into(), policy_arn: arn.into() };
        self.client().delete_policy(request).await.map(drop)
    }

    async fn create_version(&self, arn: &str, document: &str, default: bool) -> Result<PolicyVersion, Status> {
        let request = CreatePolicyVersionRequest {
            account_id: ACCOUNT.into(),
            policy_arn: arn.into(),
            policy_document: document.into(),
            set_as_default: Some(default),
        };
        Ok(self.client().create_policy_version(request).await?.into_inner().policy_version.unwrap())
    }

    async fn get_version(&self, arn: &str, version: &str) -> Result<PolicyVersion, Status> {
        let request =
            GetPolicyVersionRequest { account_id: ACCOUNT.into(), policy_arn: arn.into(), version_id: version.into() };
        Ok(self.client().get_policy_version(request).await?.into_inner().policy_version.unwrap())
    }

    async fn list_versions(&self, arn: &str, page: Option<PageRequest>) -> Result<ListPolicyVersionsResponse, Status> {
        let request = ListPolicyVersionsRequest { account_id: ACCOUNT.into(), policy_arn: arn.into(), page };
        Ok(self.client().list_policy_versions(request).await?.into_inner())
    }

    async fn delete_version(&self, arn: &str, version: &str) -> Result<(), Status> {
        let request = DeletePolicyVersionRequest {
            account_id: ACCOUNT.into(),
            policy_arn: arn.into(),
            version_id: version.into(),
        };
        self.client().delete_policy_version(request).await.map(drop)
    }

    async fn set_default(&self, arn: &str, version: &str) -> Result<(), Status> {
        let request = SetDefaultPolicyVersionRequest {
            account_id: ACCOUNT.into(),
            policy_arn: arn.into(),
            version_id: version.into(),
        };
        self.client().set_default_policy_version(request).await.map(drop)
    }

    async fn attach(&self, entity: Option<EntityRef>, arn: &str) -> Result<(), Status> {
        let request = AttachPolicyRequest { account_id: ACCOUNT.into(), entity, policy_arn: arn.into() };
        self.client().attach_policy(request).await.map(drop)
    }

    async fn detach(&self, entity: Option<EntityRef>, arn: &str) -> Result<(), Status> {
        let request = DetachPolicyRequest { account_id: ACCOUNT.into(), entity, policy_arn: arn.into() };
        self.client().detach_policy(request).await.map(drop)
    }

    async fn attached(&self, entity: Option<EntityRef>, path_prefix: Option<&str>) -> Result<Vec<String>, Status> {
        let request = ListAttachedPoliciesRequest {
            account_id: ACCOUNT.into(),
            entity,
            path_prefix: path_prefix.map(str::to_owned),
            page: None,
        };
        let response = self.client().list_attached_policies(request).await?.into_inner();
        Ok(response.attached_policies.into_iter().map(|p| p.policy_arn).collect())
    }

    async fn entities(&self, arn: &str, filter: EntityFilter, usage: PolicyUsage) -> Result<Vec<String>, Status> {
        let request = ListEntitiesForPolicyRequest {
            account_id: ACCOUNT.into(),
            policy_arn: arn.into(),
            entity_filter: filter.into(),
            path_prefix: None,
            policy_usage_filter: usage.into(),
            page: None,
        };
        let r = self.client().list_entities_for_policy(request).await?.into_inner();
        let users = r.policy_users.into_iter().map(|u| format!("user/{}", u.user_name));
        let groups = r.policy_groups.into_iter().map(|g| format!("group/{}", g.group_name));
        let roles = r.policy_roles.into_iter().map(|r| format!("role/{}", r.role_name));
        Ok(users.chain(groups).chain(roles).collect())
    }

    async fn put_inline(&self, entity: Option<EntityRef>, name: &str, document: &str) -> Result<(), Status> {
        let request = PutInlinePolicyRequest {
            account_id: ACCOUNT.into(),
            entity,
            policy_name: name.into(),
            policy_document: document.into(),
        };
        self.client().put_inline_policy(request).await.map(drop)
    }

    async fn get_inline(&self, entity: Option<EntityRef>, name: &str) -> Result<GetInlinePolicyResponse, Status> {
        let request = GetInlinePolicyRequest { account_id: ACCOUNT.into(), entity, policy_name: name.into() };
        Ok(self.client().get_inline_policy(request).await?.into_inner())
    }

    async fn delete_inline(&self, entity: Option<EntityRef>, name: &str) -> Result<(), Status> {
        let request = DeleteInlinePolicyRequest { account_id: ACCOUNT.into(), entity, policy_name: name.into() };
        self.client().delete_inline_policy(request).await.map(drop)
    }

    async fn list_inline(
        &self,
        entity: Option<EntityRef>,
        page: Option<PageRequest>,
    ) -> Result<ListInlinePoliciesResponse, Status> {
        let request = ListInlinePoliciesRequest { account_id: ACCOUNT.into(), entity, page };
        Ok(self.client().list_inline_policies(request).await?.into_inner())
    }

    async fn watch(&self, account_id: &str) -> Streaming<PolicyEpoch> {
        let request = WatchPolicyEpochsRequest { account_id: account_id.into() };
        self.client().watch_policy_epochs(request).await.unwrap().into_inner()
    }
}

async fn memory() -> Harness<MemoryStore> {
    Harness::start(MemoryStore::new()).await
}

/// The next message of an epoch stream, failing the test if none comes within 10 s.
async fn next_epoch(stream: &mut Streaming<PolicyEpoch>) -> PolicyEpoch {
    let next = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("an epoch in time");
    next.expect("the stream is open").expect("an epoch, not an error")
}

fn names(policies: &[Policy]) -> Vec<&str> {
    policies.iter().map(|p| p.policy_name.as_str()).collect()
}

#[tokio::test]
async fn managed_policies_are_created_read_listed_and_deleted() {
    let h = memory().await;
    let created = h.create("Readers", Some("/team/")).await.unwrap();
    assert_eq!(created.arn, "arn:aws:iam::123456789012:policy/team/Readers");
    assert!(created.policy_id.starts_with("ANPA") && created.policy_id.len() == 21, "{}", created.policy_id);
    assert_eq!((created.path.as_str(), created.default_version_id.as_str()), ("/team/", "v1"));
    assert_eq!((created.attachment_count, created.permissions_boundary_usage_count), (0, 0));
    assert!(created.is_attachable);
    assert_eq!(created.description.as_deref(), Some("the Readers policy"));
    assert_eq!(created.tags, [common::Tag { key: "team".into(), value: "infra".into() }]);
    assert!(created.create_date.is_some() && created.create_date == created.update_date);
    assert_eq!(h.get(&created.arn).await.unwrap(), created);

    // Names are unique without case and whatever the path.
    assert_error(
        h.create("READERS", None).await,
        ErrorCode::EntityAlreadyExists,
        Some("A policy called READERS already exists. Duplicate names are not allowed."),
    );
    h.create("Writers", None).await.unwrap();
    h.create("Auditors", None).await.unwrap();

    let local = h.list(ListPoliciesRequest { scope: PolicyScope::Local.into(), ..Default::default() }).await.unwrap();
    assert_eq!(names(&local.policies), ["Auditors", "Readers", "Writers"]);
    assert!(!local.page.unwrap().is_truncated);
    let aws = h.list(ListPoliciesRequest { scope: PolicyScope::Aws.into(), ..Default::default() }).await.unwrap();
    assert_eq!(aws.policies.len(), AWS_MANAGED.len());
    assert!(aws.policies.iter().all(|p| p.arn.starts_with("arn:aws:iam::aws:policy/")));
    let all = h.list(ListPoliciesRequest::default()).await.unwrap();
    assert_eq!(all.policies.len(), AWS_MANAGED.len() + 3);
    let team = h.list(ListPoliciesRequest { path_prefix: Some("/team".into()), ..Default::default() }).await.unwrap();
    assert_eq!(names(&team.policies), ["Readers"]);

    // Paging walks the whole list once, in order.
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let request =
            ListPoliciesRequest { scope: PolicyScope::Local.into(), page: page(2, marker), ..Default::default() };
        let response = h.list(request).await.unwrap();
        seen.extend(response.policies.into_iter().map(|p| p.policy_name));
        let info = response.page.unwrap();
        if !info.is_truncated {
            break;
        }
        marker = info.marker;
    }
    assert_eq!(seen, ["Auditors", "Readers", "Writers"]);

    h.delete(&created.arn).await.unwrap();
    let missing = format!("Policy {} was not found.", created.arn);
    assert_error(h.get(&created.arn).await, ErrorCode::NoSuchEntity, Some(&missing));
    assert_error(h.delete(&created.arn).await, ErrorCode::NoSuchEntity, Some(&missing));
    // The right name under the wrong path is not the policy.
    let wrong_path = local_arn("Writers").replace("policy/", "policy/other/");
    assert_error(h.get(&wrong_path).await, ErrorCode::NoSuchEntity, None);
    // Another account's policy is not visible.
    let foreign = format!("arn:aws:iam::{OTHER_ACCOUNT}:policy/Writers");
    assert_error(h.get(&foreign).await, ErrorCode::NoSuchEntity, Some(&format!("Policy {foreign} was not found.")));
}

#[tokio::test]
async fn bad_input_is_refused_with_the_aws_code() {
    let h = memory().await;
    let create = |name: &str, path: Option<&str>, document: String, description: Option<String>| CreatePolicyRequest {
        account_id: ACCOUNT.into(),
        policy_name: name.into(),
        path: path.map(str::to_owned),
        policy_document: document,
        description,
        tags: vec![],
    };
    let mut client = h.client();
    let e = assert_error(
        client.create_policy(create("bad name", None, doc("s3:*"), None)).await,
        ErrorCode::ValidationError,
        None,
    );
    assert!(e.message.contains("at 'policyName' failed to satisfy constraint"), "{e}");
    let e = assert_error(
        client.create_policy(create("p", Some("no-slash"), doc("s3:*"), None)).await,
        ErrorCode::ValidationError,
        None,
    );
    assert!(e.message.contains("at 'path'"), "{e}");
    let long = Some("d".repeat(1001));
    let e = assert_error(
        client.create_policy(create("p", None, doc("s3:*"), long)).await,
        ErrorCode::ValidationError,
        None,
    );
    assert!(e.message.contains("at 'description'"), "{e}");
    assert_error(
        client.create_policy(create("p", None, "{not json".into(), None)).await,
        ErrorCode::MalformedPolicyDocument,
        None,
    );
    let no_resource = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#;
    assert_error(
        client.create_policy(create("p", None, no_resource.into(), None)).await,
        ErrorCode::MalformedPolicyDocument,
        None,
    );
    // 6,144 characters without white space is the managed policy quota; white space is free.
    let at_limit = doc_of_size(6_144).replace(',', ",\n        ");
    client.create_policy(create("AtLimit", None, at_limit, None)).await.unwrap();
    assert_error(
        client.create_policy(create("TooBig", None, doc_of_size(6_145), None)).await,
        ErrorCode::LimitExceeded,
        Some("Cannot exceed quota for PolicySize: 6144"),
    );
    assert_error(h.get("not-an-arn").await, ErrorCode::InvalidInput, Some("ARN not-an-arn is not valid."));
    assert_error(h.get("arn:aws:iam::123456789012:user/alice").await, ErrorCode::InvalidInput, None);
    let bad_account = GetPolicyRequest { account_id: "12".into(), policy_arn: ADMIN.into() };
    assert_error(client.get_policy(bad_account).await, ErrorCode::InvalidInput, None);
    let bad_scope = ListPoliciesRequest { scope: 42, ..Default::default() };
    assert_error(h.list(bad_scope).await, ErrorCode::ValidationError, None);
    let bad_prefix = ListPoliciesRequest { path_prefix: Some("nope".into()), ..Default::default() };
    assert_error(h.list(bad_prefix).await, ErrorCode::ValidationError, None);
    let bad_page = ListPoliciesRequest { page: page(0, None), ..Default::default() };
    assert_error(h.list(bad_page).await, ErrorCode::ValidationError, None);
    assert_error(h.attach(None, ADMIN).await, ErrorCode::ValidationError, None);
    h.role("r", None).await;
    assert_error(h.put_inline(role("r"), "bad name", &doc("s3:*")).await, ErrorCode::ValidationError, None);
    assert_error(h.get_version(ADMIN, "1").await, ErrorCode::ValidationError, None);
    assert_error(h.delete_version(&local_arn("AtLimit"), "v1.x_y").await, ErrorCode::ValidationError, None);
    assert_error(
        h.create_version(&local_arn("AtLimit"), &doc_of_size(6_145), true).await,
        ErrorCode::LimitExceeded,
        Some("Cannot exceed quota for PolicySize: 6144"),
    );
    assert_error(h.detach(role("r"), "arn:aws:iam::123456789012:role/r").await, ErrorCode::InvalidInput, None);
    assert_error(h.attached(role("r"), Some("no-slash")).await, ErrorCode::ValidationError, None);
    let bad_filter = ListEntitiesForPolicyRequest {
        account_id: ACCOUNT.into(),
        policy_arn: ADMIN.into(),
        entity_filter: 99,
        ..Default::default()
    };
    assert_error(client.list_entities_for_policy(bad_filter).await, ErrorCode::ValidationError, None);
    let bad_marker = ListPoliciesRequest { page: page(10, Some("m".repeat(321))), ..Default::default() };
    assert_error(h.list(bad_marker).await, ErrorCode::InvalidInput, Some("Invalid Marker."));

    // Tags follow the identity service's rules.
    let tag = |key: &str| common::Tag { key: key.into(), value: "v".into() };
    let mut tagged = create("Tagged", None, doc("s3:*"), None);
    tagged.tags = vec![tag("aws:reserved")];
    assert_error(client.create_policy(tagged.clone()).await, ErrorCode::ValidationError, None);
    tagged.tags = vec![tag("Team"), tag("team")];
    assert_error(client.create_policy(tagged.clone()).await, ErrorCode::InvalidInput, None);
    tagged.tags = (0..51).map(|n| tag(&format!("k{n}"))).collect();
    assert_error(
        client.create_policy(tagged).await,
        ErrorCode::LimitExceeded,
        Some("Cannot exceed quota for TagsPerPolicy: 50"),
    );
}

#[tokio::test]
async fn versions_are_numbered_limited_and_deleted_with_rules() {
    let h = memory().await;
    let arn = h.create("Versioned", None).await.unwrap().arn;
    for n in 2..=5 {
        let version = h.create_version(&arn, &doc(&format!("s3:Action{n}")), false).await.unwrap();
        assert_eq!(version.version_id, format!("v{n}"));
        assert!(!version.is_default_version);
    }
    assert_error(
        h.create_version(&arn, &doc("s3:Six"), true).await,
        ErrorCode::LimitExceeded,
        Some(
            "A managed policy can have up to 5 versions. Before you create a new version, you must delete an \
             existing version.",
        ),
    );
    assert_error(h.create_version(&arn, "[]", false).await, ErrorCode::MalformedPolicyDocument, None);

    // Newest first, page by page.
    let first = h.list_versions(&arn, page(3, None)).await.unwrap();
    let ids: Vec<_> = first.versions.iter().map(|v| v.version_id.as_str()).collect();
    assert_eq!(ids, ["v5", "v4", "v3"]);
    let rest = h.list_versions(&arn, page(3, first.page.unwrap().marker)).await.unwrap();
    let ids: Vec<_> = rest.versions.iter().map(|v| (v.version_id.as_str(), v.is_default_version)).collect();
    assert_eq!(ids, [("v2", false), ("v1", true)]);
    assert!(!rest.page.unwrap().is_truncated);

    let v3 = h.get_version(&arn, "v3").await.unwrap();
    assert_eq!(v3.document, doc("s3:Action3"));
    assert!(v3.create_date.is_some());
    assert_error(
        h.get_version(&arn, "v9").await,
        ErrorCode::NoSuchEntity,
        Some(&format!("Policy {arn} version v9 does not exist or is not attachable.")),
    );

    h.set_default(&arn, "v3").await.unwrap();
    assert_eq!(h.get(&arn).await.unwrap().default_version_id, "v3");
    assert!(h.get_version(&arn, "v3").await.unwrap().is_default_version);
    assert_error(h.set_default(&arn, "v9").await, ErrorCode::NoSuchEntity, None);
    assert_error(
        h.delete_version(&arn, "v3").await,
        ErrorCode::DeleteConflict,
        Some("Cannot delete the default version of a policy."),
    );
    assert_error(h.delete_version(&arn, "v9").await, ErrorCode::NoSuchEntity, None);
    assert_error(
        h.delete(&arn).await,
        ErrorCode::DeleteConflict,
        Some(
            "This policy has more than one version. Before you delete a policy, you must delete the policy's \
             versions. The default version is deleted with the policy.",
        ),
    );

    // A deleted version's number is never reused, and a new default takes effect at once.
    h.delete_version(&arn, "v5").await.unwrap();
    let v6 = h.create_version(&arn, &doc("s3:Six"), true).await.unwrap();
    assert_eq!((v6.version_id.as_str(), v6.is_default_version), ("v6", true));
    assert_eq!(h.get(&arn).await.unwrap().default_version_id, "v6");
    for old in ["v1", "v2", "v3", "v4"] {
        h.delete_version(&arn, old).await.unwrap();
    }
    let left = h.list_versions(&arn, None).await.unwrap();
    assert_eq!(left.versions.len(), 1);
    h.delete(&arn).await.unwrap();
    assert_error(h.list_versions(&arn, None).await, ErrorCode::NoSuchEntity, None);
    assert_error(h.create_version(&arn, &doc("s3:*"), false).await, ErrorCode::NoSuchEntity, None);
}

#[tokio::test]
async fn aws_managed_policies_are_readable_attachable_and_read_only() {
    let h = memory().await;
    let admin = h.get(ADMIN).await.unwrap();
    assert_eq!((admin.policy_name.as_str(), admin.path.as_str()), ("AdministratorAccess", "/"));
    assert!(admin.policy_id.starts_with("ANPA"));
    let power = h.get("arn:aws:iam::aws:policy/PowerUserAccess").await.unwrap();
    assert_eq!(power.default_version_id, "v12");
    let document = h.get_version(ADMIN, &admin.default_version_id).await.unwrap().document;
    assert!(document.contains(r#""Action": "*""#), "{document}");
    let versions = h.list_versions(ADMIN, None).await.unwrap();
    assert_eq!(versions.versions.len(), 1);

    h.role("ops", None).await;
    h.attach(role("ops"), ADMIN).await.unwrap();
    assert_eq!(h.get(ADMIN).await.unwrap().attachment_count, 1);
    assert_eq!(h.entities(ADMIN, EntityFilter::Unspecified, PolicyUsage::Unspecified).await.unwrap(), ["role/ops"]);
    let attached_only = ListPoliciesRequest { only_attached: Some(true), ..Default::default() };
    assert_eq!(names(&h.list(attached_only).await.unwrap().policies), ["AdministratorAccess"]);

    let unmodifiable = format!("Policy {ADMIN} is an AWS managed policy and cannot be modified.");
    assert_error(h.delete(ADMIN).await, ErrorCode::UnmodifiableEntity, Some(&unmodifiable));
    assert_error(h.create_version(ADMIN, &doc("s3:*"), true).await, ErrorCode::UnmodifiableEntity, None);
    assert_error(h.set_default(ADMIN, "v1").await, ErrorCode::UnmodifiableEntity, None);
    assert_error(h.delete_version(ADMIN, "v1").await, ErrorCode::UnmodifiableEntity, None);
    assert_error(h.get("arn:aws:iam::aws:policy/NoSuchThing").await, ErrorCode::NoSuchEntity, None);
}

#[tokio::test]
async fn attachments_are_limited_idempotent_and_listed_from_both_sides() {
    let h = memory().await;
    h.user("alice").await;
    h.group("devs").await;
    h.role("app", Some("/svc/")).await;
    let arn = h.create("Shared", None).await.unwrap().arn;

    for entity in [user("alice"), group("devs"), role("app")] {
        h.attach(entity.clone(), &arn).await.unwrap();
        // Attaching again changes nothing.
        h.attach(entity.clone(), &arn).await.unwrap();
        assert_eq!(h.attached(entity, None).await.unwrap(), vec![arn.clone()]);
    }
    assert_eq!(h.get(&arn).await.unwrap().attachment_count, 3);
    let all = h.entities(&arn, EntityFilter::Unspecified, PolicyUsage::Unspecified).await.unwrap();
    assert_eq!(all, ["user/alice", "group/devs", "role/app"]);
    assert_eq!(h.entities(&arn, EntityFilter::Role, PolicyUsage::Unspecified).await.unwrap(), ["role/app"]);
    assert_eq!(h.entities(&arn, EntityFilter::Group, PolicyUsage::PermissionsPolicy).await.unwrap(), ["group/devs"]);
    assert!(h.entities(&arn, EntityFilter::LocalManagedPolicy, PolicyUsage::Unspecified).await.unwrap().is_empty());
    assert!(h.entities(&arn, EntityFilter::Unspecified, PolicyUsage::PermissionsBoundary).await.unwrap().is_empty());
    let svc_only = ListEntitiesForPolicyRequest {
        account_id: ACCOUNT.into(),
        policy_arn: arn.clone(),
        path_prefix: Some("/svc/".into()),
        ..Default::default()
    };
    let response = h.client().list_entities_for_policy(svc_only).await.unwrap().into_inner();
    assert_eq!((response.policy_users.len(), response.policy_groups.len()), (0, 0));
    assert!(response.policy_roles[0].role_id.starts_with("AROA"));
    assert_eq!(h.attached(role("app"), Some("/other/")).await.unwrap(), Vec::<String>::new());

    assert_error(h.delete(&arn).await, ErrorCode::DeleteConflict, Some("Cannot delete a policy attached to entities."));

    // Ten per entity.
    let mut extra = Vec::new();
    for n in 0..10 {
        extra.push(h.create(&format!("Extra{n}"), Some("/extra/")).await.unwrap().arn);
    }
    for (entity, quota) in
        [(user("alice"), "PoliciesPerUser"), (group("devs"), "PoliciesPerGroup"), (role("app"), "PoliciesPerRole")]
    {
        for arn in &extra[..9] {
            h.attach(entity.clone(), arn).await.unwrap();
        }
        assert_error(
            h.attach(entity.clone(), &extra[9]).await,
            ErrorCode::LimitExceeded,
            Some(&format!("Cannot exceed quota for {quota}: 10")),
        );
        // Re-attaching one that is there is still fine at the limit.
        h.attach(entity.clone(), &arn).await.unwrap();
        assert_eq!(h.attached(entity.clone(), None).await.unwrap().len(), 10);
        assert_eq!(h.attached(entity, Some("/extra/")).await.unwrap().len(), 9);
    }
    assert_eq!(h.get(&extra[9]).await.unwrap().attachment_count, 0);

    // Detaching: from one side, seen from both.
    h.detach(role("app"), &arn).await.unwrap();
    assert_eq!(h.get(&arn).await.unwrap().attachment_count, 2);
    assert_eq!(
        h.entities(&arn, EntityFilter::Unspecified, PolicyUsage::Unspecified).await.unwrap(),
        ["user/alice", "group/devs"]
    );
    assert_error(
        h.detach(role("app"), &arn).await,
        ErrorCode::NoSuchEntity,
        Some(&format!("Policy {arn} was not found.")),
    );
    h.attach(role("app"), &extra[9]).await.unwrap();

    // What does not exist.
    let missing = local_arn("Missing");
    assert_error(
        h.attach(role("app"), &missing).await,
        ErrorCode::NoSuchEntity,
        Some(&format!("Policy {missing} does not exist or is not attachable.")),
    );
    assert_error(
        h.attach(user("bob"), &arn).await,
        ErrorCode::NoSuchEntity,
        Some("The user with name bob cannot be found."),
    );
    assert_error(
        h.detach(group("nobody"), &arn).await,
        ErrorCode::NoSuchEntity,
        Some("The group with name nobody cannot be found."),
    );
    assert_error(
        h.attached(role("ghost"), None).await,
        ErrorCode::NoSuchEntity,
        Some("The role with name ghost cannot be found."),
    );
    assert_error(
        h.entities(&missing, EntityFilter::Unspecified, PolicyUsage::Unspecified).await,
        ErrorCode::NoSuchEntity,
        None,
    );
    assert_error(h.attach(role("app"), "arn:aws:s3:::bucket").await, ErrorCode::InvalidInput, None);
}

#[tokio::test]
async fn a_policy_used_as_a_boundary_is_counted_filtered_and_cannot_be_deleted() {
    let h = memory().await;
    h.role("bounded", None).await;
    let arn = h.create("Boundary", None).await.unwrap().arn;
    h.create("Unused", None).await.unwrap();
    h.identity.set_permissions_boundary(&h.account, Kind::Role, "bounded", Some(&arn)).await.unwrap();
    let policy = h.get(&arn).await.unwrap();
    assert_eq!((policy.attachment_count, policy.permissions_boundary_usage_count), (0, 1));
    assert_eq!(
        h.entities(&arn, EntityFilter::Unspecified, PolicyUsage::PermissionsBoundary).await.unwrap(),
        ["role/bounded"]
    );
    assert!(h.entities(&arn, EntityFilter::Unspecified, PolicyUsage::PermissionsPolicy).await.unwrap().is_empty());
    let boundaries = ListPoliciesRequest {
        scope: PolicyScope::Local.into(),
        policy_usage_filter: PolicyUsage::PermissionsBoundary.into(),
        ..Default::default()
    };
    assert_eq!(names(&h.list(boundaries).await.unwrap().policies), ["Boundary"]);
    assert_error(h.delete(&arn).await, ErrorCode::DeleteConflict, Some("Cannot delete a policy attached to entities."));
}

#[tokio::test]
async fn inline_policies_replace_by_name_and_share_one_size_limit_per_entity() {
    let h = memory().await;
    h.user("alice").await;
    h.group("devs").await;
    h.role("app", None).await;

    h.put_inline(user("alice"), "ReadLogs", &doc("logs:Get*")).await.unwrap();
    h.put_inline(user("alice"), "Admin", &doc("*")).await.unwrap();
    // Same name up to case: replaced, and the new case is kept.
    h.put_inline(user("alice"), "READLOGS", &doc("logs:Describe*")).await.unwrap();
    let got = h.get_inline(user("ALICE"), "readlogs").await.unwrap();
    assert_eq!(got.policy_name, "READLOGS");
    assert_eq!(got.policy_document, doc("logs:Describe*"));
    assert_eq!(got.entity, user("alice"));
    let listed = h.list_inline(user("alice"), None).await.unwrap();
    assert_eq!(listed.policy_names, ["Admin", "READLOGS"]);
    let first = h.list_inline(user("alice"), page(1, None)).await.unwrap();
    assert_eq!(first.policy_names, ["Admin"]);
    let second = h.list_inline(user("alice"), page(1, first.page.unwrap().marker)).await.unwrap();
    assert_eq!(second.policy_names, ["READLOGS"]);

    h.delete_inline(user("alice"), "admin").await.unwrap();
    assert_error(
        h.get_inline(user("alice"), "Admin").await,
        ErrorCode::NoSuchEntity,
        Some("The user policy with name Admin cannot be found."),
    );
    assert_error(
        h.delete_inline(role("app"), "Nope").await,
        ErrorCode::NoSuchEntity,
        Some("The role policy with name Nope cannot be found."),
    );
    assert_error(
        h.get_inline(group("devs"), "Nope").await,
        ErrorCode::NoSuchEntity,
        Some("The group policy with name Nope cannot be found."),
    );
    assert_error(
        h.put_inline(user("bob"), "P", &doc("*")).await,
        ErrorCode::NoSuchEntity,
        Some("The user with name bob cannot be found."),
    );
    assert_error(h.list_inline(group("nobody"), None).await, ErrorCode::NoSuchEntity, None);
    assert_error(h.put_inline(role("app"), "P", "{").await, ErrorCode::MalformedPolicyDocument, None);
    // An identity policy must not name a Principal.
    let with_principal = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;
    assert_error(h.put_inline(role("app"), "P", with_principal).await, ErrorCode::MalformedPolicyDocument, None);

    // The limit is on all of an entity's inline policies together, white space excluded.
    for (entity, noun, name, limit) in [
        (user("alice"), "user", "alice", 2_048),
        (group("devs"), "group", "devs", 5_120),
        (role("app"), "role", "app", 10_240),
    ] {
        h.delete_inline(entity.clone(), "READLOGS").await.ok();
        let message = format!("Maximum policy size of {limit} bytes exceeded for {noun} {name}");
        let half = limit / 2;
        h.put_inline(entity.clone(), "A", &doc_of_size(half)).await.unwrap();
        h.put_inline(entity.clone(), "B", &doc_of_size(limit - half).replace(',', ",\n   ")).await.unwrap();
        assert_error(
            h.put_inline(entity.clone(), "C", &doc_of_size(100)).await,
            ErrorCode::LimitExceeded,
            Some(&message),
        );
        // Replacing counts the new document instead of the old one.
        assert_error(
            h.put_inline(entity.clone(), "a", &doc_of_size(half + 1)).await,
            ErrorCode::LimitExceeded,
            Some(&message),
        );
        h.put_inline(entity.clone(), "a", &doc_of_size(half - 10)).await.unwrap();
        // A document over the limit on its own is refused before it is parsed.
        assert_error(
            h.put_inline(entity.clone(), "Huge", &"x".repeat(limit + 1)).await,
            ErrorCode::LimitExceeded,
            Some(&message),
        );
        let listed = h.list_inline(entity, None).await.unwrap();
        assert_eq!(listed.policy_names, ["a", "B"]);
    }
}

#[tokio::test]
async fn watchers_get_the_current_epoch_then_every_rise() {
    let h = memory().await;
    h.role("app", None).await;
    let arn = h.create("Watched", None).await.unwrap().arn;
    let mut mine = h.watch(ACCOUNT).await;
    let mut everyone = h.watch("").await;
    let start = next_epoch(&mut mine).await;
    assert_eq!(start.account_id, ACCOUNT);
    assert!(start.epoch > 0, "creating the role bumped it");

    // A change in another account reaches the unfiltered watcher only.
    let other = Account::new(OTHER_ACCOUNT).unwrap();
    h.identity
        .create_role(
            &other,
            CreateRole { role_name: "x".into(), assume_role_policy_document: TRUST.into(), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(next_epoch(&mut everyone).await.account_id, OTHER_ACCOUNT);

    h.attach(role("app"), &arn).await.unwrap();
    let attached = next_epoch(&mut mine).await;
    assert_eq!(attached.account_id, ACCOUNT);
    assert!(attached.epoch > start.epoch, "{attached:?} after {start:?}");
    let seen = next_epoch(&mut everyone).await;
    assert_eq!((seen.account_id.as_str(), seen.epoch), (ACCOUNT, attached.epoch));

    // Every permission change raises it again; a no-op attach does not publish.
    h.attach(role("app"), &arn).await.unwrap();
    h.put_inline(role("app"), "P", &doc("s3:*")).await.unwrap();
    let put = next_epoch(&mut mine).await;
    assert!(put.epoch > attached.epoch);
    h.create_version(&arn, &doc("s3:List*"), true).await.unwrap();
    let versioned = next_epoch(&mut mine).await;
    assert!(versioned.epoch > put.epoch);

    let bad = WatchPolicyEpochsRequest { account_id: "nope".into() };
    assert_error(h.client().watch_policy_epochs(bad).await, ErrorCode::InvalidInput, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_attach_and_detach_never_exceed_the_limit_and_keep_both_sides_consistent() {
    let h = Arc::new(memory().await);
    h.role("busy", None).await;
    h.user("watcher").await;
    let mut arns = Vec::new();
    for n in 0..15 {
        arns.push(h.create(&format!("P{n:02}"), None).await.unwrap().arn);
    }
    // Some policies are also attached elsewhere, so counts above one are checked too.
    for arn in &arns[..4] {
        h.attach(user("watcher"), arn).await.unwrap();
    }
    // Eight stay attached throughout, so the race is for the last two slots.
    for arn in &arns[..8] {
        h.attach(role("busy"), arn).await.unwrap();
    }
    let arns = Arc::new(arns);

    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicUsize::new(0));
    let monitor = {
        let (h, done, peak) = (Arc::clone(&h), Arc::clone(&done), Arc::clone(&peak));
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let n = h.attached(role("busy"), None).await.unwrap().len();
                peak.fetch_max(n, Ordering::Relaxed);
                assert!(n <= 10, "{n} policies attached");
            }
        })
    };
    let counter = || Arc::new(AtomicUsize::new(0));
    let (attached, limited, refused, contended) = (counter(), counter(), counter(), counter());
    let mut writers = Vec::new();
    for i in 0..100 {
        let (h, arns) = (Arc::clone(&h), Arc::clone(&arns));
        let (attached, limited, refused, contended) =
            (Arc::clone(&attached), Arc::clone(&limited), Arc::clone(&refused), Arc::clone(&contended));
        writers.push(tokio::spawn(async move {
            // Both sides work on the seven policies not attached at the start.
            let arn = &arns[8 + (i / 2 * 3 + i % 2) % 7];
            let result = if i % 2 == 0 { h.attach(role("busy"), arn).await } else { h.detach(role("busy"), arn).await };
            match result.map_err(|s| ServiceError::from_status(&s).code) {
                Ok(()) if i % 2 == 0 => _ = attached.fetch_add(1, Ordering::Relaxed),
                Ok(()) => {}
                Err(ErrorCode::LimitExceeded) => _ = limited.fetch_add(1, Ordering::Relaxed),
                // A detach of what is not attached (yet, or any more).
                Err(ErrorCode::NoSuchEntity) => _ = refused.fetch_add(1, Ordering::Relaxed),
                Err(ErrorCode::ConcurrentModification) => _ = contended.fetch_add(1, Ordering::Relaxed),
                Err(other) => panic!("unexpected {other}"),
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    monitor.await.unwrap();
    let outcome = format!("attached {attached:?}, limited {limited:?}, refused {refused:?}, contended {contended:?}");
    assert!(attached.load(Ordering::Relaxed) > 0 && limited.load(Ordering::Relaxed) > 0, "{outcome}");
    eprintln!("{outcome}");
    assert!(peak.load(Ordering::Relaxed) <= 10);

    let on_role = h.attached(role("busy"), None).await.unwrap();
    let on_user = h.attached(user("watcher"), None).await.unwrap();
    assert!(on_role.len() <= 10);
    for arn in arns.iter() {
        let count = h.get(arn).await.unwrap().attachment_count;
        let listed = h.entities(arn, EntityFilter::Unspecified, PolicyUsage::PermissionsPolicy).await.unwrap();
        let holders = usize::from(on_role.contains(arn)) + usize::from(on_user.contains(arn));
        assert_eq!(usize::try_from(count).unwrap(), listed.len(), "{arn}: {listed:?}");
        assert_eq!(listed.len(), holders, "{arn}: {listed:?}");
        assert_eq!(listed.contains(&"role/busy".to_owned()), on_role.contains(arn), "{arn}");
    }
}

#[tokio::test]
async fn principal_policies_gather_a_users_own_group_and_boundary_policies() {
    let h = memory().await;
    h.user("alice").await;
    h.group("devs").await;
    h.identity.add_user_to_group(&h.account, "devs", "alice").await.unwrap();
    let own = h.create("Own", None).await.unwrap().arn;
    let boundary = h.create("Fence", None).await.unwrap().arn;
    h.put_inline(user("alice"), "Mine", &doc("s3:*")).await.unwrap();
    h.attach(user("alice"), &own).await.unwrap();
    h.put_inline(group("devs"), "Team", &doc("ec2:*")).await.unwrap();
    h.attach(group("devs"), ADMIN).await.unwrap();
    h.identity.set_permissions_boundary(&h.account, Kind::User, "alice", Some(&boundary)).await.unwrap();

    let policies = h.policies.principal_policies(&h.account, Kind::User, "alice").await.unwrap();
    let sources: Vec<(SourceType, &str)> =
        policies.identity.iter().map(|p| (p.source_type, p.source_id.as_str())).collect();
    assert_eq!(
        sources,
        [
            (SourceType::User, "Mine"),
            (SourceType::UserManaged, own.as_str()),
            (SourceType::Group, "Team"),
            (SourceType::AwsManaged, ADMIN)
        ]
    );
    assert_eq!(policies.identity[0].document, doc("s3:*"));
    assert_eq!(policies.boundary, Some((boundary, doc("s3:GetObject"))));
    let group_only = h.policies.principal_policies(&h.account, Kind::Group, "devs").await.unwrap();
    assert_eq!(group_only.identity.len(), 2);
    assert_eq!(group_only.boundary, None);
}

#[tokio::test]
async fn the_service_runs_on_the_embedded_redb_store() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start(RedbStore::open(dir.path()).unwrap()).await;
    h.role("app", None).await;
    let arn = h.create("OnDisk", None).await.unwrap().arn;
    h.attach(role("app"), &arn).await.unwrap();
    h.attach(role("app"), ADMIN).await.unwrap();
    assert_eq!(h.get(&arn).await.unwrap().attachment_count, 1);
    assert_eq!(h.attached(role("app"), None).await.unwrap(), [arn.clone(), ADMIN.to_owned()]);
    h.put_inline(role("app"), "P", &doc("s3:*")).await.unwrap();
    assert_eq!(h.get_inline(role("app"), "P").await.unwrap().policy_document, doc("s3:*"));
    assert_error(h.delete(&arn).await, ErrorCode::DeleteConflict, None);
}
