//! One configuration file for `tessera serve`, layered under the environment and the flags.
//!
//! The file is TOML whose keys are the flags' long names (`http-addr = "0.0.0.0:8080"`,
//! `rate-per-key = 500`, `grpc-auth = true`); flags and variables are declared once, on the clap
//! command, and the file is read against that command, so a new flag is a new key with nothing to
//! add here. Precedence: flags, then `TESSERA_*` variables, then the file, then the defaults.
//!
//! ```text
//! argv --clap--> matches --(leaf has --config FILE / TESSERA_CONFIG)--> load FILE (TOML, keys with lines)
//!   -> validate every key against the leaf's arguments (unknown key: FILE:LINE; bad value: clap's
//!      reason, FILE:LINE and the key) -> each value becomes its argument's default
//!   -> clap parses argv again: a flag or variable still wins, and nothing is given twice
//! ```
//!
//! One key is a table rather than a flag: `[upstreams]` (a gateway's replicas, `identity =
//! ["http://h1:50051", ...]`) stands for one `--upstream SERVICE=URL` per URL.
//!
//! `tessera config check FILE` runs the same validation without starting, `tessera config print`
//! prints the effective configuration with where each value came from (secrets redacted), and
//! `tessera config reference` renders the reference table of `docs/operations.md` from the command,
//! which a test compares with the guide.

use std::any::TypeId;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::serve::{MASTER_KEY_ENV, PREVIOUS_MASTER_KEY_ENV, ServeConfig};

/// The environment variable naming the configuration file (as `--config`).
pub const CONFIG_ENV: &str = "TESSERA_CONFIG";
/// The secrets `tessera serve` reads from the environment only; `config print` says whether each
/// is set, never what it holds.
const SECRET_ENVS: [&str; 3] = [MASTER_KEY_ENV, PREVIOUS_MASTER_KEY_ENV, "TESSERA_ROOT_SECRET_ACCESS_KEY"];
/// What stands for a secret in printed values.
const REDACTED: &str = "REDACTED";
/// The table standing for the repeated `--upstream SERVICE=URL` flag.
const UPSTREAMS_TABLE: &str = "upstreams";
/// The argument id of `--upstream`.
const UPSTREAM_ID: &str = "upstream";
/// Arguments that are not configuration.
const NOT_KEYS: [&str; 3] = ["help", "version", "config"];

/// `tessera serve`'s arguments: the configuration file, then every setting.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// A TOML configuration file whose keys are these flags' long names (`http-addr =
    /// "0.0.0.0:8080"`); flags and environment variables override it (see `docs/operations.md`).
    #[arg(long, env = CONFIG_ENV, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub serve: ServeConfig,
}

/// `tessera config`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file without starting: every key known, every value valid.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
    /// Print `tessera serve`'s effective configuration (file, environment and these flags
    /// applied) as TOML, each value with where it came from; secrets are redacted.
    Print(Box<ServeArgs>),
    /// Print the configuration reference (Markdown), as `docs/operations.md` holds it.
    Reference,
}

/// A configuration problem, naming the file and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// One key of a configuration file.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    key: String,
    line: usize,
    value: toml::Value,
}

/// A configuration file as read: its keys in file order, values not yet checked.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    entries: Vec<Entry>,
}

impl ConfigFile {
    /// Reads and parses `path` (TOML syntax only; [`validate`] checks keys and values).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read the configuration file `{}`: {e}", path.display())))?;
        Self::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        type Spanned<T> = toml::Spanned<T>;
        let table: BTreeMap<Spanned<String>, toml::Value> = toml::from_str(text).map_err(|e| {
            // toml's message names the line and column and shows the line.
            ConfigError(format!("{}: not valid TOML: {}", path.display(), e.to_string().trim_end()))
        })?;
        let line_of = |offset: usize| text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1;
        let mut entries: Vec<Entry> = table
            .into_iter()
            .map(|(key, value)| Entry { line: line_of(key.span().start), key: key.into_inner(), value })
            .collect();
        entries.sort_by_key(|entry| entry.line);
        Ok(Self { path: path.to_owned(), entries })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|entry| entry.key == key)
    }

    fn at(&self, entry: &Entry) -> String {
        format!("{}:{}", self.path.display(), entry.line)
    }
}

