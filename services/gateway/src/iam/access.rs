//! What policies refer to and what entities used (reference §5.7): the context keys of policies
//! (`GetContextKeysForCustomPolicy`, `GetContextKeysForPrincipalPolicy`, from the policy
//! engine's parsed form), and the service last accessed reports
//! (`GenerateServiceLastAccessedDetails`, `GetServiceLastAccessedDetails[WithEntities]`,
//! `ListPoliciesGrantingServiceAccess`) built from the gateway's audit trail.
//!
//! ```text
//! Generate(Arn) --the entity's policies--> services they allow (Allow statements' actions)
//!               --the audit trail--------> last authenticated request per service and action
//!               => a COMPLETED job in this gateway's memory --Get*(JobId)--> pages of it
//! ```
//!
//! A report is built within the `Generate` call (one scan of the audit files, off the async
//! threads), so its first `Get` already answers `COMPLETED`; clients that poll until then work
//! unchanged. The audit trail is the replica's own (`<data dir>/audit`), and so are its jobs,
//! which are kept in memory (the newest [`MAX_JOBS`], for [`JOB_TTL_MILLIS`] as AWS keeps them).
//! Only IAM and STS requests reach Tessera's trail, so only their services show accesses; every
//! other service the policies allow is listed without one, as AWS lists a service never used.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use tessera_arn::{ValidationError, Violation};
use tessera_awsapi::{QueryError, Response};
use tessera_identity::{Error, PageRequest};
use tessera_policy::{Effect, Policy, PolicyKind, analysis::catalog};
use tessera_policy_service::EntityFilter;
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::EntityKind;

use super::policies::source_entity;
use crate::actions::Authorized;
use crate::context::{Cx, Result};

// ---------------------------------------------------------------------------------------------
// Context keys.

/// `PolicyInputList`, required and non-empty.
fn policy_inputs<'p, S: Store>(cx: &Cx<'p, S>, required: bool) -> Result<Vec<&'p str>> {
    match cx.params.list_opt("PolicyInputList") {
        Some(list) => Ok(list),
        None if required => {
            Err(QueryError::MissingParameter { name: "PolicyInputList".into(), member: "policyInputList".into() }
                .into())
        }
        None => Ok(Vec::new()),
    }
}

/// The request's policies, parsed as identity policies; a bad one is `InvalidInput` naming it.
fn parse_inputs(inputs: &[&str]) -> Result<Vec<Policy>> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            tessera_policy::parse_policy(text, PolicyKind::Identity)
                .map_err(|e| Error::invalid_input(format!("PolicyInputList.{}: {e}", i + 1)).into())
        })
        .collect()
}

fn context_keys_xml<S: Store>(cx: &Cx<'_, S>, policies: &[Policy]) -> String {
    let mut r = cx.response();
    r.str_list("ContextKeyNames", tessera_policy::context_keys(policies));
    r.finish(cx.request_id)
}

pub(crate) async fn get_context_keys_for_custom_policy<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let policies = parse_inputs(&policy_inputs(cx, true)?)?;
    Ok(context_keys_xml(cx, &policies))
}

/// The keys of the user's, group's or role's policies (a user's groups' included), then of the
/// request's `PolicyInputList`.
pub(crate) async fn get_context_keys_for_principal_policy<S: Store>(
    cx: &Cx<'_, S>,
    auth: Authorized,
) -> Result<String> {
    let (kind, name) = source_entity(cx, auth.arn())?;
    let extra = parse_inputs(&policy_inputs(cx, false)?)?;
    let principal = cx.gateway.policies.principal_policies(cx.account(), kind, &name).await?;
    let mut policies: Vec<Policy> =
        principal.identity.iter().filter_map(|p| tessera_policy::parse_stored_policy(&p.document).ok()).collect();
    policies.extend(extra);
    Ok(context_keys_xml(cx, &policies))
}

// ---------------------------------------------------------------------------------------------
// Service last accessed reports.

