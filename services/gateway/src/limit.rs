//! Request rate per access key: a token bucket per key id, in this replica's memory, refilled
//! continuously. A caller over its rate gets `Throttling` (400), as AWS answers.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Rate limits per access key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// How many requests may arrive at once after a quiet spell.
    pub burst: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self { per_second: 2000.0, burst: 4000.0 }
    }
}

/// Buckets are forgotten once this many keys are tracked and the oldest are full again.
const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
pub(crate) struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self { limit, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key` at `now`; false when the bucket is empty.
    pub(crate) fn admit(&self, key: &str, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            let limit = self.limit;
            // Full buckets carry no information: drop them.
            buckets.retain(|_, (tokens, at)| {
                (*tokens + now.saturating_duration_since(*at).as_secs_f64() * limit.per_second) < limit.burst
            });
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((self.limit.burst, now));
        *tokens =
            (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.limit.per_second).min(self.limit.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_its_rate_and_others_are_unaffected() {
        let limiter = Limiter::new(RateLimit { per_second: 10.0, burst: 3.0 });
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.admit("AKIA1", t0)));
        assert!(!limiter.admit("AKIA1", t0));
        assert!(limiter.admit("AKIA2", t0), "buckets are per key");
        // A tenth of a second refills one token.
        assert!(limiter.admit("AKIA1", t0 + Duration::from_millis(100)));
        assert!(!limiter.admit("AKIA1", t0 + Duration::from_millis(100)));
    }
}
