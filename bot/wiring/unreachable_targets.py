"""Escalation targets nobody can be paged at: the start-up says which, and why.

The starter playbooks name a placeholder PagerDuty policy, and a default policy may name
PagerDuty targets on a deployment without PagerDuty. The start-up lists such targets with
the policies that use them; a page that fires anyway is given up at once by
:class:`bot.pagerduty.outbound.PagerDutyNotConfigured`, and the dead-letter hook puts the
failure on the timeline, which posts it in the incident's conversation.
"""

from __future__ import annotations

from collections import defaultdict

from bot.domain.escalation import EscalationPolicy, Target
from bot.domain.escalation_parse import parse_policy, policy_from_levels
from bot.pagerduty.outbound import pagerduty_gap
from bot.playbooks.registry import PlaybookRegistry
from bot.settings import Settings

DEFAULT_POLICY = "FIREBREAK_DEFAULT_ESCALATION"


def policies(settings: Settings, registry: PlaybookRegistry) -> dict[str, EscalationPolicy]:
    """Every policy that can fire: the default one and each playbook's own."""
    found = {DEFAULT_POLICY: parse_policy(settings.default_escalation_policy)}
    for playbook_id in registry.ids():
        playbook = registry.get(playbook_id)
        if playbook is not None and playbook.escalation is not None and playbook.escalation.levels:
            found[f"playbook {playbook_id}"] = policy_from_levels(playbook.escalation.levels)
    return found


def unreachable(settings: Settings, registry: PlaybookRegistry) -> list[str]:
    """One readable line per PagerDuty target that cannot be paged, naming where it is used."""
    gap = pagerduty_gap(settings)
    if gap is None:
        return []
    used_by: dict[Target, list[str]] = defaultdict(list)
    for owner, policy in policies(settings, registry).items():
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
