"""A drill opted in to a database a real ``serve``/``worker`` also uses: each process takes
only its own inbox and outbox rows, so a drill's webhooks are never applied as real ones and
its messages never reach real Slack (and a drill never takes a real webhook or message)."""

from __future__ import annotations

import asyncio
import io

from sqlalchemy import Engine, select

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.drill.feed import Feed
from bot.drill.scenario import AlertmanagerEvent
from bot.metrics import Metrics
from bot.store.models import InboxRow, IncidentRow, OutboxRow
from tests.conftest import make_settings


def _pair(db_url: str, engine: Engine, clock: FrozenClock) -> tuple[Container, io.StringIO, Container, io.StringIO]:
    real_out, drill_out = io.StringIO(), io.StringIO()
    real = build_container(make_settings(db_url), clock=clock, transcript_stream=real_out, engine=engine)
    drill = build_container(make_settings(db_url), clock=clock, transcript_stream=drill_out, engine=engine, drill=True)
    return real, real_out, drill, drill_out


def _queue(container: Container, clock: FrozenClock, run_id: str, alertname: str) -> None:
    event = AlertmanagerEvent(status="firing", labels={"alertname": alertname, "severity": "critical"})
    webhook = Feed(run_id, container.settings.severity_mapping).alertmanager(event, clock.now())
    asyncio.run(container.inbox.accept(webhook))


def _deliver(container: Container) -> int:
    async def drain() -> int:
        total = 0
        while handled := await container.worker.run_once():
            total += handled
        return total

    return asyncio.run(drain())


def test_the_real_side_never_applies_nor_delivers_drill_rows(db_url: str, engine: Engine, clock: FrozenClock) -> None:
    real, real_out, drill, drill_out = _pair(db_url, engine, clock)
    try:
        _queue(drill, clock, "drill1", "DrillOnly")
        assert real.ingester.apply_all() == 0
        with drill.sessions() as session:
            assert session.scalars(select(InboxRow.drill)).all() == [True]
        assert drill.ingester.apply_all() == 1
        with drill.sessions() as session:
            assert session.scalars(select(IncidentRow.drill)).all() == [True]
            marks = session.scalars(select(OutboxRow.drill)).all()
        assert marks and all(marks), "every message the drill queued is marked as a drill's"
        assert _deliver(real) == 0
        assert real_out.getvalue() == ""
        assert _deliver(drill) == len(marks)
        assert "DrillOnly" in drill_out.getvalue()
    finally:
        real.close()
        drill.close()


def test_a_drill_never_applies_nor_delivers_real_rows(db_url: str, engine: Engine, clock: FrozenClock) -> None:
    real, real_out, drill, drill_out = _pair(db_url, engine, clock)
    try:
        _queue(real, clock, "real1", "RealOnly")
        assert drill.ingester.apply_all() == 0
        assert real.ingester.apply_all() == 1
        with real.sessions() as session:
            assert session.scalars(select(IncidentRow.drill)).all() == [False]
            marks = session.scalars(select(OutboxRow.drill)).all()
        assert marks and not any(marks)
        assert _deliver(drill) == 0
        assert drill_out.getvalue() == ""
        assert _deliver(real) == len(marks)
        assert "RealOnly" in real_out.getvalue()
    finally:
        real.close()
        drill.close()


def test_a_drills_queued_rows_stay_out_of_the_real_figures(db_url: str, engine: Engine, clock: FrozenClock) -> None:
    """A drill's webhooks and messages waiting on a shared database (a drill stopped half-way
    leaves them) are never applied nor delivered by the real process, so the queue depths an
    operator alerts on do not count them."""
    real, _real_out, drill, _drill_out = _pair(db_url, engine, clock)
    metrics = Metrics(real.sessions)

    def figure(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    try:
        _queue(drill, clock, "drill1", "DrillOnly")
        assert figure("firebreak_inbox_depth", state="pending") == 0
        assert figure("firebreak_inbox_oldest_seconds") == 0
        drill.ingester.apply_all()
        with drill.sessions() as session:
            assert session.scalars(select(OutboxRow.drill)).all(), "the drill queued messages"
        assert figure("firebreak_outbox_depth", status="pending") == 0
        assert figure("firebreak_outbox_pending", severity="P1") == 0
        _queue(real, clock, "real1", "RealOnly")
        assert figure("firebreak_inbox_depth", state="pending") == 1
        real.ingester.apply_all()
        assert (figure("firebreak_outbox_depth", status="pending") or 0) >= 1
        assert sum(figure("firebreak_outbox_pending", severity=level.value) or 0 for level in Severity) >= 1
    finally:
        real.close()
        drill.close()
