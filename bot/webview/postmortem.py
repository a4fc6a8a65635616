"""``/incidents/{n}/postmortem``: the post-mortem as a page, and its downloads for the session.

The page is rendered from the export's own document (``Exporter.document``), the read model
the markdown and JSON exports are written from, so the three always agree.
"""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.domain.errors import IncidentNotFound
from bot.export.service import FORMATS, Exporter
from bot.webview.context import WebContext
from bot.webview.pages import not_found, number_of
from bot.webview.security import secure


def routes(context: WebContext) -> list[Route]:
    async def page(request: Request) -> Response:
        if await context.signed_in(request) is None:
            return context.refuse(request, page=True)
        number = number_of(request)
        if number is None:
            return not_found(context, request)
        try:
            document: dict[str, Any] = await context.read(lambda s: context.exporter.document(number, session=s))
        except IncidentNotFound:
            return not_found(context, request)
        # Off the event loop: the page holds the whole timeline, and a storm incident's tens of
        # thousands of entries take seconds to render, during which this process (webhooks,
        # /healthz included) would answer nothing.
        return await run_in_threadpool(lambda: context.render(request, "postmortem.html", doc=document, number=number))

    async def download(request: Request) -> Response:
        if await context.signed_in(request) is None:
            return context.refuse(request, page=False)
        number = number_of(request)
        fmt = request.path_params["fmt"]
        if number is None or fmt not in FORMATS:
            return secure(Response("not found\n", status_code=404, media_type="text/plain"))
        try:
            body = await context.read(lambda s: context.exporter.render(number, fmt, session=s))
        except IncidentNotFound:
            return secure(Response("not found\n", status_code=404, media_type="text/plain"))
        except TemplateError as error:
            return secure(Response(f"the post-mortem template failed: {error}\n", status_code=500, media_type="text/plain"))
        filename = Exporter.filename(f"INC-{number}", fmt)
        return secure(Response(body, media_type=FORMATS[fmt], headers={"Content-Disposition": f'attachment; filename="{filename}"'}))

    return [
        Route("/incidents/{number}/postmortem", page, methods=["GET"]),
        Route("/incidents/{number}/postmortem/download.{fmt}", download, methods=["GET"]),
    ]
