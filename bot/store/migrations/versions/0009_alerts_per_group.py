"""alerts belong to their alert group: unique per (group_id, fingerprint)

Revision ID: 0009_alerts_per_group
Revises: 0008_groups

One alert (one fingerprint) can arrive in two alert groups of one incident: an alert routed
to two receivers (``continue: true``), or the same alert from two sources folded into one
storm. Each group (child) keeps its own row of it, so the alert is unique per child, not per
incident. A non-unique index on (incident_id, fingerprint) keeps lookups by incident fast,
and one on alert_groups (joined_by, joined_at) serves the storm guard's count.
"""

from __future__ import annotations

from alembic import op

revision = "0009_alerts_per_group"
down_revision = "0008_groups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint("uq_alerts_incident_fingerprint", type_="unique")
        batch.create_unique_constraint("uq_alerts_group_fingerprint", ["group_id", "fingerprint"])
        batch.create_index("ix_alerts_incident_fingerprint", ["incident_id", "fingerprint"])
    # The storm guard counts the groups folded into storms within its window.
    op.create_index("ix_alert_groups_joined", "alert_groups", ["joined_by", "joined_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_groups_joined", table_name="alert_groups")
    # Fails if an incident holds one fingerprint in two children: that is what this revision allows.
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_incident_fingerprint")
        batch.drop_constraint("uq_alerts_group_fingerprint", type_="unique")
        batch.create_unique_constraint("uq_alerts_incident_fingerprint", ["incident_id", "fingerprint"])
