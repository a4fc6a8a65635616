"""A burst of messages goes out in a few claims; a lone message goes out at once."""

from __future__ import annotations

import asyncio
import time

from bot.delivery.message import DeliveryResult, OutboxMessage
from bot.delivery.outbox import enqueue
from bot.delivery.worker import DeliveryWorker
from bot.domain.clock import SystemClock
from bot.store.db import SessionFactory


class Peer:
    def __init__(self) -> None:
        self.delivered: list[tuple[str, float]] = []

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        self.delivered.append((message.idempotency_key, time.monotonic()))
        return DeliveryResult()


def _put(sessions: SessionFactory, key: str) -> None:
    with sessions.begin() as session:
        enqueue(session, target="peer", operation="say", payload={}, idempotency_key=key, now=SystemClock().now())


async def _until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not delivered in time"
        await asyncio.sleep(0.01)


def test_a_burst_is_gathered_into_few_claims_and_a_lone_message_is_not_held(sessions: SessionFactory) -> None:
    peer = Peer()
    worker = DeliveryWorker(sessions, {"peer": peer}, poll_seconds=30, gather_seconds=1.0, batch_size=32)
    claims: list[int] = []
    claim = worker._claim

    def counted() -> list[OutboxMessage]:
        taken = claim()
        if taken:
            claims.append(len(taken))
        return taken

    worker._claim = counted  # type: ignore[method-assign]

    async def scenario() -> None:
        stop = asyncio.Event()
        loop = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(0.2)  # the loop is waiting (poll 30 s): only a notification wakes it
        sent = time.monotonic()
        await asyncio.to_thread(_put, sessions, "lone")
        worker.notify()
        await _until(lambda: len(peer.delivered) == 1)
        # Claimed on the notification, not after the gathering pause (1 s) or the poll (30 s).
        assert peer.delivered[0][1] - sent < 0.9
        for index in range(10):  # a burst: each message in its own transaction, each notified
            await asyncio.to_thread(_put, sessions, f"burst-{index}")
            worker.notify()
            await asyncio.sleep(0.02)
        await _until(lambda: len(peer.delivered) == 11)
        stop.set()
        await asyncio.wait_for(loop, timeout=10)

    asyncio.run(scenario())
    assert sorted(key for key, _at in peer.delivered) == sorted(["lone", *(f"burst-{i}" for i in range(10))])
    # The lone message, then the burst in at most three claims (one per notification without
    # the pause: eleven).
    assert claims[0] == 1 and len(claims) <= 4, claims
