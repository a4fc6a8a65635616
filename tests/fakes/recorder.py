"""Thread-safe call recording shared by the fakes.

Tests assert on what the application *sent* (which method, which arguments, how often, in
what order), so every request a fake receives is recorded, including the ones it refused
(bad auth, rate-limited, injected faults).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    """One request as the fake understood it.

    ``method`` is the API method (``chat.postMessage``) or route (``PUT /incidents/{id}``);
    ``params`` are the merged query/body arguments; ``status`` is the HTTP status served and
    ``error`` the API-level error code, if any.
    """

    method: str
    params: Mapping[str, Any]
    time: float
    status: int
    error: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    response: Any = None

    @property
    def ok(self) -> bool:
        """True when the call succeeded at both the HTTP and the API level."""
        return 200 <= self.status < 300 and self.error is None


class CallLog:
    """An append-only, lock-protected list of :class:`Call` with query helpers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._cond = threading.Condition(self._lock)

    def record(self, call: Call) -> None:
        """Append a call and wake up anyone waiting in :meth:`wait_for`."""
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()

    def calls(self, method: str | None = None, *, ok: bool | None = None) -> list[Call]:
        """Recorded calls in arrival order, optionally filtered by method and success."""
        with self._lock:
            found = list(self._calls)
        if method is not None:
            found = [c for c in found if c.method == method]
        if ok is not None:
            found = [c for c in found if c.ok is ok]
        return found

    def status_counts(self) -> Counter[int]:
        """How many responses were served per HTTP status."""
        with self._lock:
            return Counter(c.status for c in self._calls)

    @property
    def served_429(self) -> int:
        """Number of 429 responses served (rate limits, real or injected)."""
        return self.status_counts()[429]

    @property
    def served_5xx(self) -> int:
        """Number of 5xx responses served (injected faults and outages)."""
        return sum(n for status, n in self.status_counts().items() if status >= 500)

    def clear(self) -> None:
        """Forget every recorded call."""
        with self._lock:
            self._calls.clear()

    def wait_for(
        self, predicate: Callable[[list[Call]], bool], timeout: float = 5.0
    ) -> list[Call]:
        """Block until ``predicate(all_calls)`` holds; raise ``TimeoutError`` after ``timeout``.

        Useful when the code under test delivers asynchronously (outbox worker, retries).
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                snapshot = list(self._calls)
                if predicate(snapshot):
                    return snapshot
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"condition not met within {timeout}s; {len(snapshot)} calls recorded: "
                        + ", ".join(c.method for c in snapshot[-20:])
                    )
                self._cond.wait(min(remaining, 0.1))

    def wait_for_calls(
        self,
        method: str,
        count: int = 1,
        *,
        ok: bool | None = True,
        timeout: float = 5.0,
    ) -> list[Call]:
        """Block until at least ``count`` calls of ``method`` (successful by default) arrived."""

        def enough(calls: list[Call]) -> bool:
            return (
                len(
                    [
                        c
                        for c in calls
                        if c.method == method and (ok is None or c.ok is ok)
                    ]
                )
                >= count
            )

        self.wait_for(enough, timeout)
        return self.calls(method, ok=ok)
