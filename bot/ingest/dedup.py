"""Get-or-create enforced by the database's unique key: alert groups, PagerDuty incidents.

Two replicas (or Alertmanager's HA peers, or a retry racing the original) may both see a
new group. Each tries to create it (an incident it opens, or a child of an incident it
joins, always with its ``alert_groups`` row) inside a SAVEPOINT; the loser gets an
IntegrityError from the unique ``alert_groups.dedup_key``, rolls back only the savepoint,
and loads the winner's row (READ COMMITTED sees it once the winner commits; on SQLite
writers are serialised by ``BEGIN IMMEDIATE``, so the race cannot happen there at all).

PagerDuty incidents have no alert groups: they race on the unique ``incidents.dedup_key``
(``pd:<id>``) the same way (:func:`find_or_declare`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.incident import Incident
from bot.store import alert_groups
from bot.store.incidents import to_domain
from bot.store.models import AlertGroupRow, IncidentRow

_ATTEMPTS = 3
_LOCKED_ROWS = "firebreak_locked_incident_rows"
T = TypeVar("T")
F = TypeVar("F")


def _find_or_run(
    session: Session, find: Callable[[], F | None], create: Callable[[], T], failure: str, *, looked: bool = False
) -> tuple[F | None, T | None]:
    """``(found, None)`` or ``(None, created)``: the one race rule of this module. ``create``
    runs inside a savepoint; losing the race on the unique key rolls back only that and looks
    again (someone else created it between our SELECT and INSERT: load theirs). ``looked``:
    the caller has just looked and found nothing, so the first attempt creates at once."""
    for attempt in range(_ATTEMPTS):
        found = None if looked and attempt == 0 else find()
        if found is not None:
            return found, None
        try:
            with session.begin_nested():
                created = create()
            return None, created
        except IntegrityError:
            continue
    raise RuntimeError(failure)


def find_or_create(
    session: Session, dedup_key: str, create: Callable[[], T], *, looked: bool = False
) -> tuple[AlertGroupRow | None, T | None]:
    """``(row, None)`` for a known group (row-locked), ``(None, created)`` once ``create`` ran.

    ``create`` runs inside a savepoint and may lose a race on the group's unique key.
    ``looked``: the caller found no such group a moment ago in this transaction.
    """
    return _find_or_run(
        session,
        lambda: alert_groups.lock_by_dedup_key(session, dedup_key),
        create,
        f"could not create or load the alert group {dedup_key!r}",
        looked=looked,
    )


def lock_by_dedup_key(session: Session, dedup_key: str) -> IncidentRow | None:
    """The incident for ``dedup_key``, row-locked so concurrent updates of it queue up."""
    statement = select(IncidentRow).where(IncidentRow.dedup_key == dedup_key).with_for_update()
    row = session.scalars(statement).one_or_none()
    if row is not None:
        keep_locked_row(session, row)
    return row


def keep_locked_row(session: Session, row: object) -> None:
    """The identity map holds rows weakly: keep a locked one for the transaction so the save
    that follows finds it there instead of selecting it again."""
    session.info.setdefault(_LOCKED_ROWS, []).append(row)


def find_or_declare(session: Session, dedup_key: str, declare: Callable[[], Incident]) -> tuple[Incident, bool]:
    """Return ``(incident, created)``; ``declare`` runs inside a savepoint and may lose a race."""
    row, incident = _find_or_run(
        session, lambda: lock_by_dedup_key(session, dedup_key), declare, f"could not create or load the incident for {dedup_key!r}"
    )
    if row is not None:
        return to_domain(row), False
    assert incident is not None
    return incident, True
