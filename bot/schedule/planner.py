"""Keeping an incident's escalation deadlines in step with its state, inside its transaction.

Every change that can move a deadline (declare, status, severity, a playbook attached)
calls one function, ``sync``, which recomputes the plan from the policy and makes the rows
match. One rule for all cases is easier to trust than a handler per event: acknowledging
cancels ``unacknowledged`` levels because their condition no longer holds, resolving
cancels everything, a severity change moves the pending levels, a reopen arms a new cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from bot.domain.escalation import DEFAULT_SPEED, EscalationPolicy, plan
from bot.domain.incident import Incident
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind
from bot.service.changes import Change
from bot.store.escalations import EscalationRepository
from bot.store.incidents import IncidentRepository

#: The policy for one incident (a playbook's own), or None for the default policy.
PolicyLookup = Callable[[Incident], EscalationPolicy | None]

#: Entries after which the deadlines may be wrong.
REPLAN_KINDS = frozenset(
    {EntryKind.DECLARED, EntryKind.STATUS_CHANGED, EntryKind.SEVERITY_CHANGED, EntryKind.PLAYBOOK_ATTACHED}
)


class EscalationPlanner:
    def __init__(
        self, default_policy: EscalationPolicy, speed: Mapping[Severity, float] | None = None, *, lookup: PolicyLookup | None = None
    ) -> None:
        """``lookup``: the playbook feature's policies (bot/wiring/playbook_escalation.py)."""
        self.default_policy = default_policy
        self.speed: dict[Severity, float] = dict(DEFAULT_SPEED if speed is None else speed)
        self.lookup = lookup

    def escalates(self, severity: Severity) -> bool:
        """Whether incidents of ``severity`` escalate on their own (not P3 or INFO by default)."""
        return severity in self.speed

    def policy_for(self, incident: Incident) -> EscalationPolicy:
        """The ``lookup``'s policy for ``incident``; the default policy without one, or when it
        returns None."""
        if self.lookup is not None:
            found = self.lookup(incident)
            if found is not None:
                return found
        return self.default_policy

    def sync(self, session: Session, incident: Incident, *, now: datetime, rearm: bool = False, is_new: bool = False) -> None:
        """``is_new``: the incident was opened in this transaction, so it has no escalation
        rows yet (not looked for: opening incidents is the worker's busiest path)."""
        row = IncidentRepository.get_row(session, incident.number)
        if rearm:
            row.escalation_level = 0
        cycle = incident.reopen_count
        existing = {} if is_new else EscalationRepository.cycle_rows(session, incident.number, cycle)
        anchor_at, anchor_level = EscalationRepository.anchor(list(existing.values())) or (now, row.escalation_level)
        deadlines = plan(
            self.policy_for(incident),
            severity=incident.severity,
            status=incident.status,
            current_level=row.escalation_level,
            anchor_at=anchor_at,
            anchor_level=anchor_level,
            speed=self.speed,
        )
        EscalationRepository.apply_plan(
            session,
            incident_id=incident.number,
            cycle=cycle,
            deadlines=deadlines,
            anchor_at=anchor_at,
            anchor_level=anchor_level,
            now=now,
            rows=existing,
        )

    def on_change(self, change: Change) -> None:
        """The IncidentService subscriber: runs in the change's transaction."""
        kinds = {recorded.entry.kind for recorded in change.entries}
        if not (kinds & REPLAN_KINDS):
            return
        rearm = any(
            recorded.entry.kind is EntryKind.STATUS_CHANGED and recorded.entry.data.get("reopened")
            for recorded in change.entries
        )
        self.sync(change.session, change.incident, now=change.now, rearm=rearm, is_new=change.is_new)
