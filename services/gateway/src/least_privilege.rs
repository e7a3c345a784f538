//! IAM Access Analyzer's unused-access analyzers and policy generation (issue 17), over the
//! account's IAM records and this gateway's audit trail.
//!
//! The analyses are `tessera_policy::analysis::{unused, generate}` (pure); this module gathers
//! their inputs ([`entities`]: users and roles with their policies and IAM's last-use records,
//! through the identity domain; [`activity`]: the audit trail's requests, read back from
//! `<data dir>/audit`), keeps Access Analyzer's state on the store (analyzers with their
//! archived findings, policy generation jobs: records of the account's namespace, so every
//! gateway on the store sees them), and answers in the restJson1 shapes of botocore's model.
//!
//! Findings are analyzed when they are asked for (`ListFindingsV2`, `GetFindingV2`,
//! `GetFindingsStatistics`, `UpdateFindings`), from the records as they are then: an id is a hash
//! of the resource, the type and what the finding is about, so it stays the same while the
//! finding does. Each analysis is reconciled with the findings the analyzer reported before
//! ([`reconcile`], kept in its record): a new one is `ACTIVE`, one whose condition no longer holds
//! (the role was used, the key deleted, the permissions exercised or removed) becomes `RESOLVED`
//! with its last details, as Access Analyzer resolves a finding when it re-evaluates it; an
//! archived one stays `ARCHIVED` (`UpdateFindings` moves it back and forth). Generation jobs run
//! when they are started and are `SUCCEEDED` (or `FAILED`) by the time `StartPolicyGeneration`
//! answers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tessera_identity::{Account, IdentityApi, PageRequest};
use tessera_policy::analysis::api::ApiError;
use tessera_policy::analysis::generate::{Generalize, Generated, Observed, generate};
use tessera_policy::analysis::unused::{
    Activity, Entity, EntityKind, KeyInfo, LastUse, UnusedDetail, UnusedFinding, UnusedType, acting_entity,
    unused_access,
};
use tessera_store::iam::{self, Record};
use tessera_store::{Key, Kind, Store};

/// An analyzer: `access-analyzer:<folded name>`.
pub const ANALYZER: Kind = Kind::new("access-analyzer");
/// A policy generation job: `policy-generation:<job id>`.
pub const POLICY_GENERATION: Kind = Kind::new("policy-generation");

/// The default and the bounds of `unusedAccessAge`, in days.
const DEFAULT_AGE: u32 = 90;
const AGE_RANGE: std::ops::RangeInclusive<u32> = 1..=365;
/// Analyzers per account (AWS allows a handful per region).
const MAX_ANALYZERS: usize = 10;
/// Generation jobs kept per account; the oldest are dropped beyond this.
const MAX_JOBS: usize = 100;

/// An analyzer, the findings it reported and those archived in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzerRecord {
    pub name: String,
    pub arn: String,
    /// `ACCOUNT_UNUSED_ACCESS` (or `ACCOUNT`, which finds nothing here: external access is
    /// decided per policy by `CheckNoPublicAccess`).
    pub kind: String,
    pub created: u64,
    pub unused_access_age: u32,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Ids of the archived findings.
    #[serde(default)]
    pub archived: BTreeSet<String>,
    /// Every finding the analyzer reported, by id, as of its last analysis.
    #[serde(default)]
    pub findings: BTreeMap<String, Tracked>,
}

/// A finding as the analyzer last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracked {
    pub resource: String,
    /// `AWS::IAM::Role`, `AWS::IAM::User`.
    pub resource_type: String,
    /// `UnusedIAMRole`, ...
    pub finding_type: String,
    /// First reported, Unix milliseconds.
    pub created: u64,
    /// Last change of its status or details, Unix milliseconds.
    pub updated: u64,
    /// Its condition no longer held at the last analysis.
    #[serde(default)]
    pub resolved: bool,
    /// Access Analyzer's `findingDetails` and Tessera's evidence lines, as last seen.
    pub details: Vec<Value>,
    pub evidence: Vec<String>,
}

/// A finding as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: String,
    /// `ACTIVE`, `ARCHIVED` or `RESOLVED`.
    pub status: &'static str,
    pub tracked: Tracked,
}

/// Reconciles an analyzer's record with the findings of an analysis at `now`: new findings are
/// added, those seen again take their current details (and are active again if they had been
/// resolved), those not seen again are resolved (their last details kept). Whether the record
/// changed.
pub fn reconcile(record: &mut AnalyzerRecord, current: &[UnusedFinding], now: u64) -> bool {
    let mut changed = false;
    let mut seen = BTreeSet::new();
    for finding in current {
        seen.insert(finding.id.as_str());
        let details = details_json(&finding.detail);
        let evidence = evidence(&finding.detail);
        match record.findings.get_mut(&finding.id) {
            Some(known) => {
                if known.resolved || known.details != details || known.evidence != evidence {
                    known.resolved = false;
                    known.details = details;
                    known.evidence = evidence;
                    known.updated = now;
                    changed = true;
                }
            }
            None => {
                record.findings.insert(
                    finding.id.clone(),
                    Tracked {
                        resource: finding.resource.clone(),
                        resource_type: finding.kind.resource_type().to_owned(),
                        finding_type: finding.finding_type.as_str().to_owned(),
                        created: now,
                        updated: now,
                        resolved: false,
                        details,
                        evidence,
                    },
                );
                changed = true;
            }
        }
    }
    for (id, known) in &mut record.findings {
        if !known.resolved && !seen.contains(id.as_str()) {
            known.resolved = true;
            known.updated = now;
            changed = true;
        }
    }
    changed
}

