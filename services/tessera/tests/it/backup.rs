//! `tessera admin backup`, `restore` and `migrate`, run as the real binary: round trips through a
//! file and through Redis (a private redis-server) keep every record, field by field; secrets stay
//! sealed in the file and open again with the same master key; restore refuses another master key,
//! a non-empty target without `--replace`, and a damaged file, writing nothing in each case.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::{signed_post, start_with};
use tessera_proto::identity::v1 as pb;
use tessera_proto::policy::v1 as ppb;
use tessera_store::{AnyStore, Scope, Snapshot, Snapshots as _};

fn tessera(args: &[&str], paths: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command.args(args).env_remove("TESSERA_STORE").env_remove("TESSERA_MASTER_KEY").env_remove("TESSERA_DATA_DIR");
    command.env_remove("TESSERA_MASTER_KEY_FILE");
    for (flag, path) in paths {
        command.arg(flag).arg(path);
    }
    command.output().unwrap()
}

fn ok(output: &Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "failed: {stdout}\n{stderr}");
    stdout.into_owned()
}

fn refused(output: &Output, says: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "should have failed: {}", String::from_utf8_lossy(&output.stdout));
    assert!(stderr.contains(says), "expected `{says}` in: {stderr}");
}

/// Every record of a store, read with the store closed again afterwards (redb allows one opener).
async fn export(location: &str) -> Snapshot {
    let store = AnyStore::open(location).await.unwrap();
    store.export(&Scope::Whole).await.unwrap()
}

/// Compares two snapshots record by record and, for JSON records, field by field, naming the first
/// difference.
fn assert_same_records(expected: &Snapshot, actual: &Snapshot) {
    let flat = |s: &Snapshot| -> Vec<(String, u64, Vec<u8>)> {
        s.namespaces
            .iter()
            .flat_map(|ns| ns.entries.iter().map(|(k, v)| (k.to_string(), v.version, v.value.clone())))
            .collect()
    };
    let (expected, actual) = (flat(expected), flat(actual));
    let keys = |records: &[(String, u64, Vec<u8>)]| records.iter().map(|r| r.0.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&expected), keys(&actual), "the same keys");
    for ((key, version, value), (_, other_version, other_value)) in expected.iter().zip(&actual) {
        assert_eq!(version, other_version, "version of `{key}`");
        if let (Ok(serde_json::Value::Object(fields)), Ok(serde_json::Value::Object(other_fields))) =
            (serde_json::from_slice::<serde_json::Value>(value), serde_json::from_slice(other_value))
        {
            for (name, field) in &fields {
                assert_eq!(Some(field), other_fields.get(name), "field `{name}` of `{key}`");
            }
            assert_eq!(fields.len(), other_fields.len(), "fields of `{key}`");
        }
        assert_eq!(value, other_value, "bytes of `{key}`");
    }
}

