"""Workload credentials (issue 15) with the real SDKs, unmodified: boto3 and the AWS SDK for
JavaScript v3 find their credentials only through the environment, as in production.

- `tessera agent` (bootstrap: a user's key file) vends a role's credentials through the container
  endpoint, the IMDSv2-compatible endpoint and `credential_process` (`tessera credentials`) in a
  config file; `GetCallerIdentity` names the assumed role.
- The Kubernetes IRSA flow: a projected service-account token (`AWS_WEB_IDENTITY_TOKEN_FILE`,
  `AWS_ROLE_ARN`, `AWS_ENDPOINT_URL_STS`) exchanged by the SDK with AssumeRoleWithWebIdentity; the
  cluster's issuer is a local HTTPS JWKS registered as an OIDC provider. Also a token Tessera
  itself minted (`GetWebIdentityToken`) as the workload's bootstrap identity, here through the
  agent.
- Refresh: with a 900 s session and `--refresh-ahead 899s`, the SDK receives new credentials
  before the old ones expire.

This module runs its own `tessera serve`, because the OIDC flows need it started with
`--oidc-ca-file` (the test IdP's CA) and `--issuer-url` (its identity tokens' `iss`, an https URL
that the test IdP proxies to Tessera's discovery and JWKS routes).
"""

import base64
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tessera_compat import REGION, Server, allow, policy_doc, stop, uniq

REPO = Path(__file__).resolve().parent.parent
JS = REPO / "compat" / "js"
AUDIENCE = "sts.amazonaws.com"
SERVICE_ACCOUNT = "system:serviceaccount:default:app"


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _poll(fn, what, deadline_s=30):
    """Call `fn` until it returns something truthy (no exception); fail after the deadline."""
    deadline = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < deadline:
        try:
            got = fn()
            if got:
                return got
        except Exception as e:  # noqa: BLE001 - polled until the deadline
            last = e
        time.sleep(0.05)
    raise AssertionError(f"{what} within {deadline_s} s (last error: {last})")


