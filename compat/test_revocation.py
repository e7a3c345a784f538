"""AWS's own revocation flow, through boto3, on two replicas sharing Redis.

The AWS console's "Revoke active sessions" puts an inline policy named `AWSRevokeOlderSessions`
on the role, denying every action to sessions whose `aws:TokenIssueTime` is before the moment
of revocation (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html:
"Any user who assumes the role after you chose Revoke active sessions is not affected"). Here the
policy is put through one replica and the sessions are used through the other: the older session
is refused within a second, through the normal policy path, and a session issued after the
policy was put is not.

Redis is `REDIS_URL` (default `redis://127.0.0.1:6379/0`); the replicas share the fixed test
master key the Rust server tests use on that Redis, and a fresh account.
"""

import base64
import datetime
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import botocore.exceptions
import pytest

from tessera_compat import Server, allow, client_error, policy_doc, stop, uniq

REPO = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# The master key of every server test on this Redis (services/tessera/tests/it/common): the store
# records which key its secrets are sealed under and refuses servers with another one.
TEST_MASTER_KEY = "tessera-master-key-v1:" + base64.b64encode(bytes([0x7E] * 32)).decode() + "\n"
KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _replica(bin_path, tmp, name, account, root_key, root_secret, key_file):
    data_dir = tmp / name
    data_dir.mkdir()
    log = open(tmp / f"{name}.log", "wb")
    for _attempt in range(3):
        http_port, grpc_port = _free_port(), _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        env.update(TESSERA_ROOT_ACCESS_KEY_ID=root_key, TESSERA_ROOT_SECRET_ACCESS_KEY=root_secret)
        proc = subprocess.Popen(
            [str(bin_path), "serve", "--data-dir", str(data_dir), "--store", REDIS_URL,
             "--account-id", account, "--master-key-file", str(key_file),
             "--http-addr", f"127.0.0.1:{http_port}", "--grpc-addr", f"127.0.0.1:{grpc_port}"],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return proc, Server(url, root_key, root_secret, tmp)
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    raise RuntimeError(f"replica {name} did not become ready:\n" + (tmp / f"{name}.log").read_text())


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    bin_path = Path(os.environ.get("TESSERA_BIN", REPO / "target" / "debug" / "tessera"))
    if not bin_path.is_absolute():
        bin_path = REPO / bin_path
    assert bin_path.exists(), f"{bin_path} missing: build it with `cargo build -p tessera`"
    tmp = tmp_path_factory.mktemp("replicas")
    key_file = tmp / "master.key"
    key_file.write_text(TEST_MASTER_KEY)
    key_file.chmod(0o600)
    account = str(secrets.randbelow(9 * 10**11) + 10**11)
    root_key = "AKIA" + "".join(secrets.choice(KEY_CHARS) for _ in range(16))
    root_secret = secrets.token_urlsafe(30)[:40]
    procs, servers = [], []
    try:
        for name in ("a", "b"):
            proc, server = _replica(bin_path, tmp, name, account, root_key, root_secret, key_file)
            procs.append(proc)
            servers.append(server)
        yield servers
    finally:
        for proc in procs:
            stop(proc)


def _console_time(at):
    """The instant as the console writes it into the policy: UTC, milliseconds, `Z`."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _revoke_older_sessions(at):
    """The `AWSRevokeOlderSessions` document the AWS console attaches."""
    return policy_doc({
        "Effect": "Deny",
        "Action": ["*"],
        "Resource": ["*"],
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": _console_time(at)}},
    })


def _allowed(principal):
    """Whether the session may call iam:ListUsers (its role allows it); a refusal must be the
    explicit deny's AccessDenied."""
    try:
        principal.iam.list_users()
        return True
    except botocore.exceptions.ClientError as e:
        assert client_error(e) == ("AccessDenied", 403), e
        return False


def test_aws_revoke_older_sessions_policy_refuses_older_sessions_on_every_replica(replicas):
    a, b = replicas
    root_a = a.principal(a.root_key_id, a.root_secret)
    root_b = b.principal(b.root_key_id, b.root_secret)
    worker = root_a.new_user()
    role_name = uniq("revoked-role")
    trust = policy_doc({"Effect": "Allow", "Principal": {"AWS": root_a.iam.get_user(
        UserName=worker.name)["User"]["Arn"]}, "Action": "sts:AssumeRole"})
    role_arn = root_a.iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    root_a.iam.put_role_policy(RoleName=role_name, PolicyName="work", PolicyDocument=policy_doc(
        allow("iam:ListUsers")))
    worker_a = a.principal(worker.key_id, worker.secret)
    worker_b = b.principal(worker.key_id, worker.secret)

    def assume(via, session_name):
        creds = via.sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        return creds

    older = assume(worker_a, "older")
    older_on_b = b.principal(older["AccessKeyId"], older["SecretAccessKey"], older["SessionToken"])
    older_on_a = a.principal(older["AccessKeyId"], older["SecretAccessKey"], older["SessionToken"])
    assert _allowed(older_on_b) and _allowed(older_on_a)

    # The console's revocation, through replica A.
    revoked_at = datetime.datetime.now(datetime.timezone.utc)
    root_a.iam.put_role_policy(RoleName=role_name, PolicyName="AWSRevokeOlderSessions",
                               PolicyDocument=_revoke_older_sessions(revoked_at))
    returned = time.monotonic()
    # A session issued after the policy was put, through replica B at once.
    newer = assume(worker_b, "newer")
    # The older one: refused by replica B within a second (polled), and by A.
    while _allowed(older_on_b):
        assert time.monotonic() - returned <= 1.0, "replica B still accepts the older session"
        time.sleep(0.002)
    took = time.monotonic() - returned
    print(f"AWSRevokeOlderSessions reached the other replica in {took * 1000:.1f} ms")
    assert not _allowed(older_on_a)
    # The newer one is never refused, on either replica.
    newer_on_a = a.principal(newer["AccessKeyId"], newer["SecretAccessKey"], newer["SessionToken"])
    newer_on_b = b.principal(newer["AccessKeyId"], newer["SecretAccessKey"], newer["SessionToken"])
    assert _allowed(newer_on_a) and _allowed(newer_on_b)
    # Its deny is the policy's, not a revocation of the token: the session still authenticates.
    assert older_on_b.sts.get_caller_identity()["Arn"].endswith("/older")
    assert _allowed(newer_on_a) and _allowed(newer_on_b)

    # The policy as AWS's documentation gives it (one statement object, whole seconds) reads the
    # same way; a later revocation refreshes the instant, as the console does.
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
    while datetime.datetime.now(datetime.timezone.utc) < later:
        time.sleep(0.05)
    doc = ('{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*",'
           '"Condition":{"DateLessThan":{"aws:TokenIssueTime":"%s"}}}}'
           % later.strftime("%Y-%m-%dT%H:%M:%SZ"))
    root_b.iam.put_role_policy(RoleName=role_name, PolicyName="AWSRevokeOlderSessions", PolicyDocument=doc)
    returned = time.monotonic()
    while _allowed(newer_on_a):
        assert time.monotonic() - returned <= 1.0, "replica A still accepts the session"
        time.sleep(0.005)
    newest = assume(worker_a, "newest")
    assert _allowed(b.principal(newest["AccessKeyId"], newest["SecretAccessKey"], newest["SessionToken"]))

    root_a.iam.delete_role_policy(RoleName=role_name, PolicyName="AWSRevokeOlderSessions")
    root_a.iam.delete_role_policy(RoleName=role_name, PolicyName="work")
    root_a.iam.delete_role(RoleName=role_name)
    root_a.delete_user_fully(worker.name)
