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
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from bot.domain.children import JoinedBy
from bot.domain.incident import Incident
from bot.domain.severity import Severity
from bot.domain.timeline import Source, TimelineEntry
from bot.ingest.alertmanager.alerts import (
    FIRING,
    RESOLVED,
    AlertState,
    Transitions,
    apply_alerts,
    transition,
    write_alerts,
)
from bot.ingest.alertmanager.apply_child import ChildApplier, Outcome
from bot.ingest.alertmanager.grouping import correlation_of, facts_of
from bot.ingest.alertmanager.mapping import (
    ACTOR,
    GroupFields,
    group_fields,
    group_joined_entry,
    truncated_entry,
)
from bot.ingest.alertmanager.models import AlertGroup
from bot.ingest.alertmanager.placement import Placement, place
from bot.ingest.alertmanager.settle import Policy, settle_incident
from bot.ingest.dedup import find_or_create, keep_locked_row
from bot.service.incidents import IncidentService
from bot.store import alert_groups
from bot.store.incidents import IncidentRepository, to_domain
from bot.store.models import AlertGroupRow, IncidentRow
from bot.store.receipt import Receipt, receiving
from bot.store.receipt import current as current_receipt

__all__ = ["FIRING", "FIRST_SEEN_RESOLVED", "RESOLVED", "Outcome", "Policy", "Transitions", "apply_alerts", "apply_batch", "apply_group"]

log = logging.getLogger(__name__)

#: Outcome (``firebreak_ingested_total``) of a group whose first notification is all resolved.
FIRST_SEEN_RESOLVED = "first_seen_resolved"
#: The storm incident's title: fixed when it opens (the summary lists its children and counts).
STORM_TITLE = "Alert storm since {start:%Y-%m-%d %H:%M} UTC"


def apply_group(session: Session, service: IncidentService, group: AlertGroup, policy: Policy) -> Outcome:
    return apply_batch(session, service, [group], policy)[0]


def apply_batch(
    session: Session, service: IncidentService, groups: Sequence[AlertGroup], policy: Policy, *, received: Sequence[datetime] | None = None
) -> list[Outcome]:
    """Apply notifications in order, with the result of one ``apply_group`` call per group.

    Consecutive notifications of one group are applied together: the incident's
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
        outcomes += _apply_run(session, service, groups[index:end], policy, receipts[index:end])
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


def _apply_run(
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
        return skipped + _apply_existing_or_new(session, service, groups, policy, receipts)
    with receiving(receipts[0].received_at):
        return skipped + _apply_existing_or_new(session, service, groups, policy, receipts)


def _lock_incident(session: Session, number: int) -> Incident:
    row = IncidentRepository.get_row(session, number, for_update=True)
    keep_locked_row(session, row)
    return to_domain(row)


def _apply_existing_or_new(
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
    return ChildApplier(session, service, incident, child, groups, policy, receipts).run()


def _any_firing(group: AlertGroup) -> bool:
    """Whether the child counts as firing: an alert shown fires, or alerts are hidden (truncated)."""
    return group.truncated_alerts > 0 or any(alert.status == FIRING for alert in group.alerts)


def _add_child(
    session: Session,
    incident_id: int,
    group: AlertGroup,
    fields: GroupFields,
    joined_by: JoinedBy,
    now: datetime,
    *,
    correlation: Mapping[str, str] | None = None,
    child_number: int | None = None,
) -> AlertGroupRow:
    """The group's child row, the same whether it opens an incident or joins one (the first
    child of an incident just opened is #1, known without asking)."""
    return alert_groups.add(
        session,
        incident_id=incident_id,
        dedup_key=group.dedup_key,
        source=ACTOR,
        title=fields.title,
        severity=fields.severity,
        joined_by=joined_by,
        at=now,
        labels=fields.labels,
        correlation=correlation,
        firing=_any_firing(group),
        child_number=child_number,
    )


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
            joined_by = JoinedBy.STORM if placement.storm else JoinedBy.OPENED
            child = _add_child(inner, incident.number, first, fields, joined_by, now, child_number=1)
            # A child just inserted has no stored alerts: nothing to read before writing them.
            states: dict[str, AlertState] = {}
            merged = transition(states, incident.number, first, now, group_id=child.id, child=child.child_number)
            write_alerts(inner, states)
            child.truncated_alerts = first.truncated_alerts
            made.update(child=child, merged=merged, states=states)
            truncation = [truncated_entry(first.truncated_alerts, at=now)] if first.truncated_alerts else []
            return merged.entries + truncation

        if placement.storm:
            minutes = max(1, int(grouping.storm_window.total_seconds() // 60))
            return service.declare(
                title=STORM_TITLE.format(start=now.astimezone(UTC)),
                severity=fields.severity,
                actor=ACTOR,
                source=Source.ALERTMANAGER,
                description=(
                    f"The storm guard is folding new alert groups into this one incident: {grouping.storm_threshold} or more "
                    f"incidents opened within {minutes} min. Each group is a child of it (its own alerts and state). "
                    f"{_exempt_sentence(grouping.storm_exempt)} "
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

    # Only ever reached just after ``_apply_existing_or_new`` found no such group.
    existing, incident = find_or_create(session, first.dedup_key, declare, looked=True)
    if existing is not None or incident is None:  # another ingester created the group first
        assert existing is not None
        return _existing(session, service, existing, groups, policy, receipts)
    child = made["child"]
    merged = made["merged"]
    states = made["states"]
    assert isinstance(child, AlertGroupRow) and isinstance(merged, Transitions) and isinstance(states, dict)
    if merged.resolved:
        # Only a truncated group can be new with every shown alert resolved: its hidden
        # alerts may fire, so it opens, and says why it will not resolve by itself.
        firing = sum(1 for alert in first.alerts if alert.status == FIRING)
        count = len({a.fingerprint for a in first.alerts})
        tail = settle_incident(incident, firing=firing, truncated=first.truncated_alerts, count=count, pause_said=False, policy=policy, now=now)
        if tail:
            IncidentRepository.save(session, incident, now=now)
            service.record(session, incident, tail)
    outcomes = [Outcome(incident.number, created=True, changed=True)]
    if len(groups) > 1:
        outcomes += ChildApplier(session, service, incident, child, groups[1:], policy, receipts[1:], child_alerts=states).run()
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
    if not parent.status.is_open:
        # Resolved (or merged away) between the decision and the row lock: a new group must
        # not reopen it. It opens an incident instead (a new storm incident in a storm).
        fallback = Placement(JoinedBy.STORM, storm=True) if placement.joined_by is JoinedBy.STORM else Placement(JoinedBy.OPENED, correlation=placement.correlation)
        return _open(session, service, groups, policy, receipts, fields, fallback, now)

    def create() -> AlertGroupRow:
        return _add_child(session, parent.number, first, fields, placement.joined_by, now, correlation=placement.correlation_values)

    existing, child = find_or_create(session, first.dedup_key, create, looked=True)
    if existing is not None or child is None:
        assert existing is not None
        return _existing(session, service, existing, groups, policy, receipts)
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
    return ChildApplier(session, service, parent, child, groups, policy, receipts, joined=joined).run()


def _exempt_sentence(exempt: Collection[Severity]) -> str:
    """What still opens an incident of its own during the storm (FIREBREAK_STORM_EXEMPT)."""
    if not exempt:
        return "Groups of every severity fold into it."
    return f"Groups of {', '.join(sorted(level.value for level in exempt))} still open their own incidents."
