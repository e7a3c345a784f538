"""The web console (issue 16) in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`) driven by Selenium, by the controls' accessible names, through issue 16's
acceptance walk: root signs in (its password from TESSERA_ROOT_PASSWORD at the server's first
start); writes a policy in the editor (its live findings), creates a role from the AWS account
template, a user with a console password and an access key, and a group with the policy, adding
the user; signs out. The user signs in (forced password change), enrols an MFA device from the
QR code's secret, signs in again with a TOTP code computed here, sees the dashboard, is denied the
users page with the explanation, switches to the role and sees the role session's identity,
simulates a policy; root's Access Analyzer pages show the user's unused permissions with the
evidence of its API calls (archiving a finding) and no unused finding for the role the user
switched to (the console's actions are in the audit trail), validate a pasted policy and generate
a policy from the user's calls; root creates and deletes the account alias, adds a SAML provider
from an uploaded metadata file, replaces its metadata and deletes it; root revokes the user's
sessions and the user's next page is refused.

With TESSERA_CONSOLE_SCREENSHOTS=DIR, the dashboard, the policy editor with a finding and the
simulator are saved there (committed as docs/console-*.png). Every wait is a WebDriverWait with a
deadline; nothing sleeps."""

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402
from tessera_compat import serve_all_in_one, totp  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
ROOT_PASSWORD = "Root-Console-Passw0rd!"
WAIT = 20


@pytest.fixture(scope="module")
def console_url():
    with tempfile.TemporaryDirectory() as tmp:
        with serve_all_in_one(tmp, ROOT_PASSWORD, "--account-id", ACCOUNT) as (url, _):
            yield url


