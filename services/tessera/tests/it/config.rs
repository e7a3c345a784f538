//! The configuration file of the real binary: `tessera serve --config FILE` (and `TESSERA_CONFIG`)
//! under the environment and the flags, `tessera config check|print|reference`, errors naming the
//! file, the line and the key, secrets never printed, and the guide's reference kept current.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `tessera` with no `TESSERA_*` or `OTEL_*` variable of the test's own environment.
fn tessera() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("TESSERA_") || name.starts_with("OTEL_") {
            command.env_remove(&*name);
        }
    }
    command.stdin(Stdio::null());
    command
}

fn run(command: &mut Command) -> (bool, String, String) {
    let Output { status, stdout, stderr } = command.output().unwrap();
    (status.success(), String::from_utf8_lossy(&stdout).into_owned(), String::from_utf8_lossy(&stderr).into_owned())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The line of `print`'s output setting `key`.
fn line<'a>(printed: &'a str, key: &str) -> &'a str {
    printed
        .lines()
        .find(|line| line.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in {printed}"))
}

/// GET `path` on `addr`: the status line, or nothing when nothing answers yet.
fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.lines().next().map(str::to_owned)
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_reads_the_file_under_the_environment_and_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (http, file_grpc, flag_grpc) = (free_port(), free_port(), free_port());
    let file = write(
        dir.path(),
        "tessera.toml",
        &format!(
            "# all-in-one, embedded store\ndata-dir = {data:?}\nhttp-addr = \"127.0.0.1:{http}\"\n\
             grpc-addr = \"127.0.0.1:{file_grpc}\"\nlog-format = \"json\"\nshutdown-timeout = \"5s\"\n\
             rate-per-key = 100\n"
        ),
    );
    let log = dir.path().join("stderr");
    // The file by `TESSERA_CONFIG`; the gRPC address also by the flag, which wins; no error for
    // a setting given twice.
    let child = tessera()
        .args(["serve", "--grpc-addr", &format!("127.0.0.1:{flag_grpc}")])
        .env("TESSERA_CONFIG", &file)
        .env("TESSERA_RATE_PER_KEY", "50")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let http = SocketAddr::from(([127, 0, 0, 1], http));
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(http, "/healthz").as_deref() != Some("HTTP/1.1 200 OK") {
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("tessera exited ({status}): {}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "no answer on the file's http-addr");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The file's data directory, the flag's gRPC address, the file's log format.
    assert!(data.join("master.key").exists(), "the file's data-dir is not used");
    assert!(TcpStream::connect(("127.0.0.1", flag_grpc)).is_ok(), "the --grpc-addr flag did not win");
    assert!(TcpStream::connect(("127.0.0.1", file_grpc)).is_err(), "the file's grpc-addr won over the flag");
    let logs = std::fs::read_to_string(&log).unwrap();
    let first = logs.lines().next().unwrap_or_default();
    assert!(serde_json::from_str::<serde_json::Value>(first).is_ok(), "not JSON logs: {logs}");
    assert!(logs.contains(&format!("127.0.0.1:{flag_grpc}")), "{logs}");
    assert!(logs.contains("configuration file read") && logs.contains("tessera.toml"), "{logs}");
}

#[test]
fn print_shows_each_value_and_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "t.toml",
        "http-addr = \"0.0.0.0:8080\"\nrate-per-key = 500\nrate-per-account = 9\ngrpc-auth = true\n\
         authorizer-max-staleness = 10\nservice = \"sts\"\n",
    );
    let (ok, out, err) = run(tessera()
        .args(["config", "print", "--config"])
        .arg(&file)
        .args(["--rate-per-account", "3", "--grpc-addr", "127.0.0.1:1"])
        .env("TESSERA_RATE_PER_KEY", "7"));
    assert!(ok, "{err}");
    assert_eq!(line(&out, "http-addr"), "http-addr = \"0.0.0.0:8080\"  # file");
    assert_eq!(line(&out, "rate-per-key"), "rate-per-key = 7  # env TESSERA_RATE_PER_KEY");
    assert_eq!(line(&out, "rate-per-account"), "rate-per-account = 3  # flag");
    assert_eq!(line(&out, "grpc-addr"), "grpc-addr = \"127.0.0.1:1\"  # flag");
    assert_eq!(line(&out, "grpc-auth"), "grpc-auth = true  # file");
    assert_eq!(line(&out, "authorizer-max-staleness"), "authorizer-max-staleness = \"10\"  # file");
    assert_eq!(line(&out, "idle-timeout"), "idle-timeout = \"60s\"  # default");
    assert_eq!(line(&out, "log-format"), "log-format = \"text\"  # default");
    assert_eq!(line(&out, "service"), "service = \"sts\"  # file");
    assert!(out.contains("# account-id is not set"), "{out}");

    // What `print` writes, `check` accepts.
    let (ok, defaults, err) = run(tessera().args(["config", "print"]));
    assert!(ok, "{err}");
    let printed = write(dir.path(), "printed.toml", &defaults);
    let (ok, out, err) = run(tessera().args(["config", "check"]).arg(&printed));
    assert!(ok, "{out}{err}");
}

