"""Alembic environment: uses the caller's connection when given one (tests, serve)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from alembic import context
from alembic.migration import MigrationContext, MigrationInfo
from sqlalchemy import Connection, MetaData, create_engine

from bot.store.models import Base

config = context.config
target_metadata = Base.metadata

#: Revisions written before the constraint naming convention (0013_naming_convention). Alembic
#: hands the target metadata's convention to ``op.create_table`` and friends, so without care
#: these would now name what they create differently from what they created when they were
#: written; they run without it, and a database built from scratch passes through the same
#: states as one built back then (the upgrade test of 0013 relies on that).
BEFORE_CONVENTION = frozenset(
    {
        "0001", "0002_playbook_runs", "0003_escalation", "0004_inbox", "0005_pd", "0005_slackin",
        "0007_times", "0008_groups", "0009_alerts_per_group", "0010_notify", "0011_inbox_priority", "0012_drill_flag",
    }
)  # fmt: skip
_WITHOUT_CONVENTION = MetaData()


def _metadata_for(revisions: Collection[str]) -> MetaData:
    return _WITHOUT_CONVENTION if set(revisions) <= BEFORE_CONVENTION else target_metadata


def _after_step(ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]) -> None:
    """The next step runs under the convention of where this one left the database."""
    ctx.opts["target_metadata"] = _metadata_for({str(head) for head in heads})


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        on_version_apply=_after_step,
    )
    migration_context = context.get_context()
    migration_context.opts["target_metadata"] = _metadata_for(migration_context.get_current_heads())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic needs either a connection or sqlalchemy.url")
    engine = create_engine(url)
    with engine.begin() as new_connection:
        _run(new_connection)


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
