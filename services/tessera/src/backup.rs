//! `tessera admin backup`, `restore` and `migrate`: a store's records to a file and back, or from
//! one store to another (the embedded store to Redis and back), through
//! [`tessera_store::Snapshots`]. Values are copied as stored, so secrets stay sealed under the
//! master key and a backup is only as useful as that key: restore refuses a backup whose key-check
//! record names another key than the target's (see `key_check.rs`).
//!
//! The file is JSON lines, checked end to end before anything is restored:
//!
//! ```text
//! {"format":"tessera-backup","version":1,"created":<unix s>,"backend":"redb"}
//! {"ns":"<account id or global>","counter":<version counter>}
//! {"k":"t:{NS}:<kind>:<rest>","v":<version>,"s":"<UTF-8 value>"}   (or "b": base64 when not UTF-8)
//! ...
//! {"end":{"namespaces":<n>,"records":<n>,"sha256":"<hex of every byte before this line>"}}
//! ```
//!
//! A truncated or altered file fails its checksum; restore and migrate then write nothing.

use std::collections::BTreeSet;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use tessera_credentials::MasterKey;
use tessera_store::{AnyStore, Key, Namespace, NamespaceSnapshot, Scope, Snapshot, Snapshots, Store, Versioned};

use crate::serve::MASTER_KEY_ENV;

const FORMAT: &str = "tessera-backup";
const VERSION: u64 = 1;

/// Where the store is: `--store`, else the embedded store under `--data-dir` (as `tessera serve`).
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The server's data directory (the embedded store's `tessera.redb`, `master.key`).
    #[arg(long, env = "TESSERA_DATA_DIR", default_value = "tessera-data")]
    pub data_dir: PathBuf,
    /// The store, when not the embedded one under `--data-dir`: `redis://HOST:PORT/DB` or
    /// `redis+cluster://HOST:PORT[,HOST:PORT...]`.
    #[arg(long, env = "TESSERA_STORE")]
    pub store: Option<String>,
}

impl StoreArgs {
    fn location(&self) -> String {
        self.store.clone().unwrap_or_else(|| self.data_dir.to_string_lossy().into_owned())
    }
}

/// `tessera admin backup`.
#[derive(Debug, Clone, clap::Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The backup file to write (owner-only; replaced atomically when it exists).
    #[arg(long)]
    pub to: PathBuf,
}

/// `tessera admin restore`.
#[derive(Debug, Clone, clap::Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The backup file to read.
    #[arg(long)]
    pub from: PathBuf,
    /// The master key the restored store will be served with; `TESSERA_MASTER_KEY`, or
    /// `<data-dir>/master.key` when it exists, otherwise.
    #[arg(long, env = "TESSERA_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Replace the target's records when it has any (everything it holds is removed).
    #[arg(long)]
    pub replace: bool,
    /// Restore even when the backup's secrets are sealed under another master key than the
    /// target's (they stay unreadable until that key is used).
    #[arg(long)]
    pub ignore_master_key: bool,
}

/// `tessera admin migrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    /// The store to copy: a data directory (the embedded store), `redis://HOST:PORT/DB` or
    /// `redis+cluster://HOST:PORT[,HOST:PORT...]`.
    #[arg(long)]
    pub from: String,
    /// The store to copy into: `redis://HOST:PORT/DB`, `redis+cluster://HOST:PORT[,HOST:PORT...]`
    /// or a data directory.
    #[arg(long)]
    pub to: String,
    /// Replace the target's records when it has any (everything it holds is removed).
    #[arg(long)]
    pub replace: bool,
    /// Copy even when the target's key-check record names another master key than the source's.
    #[arg(long)]
    pub ignore_master_key: bool,
}

/// Opens a store that must already exist (a source): a directory without `tessera.redb` is refused
/// rather than created empty.
async fn open_existing(location: &str) -> Result<AnyStore> {
    if !location.contains("://") && !Path::new(location).join(tessera_store::RedbStore::FILE_NAME).is_file() {
        bail!("no embedded store at `{location}` (no {})", tessera_store::RedbStore::FILE_NAME);
    }
    open(location).await
}

async fn open(location: &str) -> Result<AnyStore> {
    AnyStore::open(location).await.with_context(|| {
        if location.contains("://") {
            format!("cannot open the store `{location}`")
        } else {
            format!("cannot open the embedded store in `{location}` (stop the server using it first)")
        }
    })
}

