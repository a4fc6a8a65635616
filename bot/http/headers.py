"""Refuse requests whose headers no honest sender writes, before any handler reads them.

Credentials and signatures are ASCII by definition (RFC 9110 token68 and auth-params,
hex digests), so a non-ASCII ``Authorization`` is a malformed request: answering it 400
here means no handler has to survive ``base64`` or ``hmac`` choking on it. Two
``Authorization`` headers are refused too, because a proxy that reads the last one and an
app that reads the first would disagree about who is calling. Huge header blocks are cut
off by the HTTP parser in production (see bot/http/protocol.py); this repeats the limit for
in-process use, so both answer the same way.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from bot.http.limits import reject

#: Total bytes of header names and values a request may carry (the HTTP parser's limit too).
MAX_HEADER_BYTES = 16 * 1024

#: Headers whose value must be printable ASCII; all carry credentials or framing.
ASCII_ONLY = frozenset(
    {b"authorization", b"content-type", b"content-length", b"x-pagerduty-signature", b"x-webhook-id"}
)
SINGLE = frozenset({b"authorization", b"content-type", b"content-length", b"x-pagerduty-signature"})


def header_problem(headers: list[tuple[bytes, bytes]]) -> tuple[int, str] | None:
    """(status, message) for headers to refuse, or None."""
    if sum(len(name) + len(value) for name, value in headers) > MAX_HEADER_BYTES:
        return 431, f"request headers larger than {MAX_HEADER_BYTES} bytes"
    seen: set[bytes] = set()
    for name, value in headers:
        if name in ASCII_ONLY and not _printable_ascii(value):
            return 400, f"the {name.decode('latin-1').title()} header must be printable ASCII"
        if name in SINGLE:
            if name in seen:
                return 400, f"more than one {name.decode('latin-1').title()} header"
            seen.add(name)
    return None


_NOT_PRINTABLE = re.compile(rb"[^\x20-\x7e\t]")


def _printable_ascii(value: bytes) -> bool:
    return _NOT_PRINTABLE.search(value) is None


class HeaderCheck:
    """Pure ASGI middleware: a 4xx with a JSON error for the headers above."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = header_problem(scope.get("headers", []))
            if problem is not None:
                await reject(send, *problem)
                return
        await self.app(scope, receive, send)