/// The findings of a reconciled record, with their status: archived stays archived, resolved
/// otherwise, active while the condition holds.
pub fn statuses(record: &AnalyzerRecord) -> Vec<Finding> {
    record
        .findings
        .iter()
        .map(|(id, tracked)| {
            let status = if record.archived.contains(id) {
                "ARCHIVED"
            } else if tracked.resolved {
                "RESOLVED"
            } else {
                "ACTIVE"
            };
            Finding { id: id.clone(), status, tracked: tracked.clone() }
        })
        .collect()
}

/// A policy generation job and what it produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRecord {
    pub job_id: String,
    pub principal_arn: String,
    /// `SUCCEEDED`, `FAILED`, `CANCELED`.
    pub status: String,
    pub started: u64,
    #[serde(default)]
    pub completed: Option<u64>,
    /// The audit window read, Unix milliseconds.
    pub start_time: u64,
    pub end_time: u64,
    /// The policy at the level asked, and at the resource-type level (`includeResourcePlaceholders`).
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub typed_policy: Option<String>,
    /// What the engine proved of `policy`.
    #[serde(default)]
    pub proof: Option<Value>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub error: Option<(String, String)>,
}

impl Record for AnalyzerRecord {
    const KIND: Kind = ANALYZER;
}

impl Record for GenerationRecord {
    const KIND: Kind = POLICY_GENERATION;
}

/// The operations kept here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    CreateAnalyzer,
    ListAnalyzers,
    GetAnalyzer,
    DeleteAnalyzer,
    ListFindingsV2,
    GetFindingV2,
    GetFindingsStatistics,
    UpdateFindings,
    StartPolicyGeneration,
    ListPolicyGenerations,
    GetGeneratedPolicy,
    CancelPolicyGeneration,
}

impl Op {
    /// The operation a request names, with its path parameter.
    pub fn from_request(method: &str, path: &str) -> Option<(Op, Option<String>)> {
        let path = path.trim_end_matches('/');
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let param = |s: &str| Some(percent_decode(s));
        let op = match (method, segments.as_slice()) {
            ("PUT", ["analyzer"]) => (Op::CreateAnalyzer, None),
            ("GET", ["analyzer"]) => (Op::ListAnalyzers, None),
            ("GET", ["analyzer", name]) => (Op::GetAnalyzer, param(name)),
            ("DELETE", ["analyzer", name]) => (Op::DeleteAnalyzer, param(name)),
            ("POST", ["findingv2"]) => (Op::ListFindingsV2, None),
            ("GET", ["findingv2", id]) => (Op::GetFindingV2, param(id)),
            ("POST", ["analyzer", "findings", "statistics"]) => (Op::GetFindingsStatistics, None),
            ("PUT", ["finding"]) => (Op::UpdateFindings, None),
            ("PUT", ["policy", "generation"]) => (Op::StartPolicyGeneration, None),
            ("GET", ["policy", "generation"]) => (Op::ListPolicyGenerations, None),
            ("GET", ["policy", "generation", id]) => (Op::GetGeneratedPolicy, param(id)),
            ("PUT", ["policy", "generation", id]) => (Op::CancelPolicyGeneration, param(id)),
            _ => return None,
        };
        Some(op)
    }

    pub fn name(self) -> &'static str {
        match self {
            Op::CreateAnalyzer => "CreateAnalyzer",
            Op::ListAnalyzers => "ListAnalyzers",
            Op::GetAnalyzer => "GetAnalyzer",
            Op::DeleteAnalyzer => "DeleteAnalyzer",
            Op::ListFindingsV2 => "ListFindingsV2",
            Op::GetFindingV2 => "GetFindingV2",
            Op::GetFindingsStatistics => "GetFindingsStatistics",
            Op::UpdateFindings => "UpdateFindings",
            Op::StartPolicyGeneration => "StartPolicyGeneration",
            Op::ListPolicyGenerations => "ListPolicyGenerations",
            Op::GetGeneratedPolicy => "GetGeneratedPolicy",
            Op::CancelPolicyGeneration => "CancelPolicyGeneration",
        }
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One request's inputs: the path parameter, the query and the JSON body.
#[derive(Debug)]
pub struct Input {
    pub param: Option<String>,
    pub query: BTreeMap<String, String>,
    pub body: Value,
}

impl Input {
    /// An input built in-process (the console): a path parameter and a JSON body.
    pub fn new(param: Option<String>, body: Value) -> Input {
        Input { param, query: BTreeMap::new(), body }
    }

    pub fn parse(param: Option<String>, query: &str, body: &[u8]) -> Result<Input, ApiError> {
        if body.len() > tessera_policy::analysis::api::MAX_BODY {
            return Err(validation("the request body is too large"));
        }
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(body).map_err(|e| validation(format!("the body is not JSON: {e}")))?
        };
        if !body.is_object() {
            return Err(validation("the body must be a JSON object"));
        }
        let query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(&k.replace('+', " ")), percent_decode(&v.replace('+', " ")))
            })
            .collect();
        Ok(Input { param, query, body })
    }

    fn string(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str).or_else(|| self.query.get(name).map(String::as_str))
    }

    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.string(name).filter(|s| !s.is_empty()).ok_or_else(|| validation(format!("`{name}` is required")))
    }

    /// `nextToken` (an index this module issued) and `maxResults`.
    fn page(&self, default: usize) -> Result<(usize, usize), ApiError> {
        let number = |name: &str| -> Result<Option<usize>, ApiError> {
            match self.body.get(name) {
                Some(Value::Number(n)) => {
                    n.as_u64().map(|n| Some(usize::try_from(n).unwrap_or(usize::MAX))).ok_or_else(|| bad(name))
                }
                Some(Value::String(s)) => s.parse().map(Some).map_err(|_| bad(name)),
                Some(_) => Err(bad(name)),
                None => self.query.get(name).map(|s| s.parse().map_err(|_| bad(name))).transpose(),
            }
        };
        let start = number("nextToken")?.unwrap_or(0);
        let max = number("maxResults")?.unwrap_or(default);
        if max == 0 {
            return Err(bad("maxResults"));
        }
        Ok((start, max))
    }
}

