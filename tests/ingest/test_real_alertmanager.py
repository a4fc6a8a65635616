"""A real ``prometheus-alertmanager`` notifying a real ``firebreak serve`` over loopback.

Alerts go in through Alertmanager's API v2; Alertmanager groups them and calls the webhook
with its bearer token: firing, a repeat (re-send, must change nothing), then resolution
(P3, so the incident resolves itself). Without the binary the test skips, unless CI sets
FIREBREAK_REQUIRE_ALERTMANAGER=1, in which case it fails (see ``alertmanager_binary``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import Engine, func, select

from bot.store.models import AlertRow, IncidentRow, TimelineRow
from tests.fakes.alertmanager_process import AlertmanagerProcess
from tests.support.processes import Server, firebreak_env
from tests.support.waiting import wait_until

TOKEN = "real-alertmanager-token"
pytestmark = pytest.mark.alertmanager


def webhook_count(server: Server, outcome: str, metric: str = "firebreak_webhooks_total") -> float:
    """Answered webhooks by outcome; with ``firebreak_ingested_total``, what applying them did."""
    text = httpx.get(server.url + "/metrics", timeout=5).text
    pattern = re.escape(metric) + r'\{outcome="' + re.escape(outcome) + r'",source="alertmanager"\} ([0-9.]+)'
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def scalar(engine: Engine, statement: object) -> object:
    with engine.connect() as connection:
        return connection.execute(statement).scalar()  # type: ignore[arg-type]


def test_firing_resend_and_resolve_through_a_real_alertmanager(
    db_url: str, engine: Engine, alertmanager: Callable[..., AlertmanagerProcess]
) -> None:
    env = firebreak_env(db_url, ALERTMANAGER_TOKEN=TOKEN, FIREBREAK_OUTBOX_POLL_SECONDS="0.1")
    with Server(env) as server:
        am = alertmanager(
            server.url + "/webhooks/alertmanager",
            bearer_token=TOKEN,
            group_by=("alertname", "service"),
            group_wait="1s",
            group_interval="1s",
            repeat_interval="2s",
        )
        labels = [{"alertname": "DiskAlmostFull", "service": "db", "severity": "warning", "instance": f"db-{i}"} for i in range(2)]
        notes = {"summary": "Disk almost full on db", "runbook_url": "https://runbooks.example.com/disk"}
        for item in labels:
            am.fire(item, notes)

        wait_until(lambda: scalar(engine, select(func.count()).select_from(AlertRow)) == 2, timeout=20, interval=0.2, what="both alerts stored")
        with engine.connect() as connection:
            incident = connection.execute(select(IncidentRow)).one()
        assert incident.title == "Disk almost full on db"
        assert incident.severity == "P3" and incident.source == "alertmanager"
        assert incident.dedup_key.startswith("am:") and 'alertname="DiskAlmostFull"' in incident.dedup_key
        assert incident.links["runbook"] == "https://runbooks.example.com/disk"

        entries = scalar(engine, select(func.count()).select_from(TimelineRow))
        wait_until(
            lambda: webhook_count(server, "unchanged", "firebreak_ingested_total") >= 1, timeout=20, interval=0.2, what="Alertmanager's repeat notification"
        )
        assert scalar(engine, select(func.count()).select_from(TimelineRow)) == entries  # the re-send changed nothing
        assert scalar(engine, select(func.count()).select_from(IncidentRow)) == 1

        for item in labels:
            am.resolve(item, notes)
        wait_until(
            lambda: scalar(engine, select(IncidentRow.status).where(IncidentRow.id == incident.id)) == "resolved",
            timeout=20,
            interval=0.2,
            what="the incident to resolve itself",
        )
        kinds = [row for row in scalar_all(engine, select(TimelineRow.kind).order_by(TimelineRow.id))]
        assert kinds.count("alert_firing") == 2 and kinds.count("alert_resolved") == 2
        assert kinds.count("alerts_all_resolved") == 1
        assert webhook_count(server, "unauthorized") == 0


def scalar_all(engine: Engine, statement: object) -> list[object]:
    with engine.connect() as connection:
        return list(connection.execute(statement).scalars())  # type: ignore[arg-type]
