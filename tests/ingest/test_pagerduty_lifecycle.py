"""PagerDuty Webhooks V3: incidents Firebreak never saw, unacknowledge, out-of-order
deliveries and priority names, through ``POST /webhooks/pagerduty`` and the ingester."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.ingest.pagerduty.priorities import DEFAULT_PRIORITY_MAPPING, PriorityMap
from bot.settings import SettingsError, load_settings
from bot.store.models import EscalationRow, IncidentRow, TimelineRow
from tests.conftest import make_settings
from tests.fakes.pagerduty_webhook import annotation_data, webhook_body, webhook_event, webhook_headers
from tests.ingest.conftest import PD_SECRET
from tests.ingest.support import client, ingested, row_counts, rows

URL = "/webhooks/pagerduty"
T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    """An ``occurred_at`` ``seconds`` after T0, in PagerDuty's format."""
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def send(http: TestClient, event: dict[str, Any]) -> Any:
    body = webhook_body(event)
    return http.post(URL, content=body, headers=webhook_headers(PD_SECRET, body))


def incident_row(container: Container, number: int = 1) -> IncidentRow:
    return rows(container, IncidentRow, id=number)[0]


def timeline(container: Container, number: int = 1) -> list[TimelineRow]:
    return rows(container, TimelineRow, incident_id=number)


def deadlines(container: Container, number: int = 1) -> list[tuple[int, str]]:
    return [(row.level, row.status) for row in rows(container, EscalationRow, incident_id=number)]


# -- events for incidents Firebreak never saw ----------------------------------------------


@pytest.mark.parametrize("event_type", ["incident.resolved", "incident.priority_updated", "incident.escalated"])
def test_an_unknown_incident_already_resolved_opens_nothing(am_container: Container, event_type: str) -> None:
    with client(am_container) as http:
        response = send(http, webhook_event(event_type, incident_id="QGONE", status="resolved", priority="P1"))
    assert response.status_code == 202
    assert ingested(response) == ["unknown_incident_closed"]
    counts = row_counts(am_container)
    assert counts["incidents"] == counts["timeline_entries"] == counts["outbox"] == 0
    assert counts["inbound_events"] == 3  # event id, X-Webhook-Id, and that PagerDuty had QGONE resolved


def test_a_note_on_an_unknown_incident_opens_nothing_and_is_counted(am_container: Container) -> None:
    with client(am_container) as http:
        response = send(http, webhook_event("incident.annotated", annotation_data("hello", incident_id="QNOTE")))
    assert response.status_code == 202 and ingested(response) == ["unknown_incident_note"]
    assert sum(row_counts(am_container).values()) == 0


def test_reopened_unknown_incident_opens_triggered_without_an_error(am_container: Container) -> None:
    with client(am_container) as http:
        response = send(http, webhook_event("incident.reopened", incident_id="QREOPEN", priority="P2"))
    assert ingested(response) == ["applied"]
    incident = am_container.service.get(1)
    assert incident.status.value == "triggered" and incident.severity is Severity.P2
    entries = timeline(am_container)
    assert [e.kind for e in entries] == ["declared", "pagerduty_event"]
    assert entries[1].text == "first seen through PagerDuty reopened (PagerDuty status: triggered)"
    assert entries[1].data["outcome"] == "first_seen"
    assert not any("only a resolved incident" in e.text for e in entries)


def test_acknowledged_unknown_incident_opens_acknowledged_and_says_how_it_was_seen(am_container: Container) -> None:
    with client(am_container) as http:
        send(http, webhook_event("incident.priority_updated", incident_id="QACK", status="acknowledged", priority="P3", agent_name="Bob"))
    incident = am_container.service.get(1)
    assert incident.status.value == "acknowledged" and incident.severity is Severity.P3
    kinds = [(e.kind, e.data.get("outcome")) for e in timeline(am_container)]
    assert kinds == [("declared", None), ("pagerduty_event", "first_seen"), ("status_changed", None)]


# -- unacknowledge ---------------------------------------------------------------------------


def test_unacknowledged_returns_to_triggered_and_rearms_escalation(am_container: Container, clock: FrozenClock) -> None:
    assert am_container.escalation is not None
    with client(am_container) as http:
        send(http, webhook_event("incident.triggered", incident_id="QUNACK", priority="P1", occurred_at=at(0)))
        assert deadlines(am_container) == [(1, "pending"), (2, "pending")]
        send(http, webhook_event("incident.acknowledged", incident_id="QUNACK", occurred_at=at(10)))
        assert deadlines(am_container) == [(1, "cancelled"), (2, "cancelled")]
        clock.advance(minutes=30)  # PagerDuty's acknowledgement timeout ran out
        response = send(http, webhook_event("incident.unacknowledged", incident_id="QUNACK", agent_id=None, occurred_at=at(1800)))
    assert ingested(response) == ["applied"]
    assert am_container.service.get(1).status.value == "triggered"
    last = timeline(am_container)[-1]
    assert (last.kind, last.data["unacknowledged"], last.actor) == ("status_changed", True, "PagerDuty")
    assert deadlines(am_container) == [(1, "pending"), (2, "pending")]
    clock.advance(minutes=4, seconds=59)
    assert am_container.escalation.tick() == 0
    clock.advance(seconds=1)
    assert am_container.escalation.tick() == 1
    assert deadlines(am_container) == [(1, "fired"), (2, "pending")]


