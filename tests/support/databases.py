"""Databases of a test's own, empty and unmigrated, on SQLite or PostgreSQL.

Migration tests need a database at an old revision, which the shared, already migrated one
(``tests/conftest.py``) cannot give: each gets a file, or a PostgreSQL database created here
and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from bot.store.db import make_engine

POSTGRES_ADMIN_URL = os.environ.get("FIREBREAK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def empty_database(backend: str, folder: Path, name: str = "own") -> Iterator[Engine]:
    """An engine on a new, empty database (no migration applied), dropped on exit."""
    if backend != "postgres":
        engine = make_engine(f"sqlite:///{folder / f'{name}.db'}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    database = f"firebreak_{name}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    engine = make_engine(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
