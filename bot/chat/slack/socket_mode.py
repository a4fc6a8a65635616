"""Socket Mode: Slack pushes events over a WebSocket the bot opens, no public URL needed.

Runs as a background task of ``firebreak serve`` when ``SLACK_APP_TOKEN`` is set. The same
Bolt app handles what arrives, so commands and buttons behave exactly as over HTTP. Each
envelope is acknowledged by its ``envelope_id``; Slack redelivers an envelope whose
acknowledgement it did not see, and retries an Events API event under a new envelope with the
same ``event_id``, so both ids are claimed (bot/chat/slack/replay.py) and a repeat is
acknowledged again but not applied again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.chat.slack.replay import Claim, SeenRequests, envelope_claim, event_claim

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0


class OnceSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's aiohttp Socket Mode handler, applying each envelope and each event once."""

    def __init__(self, app: AsyncApp, app_token: str, seen: SeenRequests) -> None:
        super().__init__(app, app_token)
        self.seen = seen

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        start = time.time()
        now = self.seen.now()
        claims: list[Claim] = [envelope_claim(req.envelope_id, now)]
        event = event_claim(req.payload, now)
        if event is not None:
            claims.append(event)
        if not await asyncio.to_thread(self.seen.claim, claims):
            log.warning(
                "socket mode envelope already applied; acknowledged again",
                extra={"envelope_id": req.envelope_id, "retry_attempt": req.retry_attempt, "type": req.type},
            )
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        response = await run_async_bolt_app(self.app, req)
        if response.status != 200:
            # Not acknowledged: Slack delivers it again, and then it must be applied.
            await asyncio.to_thread(self.seen.release, claims)
        await send_async_response(client, req, response, start)


def socket_mode_task(app: AsyncApp, app_token: str, seen: SeenRequests) -> Callable[[asyncio.Event], Awaitable[None]]:
    async def run(stop: asyncio.Event) -> None:
        delay = 1.0
        while not stop.is_set():
            handler = OnceSocketModeHandler(app, app_token, seen)
            try:
                await handler.connect_async()  # type: ignore[no-untyped-call]  # slack_bolt leaves it unannotated
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
                    await handler.close_async()  # type: ignore[no-untyped-call]  # slack_bolt leaves it unannotated
                except Exception:
                    log.debug("socket mode close failed", exc_info=True)

    return run
