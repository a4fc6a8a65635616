"""playbook runs and per-incident step states

Revision ID: 0006_playbook_runs
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_playbook_runs"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "playbook_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("playbook_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=True),
        sa.Column("matched_by", sa.String(length=16), nullable=False),
        sa.Column("attached_by", sa.String(length=255), nullable=False),
        sa.Column("attached_at", UTC_DATETIME, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("playbook_runs", schema=None) as batch_op:
        batch_op.create_index("ix_playbook_runs_incident_active", ["incident_id", "active"], unique=False)

    op.create_table(
        "playbook_step_states",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("playbook_id", sa.String(length=128), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("phase_index", sa.Integer(), nullable=False),
        sa.Column("phase_kind", sa.String(length=32), nullable=False),
        sa.Column("phase_title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("commands", JSON, nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("at", UTC_DATETIME, nullable=True),
        sa.Column("deadline_seconds", sa.Integer(), nullable=True),
        sa.Column("on_deadline", sa.String(length=16), nullable=True),
        sa.Column("escalate_to", sa.String(length=64), nullable=True),
        sa.Column("deadline_at", UTC_DATETIME, nullable=True),
        sa.Column("deadline_fired_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["playbook_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "step", name="uq_playbook_step_run_step"),
    )
    with op.batch_alter_table("playbook_step_states", schema=None) as batch_op:
        batch_op.create_index("ix_playbook_steps_due", ["status", "deadline_fired_at", "deadline_at"], unique=False)
        batch_op.create_index("ix_playbook_steps_incident", ["incident_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("playbook_step_states", schema=None) as batch_op:
        batch_op.drop_index("ix_playbook_steps_incident")
        batch_op.drop_index("ix_playbook_steps_due")
    op.drop_table("playbook_step_states")
    with op.batch_alter_table("playbook_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_playbook_runs_incident_active")
    op.drop_table("playbook_runs")
