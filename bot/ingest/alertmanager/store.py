"""Applying one Alertmanager notification to the database, in the caller's transaction.

A notification carries the whole current state of its group, so applying it is a merge
(``alerts``): only *transitions* produce timeline entries, and a re-sent group (group_interval,
repeat_interval, HA peers, retries) produces none and writes nothing.

Each group is a *child* of one incident (an ``alert_groups`` row, found by the group's
``dedup_key``). A group seen for the first time opens an incident (child #1) or joins an
open one: correlated on labels, or folded into the storm incident (``placement``). Joining
is an update of the parent (a GROUP_JOINED entry and the group's alerts on its timeline),
never a declare: no channel, announcement, page or escalation plan of its own.

Two things a notification cannot tell us are handled here, not guessed:

- **Truncated groups.** With ``max_alerts`` Alertmanager cuts the alert list *before* it
  computes ``status``, and ``truncatedAlerts`` counts the hidden alerts whether firing or
  resolved. While any child is truncated Firebreak never writes "all resolved" nor resolves
  by itself (``settle``); it says so once on the timeline.
- **A group first seen already resolved** (Firebreak was down, or just installed, while it
  fired) is over: it opens nothing and is counted as ``first_seen_resolved``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain.children import JoinedBy
from bot.domain.incident import Incident, Status
from bot.domain.severity import Severity
from bot.domain.timeline import Source, TimelineEntry
from bot.ingest.alertmanager.alerts import (
    FIRING,
    RESOLVED,
    AlertState,
    Merge,
    load_states,
    merge_alerts,
    transition,
    write_alerts,
)
from bot.ingest.alertmanager.grouping import correlation_of, facts_of
from bot.ingest.alertmanager.mapping import (
    ACTOR,
    GroupFields,
    alert_severity,
    child_resolved_entry,
    group_fields,
    group_joined_entry,
    group_severity,
    truncated_entry,
)
from bot.ingest.alertmanager.models import Alert, AlertGroup
from bot.ingest.alertmanager.placement import Placement, place
from bot.ingest.alertmanager.settle import Policy, pause_pending, settle, settlement, truncated_elsewhere
from bot.ingest.dedup import find_or_create, keep_locked_row
from bot.service.incidents import IncidentService
from bot.store import alert_groups
from bot.store.incidents import IncidentRepository, to_domain
from bot.store.models import AlertGroupRow, AlertRow, IncidentRow
from bot.store.receipt import Receipt, receiving, stamp
from bot.store.receipt import current as current_receipt

__all__ = ["FIRING", "FIRST_SEEN_RESOLVED", "RESOLVED", "Merge", "Outcome", "Policy", "ingest_batch", "ingest_group", "merge_alerts"]

log = logging.getLogger(__name__)

#: Outcome (``firebreak_ingested_total``) of a group whose first notification is all resolved.
FIRST_SEEN_RESOLVED = "first_seen_resolved"
STORM_TITLE = "Alert storm: {count} group{s}"


@dataclass(frozen=True)
class Outcome:
    """What applying one notification did; ``skipped`` names why it touched no incident,
    ``joined`` how a new group joined an incident it did not open (correlated, storm)."""

    number: int | None
    created: bool
    changed: bool
    skipped: str | None = None
    joined: str | None = None


def ingest_group(session: Session, service: IncidentService, group: AlertGroup, policy: Policy) -> Outcome:
    return ingest_batch(session, service, [group], policy)[0]


def ingest_batch(
    session: Session, service: IncidentService, groups: Sequence[AlertGroup], policy: Policy, *, received: Sequence[datetime] | None = None
) -> list[Outcome]:
    """Apply notifications in order, with the result of one ``ingest_group`` call per group.

    Consecutive notifications of one group are folded in a single merge: the incident's
    alerts are loaded once, the state is kept in memory across the notifications, and alert
    rows, timeline entries and the incident are written once. A notification that changes
    the incident itself (reopen, severity, auto-resolve, a group joining) is recorded on its
    own, so subscribers see each such change with the incident exactly as it was then.

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
    return alert_groups.lock_by_dedup_key(session, group.dedup_key) is None


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


def _lock_incident(session: Session, number: int) -> Incident:
    row = IncidentRepository.get_row(session, number, for_update=True)
    keep_locked_row(session, row)
    return to_domain(row)


