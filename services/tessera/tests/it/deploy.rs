//! The deployment files against the binary they run: `deploy/compose/` and `deploy/k8s/` are
//! parsed and every flag, environment variable, port, probe path, config key and upstream they
//! name is checked against `tessera serve --help`, `tessera config check` and each other; and
//! `deploy/local/cluster.sh` brings up the split cluster, both gateways answer, a user created
//! through one is seen through the other, a policy change made through one is enforced by the
//! other within a second, and `down` leaves no process behind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::cluster::{Cluster, Key, alive, get_status, query, xml_text};
use serde_norway::Value;

const SERVICES: [&str; 4] = ["identity", "policy", "sts", "authorizer"];
const IAM: &str = "2010-05-08";
const STS: &str = "2011-06-15";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What `tessera serve --help` declares: long flags, environment variables, `--service` values.
#[derive(Debug)]
struct Help {
    flags: BTreeSet<String>,
    envs: BTreeSet<String>,
    services: BTreeSet<String>,
}

fn help() -> Help {
    let output = Command::new(env!("CARGO_BIN_EXE_tessera")).args(["serve", "--help"]).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let mut help = Help { flags: BTreeSet::new(), envs: BTreeSet::new(), services: BTreeSet::new() };
    for word in text.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']' || c == '=') {
        if let Some(flag) = word.strip_prefix("--").filter(|f| !f.is_empty()) {
            help.flags.insert(flag.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()).to_owned());
        }
    }
    for (index, _) in text.match_indices("[env: ") {
        let name: String = text[index + 6..].chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').collect();
        help.envs.insert(name);
    }
    // `--service <SERVICE>` then "Possible values:" and one `- name[: meaning]` line per value.
    let service = &text[text.find("--service <").expect("serve has --service")..];
    let values = &service[service.find("Possible values:").unwrap()..];
    help.services = values
        .lines()
        .skip(1)
        .map(str::trim)
        .take_while(|line| line.starts_with("- "))
        .map(|line| line[2..].split(':').next().unwrap().trim().to_owned())
        .collect();
    help
}

/// Environment variables `tessera serve` reads that are secrets, hence not in `--help`: the ones
/// `tessera config reference` lists, and the root key's id, read beside its secret.
fn secret_envs() -> BTreeSet<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_tessera")).args(["config", "reference"]).output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let line = text.lines().find(|l| l.starts_with("Secrets are never configuration keys")).unwrap();
    let mut names: BTreeSet<String> = line.split('`').skip(1).step_by(2).map(str::to_owned).collect();
    assert!(read("services/tessera/src/serve.rs").contains("\"TESSERA_ROOT_ACCESS_KEY_ID\""));
    names.insert("TESSERA_ROOT_ACCESS_KEY_ID".to_owned());
    names
}

fn check_env(help: &Help, secrets: &BTreeSet<String>, name: &str, at: &str) {
    assert!(help.envs.contains(name) || secrets.contains(name), "{at}: `{name}` is no variable of `tessera serve`");
}

/// Checks a `serve ...` argument list: every flag is `serve`'s, `--service` names a known service.
/// Returns the flags with their values (`--upstream` repeated), in order.
fn check_args(help: &Help, args: &[String], at: &str) -> Vec<(String, Option<String>)> {
    assert_eq!(args.first().map(String::as_str), Some("serve"), "{at}: runs `tessera serve`");
    let mut flags = Vec::new();
    let mut rest = args[1..].iter().peekable();
    while let Some(arg) = rest.next() {
        let flag = arg.strip_prefix("--").unwrap_or_else(|| panic!("{at}: `{arg}` is not a flag"));
        let (flag, inline) = match flag.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (flag, None),
        };
        assert!(help.flags.contains(flag), "{at}: `--{flag}` is not a flag of `tessera serve`");
        let value = inline.or_else(|| rest.next_if(|next| !next.starts_with("--")).cloned());
        if flag == "service" {
            let service = value.as_deref().unwrap_or_default();
            assert!(help.services.contains(service), "{at}: `--service {service}` is not one of {:?}", help.services);
        }
        flags.push((flag.to_owned(), value));
    }
    flags
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':').and_then(|(_, port)| port.parse().ok()).unwrap_or_else(|| panic!("`{addr}` has no port"))
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
        Value::String(text) => text.split_whitespace().map(str::to_owned).collect(),
        Value::Null => Vec::new(),
        other => panic!("not a list of strings: {other:?}"),
    }
}

