"""Every new incident gets the most specific playbook, in the same change as its declaration."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.container import Container
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.playbooks import Playbook
from bot.playbooks.registry import PlaybookRegistry
from bot.service.changes import Change
from bot.store.incidents import IncidentRepository
from bot.store.models import IncidentRow, OutboxRow, PlaybookRunRow, PlaybookStepRow
from tests.guided.conftest import guided_of


def declare_alert(container: Container, labels: dict[str, str], title: str = "Alert firing"):
    return container.service.declare(title=title, severity=Severity.P1, actor="alertmanager", source=Source.ALERTMANAGER, labels=labels)


def test_alert_labels_pick_the_specific_playbook(starter: Container) -> None:
    incident = declare_alert(starter, {"alertname": "HighErrorRate", "service": "search"}, title="[FIRING:1] HighErrorRate")
    assert incident.playbook_id == "high-error-rate"
    assert starter.service.get(incident.number).playbook_id == "high-error-rate"
    entries = starter.service.timeline(incident.number)
    assert [entry.kind for entry in entries] == [EntryKind.DECLARED, EntryKind.PLAYBOOK_ATTACHED]
    attached = entries[1]
    assert attached.actor == "firebreak" and attached.source is Source.SYSTEM
    assert attached.data["playbook_id"] == "high-error-rate"
    assert attached.data["title"] == "High HTTP error rate"
    assert attached.data["matched_by"] == "auto"
    assert "alertname=HighErrorRate" in attached.data["matched"]


def test_more_labels_win_and_unknown_alerts_fall_back_to_default(timed: Container) -> None:
    checkout = declare_alert(timed, {"alertname": "HighErrorRate", "service": "checkout"})
    search = declare_alert(timed, {"alertname": "HighErrorRate", "service": "search"})
    unknown = declare_alert(timed, {"alertname": "SomethingElse"})
    assert [checkout.playbook_id, search.playbook_id, unknown.playbook_id] == ["checkout-errors", "default", "default"]
    fallback = timed.service.timeline(unknown.number)[1]
    assert fallback.data["matched"] == [] and "(fallback)" in fallback.text


def test_pagerduty_service_comes_from_the_incident_row(timed: Container) -> None:
    guided = guided_of(timed)
    guided.registry = PlaybookRegistry.of(
        [
            Playbook.model_validate({"id": "payments", "title": "Payments", "match": {"pagerduty_service": "PSVC42"}, "phases": [{"kind": "symptoms", "steps": [{"text": "a"}]}]}),
            Playbook.model_validate({"id": "default", "title": "Fallback", "default": True, "phases": [{"kind": "symptoms", "steps": [{"text": "b"}]}]}),
        ]
    )

    def from_pagerduty(session, incident):  # what the PagerDuty adapter does in its ``extra``
        session.get(IncidentRow, incident.number).pagerduty_service_id = "PSVC42"
        return []

    incident = timed.service.declare(title="Payments down", severity=Severity.P1, actor="pagerduty", source=Source.PAGERDUTY, extra=from_pagerduty)
    assert incident.playbook_id == "payments"
    by_label = timed.service.declare(title="x", severity=Severity.P2, actor="a", source=Source.PAGERDUTY, labels={"pagerduty_service_id": "PSVC42"})
    assert by_label.playbook_id == "payments"


def test_step_states_are_stored_and_the_first_phase_deadlines_start(timed: Container, clock) -> None:
    incident = declare_alert(timed, {"alertname": "TimedAlert"})
    assert incident.playbook_id == "timed"
    with timed.sessions() as session:
        run = session.scalars(select(PlaybookRunRow)).one()
        rows = list(session.scalars(select(PlaybookStepRow).order_by(PlaybookStepRow.step)))
    assert (run.incident_id, run.playbook_id, run.matched_by, run.active, run.severity) == (incident.number, "timed", "auto", True, "P1")
    assert [(r.step, r.phase_index, r.phase_kind, r.status) for r in rows] == [
        (1, 0, "symptoms", "pending"),
        (2, 0, "symptoms", "pending"),
        (3, 1, "resolution", "pending"),
        (4, 1, "resolution", "pending"),
    ]
    now = clock.now()
    # The first phase is current: its clocks run from the attach; phase 2's start later.
    assert [r.deadline_at and r.deadline_at.replace(tzinfo=now.tzinfo) for r in rows] == [now + timedelta(minutes=5), now + timedelta(minutes=10), None, None]
    assert rows[0].on_deadline == "escalate" and rows[0].escalate_to == "L1"
    assert rows[2].commands == ["kubectl rollout undo deployment/app"] and rows[2].owner == "commander"


def test_chat_gets_the_attach_line_then_the_guide(timed: Container) -> None:
    incident = declare_alert(timed, {"alertname": "TimedAlert"})
    with timed.sessions() as session:
        rows = list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
    assert [(row.operation, row.payload.get("kind")) for row in rows] == [
        ("open_incident", None),
        ("post", "playbook_attached"),
        ("post", "playbook_guide"),
    ]
    assert {row.ordering_key for row in rows} == {f"incident:{incident.number}"}
    guide = rows[2].payload
    assert guide["text"].startswith("Playbook timed: Timed test playbook — 0/4 steps settled")
    assert "  [ ] 1. Acknowledge and take command." in guide["text"]
    assert "`open https://grafana.example/d/abc`" in guide["text"]
    assert [step["number"] for step in guide["data"]["guide"]["phase"]["steps"]] == [1, 2]


def test_subscribers_see_the_attachment_in_the_new_incident_change(timed: Container) -> None:
    seen: list[tuple[bool, list[EntryKind]]] = []

    def spy(change: Change) -> None:
        seen.append((change.is_new, [recorded.entry.kind for recorded in change.entries]))

    timed.service.subscribers.append(spy)
    declare_alert(timed, {"alertname": "TimedAlert"})
    assert seen == [(True, [EntryKind.DECLARED, EntryKind.PLAYBOOK_ATTACHED])]


def test_informational_incidents_get_no_playbook(timed: Container) -> None:
    incident = timed.service.declare(title="FYI", severity=Severity.INFO, actor="am", source=Source.ALERTMANAGER, labels={"alertname": "TimedAlert"})
    assert incident.playbook_id is None
    assert [entry.kind for entry in timed.service.timeline(incident.number)] == [EntryKind.DECLARED]


def test_without_playbooks_nothing_is_attached(container: Container) -> None:
    incident = declare_alert(container, {"alertname": "HighErrorRate"})
    assert incident.playbook_id is None
    assert [entry.kind for entry in container.service.timeline(incident.number)] == [EntryKind.DECLARED]
    with container.sessions() as session:
        assert IncidentRepository.get(session, incident.number).playbook_id is None
        assert session.scalars(select(PlaybookRunRow)).first() is None


def test_a_playbook_with_a_phase_title_too_long_to_store_never_stops_its_alert_opening_an_incident(
    db_url: str, engine, clock, transcript, tmp_path
) -> None:
    """On PostgreSQL the step states' phase title holds 200 characters: attaching a playbook
    with a longer one failed inside the declaration, so the alert it matched opened no incident
    at all. Such a playbook is now refused when loaded (a server logs it and skips it) and the
    alert opens its incident with the fallback."""
    from tests.guided.conftest import build

    (tmp_path / "long.yaml").write_text(
        "id: long\ntitle: Long\nmatch:\n  alertname: [LongAlert]\nphases:\n  - kind: diagnosis\n"
        f"    title: {'T' * 300}\n    steps:\n      - text: look\n"
    )
    (tmp_path / "default.yaml").write_text("id: default\ntitle: Fallback\ndefault: true\nphases:\n  - kind: diagnosis\n    steps:\n      - text: look\n")
    container = build(db_url, engine, clock, transcript, tmp_path)
    incident = declare_alert(container, {"alertname": "LongAlert"})
    assert incident.playbook_id == "default"
    assert container.service.get(incident.number).title == "Alert firing"


def test_the_longest_delays_and_the_largest_speed_still_open_the_incident(db_url: str, engine, clock, transcript, tmp_path) -> None:
    """30-day delays and deadlines (the most a playbook may say) times the largest speed
    factor are planned and stored on SQLite and PostgreSQL alike."""
    from tests.conftest import make_settings

    (tmp_path / "slow.yaml").write_text(
        "id: slow\ntitle: Slow\ndefault: true\nescalation:\n  levels:\n    - delay: 30d\n      targets:\n        - who: lead\n"
        "phases:\n  - kind: diagnosis\n    steps:\n      - text: look\n        deadline: 30d\n"
    )
    settings = make_settings(db_url, FIREBREAK_PLAYBOOKS_DIR=str(tmp_path), FIREBREAK_ESCALATION_SPEED="P1=1000")
    from bot.container import build_container

    container = build_container(settings, clock=clock, transcript_stream=transcript, engine=engine)
    try:
        incident = declare_alert(container, {"alertname": "Anything"})
        assert incident.playbook_id == "slow"
        with container.sessions() as session:
            [row] = session.scalars(select(PlaybookStepRow)).all()
        assert row.deadline_seconds == 30 * 86400
    finally:
        container.close()
