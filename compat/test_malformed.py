"""Malformed input over raw HTTP: every answer is an AWS-style XML error and the server survives."""

import pytest

from tessera_compat import IAM_VERSION, STS_VERSION, xml_error

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def check(resp, status=None, codes=None):
    got_status, headers, body = resp
    code, message = xml_error(body)
    if status is not None:
        assert got_status == status, (got_status, code, message)
    else:
        assert 400 <= got_status < 500, (got_status, code, message)
    if codes is not None:
        assert code in codes, (got_status, code, message)
    assert message is not None
    return code


def test_no_authorization(server):
    check(server.raw("POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15", FORM), 403,
          {"MissingAuthenticationToken"})
    check(server.raw("GET", "/?Action=ListUsers&Version=2010-05-08"), 403,
          {"MissingAuthenticationToken"})


def test_unknown_action(server):
    check(server.signed({"Action": "Frobnicate", "Version": IAM_VERSION}, service="iam"), 400,
          {"InvalidAction"})
    check(server.signed({"Action": "Frobnicate", "Version": STS_VERSION}), 400, {"InvalidAction"})


def test_missing_action_and_version(server):
    check(server.signed({"Action": "GetCallerIdentity"}), 400)
    check(server.signed({"Version": STS_VERSION}), 400)
    check(server.signed(b""), 400)


def test_wrong_version(server):
    check(server.signed({"Action": "GetCallerIdentity", "Version": "1999-01-01"}), 400)


# AWS's common-errors table gives MalformedQueryString HTTP 404.
MALFORMED = {"status": 404, "codes": {"MalformedQueryString"}}


def test_broken_form_encoding(server):
    check(server.signed(b"Action=GetCallerIdentity&Version=2011-06-15&X=%zz"), **MALFORMED)
    check(server.signed(b"Action=GetCallerIdentity%"), **MALFORMED)


def test_invalid_utf8(server):
    check(server.signed(b"Action=GetCallerIdentity&Version=2011-06-15&X=\xff\xfe"), **MALFORMED)
    check(server.signed(b"Action=GetCallerIdentity&Version=2011-06-15&X=%ff%fe"), **MALFORMED)


def test_oversized_body(server):
    body = b"Action=GetCallerIdentity&Version=2011-06-15&Pad=" + b"a" * (2 * 1024 * 1024)
    status, headers, resp_body = server.signed(body)
    assert status in (400, 413), status
    xml_error(resp_body)


def test_unsigned_oversized_body(server):
    check(server.raw("POST", "/", b"a" * (2 * 1024 * 1024), FORM))


@pytest.mark.parametrize("auth", [
    "garbage",
    "AWS4-HMAC-SHA256",
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/sts/aws4_request",
    "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=zz",
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/2026/us-east-1/sts/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "AWS AKIAIOSFODNN7EXAMPLE:c2lnbmF0dXJl",
    "AWS4-HMAC-SHA256 " + "Credential=" * 2000,
    "AWS4-HMAC-SHA256 Credential=\u00e9\u00e9/20260101/us-east-1/sts/aws4_request, "
    "SignedHeaders=host, Signature=" + "0" * 64,
])
def test_garbage_authorization(server, auth):
    headers = {**FORM, "Authorization": auth.encode("utf-8"), "X-Amz-Date": "20260101T000000Z"}
    check(server.raw("POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15", headers),
          codes={"IncompleteSignature", "InvalidClientTokenId", "SignatureDoesNotMatch",
                 "MissingAuthenticationToken", "AccessDenied", "InvalidSignatureException",
                 "RequestExpired"})


def test_incomplete_signature(server):
    auth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/sts/aws4_request"
    headers = {**FORM, "Authorization": auth, "X-Amz-Date": "20260101T000000Z"}
    check(server.raw("POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15", headers), 400,
          {"IncompleteSignature"})


def test_garbage_presign_query(server):
    check(server.raw("GET", "/?Action=GetCallerIdentity&Version=2011-06-15"
                            "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=nope"
                            "&X-Amz-Date=bad&X-Amz-Expires=-1&X-Amz-SignedHeaders=host"
                            "&X-Amz-Signature=zz"))


def test_server_still_serves(root, account_id, server):
    # Runs after the sweep above (same module, declaration order).
    assert root.sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{account_id}:root"
    status, _, body = server.signed({"Action": "GetCallerIdentity", "Version": STS_VERSION})
    assert status == 200, body
