"""Headers on every web-view answer: a strict CSP, no framing, no sniffing, no caching of pages.

The CSP allows scripts, styles and images from this origin only and no inline code at all;
the pages are written for that (charts are inline SVG with presentation attributes, the one
script is /static/app.js), so an injected ``<script>`` or ``style=`` would not run.
"""

from __future__ import annotations

from starlette.responses import Response

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def secure(response: Response, *, cache: bool = False) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value
    if not cache:
        response.headers["Cache-Control"] = "no-store"
    return response
