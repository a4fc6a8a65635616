"""alert groups become children of an incident; outbox rows carry a priority

Revision ID: 0008_groups
Revises: 0007_times

Until now one Alertmanager group was one incident (``incidents.dedup_key``). Correlation
and the storm guard let several groups share an incident, so each group gets its own row
(``alert_groups``) pointing at the incident it belongs to. Every existing Alertmanager
incident becomes the parent of one child, its own group, so nothing changes for them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_groups"
down_revision = "0007_times"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_groups",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("child_number", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=512), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("labels", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
        sa.Column("correlation", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("joined_by", sa.String(length=16), nullable=False),
        sa.Column("truncated_alerts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("dedup_key", name="uq_alert_groups_dedup_key"),
        sa.UniqueConstraint("incident_id", "child_number", name="uq_alert_groups_incident_child"),
    )
    op.create_index("ix_alert_groups_incident", "alert_groups", ["incident_id"])
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("correlation_key", sa.String(length=512), nullable=True))
        batch.add_column(sa.Column("storm", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
        batch.create_index("ix_incidents_correlation", ["correlation_key", "status"])
        batch.create_index("ix_incidents_created_at", ["created_at"])
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
        batch.create_index("ix_alerts_group", ["group_id"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="3"))
        batch.create_index("ix_outbox_priority", ["status", "priority", "id"])

    # Every Alertmanager incident so far is one group: make it that group's parent (child #1).
    op.execute(
        """
        INSERT INTO alert_groups (incident_id, child_number, dedup_key, source, title, labels, correlation,
                                  severity, status, joined_by, truncated_alerts, joined_at, resolved_at)
        SELECT id, 1, dedup_key, source, title, labels, labels, severity,
               CASE WHEN status = 'resolved' THEN 'resolved' ELSE 'firing' END,
               'opened', 0, created_at, resolved_at
        FROM incidents WHERE source = 'alertmanager' AND dedup_key IS NOT NULL
        """
    )
    op.execute(
        "UPDATE alerts SET group_id = (SELECT g.id FROM alert_groups g WHERE g.incident_id = alerts.incident_id AND g.child_number = 1)"
    )
    # Pending outbox rows keep their place: their incident's severity ranks them.
    op.execute(
        """
        UPDATE outbox SET priority = COALESCE((SELECT CASE i.severity WHEN 'P0' THEN 0 WHEN 'P1' THEN 1 WHEN 'P2' THEN 2
                                                      WHEN 'P3' THEN 3 ELSE 4 END
                                               FROM incidents i WHERE i.id = outbox.incident_id), 3)
        WHERE status IN ('pending', 'in_flight')
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_priority")
        batch.drop_column("priority")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_group")
        batch.drop_column("group_id")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_created_at")
        batch.drop_index("ix_incidents_correlation")
        batch.drop_column("merged_into")
        batch.drop_column("storm")
        batch.drop_column("correlation_key")
    op.drop_index("ix_alert_groups_incident", table_name="alert_groups")
    op.drop_table("alert_groups")
