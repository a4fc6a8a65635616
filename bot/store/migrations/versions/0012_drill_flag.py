"""incidents carry a drill flag: rehearsals never count in lists, storms or figures

Revision ID: 0012_drill_flag
Revises: 0011_inbox_priority

A drill runs on its own database by default; a team that opts in to running one against a
shared database still keeps its incidents out of everything that reports on real ones.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_drill_flag"
down_revision = "0011_inbox_priority"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: SQLite's batch mode would rebuild the table under its foreign keys.
    op.add_column("incidents", sa.Column("drill", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("drill")
