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


def test_a_drills_commands_never_touch_a_real_incident_they_name(db_url: str, engine: Engine, clock: FrozenClock) -> None:
    """A scenario on a shared database that names a real incident (``/incident resolve INC-1``)
    is answered "no such incident" and changes nothing: the drill's messages never reach Slack
    or PagerDuty, so the responders of the real INC-1 would never hear it was resolved or
    merged away. Real commands likewise leave a drill's incidents alone."""
    from bot.chat.commands import CommandContext
    from bot.domain.permissions import Principal
    from bot.domain.timeline import Source
    from tests.drill.conftest import run

    real, _real_out, drill, _drill_out = _pair(db_url, engine, clock)
    operator = CommandContext(actor="op", source=Source.CONSOLE, channel_incident=None, last_incident=None, principal=Principal.operator("op"))
    try:
        real_number = real.service.declare(title="Real outage", severity=Severity.P1, actor="op", source=Source.CONSOLE).number
        entries_before = len(real.service.timeline(real_number))
    finally:
        real.close()
        drill.close()
    ref = f"INC-{real_number}"
    result = run(
        {
            "name": "names-a-real-incident",
            "events": [{"at": "0s", "alertmanager": {"status": "firing", "labels": {"alertname": "DrillAlert", "severity": "critical"}}}],
            "responses": [
                {"at": "1m", "user": "mallory", "command": f"/incident note {ref} drill was here"},
                {"at": "2m", "user": "mallory", "command": f"/incident resolve {ref}"},
                {"at": "3m", "user": "mallory", "command": f"/incident merge {ref}"},
                {"at": "4m", "user": "mallory", "command": f"/incident status {ref}"},
            ],
        },
        db_url,
    )
    assert [response.reply for response in result.responses] == [f"⚠️ there is no incident {ref} in this drill (it is a real incident)"] * 4
    real, _real_out, drill, _drill_out = _pair(db_url, engine, clock)
    try:
        incident = real.service.get(real_number)
        assert incident.status.value == "triggered" and len(real.service.timeline(real_number)) == entries_before
        with real.sessions() as session:
            assert session.scalar(select(IncidentRow.merged_into).where(IncidentRow.id == real_number)) is None
            drill_number = session.scalar(select(IncidentRow.id).where(IncidentRow.drill.is_(True)))
        assert drill_number is not None
        answer = real.commands.handle(f"/incident resolve INC-{drill_number}", operator)
        assert answer.text == f"⚠️ INC-{drill_number} is a drill's incident, not a real one"
        assert drill.service.get(drill_number).status.value != "resolved"
    finally:
        real.close()
        drill.close()
