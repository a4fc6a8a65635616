"""Every entry keeps when Firebreak received its webhook and when it happened at the source,
through ``POST /webhooks/alertmanager`` and ``/webhooks/pagerduty`` and the ingester."""

from __future__ import annotations

from datetime import datetime, timedelta

from starlette.testclient import TestClient

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.source_time import SourceTime
from bot.domain.timeline import EntryKind
from bot.export.service import Exporter
from bot.store.models import EscalationRow, TimelineRow
from bot.web import create_app
from tests.fakes.alertmanager_payloads import alert, payload, rfc3339
from tests.fakes.pagerduty_webhook import webhook_body, webhook_event, webhook_headers
from tests.ingest.conftest import PD_SECRET
from tests.ingest.support import bearer, rows

AM = "/webhooks/alertmanager"
PD = "/webhooks/pagerduty"
LABELS = {"alertname": "CheckoutErrors", "severity": "critical", "service": "checkout", "instance": "checkout-1:9100"}


def _queue_alertmanager(http: TestClient, *, starts_at: datetime | str, status: str = "firing", ends_at: str | None = None) -> None:
    item = alert(LABELS, {"summary": "checkout 5xx"}, status=status)
    item["startsAt"] = starts_at if isinstance(starts_at, str) else rfc3339(starts_at)
    if ends_at is not None:
        item["endsAt"] = ends_at
    response = http.post(AM, json=payload([item], group_by=("alertname", "service")), headers=bearer())
    assert response.status_code == 202, response.text


def _queue_pagerduty(http: TestClient, event_type: str, occurred_at: str, incident_id: str = "QTIMES1") -> None:
    body = webhook_body(webhook_event(event_type, incident_id=incident_id, occurred_at=occurred_at, priority="P1"))
    response = http.post(PD, content=body, headers=webhook_headers(PD_SECRET, body))
    assert response.status_code == 202, response.text


def _timeline(container: Container, number: int = 1) -> list[TimelineRow]:
    return rows(container, TimelineRow, incident_id=number)


def test_entries_carry_the_receipt_time_not_the_apply_time(am_container: Container, clock: FrozenClock) -> None:
    received = clock.now()
    with TestClient(create_app(am_container, migrate=False, run_worker=False)) as http:
        _queue_alertmanager(http, starts_at=received - timedelta(minutes=12))
    clock.advance(minutes=3)  # the ingester was busy: applied three minutes after receipt
    am_container.ingester.apply_all()
    entries = _timeline(am_container)
    assert {row.kind for row in entries} >= {"declared", "alert_firing"}
    for row in entries:
        assert row.received_at == received, row.kind
        assert row.at == received + timedelta(minutes=3), row.kind
    firing = next(row for row in entries if row.kind == "alert_firing")
    assert (firing.source_at, firing.source_time) == (received - timedelta(minutes=12), "source")
    declared = next(row for row in entries if row.kind == "declared")
    assert (declared.source_at, declared.source_time) == (received, "received")


def test_insane_alert_times_fall_back_to_received_and_say_so(am_container: Container, clock: FrozenClock) -> None:
    received = clock.now()
    with TestClient(create_app(am_container, migrate=False, run_worker=False)) as http:
        _queue_alertmanager(http, starts_at=received + timedelta(hours=3))  # a clock running ahead
        am_container.ingester.apply_all()
        clock.advance(minutes=1)
        # Resolved with Alertmanager's zero endsAt (never sent for a resolved alert, but it is the zero time).
        _queue_alertmanager(http, starts_at=received - timedelta(days=40), status="resolved", ends_at="0001-01-01T00:00:00Z")
        am_container.ingester.apply_all()
    by_kind = {row.kind: row for row in _timeline(am_container)}
    firing, resolved = by_kind["alert_firing"], by_kind["alert_resolved"]
    assert (firing.source_at, firing.source_time) == (received, SourceTime.FUTURE.value)
    assert (resolved.source_at, resolved.source_time) == (received + timedelta(minutes=1), SourceTime.ZERO.value)
    document = Exporter(am_container.sessions, clock=clock).document(1)
    # Impact cannot start three hours in the future (nor 40 days ago): no sane start, so detection.
    assert document["impact"]["started_from"] == "detection"
    assert document["metrics"]["impact_started_at"] == document["metrics"]["detected_at"] == rfc3339(received)
    marked = [(e["kind"], e["source_time"]) for e in document["timeline"] if e["source_time"] != "received"]
    assert marked == [("alert_firing", "future"), ("alert_resolved", "zero")]


