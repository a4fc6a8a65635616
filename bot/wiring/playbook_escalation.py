"""Playbooks → escalation: the attached playbook's policy, and escalating missed steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.domain.escalation import EscalationPolicy
from bot.domain.escalation_parse import policy_from_levels
from bot.domain.incident import Incident
from bot.domain.timeline import Source

if TYPE_CHECKING:
    from bot.container import Container
    from bot.playbooks.registry import PlaybookRegistry

#: Who the timeline names when a missed playbook step escalates.
DEADLINE_ACTOR = "firebreak"


def playbook_policy_lookup(registry: PlaybookRegistry):  # type: ignore[no-untyped-def]
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


def connect(container: Container) -> None:
    engine, guided = container.escalation, container.guided
    if engine is None or guided is None:
        return
    engine.planner.lookup = playbook_policy_lookup(guided.registry)

    def escalate_now(number: int, reason: str) -> None:
        engine.escalate_now(number, actor=DEADLINE_ACTOR, source=Source.SCHEDULER, reason=reason)

    guided.deadlines.escalate_now = escalate_now
