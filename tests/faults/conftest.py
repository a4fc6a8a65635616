"""Fixtures for the fault tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.private_postgres import private_postgres  # noqa: F401  (fixture)
from tests.support.processes import Server


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Append every ``Server`` a test starts; each is killed at teardown, pass or fail."""
    started: list[Server] = []
    yield started
    for server in started:
        server.kill()
