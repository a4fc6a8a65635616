"""inbox and outbox rows carry a drill flag: a real ingester or delivery worker never takes a drill's

Revision ID: 0014_drill_rows
Revises: 0013_naming_convention

A drill opted in to a database a running ``serve`` or ``worker`` also uses queues its
webhooks and messages in the same tables; the flag keeps each process to its own rows, so a
real process never applies a drill's webhook nor posts a drill's message to Slack.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_drill_rows"
down_revision = "0013_naming_convention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: SQLite's batch mode would rebuild the tables.
    for table in ("inbox", "outbox"):
        op.add_column(table, sa.Column("drill", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    # The inbox keeps its AUTOINCREMENT through the rebuild (reflection does not see it).
    for table, kwargs in (("inbox", {"sqlite_autoincrement": True}), ("outbox", {})):
        with op.batch_alter_table(table, table_kwargs=kwargs) as batch:
            batch.drop_column("drill")
