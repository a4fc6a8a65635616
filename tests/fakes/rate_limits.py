"""Token-bucket rate limiting with Slack's published tiers.

Firebreak paces its Slack calls per tier; a fake that never says 429 would hide pacing bugs,
and one that enforces real minute-long windows would make tests slow. So limits are real
token buckets whose speed is scaled (``scale=60`` turns "20 per minute" into "20 per second").
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """``per_minute`` sustained rate with a bucket of ``burst`` calls."""

    per_minute: float
    burst: int


TIER_1 = Limit(per_minute=1, burst=1)
TIER_2 = Limit(per_minute=20, burst=5)
TIER_3 = Limit(per_minute=50, burst=12)
TIER_4 = Limit(per_minute=100, burst=25)
POST_MESSAGE_PER_CHANNEL = Limit(per_minute=60, burst=3)
"""chat.postMessage: about one message per second per channel, short bursts allowed."""

PER_CHANNEL_METHODS = frozenset({"chat.postMessage"})
"""Methods whose bucket is per (method, channel) rather than per method."""


class Bucket:
    """A token bucket; :meth:`acquire` returns 0 when allowed, else seconds until a token."""

    def __init__(self, limit: Limit, scale: float, clock: Callable[[], float]) -> None:
        self._rate = limit.per_minute * scale / 60.0
        self._capacity = float(max(1, limit.burst))
        self._tokens = self._capacity
        self._clock = clock
        self._last = clock()

    def acquire(self) -> float:
        now = self._clock()
        self._tokens = min(
            self._capacity, self._tokens + (now - self._last) * self._rate
        )
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self._rate


class RateLimiter:
    """Per-key token buckets built from a method→:class:`Limit` table.

    ``scale`` multiplies every rate (1.0 = real Slack speed). ``limits`` maps a method to
    its limit; methods absent from it are not limited.
    """

    def __init__(
        self,
        limits: Mapping[str, Limit],
        *,
        scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if scale <= 0:
            raise ValueError("scale must be > 0")
        self._limits = dict(limits)
        self._scale = scale
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def check(self, method: str, channel: str | None = None) -> int | None:
        """None when the call may proceed, else the ``Retry-After`` to send (whole seconds, >= 1)."""
        limit = self._limits.get(method)
        if limit is None:
            return None
        key = (
            f"{method}:{channel}"
            if method in PER_CHANNEL_METHODS and channel
            else method
        )
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = Bucket(limit, self._scale, self._clock)
            wait = bucket.acquire()
        return None if wait <= 0 else max(1, math.ceil(wait))

    def reset(self) -> None:
        """Refill every bucket."""
        with self._lock:
            self._buckets.clear()


SLACK_METHOD_LIMITS: dict[str, Limit] = {
    "auth.test": TIER_4,
    "conversations.create": TIER_2,
    "conversations.info": TIER_3,
    "conversations.list": TIER_2,
    "conversations.setTopic": TIER_2,
    "conversations.invite": TIER_3,
    "conversations.archive": TIER_2,
    "conversations.join": TIER_3,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "chat.getPermalink": TIER_4,
    "chat.postMessage": POST_MESSAGE_PER_CHANNEL,
    "chat.update": TIER_3,
    "chat.postEphemeral": TIER_4,
    "pins.add": TIER_2,
    "bookmarks.add": TIER_2,
    "users.lookupByEmail": TIER_3,
    "users.info": TIER_4,
    "usergroups.users.list": TIER_2,
    "usergroups.list": TIER_2,
    "reactions.add": TIER_3,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
    "views.open": TIER_4,
    "views.publish": TIER_4,
}
"""Slack's documented tier per method (https://api.slack.com/docs/rate-limits)."""
