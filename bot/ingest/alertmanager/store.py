"""Applying one Alertmanager notification to the database, in the caller's transaction.

A notification carries the whole current state of its group, so applying it is a merge:
alerts are keyed by fingerprint, only *transitions* (new, firing→resolved, resolved→firing)
produce timeline entries, and a re-sent group (group_interval, repeat_interval, HA peers,
retries) produces none and writes nothing.

Two things a notification cannot tell us are handled here, not guessed:

- **Truncated groups.** With ``max_alerts`` Alertmanager cuts the alert list *before* it
  computes ``status``, and ``truncatedAlerts`` counts the hidden alerts whether firing or
  resolved. A "resolved" notification with hidden alerts says nothing about those, so while a
  group is truncated Firebreak never writes "all resolved" nor resolves by itself; it says so
  once on the timeline. The pause lasts until a notification shows the group whole again
  (``truncatedAlerts: 0``) with every alert resolved, or a person resolves the incident.
- **A group first seen already resolved** (Firebreak was down, or just installed, while it
  fired) is over: it opens nothing and is counted as ``first_seen_resolved``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
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
    auto_resolve_paused_entry,
    group_fields,
    truncated_entry,
)
from bot.ingest.alertmanager.models import Alert, AlertGroup
from bot.ingest.dedup import find_or_declare, lock_by_dedup_key
from bot.service.incidents import IncidentService
from bot.store.incidents import IncidentRepository
from bot.store.models import AlertRow, TimelineRow
from bot.store.receipt import Receipt, receiving, stamp
from bot.store.receipt import current as current_receipt

log = logging.getLogger(__name__)

FIRING = "firing"
RESOLVED = "resolved"
#: Outcome (``firebreak_ingested_total``) of a group whose first notification is all resolved.
FIRST_SEEN_RESOLVED = "first_seen_resolved"


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
    """What applying one notification did; ``skipped`` names why it touched no incident."""

    number: int | None
    created: bool
    changed: bool
    skipped: str | None = None


def ingest_group(session: Session, service: IncidentService, group: AlertGroup, policy: Policy) -> Outcome:
    return ingest_batch(session, service, [group], policy)[0]


def ingest_batch(
    session: Session, service: IncidentService, groups: Sequence[AlertGroup], policy: Policy, *, received: Sequence[datetime] | None = None
) -> list[Outcome]:
    """Apply notifications in order, with the result of one ``ingest_group`` call per group.

    Consecutive notifications of one group are folded in a single merge: the incident's
    alerts are loaded once, the state is kept in memory across the notifications, and alert
    rows, timeline entries and the incident are written once. A notification that changes
    the incident itself (reopen, severity, auto-resolve) is recorded on its own, so
    subscribers see each such change with the incident exactly as it was then.

    ``received`` holds when each notification arrived (entries carry it); without it, the
    receipt being applied (or the clock) stands for all of them.
    """
    receipts = _receipts(groups, received)
    outcomes: list[Outcome] = []
    index = 0
    while index < len(groups):
        key = groups[index].dedup_key
        end = index + 1
        while end < len(groups) and groups[end].dedup_key == key:
            end += 1
        outcomes += _ingest_run(session, service, groups[index:end], policy, receipts[index:end])
        index = end
    return outcomes


def _receipts(groups: Sequence[AlertGroup], received: Sequence[datetime] | None) -> list[Receipt | None]:
    if received is None:
        return [current_receipt()] * len(groups)
    if len(received) != len(groups):
        raise ValueError(f"{len(received)} receipt times for {len(groups)} notifications")
    return [Receipt(at) for at in received]


def _first_seen_resolved(session: Session, group: AlertGroup) -> bool:
    """No incident for the group and nothing in it fires (hidden alerts might, so not when truncated)."""
    if group.truncated_alerts or any(alert.status == FIRING for alert in group.alerts):
        return False
    return lock_by_dedup_key(session, group.dedup_key) is None


def _ingest_run(
    session: Session, service: IncidentService, groups: Sequence[AlertGroup], policy: Policy, receipts: Sequence[Receipt | None]
) -> list[Outcome]:
    skipped: list[Outcome] = []
    while groups and _first_seen_resolved(session, groups[0]):
        group = groups[0]
        log.info(
            "alert group first seen already resolved; no incident opened",
            extra={"dedup_key": group.dedup_key, "alerts": len(group.alerts), "receiver": group.receiver[:200]},
        )
        skipped.append(Outcome(None, created=False, changed=False, skipped=FIRST_SEEN_RESOLVED))
        groups, receipts = groups[1:], receipts[1:]
    if not groups:
        return skipped
    if receipts[0] is None:
        return skipped + _ingest_existing_or_new(session, service, groups, policy, receipts)
    with receiving(receipts[0].received_at):
        return skipped + _ingest_existing_or_new(session, service, groups, policy, receipts)


def _ingest_existing_or_new(
    session: Session, service: IncidentService, groups: Sequence[AlertGroup], policy: Policy, receipts: Sequence[Receipt | None]
) -> list[Outcome]:
    first = groups[0]
    now = service.clock.now()
    fields = group_fields(first, policy.mapping)
    first_merge = Merge()

    def declare() -> Incident:
        def extra(inner: Session, incident: Incident) -> list[TimelineEntry]:
            merged = merge_alerts(inner, incident.number, first, now)
            first_merge.entries, first_merge.resolved = merged.entries, merged.resolved
            return merged.entries + _truncation(inner, incident.number, first, now)

        return service.declare(
            title=fields.title,
            severity=fields.severity,
            actor=ACTOR,
            source=Source.ALERTMANAGER,
            description=fields.description,
            labels=fields.labels,
            links=fields.links,
            dedup_key=first.dedup_key,
            session=session,
            extra=extra,
        )

    incident, created = find_or_declare(session, first.dedup_key, declare)
    outcomes: list[Outcome] = []
    rest = groups
    if created:
        # Only a truncated group can be new with every shown alert resolved: its hidden
        # alerts may fire, so it opens, and says why it will not resolve by itself.
        tail = _all_resolved(session, incident, first, first_merge, policy, now)
        if tail:
            IncidentRepository.save(session, incident, now=now)
            service.record(session, incident, tail)
        outcomes.append(Outcome(incident.number, created=True, changed=True))
        rest = groups[1:]
    if rest:
        outcomes += _Fold(session, service, incident, rest, policy, receipts[len(groups) - len(rest) :]).run()
    return outcomes


class _AlertState:
    """One alert row of the incident, as the notifications so far left it."""

    __slots__ = ("dirty", "inserted", "row", "values")

    def __init__(self, row: AlertRow | None, values: dict[str, Any]) -> None:
        self.row = row
        self.values = values
        self.dirty = False
        self.inserted = False

    @classmethod
    def stored(cls, row: AlertRow) -> _AlertState:
        return cls(row, {"status": row.status, "starts_at": row.starts_at, "ends_at": row.ends_at, "fingerprint": row.fingerprint})


class _Fold:
    """Several notifications of one existing incident, merged in memory, written in flushes."""

    def __init__(
        self, session: Session, service: IncidentService, incident: Incident, groups: Sequence[AlertGroup], policy: Policy, receipts: Sequence[Receipt | None]
    ) -> None:
        self.session, self.service, self.incident, self.groups, self.policy = session, service, incident, groups, policy
        self.receipts = receipts
        self.number = incident.number
        fingerprints = {alert.fingerprint for group in groups for alert in group.alerts}
        self.fingerprints = fingerprints
        statement = select(AlertRow).where(AlertRow.incident_id == self.number, AlertRow.fingerprint.in_(list(fingerprints)))
        self.alerts: dict[str, _AlertState] = {row.fingerprint: _AlertState.stored(row) for row in session.scalars(statement)}
        self._others: tuple[int, int] | None = None  # (rows, firing) outside ``fingerprints``
        self._truncated: int | None = None
        self._truncated_loaded = False
        self._pause_pending: bool | None = None
        self.pending: list[TimelineEntry] = []
        self.pending_at = service.clock.now()

    def run(self) -> list[Outcome]:
        outcomes = []
        for group, receipt in zip(self.groups, self.receipts, strict=True):
            now = self.service.clock.now()
            merged = _transition(self.alerts, self.number, group, now)
            incident = self.incident
            reopens = bool(merged.refired) and incident.status is Status.RESOLVED
            settles = self._settles(group, merged)
            changes = reopens or _worst(incident, group, merged.refired, self.policy) is not None or self._auto_resolves(group, settles)
            if changes:
                # The incident itself changes: what came before is recorded with the incident
                # as it was then, and this notification on its own (subscribers look at it).
                self._flush()
            entries = list(merged.entries)
            if reopens:
                entries += incident.reopen(actor=ACTOR, source=Source.ALERTMANAGER, at=now)
            entries += _raise_severity(incident, group, merged.refired, self.policy, now)
            entries += self._truncation(group, now)
            if settles:
                count, firing = self._counts()
                if not firing and group.truncated_alerts:
                    entries += self._paused(group, now)
                elif not firing:
                    auto = incident.status.is_open and self.policy.resolves_itself(incident.severity)
                    entries.append(all_resolved_entry(count, auto_resolved=auto, at=now))
                    self._pause_pending = False
                    if auto:
                        entries += incident.resolve(actor=ACTOR, source=Source.ALERTMANAGER, at=now)
            if entries:
                self.pending += [stamp(entry, receipt) for entry in entries]
                self.pending_at = now
            if changes:
                self._flush()
            outcomes.append(Outcome(self.number, created=False, changed=bool(entries)))
        self._flush()
        return outcomes

    def _settles(self, group: AlertGroup, merged: Merge) -> bool:
        """Whether this notification may settle the group: an alert resolved in it, or it is the
        first one shown whole (nothing hidden) since auto-resolve was paused for truncation."""
        if merged.resolved:
            return True
        if group.truncated_alerts:
            return False
        if self._pause_pending is None:
            self._pause_pending = _pause_pending(self.session, self.number)
        return self._pause_pending

    def _auto_resolves(self, group: AlertGroup, settles: bool) -> bool:
        if not settles or group.truncated_alerts:
            return False
        _count, firing = self._counts()
        return not firing and self.incident.status.is_open and self.policy.resolves_itself(self.incident.severity)

    def _counts(self) -> tuple[int, int]:
        """(alert rows of the incident, of which firing), as the notifications so far left them."""
        if self._others is None:
            statement = (
                select(AlertRow.status, func.count())
                .where(AlertRow.incident_id == self.number, AlertRow.fingerprint.not_in(list(self.fingerprints)))
                .group_by(AlertRow.status)
            )
            by_status: dict[str, int] = {status: count for status, count in self.session.execute(statement)}
            self._others = (sum(by_status.values()), by_status.get(FIRING, 0))
        rows, firing = self._others
        rows += len(self.alerts)
        firing += sum(1 for state in self.alerts.values() if state.values["status"] == FIRING)
        return rows, firing

    def _truncation(self, group: AlertGroup, now: datetime) -> list[TimelineEntry]:
        if group.truncated_alerts == 0:
            return []
        if not self._truncated_loaded:
            self._truncated = _last_truncated(self.session, self.number)
            self._truncated_loaded = True
        if self._truncated == group.truncated_alerts:
            return []
        self._truncated = group.truncated_alerts
        return [truncated_entry(group.truncated_alerts, at=now)]

    def _paused(self, group: AlertGroup, now: datetime) -> list[TimelineEntry]:
        """The note that auto-resolve waits, said once until the pause is lifted."""
        if self._pause_pending is None:
            self._pause_pending = _pause_pending(self.session, self.number)
        if self._pause_pending:
            return []
        self._pause_pending = True
        return [auto_resolve_paused_entry(group.truncated_alerts, at=now)]

    def _flush(self) -> None:
        """Write changed alert rows, the incident and the pending entries (one record)."""
        _write_alerts(self.session, self.number, self.alerts)
        if self.pending:
            entries, self.pending = self.pending, []
            IncidentRepository.save(self.session, self.incident, now=self.pending_at)
            self.service.record(self.session, self.incident, entries)


def merge_alerts(session: Session, number: int, group: AlertGroup, now: datetime) -> Merge:
    """Upsert one notification's alert rows by fingerprint; an entry per transition."""
    statement = select(AlertRow).where(AlertRow.incident_id == number, AlertRow.fingerprint.in_([alert.fingerprint for alert in group.alerts]))
    states = {row.fingerprint: _AlertState.stored(row) for row in session.scalars(statement)}
    merge = _transition(states, number, group, now)
    _write_alerts(session, number, states)
    return merge


