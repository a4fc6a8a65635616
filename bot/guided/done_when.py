"""Whether an incident shows what a step's ``done_when`` asks for.

Some steps are the incident's own state: "acknowledge the incident and name a commander".
Whoever did it, by command, button or from PagerDuty, the step is done; asking for it again at
its deadline reminds people of what they did and teaches them to ignore reminders.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.incident import Incident, Role, Status

_PAST_ACKNOWLEDGED = frozenset({Status.ACKNOWLEDGED, Status.MITIGATED, Status.RESOLVED})
_PAST_MITIGATED = frozenset({Status.MITIGATED, Status.RESOLVED})

#: How each condition reads after "done when the incident" (the timeline entry says why).
WORDING = {
    "acknowledged": "was acknowledged",
    "mitigated": "was mitigated",
    "commander": "has a commander",
    "comms": "has a comms lead",
    "scribe": "has a scribe",
}


def holds(incident: Incident, condition: str) -> bool:
    if condition == "acknowledged":
        return incident.acknowledged_at is not None or incident.status in _PAST_ACKNOWLEDGED
    if condition == "mitigated":
        return incident.mitigated_at is not None or incident.status in _PAST_MITIGATED
    try:
        role = Role(condition)
    except ValueError:
        return False  # a condition this version does not know never settles a step
    return bool(incident.roles.get(role))


def shows(incident: Incident, conditions: Iterable[str]) -> bool:
    """True when ``conditions`` is not empty and the incident shows every one of them."""
    wanted = list(conditions)
    return bool(wanted) and all(holds(incident, condition) for condition in wanted)


def because(conditions: Iterable[str]) -> str:
    """Why a step was marked done by itself, e.g. "the incident was acknowledged and has a commander"."""
    said = [WORDING.get(condition, condition) for condition in conditions]
    joined = said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]
    return f"the incident {joined}"
