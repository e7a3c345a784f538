"""SigV4 as botocore produces it: header auth, presigned URLs, and the rejections of reference §7."""

import datetime
import urllib.error
import urllib.parse
import urllib.request

import botocore.auth
import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tessera_compat import STS_VERSION, assert_error, xml_error

# Expired presigned URLs: AWS's generic SigV4 docs name RequestExpired (400); IAM/STS have been
# observed answering SignatureDoesNotMatch (403) "Signature expired" (reference §7.2, §9).
EXPIRED = {(400, "RequestExpired"), (403, "SignatureDoesNotMatch")}
GCI = {"Action": "GetCallerIdentity", "Version": STS_VERSION}


def fetch(url, method="GET", data=None):
    req = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def at(monkeypatch, delta):
    """Make botocore sign as if the clock were `delta` away from now."""
    fixed = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + delta
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: fixed)


def presign(server, expires=60, method="GET", key_id=None, secret=None, service="sts"):
    query = urllib.parse.urlencode(GCI)
    req = AWSRequest(method=method, url=f"{server.url}/?{query}")
    creds = Credentials(key_id or server.root_key_id, secret or server.root_secret)
    SigV4QueryAuth(creds, service, "us-east-1", expires=expires).add_auth(req)
    return req.url


def test_header_auth_in_any_region(root, account_id):
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
        assert root.client("sts", region=region).get_caller_identity()["Account"] == account_id
        assert root.client("iam", region=region).list_users()["ResponseMetadata"][
            "HTTPStatusCode"] == 200


def test_presigned_get_caller_identity(root, account_id):
    url = root.sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    assert "X-Amz-Signature=" in url
    status, body = fetch(url)
    assert status == 200, body
    assert f"arn:aws:iam::{account_id}:root".encode() in body
    # The botocore default presign (method POST, parameters moved to the query string).
    url = root.sts.generate_presigned_url("get_caller_identity", ExpiresIn=60)
    status, body = fetch(url, method="POST", data=b"")
    assert status == 200, body
    # A GET-signed URL replayed with another method does not verify.
    get_url = presign(root.server)
    status, body = fetch(get_url, method="POST", data=b"")
    assert status == 403 and xml_error(body)[0] == "SignatureDoesNotMatch"


def test_presigned_user_url(root, user, account_id):
    url = presign(root.server, key_id=user.key_id, secret=user.secret)
    status, body = fetch(url)
    assert status == 200 and f":user/{user.name}".encode() in body
    tampered = url.replace("GetCallerIdentity", "GetSessionToken")
    status, body = fetch(tampered)
    assert status == 403 and xml_error(body)[0] == "SignatureDoesNotMatch"


def test_tampered_body(server):
    def mutate(body, headers):
        return body.replace(b"GetCallerIdentity", b"GetSessionToken"), headers

    status, _, body = server.signed(GCI, mutate=mutate)
    assert status == 403 and xml_error(body)[0] == "SignatureDoesNotMatch"
    # Control: the same request untouched verifies.
    status, _, body = server.signed(GCI)
    assert status == 200, body


def test_tampered_signed_header(server):
    def mutate(body, headers):
        # Another second of the same minute: the date stays within the allowed skew but is not the
        # one signed (replacing the seconds with a constant left it unchanged once a minute).
        date = headers["X-Amz-Date"]
        seconds = int(date[-3:-1])
        headers["X-Amz-Date"] = f"{date[:-3]}{(seconds + 1) % 60:02d}Z"
        assert headers["X-Amz-Date"] != date
        return body, headers

    status, _, body = server.signed(GCI, mutate=mutate)
    assert status == 403 and xml_error(body)[0] == "SignatureDoesNotMatch"


def test_wrong_secret(server):
    bad = server.principal(server.root_key_id, "x" * 40)
    with pytest.raises(ClientError) as e:
        bad.sts.get_caller_identity()
    assert_error(e, "SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as e:
        bad.iam.list_users()
    assert_error(e, "SignatureDoesNotMatch", 403)


def test_unknown_key(server):
    ghost = server.principal("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    with pytest.raises(ClientError) as e:
        ghost.sts.get_caller_identity()
    assert_error(e, "InvalidClientTokenId", 403)


def test_wrong_service_in_scope(server):
    status, _, body = server.signed(GCI, service="s3")
    assert status == 403, body
    assert xml_error(body)[0] == "SignatureDoesNotMatch"


def test_iam_action_signed_for_sts(server):
    status, _, body = server.signed({"Action": "ListUsers", "Version": "2010-05-08"},
                                    service="sts")
    assert status == 403 and xml_error(body)[0] == "SignatureDoesNotMatch"


@pytest.mark.parametrize("minutes", [-16, 16])
def test_clock_skew_rejected(server, monkeypatch, minutes):
    at(monkeypatch, datetime.timedelta(minutes=minutes))
    status, _, body = server.signed(GCI)
    code, msg = xml_error(body)
    # IAM/STS answer SignatureDoesNotMatch (403) "Signature expired/not yet current" (§7.2).
    assert (status, code) == (403, "SignatureDoesNotMatch"), (status, code, msg)
    assert ("expired" if minutes < 0 else "not yet current") in msg


def test_small_skew_accepted(server, monkeypatch):
    at(monkeypatch, datetime.timedelta(minutes=-10))
    status, _, body = server.signed(GCI)
    assert status == 200, body


def test_presigned_url_twenty_minutes_old(server, monkeypatch):
    # Signed 20 minutes ago for 15 minutes: expired.
    at(monkeypatch, datetime.timedelta(minutes=-20))
    url = presign(server, expires=900)
    monkeypatch.undo()
    status, body = fetch(url)
    code, _ = xml_error(body)
    assert (status, code) in EXPIRED, (status, code)


@pytest.mark.xfail(strict=False, reason="STS reportedly caps presigned GetCallerIdentity at 15 min "
                   "from X-Amz-Date whatever X-Amz-Expires says (reference 4.6, unverified); "
                   "Tessera honours X-Amz-Expires=3600")
def test_presigned_url_fifteen_minute_cap(server, monkeypatch):
    at(monkeypatch, datetime.timedelta(minutes=-20))
    url = presign(server, expires=3600)
    monkeypatch.undo()
    status, body = fetch(url)
    assert status in (400, 403) and xml_error(body)[0] in ("SignatureDoesNotMatch", "RequestExpired")


def test_presigned_url_past_its_expiry(server, monkeypatch):
    # Signed 2 minutes ago, valid for 60 s: expired by X-Amz-Expires alone.
    at(monkeypatch, datetime.timedelta(minutes=-2))
    url = presign(server, expires=60)
    monkeypatch.undo()
    status, body = fetch(url)
    code, _ = xml_error(body)
    assert (status, code) in EXPIRED, (status, code)