/// `--upstream SERVICE=URL` values grouped by service.
fn upstreams(flags: &[(String, Option<String>)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (flag, value) in flags.iter().filter(|(flag, _)| flag == "upstream") {
        let (service, url) = value.as_deref().unwrap().split_once('=').unwrap_or_else(|| panic!("{flag}: SERVICE=URL"));
        out.entry(service.to_owned()).or_default().insert(url.to_owned());
    }
    out
}

#[test]
fn the_dockerfile_and_the_compose_file_match_the_binary() {
    let help = help();
    let secrets = secret_envs();
    assert!(help.services.contains("gateway"), "`tessera serve --service gateway` is missing: {:?}", help.services);

    // The image: the ports it exposes are the ones the processes listen on; not root.
    let dockerfile = read("deploy/compose/Dockerfile");
    let exposed: BTreeSet<u16> = dockerfile
        .lines()
        .filter_map(|line| line.strip_prefix("EXPOSE "))
        .flat_map(|ports| ports.split_whitespace().map(|p| p.parse::<u16>().unwrap()))
        .collect();
    let user = dockerfile.lines().rev().find_map(|line| line.strip_prefix("USER ")).expect("a USER line");
    assert!(!user.starts_with("root") && !user.starts_with("0"), "the image runs as root: {user}");
    let mut image_env = BTreeMap::new();
    for line in dockerfile.lines().map(|l| l.trim().trim_start_matches("ENV ").trim_end_matches('\\').trim()) {
        if let Some((name, value)) = line.split_once('=').filter(|(name, _)| name.starts_with("TESSERA_")) {
            check_env(&help, &secrets, name, "Dockerfile ENV");
            image_env.insert(name.to_owned(), value.to_owned());
        }
    }
    assert!(dockerfile.contains("--locked -p tessera"), "the image builds the tessera binary from the lock file");

    let mut compose: Value = serde_norway::from_str(&read("deploy/compose/compose.yaml")).unwrap();
    compose.apply_merge().unwrap();
    let services = compose["services"].as_mapping().unwrap();
    let names: BTreeSet<String> = services.keys().map(|k| k.as_str().unwrap().to_owned()).collect();
    assert!(names.contains("redis"));
    // service -> (compose name, gRPC port)
    let mut replicas: BTreeMap<String, Vec<(String, u16)>> = BTreeMap::new();
    let mut gateway_upstreams = Vec::new();
    for (name, spec) in services {
        let name = name.as_str().unwrap();
        if name == "redis" {
            continue;
        }
        let at = format!("compose.yaml: {name}");
        let mut env = image_env.clone();
        for (key, value) in spec["environment"].as_mapping().unwrap() {
            let key = key.as_str().unwrap();
            check_env(&help, &secrets, key, &at);
            env.insert(key.to_owned(), value.as_str().unwrap().to_owned());
        }
        let flags = check_args(&help, &strings(&spec["command"]), &at);
        let flag = |name: &str| flags.iter().find(|(f, _)| f == name).and_then(|(_, v)| v.clone());
        let service = flag("service").unwrap_or_else(|| panic!("{at}: no --service"));
        let http = port_of(&flag("http-addr").or_else(|| env.get("TESSERA_HTTP_ADDR").cloned()).unwrap());
        let grpc = port_of(&flag("grpc-addr").or_else(|| env.get("TESSERA_GRPC_ADDR").cloned()).unwrap());
        assert_eq!(exposed, BTreeSet::from([http, grpc]), "{at}: the image exposes the ports it listens on");
        // The master key: the compose secret, named by the variable.
        let secret_names = strings(&spec["secrets"]);
        assert_eq!(secret_names, ["master_key"], "{at}");
        assert!(compose["secrets"]["master_key"]["file"].as_str().is_some());
        assert_eq!(env.get("TESSERA_MASTER_KEY_FILE").map(String::as_str), Some("/run/secrets/master_key"), "{at}");
        assert!(env["TESSERA_STORE"].starts_with("redis://redis:"), "{at}: the store is the compose Redis");
        // The healthcheck asks /readyz on the HTTP port.
        let check = strings(&spec["healthcheck"]["test"]).join(" ");
        assert!(check.contains("/readyz") && check.contains(&format!("/{http}")), "{at}: healthcheck `{check}`");
        if let Some(ports) = spec.get("ports") {
            for mapping in strings(ports) {
                let container: u16 = mapping.rsplit(':').next().unwrap().parse().unwrap();
                assert!(container == http || container == grpc, "{at}: publishes {mapping}");
            }
            assert_eq!(service, "gateway", "{at}: only gateways are published");
        }
        if service == "gateway" {
            gateway_upstreams.push((name.to_owned(), upstreams(&flags)));
        } else {
            assert!(SERVICES.contains(&service.as_str()), "{at}: {service}");
            assert!(flags.iter().all(|(f, _)| f != "upstream"), "{at}: only gateways have upstreams");
            replicas.entry(service).or_default().push((name.to_owned(), grpc));
        }
    }
    assert_eq!(gateway_upstreams.len(), 2, "two gateways");
    for service in SERVICES {
        assert_eq!(replicas.get(service).map(Vec::len), Some(2), "two replicas of {service}");
    }
    // Every gateway lists every replica of every service, at its gRPC port, and nothing else.
    for (gateway, listed) in gateway_upstreams {
        for (service, members) in &replicas {
            let expected: BTreeSet<String> =
                members.iter().map(|(name, port)| format!("http://{name}:{port}")).collect();
            assert_eq!(listed.get(service), Some(&expected), "{gateway}: upstreams of {service}");
        }
        assert_eq!(listed.len(), replicas.len(), "{gateway}: upstreams of unknown services");
    }
}

/// The YAML documents of the kustomization's resources.
fn k8s_documents() -> (Value, Vec<Value>) {
    let kustomization: Value = serde_norway::from_str(&read("deploy/k8s/kustomization.yaml")).unwrap();
    let mut documents = Vec::new();
    for file in strings(&kustomization["resources"]) {
        let text = read(&format!("deploy/k8s/{file}"));
        // Documents are separated by `---` lines (the files hold no block scalar that has one).
        for document in text.split("\n---\n") {
            let value: Value = serde_norway::from_str(document).unwrap_or_else(|e| panic!("{file}: {e}"));
            if !value.is_null() {
                documents.push(value);
            }
        }
    }
    (kustomization, documents)
}

fn named<'a>(documents: &'a [Value], kind: &str, name: &str) -> &'a Value {
    documents
        .iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn the_kubernetes_manifests_match_the_binary() {
    let help = help();
    let secrets = secret_envs();
    let (kustomization, documents) = k8s_documents();
    let dir = tempfile::tempdir().unwrap();

    // The master key's Secret, as kustomize generates it.
    let generator = &kustomization["secretGenerator"][0];
    let secret_name = generator["name"].as_str().unwrap();
    let secret_files = strings(&generator["files"]);
    assert_eq!(secret_files.len(), 1);
    assert!(read(".gitignore").contains("/deploy/k8s/master.key"), "the master key file stays out of git");

    // The config files: valid for this binary (`tessera config check`), and what each says.
    let config_map = named(&documents, "ConfigMap", "tessera-config");
    let mut configs = BTreeMap::new();
    for (key, text) in config_map["data"].as_mapping().unwrap() {
        let (key, text) = (key.as_str().unwrap(), text.as_str().unwrap());
        let path = dir.path().join(key);
        std::fs::write(&path, text).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_tessera")).args(["config", "check"]).arg(&path).output().unwrap();
        assert!(output.status.success(), "{key}: {}", String::from_utf8_lossy(&output.stderr));
        configs.insert(key.to_owned(), text.parse::<toml::Table>().unwrap());
    }

    let workloads: Vec<&Value> = documents
        .iter()
        .filter(|d| d["kind"] == "Deployment" || d["kind"] == "StatefulSet")
        .filter(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"].as_str().is_some_and(|i| i.starts_with("tessera"))
        })
        .collect();
    let mut seen = BTreeMap::new();
    let mut gateway_config = None;
    let mut replica_urls: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for workload in &workloads {
        let name = workload["metadata"]["name"].as_str().unwrap();
        let at = format!("k8s {name}");
        let pod = &workload["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let flags = check_args(&help, &strings(&container["args"]), &at);
        let flag = |f: &str| flags.iter().find(|(k, _)| k == f).and_then(|(_, v)| v.clone());
        for variable in container["env"].as_sequence().into_iter().flatten() {
            check_env(&help, &secrets, variable["name"].as_str().unwrap(), &at);
        }
        // Volumes by name, and where each is mounted.
        let mounts: BTreeMap<&str, &str> = container["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|m| (m["name"].as_str().unwrap(), m["mountPath"].as_str().unwrap()))
            .collect();
        let volume = |pred: &dyn Fn(&Value) -> bool| -> &str {
            let volume = pod["volumes"].as_sequence().unwrap().iter().find(|v| pred(v)).unwrap();
            mounts[volume["name"].as_str().unwrap()]
        };
        // --config names a key of the ConfigMap where it is mounted.
        let config_path = PathBuf::from(flag("config").unwrap_or_else(|| panic!("{at}: no --config")));
        assert_eq!(config_path.parent().unwrap(), Path::new(volume(&|v| v["configMap"]["name"] == "tessera-config")));
        let config_key = config_path.file_name().unwrap().to_str().unwrap();
        let config = &configs[config_key];
        let setting = |key: &str| flag(key).or_else(|| config.get(key).and_then(|v| v.as_str()).map(str::to_owned));
        // The master key file is the generated Secret's file, where it is mounted.
        let key_file = PathBuf::from(setting("master-key-file").expect("master-key-file"));
        assert_eq!(
            key_file.parent().unwrap(),
            Path::new(volume(&|v| v["secret"]["secretName"] == secret_name)),
            "{at}"
        );
        assert_eq!(key_file.file_name().unwrap().to_str().unwrap(), secret_files[0], "{at}");
        // Ports and probes.
        let ports: BTreeMap<&str, u64> = container["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap(), p["containerPort"].as_u64().unwrap()))
            .collect();
        assert_eq!(ports["http"], u64::from(port_of(&setting("http-addr").unwrap())), "{at}: http port");
        assert_eq!(ports["grpc"], u64::from(port_of(&setting("grpc-addr").unwrap())), "{at}: grpc port");
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz", "{at}");
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz", "{at}");
        for probe in ["readinessProbe", "livenessProbe"] {
            assert_eq!(container[probe]["httpGet"]["port"], "http", "{at}: {probe}");
        }
        let requests = &container["resources"]["requests"];
        assert!(requests["cpu"].as_str().is_some() && requests["memory"].as_str().is_some(), "{at}: resource requests");
        assert_eq!(pod["securityContext"]["runAsUser"].as_u64(), Some(10001), "{at}: the image's user");
        assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true), "{at}");
        // A PodDisruptionBudget over exactly these pods that leaves one running.
        let labels = &workload["spec"]["selector"]["matchLabels"];
        assert_eq!(
            &workload["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"],
            &labels["app.kubernetes.io/name"]
        );
        let pdb = documents
            .iter()
            .find(|d| d["kind"] == "PodDisruptionBudget" && &d["spec"]["selector"]["matchLabels"] == labels)
            .unwrap_or_else(|| panic!("{at}: no PodDisruptionBudget"));
        let replicas = workload["spec"]["replicas"].as_u64().unwrap();
        assert_eq!(replicas, 2, "{at}: two replicas");
        assert!(pdb["spec"]["minAvailable"].as_u64().unwrap() < replicas, "{at}: the budget allows a disruption");

        let service = setting("service").unwrap_or_else(|| panic!("{at}: no service"));
        assert!(help.services.contains(&service), "{at}: {service}");
        seen.insert(service.clone(), name.to_owned());
        if service == "gateway" {
            assert!(
                config.get("grpc-auth").and_then(toml::Value::as_bool) == Some(true),
                "{at}: gateways authenticate gRPC"
            );
            gateway_config = Some(config.clone());
            let public = named(&documents, "Service", name);
            assert_eq!(&public["spec"]["selector"], labels, "{at}: the Service selects the gateways");
        } else {
            // A headless Service gives each replica the DNS name the gateways list.
            assert_eq!(workload["kind"], "StatefulSet", "{at}");
            let service_name = workload["spec"]["serviceName"].as_str().unwrap();
            let headless = named(&documents, "Service", service_name);
            assert_eq!(headless["spec"]["clusterIP"], "None", "{at}");
            assert_eq!(&headless["spec"]["selector"], labels, "{at}");
            let urls = (0..replicas).map(|i| format!("http://{name}-{i}.{service_name}:{}", ports["grpc"])).collect();
            replica_urls.insert(service, urls);
        }
    }
    assert_eq!(
        seen.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        ["authorizer", "gateway", "identity", "policy", "sts"].into()
    );
    // The gateway's [upstreams] list every replica of every service.
    let upstreams = gateway_config.unwrap()["upstreams"].as_table().expect("gateway.toml has [upstreams]").clone();
    let listed: BTreeMap<String, BTreeSet<String>> = upstreams
        .iter()
        .map(|(service, urls)| {
            (service.clone(), urls.as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_owned()).collect())
        })
        .collect();
    assert_eq!(listed, replica_urls);
    // Every ConfigMap key is used by some workload, and the identity replicas start in order (the
    // first bootstraps the account).
    assert_eq!(named(&documents, "StatefulSet", &seen["identity"])["spec"]["podManagementPolicy"], "OrderedReady");
}

