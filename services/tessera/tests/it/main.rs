//! The integration tests of the tessera binary and its server, as one test binary: each file is a
//! module (`cargo test -p tessera --test it admin_revoke::` runs one file's tests). One binary
//! links the whole server once, where a binary per file linked it once per file. Its tests run in
//! parallel threads of one process: a test that needs the process to itself (process-wide state
//! such as a global tracing subscriber, or the `/metrics` counts) runs in a child process of its
//! own through `common::alone`.

mod common;

mod admin_revoke;
mod agent;
mod agent_cert;
mod authorizer_api;
mod backup;
mod config;
mod console;
mod deploy;
mod edge;
mod faults;
mod grpc_auth;
mod hardening;
mod health;
mod identity_credentials_grpc;
mod identity_grpc;
mod policy_analysis_cli;
mod policy_cli;
mod redis_cluster;
mod redis_restart;
mod redis_tls;
mod rotation;
mod serve;
mod shutdown;
mod split;
mod telemetry;
mod tidy;
mod user_credentials;