fn bad(name: &str) -> ApiError {
    validation(format!("`{name}` is not valid"))
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError { code: "ValidationException", status: 400, message: message.into() }
}

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError { code: "ResourceNotFoundException", status: 404, message: format!("{what} {id} does not exist.") }
}

fn internal(error: impl std::fmt::Display) -> ApiError {
    tracing::warn!(%error, "access analyzer: a store or domain call failed");
    ApiError { code: "InternalServerException", status: 500, message: "Internal server error.".into() }
}

/// `arn:aws:access-analyzer:<region>:<account>:analyzer/<name>`.
pub fn analyzer_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:access-analyzer:{region}:{account}:analyzer/{name}")
}

/// The analyzer an ARN of this account names.
fn analyzer_name<'a>(arn: &'a str, account: &str) -> Option<&'a str> {
    let mut parts = arn.splitn(6, ':');
    let fixed = [parts.next()?, parts.next()?, parts.next()?];
    let (_region, owner, rest) = (parts.next()?, parts.next()?, parts.next()?);
    (fixed == ["arn", "aws", "access-analyzer"] && owner == account).then_some(())?;
    rest.strip_prefix("analyzer/").filter(|n| !n.is_empty())
}

/// The resource a request is authorized on: the analyzer it names, or `*`.
pub fn resource(op: Op, input: &Input, account: &str, region: &str) -> Result<String, ApiError> {
    Ok(match op {
        Op::CreateAnalyzer => analyzer_arn(region, account, input.required("analyzerName")?),
        Op::GetAnalyzer | Op::DeleteAnalyzer => {
            analyzer_arn(region, account, input.param.as_deref().unwrap_or_default())
        }
        Op::ListFindingsV2 | Op::GetFindingV2 | Op::GetFindingsStatistics | Op::UpdateFindings => {
            input.required("analyzerArn")?.to_owned()
        }
        _ => "*".to_owned(),
    })
}

/// What a request needs besides its input: the caller's account, the domains, the trail, now.
pub struct Scope<'a, S> {
    pub store: &'a S,
    pub identity: &'a dyn IdentityApi,
    pub audit_dir: Option<&'a Path>,
    pub account: &'a Account,
    pub region: &'a str,
    /// Unix milliseconds.
    pub now: u64,
    /// A fresh job id.
    pub job_id: String,
}

impl<S> std::fmt::Debug for Scope<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("account", &self.account.id())
            .field("region", &self.region)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// Runs one operation.
