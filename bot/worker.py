"""``firebreak worker``: the worker role's loops under an ``asyncio.TaskGroup``.

No HTTP but the optional health listener (``FIREBREAK_HEALTH_PORT``: /healthz, /readyz,
/metrics). SIGTERM or SIGINT stops the loops (in-flight deliveries finish, up to
``STOP_GRACE_SECONDS``); a loop that raises is logged and cancels the rest, and
:func:`run_worker` returns 1 so the platform restarts the process (bot/supervision.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import uvicorn

from bot.container import BackgroundTask
from bot.supervision import log_crash, loop_name

log = logging.getLogger(__name__)

#: After SIGTERM, how long the loops get to finish what they hold before being cancelled.
STOP_GRACE_SECONDS = 10.0


class LoopCrashed(Exception):
    def __init__(self, name: str, error: Exception) -> None:
        super().__init__(f"{name}: {type(error).__name__}: {error}")
        self.name = name
        self.error = error


async def _supervised(loop: BackgroundTask, stop: asyncio.Event) -> None:
    name = loop_name(loop)
    try:
        await loop(stop)
    except Exception as error:
        log_crash(name, error)
        raise LoopCrashed(name, error) from error


async def _grace(stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    """Once stopping, cancel the loops still running after the grace period."""
    await stop.wait()
    _done, pending = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
    for task in pending:
        task.cancel()


async def _health(server: uvicorn.Server, stop: asyncio.Event) -> None:
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await serving


async def run_worker(loops: list[BackgroundTask], *, health: uvicorn.Server | None = None, stop: asyncio.Event | None = None) -> int:
    """Run ``loops`` (and the health server) until SIGTERM/SIGINT (0) or a loop crashes (1)."""
    stop = stop or asyncio.Event()
    running = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            running.add_signal_handler(signum, stop.set)
    crashed: LoopCrashed | None = None
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_supervised(loop, stop)) for loop in loops]
            group.create_task(_grace(stop, tasks))
            if health is not None:
                group.create_task(_health(health, stop))
            log.info("firebreak worker started", extra={"loops": [loop_name(loop) for loop in loops]})
    except* LoopCrashed as group_error:
        first = group_error.exceptions[0]
        assert isinstance(first, LoopCrashed)
        crashed = first
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                running.remove_signal_handler(signum)
    if crashed is not None:
        log.error("firebreak worker stopped: a loop crashed", extra={"loop": crashed.name, "error": str(crashed)})
        return 1
    log.info("firebreak worker stopped")
    return 0
