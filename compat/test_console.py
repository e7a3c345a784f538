"""The web console (issue 16) in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`) driven by Selenium, by the controls' accessible names. Root signs in (its
password from TESSERA_ROOT_PASSWORD at the server's first start), creates a user with a console
password, signs out; the user signs in, sees the dashboard, and is denied the users page with the
explanation. With TESSERA_CONSOLE_SCREENSHOT=PATH, the root's dashboard is saved there as PNG.

Every wait is a WebDriverWait with a deadline; nothing sleeps."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
ROOT_PASSWORD = "Root-Console-Passw0rd!"
WAIT = 20


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def console_url():
    bin_path = Path(os.environ.get("TESSERA_BIN", REPO / "target" / "debug" / "tessera"))
    with tempfile.TemporaryDirectory() as tmp:
        http_port, grpc_port = _free_port(), _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        env["TESSERA_ROOT_PASSWORD"] = ROOT_PASSWORD
        log_path = Path(tmp) / "server.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [str(bin_path), "serve", "--data-dir", str(Path(tmp) / "data"), "--account-id", ACCOUNT,
                 "--http-addr", f"127.0.0.1:{http_port}", "--grpc-addr", f"127.0.0.1:{grpc_port}"],
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
                yield url
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_bin = shutil.which("chromedriver")
    if not chromium or not driver_bin:
        pytest.skip("needs Debian's chromium and chromium-driver (scripts/test installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_bin), options=options)
    driver.set_page_load_timeout(WAIT)
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


def click(driver, name):
    """The button (or link acting as one) whose accessible name is `name`."""
    xpath = f"//button[normalize-space()='{name}'] | //a[@role='button' and normalize-space()='{name}']"
    WebDriverWait(driver, WAIT).until(EC.element_to_be_clickable((By.XPATH, xpath))).click()


def wait_title(driver, title):
    WebDriverWait(driver, WAIT).until(EC.title_contains(title))


def sign_in(driver, url, user, password):
    driver.get(url + "/console/signin")
    wait_title(driver, "Sign in")
    field(driver, "Account ID").send_keys(ACCOUNT)
    field(driver, "User name").send_keys(user)
    field(driver, "Password").send_keys(password)
    click(driver, "Sign in")


def test_root_creates_a_user_who_is_denied_the_users_page(console_url, browser):
    sign_in(browser, console_url, "", ROOT_PASSWORD)
    wait_title(browser, "IAM Dashboard")
    assert f"arn:aws:iam::{ACCOUNT}:root" in browser.find_element(By.ID, "identity").text
    for todo in ("rec-password-policy", "rec-root-keys"):
        assert browser.find_element(By.ID, todo).get_attribute("data-state") == "todo", todo
    shot = os.environ.get("TESSERA_CONSOLE_SCREENSHOT")
    if shot:
        browser.save_screenshot(str(Path(shot).resolve()))

    browser.get(console_url + "/console/users")
    wait_title(browser, "Users")
    click(browser, "Create user")
    wait_title(browser, "Create user")
    field(browser, "User name").send_keys("ana")
    field(browser, "Provide user access to the console").click()
    field(browser, "Password").send_keys("Ana-Console-Passw0rd!")
    click(browser, "Create user")
    WebDriverWait(browser, WAIT).until(EC.text_to_be_present_in_element((By.TAG_NAME, "main"), "User ana created."))
    assert "Console access enabled." in browser.find_element(By.TAG_NAME, "main").text
    click(browser, "Sign out")
    wait_title(browser, "Sign in")

    sign_in(browser, console_url, "ana", "Ana-Console-Passw0rd!")
    wait_title(browser, "IAM Dashboard")
    assert f"arn:aws:iam::{ACCOUNT}:user/ana" in browser.find_element(By.ID, "identity").text
    browser.get(console_url + "/console/users")
    panel = WebDriverWait(browser, WAIT).until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".denied")))
    assert "Not authorized" in panel.text
    assert (f"User: arn:aws:iam::{ACCOUNT}:user/ana is not authorized to perform: iam:ListUsers"
            in panel.text), panel.text
    assert not browser.find_elements(By.TAG_NAME, "table"), "a denied page shows no data"
