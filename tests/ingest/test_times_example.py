"""The worked example in docs/postmortem-times.md: a replayed sequence through the real
webhooks and the ingester, whose post-mortem is kept in docs/examples/ (UPDATE_GOLDEN=1 rewrites it)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.testclient import TestClient

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.timeline import Source
from bot.export.service import Exporter
from bot.web import create_app
from tests.fakes.alertmanager_payloads import alert, payload, rfc3339
from tests.fakes.pagerduty_webhook import webhook_body, webhook_event, webhook_headers
from tests.ingest.conftest import PD_SECRET
from tests.ingest.support import bearer

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "postmortem-times.md"
LABELS = {"alertname": "CheckoutErrors", "severity": "critical", "service": "checkout", "instance": "checkout-7:9100", "env": "prod"}
NOTES = {"summary": "Checkout 5xx ratio above 5%", "runbook_url": "https://runbooks.example.com/checkout-errors"}


def _alertmanager(http: TestClient, *, starts: datetime, ends: datetime | None = None) -> None:
    item = alert(LABELS, NOTES, status="resolved" if ends else "firing", starts_at=starts, ends_at=ends)
    response = http.post("/webhooks/alertmanager", json=payload([item], group_by=("alertname", "service")), headers=bearer())
    assert response.status_code == 202, response.text


def _pagerduty(http: TestClient, event_type: str, occurred: datetime) -> None:
    event = webhook_event(
        event_type, incident_id="Q1CHK7", incident_key="INC-1", occurred_at=rfc3339(occurred), agent_name="Bob Oncall", priority="P1"
    )
    body = webhook_body(event)
    response = http.post("/webhooks/pagerduty", content=body, headers=webhook_headers(PD_SECRET, body))
    assert response.status_code == 202, response.text


def replay(container: Container, clock: FrozenClock) -> str:
    """18:11 errors start; 18:23 Alertmanager's notification reaches Firebreak (group_wait and a
    slow rule); PagerDuty, paged by Firebreak as it opened the P1, was acknowledged at 18:23:40
    but its webhook arrives at 18:24:30; notes; mitigation; the alert clears; resolve."""
    service = container.service
    http = TestClient(create_app(container, migrate=False, run_worker=False))
    clock.set(datetime(2026, 3, 14, 18, 23, 0, tzinfo=UTC))
    _alertmanager(http, starts=datetime(2026, 3, 14, 18, 11, 0, tzinfo=UTC))
    clock.advance(seconds=2)  # the ingester applies it two seconds after receipt
    container.ingester.apply_all()
    clock.set(datetime(2026, 3, 14, 18, 24, 30, tzinfo=UTC))
    _pagerduty(http, "incident.acknowledged", datetime(2026, 3, 14, 18, 23, 40, tzinfo=UTC))
    container.ingester.apply_all()
    clock.set(datetime(2026, 3, 14, 18, 27, 10, tzinfo=UTC))
    service.add_note(1, "5xx only from checkout-7; deploy 4512 went out there at 18:09", actor="bob", source=Source.SLACK)
    clock.set(datetime(2026, 3, 14, 18, 33, 45, tzinfo=UTC))
    service.add_note(1, "rolled back deploy 4512 on checkout-7", actor="bob", source=Source.SLACK)
    clock.set(datetime(2026, 3, 14, 18, 36, 5, tzinfo=UTC))
    service.mitigate(1, actor="bob", source=Source.SLACK)
    clock.set(datetime(2026, 3, 14, 18, 41, 0, tzinfo=UTC))
    _alertmanager(http, starts=datetime(2026, 3, 14, 18, 11, 0, tzinfo=UTC), ends=datetime(2026, 3, 14, 18, 40, 30, tzinfo=UTC))
    container.ingester.apply_all()
    clock.set(datetime(2026, 3, 14, 18, 44, 20, tzinfo=UTC))
    service.resolve(1, actor="bob", source=Source.SLACK)
    clock.advance(minutes=1)
    return Exporter(container.sessions, clock=clock).render(1, "md")


def test_the_documented_example_is_what_firebreak_exports(paging_container: Container, clock: FrozenClock) -> None:
    markdown = replay(paging_container, clock)
    for expected in (
        "| Impact start | 2026-03-14 18:11:00 UTC |",
        "| Detection | 2026-03-14 18:23:00 UTC |",
        "| Time to detect | 12m 00s |",
        "| MTTA (time to acknowledge) | 1m 30s |",
        "| Impact duration | 25m 05s |",
    ):
        assert expected in markdown, expected
    assert "-" not in "".join(line.split("|")[2] for line in markdown.splitlines() if line.startswith("| MTT"))
    if os.environ.get("UPDATE_GOLDEN") == "1":
        EXAMPLE.write_text(markdown, encoding="utf-8")
    assert EXAMPLE.read_text(encoding="utf-8") == markdown, "docs/examples/postmortem-times.md is stale (UPDATE_GOLDEN=1 rewrites it)"


def test_the_acknowledge_keeps_pagerdutys_earlier_time_beside_the_received_one(paging_container: Container, clock: FrozenClock) -> None:
    replay(paging_container, clock)
    document = Exporter(paging_container.sessions, clock=clock).document(1)
    ack = next(e for e in document["timeline"] if e["kind"] == "status_changed" and e["data"]["to"] == "acknowledged")
    assert (ack["source_at"], ack["received_at"]) == ("2026-03-14T18:23:40Z", "2026-03-14T18:24:30Z")
    assert document["incident"]["declared_at"] == "2026-03-14T18:23:02Z"  # applied two seconds after receipt
    assert document["metrics"]["detected_at"] == "2026-03-14T18:23:00Z"
    assert min(e["received_at"] for e in document["timeline"]) == "2026-03-14T18:23:00Z"
    assert timedelta(seconds=document["metrics"]["mtta"]["seconds"]) == timedelta(minutes=1, seconds=30)
