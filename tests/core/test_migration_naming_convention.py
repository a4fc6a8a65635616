"""Migration ``0013_naming_convention``: from 0012 with data in every table, and back, on
SQLite and (``--db=postgres``) PostgreSQL.

On SQLite it rebuilds every table, among them ``incidents`` that eight others refer to: the
rows must come through whole, references and unique keys must still hold afterwards, and
AUTOINCREMENT must go on counting from where it was (ids of deleted rows stay used). It also
gives ``incidents`` back the AUTOINCREMENT that the rebuild in 0008 lost on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, DateTime, Engine, Integer, MetaData, String, Table, inspect, select, text
from sqlalchemy.exc import IntegrityError

from bot.store.migrate import downgrade, upgrade
from tests.support.databases import empty_database

BEFORE = "0012_drill_flag"
#: The revision under test (later ones may add tables, which the checks here do not expect).
AFTER = "0013_naming_convention"
ROWS = 3
WHEN = datetime(2026, 1, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
def at_0012(db_backend: str, tmp_path: Path) -> Iterator[Engine]:
    """A database at 0012 holding ``ROWS`` rows in every table (the last incident and inbox row deleted)."""
    with empty_database(db_backend, tmp_path, "conv") as engine:
        upgrade(engine, BEFORE)
        fill_every_table(engine)
        with engine.begin() as connection:  # leave a high-water mark above the highest id
            connection.execute(text("DELETE FROM inbox WHERE id = :id"), {"id": ROWS})
        yield engine


def fill_every_table(engine: Engine) -> None:
    """Rows with a value in every column, built from what the database says its columns are."""
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.begin() as connection:
        for table in metadata.sorted_tables:  # parents first
            if table.name == "alembic_version":
                continue
            connection.execute(table.insert(), [row_for(table, number) for number in range(1, ROWS + 1)])


def row_for(table: Table, number: int) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column in table.columns:
        kind = column.type
        if column.primary_key and isinstance(kind, Integer):
            continue  # the database numbers them, so PostgreSQL's sequences move as they would
        if column.foreign_keys or isinstance(kind, Integer):
            row[column.name] = 1 if column.foreign_keys else number  # every child refers to row 1
        elif isinstance(kind, Boolean):
            row[column.name] = number % 2 == 0
        elif isinstance(kind, DateTime):
            row[column.name] = WHEN
        elif isinstance(kind, JSON) or type(kind).__name__ == "JSONB":
            row[column.name] = {"n": number, "name": column.name}
        elif isinstance(kind, String):  # String and Text
            value = f"{column.name}-{number}"
            row[column.name] = value[: kind.length] if kind.length else value
        else:
            raise AssertionError(f"no test value for {table.name}.{column.name} ({kind!r})")
    return row


def contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary key order."""
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]
            for table in metadata.sorted_tables
            if table.name != "alembic_version"
        }


def shape(engine: Engine) -> dict[str, Any]:
    """Everything the database says about its tables: columns, keys, references, indexes, names."""
    inspector = inspect(engine)
    found: dict[str, Any] = {}
    for name in sorted(inspector.get_table_names()):
        found[name] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in inspector.get_columns(name)],
            "pk": inspector.get_pk_constraint(name),
            "fks": sorted(map(str, inspector.get_foreign_keys(name))),
            "uqs": sorted(map(str, inspector.get_unique_constraints(name))),
            "indexes": sorted(map(str, inspector.get_indexes(name))),
        }
    return found


def names(engine: Engine, table: str) -> set[str | None]:
    inspector = inspect(engine)
    return (
        {inspector.get_pk_constraint(table)["name"]}
        | {fk["name"] for fk in inspector.get_foreign_keys(table)}
        | {uq["name"] for uq in inspector.get_unique_constraints(table)}
    )


def add_incident(engine: Engine, **values: Any) -> int:
    metadata = MetaData()
    incidents = Table("incidents", metadata, autoload_with=engine)
    row = row_for(incidents, 99) | values
    with engine.begin() as connection:
        return int(connection.execute(incidents.insert().returning(incidents.c.id), row).scalar_one())


def test_upgrade_from_0012_names_every_constraint_and_keeps_every_row(at_0012: Engine, db_backend: str) -> None:
    rows = contents(at_0012)
    assert all(len(table_rows) >= ROWS - 1 for table_rows in rows.values())  # the fixture did fill every table

    upgrade(at_0012, AFTER)

    assert contents(at_0012) == rows
    pk = {"postgres": {"pk_alerts", "pk_incidents"}, "sqlite": {"pk_alerts"}}[db_backend]  # SQLite: AUTOINCREMENT keys have no name
    assert pk <= names(at_0012, "alerts") | names(at_0012, "incidents")
    assert {"fk_alerts_incident_id_incidents", "uq_alerts_group_fingerprint"} <= names(at_0012, "alerts")
    assert {"uq_incidents_dedup_key", "uq_incidents_pagerduty_incident_id"} <= names(at_0012, "incidents")
    assert names(at_0012, "playbook_step_states") >= {"fk_playbook_step_states_run_id_playbook_runs", "uq_playbook_step_run_step"}
    with at_0012.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM incidents")).scalar_one() == ROWS


def test_after_the_upgrade_references_unique_keys_and_counters_still_hold(at_0012: Engine) -> None:
    upgrade(at_0012, AFTER)

    with at_0012.begin() as connection:
        connection.execute(text("DELETE FROM incidents WHERE id = :id"), {"id": ROWS})  # no child refers to it
    assert add_incident(at_0012, dedup_key="new") == ROWS + 1  # the deleted id is not handed out again
    with pytest.raises(IntegrityError):
        add_incident(at_0012, dedup_key="dedup_key-1")
    with pytest.raises(IntegrityError), at_0012.begin() as connection:
        connection.execute(text("UPDATE timeline_entries SET incident_id = 999 WHERE id = 1"))  # no such incident
    with pytest.raises(IntegrityError), at_0012.begin() as connection:
        connection.execute(text("DELETE FROM incidents WHERE id = 1"))  # still referred to
    with at_0012.begin() as connection:
        connection.execute(text("INSERT INTO inbox (source, group_key, body, received_at, attempts, priority) VALUES ('am', 'g', '{}', :at, 0, 3)"), {"at": WHEN})
        assert connection.execute(text("SELECT max(id) FROM inbox")).scalar_one() == ROWS + 1


def test_downgrade_gives_back_the_0012_schema_with_every_row(at_0012: Engine) -> None:
    schema, rows = shape(at_0012), contents(at_0012)

    upgrade(at_0012, AFTER)
    assert shape(at_0012) != schema
    downgrade(at_0012, BEFORE)

    assert shape(at_0012) == schema
    assert contents(at_0012) == rows
    upgrade(at_0012, AFTER)  # and up again
    assert contents(at_0012) == rows
