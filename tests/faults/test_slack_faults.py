"""Slack answering 429 with Retry-After and bursts of 5xx for a while, in real time.

What it proves: the outbox worker (running its real loop, real clock) rides out a Slack
outage, injected 429s and 5xx bursts both before the channels exist and in the middle of
the conversation, and afterwards every message is in Slack exactly once and, per channel,
in the order of the timeline. "Once" is checked on what the fake received (each post's
metadata key), not on what Firebreak believes it sent.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.container import Container, build_container
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.store.models import IncidentRow, OutboxRow
from tests.conftest import make_settings
from tests.fakes.slack_api import FakeSlack
from tests.faults.support import (
    duplicated_posts,
    metadata_key,
    outbox_by_status,
    outbox_settled,
    slack_env,
    undelivered,
)
from tests.support.waiting import wait_until

INCIDENTS = 3
NOTES = 8


@contextmanager
def worker_running(container: Container) -> Iterator[None]:
    """The delivery loop exactly as ``firebreak serve`` runs it, in a thread of its own."""
    ready = threading.Event()
    box: dict[str, object] = {}

    async def main() -> None:
        stop = asyncio.Event()
        box["loop"], box["stop"] = asyncio.get_running_loop(), stop
        ready.set()
        await container.worker.run(stop)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        yield
    finally:
        loop, stop = box["loop"], box["stop"]
        loop.call_soon_threadsafe(stop.set)  # type: ignore[attr-defined]
        thread.join(timeout=15)
        assert not thread.is_alive()


def posts_in_outbox(engine: Engine, number: int) -> list[str]:
    """Idempotency keys of the posts queued for one incident (the Slack message metadata), in order."""
    with Session(engine) as session:
        rows = session.scalars(select(OutboxRow).where(OutboxRow.incident_id == number, OutboxRow.operation == "post").order_by(OutboxRow.id))
        return [row.idempotency_key for row in rows]


def posts_in_slack(fake: FakeSlack, channel_id: str) -> list[str]:
    return [key[1] for key in map(metadata_key, fake.messages(channel_id)) if key is not None and key[0] == "firebreak_post"]


def test_rate_limits_and_5xx_bursts_deliver_everything_once_in_order(db_url: str, engine: Engine, fake_slack: FakeSlack) -> None:
    settings = make_settings(db_url, FIREBREAK_OUTBOX_POLL_SECONDS=0.1, FIREBREAK_OUTBOX_LEASE_SECONDS=30, **slack_env(fake_slack))
    container = build_container(settings, transcript_stream=None, engine=engine)
    container.slack.pacer.scale = 60.0  # Firebreak's own pacing, sped up like the fake's
    service = container.service

    # Slack is down when the incidents arrive, then throttles channel creation.
    fake_slack.outage(1.2, status=503)
    fake_slack.rate_limit_next("conversations.create", retry_after=1, count=1)

    with worker_running(container):
        numbers = [
            service.declare(title=f"Checkout errors {i}", severity=Severity.P1, actor="alice", source=Source.CONSOLE).number
            for i in range(INCIDENTS)
        ]
        for round_ in range(NOTES):
            if round_ == NOTES // 2:
                # Mid-conversation, once some notes are out: posts fail for a second, then
                # a few 429s and 5xx. (Faults are consumed by whichever channel calls next.)
                wait_until(lambda: sum(len(posts_in_slack(fake_slack, c.id)) for c in fake_slack.channels) >= INCIDENTS, timeout=15)
                fake_slack.outage(1.0, status=500, methods=["chat.postMessage"])
                fake_slack.rate_limit_next("chat.postMessage", retry_after=1, count=2)
                fake_slack.fail_next("chat.postMessage", status=502, count=2)
            for number in numbers:
                service.add_note(number, f"note {round_} on {number}", actor="bob", source=Source.CONSOLE)
        wait_until(lambda: outbox_settled(engine), timeout=25, interval=0.1, what="every message delivered", explain=lambda: undelivered(engine))

    by_status = outbox_by_status(engine)
    assert by_status["failed"] == 0, by_status
    assert fake_slack.served_429 >= 3 and fake_slack.served_5xx >= 4  # the faults really happened
    channels = {channel.name: channel.id for channel in fake_slack.channels if channel.name.startswith("inc-")}
    assert len(channels) == INCIDENTS
    with Session(engine) as session:
        channel_of = {row.id: str(row.chat_channel_id) for row in session.scalars(select(IncidentRow))}
    for number in numbers:
        expected = posts_in_outbox(engine, number)
        assert len(expected) >= NOTES
        assert expected == sorted(expected, key=lambda key: int(key.rsplit(':', 1)[1]))  # queued in timeline order
        assert posts_in_slack(fake_slack, channel_of[number]) == expected  # each once, in that order
    assert duplicated_posts(fake_slack) == {}
    print(f"\nSlack served {fake_slack.served_429} × 429 and {fake_slack.served_5xx} × 5xx; {sum(by_status.values())} messages delivered once")
