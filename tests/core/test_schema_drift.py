"""The models and the migrations describe the same schema, on SQLite and (``--db=postgres``)
PostgreSQL.

A change to ``bot/store/models.py`` without a migration (or the other way round) fails here,
not on a user's database. Alembic's comparison sees tables, columns, types, nullability,
indexes and unique constraints; the names of primary and foreign keys and SQLite's
AUTOINCREMENT it does not look at, so a second test compares a migrated database with one
made straight from the models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from bot.store.migrate import upgrade
from bot.store.models import Base
from tests.support.databases import empty_database


def test_migrations_to_head_leave_nothing_for_autogenerate_to_do(db_backend: str, tmp_path: Path) -> None:
    with empty_database(db_backend, tmp_path, "drift") as engine:
        upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
            differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_a_migrated_database_has_the_names_of_one_made_from_the_models(db_backend: str, tmp_path: Path) -> None:
    with empty_database(db_backend, tmp_path, "migrated") as migrated, empty_database(db_backend, tmp_path, "modelled") as modelled:
        upgrade(migrated)
        Base.metadata.create_all(modelled)
        assert named_shape(migrated) == named_shape(modelled)
        assert named_shape(migrated)["incidents"]["uqs"] == [("uq_incidents_dedup_key", ("dedup_key",)), ("uq_incidents_pagerduty_incident_id", ("pagerduty_incident_id",))]


def named_shape(engine: Engine) -> dict[str, Any]:
    """Per table of the models: columns, and every key, reference and index with its name."""
    inspector = inspect(engine)
    shape: dict[str, Any] = {}
    for table in sorted(Base.metadata.tables):
        pk = inspector.get_pk_constraint(table)
        shape[table] = {
            "columns": sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)),  # order: ADD COLUMN appends
            "pk": (pk["name"], tuple(pk["constrained_columns"])),
            "fks": sorted((fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"]) for fk in inspector.get_foreign_keys(table)),
            "uqs": sorted((uq["name"], tuple(uq["column_names"])) for uq in inspector.get_unique_constraints(table)),
            "indexes": sorted((ix["name"], tuple(ix["column_names"]), bool(ix["unique"])) for ix in inspector.get_indexes(table)),
            "autoincrement": _sqlite_autoincrement(engine, table),
        }
    return shape


def _sqlite_autoincrement(engine: Engine, table: str) -> bool | None:
    if engine.dialect.name != "sqlite":
        return None
    with engine.connect() as connection:
        sql = connection.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}).scalar_one()
    return "AUTOINCREMENT" in sql.upper()
