"""Applying one Alertmanager notification to the database, in the caller's transaction.

A notification carries the whole current state of its group, so applying it is a merge:
alerts are keyed by fingerprint, only *transitions* (new, firing→resolved, resolved→firing)
produce timeline entries, and a re-sent group (group_interval, repeat_interval, HA peers,
retries) produces none and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.domain.clock import as_utc
from bot.domain.incident import Incident, Status
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.ingest.alertmanager.mapping import (
    ACTOR,
    alert_entry,
    alert_severity,
    all_resolved_entry,
    group_fields,
    truncated_entry,
)
from bot.ingest.alertmanager.models import Alert, AlertGroup
from bot.ingest.dedup import find_or_declare
from bot.service.incidents import IncidentService
from bot.store.incidents import IncidentRepository
from bot.store.models import AlertRow, TimelineRow

FIRING = "firing"
RESOLVED = "resolved"


@dataclass(frozen=True)
class Policy:
    """Operator choices: label → severity, and which severities resolve themselves.

    INFO groups always resolve themselves: nobody is notified about them, so nobody would.
    """

    mapping: Mapping[str, Severity]
    auto_resolve: frozenset[Severity]

    def resolves_itself(self, severity: Severity) -> bool:
        return severity is Severity.INFO or severity in self.auto_resolve


@dataclass
class Merge:
    entries: list[TimelineEntry] = field(default_factory=list)
    refired: list[Alert] = field(default_factory=list)
    resolved: int = 0


@dataclass(frozen=True)
class Outcome:
    number: int
    created: bool
    changed: bool


def ingest_group(session: Session, service: IncidentService, group: AlertGroup, policy: Policy) -> Outcome:
    now = service.clock.now()
    fields = group_fields(group, policy.mapping)
    first_merge = Merge()

    def declare() -> Incident:
        def extra(inner: Session, incident: Incident) -> list[TimelineEntry]:
            merged = merge_alerts(inner, incident.number, group, now)
            first_merge.entries, first_merge.resolved = merged.entries, merged.resolved
            return merged.entries + _truncation(inner, incident.number, group, now)

        return service.declare(
            title=fields.title,
            severity=fields.severity,
            actor=ACTOR,
            source=Source.ALERTMANAGER,
            description=fields.description,
            labels=fields.labels,
            links=fields.links,
            dedup_key=group.dedup_key,
            session=session,
            extra=extra,
        )

    incident, created = find_or_declare(session, group.dedup_key, declare)
    if created:
        # A group first seen already resolved (Firebreak was down while it fired) still
        # gets its "all resolved" entry and auto-resolve.
        tail = _all_resolved(session, incident, first_merge, policy, now)
        if tail:
            IncidentRepository.save(session, incident, now=now)
            service.record(session, incident, tail)
        return Outcome(incident.number, created=True, changed=True)

    merged = merge_alerts(session, incident.number, group, now)
    entries = list(merged.entries)
    if merged.refired and incident.status is Status.RESOLVED:
        entries += incident.reopen(actor=ACTOR, source=Source.ALERTMANAGER, at=now)
    entries += _raise_severity(incident, group, merged.refired, policy, now)
    entries += _truncation(session, incident.number, group, now)
    entries += _all_resolved(session, incident, merged, policy, now)
    if not entries:
        return Outcome(incident.number, created=False, changed=False)
    IncidentRepository.save(session, incident, now=now)
    service.record(session, incident, entries)
    return Outcome(incident.number, created=False, changed=True)


def merge_alerts(session: Session, number: int, group: AlertGroup, now: datetime) -> Merge:
    """Upsert alert rows by fingerprint; an entry per transition, none for repeats.

    Stale deliveries are ignored: a "firing" that started before the stored resolve, or a
    "resolved" that ended before the stored firing began (HA peers may deliver late).
    """
    incoming: dict[str, Alert] = {}
    for alert in group.alerts:
        incoming.setdefault(alert.fingerprint, alert)
    statement = select(AlertRow).where(AlertRow.incident_id == number, AlertRow.fingerprint.in_(list(incoming)))
    stored = {row.fingerprint: row for row in session.scalars(statement)}
    merge = Merge()
    new_rows: list[dict[str, Any]] = []
    for fingerprint, alert in incoming.items():
        row = stored.get(fingerprint)
        if row is None:
            new_rows.append(
                {
                    "incident_id": number,
                    "fingerprint": fingerprint,
                    "status": alert.status,
                    "labels": dict(alert.labels),
                    "annotations": dict(alert.annotations),
                    "starts_at": alert.starts_at,
                    "ends_at": alert.ends_at,
                    "generator_url": alert.generator_url or None,
                    "first_seen_at": now,
                    "updated_at": now,
                }
            )
        elif row.status == alert.status or _stale(row, alert):
            continue
        else:
            row.status = alert.status
            row.labels = dict(alert.labels)
            row.annotations = dict(alert.annotations)
            row.starts_at = alert.starts_at or row.starts_at
            row.ends_at = alert.ends_at if alert.status == RESOLVED else None
            row.updated_at = now
        merge.entries.append(alert_entry(alert, at=now))
        if alert.status == FIRING:
            merge.refired.append(alert)
        else:
            merge.resolved += 1
    if new_rows:
        # One executemany, not one ORM object per alert: a storm brings thousands.
        session.connection().execute(insert(AlertRow), new_rows)
    session.flush()
    return merge


def _stale(row: AlertRow, alert: Alert) -> bool:
    if alert.status == FIRING and row.ends_at is not None and alert.starts_at is not None:
        return as_utc(alert.starts_at) <= as_utc(row.ends_at)
    if alert.status == RESOLVED and row.starts_at is not None and alert.ends_at is not None:
        # it ended before the firing we hold began: a late resolve of an earlier episode
        return as_utc(alert.ends_at) < as_utc(row.starts_at)
    return False


def _raise_severity(incident: Incident, group: AlertGroup, fired: list[Alert], policy: Policy, now: datetime) -> list[TimelineEntry]:
    """A more severe alert joining the group raises the incident; alerts never lower it."""
    if not fired or not incident.status.is_open:
        return []
    worst = min(fired, key=lambda alert: alert_severity(alert, group, policy.mapping).rank)
    level = alert_severity(worst, group, policy.mapping)
    if not level.is_more_severe_than(incident.severity):
        return []
    reason = f"alert {worst.alertname or worst.fingerprint} is {level.value}"
    return incident.change_severity(level, actor=ACTOR, source=Source.ALERTMANAGER, at=now, reason=reason)


def _all_resolved(session: Session, incident: Incident, merged: Merge, policy: Policy, now: datetime) -> list[TimelineEntry]:
    if not merged.resolved:
        return []
    statuses = list(session.scalars(select(AlertRow.status).where(AlertRow.incident_id == incident.number)))
    if any(status == FIRING for status in statuses):
        return []
    auto = incident.status.is_open and policy.resolves_itself(incident.severity)
    entries = [all_resolved_entry(len(statuses), auto_resolved=auto, at=now)]
    if auto:
        entries += incident.resolve(actor=ACTOR, source=Source.ALERTMANAGER, at=now)
    return entries


def _truncation(session: Session, number: int, group: AlertGroup, now: datetime) -> list[TimelineEntry]:
    """Record ``truncatedAlerts`` when it changes, so re-sends add nothing."""
    if group.truncated_alerts == 0:
        return []
    statement = (
        select(TimelineRow.data)
        .where(TimelineRow.incident_id == number, TimelineRow.kind == EntryKind.NOTE.value, TimelineRow.actor == ACTOR)
        .order_by(TimelineRow.id.desc())
    )
    for data in session.scalars(statement):
        if "truncated_alerts" in (data or {}):
            if data["truncated_alerts"] == group.truncated_alerts:
                return []
            break
    return [truncated_entry(group.truncated_alerts, at=now)]
