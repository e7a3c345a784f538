"""Helpers shared by the compatibility tests (imported by conftest.py and the test modules)."""

import base64
import contextlib
import functools
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REGION = "us-east-1"
IAM_VERSION = "2010-05-08"
STS_VERSION = "2011-06-15"
# No retries: a retried 5xx would hide a server bug; no client-side validation where tests send
# values AWS rejects server-side.
CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)
LAX = CONFIG.merge(Config(parameter_validation=False))


def uniq(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def policy_doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def client_error(excinfo_or_exc):
    e = getattr(excinfo_or_exc, "value", excinfo_or_exc)
    return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def assert_error(excinfo, code, status):
    got = client_error(excinfo)
    assert got == (code, status), f"expected {code} {status}, got {got}: {excinfo.value}"


# Actions that other engineers are still landing; tests using them skip on InvalidAction.
def landing(test):
    """Turn an `InvalidAction` answer to an IAM action into a skip (the action has not landed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        try:
            return test(*args, **kwargs)
        except botocore.exceptions.ClientError as e:
            if e.response["Error"]["Code"] == "InvalidAction":
                pytest.skip(f"{e.operation_name} not implemented yet (InvalidAction)")
            raise
        except CliError as e:
            if "InvalidAction" in e.stderr:
                pytest.skip(f"CLI call not implemented yet: {e.stderr.strip()[:120]}")
            raise

    return wrapper


class CliError(Exception):
    def __init__(self, rc, stdout, stderr):
        super().__init__(f"aws exited {rc}: {stderr.strip()}")
        self.rc, self.stdout, self.stderr = rc, stdout, stderr


@dataclass
class Principal:
    server: "Server"
    key_id: str
    secret: str
    token: str = None
    name: str = None  # IAM user name, when this principal is a user

    @property
    def session(self):
        return boto3.Session(aws_access_key_id=self.key_id, aws_secret_access_key=self.secret,
                             aws_session_token=self.token, region_name=REGION)

    def client(self, service, region=REGION, config=CONFIG):
        return self.session.client(service, endpoint_url=self.server.url, region_name=region,
                                   config=config)

    @functools.cached_property
    def iam(self):
        return self.client("iam")

    @functools.cached_property
    def sts(self):
        return self.client("sts")

    @functools.cached_property
    def iam_lax(self):
        return self.client("iam", config=LAX)

    @functools.cached_property
    def sts_lax(self):
        return self.client("sts", config=LAX)

    def with_credentials(self, creds, name=None):
        """A principal from an STS `Credentials` structure."""
        return Principal(self.server, creds["AccessKeyId"], creds["SecretAccessKey"],
                         creds.get("SessionToken"), name)

    def aws(self, *args, check=True):
        return self.server.aws(*args, principal=self, check=check)

    # -- admin helpers (used with the root principal) --
    def new_user(self, path="/"):
        name = uniq("u")
        self.iam.create_user(UserName=name, Path=path)
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        return Principal(self.server, key["AccessKeyId"], key["SecretAccessKey"], None, name)

    def delete_user_fully(self, name):
        """Delete a user and what hangs off it, ignoring actions that are missing or fail."""
        iam = self.iam

        def quiet(fn, **kw):
            try:
                return fn(**kw)
            except botocore.exceptions.ClientError:
                return None

        for k in (quiet(iam.list_access_keys, UserName=name) or {}).get("AccessKeyMetadata", []):
            quiet(iam.delete_access_key, UserName=name, AccessKeyId=k["AccessKeyId"])
        for p in (quiet(iam.list_user_policies, UserName=name) or {}).get("PolicyNames", []):
            quiet(iam.delete_user_policy, UserName=name, PolicyName=p)
        for p in (quiet(iam.list_attached_user_policies, UserName=name) or {}).get(
                "AttachedPolicies", []):
            quiet(iam.detach_user_policy, UserName=name, PolicyArn=p["PolicyArn"])
        for g in (quiet(iam.list_groups_for_user, UserName=name) or {}).get("Groups", []):
            quiet(iam.remove_user_from_group, UserName=name, GroupName=g["GroupName"])
        quiet(iam.delete_user_permissions_boundary, UserName=name)
        quiet(iam.delete_login_profile, UserName=name)
        quiet(iam.delete_user, UserName=name)


class Server:
    def __init__(self, url, root_key_id, root_secret, tmp: Path):
        self.url = url
        self.root_key_id = root_key_id
        self.root_secret = root_secret
        self.tmp = tmp
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port

    def principal(self, key_id, secret, token=None):
        return Principal(self, key_id, secret, token)

    def session(self, key_id, secret, token=None):
        """The boto3 `Session` factory the brief asks for."""
        return boto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret,
                             aws_session_token=token, region_name=REGION)

    # -- the aws CLI --
    def aws(self, *args, principal, check=True):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=principal.key_id,
            AWS_SECRET_ACCESS_KEY=principal.secret,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=str(self.tmp / "no-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.tmp / "no-credentials"),
            AWS_MAX_ATTEMPTS="1",
            AWS_PAGER="",
        )
        if principal.token:
            env["AWS_SESSION_TOKEN"] = principal.token
        aws_bin = Path(sys.executable).with_name("aws")
        cmd = [str(aws_bin)] if aws_bin.exists() else ["aws"]
        cmd += list(args) + ["--endpoint-url", self.url, "--output", "json"]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            if check:
                raise CliError(p.returncode, p.stdout, p.stderr)
            return p
        return json.loads(p.stdout) if p.stdout.strip() else {}

    # -- raw HTTP --
    def raw(self, method="POST", path="/", body=b"", headers=None):
        """Send one request with http.client; returns (status, headers, body bytes)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def signed(self, body, service="sts", key_id=None, secret=None, region=REGION, token=None,
               mutate=None, extra_headers=None):
        """Sign a form POST with botocore's SigV4 (optionally altering it afterwards) and send it."""
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body)
        if isinstance(body, str):
            body = body.encode()
        req = AWSRequest(method="POST", url=self.url + "/", data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            **(extra_headers or {}),
        })
        creds = Credentials(key_id or self.root_key_id, secret or self.root_secret, token)
        SigV4Auth(creds, service, region).add_auth(req)
        headers = {k: v for k, v in req.headers.items()}
        if mutate:
            body, headers = mutate(body, headers)
        return self.raw("POST", "/", body, headers)


