"""Writing to the outbox, inside the caller's transaction.

Idempotency keys are unique in the table, so enqueuing the same key twice (a replayed
webhook, a retried command) is a no-op; ``coalesce_key`` coalesces repeated updates of one
thing (the pinned summary) into a single pending message. Such a message renders its thing
as it is when delivered, so it never holds back the messages queued after it in its
conversation (bot/delivery/worker.py), and a ``not_before`` on it batches a burst of
updates into one delivery.

Every row carries a ``priority``: the rank of its incident's severity (P0 = 0 … INFO = 4),
3 for messages about no incident. The worker claims lower first ("worst first"), and
:func:`reprioritise` moves an incident's pending rows when its severity changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Result, bindparam, case, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.domain.severity import Severity
from bot.store.db import is_drill
from bot.store.models import IncidentRow, OutboxRow

PENDING = "pending"
IN_FLIGHT = "in_flight"
DELIVERED = "delivered"
FAILED = "failed"


#: The table itself (``__table__`` is typed as any FromClause), for Core statements.
_OUTBOX = OutboxRow.metadata.tables[OutboxRow.__tablename__]

#: Typed as the column: bound through the UTC datetime type, so SQLite stores it as it
#: stores every other time (and compares it as text the same way).
_COALESCE_DUE = bindparam("coalesce_due", type_=_OUTBOX.c.next_attempt_at.type)
#: Built once: Core statements with bound parameters hit SQLAlchemy's compiled cache on
#: every call, which matters on the webhook hot path (one enqueue per change or more).
_COALESCE = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.coalesce_key == bindparam("coalesce_with"),
        _OUTBOX.c.status == PENDING,
        _OUTBOX.c.attempts == 0,
        _OUTBOX.c.drill == bindparam("coalesce_drill"),
    )
    .values(
        payload=bindparam("coalesced_payload", type_=_OUTBOX.c.payload.type),
        # The pending message goes out when the earlier of the two wanted it: a change a
        # person made is not held back by a batching delay an alert update asked for.
        # One held back by pacing (tried, nothing sent: ``last_error`` set) keeps its turn.
        next_attempt_at=case(
            ((_COALESCE_DUE < _OUTBOX.c.next_attempt_at) & _OUTBOX.c.last_error.is_(None), _COALESCE_DUE),
            else_=_OUTBOX.c.next_attempt_at,
        ),
    )
)
_REPRIORITISE = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.incident_id == bindparam("incident"),
        _OUTBOX.c.status == PENDING,
        _OUTBOX.c.priority != bindparam("priority"),
    )
    .values(
        priority=bindparam("priority"),
        # A message only deferred by pacing (tried, nothing sent, no attempt counted) that
        # just became more urgent competes again now instead of at its old turn; real
        # backoff and a scheduled not_before (an archive) keep their time.
        next_attempt_at=case(
            (
                (bindparam("priority") < _OUTBOX.c.priority)
                & (_OUTBOX.c.attempts == 0)
                & _OUTBOX.c.last_error.is_not(None)
                & (_OUTBOX.c.next_attempt_at > bindparam("now")),
                bindparam("now"),
            ),
            else_=_OUTBOX.c.next_attempt_at,
        ),
    )
)

NO_INCIDENT_PRIORITY = 3
"""The priority of a message about no incident (a test notice): a P3's."""


def priority_of(severity: Severity | None) -> int:
    """Lower goes first: the severity's rank (P0 = 0 … INFO = 4); 3 without an incident."""
    return NO_INCIDENT_PRIORITY if severity is None else severity.rank