/// Jobs kept per gateway replica; the oldest is dropped beyond this.
pub(crate) const MAX_JOBS: usize = 1000;
/// How long a job can be read (AWS keeps report results for at least this long).
pub(crate) const JOB_TTL_MILLIS: u64 = 4 * 3600 * 1000;
/// How far back the trail is read: AWS's tracking period is 400 days.
const TRACKING_MILLIS: u64 = 400 * 24 * 3600 * 1000;

/// `SERVICE_LEVEL` or `ACTION_LEVEL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Granularity {
    Service,
    Action,
}

impl Granularity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Service => "SERVICE_LEVEL",
            Self::Action => "ACTION_LEVEL",
        }
    }
}

/// The most recent authenticated request of a report's entities to a service or action.
#[derive(Debug, Clone)]
struct Access {
    /// Unix milliseconds.
    time: u64,
    /// The entity's ARN (a role's, for its sessions).
    entity: String,
    region: Option<String>,
}

/// `EntityInfo`: a user, group or role whose requests a report counts.
#[derive(Debug, Clone)]
struct EntityInfo {
    arn: String,
    name: String,
    kind: &'static str,
    id: String,
    path: String,
}

#[derive(Debug)]
struct ServiceAccess {
    namespace: String,
    last: Option<Access>,
    entities: usize,
    /// Per action name (`CreateUser`), for `ACTION_LEVEL` reports.
    actions: Vec<(String, Access)>,
    /// Per entity of the report: its last request to the service.
    per_entity: Vec<Option<u64>>,
}

/// A completed report.
#[derive(Debug)]
pub(crate) struct Job {
    account: String,
    created: u64,
    completed: u64,
    granularity: Granularity,
    entities: Vec<EntityInfo>,
    services: Vec<ServiceAccess>,
}

/// The reports of this replica, by job id.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    by_id: HashMap<String, Arc<Job>>,
    order: VecDeque<String>,
}

impl Jobs {
    fn insert(&mut self, id: String, job: Job) {
        while self.order.len() >= MAX_JOBS {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
        self.order.push_back(id.clone());
        self.by_id.insert(id, Arc::new(job));
    }

    fn get(&self, id: &str, account: &str, now_ms: u64) -> Option<Arc<Job>> {
        self.by_id
            .get(id)
            .filter(|job| job.account == account && now_ms.saturating_sub(job.created) <= JOB_TTL_MILLIS)
            .cloned()
    }
}

/// The entities a report counts the requests of, and the policies whose services it lists.
struct Subject {
    entities: Vec<EntityInfo>,
    documents: Vec<String>,
}

impl Subject {
    /// The entity a request of `principal` counts for: a user itself, a role for its sessions.
    fn entity_of(&self, principal: &str) -> Option<usize> {
        self.entities.iter().position(|e| match e.kind {
            "ROLE" => {
                let account = e.arn.split(':').nth(4).unwrap_or_default();
                principal.starts_with(&format!("arn:aws:sts::{account}:assumed-role/{}/", e.name))
            }
            _ => principal == e.arn,
        })
    }
}

fn user_info(user: &tessera_store::iam::UserRecord) -> EntityInfo {
    let p = &user.principal;
    EntityInfo { arn: p.arn.clone(), name: p.name.clone(), kind: "USER", id: p.id.clone(), path: p.path.clone() }
}

fn role_info(role: &tessera_store::iam::RoleRecord) -> EntityInfo {
    let p = &role.principal;
    EntityInfo { arn: p.arn.clone(), name: p.name.clone(), kind: "ROLE", id: p.id.clone(), path: p.path.clone() }
}

fn invalid_arn(arn: &str) -> crate::respond::GatewayError {
    Error::invalid_input(format!("ARN {arn} is not valid.")).into()
}

/// What an `Arn` parameter names: a user, group or role of this account (or, where allowed, a
/// managed policy).
enum Named {
    Entity(EntityKind, String),
    Policy,
}

fn named<S: Store>(cx: &Cx<'_, S>, arn: &str, policies: bool) -> Result<Named> {
    let parsed = tessera_arn::Arn::parse(arn).map_err(|_| invalid_arn(arn))?;
    if parsed.service != "iam" {
        return Err(invalid_arn(arn));
    }
    let (noun, rest) = parsed.resource.split_once('/').ok_or_else(|| invalid_arn(arn))?;
    let name = rest.rsplit('/').next().unwrap_or_default();
    let kind = match noun {
        "user" => EntityKind::User,
        "group" => EntityKind::Group,
        "role" => EntityKind::Role,
        "policy" if policies && (parsed.account == cx.account().id() || parsed.account == "aws") => {
            return Ok(Named::Policy);
        }
        _ => return Err(invalid_arn(arn)),
    };
    if parsed.account != cx.account().id() || name.is_empty() {
        let noun = noun.to_owned();
        return Err(Error::no_such_entity(format!("The {noun} with name {name} cannot be found.")).into());
    }
    Ok(Named::Entity(kind, name.to_owned()))
}

/// Every item of a paged identity list.
async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<tessera_identity::Page<T>>>,
{
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        let got = page(PageRequest { marker, max_items: Some(1000) }).await?;
        out.extend(got.items);
        match got.marker {
            Some(next) => marker = Some(next),
            None => return Ok(out),
        }
    }
}