def test_unacknowledged_after_a_reopen_says_it_is_already_triggered(am_container: Container) -> None:
    with client(am_container) as http:
        send(http, webhook_event("incident.triggered", incident_id="QREOPEN", occurred_at=at(0)))
        send(http, webhook_event("incident.resolved", incident_id="QREOPEN", occurred_at=at(60)))
        send(http, webhook_event("incident.reopened", incident_id="QREOPEN", occurred_at=at(120)))
        send(http, webhook_event("incident.unacknowledged", incident_id="QREOPEN", agent_id=None, occurred_at=at(180)))
    assert am_container.service.get(1).status.value == "triggered"
    last = timeline(am_container)[-1]
    assert "already triggered" in last.text and "only an acknowledged incident" not in last.text


# -- order ------------------------------------------------------------------------------------


def test_an_older_status_event_delivered_late_is_recorded_not_applied(am_container: Container) -> None:
    with client(am_container) as http:
        send(http, webhook_event("incident.triggered", incident_id="QORDER", occurred_at=at(0)))
        send(http, webhook_event("incident.resolved", incident_id="QORDER", occurred_at=at(300)))
        late = send(http, webhook_event("incident.acknowledged", incident_id="QORDER", occurred_at=at(60)))
        late_reopen = send(http, webhook_event("incident.reopened", incident_id="QORDER", occurred_at=at(200)))
    assert ingested(late) == ingested(late_reopen) == ["applied"]
    assert am_container.service.get(1).status.value == "resolved"
    stale = [e for e in timeline(am_container) if e.data.get("outcome") == "out_of_order"]
    assert [e.data["event_type"] for e in stale] == ["incident.acknowledged", "incident.reopened"]
    assert "not applied" in stale[0].text
    assert incident_row(am_container).pagerduty_status_at == T0 + timedelta(seconds=300)


def test_a_newer_event_after_a_late_one_still_applies(am_container: Container) -> None:
    with client(am_container) as http:
        send(http, webhook_event("incident.triggered", incident_id="QNEWER", occurred_at=at(0)))
        send(http, webhook_event("incident.acknowledged", incident_id="QNEWER", occurred_at=at(120)))
        send(http, webhook_event("incident.acknowledged", incident_id="QNEWER", occurred_at=at(60)))  # late duplicate-ish
        send(http, webhook_event("incident.resolved", incident_id="QNEWER", occurred_at=at(600)))
    assert am_container.service.get(1).status.value == "resolved"


def test_priority_updates_are_ordered_too(am_container: Container) -> None:
    with client(am_container) as http:
        send(http, webhook_event("incident.triggered", incident_id="QPRIO", priority="P3", occurred_at=at(0)))
        send(http, webhook_event("incident.priority_updated", incident_id="QPRIO", priority="P1", occurred_at=at(200)))
        send(http, webhook_event("incident.priority_updated", incident_id="QPRIO", priority="P2", occurred_at=at(100)))
    assert am_container.service.get(1).severity is Severity.P1


# -- priorities --------------------------------------------------------------------------------


def test_unknown_priority_name_leaves_severity_unchanged(am_container: Container) -> None:
    with client(am_container) as http:
        send(http, webhook_event("incident.triggered", incident_id="QP5", priority="P2", occurred_at=at(0)))
        send(http, webhook_event("incident.priority_updated", incident_id="QP5", priority="Whenever", occurred_at=at(10)))
    assert am_container.service.get(1).severity is Severity.P2
    last = timeline(am_container)[-1]
    assert last.data["outcome"] == "unmapped_priority" and "'Whenever'" in last.text


def test_p5_is_minor_not_p1(am_container: Container) -> None:
    with client(am_container) as http:
        send(http, webhook_event("incident.triggered", incident_id="QFIVE", priority="P5", urgency="high"))
    assert am_container.service.get(1).severity is Severity.P3


