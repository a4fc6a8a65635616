"""The APScheduler side: a private in-memory scheduler per process, two interval jobs.

APScheduler 3 must never share a job store between schedulers, and a scheduler does not
see jobs another process adds, so the durable state is our ``escalations`` table and the
scheduler only holds two fixed jobs: ``leadership`` (take or keep the advisory lock) and
``tick`` (the leader fires what is due). Polling every second instead of a date job at the
next ``due_at``: deadlines are written by every replica (and the console), which this
scheduler would not hear about; a one-second poll sees them all with one indexed query on
one replica, and a second of lateness is nothing next to minutes of escalation delay.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.schedule.engine import EscalationEngine
from bot.schedule.leader import LeaderLock

log = logging.getLogger(__name__)


class EscalationRunner:
    def __init__(
        self,
        engine: EscalationEngine,
        lock: LeaderLock,
        *,
        tick_seconds: float = 1.0,
        leadership_seconds: float = 2.0,
    ) -> None:
        self.engine = engine
        self.lock = lock
        self.tick_seconds = tick_seconds
        self.leadership_seconds = leadership_seconds
        self.is_leader = False

    def _leadership(self) -> None:
        self.is_leader = self.lock.ensure()

    def _tick(self) -> None:
        if not self.is_leader:
            return
        try:
            self.engine.tick()
        except Exception:  # the job must keep running through a database blip
            log.exception("escalation tick failed")

    async def run(self, stop: asyncio.Event) -> None:
        """Background task for the web app: runs until ``stop`` is set."""
        scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        # Leadership first, straight away: a deadline that came due while the process was
        # down fires on the first tick after start.
        await asyncio.to_thread(self._leadership)
        start = datetime.now(UTC)
        scheduler.add_job(self._leadership, "interval", seconds=self.leadership_seconds, id="leadership", next_run_time=start)
        scheduler.add_job(self._tick, "interval", seconds=self.tick_seconds, id="tick", next_run_time=start)
        scheduler.start()
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            self.is_leader = False
            await asyncio.to_thread(self.lock.release)
