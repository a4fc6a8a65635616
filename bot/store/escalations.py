"""Escalation deadline rows: planning them, and claiming the due ones exactly once.

Claiming takes the incident's row lock first and the deadline's second, the same order as
a person acknowledging (service locks the incident, the subscriber then cancels deadlines),
so the two can never deadlock; ``SKIP LOCKED`` lets a second claimer pass over a row
another transaction is already firing instead of waiting to fire it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.escalation import Deadline, Target
from bot.store.models import EscalationRow, IncidentRow

PENDING = "pending"
FIRED = "fired"
CANCELLED = "cancelled"


class EscalationRepository:
    @staticmethod
    def cycle_rows(session: Session, incident_id: int, cycle: int) -> dict[int, EscalationRow]:
        statement = select(EscalationRow).where(EscalationRow.incident_id == incident_id, EscalationRow.cycle == cycle)
        return {row.level: row for row in session.scalars(statement)}

    @staticmethod
    def anchor(rows: Sequence[EscalationRow]) -> tuple[datetime, int] | None:
        """The latest clock anchor among live rows (cancelled ones no longer count)."""
        live = [row for row in rows if row.status in (PENDING, FIRED)]
        if not live:
            return None
        latest = max(live, key=lambda row: (row.anchor_at, row.anchor_level))
        return latest.anchor_at, latest.anchor_level

    @staticmethod
    def apply_plan(
        session: Session,
        *,
        incident_id: int,
        cycle: int,
        deadlines: Sequence[Deadline],
        anchor_at: datetime,
        anchor_level: int,
        now: datetime,
        rows: dict[int, EscalationRow] | None = None,
    ) -> None:
        """Make the pending rows of this cycle match ``deadlines``: update, revive, insert, cancel.

        Fired rows are history and never touched. ``rows``: the cycle's rows when the caller
        has just loaded them (``cycle_rows``), else they are loaded here.
        """
        if rows is None:
            rows = EscalationRepository.cycle_rows(session, incident_id, cycle)
        wanted = {deadline.level: deadline for deadline in deadlines}
        for level, existing in rows.items():
            if existing.status == PENDING and level not in wanted:
                existing.status = CANCELLED
        for deadline in deadlines:
            row = rows.get(deadline.level)
            if row is None:
                row = EscalationRow(incident_id=incident_id, cycle=cycle, level=deadline.level, created_at=now, manual=False)
                session.add(row)
            elif row.status == FIRED:
                continue
            row.status = PENDING
            row.due_at = deadline.due_at
            row.condition = deadline.condition.value
            row.targets = [target.to_dict() for target in deadline.targets]
            row.anchor_at = anchor_at
            row.anchor_level = anchor_level
        session.flush()

    @staticmethod
    def record_manual(
        session: Session,
        *,
        incident_id: int,
        cycle: int,
        level: int,
        condition: str,
        targets: Sequence[Target],
        now: datetime,
        actor: str,
    ) -> None:
        """A hand escalation to ``level``: that row is fired, lower pending ones are skipped."""
        rows = EscalationRepository.cycle_rows(session, incident_id, cycle)
        for other_level, other in rows.items():
            if other_level < level and other.status == PENDING:
                other.status = CANCELLED
        row = rows.get(level)
        if row is None:
            row = EscalationRow(incident_id=incident_id, cycle=cycle, level=level, created_at=now)
            session.add(row)
        row.status = FIRED
        row.manual = True
        row.condition = condition
        row.targets = [target.to_dict() for target in targets]
        row.due_at = now
        row.fired_at = now
        row.anchor_at = now
        row.anchor_level = level
        row.claimed_by = f"manual:{actor}"[:128]
        session.flush()

    @staticmethod
    def due(session: Session, *, now: datetime, limit: int = 100, drills: bool = False) -> list[tuple[int, int]]:
        """(row id, incident id) of pending deadlines that are due; read without locks.

        ``drills``: a drill's engine fires only drill incidents' deadlines, any other only real ones.
        """
        statement = (
            select(EscalationRow.id, EscalationRow.incident_id)
            .join(IncidentRow, IncidentRow.id == EscalationRow.incident_id)
            .where(EscalationRow.status == PENDING, EscalationRow.due_at <= now, IncidentRow.drill.is_(drills))
            .order_by(EscalationRow.due_at, EscalationRow.id)
            .limit(limit)
        )
        return [(row_id, incident_id) for row_id, incident_id in session.execute(statement)]

    @staticmethod
    def claim(session: Session, row_id: int, *, now: datetime) -> EscalationRow | None:
        """Lock one due, still-pending row; None if it fired, was cancelled, or is being fired."""
        statement = (
            select(EscalationRow)
            .where(EscalationRow.id == row_id, EscalationRow.status == PENDING, EscalationRow.due_at <= now)
            .with_for_update(skip_locked=True)
        )
        return session.scalars(statement).one_or_none()
