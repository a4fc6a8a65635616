"""When to try a failed delivery again."""

from __future__ import annotations

import random


def backoff_seconds(attempt: int, *, base: float = 1.0, cap: float = 300.0, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, never sooner than the peer's Retry-After.

    Jitter keeps many replicas from hammering a recovering API in lockstep; the cap keeps
    a long outage from pushing the next try hours away once the peer is back.
    """
    exponential = min(cap, base * (2 ** max(0, attempt - 1)))
    delay = random.uniform(exponential / 2, exponential)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
