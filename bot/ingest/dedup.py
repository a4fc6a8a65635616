"""One alert group, one incident: get-or-create enforced by the database's unique key.

Two replicas (or Alertmanager's HA peers, or a retry racing the original) may both see a
new group. Each tries the insert inside a SAVEPOINT; the loser gets an IntegrityError from
the unique ``incidents.dedup_key``, rolls back only the savepoint, and loads the winner's
row (READ COMMITTED sees it once the winner commits; on SQLite writers are serialised by
``BEGIN IMMEDIATE``, so the race cannot happen there at all).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.incident import Incident
from bot.store.incidents import to_domain
from bot.store.models import IncidentRow

_ATTEMPTS = 3
_LOCKED_ROWS = "firebreak_locked_incident_rows"


def lock_by_dedup_key(session: Session, dedup_key: str) -> IncidentRow | None:
    """The incident for ``dedup_key``, row-locked so concurrent updates of one group queue up."""
    statement = select(IncidentRow).where(IncidentRow.dedup_key == dedup_key).with_for_update()
    row = session.scalars(statement).one_or_none()
    if row is not None:
        # The identity map holds rows weakly: keep this one for the transaction so the save
        # that follows finds it there instead of selecting it again.
        session.info.setdefault(_LOCKED_ROWS, []).append(row)
    return row


def find_or_declare(session: Session, dedup_key: str, declare: Callable[[], Incident]) -> tuple[Incident, bool]:
    """Return ``(incident, created)``; ``declare`` runs inside a savepoint and may lose a race."""
    for _attempt in range(_ATTEMPTS):
        row = lock_by_dedup_key(session, dedup_key)
        if row is not None:
            return to_domain(row), False
        try:
            with session.begin_nested():
                incident = declare()
            return incident, True
        except IntegrityError:
            continue  # someone else created it between our SELECT and INSERT: load theirs
    raise RuntimeError(f"could not create or load the incident for {dedup_key!r}")
