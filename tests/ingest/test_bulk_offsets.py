"""Alert times with a UTC offset PostgreSQL cannot parse (beyond ±15:59) are still stored.

RFC 3339 allows any ``±hh:mm``; the parser accepts them and ``UtcDateTime`` converts them to
UTC before they reach the database. Alert rows on PostgreSQL go as one JSON document
(bot/store/bulk.py): a timestamp sent there with its own offset is parsed by the server,
which refuses displacements past 15:59 ("time zone displacement out of range"), so the
webhook, answered 202, would fail at every retry and be set aside.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.container import Container
from bot.store.models import AlertRow, InboxRow, IncidentRow
from tests.fakes.alertmanager_payloads import alert, payload
from tests.ingest.support import bearer, client, rows

AM = "/webhooks/alertmanager"


def test_an_alert_starting_at_an_offset_past_15_59_opens_its_incident(am_container: Container) -> None:
    item = alert({"alertname": "FarEast", "severity": "critical"}, {"summary": "s"})
    item["startsAt"] = "2026-03-14T09:00:00+20:00"
    http = client(am_container)
    response = http.post(AM, json=payload([item]), headers=bearer())
    assert response.status_code == 202, response.text
    assert rows(am_container, InboxRow) == []  # applied, not kept back to retry
    assert len(rows(am_container, IncidentRow)) == 1
    (stored,) = rows(am_container, AlertRow)
    assert stored.starts_at == datetime(2026, 3, 13, 13, 0, tzinfo=UTC)