class Idp:
    """An HTTPS server standing in for a Kubernetes cluster's service-account issuer
    (`/cluster`: discovery and JWKS of an RSA key whose tokens this test signs with openssl) and
    fronting Tessera's own issuer routes (`/tessera/...` proxied to Tessera's HTTP port)."""

    def __init__(self, tmp: Path):
        self.dir = tmp / "idp"
        self.dir.mkdir()
        d = self.dir
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                 "-days", "1", "-subj", "/CN=tessera-test-ca", cwd=d)
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.csr",
                 "-subj", "/CN=127.0.0.1", cwd=d)
        (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
        _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", "tls.pem", "-days", "1", "-extfile", "ext.cnf", cwd=d)
        _openssl("genrsa", "-out", "sa.key", "2048", cwd=d)
        modulus = subprocess.run(["openssl", "rsa", "-in", "sa.key", "-noout", "-modulus"], cwd=d,
                                 check=True, capture_output=True, text=True).stdout.strip()
        n = bytes.fromhex(modulus.split("=", 1)[1])
        self.kid = "cluster-key-1"
        self.jwks = {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                               "n": _b64url(n), "e": _b64url((65537).to_bytes(3, "big"))}]}
        self.ca = d / "ca.pem"
        self.tessera_http = None
        idp = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, value):
                body = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/cluster/.well-known/openid-configuration":
                    return self._json({"issuer": idp.cluster_issuer, "jwks_uri": idp.cluster_issuer + "/keys",
                                       "id_token_signing_alg_values_supported": ["RS256"],
                                       "response_types_supported": ["id_token"],
                                       "subject_types_supported": ["public"]})
                if self.path == "/cluster/keys":
                    return self._json(idp.jwks)
                if self.path.startswith("/tessera/") and idp.tessera_http:
                    with urllib.request.urlopen(idp.tessera_http + self.path[len("/tessera"):], timeout=10) as r:
                        return self._json(json.loads(r.read()))
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(d / "tls.pem", d / "tls.key")
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.cluster_issuer = f"https://127.0.0.1:{self.port}/cluster"
        self.tessera_issuer = f"https://127.0.0.1:{self.port}/tessera"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def client_certificate(self, cn):
        """A client certificate for `cn` signed by the test CA (the mutual-TLS trust anchor):
        (certificate file, key file)."""
        d = self.dir
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{cn}.key", "-out", f"{cn}.csr",
                 "-subj", f"/CN={cn}/O=Example", cwd=d)
        (d / f"{cn}.cnf").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
        _openssl("x509", "-req", "-in", f"{cn}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{cn}.pem", "-days", "1", "-extfile", f"{cn}.cnf", cwd=d)
        return d / f"{cn}.pem", d / f"{cn}.key"

    def service_account_token(self, sub=SERVICE_ACCOUNT, aud=AUDIENCE, lifetime=3600):
        """A projected service-account token as the kubelet writes it (RS256)."""
        now = int(time.time())
        header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": self.kid}).encode())
        claims = _b64url(json.dumps({"iss": self.cluster_issuer, "sub": sub, "aud": [aud], "iat": now,
                                     "nbf": now, "exp": now + lifetime}).encode())
        signing_input = f"{header}.{claims}".encode()
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.dir / "sa.key")],
                                   input=signing_input, check=True, capture_output=True).stdout
        return f"{header}.{claims}.{_b64url(signature)}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def env():
    """This module's Tessera (with the IdP's CA and an https issuer URL) and the test IdP."""
    bin_path = Path(os.environ.get("TESSERA_BIN", REPO / "target" / "debug" / "tessera"))
    if not bin_path.is_absolute():
        bin_path = REPO / bin_path
    assert bin_path.exists(), f"{bin_path} missing: build it with `cargo build -p tessera`"
    tmp = Path(tempfile.mkdtemp(prefix="tessera-workloads-"))
    idp = Idp(tmp)
    log = open(tmp / "server.log", "wb")
    proc = None
    try:
        for _attempt in range(3):
            http_port, grpc_port, mtls_port = _free_port(), _free_port(), _free_port()
            data_dir = tmp / f"data-{_attempt}"
            proc = subprocess.Popen(
                [str(bin_path), "serve", "--data-dir", str(data_dir),
                 "--http-addr", f"127.0.0.1:{http_port}", "--grpc-addr", f"127.0.0.1:{grpc_port}",
                 "--issuer-url", idp.tessera_issuer, "--oidc-ca-file", str(idp.ca),
                 # Certificate sessions: the IdP's CA is the trust anchor, its TLS pair the server's.
                 "--mtls-addr", f"127.0.0.1:{mtls_port}", "--tls-cert-file", str(idp.dir / "tls.pem"),
                 "--tls-key-file", str(idp.dir / "tls.key"), "--client-ca-file", str(idp.ca)],
                stdout=log, stderr=subprocess.STDOUT,
                env={k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "AWS_"))})
            url = f"http://127.0.0.1:{http_port}"

            def ready():
                if proc.poll() is not None:
                    raise StopIteration
                with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                    return r.status == 200
            try:
                _poll(ready, "tessera ready")
                break
            except (AssertionError, StopIteration):
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
        else:
            raise RuntimeError("tessera did not start:\n" + (tmp / "server.log").read_text())
        idp.tessera_http = url
        creds = json.loads((data_dir / "root-credentials.json").read_text())
        server = Server(url, creds["AccessKeyId"], creds["SecretAccessKey"], tmp)
        server.mtls_url = f"https://127.0.0.1:{mtls_port}"
        yield Workloads(server, bin_path, idp, tmp)
    finally:
        if proc is not None:
            stop(proc)
        log.close()
        idp.close()
        shutil.rmtree(tmp, ignore_errors=True)


class Agent:
    def __init__(self, proc, addr, token_file):
        self.proc, self.addr, self.token_file = proc, addr, token_file
        self.url = f"http://{addr}"

    def get(self, path, headers=None):
        req = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def health(self):
        return self.get("/healthz")

    def metric(self, name):
        _, text = self.get("/metrics")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        raise KeyError(name)

    def stop(self):
        stop(self.proc)


