"""Escalation targets nobody can be paged at: warn at start, fail pages loudly when they fire.

The starter playbooks name a placeholder PagerDuty policy, and a default policy may name
PagerDuty targets on a deployment without PagerDuty. Left alone, such a page would sit in the
outbox retrying "no deliverer" while the incident channel says the policy was paged. Instead
the start-up says which targets cannot be reached and why, and a page that fires anyway is
given up at once: the dead-letter hook puts the failure on the timeline, which posts it in
the incident's conversation.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from bot.delivery.message import DeliveryError, DeliveryResult, OutboxMessage
from bot.domain.escalation import EscalationPolicy, Target
from bot.domain.escalation_parse import parse_policy, policy_from_levels
from bot.schedule.engine import PAGERDUTY

if TYPE_CHECKING:
    from bot.container import Container
    from bot.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_POLICY = "FIREBREAK_DEFAULT_ESCALATION"


class PagerDutyNotConfigured:
    """The ``pagerduty`` deliverer of a deployment without PagerDuty: every page fails, once."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        raise DeliveryError(f"{self.reason}; nobody was paged", retryable=False)


def pagerduty_gap(settings: Settings) -> str | None:
    """Why pages to PagerDuty cannot be delivered, or None when they can."""
    if not settings.pagerduty_api_token:
        return "PagerDuty is not configured (PAGERDUTY_API_TOKEN is not set)"
    if not settings.pagerduty_service_id:
        return "PAGERDUTY_SERVICE_ID is not set (PagerDuty files pages under a service)"
    return None


def policies(container: Container) -> dict[str, EscalationPolicy]:
    """Every policy that can fire: the default one and each playbook's own."""
    found = {DEFAULT_POLICY: parse_policy(container.settings.default_escalation_policy)}
    registry = container.guided.registry if container.guided is not None else None
    for playbook_id in registry.ids() if registry is not None else []:
        playbook = registry.get(playbook_id) if registry is not None else None
        if playbook is not None and playbook.escalation is not None and playbook.escalation.levels:
            found[f"playbook {playbook_id}"] = policy_from_levels(playbook.escalation.levels)
    return found


def unreachable(container: Container) -> list[str]:
    """One readable line per PagerDuty target that cannot be paged, naming where it is used."""
    gap = pagerduty_gap(container.settings)
    if gap is None:
        return []
    used_by: dict[Target, list[str]] = defaultdict(list)
    for owner, policy in policies(container).items():
        for level in policy.levels:
            for target in level.targets:
                if target.is_pagerduty and owner not in used_by[target]:
                    used_by[target].append(owner)
    return [
        f"{target.label} cannot be paged, {gap}; used by {_owners(owners)}"
        for target, owners in sorted(used_by.items(), key=lambda item: item[0].label)
    ]


def _owners(owners: list[str]) -> str:
    books = [owner.removeprefix("playbook ") for owner in owners if owner.startswith("playbook ")]
    others = [owner for owner in owners if not owner.startswith("playbook ")]
    named = others + ([f"playbook{'s' if len(books) > 1 else ''} {', '.join(books)}"] if books else [])
    return "; ".join(named)


def install(container: Container) -> None:
    for line in unreachable(container):
        log.warning(line)
        container.startup_warnings.append(line)
    gap = pagerduty_gap(container.settings)
    if gap is not None and not container.worker.has_deliverer(PAGERDUTY):
        container.worker.add_deliverer(PAGERDUTY, PagerDutyNotConfigured(gap))
