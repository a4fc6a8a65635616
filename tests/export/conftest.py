"""Fixtures for the export tests: a container in Europe/Berlin with an API token."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from tests.conftest import make_settings

API_TOKEN = "export-test-token-0123456789"


@pytest.fixture
def berlin(db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO) -> Iterator[Container]:
    settings = make_settings(db_url, FIREBREAK_TIMEZONE="Europe/Berlin", FIREBREAK_API_TOKEN=API_TOKEN)
    yield build_container(settings, clock=clock, transcript_stream=transcript, engine=engine)
