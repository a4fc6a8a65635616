"""constraints and indexes named by one convention on every database

Revision ID: 0013_naming_convention
Revises: 0012_drill_flag

Until now unnamed constraints got each database's own names: PostgreSQL's ``incidents_pkey``,
``alerts_incident_id_fkey``, ``outbox_idempotency_key_key``; on SQLite no name at all. A
migration that has to drop or change one needs a name it can know in advance, so the models
now carry the usual convention (``bot.store.models.NAMING_CONVENTION``: ``pk_<table>``,
``fk_<table>_<column>_<referred table>``, ``uq_<table>_<column>``, ``ix_<table>_<column>``),
and this revision gives what exists those names.

PostgreSQL renames in place. SQLite cannot rename a constraint, so every table is rebuilt
(batch mode: copy, drop, rename); ``bot.store.migrate`` turns foreign key enforcement off for
that, as SQLite would otherwise refuse to drop ``incidents`` under the tables that refer to
it, and checks every reference before committing. The tables made with AUTOINCREMENT keep it
and keep their high-water mark, so ids of deleted rows are still never reused; ``incidents``,
whose rebuild in 0008 lost it on SQLite, gets it back (counting on from its highest id).

The names are written out here rather than read from the models: this revision must do the
same thing whatever the models say later.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013_naming_convention"
down_revision = "0012_drill_flag"
branch_labels = None
depends_on = None

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TABLES = (
    "incidents",
    "timeline_entries",
    "action_items",
    "alerts",
    "alert_groups",
    "inbound_events",
    "inbox",
    "outbox",
    "transcript",
    "playbook_runs",
    "playbook_step_states",
    "escalations",
    "slack_seen_requests",
    "slack_pause",
)
#: Created with ``sqlite_autoincrement``: a rebuild must keep it (reflection does not see it).
AUTOINCREMENT = ("incidents", "inbox")
#: (table, column, referred table) of every foreign key.
FOREIGN_KEYS = (
    ("timeline_entries", "incident_id", "incidents"),
    ("action_items", "incident_id", "incidents"),
    ("alerts", "incident_id", "incidents"),
    ("alert_groups", "incident_id", "incidents"),
    ("playbook_runs", "incident_id", "incidents"),
    ("playbook_step_states", "run_id", "playbook_runs"),
    ("playbook_step_states", "incident_id", "incidents"),
    ("escalations", "incident_id", "incidents"),
)
#: (table, column) of every unique constraint made without a name.
UNIQUES = (
    ("incidents", "dedup_key"),
    ("incidents", "pagerduty_incident_id"),
    ("outbox", "idempotency_key"),
    ("transcript", "outbox_id"),
)


def _postgres_names() -> list[tuple[str, str, str]]:
    """(table, PostgreSQL's default name, the convention's name) of every renamed constraint."""
    names = [(table, f"{table}_pkey", f"pk_{table}") for table in TABLES]
    names += [(table, f"{table}_{column}_fkey", f"fk_{table}_{column}_{referred}") for table, column, referred in FOREIGN_KEYS]
    names += [(table, f"{table}_{column}_key", f"uq_{table}_{column}") for table, column in UNIQUES]
    return names


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_tables(NAMING_CONVENTION)
        return
    for table, old, new in _postgres_names():
        op.execute(sa.text(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{old}" TO "{new}"'))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_tables(None)
        return
    for table, old, new in _postgres_names():
        op.execute(sa.text(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{new}" TO "{old}"'))


def _rebuild_sqlite_tables(convention: dict[str, str] | None) -> None:
    """Rebuild every table with its constraints named by ``convention`` (None: unnamed again)."""
    bind = op.get_bind()
    for table in TABLES:
        high_water = _sqlite_sequence(bind, table) if table in AUTOINCREMENT else None
        options: dict[str, Any] = {"recreate": "always"}
        if table in AUTOINCREMENT:
            options["table_kwargs"] = {"sqlite_autoincrement": True}
        if convention is not None:
            # Reflected without names, so the convention names them on the way.
            options["naming_convention"] = convention
        else:
            options["copy_from"] = _without_convention_names(bind, table)
        with op.batch_alter_table(table, **options):
            pass
        if high_water is not None:
            _restore_sqlite_sequence(bind, table, high_water)


def _without_convention_names(bind: Any, table: str) -> sa.Table:
    """``table`` as it is, less the names this revision gave (names written by hand stay)."""
    given = {new for _table, _old, new in _postgres_names()}
    reflected = sa.Table(table, sa.MetaData(), autoload_with=bind)
    for constraint in reflected.constraints:
        if constraint.name in given:
            constraint.name = None
    return reflected


def _sqlite_sequence(bind: Any, table: str) -> int | None:
    seq = bind.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}).scalar()
    return None if seq is None else int(seq)


def _restore_sqlite_sequence(bind: Any, table: str, high_water: int) -> None:
    """The copy leaves ``seq`` at the highest id left; ids of rows deleted before must stay used."""
    bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": table})
    bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :seq)"), {"t": table, "seq": high_water})
