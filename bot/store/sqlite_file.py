"""Refuse to write to a SQLite file that is no longer the one at its path.

An open SQLite connection keeps working on its file after the file, or the folder it is in,
is removed (a mistaken ``rm -rf``, a clean-up job, a volume swapped underneath): the inode
lives on until the last descriptor closes. Every write then succeeds, webhooks are answered
2xx and ``/readyz`` says ready, and all of it vanishes when the process stops. So the engine
remembers which file it opened (device and inode) and every transaction first checks that
the path still names that file; if not, the transaction fails with ``OperationalError``,
which the webhook answers as 503 (the sender keeps the alert and retries), readiness as
unready, and the background loops as a database outage. Following a new file instead would
mix two databases; a restart is what picks up a restored or re-created file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)


class SqliteFileGuard:
    """The identity (device, inode) of the file an engine opened, and a check against it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._identity: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def _current(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_dev, stat.st_ino

    def remember(self) -> None:
        """Called once a connection is open: the first one made (or found) the file."""
        with self._lock:
            if self._identity is None:
                self._identity = self._current()

    def problem(self) -> str | None:
        """Why the path no longer names the opened file, or None while it does."""
        with self._lock:
            expected = self._identity
        if expected is None:
            return None
        current = self._current()
        if current == expected:
            return None
        what = "removed" if current is None else "replaced"
        return f"the SQLite database file {self.path} was {what} while Firebreak had it open; restart Firebreak"

    def check(self) -> None:
        """Raise ``OperationalError`` (what callers treat as "database unavailable") on a problem."""
        problem = self.problem()
        if problem is not None:
            log.error("database file gone; refusing writes that would be lost", extra={"path": str(self.path), "detail": problem})
            raise OperationalError("BEGIN", None, sqlite3.OperationalError(problem))


#: Free space below which the SQLite file's disk counts as full for readiness: room for one
#: webhook of the largest default size (``FIREBREAK_MAX_BODY_BYTES``, 1 MiB) and its WAL frames.
MIN_FREE_BYTES = 2 * 1024 * 1024


def disk_full(engine: Engine) -> str | None:
    """Why the disk under ``engine``'s SQLite file has no room for a webhook, or None.

    A full disk fails every write ("database or disk is full": webhooks get 503) while reads,
    and so ``SELECT 1``, still work; and a write probe that rolls back proves nothing, as
    SQLite only writes at commit. The free space is what tells.
    """
    guard = sqlite_file_guard(engine)
    if guard is None:
        return None
    try:
        stat = os.statvfs(guard.path.parent)
    except OSError:
        return None  # a missing folder: the file guard and the connection say so
    free = stat.f_bavail * stat.f_frsize
    if free >= MIN_FREE_BYTES:
        return None
    return f"the disk holding the SQLite database is full ({free} bytes free in {guard.path.parent}): webhooks cannot be stored"


#: The guard each SQLite engine checks its transactions with, so readiness can name the problem.
_GUARDS: weakref.WeakKeyDictionary[Engine, SqliteFileGuard] = weakref.WeakKeyDictionary()


def sqlite_file_guard(engine: Engine) -> SqliteFileGuard | None:
    """The guard for ``engine``'s database file (one per engine); None for in-memory and URI
    databases."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:") or engine.url.query.get("uri"):
        return None
    guard = _GUARDS.get(engine)
    if guard is None:
        guard = _GUARDS[engine] = SqliteFileGuard(Path(os.path.abspath(database)))
    return guard


def file_problem(engine: Engine) -> str | None:
    """Why ``engine``'s SQLite file is no longer the one it opened, or None."""
    guard = _GUARDS.get(engine)
    return guard.problem() if guard is not None else None
