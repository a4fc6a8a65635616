"""The two clocks: jumps for unattended runs, ``gap / speed`` real waits for watched ones."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.drill.clock import Pace, SimulatedClock
from bot.drill.runner import run_scenario
from bot.drill.score import score
from tests.drill.conftest import START, drill_settings, example


def test_the_simulated_clock_only_moves_forward() -> None:
    clock = SimulatedClock(START)
    clock.jump_to(START + timedelta(minutes=3))
    clock.jump_to(START + timedelta(minutes=1))
    assert clock.now() == START + timedelta(minutes=3)
    assert clock.offset == timedelta(minutes=3)


def test_a_watched_run_waits_the_scenario_divided_by_the_speed(drill_db: str | None) -> None:
    """A 25-minute scenario at --speed 60 waits 25 s in all (the sleeps are recorded, not slept)."""
    waits: list[float] = []
    drill = asyncio.run(
        run_scenario(example(), drill_settings(), database_url=drill_db, pace=Pace(60, sleep=waits.append), start=START, scorer=score)
    )
    assert drill.score is not None and drill.score.passed
    assert sum(waits) == pytest.approx(25 * 60 / 60)
    assert all(wait > 0 for wait in waits)


def test_an_unattended_run_never_waits() -> None:
    waits: list[float] = []
    Pace(None, sleep=waits.append).wait(timedelta(hours=2))
    assert waits == []
    with pytest.raises(ValueError):
        Pace(0)
