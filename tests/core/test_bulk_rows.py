"""Timeline entries and alert rows written many at a time come back exactly as given.

On PostgreSQL they travel as one JSON document (bot/store/bulk.py), on SQLite as
SQLAlchemy's many-row INSERT: the same rows must come back either way, in order, with
hostile text intact and timestamps meaning the same instant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.domain.children import JoinedBy
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.ingest.alertmanager.alerts import AlertState, write_alerts
from bot.service.incidents import IncidentService
from bot.store import alert_groups, bulk
from bot.store.incidents import IncidentRepository
from bot.store.models import AlertRow, TimelineRow

HOSTILE = [
    "plain",
    "quote ' and \" double",
    "back\\slash \\n not a newline",
    "%(rows)s %s {} $1 ::jsonb",
    "'); DROP TABLE timeline_entries; --",
    "line one\nline two\ttab",
    "ünïcödé 🚨 中文 \u202e reversed",
    "x" * 20_000,
]


def _entries(at: datetime) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            kind=EntryKind.NOTE,
            at=at + timedelta(microseconds=index),
            actor=f"actor-{index}",
            source=Source.CONSOLE,
            text=text,
            data={"index": index, "text": text, "nested": {"list": [1, 2.5, None, True], "empty": {}}, "big": 2**53 + index},
        )
        for index, text in enumerate(HOSTILE)
    ]


def test_appended_entries_come_back_in_order_and_intact(container, clock) -> None:
    service: IncidentService = container.service
    incident = service.declare(title="t", severity=Severity.P2, actor="a", source=Source.CONSOLE)
    entries = _entries(clock.now())
    with container.sessions.begin() as session:
        ids = IncidentRepository.append(session, incident.number, entries)
    assert ids == sorted(ids) and len(set(ids)) == len(entries)
    with container.sessions() as session:
        rows = {row.id: row for row in session.scalars(select(TimelineRow).where(TimelineRow.id.in_(ids)))}
    for entry_id, entry in zip(ids, entries, strict=True):
        row = rows[entry_id]
        assert (row.text, row.actor, row.kind, row.source) == (entry.text, entry.actor, "note", "console")
        assert row.data == entry.data
        assert row.at == entry.at and row.at.utcoffset() == timedelta(0)


def test_timestamps_mean_the_same_instant_whatever_their_zone(container) -> None:
    service: IncidentService = container.service
    incident = service.declare(title="t", severity=Severity.P2, actor="a", source=Source.CONSOLE)
    instant = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
    given = [instant, instant.astimezone(timezone(timedelta(hours=5, minutes=30))), instant.astimezone(timezone(timedelta(hours=-9)))]
    entries = [TimelineEntry(kind=EntryKind.NOTE, at=at, actor="a", source=Source.CONSOLE, text=str(n)) for n, at in enumerate(given)]
    with container.sessions.begin() as session:
        ids = IncidentRepository.append(session, incident.number, entries)
    with container.sessions() as session:
        stored = [session.get(TimelineRow, entry_id) for entry_id in ids]
    assert [row.at for row in stored if row is not None] == [instant, instant, instant]


def test_a_naive_timestamp_is_utc_as_everywhere_else(db_backend: str, container) -> None:
    if db_backend != "postgres":
        pytest.skip("bot/store/bulk.py is PostgreSQL's path")
    incident = container.service.declare(title="t", severity=Severity.P2, actor="a", source=Source.CONSOLE)
    columns = (("incident_id", "integer"), ("at", "timestamptz"), ("actor", "varchar"), ("source", "varchar"), ("kind", "varchar"), ("text", "text"), ("data", "jsonb"))
    row = {"incident_id": incident.number, "at": datetime(2026, 3, 14, 9, 0), "actor": "a", "source": "console", "kind": "note", "text": "n", "data": {}}
    with container.engine.begin() as connection:
        (entry_id,) = bulk.insert_rows(connection, "timeline_entries", columns, [row], returning="id")
    with container.sessions() as session:
        stored = session.get(TimelineRow, entry_id)
    assert stored is not None and stored.at == datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def _alert_values(number: int, group_id: int, fingerprint: str, now: datetime, **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "incident_id": number,
        "group_id": group_id,
        "fingerprint": fingerprint,
        "status": "firing",
        "labels": {"alertname": "A", "instance": fingerprint, "quote": "'\""},
        "annotations": {"summary": HOSTILE[4]},
        "starts_at": now,
        "ends_at": None,
        "generator_url": None,
        "first_seen_at": now,
        "updated_at": now,
    }
    values.update(changes)
    return values


def test_alert_rows_are_inserted_then_updated_by_group_and_fingerprint(container, clock) -> None:
    service: IncidentService = container.service
    now = clock.now()
    incident = service.declare(title="t", severity=Severity.P2, actor="a", source=Source.CONSOLE)
    with container.sessions.begin() as session:
        groups = [
            alert_groups.add(
                session, incident_id=incident.number, dedup_key=f"k{n}", source="alertmanager", title="g", severity=Severity.P2, joined_by=JoinedBy.OPENED, at=now
            ).id
            for n in range(2)
        ]
        states = {f"{group}:{fp}": AlertState(_alert_values(incident.number, group, fp, now)) for group in groups for fp in ("aa", "bb")}
        for state in states.values():
            state.dirty = True
        write_alerts(session, states)
    later = now + timedelta(minutes=3)
    with container.sessions.begin() as session:
        # The same fingerprint in the first group only resolves; the second group's stays firing.
        changed = states[f"{groups[0]}:aa"]
        changed.values.update(status="resolved", ends_at=later, updated_at=later, labels={"new": "labels"})
        changed.dirty = True
        write_alerts(session, states)
    with container.sessions() as session:
        rows = {(row.group_id, row.fingerprint): row for row in session.scalars(select(AlertRow))}
    assert len(rows) == 4
    resolved = rows[(groups[0], "aa")]
    assert (resolved.status, resolved.ends_at, resolved.updated_at, resolved.labels) == ("resolved", later, later, {"new": "labels"})
    for key in [(groups[0], "bb"), (groups[1], "aa"), (groups[1], "bb")]:
        row = rows[key]
        assert (row.status, row.ends_at, row.labels["quote"], row.annotations["summary"]) == ("firing", None, "'\"", HOSTILE[4])


def test_a_float_json_cannot_carry_is_stored_as_null_not_refused(db_backend: str, container) -> None:
    if db_backend != "postgres":
        pytest.skip("bot/store/bulk.py is PostgreSQL's path")
    incident = container.service.declare(title="t", severity=Severity.P2, actor="a", source=Source.CONSOLE)
    entry = TimelineEntry(kind=EntryKind.NOTE, at=datetime(2026, 3, 14, tzinfo=UTC), actor="a", source=Source.CONSOLE, text="n", data={"score": float("nan"), 1: "int key"})
    with container.sessions.begin() as session:
        (entry_id,) = IncidentRepository.append(session, incident.number, [entry])
    with container.sessions() as session:
        stored = session.get(TimelineRow, entry_id)
    assert stored is not None and stored.data == {"score": None, "1": "int key"}


def test_a_timestamp_whose_offset_postgresql_cannot_parse_is_stored_as_its_instant(container) -> None:
    """PostgreSQL takes UTC offsets up to ±15:59; Python and RFC 3339 allow up to ±23:59.
    ``UtcDateTime`` sends UTC, and so must the JSON document."""
    incident = container.service.declare(title="t", severity=Severity.P2, actor="a", source=Source.CONSOLE)
    instant = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
    given = [instant.astimezone(timezone(timedelta(hours=20))), instant.astimezone(timezone(-timedelta(hours=23, minutes=59)))]
    entries = [TimelineEntry(kind=EntryKind.NOTE, at=at, actor="a", source=Source.CONSOLE, text=str(n), source_at=at) for n, at in enumerate(given)]
    with container.sessions.begin() as session:
        ids = IncidentRepository.append(session, incident.number, entries)
    with container.sessions() as session:
        stored = [session.get(TimelineRow, entry_id) for entry_id in ids]
    assert [(row.at, row.source_at) for row in stored if row is not None] == [(instant, instant), (instant, instant)]
