"""A delivery worker as its own process, so tests can ``kill -9`` it mid-delivery.

Usage: python -m tests.support.delivery_worker DATABASE_URL DELAY_SECONDS LEASE_SECONDS
Delivers chat messages with the console backend, each delivery slowed by DELAY_SECONDS.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from bot.chat.console.transcript import ConsoleDeliverer
from bot.delivery.message import DeliveryResult, OutboxMessage
from bot.delivery.worker import DeliveryWorker
from bot.store.db import make_engine, make_session_factory


class SlowDeliverer:
    def __init__(self, inner: ConsoleDeliverer, delay: float) -> None:
        self.inner = inner
        self.delay = delay

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        await asyncio.sleep(self.delay)  # a slow delivery is what this stand-in is for (a window to kill -9 in)
        return await self.inner.deliver(message)


async def main(url: str, delay: float, lease: float) -> None:
    sessions = make_session_factory(make_engine(url))
    deliverer = SlowDeliverer(ConsoleDeliverer(sessions, stream=None), delay)
    worker = DeliveryWorker(sessions, {"chat": deliverer}, lease=timedelta(seconds=lease), batch_size=4, poll_seconds=0.1)
    stop = asyncio.Event()
    print("worker started", flush=True)
    await worker.run(stop)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3])))
