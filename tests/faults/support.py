"""Helpers shared by the fault tests: table counts, and what Slack received (waits: tests/support/waiting.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Engine, func, inspect, select, table, text

from bot.store.models import InboxRow, OutboxRow
from tests.fakes.fixtures import SLACK_SIGNING_SECRET
from tests.fakes.slack_api import FakeSlack


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows in every table the database has (not only the ones the models know)."""
    names = sorted(inspect(engine).get_table_names())
    with engine.connect() as connection:
        return {name: int(connection.execute(select(func.count()).select_from(table(name))).scalar_one()) for name in names}


def outbox_by_status(engine: Engine) -> Counter[str]:
    with engine.connect() as connection:
        rows = connection.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status))
        return Counter({status: int(count) for status, count in rows})


def inbox_empty(engine: Engine) -> bool:
    """Every accepted webhook applied to its incident."""
    with engine.connect() as connection:
        return not connection.execute(select(func.count()).select_from(InboxRow)).scalar_one()


def outbox_settled(engine: Engine) -> bool:
    """Nothing pending or in flight any more."""
    by_status = outbox_by_status(engine)
    return sum(by_status.values()) > 0 and by_status["pending"] == 0 and by_status["in_flight"] == 0


def slack_env(fake: FakeSlack) -> dict[str, str]:
    """The settings that point a Firebreak process at the fake Slack."""
    return {"SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET, "SLACK_API_URL": fake.api_url}


def metadata_key(message: dict[str, Any]) -> tuple[str, str] | None:
    """(event_type, key) of a message Firebreak posted, from its Slack message metadata."""
    metadata = message.get("metadata") or {}
    if not metadata.get("event_type"):
        return None
    return str(metadata["event_type"]), str((metadata.get("event_payload") or {}).get("key"))


def duplicated_posts(fake: FakeSlack) -> dict[str, list[tuple[str, str]]]:
    """Per channel, every metadata key that appears on more than one message."""
    found: dict[str, list[tuple[str, str]]] = {}
    for channel in fake.channels:
        keys = Counter(key for key in map(metadata_key, fake.messages(channel.id)) if key is not None)
        doubled = [key for key, count in keys.items() if count > 1]
        if doubled:
            found[channel.name] = doubled
    return found


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def undelivered(engine: Engine) -> list[tuple[Any, ...]]:
    """What is still owed, for failure messages."""
    columns = (OutboxRow.id, OutboxRow.operation, OutboxRow.status, OutboxRow.attempts, OutboxRow.next_attempt_at, OutboxRow.last_error)
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(*columns).where(OutboxRow.status != "delivered").order_by(OutboxRow.id))]
