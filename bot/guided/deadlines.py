"""Step deadlines: when a pending step's deadline passes, its action runs, exactly once.

The claim is a conditional ``UPDATE … SET deadline_fired_at`` that only one transaction can
win, committed together with the STEP_DEADLINE timeline entry (and, through the chat
subscriber, its chat post). Each incident is handled in its own transaction that first locks
the incident row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a replica busy with it is skipped
until the next tick), which is the same lock order ``/incident step done`` uses, so the two
never deadlock and a step marked done a moment before the deadline does not fire.

``escalate`` calls the injected ``escalate_now(number, reason, level)`` after that commit (it opens
its own transaction). A crash between the commit and the call loses that one call; the
STEP_DEADLINE entry and its chat post still say escalation is needed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from bot.domain.durations import format_duration
from bot.domain.errors import InvalidCommand
from bot.domain.incident import Incident, Role, Status
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.guided.service import SYSTEM_ACTOR, EscalateNow, Escalates, default_escalates
from bot.playbooks.guide import PENDING
from bot.service.incidents import IncidentService
from bot.store.models import IncidentRow, PlaybookRunRow, PlaybookStepRow
from bot.store.trouble import log_retrying

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
BATCH = 100



def _due_incidents(session: Session, now: datetime, *, drills: bool = False) -> list[int]:
    statement = (
        select(PlaybookStepRow.incident_id)
        .join(PlaybookRunRow, PlaybookRunRow.id == PlaybookStepRow.run_id)
        .join(IncidentRow, IncidentRow.id == PlaybookStepRow.incident_id)
        .where(
            PlaybookStepRow.status == PENDING,
            PlaybookStepRow.deadline_fired_at.is_(None),
            PlaybookStepRow.deadline_at <= now,
            PlaybookRunRow.active.is_(True),
            IncidentRow.status != Status.RESOLVED.value,
            IncidentRow.drill.is_(drills),
        )
        .distinct()
        .limit(BATCH)
    )
    return sorted(session.scalars(statement))


def _claim(session: Session, number: int, now: datetime) -> list[PlaybookStepRow]:
    """Mark this incident's due steps fired; only rows this transaction changed are returned."""
    candidates = session.scalars(
        select(PlaybookStepRow)
        .join(PlaybookRunRow, PlaybookRunRow.id == PlaybookStepRow.run_id)
        .where(
            PlaybookStepRow.incident_id == number,
            PlaybookStepRow.status == PENDING,
            PlaybookStepRow.deadline_fired_at.is_(None),
            PlaybookStepRow.deadline_at <= now,
            PlaybookRunRow.active.is_(True),
        )
        .order_by(PlaybookStepRow.step)
    ).all()
    claimed = []
    for row in candidates:
        result = session.execute(
            update(PlaybookStepRow)
            .where(PlaybookStepRow.id == row.id, PlaybookStepRow.deadline_fired_at.is_(None), PlaybookStepRow.status == PENDING)
            .values(deadline_fired_at=now)
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], result).rowcount == 1:
            claimed.append(row)
    return claimed


def _entry(incident: Incident, row: PlaybookStepRow, now: datetime, *, engine_wired: bool, escalates: bool = True) -> TimelineEntry:
    deadline = format_duration(row.deadline_seconds or 0)
    action = row.on_deadline or "remind"
    head = f"{incident.ref} step {row.step} is still open after {deadline}: {row.text}"
    why = ""
    if action == "escalate" and not escalates:
        # P3 and INFO never escalate on their own (FIREBREAK_ESCALATION_SPEED): say so, and
        # make the deadline a notification rather than claim an escalation that never comes.
        why = f"{incident.severity.value} incidents do not escalate on their own, so this is a notification; "
        action = "notify"
    if action == "escalate":
        level = f" to {row.escalate_to}" if row.escalate_to else ""
        tail = f"escalating{level}" if engine_wired else f"escalation{level} needed: `/incident escalate`"
    elif action == "notify":
        role = _owner_role(row.owner)
        who = (incident.roles.get(role) if role else None) or incident.roles.get(Role.COMMANDER) or "responders"
        tail = f"{why}{who}, please take it or skip it (`/incident step skip {row.step}`)"
    else:
        tail = f"reminder: `/incident step done {row.step}` when it is done"
    return TimelineEntry(
        kind=EntryKind.STEP_DEADLINE,
        at=now,
        actor=SYSTEM_ACTOR,
        source=Source.SCHEDULER,
        text=f"{head} — {tail}",
        data={
            "playbook_id": row.playbook_id,
            "phase": row.phase_kind,
            "phase_title": row.phase_title,
            "step": row.step,
            "text": row.text,
            "action": action,
            "deadline": deadline,
            "escalate_to": row.escalate_to,
        },
    )


def _owner_role(owner: str | None) -> Role | None:
    if not owner:
        return None
    try:
        return Role.parse(owner)
    except InvalidCommand:
        return None


def fire_due_step_deadlines(
    service: IncidentService, now: datetime, *, escalate_now: EscalateNow | None = None, escalates: Escalates | None = None
) -> int:
    """Run every step deadline that has passed by ``now``; returns how many fired.

    ``escalates(severity)`` says whether that severity escalates at all (default: P0–P2);
    an ``escalate`` deadline of one that does not becomes a notification.
    """
    escalates = escalates or default_escalates
    with service.sessions() as session:
        numbers = _due_incidents(session, now, drills=service.drill)
    fired = 0
    escalations: dict[int, list[tuple[str, str | None]]] = defaultdict(list)
    for number in numbers:
        with service.sessions.begin() as session:
            locked = session.scalars(
                select(IncidentRow.id).where(IncidentRow.id == number).with_for_update(skip_locked=True)
            ).one_or_none()
            if locked is None:
                continue  # another replica holds it; the next tick looks again
            claimed = _claim(session, number, now)
            if not claimed:
                continue

            def mutation(incident: Incident, claimed: list[PlaybookStepRow] = claimed) -> list[TimelineEntry]:
                return [
                    _entry(incident, row, now, engine_wired=escalate_now is not None, escalates=escalates(incident.severity))
                    for row in claimed
                ]

            incident = service.apply(number, mutation, session=session)
            for row in claimed:
                if row.on_deadline == "escalate" and escalates(incident.severity):
                    target = f" to {row.escalate_to}" if row.escalate_to else ""
                    reason = f"playbook step {row.step} ({row.text}) not done within its deadline; escalate{target}"
                    escalations[number].append((reason, row.escalate_to))
            fired += len(claimed)
        service.notify_committed()
    if escalate_now is not None:
        for number, reasons in escalations.items():
            for reason, level_name in reasons:
                try:
                    escalate_now(number, reason, level_name)
                except Exception:  # one failing escalation must not stop the others
                    log.exception("escalate_now failed", extra={"incident": number})
    return fired


class DeadlineTicker:
    """The background loop: ``async def run(stop)`` checks for due deadlines every second."""

    def __init__(
        self,
        service: IncidentService,
        *,
        escalate_now: EscalateNow | None = None,
        escalates: Escalates | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.service = service
        self.escalate_now = escalate_now
        self.escalates = escalates
        self.poll_seconds = poll_seconds

    def tick(self) -> int:
        return fire_due_step_deadlines(self.service, self.service.clock.now(), escalate_now=self.escalate_now, escalates=self.escalates)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.tick)
            except Exception as error:  # a database blip must not end the loop
                log_retrying(log, "step deadline tick failed", error)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass
