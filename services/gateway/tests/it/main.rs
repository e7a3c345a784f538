//! The gateway's integration tests as one test binary: each file is a module (`cargo test -p
//! tessera-gateway --test it saml::` runs one file's tests), so the gateway and its domains are
//! linked once rather than once per file.

mod common;

mod conditions;
mod credentials;
mod entities;
mod every_action;
mod instance_profiles;
mod policies;
mod saml;
mod target_reads;
