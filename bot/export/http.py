"""``GET /incidents/{number}/postmortem.md`` and ``.json``, behind a bearer token.

Post-mortems hold internal detail, so the endpoint is closed unless FIREBREAK_API_TOKEN is
set, and the token is compared in constant time. Auth is checked before anything is
looked up, so an unauthenticated caller cannot even learn which incidents exist.
"""

from __future__ import annotations

import hmac
import logging

from jinja2 import TemplateError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.domain.errors import IncidentNotFound, InvalidCommand
from bot.domain.incident import format_number, parse_number
from bot.export.service import FORMATS, Exporter
from bot.http.responses import json_error

log = logging.getLogger(__name__)


def _unauthorised(message: str) -> Response:
    response = json_error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="firebreak"'
    return response


def check_bearer(request: Request, token: str | None) -> Response | None:
    """None when the request carries the configured token; else the error answer."""
    if not token:
        return json_error(403, "the post-mortem API is disabled: set FIREBREAK_API_TOKEN to enable it")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return _unauthorised("missing bearer token: send Authorization: Bearer <FIREBREAK_API_TOKEN>")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return _unauthorised("invalid bearer token")
    return None


def postmortem_routes(exporter: Exporter, token: str | None) -> list[Route]:
    async def postmortem(request: Request) -> Response:
        refused = check_bearer(request, token)
        if refused is not None:
            return refused
        fmt = request.path_params["fmt"]
        if fmt not in FORMATS:
            return json_error(404, f"unknown format .{fmt}: use postmortem.md or postmortem.json")
        try:
            number = parse_number(request.path_params["number"])
        except InvalidCommand as error:
            return json_error(404, str(error))
        try:
            body = await run_in_threadpool(exporter.render, number, fmt)
        except IncidentNotFound as error:
            return json_error(404, str(error))
        except TemplateError as error:
            log.exception("post-mortem template failed")
            return json_error(500, f"the post-mortem template failed: {error}")
        filename = Exporter.filename(format_number(number), fmt)
        return Response(body, media_type=FORMATS[fmt], headers={"Content-Disposition": f'inline; filename="{filename}"'})

    return [Route("/incidents/{number}/postmortem.{fmt}", postmortem, methods=["GET"])]
