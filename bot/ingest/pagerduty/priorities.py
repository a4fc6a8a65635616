"""PagerDuty priority names → Firebreak severity, through ``PAGERDUTY_PRIORITY_MAPPING``.

PagerDuty accounts name their priorities freely (P1–P5 by default, SEV-1… or anything
else), so only names the operator listed change severity. A name that is not listed must
not guess: raising a P5 to P1 wakes people for nothing, so it leaves severity as it is.
An incident with no priority at all (``priority: null``) is judged by its urgency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.severity import Severity
from bot.ingest.pagerduty.models import PdIncident

#: The documented default. PagerDuty's own default scheme is P1–P5; P4 and P5 are minor.
DEFAULT_PRIORITY_MAPPING: dict[str, Severity] = {
    "P0": Severity.P0,
    "P1": Severity.P1,
    "P2": Severity.P2,
    "P3": Severity.P3,
    "P4": Severity.P3,
    "P5": Severity.P3,
    "SEV-0": Severity.P0,
    "SEV-1": Severity.P1,
    "SEV-2": Severity.P2,
    "SEV-3": Severity.P3,
    "SEV-4": Severity.P3,
    "SEV-5": Severity.P3,
}


def normalise(name: str) -> str:
    """Names compare without case or surrounding spaces: ``sev-1 `` is ``SEV-1``."""
    return " ".join(name.split()).upper()


@dataclass(frozen=True)
class PriorityMap:
    """What a PagerDuty incident's priority (or, without one, its urgency) means here."""

    names: Mapping[str, Severity]

    @classmethod
    def of(cls, mapping: Mapping[str, Severity] | None = None) -> PriorityMap:
        table = DEFAULT_PRIORITY_MAPPING if mapping is None else mapping
        return cls({normalise(name): level for name, level in table.items()})

    def severity(self, incident: PdIncident) -> Severity | None:
        """The mapped level, the urgency's level when priority is null, None when unmapped."""
        if incident.priority is None:
            return by_urgency(incident.urgency)
        return self.names.get(normalise(incident.priority.summary))

    def severity_or_urgency(self, incident: PdIncident) -> Severity:
        """For a new incident, which needs some level: an unmapped name falls back to urgency."""
        return self.severity(incident) or by_urgency(incident.urgency)


def by_urgency(urgency: str) -> Severity:
    """PagerDuty urgency: high pages people (P1), low does not (P3)."""
    return Severity.P1 if urgency == "high" else Severity.P3
