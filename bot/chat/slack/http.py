"""``POST /slack/events``: a thin Starlette route around Bolt's request handler.

Bolt verifies the signature and timestamp and dispatches slash commands, interactivity and
events; this module mounts it. Everything Bolt would choke on is refused here first with a
4xx and a JSON error, never a 500: signature headers that are not what Slack sends (a
timestamp such as ``abc`` or ``1796062769.5``, a signature with non-ASCII characters), a body
that is not UTF-8 or does not parse the way Bolt parses it, and a body nested deeper than
any Slack payload (which would otherwise exhaust Python's recursion limit).

A request is applied once: its signature is claimed for Slack's five-minute window (a
captured request replayed is acknowledged and ignored), and an Events API delivery is
claimed by ``event_id``, so Slack's retries (``X-Slack-Retry-Num``) do not repeat it. If Bolt
fails the request (5xx), the claims are released so Slack's retry is applied; if the claims
cannot be recorded (the database is away) the answer is 503 and nothing is applied.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.request.internals import extract_content_type, parse_body
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.chat.slack.replay import SeenRequests, event_claim, signature_claim
from bot.http.responses import json_error

log = logging.getLogger(__name__)

PATH = "/slack/events"

MAX_DEPTH = 64
"""Deepest nesting of objects and lists accepted; Slack's payloads stay well under 20."""

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


def slack_routes(handler: AsyncSlackRequestHandler, signing_secret: str, seen: SeenRequests) -> list[BaseRoute]:
    verifier = SignatureVerifier(signing_secret)

    async def events(request: Request) -> Response:
        timestamp = request.headers.get("x-slack-request-timestamp")
        signature = request.headers.get("x-slack-signature")
        if timestamp is None or signature is None:
            return json_error(401, "invalid or missing Slack request signature (X-Slack-Signature and X-Slack-Request-Timestamp)")
        if not _TIMESTAMP.fullmatch(timestamp):
            return json_error(401, "invalid Slack request signature: X-Slack-Request-Timestamp must be whole seconds since the epoch")
        if not _SIGNATURE.fullmatch(signature):
            return json_error(401, "invalid Slack request signature: X-Slack-Signature must be v0= and 64 hex digits")
        try:
            body = await request.body()
        except ClientDisconnect:  # gone (or cut off by the body timeout) before the body was whole
            log.warning("slack request abandoned before its body arrived; nothing done")
            return json_error(400, "the request body did not arrive")
        try:
            text = body.decode("utf-8")  # the verifier decodes too, and raises on bad bytes
        except UnicodeDecodeError:
            return json_error(400, "body is not UTF-8")
        if not verifier.is_valid(text, timestamp, signature):
            return json_error(401, "invalid or missing Slack request signature")
        content_type = request.headers.get("content-type")
        parsed, problem = _parse(text, extract_content_type({"content-type": [content_type]}) if content_type else None)
        if problem is not None:
            return json_error(400, problem)
        claims = [signature_claim(signature, int(timestamp))]
        event = event_claim(parsed, seen.now())
        if event is not None:
            claims.append(event)
        try:
            first = await asyncio.to_thread(seen.claim, claims)
        except SQLAlchemyError as error:  # cannot tell a repeat from a first delivery: let Slack retry
            log.error("could not record the slack request", extra={"error": type(error).__name__})
            return json_error(503, "the database is unavailable; try again")
        if not first:
            log.warning(
                "slack request already applied; acknowledged and ignored",
                extra={"retry_num": request.headers.get("x-slack-retry-num"), "event_id": parsed.get("event_id")},
            )
            return Response(status_code=200)
        try:
            response: Response = await handler.handle(request)
        except Exception:
            await _release(seen, claims)  # Slack retries what failed: let the retry through
            raise
        if response.status_code >= 500:
            await _release(seen, claims)
        return response

    return [Route(PATH, events, methods=["POST"])]


async def _release(seen: SeenRequests, claims: list[Any]) -> None:
    """Forget the claims of a request the app failed, so Slack's retry is applied; if the
    database cannot do it now, the retry is taken for a repeat until the claims expire."""
    try:
        await asyncio.to_thread(seen.release, claims)
    except SQLAlchemyError as error:
        log.error("could not release a failed slack request for its retry", extra={"error": type(error).__name__})


def _parse(body: str, content_type: str | None) -> tuple[dict[str, Any], str | None]:
    """The body as Bolt will read it, or why Bolt could not read it."""
    try:
        parsed: Any = parse_body(body, content_type)
    except ValueError as error:  # json.JSONDecodeError included
        return {}, f"malformed body: {str(error)[:200]}"
    except RecursionError:
        return {}, f"malformed body: nested deeper than {MAX_DEPTH} levels"
    if not isinstance(parsed, dict):
        return {}, "expected a JSON object or form fields"
    if nesting_depth(parsed) > MAX_DEPTH:
        return {}, f"malformed body: nested deeper than {MAX_DEPTH} levels"
    return parsed, _shape_problem(parsed)


def _shape_problem(parsed: dict[str, Any]) -> str | None:
    """What Bolt would fail on inside its own code (a 500, and Slack retrying it): a button
    click carries at least one action, each an object naming its ``action_id``. Slack never
    sends anything else; a request that does is refused before Bolt sees it."""
    if parsed.get("type") != "block_actions":
        return None
    actions = parsed.get("actions")
    if not isinstance(actions, list) or not actions:
        return "block_actions needs a non-empty list of actions"
    if not all(isinstance(action, dict) and isinstance(action.get("action_id"), str) for action in actions):
        return "each of block_actions' actions must be an object with an action_id"
    return None


def nesting_depth(value: Any) -> int:
    """How deeply objects and lists nest in ``value`` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest
