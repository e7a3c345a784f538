"""Writes the botocore fixtures of tessera-sigv4's tests: real botocore clients, fixed credentials
and a frozen clock, requests captured just before they would be sent (nothing leaves the host).

Run: python3 generate.py   (needs botocore; the version used is recorded in every fixture)
"""

import datetime
from urllib.parse import urlsplit

import botocore
import botocore.auth
import botocore.session

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_KEY = "ASIAIOSFODNN7EXAMPLE"
SESSION_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
SESSION_TOKEN = "T1AQoDYXdzEPT//////////wEXAMPLE+session/token=="
NOW = datetime.datetime(2026, 11, 23, 10, 15, 0, tzinfo=datetime.timezone.utc)
ENDPOINT = "https://tessera.example.internal:8443"

# The signer reads the clock through this module-level name.
botocore.auth.get_current_datetime = lambda *a, **k: NOW


class Captured(Exception):
    def __init__(self, request):
        self.request = request


def capture(request, **kwargs):
    raise Captured(request)


def client(service, key, secret, token=None, region="eu-west-1"):
    session = botocore.session.get_session()
    c = session.create_client(
        service,
        region_name=region,
        endpoint_url=ENDPOINT,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )
    c.meta.events.register("before-send", capture)
    return c


def header_lines(headers, url):
    # urllib3 adds `Host` when it sends; botocore signs the same value (`_host_from_url`).
    lines = [f"Host: {urlsplit(url).netloc}"]
    for name, value in headers.items():
        if isinstance(value, bytes):
            value = value.decode()
        if name.lower() == "user-agent":
            # Unsigned; trimmed so the fixture does not record the generating host's OS.
            value = f"Botocore/{botocore.__version__}"
        lines.append(f"{name}: {value}")
    return lines


def write(name, note, method, url, headers, body, secret, service, key, region, token):
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if isinstance(body, str):
        body = body.encode()
    with open(f"{name}.txt", "w") as f:
        f.write(f"-- note\n{note} (botocore {botocore.__version__})\n")
        f.write(f"-- meta\nsecret: {secret}\nnow: {NOW.strftime('%Y%m%dT%H%M%SZ')}\nservice: {service}\n")
        f.write(f"-- req\n{method} {target} HTTP/1.1\n")
        f.write("\n".join(header_lines(headers, url)) + "\n\n" + (body or b"").decode() + "\n")
        f.write(f"-- expect\naccess_key_id: {key}\nregion: {region}\nservice: {service}\n")
        if token:
            f.write(f"security_token: {token}\n")


def presigned(c, op, **kwargs):
    """A presigned URL and the method botocore signed it for (the operation's: POST for IAM, whose
    model says so; GET for STS)."""
    methods = []
    c.meta.events.register("before-sign", lambda request, **kw: methods.append(request.method))
    url = c.generate_presigned_url(op, **kwargs)
    return methods[-1], url


def call(c, op, **params):
    try:
        getattr(c, op)(**params)
    except Captured as e:
        return e.request
    raise AssertionError("request was not captured")


def main():
    iam = client("iam", ACCESS_KEY, SECRET)
    r = call(iam, "list_users")
    write("iam-list-users", "IAM ListUsers, Query protocol POST, long-term key, custom endpoint",
          r.method, r.url, r.headers, r.body, SECRET, "iam", ACCESS_KEY, "eu-west-1", None)

    r = call(iam, "tag_user", UserName="alice", Tags=[{"Key": "team name", "Value": "a b+c/ü~*"}])
    write("iam-tag-user", "IAM TagUser with spaces, '+', '/', non-ASCII in the form body",
          r.method, r.url, r.headers, r.body, SECRET, "iam", ACCESS_KEY, "eu-west-1", None)

    sts = client("sts", SESSION_KEY, SESSION_SECRET, SESSION_TOKEN, region="us-east-1")
    r = call(sts, "get_caller_identity")
    write("sts-get-caller-identity", "STS GetCallerIdentity POST with a session token (signed x-amz-security-token)",
          r.method, r.url, r.headers, r.body, SESSION_SECRET, "sts", SESSION_KEY, "us-east-1", SESSION_TOKEN)

    method, url = presigned(sts, "get_caller_identity", ExpiresIn=900)
    write("sts-presigned-get-caller-identity", "STS GetCallerIdentity presigned URL (X-Amz-Expires=900) with a session token",
          method, url, {}, b"", SESSION_SECRET, "sts", SESSION_KEY, "us-east-1", SESSION_TOKEN)

    # The EKS token shape (aws-iam-authenticator): the cluster name travels in a signed header.
    sts_lt = client("sts", ACCESS_KEY, SECRET, region="us-east-1")

    def add_cluster_header(request, **kwargs):
        request.headers["x-k8s-aws-id"] = "demo-cluster"

    sts_lt.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    method, url = presigned(sts_lt, "get_caller_identity", ExpiresIn=60)
    write("sts-presigned-k8s-header", "STS GetCallerIdentity presigned with a signed x-k8s-aws-id header (EKS token shape)",
          method, url, {"x-k8s-aws-id": "demo-cluster"}, b"", SECRET, "sts", ACCESS_KEY, "us-east-1", None)

    method, url = presigned(iam, "list_users", Params={"PathPrefix": "/división a/"}, ExpiresIn=3600)
    write("iam-presigned-list-users-path-prefix",
          "IAM ListUsers presigned (botocore signs it for POST, the model's method), a query value with space, '/' "
          "and non-ASCII",
          method, url, {}, b"", SECRET, "iam", ACCESS_KEY, "eu-west-1", None)


if __name__ == "__main__":
    main()
