"""Client-side pacing per Slack rate-limit tier, so bursts queue here instead of earning 429s.

Slack limits each Web API method per workspace by tier (chat.postMessage per channel). A
token bucket per method (or per method and channel) lets short bursts through and then
spaces calls out. A caller never waits long: past ``max_wait`` the pacer raises
``DeliveryError(retry_after=…)`` and the outbox reschedules the message, which keeps worker
slots free and survives restarts. A 429 from Slack empties the bucket until Retry-After.

Deferred calls are spread, not herded: each is told the time its turn will come (one
token interval after the last turn promised to calls of the same or a worse severity),
so a thousand deferred channel creations come back one by one instead of all at once.
A worse severity is promised turns before a milder one's, and pushes the milder ones'
later turns back, so a P0 queued behind many P2s is still next. Once a deferred call's turn
has come, its token is kept for it: a milder delivery running in the same batch that reaches
the bucket first is deferred instead. The severity rank comes from the outbox message
(``delivering``, set by the deliverer around each delivery).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from bot.delivery.message import DeliveryError


@dataclass(frozen=True)
class Tier:
    per_minute: float
    burst: int


TIER_2 = Tier(per_minute=20, burst=5)
TIER_3 = Tier(per_minute=50, burst=10)
TIER_4 = Tier(per_minute=100, burst=20)
POST_PER_CHANNEL = Tier(per_minute=60, burst=3)
"""chat.postMessage: about one message per second per channel, with a short burst."""

METHOD_TIERS: dict[str, Tier] = {
    "conversations.create": TIER_2,
    "conversations.setTopic": TIER_2,
    "conversations.archive": TIER_2,
    "conversations.list": TIER_2,
    "usergroups.list": TIER_2,
    "pins.add": TIER_2,
    "bookmarks.add": TIER_2,
    "conversations.invite": TIER_3,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "conversations.join": TIER_3,
    "chat.update": TIER_3,
    "users.lookupByEmail": TIER_3,
    "chat.postEphemeral": TIER_4,
    "users.info": TIER_4,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
    "chat.postMessage": POST_PER_CHANNEL,
}

PER_CHANNEL = frozenset({"chat.postMessage"})

_EPSILON = 1e-6
"""Promised turns this close to now (in token intervals) are now: clocks are floats."""

HOLD_SECONDS = 2.0
"""How long past its turn a deferred call's token is kept from milder ones (it may have
been delivered elsewhere, or no longer need this call)."""

DEFAULT_PRIORITY = 3
_PRIORITY: ContextVar[int] = ContextVar("firebreak_slack_delivery_priority", default=DEFAULT_PRIORITY)


@contextmanager
def delivering(priority: int) -> Iterator[None]:
    """Around one delivery: the outbox priority (severity rank) its calls queue with."""
    token = _PRIORITY.set(priority)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


class _Bucket:
    def __init__(self, tier: Tier, scale: float, now: float) -> None:
        self.rate = tier.per_minute * scale / 60.0
        self.capacity = float(max(1, tier.burst))
        self.tokens = self.capacity
        self.updated = now
        self.blocked_until = 0.0
        #: priority → the latest turn promised to a deferred call of that priority.
        self.promised: dict[int, float] = {}
        #: (turn, priority) of each deferred call: once its turn has come, a token is kept
        #: for it from calls of a milder priority (for ``HOLD_SECONDS`` at most).
        self.held: list[tuple[float, int]] = []

    def reserve(self, now: float, max_wait: float, priority: int = DEFAULT_PRIORITY) -> float:
        """Take a token, possibly on credit; returns the wait, or raises when it is too long.

        The error's ``retry_after`` is this call's turn (see :meth:`_turn`).
        """
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        wait = max(0.0, self.blocked_until - now)
        owed = self._owed(now, priority)
        if self.tokens - owed < 1.0:
            wait = max(wait, (1.0 + owed - self.tokens) / self.rate)
        if wait > max_wait:
            turn = self._turn(now, now + wait, priority)
            self.held.append((turn, priority))
            # A microsecond over: clocks are floats, and a hair early is deferred again.
            retry_after = turn - now + 1e-6
            raise DeliveryError(f"paced: next call in {retry_after:.1f}s", retry_after=retry_after, not_sent=True)
        self.tokens -= 1.0
        return wait

    def _owed(self, now: float, priority: int) -> int:
        """Tokens kept for deferred calls, as urgent or more, whose turn has come.

        Several deliveries run at once, so a P2 may reach the bucket a moment before the P0
        whose turn it is: the P0's token waits for it. A caller whose own turn has come
        takes its reservation back (the oldest of its priority).
        """
        slack = _EPSILON / self.rate
        self.held = [(turn, rank) for turn, rank in self.held if turn + HOLD_SECONDS > now]
        mine = next((index for index, (turn, rank) in enumerate(self.held) if rank == priority and turn <= now + slack), None)
        if mine is not None:
            del self.held[mine]
        return sum(1 for turn, rank in self.held if rank <= priority and turn <= now + slack)

    def _turn(self, now: float, earliest: float, priority: int) -> float:
        """When a deferred call of ``priority`` should come back: after the turns already
        promised to calls as bad or worse, and ahead of milder ones (whose turns move back)."""
        interval = 1.0 / self.rate
        self.promised = {rank: at for rank, at in self.promised.items() if at > now + interval * _EPSILON}
        ahead = [at for rank, at in self.promised.items() if rank <= priority]
        turn = max([earliest, *(at + interval for at in ahead)])
        self.promised[priority] = turn
        for rank, at in self.promised.items():
            if rank > priority and at >= turn - interval / 2:
                self.promised[rank] = at + interval
        return turn


class Pacer:
    """``scale`` speeds every tier up (tests use 60: "20 per minute" becomes "20 per second")."""

    def __init__(
        self,
        *,
        scale: float = 1.0,
        max_wait: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        tiers: dict[str, Tier] | None = None,
    ) -> None:
        self.scale = scale
        self.max_wait = max_wait
        self._monotonic = monotonic
        self._sleep = sleep
        self._tiers = dict(METHOD_TIERS if tiers is None else tiers)
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _bucket(self, method: str, channel: str | None) -> _Bucket | None:
        tier = self._tiers.get(method)
        if tier is None:
            return None
        key = (method, (channel or "") if method in PER_CHANNEL else "")
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tier, self.scale, self._monotonic())
        return bucket

    async def wait_turn(self, method: str, channel: str | None = None) -> None:
        bucket = self._bucket(method, channel)
        if bucket is None:
            return
        wait = bucket.reserve(self._monotonic(), self.max_wait, _PRIORITY.get())
        if wait > 0:
            await self._sleep(wait)

    def penalise(self, method: str, channel: str | None, seconds: float) -> None:
        """Slack said 429: nobody calls this method (channel) again before Retry-After."""
        bucket = self._bucket(method, channel)
        if bucket is not None:
            bucket.tokens = 0.0
            bucket.blocked_until = max(bucket.blocked_until, self._monotonic() + seconds)
