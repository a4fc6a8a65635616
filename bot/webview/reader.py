"""The web view's own read-only connections on SQLite.

The app's SQLite engine begins every transaction ``IMMEDIATE`` (bot/store/db.py), which
takes the write lock: right for writers, wrong for pages that only read, above all for the
event streams that look at an incident once a second per open page. In WAL mode readers
never block the writer nor wait for it, so the web view reads through a second engine with
plain deferred transactions and ``query_only`` on. On PostgreSQL the app's sessions are fine.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

from bot.store.db import SessionFactory, make_session_factory


def reader_sessions(engine: Engine, sessions: SessionFactory) -> SessionFactory:
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return sessions
    reader = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(reader, "connect")
    def _read_only(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    return make_session_factory(reader)