/// Writes a backup of `store` to `to`; returns the snapshot written.
pub async fn backup(store: &AnyStore, to: &Path) -> Result<Snapshot> {
    let snapshot = store.export(&Scope::Whole).await.context("cannot read the store")?;
    write_file(&snapshot, store.backend(), to)?;
    Ok(snapshot)
}

/// Checks the backup at `from`, then restores it into `store`.
pub async fn restore(store: &AnyStore, from: &Path, options: &RestoreOptions) -> Result<Snapshot> {
    let snapshot = read_file(from)?;
    check_key(&snapshot, store, options.master_key.as_ref(), options.ignore_master_key).await?;
    import(store, snapshot.clone(), options.replace).await?;
    Ok(snapshot)
}

/// What restore may do.
#[derive(Debug, Default)]
pub struct RestoreOptions {
    pub master_key: Option<MasterKey>,
    pub replace: bool,
    pub ignore_master_key: bool,
}

/// Copies every record of `from` into `to`, then reads `to` back and compares.
pub async fn migrate(from: &AnyStore, to: &AnyStore, replace: bool, ignore_master_key: bool) -> Result<Snapshot> {
    let snapshot = from.export(&Scope::Whole).await.context("cannot read the source store")?;
    check_key(&snapshot, to, None, ignore_master_key).await?;
    import(to, snapshot.clone(), replace).await?;
    let copied = to.export(&Scope::Whole).await.context("cannot read the target store back")?;
    let differs = snapshot.namespaces.len() != copied.namespaces.len()
        || snapshot
            .namespaces
            .iter()
            .zip(&copied.namespaces)
            .any(|(a, b)| a.namespace != b.namespace || a.entries != b.entries);
    if differs {
        bail!("the target store does not hold what was copied (was it written to during the migration?)");
    }
    Ok(snapshot)
}

async fn import(store: &AnyStore, snapshot: Snapshot, replace: bool) -> Result<()> {
    if !replace {
        let existing = store.export(&Scope::Whole).await.context("cannot read the target store")?;
        if !existing.is_empty() {
            bail!(
                "the target store holds {} records in {} namespaces: pass --replace to replace them all",
                existing.len(),
                existing.namespaces.len()
            );
        }
    }
    store.import(snapshot).await.map_err(|error| {
        // A Redis connection that broke (or timed out) while its transaction ran leaves no way to
        // know whether the server ran it; it ran whole or not at all either way.
        let outcome = if !matches!(error, tessera_store::StoreError::Redis(_)) {
            "nothing was written"
        } else if matches!(store, AnyStore::Redis(redis) if redis.is_cluster()) {
            // A cluster is replaced one namespace (one slot's script) at a time.
            "each namespace was replaced whole or not at all, some perhaps not yet: run the restore again with \
             --replace to be sure"
        } else {
            "the transaction was applied whole or not at all: run the restore again with --replace to be sure"
        };
        anyhow::Error::new(error).context(format!("cannot write the target store ({outcome})"))
    })
}