/// The default version's document of a managed policy.
async fn managed_document<S: Store>(cx: &Cx<'_, S>, arn: &str) -> Result<String> {
    let policies = &cx.gateway.policies;
    let policy = policies.get_policy(cx.account(), arn).await?;
    Ok(policies.get_policy_version(cx.account(), arn, &policy.record.default_version).await?.document)
}

async fn subject<S: Store>(cx: &Cx<'_, S>, arn: &str) -> Result<Subject> {
    let (identity, account) = (&cx.gateway.identity, cx.account());
    let principal_documents = |kind: EntityKind, name: String| async move {
        let principal = cx.gateway.policies.principal_policies(cx.account(), kind, &name).await?;
        Ok::<_, crate::respond::GatewayError>(principal.identity.into_iter().map(|p| p.document).collect::<Vec<_>>())
    };
    match named(cx, arn, true)? {
        Named::Entity(EntityKind::User, name) => {
            let user = identity.get_user(account, &name).await?;
            Ok(Subject {
                entities: vec![user_info(&user)],
                documents: principal_documents(EntityKind::User, name).await?,
            })
        }
        Named::Entity(EntityKind::Role, name) => {
            let role = identity.get_role(account, &name).await?;
            Ok(Subject {
                entities: vec![role_info(&role)],
                documents: principal_documents(EntityKind::Role, name).await?,
            })
        }
        Named::Entity(EntityKind::Group, name) => {
            let group = &name;
            let members =
                all_pages(|page| async move { Ok(identity.get_group(account, group, &page).await?.1) }).await?;
            let documents = principal_documents(EntityKind::Group, name.clone()).await?;
            Ok(Subject { entities: members.iter().map(user_info).collect(), documents })
        }
        Named::Policy => {
            let document = managed_document(cx, arn).await?;
            let attached = all_pages(|page| async move {
                Ok(cx
                    .gateway
                    .policies
                    .list_entities_for_policy(account, arn, EntityFilter::All, None, None, &page)
                    .await?)
            })
            .await?;
            let mut entities: Vec<EntityInfo> = Vec::new();
            for entity in attached {
                match entity.kind {
                    EntityKind::User => entities.push(user_info(&identity.get_user(account, &entity.name).await?)),
                    EntityKind::Role => entities.push(role_info(&identity.get_role(account, &entity.name).await?)),
                    EntityKind::Group => {
                        let name = entity.name.clone();
                        let members = all_pages(|page| {
                            let name = name.clone();
                            async move { Ok(identity.get_group(account, &name, &page).await?.1) }
                        })
                        .await?;
                        entities.extend(members.iter().map(user_info));
                    }
                }
            }
            entities.sort_by(|a, b| a.arn.cmp(&b.arn));
            entities.dedup_by(|a, b| a.arn == b.arn);
            Ok(Subject { entities, documents: vec![document] })
        }
    }
}

