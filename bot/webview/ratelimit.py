"""A small in-process limit on sign-in attempts per client address.

The sign-in token is the only secret a stranger can try against the web view, so each
address gets ``limit`` attempts per ``window`` seconds; more answer 429 with Retry-After.
The count lives in this process only: with several web replicas an address gets the limit
at each, which still turns guessing a 24-byte token from hopeless into more hopeless.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

#: Attempts per address per window.
LIMIT = 10
WINDOW_SECONDS = 60.0
#: Addresses remembered at most; the longest-quiet are forgotten first (a flood of addresses
#: must not grow the memory without bound).
MAX_ADDRESSES = 10_000


class AttemptLimiter:
    def __init__(
        self,
        *,
        limit: int = LIMIT,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_addresses = max_addresses
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def attempt(self, address: str) -> int | None:
        """Count one attempt from ``address``: None when allowed, else seconds until the next one is."""
        now = self.clock()
        times = self._seen.pop(address, None) or deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        self._seen[address] = times  # most recently seen last
        if len(times) >= self.limit:
            return max(1, math.ceil(times[0] + self.window - now))
        times.append(now)
        while len(self._seen) > self.max_addresses:
            self._seen.popitem(last=False)
        return None
