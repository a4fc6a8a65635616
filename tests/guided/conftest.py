"""Containers with playbooks: the starter set, or the small timed fixtures written for these tests."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.guided import GuidedSteps
from tests.conftest import REPO_PLAYBOOKS, make_settings

FIXTURES = Path(__file__).parent / "fixtures"


def build(db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO, playbooks: Path) -> Container:
    settings = make_settings(db_url, FIREBREAK_PLAYBOOKS_DIR=str(playbooks))
    return build_container(settings, clock=clock, transcript_stream=transcript, engine=engine)


@pytest.fixture
def starter(db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO) -> Iterator[Container]:
    """A container with the starter playbooks shipped in playbooks/."""
    yield build(db_url, engine, clock, transcript, REPO_PLAYBOOKS)


@pytest.fixture
def timed(db_url: str, engine: Engine, clock: FrozenClock, transcript: io.StringIO) -> Iterator[Container]:
    """A container with tests/guided/fixtures/playbooks (deadlines of 5m, 10m and 2m)."""
    yield build(db_url, engine, clock, transcript, FIXTURES / "playbooks")


def guided_of(container: Container) -> GuidedSteps:
    assert container.guided is not None
    return container.guided
