//! Durability of the embedded store: a writer process killed with SIGKILL mid-stream loses no write
//! it had acknowledged.
//!
//! The test re-runs its own binary as the writer (selected by an environment variable), so no extra
//! binary target is needed. The writer commits numbered keys one at a time and prints `ack N` only
//! after `commit` returned; the parent kills it once enough acknowledgements arrived, reopens the
//! store (which runs redb's crash recovery) and looks for every acknowledged key.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tessera_store::{Key, Kind, Namespace, RedbStore, Store, Transaction};

const TEST_NAME: &str = "acknowledged_writes_survive_sigkill";
/// Set in the child: the directory of the store it writes to.
const WRITER_DIR: &str = "TESSERA_DURABILITY_WRITER_DIR";
const MIN_ACKS: usize = 50;
/// How long the writer may take to acknowledge `MIN_ACKS` writes before the test fails.
const ACK_DEADLINE: Duration = Duration::from_secs(20);
/// A writer whose parent vanished stops by itself after this many writes.
const MAX_WRITES: u64 = 100_000;

const SEQ: Kind = Kind::new("seq");

fn namespace() -> Namespace {
    Namespace::account("durability").expect("valid id")
}

fn key(n: u64) -> Key {
    // Zero-padded so key order is numeric order.
    Key::new(&namespace(), SEQ, &format!("{n:010}"))
}

fn value(n: u64) -> Vec<u8> {
    format!("write number {n}").into_bytes()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

/// The child: write until killed (or until the parent's end of the pipe closes).
fn write_until_killed(dir: &Path) -> ! {
    let store = RedbStore::open(dir).expect("open the store");
    let mut stdout = std::io::stdout().lock();
    // The test harness has printed `test NAME ... ` without a newline: start acknowledgements on a
    // line of their own.
    writeln!(stdout).expect("stdout");
    runtime().block_on(async {
        for n in 0..MAX_WRITES {
            store.commit(Transaction::new().put(key(n), value(n))).await.expect("commit");
            // Only now is the write acknowledged.
            if writeln!(stdout, "ack {n}").and_then(|()| stdout.flush()).is_err() {
                break;
            }
        }
    });
    std::process::exit(0)
}

/// Kills the writer if the test fails before it does, so no orphan keeps writing.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Some(dir) = std::env::var_os(WRITER_DIR) {
        write_until_killed(Path::new(&dir));
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut child = Command::new(std::env::current_exe().expect("test binary path"))
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(WRITER_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut child = KillOnDrop(child);

    // A thread turns lines into acknowledgements so the parent can wait with a deadline.
    let (acks_tx, acks_rx) = mpsc::channel::<u64>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("ack ") {
                let _ = acks_tx.send(n.parse().expect("a number after `ack`"));
            }
        }
    });

    let mut acked = BTreeSet::new();
    let deadline = Instant::now() + ACK_DEADLINE;
    while acked.len() < MIN_ACKS {
        match acks_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(n) => {
                acked.insert(n);
            }
            Err(error) => panic!("the writer acknowledged only {} writes ({error})", acked.len()),
        }
    }
    // SIGKILL on Unix: no destructors, no flush, no chance to finish a commit.
    child.0.kill().expect("kill the writer");
    let status = child.0.wait().expect("reap the writer");
    assert!(!status.success(), "the writer was killed, not finished: {status}");
    // Acknowledgements printed before the kill may still be in the pipe.
    reader.join().expect("reader thread");
    acked.extend(acks_rx.try_iter());

    let acked: Vec<u64> = acked.into_iter().collect();
    let count = u64::try_from(acked.len()).expect("small");
    assert_eq!(acked, (0..count).collect::<Vec<_>>(), "the writer acknowledges in order");

    let store = RedbStore::open(dir.path()).expect("reopen after the crash");
    runtime().block_on(async {
        for &n in &acked {
            let found = store.get(&key(n)).await.expect("get");
            assert_eq!(found.map(|v| v.value), Some(value(n)), "acknowledged write {n} is missing");
        }
        // The writer commits one key at a time, so at most one commit was in flight, unacknowledged.
        let stored = store.scan_prefix(&Key::new(&namespace(), SEQ, ""), None, usize::MAX).await.expect("scan");
        assert!(
            stored.len() == acked.len() || stored.len() == acked.len() + 1,
            "{} acknowledged, {} stored",
            acked.len(),
            stored.len()
        );
    });
}
