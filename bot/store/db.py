"""Engine and session set-up for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from bot.store.handoff_lock import HandoffLock
from bot.store.sqlite_file import disk_full, file_problem, sqlite_file_guard

SessionFactory = sessionmaker[Session]


class SchemaNotCurrent(RuntimeError):
    """The database is not at the schema this version of Firebreak reads: a read-only command
    found it missing, empty, behind, or newer than this version knows (bot/store/migrate.py).
    Defined here, not beside the migrations, so the CLI can catch it without loading Alembic."""


#: Connections a PostgreSQL pool keeps open between bursts (at most ``pool_max`` of them).
POOL_KEPT = 10


def make_engine(url: str, *, pool_max: int = 30, **kwargs: Any) -> Engine:
    """``pool_max``: on PostgreSQL, the most pooled connections this process opens at once
    (``FIREBREAK_DB_POOL_MAX``); past it a request waits up to 5 s for one. Several replicas
    on a server with a small ``max_connections`` (or a PgBouncer's pool) need it lower: a
    process that cannot open a connection fails its readiness probe and its deliveries."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _make_sqlite_serialise_writers(engine)
        return engine
    kwargs.setdefault("pool_size", min(POOL_KEPT, pool_max))
    kwargs.setdefault("max_overflow", max(0, pool_max - POOL_KEPT))
    kwargs.setdefault("pool_timeout", 5)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs["connect_args"] = {"connect_timeout": 5, **kwargs.get("connect_args", {})}
    return create_engine(url, **kwargs)


def _make_sqlite_serialise_writers(engine: Engine) -> None:
    """Begin every transaction IMMEDIATE.

    pysqlite's deferred transactions let two threads both read and then fail to upgrade to
    a write lock ("database is locked") without waiting; IMMEDIATE makes the second writer
    wait on busy_timeout instead, which is what a webhook burst needs.

    Every transaction also first checks that the file is still the one the engine opened
    (bot/store/sqlite_file.py): writes to a removed file would be answered and then lost.
    """
    guard = sqlite_file_guard(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        if guard is not None:
            guard.remember()

    writer = HandoffLock()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Hand the write lock over inside the process first: SQLite's busy handler polls
        # with sleeps of up to 100 ms, which under a webhook burst turns a 5 ms
        # transaction into a p99 of seconds. A bounded wait keeps the old behaviour
        # (busy_timeout) as the fallback, e.g. for a nested transaction on one thread.
        # First come, first served (HandoffLock), so a loop of transactions cannot starve
        # a webhook waiting for its one insert.
        if guard is not None:
            guard.check()
        if writer.acquire(timeout=_WRITER_WAIT_SECONDS, urgent=getattr(_urgency, "urgent", False)):
            connection.info[_HOLDS_WRITER] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(connection)
            raise

    def _release(connection: Any) -> None:
        try:
            info = connection.info
        except NotImplementedError:  # the engine's first-connect probe: never held the lock
            return
        if info.pop(_HOLDS_WRITER, False):
            writer.release()

    # Hand the lock on only once COMMIT/ROLLBACK has run: the engine's "commit" event fires
    # before it, and a next writer let in then finds SQLite still locked and falls into the
    # busy handler's sleeps. The pool rolls back returned connections through the same
    # dialect method, and an invalidated connection gives its turn up too.
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            _release(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            _release(dbapi_connection)

    # This engine's own dialect object; SQLAlchemy has no event after COMMIT/ROLLBACK ran.
    dialect.do_commit = do_commit  # type: ignore[method-assign]  # replacing a method on one instance
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]  # replacing a method on one instance
    event.listen(engine, "invalidate", lambda _dbapi, record, _error: _release(record))


_WRITER_WAIT_SECONDS = 30
_HOLDS_WRITER = "firebreak_holds_writer_lock"
_urgency = threading.local()


def mark_thread_urgent() -> None:
    """This thread's SQLite transactions jump the writer queue (someone waits for them)."""
    _urgency.urgent = True


#: ``Session.info`` key: the session belongs to a drill, so what it queues is a drill's.
DRILL = "drill"


def make_session_factory(engine: Engine, *, drill: bool = False) -> SessionFactory:
    """``drill``: every session says so (``is_drill``), and the outbox rows written through
    them are marked as a drill's, whoever writes them: no caller can forget the mark."""
    return sessionmaker(engine, expire_on_commit=False, info={DRILL: True} if drill else None)


def is_drill(session: Session) -> bool:
    return bool(session.info.get(DRILL, False))


def ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def write_problem(engine: Engine) -> str | None:
    """Why ``engine`` answers but cannot store anything now, or None.

    A standby after a failover (the URL still names the old primary, now a replica),
    ``default_transaction_read_only``, or a full disk under a SQLite file answer ``SELECT 1``
    like a healthy database, yet every webhook is refused; readiness must say so, or the
    router and the probes keep trusting a process that can store no alert.
    """
    if engine.dialect.name == "sqlite":
        return file_problem(engine) or disk_full(engine)
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        if connection.execute(text("SELECT current_setting('transaction_read_only')")).scalar() == "on":
            return "database is read-only (a standby, or default_transaction_read_only is on): webhooks cannot be stored"
    return None
