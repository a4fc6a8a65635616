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
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.schedule.engine import EscalationEngine
from bot.schedule.leader import LeaderLock
from bot.store.trouble import log_retrying

log = logging.getLogger(__name__)

#: How long stopping waits for a job's work under way (a tick is one indexed query and what it fires).
STOP_WAIT_SECONDS = 10.0


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
        self._in_flight: set[asyncio.Future[None]] = set()

    async def _job(self, work: Callable[[], None]) -> None:
        """Run a job's blocking work on a thread. Stopping cancels the job's task, not the
        thread: the work finishes (``run`` waits for it before giving up leadership) and the
        job ends quietly instead of APScheduler logging a cancellation as a failed job."""
        future = asyncio.ensure_future(asyncio.to_thread(work))
        self._in_flight.add(future)
        future.add_done_callback(self._in_flight.discard)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(future)

    async def _leadership_job(self) -> None:
        await self._job(self._leadership)

    async def _tick_job(self) -> None:
        await self._job(self._tick)

    def _leadership(self) -> None:
        self.is_leader = self.lock.ensure()

    def _tick(self) -> None:
        if not self.is_leader:
            return
        try:
            self.engine.tick()
        except Exception as error:  # the job must keep running through a database blip
            log_retrying(log, "escalation tick failed", error)

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
        scheduler.add_job(self._leadership_job, "interval", seconds=self.leadership_seconds, id="leadership", next_run_time=start)
        scheduler.add_job(self._tick_job, "interval", seconds=self.tick_seconds, id="tick", next_run_time=start)
        scheduler.start()
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            if self._in_flight:  # a tick firing deadlines finishes while this replica still leads
                await asyncio.wait(set(self._in_flight), timeout=STOP_WAIT_SECONDS)
            self.is_leader = False
            await asyncio.to_thread(self.lock.release)