/// The configuration keys of `command` (a built leaf command such as `serve`): its long flags but
/// `--help`, `--version` and `--config`, global ones included.
fn keys(command: &Command) -> impl Iterator<Item = &Arg> {
    command.get_arguments().filter(|arg| arg.get_long().is_some() && !NOT_KEYS.contains(&arg.get_id().as_str()))
}

fn is_flag(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
}

fn is_integer(arg: &Arg) -> bool {
    let id = arg.get_value_parser().type_id();
    [TypeId::of::<u8>(), TypeId::of::<u16>(), TypeId::of::<u32>(), TypeId::of::<u64>(), TypeId::of::<usize>()]
        .into_iter()
        .chain([TypeId::of::<i32>(), TypeId::of::<i64>()])
        .any(|integer| id == integer)
}

/// Checks every key of `file` against `command`'s arguments and each value with the argument's own
/// parser, and returns each key's argument id and value as a command-line string.
fn validate(command: &Command, file: &ConfigFile) -> Result<Vec<(String, String)>, ConfigError> {
    let mut values = Vec::new();
    for entry in &file.entries {
        let at = file.at(entry);
        let key = &entry.key;
        if key == "config" {
            return Err(ConfigError(format!(
                "{at}: `config` cannot be set in a configuration file (use --config or {CONFIG_ENV})"
            )));
        }
        if key == UPSTREAMS_TABLE
            && let Some(arg) = keys(command).find(|arg| arg.get_id() == UPSTREAM_ID)
        {
            values.extend(upstreams(&at, arg, &entry.value)?);
            continue;
        }
        let Some(arg) = keys(command).find(|arg| arg.get_long() == Some(key.as_str())) else {
            let hint = keys(command)
                .filter_map(Arg::get_long)
                .min_by_key(|known| distance(known, key))
                .filter(|known| distance(known, key) <= 2)
                .map(|known| format!(" (did you mean `{known}`?)"))
                .unwrap_or_default();
            return Err(ConfigError(format!(
                "{at}: unknown key `{key}`{hint}; the keys are `tessera serve`'s flags without `--` (`tessera config reference`)"
            )));
        };
        let value = match (&entry.value, is_flag(arg)) {
            (toml::Value::Boolean(on), true) => on.to_string(),
            (_, true) => {
                return Err(ConfigError(format!("{at}: `{key}` is a switch: write `{key} = true` or `{key} = false`")));
            }
            (toml::Value::String(text), false) => text.clone(),
            (toml::Value::Integer(number), false) => number.to_string(),
            (toml::Value::Float(number), false) => number.to_string(),
            (_, false) => {
                return Err(ConfigError(format!(
                    "{at}: `{key}` takes one value (a string or a number), not {}",
                    entry.value.type_str()
                )));
            }
        };
        // The argument's own parser, on a command holding it alone: the same rules as the flag.
        let probe = Arg::new("value").long("value").action(ArgAction::Set).value_parser(arg.get_value_parser().clone());
        let check = Command::new("tessera").no_binary_name(true).arg(probe);
        if let Err(error) = check.try_get_matches_from([format!("--value={value}")]) {
            let choices: Vec<String> =
                arg.get_possible_values().iter().map(|v| format!("`{}`", v.get_name())).collect();
            let reason = match std::error::Error::source(&error) {
                Some(source) => source.to_string(),
                None if !choices.is_empty() => format!("expected one of {}", choices.join(", ")),
                None => error.kind().to_string(),
            };
            let shown = if is_secret_like(&value) { REDACTED.to_owned() } else { value };
            return Err(ConfigError(format!("{at}: invalid value `{shown}` for `{key}`: {reason}")));
        }
        values.push((arg.get_id().to_string(), value));
    }
    Ok(values)
}

