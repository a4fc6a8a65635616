"""Use cases that regroup children: split one out of an incident, merge one incident into another.

Both run in one transaction under the incidents' row locks and record their changes through
the incident service, so the usual subscribers react as to any other change: a split's new
incident is declared (channel, playbook, escalation plan by the declare hooks), a merged
incident is resolved (its escalation deadlines are cancelled by the planner, its PagerDuty
pages resolved by the sync), and chat hears of both (``bot.service.chat_notifications``).
What they mean is decided in ``bot.domain.regroup``.

What is left after either is settled again by the one auto-resolve rule
(``bot.ingest.alertmanager.settle``): a parent whose remaining children have all resolved,
none truncated, resolves as if its last alert had just cleared, when the policy lets it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain.children import JoinedBy
from bot.domain.errors import IllegalTransition
from bot.domain.incident import Incident, Status, format_number
from bot.domain.regroup import (
    ChildChoice,
    ChildSelector,
    MergeSide,
    check_merge,
    joined_entry,
    merge_entries,
    pagerduty_links,
    parse_child_selector,
    pick_child,
    roles_to_carry,
    severity_after_merge,
    split_entries,
)
from bot.domain.severity import Severity
from bot.domain.timeline import Source, TimelineEntry
from bot.ingest.alertmanager.settle import Policy, pause_pending, settle_incident
from bot.service.incidents import IncidentService
from bot.store import alert_groups
from bot.store.incidents import IncidentRepository, to_domain
from bot.store.models import AlertGroupRow, AlertRow, IncidentRow


@dataclass(frozen=True)
class SplitResult:
    parent: Incident
    incident: Incident
    #: The child's short id on the parent before the split.
    child: int


@dataclass(frozen=True)
class MergeResult:
    incident: Incident  # the one that took the other in
    merged: Incident
    #: (short id on the merged incident, short id now) per child moved.
    children: list[tuple[int, int]]
    roles: list[str]


def _side(row: IncidentRow) -> MergeSide:
    incident = to_domain(row)
    return MergeSide(number=row.id, status=incident.status, severity=incident.severity, merged_into=row.merged_into)


@dataclass(frozen=True)
class AlertState:
    """An incident's alerts as the auto-resolve rule counts them."""

    children: int
    alerts: int
    firing: int
    truncated: int

    @property
    def settled(self) -> bool:
        """Nothing left for the rule to decide: no alert child, or every alert cleared and none hidden."""
        return not self.children or not (self.firing or self.truncated)


def alert_state(session: Session, number: int) -> AlertState:
    children, truncated = session.execute(
        select(func.count(AlertGroupRow.id), func.coalesce(func.sum(AlertGroupRow.truncated_alerts), 0)).where(AlertGroupRow.incident_id == number)
    ).one()
    alerts, firing = session.execute(
        select(func.count(AlertRow.id), func.count(AlertRow.id).filter(AlertRow.status == "firing")).where(AlertRow.incident_id == number)
    ).one()
    return AlertState(children=int(children), alerts=int(alerts), firing=int(firing), truncated=int(truncated or 0))


