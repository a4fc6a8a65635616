from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from tests.conftest import make_settings
from tests.ingest.support import TOKEN

PD_SECRET = "pd-webhook-secret-for-tests"


@pytest.fixture
def am_container(db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO) -> Iterator[Container]:
    """A container with ALERTMANAGER_TOKEN and a PagerDuty webhook secret set."""
    settings = make_settings(db_url, ALERTMANAGER_TOKEN=TOKEN, PAGERDUTY_WEBHOOK_SECRET=f"{PD_SECRET},older-secret")
    yield build_container(settings, clock=clock, transcript_stream=transcript, engine=engine)


@pytest.fixture
def paging_container(db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO) -> Iterator[Container]:
    """``am_container`` that also pages P0/P1 incidents through the Events API (``INC-<n>``);
    nothing is delivered unless a test runs the worker."""
    settings = make_settings(
        db_url, ALERTMANAGER_TOKEN=TOKEN, PAGERDUTY_WEBHOOK_SECRET=f"{PD_SECRET},older-secret", PAGERDUTY_ROUTING_KEY="R" * 32
    )
    yield build_container(settings, clock=clock, transcript_stream=transcript, engine=engine)