/// `*` and `?` wildcards over ASCII, case-insensitively (service prefixes are lowercase).
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The service prefixes the `Allow` statements of `documents` grant some action of (`NotAction`
/// may grant any service), in prefix order.
fn granted_services(documents: &[String]) -> Vec<&'static str> {
    let mut patterns: Vec<String> = Vec::new();
    for document in documents {
        let Ok(policy) = tessera_policy::parse_stored_policy(document) else { continue };
        for statement in policy.statements.as_slice() {
            if statement.effect != Effect::Allow {
                continue;
            }
            if statement.action.negated {
                patterns.push("*".into());
                continue;
            }
            for action in statement.action.values.as_slice() {
                patterns.push(action.split_once(':').map_or("*", |(service, _)| service).to_owned());
            }
        }
    }
    let mut services: Vec<&'static str> =
        catalog::SERVICE_PREFIXES.iter().copied().filter(|prefix| patterns.iter().any(|p| glob(p, prefix))).collect();
    services.sort_unstable();
    services.dedup();
    services
}

/// AWS's names of the services whose names it shows most; others show their prefix.
fn service_name(namespace: &str) -> String {
    let name = match namespace {
        "iam" => "AWS Identity and Access Management",
        "sts" => "AWS Security Token Service",
        "s3" => "Amazon S3",
        "ec2" => "Amazon EC2",
        "lambda" => "AWS Lambda",
        "dynamodb" => "Amazon DynamoDB",
        "sqs" => "Amazon SQS",
        "sns" => "Amazon SNS",
        "kms" => "AWS Key Management Service",
        "logs" => "Amazon CloudWatch Logs",
        "cloudwatch" => "Amazon CloudWatch",
        "cloudtrail" => "AWS CloudTrail",
        "cloudformation" => "AWS CloudFormation",
        "secretsmanager" => "AWS Secrets Manager",
        "ssm" => "AWS Systems Manager",
        "ecr" => "Amazon Elastic Container Registry",
        "ecs" => "Amazon Elastic Container Service",
        "eks" => "Amazon Elastic Container Service for Kubernetes",
        "rds" => "Amazon RDS",
        "organizations" => "AWS Organizations",
        "access-analyzer" => "IAM Access Analyzer",
        "route53" => "Amazon Route 53",
        "cloudfront" => "Amazon CloudFront",
        "apigateway" => "Amazon API Gateway",
        "kinesis" => "Amazon Kinesis",
        "elasticloadbalancing" => "Elastic Load Balancing",
        "autoscaling" => "Amazon EC2 Auto Scaling",
        _ => namespace,
    };
    name.to_owned()
}

/// The audit trail of this gateway since the tracking period began (empty without a trail).
async fn trail<S: Store>(cx: &Cx<'_, S>, now_ms: u64) -> Result<Vec<crate::audit::AuditEvent>> {
    let Some(log) = &cx.gateway.audit else { return Ok(Vec::new()) };
    let dir = log.dir().to_owned();
    let filter = crate::audit::Filter { since: Some(now_ms.saturating_sub(TRACKING_MILLIS)), ..Default::default() };
    let read = tokio::task::spawn_blocking(move || crate::audit::query(&dir, &filter)).await;
    match read {
        Ok(Ok(events)) => Ok(events),
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        _ => {
            tracing::error!("cannot read the audit trail for a last accessed report");
            Err(Error::new(ErrorCode::ServiceFailure, "The report could not be generated.").into())
        }
    }
}

