"""A loopback HTTP endpoint that records what is POSTed to it.

Stands in for Firebreak when a test only needs to see what a sender (the real Alertmanager,
a PagerDuty-like retry loop) delivers: bodies, headers, timing, and how the sender reacts to
the status code we answer with.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes._http import LoopbackServer, Request, Response, ServedFake


@dataclass(frozen=True)
class Received:
    """One delivery: path, headers (lowercased names), raw body, arrival time."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    time: float

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


class WebhookReceiver(ServedFake):
    """Records every request; answers ``status`` (changeable at runtime, e.g. 500 to force retries)."""

    def __init__(self, *, status: int = 200) -> None:
        self.status = status
        self._received: list[Received] = []
        self._cond = threading.Condition()
        self._server = LoopbackServer(self._handle)


    def url(self, path: str = "/webhook") -> str:
        """Full URL of ``path`` on this receiver."""
        return f"{self._server.base_url}{path}"

    @property
    def received(self) -> list[Received]:
        with self._cond:
            return list(self._received)

    def clear(self) -> None:
        with self._cond:
            self._received.clear()

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout: float = 10.0
    ) -> list[Received]:
        """Block until ``predicate(received)`` holds; ``TimeoutError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(list(self._received)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"condition not met within {timeout}s; received {len(self._received)} requests"
                    )
                self._cond.wait(min(remaining, 0.2))
            return list(self._received)

    def wait_for_count(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least ``count`` requests arrived."""
        return self.wait_for(lambda got: len(got) >= count, timeout)

    def _handle(self, request: Request) -> Response:
        item = Received(
            request.method,
            request.path,
            dict(request.headers),
            request.body,
            time.time(),
        )
        with self._cond:
            self._received.append(item)
            self._cond.notify_all()
        return Response.json({"status": "recorded"}, status=self.status)