def test_an_old_alert_does_not_escalate_at_once(am_container: Container, clock: FrozenClock) -> None:
    opened = clock.now()
    with TestClient(create_app(am_container, migrate=False, run_worker=False)) as http:
        _queue_alertmanager(http, starts_at=opened - timedelta(hours=2))
    am_container.ingester.apply_all()
    deadlines = rows(am_container, EscalationRow, incident_id=1)
    assert deadlines, "the default policy plans escalations"
    assert all(row.due_at >= opened + timedelta(minutes=1) for row in deadlines), [(row.level, row.due_at) for row in deadlines]
    assert am_container.escalation.tick() == 0
    assert not [row for row in _timeline(am_container) if row.kind == EntryKind.ESCALATED.value]
    document = Exporter(am_container.sessions, clock=clock).document(1)
    assert document["metrics"]["time_to_detect"] == 7200.0
    assert document["impact"]["started_at"] == rfc3339(opened - timedelta(hours=2))


def test_a_pagerduty_acknowledge_that_happened_before_our_declaration_counts_zero_not_negative(
    am_container: Container, clock: FrozenClock
) -> None:
    """PagerDuty says it was acknowledged before the trigger reached us: the acknowledge keeps
    its source time, the figures count on received times and stay at or above zero."""
    received = clock.now()
    trigger_at = received - timedelta(seconds=30)
    with TestClient(create_app(am_container, migrate=False, run_worker=False)) as http:
        _queue_pagerduty(http, "incident.triggered", rfc3339(trigger_at))
        am_container.ingester.apply_all()
        clock.advance(seconds=40)
        _queue_pagerduty(http, "incident.acknowledged", rfc3339(trigger_at + timedelta(seconds=5)))
        am_container.ingester.apply_all()
    document = Exporter(am_container.sessions, clock=clock).document(1)
    status = [e for e in document["timeline"] if e["kind"] == "status_changed"]
    assert [(e["data"]["to"], e["source_at"], e["source_time"], e["received_at"]) for e in status] == [
        ("acknowledged", rfc3339(trigger_at + timedelta(seconds=5)), "source", rfc3339(received + timedelta(seconds=40)))
    ]
    assert document["metrics"]["mtta"]["seconds"] == 40.0
    declared = next(e for e in document["timeline"] if e["kind"] == "declared")
    assert (declared["source_at"], declared["received_at"]) == (rfc3339(trigger_at), rfc3339(received))


def test_the_markdown_timeline_shows_both_times(am_container: Container, clock: FrozenClock) -> None:
    received = clock.now()
    with TestClient(create_app(am_container, migrate=False, run_worker=False)) as http:
        _queue_alertmanager(http, starts_at=received - timedelta(minutes=12))
    am_container.ingester.apply_all()
    markdown = Exporter(am_container.sessions, clock=clock).render(1, "md")
    line = next(line for line in markdown.splitlines() if "| alert firing |" in line)
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[:2] == [f"{received:%Y-%m-%d %H:%M:%S}", f"{received - timedelta(minutes=12):%Y-%m-%d %H:%M:%S}"]
    assert "| Time to detect | 12m 00s |" in markdown


def test_notifications_folded_together_keep_each_its_own_receipt(am_container: Container, clock: FrozenClock) -> None:
    first = clock.now()
    with TestClient(create_app(am_container, migrate=False, run_worker=False)) as http:
        _queue_alertmanager(http, starts_at=first - timedelta(minutes=2))
        clock.advance(minutes=1)
        second = dict(LABELS, instance="checkout-2:9100")
        items = [alert(LABELS, {"summary": "checkout 5xx"}), alert(second, {"summary": "checkout 5xx"})]
        for item in items:
            item["startsAt"] = rfc3339(first - timedelta(minutes=2))
        response = http.post(AM, json=payload(items, group_by=("alertname", "service")), headers=bearer())
        assert response.status_code == 202
    clock.advance(minutes=1)
    am_container.ingester.apply_all()  # both rows of the group in one batch
    firing = [(row.data["labels"]["instance"], row.received_at) for row in _timeline(am_container) if row.kind == "alert_firing"]
    assert firing == [("checkout-1:9100", first), ("checkout-2:9100", first + timedelta(minutes=1))]
