"""incidents: when the last PagerDuty status and priority change applied happened

Revision ID: 0005_pd
Revises: 0004_inbox
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_pd"
down_revision = "0004_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("pagerduty_status_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("pagerduty_priority_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("pagerduty_priority_at")
        batch.drop_column("pagerduty_status_at")
