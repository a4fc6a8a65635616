"""Where a new alert group goes: its own incident, an open incident it correlates with, or
the storm incident.

Order of the decision, for a group that has no incident yet:

1. **Correlation.** If its correlation key (``grouping.correlation_of``) is shared by an open
   incident opened within ``correlate_window``, it joins that incident (newest first).
2. **Storm guard.** Otherwise, unless its severity is exempt (``FIREBREAK_STORM_EXEMPT``), the
   group folds into the storm incident while the *new groups* of the last ``storm_window``
   number at least ``storm_threshold``: incidents opened in it (storm incidents not counted,
   any source) plus groups folded into a storm incident in it. Groups that joined by
   correlation or moved by a merge are not new. It joins the newest open storm incident that
   took a folded group within the window, else it opens a new storm incident. So a storm ends
   as soon as the arrivals of the last window drop below the threshold: a trickle never keeps
   it going.
3. Otherwise it opens its own incident, which keeps the correlation key for later groups.

Two ingesters (replicas) must never make two incidents of one correlation key or two storm
incidents. On PostgreSQL the decision is serialised with transaction-scoped advisory locks,
taken before any row lock: first the group's correlation key, then the storm guard's, so
every transaction takes them in the same order and none can wait for another in a cycle.
(One transaction places at most one new group: the ingester applies one group per
transaction.) SQLite serialises writers with ``BEGIN IMMEDIATE`` already.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from bot.domain.children import JoinedBy
from bot.domain.clock import as_utc
from bot.domain.incident import Status
from bot.domain.severity import Severity
from bot.ingest.alertmanager.grouping import Correlation, Grouping
from bot.store.models import AlertGroupRow, IncidentRow

#: The advisory lock key of the storm guard's decision.
STORM_LOCK = "firebreak:storm-guard"


@dataclass(frozen=True)
class Placement:
    """``parent`` None: open an incident (a storm incident when ``storm``)."""

    joined_by: JoinedBy
    parent: int | None = None
    storm: bool = False
    correlation: Correlation | None = None
    correlation_values: dict[str, str] = field(default_factory=dict)


def lock(session: Session, key: str) -> None:
    """Serialise on ``key`` until the transaction ends (PostgreSQL; a no-op on SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    # Re-entrant: taking a key this transaction holds already returns at once.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


def place(session: Session, grouping: Grouping, correlation: Correlation | None, severity: Severity, now: datetime) -> Placement:
    """Decide where a new group goes (the caller holds no row lock of another incident yet)."""
    if correlation is not None:
        lock(session, "firebreak:correlation:" + correlation.key)
        parent = _correlated(session, correlation.key, now - grouping.correlate_window, drill=grouping.drill)
        if parent is not None:
            return Placement(JoinedBy.CORRELATED, parent=parent, correlation=correlation, correlation_values=dict(correlation.values))
    if grouping.folds(severity):
        lock(session, STORM_LOCK)
        since = now - grouping.storm_window
        if new_groups_since(session, since, drill=grouping.drill) >= grouping.storm_threshold:
            storm = _recent_storm(session, since, drill=grouping.drill)
            if storm is not None:
                return Placement(JoinedBy.STORM, parent=storm)
            return Placement(JoinedBy.STORM, storm=True)
    return Placement(JoinedBy.OPENED, correlation=correlation)


def _open(statement: Select[int]) -> Select[int]:
    return statement.where(IncidentRow.status != Status.RESOLVED.value, IncidentRow.merged_into.is_(None))


def _correlated(session: Session, key: str, since: datetime, *, drill: bool = False) -> int | None:
    statement = _open(
        select(IncidentRow.id).where(IncidentRow.correlation_key == key, IncidentRow.created_at >= since, IncidentRow.drill.is_(drill))
    )
    return session.scalar(statement.order_by(IncidentRow.id.desc()).limit(1))


def _recent_storm(session: Session, since: datetime, *, drill: bool = False) -> int | None:
    """The newest open storm incident, if a group folded into it within the window (groups
    moved in by a merge do not count)."""
    storms = select(IncidentRow.id).where(IncidentRow.storm.is_(True), IncidentRow.drill.is_(drill))
    newest = session.scalar(_open(storms).order_by(IncidentRow.id.desc()).limit(1))
    if newest is None:
        return None
    statement = select(func.max(AlertGroupRow.joined_at)).where(
        AlertGroupRow.incident_id == newest, AlertGroupRow.joined_by == JoinedBy.STORM.value
    )
    last = session.scalar(statement)
    return newest if last is not None and as_utc(last) >= since else None


def new_groups_since(session: Session, since: datetime, *, drill: bool = False) -> int:
    """New groups since ``since``, as the storm guard counts them: incidents opened (storm
    incidents not counted) plus groups folded into a storm incident. Drill incidents count
    only towards a drill's storms (``drill``), real ones only towards real storms."""
    opened = (
        select(func.count())
        .select_from(IncidentRow)
        .where(IncidentRow.created_at >= since, IncidentRow.storm.is_(False), IncidentRow.drill.is_(drill))
    )
    folded = (
        select(func.count())
        .select_from(AlertGroupRow)
        .join(IncidentRow, IncidentRow.id == AlertGroupRow.incident_id)
        .where(AlertGroupRow.joined_by == JoinedBy.STORM.value, AlertGroupRow.joined_at >= since, IncidentRow.drill.is_(drill))
    )
    return int(session.scalar(opened) or 0) + int(session.scalar(folded) or 0)
