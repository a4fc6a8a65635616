"""Applying one PagerDuty event in the caller's transaction, exactly once.

Idempotency: the event id (and the ``X-Webhook-Id`` header when present) go into
``inbound_events`` in the same transaction as the change; a replay finds them there and
the whole transaction is rolled back, so it writes nothing. Finding the incident, in order:
one already linked to the PagerDuty incident id; our own incident that we paged through
Events API v2 (PagerDuty's ``incident_key`` is our dedup key ``INC-<n>``), which gets linked;
else ``pd:<id>``, created once under the unique key like an alert group. An incident merged
into another (``merged_into``) only records the event: it is never reopened, re-prioritised
or re-escalated by PagerDuty; the incident it was merged into carries on.

An incident Firebreak never saw is opened only while PagerDuty still has it open
(``data.status`` triggered or acknowledged), in that state; a resolved one, or a note on
one, opens nothing: nobody needs a channel for what is already over. The resolve is
remembered (``closed:<id>:<occurred_at>`` in ``inbound_events``) so that an older event
about the same incident, delivered late, opens nothing either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.domain.incident import Incident
from bot.domain.timeline import Source, TimelineEntry
from bot.ingest.dedup import find_or_declare
from bot.ingest.pagerduty.mapping import (
    OPEN_STATUSES,
    STATUS_KINDS,
    Kind,
    Plan,
    apply,
    first_seen,
    is_stale,
    merged_entry,
    stale_entry,
)
from bot.ingest.pagerduty.priorities import PriorityMap
from bot.pagerduty.deliverer import TARGET as PAGERDUTY_TARGET
from bot.service.incidents import IncidentService
from bot.store.incidents import IncidentRepository, to_domain
from bot.store.models import InboundEventRow, IncidentRow, OutboxRow

SOURCE = "pagerduty"
#: Our keys: ``INC-<n>`` (Events API trigger) and ``INC-<n>-L<level>-c<cycle>-<target>``
#: (escalation pages; ``INC-<n>-L<level>`` from earlier versions).
_OWN_KEY = re.compile(r"^INC-(\d{1,9})(?:-L\d{1,4}(?:-c\d{1,6}-[A-Za-z0-9_.:-]{1,200})?)?$")


#: The outbox operations that page in PagerDuty under one of our keys (bot/pagerduty/deliverer.py).
_PAGING_OPERATIONS = ("trigger", "page")


class Duplicate(Exception):
    """This event (or this delivery) was applied before."""


#: Outcomes (``firebreak_ingested_total{outcome=...}``) of events that open nothing.
UNKNOWN_NOTE = "unknown_incident_note"
UNKNOWN_CLOSED = "unknown_incident_closed"


@dataclass(frozen=True)
class Outcome:
    number: int | None
    status: str  # accepted | unknown_incident_note | unknown_incident_closed


def apply_event(
    session: Session, service: IncidentService, plan_: Plan, *, webhook_id: str | None, priorities: PriorityMap | None = None
) -> Outcome:
    """Raises ``Duplicate`` for a replay; the caller rolls back so nothing is written."""
    priorities = priorities or PriorityMap.of()
    now = service.clock.now()
    _remember(session, plan_.event.id, now)
    if webhook_id:
        _remember(session, f"x-webhook-id:{webhook_id}", now)
    row = _linked(session, plan_)
    if row is None:
        if plan_.incident is None:
            return Outcome(None, UNKNOWN_NOTE)
        if plan_.incident.status not in OPEN_STATUSES:
            _remember_closed(session, plan_, now)
            return Outcome(None, UNKNOWN_CLOSED)
        if _closed_after(session, plan_):  # a late delivery of an event from before the resolve
            return Outcome(None, UNKNOWN_CLOSED)
        incident, created = find_or_declare(session, f"pd:{plan_.incident_id}", lambda: _declare(session, service, plan_, priorities))
        row = IncidentRepository.get_row(session, incident.number)
        if created:
            _copy_references(row, plan_)
            _mark_applied(row, plan_, opening=True)
            incident = to_domain(row)
            _record(session, service, incident, first_seen(plan_, incident, at=now, priorities=priorities), now)
            return Outcome(incident.number, "accepted")
    if row.merged_into is not None:
        # Merged into another incident: said on its timeline, never applied (a reopen or a
        # page must not revive it nor re-arm its escalation; the survivor carries on).
        incident = to_domain(row)
        _record(session, service, incident, [merged_entry(plan_, row.merged_into, now)], now)
        return Outcome(incident.number, "accepted")
    _copy_references(row, plan_)
    incident = to_domain(row)
    last = _last_applied(row, plan_)
    if last is not None and is_stale(plan_, last):
        entries = [stale_entry(plan_, last, now)]
    else:
        entries = apply(plan_, incident, at=now, priorities=priorities)
        _mark_applied(row, plan_)
    _record(session, service, incident, entries, now)
    return Outcome(incident.number, "accepted")


def _record(session: Session, service: IncidentService, incident: Incident, entries: list[TimelineEntry], now: datetime) -> None:
    if entries:
        IncidentRepository.save(session, incident, now=now)
        service.record(session, incident, entries)


def _last_applied(row: IncidentRow, plan_: Plan) -> datetime | None:
    """The ``occurred_at`` this event competes with: status and priority keep separate clocks."""
    if plan_.kind in STATUS_KINDS:
        return row.pagerduty_status_at
    if plan_.kind is Kind.PRIORITY_UPDATED:
        return row.pagerduty_priority_at
    return None


def _mark_applied(row: IncidentRow, plan_: Plan, *, opening: bool = False) -> None:
    """Move the clocks forward; the event that opens an incident sets both, since its
    ``data`` says what the status and the priority were when it happened."""
    occurred = plan_.event.occurred_at
    if occurred is None:
        return
    if opening or plan_.kind in STATUS_KINDS:
        row.pagerduty_status_at = max(occurred, row.pagerduty_status_at or occurred)
    if opening or plan_.kind is Kind.PRIORITY_UPDATED:
        row.pagerduty_priority_at = max(occurred, row.pagerduty_priority_at or occurred)


def already_applied(session: Session, event_id: str, webhook_id: str | None) -> bool:
    """A cheap look before queueing: the ingester's own check is the one that counts."""
    keys = [event_id[:255]] + ([f"x-webhook-id:{webhook_id}"[:255]] if webhook_id else [])
    statement = select(InboundEventRow.id).where(InboundEventRow.source == SOURCE, InboundEventRow.event_id.in_(keys)).limit(1)
    return session.scalar(statement) is not None


