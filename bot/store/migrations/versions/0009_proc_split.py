"""PostgreSQL notifies workers of queued webhooks and messages (LISTEN/NOTIFY)

Revision ID: 0009_proc_split
Revises: 0008_groups

A statement-level trigger on ``inbox`` and on ``outbox`` sends ``NOTIFY firebreak_inbox`` /
``NOTIFY firebreak_outbox`` when rows are inserted. PostgreSQL delivers a notification
only when the inserting transaction commits, and folds identical ones of one transaction
into one, so a batch of webhooks wakes the worker once. Every insert is covered, whichever
process or code path makes it. SQLite has no notifications: nothing to do there.
"""

from __future__ import annotations

from alembic import op

revision = "0009_proc_split"
down_revision = "0008_groups"
branch_labels = None
depends_on = None

TABLES = ("inbox", "outbox")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION firebreak_notify_{table}() RETURNS trigger AS $$
            BEGIN
                PERFORM pg_notify('firebreak_{table}', '');
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            f"""
            CREATE TRIGGER firebreak_notify_{table} AFTER INSERT ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION firebreak_notify_{table}()
            """
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS firebreak_notify_{table} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS firebreak_notify_{table}()")
