//! Calling replicas of a service: the retry rule for idempotent reads. (`Upstream`, the balanced
//! channel over a service's replicas, lives here too.)
//!
//! A read that failed because its replica was unreachable (the connection refused or broke, the
//! replica shutting down) is sent again, up to [`READ_ATTEMPTS`] times in all, after a short
//! jittered pause; the balancer picks a replica each time, so a retry usually reaches another one.
//! Writes are never retried here: a write whose answer was lost may have been applied.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tonic::{Code, Status};

/// How many times a read is sent at most.
pub const READ_ATTEMPTS: u32 = 3;

/// The pause before the first retry; each later one doubles it (with full jitter).
const FIRST_PAUSE: Duration = Duration::from_millis(5);

/// Whether `status` says the call never reached a working replica, so sending it again is safe
/// for a read and likely to succeed elsewhere.
pub fn is_unreachable(status: &Status) -> bool {
    // tonic reports a refused or broken connection as Unavailable (and Unknown when the
    // transport failed mid-call without a grpc-status); a domain error always carries its code.
    match status.code() {
        Code::Unavailable => true,
        Code::Unknown => status.metadata().get(crate::error::ERROR_CODE_METADATA_KEY).is_none(),
        _ => false,
    }
}

/// Sends the read `call` makes, again while its replica was unreachable (at most
/// [`READ_ATTEMPTS`] sends), and returns the first answer that is not such a failure.
pub async fn read<T, F, Fut>(mut call: F) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(status) if attempt < READ_ATTEMPTS && is_unreachable(&status) => {
                tokio::time::sleep(pause(attempt)).await;
                attempt += 1;
            }
            answer => return answer,
        }
    }
}

/// A full-jitter pause before retry number `attempt` (1-based): uniform in `[0, 5 ms * 2^(n-1)]`.
fn pause(attempt: u32) -> Duration {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let mut x = SEQUENCE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    // splitmix64: enough to spread retries without an OS random source.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    let ceiling = FIRST_PAUSE.saturating_mul(1 << (attempt - 1).min(10));
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(x % nanos.max(1))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;
    use crate::{ErrorCode, ServiceError};

    #[tokio::test]
    async fn unreachable_reads_are_sent_again_and_domain_errors_are_not() {
        let sends = AtomicU32::new(0);
        let answer = read(|| async {
            let n = sends.fetch_add(1, Ordering::SeqCst);
            if n < 2 { Err(Status::unavailable("connection refused")) } else { Ok(n) }
        })
        .await;
        assert_eq!(answer.unwrap(), 2);
        assert_eq!(sends.load(Ordering::SeqCst), 3);

        let sends = AtomicU32::new(0);
        let answer: Result<(), Status> = read(|| async {
            sends.fetch_add(1, Ordering::SeqCst);
            Err(Status::unavailable("still down"))
        })
        .await;
        assert_eq!(answer.unwrap_err().code(), Code::Unavailable);
        assert_eq!(sends.load(Ordering::SeqCst), READ_ATTEMPTS, "gives up after the last attempt");

        let sends = AtomicU32::new(0);
        let answer: Result<(), Status> = read(|| async {
            sends.fetch_add(1, Ordering::SeqCst);
            Err(ServiceError::new(ErrorCode::NoSuchEntity, "no user").into())
        })
        .await;
        assert_eq!(ServiceError::from_status(&answer.unwrap_err()).code, ErrorCode::NoSuchEntity);
        assert_eq!(sends.load(Ordering::SeqCst), 1, "a domain answer is final");
    }

    #[test]
    fn pauses_stay_under_their_ceiling() {
        for attempt in 1..=4 {
            let ceiling = FIRST_PAUSE * (1 << (attempt - 1));
            assert!((0..100).all(|_| pause(attempt) <= ceiling));
        }
    }
}
