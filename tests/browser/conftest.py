"""A real ``firebreak serve`` and headless Chromium driven by Selenium.

Debian's ``chromium`` and ``chromium-driver`` (installed by .ci/run) are used; when they are
missing the tests are skipped locally, and fail under FIREBREAK_REQUIRE_CHROMIUM=1 (CI).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine, select

from bot.store.models import IncidentRow
from tests.conftest import NO_PLAYBOOKS
from tests.support.processes import Server, firebreak_env

WEB_TOKEN = "browser-test-token-0123456789"
AM_TOKEN = "browser-am-token"
WEBHOOK = "/webhooks/alertmanager"


def _binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
        if found:
            return found
    return None


def browser(width: int = 1280, height: int = 900) -> WebDriver:
    chromium = _binary("chromium", "chromium-browser")
    driver_path = _binary("chromedriver")
    if chromium is None or driver_path is None:
        message = "headless Chromium needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        if os.environ.get("FIREBREAK_REQUIRE_CHROMIUM") == "1":
            pytest.fail(message)
        pytest.skip(message)
    options = Options()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={width},{height}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture
def driver() -> Iterator[WebDriver]:
    chrome = browser()
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture
def server_env(db_url: str) -> dict[str, str]:
    return firebreak_env(
        db_url,
        ALERTMANAGER_TOKEN=AM_TOKEN,
        FIREBREAK_WEB_TOKEN=WEB_TOKEN,
        FIREBREAK_PLAYBOOKS_DIR=str(NO_PLAYBOOKS),
        FIREBREAK_INBOX_POLL_SECONDS="0.2",
    )


@pytest.fixture
def server(server_env: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    process = Server(server_env, log=tmp_path / "serve.log")
    process.start(timeout=90)  # a loaded CI machine can take a while to import and migrate
    try:
        yield process
    finally:
        process.kill()


def post_webhook(server: Server, body: dict[str, Any]) -> None:
    answer = httpx.post(server.url + WEBHOOK, json=body, headers={"Authorization": f"Bearer {AM_TOKEN}"}, timeout=10)
    assert answer.status_code in (200, 202), answer.text


def wait_until(condition: Callable[[], Any], what: str, *, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def incident_numbers(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.scalars(select(IncidentRow.id).order_by(IncidentRow.id)))


def page_wait(driver: WebDriver, timeout: float = 10, poll_frequency: float = 0.5) -> WebDriverWait[WebDriver]:
    """A wait that looks again when the page it was reading is replaced mid-read.

    A form post or a live update swaps the document under an element the condition had just
    found; that is a reason to read the new page, not a failure.
    """
    return WebDriverWait(driver, timeout, poll_frequency=poll_frequency, ignored_exceptions=(StaleElementReferenceException,))


def sign_in(driver: WebDriver, server: Server, *, path: str = "/") -> None:
    driver.get(server.url + path)
    page_wait(driver, 10).until(lambda d: d.find_elements(By.ID, "token"))
    driver.find_element(By.ID, "token").send_keys(WEB_TOKEN)
    driver.find_element(By.ID, "name").send_keys("Robin")
    driver.find_element(By.CSS_SELECTOR, "form[action='/signin'] button[type=submit]").click()
    page_wait(driver, 10).until(lambda d: "Signed in as" in d.find_element(By.TAG_NAME, "body").text)
