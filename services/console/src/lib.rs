//! The web console (issue 16): server-rendered IAM pages at `/console` on the HTTP port.
//!
//! - Sign-in ([`pages`]): the account root (its console password, `tessera admin
//!   set-root-password`) or an IAM user with a login profile; then the MFA code when the user has
//!   a device (identity's replay-safe, locking check; the root's is assigned on its own page,
//!   [`root_mfa`], as AWS offers it only in the console), then a new password when the profile
//!   requires one or the password policy says it expired. Attempts are counted per account and
//!   user name in the store before the password is checked ([`session::count_attempt`]).
//! - Sessions ([`session`]): a record in the store (every replica sees it) under a SHA-256 of a
//!   random id; the cookie holding the id is `HttpOnly; SameSite=Strict` (and `Secure` behind
//!   TLS); idle and absolute timeouts; a fresh id at every step of the sign-in (no fixation);
//!   every POST carries the session's CSRF token (the sign-in form, a double-submit token).
//! - Authorization: every page and action is authorized as the IAM action it performs, for the
//!   signed-in principal, by the gateway's decision path ([`tessera_authorizer::Authorizer`]); a
//!   denial shows AWS's explanation in a "Not authorized" panel, and no data.
//! - Domain calls go through [`tessera_identity::IdentityApi`], as the API's handlers do.
//! - Audit ([`trail`]): every authorized action (with its outcome), sign-in and "Switch role" is
//!   an event of the gateway's audit trail, written by the gateway's own writer.

mod access;
mod analyzer;
mod groups;
mod html;
mod insight;
mod pages;
mod policies;
mod providers;
mod roles;
mod root_mfa;
pub mod session;
mod switch;
mod trail;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tessera_identity::IdentityApi;
use tessera_policy_service::{Policies, PolicyApi};
use tessera_store::Store;
use tessera_sts::Sts;

pub use session::{RootPasswordError, SIGN_IN_MAX_FAILURES, set_root_password};

/// The environment variable `tessera serve` reads the root's console password from at start,
/// when the account has none yet.
pub const ROOT_PASSWORD_ENV: &str = "TESSERA_ROOT_PASSWORD";

/// The region the console's requests are made in (AWS's console for IAM, a global service, is
/// `us-east-1`'s): the Access Analyzer ARNs it names and the role use it notes.
pub(crate) const REGION: &str = "us-east-1";

/// How the console's sessions behave.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A session unused this long is over.
    pub idle_timeout: Duration,
    /// A session is over this long after sign-in, used or not.
    pub absolute_timeout: Duration,
    /// Mark cookies `Secure` on every response (the console is served over TLS); without it, only
    /// when the request says it came over HTTPS (`X-Forwarded-Proto: https`).
    pub secure_cookies: bool,
    /// The gateway's audit trail (`<data dir>/audit`), read by the activity page; `None`: the
    /// page says there is none.
    pub audit_dir: Option<PathBuf>,
    /// The gateway's audit writer: the console records its actions, sign-ins and role switches
    /// in the same trail as the API's requests; `None`: nothing is recorded.
    pub audit: Option<tessera_gateway::audit::AuditLog>,
    /// The gateway's notes of role use ([`tessera_gateway::Gateway::usage`]): pages seen after
    /// "Switch role" are the role's use, as its sessions' API requests are; `None`: the console
    /// keeps its own.
    pub usage: Option<Arc<tessera_gateway::usage::UseNotes>>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(15 * 60),
            absolute_timeout: Duration::from_secs(12 * 3600),
            secure_cookies: false,
            audit_dir: None,
            audit: None,
            usage: None,
        }
    }
}

/// What the console's pages act through.
pub struct Console<S: Store> {
    pub(crate) sts: Arc<Sts<S>>,
    pub(crate) identity: Arc<dyn IdentityApi>,
    pub(crate) policies: Arc<dyn PolicyApi>,
    pub(crate) usage: Arc<tessera_gateway::usage::UseNotes>,
    pub(crate) settings: Settings,
    /// The console requests' IDs, seeded once from the environment's randomness.
    pub(crate) request_ids: tessera_awsapi::RequestIds,
}

impl<S: Store> std::fmt::Debug for Console<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl<S: Store> Console<S> {
    /// The console over the token service's store, authorizer and identity domain.
    pub fn new(sts: Arc<Sts<S>>, settings: Settings) -> Self {
        let identity: Arc<dyn IdentityApi> = Arc::new(sts.identity().clone());
        let domain = sts.identity();
        let policies: Arc<dyn PolicyApi> = Arc::new(Policies::new(Arc::clone(domain.store()), domain.env().clone()));
        let usage = settings
            .usage
            .clone()
            .unwrap_or_else(|| Arc::new(tessera_gateway::usage::UseNotes::new(Arc::clone(&identity))));
        let request_ids = tessera_awsapi::RequestIds::new(domain.env().random.u128());
        Self { sts, identity, policies, usage, settings, request_ids }
    }

    pub(crate) fn store(&self) -> &S {
        self.sts.identity().store()
    }

