"""Run ``firebreak <args>`` with one background loop replaced by one that raises.

``python tests/support/crashing_loop.py LOOP worker`` — LOOP is ``delivery`` (the outbox
worker, a worker-role loop) or ``ingester``. Used by the supervision tests: the process must
log the error and exit non-zero instead of living on without that loop.
"""

from __future__ import annotations

import asyncio
import sys

from bot.cli import main
from bot.delivery.worker import DeliveryWorker
from bot.ingest.ingester import Ingester

MESSAGE = "boom: the loop under test broke"


async def _crash(_self: object, _stop: asyncio.Event) -> None:
    await asyncio.sleep(0)  # one turn of the loop first, as a real loop would have run a little
    raise RuntimeError(MESSAGE)


if __name__ == "__main__":
    loop, *args = sys.argv[1:]
    target = {"delivery": DeliveryWorker, "ingester": Ingester}[loop]
    target.run = _crash  # type: ignore[method-assign]
    sys.exit(main(args))
