"""timeline entries keep when Firebreak received them and when they happened at the source

Revision ID: 0007_times
Revises: 0005_slackin
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_times"
down_revision = "0005_slackin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timeline_entries") as batch:
        batch.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("source_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("source_time", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("timeline_entries") as batch:
        batch.drop_column("source_time")
        batch.drop_column("source_at")
        batch.drop_column("received_at")
