"""Which driver errors mean the database cannot write or cannot be reached, and how loops report them.

The ingester keeps a row that fails by itself for a few retries and then sets it aside as
dead, so one poisonous webhook cannot hold up everything. An error that would fail any row
(a full disk, a read-only standby, the server shutting down, out of memory) must not count
against the row: during such an outage every queued webhook would reach its last attempt
and be set aside, and the incidents they carry would not open when the database recovers.
A statement timeout (``57014``) or a lock that could not be had stays the row's.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

#: SQLSTATE classes: connection exception, insufficient resources (disk full, out of memory,
#: too many connections), system error (I/O).
_PG_CLASSES = ("08", "53", "58")
#: SQLSTATE codes: read-only transaction (a standby), admin or crash shutdown, cannot connect now.
_PG_CODES = ("25006", "57P01", "57P02", "57P03")
#: SQLite result codes (an extended code starts with its primary one's name): disk full,
#: read-only file, I/O error, file cannot be opened.
_SQLITE_CODES = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")


def database_cannot_write(driver_error: BaseException | None) -> bool:
    """True when ``driver_error`` (a DBAPI exception, ``DBAPIError.orig``) is the database's
    trouble rather than the statement's."""
    sqlstate = getattr(driver_error, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate[:2] in _PG_CLASSES or sqlstate in _PG_CODES
    name = getattr(driver_error, "sqlite_errorname", None)
    return isinstance(name, str) and name.startswith(_SQLITE_CODES)


def stops_every_row(error: BaseException) -> bool:
    """Whether applying a row failed because of the database rather than the row: a lost
    connection, an exhausted pool, or a database that cannot write now. The ingester then
    stops its pass without counting it against any row; anything else is the row's.

    Narrower than ``database_unavailable``: an ``OperationalError`` on a live connection
    (a statement timeout on a huge group, a lock that could not be had) belongs to the row.
    It is retried with backoff and, if it keeps failing, set aside, so it cannot stop every
    other group.
    """
    if isinstance(error, (PoolTimeout, TimeoutError, ConnectionError)):
        return True
    if not isinstance(error, DBAPIError):
        return False
    return error.connection_invalidated or database_cannot_write(error.orig)


def database_unavailable(error: BaseException) -> bool:
    """Whether a background loop's failed tick was the database's doing (unreachable, its
    pool exhausted, unable to write) rather than a fault in the code.

    Loops log the first with one line and retry; a traceback every minute per loop through
    an outage buries the one line that says what is wrong. A fault still gets its traceback.
    """
    if isinstance(error, (PoolTimeout, TimeoutError, ConnectionError, OperationalError, InterfaceError)):
        return True
    return isinstance(error, DBAPIError) and database_cannot_write(error.orig)


def log_retrying(log: logging.Logger, what: str, error: BaseException, **extra: object) -> None:
    """``what`` failed and will be tried again: one line for a database outage, else the traceback."""
    if database_unavailable(error):
        log.warning(f"{what}; retrying: the database is unavailable", extra={"error": type(error).__name__, "detail": str(error)[:300], **extra})
    else:
        log.exception(f"{what}; retrying", extra=extra)
