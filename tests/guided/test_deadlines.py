"""Step deadlines fire their action once: across ticks, threads, replicas and restarts."""

from __future__ import annotations

import asyncio
import io
import threading
from datetime import timedelta

from sqlalchemy import select
from starlette.testclient import TestClient

from bot.chat.commands import CommandContext
from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.guided import DeadlineTicker, fire_due_step_deadlines
from bot.store.db import make_engine
from bot.store.models import OutboxRow, PlaybookStepRow
from bot.web import create_app
from tests.guided.conftest import FIXTURES, build
from tests.support.waiting import eventually, wait_until


def declare(container: Container) -> tuple[int, CommandContext]:
    incident = container.service.declare(
        title="TimedAlert firing", severity=Severity.P1, actor="am", source=Source.ALERTMANAGER, labels={"alertname": "TimedAlert"}
    )
    return incident.number, CommandContext(actor="alice", source=Source.CONSOLE, last_incident=incident.number)


def deadline_entries(container: Container, number: int):
    return [entry for entry in container.service.timeline(number) if entry.kind is EntryKind.STEP_DEADLINE]


def test_each_deadline_fires_once_when_it_passes(timed: Container, clock: FrozenClock) -> None:
    number, _ = declare(timed)
    start = clock.now()
    assert fire_due_step_deadlines(timed.service, start + timedelta(minutes=4, seconds=59)) == 0
    assert fire_due_step_deadlines(timed.service, start + timedelta(minutes=5)) == 1
    assert fire_due_step_deadlines(timed.service, start + timedelta(minutes=5)) == 0
    assert fire_due_step_deadlines(timed.service, start + timedelta(minutes=9)) == 0
    assert fire_due_step_deadlines(timed.service, start + timedelta(minutes=30)) == 1  # step 2 (10m); step 3's phase is not current
    assert fire_due_step_deadlines(timed.service, start + timedelta(hours=2)) == 0

    first, second = deadline_entries(timed, number)
    assert first.at == start + timedelta(minutes=5) and first.source is Source.SCHEDULER and first.actor == "firebreak"
    assert first.data == {
        "playbook_id": "timed",
        "phase": "symptoms",
        "phase_title": "Confirm symptoms",
        "step": 1,
        "text": "Acknowledge and take command.",
        "action": "escalate",
        "deadline": "5m",
        "escalate_to": "L1",
    }
    # No escalation engine wired: the entry (posted to chat) says escalation is needed.
    assert first.text == f"INC-{number} step 1 is still open after 5m: Acknowledge and take command. — escalation to L1 needed: `/incident escalate`"
    assert second.data["action"] == "remind" and "reminder: `/incident step done 2`" in second.text
    with timed.sessions() as session:
        posted = [row.payload["kind"] for row in session.scalars(select(OutboxRow)) if row.operation == "post"]
        fired = [row.step for row in session.scalars(select(PlaybookStepRow).where(PlaybookStepRow.deadline_fired_at.is_not(None)))]
    assert posted.count("step_deadline") == 2
    assert sorted(fired) == [1, 2]
    # The guide marks the still-pending step as overdue.
    clock.advance(minutes=11)
    assert "OVERDUE since" in timed.commands.handle(f"/incident status INC-{number}", CommandContext(actor="x", source=Source.CONSOLE)).text


def test_escalate_calls_the_injected_engine_after_commit(timed: Container, clock: FrozenClock) -> None:
    number, _ = declare(timed)
    calls: list[tuple[int, str, str | None, int]] = []

    def escalate_now(incident_number: int, reason: str, level: str | None) -> None:
        # Called after the claim committed: the STEP_DEADLINE entry is already visible.
        calls.append((incident_number, reason, level, len(deadline_entries(timed, incident_number))))

    fired = fire_due_step_deadlines(timed.service, clock.now() + timedelta(minutes=5), escalate_now=escalate_now)
    assert fired == 1
    assert calls == [(number, "playbook step 1 (Acknowledge and take command.) not done within its deadline; escalate to L1", "L1", 1)]
    assert deadline_entries(timed, number)[0].text.endswith("— escalating to L1")
    assert fire_due_step_deadlines(timed.service, clock.now() + timedelta(minutes=6), escalate_now=escalate_now) == 0
    assert len(calls) == 1


def test_a_failing_escalation_does_not_undo_the_record(timed: Container, clock: FrozenClock) -> None:
    number, _ = declare(timed)

    def broken(_number: int, _reason: str) -> None:
        raise RuntimeError("engine down")

    assert fire_due_step_deadlines(timed.service, clock.now() + timedelta(minutes=5), escalate_now=broken) == 1
    assert len(deadline_entries(timed, number)) == 1