/// The report of `subject` from `events`.
fn build(
    subject: Subject,
    events: &[crate::audit::AuditEvent],
    account: &str,
    granularity: Granularity,
) -> Vec<ServiceAccess> {
    let granted = granted_services(&subject.documents);
    let mut by_service: BTreeMap<&str, ServiceAccess> = granted
        .iter()
        .map(|ns| {
            let access = ServiceAccess {
                namespace: (*ns).to_owned(),
                last: None,
                entities: 0,
                actions: Vec::new(),
                per_entity: vec![None; subject.entities.len()],
            };
            (*ns, access)
        })
        .collect();
    let mut actions: HashMap<(&str, &str), Access> = HashMap::new();
    for event in events {
        // Authenticated requests of this account's entities (a refused one is an attempt too).
        let (Some(principal), Some(true)) = (&event.principal_arn, event.account.as_deref().map(|a| a == account))
        else {
            continue;
        };
        let Some((service, action)) = event.action.split_once(':') else { continue };
        let Some(index) = subject.entity_of(principal) else { continue };
        let Some(entry) = by_service.get_mut(service) else { continue };
        let access =
            Access { time: event.time, entity: subject.entities[index].arn.clone(), region: event.region.clone() };
        if entry.last.as_ref().is_none_or(|last| access.time >= last.time) {
            entry.last = Some(access.clone());
        }
        let seen = &mut entry.per_entity[index];
        if seen.is_none_or(|t| event.time >= t) {
            *seen = Some(event.time);
        }
        if granularity == Granularity::Action && matches!(service, "iam" | "sts") {
            let slot = actions.entry((service, action)).or_insert_with(|| access.clone());
            if access.time >= slot.time {
                *slot = access;
            }
        }
    }
    let mut actions: Vec<((&str, &str), Access)> = actions.into_iter().collect();
    actions.sort_by(|a, b| a.0.cmp(&b.0));
    for ((service, action), access) in actions {
        if let Some(entry) = by_service.get_mut(service) {
            entry.actions.push((action.to_owned(), access));
        }
    }
    by_service
        .into_values()
        .map(|mut s| {
            s.entities = s.per_entity.iter().filter(|t| t.is_some()).count();
            s
        })
        .collect()
}

fn job_id<S: Store>(cx: &Cx<'_, S>) -> String {
    let mut bytes = [0u8; 16];
    cx.gateway.env.random.with(|r| r.fill_bytes(&mut bytes));
    // A version 4 UUID, the form of AWS's job ids (36 characters).
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn enum_error(field: &'static str, value: &str, allowed: &str) -> crate::respond::GatewayError {
    Error::new(
        ErrorCode::ValidationError,
        format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [{allowed}]"
        ),
    )
    .into()
}

pub(crate) async fn generate_service_last_accessed_details<S: Store>(
    cx: &Cx<'_, S>,
    auth: Authorized,
) -> Result<String> {
    let granularity = match cx.get("Granularity").as_deref() {
        None | Some("SERVICE_LEVEL") => Granularity::Service,
        Some("ACTION_LEVEL") => Granularity::Action,
        Some(other) => return Err(enum_error("granularity", other, "SERVICE_LEVEL, ACTION_LEVEL")),
    };
    let created = cx.now * 1000;
    let subject = subject(cx, auth.arn()).await?;
    let events = trail(cx, created).await?;
    let account = cx.account().id().to_owned();
    let entities = subject.entities.clone();
    let services = build(subject, &events, &account, granularity);
    let completed = tessera_identity::millis(cx.gateway.env.now()).max(created);
    let id = job_id(cx);
    let job = Job { account, created, completed, granularity, entities, services };
    cx.gateway.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id.clone(), job);
    let mut r = cx.response();
    r.el("JobId", &id);
    Ok(r.finish(cx.request_id))
}

/// The job `JobId` names (36 characters, as the model requires), of this account.
fn job<S: Store>(cx: &Cx<'_, S>) -> Result<Arc<Job>> {
    let id = cx.required("JobId")?;
    let length = id.chars().count();
    if length != 36 {
        let violation = if length < 36 { Violation::MinLength(36) } else { Violation::MaxLength(36) };
        return Err(Error::from(ValidationError { field: "jobId", value: id, violations: vec![violation] }).into());
    }
    let jobs = cx.gateway.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    jobs.get(&id, cx.account().id(), cx.now * 1000)
        .ok_or_else(|| Error::no_such_entity(format!("No such job {id}")).into())
}

/// One page of `items` from the request's `Marker` (an index this gateway gave) and `MaxItems`.
fn page<'i, T, S: Store>(cx: &Cx<'_, S>, items: &'i [T]) -> Result<(&'i [T], Option<String>)> {
    let request = cx.page()?;
    let limit = request.limit()?;
    let start = match request.marker()? {
        None => 0,
        Some(marker) => match marker.parse::<usize>() {
            Ok(n) if n <= items.len() => n,
            _ => return Err(Error::invalid_input("Invalid Marker.").into()),
        },
    };
    let end = start.saturating_add(limit).min(items.len());
    Ok((&items[start..end], (end < items.len()).then(|| end.to_string())))
}