/// The `[upstreams]` table as `--upstream SERVICE=URL` values, each checked by the flag's parser.
fn upstreams(at: &str, arg: &Arg, table: &toml::Value) -> Result<Vec<(String, String)>, ConfigError> {
    let shape = || {
        ConfigError(format!(
            "{at}: `[{UPSTREAMS_TABLE}]` is a table of services and their replicas' URLs: \
             `identity = [\"http://10.0.0.5:50051\", \"http://10.0.0.6:50051\"]`"
        ))
    };
    let toml::Value::Table(table) = table else { return Err(shape()) };
    let mut values = Vec::new();
    for (service, urls) in table {
        let urls: Vec<&str> = match urls {
            toml::Value::String(url) => vec![url.as_str()],
            toml::Value::Array(urls) => {
                urls.iter().map(toml::Value::as_str).collect::<Option<_>>().ok_or_else(shape)?
            }
            _ => return Err(shape()),
        };
        for url in urls {
            let value = format!("{service}={url}");
            let probe =
                Arg::new("value").long("value").action(ArgAction::Set).value_parser(arg.get_value_parser().clone());
            let check = Command::new("tessera").no_binary_name(true).arg(probe);
            if let Err(error) = check.try_get_matches_from([format!("--value={value}")]) {
                let reason =
                    std::error::Error::source(&error).map_or_else(|| error.kind().to_string(), |s| s.to_string());
                return Err(ConfigError(format!("{at}: `[{UPSTREAMS_TABLE}]` `{service}`: {reason}")));
            }
            values.push((UPSTREAM_ID.to_owned(), value));
        }
    }
    Ok(values)
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb)).min(row[j] + 1).min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

/// The names of the subcommands `matches` went through, and the leaf's matches.
fn leaf(matches: &ArgMatches) -> (Vec<String>, &ArgMatches) {
    let (mut path, mut current) = (Vec::new(), matches);
    while let Some((name, sub)) = current.subcommand() {
        path.push(name.to_owned());
        current = sub;
    }
    (path, current)
}

fn find<'a>(command: &'a Command, path: &[String]) -> Option<&'a Command> {
    path.iter().try_fold(command, |command, name| command.find_subcommand(name))
}

