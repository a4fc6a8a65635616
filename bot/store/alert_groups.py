"""The children of incidents (``alert_groups`` rows) and the domain ``Child`` they map to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from bot.domain.children import Child, JoinedBy
from bot.domain.severity import Severity
from bot.store.held_locks import held, hold
from bot.store.models import AlertGroupRow, AlertRow

FIRING = "firing"
RESOLVED = "resolved"


def to_child(row: AlertGroupRow, *, alerts_firing: int = 0, alerts_total: int = 0) -> Child:
    return Child(
        child=row.child_number,
        incident=row.incident_id,
        dedup_key=row.dedup_key,
        source=row.source,
        title=row.title,
        severity=Severity(row.severity),
        firing=row.status == FIRING,
        joined_by=JoinedBy(row.joined_by),
        joined_at=row.joined_at,
        resolved_at=row.resolved_at,
        labels=dict(row.labels or {}),
        correlation=dict(row.correlation or {}),
        truncated_alerts=row.truncated_alerts,
        alerts_firing=alerts_firing,
        alerts_total=alerts_total,
    )


def lock_by_dedup_keys(session: Session, dedup_keys: Sequence[str]) -> dict[str, AlertGroupRow]:
    """Several groups' rows, locked in id order in one statement; ``lock_by_dedup_key`` then
    finds them without another round trip (bot/store/held_locks.py)."""
    statement = select(AlertGroupRow).where(AlertGroupRow.dedup_key.in_(list(dedup_keys))).order_by(AlertGroupRow.id).with_for_update()
    rows = {row.dedup_key: row for row in session.scalars(statement)}
    hold(session, AlertGroupRow.__tablename__, rows)
    return rows


def lock_by_dedup_key(session: Session, dedup_key: str) -> AlertGroupRow | None:
    """The group's row, locked for the transaction (later notifications of one group queue up)."""
    locked = held(session, AlertGroupRow.__tablename__, dedup_key, AlertGroupRow)
    if locked is not None:
        return locked
    statement = select(AlertGroupRow).where(AlertGroupRow.dedup_key == dedup_key).with_for_update()
    return session.scalars(statement).one_or_none()


def next_child_number(session: Session, incident_id: int) -> int:
    current = session.scalar(select(func.max(AlertGroupRow.child_number)).where(AlertGroupRow.incident_id == incident_id))
    return int(current or 0) + 1


def add(
    session: Session,
    *,
    incident_id: int,
    dedup_key: str,
    source: str,
    title: str,
    severity: Severity,
    joined_by: JoinedBy,
    at: datetime,
    labels: Mapping[str, str] | None = None,
    correlation: Mapping[str, str] | None = None,
    firing: bool = True,
    child_number: int | None = None,
) -> AlertGroupRow:
    """Insert a child (flushed, so a racing insert of the same group fails here); its short
    id is the next free one unless the caller knows it (``child_number``)."""
    row = AlertGroupRow(
        incident_id=incident_id,
        child_number=next_child_number(session, incident_id) if child_number is None else child_number,
        dedup_key=dedup_key,
        source=source,
        title=title[:200],
        labels=dict(labels or {}),
        correlation=dict(correlation or {}),
        severity=severity.value,
        status=FIRING if firing else RESOLVED,
        joined_by=joined_by.value,
        truncated_alerts=0,
        joined_at=at,
        resolved_at=None if firing else at,
    )
    session.add(row)
    session.flush()
    return row


def children(session: Session, incident_id: int, *, limit: int | None = None) -> list[Child]:
    """The children of the incident with their alert counts, in short-id order: every one,
    or the first ``limit`` (a page that shows a storm incident must not read and print
    thousands of groups on each refresh; ``count_children`` says how many there are)."""
    query = select(AlertGroupRow).where(AlertGroupRow.incident_id == incident_id).order_by(AlertGroupRow.child_number)
    rows = list(session.scalars(query if limit is None else query.limit(limit)))
    counts: dict[int, tuple[int, int]] = {}
    statement = (
        select(AlertRow.group_id, func.count(), func.sum(case((AlertRow.status == FIRING, 1), else_=0)))
        .where(AlertRow.incident_id == incident_id)
        .group_by(AlertRow.group_id)
    )
    if limit is not None:
        statement = statement.where(AlertRow.group_id.in_([row.id for row in rows]))
    for group_id, total, firing in session.execute(statement):
        if group_id is not None:
            counts[int(group_id)] = (int(firing or 0), int(total))
    result = []
    for row in rows:
        firing, total = counts.get(row.id, (0, 0))
        result.append(to_child(row, alerts_firing=firing, alerts_total=total))
    return result


def count_children(session: Session, incident_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(AlertGroupRow).where(AlertGroupRow.incident_id == incident_id)) or 0)


def move(session: Session, row: AlertGroupRow, *, to_incident: int, joined_by: JoinedBy, at: datetime) -> AlertGroupRow:
    """Move a child (and its alerts) to another incident, where it gets the next short id."""
    row.child_number = next_child_number(session, to_incident)
    row.incident_id = to_incident
    row.joined_by = joined_by.value
    row.joined_at = at
    session.flush()
    session.execute(update(AlertRow).where(AlertRow.group_id == row.id).values(incident_id=to_incident))
    return row


def set_state(row: AlertGroupRow, *, firing: bool, at: datetime, truncated_alerts: int | None = None, severity: Severity | None = None) -> None:
    """Record the group's latest state as its notifications leave it."""
    if firing and row.status != FIRING:
        row.status, row.resolved_at = FIRING, None
    elif not firing and row.status == FIRING:
        row.status, row.resolved_at = RESOLVED, at
    if truncated_alerts is not None:
        row.truncated_alerts = truncated_alerts
    if severity is not None:
        row.severity = severity.value


def rows_of(session: Session, incident_id: int, *, for_update: bool = False) -> list[AlertGroupRow]:
    """The incident's children rows in short-id order (locked for a split or merge)."""
    statement = select(AlertGroupRow).where(AlertGroupRow.incident_id == incident_id).order_by(AlertGroupRow.child_number)
    if for_update:
        statement = statement.with_for_update()
    return list(session.scalars(statement))


def alertnames(session: Session, incident_id: int) -> dict[int, set[str]]:
    """The ``alertname`` values each child of the incident carries (its group labels and its
    alerts' labels), by short id."""
    found: dict[int, set[str]] = {}
    by_id: dict[int, int] = {}
    for row in rows_of(session, incident_id):
        by_id[row.id] = row.child_number
        names = found.setdefault(row.child_number, set())
        name = (row.labels or {}).get("alertname")
        if isinstance(name, str) and name:
            names.add(name)
    statement = select(AlertRow.group_id, AlertRow.labels).where(AlertRow.incident_id == incident_id, AlertRow.group_id.is_not(None))
    for group_id, labels in session.execute(statement):
        number = by_id.get(int(group_id))
        name = (labels or {}).get("alertname")
        if number is not None and isinstance(name, str) and name:
            found[number].add(name)
    return found
