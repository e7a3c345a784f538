//! Fault tests of the split cluster (`deploy/local/cluster.sh`): under load from `tessera-loadtest`
//! against a gateway and from this test's own writers and readers against both, one replica of
//! each service is killed (SIGKILL) and started again in turn, then Redis is killed and restarted.
//! Afterwards every user whose CreateUser was acknowledged (200) exists, every session issued
//! before the faults still verifies, and the cluster answers again within a bound after each
//! fault. The figures (requests sent and failed, time to recover, writes acknowledged and found)
//! are printed.
//!
//! `tessera-loadtest` is run as its own process from the same target directory (`cargo test
//! --workspace` builds it; alone: `cargo build -p tessera-loadtest`).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::cluster::{Cluster, Key, query, xml_text};

const IAM: &str = "2010-05-08";
const STS: &str = "2011-06-15";
/// How long the cluster may take to answer again after a fault (a replica restarted, Redis back).
const RECOVERY_BOUND: Duration = Duration::from_secs(30);
/// How long the load generator may take to set up its users, keys and role before it drives.
const SETUP_BOUND: Duration = Duration::from_secs(60);
/// How long a killed replica stays down, so the gateways' balancing and ejection are exercised.
const DOWN_FOR: Duration = Duration::from_secs(2);

fn params<'a>(action: &'a str, version: &'a str, rest: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![("Action", action), ("Version", version)];
    all.extend_from_slice(rest);
    all
}

async fn must(addr: SocketAddr, key: &Key, service: &str, action: &str, rest: &[(&str, &str)]) -> String {
    let version = if service == "sts" { STS } else { IAM };
    let (status, body) = query(addr, key, service, &params(action, version, rest)).await.unwrap();
    assert_eq!(status, 200, "{action} via {addr}: {body}");
    body
}

fn key_from(body: &str) -> Key {
    Key {
        id: xml_text(body, "AccessKeyId").unwrap().to_owned(),
        secret: xml_text(body, "SecretAccessKey").unwrap().to_owned(),
        token: xml_text(body, "SessionToken").map(str::to_owned),
    }
}

/// Counts of one kind of client request.
#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    failed: AtomicU64,
}

impl Counts {
    fn record(&self, ok: bool) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn get(&self) -> (u64, u64) {
        (self.sent.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed))
    }
}

/// Whether the cluster serves: through both gateways, a write (CreateUser of a probe user), a read
/// through the identity service (GetUser), and a session's authentication (GetCallerIdentity).
async fn serves(gateways: &[SocketAddr], root: &Key, session: &Key, probe: &str) -> bool {
    for (i, gateway) in gateways.iter().enumerate() {
        let name = format!("{probe}-{i}");
        let create = query(*gateway, root, "iam", &params("CreateUser", IAM, &[("UserName", &name)])).await;
        // 409 EntityAlreadyExists: an earlier probe's write went through without its answer.
        if !matches!(create, Ok((200 | 409, _))) {
            return false;
        }
        if !matches!(query(*gateway, root, "iam", &params("GetUser", IAM, &[("UserName", &name)])).await, Ok((200, _)))
        {
            return false;
        }
        if !matches!(query(*gateway, session, "sts", &params("GetCallerIdentity", STS, &[])).await, Ok((200, _))) {
            return false;
        }
    }
    true
}