    pub(crate) fn now_millis(&self) -> u64 {
        self.sts.identity().env().now_millis()
    }

    pub(crate) fn token(&self) -> String {
        self.sts.identity().env().random.with(session::token)
    }
}

/// The console's routes, all under `/console`.
pub fn router<S: Store>(console: Console<S>) -> Router {
    use pages::*;
    let console = Arc::new(console);
    Router::new()
        .route("/console", get(index::<S>))
        .route("/console/", get(index::<S>))
        .route("/console/signin", get(sign_in_form::<S>).post(sign_in::<S>))
        .route("/console/mfa", get(mfa_form::<S>).post(mfa::<S>))
        .route("/console/change-password", get(change_password_form::<S>).post(change_password::<S>))
        .route("/console/signout", post(sign_out::<S>))
        .route("/console/home", get(home::<S>))
        .route("/console/users", get(users::<S>).post(create_user::<S>))
        .route("/console/users/new", get(new_user_form::<S>))
        .route("/console/users/{name}", get(user_detail::<S>))
        .route("/console/users/{name}/access-keys", post(create_access_key::<S>))
        .route("/console/users/{name}/access-keys/{key}", post(access::key_action::<S>))
        .route(
            "/console/users/{name}/permissions",
            get(access::add_permissions_form::<S>).post(access::add_permissions::<S>),
        )
        .route("/console/users/{name}/mfa", get(access::mfa_enrol_form::<S>).post(access::mfa_enrol::<S>))
        .route("/console/users/{name}/mfa/enable", post(access::mfa_enable::<S>))
        .route("/console/groups", get(groups::list::<S>).post(groups::create::<S>))
        .route("/console/groups/new", get(groups::new_form::<S>))
        .route("/console/groups/{name}", get(groups::detail::<S>))
        .route("/console/groups/{name}/users", post(groups::add_user::<S>))
        .route("/console/groups/{name}/permissions", post(groups::attach::<S>))
        .route("/console/roles", get(roles::list::<S>).post(roles::create::<S>))
        .route("/console/roles/new", get(roles::new_form::<S>))
        .route("/console/roles/{name}", get(roles::detail::<S>))
        .route("/console/policies", get(policies::list::<S>).post(policies::create::<S>))
        .route("/console/policies/new", get(policies::new_form::<S>))
        .route("/console/policies/validate", post(policies::validate::<S>))
        .route("/console/policies/view", get(policies::detail::<S>))
        .route("/console/policies/versions", post(policies::version_action::<S>))
        .route("/console/editor.js", get(policies::editor_js))
        .route("/console/switch-role", get(switch::form::<S>).post(switch::switch::<S>))
        .route("/console/switch-role/back", post(switch::back::<S>))
        .route("/console/simulator", get(insight::simulator_form::<S>).post(insight::simulate::<S>))
        .route("/console/sessions", get(insight::sessions::<S>).post(insight::revoke::<S>))
        .route("/console/activity", get(insight::activity::<S>))
        .route("/console/identity-providers", get(providers::list::<S>))
        .route("/console/identity-providers/saml", post(providers::create::<S>))
        .route("/console/identity-providers/saml/new", get(providers::new_form::<S>))
        .route("/console/identity-providers/saml/{name}", get(providers::detail::<S>).post(providers::action::<S>))
        .route("/console/account", get(insight::account_settings::<S>).post(insight::update_password_policy::<S>))
        .route("/console/account/alias", post(insight::account_alias::<S>))
        .route("/console/account/mfa", get(root_mfa::page::<S>).post(root_mfa::action::<S>))
        .route("/console/account/mfa/enable", post(root_mfa::enable::<S>))
        .route("/console/credential-report", get(insight::credential_report::<S>).post(insight::generate_report::<S>))
        .route("/console/access-analyzer", get(analyzer::analyzers::<S>).post(analyzer::analyzer_action::<S>))
        .route("/console/access-analyzer/validate", get(analyzer::validate_form::<S>).post(analyzer::validate::<S>))
        .route("/console/access-analyzer/generate", get(analyzer::generation::<S>).post(analyzer::generate::<S>))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&console), trail::scope::<S>))
        .with_state(console)
}

/// The console for `tessera serve`: sets the account root's console password from
/// [`ROOT_PASSWORD_ENV`] when the account has none yet (the first start), then the routes.
pub async fn serve<S: Store>(
    sts: Arc<Sts<S>>,
    account: Option<&str>,
    settings: Settings,
) -> Result<Router, RootPasswordError> {
    if let Ok(password) = std::env::var(ROOT_PASSWORD_ENV)
        && !password.is_empty()
    {
        let mut random = tessera_credentials::SystemRng::new().map_err(|_| RootPasswordError::Hash)?;
        let identity = sts.identity();
        let now = identity.env().now_millis();
        let (id, set) = set_root_password(&**identity.store(), account, &password, &mut random, now, true).await?;
        if set {
            tracing::info!(account = %id, "set the root user's console password from {ROOT_PASSWORD_ENV}");
        }
    }
    Ok(router(Console::new(sts, settings)))
}