pub async fn run<S: Store>(scope: &Scope<'_, S>, op: Op, input: &Input) -> Result<Value, ApiError> {
    match op {
        Op::CreateAnalyzer => create_analyzer(scope, input).await,
        Op::ListAnalyzers => {
            let mut all: Vec<AnalyzerRecord> = iam::scan_all::<S, AnalyzerRecord>(scope.store, scope.account.ns())
                .await
                .map_err(internal)?
                .into_iter()
                .map(|(_, r)| r)
                .filter(|r| input.string("type").is_none_or(|t| t == r.kind))
                .collect();
            all.sort_by_key(|r| r.created);
            let (start, max) = input.page(100)?;
            let page: Vec<Value> = all.iter().skip(start).take(max).map(analyzer_json).collect();
            let mut out = json!({"analyzers": page});
            if start.saturating_add(max) < all.len() {
                out["nextToken"] = json!((start + max).to_string());
            }
            Ok(out)
        }
        Op::GetAnalyzer => {
            let analyzer = load_analyzer(scope, input.param.as_deref().unwrap_or_default()).await?;
            Ok(json!({"analyzer": analyzer_json(&analyzer)}))
        }
        Op::DeleteAnalyzer => {
            let name = input.param.as_deref().unwrap_or_default();
            load_analyzer(scope, name).await?;
            let key = iam::named(scope.account.ns(), ANALYZER, name);
            tessera_store::update(scope.store, |tx| {
                let key = key.clone();
                async move {
                    tx.delete(key);
                    Ok::<_, tessera_store::StoreError>(())
                }
            })
            .await
            .map_err(internal)?;
            Ok(json!({}))
        }
        Op::ListFindingsV2 => {
            let (_, findings) = findings(scope, input).await?;
            let filter = input.body.get("filter").and_then(Value::as_object);
            let mut kept: Vec<Value> = findings
                .iter()
                .map(|f| summary_json(f, scope.account.id(), scope.now))
                .filter(|summary| filter.is_none_or(|filter| keeps(filter, summary)))
                .collect();
            if let Some(sort) = input.body.get("sort") {
                let attribute = sort.get("attributeName").and_then(Value::as_str).unwrap_or("updatedAt");
                kept.sort_by(|a, b| a[attribute].to_string().cmp(&b[attribute].to_string()));
                if sort.get("orderBy").and_then(Value::as_str) == Some("DESC") {
                    kept.reverse();
                }
            }
            let (start, max) = input.page(100)?;
            let total = kept.len();
            let page: Vec<Value> = kept.into_iter().skip(start).take(max).collect();
            let mut out = json!({"findings": page});
            if start.saturating_add(max) < total {
                out["nextToken"] = json!((start + max).to_string());
            }
            Ok(out)
        }
        Op::GetFindingV2 => {
            let (_, findings) = findings(scope, input).await?;
            let id = input.param.as_deref().unwrap_or_default();
            let finding = findings.iter().find(|f| f.id == id).ok_or_else(|| not_found("Finding", id))?;
            let mut out = summary_json(finding, scope.account.id(), scope.now);
            let details = &finding.tracked.details;
            let (start, max) = input.page(details.len().max(1))?;
            out["findingDetails"] = json!(details.iter().skip(start).take(max).collect::<Vec<_>>());
            if start.saturating_add(max) < details.len() {
                out["nextToken"] = json!((start + max).to_string());
            }
            out["evidence"] = json!(finding.tracked.evidence);
            Ok(out)
        }
        Op::GetFindingsStatistics => {
            let (_, findings) = findings(scope, input).await?;
            let count = |status: &str| findings.iter().filter(|f| f.status == status).count();
            let by_type: Vec<Value> = UnusedType::ALL
                .iter()
                .map(|t| {
                    let total = findings
                        .iter()
                        .filter(|f| f.tracked.finding_type == t.as_str() && f.status == "ACTIVE")
                        .count();
                    json!({"unusedAccessType": t.as_str(), "total": total})
                })
                .collect();
            Ok(json!({
                "findingsStatistics": [{"unusedAccessFindingsStatistics": {
                    "unusedAccessTypeStatistics": by_type,
                    "totalActiveFindings": count("ACTIVE"),
                    "totalArchivedFindings": count("ARCHIVED"),
                    "totalResolvedFindings": count("RESOLVED"),
                }}],
                "lastUpdatedAt": iso(scope.now),
            }))
        }
        Op::UpdateFindings => update_findings(scope, input).await,
        Op::StartPolicyGeneration => start_generation(scope, input).await,
        Op::ListPolicyGenerations => {
            let mut jobs = jobs(scope).await?;
            if let Some(principal) = input.string("principalArn") {
                jobs.retain(|j| j.principal_arn == principal);
            }
            let (start, max) = input.page(100)?;
            let page: Vec<Value> = jobs
                .iter()
                .skip(start)
                .take(max)
                .map(|j| {
                    let mut out = json!({"jobId": j.job_id, "principalArn": j.principal_arn, "status": j.status,
                                         "startedOn": iso(j.started)});
                    if let Some(done) = j.completed {
                        out["completedOn"] = json!(iso(done));
                    }
                    out
                })
                .collect();
            let mut out = json!({"policyGenerations": page});
            if start.saturating_add(max) < jobs.len() {
                out["nextToken"] = json!((start + max).to_string());
            }
            Ok(out)
        }
        Op::GetGeneratedPolicy => {
            let job = load_job(scope, input.param.as_deref().unwrap_or_default()).await?;
            let flag = |name: &str| input.query.get(name).is_some_and(|v| v == "true");
            Ok(generated_json(&job, flag("includeResourcePlaceholders")))
        }
        Op::CancelPolicyGeneration => {
            // Jobs finish before StartPolicyGeneration answers, so there is never one to stop;
            // an unknown id is refused.
            load_job(scope, input.param.as_deref().unwrap_or_default()).await?;
            Ok(json!({}))
        }
    }
}

async fn create_analyzer<S: Store>(scope: &Scope<'_, S>, input: &Input) -> Result<Value, ApiError> {
    let name = input.required("analyzerName")?;
    let valid = name.len() <= 255
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !valid {
        return Err(validation("`analyzerName` must match [A-Za-z_][A-Za-z0-9_.-]* and be at most 255 characters"));
    }
    let kind = input.required("type")?;
    if !matches!(kind, "ACCOUNT_UNUSED_ACCESS" | "ACCOUNT") {
        return Err(validation(format!(
            "analyzer type `{kind}` is not supported: use ACCOUNT_UNUSED_ACCESS or ACCOUNT"
        )));
    }
    let age = match input.body.pointer("/configuration/unusedAccess/unusedAccessAge") {
        None | Some(Value::Null) => DEFAULT_AGE,
        Some(value) => value
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| AGE_RANGE.contains(v))
            .ok_or_else(|| validation("`unusedAccessAge` must be between 1 and 365 days"))?,
    };
    let tags: BTreeMap<String, String> = input
        .body
        .get("tags")
        .and_then(Value::as_object)
        .map(|t| t.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default();
    let record = AnalyzerRecord {
        name: name.to_owned(),
        arn: analyzer_arn(scope.region, scope.account.id(), name),
        kind: kind.to_owned(),
        created: scope.now,
        unused_access_age: age,
        tags,
        archived: BTreeSet::new(),
        findings: BTreeMap::new(),
    };
    let existing = iam::scan_all::<S, AnalyzerRecord>(scope.store, scope.account.ns()).await.map_err(internal)?;
    if existing.len() >= MAX_ANALYZERS {
        return Err(ApiError {
            code: "ServiceQuotaExceededException",
            status: 402,
            message: format!("An account may have at most {MAX_ANALYZERS} analyzers."),
        });
    }
    let key = iam::named(scope.account.ns(), ANALYZER, name);
    let created = tessera_store::update(scope.store, |tx| {
        let (key, record) = (key.clone(), record.clone());
        async move {
            if tx.read::<AnalyzerRecord>(&key).await?.is_some() {
                return Ok(false);
            }
            tx.write(key, &record);
            Ok::<_, tessera_store::StoreError>(true)
        }
    })
    .await
    .map_err(internal)?;
    if !created {
        return Err(ApiError {
            code: "ConflictException",
            status: 409,
            message: format!("Analyzer {name} already exists."),
        });
    }
    Ok(json!({"arn": record.arn}))
}

