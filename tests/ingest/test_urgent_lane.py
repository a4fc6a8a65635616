"""The urgent lane: a P0 group queued behind an alert storm is applied before the storm.

Webhooks record the severity rank of their worst firing alert when accepted; the ingester
picks groups holding an urgent row first (P0 and FIREBREAK_STORM_EXEMPT), keeps each
group's rows in arrival order, and does not give way to the endpoints for them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import insert
from starlette.testclient import TestClient

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.severity import DEFAULT_LABEL_MAPPING
from bot.ingest import inbox
from bot.ingest.alertmanager.route import parse_group, queue_priority
from bot.ingest.ingester import Ingester
from bot.ingest.pressure import WebhookPressure
from bot.store.models import InboxRow, IncidentRow
from bot.web import create_app
from tests.fakes.alertmanager_payloads import firing_group
from tests.ingest.support import bearer, row_counts, rows

URL = "/webhooks/alertmanager"
P0 = {"priority": "P0"}


def queued_only(container: Container) -> TestClient:
    return TestClient(create_app(container, migrate=False, run_worker=False))


def storm(container: Container, clock: FrozenClock, groups: int) -> None:
    """``groups`` new P2/P3 groups queued at once, as the endpoint would have queued them."""
    values: list[dict[str, Any]] = []
    for number in range(groups):
        body = firing_group(f"Storm{number}", severity="high" if number % 2 else "warning", service=f"svc-{number}")
        group = parse_group(body)
        values.append(
            {
                "source": "alertmanager",
                "group_key": group.dedup_key,
                "body": json.dumps(body),
                "received_at": clock.now(),
                "attempts": 0,
                "priority": queue_priority(group, DEFAULT_LABEL_MAPPING),
            }
        )
    with container.sessions.begin() as session:
        session.execute(insert(InboxRow), values)


def first_group_only() -> Any:
    """A ``stopping`` for apply_pending that lets exactly one group be applied."""
    asked = [0]

    def stopping() -> bool:
        asked[0] += 1
        return asked[0] > 1

    return stopping


def test_acceptance_records_the_worst_firing_severity_rank(am_container: Container) -> None:
    mixed = firing_group("Mixed", count=2, severity="warning")
    mixed["alerts"][1]["labels"]["priority"] = "P0"
    resolved_p0 = firing_group("Gone", extra_labels=P0)
    resolved_p0["status"] = "resolved"
    for item in resolved_p0["alerts"]:
        item["status"], item["endsAt"] = "resolved", "2099-01-01T00:00:00Z"
    bodies = [
        mixed,
        firing_group("Critical", severity="critical"),
        firing_group("High", severity="high"),
        firing_group("Unknown", severity="page-someone"),
        firing_group("Info", severity="info"),
        resolved_p0,
    ]
    with queued_only(am_container) as http:
        for body in bodies:
            assert http.post(URL, json=body, headers=bearer()).status_code == 202
    assert [row.priority for row in rows(am_container, InboxRow)] == [0, 1, 2, 3, 4, 3]


def test_a_p0_group_queued_behind_a_storm_is_applied_first(am_container: Container, clock: FrozenClock) -> None:
    storm(am_container, clock, 500)
    with queued_only(am_container) as http:
        assert http.post(URL, json=firing_group("DatabaseDown", extra_labels=P0), headers=bearer()).status_code == 202
    assert row_counts(am_container)["inbox"] == 501

    assert am_container.ingester.apply_pending(first_group_only()) == 1
    incidents = rows(am_container, IncidentRow)
    assert [(incident.title, incident.severity) for incident in incidents] == [("DatabaseDown on checkout", "P0")]
    assert row_counts(am_container)["inbox"] == 500


def test_an_urgent_group_keeps_its_rows_in_arrival_order(am_container: Container, clock: FrozenClock) -> None:
    with queued_only(am_container) as http:
        assert http.post(URL, json=firing_group("Older", severity="warning"), headers=bearer()).status_code == 202
        # The same group first as a warning, then escalated to P0: the warning still goes first.
        assert http.post(URL, json=firing_group("Escalating", severity="warning"), headers=bearer()).status_code == 202
        assert http.post(URL, json=firing_group("Escalating", extra_labels=P0), headers=bearer()).status_code == 202
    escalating = parse_group(firing_group("Escalating")).dedup_key
    with am_container.sessions() as session:
        due = inbox.due_groups(session, now=clock.now(), limit=10, urgent={0})
    assert due.groups[0] == escalating and due.urgent == 1 and len(due.groups) == 2

    one_row = Ingester(am_container.sessions, dict(am_container.ingester._appliers), clock=clock, transaction_budget=0)
    assert one_row.apply_pending(first_group_only()) == 1
    assert [(incident.title, incident.severity) for incident in rows(am_container, IncidentRow)] == [("Escalating on checkout", "P3")]
    assert one_row.apply_pending(first_group_only()) == 1
    assert [(incident.title, incident.severity) for incident in rows(am_container, IncidentRow)] == [("Escalating on checkout", "P0")]
    left = rows(am_container, InboxRow)
    assert [row.group_key for row in left] == [parse_group(firing_group("Older")).dedup_key]


def test_storm_exempt_levels_are_urgent_too(am_container: Container, clock: FrozenClock) -> None:
    storm(am_container, clock, 5)
    with queued_only(am_container) as http:
        assert http.post(URL, json=firing_group("Critical", severity="critical"), headers=bearer()).status_code == 202
    with am_container.sessions() as session:
        assert inbox.due_groups(session, now=clock.now(), limit=3, urgent={0}).urgent == 0
        due = inbox.due_groups(session, now=clock.now(), limit=3, urgent={0, 1})
    assert due.urgent == 1 and due.groups[0] == parse_group(firing_group("Critical")).dedup_key and len(due.groups) == 3


def test_the_ingester_does_not_give_way_while_an_urgent_group_is_due(am_container: Container, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    with queued_only(am_container) as http:
        http.post(URL, json=firing_group("Calm", severity="warning"), headers=bearer())
        for name in ("UrgentOne", "UrgentTwo"):
            http.post(URL, json=firing_group(name, extra_labels=P0), headers=bearer())
    pressure = WebhookPressure(linger_seconds=60)
    ingester = Ingester(am_container.sessions, dict(am_container.ingester._appliers), clock=clock, pressure=pressure, busy_share=0.25)
    incidents_at_pause: list[int] = []
    monkeypatch.setattr("bot.ingest.ingester.time.sleep", lambda _seconds: incidents_at_pause.append(len(rows(am_container, IncidentRow))))
    pressure.enter()
    assert ingester.apply_pending() == 3
    pressure.exit()
    # Both urgent groups applied back to back; giving way resumes for the rest.
    assert incidents_at_pause and all(count >= 2 for count in incidents_at_pause)
    titles = [incident.title for incident in rows(am_container, IncidentRow)]
    assert titles == ["UrgentOne on checkout", "UrgentTwo on checkout", "Calm on checkout"]


def test_an_urgent_webhook_ends_the_pass_under_way(am_container: Container, clock: FrozenClock) -> None:
    storm(am_container, clock, 4)
    ingester = am_container.ingester
    asked = [0]

    def stopping() -> bool:
        asked[0] += 1
        if asked[0] == 2:
            ingester.notify(3)  # a P3 webhook: the pass goes on
        if asked[0] == 3:
            ingester.notify(0)  # a P0 webhook: the next pass must pick its group first
        return False

    assert ingester.apply_pending(stopping) == 2
    assert row_counts(am_container)["inbox"] == 2
