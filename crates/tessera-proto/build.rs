//! Compiles `proto/tessera/**/*.proto` into tonic/prost code in `OUT_DIR`.
//!
//! protoc comes from the `protoc-bin-vendored` crate, so a fresh machine needs no system
//! package; setting `PROTOC` (and optionally `PROTOC_INCLUDE`) to a local install overrides it,
//! for hosts the vendored binaries do not cover.

use std::error::Error;
use std::path::PathBuf;

/// The proto files, relative to the workspace's `proto/` directory.
const PROTOS: &[&str] = &[
    "tessera/authorizer/v1/authorizer.proto",
    "tessera/common/v1/common.proto",
    "tessera/identity/v1/identity.proto",
    "tessera/policy/v1/policy.proto",
    "tessera/sts/v1/sts.proto",
];

/// Messages that carry secrets: prost derives no `Debug` for them and `src/redact.rs` implements
/// one that hides the secret fields.
const REDACTED: &[&str] = &[
    ".tessera.authorizer.v1.Bearer",
    ".tessera.authorizer.v1.SigV4Request",
    ".tessera.authorizer.v1.ServiceCredential",
    ".tessera.identity.v1.AccessKey",
    ".tessera.identity.v1.CreateLoginProfileRequest",
    ".tessera.identity.v1.UpdateLoginProfileRequest",
    ".tessera.identity.v1.ChangePasswordRequest",
    ".tessera.identity.v1.VirtualMfaDevice",
    // Issue 14, part B.
    ".tessera.identity.v1.UploadServerCertificateRequest",
    ".tessera.identity.v1.ServiceSpecificCredential",
    ".tessera.sts.v1.Caller",
    ".tessera.sts.v1.Credentials",
    ".tessera.sts.v1.AssumeRoleWithWebIdentityRequest",
    ".tessera.sts.v1.VerifySessionRequest",
    ".tessera.sts.v1.VerifySessionResponse",
    ".tessera.sts.v1.GetWebIdentityTokenResponse",
];

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?);
    let proto_root = manifest_dir.join("../../proto");
    println!("cargo:rerun-if-changed={}", proto_root.display());
    println!("cargo:rerun-if-env-changed=PROTOC");
    println!("cargo:rerun-if-env-changed=PROTOC_INCLUDE");

    let mut config = tonic_prost_build::Config::new();
    let mut includes = vec![proto_root.clone()];
    // `Config::new` already honours `PROTOC` and `PROTOC_INCLUDE`; only without them do we
    // point it at the vendored binary and its copy of the well-known types.
    if std::env::var_os("PROTOC").is_none() {
        config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
        includes.push(protoc_bin_vendored::include_path()?);
    }

    let protos: Vec<PathBuf> = PROTOS.iter().map(|p| proto_root.join(p)).collect();
    tonic_prost_build::configure().skip_debug(REDACTED).compile_with_config(config, &protos, &includes)?;
    Ok(())
}