def test_sev_names_and_lowering_and_null_priority(am_container: Container) -> None:
    with client(am_container) as http:
        send(http, webhook_event("incident.triggered", incident_id="QSEV", priority="SEV-1", occurred_at=at(0)))
        assert am_container.service.get(1).severity is Severity.P1
        send(http, webhook_event("incident.priority_updated", incident_id="QSEV", priority="sev-4", occurred_at=at(10)))
        assert am_container.service.get(1).severity is Severity.P3  # a person lowered it in PagerDuty
        send(http, webhook_event("incident.priority_updated", incident_id="QSEV", priority=None, urgency="high", occurred_at=at(20)))
    assert am_container.service.get(1).severity is Severity.P1  # no priority: urgency decides
    reasons = [e.data["reason"] for e in timeline(am_container) if e.kind == "severity_changed"]
    assert reasons == ["PagerDuty priority sev-4", "PagerDuty priority removed, urgency high"]


def test_unmapped_priority_on_a_new_incident_falls_back_to_urgency(am_container: Container) -> None:
    with client(am_container) as http:
        send(http, webhook_event("incident.triggered", incident_id="QLOW", priority="Whenever", urgency="low"))
    assert am_container.service.get(1).severity is Severity.P3


def test_the_priority_mapping_setting_is_used(db_url: str, engine: Any, clock: FrozenClock, transcript: Any) -> None:
    from bot.container import build_container

    settings = make_settings(db_url, PAGERDUTY_WEBHOOK_SECRET=PD_SECRET, PAGERDUTY_PRIORITY_MAPPING={"Critical": "P0", "P1": "P2"})
    container = build_container(settings, clock=clock, transcript_stream=transcript, engine=engine)
    with client(container) as http:
        send(http, webhook_event("incident.triggered", incident_id="QMAP1", priority="critical"))
        send(http, webhook_event("incident.triggered", incident_id="QMAP2", priority="P1"))
        send(http, webhook_event("incident.triggered", incident_id="QMAP3", priority="P2", urgency="low"))  # not listed
    assert [container.service.get(n).severity for n in (1, 2, 3)] == [Severity.P0, Severity.P2, Severity.P3]


def test_the_documented_default_is_the_env_example_line(monkeypatch: pytest.MonkeyPatch) -> None:
    line = next(
        raw.lstrip("# ").strip()
        for raw in open(".env.example", encoding="utf-8")
        if raw.lstrip("# ").startswith("PAGERDUTY_PRIORITY_MAPPING=")
    )
    value = line.split("=", 1)[1]
    assert load_settings(_env_file=None).pagerduty_priority_mapping == DEFAULT_PRIORITY_MAPPING
    monkeypatch.setenv("PAGERDUTY_PRIORITY_MAPPING", value)
    assert load_settings(_env_file=None).pagerduty_priority_mapping == DEFAULT_PRIORITY_MAPPING
    assert PriorityMap.of().names["SEV-5"] is Severity.P3


def test_a_late_trigger_of_an_incident_seen_resolved_opens_nothing(am_container: Container) -> None:
    with client(am_container) as http:
        resolved = send(http, webhook_event("incident.resolved", incident_id="QLATE", occurred_at=at(600)))
        late = send(http, webhook_event("incident.triggered", incident_id="QLATE", occurred_at=at(0)))
        naive = send(http, webhook_event("incident.acknowledged", incident_id="QLATE", occurred_at="2026-03-14T09:01:00"))
    assert ingested(resolved) == ingested(late) == ingested(naive) == ["unknown_incident_closed"]
    assert rows(am_container, IncidentRow) == [] and rows(am_container, TimelineRow) == []
    with client(am_container) as http:  # reopened in PagerDuty after that resolve: open it now
        reopened = send(http, webhook_event("incident.reopened", incident_id="QLATE", occurred_at=at(900)))
    assert ingested(reopened) == ["applied"]
    assert am_container.service.get(1).status.value == "triggered"


@pytest.mark.parametrize(
    ("value", "says"),
    [("nope", "JSON object"), ('{"P1": "P9"}', "'P9'"), ('{" ": "P1"}', "must not be empty"), ("[1]", "dictionary")],
)
def test_a_bad_priority_mapping_is_a_settings_error_naming_it(monkeypatch: pytest.MonkeyPatch, value: str, says: str) -> None:
    monkeypatch.setenv("PAGERDUTY_PRIORITY_MAPPING", value)
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    assert "PAGERDUTY_PRIORITY_MAPPING" in str(caught.value) and says in str(caught.value)


def test_a_long_priority_name_is_kept_short_not_refused(am_container: Container) -> None:
    with client(am_container) as http:
        response = send(http, webhook_event("incident.triggered", incident_id="QLONG", priority="P" * 300, urgency="low"))
    assert response.status_code == 202 and ingested(response) == ["applied"]
    assert am_container.service.get(1).severity is Severity.P3
