"""Alembic, driven from code so ``firebreak db upgrade`` needs no alembic.ini on disk."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


#: PostgreSQL advisory lock held while migrating, so web and worker processes starting
#: together upgrade one at a time (the second finds the schema already at head).
MIGRATION_LOCK = 0x46425F4D  # "FB_M"


def upgrade(engine: Engine) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@lru_cache(maxsize=1)
def heads() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


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
