"""Firing escalation deadlines and reminders, and escalating by hand.

``tick`` is the whole job the scheduler runs: tests call it directly with a frozen clock.
Each deadline is claimed, fired and marked in ONE transaction together with its timeline
entry and outbox messages, so a crash either fires it completely or not at all, and a
second claimer (another replica, a stale leader) finds it no longer pending.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery.outbox import enqueue
from bot.domain.escalation import (
    REMINDER_SEVERITIES,
    Condition,
    Target,
    TargetKind,
    automatic_reason,
    escalated_entry,
    next_manual_level,
    quiet_seconds,
    reminder_entry,
)
from bot.domain.incident import Incident, Status
from bot.domain.timeline import Source
from bot.schedule.planner import EscalationPlanner
from bot.service.incidents import IncidentService
from bot.store.escalations import CANCELLED, FIRED, EscalationRepository
from bot.store.incidents import IncidentRepository, to_domain
from bot.store.models import IncidentRow

log = logging.getLogger(__name__)

PAGERDUTY = "pagerduty"
PAGE = "page"


@dataclass(frozen=True)
class Escalation:
    """What a manual escalation did, for the command's reply."""

    incident: Incident
    level: int
    targets: tuple[Target, ...]


def default_engine_id() -> str:
    """Host, pid and a nonce: shows in ``escalations.claimed_by`` which process fired a row."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class EscalationEngine:
    def __init__(
        self,
        service: IncidentService,
        planner: EscalationPlanner,
        *,
        reminder_after_seconds: int,
        engine_id: str | None = None,
        batch_size: int = 100,
    ) -> None:
        self.service = service
        self.planner = planner
        self.reminder_after = timedelta(seconds=reminder_after_seconds)
        self.engine_id = engine_id or default_engine_id()
        self.batch_size = batch_size

    # -- the scheduled job -------------------------------------------------------------

    def tick(self) -> int:
        """Fire every due deadline and reminder; returns how many timeline entries it made."""
        now = self.service.clock.now()
        with self.service.sessions() as session:
            due = EscalationRepository.due(session, now=now, limit=self.batch_size, drills=self.service.drill)
        made = 0
        for row_id, incident_id in due:
            try:
                made += self._fire(row_id, incident_id, now)
            except Exception:  # one broken incident must not stop the others
                log.exception("escalation failed", extra={"escalation_id": row_id, "incident": incident_id})
        made += self.remind(now)
        if made:
            self.service.notify_committed()
        return made

    def _fire(self, row_id: int, incident_id: int, now: datetime) -> int:
        with self.service.sessions.begin() as session:
            incident_row = IncidentRepository.get_row(session, incident_id, for_update=True)
            row = EscalationRepository.claim(session, row_id, now=now)
            if row is None:
                return 0
            incident = to_domain(incident_row)
            condition = Condition(row.condition)
            if not condition.holds(incident.status):  # belt and braces: the planner cancels these
                row.status = CANCELLED
                return 0
            targets = tuple(Target.from_dict(target) for target in row.targets)
            row.status = FIRED
            row.fired_at = now
            row.claimed_by = self.engine_id[:128]
            incident_row.escalation_level = max(incident_row.escalation_level, row.level)
            waited = (row.due_at - row.anchor_at).total_seconds()
            entry = escalated_entry(
                incident,
                level=row.level,
                targets=targets,
                condition=condition,
                reason=automatic_reason(condition, waited, after_level=row.anchor_level),
                manual=False,
                actor="firebreak",
                source=Source.SCHEDULER,
                at=now,
            )
            page(session, incident, level=row.level, cycle=row.cycle, targets=targets, now=now)
            self.service.record(session, incident, [entry])
            log.info("escalated", extra={"incident": incident.ref, "level": row.level, "by": self.engine_id})
            return 1

    # -- reminders -----------------------------------------------------------------------

    def remind(self, now: datetime) -> int:
        """Nudge open P0/P1 incidents quiet for the reminder period.

        The reminder is itself a timeline entry, which moves ``last_activity_at``: that is
        what keeps it to one per quiet period.
        """
        threshold = now - self.reminder_after
        with self.service.sessions() as session:
            statement = select(IncidentRow.id).where(
                IncidentRow.status != Status.RESOLVED.value,
                IncidentRow.severity.in_([severity.value for severity in REMINDER_SEVERITIES]),
                IncidentRow.last_activity_at <= threshold,
                IncidentRow.drill.is_(self.service.drill),
            )
            candidates = list(session.scalars(statement.limit(self.batch_size)))
        made = 0
        for number in candidates:
            with self.service.sessions.begin() as session:
                row = IncidentRepository.get_row(session, number, for_update=True)
                incident = to_domain(row)
                quiet = quiet_seconds(
                    incident,
                    last_activity_at=row.last_activity_at,
                    now=now,
                    after_seconds=int(self.reminder_after.total_seconds()),
                )
                if quiet is None:
                    continue
                self.service.record(session, incident, [reminder_entry(incident, quiet=quiet, at=now)])
                made += 1
        return made

    # -- by hand ---------------------------------------------------------------------------

    def escalate_now(self, number: int, *, actor: str, source: Source, reason: str = "") -> Escalation:
        """``/incident escalate``: fire the next level now and re-plan the ones after it."""
        with self.service.sessions.begin() as session:
            now = self.service.clock.now()
            incident_row = IncidentRepository.get_row(session, number, for_update=True)
            incident = to_domain(incident_row)
            policy = self.planner.policy_for(incident)
            level_number = next_manual_level(policy, incident, incident_row.escalation_level)
            level = policy.level(level_number)
            EscalationRepository.record_manual(
                session,
                incident_id=number,
                cycle=incident.reopen_count,
                level=level_number,
                condition=level.condition.value,
                targets=level.targets,
                now=now,
                actor=actor,
            )
            incident_row.escalation_level = level_number
            entry = escalated_entry(
                incident,
                level=level_number,
                targets=level.targets,
                condition=level.condition,
                reason=reason.strip() or f"escalated by {actor}",
                manual=True,
                actor=actor,
                source=source,
                at=now,
            )
            page(session, incident, level=level_number, cycle=incident.reopen_count, targets=level.targets, now=now)
            self.service.record(session, incident, [entry])
            self.planner.sync(session, incident, now=now)
        self.service.notify_committed()
        return Escalation(incident=incident, level=level_number, targets=level.targets)


def page(session: Session, incident: Incident, *, level: int, cycle: int, targets: Sequence[Target], now: datetime) -> None:
    """Queue one ``pagerduty.page`` per PagerDuty target of the level.

    ``incident_key`` is per incident, level, reopen cycle and target: PagerDuty refuses a
    new incident whose service and key match an open one, so two targets of one level (or a
    page after a reopen) each need their own, and a retried page finds exactly its own.
    """
    for target in targets:
        if not target.is_pagerduty:
            continue
        key = "escalation_policy_id" if target.kind is TargetKind.PAGERDUTY_ESCALATION_POLICY else "user_id"
        enqueue(
            session,
            target=PAGERDUTY,
            operation=PAGE,
            payload={
                "number": incident.number,
                key: target.value,
                "title": f"{incident.ref} [{incident.severity.value}] {incident.title}",
                "incident_key": f"{incident.ref}-L{level}-c{cycle}-{target.value}"[:255],
                "level": level,
                "cycle": cycle,
            },
            idempotency_key=f"pagerduty:page:{incident.number}:c{cycle}:L{level}:{target.kind.value}:{target.value}",
            now=now,
            incident_id=incident.number,
            severity=incident.severity,
        )
