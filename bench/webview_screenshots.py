"""Screenshots of the web view's four pages at desktop and phone width, for docs/web.md.

    python bench/webview_screenshots.py            # writes docs/images/web-*.png

Seeds a temporary SQLite database with twelve weeks of incidents (resolved ones, drills
left out of the figures, a merged one) and opens one more through the real Alertmanager
webhook, so it has alerts, a playbook and a live timeline. Then runs ``firebreak serve`` on
a free loopback port and photographs the pages in headless Chromium (Debian's ``chromium``
and ``chromium-driver``).
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from sqlalchemy import update

from bot.container import build_container
from bot.domain.clock import FrozenClock
from bot.domain.incident import Role
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.settings import Settings
from bot.store.migrate import upgrade
from bot.store.models import EscalationRow, IncidentRow

ROOT = Path(__file__).resolve().parents[1]
WEB_TOKEN = "screenshot-token-0123456789"
AM_TOKEN = "screenshot-am-token"
OUT = ROOT / "docs" / "images"
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
SERVICES = ("checkout", "payments", "search", "storage", "api")
ALERTS = ("HighErrorRate", "HighLatency", "DiskFull", "CertificateExpiry", "DatabaseConnections")
PEOPLE = ("@alice", "@bob", "@carol", "@dave")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(url: str) -> None:
    """Twelve weeks of history: what the list and the insights show."""
    now = datetime.now(UTC)
    clock = FrozenClock(now - timedelta(weeks=11, days=3))
    settings = Settings(_env_file=None, DATABASE_URL=url, FIREBREAK_LOG_FORMAT="console", FIREBREAK_PLAYBOOKS_DIR=str(ROOT / "playbooks"))  # type: ignore[call-arg]
    container = build_container(settings, clock=clock, transcript_stream=io.StringIO())
    upgrade(container.engine)
    service = container.service
    for index in range(46):
        clock.set(now - timedelta(weeks=11, days=3) + timedelta(hours=41 * index + (index * 7) % 13))
        service_name = SERVICES[(index * 3) % len(SERVICES)]
        severity = (Severity.P1, Severity.P2, Severity.P3, Severity.P2, Severity.P0, Severity.P3)[index % 6]
        incident = service.declare(
            title=f"{ALERTS[index % len(ALERTS)]} on {service_name}",
            severity=severity,
            actor="alertmanager",
            source=Source.ALERTMANAGER,
            labels={"service": service_name, "env": "prod"},
        )
        clock.advance(minutes=2 + index % 9)
        service.acknowledge(incident.number, actor=PEOPLE[index % 4], source=Source.SLACK)
        service.assign_role(incident.number, Role.COMMANDER, PEOPLE[index % 4], actor=PEOPLE[index % 4], source=Source.SLACK)
        clock.advance(minutes=15 + (index * 11) % 90)
        service.add_note(incident.number, "Rolled back the last deploy; error rate falling.", actor=PEOPLE[(index + 1) % 4], source=Source.SLACK)
        clock.advance(minutes=10 + index % 30)
        service.resolve(incident.number, actor=PEOPLE[index % 4], source=Source.SLACK)
        if index % 5 == 0:
            with container.sessions.begin() as session:
                at = clock.now()
                session.add(EscalationRow(incident_id=incident.number, cycle=100, level=1 + index % 3, condition="unacknowledged", targets=[], due_at=at, anchor_at=at, status="fired", fired_at=at, created_at=at))
    drill = service.declare(title="Drill: database failover", severity=Severity.P1, actor="@alice", source=Source.CONSOLE)
    with container.sessions.begin() as session:
        session.execute(update(IncidentRow).where(IncidentRow.id == drill.number).values(drill=True))
    container.close()


def webhook(port: int, alertname: str, service: str, count: int, severity: str = "critical") -> None:
    started = (datetime.now(UTC) - timedelta(minutes=4)).isoformat().replace("+00:00", "Z")
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": alertname, "severity": severity, "service": service, "instance": f"{service}-{i}:9100"},
            "annotations": {"summary": f"{alertname} on {service}-{i}", "runbook_url": "https://runbooks.example.com/x"},
            "startsAt": started,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://prometheus.example.com/graph",
            "fingerprint": f"{alertname}-{service}-{i}",
        }
        for i in range(count)
    ]
    body = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alertname}", service="{service}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "firebreak",
        "groupLabels": {"alertname": alertname, "service": service},
        "commonLabels": {"alertname": alertname, "severity": severity, "service": service},
        "commonAnnotations": {},
        "externalURL": "https://alertmanager.example.com",
        "alerts": alerts,
    }
    answer = httpx.post(f"http://127.0.0.1:{port}/webhooks/alertmanager", json=body, headers={"Authorization": f"Bearer {AM_TOKEN}"}, timeout=10)
    answer.raise_for_status()


def wait(condition: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if callable(condition) and condition():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def shoot(port: int) -> list[Path]:
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    base = f"http://127.0.0.1:{port}"
    written = []
    try:
        driver.set_window_size(*SIZES["desktop"])
        driver.get(base + "/signin")
        driver.find_element(By.ID, "token").send_keys(WEB_TOKEN)
        driver.find_element(By.ID, "name").send_keys("Robin")
        driver.find_element(By.CSS_SELECTOR, "form[action='/signin'] button").click()
        wait(lambda: "Signed in as" in driver.page_source, "the sign-in")
        open_number = driver.find_element(By.CSS_SELECTOR, "table.incidents tbody tr a").get_attribute("href")
        pages = {"list": "/", "incident": str(open_number).removeprefix(base), "postmortem": str(open_number).removeprefix(base) + "/postmortem", "insights": "/insights"}
        for size_name, (width, height) in SIZES.items():
            for page_name, path in pages.items():
                driver.set_window_size(width, height)
                driver.get(base + path)
                full = int(driver.execute_script("return document.documentElement.scrollHeight"))
                driver.set_window_size(width, min(max(height, full), 2600))
                target = OUT / f"web-{page_name}-{size_name}.png"
                driver.save_screenshot(str(target))
                written.append(target)
    finally:
        driver.quit()
    return written


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'shots.db'}"
        seed(url)
        port = free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "PAGERDUTY_", "FIREBREAK_", "ALERTMANAGER_"))}
        env.update(
            DATABASE_URL=url,
            PYTHONPATH=str(ROOT),
            ALERTMANAGER_TOKEN=AM_TOKEN,
            FIREBREAK_WEB_TOKEN=WEB_TOKEN,
            FIREBREAK_PLAYBOOKS_DIR=str(ROOT / "playbooks"),
            FIREBREAK_LOG_FORMAT="json",
        )
        log = (Path(folder) / "serve.log").open("w")
        server = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200, "firebreak serve")
            webhook(port, "HighErrorRate", "checkout", 3)
            webhook(port, "HighLatency", "payments", 2, severity="high")
            wait(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200, "the webhooks")
            time.sleep(2)  # let the ingester apply both groups before the pictures (not a test)
            for path in shoot(port):
                print(path.relative_to(ROOT))
        finally:
            server.terminate()
            server.wait(timeout=20)
            log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
