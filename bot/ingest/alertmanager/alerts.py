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

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.domain.clock import as_utc
from bot.domain.timeline import TimelineEntry
from bot.ingest.alertmanager.mapping import alert_entry
from bot.ingest.alertmanager.models import Alert, AlertGroup
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
    """One alert row of the incident, as the notifications so far left it."""

    __slots__ = ("dirty", "inserted", "row", "values")

    def __init__(self, row: AlertRow | None, values: dict[str, Any]) -> None:
        self.row = row
        self.values = values
        self.dirty = False
        self.inserted = False

    @classmethod
    def stored(cls, row: AlertRow) -> AlertState:
        values = {"status": row.status, "starts_at": row.starts_at, "ends_at": row.ends_at, "fingerprint": row.fingerprint, "group_id": row.group_id}
        return cls(row, values)

    @property
    def firing(self) -> bool:
        return bool(self.values["status"] == FIRING)


def load_states(session: Session, group_id: int, fingerprints: set[str]) -> dict[str, AlertState]:
    """The stored alerts of one child (alert group), by fingerprint."""
    statement = select(AlertRow).where(AlertRow.group_id == group_id, AlertRow.fingerprint.in_(list(fingerprints)))
    return {row.fingerprint: AlertState.stored(row) for row in session.scalars(statement)}


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
            states[fingerprint] = state = AlertState(None, values)
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
            statement = select(AlertRow).where(AlertRow.group_id == state.values["group_id"], AlertRow.fingerprint == state.values["fingerprint"])
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
