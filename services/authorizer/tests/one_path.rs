//! One decision path: no source of the workspace's services and crates, other than this crate,
//! the policy engine itself (its code, tests and simulator) and tests, calls the engine's
//! `tessera_policy::authorize` or words a policy decision's `AccessDenied` ("... is not
//! authorized to perform: ..."). A transport turns its request into checks and asks
//! `tessera_authorizer::Authorizer`; it never assembles a decision or its message itself.

use std::path::{Path, PathBuf};

/// The workspace root (this crate is `services/authorizer`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Rust sources under `dir`, without test, bench and example trees.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !matches!(name.as_ref(), "tests" | "benches" | "examples" | "target" | "difftest" | "node_modules") {
                sources(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// The code of a source file: up to its unit tests (`#[cfg(test)]`), comment lines left out.
fn code(text: &str) -> String {
    let mut kept = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if !trimmed.starts_with("//") {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// Whether `code` reaches the engine's `authorize`: called by path, imported, or the crate
/// aliased.
fn reaches_engine(code: &str) -> bool {
    if code.contains("tessera_policy::authorize") || code.contains("tessera_policy as ") {
        return true;
    }
    // `use tessera_policy::{..., authorize, ...};`, over any number of lines.
    let mut rest = code;
    while let Some(at) = rest.find("use tessera_policy::{") {
        let group = &rest[at..];
        let end = group.find("};").unwrap_or(group.len());
        let imports = &group["use tessera_policy::{".len()..end];
        if imports
            .split([',', '\n'])
            .map(str::trim)
            .any(|item| item == "authorize" || item.starts_with("authorize as "))
        {
            return true;
        }
        rest = &group[end..];
    }
    false
}

/// Whether `code` words a policy decision's `AccessDenied`.
fn words_denial(code: &str) -> bool {
    code.contains("is not authorized to perform")
}

/// Where the engine may be called and the message worded.
fn allowed(relative: &str) -> bool {
    relative.starts_with("services/authorizer/") || relative.starts_with("crates/tessera-policy/")
}

#[test]
fn only_the_authorizer_assembles_a_decision() {
    let root = root();
    let mut files = Vec::new();
    for top in ["services", "crates"] {
        sources(&root.join(top), &mut files);
    }
    assert!(files.len() > 50, "the walk found only {} sources under {}", files.len(), root.display());
    let mut offenders = Vec::new();
    let mut seen_here = false;
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap_or(file).to_string_lossy().replace('\\', "/");
        let code = code(&std::fs::read_to_string(file).unwrap());
        let (engine, denial) = (reaches_engine(&code), words_denial(&code));
        if allowed(&relative) {
            seen_here |= relative.starts_with("services/authorizer/src/") && engine && denial;
            continue;
        }
        if engine {
            offenders.push(format!("{relative}: calls tessera_policy::authorize"));
        }
        if denial {
            offenders.push(format!("{relative}: words an AccessDenied \"is not authorized to perform\""));
        }
    }
    assert!(seen_here, "the check finds nothing even in the authorizer itself: it checks nothing");
    assert!(
        offenders.is_empty(),
        "one decision path: these go around tessera_authorizer::Authorizer:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_check_sees_each_way_to_reach_the_engine() {
    assert!(reaches_engine("let d = tessera_policy::authorize(&r, &p, t);"));
    assert!(reaches_engine("use tessera_policy::{\n    Context,\n    authorize,\n};\n"));
    assert!(reaches_engine("use tessera_policy::{Context, authorize as decide};"));
    assert!(reaches_engine("use tessera_policy as engine;"));
    assert!(!reaches_engine("use tessera_policy::{Context, Trace};\nfn authorize() {}"));
    assert!(!reaches_engine(&code("// tessera_policy::authorize(...) in a comment\n")));
    assert!(words_denial(r#"format!("User: {a} is not authorized to perform: {b}")"#));
    assert_eq!(code("fn f() {}\n#[cfg(test)]\nmod tests { tessera_policy::authorize(); }\n"), "fn f() {}\n");
}
