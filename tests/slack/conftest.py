"""Fixtures for the Slack adapter: a container wired to the fake Slack Web API, and drivers.

The worker is driven by hand (``drive``) with the frozen clock: when nothing is due, the
clock jumps to the next retry, so Retry-After and backoff are honoured without sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock, as_utc
from bot.store.models import OutboxRow
from bot.web import create_app
from tests.conftest import make_settings
from tests.fakes.fixtures import SLACK_SIGNING_SECRET
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import sign_slack_request
from tests.fakes.slack_socket_mode import FakeSocketMode


@pytest.fixture
def slack_factory(db_url: str, engine: Engine, clock: FrozenClock) -> Iterator[Callable[..., Container]]:
    built: list[Container] = []

    def make(fake: FakeSlack, **overrides: Any) -> Container:
        values: dict[str, Any] = {
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
            **overrides,
        }
        settings = make_settings(db_url, **values)
        container = build_container(settings, clock=clock, transcript_stream=None, engine=engine)
        container.slack.pacer.scale = 60.0  # "20 per minute" becomes "20 per second"
        container.slack.pacer.max_wait = 0.1  # the frozen clock never moves while sleeping
        built.append(container)
        return container

    yield make


@pytest.fixture
def slack(slack_factory: Callable[..., Container], fake_slack: FakeSlack) -> Container:
    return slack_factory(fake_slack)


def drive(container: Container, clock: FrozenClock, *, horizon: timedelta = timedelta(minutes=30), rounds: int = 500) -> int:
    """Deliver everything due within ``horizon``, jumping the clock to each retry."""
    return asyncio.run(adrive(container, clock, horizon=horizon, rounds=rounds))


async def adrive(container: Container, clock: FrozenClock, *, horizon: timedelta = timedelta(minutes=30), rounds: int = 500) -> int:
    limit = clock.now() + horizon
    handled = 0
    for _ in range(rounds):
        count = await container.worker.run_once()
        handled += count
        if count:
            continue
        with container.sessions() as session:
            # Rows already due but waiting behind their conversation's head don't move time.
            later = (OutboxRow.status == "pending") & (OutboxRow.next_attempt_at > clock.now())
            due = session.scalar(select(func.min(OutboxRow.next_attempt_at)).where(later))
        if due is None or as_utc(due) > limit:
            return handled
        clock.set(max(clock.now(), as_utc(due)))
    pending = [(row.operation, row.attempts, row.last_error) for row in outbox(container) if row.status != "delivered"]
    raise AssertionError(f"the outbox did not settle: {pending}")


def outbox(container: Container) -> list[OutboxRow]:
    with container.sessions() as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


class SlackHttp:
    """Signed requests to ``/slack/events`` on the ASGI app, in one event loop."""

    def __init__(self, container: Container) -> None:
        self.app = create_app(container, migrate=False, run_worker=False)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://firebreak.test")

    async def post(self, body: bytes, content_type: str, *, secret: str = SLACK_SIGNING_SECRET, timestamp: int | None = None) -> httpx.Response:
        headers = sign_slack_request(secret, body, timestamp, content_type=content_type)
        return await self.client.post("/slack/events", content=body, headers=headers)


@pytest.fixture
def fake_socket_mode(fake_slack: FakeSlack) -> Iterator[FakeSocketMode]:
    """The fake Socket Mode server, reachable through ``apps.connections.open`` on ``fake_slack``."""
    server = FakeSocketMode(grace_seconds=10.0).start()
    server.attach(fake_slack)
    yield server
    server.stop()