#[test]
fn secrets_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "t.toml", "store = \"redis://app:hunter2-secret@127.0.0.1:6379/0\"\n");
    let (ok, out, err) = run(tessera()
        .args(["config", "print", "--config"])
        .arg(&file)
        .env("TESSERA_MASTER_KEY", "tessera-master-key-v1:sekrit-sekrit")
        .env("TESSERA_ROOT_SECRET_ACCESS_KEY", "root-sekrit"));
    assert!(ok, "{err}");
    assert_eq!(line(&out, "store"), "store = \"redis://app:REDACTED@127.0.0.1:6379/0\"  # file");
    assert!(out.contains("# TESSERA_MASTER_KEY is set (REDACTED)"), "{out}");
    assert!(out.contains("# TESSERA_ROOT_SECRET_ACCESS_KEY is set (REDACTED)"), "{out}");
    for secret in ["hunter2", "sekrit"] {
        assert!(!out.contains(secret) && !err.contains(secret), "{secret} printed: {out}{err}");
    }
    // A key that looks like a place for a secret is refused without echoing the secret.
    let file = write(dir.path(), "s.toml", "master-key = \"tessera-master-key-v1:sekrit\"\n");
    let (ok, out, err) = run(tessera().args(["config", "check"]).arg(&file));
    assert!(!ok);
    assert!(err.contains("unknown key `master-key`"), "{err}");
    assert!(!out.contains("sekrit") && !err.contains("sekrit"), "{err}");
}

/// `tessera config check FILE` and `tessera serve --config FILE` fail with `message`, naming it.
fn refused(dir: &Path, text: &str, message: &str) {
    let file = write(dir, "bad.toml", text);
    let (ok, _, err) = run(tessera().args(["config", "check"]).arg(&file));
    assert!(!ok, "accepted: {text}");
    assert!(err.contains(message), "`{message}` not in: {err}");
    assert!(err.contains(&file.display().to_string()), "the file is not named: {err}");
    // The server refuses it before opening anything.
    let data = dir.join("never");
    let (ok, _, err) = run(tessera().args(["serve", "--data-dir"]).arg(&data).arg("--config").arg(&file));
    assert!(!ok, "served with: {text}");
    assert!(err.contains(message), "`{message}` not in: {err}");
    assert!(!data.exists(), "the server started with a bad file");
}

#[test]
fn bad_files_are_refused_naming_the_file_the_line_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    refused(
        dir,
        "http-addr = \"0.0.0.0:8080\"\n\n# typo\nhtp-addr = \"x\"\n",
        "bad.toml:4: unknown key `htp-addr` (did you mean `http-addr`?)",
    );
    refused(
        dir,
        "\nhttp-addr = \"nope\"\n",
        "bad.toml:2: invalid value `nope` for `http-addr`: invalid socket address syntax",
    );
    refused(
        dir,
        "service = \"everything\"\n",
        "bad.toml:1: invalid value `everything` for `service`: expected one of `all`",
    );
    refused(dir, "max-connections = 0\n", "bad.toml:1: invalid value `0` for `max-connections`");
    refused(dir, "request-timeout = \"5 weeks\"\n", "bad.toml:1: invalid value `5 weeks` for `request-timeout`");
    refused(dir, "grpc-auth = \"yes\"\n", "bad.toml:1: `grpc-auth` is a switch");
    refused(dir, "rate-per-key = [1, 2]\n", "bad.toml:1: `rate-per-key` takes one value");
    refused(dir, "[serve]\nhttp-addr = \"0.0.0.0:1\"\n", "bad.toml:1: unknown key `serve`");
    refused(dir, "config = \"other.toml\"\n", "bad.toml:1: `config` cannot be set in a configuration file");
    refused(dir, "rate-per-key = 1\nrate-per-key = 2\n", "not valid TOML");
    refused(dir, "http-addr = \n", "not valid TOML");
    // The checks `tessera serve` makes at start, on the file's settings.
    let file = write(dir, "exposed.toml", "grpc-addr = \"0.0.0.0:50051\"\n");
    let (ok, _, err) = run(tessera().args(["config", "check"]).arg(&file));
    assert!(!ok && err.contains("exposed.toml") && err.contains("without --grpc-auth"), "{err}");
    let file = write(dir, "account.toml", "account-id = \"12345\"\n");
    let (ok, _, err) = run(tessera().args(["config", "check"]).arg(&file));
    assert!(!ok && err.contains("account.toml") && err.contains("account-id"), "{err}");
    // A missing file.
    let (ok, _, err) = run(tessera().args(["config", "check"]).arg(dir.join("absent.toml")));
    assert!(!ok && err.contains("absent.toml"), "{err}");
    let (ok, _, err) = run(tessera().arg("serve").env("TESSERA_CONFIG", dir.join("absent.toml")));
    assert!(!ok && err.contains("absent.toml"), "{err}");
}