fn job_head(r: &mut Response, job: &Job) {
    r.el("JobStatus", "COMPLETED").timestamp("JobCreationDate", secs(job.created));
}

fn secs(ms: u64) -> i64 {
    super::secs(ms)
}

pub(crate) async fn get_service_last_accessed_details<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let job = job(cx)?;
    let (items, marker) = page(cx, &job.services)?;
    let mut r = cx.response();
    job_head(&mut r, &job);
    r.el("JobType", job.granularity.as_str());
    r.list("ServicesLastAccessed", items, |r, s| {
        r.el("ServiceName", &service_name(&s.namespace));
        r.opt_timestamp("LastAuthenticated", s.last.as_ref().map(|a| secs(a.time)));
        r.el("ServiceNamespace", &s.namespace);
        r.opt("LastAuthenticatedEntity", s.last.as_ref().map(|a| a.entity.as_str()));
        r.opt("LastAuthenticatedRegion", s.last.as_ref().and_then(|a| a.region.as_deref()));
        r.int("TotalAuthenticatedEntities", i64::try_from(s.entities).unwrap_or(i64::MAX));
        if job.granularity == Granularity::Action && !s.actions.is_empty() {
            r.list("TrackedActionsLastAccessed", &s.actions, |r, (action, access)| {
                r.el("ActionName", action)
                    .el("LastAccessedEntity", &access.entity)
                    .timestamp("LastAccessedTime", secs(access.time));
                r.opt("LastAccessedRegion", access.region.as_deref());
            });
        }
    });
    r.timestamp("JobCompletionDate", secs(job.completed));
    r.bool("IsTruncated", marker.is_some()).opt("Marker", marker.as_deref());
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_service_last_accessed_details_with_entities<S: Store>(
    cx: &Cx<'_, S>,
    _: Authorized,
) -> Result<String> {
    let job = job(cx)?;
    let namespace = cx.required("ServiceNamespace")?;
    let valid = (1..=64).contains(&namespace.chars().count())
        && namespace.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        let violation =
            if namespace.chars().count() > 64 { Violation::MaxLength(64) } else { Violation::Pattern("[\\w-]*") };
        let error = ValidationError { field: "serviceNamespace", value: namespace, violations: vec![violation] };
        return Err(Error::from(error).into());
    }
    let service = job.services.iter().find(|s| s.namespace.eq_ignore_ascii_case(&namespace));
    let details: Vec<(&EntityInfo, Option<u64>)> =
        job.entities.iter().enumerate().map(|(i, e)| (e, service.and_then(|s| s.per_entity[i]))).collect();
    let (items, marker) = page(cx, &details)?;
    let mut r = cx.response();
    job_head(&mut r, &job);
    r.timestamp("JobCompletionDate", secs(job.completed));
    r.list("EntityDetailsList", items, |r, (entity, last)| {
        r.nested("EntityInfo", |r| {
            r.el("Arn", &entity.arn).el("Name", &entity.name).el("Type", entity.kind).el("Id", &entity.id);
            r.el("Path", &entity.path);
        });
        r.opt_timestamp("LastAuthenticated", last.map(secs));
    });
    r.bool("IsTruncated", marker.is_some()).opt("Marker", marker.as_deref());
    Ok(r.finish(cx.request_id))
}

