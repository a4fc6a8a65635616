"""The service against a real database: every change lands on the timeline, once."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

import bot.store.incidents as incidents_store
from bot.chat.commands import CommandContext
from bot.container import Container
from bot.domain.errors import IllegalTransition, IncidentNotFound
from bot.domain.incident import Role, Status
from bot.domain.permissions import NEVER_BY_A_PERSON
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.store.incidents import IncidentRepository
from bot.store.models import ActionItemRow, AppendOnlyViolation, OutboxRow, TimelineRow


def test_every_change_is_a_timeline_entry_with_actor_and_source(container: Container, clock) -> None:
    service = container.service
    incident = service.declare(title="Checkout down", severity=Severity.P1, actor="alice", source=Source.CONSOLE)
    clock.advance(minutes=1)
    service.acknowledge(incident.number, actor="bob", source=Source.SLACK)
    clock.advance(minutes=1)
    service.change_severity(incident.number, Severity.P0, actor="bob", source=Source.SLACK)
    service.assign_role(incident.number, Role.COMMANDER, "@carol", actor="bob", source=Source.SLACK)
    service.add_note(incident.number, "rolled back", actor="carol", source=Source.SLACK)
    service.add_action(incident.number, "add canary", actor="carol", source=Source.SLACK)
    clock.advance(minutes=5)
    service.mitigate(incident.number, actor="carol", source=Source.SLACK)
    service.resolve(incident.number, actor="carol", source=Source.PAGERDUTY)
    service.reopen(incident.number, actor="dave", source=Source.CONSOLE)

    entries = service.timeline(incident.number)
    assert [e.kind for e in entries] == [
        EntryKind.DECLARED,
        EntryKind.STATUS_CHANGED,
        EntryKind.SEVERITY_CHANGED,
        EntryKind.ROLE_ASSIGNED,
        EntryKind.NOTE,
        EntryKind.ACTION_ADDED,
        EntryKind.STATUS_CHANGED,
        EntryKind.STATUS_CHANGED,
        EntryKind.STATUS_CHANGED,
    ]
    assert [e.actor for e in entries] == ["alice", "bob", "bob", "bob", "carol", "carol", "carol", "carol", "dave"]
    assert entries[7].source is Source.PAGERDUTY
    assert entries[1].at == entries[0].at.replace(minute=entries[0].at.minute + 1)
    stored = service.get(incident.number)
    assert stored.status is Status.TRIGGERED and stored.severity is Severity.P0
    assert stored.roles == {Role.COMMANDER: "@carol"}
    with container.sessions() as session:
        actions = list(session.scalars(select(ActionItemRow)))
    assert [(a.text, a.created_by) for a in actions] == [("add canary", "carol")]


def test_illegal_transition_writes_nothing(container: Container) -> None:
    service = container.service
    incident = service.declare(title="x", severity=Severity.P2, actor="a", source=Source.CONSOLE)
    service.resolve(incident.number, actor="a", source=Source.CONSOLE)
    with container.sessions() as session:
        before = (session.query(TimelineRow).count(), session.query(OutboxRow).count())
    with pytest.raises(IllegalTransition):
        service.acknowledge(incident.number, actor="a", source=Source.CONSOLE)
    with container.sessions() as session:
        after = (session.query(TimelineRow).count(), session.query(OutboxRow).count())
    assert after == before
    assert service.get(incident.number).status is Status.RESOLVED


def test_unknown_incident(container: Container) -> None:
    with pytest.raises(IncidentNotFound, match="INC-99"):
        container.service.acknowledge(99, actor="a", source=Source.CONSOLE)


def test_numbers_are_sequential(container: Container) -> None:
    numbers = [
        container.service.declare(title=f"t{i}", severity=Severity.P3, actor="a", source=Source.CONSOLE).number
        for i in range(3)
    ]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]


def test_timeline_is_append_only(container: Container) -> None:
    incident = container.service.declare(title="x", severity=Severity.P2, actor="a", source=Source.CONSOLE)
    with container.sessions() as session:
        row = session.scalars(select(TimelineRow).where(TimelineRow.incident_id == incident.number)).one()
        row.text = "rewritten history"
        with pytest.raises(AppendOnlyViolation):
            session.flush()
        session.rollback()
        session.delete(session.scalars(select(TimelineRow)).first())
        with pytest.raises(AppendOnlyViolation):
            session.flush()


def test_changes_queue_chat_messages_in_the_same_transaction(container: Container) -> None:
    incident = container.service.declare(title="x", severity=Severity.P1, actor="a", source=Source.CONSOLE)
    container.service.acknowledge(incident.number, actor="a", source=Source.CONSOLE)
    with container.sessions() as session:
        ops = [(row.operation, row.ordering_key) for row in session.scalars(select(OutboxRow).order_by(OutboxRow.id))]
    assert ops == [
        ("open_incident", f"incident:{incident.number}"),
        ("post", f"incident:{incident.number}"),
        ("refresh_summary", f"incident:{incident.number}"),
    ]


def test_command_router_never_raises_on_bad_input(container: Container) -> None:
    context = CommandContext(actor="alice", source=Source.CONSOLE)
    for line in ["/incident ack", "/incident sev P9 INC-1", "/incident role", "/incident role boss @x INC-1", "/incident ack INC-404", "/incident zzz", "/incident note"]:
        reply = container.commands.handle(line, context)
        assert reply.text.startswith("⚠️"), (line, reply.text)
    reply = container.commands.handle("/incident declare Search is slow P2", context)
    assert reply.incident is not None and "INC-" in reply.text
    context.last_incident = reply.incident
    assert "acknowledged" in container.commands.handle("/incident ack", context).text
    assert "Timeline of" in container.commands.handle("/incident timeline", context).text
    assert "Search is slow" in container.commands.handle("/incident list", context).text


def alert_entries(count: int, at: datetime) -> list[TimelineEntry]:
    return [
        TimelineEntry(kind=EntryKind.ALERT_FIRING, at=at, actor="alertmanager", source=Source.ALERTMANAGER, text=f"alert {n}", data={"fingerprint": f"f{n}"})
        for n in range(count)
    ]


def test_a_timeline_read_asks_the_database_for_just_the_kinds_it_needs(container: Container, clock) -> None:
    service = container.service
    incident = service.declare(title="Storm", severity=Severity.P1, actor="alice", source=Source.CONSOLE)
    with container.sessions.begin() as session:
        service.record(session, incident, alert_entries(5, clock.now()))
    service.add_note(incident.number, "looking", actor="bob", source=Source.SLACK)
    with container.sessions() as session:
        assert [e.kind for e in IncidentRepository.timeline(session, incident.number, kinds={EntryKind.DECLARED})] == [EntryKind.DECLARED]
        kept = IncidentRepository.timeline(session, incident.number, leaving_out=NEVER_BY_A_PERSON)
        assert [e.kind for e in kept] == [EntryKind.DECLARED, EntryKind.NOTE]
        assert len(IncidentRepository.timeline(session, incident.number)) == 7


def test_a_permission_question_reads_no_alert_entries(container: Container, clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commander's last activity comes from people's entries: a command on a storm's
    incident does not read every alert entry to answer it, and answers the same."""
    service = container.service
    incident = service.declare(title="Storm", severity=Severity.P1, actor="alice", source=Source.SLACK)
    service.assign_role(incident.number, Role.COMMANDER, "carol", actor="alice", source=Source.SLACK)
    clock.advance(minutes=5)
    with container.sessions.begin() as session:
        service.record(session, incident, alert_entries(200, clock.now()))
    read: list[EntryKind] = []
    real = incidents_store.entry_from_row

    def counting(row: TimelineRow) -> TimelineEntry:
        entry = real(row)
        read.append(entry.kind)
        return entry

    monkeypatch.setattr(incidents_store, "entry_from_row", counting)
    refused = container.commands.handle(f"/incident resolve INC-{incident.number}", CommandContext(actor="bob", source=Source.SLACK))
    assert refused.refused, refused.text
    assert read and EntryKind.ALERT_FIRING not in read
    allowed = container.commands.handle(f"/incident resolve INC-{incident.number}", CommandContext(actor="carol", source=Source.SLACK))
    assert not allowed.refused, allowed.text
    assert service.get(incident.number).status is Status.RESOLVED


def test_a_long_description_is_cut_in_summaries_as_slack_would_cut_it(container: Container, transcript) -> None:
    """The console shows what Slack would post: a 100,000-character description is cut where
    the pinned summary cuts it, with the same pointer; the export keeps all of it."""
    description = "word " * 20_000
    incident = container.service.declare(title="Huge", severity=Severity.P1, actor="alice", source=Source.CONSOLE, description=description)
    status = container.commands.handle(f"/incident status INC-{incident.number}", CommandContext(actor="alice", source=Source.CONSOLE)).text
    assert "(cut: `/incident export` has the full text)" in status
    assert max(len(line) for line in status.splitlines()) < 3_100
    assert container.service.get(incident.number).description == description