fn analyzer_json(analyzer: &AnalyzerRecord) -> Value {
    let mut out = json!({
        "arn": analyzer.arn, "name": analyzer.name, "type": analyzer.kind, "createdAt": iso(analyzer.created),
        "status": "ACTIVE", "tags": analyzer.tags,
    });
    if analyzer.kind == "ACCOUNT_UNUSED_ACCESS" {
        out["configuration"] = json!({"unusedAccess": {"unusedAccessAge": analyzer.unused_access_age}});
    }
    out
}

async fn load_analyzer<S: Store>(scope: &Scope<'_, S>, name: &str) -> Result<AnalyzerRecord, ApiError> {
    iam::load::<S, AnalyzerRecord>(scope.store, &iam::named(scope.account.ns(), ANALYZER, name))
        .await
        .map_err(internal)?
        .ok_or_else(|| not_found("Analyzer", name))
}

/// The analyzer `analyzerArn` names and its findings now: an analysis of the account's records
/// and trail, reconciled with what the analyzer reported before (and saved when that changed).
async fn findings<S: Store>(scope: &Scope<'_, S>, input: &Input) -> Result<(AnalyzerRecord, Vec<Finding>), ApiError> {
    let arn = input.required("analyzerArn")?;
    let name = analyzer_name(arn, scope.account.id()).ok_or_else(|| not_found("Analyzer", arn))?;
    analyze(scope, name).await
}

/// Analyzes now with the analyzer `name` (see [`findings`]).
pub async fn analyze<S: Store>(scope: &Scope<'_, S>, name: &str) -> Result<(AnalyzerRecord, Vec<Finding>), ApiError> {
    let analyzer = load_analyzer(scope, name).await?;
    if analyzer.kind != "ACCOUNT_UNUSED_ACCESS" {
        return Ok((analyzer, Vec::new()));
    }
    let entities = entities(scope.identity, scope.account).await.map_err(|e| internal(e.into_service_error()))?;
    // Last uses before the window are evidence too: read the whole trail up to now.
    let activity = match scope.audit_dir {
        Some(dir) => activity(dir, scope.account.id(), 0, scope.now).map_err(internal)?,
        None => Vec::new(),
    };
    let current = unused_access(&entities, &activity, scope.now, analyzer.unused_access_age);
    let mut record = analyzer;
    if reconcile(&mut record, &current, scope.now) {
        let key = iam::named(scope.account.ns(), ANALYZER, name);
        let now = scope.now;
        let saved = tessera_store::update(scope.store, |tx| {
            let (key, current) = (key.clone(), &current);
            async move {
                // Reconcile what is stored now (another request may have analyzed meanwhile).
                let Some(mut stored) = tx.read::<AnalyzerRecord>(&key).await? else { return Ok(None) };
                if reconcile(&mut stored, current, now) {
                    tx.write(key, &stored);
                }
                Ok::<_, tessera_store::StoreError>(Some(stored))
            }
        })
        .await
        .map_err(internal)?;
        record = saved.ok_or_else(|| not_found("Analyzer", name))?;
    }
    let mut found = statuses(&record);
    found.sort_by(|a, b| {
        (&a.tracked.resource, &a.tracked.finding_type, &a.id).cmp(&(
            &b.tracked.resource,
            &b.tracked.finding_type,
            &b.id,
        ))
    });
    Ok((record, found))
}

/// Access Analyzer's `FindingSummaryV2` of a finding, analyzed at `now`.
pub fn summary_json(finding: &Finding, account: &str, now: u64) -> Value {
    let t = &finding.tracked;
    json!({
        "id": finding.id,
        "resource": t.resource,
        "resourceType": t.resource_type,
        "resourceOwnerAccount": account,
        "status": finding.status,
        "findingType": t.finding_type,
        "analyzedAt": iso(now),
        "createdAt": iso(t.created),
        "updatedAt": iso(t.updated),
    })
}

/// Access Analyzer's `findingDetails` of a finding.
pub fn details_json(detail: &UnusedDetail) -> Vec<Value> {
    let with_last = |mut v: Value, last: &Option<LastUse>| {
        if let Some(last) = last {
            v["lastAccessed"] = json!(iso(last.time));
        }
        v
    };
    match detail {
        UnusedDetail::Role { last_used } => vec![json!({"unusedIamRoleDetails": with_last(json!({}), last_used)})],
        UnusedDetail::AccessKey { access_key_id, last_used } => {
            vec![json!({"unusedIamUserAccessKeyDetails": with_last(json!({"accessKeyId": access_key_id}), last_used)})]
        }
        UnusedDetail::Password { last_used } => {
            vec![json!({"unusedIamUserPasswordDetails": with_last(json!({}), last_used)})]
        }
        UnusedDetail::Permission { service, actions, last_used } => {
            let actions: Vec<Value> =
                actions.iter().map(|a| with_last(json!({"action": a.action}), &a.last_used)).collect();
            vec![
                json!({"unusedPermissionDetails": with_last(json!({"serviceNamespace": service, "actions": actions}), last_used)}),
            ]
        }
    }
}

/// The evidence of a finding in words: each last use and the request that made it.
pub fn evidence(detail: &UnusedDetail) -> Vec<String> {
    let line = |what: &str, last: &Option<LastUse>| match last {
        Some(last) => format!("{what}: last used {} ({})", iso(last.time), last.by),
        None => format!("{what}: never used"),
    };
    match detail {
        UnusedDetail::Role { last_used } => vec![line("role", last_used)],
        UnusedDetail::AccessKey { access_key_id, last_used } => {
            vec![line(&format!("access key {access_key_id}"), last_used)]
        }
        UnusedDetail::Password { last_used } => vec![line("password", last_used)],
        UnusedDetail::Permission { service, actions, last_used } => {
            std::iter::once(line(&format!("service {service}"), last_used))
                .chain(actions.iter().map(|a| line(&a.action, &a.last_used)))
                .collect()
        }
    }
}

