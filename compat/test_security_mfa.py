"""Security: MFA code guessing is throttled per device (issue 10, item 6).

Wrong TOTP codes are counted per device; after five the device is locked for a minute (doubling
per further lock), during which every code is refused with `AccessDenied`, a correct one too. The
audit trail records each refused code with the device serial and a reason, never the code.
"""

import json
import time

import pytest
from botocore.exceptions import ClientError

from tessera_compat import assert_error, totp, uniq

MAX_FAILURES = 5
INVALID_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code."


def current_step():
    return int(time.time()) // 30


def wrong_code(seed):
    """A code that no step within ten minutes of now produces."""
    now = current_step()
    near = {totp(seed, c) for c in range(now - 20, now + 21)}
    code = int(totp(seed, now))
    while "%06d" % code in near:
        code = (code + 1) % 10 ** 6
    return "%06d" % code


def create_device(root):
    dev = root.iam.create_virtual_mfa_device(VirtualMFADeviceName=uniq("mfa"))["VirtualMFADevice"]
    seed = dev["Base32StringSeed"]
    return dev["SerialNumber"], seed.decode() if isinstance(seed, bytes) else seed


@pytest.fixture
def mfa_user(root, user):
    """`user` with an enabled virtual MFA device: (user, serial, seed). The device is removed
    afterwards, so the user fixture can delete the user."""
    serial, seed = create_device(root)
    step = current_step()
    root.iam.enable_mfa_device(UserName=user.name, SerialNumber=serial,
                               AuthenticationCode1=totp(seed, step - 1),
                               AuthenticationCode2=totp(seed, step))
    yield user, serial, seed
    root.iam.deactivate_mfa_device(UserName=user.name, SerialNumber=serial)
    root.iam.delete_virtual_mfa_device(SerialNumber=serial)


def audit_events(server, keep, want, timeout=10):
    """Audit events (parsed JSON lines of the server's data dir) that `keep` keeps, polled until
    there are at least `want` (the writer flushes in the background)."""
    audit_dir = server.tmp / "data" / "audit"
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for f in sorted(audit_dir.glob("*.jsonl"))
                 for line in f.read_text().splitlines() if line.strip()]
        events = [e for e in map(json.loads, lines) if keep(e)]
        if len(events) >= want or time.monotonic() > deadline:
            return events, lines
        time.sleep(0.05)


def test_get_session_token_code_guessing_locks_the_device(root, server, mfa_user, account_id):
    user, serial, seed = mfa_user
    sent = []
    for i in range(MAX_FAILURES):
        code = wrong_code(seed)
        sent.append(code)
        with pytest.raises(ClientError) as e:
            user.sts.get_session_token(SerialNumber=serial, TokenCode=code)
        assert_error(e, "AccessDenied", 403)
        assert e.value.response["Error"]["Message"] == INVALID_CODE, f"attempt {i}"

    # Locked: the correct, fresh code (the next step's, inside the window and never used) is
    # refused as well, with a message that says why.
    correct = totp(seed, current_step() + 1)
    sent.append(correct)
    with pytest.raises(ClientError) as e:
        user.sts.get_session_token(SerialNumber=serial, TokenCode=correct)
    assert_error(e, "AccessDenied", 403)
    message = e.value.response["Error"]["Message"]
    assert "temporarily locked" in message and serial in message, message

    # The lock is the device's, on every path: IAM's resync with correct codes is refused too.
    step = current_step()
    with pytest.raises(ClientError) as e:
        root.iam.resync_mfa_device(UserName=user.name, SerialNumber=serial,
                                   AuthenticationCode1=totp(seed, step + 1),
                                   AuthenticationCode2=totp(seed, step + 2))
    assert_error(e, "AccessDenied", 403)
    assert "temporarily locked" in e.value.response["Error"]["Message"]

    # The audit trail has each refusal, with the device and the reason, and never a code.
    user_arn = f"arn:aws:iam::{account_id}:user/{user.name}"
    events, lines = audit_events(
        server,
        lambda e: e.get("mfa_serial") == serial and e["action"] == "sts:GetSessionToken",
        MAX_FAILURES + 1)
    reasons = [e.get("reason") for e in events]
    assert reasons == ["mfa_invalid_code"] * MAX_FAILURES + ["mfa_locked"], events
    for event in events:
        assert event["principal_arn"] == user_arn
        assert event["decision"] == "denied" and event["error_code"] == "AccessDenied"
        assert event["status"] == 403
    resyncs, _ = audit_events(
        server, lambda e: e.get("mfa_serial") == serial and e["action"] == "iam:ResyncMFADevice", 1)
    assert [e.get("reason") for e in resyncs] == ["mfa_locked"]
    for line in lines:
        event = json.loads(line)
        leaked = [v for v in event.values() if isinstance(v, str) and v in sent]
        assert not leaked, f"an MFA code reached the audit trail: {line}"
        # No parameter carrying a code is recorded (the error code InvalidAuthenticationCode is).
        assert not any(f'"{name}' in line for name in ("TokenCode", "AuthenticationCode1", "AuthenticationCode2"))


def test_enable_code_guessing_locks_the_device(root, user, server):
    serial, seed = create_device(root)
    try:
        for _ in range(MAX_FAILURES):
            with pytest.raises(ClientError) as e:
                root.iam.enable_mfa_device(UserName=user.name, SerialNumber=serial,
                                           AuthenticationCode1=wrong_code(seed),
                                           AuthenticationCode2=wrong_code(seed))
            assert_error(e, "InvalidAuthenticationCode", 403)
        step = current_step()
        with pytest.raises(ClientError) as e:
            root.iam.enable_mfa_device(UserName=user.name, SerialNumber=serial,
                                       AuthenticationCode1=totp(seed, step - 1),
                                       AuthenticationCode2=totp(seed, step))
        assert_error(e, "AccessDenied", 403)
        assert "temporarily locked" in e.value.response["Error"]["Message"]
        assert root.iam.list_mfa_devices(UserName=user.name)["MFADevices"] == []
        events, _ = audit_events(
            server,
            lambda e: e.get("mfa_serial") == serial and e["action"] == "iam:EnableMFADevice",
            MAX_FAILURES + 1)
        assert [e.get("reason") for e in events] == \
            ["mfa_invalid_code"] * MAX_FAILURES + ["mfa_locked"], events
        assert all(e["decision"] == "denied" for e in events)
    finally:
        root.iam.delete_virtual_mfa_device(SerialNumber=serial)


def test_codes_for_another_users_device_are_audited_not_counted(root, server, mfa_user):
    owner, serial, seed = mfa_user
    other = root.new_user()
    try:
        for _ in range(MAX_FAILURES + 1):
            with pytest.raises(ClientError) as e:
                other.sts.get_session_token(SerialNumber=serial, TokenCode=wrong_code(seed))
            assert_error(e, "AccessDenied", 403)
            assert e.value.response["Error"]["Message"] == INVALID_CODE
        events, _ = audit_events(
            server, lambda e: e.get("mfa_serial") == serial and e.get("reason") == "mfa_unknown_device",
            MAX_FAILURES + 1)
        assert len(events) == MAX_FAILURES + 1
        assert all(e["principal_arn"].endswith(f":user/{other.name}") for e in events)
        # Another user cannot lock the owner out: nothing was counted against the device.
        creds = owner.sts.get_session_token(SerialNumber=serial,
                                            TokenCode=totp(seed, current_step() + 1))["Credentials"]
        assert creds["AccessKeyId"].startswith("ASIA")
    finally:
        root.delete_user_fully(other.name)
