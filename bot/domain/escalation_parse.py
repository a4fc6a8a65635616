"""Reading escalation policies: the FIREBREAK_DEFAULT_ESCALATION text and playbook levels.

Separate from the planning rules so that the formats people write can grow (aliases,
target kinds) without touching the rules that decide when a page goes out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from bot.domain.durations import parse_delay
from bot.domain.escalation import Condition, EscalationPolicy, Level, Target, TargetKind


class TargetLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def value(self) -> str: ...


class LevelLike(Protocol):
    """Read-only, so a pydantic model with ``Literal`` fields and a ``delay_seconds`` property fits."""

    @property
    def name(self) -> str | None: ...
    @property
    def condition(self) -> str: ...
    @property
    def delay_seconds(self) -> int: ...
    @property
    def targets(self) -> Sequence[TargetLike]: ...


def policy_from_levels(levels: Iterable[LevelLike]) -> EscalationPolicy:
    """Convert a playbook's ``escalation.levels`` (bot/playbooks/schema.py) field by field.

    Duck-typed so the domain does not import the YAML schema: anything with ``name``,
    ``condition``, ``delay_seconds`` and ``targets`` of ``kind``/``value`` converts.
    """
    return EscalationPolicy(
        levels=tuple(
            Level(
                delay_seconds=int(level.delay_seconds),
                condition=Condition.parse(str(level.condition)),
                targets=tuple(Target(TargetKind(target.kind), str(target.value)) for target in level.targets),
                name=level.name,
            )
            for level in levels
        )
    )


_PREFIXES = {
    "user": TargetKind.SLACK_USER,
    "group": TargetKind.SLACK_GROUP,
    "channel": TargetKind.SLACK_CHANNEL,
    "pd": TargetKind.PAGERDUTY_ESCALATION_POLICY,
    "pd_policy": TargetKind.PAGERDUTY_ESCALATION_POLICY,
    "pd_user": TargetKind.PAGERDUTY_USER,
    **{kind.value: kind for kind in TargetKind},
}


def parse_target(text: str) -> Target:
    """``@handle`` is a Slack user group (on-call rotations), ``#name`` a channel,
    ``kind:value`` any target kind (``slack_user:U123``, ``pd:PABC123``, ``pd_user:PU1``),
    anything else free text shown to responders (``who``)."""
    cleaned = text.strip()
    if not cleaned:
        raise ValueError("empty escalation target")
    prefix, sep, value = cleaned.partition(":")
    if sep and prefix.strip().lower() in _PREFIXES:
        if not value.strip():
            raise ValueError(f"escalation target {text!r} has no value")
        return Target(_PREFIXES[prefix.strip().lower()], value.strip())
    if cleaned.startswith("@"):
        return Target(TargetKind.SLACK_GROUP, cleaned)
    if cleaned.startswith("#"):
        return Target(TargetKind.SLACK_CHANNEL, cleaned)
    return Target(TargetKind.WHO, cleaned)


def parse_policy(text: str) -> EscalationPolicy:
    """``condition:delay:target[+target…]`` levels separated by commas, e.g.
    ``unacknowledged:5m:@oncall-primary,unresolved:30m:pd:PABC123+#eng-leads``."""
    levels = []
    for index, part in enumerate(p for p in text.split(",") if p.strip()):
        pieces = part.strip().split(":", 2)
        if len(pieces) != 3:
            raise ValueError(f"escalation level {index + 1} ({part.strip()!r}) must be condition:delay:target")
        condition, delay, targets = pieces
        levels.append(
            Level(
                delay_seconds=parse_delay(delay),
                condition=Condition.parse(condition),
                targets=tuple(parse_target(target) for target in targets.split("+")),
                name=f"L{index + 1}",
            )
        )
    return EscalationPolicy(levels=tuple(levels))
