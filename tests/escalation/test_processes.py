"""Real ``firebreak serve`` processes: a restart fires a due escalation once; with two
replicas on PostgreSQL one fires, and when the leader is killed the other takes over."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, select, text

from bot.container import Container, build_container
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source
from bot.store.models import EscalationRow, TimelineRow
from tests.conftest import make_settings
from tests.support.processes import Server, firebreak_env
from tests.support.waiting import wait_until


def scheduler_ran_at(engine: Engine, pid: int, *, after: datetime | None) -> datetime | None:
    """When the scheduler of process ``pid`` last ran a query on its leader-lock connection
    (PostgreSQL's own record); None when that is not later than ``after``."""
    with engine.connect() as connection:
        started = connection.execute(
            text("SELECT query_start FROM pg_stat_activity WHERE application_name = :name"), {"name": f"firebreak-scheduler-{pid}"}
        ).scalar()
    return started if started is not None and (after is None or started > after) else None


def escalated(engine: Engine, number: int) -> list[TimelineRow]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(TimelineRow).where(TimelineRow.incident_id == number, TimelineRow.kind == EntryKind.ESCALATED.value).order_by(TimelineRow.id)
        )
        return list(rows)


def fired_by(engine: Engine, number: int) -> dict[int, str | None]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(EscalationRow.level, EscalationRow.claimed_by).where(EscalationRow.incident_id == number, EscalationRow.status == "fired")
        )
        return {level: claimed for level, claimed in rows}


@pytest.fixture
def declarer(db_url: str, engine: Engine) -> Iterator[Callable[[str], int]]:
    """Declares incidents from the test process with the real clock (plans deadlines too)."""
    containers: list[Container] = []

    def declare(policy: str) -> int:
        container = build_container(make_settings(db_url, FIREBREAK_DEFAULT_ESCALATION=policy), transcript_stream=None, engine=engine)
        containers.append(container)
        return container.service.declare(title="Disk full", severity=Severity.P1, actor="t", source=Source.CONSOLE).number

    yield declare


def test_escalation_due_while_stopped_fires_once_after_restart(db_url: str, engine: Engine, declarer: Callable[[str], int]) -> None:
    policy = "unacknowledged:3s:@oncall"
    env = firebreak_env(db_url, FIREBREAK_DEFAULT_ESCALATION=policy)
    first = Server(env).start()
    try:
        number = declarer(policy)
        declared_at = time.monotonic()
        first.terminate()
    finally:
        first.kill()
    assert time.monotonic() - declared_at < 3, "the first server must stop before the deadline"
    assert escalated(engine, number) == []
    wait_until(lambda: time.monotonic() - declared_at > 3.2, timeout=5, interval=0.1, what="the deadline to pass while stopped")

    with Server(env) as second:
        assert second.process is not None
        wait_until(lambda: len(escalated(engine, number)) >= 1, timeout=15, interval=0.1, what="the escalation after restart")
        # Nothing fires twice: a window of real time, as the ticks to watch are those of
        # another process (SQLite too, so PostgreSQL's record of its queries is not there).
        wait_until(lambda: time.monotonic() - declared_at > 6, timeout=5, interval=0.1, what="a few more ticks")
        assert len(escalated(engine, number)) == 1
        assert f":{second.process.pid}:" in str(fired_by(engine, number)[1])


@pytest.mark.postgres
def test_two_replicas_fire_once_and_the_survivor_takes_over(db_backend: str, db_url: str, engine: Engine, declarer: Callable[[str], int]) -> None:
    if db_backend != "postgres":
        pytest.skip("needs --db=postgres")
    policy = "unacknowledged:2s:@level-one,unacknowledged:9s:@level-two"
    env = firebreak_env(db_url, FIREBREAK_DEFAULT_ESCALATION=policy)

    def leader_pid() -> int | None:
        with engine.connect() as connection:
            name = connection.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'firebreak-scheduler-%'"
                    # this test's database only: other Firebreaks on the same server lead their own
                    " AND a.datname = current_database()"
                )
            ).scalar()
        return int(name.rsplit("-", 1)[1]) if name else None

    first, second = Server(env), Server(env)
    try:
        first.start()
        assert first.process is not None
        wait_until(lambda: leader_pid() == first.process.pid, timeout=30, interval=0.1, what="the first replica to lead")  # type: ignore[union-attr]
        second.start()
        assert second.process is not None
        number = declarer(policy)
        wait_until(lambda: len(escalated(engine, number)) >= 1, timeout=8, interval=0.1, what="level 1")
        assert f":{first.process.pid}:" in str(fired_by(engine, number)[1])

        first.process.kill()  # kill -9: no clean shutdown, the lock goes with the connection
        first.process.communicate(timeout=10)
        wait_until(lambda: leader_pid() == second.process.pid, timeout=8, interval=0.1, what="the survivor to take over")  # type: ignore[union-attr]
        wait_until(lambda: len(escalated(engine, number)) >= 2, timeout=12, interval=0.1, what="level 2")
        # Nothing fires twice: let the survivor's scheduler run on (it renews its leadership
        # every 2 s and ticks every second) before counting.
        since = scheduler_ran_at(engine, second.process.pid, after=None)
        wait_until(lambda: scheduler_ran_at(engine, second.process.pid, after=since), timeout=10, interval=0.1, what="the survivor's scheduler to run on")
        levels = [row.data["level"] for row in escalated(engine, number)]
        assert levels == [1, 2]
        assert f":{second.process.pid}:" in str(fired_by(engine, number)[2])
    finally:
        first.kill()
        second.kill()