/// Stops an in-process server and waits (polling, with a deadline) until its embedded store can
/// be opened again: the server's background tasks may still hold it for a moment.
async fn stop(server: tessera::serve::Server, dir: &Path) {
    server.stop().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match AnyStore::open(&location(dir)).await {
            Ok(_) => return,
            Err(error) if Instant::now() > deadline => panic!("the store stayed open: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// A server's data: users, a group, a role, an inline policy and an access key (a sealed secret).
/// Returns the access key and its secret.
async fn populate(dir: tempfile::TempDir) -> (tempfile::TempDir, String, String) {
    let mut h = start_with(dir, |_| {}).await;
    let account = h.account.clone();
    for name in ["alice", "bob", "carol"] {
        let user = pb::CreateUserRequest { account_id: account.clone(), user_name: name.into(), ..Default::default() };
        h.identity.create_user(user).await.unwrap();
    }
    let group = pb::CreateGroupRequest { account_id: account.clone(), group_name: "ops".into(), path: None };
    h.identity.create_group(group).await.unwrap();
    let role = pb::CreateRoleRequest {
        account_id: account.clone(),
        role_name: "deployer".into(),
        assume_role_policy_document: common::TRUST_EC2.into(),
        ..Default::default()
    };
    h.identity.create_role(role).await.unwrap();
    let inline = ppb::PutInlinePolicyRequest {
        account_id: account.clone(),
        entity: Some(tessera_proto::common::v1::EntityRef {
            kind: tessera_proto::common::v1::EntityKind::User.into(),
            name: "alice".into(),
        }),
        policy_name: "read".into(),
        policy_document: common::ALLOW_S3_READ.into(),
    };
    h.policy.put_inline_policy(inline).await.unwrap();
    let key = pb::CreateAccessKeyRequest { account_id: account, user_name: Some("alice".into()) };
    let key = h.identity.create_access_key(key).await.unwrap().into_inner().access_key.unwrap();
    let common::Harness { dir, server, .. } = h;
    stop(server, dir.path()).await;
    (dir, key.access_key_id, key.secret_access_key)
}

/// Starts a server on `dir` (its own master key file, or `master_key`) and checks that the access
/// key still signs requests: its sealed secret opened.
async fn key_still_works(dir: tempfile::TempDir, master_key: Option<PathBuf>, key: &str, secret: &str) {
    let path = dir.path().to_owned();
    let h = start_with(dir, |config| config.master_key_file = master_key).await;
    let (status, body) =
        signed_post(h.server.http_addr, key, secret, "Action=GetCallerIdentity&Version=2011-06-15").await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(body.contains(":user/alice</Arn>"), "{body}");
    stop(h.server, &path).await;
}

fn location(dir: &Path) -> String {
    dir.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_then_restore_into_a_new_data_dir_keeps_every_record_and_secrets_stay_sealed() {
    let (source, key, secret) = populate(tempfile::tempdir().unwrap()).await;
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("tessera.backup");
    let said = ok(&tessera(&["admin", "backup"], &[("--data-dir", source.path()), ("--to", &file)]));
    assert!(said.starts_with("backed up ") && said.contains(" from redb "), "{said}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(&secret), "the backup holds the secret in clear");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);

    let target = tempfile::tempdir().unwrap();
    let master_key = source.path().join("master.key");
    let restored = tessera(
        &["admin", "restore"],
        &[("--data-dir", target.path()), ("--from", &file), ("--master-key-file", &master_key)],
    );
    assert!(ok(&restored).starts_with("restored "));
    let (before, after) = (export(&location(source.path())).await, export(&location(target.path())).await);
    assert!(before.len() > 10, "the source holds the data: {}", before.len());
    assert_same_records(&before, &after);
    key_still_works(target, Some(master_key), &key, &secret).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_to_redis_and_back_keeps_every_record() {
    let (source, key, secret) = populate(tempfile::tempdir().unwrap()).await;
    let redis_dir = tempfile::tempdir().unwrap();
    let redis = common::PrivateRedis::start(redis_dir.path());
    let said = ok(&tessera(&["admin", "migrate", "--from", &location(source.path()), "--to", &redis.url], &[]));
    assert!(said.contains("from redb to redis"), "{said}");
    let before = export(&location(source.path())).await;
    assert_same_records(&before, &export(&redis.url).await);
    // Again, into a store that now holds records: refused without --replace.
    refused(&tessera(&["admin", "migrate", "--from", &location(source.path()), "--to", &redis.url], &[]), "--replace");

    // A backup of the Redis store is the same records too.
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("redis.backup");
    let said = ok(&tessera(&["admin", "backup", "--store", &redis.url], &[("--to", &file)]));
    assert!(said.contains("from redis"), "{said}");

    // A restore with no master key to check against says which key the store needs.
    let unchecked = tempfile::tempdir().unwrap();
    let said = ok(&tessera(&["admin", "restore"], &[("--data-dir", unchecked.path()), ("--from", &file)]));
    assert!(said.contains("note: no master key was given to check") && said.contains("(key id "), "{said}");

    // And back into a fresh embedded store.
    let back = tempfile::tempdir().unwrap();
    let back_dir = back.path().join("data");
    ok(&tessera(&["admin", "migrate", "--from", &redis.url, "--to", &location(&back_dir)], &[]));
    assert_same_records(&before, &export(&location(&back_dir)).await);
    std::fs::copy(source.path().join("master.key"), back_dir.join("master.key")).unwrap();
    let restored = tempfile::tempdir().unwrap();
    std::fs::remove_dir(restored.path()).unwrap();
    std::fs::rename(&back_dir, restored.path()).unwrap();
    key_still_works(restored, None, &key, &secret).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_another_master_key_a_full_target_and_a_damaged_file_and_writes_nothing() {
    let (source, _, _) = populate(tempfile::tempdir().unwrap()).await;
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("tessera.backup");
    ok(&tessera(&["admin", "backup"], &[("--data-dir", source.path()), ("--to", &file)]));

    // A target that a server with another master key started on once.
    let other = start_with(tempfile::tempdir().unwrap(), |_| {}).await;
    let common::Harness { dir: target, server, .. } = other;
    stop(server, target.path()).await;
    let untouched = export(&location(target.path())).await;
    let restore = |extra: &[&str], from: &Path| {
        let mut args = vec!["admin", "restore"];
        args.extend_from_slice(extra);
        tessera(&args, &[("--data-dir", target.path()), ("--from", from)])
    };
    refused(&restore(&[], &file), "another master key");
    refused(&restore(&["--ignore-master-key"], &file), "--replace");
    refused(&restore(&["--replace"], &file), "another master key");
    // Told the source's key, the target's own key-check record still disagrees.
    let source_key = source.path().join("master.key");
    let told = tessera(
        &["admin", "restore", "--replace"],
        &[("--data-dir", target.path()), ("--from", &file), ("--master-key-file", &source_key)],
    );
    refused(&told, "another master key");

    // Damaged files: truncated, and one byte changed.
    let bytes = std::fs::read(&file).unwrap();
    let truncated = files.path().join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    refused(&restore(&["--replace", "--ignore-master-key"], &truncated), "not a complete Tessera backup");
    let mut altered_bytes = bytes.clone();
    let at = altered_bytes.iter().position(|&b| b == b'"').unwrap() + 1;
    altered_bytes[at] ^= 0x01;
    let altered = files.path().join("altered.backup");
    std::fs::write(&altered, &altered_bytes).unwrap();
    refused(&restore(&["--replace", "--ignore-master-key"], &altered), "checksum");
    assert_same_records(&untouched, &export(&location(target.path())).await);

    // Told to, it replaces everything with the backup.
    ok(&restore(&["--replace", "--ignore-master-key"], &file));
    assert_same_records(&export(&location(source.path())).await, &export(&location(target.path())).await);
}