class Workloads:
    def __init__(self, server, bin_path, idp, tmp):
        self.server, self.bin, self.idp, self.tmp = server, bin_path, idp, tmp
        self.root = server.principal(server.root_key_id, server.root_secret)
        self.account = self.root.sts.get_caller_identity()["Account"]
        self.agents = []

    def file(self, name, text, mode=0o600):
        path = self.tmp / uniq(name)
        path.write_text(text)
        path.chmod(mode)
        return path

    def role_for_user(self):
        """A role trusting a new user, the user allowed to assume it; (role ARN, key file)."""
        iam = self.root.iam
        user = self.root.new_user()
        role = uniq("app")
        user_arn = f"arn:aws:iam::{self.account}:user/{user.name}"
        arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy_doc(
            {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}))["Role"]["Arn"]
        iam.put_user_policy(UserName=user.name, PolicyName="assume",
                            PolicyDocument=policy_doc(allow("sts:AssumeRole", arn)))
        key_file = self.file("key", json.dumps({"AccessKeyId": user.key_id, "SecretAccessKey": user.secret}))
        return arn, key_file

    def role_for_provider(self, issuer, sub=None, aud=AUDIENCE):
        """An OIDC provider for `issuer` and a role its tokens (for `sub`) may assume."""
        host = issuer.removeprefix("https://")
        try:
            provider = self.root.iam.create_open_id_connect_provider(
                Url=issuer, ClientIDList=[aud])["OpenIDConnectProviderArn"]
        except self.root.iam.exceptions.EntityAlreadyExistsException:
            provider = f"arn:aws:iam::{self.account}:oidc-provider/{host}"
        condition = {"StringEquals": {f"{host}:aud": aud, **({f"{host}:sub": sub} if sub else {})}}
        return self.root.iam.create_role(RoleName=uniq("web"), AssumeRolePolicyDocument=policy_doc(
            {"Effect": "Allow", "Principal": {"Federated": provider},
             "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition}))["Role"]["Arn"]

    def agent(self, role_arn, *bootstrap, extra=()):
        token_file = self.file("agent-token", uniq("t"))
        proc = subprocess.Popen(
            [str(self.bin), "agent", "--endpoint", self.server.url, "--role-arn", role_arn,
             "--listen", "127.0.0.1:0", "--auth-token-file", str(token_file), *bootstrap, *extra],
            stdout=subprocess.PIPE, stderr=open(self.tmp / "agent.log", "ab"), text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "AWS_"))})
        line = proc.stdout.readline()
        assert line, f"the agent exited: {(self.tmp / 'agent.log').read_text()}"
        agent = Agent(proc, json.loads(line)["listen"], token_file)
        self.agents.append(agent)
        _poll(lambda: agent.health()[0] == 200, "the agent holds credentials")
        return agent

    def sdk_env(self, **extra):
        """A clean environment: no credentials anywhere but what `extra` points the SDK at."""
        keep = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
        env = {k: v for k, v in os.environ.items() if k in keep}
        home = self.tmp / "home"
        home.mkdir(exist_ok=True)
        env.update(HOME=str(home), AWS_CONFIG_FILE=str(self.tmp / "no-config"),
                   AWS_SHARED_CREDENTIALS_FILE=str(self.tmp / "no-credentials"), AWS_REGION=REGION,
                   AWS_DEFAULT_REGION=REGION, AWS_MAX_ATTEMPTS="1", AWS_EC2_METADATA_DISABLED="true",
                   TESSERA_URL=self.server.url)
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def boto3_whoami(self, env):
        script = ("import boto3, json, os\n"
                  "s = boto3.Session()\n"
                  "sts = s.client('sts', endpoint_url=os.environ['TESSERA_URL'])\n"
                  "arn = sts.get_caller_identity()['Arn']\n"
                  "print(json.dumps({'Arn': arn, 'AccessKeyId': s.get_credentials().access_key,"
                  " 'Method': s.get_credentials().method}))\n")
        p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr[-3000:]
        return json.loads(p.stdout.strip().splitlines()[-1])

    def js_whoami(self, env):
        assert (JS / "node_modules" / "@aws-sdk" / "client-sts").exists(), (
            "the JavaScript SDK is missing: run `npm ci --prefix compat/js` (scripts/test does)")
        p = subprocess.run(["node", str(JS / "whoami.mjs")], env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr[-3000:]
        return json.loads(p.stdout.strip().splitlines()[-1])

    def whoami_both(self, env):
        return self.boto3_whoami(env), self.js_whoami(env)

    def close(self):
        for agent in self.agents:
            agent.stop()


@pytest.fixture(scope="module")
def w(env):
    yield env
    env.close()


def assumed(role_arn, account):
    name = role_arn.rsplit("/", 1)[1]
    return f"arn:aws:sts::{account}:assumed-role/{name}/"


def container_env(w, agent):
    return w.sdk_env(AWS_CONTAINER_CREDENTIALS_FULL_URI=agent.url + "/v1/credentials",
                     AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(agent.token_file))


def imds_env(w, agent):
    return w.sdk_env(AWS_EC2_METADATA_DISABLED=None, AWS_EC2_METADATA_SERVICE_ENDPOINT=agent.url + "/")


def process_env(w, command):
    config = w.file("config", f"[default]\ncredential_process = {command}\n")
    return w.sdk_env(AWS_CONFIG_FILE=str(config))


def test_sdks_get_role_credentials_from_the_agent_through_every_mechanism(w):
    role, key_file = w.role_for_user()
    agent = w.agent(role, "--key-file", str(key_file))
    held = json.loads(agent.health()[1])["access_key_id"]
    via_agent = f"{w.bin} credentials --role-arn {role} --agent-url {agent.url} --agent-token-file {agent.token_file}"
    direct = f"{w.bin} credentials --role-arn {role} --endpoint {w.server.url} --key-file {key_file}"
    for how, env in [("container", container_env(w, agent)), ("imds", imds_env(w, agent)),
                     ("process via agent", process_env(w, via_agent))]:
        for sdk, got in zip(("boto3", "js"), w.whoami_both(env)):
            assert got["Arn"].startswith(assumed(role, w.account) + "tessera-agent"), (how, sdk, got)
            assert got["AccessKeyId"] == held, (how, sdk, got)
    # credential_process without an agent: a session of its own.
    for sdk, got in zip(("boto3", "js"), w.whoami_both(process_env(w, direct))):
        assert got["Arn"] == assumed(role, w.account) + "tessera-credentials", (sdk, got)
        assert got["AccessKeyId"].startswith("ASIA") and got["AccessKeyId"] != held, (sdk, got)
    # ...with its bootstrap key in a profile of the shared credentials file the SDK also reads.
    key = json.loads(key_file.read_text())
    shared = w.file("credentials", f"[bootstrap]\naws_access_key_id = {key['AccessKeyId']}\n"
                                   f"aws_secret_access_key = {key['SecretAccessKey']}\n")
    env = process_env(w, f"{w.bin} credentials --role-arn {role} --endpoint {w.server.url} "
                         "--profile-source bootstrap")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(shared)
    got = w.boto3_whoami(env)
    assert got["Arn"] == assumed(role, w.account) + "tessera-credentials", got
    assert agent.metric('tessera_agent_credentials_served_total{endpoint="container"}') >= 4
    assert agent.metric('tessera_agent_credentials_served_total{endpoint="imds"}') >= 2


def test_agent_endpoints_refuse_callers_without_their_tokens(w):
    role, key_file = w.role_for_user()
    agent = w.agent(role, "--key-file", str(key_file))
    assert agent.get("/v1/credentials")[0] == 401
    assert agent.get("/v1/credentials", {"Authorization": "wrong"})[0] == 401
    assert agent.get("/latest/meta-data/iam/security-credentials/")[0] == 401
    assert agent.get("/latest/meta-data/iam/security-credentials/x", {"X-aws-ec2-metadata-token": "x"})[0] == 401
    req = urllib.request.Request(agent.url + "/latest/api/token", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 400  # no TTL header
    # Secrets never reach the agent's log.
    status, body = agent.get("/v1/credentials", {"Authorization": agent.token_file.read_text().strip()})
    assert status == 200
    secret = json.loads(body)["SecretAccessKey"]
    token = json.loads(body)["Token"]
    log = (w.tmp / "agent.log").read_text()
    assert secret not in log and token not in log and json.loads(key_file.read_text())["SecretAccessKey"] not in log


def test_the_sdk_receives_refreshed_credentials_before_the_old_ones_expire(w):
    role, key_file = w.role_for_user()
    agent = w.agent(role, "--key-file", str(key_file),
                    extra=("--duration-seconds", "900", "--refresh-ahead", "899s"))
    # One boto3 process keeps one session, as a long-running workload does.
    script = ("import boto3, json, os, time\n"
              "s = boto3.Session()\n"
              "sts = s.client('sts', endpoint_url=os.environ['TESSERA_URL'])\n"
              "first = s.get_credentials().get_frozen_credentials().access_key\n"
              "expiry = s.get_credentials()._expiry_time.timestamp()\n"
              "sts.get_caller_identity()\n"
              "deadline = time.monotonic() + 30\n"
              "while time.monotonic() < deadline:\n"
              "    now = s.get_credentials().get_frozen_credentials().access_key\n"
              "    if now != first:\n"
              "        break\n"
              "    time.sleep(0.1)\n"
              "arn = sts.get_caller_identity()['Arn']\n"
              "print(json.dumps({'first': first, 'now': now, 'first_expiry': expiry, 'at': time.time(), 'arn': arn}))\n")
    p = subprocess.run([sys.executable, "-c", script], env=container_env(w, agent), capture_output=True,
                       text=True, timeout=90)
    assert p.returncode == 0, p.stderr[-3000:]
    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert got["now"] != got["first"], got
    assert got["at"] < got["first_expiry"], got
    assert got["arn"].startswith(assumed(role, w.account)), got
    assert agent.metric("tessera_agent_refreshes_total") >= 2


def test_kubernetes_service_account_token_is_exchanged_by_the_unmodified_sdks(w):
    role = w.role_for_provider(w.idp.cluster_issuer, sub=SERVICE_ACCOUNT)
    token_file = w.file("sa-token", w.idp.service_account_token())
    env = w.sdk_env(AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file), AWS_ROLE_ARN=role,
                    AWS_ROLE_SESSION_NAME="pod-app", AWS_ENDPOINT_URL_STS=w.server.url)
    for sdk, got in zip(("boto3", "js"), w.whoami_both(env)):
        assert got["Arn"] == assumed(role, w.account) + "pod-app", (sdk, got)
    # Another service account's token is refused by the role's trust policy.
    other = w.file("sa-token", w.idp.service_account_token(sub="system:serviceaccount:default:other"))
    env["AWS_WEB_IDENTITY_TOKEN_FILE"] = str(other)
    p = subprocess.run([sys.executable, "-c", "import boto3,os; boto3.client('sts', endpoint_url="
                        "os.environ['TESSERA_URL']).get_caller_identity()"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode != 0 and "AccessDenied" in p.stderr, p.stderr[-2000:]
    # The agent can hold the same bootstrap identity, reading the (rotated) file at each refresh.
    agent = w.agent(role, "--web-identity-token-file", str(token_file))
    got = w.boto3_whoami(container_env(w, agent))
    assert got["Arn"].startswith(assumed(role, w.account) + "tessera-agent"), got


def test_sdks_get_credentials_of_a_client_certificate_through_the_agent(w):
    """The fifth way: a client certificate mapped to a role (IAM Roles Anywhere's trust policy),
    the agent exchanging it on Tessera's mutual-TLS listener; the SDK reads the container
    endpoint."""
    role = w.root.iam.create_role(RoleName=uniq("cert"), AssumeRolePolicyDocument=policy_doc(
        {"Effect": "Allow", "Principal": {"Service": "rolesanywhere.amazonaws.com"},
         "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
         "Condition": {"StringEquals": {"aws:PrincipalTag/x509Subject/CN": "orders"}}}))["Role"]["Arn"]
    cert, key = w.idp.client_certificate("orders")
    agent = w.agent(role, "--bootstrap-cert-file", str(cert), "--bootstrap-key-file", str(key),
                    "--mtls-endpoint", w.server.mtls_url, "--ca-file", str(w.idp.ca))
    got = w.boto3_whoami(container_env(w, agent))
    assert got["Arn"].startswith(assumed(role, w.account)), got
    assert got["AccessKeyId"] == json.loads(agent.health()[1])["access_key_id"]
