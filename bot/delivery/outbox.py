"""Writing to the outbox, inside the caller's transaction.

Idempotency keys are unique in the table, so enqueuing the same key twice (a replayed
webhook, a retried command) is a no-op; ``coalesce_key`` folds repeated updates of one
thing (the pinned summary) into a single pending message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.store.models import OutboxRow

PENDING = "pending"
IN_FLIGHT = "in_flight"
DELIVERED = "delivered"
FAILED = "failed"


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
) -> bool:
    """Queue one message; returns False when it was a duplicate or was coalesced."""
    if coalesce_key is not None:
        folded = session.execute(
            update(OutboxRow)
            .where(OutboxRow.coalesce_key == coalesce_key, OutboxRow.status == PENDING, OutboxRow.attempts == 0)
            .values(payload=payload)
            .execution_options(synchronize_session=False)  # nobody holds outbox rows in this session
        )
        if folded.rowcount:
            return False
    values = {
        "idempotency_key": idempotency_key,
        "target": target,
        "operation": operation,
        "payload": payload,
        "incident_id": incident_id,
        "ordering_key": ordering_key,
        "coalesce_key": coalesce_key,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING, not rowcount: an ORM-enabled INSERT does not report a usable rowcount on
    # PostgreSQL, and the caller must know whether this was a duplicate.
    statement = insert(OutboxRow).values(**values).on_conflict_do_nothing(index_elements=["idempotency_key"])
    inserted = session.execute(statement.returning(OutboxRow.id)).scalar_one_or_none()
    return inserted is not None


def depth(session: Session) -> dict[str, int]:
    """Messages not yet delivered, by status (for /metrics and the readiness of a drain)."""
    statement = select(OutboxRow.status, func.count()).where(OutboxRow.status != DELIVERED).group_by(OutboxRow.status)
    return {status: count for status, count in session.execute(statement)}