/// Refuses a snapshot sealed under another master key than `master_key` or the one the target's
/// key-check record names.
async fn check_key(snapshot: &Snapshot, target: &AnyStore, master_key: Option<&MasterKey>, ignore: bool) -> Result<()> {
    let record_key = crate::key_check::key();
    let Some((_, ours)) = snapshot.get(&record_key) else { return Ok(()) };
    let mut problems = Vec::new();
    match master_key.map(|key| crate::key_check::compare(&ours.value, key)) {
        None | Some(Ok(())) => {}
        Some(Err(crate::key_check::KeyCheckError::WrongKey { ours, stored })) => {
            problems.push(format!("the master key given (key id {ours}) is not the backup's (key id {stored})"));
        }
        Some(Err(error)) => problems.push(error.to_string()),
    }
    if let Some(theirs) = target.get(&record_key).await.context("cannot read the target's key-check record")?
        && theirs.value != ours.value
    {
        problems.push("the target store's key-check record names another master key than the backup's".to_owned());
    }
    match (problems.is_empty(), ignore) {
        (true, _) => Ok(()),
        (false, true) => {
            eprintln!("tessera: warning (--ignore-master-key): {}", problems.join("; "));
            Ok(())
        }
        (false, false) => bail!(
            "the backup's secrets are sealed under another master key: {}; nothing was written \
             (--ignore-master-key restores anyway)",
            problems.join("; ")
        ),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `snapshot` to a temporary file beside `to`, syncs it, and renames it into place.
pub fn write_file(snapshot: &Snapshot, backend: &str, to: &Path) -> Result<()> {
    let dir = match to.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = to.file_name().with_context(|| format!("`{}` is not a file name", to.display()))?;
    let temporary = dir.join(format!(".{}.partial", name.to_string_lossy()));
    let file = tessera_credentials::private_fs::open(
        &temporary,
        std::fs::OpenOptions::new().write(true).create(true).truncate(true),
    )
    .with_context(|| format!("cannot write `{}`", temporary.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut line = |value: Value, out: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec(&value).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        digest.update(&bytes);
        out.write_all(&bytes)
    };
    let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut write = |out: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        line(json!({ "format": FORMAT, "version": VERSION, "created": created, "backend": backend }), out)?;
        for ns in &snapshot.namespaces {
            line(json!({ "ns": ns.namespace.tag(), "counter": ns.counter }), out)?;
            for (key, value) in &ns.entries {
                let record = match std::str::from_utf8(&value.value) {
                    Ok(text) => json!({ "k": key.as_str(), "v": value.version, "s": text }),
                    Err(_) => json!({
                        "k": key.as_str(),
                        "v": value.version,
                        "b": base64::engine::general_purpose::STANDARD.encode(&value.value),
                    }),
                };
                line(record, out)?;
            }
        }
        Ok(())
    };
    write(&mut out).with_context(|| format!("cannot write `{}`", temporary.display()))?;
    let sha = hex(digest.finish().as_ref());
    let end = json!({ "end": { "namespaces": snapshot.namespaces.len(), "records": snapshot.len(), "sha256": sha } });
    let finish = |mut out: std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        serde_json::to_writer(&mut out, &end).map_err(std::io::Error::other)?;
        out.write_all(b"\n")?;
        out.into_inner().map_err(std::io::IntoInnerError::into_error)?.sync_all()
    };
    finish(out).with_context(|| format!("cannot write `{}`", temporary.display()))?;
    std::fs::rename(&temporary, to).with_context(|| format!("cannot move the backup into `{}`", to.display()))?;
    Ok(())
}

/// Reads and checks a backup file: format, checksum, counts, and the snapshot's own rules.
pub fn read_file(from: &Path) -> Result<Snapshot> {
    let bytes = std::fs::read(from).with_context(|| format!("cannot read `{}`", from.display()))?;
    let what = || format!("`{}` is not a complete Tessera backup", from.display());
    // The last line is the trailer; the checksum covers everything before it.
    let body_end = bytes.strip_suffix(b"\n").unwrap_or(&bytes).iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let (body, trailer) = bytes.split_at(body_end);
    let trailer: Value = serde_json::from_slice(trailer).with_context(what)?;
    let end = trailer.get("end").with_context(|| format!("{}: it has no end record (truncated?)", what()))?;
    let sha = hex(ring::digest::digest(&ring::digest::SHA256, body).as_ref());
    if end["sha256"].as_str() != Some(sha.as_str()) {
        bail!("{}: its checksum does not match (truncated or altered)", what());
    }
    let mut lines = body.lines();
    let header: Value = serde_json::from_str(&lines.next().with_context(what)??).with_context(what)?;
    if header["format"] != FORMAT {
        bail!("{}: no `{FORMAT}` header", what());
    }
    if header["version"].as_u64() != Some(VERSION) {
        bail!("`{}` is a backup of format version {}, this tessera reads {VERSION}", from.display(), header["version"]);
    }
    let mut namespaces: Vec<NamespaceSnapshot> = Vec::new();
    for (number, line) in lines.enumerate() {
        let line = line?;
        let at = || format!("`{}` line {}", from.display(), number + 2);
        let record: Value = serde_json::from_str(&line).with_context(at)?;
        if let Some(tag) = record.get("ns") {
            let namespace = tag.as_str().and_then(|t| Namespace::from_tag(t).ok()).with_context(at)?;
            let counter = record["counter"].as_u64().with_context(at)?;
            namespaces.push(NamespaceSnapshot { namespace, counter, entries: Vec::new() });
            continue;
        }
        let key = record["k"].as_str().and_then(|k| Key::from_stored(k.to_owned()).ok()).with_context(at)?;
        let version = record["v"].as_u64().with_context(at)?;
        let value = match (record.get("s"), record.get("b")) {
            (Some(Value::String(text)), None) => text.clone().into_bytes(),
            (None, Some(Value::String(encoded))) => {
                base64::engine::general_purpose::STANDARD.decode(encoded).ok().with_context(at)?
            }
            _ => bail!("{}: a record needs one of `s` or `b`", at()),
        };
        let ns = namespaces.last_mut().with_context(|| format!("{}: a record before any namespace", at()))?;
        ns.entries.push((key, Versioned { value, version }));
    }
    let snapshot = Snapshot { scope: Scope::Whole, namespaces };
    if end["records"].as_u64() != Some(snapshot.len() as u64)
        || end["namespaces"].as_u64() != Some(snapshot.namespaces.len() as u64)
    {
        bail!("{}: its counts do not match its records", what());
    }
    snapshot.validate().with_context(what)?;
    Ok(snapshot)
}

/// The master key restore checks the backup against: `--master-key-file`, `TESSERA_MASTER_KEY`,
/// or `<data-dir>/master.key` when it exists. Never creates one.
fn master_key(args: &RestoreArgs) -> Result<Option<MasterKey>> {
    if let Some(path) = &args.master_key_file {
        return MasterKey::load(path)
            .map(Some)
            .with_context(|| format!("cannot load the master key `{}`", path.display()));
    }
    if let Ok(encoded) = std::env::var(MASTER_KEY_ENV) {
        return MasterKey::from_encoded(&encoded)
            .map(Some)
            .with_context(|| format!("{MASTER_KEY_ENV} is not a valid master key"));
    }
    let path = args.store.data_dir.join("master.key");
    if path.is_file() {
        return MasterKey::load(&path)
            .map(Some)
            .with_context(|| format!("cannot load the master key `{}`", path.display()));
    }
    Ok(None)
}

fn summary(snapshot: &Snapshot) -> String {
    let namespaces: BTreeSet<&str> = snapshot.namespaces.iter().map(|ns| ns.namespace.tag()).collect();
    format!("{} records in {} namespaces", snapshot.len(), namespaces.len())
}

/// Runs `tessera admin backup`.
pub async fn run_backup(args: &BackupArgs) -> Result<Vec<String>> {
    let store = open_existing(&args.store.location()).await?;
    let snapshot = backup(&store, &args.to).await?;
    Ok(vec![format!("backed up {} from {} to {}", summary(&snapshot), store.backend(), args.to.display())])
}

/// Runs `tessera admin restore`.
pub async fn run_restore(args: &RestoreArgs) -> Result<Vec<String>> {
    let master_key = master_key(args)?;
    // Check the file before opening (and, for the embedded store, creating) the target.
    read_file(&args.from)?;
    let store = open(&args.store.location()).await?;
    let checked = master_key.is_some();
    let options = RestoreOptions { master_key, replace: args.replace, ignore_master_key: args.ignore_master_key };
    let snapshot = restore(&store, &args.from, &options).await?;
    let mut lines =
        vec![format!("restored {} from {} into {}", summary(&snapshot), args.from.display(), store.backend())];
    let sealed_under = snapshot
        .get(&crate::key_check::key())
        .and_then(|(_, record)| serde_json::from_slice::<Value>(&record.value).ok())
        .and_then(|record| record["key_id"].as_str().map(str::to_owned));
    if let (false, Some(key_id)) = (checked, sealed_under) {
        lines.push(format!(
            "note: no master key was given to check: serve this store with the backup's master key (key id {key_id})"
        ));
    }
    Ok(lines)
}

/// Runs `tessera admin migrate`.
pub async fn run_migrate(args: &MigrateArgs) -> Result<Vec<String>> {
    let from = open_existing(&args.from).await?;
    let to = open(&args.to).await?;
    let snapshot = migrate(&from, &to, args.replace, args.ignore_master_key).await?;
    Ok(vec![format!("migrated {} from {} to {}, and read them back", summary(&snapshot), from.backend(), to.backend())])
}