def _transition(states: dict[str, _AlertState], number: int, group: AlertGroup, now: datetime) -> Merge:
    """Apply a notification to the alerts' in-memory state; an entry per transition, none for repeats.

    Stale deliveries are ignored: a "firing" that started before the stored resolve, or a
    "resolved" that ended before the stored firing began (HA peers may deliver late).
    """
    incoming: dict[str, Alert] = {}
    for alert in group.alerts:
        incoming.setdefault(alert.fingerprint, alert)
    merge = Merge()
    for fingerprint, alert in incoming.items():
        state = states.get(fingerprint)
        if state is None:
            values: dict[str, Any] = {
                "incident_id": number,
                "fingerprint": fingerprint,
                "starts_at": alert.starts_at,
                "ends_at": alert.ends_at,
                "generator_url": alert.generator_url or None,
                "first_seen_at": now,
            }
            states[fingerprint] = state = _AlertState(None, values)
        else:
            values = state.values
            if values["status"] == alert.status or _stale(values["starts_at"], values["ends_at"], alert):
                continue
            values["starts_at"] = alert.starts_at or values["starts_at"]
            values["ends_at"] = alert.ends_at if alert.status == RESOLVED else None
        values.update(status=alert.status, labels=dict(alert.labels), annotations=dict(alert.annotations), updated_at=now)
        state.dirty = True
        merge.entries.append(alert_entry(alert, at=now))
        if alert.status == FIRING:
            merge.refired.append(alert)
        else:
            merge.resolved += 1
    return merge


