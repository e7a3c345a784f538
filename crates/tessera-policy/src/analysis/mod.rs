//! Least-privilege analyses over policies (issue 17): Access Analyzer's policy validation
//! findings ([`findings`]) and custom policy checks ([`checks`]), decided on the compiled form
//! with the wildcard languages of [`glob`] and the catalog of known actions ([`catalog`]).
//!
//! [`unused`] finds unused roles, keys, passwords and permissions from the audit trail's
//! requests and IAM's last-use records; [`generate`] writes the policy a principal's requests
//! needed and proves it with the engine.
//!
//! [`api`] is Access Analyzer's restJson1 wire form of the same operations, for an HTTP front
//! end.
//!
//! Like the rest of the crate it is pure: no clock, no I/O; documents in, answers out.

pub mod api;
pub mod catalog;
pub mod checks;
pub mod findings;
pub mod generate;
pub(crate) mod glob;
pub mod unused;
