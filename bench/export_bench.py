"""Time the post-mortem export of an incident with a long timeline.

    python bench/export_bench.py                      # temp SQLite, 10,000 entries, 5 runs
    python bench/export_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

Creates one incident whose timeline mixes every entry kind (with the documented ``data``
shapes), alerts and action items, then exports it as markdown and as JSON several times
and prints the median and best wall-clock time of each (load + build + render). On a
database you name, the incident is deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete

from bot.domain.clock import FrozenClock
from bot.domain.incident import Incident
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.export.document import build_document
from bot.export.loader import load_record
from bot.export.service import Exporter
from bot.store.db import make_engine, make_session_factory
from bot.store.incidents import IncidentRepository
from bot.store.migrate import upgrade
from bot.store.models import ActionItemRow, AlertRow, IncidentRow, OutboxRow, TimelineRow

START = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def entry_for(index: int, at: datetime) -> TimelineEntry:
    """A realistic mix: mostly notes and alert churn, some steps, escalations and flags."""
    people = ("alice", "bob", "carol", "dave", "<@U0ERIN>")
    actor = people[index % len(people)]
    kind_pick = index % 20
    if kind_pick < 8:
        return TimelineEntry(EntryKind.NOTE, at, actor, Source.SLACK, f"note {index}: checked `db-{index % 7}` | p99 *{index % 900}ms* <!here>")
    if kind_pick < 12:
        firing = kind_pick % 2 == 0
        labels = {"alertname": f"Alert{index % 50}", "service": f"svc-{index % 9}", "severity": "high", "env": "prod"}
        return TimelineEntry(
            EntryKind.ALERT_FIRING if firing else EntryKind.ALERT_RESOLVED,
            at,
            "alertmanager",
            Source.ALERTMANAGER,
            f"alert {labels['alertname']} {'firing' if firing else 'resolved'}",
            {"fingerprint": f"fp{index % 50}", "alertname": labels["alertname"], "labels": labels, "annotations": {"summary": "x"}, "starts_at": "2026-03-14T08:59:00Z", "ends_at": None, "generator_url": "https://prom.example/graph"},
        )
    if kind_pick < 15:
        return TimelineEntry(
            EntryKind.STEP_DONE if kind_pick != 14 else EntryKind.STEP_SKIPPED,
            at,
            actor,
            Source.SLACK,
            f"step {index % 12 + 1}",
            {"playbook_id": "checkout", "phase": "diagnosis", "step": index % 12 + 1, "text": f"Step {index % 12 + 1} | check things"},
        )
    if kind_pick == 15:
        return TimelineEntry(EntryKind.ESCALATED, at, "firebreak", Source.SCHEDULER, "escalated", {"level": index % 3 + 1, "targets": ["@oncall"], "reason": "quiet", "condition": "unacknowledged", "manual": False})
    if kind_pick == 16:
        return TimelineEntry(EntryKind.MESSAGE_FLAGGED, at, actor, Source.SLACK, "flagged", {"channel": "C1", "ts": f"{index}.0", "author": "dave", "text": f"look at <https://x.example|graph {index}>", "permalink": "https://slack.example/p1"})
    if kind_pick == 17:
        return TimelineEntry(EntryKind.REMINDER, at, "firebreak", Source.SCHEDULER, "no update for 30 minutes", {"quiet_seconds": 1800})
    if kind_pick == 18:
        return TimelineEntry(EntryKind.PAGERDUTY_EVENT, at, "pagerduty", Source.PAGERDUTY, "incident.annotated", {"event_type": "incident.annotated", "event_id": f"e{index}", "pagerduty_incident_id": "PD1"})
    return TimelineEntry(EntryKind.ROLE_ASSIGNED, at, "alice", Source.SLACK, f"{actor} is now scribe", {"role": "scribe", "user": actor, "previous": None})


def create_incident(sessions: Any, entries: int) -> int:
    incident, declared = Incident.declare(number=0, title="Checkout | payments failing", severity=Severity.P1, actor="alertmanager", source=Source.ALERTMANAGER, at=START)
    with sessions.begin() as session:
        IncidentRepository.insert(session, incident, now=START)
        timeline = declared + [entry_for(i, START + timedelta(seconds=5 * (i + 1))) for i in range(entries - 1)]
        for chunk in range(0, len(timeline), 2000):
            IncidentRepository.append(session, incident.number, timeline[chunk : chunk + 2000])
        for i in range(50):
            session.add(AlertRow(incident_id=incident.number, fingerprint=f"fp{i}", status="firing", labels={"alertname": f"Alert{i}", "service": f"svc-{i % 9}"}, annotations={}, starts_at=START, ends_at=None, generator_url="https://prom.example/graph", first_seen_at=START, updated_at=START))
        for i in range(20):
            session.add(ActionItemRow(incident_id=incident.number, text=f"follow-up {i} | <b>", created_by="alice", created_at=START, owner=None, done=False))
    return incident.number


def timed(runs: int, work: Callable[[], str]) -> tuple[list[float], int]:
    samples, size = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        size = len(work().encode("utf-8"))
        samples.append(time.perf_counter() - began)
    return samples, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the incident in a database you named")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        sessions = make_session_factory(engine)
        began = time.perf_counter()
        number = create_incident(sessions, args.entries)
        print(f"database: {engine.url.render_as_string(hide_password=True)} ({engine.dialect.name})")
        print(f"created INC-{number} with {args.entries} timeline entries in {time.perf_counter() - began:.2f}s")
        exporter = Exporter(sessions, clock=FrozenClock(START + timedelta(days=1)))

        def load() -> str:
            with sessions() as session:
                return str(len(load_record(session, number).entries))

        with sessions() as session:
            document = build_document(load_record(session, number), now=START + timedelta(days=1))
        results = {
            "load from database": timed(args.runs, load),
            "build document (pure)": timed(args.runs, lambda: str(build_document(_record(sessions, number), now=START))),
            "render markdown only": timed(args.runs, lambda: exporter.renderer.markdown(document)),
            "export md (end to end)": timed(args.runs, lambda: exporter.render(number, "md")),
            "export json (end to end)": timed(args.runs, lambda: exporter.render(number, "json")),
        }
        print(f"{'step':<26} {'median':>9} {'best':>9} {'output':>10}   ({args.runs} runs)")
        for name, (samples, size) in results.items():
            output = f"{size / 1024:.0f} KiB" if name.startswith("export") or name.startswith("render") else ""
            print(f"{name:<26} {statistics.median(samples) * 1000:>7.0f}ms {min(samples) * 1000:>7.0f}ms {output:>10}")
        if args.database_url and not args.keep:
            with sessions.begin() as session:
                for table in (TimelineRow, AlertRow, ActionItemRow, OutboxRow):
                    session.execute(delete(table).where(table.incident_id == number))
                session.execute(delete(IncidentRow).where(IncidentRow.id == number))
        engine.dispose()
    return 0


_RECORD_CACHE: dict[int, Any] = {}


def _record(sessions: Any, number: int) -> Any:
    """The record is loaded once so 'build document' measures only the pure part."""
    if number not in _RECORD_CACHE:
        with sessions() as session:
            _RECORD_CACHE[number] = load_record(session, number)
    return _RECORD_CACHE[number]


if __name__ == "__main__":
    raise SystemExit(main())
