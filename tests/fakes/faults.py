"""Fault injection shared by the fakes: failures, rate limits and outages on demand.

The delivery path must survive 429 + Retry-After and bursts of 5xx; these switches let a
test produce exactly the failure it wants, deterministically, instead of hoping for one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

ANY_METHOD = "*"


@dataclass
class Fault:
    """One planned failure. ``retry_after`` is set for 429s; ``error`` for API-level errors."""

    status: int
    remaining: int
    retry_after: int | None = None
    error: str | None = None
    body: object | None = None


@dataclass
class Outage:
    """Every matching call fails with ``status`` until ``until`` (monotonic seconds)."""

    status: int
    until: float
    methods: frozenset[str] | None = None
    retry_after: int | None = None


@dataclass
class FaultInjector:
    """Holds queued faults per method and timed outages; :meth:`take` consumes them."""

    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _queued: dict[str, list[Fault]] = field(default_factory=dict)
    _outages: list[Outage] = field(default_factory=list)

    def fail_next(
        self,
        method: str = ANY_METHOD,
        status: int = 500,
        count: int = 1,
        *,
        error: str | None = None,
        body: object | None = None,
    ) -> None:
        """The next ``count`` calls of ``method`` (``"*"``: any) fail with ``status``.

        With ``status=200`` and an ``error`` code the call fails at the API level instead
        (Slack's ``{"ok": false, "error": ...}``).
        """
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._queued.setdefault(method, []).append(
                Fault(status=status, remaining=count, error=error, body=body)
            )

    def rate_limit_next(
        self, method: str = ANY_METHOD, retry_after: int = 1, count: int = 1
    ) -> None:
        """The next ``count`` calls of ``method`` get HTTP 429 with ``Retry-After: retry_after``."""
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._queued.setdefault(method, []).append(
                Fault(status=429, remaining=count, retry_after=retry_after)
            )

    def outage(
        self,
        seconds: float,
        status: int = 503,
        methods: list[str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Fail every call (or only ``methods``) with ``status`` for the next ``seconds``."""
        with self._lock:
            self._outages.append(
                Outage(
                    status=status,
                    until=self.clock() + seconds,
                    methods=frozenset(methods) if methods else None,
                    retry_after=retry_after,
                )
            )

    def take(self, method: str) -> Fault | None:
        """Return the fault to serve for this call, consuming one use of it, or None."""
        with self._lock:
            now = self.clock()
            self._outages = [o for o in self._outages if o.until > now]
            for outage in self._outages:
                if outage.methods is None or method in outage.methods:
                    return Fault(
                        status=outage.status,
                        remaining=0,
                        retry_after=outage.retry_after,
                    )
            for key in (method, ANY_METHOD):
                queue = self._queued.get(key)
                if queue:
                    fault = queue[0]
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        queue.pop(0)
                    return fault
        return None

    def clear(self) -> None:
        """Drop every queued fault and outage."""
        with self._lock:
            self._queued.clear()
            self._outages.clear()
