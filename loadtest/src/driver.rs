//! The load itself: workers (one per request in flight) call in a loop, at full speed or on a
//! shared schedule (`--rate`), and keep their own counts, merged when the run ends. Only calls
//! that finish inside the measured window (after the warm-up) count.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tonic::transport::Channel;

use crate::grpc::{self, AuthorizeCall};
use crate::histogram::Histogram;
use crate::http::{CallError, Connection, Key, QueryCall};

/// A call that has not answered in this long counts as an error (`timeout`).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// One request in flight, with its own connection (HTTP) or a share of the channels (gRPC).
#[derive(Debug)]
pub(crate) enum Worker {
    Http { connection: Connection, call: Arc<QueryCall>, authority: Arc<str>, region: Arc<str>, key: Key },
    Grpc { channel: Channel, call: Arc<AuthorizeCall> },
}

impl Worker {
    async fn call(&mut self) -> Result<(), CallError> {
        match self {
            Worker::Http { connection, call, authority, region, key } => {
                connection.query(call.request(authority, key, region)).await.map(drop)
            }
            Worker::Grpc { channel, call } => grpc::authorize(channel, call).await,
        }
    }
}

/// How long and how hard.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    /// Requests per second in total; `None` drives as fast as the workers go.
    pub(crate) rate: Option<f64>,
}

/// What the workers saw in the measured window.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Latencies of the calls that succeeded.
    pub(crate) latencies: Histogram,
    /// Failed calls by kind, with the first message of each kind.
    pub(crate) errors: BTreeMap<String, (u64, String)>,
}

impl Outcome {
    pub(crate) fn error_count(&self) -> u64 {
        self.errors.values().map(|(count, _)| count).sum()
    }

    fn merge(&mut self, other: Outcome) {
        self.latencies.merge(&other.latencies);
        for (kind, (count, message)) in other.errors {
            self.errors.entry(kind).or_insert((0, message)).0 += count;
        }
    }
}

#[derive(Debug)]
struct Schedule {
    start: Instant,
    measure_from: Instant,
    end: Instant,
    rate: Option<f64>,
    /// The next request's position in the `--rate` schedule.
    next: AtomicU64,
}

/// Runs `workers` for the warm-up and the measured duration, then returns their merged outcome
/// once every worker has finished its last call.
pub(crate) async fn drive(workers: Vec<Worker>, plan: Plan) -> Outcome {
    let start = Instant::now();
    let schedule = Arc::new(Schedule {
        start,
        measure_from: start + plan.warmup,
        end: start + plan.warmup + plan.duration,
        rate: plan.rate,
        next: AtomicU64::new(0),
    });
    let tasks: Vec<_> = workers.into_iter().map(|worker| tokio::spawn(run(worker, Arc::clone(&schedule)))).collect();
    let mut total = Outcome::default();
    for task in tasks {
        match task.await {
            Ok(outcome) => total.merge(outcome),
            Err(error) => {
                total.errors.entry("worker panicked".to_owned()).or_insert((0, error.to_string())).0 += 1;
            }
        }
    }
    total
}

async fn run(mut worker: Worker, schedule: Arc<Schedule>) -> Outcome {
    let mut outcome = Outcome::default();
    loop {
        let began = match schedule.rate {
            None => {
                let now = Instant::now();
                if now >= schedule.end {
                    break;
                }
                now
            }
            Some(rate) => {
                let position = schedule.next.fetch_add(1, Ordering::Relaxed);
                let due = schedule.start + Duration::from_secs_f64(position as f64 / rate);
                if due >= schedule.end {
                    break;
                }
                if due > Instant::now() {
                    // On time: latency counts from the actual send, so the timer's
                    // millisecond granularity does not inflate it.
                    tokio::time::sleep_until(due).await;
                    Instant::now()
                } else {
                    // Behind schedule: latency counts from when the request was due, so the
                    // time it waited for a free worker shows (no coordinated omission).
                    due
                }
            }
        };
        let result = tokio::time::timeout(CALL_TIMEOUT, worker.call()).await;
        let done = Instant::now();
        if done < schedule.measure_from || done > schedule.end {
            continue;
        }
        let error = match result {
            Ok(Ok(())) => {
                outcome.latencies.record(done - began);
                continue;
            }
            Ok(Err(error)) => error,
            Err(_) => CallError::new("timeout", format!("no answer within {CALL_TIMEOUT:?}")),
        };
        outcome.errors.entry(error.kind).or_insert((0, error.message)).0 += 1;
    }
    outcome
}
