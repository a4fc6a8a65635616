"""Every process-wide performance knob, in one place, and which process it applies to.

``firebreak serve`` is one process doing everything: the event loop answers webhooks while
an executor thread applies them to incidents, and both want the one interpreter (the GIL).
Three knobs keep the answers fast there. Split into ``web`` and ``worker`` processes, the
two jobs no longer share an interpreter, and the knobs are applied only where they were
measured to help (numbers in docs/operations.md, "Tuning"):

``switch interval`` (``sys.setswitchinterval(0.001)``) — **serve only.** Python hands the
    interpreter to another thread every 5 ms by default; with the ingester thread busy, an
    answer could wait a whole 5 ms turn. At 1 ms the event loop gets back in quickly. In
    ``web`` no thread competes with the loop for long (queueing is one insert per batch) and
    in ``worker`` nobody is waiting on an answer, so neither sets it.

``gc.freeze()`` — **serve and web.** Everything loaded at start (mappers, models, playbooks,
    the container) lives as long as the process; freezing it keeps full garbage collections
    from scanning it, which otherwise stall every request for tens of milliseconds under
    load. The worker answers no requests; a collection there only delays work by as long, so
    it is left alone.

``ingester pressure`` (bot/ingest/pressure.py) — **serve only.** While webhooks are arriving
    the ingester sleeps between groups so it takes at most a third of the interpreter. In a
    worker there are no webhook answers to protect, so it applies at full speed; in web
    there is no ingester.
"""

from __future__ import annotations

import gc
import sys

from bot.ingest.pressure import WebhookPressure
from bot.roles import ALL_ROLES, Role

#: Seconds between the interpreter's thread switches in ``serve`` (Python's default: 0.005).
SERVE_SWITCH_INTERVAL = 0.001


def webhook_pressure(roles: frozenset[Role]) -> WebhookPressure | None:
    """The pacing shared by the webhook endpoints and the ingester: only when one process has both."""
    return WebhookPressure() if roles == ALL_ROLES else None


def tune_process(roles: frozenset[Role]) -> None:
    """Call once, after everything long-lived is loaded, just before serving."""
    if roles == ALL_ROLES:
        sys.setswitchinterval(SERVE_SWITCH_INTERVAL)
    if Role.WEB in roles:
        gc.collect()
        gc.freeze()
