"""Loading and saving incidents and their timelines: the only place rows meet the domain."""

from __future__ import annotations

import builtins  # ``list`` is a method name in IncidentRepository's body
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from bot.domain.errors import IncidentNotFound
from bot.domain.incident import Incident, Role, Status, format_number
from bot.domain.severity import Severity
from bot.domain.source_time import SourceTime
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.store import bulk
from bot.store.held_locks import held, hold
from bot.store.models import ActionItemRow, IncidentRow, TimelineRow
from bot.store.receipt import stamp

#: ``session.info`` key: incident rows inserted in the session, held strongly (see ``insert``).
_KEPT_ROWS = "firebreak_inserted_incidents"


#: The timeline's columns as ``bulk.insert_rows`` sends them (PostgreSQL types).
_TIMELINE_COLUMNS = bulk.columns_of(TimelineRow.__table__)


def _insert_returning_ids(session: Session, values: list[dict[str, Any]]) -> list[int]:
    """Ids of the inserted timeline rows in the order of ``values``.

    PostgreSQL: one JSON document for all rows (``bot/store/bulk.py``: a storm's appends
    are hundreds of rows, and a parameter per value cost more than the rows). SQLite: Core
    on the session's connection, ids sorted: the transaction holds SQLite's only write lock
    (BEGIN IMMEDIATE) and rowids are assigned in VALUES order.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return bulk.insert_rows(connection, TimelineRow.__tablename__, _TIMELINE_COLUMNS, values, returning="id")
    return sorted(connection.execute(insert(TimelineRow).returning(TimelineRow.id), values).scalars())


def _ordered_roles(stored: dict[str, str]) -> dict[Role, str]:
    """Roles in ``Role``'s order (commander, comms, scribe), not as stored: PostgreSQL's jsonb
    keeps object keys shortest first, which listed the scribe before the commander."""
    given = {Role(role): user for role, user in stored.items()}  # an unknown role fails here, as it always did
    return {role: given[role] for role in Role if role in given}


def to_domain(row: IncidentRow) -> Incident:
    return Incident(
        number=row.id,
        title=row.title,
        severity=Severity(row.severity),
        status=Status(row.status),
        created_at=row.created_at,
        source=Source(row.source),
        description=row.description,
        acknowledged_at=row.acknowledged_at,
        mitigated_at=row.mitigated_at,
        resolved_at=row.resolved_at,
        roles=_ordered_roles(row.roles or {}),
        labels=dict(row.labels or {}),
        links=dict(row.links or {}),
        dedup_key=row.dedup_key,
        playbook_id=row.playbook_id,
        reopen_count=row.reopen_count,
    )


def _copy_into(row: IncidentRow, incident: Incident) -> None:
    row.title = incident.title
    row.description = incident.description
    row.severity = incident.severity.value
    row.status = incident.status.value
    row.source = incident.source.value
    row.acknowledged_at = incident.acknowledged_at
    row.mitigated_at = incident.mitigated_at
    row.resolved_at = incident.resolved_at
    row.roles = {role.value: user for role, user in incident.roles.items()}
    row.labels = dict(incident.labels)
    row.links = dict(incident.links)
    row.dedup_key = incident.dedup_key
    row.playbook_id = incident.playbook_id
    row.reopen_count = incident.reopen_count


_SOURCE_TIMES = frozenset(member.value for member in SourceTime)


def source_time_of(value: str | None) -> SourceTime | None:
    """The stored ``source_time`` (NULL on entries recorded before it was kept)."""
    return SourceTime(value) if value in _SOURCE_TIMES else None


def entry_from_row(row: TimelineRow) -> TimelineEntry:
    return TimelineEntry(
        kind=EntryKind(row.kind),
        at=row.at,
        actor=row.actor,
        source=Source(row.source),
        text=row.text,
        data=dict(row.data or {}),
        received_at=row.received_at,
        source_at=row.source_at,
        source_time=source_time_of(row.source_time),
    )


class IncidentRepository:
    """Keyword-only, session-taking functions in one namespace (Dispatch's service style)."""

    @staticmethod
    def insert(session: Session, incident: Incident, *, now: datetime, drill: bool = False) -> IncidentRow:
        """Insert and flush so the database assigns the public number (``drill``: a rehearsal's)."""
        row = IncidentRow(created_at=incident.created_at, updated_at=now, last_activity_at=now, drill=drill)
        _copy_into(row, incident)
        session.add(row)
        session.flush()
        # The identity map holds rows weakly: keep this one for the session, so what the
        # declaration does next (its group, playbook, escalation plan) finds it there
        # instead of selecting it again, three times over.
        session.info.setdefault(_KEPT_ROWS, []).append(row)
        incident.number = row.id
        return row

    @staticmethod
    def lock_rows(session: Session, numbers: Iterable[int]) -> None:
        """Lock several incidents in id order in one statement; ``get_row(for_update=True)``
        then finds them without another round trip (bot/store/held_locks.py)."""
        statement = select(IncidentRow).where(IncidentRow.id.in_(sorted(set(numbers)))).order_by(IncidentRow.id).with_for_update()
        hold(session, IncidentRow.__tablename__, {row.id: row for row in session.scalars(statement)})

    @staticmethod
    def get_row(session: Session, number: int, *, for_update: bool = False) -> IncidentRow:
        """The row; without ``for_update`` from the session's identity map when it is there."""
        locked = held(session, IncidentRow.__tablename__, number, IncidentRow) if for_update else None
        if locked is not None:
            row: IncidentRow | None = locked
        elif for_update:
            # The locked row as committed now, even when an earlier read (or a rolled-back
            # savepoint) left an older copy in the session: decisions under the lock must
            # not be made on stale fields.
            statement = select(IncidentRow).where(IncidentRow.id == number).with_for_update().execution_options(populate_existing=True)
            row = session.scalars(statement).one_or_none()
        else:
            row = session.get(IncidentRow, number)
        if row is None:
            raise IncidentNotFound(f"there is no incident {format_number(number)}")
        return row

    @staticmethod
    def get(session: Session, number: int, *, for_update: bool = False) -> Incident:
        return to_domain(IncidentRepository.get_row(session, number, for_update=for_update))

    @staticmethod
    def save(session: Session, incident: Incident, *, now: datetime) -> IncidentRow:
        # Callers loaded (and usually locked) the row in this session already: take it from
        # the identity map instead of selecting it again.
        row = session.get(IncidentRow, incident.number)
        if row is None:
            raise IncidentNotFound(f"there is no incident {format_number(incident.number)}")
        _copy_into(row, incident)
        row.updated_at = now
        return row

    @staticmethod
    def append(session: Session, number: int, entries: Iterable[TimelineEntry]) -> list[int]:
        """Insert timeline rows in one statement; their ids, in the order of ``entries``.

        A Core INSERT … RETURNING rather than ORM objects: an alert burst appends many rows
        per webhook, and the unit of work costs far more than the rows themselves.
        """
        entries = [stamp(entry) for entry in entries]
        values: list[dict[str, Any]] = [
            {
                "incident_id": number,
                "at": entry.at,
                "actor": entry.actor,
                "source": entry.source.value,
                "kind": entry.kind.value,
                "text": entry.text,
                "data": entry.data,
                "received_at": entry.received_at,
                "source_at": entry.source_at,
                "source_time": entry.source_time.value if entry.source_time else None,
            }
            for entry in entries
        ]
        if not values:
            return []
        incident_row = session.get(IncidentRow, number)
        if incident_row is not None:
            incident_row.last_activity_at = max(entry.at for entry in entries)
        session.flush()
        return _insert_returning_ids(session, values)

    @staticmethod
    def timeline(
        session: Session, number: int, *, kinds: Collection[EntryKind] | None = None, leaving_out: Collection[EntryKind] = ()
    ) -> list[TimelineEntry]:
        """The incident's entries in time order; ``kinds`` keeps only those, ``leaving_out`` drops
        those. An incident of a storm holds an entry per alert (thousands): a question about
        people or one kind of entry asks the database for just those rows."""
        statement = select(TimelineRow).where(TimelineRow.incident_id == number).order_by(TimelineRow.at, TimelineRow.id)
        if kinds is not None:
            statement = statement.where(TimelineRow.kind.in_(sorted(kind.value for kind in kinds)))
        if leaving_out:
            statement = statement.where(TimelineRow.kind.not_in(sorted(kind.value for kind in leaving_out)))
        return [entry_from_row(row) for row in session.scalars(statement)]

    @staticmethod
    def recent(session: Session, *, open_only: bool = False, limit: int = 100, drills: bool = False) -> Sequence[Incident]:
        """The newest ``limit`` real incidents, newest first (only unresolved ones with ``open_only``);
        with ``drills``, only a drill's: rehearsals never show among real ones."""
        statement = select(IncidentRow).where(IncidentRow.drill.is_(drills)).order_by(IncidentRow.id.desc()).limit(limit)
        if open_only:
            statement = statement.where(IncidentRow.status != Status.RESOLVED.value)
        return [to_domain(row) for row in session.scalars(statement)]

    @staticmethod
    def add_action_item(session: Session, number: int, *, text: str, created_by: str, at: datetime) -> ActionItemRow:
        row = ActionItemRow(incident_id=number, text=text, created_by=created_by, created_at=at)
        session.add(row)
        return row

    @staticmethod
    def action_items(session: Session, number: int) -> builtins.list[ActionItemRow]:
        statement = select(ActionItemRow).where(ActionItemRow.incident_id == number).order_by(ActionItemRow.id)
        return list(session.scalars(statement))

    @staticmethod
    def counts_by_severity_status(session: Session) -> builtins.list[tuple[str, str, int]]:
        statement = (  # drills never count in the figures
            select(IncidentRow.severity, IncidentRow.status, func.count())
            .where(IncidentRow.drill.is_(False))
            .group_by(IncidentRow.severity, IncidentRow.status)
        )
        return [(severity, status, count) for severity, status, count in session.execute(statement)]
