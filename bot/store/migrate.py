"""Alembic, driven from code so ``firebreak db upgrade`` needs no alembic.ini on disk.

Only the commands that own the schema migrate (``serve``, ``web``, ``worker``, ``console``,
``db upgrade`` and the commands that write); read-only commands open the database with
:func:`open_current`, which changes nothing and stops with a clear message when the schema is
not the latest, instead of migrating a database another version may be using.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import make_url

from bot.store.db import SchemaNotCurrent, make_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

UPGRADE_HINT = "run `firebreak db upgrade`"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


#: PostgreSQL advisory lock held while migrating, so web and worker processes starting
#: together upgrade one at a time (the second finds the schema already at head).
MIGRATION_LOCK = 0x46425F4D  # "FB_M"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision`` (the latest by default) in one transaction.

    Raises :class:`SchemaNotCurrent` when a later Firebreak has migrated the database (a
    version rolled back after an upgrade): there is no way to migrate it from here.
    """
    refuse_newer_schema(engine)
    _run(engine, lambda config: command.upgrade(config, revision))


def refuse_newer_schema(engine: Engine) -> None:
    """Raise :class:`SchemaNotCurrent` when the database is at a revision this Firebreak does not know."""
    unknown = sorted(current_heads(engine) - _known_revisions())
    if unknown:
        raise SchemaNotCurrent(
            f"the database schema ({', '.join(unknown)}) is newer than this Firebreak knows: upgrade Firebreak to read it"
            " (it was migrated by a later version)"
        )


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate back to ``revision`` in one transaction (tests of a migration's way back)."""
    _run(engine, lambda config: command.downgrade(config, revision))


def _run(engine: Engine, action: Callable[[Config], None]) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _sqlite_foreign_keys(connection, enforced=False)
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                config.attributes["connection"] = connection
                action(config)
                if sqlite:
                    _refuse_broken_references(connection)
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, enforced=True)


def _sqlite_foreign_keys(connection: Connection, *, enforced: bool) -> None:
    """Switch SQLite's foreign key enforcement for this connection, outside any transaction.

    A migration that rebuilds a table (SQLite's batch mode: copy, drop, rename) cannot drop
    a table other tables refer to while enforcement is on, and SQLite ignores this pragma
    inside a transaction: so it is set on the driver's connection before ours begins.
    """
    connection.connection.driver_connection.execute(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")  # type: ignore[union-attr]


def _refuse_broken_references(connection: Connection) -> None:
    """With enforcement off while migrating, check every reference before committing."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"migration left {len(broken)} broken foreign key reference(s), first: {tuple(broken[0])}")


@lru_cache(maxsize=1)
def heads() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


@lru_cache(maxsize=1)
def _known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions())


def current_heads(engine: Engine) -> set[str]:
    """The revisions the database is at, read from ``alembic_version`` directly.

    Not through ``MigrationContext.configure``, which logs two INFO lines each time: the
    readiness probe asks every few seconds, and those lines would bury everything else.
    """
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return set()
        return {str(row[0]) for row in connection.execute(text("SELECT version_num FROM alembic_version"))}


def is_at_head(engine: Engine) -> bool:
    return current_heads(engine) == set(heads())


def sqlite_file_missing(url: str) -> Path | None:
    """The SQLite file ``url`` names when it does not exist yet (connecting would create it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def open_current(url: str) -> Engine:
    """An engine on ``url`` once its schema is the latest; :class:`SchemaNotCurrent` otherwise.

    For read-only commands: they change nothing, not even by creating a missing SQLite file.
    """
    missing = sqlite_file_missing(url)
    if missing is not None:
        raise SchemaNotCurrent(f"there is no database at {missing} yet: {UPGRADE_HINT} (or start `firebreak serve`) first")
    engine = make_engine(url)
    try:
        require_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def require_current(engine: Engine) -> None:
    """Raise :class:`SchemaNotCurrent` unless the database is at the latest schema; change nothing."""
    current = current_heads(engine)
    if current == set(heads()):
        return
    if not current:
        raise SchemaNotCurrent(f"the database has no Firebreak schema yet: {UPGRADE_HINT} first")
    refuse_newer_schema(engine)
    raise SchemaNotCurrent(
        f"the database schema is behind this Firebreak (at {', '.join(sorted(current))}, latest {', '.join(heads())}): {UPGRADE_HINT} first"
    )
