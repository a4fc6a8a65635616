from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.domain.timeline import EntryKind, TimelineEntry
from bot.store.models import EscalationRow, OutboxRow
from tests.conftest import make_settings

POLICY = "unacknowledged:5m:@primary,unacknowledged:15m:@secondary+pd:PPOL1,unresolved:1h:pd_user:PU1"


@pytest.fixture
def esc(db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO) -> Iterator[Container]:
    settings = make_settings(db_url, FIREBREAK_DEFAULT_ESCALATION=POLICY, FIREBREAK_REMINDER_AFTER_SECONDS="600")
    yield build_container(settings, clock=clock, transcript_stream=transcript, engine=engine)


def deadlines(container: Container, number: int) -> list[tuple[int, int, str]]:
    """(cycle, level, status) of an incident's deadline rows."""
    with container.sessions() as session:
        rows = session.scalars(
            select(EscalationRow).where(EscalationRow.incident_id == number).order_by(EscalationRow.cycle, EscalationRow.level)
        )
        return [(row.cycle, row.level, row.status) for row in rows]


def escalations(container: Container, number: int) -> list[TimelineEntry]:
    return [entry for entry in container.service.timeline(number) if entry.kind is EntryKind.ESCALATED]


def outbox(container: Container, target: str, operation: str | None = None) -> list[OutboxRow]:
    with container.sessions() as session:
        statement = select(OutboxRow).where(OutboxRow.target == target).order_by(OutboxRow.id)
        return [row for row in session.scalars(statement) if operation is None or row.operation == operation]
