"""``/incidents/{n}/events``: Server-Sent Events that tell an open page it changed.

Each stream asks the database once a second for the incident's marker (newest timeline id
and update time), so it sees changes made by any process, worker or replica, on SQLite and
PostgreSQL alike. The page then fetches the changed parts itself (``/live``). A stream ends
after a few minutes and the browser's EventSource reconnects (also after a restart, as it
does on any dropped connection); ``Last-Event-ID`` lets a reconnect skip an unchanged marker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from bot.webview import incident_query
from bot.webview.context import WebContext
from bot.webview.pages import number_of
from bot.webview.security import secure

#: Longest life of one stream; the browser reconnects at once (``retry``).
STREAM_SECONDS = 300.0
#: A comment line this often keeps proxies from closing a quiet stream.
KEEPALIVE_SECONDS = 15.0
RETRY_MS = 1000


async def changes(context: WebContext, number: int, last: str | None, *, lifetime: float = STREAM_SECONDS) -> AsyncIterator[str]:
    """The event stream's text: a ``change`` event each time the marker differs from the last sent."""
    yield f"retry: {RETRY_MS}\n\n"
    started = quiet = time.monotonic()
    while time.monotonic() - started < lifetime:
        current = await context.read(lambda s: incident_query.marker(s, number))
        if current is None:
            yield "event: gone\ndata: gone\n\n"
            return
        if current != last:
            last = current
            quiet = time.monotonic()
            yield f"id: {current}\nevent: change\ndata: {current}\n\n"
        elif time.monotonic() - quiet >= KEEPALIVE_SECONDS:
            quiet = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(context.poll_seconds)


def routes(context: WebContext) -> list[Route]:
    async def events(request: Request) -> Response:
        if await context.signed_in(request) is None:
            return context.refuse(request, page=False)
        number = number_of(request)
        if number is None:
            return secure(Response("not found\n", status_code=404, media_type="text/plain"))
        last = request.headers.get("last-event-id") or None
        response = StreamingResponse(changes(context, number, last), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})
        return secure(response)

    return [Route("/incidents/{number}/events", events, methods=["GET"])]
