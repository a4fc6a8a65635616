"""PagerDuty event types → what they mean for a Firebreak incident (no I/O).

Status events become the same domain verbs a person types in Slack, with ``Source.PAGERDUTY``
so the PagerDuty sync never echoes them back. A verb that does not apply (PagerDuty says
"acknowledged" but Firebreak already is) is still recorded, as a PAGERDUTY_EVENT entry.

PagerDuty may deliver events out of order, so a status event older than the last one
applied (by ``occurred_at``) is recorded but not applied; the same holds for priorities.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from bot.domain.errors import DomainError
from bot.domain.incident import Incident, Status
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.ingest.pagerduty.models import Event, PdIncident, PdNote
from bot.ingest.pagerduty.priorities import PriorityMap


class Kind(enum.StrEnum):
    TRIGGERED = "incident.triggered"
    ACKNOWLEDGED = "incident.acknowledged"
    UNACKNOWLEDGED = "incident.unacknowledged"
    RESOLVED = "incident.resolved"
    REOPENED = "incident.reopened"
    ESCALATED = "incident.escalated"
    REASSIGNED = "incident.reassigned"
    DELEGATED = "incident.delegated"
    PRIORITY_UPDATED = "incident.priority_updated"
    ANNOTATED = "incident.annotated"


#: Events that move the status; the ones PagerDuty's own order decides.
STATUS_KINDS = frozenset({Kind.ACKNOWLEDGED, Kind.UNACKNOWLEDGED, Kind.RESOLVED, Kind.REOPENED})
#: PagerDuty statuses of an incident that still needs people (``data.status``).
OPEN_STATUSES = frozenset({"triggered", "acknowledged"})


@dataclass(frozen=True)
class Plan:
    """A validated event: which incident it is about and what to do with it."""

    kind: Kind
    event: Event
    incident_id: str
    incident: PdIncident | None = None
    note: PdNote | None = None

    @property
    def verb(self) -> str:
        return self.kind.value.removeprefix("incident.")


def plan(event: Event) -> Plan | None:
    """None for event types Firebreak ignores; ValidationError for malformed ``data``."""
    try:
        kind = Kind(event.event_type)
    except ValueError:
        return None
    if kind is Kind.ANNOTATED:
        note = event.note()
        return Plan(kind, event, note.incident.id, note=note)
    incident = event.incident()
    return Plan(kind, event, incident.id, incident=incident)


def record_entry(plan_: Plan, text: str, at: datetime, **extra: Any) -> TimelineEntry:
    occurred = plan_.event.occurred_at
    return TimelineEntry(
        kind=EntryKind.PAGERDUTY_EVENT,
        at=at,
        actor=plan_.event.actor,
        source=Source.PAGERDUTY,
        text=text,
        data={
            "event_type": plan_.kind.value,
            "event_id": plan_.event.id,
            "pagerduty_incident_id": plan_.incident_id,
            **({"occurred_at": occurred.isoformat()} if occurred is not None else {}),
            **extra,
        },
    )


def is_stale(plan_: Plan, last_applied: datetime | None) -> bool:
    """Did PagerDuty make this change before the last one of its kind we applied?

    An event without ``occurred_at`` cannot be ordered and is applied as it comes; so are
    two changes in the same millisecond (in arrival order).
    """
    occurred = plan_.event.occurred_at
    return occurred is not None and last_applied is not None and occurred < last_applied


def stale_entry(plan_: Plan, last_applied: datetime, at: datetime) -> TimelineEntry:
    return record_entry(
        plan_,
        f"PagerDuty: {plan_.verb} arrived after a later change (from {last_applied.isoformat()}); not applied",
        at,
        outcome="out_of_order",
    )


def merged_entry(plan_: Plan, into: int, at: datetime) -> TimelineEntry:
    """An event about an incident merged into ``into``: recorded, not applied."""
    return record_entry(plan_, f"PagerDuty: {plan_.verb} not applied; this incident was merged into INC-{into}", at, outcome="merged", into=into)


def first_seen(plan_: Plan, incident: Incident, *, at: datetime, priorities: PriorityMap) -> list[TimelineEntry]:
    """A just-opened incident: say which event it was first seen through, take PagerDuty's
    status, then apply what the event adds beyond that (an escalation, a reassignment)."""
    pd = plan_.incident
    assert pd is not None
    entries: list[TimelineEntry] = []
    if plan_.kind is not Kind.TRIGGERED:
        entries.append(
            record_entry(plan_, f"first seen through PagerDuty {plan_.verb} (PagerDuty status: {pd.status})", at, outcome="first_seen")
        )
    if pd.status == "acknowledged":
        entries += [_origin(plan_, e) for e in incident.acknowledge(actor=plan_.event.actor, source=Source.PAGERDUTY, at=at)]
    if plan_.kind not in STATUS_KINDS | {Kind.TRIGGERED, Kind.PRIORITY_UPDATED}:
        entries += apply(plan_, incident, at=at, priorities=priorities)
    return entries


def apply(plan_: Plan, incident: Incident, *, at: datetime, priorities: PriorityMap) -> list[TimelineEntry]:
    """The timeline entries (and state changes on ``incident``) one event produces."""
    return [_origin(plan_, entry) for entry in _apply(plan_, incident, at=at, priorities=priorities)]


def _origin(plan_: Plan, entry: TimelineEntry) -> TimelineEntry:
    """Status changes say which PagerDuty incident they happened on, so the sync can bring
    the others Firebreak opened (pages, the Events API alert) along without echoing."""
    if entry.kind is not EntryKind.STATUS_CHANGED:
        return entry
    return replace(entry, data={**entry.data, "pagerduty_incident_id": plan_.incident_id})


def _apply(plan_: Plan, incident: Incident, *, at: datetime, priorities: PriorityMap) -> list[TimelineEntry]:
    actor, source = plan_.event.actor, Source.PAGERDUTY
    try:
        if plan_.kind is Kind.TRIGGERED:
            return [record_entry(plan_, f"PagerDuty incident {plan_.incident_id} triggered", at)]
        if plan_.kind is Kind.ACKNOWLEDGED:
            return incident.acknowledge(actor=actor, source=source, at=at)
        if plan_.kind is Kind.UNACKNOWLEDGED:
            if incident.status is Status.TRIGGERED:  # a reopen or a re-trigger got there first
                return [record_entry(plan_, f"PagerDuty: {plan_.verb} ({incident.ref} is already triggered)", at)]
            return incident.unacknowledge(actor=actor, source=source, at=at)
        if plan_.kind is Kind.RESOLVED:
            return incident.resolve(actor=actor, source=source, at=at)
        if plan_.kind is Kind.REOPENED:
            return incident.reopen(actor=actor, source=source, at=at)
        if plan_.kind is Kind.PRIORITY_UPDATED and plan_.incident is not None:
            return _priority(plan_, plan_.incident, incident, at=at, priorities=priorities)
        if plan_.kind is Kind.ANNOTATED and plan_.note is not None:
            return incident.note(plan_.note.content, actor=actor, source=source, at=at)
    except DomainError as already:
        return [record_entry(plan_, f"PagerDuty: {plan_.verb} ({already})", at)]
    assignees = ", ".join(ref.summary or ref.id for ref in (plan_.incident.assignees if plan_.incident else []))
    return [record_entry(plan_, f"PagerDuty: {plan_.verb}" + (f" to {assignees}" if assignees else ""), at)]


def _priority(plan_: Plan, pd: PdIncident, incident: Incident, *, at: datetime, priorities: PriorityMap) -> list[TimelineEntry]:
    level = priorities.severity(pd)
    name = pd.priority.summary if pd.priority is not None else None
    if level is None:
        return [
            record_entry(
                plan_,
                f"PagerDuty priority {name!r} is not in PAGERDUTY_PRIORITY_MAPPING; severity stays {incident.severity.value}",
                at,
                outcome="unmapped_priority",
            )
        ]
    reason = f"PagerDuty priority {name}" if name is not None else f"PagerDuty priority removed, urgency {pd.urgency or 'unknown'}"
    if level is incident.severity:
        return [record_entry(plan_, f"{reason}: severity stays {level.value}", at)]
    return incident.change_severity(level, actor=plan_.event.actor, source=Source.PAGERDUTY, at=at, reason=reason)


__all__ = [
    "OPEN_STATUSES",
    "STATUS_KINDS",
    "Kind",
    "Plan",
    "ValidationError",
    "apply",
    "first_seen",
    "is_stale",
    "plan",
    "record_entry",
    "stale_entry",
]