/// Polls [`serves`] until it holds; how long that took from `since`, or `None` past the bound.
async fn recovery(gateways: &[SocketAddr], root: &Key, session: &Key, label: &str, since: Instant) -> Option<Duration> {
    let mut attempt = 0;
    while since.elapsed() < RECOVERY_BOUND {
        attempt += 1;
        if serves(gateways, root, session, &format!("probe-{label}-{attempt}")).await {
            return Some(since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// `cluster.sh ARGS`, off the async threads.
async fn sh(cluster: &Arc<Cluster>, args: &[&str]) -> String {
    let (cluster, args) = (cluster.clone(), args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>());
    tokio::task::spawn_blocking(move || cluster.must(&args.iter().map(String::as_str).collect::<Vec<_>>()))
        .await
        .unwrap()
}

/// Every user name of the account (ListUsers, page by page).
async fn all_users(gateway: SocketAddr, root: &Key) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut marker: Option<String> = None;
    loop {
        let mut rest = vec![("MaxItems", "1000")];
        if let Some(marker) = &marker {
            rest.push(("Marker", marker.as_str()));
        }
        let body = must(gateway, root, "iam", "ListUsers", &rest).await;
        let mut text = body.as_str();
        while let Some(start) = text.find("<UserName>") {
            let end = text[start..].find("</UserName>").unwrap() + start;
            names.insert(text[start + 10..end].to_owned());
            text = &text[end..];
        }
        match xml_text(&body, "IsTruncated") {
            Some("true") => marker = xml_text(&body, "Marker").map(str::to_owned),
            _ => return names,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_split_cluster_survives_replica_and_redis_failures() {
    let loadtest = std::path::Path::new(env!("CARGO_BIN_EXE_tessera")).with_file_name("tessera-loadtest");
    assert!(
        loadtest.exists(),
        "{} is missing: build it with `cargo build -p tessera-loadtest` (cargo test --workspace does)",
        loadtest.display()
    );
    let started = Instant::now();
    let cluster = tokio::task::spawn_blocking(Cluster::up).await.unwrap();
    let cluster = Arc::new(cluster);
    let gateways = cluster.gateways.clone();
    let root = cluster.root.clone();
    let (g1, g2) = (gateways[0], gateways[1]);

    // Before the faults: a user with a key, allowed to assume a role; a role session and a
    // GetSessionToken session of that user.
    let body = must(g1, &root, "sts", "GetCallerIdentity", &[]).await;
    let account = xml_text(&body, "Account").unwrap().to_owned();
    must(g1, &root, "iam", "CreateUser", &[("UserName", "faults-caller")]).await;
    let caller = key_from(&must(g1, &root, "iam", "CreateAccessKey", &[("UserName", "faults-caller")]).await);
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","iam:GetUser"],"Resource":"*"}]}"#;
    must(
        g1,
        &root,
        "iam",
        "PutUserPolicy",
        &[("UserName", "faults-caller"), ("PolicyName", "p"), ("PolicyDocument", allow)],
    )
    .await;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:user/faults-caller"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    must(g2, &root, "iam", "CreateRole", &[("RoleName", "faults-role"), ("AssumeRolePolicyDocument", &trust)]).await;
    let role_arn = format!("arn:aws:iam::{account}:role/faults-role");
    // The caller's policy reaches both gateways (policy epoch over Redis pub/sub).
    let mut sessions = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    for gateway in [g1, g2] {
        loop {
            let assume = params("AssumeRole", STS, &[("RoleArn", &role_arn), ("RoleSessionName", "before-faults")]);
            match query(gateway, &caller, "sts", &assume).await.unwrap() {
                (200, body) => {
                    sessions.push(("AssumeRole", key_from(&body)));
                    break;
                }
                (status, body) => assert!(Instant::now() < deadline, "AssumeRole via {gateway}: {status} {body}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    sessions.push(("GetSessionToken", key_from(&must(g2, &caller, "sts", "GetSessionToken", &[]).await)));
    let session = sessions[0].1.clone();

    let set_up = started.elapsed();
    // Load: tessera-loadtest drives AssumeRole through gateway 1 at a fixed rate for the whole
    // fault sequence, while this test writes users and verifies a session through both gateways.
    let credentials = cluster.dir.path().join("identity-1/data/root-credentials.json");
    let loadtest_run = tokio::process::Command::new(&loadtest)
        .args(["assume-role", "--target", &format!("http://{g1}"), "--root-credentials"])
        .arg(&credentials)
        .args(["--rate", "60", "--concurrency", "8", "--duration", "25s", "--warmup", "0s"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The faults start once the load runs: the generator's own setup (its users, keys and role)
    // must not meet a killed replica. Its stderr says "driving ..." when setup is done; the rest
    // of it is kept for the figures below.
    let mut loadtest_run = loadtest_run;
    let mut stderr_lines = BufReader::new(loadtest_run.stderr.take().unwrap()).lines();
    let (driving_tx, driving) = tokio::sync::oneshot::channel();
    let stderr = tokio::spawn(async move {
        let (mut driving_tx, mut all) = (Some(driving_tx), String::new());
        while let Ok(Some(line)) = stderr_lines.next_line().await {
            if line.starts_with("driving ")
                && let Some(tx) = driving_tx.take()
            {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let load_started = tokio::time::timeout(SETUP_BOUND, driving).await;
    assert!(matches!(load_started, Ok(Ok(()))), "tessera-loadtest did not start driving within {SETUP_BOUND:?}");
    let stop = Arc::new(AtomicBool::new(false));
    let (writes, reads) = (Arc::new(Counts::default()), Arc::new(Counts::default()));
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut clients = tokio::task::JoinSet::new();
    for writer in 0..2 {
        let (stop, writes, acknowledged, root, gateways) =
            (stop.clone(), writes.clone(), acknowledged.clone(), root.clone(), gateways.clone());
        clients.spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let name = format!("w{writer}-{n}");
                let gateway = gateways[(n % 2) as usize];
                let result = query(gateway, &root, "iam", &params("CreateUser", IAM, &[("UserName", &name)])).await;
                let ok = matches!(result, Ok((200, _)));
                writes.record(ok);
                if ok {
                    acknowledged.lock().unwrap().push(name);
                } else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
    }
    {
        let (stop, reads, session, gateways) = (stop.clone(), reads.clone(), session.clone(), gateways.clone());
        clients.spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let result = query(gateways[n % 2], &session, "sts", &params("GetCallerIdentity", STS, &[])).await;
                let ok = matches!(result, Ok((200, _)));
                reads.record(ok);
                tokio::time::sleep(Duration::from_millis(if ok { 5 } else { 20 })).await;
            }
        });
    }

    // The faults, one at a time: SIGKILL a replica, leave it down a moment, start it again and
    // wait until the cluster serves; then Redis.
    let mut recoveries = Vec::new();
    let faults_started = Instant::now();
    for victim in ["identity-1", "policy-2", "sts-1", "authorizer-2", "redis"] {
        let failed_before = writes.get().1 + reads.get().1;
        sh(&cluster, &["kill", victim]).await;
        let killed = Instant::now();
        tokio::time::sleep(DOWN_FOR).await;
        sh(&cluster, &["start", victim]).await;
        let restarted = Instant::now();
        let took = recovery(&gateways, &root, &session, victim, restarted).await;
        let took =
            took.unwrap_or_else(|| panic!("the cluster did not serve within {RECOVERY_BOUND:?} of {victim}'s restart"));
        let failed = writes.get().1 + reads.get().1 - failed_before;
        recoveries.push((victim, restarted - killed, took, failed));
    }
    let faults_took = faults_started.elapsed();
    stop.store(true, Ordering::Relaxed);
    while clients.join_next().await.is_some() {}
    let load = loadtest_run.wait_with_output().await.unwrap();
    let load_stderr = stderr.await.unwrap();
    let load_stdout = String::from_utf8_lossy(&load.stdout);
    assert!(load.status.success(), "tessera-loadtest failed: {load_stdout}\n{load_stderr}");
    let summary: serde_json::Value = serde_json::from_str(load_stdout.lines().last().unwrap()).unwrap();

    // No acknowledged write was lost.
    let acknowledged = acknowledged.lock().unwrap().clone();
    let users = all_users(g2, &root).await;
    let missing: Vec<&String> = acknowledged.iter().filter(|name| !users.contains(*name)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged users are missing: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    // Sessions issued before the faults still verify, through both gateways.
    for (kind, session) in &sessions {
        for gateway in [g1, g2] {
            let body = must(gateway, session, "sts", "GetCallerIdentity", &[]).await;
            assert!(body.contains("faults-"), "{kind} session via {gateway}: {body}");
        }
    }

    let (written, write_failures) = writes.get();
    let (read, read_failures) = reads.get();
    println!("fault test figures (cluster up and set up in {set_up:.1?}, faults over {faults_took:.1?}):");
    println!("  tessera-loadtest assume-role via gateway 1 (60/s for 25 s): {summary}");
    for line in load_stderr.lines().filter(|line| line.contains(" × ")) {
        println!("    {line}");
    }
    println!("  CreateUser via both gateways: {written} sent, {write_failures} failed");
    println!("  GetCallerIdentity (pre-fault session) via both gateways: {read} sent, {read_failures} failed");
    for (victim, down, took, failed) in &recoveries {
        println!(
            "  {victim:<13} down {down:>6.1?}, serving {took:>6.1?} after its restart, {failed} client requests failed meanwhile"
        );
    }
    println!(
        "  writes acknowledged: {}, found afterwards: {}; sessions issued before the faults: {}, verified after: {}",
        acknowledged.len(),
        acknowledged.len() - missing.len(),
        sessions.len(),
        sessions.len()
    );
    let mut cluster = Arc::into_inner(cluster).expect("no other holder of the cluster");
    cluster.down();
}
