"""Escalation against a real database with a frozen clock: timing, cancel, re-arm, re-plan."""

from __future__ import annotations

import asyncio
import io
import threading

import pytest
from sqlalchemy import select

from bot.chat.commands import CommandContext
from bot.container import Container
from bot.delivery.message import DeliveryResult, OutboxMessage
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.schedule.engine import EscalationEngine
from bot.settings import SettingsError, load_settings
from bot.store.models import EscalationRow, IncidentRow
from tests.escalation.conftest import deadlines, escalations, outbox


class RecordingDeliverer:
    def __init__(self) -> None:
        self.messages: list[OutboxMessage] = []

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        self.messages.append(message)
        return DeliveryResult()


def declare(container: Container, severity: Severity = Severity.P1) -> int:
    return container.service.declare(title="Checkout down", severity=severity, actor="alice", source=Source.CONSOLE).number


def level_of(container: Container, number: int) -> int:
    with container.sessions() as session:
        row = session.get(IncidentRow, number)
        assert row is not None
        return row.escalation_level


def test_levels_fire_on_time_once_each(esc: Container, clock: FrozenClock, transcript: io.StringIO) -> None:
    assert esc.escalation is not None
    number = declare(esc)
    assert deadlines(esc, number) == [(0, 1, "pending"), (0, 2, "pending"), (0, 3, "pending")]

    clock.advance(minutes=4, seconds=59)
    assert esc.escalation.tick() == 0
    clock.advance(seconds=1)
    assert esc.escalation.tick() == 1
    assert esc.escalation.tick() == 0
    first = escalations(esc, number)
    assert [(e.data["level"], e.data["targets"], e.data["reason"], e.data["manual"]) for e in first] == [
        (1, ["@primary"], "not acknowledged after 5m", False)
    ]
    assert first[0].source is Source.SCHEDULER
    assert outbox(esc, "pagerduty") == []

    clock.advance(minutes=10)
    assert esc.escalation.tick() == 1
    assert [e.data["level"] for e in escalations(esc, number)] == [1, 2]
    assert level_of(esc, number) == 2
    pages = outbox(esc, "pagerduty", "page")
    assert [page.payload for page in pages] == [
        {
            "number": number,
            "escalation_policy_id": "PPOL1",
            "title": f"INC-{number} [P1] Checkout down",
            "incident_key": f"INC-{number}-L2-c0-PPOL1",
            "level": 2,
            "cycle": 0,
        }
    ]
    assert deadlines(esc, number) == [(0, 1, "fired"), (0, 2, "fired"), (0, 3, "pending")]
    with esc.sessions() as session:
        claimed = set(session.scalars(select(EscalationRow.claimed_by).where(EscalationRow.status == "fired")))
    assert claimed == {esc.escalation.engine_id}

    # The escalation is said in the incident channel through the normal chat path.
    posts = [row.payload for row in outbox(esc, "chat", "post") if row.payload["kind"] == EntryKind.ESCALATED.value]
    assert [post["data"]["level"] for post in posts] == [1, 2]
    paged = RecordingDeliverer()
    esc.worker.add_deliverer("pagerduty", paged)
    assert asyncio.run(esc.worker.drain(timeout=10))
    assert [message.payload["incident_key"] for message in paged.messages] == [f"INC-{number}-L2-c0-PPOL1"]
    assert "escalated INC-1 to level 2: @secondary, PagerDuty escalation policy PPOL1" in transcript.getvalue()


def test_acknowledge_cancels_unacknowledged_levels_and_resolve_cancels_all(esc: Container, clock: FrozenClock) -> None:
    assert esc.escalation is not None
    number = declare(esc)
    clock.advance(minutes=1)
    esc.service.acknowledge(number, actor="bob", source=Source.SLACK)
    assert deadlines(esc, number) == [(0, 1, "cancelled"), (0, 2, "cancelled"), (0, 3, "pending")]
    clock.advance(minutes=30)
    esc.escalation.tick()
    assert escalations(esc, number) == []
    esc.service.resolve(number, actor="bob", source=Source.SLACK)
    assert deadlines(esc, number) == [(0, 1, "cancelled"), (0, 2, "cancelled"), (0, 3, "cancelled")]
    clock.advance(hours=3)
    assert esc.escalation.tick() == 0
    assert escalations(esc, number) == []


