"""Which replica runs the escalation scheduler: the holder of a PostgreSQL advisory lock.

The lock is session-level and lives on a dedicated connection outside the pool (a pooled
connection would go back to the pool still holding it). When the leader dies, its socket
closes, PostgreSQL ends the session and the lock is free for the next replica's attempt; a
leader that lost its connection notices at the next ``ensure`` and steps down. TCP
keepalives bound how long a half-open connection (a partitioned host) keeps the lock.

Leadership is about not doing the work N times, not about correctness: deadlines are
claimed row by row under ``FOR UPDATE SKIP LOCKED`` with a status check, so even two
leaders for a moment could not fire one deadline twice.

SQLite has no advisory locks and is one machine by nature: every process is the leader,
and SQLite's single writer plus the same status check keep firing exactly-once.
"""

from __future__ import annotations

import logging
import os
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from bot.logs import STATE_CHANGE

log = logging.getLogger(__name__)

#: Two-int advisory key: "fire" / "escalate", so other tools' bigint locks cannot collide.
LOCK_KEY = (0x66697265, 0x65736361)


class LeaderLock(Protocol):
    def ensure(self) -> bool:
        """Try to be (or stay) the leader; True while this process leads."""
        ...

    def release(self) -> None: ...


class AlwaysLeader:
    """SQLite: one process per database file, so it always leads."""

    def ensure(self) -> bool:
        return True

    def release(self) -> None:
        return None


class AdvisoryLeaderLock:
    def __init__(self, url: str, *, name: str = "firebreak-scheduler") -> None:
        self._engine = create_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={
                "connect_timeout": 5,
                "application_name": f"{name}-{os.getpid()}",
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 5,
                "keepalives_count": 3,
            },
        )
        self._connection: Connection | None = None
        self.is_leader = False

    def ensure(self) -> bool:
        try:
            if self._connection is None:
                self._connection = self._engine.connect()
            if self.is_leader:
                held = self._connection.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                        " AND classid::bigint = :a AND objid::bigint = :b AND objsubid = 2 AND granted"
                    ),
                    {"a": LOCK_KEY[0], "b": LOCK_KEY[1]},
                ).scalar()
                if not held:
                    self._step_down("advisory lock no longer held")
                return self.is_leader
            acquired = self._connection.execute(
                text("SELECT pg_try_advisory_lock(CAST(:a AS integer), CAST(:b AS integer))"), {"a": LOCK_KEY[0], "b": LOCK_KEY[1]}
            ).scalar()
            if acquired:
                self.is_leader = True
                log.info("escalation scheduler: this replica is the leader", extra=STATE_CHANGE)
            return self.is_leader
        except Exception as error:  # connection died: the lock died with it
            self._step_down(f"leader connection failed: {error}")
            return False

    def _step_down(self, why: str) -> None:
        if self.is_leader:
            log.warning("escalation scheduler: stepping down", extra={"reason": why, **STATE_CHANGE})
        self.is_leader = False
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()
                connection.close()
            except Exception:
                pass

    def release(self) -> None:
        """Closing the session releases the lock; the next replica takes over at once."""
        was_leader = self.is_leader
        self.is_leader = False
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                pass
        self._engine.dispose()
        if was_leader:
            log.info("escalation scheduler: leadership released", extra=STATE_CHANGE)


def leader_lock_for(engine: Engine) -> LeaderLock:
    if engine.dialect.name == "postgresql":
        return AdvisoryLeaderLock(engine.url.render_as_string(hide_password=False))
    return AlwaysLeader()
