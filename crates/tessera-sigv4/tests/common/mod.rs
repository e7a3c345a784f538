//! Reading the case files of `tests/data/`: `-- name` sections, and raw HTTP/1.1 requests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `-- name` sections of a case file, each without its final newline.
pub(crate) fn sections(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("-- ") {
            if let Some((name, body)) = current.take() {
                out.insert(name, body);
            }
            current = Some((name.trim_end().to_owned(), String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
        }
    }
    if let Some((name, body)) = current {
        out.insert(name, body);
    }
    for body in out.values_mut() {
        if body.ends_with('\n') {
            body.pop();
        }
    }
    out
}

/// `key: value` lines.
pub(crate) fn fields(text: &str) -> BTreeMap<String, String> {
    text.lines().filter_map(|line| line.split_once(": ")).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// A raw HTTP/1.1 request: request line, `Name:value` header lines, blank line, body.
#[derive(Debug, Clone)]
pub(crate) struct RawRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl RawRequest {
    pub(crate) fn parse(text: &str) -> RawRequest {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let request_line = lines.next().expect("request line");
        let (method, rest) = request_line.split_once(' ').expect("method");
        // The target may contain spaces (`get-space`), so only the protocol is split off the end.
        let target = rest.strip_suffix(" HTTP/1.1").expect("HTTP/1.1");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let headers = lines
            .filter(|line| !line.is_empty())
            .map(|line| {
                let (name, value) = line.split_once(':').expect("header line");
                (name.to_owned(), value.to_owned())
            })
            .collect();
        RawRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    pub(crate) fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
    }
}

/// The `*.txt` case files of `tests/data/<dir>`, sorted.
pub(crate) fn case_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}
