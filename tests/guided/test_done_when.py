"""Steps that are the incident's own state (``done_when``) settle by themselves.

The starter ``default`` playbook's first step asks to acknowledge the incident and name a
commander, with a 5-minute reminder: once both were done it still reminded people of it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot.chat.commands import CommandContext
from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.guided import fire_due_step_deadlines
from bot.playbooks.schema import Step
from tests.guided.conftest import guided_of

ALICE = CommandContext(actor="alice", source=Source.CONSOLE)


def declare(container: Container) -> tuple[int, CommandContext]:
    incident = container.service.declare(title="Something odd in checkout", severity=Severity.P2, actor="am", source=Source.ALERTMANAGER)
    return incident.number, CommandContext(actor="alice", source=Source.CONSOLE, last_incident=incident.number)


def first_step(container: Container, number: int) -> tuple[str, str | None]:
    found = guided_of(container).steps(number)
    assert found is not None and found[0] == "default"
    step = found[1][0]
    return step.status, step.actor


def test_acknowledging_and_naming_a_commander_settles_the_first_step_and_its_reminder(starter: Container, clock: FrozenClock) -> None:
    number, alice = declare(starter)
    starter.commands.handle("/incident ack", alice)
    assert first_step(starter, number) == ("pending", None)  # one of the two is not enough
    clock.advance(seconds=60)
    starter.commands.handle("/incident role commander @alice", alice)
    assert first_step(starter, number) == ("done", "firebreak")
    (done,) = [entry for entry in starter.service.timeline(number) if entry.kind is EntryKind.STEP_DONE]
    assert done.text.endswith("(the incident was acknowledged and has a commander)") and done.source is Source.SYSTEM
    assert done.data["done_because"] == "the incident was acknowledged and has a commander"
    # Its 5-minute reminder never comes.
    fire_due_step_deadlines(starter.service, clock.now() + timedelta(minutes=10))
    assert not [entry for entry in starter.service.timeline(number) if entry.kind is EntryKind.STEP_DEADLINE and entry.data["step"] == 1]


def test_the_order_does_not_matter_and_a_step_marked_by_hand_stays_so(starter: Container) -> None:
    number, alice = declare(starter)
    starter.commands.handle("/incident step done 1", alice)
    starter.commands.handle("/incident role commander @alice", alice)
    starter.commands.handle("/incident ack", alice)
    assert first_step(starter, number) == ("done", "alice")  # not settled twice
    other, _ = declare(starter)
    starter.commands.handle(f"/incident role commander @bob INC-{other}", alice)
    starter.commands.handle(f"/incident ack INC-{other}", alice)
    assert first_step(starter, other) == ("done", "firebreak")


def test_a_playbook_attached_after_the_fact_starts_with_what_the_incident_shows(starter: Container) -> None:
    number, alice = declare(starter)
    starter.commands.handle("/incident ack", alice)
    starter.commands.handle("/incident role commander @alice", alice)
    reply = starter.commands.handle("/incident run default", alice)
    assert "attached" in reply.text, reply.text
    assert first_step(starter, number) == ("done", "firebreak")


def test_done_when_takes_known_conditions_only() -> None:
    assert Step.model_validate({"text": "Page the comms lead", "done_when": "comms"}).done_when == ["comms"]
    with pytest.raises(ValidationError, match="done_when"):
        Step.model_validate({"text": "Acknowledge", "done_when": ["acknowledged", "fixed"]})
