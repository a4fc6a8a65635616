"""Escalation policies and the planning rules that turn them into deadlines, with no I/O.

A policy is an ordered list of levels. Each level's ``delay`` counts from the moment the
incident's escalation clock was *armed* (declared, or reopened), not from the previous
level: "page L1 after 5m, L2 after 15m" reads the way on-call rotas are written, and it is
the same rule playbooks use (bot/playbooks/schema.py), so converting one is a field copy.

When a person escalates by hand to level k at time t, the clock is re-anchored there: the
following levels keep their spacing relative to level k (``delay_j - delay_k``) counted
from t. Severity scales every delay by a factor (P0 escalates faster); severities without
a factor do not escalate automatically.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.errors import IllegalTransition
from bot.domain.incident import Incident, Status
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry


class Condition(enum.StrEnum):
    """A level fires only while its condition still holds."""

    UNACKNOWLEDGED = "unacknowledged"
    UNRESOLVED = "unresolved"

    def holds(self, status: Status) -> bool:
        if self is Condition.UNACKNOWLEDGED:
            return status is Status.TRIGGERED
        return status is not Status.RESOLVED

    @property
    def describe(self) -> str:
        return "not acknowledged" if self is Condition.UNACKNOWLEDGED else "not resolved"

    @classmethod
    def parse(cls, text: str) -> Condition:
        cleaned = text.strip().lower().replace("-", "").replace("_", "")
        aliases = {"unack": "unacknowledged", "unacked": "unacknowledged", "noack": "unacknowledged", "open": "unresolved"}
        try:
            return cls(aliases.get(cleaned, cleaned))
        except ValueError:
            raise ValueError(f"unknown escalation condition {text!r}: use unacknowledged or unresolved") from None


class TargetKind(enum.StrEnum):
    """The same keys as a playbook target (exactly one per target)."""

    SLACK_USER = "slack_user"
    SLACK_GROUP = "slack_group"
    SLACK_CHANNEL = "slack_channel"
    PAGERDUTY_ESCALATION_POLICY = "pagerduty_escalation_policy"
    PAGERDUTY_USER = "pagerduty_user"
    WHO = "who"


PAGERDUTY_KINDS = frozenset({TargetKind.PAGERDUTY_ESCALATION_POLICY, TargetKind.PAGERDUTY_USER})


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    value: str

    @property
    def is_pagerduty(self) -> bool:
        return self.kind in PAGERDUTY_KINDS

    @property
    def label(self) -> str:
        """How people read the target in chat and post-mortems."""
        if self.kind is TargetKind.SLACK_USER or self.kind is TargetKind.SLACK_GROUP:
            return self.value if self.value.startswith(("@", "<")) else "@" + self.value
        if self.kind is TargetKind.SLACK_CHANNEL:
            return self.value if self.value.startswith(("#", "<")) else "#" + self.value
        if self.kind is TargetKind.PAGERDUTY_ESCALATION_POLICY:
            return f"PagerDuty escalation policy {self.value}"
        if self.kind is TargetKind.PAGERDUTY_USER:
            return f"PagerDuty user {self.value}"
        return self.value

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind.value, "value": self.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> Target:
        return cls(TargetKind(data["kind"]), str(data["value"]))


@dataclass(frozen=True)
class Level:
    delay_seconds: int
    condition: Condition
    targets: tuple[Target, ...]
    name: str | None = None


@dataclass(frozen=True)
class EscalationPolicy:
    """Ordered levels; delays count from when escalation was armed and never decrease."""

    levels: tuple[Level, ...]

    def __post_init__(self) -> None:
        delays = [level.delay_seconds for level in self.levels]
        if any(delay < 0 for delay in delays):
            raise ValueError("escalation delays cannot be negative")
        if delays != sorted(delays):
            raise ValueError("escalation delays count from the incident start and must not decrease")
        if any(not level.targets for level in self.levels):
            raise ValueError("every escalation level needs at least one target")

    def level(self, number: int) -> Level:
        """Levels are numbered from 1, as people say them (L1, L2)."""
        return self.levels[number - 1]

    def delay_of(self, number: int) -> int:
        """Delay of level ``number``; 0 for the arming moment (level 0)."""
        if number <= 0 or not self.levels:
            return 0
        return self.levels[min(number, len(self.levels)) - 1].delay_seconds


#: Delay multipliers by severity. P0 escalates twice as fast, P2 half as fast; P3 and INFO
#: are "announcement only" (design.md) and escalate only when a person asks.
DEFAULT_SPEED: dict[Severity, float] = {Severity.P0: 0.5, Severity.P1: 1.0, Severity.P2: 2.0}

#: Open incidents of these severities get a status-update nudge after a quiet period.
REMINDER_SEVERITIES = frozenset({Severity.P0, Severity.P1})


@dataclass(frozen=True)
class Deadline:
    level: int
    due_at: datetime
    condition: Condition
    targets: tuple[Target, ...]


def plan(
    policy: EscalationPolicy,
    *,
    severity: Severity,
    status: Status,
    current_level: int,
    anchor_at: datetime,
    anchor_level: int,
    speed: Mapping[Severity, float],
) -> list[Deadline]:
    """The deadlines that should exist now: levels above ``current_level`` whose condition holds.

    ``anchor_at``/``anchor_level`` is where the clock counts from: (armed at, 0) normally,
    (t, k) after a manual escalation to level k at t. Overdue deadlines are kept (they fire
    at the next tick), which is what makes a raise to P0 escalate at once when it is late.
    """
    factor = speed.get(severity)
    if factor is None or status is Status.RESOLVED:
        return []
    base = policy.delay_of(anchor_level)
    deadlines = []
    for number, level in enumerate(policy.levels, start=1):
        if number <= current_level or not level.condition.holds(status):
            continue
        offset = max(0, level.delay_seconds - base) * factor
        deadlines.append(Deadline(number, anchor_at + timedelta(seconds=offset), level.condition, level.targets))
    return deadlines


def next_manual_level(policy: EscalationPolicy, incident: Incident, current_level: int) -> int:
    """``/incident escalate`` moves one level up from wherever the incident is."""
    if incident.status is Status.RESOLVED:
        raise IllegalTransition(f"{incident.ref} is resolved; reopen it before escalating")
    if not policy.levels:
        raise IllegalTransition(f"{incident.ref} has no escalation policy")
    if current_level >= len(policy.levels):
        raise IllegalTransition(f"{incident.ref} is already at the last escalation level (L{len(policy.levels)})")
    return current_level + 1


def escalated_entry(
    incident: Incident,
    *,
    level: int,
    targets: Iterable[Target],
    condition: Condition,
    reason: str,
    manual: bool,
    actor: str,
    source: Source,
    at: datetime,
) -> TimelineEntry:
    """ESCALATED with the documented data: level, targets (labels), reason, condition, manual.

    ``target_details`` ({kind, value} per target) is additional, for adapters that render
    real mentions (Slack user-group ids) rather than labels.
    """
    targets = tuple(targets)
    labels = [target.label for target in targets]
    text = f"escalated {incident.ref} to level {level}: {', '.join(labels)}" + (f" ({reason})" if reason else "")
    return TimelineEntry(
        kind=EntryKind.ESCALATED,
        at=at,
        actor=actor,
        source=source,
        text=text,
        data={
            "level": level,
            "targets": labels,
            "target_details": [target.to_dict() for target in targets],
            "reason": reason,
            "condition": condition.value,
            "manual": manual,
        },
    )


def automatic_reason(condition: Condition, delay_seconds: float, *, after_level: int = 0) -> str:
    """``not acknowledged after 5m`` (counted from the start, or from a manual escalation)."""
    since = f" since L{after_level}" if after_level else ""
    return f"{condition.describe} {format_duration(delay_seconds)}{since}" if since else f"{condition.describe} after {format_duration(delay_seconds)}"


def quiet_seconds(
    incident: Incident, *, last_activity_at: datetime, now: datetime, after_seconds: int
) -> int | None:
    """Seconds of silence when a reminder is due, else None (not P0/P1, resolved, not quiet)."""
    if incident.severity not in REMINDER_SEVERITIES or not incident.status.is_open:
        return None
    quiet = int((now - last_activity_at).total_seconds())
    return quiet if quiet >= after_seconds else None


def reminder_entry(incident: Incident, *, quiet: int, at: datetime) -> TimelineEntry:
    return TimelineEntry(
        kind=EntryKind.REMINDER,
        at=at,
        actor="firebreak",
        source=Source.SCHEDULER,
        text=f"{incident.ref} has been quiet for {format_duration(quiet)}: please post a status update"
        " (/incident note <what is happening>)",
        data={"quiet_seconds": quiet},
    )


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts) or "0s"
