//! The audit trail: one JSON line per request (time, request id, principal, access key id, action,
//! resource, source IP, user agent, decision, error code, for a refused MFA code its device and
//! reason, latency), appended by a background task
//! to `<dir>/audit-<unix seconds>.jsonl` and rotated by size. Throttled requests are the exception:
//! one record per access key (or source address) per second, with their `count`. Secrets and tokens never appear: a
//! session token is recorded as the first 16 hex digits of its SHA-256.
//!
//! The web console writes to the same log (`tessera_console`'s `Settings::audit`): each IAM action
//! it authorizes, and CloudTrail's sign-in events `signin:ConsoleLogin` and `signin:SwitchRole`
//! with their `response_elements` (`ConsoleLogin`/`SwitchRole`: `Success` or `Failure`) and
//! `additional_event_data` (`MFAUsed`, `SwitchFrom`). A password or MFA code is never recorded.
//!
//! [`query`] reads the files back with filters, for `tessera audit`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// The console's sign-in events (CloudTrail's names): not actions any policy grants, so the
/// analyses of permissions (unused access, policy generation) leave them out; the role a switch
/// used counts through the `sts:AssumeRole` recorded with it.
pub const SIGN_IN_EVENTS: [&str; 2] = ["signin:ConsoleLogin", "signin:SwitchRole"];

/// A file is rotated once it reaches this size.
pub const ROTATE_BYTES: u64 = 64 * 1024 * 1024;
/// Events waiting to be written; beyond this, events are dropped (and counted) rather than
/// slowing requests down.
const QUEUE: usize = 8192;
/// How long the writer waits for more events once its queue is drained before it writes them out.
const FLUSH_AFTER: std::time::Duration = std::time::Duration::from_millis(2);

/// One request, as audited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unix milliseconds when the request arrived.
    pub time: u64,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub principal_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub access_key_id: Option<String>,
    /// SHA-256 prefix of the session token, when temporary credentials were used.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session_token_hash: Option<String>,
    /// `iam:CreateUser`, `sts:AssumeRole`, ... (empty when the request had no valid action).
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resource: Option<String>,
    /// The region the request was signed for (its credential scope), for the last accessed reports.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub region: Option<String>,
    pub source_ip: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user_agent: Option<String>,
    /// `allowed` or `denied` (authentication or authorization refused), or `error`.
    pub decision: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_code: Option<String>,
    /// Why the request was refused, where the error code does not say: `mfa_invalid_code`,
    /// `mfa_locked` (the device is locked after too many wrong codes), `mfa_unknown_device`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// The MFA device a refused code was for. The code itself is never recorded.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mfa_serial: Option<String>,
    pub status: u16,
    pub latency_micros: u64,
    /// How many requests the record stands for, when more than one: throttled requests of one
    /// access key are recorded once per second with their count, so a flood cannot flood the log.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub count: Option<u64>,
    /// A console sign-in event's outcome, as CloudTrail's `responseElements` gives it:
    /// `{"ConsoleLogin": "Success"}`, `{"SwitchRole": "Failure"}`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub response_elements: Option<std::collections::BTreeMap<String, String>>,
    /// A console sign-in event's details, as CloudTrail's `additionalEventData` gives them:
    /// `MFAUsed` (`Yes`/`No`), `SwitchFrom` (the user's ARN).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub additional_event_data: Option<std::collections::BTreeMap<String, String>>,
}

/// Throttled requests being counted, per access key (or source address): the second they fell
/// in, the first of them, and how many there were.
type Throttled = std::collections::HashMap<String, (u64, AuditEvent, u64)>;

/// The writer side: cheap to clone, never blocks a request.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<AuditEvent>,
    /// Where the files are, for [`query`] (the last accessed reports read the trail back).
    dir: PathBuf,
    throttled: std::sync::Arc<std::sync::Mutex<Throttled>>,
}

