"""Fixtures for the AWS-client compatibility suite.

One `tessera serve` per test session, on free loopback ports with a fresh data directory; the
tests talk to it with boto3/botocore and the `aws` CLI exactly as they would talk to AWS.
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tessera_compat import Server

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


@pytest.fixture(scope="session")
def server():
    bin_path = Path(os.environ.get("TESSERA_BIN", REPO / "target" / "debug" / "tessera"))
    if not bin_path.is_absolute():
        bin_path = REPO / bin_path
    assert bin_path.exists(), f"{bin_path} missing: build it with `cargo build -p tessera`"
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
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
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
