"""Keeping PagerDuty in step with Firebreak: which incident changes queue PagerDuty calls.

A subscriber on the incident service, so its outbox rows commit with the change. Changes
whose source is PagerDuty are never sent back (that would loop). Linked incidents
(``pagerduty_incident_id`` set) are annotated over REST. P0/P1 incidents that did not come
from PagerDuty page through Events API v2 (dedup key ``INC-<n>``) when a routing key is
configured.

Acknowledge and resolve reach everything Firebreak opened in PagerDuty for the incident:
the linked incident and every escalation page of this cycle over REST, and the Events API
alert under its dedup key. Leaving one open would keep paging people for an incident that
is over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery.outbox import enqueue
from bot.domain.incident import Incident, Status
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.pagerduty.deliverer import TARGET
from bot.service.changes import Change, Subscriber
from bot.store.models import IncidentRow, OutboxRow, TimelineRow

PAGED_SEVERITIES = frozenset({Severity.P0, Severity.P1})
_PD_SEVERITY = {Severity.P0: "critical", Severity.P1: "critical", Severity.P2: "error", Severity.P3: "warning"}


def ordering_key(number: int) -> str:
    return f"pagerduty:{number}"


def trigger_key(incident: Incident) -> str:
    """One Events API page per life of the incident (a reopen may page again)."""
    return f"pagerduty:trigger:{incident.number}:{incident.reopen_count}"


def make_pagerduty_sync(*, rest_enabled: bool, events_enabled: bool) -> Subscriber:
    def sync(change: Change) -> None:
        incident, session = change.incident, change.session
        if incident.severity is Severity.INFO:
            return
        ours = [recorded for recorded in change.entries if recorded.entry.source is not Source.PAGERDUTY]
        closing = [recorded for recorded in change.entries if _closing_verb(recorded.entry) is not None]
        if not ours and not closing:
            return
        row = session.get(IncidentRow, incident.number)
        pd_id = row.pagerduty_incident_id if row is not None else None
        queue = _queue(session, change)
        paged = events_enabled and _exists(session, trigger_key(incident))
        for recorded in closing:
            verb = _closing_verb(recorded.entry)
            # Acknowledged or resolved in PagerDuty: the incident it happened on needs nothing,
            # but the other pages and the Events API alert would go on paging people.
            origin = recorded.entry.data.get("pagerduty_incident_id") if recorded.entry.source is Source.PAGERDUTY else None
            if rest_enabled:
                for target in _opened_in_pagerduty(session, incident, pd_id):
                    if target != origin:
                        queue(str(verb), {"pagerduty_incident_id": target}, f"pagerduty:{verb}:{recorded.id}:{target}")
            if paged:
                queue(f"{verb}_event", {"dedup_key": incident.ref}, f"pagerduty:{verb}_event:{recorded.id}")
        for recorded in ours:
            entry = recorded.entry
            if entry.kind is EntryKind.NOTE and pd_id and rest_enabled:
                queue("note", {"pagerduty_incident_id": pd_id, "text": entry.text}, f"pagerduty:note:{recorded.id}")
        wants_page = any(r.entry.kind in (EntryKind.DECLARED, EntryKind.SEVERITY_CHANGED, EntryKind.STATUS_CHANGED) for r in ours)
        if (
            events_enabled
            and wants_page
            and pd_id is None
            and incident.source is not Source.PAGERDUTY
            and incident.severity in PAGED_SEVERITIES
            and incident.status is Status.TRIGGERED
        ):
            payload = {
                "dedup_key": incident.ref,
                "summary": f"{incident.ref} [{incident.severity.value}] {incident.title}",
                "severity": _PD_SEVERITY[incident.severity],
                "source": next((value.strip() for value in (incident.labels.get("instance"), incident.labels.get("job")) if value and value.strip()), "firebreak"),
                "links": dict(incident.links),
            }
            queue("trigger", payload, trigger_key(incident))

    return sync


def _queue(session: Session, change: Change) -> Callable[[str, dict[str, Any], str], None]:
    number = change.incident.number

    def queue(operation: str, payload: dict[str, Any], key: str) -> None:
        enqueue(
            session,
            target=TARGET,
            operation=operation,
            payload={"number": number, **payload},
            idempotency_key=key,
            now=change.now,
            incident_id=number,
            ordering_key=ordering_key(number),
            severity=change.incident.severity,
        )

    return queue


def _closing_verb(entry: TimelineEntry) -> str | None:
    """``acknowledge`` / ``resolve`` for a status change to send to PagerDuty, else None.

    A change that came from PagerDuty is sent on only when it says which PagerDuty incident
    it happened on (so that one is skipped); anything else from PagerDuty is never echoed.
    """
    if entry.kind is not EntryKind.STATUS_CHANGED:
        return None
    if entry.source is Source.PAGERDUTY and not entry.data.get("pagerduty_incident_id"):
        return None
    return {Status.ACKNOWLEDGED.value: "acknowledge", Status.RESOLVED.value: "resolve"}.get(str(entry.data.get("to")))


def _opened_in_pagerduty(session: Session, incident: Incident, linked: str | None) -> list[str]:
    """The linked PagerDuty incident and those our escalation pages opened in this cycle
    (a PAGED entry is written when a page is delivered)."""
    found = [linked] if linked else []
    statement = select(TimelineRow.data).where(TimelineRow.incident_id == incident.number, TimelineRow.kind == EntryKind.PAGED.value)
    for data in session.scalars(statement):
        page = data.get("pagerduty_incident_id")
        cycle = data.get("cycle")
        if page and page not in found and (cycle is None or cycle == incident.reopen_count):
            found.append(str(page))
    return found


def _exists(session: Session, idempotency_key: str) -> bool:
    return session.scalar(select(OutboxRow.id).where(OutboxRow.idempotency_key == idempotency_key)) is not None
