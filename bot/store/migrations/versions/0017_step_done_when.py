"""playbook_step_states: done_when, the incident states that settle a step by themselves

Revision ID: 0017_step_done_when
Revises: 0016_alerts_redundant_indexes

A step such as "acknowledge the incident and name a commander" is the incident's own state:
it is marked done once the incident shows it, instead of reminding people of what they did.
Copied from the playbook at attach time like the rest of the step; steps attached before
this revision have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017_step_done_when"
down_revision = "0016_alerts_redundant_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("playbook_step_states") as batch:
        batch.add_column(sa.Column("done_when", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("playbook_step_states") as batch:
        batch.drop_column("done_when")
