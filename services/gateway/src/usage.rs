//! When credentials were last used: a long-term access key's use (`GetAccessKeyLastUsed`, the
//! credential report) and a role's (`RoleLastUsed` of `GetRole` and
//! `GetAccountAuthorizationDetails`), noted by every entry that authenticates a caller: the HTTP
//! gateway, the gRPC gate and the console's switched-role pages, through one [`UseNotes`] per
//! replica, so each key or role is recorded at most once a minute per replica whichever way it
//! is used, unless it is used for another service or in another region (the last use names
//! both, so a change of either is recorded at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tessera_identity::IdentityApi;
use tessera_sts::CallerPrincipal;

/// How often one key or role is recorded per replica.
const EVERY: Duration = Duration::from_secs(60);

/// The entries the map keeps before it drops the ones older than [`EVERY`].
const MAX_SEEN: usize = 100_000;

/// Notes uses and records them in the background, through the identity domain (in-process or
/// remote): each a blind write of its own record, since a durable write per request would cost
/// more than the request.
pub struct UseNotes {
    identity: Arc<dyn IdentityApi>,
    /// When each key (by id) or role (`role/<id>`) was last recorded by this replica, and where
    /// (service, region).
    seen: Mutex<HashMap<String, Noted>>,
}

/// One recorded use: when, and where.
struct Noted {
    at: Instant,
    service: String,
    region: String,
}

impl std::fmt::Debug for UseNotes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UseNotes").finish_non_exhaustive()
    }
}

impl UseNotes {
    /// Records through `identity`.
    pub fn new(identity: Arc<dyn IdentityApi>) -> Self {
        Self { identity, seen: Mutex::new(HashMap::new()) }
    }

    /// Whether `what` was not noted for `service` in `region` in the last minute on this replica
    /// (and notes it now). Allocates only when it notes.
    fn first_use_this_minute(&self, what: &str, service: &str, region: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let same = |noted: &Noted| noted.service == service && noted.region == region;
        if seen.get(what).is_some_and(|noted| now.duration_since(noted.at) < EVERY && same(noted)) {
            return false;
        }
        if seen.len() > MAX_SEEN {
            seen.retain(|_, noted| now.duration_since(noted.at) < EVERY);
        }
        seen.insert(what.to_owned(), Noted { at: now, service: service.to_owned(), region: region.to_owned() });
        true
    }

    /// A request authenticated as `caller`: its long-term key's use, or (a temporary key) its
    /// role's, made to `service` in `region`.
    pub fn note(&self, caller: &CallerPrincipal, service: &str, region: &str) {
        if caller.session_token.is_some() {
            self.note_role_use(caller, region);
        } else if !caller.access_key_id.is_empty() {
            self.note_key_use(caller, &caller.access_key_id, service, region);
        }
    }

    /// Records that the long-term key `key` was used (see [`Self::first_use_this_minute`]).
    pub fn note_key_use(&self, caller: &CallerPrincipal, key: &str, service: &str, region: &str) {
        if !self.first_use_this_minute(key, service, region) {
            return;
        }
        let (identity, account) = (Arc::clone(&self.identity), caller.account.clone());
        let (key, service, region) = (key.to_owned(), service.to_owned(), region.to_owned());
        tokio::spawn(async move {
            if let Err(error) = identity.record_access_key_use(&account, &key, &service, &region).await {
                tracing::warn!(error = %error.into_service_error(), access_key_id = %key, "cannot record key use");
            }
        });
    }

    /// Records that a role session made a request in `region`, by the role's unique id; other
    /// callers are ignored.
    pub fn note_role_use(&self, caller: &CallerPrincipal, region: &str) {
        let principal = caller.principal();
        let (tessera_policy::PrincipalKind::AssumedRole, Some(role_id)) = (principal.kind, principal.unique_id) else {
            return;
        };
        // Access key ids hold no `/`, so the two kinds of entry cannot collide.
        if !self.first_use_this_minute(&format!("role/{role_id}"), "", region) {
            return;
        }
        let (identity, account, region) = (Arc::clone(&self.identity), caller.account.clone(), region.to_owned());
        tokio::spawn(async move {
            if let Err(error) = identity.record_role_use(&account, &role_id, &region).await {
                tracing::warn!(error = %error.into_service_error(), role_id = %role_id, "cannot record role use");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_credentials::{Argon2Params, MasterKey, SeededRandom};
    use tessera_identity::{Env, Identity, Random, SystemClock};

    /// A key used again within the minute is recorded again only when it is used for another
    /// service or in another region: the last use names both.
    #[test]
    fn a_use_elsewhere_within_the_minute_is_noted_again() {
        let env = Env {
            clock: Arc::new(SystemClock),
            random: Arc::new(Random::new(SeededRandom::new(8))),
            master_key: Arc::new(MasterKey::generate(&mut SeededRandom::new(7))),
            password_params: Argon2Params::FAST_FOR_TESTS,
        };
        let notes = UseNotes::new(Arc::new(Identity::new(Arc::new(tessera_store::MemoryStore::new()), env)));
        assert!(notes.first_use_this_minute("AKIAEXAMPLE", "access-analyzer", "us-east-1"));
        assert!(!notes.first_use_this_minute("AKIAEXAMPLE", "access-analyzer", "us-east-1"));
        assert!(notes.first_use_this_minute("AKIAEXAMPLE", "iam", "us-east-1"));
        assert!(!notes.first_use_this_minute("AKIAEXAMPLE", "iam", "us-east-1"));
        assert!(notes.first_use_this_minute("AKIAEXAMPLE", "iam", "eu-west-1"));
        assert!(notes.first_use_this_minute("AKIAOTHER", "iam", "us-east-1"));
    }
}
