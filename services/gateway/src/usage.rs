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

use tessera_credentials::SessionKind;
use tessera_identity::IdentityApi;
use tessera_sts::{CallerKind, CallerPrincipal};

/// How often one key or role is recorded per replica.
const EVERY: Duration = Duration::from_secs(60);

/// The entries the map keeps before it drops the ones older than [`EVERY`].
const MAX_SEEN: usize = 100_000;

/// Notes uses and records them in the background, through the identity domain (in-process or
/// remote): each a blind write of its own record, since a durable write per request would cost
/// more than the request.
pub struct UseNotes {
    identity: Arc<dyn IdentityApi>,
    seen: Mutex<Seen>,
}

/// When each key (by id) and each role (by unique id) was last recorded by this replica, and where.
#[derive(Default)]
struct Seen {
    keys: HashMap<String, Noted>,
    roles: HashMap<String, Noted>,
}

/// One recorded use: when, and where (service, region).
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

/// Whether `what` was not noted in `seen` for `service` in `region` in the last minute (and notes
/// it now). Allocates only when it notes.
fn first_use_this_minute(seen: &mut HashMap<String, Noted>, what: &str, service: &str, region: &str) -> bool {
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

impl UseNotes {
    /// Records through `identity`.
    pub fn new(identity: Arc<dyn IdentityApi>) -> Self {
        Self { identity, seen: Mutex::new(Seen::default()) }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request authenticated as `caller`: its long-term key's use, or (a temporary key) its
    /// role's, made to `service` in `region`.
    pub fn note(&self, caller: &CallerPrincipal, service: &str, region: &str) {
        if caller.session_token.is_some() {
            self.note_role_use(caller, region);
        } else if !caller.access_key_id.is_empty() {
            self.note_key_use(caller, service, region);
        }
    }

    /// Records that the caller's long-term key was used (see [`first_use_this_minute`]).
    fn note_key_use(&self, caller: &CallerPrincipal, service: &str, region: &str) {
        let key = &caller.access_key_id;
        if !first_use_this_minute(&mut self.seen().keys, key, service, region) {
            return;
        }
        let (identity, account) = (Arc::clone(&self.identity), caller.account.clone());
        let (key, service, region) = (key.clone(), service.to_owned(), region.to_owned());
        tokio::spawn(async move {
            if let Err(error) = identity.record_access_key_use(&account, &key, &service, &region).await {
                tracing::warn!(error = %error.into_service_error(), access_key_id = %key, "cannot record key use");
            }
        });
    }

    /// Records that a role session made a request in `region`, by the role's unique id (the
    /// first part of the session's principal id); other callers are ignored.
    pub fn note_role_use(&self, caller: &CallerPrincipal, region: &str) {
        let role_id = match &caller.kind {
            CallerKind::Session(claims) if claims.kind == SessionKind::AssumedRole => {
                claims.principal_id.split(':').next().unwrap_or_default()
            }
            _ => return,
        };
        if role_id.is_empty() || !first_use_this_minute(&mut self.seen().roles, role_id, "", region) {
            return;
        }
        let (identity, account) = (Arc::clone(&self.identity), caller.account.clone());
        let (role_id, region) = (role_id.to_owned(), region.to_owned());
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

    /// A key used again within the minute is recorded again only when it is used for another
    /// service or in another region: the last use names both.
    #[test]
    fn a_use_elsewhere_within_the_minute_is_noted_again() {
        let mut seen = HashMap::new();
        assert!(first_use_this_minute(&mut seen, "AKIAEXAMPLE", "access-analyzer", "us-east-1"));
        assert!(!first_use_this_minute(&mut seen, "AKIAEXAMPLE", "access-analyzer", "us-east-1"));
        assert!(first_use_this_minute(&mut seen, "AKIAEXAMPLE", "iam", "us-east-1"));
        assert!(!first_use_this_minute(&mut seen, "AKIAEXAMPLE", "iam", "us-east-1"));
        assert!(first_use_this_minute(&mut seen, "AKIAEXAMPLE", "iam", "eu-west-1"));
        assert!(first_use_this_minute(&mut seen, "AKIAOTHER", "iam", "us-east-1"));
    }
}
