"""transcript: index the channel

Revision ID: 0018_transcript_channel
Revises: 0017_step_done_when

Local mode asks whether a channel has a line yet when it opens an incident's channel (one
raised back to P0-P2 keeps the channel it had) and for each post of a P3. Without an index
each question read the whole transcript, which grows with every line said.
"""

from __future__ import annotations

from alembic import op

revision = "0018_transcript_channel"
down_revision = "0017_step_done_when"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_transcript_channel", "transcript", ["channel"])


def downgrade() -> None:
    op.drop_index("ix_transcript_channel", table_name="transcript")
