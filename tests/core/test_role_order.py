"""Roles read in one order everywhere: commander, comms, scribe."""

from __future__ import annotations

from bot.chat import render
from bot.chat.commands import CommandContext
from bot.container import Container
from bot.domain.incident import Role
from bot.domain.severity import Severity
from bot.domain.timeline import Source


def test_roles_are_listed_commander_first_whatever_order_they_were_given(container: Container) -> None:
    """The summary read "scribe: @bob, commander: @alice": roles came back in the order they
    were stored, and PostgreSQL's jsonb keeps object keys shortest first."""
    number = container.service.declare(title="Checkout slow", severity=Severity.P1, actor="alice", source=Source.CONSOLE).number
    context = CommandContext(actor="alice", source=Source.CONSOLE)
    container.commands.handle(f"/incident role scribe @bob INC-{number}", context)
    container.commands.handle(f"/incident role comms @carol INC-{number}", context)
    container.commands.handle(f"/incident role commander @alice INC-{number}", context)
    incident = container.service.get(number)
    assert list(incident.roles) == [Role.COMMANDER, Role.COMMS, Role.SCRIBE]
    assert "commander: @alice, comms: @carol, scribe: @bob" in render.summary(incident, now=container.clock.now())
