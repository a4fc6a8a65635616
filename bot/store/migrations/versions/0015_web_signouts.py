"""web view: sessions signed out, so a copy of the cookie stops working at sign-out

Revision ID: 0015_web_signouts
Revises: 0014_drill_rows

Sessions live in signed cookies; a row here names one that was signed out before it
expired. Rows are pruned once the cookie they name would have expired anyway.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_web_signouts"
down_revision = "0014_drill_rows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_signouts",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index("ix_web_signouts_expires_at", "web_signouts", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_web_signouts_expires_at", table_name="web_signouts")
    op.drop_table("web_signouts")