class RegroupService:
    """``auto_resolve``: the severities that resolve themselves (``FIREBREAK_AUTO_RESOLVE``)."""

    def __init__(self, service: IncidentService, *, auto_resolve: frozenset[Severity] = frozenset()) -> None:
        self.service = service
        self.policy = Policy(mapping={}, auto_resolve=auto_resolve)

    def _settle(self, session: Session, incident: Incident, before: AlertState) -> list[TimelineEntry]:
        """The entries the auto-resolve rule calls for now that children left or came: only
        when the regroup changed what the rule sees (an incident already settled, e.g. reopened
        by a person with its alerts cleared, is left as it is)."""
        if before.settled or not incident.status.is_open:
            return []
        after = alert_state(session, incident.number)
        if not after.children:
            return []
        pause_said = pause_pending(session, incident.number)
        return settle_incident(
            incident, firing=after.firing, truncated=after.truncated, count=after.alerts, pause_said=pause_said, policy=self.policy, now=self.service.clock.now()
        )

    # -- split -------------------------------------------------------------------------

    def split(self, number: int, selector_text: str, *, actor: str, source: Source) -> SplitResult:
        selector = parse_child_selector(selector_text)
        with self.service.sessions.begin() as session:
            result = self._split_in(session, number, selector, actor=actor, source=source)
        self.service.notify_committed()
        return result

    def _split_in(self, session: Session, number: int, selector: ChildSelector, *, actor: str, source: Source) -> SplitResult:
        now = self.service.clock.now()
        parent_row = _lock_children_then_incidents(session, [number])[number]
        parent = to_domain(parent_row)
        if parent_row.merged_into is not None:
            raise IllegalTransition(f"{parent.ref} was merged into {format_number(parent_row.merged_into)}; split there")
        if parent.status is Status.RESOLVED:
            raise IllegalTransition(f"{parent.ref} is resolved; reopen it first to split a child out")
        rows = {row.child_number: row for row in alert_groups.rows_of(session, number, for_update=True)}
        before = alert_state(session, number)
        names = alert_groups.alertnames(session, number)
        choices = [ChildChoice(child, frozenset(names.get(child.child, set()))) for child in alert_groups.children(session, number)]
        child = pick_child(parent.ref, choices, selector)
        row = rows[child.child]
        dedup_key: str | None = None
        if parent_row.dedup_key == child.dedup_key:
            # The incident the group opened keyed it; the key follows the group.
            parent_row.dedup_key = None
            session.flush()
            parent = to_domain(parent_row)  # saved again if it settles: without the key
            dedup_key = child.dedup_key
        title = child.title.strip() or str(child.labels.get("alertname") or "") or f"{child.ref} of {parent.ref}"
        entries: dict[str, TimelineEntry] = {}

        def move(inner: Session, incident: Incident) -> list[TimelineEntry]:
            alert_groups.move(inner, row, to_incident=incident.number, joined_by=JoinedBy.OPENED, at=now)
            on_parent, on_new = split_entries(
                parent=number, new=incident.number, child=child, new_child=row.child_number, actor=actor, source=source, at=now
            )
            entries["parent"] = on_parent
            return [on_new]

        incident = self.service.declare(
            title=title,
            severity=child.severity,
            actor=actor,
            source=source,
            labels={str(key): str(value) for key, value in child.labels.items()},
            dedup_key=dedup_key,
            session=session,
            extra=move,
        )
        settled = self._settle(session, parent, before)
        if settled:
            IncidentRepository.save(session, parent, now=now)
        self.service.record(session, parent, [entries["parent"], *settled])
        return SplitResult(parent=parent, incident=incident, child=child.child)

    # -- merge -------------------------------------------------------------------------

    def merge(self, into: int, merged: int, *, actor: str, source: Source) -> MergeResult:
        with self.service.sessions.begin() as session:
            result = self._merge_in(session, into, merged, actor=actor, source=source)
        self.service.notify_committed()
        return result

    def _merge_in(self, session: Session, into: int, merged: int, *, actor: str, source: Source) -> MergeResult:
        now = self.service.clock.now()
        if into == merged:
            raise IllegalTransition(f"{format_number(into)} cannot be merged into itself")
        locked = _lock_children_then_incidents(session, [into, merged])
        into_row, merged_row = locked[into], locked[merged]
        check_merge(_side(into_row), _side(merged_row))
        target, away = to_domain(into_row), to_domain(merged_row)

        before = alert_state(session, into)
        children = alert_groups.children(session, merged)  # with their alert counts, before they move
        rows = {row.child_number: row for row in alert_groups.rows_of(session, merged, for_update=True)}
        moved: list[tuple[int, int]] = []
        joined: list[TimelineEntry] = []
        for child in children:
            row = alert_groups.move(session, rows[child.child], to_incident=into, joined_by=JoinedBy.MERGED, at=now)
            moved.append((child.child, row.child_number))
            joined.append(joined_entry(child, new_child=row.child_number, actor=actor, source=source, at=now))

        on_away, on_target = merge_entries(
            into=into,
            merged=merged,
            moved=moved,
            actor=actor,
            source=source,
            at=now,
            pagerduty_incident_id=merged_row.pagerduty_incident_id,
        )
        target_entries = [on_target, *joined]
        carried = roles_to_carry(target.roles, away.roles)
        for role, user in carried.items():
            target_entries += target.assign_role(role, user, actor=actor, source=source, at=now)
        severity = severity_after_merge(_side(into_row), _side(merged_row))
        if severity is not None:
            target_entries += target.change_severity(severity, actor=actor, source=source, at=now, reason=f"merged {away.ref}")
        target.links.update(pagerduty_links(away.links, away.ref))
        target_entries += self._settle(session, target, before)
        IncidentRepository.save(session, target, now=now)
        self.service.record(session, target, target_entries)

        away_entries = [on_away]
        if away.status.is_open:  # a merged incident is closed: resolving cancels its escalation
            away_entries += away.resolve(actor=actor, source=source, at=now)
        merged_row.merged_into = into
        IncidentRepository.save(session, away, now=now)
        self.service.record(session, away, away_entries)
        return MergeResult(incident=target, merged=away, children=moved, roles=[role.value for role in carried])


def _lock_children_then_incidents(session: Session, numbers: Sequence[int]) -> dict[int, IncidentRow]:
    """Lock the incidents' alert-group rows, then the incident rows: the ingester's order.

    The ingester locks a group's row before its incident's (it learns the incident from the
    row), so a regroup that took the incident first could wait for a group row while the
    ingester holds it and waits for the incident: a deadlock PostgreSQL breaks by failing
    one of them. Group rows go in id order and incidents lowest number first, so two regroups
    never deadlock either.

    A group can join while this waits for an incident (joining takes the incident's lock, so
    not after it). Its row would then be locked after the incident, out of order: so the
    attempt runs in a savepoint, and when the incidents hold a group it did not lock, rolling
    the savepoint back releases every lock it took and the attempt starts again. SQLite has
    one writer at a time and no row locks: one pass.
    """
    ordered = sorted(set(numbers))
    children = select(AlertGroupRow.id).where(AlertGroupRow.incident_id.in_(ordered))
    if session.get_bind().dialect.name != "postgresql":
        return {number: IncidentRepository.get_row(session, number, for_update=True) for number in ordered}
    for _ in range(_LOCK_ATTEMPTS):
        attempt = session.begin_nested()
        locked = set(session.scalars(children.order_by(AlertGroupRow.id).with_for_update()))
        rows = {number: IncidentRepository.get_row(session, number, for_update=True) for number in ordered}
        if set(session.scalars(children)) <= locked:
            attempt.commit()  # releases the savepoint, keeps its locks
            return rows
        attempt.rollback()
    # Groups kept joining (a storm correlating into these incidents): lock them in the order
    # they come; a deadlock, should one happen, fails one side and the ingester retries.
    return {number: IncidentRepository.get_row(session, number, for_update=True) for number in ordered}


#: Passes before giving up on locking in order (each is a few milliseconds).
_LOCK_ATTEMPTS = 5