_INSERTS = {
    name: dialect.insert(_OUTBOX).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(_OUTBOX.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


#: The columns ``enqueue`` writes, in the order of :data:`_COALESCE_OR_INSERT`'s SELECT.
_ENQUEUED = (
    "idempotency_key", "target", "operation", "payload", "incident_id", "ordering_key", "coalesce_key",
    "priority", "status", "attempts", "next_attempt_at", "created_at", "drill",
)  # fmt: skip
#: PostgreSQL: coalesce into the pending message, or else insert, in one round trip (a
#: data-modifying CTE runs once; the INSERT sees whether it matched).
_COALESCED = _COALESCE.returning(_OUTBOX.c.id).cte("coalesced")
_COALESCE_OR_INSERT = (
    postgresql.insert(_OUTBOX)
    .from_select(
        list(_ENQUEUED),
        select(
            *(
                bindparam("coalesced_payload" if name == "payload" else f"new_{name}", type_=_OUTBOX.c[name].type)
                for name in _ENQUEUED
            )
        ).where(~exists(select(_COALESCED.c.id))),
    )
    .on_conflict_do_nothing(index_elements=["idempotency_key"])
    .returning(_OUTBOX.c.id)
)


def enqueue(
    session: Session,
    *,
    target: str,
    operation: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
    incident_id: int | None = None,
    ordering_key: str | None = None,
    coalesce_key: str | None = None,
    not_before: datetime | None = None,
    severity: Severity | None = None,
) -> bool:
    """Queue one message; returns False when it was a duplicate or was coalesced.

    ``severity`` is the incident's, which ranks the message in the queue. Callers holding
    the incident pass it (no extra query on the webhook path); without it, a message about
    an incident looks the severity up.
    """
    dialect = session.get_bind().dialect.name
    if coalesce_key is not None and dialect == "postgresql" and severity is not None:
        values = _row_values(
            idempotency_key, target, operation, payload, incident_id, ordering_key, coalesce_key, severity, not_before, now, is_drill(session)
        )
        # Bound as ``new_…``: a parameter named like a column would join the UPDATE's SET.
        params = {("coalesced_payload" if name == "payload" else f"new_{name}"): value for name, value in values.items()}
        params.update(coalesce_with=coalesce_key, coalesce_drill=values["drill"], coalesce_due=values["next_attempt_at"])
        return session.execute(_COALESCE_OR_INSERT, params).scalar_one_or_none() is not None
    if coalesce_key is not None:
        coalesced = session.execute(
            _COALESCE,
            {"coalesce_with": coalesce_key, "coalesced_payload": payload, "coalesce_drill": is_drill(session), "coalesce_due": not_before or now},
        )
        if _rows_matched(coalesced):
            return False
    if severity is None and incident_id is not None:
        severity = _severity_of(session, incident_id)
    values = _row_values(
        idempotency_key, target, operation, payload, incident_id, ordering_key, coalesce_key, severity, not_before, now, is_drill(session)
    )
    # RETURNING, not rowcount: the caller must know whether this was a duplicate, and
    # drivers differ on the rowcount of an INSERT … ON CONFLICT DO NOTHING.
    inserted = session.execute(_INSERTS[dialect], values).scalar_one_or_none()
    return inserted is not None


def _row_values(
    idempotency_key: str,
    target: str,
    operation: str,
    payload: dict[str, Any],
    incident_id: int | None,
    ordering_key: str | None,
    coalesce_key: str | None,
    severity: Severity | None,
    not_before: datetime | None,
    now: datetime,
    drill: bool,
) -> dict[str, Any]:
    return {
        "idempotency_key": idempotency_key,
        "target": target,
        "operation": operation,
        "payload": payload,
        "incident_id": incident_id,
        "ordering_key": ordering_key,
        "coalesce_key": coalesce_key,
        "priority": priority_of(severity),
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "created_at": now,
        # A drill's session marks its messages: only a drill's worker delivers them.
        "drill": drill,
    }


def _severity_of(session: Session, incident_id: int) -> Severity | None:
    value = session.scalar(select(IncidentRow.severity).where(IncidentRow.id == incident_id))
    try:
        return Severity(value) if value is not None else None
    except ValueError:
        return None


def reprioritise(session: Session, incident_id: int, severity: Severity, *, now: datetime) -> int:
    """An incident's severity changed: its pending messages take the new rank (one UPDATE).

    Raised, those merely waiting for their paced turn are due ``now`` (so a P2 raised to P0
    goes ahead of the P2s it was queued behind). Rows in flight keep their rank (they are
    already claimed); delivered ones do not matter. Returns how many rows moved.
    """
    result = session.execute(_REPRIORITISE, {"incident": incident_id, "priority": priority_of(severity), "now": now})
    return _rows_matched(result)


def depth(session: Session) -> dict[str, int]:
    """Messages not yet delivered, by status (for /metrics and the readiness of a drain). A
    drill's rows on a shared database are never delivered by the real worker: not counted.

    Every status is there, 0 when none is in it: a series that only appears once something
    waits reads as "no data" on a dashboard, and an alert on it cannot tell idle from absent."""
    statement = (
        select(OutboxRow.status, func.count())
        .where(OutboxRow.status != DELIVERED, OutboxRow.drill.is_(False))
        .group_by(OutboxRow.status)
    )
    counts = dict.fromkeys((PENDING, IN_FLIGHT, FAILED), 0)
    for status, count in session.execute(statement):
        counts[status] = int(count)
    return counts


def pending_by_severity(session: Session) -> dict[str, int]:
    """Messages waiting to be delivered, by the severity they are ranked as (P0 … INFO).

    Rows about no incident rank as P3 and are counted there; a drill's rows are not counted.
    Every severity is there, 0 when nothing of it waits (see ``depth``).
    """
    statement = (
        select(OutboxRow.priority, func.count()).where(OutboxRow.status == PENDING, OutboxRow.drill.is_(False)).group_by(OutboxRow.priority)
    )
    names = {severity.rank: severity.value for severity in Severity}
    counts: dict[str, int] = {name: 0 for _rank, name in sorted(names.items())}
    for priority, count in session.execute(statement):
        name = names.get(int(priority), str(priority))
        counts[name] = counts.get(name, 0) + int(count)
    return counts


def _rows_matched(result: Result[Any]) -> int:
    """How many rows an UPDATE matched (``Session.execute`` is typed as any ``Result``)."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"an UPDATE gives a CursorResult, not {type(result).__name__}")
    return int(result.rowcount or 0)