/// Whether a finding summary passes a `FilterCriteriaMap`.
fn keeps(filter: &serde_json::Map<String, Value>, summary: &Value) -> bool {
    filter.iter().all(|(attribute, criterion)| {
        let value = summary.get(attribute).and_then(Value::as_str);
        let list = |name: &str| -> Vec<&str> {
            criterion
                .get(name)
                .and_then(Value::as_array)
                .map(|l| l.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default()
        };
        let (eq, neq, contains) = (list("eq"), list("neq"), list("contains"));
        (eq.is_empty() || value.is_some_and(|v| eq.contains(&v)))
            && !value.is_some_and(|v| neq.contains(&v))
            && (contains.is_empty() || value.is_some_and(|v| contains.iter().any(|c| v.contains(c))))
            && criterion.get("exists").and_then(Value::as_bool).is_none_or(|e| e == value.is_some())
    })
}

async fn update_findings<S: Store>(scope: &Scope<'_, S>, input: &Input) -> Result<Value, ApiError> {
    let status = input.required("status")?;
    let archive = match status {
        "ARCHIVED" => true,
        "ACTIVE" => false,
        other => return Err(validation(format!("`status` must be ARCHIVED or ACTIVE, not `{other}`"))),
    };
    let (analyzer, findings) = findings(scope, input).await?;
    let mut ids: BTreeSet<String> = input
        .body
        .get("ids")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    if let Some(resource) = input.string("resourceArn") {
        ids.extend(findings.iter().filter(|f| f.tracked.resource == resource).map(|f| f.id.clone()));
    } else if ids.is_empty() {
        return Err(validation("`ids` or `resourceArn` is required"));
    }
    if let Some(unknown) = ids.iter().find(|id| !findings.iter().any(|f| &f.id == *id)) {
        return Err(not_found("Finding", unknown));
    }
    let key = iam::named(scope.account.ns(), ANALYZER, &analyzer.name);
    tessera_store::update(scope.store, |tx| {
        let (key, ids) = (key.clone(), ids.clone());
        async move {
            let Some(mut record) = tx.read::<AnalyzerRecord>(&key).await? else { return Ok(()) };
            if archive {
                record.archived.extend(ids);
            } else {
                record.archived.retain(|id| !ids.contains(id));
            }
            tx.write(key, &record);
            Ok::<_, tessera_store::StoreError>(())
        }
    })
    .await
    .map_err(internal)?;
    Ok(json!({}))
}

/// A timestamp input: epoch seconds (what botocore sends) or ISO 8601.
fn timestamp(value: Option<&Value>, name: &str) -> Result<Option<u64>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Some((s * 1000.0) as u64))
            .ok_or_else(|| bad(name)),
        Some(Value::String(s)) => parse_iso(s).map(Some).ok_or_else(|| bad(name)),
        Some(_) => Err(bad(name)),
    }
}

/// `YYYY-MM-DDThh:mm:ss[.fff]Z` in Unix milliseconds.
pub fn parse_iso(text: &str) -> Option<u64> {
    tessera_awsapi::parse_iso8601_millis(text)
}

async fn start_generation<S: Store>(scope: &Scope<'_, S>, input: &Input) -> Result<Value, ApiError> {
    let principal = input
        .body
        .pointer("/policyGenerationDetails/principalArn")
        .and_then(Value::as_str)
        .ok_or_else(|| validation("`policyGenerationDetails.principalArn` is required"))?
        .to_owned();
    let trail = input.body.get("cloudTrailDetails");
    let start = timestamp(trail.and_then(|t| t.get("startTime")), "startTime")?.unwrap_or(0);
    let end = timestamp(trail.and_then(|t| t.get("endTime")), "endTime")?.unwrap_or(scope.now).min(scope.now);
    if trail.is_some() && trail.and_then(|t| t.get("startTime")).is_none() {
        return Err(validation("`cloudTrailDetails.startTime` is required"));
    }
    if start > end {
        return Err(validation("`startTime` must be before `endTime`"));
    }
    let level = match input.body.get("generalize").and_then(Value::as_str) {
        Some(text) => Generalize::parse(text).ok_or_else(|| bad("generalize"))?,
        None => Generalize::Prefix,
    };
    let entities = entities(scope.identity, scope.account).await.map_err(|e| internal(e.into_service_error()))?;
    let mut job = GenerationRecord {
        job_id: scope.job_id.clone(),
        principal_arn: principal.clone(),
        status: "SUCCEEDED".into(),
        started: scope.now,
        completed: Some(scope.now),
        start_time: start,
        end_time: end,
        policy: None,
        typed_policy: None,
        proof: None,
        level: None,
        error: None,
    };
    match entities.iter().find(|e| e.arn == principal) {
        None => {
            job.status = "FAILED".into();
            job.error = Some((
                "RESOURCE_NOT_FOUND_ERROR".into(),
                format!("{principal} is not a user or role of this account."),
            ));
        }
        Some(entity) => {
            let activity = match scope.audit_dir {
                Some(dir) => activity(dir, scope.account.id(), start, end).map_err(internal)?,
                None => Vec::new(),
            };
            let observed = observed_by(entity, &activity);
            let generated = generate(&observed, level, &entity.arn, &entity.policies);
            let typed = generate(&observed, Generalize::ResourceType.max(level), &entity.arn, &entity.policies);
            job.proof = Some(generated.proof.to_json());
            job.level = Some(generated.level.as_str().to_owned());
            job.policy = Some(generated.policy);
            job.typed_policy = Some(typed.policy);
        }
    }
    let mut existing = jobs(scope).await?;
    let key = Key::new(scope.account.ns(), POLICY_GENERATION, &job.job_id);
    iam::put_blind(scope.store, key, &job).await.map_err(internal)?;
    // Keep the newest jobs only.
    existing.sort_by_key(|j| j.started);
    let excess = (existing.len() + 1).saturating_sub(MAX_JOBS);
    for old in existing.iter().take(excess) {
        let key = Key::new(scope.account.ns(), POLICY_GENERATION, &old.job_id);
        let _ = tessera_store::update(scope.store, |tx| {
            let key = key.clone();
            async move {
                tx.delete(key);
                Ok::<_, tessera_store::StoreError>(())
            }
        })
        .await;
    }
    Ok(json!({"jobId": job.job_id}))
}

