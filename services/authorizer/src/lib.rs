//! The authorizer: the one path a decision about a caller takes. [`Authorizer::decide`] assembles
//! a decision from the caller ([`CallerPrincipal`]), its compiled layers ([`CallerLayers`], read
//! through the [`LayerCache`]), its request context ([`base_context`]) and the checks a transport
//! made of a request ([`Check`]); [`Authorizer::authorize`] turns the first denial into AWS's
//! `AccessDenied`; [`Authorizer::trust`] evaluates a role's trust policy for the token service.
//!
//! - `caller.rs`: who is calling and what every decision about it starts from.
//! - `decide.rs`: the decision, the restrictions on temporary credentials, the denial messages,
//!   and trust evaluation.
//! - `cache.rs`: compiled policies per principal, session and role trust, until the account's
//!   policy epoch moves.

mod cache;
mod caller;
mod decide;

pub use cache::{CacheConfig, CacheStats, LayerCache, Principal};
pub use caller::{CallerKind, CallerLayers, CallerPrincipal, base_context, format_time};
pub use decide::{
    Authorizer, Check, Judged, Trust, denial, not_authorized, root_only, session_may_call, settable_key,
    trust_as_stored, web_identity_not_authorized,
};
