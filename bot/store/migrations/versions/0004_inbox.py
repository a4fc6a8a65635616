"""webhook inbox: accepted webhooks waiting for the ingester

Revision ID: 0004_inbox
Revises: 0003_escalation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_inbox"
down_revision = "0003_escalation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("group_key", sa.String(length=512), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("webhook_id", sa.String(length=255), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_inbox_group_key_id", "inbox", ["group_key", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_group_key_id", table_name="inbox")
    op.drop_table("inbox")
