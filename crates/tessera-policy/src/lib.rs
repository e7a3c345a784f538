//! The IAM policy engine: grammar, validation, compilation, evaluation with explanations, and the
//! offline simulator.
//!
//! The crate is pure: no async runtime, no I/O, no clock. A decision is a plain function of the
//! request, its context and the compiled policy layers:
//!
//! ```
//! use tessera_policy::{CompiledPolicy, Context, PolicyKind, PolicySet, Policies, Principal, Request, Trace, authorize};
//!
//! let policy = CompiledPolicy::parse(
//!     "inline",
//!     r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::docs/*"}}"#,
//!     PolicyKind::Identity,
//! )?;
//! let identity = PolicySet::new(vec![policy]);
//! let alice = Principal::from_arn("arn:aws:iam::123456789012:user/alice")?;
//! let context = Context::new();
//! let request = Request::new(&alice, "s3:GetObject", "arn:aws:s3:::docs/readme", &context);
//! let decision = authorize(&request, &Policies { identity: Some(&identity), ..Policies::default() }, Trace::Off);
//! assert!(decision.is_allowed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod analysis;
mod compile;
mod context;
mod document;
mod evaluate;
mod json;
mod keys;
mod operator;
mod parse;
mod pattern;
mod simulate;
mod values;

pub use compile::{CompiledPolicy, PolicySet};
pub use context::{Context, fold_key};
pub use document::{
    Clause, ConditionBlock, Effect, OneOrMany, Policy, PrincipalClause, PrincipalType, PrincipalValue, Scalar,
    Statement, Version,
};
pub use evaluate::{
    Decision, FailedCondition, Layer, MatchedStatement, Outcome, Policies, Principal, PrincipalArnError, PrincipalKind,
    Reason, Request, Trace, authorize,
};
pub use json::{Position, Span};
pub use keys::context_keys;
pub use parse::{ErrorCode, Finding, Location, PolicyError, PolicyKind, check_size, parse_policy, parse_stored_policy};
pub use simulate::{
    ContextEntry, Level, MAX_CONTEXT_ENTRIES, MAX_EVALUATIONS, MAX_ITEMS, MAX_ORGANIZATION_LEVELS,
    MAX_POLICIES_PER_LEVEL, SimulateError, SimulateInput, simulate, simulate_json,
};
