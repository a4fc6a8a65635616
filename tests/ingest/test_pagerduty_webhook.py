"""POST /webhooks/pagerduty in-process: signatures, idempotency, event mapping, linking."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.container import Container
from bot.delivery.outbox import enqueue
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.store.models import InboundEventRow, IncidentRow, TimelineRow
from tests.fakes.pagerduty_webhook import annotation_data, webhook_body, webhook_event, webhook_headers
from tests.ingest.conftest import PD_SECRET
from tests.ingest.support import client, ingested, row_counts, rows

URL = "/webhooks/pagerduty"


def send(http: TestClient, event: dict[str, Any], *, secret: str | list[str] = PD_SECRET, webhook_id: str | None = None, headers: dict[str, str] | None = None):
    body = webhook_body(event)
    return http.post(URL, content=body, headers={**webhook_headers(secret, body, webhook_id=webhook_id), **(headers or {})})


def timeline(container: Container, number: int = 1) -> list[TimelineRow]:
    return rows(container, TimelineRow, incident_id=number)


def test_triggered_creates_a_linked_incident_then_status_and_notes_follow(am_container: Container) -> None:
    with client(am_container) as http:
        created = send(http, webhook_event("incident.triggered", incident_id="Q1", title="DB down", priority="P1"))
        assert created.status_code == 202 and created.json() == {"status": "accepted", "id": 1}
        assert ingested(created) == ["applied"]
        send(http, webhook_event("incident.acknowledged", incident_id="Q1", agent_name="Bob"))
        send(http, webhook_event("incident.annotated", annotation_data("Failing over", incident_id="Q1")))
        send(http, webhook_event("incident.priority_updated", incident_id="Q1", priority="P0"))
        send(http, webhook_event("incident.resolved", incident_id="Q1"))
        send(http, webhook_event("incident.reopened", incident_id="Q1"))
        send(http, webhook_event("incident.escalated", incident_id="Q1", assignee_ids=("PUCAROL",)))
    row = rows(am_container, IncidentRow)[0]
    assert (row.dedup_key, row.pagerduty_incident_id, row.source) == ("pd:Q1", "Q1", "pagerduty")
    assert (row.pagerduty_service_id, row.pagerduty_escalation_policy_id) == ("PSVCAPI", "PEPPRIM")
    assert row.links["pagerduty"].endswith("/incidents/Q1")
    entries = timeline(am_container)
    assert [e.kind for e in entries] == [
        "declared", "status_changed", "note", "severity_changed", "status_changed", "status_changed", "pagerduty_event",
    ]
    assert all(e.source == Source.PAGERDUTY.value for e in entries)
    assert entries[1].actor == "Bob" and entries[2].text == "Failing over"
    assert entries[6].data == {
        "event_type": "incident.escalated",
        "event_id": entries[6].data["event_id"],
        "pagerduty_incident_id": "Q1",
        "occurred_at": entries[6].data["occurred_at"],
    }
    incident = am_container.service.get(1)
    assert incident.severity is Severity.P0 and incident.status.value == "triggered"


def test_a_title_with_nul_is_signed_as_sent_and_stored_as_u_fffd(am_container: Container) -> None:
    """The signature covers the bytes PagerDuty sent; what is queued is the same event with
    each NUL made storable, so the incident opens instead of failing in the ingester."""
    with client(am_container) as http:
        created = send(http, webhook_event("incident.triggered", incident_id="Q9", title="DB\x00 down", priority="P1"))
    assert created.status_code == 202, created.text
    assert ingested(created) == ["applied"]
    assert am_container.service.get(1).title == "DB\ufffd down"


def test_a_very_long_title_and_note_are_cut_not_refused(am_container: Container) -> None:
    """PagerDuty does not send a refused event again: a 10,000-character title must still open
    the incident, and a 30,000-character note must still reach the timeline (cut, marked)."""
    with client(am_container) as http:
        created = send(http, webhook_event("incident.triggered", incident_id="Q7", title="<!channel> " + "T" * 10_000, priority="P1"))
        noted = send(http, webhook_event("incident.annotated", annotation_data("n" * 30_000, incident_id="Q7")))
    assert created.status_code == 202 and noted.status_code == 202, (created.text, noted.text)
    assert len(am_container.service.get(1).title) == 200
    note = next(e for e in timeline(am_container) if e.kind == "note")
    assert note.text.startswith("n" * 25_000) and note.text.endswith("(cut: the rest of this note is in PagerDuty)")


def test_overlong_links_keys_and_names_are_left_out_or_cut_not_refused(am_container: Container) -> None:
    """Links, keys and names past what Firebreak keeps must not cost the incident either."""
    event = webhook_event("incident.triggered", incident_id="Q8", incident_key="k" * 600, service_name="S" * 3000)
    event["event"]["data"]["html_url"] = "https://acme.pagerduty.com/incidents/Q8?" + "x" * 3000
    with client(am_container) as http:
        answer = send(http, event)
    assert answer.status_code == 202, answer.text
    incident = am_container.service.get(1)
    assert "pagerduty" not in incident.links  # the over-long link is left out, not cut


def test_first_sight_by_a_later_event_still_creates_the_incident(am_container: Container) -> None:
    with client(am_container) as http:
        send(http, webhook_event("incident.acknowledged", incident_id="Q2", urgency="low", priority=None))
    incident = am_container.service.get(1)
    assert incident.status.value == "acknowledged" and incident.severity is Severity.P3


def test_replayed_event_and_replayed_delivery_change_nothing(am_container: Container) -> None:
    event = webhook_event("incident.triggered", incident_id="Q3")
    with client(am_container) as http:
        assert send(http, event, webhook_id="W1").json()["status"] == "accepted"
        before = row_counts(am_container)
        replay = send(http, event, webhook_id="W2")  # PagerDuty retry: same event id
        assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
        other = webhook_event("incident.acknowledged", incident_id="Q3")
        again = send(http, other, webhook_id="W1")  # same delivery id header
        assert again.json()["status"] == "duplicate"
    assert row_counts(am_container) == before
    assert {r.event_id for r in rows(am_container, InboundEventRow)} == {event["event"]["id"], "x-webhook-id:W1"}


def test_signatures_rotation_and_rejections(am_container: Container) -> None:
    event = webhook_event("incident.triggered", incident_id="Q4")
    body = webhook_body(event)
    with client(am_container) as http:
        for headers in (
            {},
            {"X-PagerDuty-Signature": "v1=" + "0" * 64},
            {"X-PagerDuty-Signature": "v0=abc"},
            webhook_headers("some-other-secret", body),
        ):
            response = http.post(URL, content=body, headers={"Content-Type": "application/json", **{k: v for k, v in headers.items() if k != "Content-Type"}})
            assert response.status_code == 401 and "X-PagerDuty-Signature" in response.json()["error"]
        tampered = http.post(URL, content=body.replace(b"Q4", b"Q5"), headers=webhook_headers(PD_SECRET, body))
        assert tampered.status_code == 401
        assert sum(row_counts(am_container).values()) == 0
        # PagerDuty signs with every active secret while one rotates; the old one is configured too.
        rotated = http.post(URL, content=body, headers=webhook_headers(["brand-new-secret", "older-secret"], body))
    assert rotated.status_code == 202


def test_unsigned_when_no_secret_configured_is_refused(container: Container) -> None:
    event = webhook_event("incident.triggered")
    with client(container) as http:
        response = send(http, event)
    assert response.status_code == 401 and "PAGERDUTY_WEBHOOK_SECRET" in response.json()["error"]


def test_other_event_types_are_accepted_and_ignored(am_container: Container) -> None:
    with client(am_container) as http:
        for event_type in ("incident.responder.added", "service.updated", "incident.status_update_published"):
            response = send(http, webhook_event(event_type, data={"id": "X", "type": "thing"}))
            assert response.status_code == 200 and response.json()["status"] == "ignored"
        note_on_unknown = send(http, webhook_event("incident.annotated", annotation_data(incident_id="QNONE")))
        assert note_on_unknown.status_code == 202 and ingested(note_on_unknown) == ["unknown_incident_note"]
    assert sum(row_counts(am_container).values()) == 0


def test_malformed_pagerduty_payloads_are_422_and_write_nothing(am_container: Container) -> None:
    with client(am_container) as http:
        missing_data = send(http, {"event": {"id": "E1", "event_type": "incident.triggered"}})
        bad_incident = send(http, webhook_event("incident.triggered", data={"title": 3}))
        not_object = send(http, [1, 2])  # type: ignore[arg-type]
        beyond_utc = send(http, webhook_event("incident.triggered", occurred_at="9999-12-31T23:59:59-14:00"))
        before_year_one = send(http, webhook_event("incident.triggered", occurred_at="0001-01-01T00:00:00+00:01"))
    for response in (missing_data, bad_incident, not_object, beyond_utc, before_year_one):
        assert response.status_code == 422, response.text
        assert response.json()["error"]
    assert sum(row_counts(am_container).values()) == 0


def queue_page(container: Container, number: int, incident_key: str) -> None:
    """An escalation page queued as the escalation engine queues it (not delivered)."""
    with container.sessions.begin() as session:
        enqueue(
            session, target="pagerduty", operation="page", payload={"number": number, "incident_key": incident_key},
            idempotency_key=f"page:{incident_key}", now=container.clock.now(), incident_id=number,
        )


def test_our_paged_incident_is_linked_not_duplicated(paging_container: Container) -> None:
    paging_container.service.declare(title="Checkout down", severity=Severity.P1, actor="alice", source=Source.CONSOLE)
    with client(paging_container) as http:
        send(http, webhook_event("incident.triggered", incident_id="QLINK", incident_key="INC-1"))
        send(http, webhook_event("incident.acknowledged", incident_id="QLINK", incident_key="INC-1"))
    assert len(rows(paging_container, IncidentRow)) == 1
    row = rows(paging_container, IncidentRow)[0]
    assert row.pagerduty_incident_id == "QLINK"
    assert paging_container.service.get(1).status.value == "acknowledged"
    assert [e.kind for e in timeline(paging_container)][-2] == EntryKind.PAGERDUTY_EVENT.value


def test_escalation_pages_at_several_levels_stay_one_incident(paging_container: Container) -> None:
    paging_container.service.declare(title="Checkout down", severity=Severity.P1, actor="alice", source=Source.CONSOLE)
    queue_page(paging_container, 1, "INC-1-L2")  # an earlier version's key
    queue_page(paging_container, 1, "INC-1-L3-c0-PUBOB01")
    with client(paging_container) as http:
        send(http, webhook_event("incident.triggered", incident_id="QEVENTS", incident_key="INC-1"))
        send(http, webhook_event("incident.triggered", incident_id="QPAGEL2", incident_key="INC-1-L2"))
        send(http, webhook_event("incident.acknowledged", incident_id="QPAGEL2", incident_key="INC-1-L2"))
        # today's page keys name the cycle and the target too
        send(http, webhook_event("incident.triggered", incident_id="QPAGEL3", incident_key="INC-1-L3-c0-PUBOB01"))
    assert len(rows(paging_container, IncidentRow)) == 1
    assert rows(paging_container, IncidentRow)[0].pagerduty_incident_id == "QEVENTS"
    assert paging_container.service.get(1).status.value == "acknowledged"


@pytest.mark.parametrize("incident_key", ["INC-1", "INC-1-L1-c0-PEPPRIM"])
def test_a_pagerduty_incident_keyed_like_ours_that_we_never_paged_is_not_ours(am_container: Container, incident_key: str) -> None:
    """Anyone with a service's integration key can open a PagerDuty incident keyed ``INC-1``;
    it must not be able to acknowledge or resolve Firebreak's INC-1, which paged nobody."""
    am_container.service.declare(title="Checkout down", severity=Severity.P2, actor="alice", source=Source.CONSOLE)
    with client(am_container) as http:
        send(http, webhook_event("incident.triggered", incident_id="QFORGED", incident_key=incident_key))
        send(http, webhook_event("incident.resolved", incident_id="QFORGED", incident_key=incident_key))
    ours = am_container.service.get(1)
    assert ours.status.value == "triggered" and rows(am_container, IncidentRow, id=1)[0].pagerduty_incident_id is None
    assert [e.kind for e in timeline(am_container)] == ["declared"]
    assert [row.dedup_key for row in rows(am_container, IncidentRow)] == [None, "pd:QFORGED"], "it is an incident of its own"
