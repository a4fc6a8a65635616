"""Socket Mode: Slack pushes events over a WebSocket the bot opens, no public URL needed.

Runs as a background task of ``firebreak serve`` when ``SLACK_APP_TOKEN`` is set. The same
Bolt app handles what arrives, so commands and buttons behave exactly as over HTTP.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0


def socket_mode_task(app: AsyncApp, app_token: str) -> Callable[[asyncio.Event], Awaitable[None]]:
    async def run(stop: asyncio.Event) -> None:
        delay = 1.0
        while not stop.is_set():
            handler = AsyncSocketModeHandler(app, app_token)
            try:
                await handler.connect_async()
                log.info("slack socket mode connected")
                delay = 1.0
                await stop.wait()
            except Exception:  # Slack unreachable: try again, slower each time, until stopped
                log.exception("slack socket mode connection failed; retrying in %.0fs", delay)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except TimeoutError:
                    pass
                delay = min(MAX_BACKOFF, delay * 2)
            finally:
                try:
                    await handler.close_async()
                except Exception:
                    log.debug("socket mode close failed", exc_info=True)

    return run
