"""The webhook inbox: what "accepted" means, and the queries the ingester runs on it.

A webhook is answered 2xx once its body is one committed row here (bot/ingest/inbox_writer.py),
which costs the sender a single insert however much the incident behind it will take to update. Rows of one group
(Alertmanager ``groupKey``, PagerDuty incident id) are applied strictly in the order they
were queued (with several replicas: the order their inserts were committed).

With several ingesters on PostgreSQL, each group is *claimed* by one of them for a
transaction (``claim_groups``): the others pass it by and apply other groups meanwhile,
instead of queueing on its row locks. Without claims every ingester picks the same oldest
groups, waits for the one applying them, then finds their rows gone: two workers drained a
backlog slower than one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.orm import Session

from bot.store.models import InboxRow

#: The largest id the inbox's INTEGER column holds (32 bits on PostgreSQL).
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Due:
    """Groups that may be applied now, and when the oldest of their heads arrived (the lag)."""

    groups: list[str]
    oldest: datetime | None
    #: How many of ``groups`` (the first ones) hold an urgent row.
    urgent: int = 0


def due_groups(
    session: Session, *, now: datetime, limit: int, window: int = 2000, urgent: Collection[int] = (), drill: bool = False
) -> Due:
    """Groups whose oldest live row may be applied now: urgent groups first, then oldest first.

    Only a group's head decides: a row waiting out a retry holds back the rows behind it
    (their order matters) but not other groups. Heads are picked from the oldest
    ``window`` rows: one index scan, where a GROUP BY over the whole backlog would cost
    the ingester more than the webhooks it applies.

    A group holding a live row whose priority is in ``urgent`` (say a P0 webhook in the
    middle of a storm) is picked before all others, wherever it sits in the backlog (the
    ``(priority, id)`` index finds it). Only the order of groups changes: within a group,
    rows are still applied in arrival order, so its head (of any priority) goes first.

    ``drill``: only a drill's rows (else only real ones): a drill opted in to a database a
    real ingester uses never has its webhooks applied as real ones, nor applies theirs.
    """
    first = _urgent_groups(session, now=now, limit=limit, urgent=urgent, drill=drill) if urgent else []
    rest = _due_by_age(session, now=now, limit=limit + len(first), window=window, drill=drill)
    taken = set(first)
    groups = (first + [group for group in rest.groups if group not in taken])[:limit]
    return Due(groups, rest.oldest, urgent=len(first))


def _urgent_groups(session: Session, *, now: datetime, limit: int, urgent: Collection[int], drill: bool) -> list[str]:
    """Groups holding a live urgent row whose head is due, most urgent (then oldest) first."""
    statement = (
        select(InboxRow.group_key)
        .where(InboxRow.priority.in_(sorted(urgent)), InboxRow.dead_at.is_(None), InboxRow.drill.is_(drill))
        .order_by(InboxRow.priority, InboxRow.id)
        .limit(limit * 4)
    )
    keys = list(dict.fromkeys(session.scalars(statement)))[:limit]
    if not keys:
        return []
    heads = (
        select(InboxRow.group_key, func.min(InboxRow.id).label("head"))
        .where(InboxRow.group_key.in_(keys), InboxRow.dead_at.is_(None), InboxRow.drill.is_(drill))
        .group_by(InboxRow.group_key)
        .subquery()
    )
    waiting = set(
        session.scalars(
            select(heads.c.group_key)
            .join(InboxRow, InboxRow.id == heads.c.head)
            .where(InboxRow.not_before.is_not(None), InboxRow.not_before > now)
        )
    )
    return [key for key in keys if key not in waiting]


def _due_by_age(session: Session, *, now: datetime, limit: int, window: int, drill: bool) -> Due:
    statement = (
        select(InboxRow.group_key, InboxRow.not_before, InboxRow.received_at)
        .where(InboxRow.dead_at.is_(None), InboxRow.drill.is_(drill))
        .order_by(InboxRow.id)
        .limit(window)
    )
    seen: set[str] = set()
    due: list[str] = []
    oldest: datetime | None = None
    scanned = 0
    for group_key, not_before, received_at in session.execute(statement):
        scanned += 1
        if group_key in seen:
            continue
        seen.add(group_key)
        if not_before is None or not_before <= now:
            oldest = oldest or received_at
            due.append(group_key)
            if len(due) >= limit:
                break
    if not due and scanned >= window:
        # The window is all groups waiting out retries: look past it, whatever it costs.
        return _due_groups_everywhere(session, now=now, limit=limit, drill=drill)
    return Due(due, oldest)


def _due_groups_everywhere(session: Session, *, now: datetime, limit: int, drill: bool) -> Due:
    heads = (
        select(InboxRow.group_key, func.min(InboxRow.id).label("head"))
        .where(InboxRow.dead_at.is_(None), InboxRow.drill.is_(drill))
        .group_by(InboxRow.group_key)
        .subquery()
    )
    statement = (
        select(heads.c.group_key, InboxRow.received_at)
        .join(InboxRow, InboxRow.id == heads.c.head)
        .where(or_(InboxRow.not_before.is_(None), InboxRow.not_before <= now))
        .order_by(heads.c.head)
        .limit(limit)
    )
    rows = session.execute(statement).all()
    return Due([group_key for group_key, _ in rows], rows[0][1] if rows else None)


#: First half of the two-int advisory keys of group claims ("inbx"): apart from the leader's
#: key (bot/schedule/leader.py) and from bigint keys (the storm guard's, other tools').
GROUP_CLAIM_SPACE = 0x696E6278

_CLAIM = text(
    "SELECT key FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS claim(key, place) "
    "WHERE pg_try_advisory_xact_lock(CAST(:space AS integer), hashtext(key)) ORDER BY place"
)


def claim_groups(session: Session, group_keys: Sequence[str]) -> list[str]:
    """The groups no other ingester is applying now, claimed until this transaction ends.

    A try-lock, never a wait: a group another ingester holds is left for a later pass, so
    it is still applied by one ingester at a time and in order. Two keys may share a lock
    (a 32-bit hash): then one waits for a later pass, which costs time, never order.
    SQLite has one writer, so there every group is this ingester's.
    """
    if not group_keys or session.get_bind().dialect.name != "postgresql":
        return list(group_keys)
    return list(session.scalars(_CLAIM, {"keys": list(group_keys), "space": GROUP_CLAIM_SPACE}))


def lock_group(session: Session, group_key: str, *, limit: int, drill: bool = False) -> Sequence[InboxRow]:
    """The group's live rows in arrival order, locked (a drill's rows only for a drill, real
    ones only otherwise); none if another ingester has claimed the group."""
    if not claim_groups(session, [group_key]):
        return []
    statement = (
        select(InboxRow)
        .where(InboxRow.group_key == group_key, InboxRow.dead_at.is_(None), InboxRow.drill.is_(drill))
        .order_by(InboxRow.id)
        .limit(limit)
        .with_for_update()
    )
    return session.scalars(statement).all()


def lock_groups(session: Session, group_keys: Sequence[str], *, limit: int, drill: bool = False) -> dict[str, list[InboxRow]]:
    """Several groups' live rows (at most ``limit`` each), in arrival order, locked in one
    statement; in id order, as ``lock_group`` does, so ingesters wait for each other rather
    than deadlock. The row conditions are repeated outside the ranking: PostgreSQL checks
    them again on a row another ingester changed while this one waited for it.

    Groups another ingester has claimed are left out (``claim_groups``)."""
    group_keys = claim_groups(session, group_keys)
    if not group_keys:
        return {}
    live = (InboxRow.group_key.in_(list(group_keys)), InboxRow.dead_at.is_(None), InboxRow.drill.is_(drill))
    ranked = (
        select(InboxRow.id, func.row_number().over(partition_by=InboxRow.group_key, order_by=InboxRow.id).label("place"))
        .where(*live)
        .subquery()
    )
    statement = (
        select(InboxRow)
        .where(InboxRow.id.in_(select(ranked.c.id).where(ranked.c.place <= limit)), *live)
        .order_by(InboxRow.id)
        .with_for_update()
    )
    by_group: dict[str, list[InboxRow]] = {}
    for row in session.scalars(statement):
        by_group.setdefault(row.group_key, []).append(row)
    return by_group


def remove(session: Session, ids: Sequence[int]) -> None:
    if ids:
        session.execute(delete(InboxRow).where(InboxRow.id.in_(list(ids))))


def depth(session: Session) -> dict[str, int]:
    """Rows waiting (``pending``) and rows given up on (``dead``), for /metrics and ``inbox
    status``. A drill's rows on a shared database are never applied by the real ingester:
    not counted."""
    statement = select(InboxRow.dead_at.is_(None), func.count()).where(InboxRow.drill.is_(False)).group_by(InboxRow.dead_at.is_(None))
    counts = {"pending": 0, "dead": 0}
    for live, count in session.execute(statement):
        counts["pending" if live else "dead"] += int(count)
    return counts


def oldest_pending(session: Session) -> datetime | None:
    return session.scalar(select(func.min(InboxRow.received_at)).where(InboxRow.dead_at.is_(None), InboxRow.drill.is_(False)))


def dead_rows(session: Session, *, limit: int = 100) -> Sequence[InboxRow]:
    """Real rows given up on (a drill's are its own business: never listed nor revived here)."""
    statement = select(InboxRow).where(InboxRow.dead_at.is_not(None), InboxRow.drill.is_(False)).order_by(InboxRow.id).limit(limit)
    return session.scalars(statement).all()


def revive(session: Session, ids: Sequence[int] | None = None) -> int:
    """Give dead rows (all, or ``ids``) a fresh set of attempts; returns how many.

    An id outside the column's range names no row; it is left out of the query, where
    PostgreSQL would refuse it as out of range (and SQLite past 64 bits)."""
    statement = select(InboxRow).where(InboxRow.dead_at.is_not(None), InboxRow.drill.is_(False))
    if ids is not None:
        statement = statement.where(InboxRow.id.in_([row_id for row_id in ids if 0 < row_id <= MAX_ID]))
    revived = 0
    for row in session.scalars(statement):
        row.dead_at, row.not_before, row.attempts = None, None, 0
        revived += 1
    return revived