#[test]
fn a_good_file_checks() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "good.toml",
        "data-dir = \"/var/lib/tessera\"\nhttp-addr = \"0.0.0.0:8080\"\ngrpc-addr = \"0.0.0.0:50051\"\n\
         grpc-auth = true\nstore = \"redis://127.0.0.1:6379/0\"\naccount-id = \"123456789012\"\n\
         rate-per-key = 500\nshutdown-timeout = \"30s\"\nauthorizer-cache-entries = 200000\n\
         log-format = \"json\"\nservice = \"all\"\n",
    );
    let (ok, out, err) = run(tessera().args(["config", "check"]).arg(&file));
    assert!(ok, "{err}");
    assert!(out.contains("11 key(s), valid"), "{out}");
}

const START: &str = "<!-- config-reference:start (generated by `tessera config reference`) -->\n";
const END: &str = "<!-- config-reference:end -->";

/// The reference in `docs/operations.md` is what the command says. `TESSERA_UPDATE_DOCS=1` rewrites it.
#[test]
fn the_guide_reference_is_current() {
    let (ok, reference, err) = run(tessera().args(["config", "reference"]));
    assert!(ok, "{err}");
    for key in ["`http-addr`", "`TESSERA_RATE_PER_KEY`", "`authorizer-max-staleness`", "`log-format`", "`--config`"] {
        assert!(reference.contains(key), "{key} missing from the reference");
    }
    let guide = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations.md");
    let text = std::fs::read_to_string(&guide).unwrap();
    let start = text.find(START).expect("docs/operations.md has no config-reference:start marker") + START.len();
    let end = text[start..].find(END).expect("docs/operations.md has no config-reference:end marker") + start;
    if text[start..end] == reference {
        return;
    }
    if std::env::var_os("TESSERA_UPDATE_DOCS").is_some() {
        std::fs::write(&guide, format!("{}{reference}{}", &text[..start], &text[end..])).unwrap();
        return;
    }
    panic!(
        "docs/operations.md's configuration reference differs from `tessera config reference`; regenerate it with\n  \
         TESSERA_UPDATE_DOCS=1 cargo test -p tessera --test it config::the_guide_reference_is_current\n\
         --- the command says ---\n{reference}"
    );
}

/// The example file in `docs/operations.md` is one `tessera config check` accepts.
#[test]
fn the_guide_example_checks() {
    let guide = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations.md");
    let text = std::fs::read_to_string(guide).unwrap();
    let start = text.find("```toml\n").expect("no TOML example in docs/operations.md") + "```toml\n".len();
    let end = text[start..].find("```").unwrap() + start;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "example.toml", &text[start..end]);
    let (ok, out, err) = run(tessera().args(["config", "check"]).arg(&file));
    assert!(ok, "the guide's example is refused: {err}");
    assert!(out.contains("valid"), "{out}");
}

/// A gateway's replicas are an `[upstreams]` table, one `--upstream SERVICE=URL` per URL; a
/// gateway missing a service, or a bad URL, is refused naming the file.
#[test]
fn a_gateway_file_lists_its_upstreams_as_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let good = "service = \"gateway\"\n\n[upstreams]\nidentity = [\"http://10.0.0.5:50051\", \"http://10.0.0.6:50051\"]\n\
                policy = [\"http://10.0.0.7:50051\"]\nsts = \"http://10.0.0.8:50051\"\n";
    let file = write(dir.path(), "gateway.toml", good);
    let (ok, out, err) = run(tessera().args(["config", "check"]).arg(&file));
    assert!(ok, "{err}");
    assert!(out.contains("valid"), "{out}");
    let (ok, printed, err) = run(tessera().args(["config", "print", "--config"]).arg(&file));
    assert!(ok, "{err}");
    assert!(printed.contains("[upstreams]  # file"), "{printed}");
    assert!(printed.contains("identity = [\"http://10.0.0.5:50051\", \"http://10.0.0.6:50051\"]"), "{printed}");

    let missing =
        write(dir.path(), "missing.toml", "service = \"gateway\"\n[upstreams]\nidentity = [\"http://h:1\"]\n");
    let (ok, _, err) = run(tessera().args(["config", "check"]).arg(&missing));
    assert!(!ok && err.contains("missing: policy, sts"), "{err}");
    let bad = write(dir.path(), "bad.toml", "[upstreams]\nidentity = [\"h:1\"]\n");
    let (ok, _, err) = run(tessera().args(["config", "check"]).arg(&bad));
    assert!(!ok && err.contains("bad.toml:1") && err.contains("must start with http://"), "{err}");
}
