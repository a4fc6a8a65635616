"""The service against a real database: every change lands on the timeline, once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.chat.commands import CommandContext
from bot.container import Container
from bot.domain.errors import IllegalTransition, IncidentNotFound
from bot.domain.incident import Role, Status
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
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
