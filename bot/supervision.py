"""Background loops under supervision: a loop that raises stops the process, non-zero.

Every loop (ingester, delivery worker, scheduler, guided ticker, Socket Mode) already
survives what it expects (a database blip, a failed delivery) by itself. An exception
that still escapes one is a bug or a broken environment; carrying on without that loop
would leave a process that answers health checks while, say, nothing is delivered. So the
error is logged with the loop's name and the process exits with status 1, and the
platform (systemd ``Restart=``, a PaaS) starts a fresh one.

``firebreak serve`` and ``firebreak web`` run their loops in the HTTP app's lifespan
(:class:`Supervisor`, which asks the server to stop); ``firebreak worker`` runs them in an
``asyncio.TaskGroup`` (bot/worker.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Loop = Callable[[asyncio.Event], Awaitable[None]]


def loop_name(loop: Loop) -> str:
    """``module.Class.method`` for a bound method, ``module.qualname`` otherwise."""
    owner = getattr(loop, "__self__", None)
    if owner is not None:
        kind = type(owner)
        return f"{kind.__module__}.{kind.__qualname__}.{getattr(loop, '__name__', 'run')}"
    name = getattr(loop, "__qualname__", None) or type(loop).__qualname__
    module = getattr(loop, "__module__", "") or ""
    return f"{module}.{name}" if module else name


def log_crash(name: str, error: BaseException) -> None:
    log.critical(
        "background loop crashed; stopping the process so it is restarted",
        extra={"loop": name, "error": f"{type(error).__name__}: {error}"[:1000]},
        exc_info=error,
    )


class Supervisor:
    """Runs loops as tasks; the first that raises is logged, ``stop`` is set for the
    others, and ``on_failure`` is called (the server sets it to stop serving)."""

    def __init__(self, on_failure: Callable[[], None] | None = None) -> None:
        self.on_failure = on_failure
        self.failure: BaseException | None = None
        self.failed_loop: str | None = None

    async def supervise(self, loop: Loop, stop: asyncio.Event) -> None:
        name = loop_name(loop)
        try:
            await loop(stop)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log_crash(name, error)
            if self.failure is None:
                self.failure, self.failed_loop = error, name
            stop.set()
            if self.on_failure is not None:
                self.on_failure()
