//! Repository rules checked as tests: every Rust file says what it is for, and the pure crates
//! never depend (even transitively) on the async runtime, gRPC, Redis or the store.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let mut files = Vec::new();
    for dir in ["crates", "services", "fuzz", "loadtest"] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(files.len() > 10, "found only {} Rust files: is the walk broken?", files.len());
    let undocumented: Vec<String> = files
        .iter()
        .filter(|file| !std::fs::read_to_string(file).unwrap_or_default().starts_with("//!"))
        .map(|file| file.strip_prefix(root()).unwrap_or(file).display().to_string())
        .collect();
    assert!(undocumented.is_empty(), "files without a leading `//!` line: {undocumented:?}");
}

/// ARCHITECTURE.md's invariant: pure crates import no runtime, RPC, Redis or storage code.
const PURE: [&str; 6] =
    ["tessera-arn", "tessera-policy", "tessera-sigv4", "tessera-credentials", "tessera-awsapi", "tessera-saml"];
const FORBIDDEN: [&str; 8] = ["tokio", "tonic", "redis", "redb", "hyper", "axum", "tessera-store", "mio"];

#[test]
fn pure_crates_do_not_depend_on_runtime_or_storage() {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    let names: HashMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().unwrap_or_default(), p["name"].as_str().unwrap_or_default()))
        .collect();
    // Normal (not dev or build) dependency edges of the resolved graph.
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
    for node in metadata["resolve"]["nodes"].as_array().expect("resolve graph") {
        let id = node["id"].as_str().unwrap_or_default();
        for dep in node["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"].as_array().into_iter().flatten().any(|k| k["kind"].is_null());
            if normal {
                edges.entry(id).or_default().push(dep["pkg"].as_str().unwrap_or_default());
            }
        }
    }
    let mut checked = 0;
    for (id, name) in &names {
        if !PURE.contains(name) {
            continue;
        }
        checked += 1;
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([(*id, vec![*name])]);
        while let Some((at, path)) = queue.pop_front() {
            for next in edges.get(at).into_iter().flatten() {
                let next_name = names[next];
                let mut next_path = path.clone();
                next_path.push(next_name);
                assert!(!FORBIDDEN.contains(&next_name), "pure crate depends on {}", next_path.join(" -> "));
                if seen.insert(*next) {
                    queue.push_back((next, next_path));
                }
            }
        }
    }
    assert!(checked >= 2, "expected the pure crates in the workspace, checked {checked}");
}
