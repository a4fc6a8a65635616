"""The drill's two clocks.

Unattended runs and ``--check`` use a simulated clock that jumps straight to the next moment
something happens (a scripted event, a deadline, a reminder), so a two-hour incident runs in
seconds and its result does not depend on machine speed. A watched run (``--speed N``) walks
the same moments but waits ``gap / N`` real seconds before each, so a person can follow it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimulatedClock:
    """Now is whatever the runner last moved it to; it never goes backwards."""

    def __init__(self, start: datetime) -> None:
        self.start = start if start.tzinfo else start.replace(tzinfo=UTC)
        self._now = self.start

    def now(self) -> datetime:
        return self._now

    def jump_to(self, moment: datetime) -> None:
        if moment > self._now:
            self._now = moment

    @property
    def offset(self) -> timedelta:
        """How far into the drill the clock is."""
        return self._now - self.start


class Pace:
    """How long a jump of simulated time takes in real time: nothing, or ``gap / speed``."""

    def __init__(self, speed: float | None = None, *, sleep: Callable[[float], None] = time.sleep) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("--speed must be above 0")
        self.speed = speed
        self._sleep = sleep

    def wait(self, gap: timedelta) -> None:
        if self.speed is not None and gap.total_seconds() > 0:
            self._sleep(gap.total_seconds() / self.speed)