def _chrome():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_bin = shutil.which("chromedriver")
    if not chromium or not driver_bin:
        pytest.skip("needs Debian's chromium and chromium-driver (scripts/test installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_bin), options=options)
    driver.set_page_load_timeout(WAIT)
    return driver


@pytest.fixture(scope="module")
def browser():
    driver = _chrome()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def root_browser():
    """A second browser, for the root while the user is signed in in the first."""
    driver = _chrome()
    try:
        yield driver
    finally:
        driver.quit()


def field(driver, label):
    """The input a <label> names: by `for`, or the one it wraps."""
    labels = driver.find_elements(By.XPATH, f"//label[normalize-space()='{label}']")
    assert labels, f"no control labelled {label!r}"
    target = labels[0].get_attribute("for")
    if target:
        return driver.find_element(By.ID, target)
    return labels[0].find_element(By.TAG_NAME, "input")


def gone(element):
    """A wait condition: `element`'s page has been replaced. Chromium reports a node of a page
    being torn down either as stale or, mid-navigation, as a node that "does not belong to the
    document"; both mean the old page is gone (`EC.staleness_of` knows only the first)."""

    def check(_):
        try:
            element.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise

    return check


def click(driver, name):
    """The button (or link acting as one) whose accessible name is `name`; every one of them
    loads a page, so this returns once the old page is gone (many pages keep their title across
    a post, so waiting for the title alone could read the old page)."""
    xpath = f"//button[normalize-space()='{name}'] | //a[@role='button' and normalize-space()='{name}']"
    old = driver.find_element(By.TAG_NAME, "html")

    def press(d):
        # A loaded machine's Chromium may refuse the first try (a node of a page still settling).
        try:
            d.find_element(By.XPATH, xpath).click()
            return True
        except WebDriverException:
            return False

    WebDriverWait(driver, WAIT).until(press)
    WebDriverWait(driver, WAIT).until(gone(old))


def wait_title(driver, title):
    WebDriverWait(driver, WAIT).until(EC.title_contains(title))


def sign_in(driver, url, user, password):
    driver.get(url + "/console/signin")
    wait_title(driver, "Sign in")
    field(driver, "Account ID").send_keys(ACCOUNT)
    field(driver, "User name").send_keys(user)
    field(driver, "Password").send_keys(password)
    click(driver, "Sign in")


def main_text(driver):
    return driver.find_element(By.TAG_NAME, "main").text


def wait_text(driver, text, locator=(By.TAG_NAME, "main")):
    WebDriverWait(driver, WAIT).until(EC.text_to_be_present_in_element(locator, text))


def screenshot(driver, name):
    shots = os.environ.get("TESSERA_CONSOLE_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(shots, name).resolve()))


def select(driver, label, text):
    Select(field(driver, label)).select_by_visible_text(text)


def set_text(driver, label, text):
    element = field(driver, label)
    element.clear()
    element.send_keys(text)


def saml_metadata(entity_id):
    """A SAML provider's metadata document, with the identity domain's test signing certificate."""
    cert = (REPO / "services" / "identity" / "tests" / "data" / "saml-idp-cert.b64").read_text().strip()
    return (
        '<?xml version="1.0"?>\n'
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        f'<ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>'
        '</md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        'Location="https://idp.example.com/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>'
    )


USER_POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ['
    '"iam:GetAccountSummary", "iam:GetAccountPasswordPolicy", "iam:GetUser", "iam:CreateVirtualMFADevice", '
    '"iam:EnableMFADevice", "iam:SimulateCustomPolicy", "iam:ListRoles", "iam:ChangePassword", "sts:AssumeRole"], '
    '"Resource": "*"}]}'
)
USER = "ana"
FIRST_PASSWORD = "Ana-Console-Passw0rd!"
NEW_PASSWORD = "Ana-Changed-Passw0rd!"


def test_the_console_walk_of_issue_16(console_url, browser, root_browser):
    root = root_browser
    sign_in(root, console_url, "", ROOT_PASSWORD)
    wait_title(root, "IAM Dashboard")
    assert f"arn:aws:iam::{ACCOUNT}:root" in root.find_element(By.ID, "identity").text
    for todo in ("rec-password-policy", "rec-root-keys"):
        assert root.find_element(By.ID, todo).get_attribute("data-state") == "todo", todo
    screenshot(root, "console-dashboard.png")

    # A managed policy, written in the editor: its findings appear as one types (editor.js).
    root.get(console_url + "/console/policies/new")
    wait_title(root, "Create policy")
    field(root, "Policy name").send_keys("ConsoleUserAccess")
    set_text(root, "Policy editor", '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",\n'
             '  "Action": "iam:PassRole", "Resource": "*"}]}')
    wait_text(root, "PASS_ROLE_WITH_STAR_IN_RESOURCE", (By.ID, "findings"))
    assert "Line 2" in root.find_element(By.ID, "findings").text
    screenshot(root, "console-policy-editor.png")
    set_text(root, "Policy editor", USER_POLICY)
    wait_text(root, "No findings", (By.ID, "findings"))
    click(root, "Create policy")
    wait_title(root, "ConsoleUserAccess")
    assert "v1 (Default)" in main_text(root)

    # A role any principal of the account may assume (the AWS account template), with a policy.
    root.get(console_url + "/console/roles/new")
    wait_title(root, "Create role")
    click(root, "Use template")
    wait_title(root, "Create role")
    assert f"arn:aws:iam::{ACCOUNT}:root" in field(root, "Trust policy").get_attribute("value")
    field(root, "Role name").send_keys("ops-admin")
    select(root, "Permissions policy", "IAMReadOnlyAccess")
    click(root, "Create role")
    wait_title(root, "ops-admin")
    assert "IAMReadOnlyAccess" in main_text(root)

    # The user, with a console password to change at first sign-in and an access key.
    root.get(console_url + "/console/users/new")
    wait_title(root, "Create user")
    field(root, "User name").send_keys(USER)
    field(root, "Provide user access to the console").click()
    field(root, "Password").send_keys(FIRST_PASSWORD)
    field(root, "Users must create a new password at next sign-in").click()
    field(root, "Create an access key").click()
    click(root, "Create user")
    wait_text(root, f"User {USER} created.")
    secret = root.find_element(By.ID, "secret-access-key").text
    key_id = root.find_element(By.ID, "access-key-id").text
    assert len(secret) == 40
    assert root.find_element(By.ID, "download-key").get_attribute("download") == f"{USER}_accessKeys.csv"
    root.get(console_url + f"/console/users/{USER}")
    wait_title(root, USER)
    assert secret not in root.page_source, "the secret is shown once"

    # A group with the policy, and the user in it.
    root.get(console_url + "/console/groups")
    wait_title(root, "User groups")
    click(root, "Create group")
    wait_title(root, "Create user group")
    field(root, "User group name").send_keys("console-users")
    select(root, "Permissions policy", "ConsoleUserAccess")
    click(root, "Create user group")
    wait_title(root, "console-users")
    field(root, "User name").send_keys(USER)
    click(root, "Add users")
    # The same title before and after the post: wait for the new page's member table.
    wait_text(root, USER, (By.TAG_NAME, "table"))
    assert "ConsoleUserAccess" in main_text(root)

    # The user: forced password change, then MFA enrolment, then sign-in with a TOTP code.
    sign_in(browser, console_url, USER, FIRST_PASSWORD)
    wait_title(browser, "Change password")
    field(browser, "Current password").send_keys(FIRST_PASSWORD)
    field(browser, "New password").send_keys(NEW_PASSWORD)
    field(browser, "Confirm new password").send_keys(NEW_PASSWORD)
    click(browser, "Confirm password change")
    wait_title(browser, "IAM Dashboard")
    browser.get(console_url + f"/console/users/{USER}/mfa")
    wait_title(browser, "Assign MFA device")
    click(browser, "Assign MFA device")
    WebDriverWait(browser, WAIT).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#mfa-qr svg")))
    seed = browser.find_element(By.ID, "mfa-secret").text
    now = int(time.time()) // 30
    field(browser, "MFA code 1").send_keys(totp(seed, now - 1))
    field(browser, "MFA code 2").send_keys(totp(seed, now))
    click(browser, "Add MFA")
    wait_title(browser, USER)
    assert seed not in browser.page_source, "the seed is shown once"
    click(browser, "Sign out")
    wait_title(browser, "Sign in")
    sign_in(browser, console_url, USER, NEW_PASSWORD)
    wait_title(browser, "Multi-factor authentication")
    field(browser, "MFA code").send_keys(totp(seed, int(time.time()) // 30 + 1))
    click(browser, "Submit")
    wait_title(browser, "IAM Dashboard")
    assert f"arn:aws:iam::{ACCOUNT}:user/{USER}" in browser.find_element(By.ID, "identity").text

    # A page the user's policies do not allow: the explanation, and no data.
    browser.get(console_url + "/console/users")
    panel = WebDriverWait(browser, WAIT).until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".denied")))
    assert "Not authorized" in panel.text
    assert (f"User: arn:aws:iam::{ACCOUNT}:user/{USER} is not authorized to perform: iam:ListUsers"
            in panel.text), panel.text
    assert not browser.find_elements(By.TAG_NAME, "table"), "a denied page shows no data"

    # Switch role: the console acts as the role session, and says so.
    browser.get(console_url + "/console/switch-role")
    wait_title(browser, "Switch role")
    set_text(browser, "Account ID", ACCOUNT)
    field(browser, "Role name").send_keys("ops-admin")
    set_text(browser, "Display name", "Ops")
    field(browser, "green").click()
    click(browser, "Switch role")
    wait_title(browser, "IAM Dashboard")
    assert (f"arn:aws:sts::{ACCOUNT}:assumed-role/ops-admin/{USER}"
            in browser.find_element(By.ID, "identity").text)
    assert browser.find_element(By.ID, "role-display").text == "Ops"
    browser.get(console_url + "/console/users")
    wait_title(browser, "Users")
    assert USER in browser.find_element(By.TAG_NAME, "table").text, "the role may list users"
    click(browser, f"Back to {USER}")
    wait_title(browser, "IAM Dashboard")
    assert f"arn:aws:iam::{ACCOUNT}:user/{USER}" in browser.find_element(By.ID, "identity").text

    # The policy simulator: the decision with the explanation of the one decision path.
    browser.get(console_url + "/console/simulator")
    wait_title(browser, "Policy simulator")
    field(browser, "Policy document").send_keys(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
        '"Resource": "arn:aws:s3:::reports/*"}]}')
    field(browser, "Actions").send_keys("s3:GetObject s3:PutObject")
    field(browser, "Resources").send_keys("arn:aws:s3:::reports/q1.csv")
    click(browser, "Run simulation")
    WebDriverWait(browser, WAIT).until(EC.presence_of_element_located((By.ID, "simulation")))
    section = browser.find_element(By.ID, "simulation")
    results = section.text
    assert "allowed" in results and "implicitDeny" in results, results
    # The results are below the form: the screenshot shows the end of the form and the results.
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    screenshot(browser, "console-simulator.png")

    # Access Analyzer (issue 17). The user works through the API with its key; root's unused-access
    # analyzer shows the user's unused permissions with the evidence of that work, archives the
    # role's finding; validates a pasted policy; generates a policy from what the user did.
    import boto3
    api = boto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret, region_name="us-east-1")
    iam = api.client("iam", endpoint_url=console_url)
    iam.get_user(UserName=USER)
    iam.get_account_summary()
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{USER}"
    root.get(console_url + "/console/access-analyzer")
    wait_title(root, "Access Analyzer")
    field(root, "Analyzer name").send_keys("console-unused")
    set_text(root, "Tracking period (days)", "1")
    click(root, "Create analyzer")
    wait_title(root, "Access Analyzer")
    assert "console-unused" in root.find_element(By.TAG_NAME, "table").text
    findings_url = console_url + "/console/access-analyzer?analyzer=console-unused"

    def shows(text, url=findings_url):
        def check(driver):
            driver.get(url)
            return text in driver.find_element(By.ID, "findings-section").text
        return check

    # The audit trail is written in the background: reload until the user's last call (the
    # service's last use) is the evidence of its unused IAM permissions (iam:ListRoles).
    WebDriverWait(root, WAIT).until(shows(f"(iam:GetAccountSummary by {user_arn} (request "))
    section = root.find_element(By.ID, "findings-section").text
    assert "UnusedPermission" in section and "service iam: last used" in section, section
    assert "iam:ListRoles" in section, section
    # The role was used only from the console (Switch role): it is not unused.
    assert "role: never used" not in section, section
    assert not root.find_elements(
        By.CSS_SELECTOR, f"button[aria-label='Archive UnusedIAMRole arn:aws:iam::{ACCOUNT}:role/ops-admin']")
    screenshot(root, "console-access-analyzer.png")
    # Each finding's button is named by its action, type and resource (aria-label).
    user_finding = f"UnusedPermission {user_arn}"
    archive = root.find_element(By.CSS_SELECTOR, f"button[aria-label='Archive {user_finding}']")
    archive.click()
    WebDriverWait(root, WAIT).until(gone(archive))
    wait_title(root, "Access Analyzer")
    assert not root.find_elements(By.CSS_SELECTOR, f"button[aria-label='Archive {user_finding}']")
    select(root, "Status", "Archived")
    click(root, "Filter")
    WebDriverWait(root, WAIT).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, f"button[aria-label='Unarchive {user_finding}']")))
    assert "ARCHIVED" in root.find_element(By.ID, "findings-section").text

    root.get(console_url + "/console/access-analyzer/validate")
    wait_title(root, "Policy validation")
    select(root, "Policy type", "Identity policy")
    field(root, "Policy document").send_keys(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",\n'
        '  "Action": "iam:PassRole", "Resource": "*"}]}')
    click(root, "Validate policy")
    wait_text(root, "PASS_ROLE_WITH_STAR_IN_RESOURCE", (By.ID, "validation"))
    assert "Line 2" in root.find_element(By.ID, "validation").text

    root.get(console_url + "/console/access-analyzer/generate")
    wait_title(root, "Policy generation")
    field(root, "Principal ARN").send_keys(user_arn)
    set_text(root, "Activity of the last (days)", "1")
    click(root, "Generate policy")
    WebDriverWait(root, WAIT).until(EC.presence_of_element_located((By.ID, "generated-policy")))
    assert root.find_element(By.ID, "job-status").text == "SUCCEEDED"
    policy = root.find_element(By.ID, "generated-policy").text
    assert "iam:GetUser" in policy and "iam:GetAccountSummary" in policy, policy
    assert "iam:CreateUser" not in policy, policy
    assert "CheckNoNewAccess against the current policies: PASS" in root.find_element(By.ID, "proof").text

    # The account alias: create it, see it, delete it.
    root.get(console_url + "/console/account")
    wait_title(root, "Account settings")
    field(root, "Preferred alias").send_keys("tessera-console-walk")
    click(root, "Create alias")
    wait_text(root, "tessera-console-walk", (By.ID, "account-alias"))
    click(root, "Delete alias")
    WebDriverWait(root, WAIT).until(EC.presence_of_element_located((By.ID, "no-account-alias")))

    # A SAML provider from an uploaded metadata file: add, view, replace the metadata, delete.
    with tempfile.TemporaryDirectory() as files:
        first, second = Path(files, "idp.xml"), Path(files, "idp-v2.xml")
        first.write_text(saml_metadata("https://idp.example.com/metadata"))
        second.write_text(saml_metadata("https://idp.example.com/v2"))
        root.get(console_url + "/console/identity-providers")
        wait_title(root, "Identity providers")
        click(root, "Add SAML provider")
        wait_title(root, "Add SAML provider")
        field(root, "Provider name").send_keys("Okta")
        field(root, "Metadata document").send_keys(str(first))
        click(root, "Add provider")
        wait_title(root, "Okta")
        assert root.find_element(By.ID, "entity-id").text == "https://idp.example.com/metadata"
        field(root, "New metadata document").send_keys(str(second))
        click(root, "Replace metadata")
        wait_text(root, "https://idp.example.com/v2", (By.ID, "entity-id"))
        click(root, "Delete provider")
        wait_title(root, "Identity providers")
        assert "saml-provider/Okta" not in main_text(root)

    # Root revokes the user's sessions: the user's next page is refused.
    root.get(console_url + "/console/sessions")
    wait_title(root, "Sessions")
    assert f"user/{USER}" in main_text(root)
    field(root, "Principal ARN").send_keys(f"arn:aws:iam::{ACCOUNT}:user/{USER}")
    click(root, "Revoke all sessions of principal")
    wait_title(root, "Sessions")
    browser.get(console_url + "/console/home")
    wait_title(browser, "Session ended")
    assert "revoked" in main_text(browser)