/// The figures of one cluster run, printed at the end.
fn params<'a>(action: &'a str, version: &'a str, rest: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![("Action", action), ("Version", version)];
    all.extend_from_slice(rest);
    all
}

async fn iam(addr: std::net::SocketAddr, key: &Key, action: &str, rest: &[(&str, &str)]) -> (u16, String) {
    query(addr, key, "iam", &params(action, IAM, rest)).await.unwrap_or_else(|e| panic!("{action}: {e}"))
}

async fn ok(addr: std::net::SocketAddr, key: &Key, action: &str, rest: &[(&str, &str)]) -> String {
    let (status, body) = iam(addr, key, action, rest).await;
    assert_eq!(status, 200, "{action} via {addr}: {body}");
    body
}

/// Polls `call` until it answers `want`, for at most `within`; returns how long it took.
async fn until_status(
    within: Duration,
    want: u16,
    mut call: impl AsyncFnMut() -> (u16, String),
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let (status, body) = call().await;
        if status == want {
            return Ok(start.elapsed());
        }
        if start.elapsed() > within {
            return Err(format!("still {status} after {within:?}: {body}"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_cluster_serves_through_both_gateways_and_stops_cleanly() {
    let started = Instant::now();
    let mut cluster = tokio::task::spawn_blocking(Cluster::up).await.unwrap();
    let up_took = started.elapsed();
    let [g1, g2] = [cluster.gateways[0], cluster.gateways[1]];
    let root = cluster.root.clone();

    // Every process answers its probes, the services as well as the gateways.
    let pids = cluster.pids();
    assert_eq!(pids.len(), 11, "redis, 8 service replicas and 2 gateways: {pids:?}");
    for (name, _) in pids.iter().filter(|(name, _)| name != "redis") {
        let addr = cluster.http_addr(name);
        assert_eq!(get_status(addr, "/healthz").await, 200, "{name} /healthz");
        assert_eq!(get_status(addr, "/readyz").await, 200, "{name} /readyz");
    }
    let status = cluster.must(&["status"]);
    assert_eq!(status.lines().filter(|line| line.ends_with(" yes")).count(), 11, "{status}");

    // Both gateways authenticate the root key.
    for gateway in [g1, g2] {
        let (code, body) = query(gateway, &root, "sts", &params("GetCallerIdentity", STS, &[])).await.unwrap();
        assert_eq!(code, 200, "GetCallerIdentity via {gateway}: {body}");
        assert!(xml_text(&body, "Arn").unwrap().ends_with(":root"), "{body}");
    }

    // A user created through one gateway is seen through the other.
    ok(g1, &root, "CreateUser", &[("UserName", "deploy-alice")]).await;
    let body = ok(g2, &root, "GetUser", &[("UserName", "deploy-alice")]).await;
    assert!(body.contains("<UserName>deploy-alice</UserName>"), "{body}");
    let body = ok(g1, &root, "CreateAccessKey", &[("UserName", "deploy-alice")]).await;
    let alice = Key {
        id: xml_text(&body, "AccessKeyId").unwrap().to_owned(),
        secret: xml_text(&body, "SecretAccessKey").unwrap().to_owned(),
        token: None,
    };

    // A policy granted through gateway 1 is enforced by gateway 2 within a second, and so is its
    // removal through gateway 2 by gateway 1 (each gateway caches compiled principals until the
    // account's policy epoch moves).
    let list = async |gateway| iam(gateway, &alice, "ListUsers", &[]).await;
    let (denied, body) = list(g2).await;
    assert_eq!(denied, 403, "alice has no policy yet: {body}");
    assert!(body.contains("AccessDenied"), "{body}");
    assert_eq!(list(g1).await.0, 403);
    let document =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}"#;
    let policy = [("UserName", "deploy-alice"), ("PolicyName", "list"), ("PolicyDocument", document)];
    ok(g1, &root, "PutUserPolicy", &policy).await;
    let granted = until_status(Duration::from_secs(1), 200, async || list(g2).await).await.unwrap();
    ok(g2, &root, "DeleteUserPolicy", &[("UserName", "deploy-alice"), ("PolicyName", "list")]).await;
    let revoked = until_status(Duration::from_secs(1), 403, async || list(g1).await).await.unwrap();

    // down stops exactly what up started.
    let stopping = Instant::now();
    let output = cluster.down();
    let down_took = stopping.elapsed();
    for (name, pid) in &pids {
        assert!(!alive(*pid), "{name} (pid {pid}) still runs after down:\n{output}");
    }
    assert!(cluster.pids().is_empty(), "pid files left: {:?}", cluster.pids());
    let status = cluster.run(&["status"]);
    assert!(!status.status.success(), "status fails when nothing runs");
    println!(
        "local cluster: up in {up_took:.1?}, a grant seen by the other gateway after {granted:.1?}, a removal after \
         {revoked:.1?}, down in {down_took:.1?}"
    );
}
