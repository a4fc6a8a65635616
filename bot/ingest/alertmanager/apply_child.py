"""Applying notifications of one child to its incident, and what it changes.

Several notifications of one group are merged in memory and written in flushes; a
notification that changes the incident itself (a group joining, a reopen, a raised severity,
an auto-resolve) is recorded on its own, so subscribers see each such change with the
incident exactly as it was then. The per-child state (``alert_groups``: firing or resolved,
truncated alerts, severity) is kept current here, and the one auto-resolve rule of
``settle`` decides what the incident's alerts add up to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, not_, select
from sqlalchemy.orm import Session

from bot.domain.incident import Incident, Status
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.ingest.alertmanager.alerts import FIRING, AlertState, Transitions, load_states, transition, write_alerts
from bot.ingest.alertmanager.mapping import (
    ACTOR,
    alert_severity,
    child_resolved_entry,
    firing_again_entry,
    group_severity,
    truncated_entry,
)
from bot.ingest.alertmanager.models import Alert, AlertGroup
from bot.ingest.alertmanager.settle import Policy, pause_pending, settle, settlement, truncated_elsewhere
from bot.service.incidents import IncidentService
from bot.store import alert_groups
from bot.store.incidents import IncidentRepository
from bot.store.models import AlertGroupRow, AlertRow
from bot.store.receipt import Receipt, stamp


@dataclass(frozen=True)
class Outcome:
    """What applying one notification did; ``skipped`` names why it touched no incident,
    ``joined`` how a new group joined an incident it did not open (correlated, storm)."""

    number: int | None
    created: bool
    changed: bool
    skipped: str | None = None
    joined: str | None = None


class ChildApplier:
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
        child_alerts: Mapping[str, AlertState] | None = None,
    ) -> None:
        """``child_alerts``: every stored alert of the child, when the caller holds them all
        (a child opened in this transaction), so they are not read back."""
        self.session, self.service, self.incident, self.groups, self.policy = session, service, incident, groups, policy
        self.child = child
        self.receipts = receipts
        self.joined = joined
        self.number = incident.number
        self.fingerprints = {alert.fingerprint for group in groups for alert in group.alerts}
        self.alerts: dict[str, AlertState] = (
            load_states(session, child.id, self.fingerprints)
            if child_alerts is None
            else {fingerprint: state for fingerprint, state in child_alerts.items() if fingerprint in self.fingerprints}
        )
        self._others: tuple[int, int] | None = None  # (rows, firing) of the incident outside ``self.alerts``
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
            incident = self.incident
            joining = index == 0 and self.joined is not None
            quiet = not joining and not was_firing and incident.status.is_open and self._quiet(group, was_truncated)
            merged = transition(self.alerts, self.number, group, now, group_id=child.id, child=child.child_number)
            reopens = bool(merged.refired) and incident.status is Status.RESOLVED
            if quiet and merged.refired:
                _say_firing_again(merged.entries)
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
            # A truncated child hides alerts that may fire: never called resolved while it is.
            firing_now = self._child_firing() or group.truncated_alerts > 0
            alerts_severity = _child_severity(child, group, merged.refired, self.policy, was_firing=was_firing)
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

    def _settles(self, group: AlertGroup, merged: Transitions, was_truncated: int) -> bool:
        """Whether this notification may settle the incident: an alert resolved in it, or it
        shows its group whole (nothing hidden) after it was truncated or auto-resolve paused.

        Never while an alert of this child fires: the rule then says nothing (it needs every
        alert of the incident resolved), so nothing is looked up to learn it."""
        if any(state.firing for state in self.alerts.values()):
            return False
        if merged.resolved:
            return True
        if group.truncated_alerts:
            return False
        return was_truncated > 0 or self._pause_said()

    def _quiet(self, group: AlertGroup, was_truncated: int) -> bool:
        """Whether every alert of the incident had resolved before this notification (so the
        responders were told "all alerts resolved") and it brings a firing alert.

        Looked up only when the child had stopped firing, the notification fires an alert and
        none of this child's known alerts fires: a firing group's updates cost nothing more. A truncated group was
        never called resolved, so nothing fires "again" then either."""
        if not any(alert.status == FIRING for alert in group.alerts) or any(state.firing for state in self.alerts.values()):
            return False
        if was_truncated or self._truncated_others():
            return False
        rows, firing = self._counts()
        return rows > 0 and firing == 0

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
        """(alert rows of the incident, of which firing), as the notifications so far left them.

        Rows are per child: one alert in two children is two rows, each firing on its own."""
        if self._others is None:
            mine = and_(func.coalesce(AlertRow.group_id, 0) == self.child.id, AlertRow.fingerprint.in_(list(self.fingerprints)))
            statement = (
                select(AlertRow.status, func.count())
                .where(AlertRow.incident_id == self.number, not_(mine))
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
        if any(state.firing for state in self.alerts.values()):  # ``self.alerts`` are this child's
            return True
        if self._child_others is None:
            statement = select(func.count()).where(
                AlertRow.group_id == self.child.id, AlertRow.status == FIRING, AlertRow.fingerprint.not_in(list(self.fingerprints))
            )
            self._child_others = int(self.session.scalar(statement) or 0)
        return self._child_others > 0

    def _flush(self) -> None:
        """Write changed alert rows, the incident and the pending entries (one record)."""
        write_alerts(self.session, self.alerts)
        if self.pending:
            entries, self.pending = self.pending, []
            IncidentRepository.save(self.session, self.incident, now=self.pending_at)
            self.service.record(self.session, self.incident, entries)


def _child_severity(child: AlertGroupRow, group: AlertGroup, fired: list[Alert], policy: Policy, *, was_firing: bool) -> Severity | None:
    """The child's new severity, None to keep it: the worst of its firing alerts. Alerts that
    (re)fire raise it; while the child's earlier alerts still fire it is never lowered (a
    milder alert joining a P1 child leaves it P1). A child firing again after it resolved
    starts from the alerts of the new episode."""
    if not fired:
        return None
    level = group_severity(group, policy.mapping, fired)
    if was_firing and not level.is_more_severe_than(Severity(child.severity)):
        return None
    return level


def _say_firing_again(entries: list[TimelineEntry]) -> None:
    """Mark the first firing entry as the alerts' return, so it is posted (once, however many
    alerts fire again together)."""
    for index, entry in enumerate(entries):
        if entry.kind is EntryKind.ALERT_FIRING:
            entries[index] = firing_again_entry(entry)
            return


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
