"""Children of an incident: the alert groups it collects.

One alert group used to be one incident. With correlation and the storm guard, related
groups join an open incident as its *children*; the incident is their parent. Its severity
is the worst of its children's, and it resolves by itself only once every child has.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.severity import Severity


class JoinedBy(enum.StrEnum):
    """How a child came into its incident."""

    OPENED = "opened"
    CORRELATED = "correlated"
    STORM = "storm"
    MERGED = "merged"


@dataclass(frozen=True)
class Child:
    """One alert group inside an incident; ``child`` is its short id (``#3``)."""

    child: int
    incident: int
    dedup_key: str
    source: str
    title: str
    severity: Severity
    firing: bool
    joined_by: JoinedBy
    joined_at: datetime
    resolved_at: datetime | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    correlation: Mapping[str, str] = field(default_factory=dict)
    truncated_alerts: int = 0
    alerts_firing: int = 0
    alerts_total: int = 0

    @property
    def ref(self) -> str:
        return f"#{self.child}"


def ranked(children: Sequence[Child]) -> list[Child]:
    """Worst first, firing before resolved, then by short id: how people read the list."""
    return sorted(children, key=lambda child: (child.severity.rank, not child.firing, child.child))
