"""Severity levels and how alert labels map onto them.

The mapping lives here, not in the ingest adapters, because PagerDuty urgency, Alertmanager
labels and a person typing ``/incident sev P1`` must all agree on what a P1 is.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Severity(enum.StrEnum):
    """P0 is the worst. ``INFO`` is below P3: recorded on the timeline, never a channel."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    INFO = "INFO"

    @property
    def rank(self) -> int:
        """Lower is more severe; lets callers compare without knowing the enum order."""
        return _RANK[self]

    def is_more_severe_than(self, other: Severity) -> bool:
        return self.rank < other.rank

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Accept ``P1``, ``p1``, ``sev1`` and ``SEV-1``; raise ``ValueError`` with the choices."""
        cleaned = text.strip().upper().replace("SEV-", "P").replace("SEV", "P")
        try:
            return cls(cleaned)
        except ValueError:
            raise ValueError(f"unknown severity {text!r}: use P0, P1, P2 or P3") from None


_RANK = {Severity.P0: 0, Severity.P1: 1, Severity.P2: 2, Severity.P3: 3, Severity.INFO: 4}

PERSON_SETTABLE = (Severity.P0, Severity.P1, Severity.P2, Severity.P3)

#: Alertmanager ``severity`` label values and the level they mean (design.md, "Severity").
DEFAULT_LABEL_MAPPING: dict[str, Severity] = {
    "critical": Severity.P1,
    "high": Severity.P2,
    "error": Severity.P2,
    "warning": Severity.P3,
    "medium": Severity.P3,
    "info": Severity.INFO,
    "low": Severity.INFO,
}


def severity_from_labels(
    labels: Mapping[str, str],
    mapping: Mapping[str, Severity] | None = None,
    default: Severity = Severity.P3,
) -> Severity:
    """A ``priority`` label (P0–P3) wins over ``severity``; unknown values fall back to ``default``."""
    priority = labels.get("priority")
    if priority:
        try:
            level = Severity.parse(priority)
            if level in PERSON_SETTABLE:
                return level
        except ValueError:
            pass
    table = DEFAULT_LABEL_MAPPING if mapping is None else mapping
    value = labels.get("severity", "").strip().lower()
    return table.get(value, default)