/// Makes each value its argument's default on the subcommand of `root` at `path` (or on `root`
/// for a global argument), so the environment and the flags still override it. `root` must not be
/// built yet: `mut_arg` moves the argument, which a built command's index would not follow.
fn with_defaults(root: Command, path: &[String], values: &[(String, String)]) -> Command {
    fn at(command: Command, path: &[String], f: impl FnOnce(Command) -> Command) -> Command {
        match path.split_first() {
            Some((name, rest)) => command.mut_subcommand(name, |sub| at(sub, rest, f)),
            None => f(command),
        }
    }
    // A repeated argument (`--upstream`) gets all its values as defaults, in file order.
    let mut grouped: Vec<(&String, Vec<&'static str>)> = Vec::new();
    for (id, value) in values {
        // clap keeps `'static` defaults without its `string` feature: a few bytes, once.
        let value: &'static str = Box::leak(value.clone().into_boxed_str());
        match grouped.iter_mut().find(|(known, _)| *known == id) {
            Some((_, all)) => all.push(value),
            None => grouped.push((id, vec![value])),
        }
    }
    grouped.into_iter().fold(root, |root, (id, values)| {
        let local = find(&root, path).is_some_and(|leaf| leaf.get_arguments().any(|arg| arg.get_id() == id));
        if local {
            at(root, path, |leaf| leaf.mut_arg(id, |arg| arg.default_values(values)))
        } else {
            root.mut_arg(id, |arg| arg.default_values(values))
        }
    })
}

/// `root`, built (global arguments propagated to the subcommands).
fn built(root: &Command) -> Command {
    let mut root = root.clone();
    root.build();
    root
}

/// What [`parse`] returns: the parsed command line, its matches, and the file it read, if any.
#[derive(Debug)]
pub struct Parsed<C> {
    pub cli: C,
    pub matches: ArgMatches,
    pub file: Option<ConfigFile>,
}

/// Parses `args` as `C` does, reading the configuration file that the chosen subcommand's
/// `--config` (or [`CONFIG_ENV`]) names into its arguments' defaults. Clap's own errors (and
/// `--help`) exit as clap does; a configuration problem is returned.
pub fn parse<C: clap::Parser>(args: Vec<OsString>) -> Result<Parsed<C>, ConfigError> {
    let command = C::command();
    let first = command.clone().try_get_matches_from(&args).unwrap_or_else(|error| error.exit());
    let (path, leaf_matches) = leaf(&first);
    let file_path = leaf_matches.try_get_one::<PathBuf>("config").ok().flatten().cloned();
    let (matches, file) = match file_path {
        None => (first, None),
        Some(file_path) => {
            let file = ConfigFile::load(&file_path)?;
            let all = built(&command);
            let leaf_command = find(&all, &path).ok_or_else(|| ConfigError("no such subcommand".into()))?;
            let values = validate(leaf_command, &file)?;
            let command = with_defaults(command, &path, &values);
            let matches = command.try_get_matches_from(&args).unwrap_or_else(|error| error.exit());
            (matches, Some(file))
        }
    };
    let cli = C::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    Ok(Parsed { cli, matches, file })
}

/// The `serve` subcommand of `root`, built.
fn serve_command(root: &Command) -> Result<Command, ConfigError> {
    built(root).find_subcommand("serve").cloned().ok_or_else(|| ConfigError("the command has no `serve`".into()))
}

/// `tessera config check FILE`: the file's keys and values, then the settings as a whole (the
/// checks `tessera serve` makes before opening anything), with nothing from the environment.
pub fn check(root: &Command, file: &Path) -> Result<String, ConfigError> {
    let serve = serve_command(root)?;
    let loaded = ConfigFile::load(file)?;
    let values = validate(&serve, &loaded)?;
    // Defaults and file alone: the environment is what the server will add, not what is checked.
    let path = ["serve".to_owned()];
    let root = with_defaults(root.clone(), &path, &values)
        .mut_args(|arg| arg.env(None))
        .mut_subcommand("serve", |serve| serve.mut_args(|arg| arg.env(None)));
    let matches = root
        .try_get_matches_from(["tessera", "serve"])
        .map_err(|e| ConfigError(format!("{}: {}", file.display(), e.to_string().trim_end())))?;
    let (_, matches) = leaf(&matches);
    let config = <ServeConfig as clap::FromArgMatches>::from_arg_matches(matches)
        .map_err(|e| ConfigError(format!("{}: {}", file.display(), e.to_string().trim_end())))?;
    config.check_grpc_exposure().map_err(|e| ConfigError(format!("{}: {e:#}", file.display())))?;
    config.check_upstreams().map_err(|e| ConfigError(format!("{}: {e:#}", file.display())))?;
    if let Some(account) = &config.account_id {
        tessera_identity::Account::new(account)
            .map_err(|e| ConfigError(format!("{}: `account-id`: {}", file.display(), e.into_service_error())))?;
    }
    Ok(format!("{}: {} key(s), valid", file.display(), loaded.entries.len()))
}

/// `tessera config print`: every setting of the leaf subcommand of `matches`, as TOML, each with
/// its source; unset options as comments; secrets redacted.
pub fn print(root: &Command, matches: &ArgMatches, file: Option<&ConfigFile>) -> Result<String, ConfigError> {
    use std::fmt::Write as _;
    let root = built(root);
    let (path, matches) = leaf(matches);
    let command = find(&root, &path).ok_or_else(|| ConfigError("no such subcommand".into()))?;
    let mut out =
        String::from("# tessera serve's effective configuration (flags over environment over file over defaults).\n");
    if let Some(file) = file {
        let _ = writeln!(out, "# file: {}", file.path().display());
    }
    let mut upstreams = String::new();
    for arg in keys(command) {
        let key = arg.get_long().unwrap_or_default();
        let id = arg.get_id().as_str();
        if id == UPSTREAM_ID {
            // Printed last, as the `[upstreams]` table (a TOML table follows the plain keys).
            let mut by_service: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for raw in matches.get_raw(id).into_iter().flatten() {
                let raw = raw.to_string_lossy();
                if let Some((service, url)) = raw.split_once('=') {
                    by_service.entry(service.to_owned()).or_default().push(redact(url));
                }
            }
            if !by_service.is_empty() {
                let source = match matches.value_source(id) {
                    Some(ValueSource::CommandLine) => "flags",
                    Some(ValueSource::EnvVariable) => "env TESSERA_UPSTREAM",
                    _ => "file",
                };
                let _ = writeln!(upstreams, "[{UPSTREAMS_TABLE}]  # {source}");
                for (service, urls) in by_service {
                    let _ = writeln!(upstreams, "{service} = {}", toml::Value::from(urls));
                }
            }
            continue;
        }
        let source = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => "flag".to_owned(),
            Some(ValueSource::EnvVariable) => {
                format!("env {}", arg.get_env().map(|e| e.to_string_lossy()).unwrap_or_default())
            }
            Some(ValueSource::DefaultValue) if file.is_some_and(|f| f.has(key)) => "file".to_owned(),
            Some(_) => "default".to_owned(),
            None => {
                let _ = writeln!(out, "# {key} is not set");
                continue;
            }
        };
        let raw: Vec<String> = matches
            .get_raw(id)
            .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let value = raw.last().cloned().unwrap_or_default();
        let bare = (is_flag(arg) && (value == "true" || value == "false"))
            || (is_integer(arg) && value.parse::<i64>().is_ok());
        let shown = if bare { value } else { toml::Value::String(redact(&value)).to_string() };
        let _ = writeln!(out, "{key} = {shown}  # {source}");
    }
    for name in SECRET_ENVS {
        if std::env::var_os(name).is_some() {
            let _ = writeln!(out, "# {name} is set ({REDACTED})");
        }
    }
    out.push_str(&upstreams);
    Ok(out)
}

