//! Least-privilege analyses over policies (issue 17): Access Analyzer's policy validation
//! findings ([`findings`]) and custom policy checks ([`checks`]), decided on the compiled form
//! with the wildcard languages of [`glob`] and the catalog of known actions ([`catalog`]).
//!
//! [`api`] is Access Analyzer's restJson1 wire form of the same operations, for an HTTP front
//! end.
//!
//! Like the rest of the crate it is pure: no clock, no I/O; documents in, answers out.

pub mod api;
pub mod catalog;
pub mod checks;
pub mod findings;
pub(crate) mod glob;
