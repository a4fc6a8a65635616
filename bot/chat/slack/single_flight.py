"""One Slack look-up for many who ask at once.

When a cached answer expires during a burst (an alert storm's escalations, a channel full
of people clicking), every caller would otherwise make the same call: a low-tier method
such as ``usergroups.list`` (about 20 a minute) is then rate limited exactly when it is
needed. Callers asking for the same key while a call is running await that call instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Shares a running call per key among concurrent callers (within one event loop)."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Task[T]] = {}

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        task = self._running.get(key)
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(call())
            self._running[key] = task
            task.add_done_callback(lambda finished: self._forget(key, finished))
        # A caller that is cancelled stops waiting; the call goes on for the others.
        return await asyncio.shield(task)

    def _forget(self, key: Hashable, finished: asyncio.Task[T]) -> None:
        if self._running.get(key) is finished:
            del self._running[key]
        if not finished.cancelled():
            finished.exception()  # retrieved here, so a call nobody awaits any more is not reported as lost
