"""Loops that sleep until there is work: woken at once from any thread, or by a poll.

The delivery worker and the webhook ingester both run next to the HTTP app and are told
"something was just committed" from request threads and worker threads alike.
"""

from __future__ import annotations

import asyncio


class Wakeup:
    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        """Call from the loop's own task before its first pass."""
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def notify(self) -> None:
        """Wake the loop now instead of at the next poll; safe to call from any thread."""
        loop, event = self._loop, self._event
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    def clear(self) -> None:
        """Before a pass, so a notification that arrives during it wakes the next one."""
        if self._event is not None:
            self._event.clear()

    async def sleep(self, stop: asyncio.Event, timeout: float, *, wakeable: bool = True) -> None:
        """Until ``stop``, a notification (if ``wakeable``) or ``timeout`` seconds."""
        waiters = [asyncio.ensure_future(stop.wait())]
        if wakeable and self._event is not None:
            waiters.append(asyncio.ensure_future(self._event.wait()))
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
