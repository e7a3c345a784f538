//! Session records written in batches (group commit).
//!
//! Every issued session is recorded before its credentials are returned, but a session token is
//! self-contained, so the records need not cost a durable commit each. Callers hand their record to
//! one background task, which commits whatever has queued up (at most [`MAX_BATCH`] records) as
//! one transaction (every `session:` key is in the global namespace) and answers each caller after
//! the commit that holds its record: a failed commit fails every call it held. Nothing waits for a
//! batch to fill: the first record is committed at once, and those arriving meanwhile form the next
//! batch, so batches grow only as fast as commits are slow (one fsync on the embedded store, one
//! script on Redis).
//!
//! Nor need each batch wait for the disk: batches are committed deferred
//! ([`tessera_store::Durability::Deferred`]: visible at once, durable with the next immediate
//! commit), and the writer commits immediately at least every [`DURABLE_WITHIN`] while records
//! keep coming, and that long after the last one (an empty commit). A crash loses at most that
//! much of the records; the sessions themselves stay valid (their tokens carry everything).
//!
//! The task holds the store weakly and ends when the last [`Recorder`] (every clone of `Sts`) is
//! dropped, so an embedded store can be reopened in the same process.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tessera_store::{Key, Store, StoreError, Transaction};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// The most records one commit holds.
pub(crate) const MAX_BATCH: usize = 512;
/// The longest a committed record waits to be on disk.
pub(crate) const DURABLE_WITHIN: Duration = Duration::from_millis(100);
/// Records waiting for a commit, beyond which callers wait to enqueue.
const QUEUE: usize = 4 * MAX_BATCH;

/// One record to write, and who to tell once it is committed (or not).
struct Pending {
    key: Key,
    value: Vec<u8>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle callers record through; clones share the one writer task.
#[derive(Clone)]
pub(crate) struct Recorder {
    queue: mpsc::Sender<Pending>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder").field("queued", &(QUEUE - self.queue.capacity())).finish()
    }
}

impl Recorder {
    /// Starts the writer task for `store` (on the current tokio runtime).
    pub(crate) fn start<S: Store>(store: &Arc<S>) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(Arc::downgrade(store), receiver));
        Self { queue }
    }

    /// Writes `value` at `key` (blindly), returning once a commit holding it succeeded, or with that
    /// commit's error.
    pub(crate) async fn put(&self, key: Key, value: Vec<u8>) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        self.queue.send(Pending { key, value, done }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// The writer task is gone (the runtime is shutting down): nothing was recorded.
fn gone() -> StoreError {
    StoreError::Io(std::io::Error::other("the session recorder has stopped"))
}

async fn write_batches<S: Store>(store: Weak<S>, mut receiver: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // When the oldest batch not yet on disk was committed (deferred).
    let mut deferred_since: Option<Instant> = None;
    loop {
        // `recv_many` waits for one record, then takes every one already queued, up to the cap; it
        // returns 0 once every sender is gone and the queue is empty.
        let received = match deferred_since {
            None => receiver.recv_many(&mut batch, MAX_BATCH).await,
            Some(since) => {
                let until = since + DURABLE_WITHIN;
                match tokio::time::timeout_at(until, receiver.recv_many(&mut batch, MAX_BATCH)).await {
                    Ok(received) => received,
                    Err(_) => {
                        // Quiet for a while: write what was deferred (or try again later).
                        deferred_since = if sync(&store).await { None } else { Some(Instant::now()) };
                        continue;
                    }
                }
            }
        };
        if received == 0 {
            if deferred_since.is_some() {
                sync(&store).await;
            }
            return;
        }
        // Records have kept coming since the oldest deferred batch: this one goes to disk at once.
        let immediate = deferred_since.is_some_and(|since| since.elapsed() >= DURABLE_WITHIN);
        let mut txn = Transaction::new();
        if !immediate {
            txn = txn.deferred();
        }
        let mut waiting = Vec::with_capacity(batch.len());
        for Pending { key, value, done } in batch.drain(..) {
            txn = txn.put(key, value);
            waiting.push(done);
        }
        let result = match store.upgrade() {
            Some(store) => store.commit(txn).await,
            None => Err(gone()),
        };
        match result {
            Ok(()) => {
                if immediate {
                    deferred_since = None;
                } else {
                    deferred_since.get_or_insert_with(Instant::now);
                }
                for done in waiting {
                    // The caller may have gone (its request was cancelled): its record stays.
                    let _ = done.send(Ok(()));
                }
            }
            Err(error) => {
                let count = waiting.len();
                tracing::error!(%error, count, "committing a batch of session records failed");
                // Each caller gets the error; a store error is not `Clone`, so the first gets it as
                // it was and the others its text.
                let text = error.to_string();
                let mut first = Some(error);
                for done in waiting {
                    let error = first.take().unwrap_or_else(|| StoreError::Io(std::io::Error::other(text.clone())));
                    let _ = done.send(Err(error));
                }
            }
        }
    }
}

/// An empty immediate commit: writes the deferred batches to disk. Whether it succeeded (on
/// failure the next batch or timeout tries again).
async fn sync<S: Store>(store: &Weak<S>) -> bool {
    let Some(store) = store.upgrade() else { return true };
    match store.commit(Transaction::new()).await {
        Ok(()) => true,
        Err(error) => {
            tracing::error!(%error, "writing deferred session records to disk failed");
            false
        }
    }
}
