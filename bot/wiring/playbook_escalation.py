"""Playbooks → escalation: the attached playbook's policy, and escalating missed steps.

The composition root passes :func:`playbook_policy_lookup` to the escalation planner and
:func:`missed_step_escalation` to the step-deadline loop, so neither package imports the other.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.domain.escalation import EscalationPolicy
from bot.domain.escalation_parse import policy_from_levels
from bot.domain.incident import Incident
from bot.domain.timeline import Source
from bot.store.incidents import IncidentRepository, to_domain

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from bot.guided import EscalateNow
    from bot.playbooks.registry import PlaybookRegistry
    from bot.schedule import EscalationEngine
    from bot.schedule.planner import PolicyLookup

#: Who the timeline names when a missed playbook step escalates.
DEADLINE_ACTOR = "firebreak"


def playbook_policy_lookup(registry: PlaybookRegistry) -> PolicyLookup:
    """``incident → EscalationPolicy | None``: the attached playbook's own policy, if it has one."""
    cache: dict[str, EscalationPolicy | None] = {}

    def lookup(incident: Incident) -> EscalationPolicy | None:
        if not incident.playbook_id:
            return None
        if incident.playbook_id not in cache:
            playbook = registry.get(incident.playbook_id)
            escalation = playbook.escalation if playbook is not None else None
            cache[incident.playbook_id] = policy_from_levels(escalation.levels) if escalation and escalation.levels else None
        return cache[incident.playbook_id]

    return lookup


def missed_step_escalation(engine: EscalationEngine) -> EscalateNow:
    """What a missed ``on_deadline: escalate`` step does: escalate now, under the timers' rules."""

    def escalate_now(number: int, reason: str, level_name: str | None = None) -> None:
        if should_escalate(engine, number, level_name):
            engine.escalate_now(number, actor=DEADLINE_ACTOR, source=Source.SCHEDULER, reason=reason)

    return escalate_now


def should_escalate(engine: EscalationEngine, number: int, level_name: str | None) -> bool:
    """A missed step escalates under the same rules as the timers, never around them.

    Not for severities that do not escalate on their own (P3, INFO), not when the level it
    names was already reached (the timer got there first), and not when the next level's
    condition no longer holds (an ``unacknowledged`` level after an acknowledge). The
    STEP_DEADLINE entry and its chat post still say the step was missed.
    """
    with engine.service.sessions() as session:
        row = IncidentRepository.get_row(session, number)
        incident, current = to_domain(row), row.escalation_level
    if incident.severity not in engine.planner.speed:
        return False
    policy = engine.planner.policy_for(incident)
    names = [level.name for level in policy.levels]
    target = names.index(level_name) + 1 if level_name in names else current + 1
    if target <= current or current >= len(policy.levels):
        log.info("missed step does not escalate", extra={"incident": number, "level": current, "target": target})
        return False
    return policy.level(current + 1).condition.holds(incident.status)
