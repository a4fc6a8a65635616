"""How busy the webhook endpoints are, so the ingester can give way to them.

Answering a sender quickly matters more than applying its webhook a few hundred
milliseconds sooner: a slow answer makes Alertmanager and PagerDuty time out and send
again, which adds load exactly when there is too much. Python runs one thread at a time
(the GIL), so while webhooks are arriving the ingester paces itself (see Ingester).
"""

from __future__ import annotations

import time


class WebhookPressure:
    def __init__(self, *, linger_seconds: float = 0.05) -> None:
        self._inflight = 0
        self._last_seen = 0.0
        self._linger = linger_seconds

    def enter(self) -> None:
        self._inflight += 1
        self._last_seen = time.monotonic()

    def exit(self) -> None:
        self._inflight -= 1
        self._last_seen = time.monotonic()

    def busy(self) -> bool:
        """Webhooks in flight now, or answered moments ago (the next is likely close)."""
        return self._inflight > 0 or time.monotonic() - self._last_seen < self._linger
