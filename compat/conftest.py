"""Fixtures for the AWS-client compatibility suite.

One `tessera serve` per test session, on free loopback ports with a fresh data directory; the
tests talk to it with boto3/botocore and the `aws` CLI exactly as they would talk to AWS.

With `TESSERA_SPLIT=1` the session runs a split cluster instead: a private `redis-server`, one
process per service (`--service identity|policy|sts`, policy twice) and a gateway (`--service
gateway --upstream ...`), and the tests talk to the gateway.
"""

import contextlib
import shutil

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tessera_compat import Server, stop

REPO = Path(__file__).resolve().parent.parent


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(bin_path, data_dir, log):
    http_port, grpc_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [str(bin_path), "serve", "--data-dir", str(data_dir),
         "--http-addr", f"127.0.0.1:{http_port}", "--grpc-addr", f"127.0.0.1:{grpc_port}"],
        stdout=log, stderr=subprocess.STDOUT, env={k: v for k, v in os.environ.items()
                                                   if not k.startswith("TESSERA_ROOT_")},
    )
    return proc, http_port


def _wait_ready(url, procs, log_path, path="/readyz"):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        try:
            with urllib.request.urlopen(url + path, timeout=1) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not become ready:\n" + log_path.read_text())


@contextlib.contextmanager
def _split_cluster(bin_path, tmp):
    """A private Redis, identity, 2 x policy, sts and one gateway; yields the gateway's Server."""
    redis_bin = shutil.which("redis-server")
    assert redis_bin, "TESSERA_SPLIT=1 needs redis-server (apt-get install redis-server)"
    tmp = Path(tmp)
    log_path = tmp / "cluster.log"
    procs = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    with open(log_path, "wb") as log:
        try:
            redis_port = _free_port()
            redis = subprocess.Popen(
                [redis_bin, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
                 "--appendonly", "no", "--dir", str(tmp)],
                stdout=log, stderr=subprocess.STDOUT)
            procs.append(redis)
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", redis_port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "redis-server did not start"
                    time.sleep(0.02)
            store = f"redis://127.0.0.1:{redis_port}/0"

            def serve(name, *args):
                http_port, grpc_port = _free_port(), _free_port()
                data = tmp / name
                cmd = [str(bin_path), "serve", "--data-dir", str(data), "--store", store,
                       "--http-addr", f"127.0.0.1:{http_port}", "--grpc-addr", f"127.0.0.1:{grpc_port}",
                       *args]
                if name != "identity":
                    cmd += ["--master-key-file", str(tmp / "identity" / "master.key")]
                proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
                procs.append(proc)
                _wait_ready(f"http://127.0.0.1:{http_port}", procs, log_path)
                return f"http://127.0.0.1:{grpc_port}", f"http://127.0.0.1:{http_port}", data

            # Identity first: it creates the master key and bootstraps the account.
            identity, _, identity_data = serve("identity", "--service", "identity")
            policy = [serve(f"policy{i}", "--service", "policy")[0] for i in range(2)]
            sts = serve("sts", "--service", "sts")[0]
            upstreams = [f"identity={identity}", f"sts={sts}", *(f"policy={p}" for p in policy)]
            # The gateway's data directory is `data`, where the tests find the audit trail.
            _, gateway, _ = serve("data", "--service", "gateway",
                                  *(a for u in upstreams for a in ("--upstream", u)))
            creds = json.loads((identity_data / "root-credentials.json").read_text())
            srv = Server(gateway, creds["AccessKeyId"], creds["SecretAccessKey"], tmp)
            # Where the cluster keeps its data, for tests that start another process on it.
            srv.store, srv.master_key_file = store, tmp / "identity" / "master.key"
            yield srv
        finally:
            clean = all([stop(p) for p in reversed(procs[1:])])
            if procs:
                procs[0].kill()
                procs[0].wait()
    assert clean, "a process of the split cluster did not exit within 15 s of SIGTERM"


@pytest.fixture(scope="session")
def server():
    bin_path = Path(os.environ.get("TESSERA_BIN", REPO / "target" / "debug" / "tessera"))
    if not bin_path.is_absolute():
        bin_path = REPO / bin_path
    assert bin_path.exists(), f"{bin_path} missing: build it with `cargo build -p tessera`"
    if os.environ.get("TESSERA_SPLIT") == "1":
        with tempfile.TemporaryDirectory(prefix="tessera-compat-split-") as tmp:
            with _split_cluster(bin_path, tmp) as srv:
                yield srv
        return
    with tempfile.TemporaryDirectory(prefix="tessera-compat-") as tmp:
        data_dir = Path(tmp) / "data"
        log_path = Path(tmp) / "server.log"
        with open(log_path, "wb") as log:
            proc = None
            # A free port can be taken between probing and binding: retry the start a few times.
            for _attempt in range(3):
                proc, port = _start(bin_path, data_dir, log)
                url = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 30
                ready = False
                while time.monotonic() < deadline and proc.poll() is None:
                    try:
                        with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                            if r.status == 200:
                                ready = True
                                break
                    except (urllib.error.URLError, ConnectionError, OSError):
                        pass
                    time.sleep(0.05)
                if ready:
                    break
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            else:
                raise RuntimeError("tessera did not become ready:\n" + log_path.read_text())
            creds = json.loads((data_dir / "root-credentials.json").read_text())
            assert creds["Version"] == 1
            srv = Server(url, creds["AccessKeyId"], creds["SecretAccessKey"], Path(tmp))
            try:
                yield srv
            finally:
                if not stop(proc):
                    pytest.fail("tessera did not exit within 15 s of SIGTERM")


@pytest.fixture(scope="session")
def root(server):
    """boto3 clients signed with the root key."""
    return server.principal(server.root_key_id, server.root_secret)


@pytest.fixture(scope="session")
def account_id(root):
    return root.sts.get_caller_identity()["Account"]


@pytest.fixture
def user(root):
    """A fresh IAM user with one access key (deleted afterwards, best effort)."""
    u = root.new_user()
    yield u
    root.delete_user_fully(u.name)
