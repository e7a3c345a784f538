"""The account root's MFA device: assigned in the console only (as on AWS), then visible to the API.

The root signs in to the console over plain HTTP (urllib with a cookie jar: the forms, not a
browser), assigns a virtual MFA device (`root-account-mfa-device`) with two consecutive TOTP codes
computed here, and the API then shows it: `ListMFADevices` without `UserName`,
`ListVirtualMFADevices` assigned to the root, `GetAccountSummary`'s `AccountMFAEnabled`, the
credential report's root row; `GetSessionToken` with its code gives a session that may call IAM
(which a root session without MFA may not); `EnableMFADevice` without `UserName` stays refused;
the root's `DeactivateMFADevice` without `UserName` removes it.

With TESSERA_SPLIT=1 the API is a split cluster's gateway and the console an all-in-one process on
the cluster's Redis store (split gateways serve no console).
"""

import http.cookiejar
import json
import os
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tessera_compat import Server, serve_all_in_one, totp

REPO = Path(__file__).resolve().parent.parent
ROOT_PASSWORD = "Root-Mfa-Console-Passw0rd!"


@pytest.fixture(scope="module")
def setup(request):
    """(console URL, the root's API principal, account id)."""
    with tempfile.TemporaryDirectory(prefix="tessera-root-mfa-") as tmp:
        if os.environ.get("TESSERA_SPLIT") == "1":
            api = request.getfixturevalue("server")
            root = api.principal(api.root_key_id, api.root_secret)
            account = root.sts.get_caller_identity()["Account"]
            with serve_all_in_one(tmp, ROOT_PASSWORD, "--store", api.store, "--master-key-file", str(api.master_key_file),
                        "--account-id", account) as (url, _):
                yield url, root, account
        else:
            with serve_all_in_one(tmp, ROOT_PASSWORD) as (url, data):
                creds = json.loads((data / "root-credentials.json").read_text())
                api = Server(url, creds["AccessKeyId"], creds["SecretAccessKey"], Path(tmp))
                root = api.principal(api.root_key_id, api.root_secret)
                yield url, root, root.sts.get_caller_identity()["Account"]


class Console:
    """The console's forms over HTTP, with the cookie jar a browser keeps."""

    def __init__(self, url):
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path, form=None):
        """(status, final path, body); redirects are followed, as a browser does."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.url + path, data=data, timeout=30) as r:
                return r.status, urllib.parse.urlparse(r.geturl()).path, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, urllib.parse.urlparse(e.geturl()).path, e.read().decode()

    @staticmethod
    def csrf(body):
        return re.search(r'name="csrf" value="([^"]+)"', body).group(1)

    def sign_in(self, account):
        _, _, body = self.request("/console/signin")
        return self.request("/console/signin", {"csrf": self.csrf(body), "account": account, "user": "",
                                                "password": ROOT_PASSWORD})


def summary(root):
    return root.iam.get_account_summary()["SummaryMap"]


def credential_report_root_row(root):
    root.iam.generate_credential_report()
    lines = root.iam.get_credential_report()["Content"].decode().splitlines()
    header = lines[0].split(",")
    row = next(line for line in lines[1:] if line.startswith("<root_account>,"))
    return dict(zip(header, row.split(",")))


def test_the_root_assigns_its_mfa_device_in_the_console_and_the_api_sees_it(setup):
    url, root, account = setup
    serial = f"arn:aws:iam::{account}:mfa/root-account-mfa-device"
    root_arn = f"arn:aws:iam::{account}:root"
    assert root.iam.list_mfa_devices()["MFADevices"] == []
    assert summary(root)["AccountMFAEnabled"] == 0

    # The API cannot assign a device to the root: EnableMFADevice needs a user.
    device = root.iam.create_virtual_mfa_device(VirtualMFADeviceName="not-for-root")["VirtualMFADevice"]
    with pytest.raises(ClientError) as refused:
        root.iam_lax.enable_mfa_device(SerialNumber=device["SerialNumber"], AuthenticationCode1="123456",
                                       AuthenticationCode2="654321")
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    root.iam.delete_virtual_mfa_device(SerialNumber=device["SerialNumber"])

    # The console: sign in as root, assign the device (its secret shown once), two codes.
    console = Console(url)
    status, path, _ = console.sign_in(account)
    assert (status, path) == (200, "/console/home")
    _, _, page = console.request("/console/account/mfa")
    assert 'data-state="none"' in page
    status, _, shown = console.request("/console/account/mfa", {"csrf": Console.csrf(page), "op": "assign"})
    assert status == 200 and serial in shown
    seed = re.search(r'id="mfa-secret">([A-Z2-7]+)<', shown).group(1)
    step = int(time.time()) // 30
    status, path, done = console.request("/console/account/mfa/enable", {
        "csrf": Console.csrf(shown), "serial": serial,
        "code1": totp(seed, step - 1), "code2": totp(seed, step)})
    assert (status, path) == (200, "/console/account/mfa"), done
    assert 'data-state="assigned"' in done

    # The API: the root's device, listed and counted.
    listed = root.iam.list_mfa_devices()["MFADevices"]
    assert [d["SerialNumber"] for d in listed] == [serial]
    virtual = root.iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    mine = [d for d in virtual if d["SerialNumber"] == serial]
    assert len(mine) == 1 and mine[0]["User"]["Arn"] == root_arn and mine[0]["User"]["UserId"] == account
    assert "EnableDate" in mine[0]
    unassigned = root.iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert serial not in [d["SerialNumber"] for d in unassigned]
    assert summary(root)["AccountMFAEnabled"] == 1
    if os.environ.get("TESSERA_SPLIT") != "1":
        # The split cluster's account is the rest of the suite's, whose credential report (reused
        # for four hours, as AWS reuses it) may predate the device; this server's account is new.
        assert credential_report_root_row(root)["mfa_active"] == "true"

    # The console's root sign-in now asks for the code; a wrong one is refused.
    again = Console(url)
    status, path, mfa_page = again.sign_in(account)
    assert (status, path) == (200, "/console/mfa")
    used = {totp(seed, c) for c in range(step - 2, step + 3)}
    wrong = next("%06d" % n for n in range(1_000_000) if "%06d" % n not in used)
    status, _, _ = again.request("/console/mfa", {"csrf": Console.csrf(mfa_page), "code": wrong})
    assert status == 401

    # A root session without MFA may not call IAM (AWS answers `InvalidClientTokenId`); with the
    # root's device and a fresh code it may.
    plain = root.with_credentials(root.sts.get_session_token()["Credentials"])
    with pytest.raises(ClientError) as no_mfa:
        plain.iam.get_account_summary()
    assert no_mfa.value.response["Error"]["Code"] == "InvalidClientTokenId"
    creds = root.sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, step + 1))["Credentials"]
    with_mfa = root.with_credentials(creds)
    assert with_mfa.iam.get_account_summary()["SummaryMap"]["AccountMFAEnabled"] == 1

    # The root removes it through the API (DeactivateMFADevice without UserName), then deletes it.
    root.iam.deactivate_mfa_device(SerialNumber=serial)
    assert root.iam.list_mfa_devices()["MFADevices"] == []
    assert summary(root)["AccountMFAEnabled"] == 0
    with pytest.raises(ClientError) as gone:
        root.iam.deactivate_mfa_device(SerialNumber=serial)
    assert gone.value.response["Error"]["Code"] == "NoSuchEntity"
    root.iam.delete_virtual_mfa_device(SerialNumber=serial)
    status, path, _ = Console(url).sign_in(account)
    assert (status, path) == (200, "/console/home")
