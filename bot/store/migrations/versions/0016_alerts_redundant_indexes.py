"""alerts: drop two indexes that others already cover

Revision ID: 0016_alerts_redundant_indexes
Revises: 0015_web_signouts

Every alert row written updated five indexes. ``ix_alerts_group`` (group_id) is covered by
the unique constraint on (group_id, fingerprint), and ``ix_alerts_incident_id`` (incident_id)
by ``ix_alerts_incident_fingerprint`` (incident_id, fingerprint): both lead with the same
column, so every look-up they served is served as well without them, and an alert burst
writes two index entries fewer per alert.
"""

from __future__ import annotations

from alembic import op

revision = "0016_alerts_redundant_indexes"
down_revision = "0015_web_signouts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_alerts_group", table_name="alerts")
    op.drop_index("ix_alerts_incident_id", table_name="alerts")


def downgrade() -> None:
    op.create_index("ix_alerts_incident_id", "alerts", ["incident_id"])
    op.create_index("ix_alerts_group", "alerts", ["group_id"])