def xml_error(body):
    """Parse an AWS Query `<ErrorResponse>` and return (code, message); fail if it is not one."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise AssertionError(f"not XML ({e}): {body[:300]!r}")
    tag = root.tag.split("}")[-1]
    assert tag == "ErrorResponse", f"root element {tag}: {body[:300]!r}"
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    err = root.find(f"{ns}Error")
    assert err is not None, body
    code = err.findtext(f"{ns}Code")
    assert code, body
    assert root.findtext(f"{ns}RequestId"), f"no RequestId: {body[:300]!r}"
    return code, err.findtext(f"{ns}Message")


def totp(secret, counter):
    """RFC 6238's code for `counter` (30-second steps) of a base32 secret: what an authenticator
    app shows."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc):
    """Stops a server as its operator would (SIGTERM), killing it if it has not exited within
    15 s; returns whether it exited by itself."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False
    return True


@contextlib.contextmanager
def serve_all_in_one(tmp, root_password, *args):
    """An all-in-one `tessera serve` of TESSERA_BIN in `tmp` (none of this process's TESSERA_*
    variables, the root's console password `root_password`, `args` added), polled on /readyz with
    a deadline; yields (url, data dir) and stops it with SIGTERM."""
    bin_path = Path(os.environ.get("TESSERA_BIN", Path(__file__).resolve().parent.parent / "target" / "debug" / "tessera"))
    http_port, grpc_port = free_port(), free_port()
    data = Path(tmp) / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env["TESSERA_ROOT_PASSWORD"] = root_password
    log_path = Path(tmp) / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(bin_path), "serve", "--data-dir", str(data), "--http-addr", f"127.0.0.1:{http_port}",
             "--grpc-addr", f"127.0.0.1:{grpc_port}", *args],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{http_port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the server did not become ready:\n" + log_path.read_text()
                try:
                    with urllib.request.urlopen(url + "/readyz", timeout=1) as r:
                        if r.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, OSError):
                    time.sleep(0.05)
            yield url, data
        finally:
            stop(proc)