/// The requests `entity` made and was allowed, as generation reads them.
pub fn observed_by(entity: &Entity, activity: &[Activity]) -> Vec<Observed> {
    let me = (entity.kind, entity.name.to_ascii_lowercase());
    activity
        .iter()
        .filter(|a| a.allowed && acting_entity(&a.principal).as_ref() == Some(&me) && !a.action.is_empty())
        .map(|a| Observed { action: a.action.clone(), resource: a.resource.clone() })
        .collect()
}

/// Generates offline: the policy and its proof for `entity` over `activity`.
pub fn generate_for(entity: &Entity, activity: &[Activity], level: Generalize) -> Generated {
    generate(&observed_by(entity, activity), level, &entity.arn, &entity.policies)
}

async fn jobs<S: Store>(scope: &Scope<'_, S>) -> Result<Vec<GenerationRecord>, ApiError> {
    let mut jobs: Vec<GenerationRecord> = iam::scan_all::<S, GenerationRecord>(scope.store, scope.account.ns())
        .await
        .map_err(internal)?
        .into_iter()
        .map(|(_, j)| j)
        .collect();
    jobs.sort_by(|a, b| a.started.cmp(&b.started).then_with(|| a.job_id.cmp(&b.job_id)));
    Ok(jobs)
}

async fn load_job<S: Store>(scope: &Scope<'_, S>, id: &str) -> Result<GenerationRecord, ApiError> {
    // Access Analyzer answers an unknown job with a ValidationException.
    let key = Key::new(scope.account.ns(), POLICY_GENERATION, id);
    iam::load::<S, GenerationRecord>(scope.store, &key)
        .await
        .map_err(internal)?
        .ok_or_else(|| validation(format!("Policy generation job {id} does not exist.")))
}

fn generated_json(job: &GenerationRecord, typed: bool) -> Value {
    let mut details = json!({"jobId": job.job_id, "status": job.status, "startedOn": iso(job.started)});
    if let Some(done) = job.completed {
        details["completedOn"] = json!(iso(done));
    }
    if let Some((code, message)) = &job.error {
        details["jobError"] = json!({"code": code, "message": message});
    }
    let policy = if typed { job.typed_policy.as_ref() } else { job.policy.as_ref() };
    let policies: Vec<Value> = policy.into_iter().map(|p| json!({"policy": p})).collect();
    let mut result = json!({
        "properties": {"isComplete": job.status == "SUCCEEDED", "principalArn": job.principal_arn},
        "generatedPolicies": policies,
    });
    if let Some(proof) = &job.proof {
        result["proof"] = proof.clone();
        result["generalization"] = json!(job.level);
    }
    json!({"jobDetails": details, "generatedPolicyResult": result})
}

fn iso(millis: u64) -> String {
    tessera_awsapi::iso8601_millis(i64::try_from(millis).unwrap_or(i64::MAX))
}

/// The account's users and roles with every identity policy that applies to them and IAM's
/// last-use records, through the identity domain (in-process or remote).
pub async fn entities(identity: &dyn IdentityApi, account: &Account) -> Result<Vec<Entity>, tessera_identity::Error> {
    let mut details = Vec::new();
    let mut marker = None;
    loop {
        let page = PageRequest { marker: marker.take(), max_items: Some(1000) };
        let part = identity.get_account_authorization_details(account, &[], &page).await?;
        marker = part.marker.clone();
        details.push(part);
        if marker.is_none() {
            break;
        }
    }
    let policies: BTreeMap<&str, &str> = details
        .iter()
        .flat_map(|d| d.policies.iter())
        .filter_map(|p| Some((p.arn.as_str(), p.default_document()?)))
        .collect();
    let groups: BTreeMap<String, &tessera_store::iam::GroupRecord> =
        details.iter().flat_map(|d| d.groups.iter()).map(|g| (g.principal.name.to_ascii_lowercase(), g)).collect();
    let documents = |p: &tessera_store::iam::Principal| -> Vec<String> {
        p.inline
            .iter()
            .map(|(_, doc)| doc.clone())
            .chain(p.attached.iter().filter_map(|arn| policies.get(arn.as_str()).map(|d| (*d).to_owned())))
            .collect()
    };
    let mut out = Vec::new();
    for user in details.iter().flat_map(|d| d.users.iter()) {
        let mut docs = documents(&user.principal);
        for group in &user.groups {
            if let Some(g) = groups.get(&group.to_ascii_lowercase()) {
                docs.extend(documents(&g.principal));
            }
        }
        // Keys and the login profile are asked for on their own: the authorization details
        // carry neither over the split cluster's wire.
        let page = PageRequest { marker: None, max_items: Some(100) };
        let mut keys = Vec::new();
        for key in identity.list_access_keys(account, &user.principal.name, &page).await?.items {
            let used = identity.get_access_key_last_used(account, &key.access_key_id).await?;
            keys.push(KeyInfo {
                id: key.access_key_id.clone(),
                active: key.status == tessera_store::iam::KeyStatus::Active,
                last_used: used.last_used_date.map(|date| (date, used.service_name.clone())),
            });
        }
        let has_password = match identity.get_login_profile(account, &user.principal.name).await {
            Ok(_) => true,
            Err(error) if error.code() == tessera_proto::ErrorCode::NoSuchEntity => false,
            Err(error) => return Err(error),
        };
        out.push(Entity {
            kind: EntityKind::User,
            name: user.principal.name.clone(),
            arn: user.principal.arn.clone(),
            policies: docs,
            keys,
            password: has_password.then_some(user.password_last_used),
        });
    }
    for role in details.iter().flat_map(|d| d.roles.iter()) {
        out.push(Entity {
            kind: EntityKind::Role,
            name: role.principal.name.clone(),
            arn: role.principal.arn.clone(),
            policies: documents(&role.principal),
            keys: Vec::new(),
            password: None,
        });
    }
    Ok(out)
}

