"""inbox rows carry a priority: urgent groups are applied before a storm's backlog

Revision ID: 0011_inbox_priority
Revises: 0010_notify

Each queued webhook records the severity rank of its worst firing alert (0 = P0 … 4 = INFO,
3 when unknown). The ingester picks groups holding an urgent row first; the index finds
them without reading the backlog.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_inbox_priority"
down_revision = "0010_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="3"))
        batch.create_index("ix_inbox_priority_id", ["priority", "id"])


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_index("ix_inbox_priority_id")
        batch.drop_column("priority")
