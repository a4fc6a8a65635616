"""Drills on SQLite (their own throw-away file, the default) or, with ``--db=postgres``, opted
in to the suite's PostgreSQL database with ``database_url``."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.drill import DrillRun, Scenario, load_scenario, run_scenario
from bot.drill.scenario import scenario_from
from bot.drill.score import score
from bot.settings import Settings
from tests.conftest import REPO_PLAYBOOKS

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = FIXTURES / "checkout-latency.yaml"
START = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def drill_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"FIREBREAK_LOG_FORMAT": "console", "FIREBREAK_PLAYBOOKS_DIR": str(REPO_PLAYBOOKS)}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def drill_db(db_backend: str, request: pytest.FixtureRequest) -> str | None:
    """None on SQLite (the drill makes its own database); the suite's database on PostgreSQL."""
    return str(request.getfixturevalue("db_url")) if db_backend == "postgres" else None


def run(
    scenario: Scenario | dict[str, Any],
    database_url: str | None,
    *,
    settings: Settings | None = None,
    out: io.StringIO | None = None,
) -> DrillRun:
    if isinstance(scenario, dict):
        scenario = scenario_from(scenario)
    return asyncio.run(run_scenario(scenario, settings or drill_settings(), database_url=database_url, out=out, start=START, scorer=score))


def example() -> Scenario:
    return load_scenario(EXAMPLE)