fn lock(throttled: &std::sync::Mutex<Throttled>) -> std::sync::MutexGuard<'_, Throttled> {
    throttled.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AuditLog {
    /// Starts the writer task appending under `dir` (created if missing). Directory and files are
    /// owner-only (`tessera_credentials::private_fs`).
    pub fn start(dir: &Path) -> std::io::Result<Self> {
        tessera_credentials::private_fs::create_dir_all(dir)?;
        let (tx, mut rx) = mpsc::channel::<AuditEvent>(QUEUE);
        let files = dir.to_owned();
        let dir = dir.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut writer: Option<(BufWriter<File>, u64)> = None;
            while let Some(event) = rx.blocking_recv() {
                let Ok(mut line) = serde_json::to_vec(&event) else { continue };
                line.push(b'\n');
                if writer.as_ref().is_none_or(|(_, size)| *size >= ROTATE_BYTES) {
                    writer = open_new(&dir).map(|f| (BufWriter::new(f), 0)).ok();
                }
                if let Some((file, size)) = writer.as_mut() {
                    if file.write_all(&line).is_err() {
                        tracing::error!("cannot write the audit log");
                        writer = None;
                        continue;
                    }
                    *size += u64::try_from(line.len()).unwrap_or(u64::MAX);
                    // Flush when the queue is drained, so a quiet server's log is complete, but
                    // first give a busy server's next events a moment to queue up: a write and a
                    // wake-up of this thread per request cost more than the request's own work.
                    // Meanwhile senders find the queue's receiver not waiting, and wake nobody.
                    if rx.is_empty() {
                        std::thread::sleep(FLUSH_AFTER);
                        if rx.is_empty() {
                            let _ = file.flush();
                        }
                    }
                }
            }
            if let Some((mut file, _)) = writer {
                let _ = file.flush();
            }
        });
        let throttled = std::sync::Arc::new(std::sync::Mutex::new(Throttled::new()));
        let log = Self { tx, dir: files, throttled };
        // Writes the counts of throttled requests once their second is over.
        let weak = std::sync::Arc::downgrade(&log.throttled);
        let sender = log.tx.downgrade();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
            loop {
                tick.tick().await;
                let (Some(throttled), Some(tx)) = (weak.upgrade(), sender.upgrade()) else { return };
                let now = now_secs();
                let done: Vec<AuditEvent> = {
                    let mut pending = lock(&throttled);
                    let keys: Vec<String> =
                        pending.iter().filter(|(_, (second, ..))| *second < now).map(|(k, _)| k.clone()).collect();
                    keys.iter().filter_map(|k| pending.remove(k)).map(|(_, event, n)| counted(event, n)).collect()
                };
                for event in done {
                    if tx.try_send(event).is_err() {
                        tracing::warn!("audit queue full or closed; a throttling record was dropped");
                    }
                }
            }
        });
        Ok(log)
    }

    /// The directory the trail is written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Queues an event; drops it (with a warning) if the writer is far behind. Throttled
    /// requests are counted instead, one record per access key per second.
    pub fn record(&self, event: AuditEvent) {
        let event = if event.error_code.as_deref() == Some("Throttling") {
            let who = event.access_key_id.clone().unwrap_or_else(|| event.source_ip.clone());
            let second = event.time / 1000;
            let mut pending = lock(&self.throttled);
            match pending.get_mut(&who) {
                Some((at, _, n)) if *at == second => {
                    *n += 1;
                    return;
                }
                _ => match pending.insert(who, (second, event, 1)) {
                    // The key's previous second is over: write its record now.
                    Some((_, earlier, n)) => counted(earlier, n),
                    None => return,
                },
            }
        } else {
            event
        };
        if self.tx.try_send(event).is_err() {
            tracing::warn!("audit queue full or closed; an event was dropped");
        }
    }
}

/// `event` standing for `n` requests.
fn counted(mut event: AuditEvent, n: u64) -> AuditEvent {
    event.count = (n > 1).then_some(n);
    event
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn open_new(dir: &Path) -> std::io::Result<File> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let path = dir.join(format!("audit-{now:016}.jsonl"));
    tessera_credentials::private_fs::open(&path, OpenOptions::new().create(true).append(true))
}

/// The first 16 hex digits of the SHA-256 of a secret value, for correlating without revealing.
pub fn fingerprint(secret: &str) -> String {
    tessera_sigv4::sha256_hex(secret.as_bytes())[..16].to_owned()
}

/// What [`query`] keeps.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub principal_arn: Option<String>,
    pub action: Option<String>,
    /// Unix milliseconds, inclusive.
    pub since: Option<u64>,
    pub until: Option<u64>,
}

