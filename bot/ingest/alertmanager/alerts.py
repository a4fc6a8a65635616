"""The alert rows of an incident: one per fingerprint, merged from notifications.

A notification carries the whole current state of its group, so applying it is a merge:
alerts are keyed by (group, fingerprint): the group (child of the incident) they arrived in,
since one alert may arrive in two groups of one incident (two receivers, two sources), only *transitions* (new, firing→resolved, resolved→firing)
produce timeline entries, and a re-sent group produces none and writes nothing. Every row
carries ``group_id``: the child (alert group) of the incident it arrived in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from bot.domain.clock import as_utc
from bot.domain.timeline import TimelineEntry
from bot.ingest.alertmanager.mapping import alert_entry
from bot.ingest.alertmanager.models import Alert, AlertGroup
from bot.store import bulk
from bot.store.models import AlertRow

FIRING = "firing"
RESOLVED = "resolved"


@dataclass
class Transitions:
    """What applying a notification changed in one child's alerts: an entry per transition,
    the alerts that (re)fired, and how many resolved (callers decide from these alone)."""

    entries: list[TimelineEntry] = field(default_factory=list)
    refired: list[Alert] = field(default_factory=list)
    resolved: int = 0


class AlertState:
    """One alert row of the incident, as the notifications so far left it.

    Only the columns a merge decides on are read (never the labels and annotations, which
    a re-sent group brings again): a storm child re-sent every few minutes holds hundreds.
    """

    __slots__ = ("dirty", "stored", "values")

    def __init__(self, values: dict[str, Any], *, stored: bool = False) -> None:
        self.values = values
        self.dirty = False
        #: Whether the row is in the database (loaded, or inserted by an earlier write).
        self.stored = stored

    @property
    def firing(self) -> bool:
        return bool(self.values["status"] == FIRING)


#: What a merge reads of a stored alert (``transition``); Core rows, not ORM objects.
_MERGE_COLUMNS = (AlertRow.fingerprint, AlertRow.status, AlertRow.starts_at, AlertRow.ends_at, AlertRow.group_id)
#: What a transition changes on a stored alert, written by (group, fingerprint): the unique key.
#: Bound as ``new_…``: a parameter named like a column would join the SET on its own.
_UPDATE = (
    update(AlertRow)
    .where(AlertRow.group_id == bindparam("key_group"), AlertRow.fingerprint == bindparam("key_fingerprint"))
    .values(
        status=bindparam("new_status"),
        labels=bindparam("new_labels"),
        annotations=bindparam("new_annotations"),
        starts_at=bindparam("new_starts_at"),
        ends_at=bindparam("new_ends_at"),
        updated_at=bindparam("new_updated_at"),
    )
)
_UPDATED = ("status", "labels", "annotations", "starts_at", "ends_at", "updated_at")
#: PostgreSQL: alert rows written as one JSON document each way (bot/store/bulk.py).
_KEY_COLUMNS = bulk.columns_of(AlertRow.__table__, ["group_id", "fingerprint"])
_UPDATED_COLUMNS = bulk.columns_of(AlertRow.__table__, _UPDATED)
_NEW_COLUMNS = bulk.columns_of(AlertRow.__table__)


def load_states(session: Session, group_id: int, fingerprints: set[str]) -> dict[str, AlertState]:
    """The stored alerts of one child (alert group), by fingerprint."""
    statement = select(*_MERGE_COLUMNS).where(AlertRow.group_id == group_id, AlertRow.fingerprint.in_(list(fingerprints)))
    return {
        fingerprint: AlertState({"status": status, "starts_at": starts_at, "ends_at": ends_at, "fingerprint": fingerprint, "group_id": group}, stored=True)
        for fingerprint, status, starts_at, ends_at, group in session.execute(statement)
    }


def apply_alerts(session: Session, number: int, group: AlertGroup, now: datetime, *, group_id: int, child: int | None = None) -> Transitions:
    """Upsert one notification's alert rows of its child by fingerprint; an entry per transition."""
    states = load_states(session, group_id, {alert.fingerprint for alert in group.alerts})
    merge = transition(states, number, group, now, group_id=group_id, child=child)
    write_alerts(session, states)
    return merge


def transition(states: dict[str, AlertState], number: int, group: AlertGroup, now: datetime, *, group_id: int, child: int | None = None) -> Transitions:
    """Apply a notification to one child's alerts (``states``, of ``group_id`` only) in memory; an
    entry per transition, none for repeats.

    Stale deliveries are ignored: a "firing" that started before the stored resolve, or a
    "resolved" that ended before the stored firing began (HA peers may deliver late).
    ``child`` (the group's short id in its incident) goes into the entries' data.
    """
    incoming: dict[str, Alert] = {}
    for alert in group.alerts:
        incoming.setdefault(alert.fingerprint, alert)
    merge = Transitions()
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
                "group_id": group_id,
            }
            states[fingerprint] = state = AlertState(values)
        else:
            values = state.values
            if values["status"] == alert.status or _stale(values["starts_at"], values["ends_at"], alert):
                continue
            values["starts_at"] = alert.starts_at or values["starts_at"]
            values["ends_at"] = alert.ends_at if alert.status == RESOLVED else None
        values.update(status=alert.status, labels=dict(alert.labels), annotations=dict(alert.annotations), updated_at=now)
        state.dirty = True
        merge.entries.append(alert_entry(alert, at=now, child=child))
        if alert.status == FIRING:
            merge.refired.append(alert)
        else:
            merge.resolved += 1
    return merge


def write_alerts(session: Session, states: dict[str, AlertState]) -> None:
    """Insert new alert rows and update changed ones, one executemany each.

    Core, not ORM objects: a storm brings thousands of alerts, and the unit of work costs
    more per row than the row. Nothing else in an ingest transaction holds alert rows as
    ORM objects, so none goes stale. The session is flushed too (the child's state, the
    incident), as callers count on everything being written after this."""
    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for state in states.values():
        if not state.dirty:
            continue
        state.dirty = False
        if not state.stored:
            new_rows.append(dict(state.values))
            state.stored = True
            continue
        changed.append(state.values)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        bulk.insert_rows(connection, AlertRow.__tablename__, _NEW_COLUMNS, new_rows)
        bulk.update_rows(connection, AlertRow.__tablename__, _KEY_COLUMNS, _UPDATED_COLUMNS, changed)
    else:
        if new_rows:
            connection.execute(insert(AlertRow), new_rows)
        if changed:
            keyed = [{"key_group": values["group_id"], "key_fingerprint": values["fingerprint"], **{f"new_{name}": values[name] for name in _UPDATED}} for values in changed]
            connection.execute(_UPDATE, keyed)
    session.flush()


def _stale(starts_at: datetime | None, ends_at: datetime | None, alert: Alert) -> bool:
    """A delivery about an earlier episode than the stored one (HA peers deliver late)."""
    if alert.status == FIRING and ends_at is not None and alert.starts_at is not None:
        return as_utc(alert.starts_at) <= as_utc(ends_at)
    if alert.status == RESOLVED and starts_at is not None and alert.ends_at is not None:
        # it ended before the firing we hold began: a late resolve of an earlier episode
        return as_utc(alert.ends_at) < as_utc(starts_at)
    return False
