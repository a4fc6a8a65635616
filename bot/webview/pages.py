"""The read-only pages: the list, one incident (with "load more" and live parts), insights.

Every handler checks sign-in before it reads anything, so a visitor who is not signed in
cannot even learn which incident numbers exist.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.domain.errors import IncidentNotFound, InvalidCommand
from bot.domain.incident import parse_number
from bot.webview import filters as list_filters
from bot.webview import incident_query, list_query
from bot.webview.charts import insight_charts
from bot.webview.context import WebContext
from bot.webview.insights import Insights
from bot.webview.insights import build as build_insights
from bot.webview.security import secure

#: How long one reading of the insights' figures is reused.
INSIGHTS_FRESH_SECONDS = 60.0


def number_of(request: Request) -> int | None:
    try:
        return parse_number(str(request.path_params["number"]))
    except InvalidCommand:
        return None


def not_found(context: WebContext, request: Request) -> Response:
    return context.render(request, "not_found.html", status=404)


def routes(context: WebContext) -> list[Route]:
    async def incident_list(request: Request) -> Response:
        if await context.signed_in(request) is None:
            return context.refuse(request, page=True)
        chosen = list_filters.parse(request.query_params)
        if chosen.problems:
            # Nothing is listed for a filter that was not understood: a list that silently
            # ignored it would look like an answer to the question asked.
            return context.render(
                request, "list.html", status=400, filters=chosen, page=None, services=[], statuses=list_filters.STATUSES, severities=list_filters.SEVERITIES
            )
        page, services = await context.read(lambda s: (list_query.list_page(s, chosen, zone=context.zone), list_query.services(s)))
        return context.render(
            request,
            "list.html",
            filters=chosen,
            page=page,
            services=services,
            statuses=list_filters.STATUSES,
            severities=list_filters.SEVERITIES,
        )

    async def incident(request: Request) -> Response:
        if await context.signed_in(request) is None:
            return context.refuse(request, page=True)
        number = number_of(request)
        if number is None:
            return not_found(context, request)
        before = incident_query.parse_cursor(request.query_params.get("before"))
        try:
            page = await context.read(lambda s: incident_query.incident_page(s, number, before=before))
        except IncidentNotFound:
            return not_found(context, request)
        return context.render(request, "incident.html", page=page, older=before is not None, slack_enabled=context.slack_enabled)

    async def timeline(request: Request) -> Response:
        """More of the timeline, older than ``before``: list items for the script to append."""
        if await context.signed_in(request) is None:
            return context.refuse(request, page=False)
        number = number_of(request)
        before = incident_query.parse_cursor(request.query_params.get("before"))
        if number is None or before is None:
            return secure(Response("not found\n", status_code=404, media_type="text/plain"))
        page = await context.read(lambda s: incident_query.timeline_page(s, number, before=before))
        body = context.templates.get_template("_entries.html").render(entries=page.entries)
        return secure(HTMLResponse(body, headers={"X-Next-Cursor": page.next_cursor or ""}))

    async def live(request: Request) -> Response:
        """The parts of an open page that change: its summary and the entries newer than ``after``."""
        if await context.signed_in(request) is None:
            return context.refuse(request, page=False)
        number = number_of(request)
        after_text = request.query_params.get("after", "0")
        if number is None or not (after_text.isascii() and after_text.isdigit() and len(after_text) < 12):
            return secure(JSONResponse({"error": "not found"}, status_code=404))
        after = int(after_text)
        try:
            page = await context.read(lambda s: incident_query.incident_page(s, number))
            newer = await context.read(lambda s: incident_query.timeline_page(s, number, after_id=after))
        except IncidentNotFound:
            return secure(JSONResponse({"error": "not found"}, status_code=404))
        summary = context.templates.get_template("_summary.html").render(page=page, slack_enabled=context.slack_enabled)
        entries = context.templates.get_template("_entries.html").render(entries=newer.entries)
        return secure(
            JSONResponse(
                {
                    "marker": page.marker,
                    "summary": summary,
                    "entries": entries,
                    "count": len(newer.entries),
                    "gap": newer.more,
                    "newest": max([after, *(entry.id for entry in newer.entries)]),
                }
            )
        )

    cached: list[tuple[float, Insights]] = []

    async def insights(request: Request) -> Response:
        if await context.signed_in(request) is None:
            return context.refuse(request, page=True)
        # Twelve weeks of figures read thousands of rows; a minute-old answer is as good.
        if cached and time.monotonic() - cached[0][0] < INSIGHTS_FRESH_SECONDS:
            figures = cached[0][1]
        else:
            figures = await context.read(lambda s: build_insights(s, now=context.clock.now()))
            cached[:] = [(time.monotonic(), figures)]
        return context.render(request, "insights.html", insights=figures, charts=insight_charts(figures))

    return [
        Route("/", incident_list, methods=["GET"]),
        Route("/insights", insights, methods=["GET"]),
        Route("/incidents/{number}", incident, methods=["GET"]),
        Route("/incidents/{number}/timeline", timeline, methods=["GET"]),
        Route("/incidents/{number}/live", live, methods=["GET"]),
    ]
