//! The security token service (reference §3.4, §4): short-lived credentials for role sessions,
//! federated users and MFA-backed user sessions, the verification of the session tokens it issues,
//! and their revocation.
//!
//! A session token is self-contained (`tessera_credentials::TokenKeyRing` seals its claims), so
//! [`Sts::verify_session`] needs no storage read: it opens the token and consults the local copy of
//! the revocations, which every replica keeps current from the store and the revocation channel.
//! Issued sessions are also recorded (`session:` records in the global namespace, by access key id),
//! for `GetAccessKeyInfo`, lookups and revocation by id; a sweeper removes them once expired.
//!
//! [`StsApi`] is the token service as callers see it (issuing, lookups, revocation), implemented
//! here by [`Sts`] and over gRPC by [`RemoteSts`]; [`CallerResolver`] is what stays in every
//! process that authenticates callers (resolving credentials, verifying session tokens). `grpc.rs`
//! serves any pair of them; `convert.rs` is the one conversion to and from `tessera.sts.v1`,
//! shared by the adapter and the client.
//!
//! The key ring is shared by every replica through the store, sealed under the master key. A token
//! naming a key this replica has not seen makes it reload the ring (at most once a second).

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use tessera_identity::{Env, Identity, Result};
use tessera_policy_service::Policies;
use tessera_store::Store;

mod api;
mod assume;
mod caller;
mod certificate;
mod convert;
pub mod grpc;
pub mod issuer;
mod keys;
mod oidc;
mod record;
mod remote;
mod revoke;
// SAML providers
mod saml;
mod tokens;
mod web_identity;

pub use api::{CallerResolver, StsApi};
pub use assume::{AssumeRole, AssumedRole, IssuedCredentials, insert_resource_tags};
pub use caller::CallerCredentials;
pub use certificate::{CertificateAssumedRole, CertificateIdentity, CertificateSession, ROLES_ANYWHERE_PRINCIPAL};
pub use issuer::{Issuer, JwtRotation, WebIdentityToken, carry_over_jwt_keys, rotate_jwt_keys};
pub use keys::{VerifiedStats, carry_over_token_keys, rotate_token_keys};
pub use oidc::{OidcConfig, OidcConfigError};
pub use remote::RemoteSts;
pub use revoke::{
    AUDIT_RETENTION_SECS, CHANNEL as REVOCATION_CHANNEL, IssuingStop, Revocation, RevocationList, SessionRecord,
};
/// The caller and its layers are the authorizer's; re-exported so code naming them here compiles.
pub use tessera_authorizer::{CacheConfig, CallerKind, CallerLayers, CallerPrincipal};
// SAML providers
pub use saml::{AssumeRoleWithSaml, SamlAssumedRole};
pub use tokens::{CallerIdentity, FederationToken};
pub use web_identity::{AssumeRoleWithWebIdentity, WebIdentityAssumedRole};

/// The longest any session lives: GetSessionToken and GetFederationToken allow 36 hours.
pub const MAX_SESSION_SECS: u64 = 129_600;

/// The security token service over one store.
#[derive(Debug, Clone)]
pub struct Sts<S> {
    store: Arc<S>,
    env: Env,
    identity: Identity<S>,
    policies: Policies<S>,
    keys: Arc<keys::TokenKeys>,
    revocations: Arc<revoke::Revocations>,
    /// The keys of external OIDC providers, for AssumeRoleWithWebIdentity.
    oidc: Arc<oidc::JwksCache>,
    /// The decision path (callers' compiled policies, cached until their account's policy epoch
    /// moves), which trust evaluation shares with the gateway.
    authorizer: Arc<tessera_authorizer::Authorizer<S>>,
    /// Writes session records in batches (group commit).
    sessions: record::Recorder,
    /// Tessera's OIDC issuer, for `GetWebIdentityToken` through [`StsApi`] (set once it is loaded).
    issuer: Arc<std::sync::OnceLock<Arc<Issuer>>>,
}

impl<S: Store> Sts<S> {
    /// Loads (or, on the first start of the first replica, creates) the token key ring, loads the
    /// revocations, and starts following the revocation channel, sweeping expired sessions, and
    /// rotating the key ring once its current key is a day old (checked hourly).
    ///
    /// OIDC providers are reached with the system roots only; see [`Sts::start_with`].
    pub async fn start(store: Arc<S>, env: Env) -> Result<Self> {
        let oidc = OidcConfig::new(None).map_err(|error| {
            tracing::error!(%error, "cannot configure TLS for OIDC providers");
            tessera_identity::Error::new(
                tessera_proto::ErrorCode::ServiceFailure,
                "The request processing has failed because of an unknown error.",
            )
        })?;
        Self::start_with(store, env, oidc).await
    }

    /// As [`Sts::start`], with how OIDC providers are reached (extra CA, timeouts, cache times).
    pub async fn start_with(store: Arc<S>, env: Env, oidc: OidcConfig) -> Result<Self> {
        Self::start_configured(store, env, oidc, tessera_authorizer::CacheConfig::default()).await
    }

    /// As [`Sts::start_with`], with the authorizer's cache bounds (entries, and how long cached
    /// principals are served while the policy-epoch channel is down).
    pub async fn start_configured(
        store: Arc<S>,
        env: Env,
        oidc: OidcConfig,
        cache: tessera_authorizer::CacheConfig,
    ) -> Result<Self> {
        let keys = Arc::new(keys::TokenKeys::load_or_create(&*store, &env).await?);
        let revocations = Arc::new(revoke::Revocations::default());
        revoke::follow(Arc::clone(&store), Arc::clone(&revocations), Arc::clone(&env.clock)).await?;
        keys::rotate_periodically(Arc::downgrade(&store), Arc::downgrade(&keys), env.clone());
        let identity = Identity::new(Arc::clone(&store), env.clone());
        let policies = Policies::new(Arc::clone(&store), env.clone());
        let oidc = Arc::new(oidc::JwksCache::new(oidc));
        let layers = tessera_authorizer::LayerCache::start(
            Arc::clone(&store),
            Policies::new(Arc::clone(&store), env.clone()),
            cache,
        )
        .await?;
        let authorizer = Arc::new(tessera_authorizer::Authorizer::new(identity.clone(), layers));
        let sessions = record::Recorder::start(&store);
        let issuer = Arc::default();
        Ok(Self { store, env, identity, policies, keys, revocations, oidc, authorizer, sessions, issuer })
    }

    pub fn identity(&self) -> &Identity<S> {
        &self.identity
    }

    /// The one decision path, over this service's store and compiled-policy cache.
    pub fn authorizer(&self) -> &tessera_authorizer::Authorizer<S> {
        &self.authorizer
    }

    /// The owner, status and secret of a long-term access key (cached until its account's policy
    /// epoch moves); `None` for an unknown key.
    pub async fn access_key(&self, key_id: &str) -> Result<Option<Arc<tessera_identity::AccessKeyIdentity>>> {
        self.authorizer.cache().access_key(&self.identity, key_id).await
    }

    /// The counters of the compiled-policy cache.
    pub fn layer_cache_stats(&self) -> tessera_authorizer::CacheStats {
        self.authorizer.cache().stats()
    }

    /// Rotates the session-token key ring now: new tokens are sealed under a new key, tokens under
    /// older keys stay valid until they expire, and keys no token can still use are dropped.
    /// Returns the new key's id.
    pub async fn rotate_token_keys(&self) -> Result<u32> {
        self.keys.rotate(&*self.store, &self.env, 0).await
    }

    /// Now, in unix seconds, from the injected clock.
    fn now_secs(&self) -> u64 {
        self.env.now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }
}
