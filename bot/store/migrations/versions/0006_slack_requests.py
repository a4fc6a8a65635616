"""slack inbound: requests already applied (replays, retries) and the delivery pause

Revision ID: 0005_slackin
Revises: 0005_pd
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_slackin"
down_revision = "0005_pd"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_seen_requests",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_slack_seen_requests_expires_at", "slack_seen_requests", ["expires_at"])
    op.create_table(
        "slack_pause",
        sa.Column("token_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_fingerprint"),
    )


def downgrade() -> None:
    op.drop_table("slack_pause")
    op.drop_index("ix_slack_seen_requests_expires_at", table_name="slack_seen_requests")
    op.drop_table("slack_seen_requests")