def _ingest_existing_or_new(
    session: Session, service: IncidentService, groups: Sequence[AlertGroup], policy: Policy, receipts: Sequence[Receipt | None]
) -> list[Outcome]:
    first = groups[0]
    child = alert_groups.lock_by_dedup_key(session, first.dedup_key)
    if child is not None:
        return _existing(session, service, child, groups, policy, receipts)
    now = service.clock.now()
    fields = group_fields(first, policy.mapping)
    grouping = policy.grouping
    correlation = correlation_of(first, grouping.names_for(facts_of(first, fields.title, fields.links.get("runbook"))))
    placement = place(session, grouping, correlation, fields.severity, now)
    if placement.parent is None:
        return _open(session, service, groups, policy, receipts, fields, placement, now)
    return _join(session, service, groups, policy, receipts, fields, placement, now)


def _existing(
    session: Session, service: IncidentService, child: AlertGroupRow, groups: Sequence[AlertGroup], policy: Policy, receipts: Sequence[Receipt | None]
) -> list[Outcome]:
    incident = _lock_incident(session, child.incident_id)
    return _Fold(session, service, incident, child, groups, policy, receipts).run()


def _any_firing(group: AlertGroup) -> bool:
    return any(alert.status == FIRING for alert in group.alerts)


def _open(
    session: Session,
    service: IncidentService,
    groups: Sequence[AlertGroup],
    policy: Policy,
    receipts: Sequence[Receipt | None],
    fields: GroupFields,
    placement: Placement,
    now: datetime,
) -> list[Outcome]:
    """Open an incident with the group as child #1 (a storm incident when the guard says so)."""
    first = groups[0]
    made: dict[str, object] = {}
    grouping = policy.grouping

    def declare() -> Incident:
        def extra(inner: Session, incident: Incident) -> list[TimelineEntry]:
            row = inner.get(IncidentRow, incident.number)
            assert row is not None
            row.storm = placement.storm
            row.correlation_key = placement.correlation.key if placement.correlation is not None and not placement.storm else None
            child = alert_groups.add(
                inner,
                incident_id=incident.number,
                dedup_key=first.dedup_key,
                source=ACTOR,
                title=fields.title,
                severity=fields.severity,
                joined_by=JoinedBy.STORM if placement.storm else JoinedBy.OPENED,
                at=now,
                labels=fields.labels,
                firing=_any_firing(first),
            )
            merged = merge_alerts(inner, incident.number, first, now, group_id=child.id, child=child.child_number)
            child.truncated_alerts = first.truncated_alerts
            made.update(child=child, merged=merged)
            truncation = [truncated_entry(first.truncated_alerts, at=now)] if first.truncated_alerts else []
            return merged.entries + truncation

        if placement.storm:
            minutes = max(1, int(grouping.storm_window.total_seconds() // 60))
            return service.declare(
                title=STORM_TITLE.format(count=1, s=""),
                severity=fields.severity,
                actor=ACTOR,
                source=Source.ALERTMANAGER,
                description=(
                    f"The storm guard is folding new alert groups into this one incident: {grouping.storm_threshold} or more "
                    f"incidents opened within {minutes} min. Each group is a child of it (its own alerts and state); "
                    f"Groups of {', '.join(sorted(level.value for level in grouping.storm_exempt)) or 'no severity'} still open their own incidents. "
                    f"The first group: {fields.title}"
                ),
                dedup_key=first.dedup_key,
                session=session,
                extra=extra,
            )
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

    existing, incident = find_or_create(session, first.dedup_key, declare)
    if existing is not None or incident is None:  # another ingester created the group first
        assert existing is not None
        return _existing(session, service, existing, groups, policy, receipts)
    child = made["child"]
    merged = made["merged"]
    assert isinstance(child, AlertGroupRow) and isinstance(merged, Merge)
    if merged.resolved:
        # Only a truncated group can be new with every shown alert resolved: its hidden
        # alerts may fire, so it opens, and says why it will not resolve by itself.
        firing = sum(1 for alert in first.alerts if alert.status == FIRING)
        rule = settlement(incident, firing=firing, truncated=first.truncated_alerts, policy=policy)
        tail = settle(incident, rule, count=len({a.fingerprint for a in first.alerts}), truncated=first.truncated_alerts, pause_said=False, now=now)
        if tail:
            IncidentRepository.save(session, incident, now=now)
            service.record(session, incident, tail)
    outcomes = [Outcome(incident.number, created=True, changed=True)]
    if len(groups) > 1:
        outcomes += _Fold(session, service, incident, child, groups[1:], policy, receipts[1:]).run()
    return outcomes


def _join(
    session: Session,
    service: IncidentService,
    groups: Sequence[AlertGroup],
    policy: Policy,
    receipts: Sequence[Receipt | None],
    fields: GroupFields,
    placement: Placement,
    now: datetime,
) -> list[Outcome]:
    """Add the group to an open incident as its next child, then apply its notifications there."""
    first = groups[0]
    assert placement.parent is not None
    parent = _lock_incident(session, placement.parent)

    def create() -> AlertGroupRow:
        return alert_groups.add(
            session,
            incident_id=parent.number,
            dedup_key=first.dedup_key,
            source=ACTOR,
            title=fields.title,
            severity=fields.severity,
            joined_by=placement.joined_by,
            at=now,
            labels=fields.labels,
            correlation=placement.correlation_values,
            firing=_any_firing(first),
        )

    existing, child = find_or_create(session, first.dedup_key, create)
    if existing is not None or child is None:
        assert existing is not None
        return _existing(session, service, existing, groups, policy, receipts)
    row = session.get(IncidentRow, parent.number)
    if row is not None and row.storm:
        count = session.scalar(select(func.count()).select_from(AlertGroupRow).where(AlertGroupRow.incident_id == parent.number)) or 1
        parent.title = STORM_TITLE.format(count=count, s="" if count == 1 else "s")
    joined = group_joined_entry(
        child=child.child_number,
        dedup_key=first.dedup_key,
        title=fields.title,
        labels=fields.labels,
        correlation=placement.correlation_values,
        joined_by=placement.joined_by.value,
        severity=fields.severity,
        alerts=len({alert.fingerprint for alert in first.alerts}),
        at=now,
    )
    log.info(
        "alert group joined an incident",
        extra={"dedup_key": first.dedup_key, "incident": parent.number, "child": child.child_number, "joined_by": placement.joined_by.value},
    )
    return _Fold(session, service, parent, child, groups, policy, receipts, joined=joined).run()


class _Fold:
    """Several notifications of one child of an incident, merged in memory, written in flushes."""

    def __init__(
        self,
        session: Session,
        service: IncidentService,
        incident: Incident,
        child: AlertGroupRow,
        groups: Sequence[AlertGroup],
        policy: Policy,
        receipts: Sequence[Receipt | None],
        *,
        joined: TimelineEntry | None = None,
    ) -> None:
        self.session, self.service, self.incident, self.groups, self.policy = session, service, incident, groups, policy
        self.child = child
        self.receipts = receipts
        self.joined = joined
        self.number = incident.number
        self.fingerprints = {alert.fingerprint for group in groups for alert in group.alerts}
        self.alerts: dict[str, AlertState] = load_states(session, self.number, self.fingerprints)
        self._others: tuple[int, int] | None = None  # (rows, firing) of the incident outside ``fingerprints``
        self._child_others: int | None = None  # firing rows of this child outside ``fingerprints``
        self._truncated_elsewhere: int | None = None
        self._siblings: int | None = None
        self._pause_pending: bool | None = None
        self.pending: list[TimelineEntry] = []
        self.pending_at = service.clock.now()

    def run(self) -> list[Outcome]:
        outcomes = []
        child = self.child
        for index, (group, receipt) in enumerate(zip(self.groups, self.receipts, strict=True)):
            now = self.service.clock.now()
            was_truncated, was_firing = child.truncated_alerts, child.status == FIRING
            merged = transition(self.alerts, self.number, group, now, group_id=child.id, child=child.child_number)
            incident = self.incident
            joining = index == 0 and self.joined is not None
            reopens = bool(merged.refired) and incident.status is Status.RESOLVED
            rule = None
            if self._settles(group, merged, was_truncated):
                _count, firing = self._counts()
                truncated = self._truncated_others() + group.truncated_alerts
                rule = settlement(incident, firing=firing, truncated=truncated, policy=self.policy)
            raised = _worst(incident, group, merged.refired, self.policy)
            changes = joining or reopens or raised is not None or (rule is not None and rule.auto_resolve)
            if changes:
                # The incident itself changes: what came before is recorded with the incident
                # as it was then, and this notification on its own (subscribers look at it).
                self._flush()
            entries = [self.joined] if joining and self.joined is not None else []
            entries += merged.entries
            if reopens:
                entries += incident.reopen(actor=ACTOR, source=Source.ALERTMANAGER, at=now)
            entries += _raise_severity(incident, group, merged.refired, self.policy, now, child=child.child_number)
            entries += _truncation(group, was_truncated, now)
            firing_now = self._child_firing()
            alerts_severity = group_severity(group, self.policy.mapping, merged.refired) if merged.refired else None
            alert_groups.set_state(child, firing=firing_now, at=now, truncated_alerts=group.truncated_alerts, severity=alerts_severity)
            if was_firing and not firing_now and self._sibling_count() > 1:
                entries.append(child_resolved_entry(child.child_number, child.title, at=now))
            if rule is not None:
                count, _firing = self._counts()
                truncated = self._truncated_others() + group.truncated_alerts
                entries += settle(incident, rule, count=count, truncated=truncated, pause_said=self._pause_said(), now=now)
                if rule.paused:
                    self._pause_pending = True
                elif rule.all_resolved:
                    self._pause_pending = False
            if entries:
                self.pending += [stamp(entry, receipt) for entry in entries]
                self.pending_at = now
            if changes:
                self._flush()
            joined_by = child.joined_by if joining else None
            outcomes.append(Outcome(self.number, created=False, changed=bool(entries), joined=joined_by))
        self._flush()
        return outcomes

    def _settles(self, group: AlertGroup, merged: Merge, was_truncated: int) -> bool:
        """Whether this notification may settle the incident: an alert resolved in it, or it
        shows its group whole (nothing hidden) after it was truncated or auto-resolve paused."""
        if merged.resolved:
            return True
        if group.truncated_alerts:
            return False
        return was_truncated > 0 or self._pause_said()

    def _pause_said(self) -> bool:
        if self._pause_pending is None:
            self._pause_pending = pause_pending(self.session, self.number)
        return self._pause_pending

    def _truncated_others(self) -> int:
        if self._truncated_elsewhere is None:
            self._truncated_elsewhere = truncated_elsewhere(self.session, self.number, self.child.id)
        return self._truncated_elsewhere

    def _sibling_count(self) -> int:
        """How many children the incident has (this one included)."""
        if self._siblings is None:
            statement = select(func.count()).select_from(AlertGroupRow).where(AlertGroupRow.incident_id == self.number)
            self._siblings = int(self.session.scalar(statement) or 1)
        return self._siblings

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
        firing += sum(1 for state in self.alerts.values() if state.firing)
        return rows, firing

    def _child_firing(self) -> bool:
        """Whether any alert of this child fires, as the notifications so far left them."""
        if any(state.firing and state.values.get("group_id") == self.child.id for state in self.alerts.values()):
            return True
        if self._child_others is None:
            statement = select(func.count()).where(
                AlertRow.group_id == self.child.id, AlertRow.status == FIRING, AlertRow.fingerprint.not_in(list(self.fingerprints))
            )
            self._child_others = int(self.session.scalar(statement) or 0)
        return self._child_others > 0

    def _flush(self) -> None:
        """Write changed alert rows, the incident and the pending entries (one record)."""
        write_alerts(self.session, self.number, self.alerts)
        if self.pending:
            entries, self.pending = self.pending, []
            IncidentRepository.save(self.session, self.incident, now=self.pending_at)
            self.service.record(self.session, self.incident, entries)


def _truncation(group: AlertGroup, was_truncated: int, now: datetime) -> list[TimelineEntry]:
    """Record ``truncatedAlerts`` when it changes for the group, so re-sends add nothing."""
    if group.truncated_alerts == 0 or group.truncated_alerts == was_truncated:
        return []
    return [truncated_entry(group.truncated_alerts, at=now)]


def _worst(incident: Incident, group: AlertGroup, fired: list[Alert], policy: Policy) -> tuple[Alert, Severity] | None:
    """The fired alert that would raise the incident, and to what; None if none would."""
    if not fired or not incident.status.is_open:
        return None
    worst = min(fired, key=lambda alert: alert_severity(alert, group, policy.mapping).rank)
    level = alert_severity(worst, group, policy.mapping)
    return (worst, level) if level.is_more_severe_than(incident.severity) else None


def _raise_severity(
    incident: Incident, group: AlertGroup, fired: list[Alert], policy: Policy, now: datetime, *, child: int = 1
) -> list[TimelineEntry]:
    """A more severe alert of any child raises the incident; alerts never lower it."""
    raised = _worst(incident, group, fired, policy)
    if raised is None:
        return []
    worst, level = raised
    reason = f"alert {worst.alertname or worst.fingerprint} is {level.value}" + (f" (alert group #{child})" if child > 1 else "")
    return incident.change_severity(level, actor=ACTOR, source=Source.ALERTMANAGER, at=now, reason=reason)
