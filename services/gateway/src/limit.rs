//! Request rates: token buckets in this replica's memory, refilled continuously, per access key,
//! per principal (`aws:PrincipalArn`: every session of a role shares its role's), per account,
//! and for token issuance (AssumeRole, GetSessionToken, GetFederationToken) per principal. A caller
//! over a rate gets `Throttling` (400), as AWS answers.

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

/// The rates a gateway enforces ([`RateLimits::default`]: 2,000/s per key, the others off).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RateLimits {
    pub per_key: RateLimit,
    pub per_principal: Option<RateLimit>,
    pub per_account: Option<RateLimit>,
    /// Temporary credentials issued per principal.
    pub issue_per_principal: Option<RateLimit>,
}

/// All the buckets of a gateway.
#[derive(Debug)]
pub(crate) struct Limiters {
    key: Limiter,
    principal: Option<Limiter>,
    account: Option<Limiter>,
    issue: Option<Limiter>,
}

impl Limiters {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self {
            key: Limiter::new(limits.per_key),
            principal: limits.per_principal.map(Limiter::new),
            account: limits.per_account.map(Limiter::new),
            issue: limits.issue_per_principal.map(Limiter::new),
        }
    }

    /// One request of `key`, made by `principal` in `account`: which limit refused it, if any.
    pub(crate) fn admit(&self, key: &str, principal: &str, account: &str, now: Instant) -> Result<(), &'static str> {
        if !self.key.admit(key, now) {
            return Err("access key");
        }
        if self.principal.as_ref().is_some_and(|l| !l.admit(principal, now)) {
            return Err("principal");
        }
        if self.account.as_ref().is_some_and(|l| !l.admit(account, now)) {
            return Err("account");
        }
        Ok(())
    }

    /// One issuance of temporary credentials to `principal`.
    pub(crate) fn admit_issue(&self, principal: &str, now: Instant) -> bool {
        self.issue.as_ref().is_none_or(|l| l.admit(principal, now))
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

    #[test]
    fn principals_and_accounts_share_their_buckets_across_keys() {
        let t0 = Instant::now();
        let tight = RateLimit { per_second: 1.0, burst: 2.0 };
        let limiters = Limiters::new(RateLimits {
            per_principal: Some(tight),
            per_account: Some(RateLimit { per_second: 1.0, burst: 3.0 }),
            issue_per_principal: Some(RateLimit { per_second: 1.0, burst: 1.0 }),
            ..RateLimits::default()
        });
        assert_eq!(limiters.admit("AKIA1", "role/a", "1", t0), Ok(()));
        assert_eq!(limiters.admit("ASIA2", "role/a", "1", t0), Ok(()));
        assert_eq!(limiters.admit("ASIA3", "role/a", "1", t0), Err("principal"), "another session of the role");
        assert_eq!(limiters.admit("AKIA4", "user/b", "1", t0), Ok(()));
        assert_eq!(limiters.admit("AKIA5", "user/c", "1", t0), Err("account"));
        assert!(limiters.admit_issue("role/a", t0));
        assert!(!limiters.admit_issue("role/a", t0));
        assert!(limiters.admit_issue("role/b", t0));
    }
}