def _write_alerts(session: Session, number: int, states: dict[str, _AlertState]) -> None:
    """Insert new alert rows (one executemany) and copy changed values onto stored ones."""
    new_rows = []
    for state in states.values():
        if not state.dirty:
            continue
        state.dirty = False
        if state.row is None and not state.inserted:
            new_rows.append(dict(state.values))
            state.inserted = True
            continue
        if state.row is None:
            # inserted by an earlier write of this batch, changed since
            statement = select(AlertRow).where(AlertRow.incident_id == number, AlertRow.fingerprint == state.values["fingerprint"])
            state.row = session.scalars(statement).one()
        for name, value in state.values.items():
            setattr(state.row, name, value)
    if new_rows:
        # One executemany, not one ORM object per alert: a storm brings thousands.
        session.connection().execute(insert(AlertRow), new_rows)
    session.flush()


def _stale(starts_at: datetime | None, ends_at: datetime | None, alert: Alert) -> bool:
    """A delivery about an earlier episode than the stored one (HA peers deliver late)."""
    if alert.status == FIRING and ends_at is not None and alert.starts_at is not None:
        return as_utc(alert.starts_at) <= as_utc(ends_at)
    if alert.status == RESOLVED and starts_at is not None and alert.ends_at is not None:
        # it ended before the firing we hold began: a late resolve of an earlier episode
        return as_utc(alert.ends_at) < as_utc(starts_at)
    return False