/// The audit trail's requests of `account` between `since` and `until` (Unix milliseconds).
pub fn activity(dir: &Path, account: &str, since: u64, until: u64) -> std::io::Result<Vec<Activity>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let filter = crate::audit::Filter { since: Some(since), until: Some(until), ..Default::default() };
    Ok(crate::audit::query(dir, &filter)?
        .into_iter()
        .filter(|e| e.account.as_deref() == Some(account))
        .filter(|e| !crate::audit::SIGN_IN_EVENTS.contains(&e.action.as_str()))
        .filter_map(|e| {
            Some(Activity {
                time: e.time,
                principal: e.principal_arn?,
                action: e.action,
                resource: e.resource.unwrap_or_else(|| "*".to_owned()),
                access_key_id: e.access_key_id,
                allowed: e.decision == "allowed",
                request_id: e.request_id,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_inputs() {
        assert_eq!(Op::from_request("PUT", "/analyzer"), Some((Op::CreateAnalyzer, None)));
        assert_eq!(Op::from_request("GET", "/analyzer/a%2Eb"), Some((Op::GetAnalyzer, Some("a.b".into()))));
        assert_eq!(Op::from_request("GET", "/findingv2/x"), Some((Op::GetFindingV2, Some("x".into()))));
        assert_eq!(
            Op::from_request("PUT", "/policy/generation/j"),
            Some((Op::CancelPolicyGeneration, Some("j".into())))
        );
        assert_eq!(Op::from_request("POST", "/analyzer"), None);
        let input = Input::parse(None, "analyzerArn=arn%3Aaws%3Ax&maxResults=2", b"").unwrap();
        assert_eq!(input.string("analyzerArn"), Some("arn:aws:x"));
        assert_eq!(input.page(10).unwrap(), (0, 2));
        assert!(Input::parse(None, "", b"[1]").is_err());
        assert_eq!(
            analyzer_name("arn:aws:access-analyzer:us-east-1:123456789012:analyzer/a", "123456789012"),
            Some("a")
        );
        assert_eq!(analyzer_name("arn:aws:access-analyzer:us-east-1:999999999999:analyzer/a", "123456789012"), None);
    }

    fn record() -> AnalyzerRecord {
        AnalyzerRecord {
            name: "a".into(),
            arn: analyzer_arn("us-east-1", "123456789012", "a"),
            kind: "ACCOUNT_UNUSED_ACCESS".into(),
            created: 0,
            unused_access_age: 90,
            tags: BTreeMap::new(),
            archived: BTreeSet::new(),
            findings: BTreeMap::new(),
        }
    }

    fn unused_role(id: &str, last: Option<u64>) -> UnusedFinding {
        UnusedFinding {
            id: id.into(),
            resource: format!("arn:aws:iam::123456789012:role/{id}"),
            kind: EntityKind::Role,
            finding_type: UnusedType::Role,
            detail: UnusedDetail::Role { last_used: last.map(|time| LastUse { time, by: "x".into() }) },
        }
    }

    fn status_of(record: &AnalyzerRecord, id: &str) -> &'static str {
        statuses(record).into_iter().find(|f| f.id == id).map(|f| f.status).unwrap_or("absent")
    }

    #[test]
    fn findings_that_stop_holding_are_resolved_and_archived_ones_stay_archived() {
        let mut r = record();
        assert!(reconcile(&mut r, &[unused_role("busy", None), unused_role("idle", None)], 10));
        assert_eq!((status_of(&r, "busy"), status_of(&r, "idle")), ("ACTIVE", "ACTIVE"));
        // The same analysis again changes nothing (no write).
        assert!(!reconcile(&mut r, &[unused_role("busy", None), unused_role("idle", None)], 20));
        r.archived.insert("idle".into());
        // Both stop holding: the active one is resolved with its last details, the archived one
        // stays archived.
        assert!(reconcile(&mut r, &[], 30));
        assert_eq!((status_of(&r, "busy"), status_of(&r, "idle")), ("RESOLVED", "ARCHIVED"));
        let busy = &r.findings["busy"];
        assert_eq!((busy.created, busy.updated, busy.resolved), (10, 30, true));
        assert_eq!(busy.details, vec![json!({"unusedIamRoleDetails": {}})]);
        assert!(!reconcile(&mut r, &[], 40), "a resolved finding stays resolved");
        // Unarchived while its condition no longer holds: resolved.
        r.archived.remove("idle");
        assert_eq!(status_of(&r, "idle"), "RESOLVED");
        // Holding again: active, with its new details.
        assert!(reconcile(&mut r, &[unused_role("busy", Some(5))], 50));
        assert_eq!(status_of(&r, "busy"), "ACTIVE");
        assert_eq!(r.findings["busy"].updated, 50);
        assert!(r.findings["busy"].evidence[0].contains("last used"), "{:?}", r.findings["busy"].evidence);
    }
}