def test_unresolved_level_still_fires_after_acknowledge(esc: Container, clock: FrozenClock) -> None:
    assert esc.escalation is not None
    number = declare(esc)
    esc.service.acknowledge(number, actor="bob", source=Source.SLACK)
    clock.advance(hours=1)
    assert esc.escalation.tick() == 1
    (entry,) = escalations(esc, number)
    assert (entry.data["level"], entry.data["condition"]) == (3, "unresolved")
    assert [page.payload["user_id"] for page in outbox(esc, "pagerduty", "page")] == ["PU1"]


def test_reopen_rearms_from_the_reopen_moment(esc: Container, clock: FrozenClock) -> None:
    assert esc.escalation is not None
    number = declare(esc)
    clock.advance(minutes=5)
    esc.escalation.tick()
    esc.service.resolve(number, actor="bob", source=Source.SLACK)
    clock.advance(minutes=30)
    esc.service.reopen(number, actor="carol", source=Source.CONSOLE)
    assert level_of(esc, number) == 0
    assert deadlines(esc, number) == [
        (0, 1, "fired"), (0, 2, "cancelled"), (0, 3, "cancelled"),
        (1, 1, "pending"), (1, 2, "pending"), (1, 3, "pending"),
    ]
    clock.advance(minutes=4)
    assert esc.escalation.tick() == 0
    clock.advance(minutes=1)
    assert esc.escalation.tick() == 1
    clock.advance(minutes=10)
    assert esc.escalation.tick() == 1
    assert [e.data["level"] for e in escalations(esc, number)] == [1, 1, 2]
    assert len(outbox(esc, "pagerduty", "page")) == 1


def test_severity_change_replans_pending_levels(esc: Container, clock: FrozenClock) -> None:
    assert esc.escalation is not None
    number = declare(esc, Severity.P2)  # factor 2: L1 at 10m
    clock.advance(minutes=3)
    assert esc.escalation.tick() == 0
    esc.service.change_severity(number, Severity.P0, actor="bob", source=Source.SLACK)  # factor 0.5: L1 at 2.5m
    assert esc.escalation.tick() == 1  # already overdue at P0 speed: fires now
    clock.advance(minutes=4)  # 7m: L2 at 7.5m not yet
    assert esc.escalation.tick() == 0
    clock.advance(seconds=30)
    assert esc.escalation.tick() == 1
    esc.service.change_severity(number, Severity.P3, actor="bob", source=Source.SLACK)
    assert deadlines(esc, number)[-1] == (0, 3, "cancelled")
    clock.advance(hours=5)
    assert esc.escalation.tick() == 0
    assert [e.data["level"] for e in escalations(esc, number)] == [1, 2]


def test_p3_does_not_escalate_until_raised_and_then_counts_from_the_raise(esc: Container, clock: FrozenClock) -> None:
    assert esc.escalation is not None
    number = declare(esc, Severity.P3)
    assert deadlines(esc, number) == []
    clock.advance(hours=2)
    esc.service.change_severity(number, Severity.P1, actor="bob", source=Source.SLACK)
    assert esc.escalation.tick() == 0
    clock.advance(minutes=5)
    assert esc.escalation.tick() == 1


def test_manual_escalate_moves_to_the_next_level_and_replans(esc: Container, clock: FrozenClock) -> None:
    assert esc.escalation is not None
    number = declare(esc)
    context = CommandContext(actor="@dave", source=Source.CONSOLE)
    clock.advance(minutes=1)
    reply = esc.commands.handle(f"/incident escalate INC-{number} payments are failing too", context)
    assert reply.text == f"📣 INC-{number} escalated to level 1: @primary" and reply.public
    (entry,) = escalations(esc, number)
    assert entry.data["manual"] is True and entry.data["reason"] == "payments are failing too"
    assert (entry.actor, entry.source) == ("@dave", Source.CONSOLE)
    assert deadlines(esc, number) == [(0, 1, "fired"), (0, 2, "pending"), (0, 3, "pending")]

    # L2 keeps its 10 minutes of spacing after L1, now counted from the manual escalation.
    clock.advance(minutes=9, seconds=59)
    assert esc.escalation.tick() == 0
    clock.advance(seconds=1)
    assert esc.escalation.tick() == 1
    assert esc.commands.handle(f"/incident escalate INC-{number}", context).text.startswith(f"📣 INC-{number} escalated to level 3")
    assert [e.data["level"] for e in escalations(esc, number)] == [1, 2, 3]
    assert escalations(esc, number)[-1].data["reason"] == "escalated by @dave"
    assert "last escalation level (L3)" in esc.commands.handle(f"/incident escalate INC-{number}", context).text
    assert [page.payload.get("escalation_policy_id") or page.payload.get("user_id") for page in outbox(esc, "pagerduty")] == ["PPOL1", "PU1"]
    esc.service.resolve(number, actor="bob", source=Source.SLACK)
    assert "reopen it" in esc.commands.handle(f"/incident escalate INC-{number}", context).text
    assert "which incident" in esc.commands.handle("/incident escalate", context).text