impl Filter {
    fn keeps(&self, event: &AuditEvent) -> bool {
        self.principal_arn.as_ref().is_none_or(|p| event.principal_arn.as_deref() == Some(p.as_str()))
            && self.action.as_ref().is_none_or(|a| event.action.eq_ignore_ascii_case(a))
            && self.since.is_none_or(|t| event.time >= t)
            && self.until.is_none_or(|t| event.time <= t)
    }
}

/// Every event under `dir` that `filter` keeps, oldest file first. Unreadable lines are skipped.
pub fn query(dir: &Path, filter: &Filter) -> std::io::Result<Vec<AuditEvent>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        for line in BufReader::new(File::open(file)?).lines() {
            if let Ok(event) = serde_json::from_str::<AuditEvent>(&line?)
                && filter.keeps(&event)
            {
                out.push(event);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flood of throttled requests is one record per key per second, with its count.
    #[tokio::test]
    async fn throttled_requests_are_counted_not_written_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::start(dir.path()).unwrap();
        let now_ms = now_secs() * 1000;
        let throttled = |key: &str, i: u64| AuditEvent {
            time: now_ms + i % 1000,
            request_id: format!("t{i}"),
            access_key_id: Some(key.into()),
            action: "sts:GetCallerIdentity".into(),
            decision: "denied".into(),
            error_code: Some("Throttling".into()),
            status: 400,
            ..AuditEvent::default()
        };
        for i in 0..5000 {
            log.record(throttled("AKIAFLOOD", i));
        }
        log.record(throttled("AKIAOTHER", 0));
        log.record(AuditEvent { time: now_ms, request_id: "ok".into(), status: 200, ..AuditEvent::default() });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let all = loop {
            let all = query(dir.path(), &Filter::default()).unwrap();
            if all.len() >= 3 || std::time::Instant::now() > deadline {
                break all;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        let flood: Vec<&AuditEvent> = all.iter().filter(|e| e.access_key_id.as_deref() == Some("AKIAFLOOD")).collect();
        assert_eq!(flood.len(), 1, "{all:?}");
        assert_eq!(flood[0].count, Some(5000));
        let other: Vec<&AuditEvent> = all.iter().filter(|e| e.access_key_id.as_deref() == Some("AKIAOTHER")).collect();
        assert_eq!((other.len(), other[0].count), (1, None));
        assert!(all.iter().any(|e| e.request_id == "ok"));
    }

    #[tokio::test]
    async fn events_are_written_as_json_lines_and_read_back_with_filters() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::start(dir.path()).unwrap();
        for (i, action) in ["iam:CreateUser", "sts:GetCallerIdentity", "iam:CreateUser"].into_iter().enumerate() {
            log.record(AuditEvent {
                time: 1000 + u64::try_from(i).unwrap(),
                request_id: format!("r{i}"),
                principal_arn: Some(format!("arn:aws:iam::123456789012:user/u{}", i % 2)),
                action: action.into(),
                decision: "allowed".into(),
                status: 200,
                ..AuditEvent::default()
            });
        }
        // Poll with a deadline until the writer has flushed all three.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let all = loop {
            let all = query(dir.path(), &Filter::default()).unwrap();
            if all.len() == 3 || std::time::Instant::now() > deadline {
                break all;
            }
            tokio::task::yield_now().await;
        };
        assert_eq!(all.len(), 3);
        let creates =
            query(dir.path(), &Filter { action: Some("iam:createuser".into()), ..Filter::default() }).unwrap();
        assert_eq!(creates.iter().map(|e| e.request_id.as_str()).collect::<Vec<_>>(), ["r0", "r2"]);
        let u1 = Filter { principal_arn: Some("arn:aws:iam::123456789012:user/u1".into()), ..Filter::default() };
        assert_eq!(query(dir.path(), &u1).unwrap().len(), 1);
        let late = Filter { since: Some(1001), until: Some(1001), ..Filter::default() };
        assert_eq!(query(dir.path(), &late).unwrap()[0].request_id, "r1");
    }

    #[test]
    fn fingerprints_do_not_reveal_the_secret() {
        let f = fingerprint("a-session-token");
        assert_eq!(f.len(), 16);
        assert!(!f.contains("session"));
    }
}