/// Whether a value holds a URL password.
fn is_secret_like(value: &str) -> bool {
    redact(value) != value
}

/// A URL's password (`redis://user:password@host`) replaced by [`REDACTED`].
fn redact(value: &str) -> String {
    let Some(scheme_end) = value.find("://").map(|i| i + 3) else { return value.to_owned() };
    let rest = &value[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return value.to_owned() };
    let userinfo = &rest[..at];
    let user = match userinfo.find(':') {
        Some(colon) => &userinfo[..colon],
        // `redis://secret@host`: a lone name may be a password (Redis before ACLs).
        None => "",
    };
    format!("{}{user}:{REDACTED}{}", &value[..scheme_end], &rest[at..])
}

/// `tessera config reference`: one row per key of `serve`, from the command itself.
pub fn reference(root: &Command) -> Result<String, ConfigError> {
    use std::fmt::Write as _;
    let serve = serve_command(root)?;
    let mut out = String::from("| key | environment | default | meaning |\n|---|---|---|---|\n");
    let cell = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|");
    let config = serve.get_arguments().find(|arg| arg.get_id() == "config");
    for arg in config.into_iter().chain(keys(&serve)) {
        let key = arg.get_long().unwrap_or_default();
        let env = arg.get_env().map(|e| format!("`{}`", e.to_string_lossy())).unwrap_or_default();
        let defaults: Vec<String> = arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
        let default = match (defaults.is_empty(), is_flag(arg)) {
            (true, true) => "`false`".to_owned(),
            (true, false) => String::new(),
            (false, _) => format!("`{}`", defaults.join(",")),
        };
        let mut meaning = arg.get_long_help().or(arg.get_help()).map(ToString::to_string).unwrap_or_default();
        // clap drops a one-line help's final period.
        if !meaning.is_empty() && !meaning.ends_with('.') {
            meaning.push('.');
        }
        let choices: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|_| !is_flag(arg))
            .map(|value| format!("`{}`", value.get_name()))
            .collect();
        if !choices.is_empty() {
            let _ = write!(meaning, " One of {}.", choices.join(", "));
        }
        let key = if arg.get_id() == "config" { format!("`--{key}` (not in the file)") } else { format!("`{key}`") };
        let _ = writeln!(out, "| {key} | {env} | {default} | {} |", cell(&meaning));
    }
    let listed: BTreeSet<&str> = SECRET_ENVS.into_iter().collect();
    let _ = writeln!(
        out,
        "\nSecrets are never configuration keys: {} are read from the environment only.",
        listed.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_url_passwords() {
        assert_eq!(redact("redis://:hunter2@h:6379/0"), "redis://:REDACTED@h:6379/0");
        assert_eq!(redact("redis://app:hunter2@h/0"), "redis://app:REDACTED@h/0");
        assert_eq!(redact("redis://hunter2@h/0"), "redis://:REDACTED@h/0");
        assert_eq!(redact("redis://h:6379/0"), "redis://h:6379/0");
        assert_eq!(redact("tessera-data"), "tessera-data");
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("http-addr", "htp-addr"), 1);
        assert_eq!(distance("abc", "abc"), 0);
    }
}
