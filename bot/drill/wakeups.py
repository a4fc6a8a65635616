"""When the pipeline next has something to do on its own: the simulated clock jumps there.

Three things happen without anyone acting: escalation deadlines, playbook step deadlines and
status reminders. Each is a row with a time in the database, so the next of them is one query
each; the clock never has to tick through the quiet minutes in between.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain.clock import as_utc
from bot.domain.escalation import REMINDER_SEVERITIES
from bot.domain.incident import Status
from bot.playbooks.guide import PENDING
from bot.store.escalations import PENDING as ESCALATION_PENDING
from bot.store.models import EscalationRow, IncidentRow, PlaybookRunRow, PlaybookStepRow


def next_wakeup(session: Session, *, after_id: int, reminder_after: timedelta, after: datetime) -> datetime | None:
    """The earliest pending deadline or reminder after ``after`` of this drill's incidents (ids
    above ``after_id``). What was due by ``after`` has had its turn: a reminder that did not
    fire (the incident was not quiet after all) must not hide the moments after it."""
    mine = (IncidentRow.drill.is_(True), IncidentRow.id > after_id)
    escalation = session.scalar(
        select(func.min(EscalationRow.due_at))
        .join(IncidentRow, IncidentRow.id == EscalationRow.incident_id)
        .where(EscalationRow.status == ESCALATION_PENDING, EscalationRow.due_at > after, *mine)
    )
    step = session.scalar(
        select(func.min(PlaybookStepRow.deadline_at))
        .join(PlaybookRunRow, PlaybookRunRow.id == PlaybookStepRow.run_id)
        .join(IncidentRow, IncidentRow.id == PlaybookStepRow.incident_id)
        .where(
            PlaybookStepRow.status == PENDING,
            PlaybookStepRow.deadline_fired_at.is_(None),
            PlaybookStepRow.deadline_at > after,
            PlaybookRunRow.active.is_(True),
            IncidentRow.status != Status.RESOLVED.value,
            *mine,
        )
    )
    quiet = session.scalar(
        select(func.min(IncidentRow.last_activity_at)).where(
            IncidentRow.status != Status.RESOLVED.value,
            IncidentRow.severity.in_([severity.value for severity in REMINDER_SEVERITIES]),
            IncidentRow.last_activity_at > after - reminder_after,
            *mine,
        )
    )
    reminder = as_utc(quiet) + reminder_after if quiet is not None else None
    moments = [as_utc(moment) for moment in (escalation, step) if moment is not None] + ([reminder] if reminder else [])
    return min(moments) if moments else None
