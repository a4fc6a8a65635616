"""What a drill produced: its incidents' scores and its expectations, met or missed.

Plain data, shared by the scorer (bot/drill/score.py), the expectations
(bot/drill/expect.py) and the reports (bot/drill/report.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ExpectationResult:
    name: str
    expected: str
    actual: str
    met: bool

    def __str__(self) -> str:
        return f"{self.name}: expected {self.expected}, got {self.actual}"


@dataclass(frozen=True)
class StepMark:
    step: int
    text: str
    at: float  # seconds from the start of the drill: the entry's own time, like the timeline's
    after_open: float  # seconds after the incident opened (what expectations measure)


#: How an escalation fired, as the report says it.
BY_TIMER = "automatically"
BY_STEP_DEADLINE = "by a missed step deadline"
BY_HAND = "by hand"


@dataclass(frozen=True)
class EscalationFired:
    level: int
    targets: list[str]
    at: float  # seconds from the start of the drill
    after_open: float
    manual: bool  # a person escalated (``/incident escalate``); a missed step deadline is not one
    how: str  # BY_TIMER, BY_STEP_DEADLINE or BY_HAND
    reason: str


@dataclass(frozen=True)
class Line:
    """One timeline entry, at seconds from the start of the drill."""

    at: float
    kind: str
    actor: str
    text: str


@dataclass
class IncidentScore:
    number: int
    ref: str
    title: str
    severity: str
    status: str
    opened_at: float  # seconds from the start of the drill
    drill: bool
    playbook: str | None
    acknowledged: float | None  # seconds from opening
    mitigated: float | None
    resolved: float | None
    steps_done: list[StepMark] = field(default_factory=list)
    steps_skipped: list[StepMark] = field(default_factory=list)
    steps_overdue: list[StepMark] = field(default_factory=list)
    escalations: list[EscalationFired] = field(default_factory=list)
    timeline: list[Line] = field(default_factory=list)

    @property
    def max_escalation_level(self) -> int:
        return max((escalation.level for escalation in self.escalations), default=0)


@dataclass
class Score:
    scenario: str
    started_at: datetime
    simulated_seconds: float
    elapsed_seconds: float
    incidents: list[IncidentScore]
    would_page: list[str]
    responses: list[dict[str, object]]
    expectations: list[ExpectationResult]

    @property
    def passed(self) -> bool:
        return all(result.met for result in self.expectations)

    @property
    def failed(self) -> list[ExpectationResult]:
        return [result for result in self.expectations if not result.met]
