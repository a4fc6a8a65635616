"""The web view in headless Chromium against a real ``firebreak serve``: sign in, list and
filter, open an incident and watch a webhook appear on it, the post-mortem, refusals, and
hostile alert text shown as text."""

from __future__ import annotations

import time
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select
from sqlalchemy import Engine, func, select

from bot.store.models import TimelineRow
from tests.browser.conftest import incident_numbers, page_wait, post_webhook, sign_in, wait_until
from tests.fakes.alertmanager_payloads import firing_group
from tests.support.processes import Server

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def rows(driver: WebDriver) -> list[str]:
    return [row.text for row in driver.find_elements(By.CSS_SELECTOR, "table.incidents tbody tr")]


def entry_count(engine: Engine, number: int) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(TimelineRow).where(TimelineRow.incident_id == number)) or 0)


def test_nothing_is_shown_without_sign_in(server: Server, driver: WebDriver, engine: Engine) -> None:
    post_webhook(server, firing_group("SecretOutage", severity="critical"))
    wait_until(lambda: incident_numbers(engine), "the incident to open")
    driver.get(server.url + "/incidents/1")
    page_wait(driver, 10).until(lambda d: d.find_elements(By.ID, "token"))
    assert "/signin?next=" in driver.current_url
    assert "SecretOutage" not in driver.page_source
    driver.get(server.url + "/incidents/1/live?after=0")
    assert "sign in first" in driver.find_element(By.TAG_NAME, "body").text


def test_sign_in_list_and_filter(server: Server, driver: WebDriver, engine: Engine) -> None:
    post_webhook(server, firing_group("DiskFull", severity="critical", service="storage"))
    post_webhook(server, firing_group("SlowSearch", severity="warning", service="search"))
    post_webhook(server, firing_group("PaymentErrors", severity="high", service="payments"))
    wait_until(lambda: len(incident_numbers(engine)) == 3, "three incidents")
    sign_in(driver, server)
    assert len(rows(driver)) == 3
    Select(driver.find_element(By.ID, "severity")).select_by_value("P1")
    driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    page_wait(driver, 10).until(lambda d: "severity=P1" in d.current_url)
    assert len(rows(driver)) == 1 and "DiskFull" in rows(driver)[0]
    search = driver.find_element(By.ID, "q")
    search.clear()
    Select(driver.find_element(By.ID, "severity")).select_by_value("")
    search.send_keys("payment")
    search.submit()
    page_wait(driver, 10).until(lambda d: "q=payment" in d.current_url)
    assert len(rows(driver)) == 1 and "PaymentErrors" in rows(driver)[0]


def test_an_open_incident_page_shows_a_new_webhook_within_two_seconds(server: Server, driver: WebDriver, engine: Engine) -> None:
    post_webhook(server, firing_group("CacheMisses", severity="critical", service="cache"))
    number = wait_until(lambda: incident_numbers(engine), "the incident")[0]
    sign_in(driver, server, path=f"/incidents/{number}")
    page_wait(driver, 10).until(lambda d: d.find_element(By.ID, "incident").get_attribute("data-live") == "connected")
    before = entry_count(engine, number)
    assert "cache-3:9100" not in driver.page_source
    post_webhook(server, firing_group("CacheMisses", severity="critical", service="cache", count=4))
    wait_until(lambda: entry_count(engine, number) > before, "the webhook to reach the timeline")
    changed = time.monotonic()
    page_wait(driver, 5, poll_frequency=0.05).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#timeline li.new")) > 0)
    shown_after = time.monotonic() - changed
    assert shown_after < 2.0, f"the change showed after {shown_after:.2f} s"
    assert "new entr" in driver.find_element(By.ID, "live-status").text
    assert driver.current_url.endswith(f"/incidents/{number}"), "no reload"


def test_the_page_reconnects_after_a_restart(server: Server, server_env: dict[str, str], driver: WebDriver, engine: Engine, tmp_path: Path) -> None:
    post_webhook(server, firing_group("QueueBacklog", severity="critical", service="queue"))
    number = wait_until(lambda: incident_numbers(engine), "the incident")[0]
    sign_in(driver, server, path=f"/incidents/{number}")
    page_wait(driver, 10).until(lambda d: d.find_element(By.ID, "incident").get_attribute("data-live") == "connected")
    server.kill()
    page_wait(driver, 10).until(lambda d: d.find_element(By.ID, "incident").get_attribute("data-live") == "reconnecting")
    again = Server(server_env, port=server.port, log=tmp_path / "serve-again.log").start(timeout=90)
    try:
        page_wait(driver, 15).until(lambda d: d.find_element(By.ID, "incident").get_attribute("data-live") == "connected")
        post_webhook(again, firing_group("QueueBacklog", severity="critical", service="queue", count=3))
        page_wait(driver, 15).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#timeline li.new")) > 0)
    finally:
        again.kill()


