"""Headers on every web-view answer: a strict CSP, no framing, no sniffing, no caching of pages.

The CSP allows scripts, styles and images from this origin only and no inline code at all;
the pages are written for that (charts are inline SVG with presentation attributes, the one
script is /static/app.js), so an injected ``<script>`` or ``style=`` would not run.
"""

from __future__ import annotations

from starlette.responses import Response

from bot.http.security_headers import CSP, HEADERS

__all__ = ["CSP", "HEADERS", "secure"]


def secure(response: Response, *, cache: bool = False) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value
    if not cache:
        response.headers["Cache-Control"] = "no-store"
    return response
