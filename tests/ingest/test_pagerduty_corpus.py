"""The corpus of PagerDuty Webhooks V3 deliveries (tests/pagerduty/corpus), each sent signed
to ``POST /webhooks/pagerduty`` with the outcome it must have.

The files follow PagerDuty's documented V3 shapes (see the corpus README); ``shape`` below
says which one each follows. The story files (01–12) are one incident's life, sent in order
to one database; the others each go to an empty one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.container import Container
from bot.domain.incident import Status
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.store.models import EscalationRow, IncidentRow, TimelineRow
from tests.fakes.pagerduty_webhook import webhook_headers
from tests.ingest.conftest import PD_SECRET
from tests.ingest.support import client, ingested, row_counts, rows

CORPUS = Path(__file__).resolve().parent.parent / "pagerduty" / "corpus"


@dataclass(frozen=True)
class Case:
    file: str
    shape: str
    answer: int
    ingested: tuple[str, ...]
    status: str | None = None  # our incident's status after it, None: no incident
    severity: str | None = None
    last_entry: str | None = None  # kind[:outcome] of the incident's newest timeline entry


STORY = [
    Case("01_triggered.json", "V3 incident.triggered, data=incident, agent=service_reference", 202, ("applied",), "triggered", "P2", "declared"),
    Case("02_acknowledged.json", "V3 incident.acknowledged, data=incident", 202, ("applied",), "acknowledged", "P2", "status_changed"),
    Case("03_annotated.json", "V3 incident.annotated, data=incident_note", 202, ("applied",), "acknowledged", "P2", "note"),
    Case("04_unacknowledged.json", "V3 incident.unacknowledged, agent=null, client=null", 202, ("applied",), "triggered", "P2", "status_changed"),
    Case("05_escalated.json", "V3 incident.escalated, agent=null", 202, ("applied",), "triggered", "P2", "pagerduty_event"),
    Case("06_reassigned.json", "V3 incident.reassigned", 202, ("applied",), "triggered", "P2", "pagerduty_event"),
    Case("07_priority_updated_p1.json", "V3 incident.priority_updated, priority=priority_reference P1", 202, ("applied",), "triggered", "P1", "severity_changed"),
    Case("08_priority_updated_null.json", "V3 incident.priority_updated, priority=null, urgency low", 202, ("applied",), "triggered", "P3", "severity_changed"),
    Case("09_delegated.json", "V3 incident.delegated, another escalation_policy", 202, ("applied",), "triggered", "P3", "pagerduty_event"),
    Case("10_resolved.json", "V3 incident.resolved, assignees=[]", 202, ("applied",), "resolved", "P3", "status_changed"),
    Case("11_acknowledged_late.json", "V3 incident.acknowledged, occurred_at before the resolve", 202, ("applied",), "resolved", "P3", "pagerduty_event:out_of_order"),
    Case("12_reopened.json", "V3 incident.reopened, status triggered", 202, ("applied",), "triggered", "P3", "status_changed"),
]

SINGLES = [
    Case("20_resolved_unknown.json", "V3 incident.resolved, resolve_reason=merge_resolve_reason", 202, ("unknown_incident_closed",)),
    Case("21_annotated_unknown.json", "V3 incident.annotated, data=incident_note", 202, ("unknown_incident_note",)),
    Case(
        "22_acknowledged_unknown.json",
        "V3 incident.acknowledged, priority=null, conference_bridge set",
        202,
        ("applied",),
        "acknowledged",
        "P1",
        "status_changed",
    ),
    Case("23_triggered_sev2.json", "V3 incident.triggered, priority named SEV-2", 202, ("applied",), "triggered", "P2", "declared"),
    Case("24_triggered_p5.json", "V3 incident.triggered, priority P5, urgency high", 202, ("applied",), "triggered", "P3", "declared"),
    Case("30_responder_added.json", "V3 incident.responder.added, data=incident_responder", 200, ()),
    Case("31_status_update_published.json", "V3 incident.status_update_published, data=incident_status_update", 200, ()),
    Case("32_service_updated.json", "V3 service.updated, data=service", 200, ()),
]


def deliver(container: Container, case: Case) -> None:
    body = (CORPUS / case.file).read_bytes()
    with client(container) as http:
        response = http.post("/webhooks/pagerduty", content=body, headers=webhook_headers(PD_SECRET, body))
    assert response.status_code == case.answer, (case.file, response.text)
    assert tuple(ingested(response)) == case.ingested, case.file


def check(container: Container, case: Case, number: int = 1) -> None:
    if case.status is None:
        counts = row_counts(container)
        assert counts["incidents"] == counts["timeline_entries"] == counts["outbox"] == 0, case.file
        return
    incident = container.service.get(number)
    assert (incident.status.value, incident.severity.value) == (case.status, case.severity), case.file
    last = rows(container, TimelineRow, incident_id=number)[-1]
    kind = last.kind + (f":{last.data['outcome']}" if last.data.get("outcome") else "")
    assert kind == case.last_entry, (case.file, last.text)


def test_every_corpus_file_has_a_case() -> None:
    files = {path.name for path in CORPUS.glob("*.json")}
    assert files == {case.file for case in STORY + SINGLES}


def test_one_incident_life_in_pagerduty_order(am_container: Container) -> None:
    for case in STORY:
        deliver(am_container, case)
        check(am_container, case)
    row = rows(am_container, IncidentRow)[0]
    assert (row.pagerduty_incident_id, row.pagerduty_service_id, row.pagerduty_escalation_policy_id) == ("PNWINC1", "PNW7SVC", "PNWEP02")
    entries = rows(am_container, TimelineRow, incident_id=1)
    note = next(e for e in entries if e.kind == "note")
    assert note.text == "Acquirer status page shows degraded 3DS; <!channel> failing over to the secondary route"
    assert entries[0].actor == "Payments Gateway"  # the integration that triggered it
    unack = next(e for e in entries if e.data.get("unacknowledged"))
    assert unack.actor == "PagerDuty"
    assert row.reopen_count == 1


@pytest.mark.parametrize("case", SINGLES, ids=lambda case: case.file)
def test_single_delivery(am_container: Container, case: Case) -> None:
    deliver(am_container, case)
    check(am_container, case)


def test_corpus_files_are_v3_envelopes() -> None:
    for path in sorted(CORPUS.glob("*.json")):
        event = json.loads(path.read_text())["event"]
        assert set(event) == {"id", "event_type", "resource_type", "occurred_at", "agent", "client", "data"}, path.name
        assert event["occurred_at"].endswith("Z"), path.name


def test_events_about_a_merged_incident_are_recorded_never_applied(am_container: Container) -> None:
    deliver(am_container, STORY[0])  # INC-1, linked to PagerDuty's PNWINC1
    survivor = am_container.service.declare(title="Checkout down", severity=Severity.P2, actor="alice", source=Source.CONSOLE).number
    am_container.commands.regroup.merge(survivor, 1, actor="alice", source=Source.CONSOLE)
    merged = am_container.service.get(1)
    assert merged.status is Status.RESOLVED
    armed = len(rows(am_container, EscalationRow, incident_id=1))
    for case in (STORY[1], STORY[6], STORY[11]):  # acknowledged, priority P1, reopened
        body = (CORPUS / case.file).read_bytes()
        with client(am_container) as http:
            response = http.post("/webhooks/pagerduty", content=body, headers=webhook_headers(PD_SECRET, body))
        assert response.status_code == 202 and ingested(response) == ["applied"], case.file
        last = rows(am_container, TimelineRow, incident_id=1)[-1]
        assert (last.kind, last.data["outcome"], last.data["into"]) == ("pagerduty_event", "merged", survivor), case.file
        assert f"merged into INC-{survivor}" in last.text
    after = am_container.service.get(1)
    assert (after.status, after.severity, after.reopen_count) == (Status.RESOLVED, merged.severity, merged.reopen_count)
    assert len(rows(am_container, EscalationRow, incident_id=1)) == armed
    row = rows(am_container, IncidentRow, id=1)[0]
    assert row.merged_into == survivor
    assert am_container.service.get(survivor).status is Status.TRIGGERED