def _worst(incident: Incident, group: AlertGroup, fired: list[Alert], policy: Policy) -> tuple[Alert, Severity] | None:
    """The fired alert that would raise the incident, and to what; None if none would."""
    if not fired or not incident.status.is_open:
        return None
    worst = min(fired, key=lambda alert: alert_severity(alert, group, policy.mapping).rank)
    level = alert_severity(worst, group, policy.mapping)
    return (worst, level) if level.is_more_severe_than(incident.severity) else None


def _raise_severity(incident: Incident, group: AlertGroup, fired: list[Alert], policy: Policy, now: datetime) -> list[TimelineEntry]:
    """A more severe alert joining the group raises the incident; alerts never lower it."""
    raised = _worst(incident, group, fired, policy)
    if raised is None:
        return []
    worst, level = raised
    reason = f"alert {worst.alertname or worst.fingerprint} is {level.value}"
    return incident.change_severity(level, actor=ACTOR, source=Source.ALERTMANAGER, at=now, reason=reason)


def _all_resolved(session: Session, incident: Incident, group: AlertGroup, merged: Merge, policy: Policy, now: datetime) -> list[TimelineEntry]:
    if not merged.resolved:
        return []
    statuses = list(session.scalars(select(AlertRow.status).where(AlertRow.incident_id == incident.number)))
    if any(status == FIRING for status in statuses):
        return []
    if group.truncated_alerts:
        return [] if _pause_pending(session, incident.number) else [auto_resolve_paused_entry(group.truncated_alerts, at=now)]
    auto = incident.status.is_open and policy.resolves_itself(incident.severity)
    entries = [all_resolved_entry(len(statuses), auto_resolved=auto, at=now)]
    if auto:
        entries += incident.resolve(actor=ACTOR, source=Source.ALERTMANAGER, at=now)
    return entries


def _truncation(session: Session, number: int, group: AlertGroup, now: datetime) -> list[TimelineEntry]:
    """Record ``truncatedAlerts`` when it changes, so re-sends add nothing."""
    if group.truncated_alerts == 0 or _last_truncated(session, number) == group.truncated_alerts:
        return []
    return [truncated_entry(group.truncated_alerts, at=now)]


def _pause_pending(session: Session, number: int) -> bool:
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


def _last_truncated(session: Session, number: int) -> int | None:
    """The ``truncatedAlerts`` of the incident's latest truncation note, if any."""
    statement = (
        select(TimelineRow.data)
        .where(TimelineRow.incident_id == number, TimelineRow.kind == EntryKind.NOTE.value, TimelineRow.actor == ACTOR)
        .order_by(TimelineRow.id.desc())
    )
    for data in session.scalars(statement):
        if "truncated_alerts" in (data or {}):
            return int(data["truncated_alerts"])
    return None
