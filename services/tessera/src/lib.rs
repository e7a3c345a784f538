//! The `tessera` binary's library half: the server (`serve`), the offline policy commands
//! (`policy`) and the operator commands (`admin`), kept out of `main.rs` so integration tests run
//! them in-process.

pub mod admin;
pub mod agent;
pub mod agent_cert;
pub mod agent_sts;
pub mod backup;
pub mod config;
pub mod credentials;
pub mod health;
pub mod internal;
pub mod key_check;
pub mod least_privilege;
pub mod listen;
mod metrics;
pub mod mtls;
pub mod policy;
pub mod rotate;
pub mod serve;