def test_open_the_post_mortem_and_download_it_with_the_session(server: Server, driver: WebDriver, engine: Engine) -> None:
    post_webhook(server, firing_group("ApiDown", severity="critical", service="api"))
    number = wait_until(lambda: incident_numbers(engine), "the incident")[0]
    sign_in(driver, server, path=f"/incidents/{number}")
    driver.find_element(By.LINK_TEXT, "Post-mortem").click()
    page_wait(driver, 10).until(lambda d: d.current_url.endswith(f"/incidents/{number}/postmortem"))
    assert "Post-mortem: INC-" in driver.find_element(By.TAG_NAME, "h1").text
    assert driver.find_elements(By.XPATH, "//h2[text()='Key figures']")
    fetch = "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.text().then(t => done([r.status, t])));"
    status, markdown = driver.execute_async_script(fetch, f"/incidents/{number}/postmortem/download.md")
    assert status == 200 and f"INC-{number}" in markdown and "ApiDown" in markdown
    status, document = driver.execute_async_script(fetch, f"/incidents/{number}/postmortem/download.json")
    assert status == 200 and '"schema_version"' in document


def test_hostile_alert_text_is_shown_as_text(server: Server, driver: WebDriver, engine: Engine) -> None:
    post_webhook(server, firing_group("Hostile", severity="critical", service=HOSTILE, annotations={"summary": HOSTILE}))
    number = wait_until(lambda: incident_numbers(engine), "the incident")[0]
    sign_in(driver, server, path=f"/incidents/{number}")
    body = driver.find_element(By.TAG_NAME, "body").text
    assert HOSTILE in body, "the markup is visible as the characters it is"
    assert driver.execute_script("return window.__pwned === undefined")
    assert not driver.find_elements(By.CSS_SELECTOR, "main img, main script")
    driver.get(server.url + "/")
    assert HOSTILE in driver.find_element(By.TAG_NAME, "body").text
    assert driver.execute_script("return window.__pwned === undefined")


def test_the_four_pages_fit_a_phone_screen(server: Server, engine: Engine) -> None:
    from tests.browser.conftest import browser

    post_webhook(server, firing_group("PhoneCheck", severity="critical", service="a-rather-long-service-name-for-a-phone"))
    number = wait_until(lambda: incident_numbers(engine), "the incident")[0]
    phone = browser(390, 844)
    try:
        sign_in(phone, server)
        for path in ("/", f"/incidents/{number}", f"/incidents/{number}/postmortem", "/insights"):
            phone.get(server.url + path)
            page_wait(phone, 10).until(lambda d: d.find_elements(By.TAG_NAME, "h1"))
            overflow = phone.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
    finally:
        phone.quit()


def test_the_timeline_loads_more_from_the_keyboard(server: Server, driver: WebDriver, engine: Engine) -> None:
    from selenium.webdriver.common.keys import Keys

    post_webhook(server, firing_group("Chatty", severity="critical", service="chat", count=60))
    number = wait_until(lambda: incident_numbers(engine), "the incident")[0]
    wait_until(lambda: entry_count(engine, number) > 60, "sixty alerts on the timeline")
    sign_in(driver, server, path=f"/incidents/{number}")
    shown = len(driver.find_elements(By.CSS_SELECTOR, "#timeline li"))
    link = driver.find_element(By.ID, "load-more")
    link.send_keys(Keys.ENTER)
    page_wait(driver, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#timeline li")) > shown)
    assert driver.current_url.endswith(f"/incidents/{number}"), "loaded in place"
    total = entry_count(engine, number)
    page_wait(driver, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#timeline li")) == total)
    assert not driver.find_elements(By.ID, "load-more"), "nothing more to load"


LONG = "x" * 40 + "-unbroken-" + "QWERTYUIOP" * 30


def test_long_unbroken_strings_never_widen_a_page(server: Server, engine: Engine) -> None:
    """Alert names, services and summaries without a space (a hash, a URL-ish label) wrap inside
    their cell, and every table is a stack of cards on a phone: no page scrolls sideways."""
    from tests.browser.conftest import browser

    post_webhook(
        server,
        firing_group("Noisy" + LONG, severity="critical", service="svc" + LONG, extra_labels={"team": LONG}, annotations={"summary": LONG}),
    )
    number = wait_until(lambda: incident_numbers(engine), "the incident")[0]
    for width, height in ((1280, 900), (390, 844)):
        chrome = browser(width, height)
        try:
            sign_in(chrome, server)
            for path in ("/", f"/incidents/{number}", f"/incidents/{number}/postmortem", "/insights", "/?severity=P9"):
                chrome.get(server.url + path)
                page_wait(chrome, 10).until(lambda d: d.find_elements(By.TAG_NAME, "h1"))
                assert LONG[:40] in chrome.find_element(By.TAG_NAME, "body").text or path == "/?severity=P9"
                overflow = chrome.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{path} at {width}px is {overflow}px wider than the window"
            missing = [entry["message"] for entry in chrome.get_log("browser") if "404" in entry["message"] and "severity=P9" not in entry["message"]]
            assert missing == [], "no page asks for something that is not there (a favicon, …)"
        finally:
            chrome.quit()
