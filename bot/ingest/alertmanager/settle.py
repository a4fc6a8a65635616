"""When an incident's alerts have all cleared: the one auto-resolve rule, and truncation.

An incident collects one or more alert groups (its children). It resolves by itself only when

- every alert of every child has resolved (no alert row of the incident fires),
- no child is truncated (``truncatedAlerts`` > 0: Alertmanager left alerts out and does not
  say whether they still fire), and
- the operator's policy lets its severity resolve itself (``FIREBREAK_AUTO_RESOLVE``; INFO
  always does).

While the alerts shown have cleared but a child is truncated, the timeline says once that
auto-resolve is paused; a notification showing that child whole again lifts the pause.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain.incident import Incident
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.ingest.alertmanager.grouping import Grouping
from bot.ingest.alertmanager.mapping import ACTOR, all_resolved_entry, auto_resolve_paused_entry
from bot.store.models import AlertGroupRow, TimelineRow


@dataclass(frozen=True)
class Policy:
    """Operator choices: label → severity, and which severities resolve themselves.

    INFO groups always resolve themselves: nobody is notified about them, so nobody would.
    ``grouping`` (correlation and the storm guard) is off unless given.
    """

    mapping: Mapping[str, Severity]
    auto_resolve: frozenset[Severity]
    grouping: Grouping = field(default_factory=Grouping)

    def resolves_itself(self, severity: Severity) -> bool:
        return severity is Severity.INFO or severity in self.auto_resolve


@dataclass(frozen=True)
class Settlement:
    """What the incident's alerts say about resolving it, by the one rule above."""

    all_resolved: bool
    paused: bool
    auto_resolve: bool


def settlement(incident: Incident, *, firing: int, truncated: int, policy: Policy) -> Settlement:
    """The one auto-resolve rule: ``firing`` alerts of the incident, ``truncated`` hidden alerts
    over its children."""
    if firing:
        return Settlement(all_resolved=False, paused=False, auto_resolve=False)
    if truncated:
        return Settlement(all_resolved=False, paused=True, auto_resolve=False)
    auto = incident.status.is_open and policy.resolves_itself(incident.severity)
    return Settlement(all_resolved=True, paused=False, auto_resolve=auto)


def settle(incident: Incident, rule: Settlement, *, count: int, truncated: int, pause_said: bool, now: datetime) -> list[TimelineEntry]:
    """The entries ``rule`` calls for (the pause note only when not said already)."""
    if rule.paused:
        return [] if pause_said else [auto_resolve_paused_entry(truncated, at=now)]
    if not rule.all_resolved:
        return []
    entries = [all_resolved_entry(count, auto_resolved=rule.auto_resolve, at=now)]
    if rule.auto_resolve:
        entries += incident.resolve(actor=ACTOR, source=Source.ALERTMANAGER, at=now)
    return entries


def settle_incident(
    incident: Incident, *, firing: int, truncated: int, count: int, pause_said: bool, policy: Policy, now: datetime
) -> list[TimelineEntry]:
    """``settlement`` then ``settle``: for callers that act on the entries alone (an incident
    opened with its shown alerts resolved, a split or merge)."""
    rule = settlement(incident, firing=firing, truncated=truncated, policy=policy)
    return settle(incident, rule, count=count, truncated=truncated, pause_said=pause_said, now=now)


def truncated_elsewhere(session: Session, number: int, group_id: int) -> int:
    """Hidden alerts of the incident's other children (their latest ``truncatedAlerts``)."""
    statement = select(func.coalesce(func.sum(AlertGroupRow.truncated_alerts), 0)).where(
        AlertGroupRow.incident_id == number, AlertGroupRow.id != group_id
    )
    return int(session.scalar(statement) or 0)


def pause_pending(session: Session, number: int) -> bool:
    """Whether auto-resolve is paused: the timeline's latest word on it is the pause note, not
    an "all alerts resolved" entry (which lifts it)."""
    statement = (
        select(TimelineRow.kind, TimelineRow.data)
        .where(
            TimelineRow.incident_id == number,
            TimelineRow.kind.in_([EntryKind.NOTE.value, EntryKind.ALERTS_ALL_RESOLVED.value]),
            TimelineRow.actor == ACTOR,
        )
        .order_by(TimelineRow.id.desc())
    )
    for kind, data in session.execute(statement):
        if kind == EntryKind.ALERTS_ALL_RESOLVED.value:
            return False
        if "auto_resolve_paused" in (data or {}):
            return True
    return False
