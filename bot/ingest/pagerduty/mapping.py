"""PagerDuty event types → what they mean for a Firebreak incident (no I/O).

Status events become the same domain verbs a person types in Slack, with ``Source.PAGERDUTY``
so the PagerDuty sync never echoes them back. A verb that does not apply (PagerDuty says
"acknowledged" but Firebreak already is) is still recorded, as a PAGERDUTY_EVENT entry.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from bot.domain.errors import DomainError
from bot.domain.incident import Incident
from bot.domain.severity import PERSON_SETTABLE, Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.ingest.pagerduty.models import Event, PdIncident, PdNote


class Kind(enum.StrEnum):
    TRIGGERED = "incident.triggered"
    ACKNOWLEDGED = "incident.acknowledged"
    RESOLVED = "incident.resolved"
    REOPENED = "incident.reopened"
    ESCALATED = "incident.escalated"
    REASSIGNED = "incident.reassigned"
    PRIORITY_UPDATED = "incident.priority_updated"
    ANNOTATED = "incident.annotated"


@dataclass(frozen=True)
class Plan:
    """A validated event: which incident it is about and what to do with it."""

    kind: Kind
    event: Event
    incident_id: str
    incident: PdIncident | None = None
    note: PdNote | None = None


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


def severity_of(incident: PdIncident) -> Severity:
    """PagerDuty priority P0–P3 when set, else urgency: high → P1, low → P3."""
    if incident.priority and incident.priority.summary:
        try:
            level = Severity.parse(incident.priority.summary)
        except ValueError:
            level = None
        if level in PERSON_SETTABLE:
            return level
    return Severity.P1 if incident.urgency == "high" else Severity.P3


def record_entry(plan_: Plan, text: str, at: datetime) -> TimelineEntry:
    return TimelineEntry(
        kind=EntryKind.PAGERDUTY_EVENT,
        at=at,
        actor=plan_.event.actor,
        source=Source.PAGERDUTY,
        text=text,
        data={"event_type": plan_.kind.value, "event_id": plan_.event.id, "pagerduty_incident_id": plan_.incident_id},
    )


def apply(plan_: Plan, incident: Incident, *, at: datetime, created: bool) -> list[TimelineEntry]:
    """The timeline entries (and state changes on ``incident``) one event produces."""
    actor, source = plan_.event.actor, Source.PAGERDUTY
    try:
        if plan_.kind is Kind.TRIGGERED:
            return [] if created else [record_entry(plan_, f"PagerDuty incident {plan_.incident_id} triggered", at)]
        if plan_.kind is Kind.ACKNOWLEDGED:
            return incident.acknowledge(actor=actor, source=source, at=at)
        if plan_.kind is Kind.RESOLVED:
            return incident.resolve(actor=actor, source=source, at=at)
        if plan_.kind is Kind.REOPENED:
            return incident.reopen(actor=actor, source=source, at=at)
        if plan_.kind is Kind.PRIORITY_UPDATED and plan_.incident is not None:
            level = severity_of(plan_.incident)
            if level is not incident.severity:
                return incident.change_severity(level, actor=actor, source=source, at=at, reason="priority changed in PagerDuty")
            return [record_entry(plan_, f"PagerDuty priority is {level.value}", at)]
        if plan_.kind is Kind.ANNOTATED and plan_.note is not None:
            return incident.note(plan_.note.content, actor=actor, source=source, at=at)
    except DomainError as already:
        return [record_entry(plan_, f"PagerDuty: {plan_.kind.value.removeprefix('incident.')} ({already})", at)]
    assignees = ", ".join(ref.summary or ref.id for ref in (plan_.incident.assignees if plan_.incident else []))
    verb = plan_.kind.value.removeprefix("incident.")
    return [record_entry(plan_, f"PagerDuty: {verb}" + (f" to {assignees}" if assignees else ""), at)]


__all__ = ["Kind", "Plan", "ValidationError", "apply", "plan", "record_entry", "severity_of"]
