"""The scheduler side: APScheduler wiring in-process, and the PostgreSQL leader lock."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from sqlalchemy import text

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.logs import configure_logging
from bot.schedule.engine import EscalationEngine
from bot.schedule.leader import AdvisoryLeaderLock, leader_lock_for
from bot.schedule.runner import EscalationRunner
from bot.store.db import make_engine
from tests.escalation.conftest import escalations
from tests.support.waiting import eventually


class CountingTicks:
    """The escalation engine, counting the ticks that ran to the end: "a few more ticks"
    is then something to wait for, not a guess at how long they take."""

    def __init__(self, engine: EscalationEngine) -> None:
        self.engine = engine
        self.ticks = 0

    def tick(self) -> int:
        result = self.engine.tick()
        self.ticks += 1
        return result


def test_runner_fires_what_is_overdue_as_soon_as_it_starts(esc: Container, clock: FrozenClock) -> None:
    assert esc.escalation is not None
    number = esc.service.declare(title="Queue stuck", severity=Severity.P1, actor="a", source=Source.CONSOLE).number
    clock.advance(minutes=20)  # L1 and L2 came due "while the process was down"
    engine = CountingTicks(esc.escalation)
    runner = EscalationRunner(engine, leader_lock_for(esc.engine), tick_seconds=0.2, leadership_seconds=0.5)  # type: ignore[arg-type]

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        await eventually(lambda: len(escalations(esc, number)) >= 2, timeout=10, what="L1 and L2 fired")
        fired_by = engine.ticks
        await eventually(lambda: engine.ticks >= fired_by + 3, timeout=10, what="three more ticks")  # nothing fires twice
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    asyncio.run(scenario())
    assert [entry.data["level"] for entry in escalations(esc, number)] == [1, 2]
    assert runner.is_leader is False  # stepped down on stop


@pytest.mark.postgres
def test_advisory_lock_has_one_holder_and_frees_when_its_connection_dies(db_backend: str, db_url: str) -> None:
    if db_backend != "postgres":
        pytest.skip("needs --db=postgres")
    first, second = AdvisoryLeaderLock(db_url, name="t-first"), AdvisoryLeaderLock(db_url, name="t-second")
    try:
        assert first.ensure() is True
        assert second.ensure() is False
        assert first.ensure() is True  # renewing does not stack the lock
        # Kill the leader's session from outside, as a crashed host would.
        killer = make_engine(db_url)
        with killer.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 't-first-%' AND datname = current_database()"))
        killer.dispose()
        assert first.ensure() is False  # notices and steps down
        assert second.ensure() is True
        first.release()
        second.release()
        assert first.ensure() is True  # a released lock is free again
    finally:
        first.release()
        second.release()


@pytest.mark.postgres
def test_the_log_shows_leadership_regained_after_a_second_outage_within_a_minute(
    db_backend: str, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The repeated-lines throttle used to hold back "this replica is the leader" when it had
    been said less than a minute before: after a short second outage the log ended with
    "stepping down" while the replica led again (what an operator reads at 3 a.m.)."""
    if db_backend != "postgres":
        pytest.skip("needs --db=postgres")
    configure_logging(fmt="json")
    lock = AdvisoryLeaderLock(db_url, name="t-flap")
    killer = make_engine(db_url)
    try:
        assert lock.ensure() is True
        for _outage in range(2):
            with killer.begin() as connection:
                connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 't-flap-%' AND datname = current_database()"))
            assert lock.ensure() is False  # the connection died: steps down
            assert lock.ensure() is True  # the database is fine: leads again
    finally:
        lock.release()
        killer.dispose()
        logging.getLogger().handlers.clear()
    said = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines() if "escalation scheduler" in line]
    leader, down = "escalation scheduler: this replica is the leader", "escalation scheduler: stepping down"
    assert said[:6] == [leader, down, leader, down, leader, "escalation scheduler: leadership released"], said


def test_sqlite_always_leads(esc: Container) -> None:
    if esc.engine.dialect.name != "sqlite":
        pytest.skip("SQLite behaviour")
    assert leader_lock_for(esc.engine).ensure() is True


class _SlowEngine:
    """A tick that takes a while, recording when it finished."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.finished: list[str] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    def tick(self) -> int:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.started.set)
        import time

        time.sleep(0.5)
        self.finished.append("tick")
        return 0


class _RecordingLock:
    def __init__(self, engine: _SlowEngine) -> None:
        self.engine = engine

    def ensure(self) -> bool:
        return True

    def release(self) -> None:
        self.engine.finished.append("released")


def test_stopping_mid_tick_waits_for_it_and_logs_no_failed_job(caplog: pytest.LogCaptureFixture) -> None:
    """Ctrl-C while a tick fires deadlines: the tick finishes before leadership is given up,
    and APScheduler does not log the stop as a job that failed (a traceback at every stop)."""
    engine = _SlowEngine()
    runner = EscalationRunner(engine, _RecordingLock(engine), tick_seconds=0.1, leadership_seconds=0.1)  # type: ignore[arg-type]

    async def scenario() -> None:
        engine.loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        running = asyncio.create_task(runner.run(stop))
        await asyncio.wait_for(engine.started.wait(), timeout=10)
        stop.set()
        await asyncio.wait_for(running, timeout=10)

    asyncio.run(scenario())
    assert engine.finished[:2] == ["tick", "released"]
    assert "Error running job" not in caplog.text and "Traceback" not in caplog.text
