"""Throw-away PostgreSQL databases for the benchmarks: each run gets a fresh, empty one and
drops it after (forcefully, so a server the run left behind cannot keep it alive)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

#: The machine's PostgreSQL (trust auth); databases are made and dropped through it.
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _as_admin(statement: str, admin: str) -> None:
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")  # CREATE/DROP DATABASE: no transaction
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def create_postgres(prefix: str, admin: str = POSTGRES_ADMIN) -> tuple[str, str]:
    """A new database named ``prefix_<random>``: its name and its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    _as_admin(f'CREATE DATABASE "{name}"', admin)
    return name, admin.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres(name: str, admin: str = POSTGRES_ADMIN) -> None:
    _as_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin)


@contextmanager
def scratch_postgres(prefix: str, admin: str = POSTGRES_ADMIN) -> Iterator[str]:
    """The URL of a new database, dropped when the block ends (also on failure)."""
    name, url = create_postgres(prefix, admin)
    try:
        yield url
    finally:
        drop_postgres(name, admin)