def test_settled_steps_resolved_incidents_and_replaced_runs_do_not_fire(timed: Container, clock: FrozenClock) -> None:
    number, alice = declare(timed)
    timed.commands.handle("/incident step done 1", alice)
    timed.commands.handle("/incident step skip 2", alice)
    resolved, _ = declare(timed)
    timed.service.resolve(resolved, actor="a", source=Source.CONSOLE)
    replaced, replaced_ctx = declare(timed)
    timed.commands.handle("/incident run default", replaced_ctx)
    later = clock.now() + timedelta(hours=1)
    # Only step 3 of the first incident (its phase became current when step 2 was skipped).
    assert fire_due_step_deadlines(timed.service, later) == 1
    assert [entry.data["step"] for entry in deadline_entries(timed, number)] == [3]
    assert deadline_entries(timed, resolved) == [] and deadline_entries(timed, replaced) == []


def test_notify_names_the_owner_role(timed: Container, clock: FrozenClock) -> None:
    number, alice = declare(timed)
    timed.commands.handle("/incident role commander @carol", alice)
    timed.commands.handle("/incident step done 1", alice)
    timed.commands.handle("/incident step done 2", alice)
    assert fire_due_step_deadlines(timed.service, clock.now() + timedelta(minutes=2)) == 1
    entry = deadline_entries(timed, number)[0]
    assert entry.data["action"] == "notify"
    assert "@carol, please take it or skip it (`/incident step skip 3`)" in entry.text


def test_deadlines_survive_a_restart(db_url: str, timed: Container, clock: FrozenClock) -> None:
    number, _ = declare(timed)
    timed.close()
    engine = make_engine(db_url)
    try:
        later = FrozenClock(clock.now() + timedelta(minutes=6))
        restarted = build(db_url, engine, later, io.StringIO(), FIXTURES / "playbooks")
        assert restarted.guided is not None
        restarted.deadlines.tick()
        assert [entry.data["step"] for entry in deadline_entries(restarted, number)] == [1]
        assert restarted.deadlines.tick() == 0
    finally:
        engine.dispose()


def test_concurrent_ticks_fire_once(db_url: str, timed: Container, clock: FrozenClock) -> None:
    numbers = [declare(timed)[0] for _ in range(5)]
    due = clock.now() + timedelta(minutes=5)
    replicas = [build(db_url, make_engine(db_url), FrozenClock(due), io.StringIO(), FIXTURES / "playbooks") for _ in range(4)]
    results: list[int] = []
    barrier = threading.Barrier(len(replicas))

    def tick(replica: Container) -> None:
        barrier.wait(timeout=10)
        results.append(fire_due_step_deadlines(replica.service, due))

    threads = [threading.Thread(target=tick, args=(replica,)) for replica in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for replica in replicas:
        replica.close()
    assert sum(results) == 5
    assert all(len(deadline_entries(timed, number)) == 1 for number in numbers)


def test_the_ticker_loop_fires_and_stops(timed: Container, clock: FrozenClock) -> None:
    number, _ = declare(timed)
    clock.advance(minutes=5)
    ticker = DeadlineTicker(timed.service, poll_seconds=0.05)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(ticker.run(stop))
        await eventually(lambda: deadline_entries(timed, number), timeout=5, what="the deadline fired by the ticker")
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())
    assert len(deadline_entries(timed, number)) == 1


def test_the_server_runs_the_ticker_from_container_background(timed: Container, clock: FrozenClock) -> None:
    assert timed.deadlines.run in timed.background
    number, _ = declare(timed)
    clock.advance(minutes=5)
    with TestClient(create_app(timed, migrate=False, run_worker=False)):
        wait_until(lambda: deadline_entries(timed, number), timeout=5, interval=0.02, what="the deadline fired by the server's ticker")
    assert len(deadline_entries(timed, number)) == 1


def test_a_reopened_incident_restarts_the_deadlines_that_ran_out_while_it_was_resolved(timed: Container, clock: FrozenClock) -> None:
    """Resolved a minute in, reopened an hour later by an alert firing again: the step's 5m
    had run out while nobody was meant to be working, and it fired (and escalated) the same
    second as the reopen. Escalation counts from the reopen; so do the step deadlines."""
    number, _ = declare(timed)
    clock.advance(minutes=1)
    timed.service.resolve(number, actor="alice", source=Source.CONSOLE)
    clock.advance(hours=1)
    timed.service.reopen(number, actor="am", source=Source.ALERTMANAGER)
    reopened = clock.now()
    assert fire_due_step_deadlines(timed.service, reopened + timedelta(seconds=1)) == 0
    assert fire_due_step_deadlines(timed.service, reopened + timedelta(minutes=5)) == 1
    (entry,) = deadline_entries(timed, number)
    assert entry.at == reopened + timedelta(minutes=5)
