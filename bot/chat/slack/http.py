"""``POST /slack/events``: a thin Starlette route around Bolt's request handler.

Bolt verifies the signature and timestamp and dispatches slash commands, interactivity and
events; this module mounts it. Bolt parses the body *before* it checks the signature, and
its parser raises on a body that is not UTF-8 or starts with ``{`` without being JSON, which
became a 500. So the route checks the signature first (401) and that the body parses the way
Bolt will parse it (400), and only then hands the request over.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.request.internals import extract_content_type, parse_body
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.http.responses import json_error

PATH = "/slack/events"


def slack_routes(handler: AsyncSlackRequestHandler, signing_secret: str) -> list[BaseRoute]:
    verifier = SignatureVerifier(signing_secret)

    async def events(request: Request) -> Response:
        body = await request.body()
        try:
            text = body.decode("utf-8")  # the verifier decodes too, and raises on bad bytes
        except UnicodeDecodeError:
            return json_error(400, "body is not UTF-8")
        if not verifier.is_valid_request(text, dict(request.headers)):
            return json_error(401, "invalid or missing Slack request signature")
        content_type = request.headers.get("content-type")
        problem = _unparseable(text, extract_content_type({"content-type": [content_type]}) if content_type else None)
        if problem:
            return json_error(400, problem)
        return await handler.handle(request)

    return [Route(PATH, events, methods=["POST"])]


def _unparseable(body: str, content_type: str | None) -> str | None:
    """Why Bolt could not read this body, or None when it can."""
    try:
        parsed: Any = parse_body(body, content_type)
    except ValueError as error:  # json.JSONDecodeError included
        return f"malformed body: {str(error)[:200]}"
    if not isinstance(parsed, dict):
        return "expected a JSON object or form fields"
    return None