def _remember(session: Session, event_id: str, now: object) -> None:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(InboundEventRow)
        .values(source=SOURCE, event_id=event_id[:255], received_at=now)
        .on_conflict_do_nothing(index_elements=["source", "event_id"])
        .returning(InboundEventRow.id)
    )
    # RETURNING, not rowcount: through the ORM psycopg reports no reliable rowcount here.
    if session.execute(statement).first() is None:
        raise Duplicate(event_id)


def _closed_marker(incident_id: str) -> str:
    return f"closed:{incident_id}:"


def _remember_closed(session: Session, plan_: Plan, now: datetime) -> None:
    """Remember that PagerDuty had this unknown incident resolved at ``occurred_at``, so an
    older event about it delivered later (a retried ``triggered``) does not open it."""
    occurred = plan_.event.occurred_at
    if occurred is None:
        return
    try:
        _remember(session, f"{_closed_marker(plan_.incident_id)}{occurred.astimezone(UTC).isoformat()}", now)
    except Duplicate:
        pass  # the same resolve seen through another event


def _closed_after(session: Session, plan_: Plan) -> bool:
    occurred = plan_.event.occurred_at
    if occurred is None:
        return False
    prefix = _closed_marker(plan_.incident_id)
    statement = select(InboundEventRow.event_id).where(
        InboundEventRow.source == SOURCE, InboundEventRow.event_id.startswith(prefix, autoescape=True)
    )
    for marker in session.scalars(statement):
        try:
            closed_at = datetime.fromisoformat(marker.removeprefix(prefix))
        except ValueError:
            continue
        if closed_at >= occurred:
            return True
    return False


def _linked(session: Session, plan_: Plan) -> IncidentRow | None:
    statement = select(IncidentRow).where(IncidentRow.pagerduty_incident_id == plan_.incident_id).with_for_update()
    row = session.scalars(statement).one_or_none()
    if row is not None or plan_.incident is None or not plan_.incident.incident_key:
        return row
    own = _OWN_KEY.match(plan_.incident.incident_key)
    if own is None:
        return None
    number = int(own.group(1))
    if not _paged_under(session, number, plan_.incident.incident_key):
        # Anyone holding any service's integration key can open a PagerDuty incident keyed
        # ``INC-7``; only a page Firebreak made under that key makes it one of ours.
        return None
    candidate = session.scalars(select(IncidentRow).where(IncidentRow.id == number).with_for_update()).one_or_none()
    if candidate is None:
        return None
    # One of ours: an incident already linked elsewhere (paged at several levels) keeps its
    # first link, but the event still belongs to it rather than opening a duplicate.
    if candidate.pagerduty_incident_id is None:
        candidate.pagerduty_incident_id = plan_.incident_id
    return candidate


def _paged_under(session: Session, number: int, key: str) -> bool:
    """Whether Firebreak paged incident ``number`` under ``key``: an Events API trigger (dedup
    key ``INC-<n>``) or an escalation page (``INC-<n>-L…``) in the outbox, delivered or still
    queued (PagerDuty's webhook may come back before the delivery is recorded)."""
    payloads = session.scalars(
        select(OutboxRow.payload).where(
            OutboxRow.incident_id == number, OutboxRow.target == PAGERDUTY_TARGET, OutboxRow.operation.in_(_PAGING_OPERATIONS)
        )
    )
    return any(payload.get("dedup_key") == key or payload.get("incident_key") == key for payload in payloads)


def _declare(session: Session, service: IncidentService, plan_: Plan, priorities: PriorityMap) -> Incident:
    pd = plan_.incident
    assert pd is not None
    title = " ".join(pd.title.split())[:200] or f"PagerDuty incident {pd.id}"
    links = {"pagerduty": pd.html_url} if pd.html_url else {}
    incident = service.declare(
        title=title,
        severity=priorities.severity_or_urgency(pd),
        actor=plan_.event.actor,
        source=Source.PAGERDUTY,
        links=links,
        dedup_key=f"pd:{pd.id}",
        session=session,
        extra=lambda inner, created: _link_new(inner, created.number, plan_),
    )
    return incident


def _link_new(session: Session, number: int, plan_: Plan) -> list[TimelineEntry]:
    row = IncidentRepository.get_row(session, number)
    row.pagerduty_incident_id = plan_.incident_id
    _copy_references(row, plan_)
    session.flush()  # the unique pagerduty_incident_id is checked inside the savepoint
    return []


def _copy_references(row: IncidentRow, plan_: Plan) -> None:
    pd = plan_.incident
    if pd is None:
        return
    if pd.service is not None:
        row.pagerduty_service_id = pd.service.id
    if pd.escalation_policy is not None:
        row.pagerduty_escalation_policy_id = pd.escalation_policy.id
    if plan_.kind is Kind.TRIGGERED and pd.html_url and "pagerduty" not in (row.links or {}):
        row.links = {**(row.links or {}), "pagerduty": pd.html_url}
