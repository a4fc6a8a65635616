"""``POST /slack/events``: a thin Starlette route around Bolt's request handler.

Bolt verifies the signature and timestamp (401 otherwise) and dispatches slash commands,
interactivity and events; this module only mounts it.
"""

from __future__ import annotations

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

PATH = "/slack/events"


def slack_routes(handler: AsyncSlackRequestHandler) -> list[BaseRoute]:
    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return [Route(PATH, events, methods=["POST"])]