/// A policy that applies to the entity: inline (of the entity or one of a user's groups) or
/// managed.
struct Grant {
    name: String,
    /// `(EntityType, EntityName)` of an inline policy; `None` for a managed one.
    inline: Option<(&'static str, String)>,
    arn: Option<String>,
    document: String,
}

/// The inline and attached policies of a user, group or role, from the policy domain (the
/// identity records over gRPC do not carry them), added to `grants` once each.
async fn grants_of<S: Store>(cx: &Cx<'_, S>, kind: EntityKind, name: &str, grants: &mut Vec<Grant>) -> Result<()> {
    use tessera_policy_service::SourceType;
    let principal = cx.gateway.policies.principal_policies(cx.account(), kind, name).await?;
    let entity_type = match kind {
        EntityKind::User => "USER",
        EntityKind::Group => "GROUP",
        EntityKind::Role => "ROLE",
    };
    for source in principal.identity {
        let inline = match source.source_type {
            SourceType::AwsManaged | SourceType::UserManaged => false,
            // A user's list holds its groups' inline policies too: those come with their group.
            SourceType::Group if kind == EntityKind::User => continue,
            _ => true,
        };
        if inline {
            let owner = Some((entity_type, name.to_owned()));
            grants.push(Grant { name: source.source_id, inline: owner, arn: None, document: source.document });
        } else if !grants.iter().any(|g| g.arn.as_deref() == Some(source.source_id.as_str())) {
            let policy_name = source.source_id.rsplit('/').next().unwrap_or_default().to_owned();
            grants.push(Grant {
                name: policy_name,
                inline: None,
                arn: Some(source.source_id),
                document: source.document,
            });
        }
    }
    Ok(())
}

pub(crate) async fn list_policies_granting_service_access<S: Store>(
    cx: &Cx<'_, S>,
    auth: Authorized,
) -> Result<String> {
    let namespaces: Vec<String> = match cx.params.list_opt("ServiceNamespaces") {
        Some(list) if !list.is_empty() => list.into_iter().map(str::to_owned).collect(),
        _ => {
            return Err(QueryError::MissingParameter {
                name: "ServiceNamespaces".into(),
                member: "serviceNamespaces".into(),
            }
            .into());
        }
    };
    let (identity, account) = (&cx.gateway.identity, cx.account());
    let mut grants = Vec::new();
    match named(cx, auth.arn(), false)? {
        Named::Entity(EntityKind::User, name) => {
            // The groups' policies first, so a managed policy the user shares with a group is
            // listed once; then the user's own.
            let user = &name;
            let groups =
                all_pages(|page| async move { Ok(identity.list_groups_for_user(account, user, &page).await?) }).await?;
            for group in &groups {
                grants_of(cx, EntityKind::Group, &group.principal.name, &mut grants).await?;
            }
            grants_of(cx, EntityKind::User, &name, &mut grants).await?;
        }
        Named::Entity(kind, name) => grants_of(cx, kind, &name, &mut grants).await?,
        Named::Policy => return Err(invalid_arn(auth.arn())),
    }
    let granted: Vec<Vec<&'static str>> =
        grants.iter().map(|g| granted_services(std::slice::from_ref(&g.document))).collect();
    let mut r = cx.response();
    r.list("PoliciesGrantingServiceAccess", &namespaces, |r, namespace| {
        r.el("ServiceNamespace", namespace);
        let matching: Vec<&Grant> = grants
            .iter()
            .zip(&granted)
            .filter(|(_, services)| services.iter().any(|s| s.eq_ignore_ascii_case(namespace)))
            .map(|(g, _)| g)
            .collect();
        r.list("Policies", matching, |r, g| {
            r.el("PolicyName", &g.name).el("PolicyType", if g.inline.is_some() { "INLINE" } else { "MANAGED" });
            r.opt("PolicyArn", g.arn.as_deref());
            if let Some((entity_type, entity_name)) = &g.inline {
                r.el("EntityType", entity_type).el("EntityName", entity_name);
            }
        });
    });
    r.bool("IsTruncated", false);
    Ok(r.finish(cx.request_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_globs_match_prefixes_case_insensitively() {
        assert!(glob("*", "s3") && glob("S3", "s3") && glob("i?m", "iam") && glob("ec*", "ec2"));
        assert!(!glob("s3", "s3-outposts") && !glob("ia", "iam") && !glob("?", "s3"));
    }

    #[test]
    fn granted_services_come_from_allow_statements() {
        let doc = |s: &str| format!(r#"{{"Version":"2012-10-17","Statement":{s}}}"#);
        let allow = doc(r#"[{"Effect":"Allow","Action":["iam:Get*","S3:PutObject"],"Resource":"*"},
            {"Effect":"Deny","Action":"ec2:*","Resource":"*"}]"#);
        assert_eq!(granted_services(&[allow]), ["iam", "s3"]);
        let everything = doc(r#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}"#);
        assert!(granted_services(&[everything]).len() > 100);
        assert!(granted_services(&["not json".into()]).is_empty());
    }
}