def test_manual_escalate_of_a_p3_still_works(esc: Container, clock: FrozenClock) -> None:
    number = declare(esc, Severity.P3)
    reply = esc.commands.handle(f"/incident escalate INC-{number}", CommandContext(actor="a", source=Source.CONSOLE))
    assert "level 1" in reply.text
    assert deadlines(esc, number) == [(0, 1, "fired")]


def test_reminders_nudge_quiet_p0_p1_once_per_quiet_period(esc: Container, clock: FrozenClock) -> None:
    assert esc.escalation is not None
    loud = declare(esc, Severity.P1)
    quiet_p2 = declare(esc, Severity.P2)
    esc.service.acknowledge(loud, actor="bob", source=Source.SLACK)  # no escalation noise until 1h
    esc.service.acknowledge(quiet_p2, actor="bob", source=Source.SLACK)
    clock.advance(minutes=9, seconds=59)
    assert esc.escalation.tick() == 0
    clock.advance(seconds=1)
    assert esc.escalation.tick() == 1
    assert esc.escalation.tick() == 0
    clock.advance(minutes=9)
    assert esc.escalation.tick() == 0
    esc.service.add_note(loud, "rolled back", actor="bob", source=Source.SLACK)
    clock.advance(minutes=9)
    assert esc.escalation.tick() == 0  # the note restarted the quiet period
    clock.advance(minutes=1)
    assert esc.escalation.tick() == 1
    reminders = [e for e in esc.service.timeline(loud) if e.kind is EntryKind.REMINDER]
    assert [r.data["quiet_seconds"] for r in reminders] == [600, 600]
    assert "status update" in reminders[0].text
    assert [e for e in esc.service.timeline(quiet_p2) if e.kind is EntryKind.REMINDER] == []
    posted = [row.payload["kind"] for row in outbox(esc, "chat", "post")]
    assert posted.count("reminder") == 2


def test_concurrent_claimers_fire_each_deadline_once(esc: Container, clock: FrozenClock) -> None:
    """Two engines (stand-ins for a leader and a stale leader) ticking at the same moment."""
    assert esc.escalation is not None
    numbers = [declare(esc) for _ in range(5)]
    clock.advance(minutes=5)
    other = EscalationEngine(esc.service, esc.escalation.planner, reminder_after_seconds=3600, engine_id="other")
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def run(engine: EscalationEngine) -> None:
        barrier.wait(timeout=5)
        counts.append(engine.tick())

    threads = [threading.Thread(target=run, args=(engine,)) for engine in (esc.escalation, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(counts) == 5
    assert [len(escalations(esc, number)) for number in numbers] == [1] * 5


def test_bad_escalation_settings_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="FIREBREAK_DEFAULT_ESCALATION"):
        load_settings(_env_file=None, FIREBREAK_DEFAULT_ESCALATION="unacknowledged:5m")
    with pytest.raises(SettingsError, match="FIREBREAK_ESCALATION_SPEED"):
        load_settings(_env_file=None, FIREBREAK_ESCALATION_SPEED={"P0": 0})


def test_policy_hook_lets_a_playbook_choose_the_policy(esc: Container, clock: FrozenClock) -> None:
    from bot.domain.escalation_parse import parse_policy

    assert esc.escalation is not None
    esc.escalation.planner.lookup = lambda incident: parse_policy("unresolved:1m:#db-team") if "DB" in incident.title else None
    number = esc.service.declare(title="DB slow", severity=Severity.P1, actor="a", source=Source.CONSOLE).number
    other = declare(esc)
    clock.advance(minutes=1)
    assert esc.escalation.tick() == 1
    assert escalations(esc, number)[0].data["targets"] == ["#db-team"]
    assert escalations(esc, other) == []
