"""A tiny loopback HTTP server that runs in a thread.

Why not a mocking library: the Slack async client runs on aiohttp, the PagerDuty client on
httpx2, and Alertmanager is a Go binary. Only a real socket is seen the same way by all of
them, so every fake is a real HTTP server bound to 127.0.0.1 on an ephemeral port.

The fakes only implement ``handle(Request) -> Response``; this module owns sockets, threads,
body-size limits and timeouts.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

MAX_BODY_BYTES = 16 * 1024 * 1024
"""Requests larger than this are refused with 413 instead of being read into memory."""

SOCKET_TIMEOUT_S = 10.0
"""A client that stalls mid-request cannot pin a server thread for longer than this."""


@dataclass(frozen=True)
class Request:
    """An HTTP request as the fakes see it: already read, headers case-insensitive."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        """Case-insensitive header lookup."""
        value = self.headers.get(name.lower())
        return default if value is None else value

    @property
    def content_type(self) -> str:
        """The media type without parameters, lowercased (``""`` when absent)."""
        raw = self.header("content-type") or ""
        return raw.split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """Decode the body as JSON; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    """What a fake answers. ``body`` may be bytes, str, or anything JSON-serialisable."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        """A JSON response with the right content type."""
        hdrs = {"Content-Type": "application/json; charset=utf-8"}
        hdrs.update(headers or {})
        return cls(
            status=status, body=json.dumps(payload).encode("utf-8"), headers=hdrs
        )

    def encoded(self) -> bytes:
        """The body as bytes (dicts and lists become JSON)."""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


Handler = Callable[[Request], Response]


def parse_query(raw: str) -> dict[str, list[str]]:
    """Parse a query string keeping repeated keys (``include[]=a&include[]=b``)."""
    return parse_qs(raw, keep_blank_values=True)


class _RequestHandler(BaseHTTPRequestHandler):
    """Reads the request fully, calls the fake, writes its response. Never raises to the socket."""

    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_S

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; the fakes record calls themselves."""

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._write(Response.json({"error": "payload too large"}, status=413))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_query(split.query),
            headers=headers,
            body=body,
        )
        try:
            response = self.server.fake_handler(request)
        except Exception as exc:
            response = Response.json(
                {"error": f"fake server error: {exc!r}"}, status=500
            )
        self._write(response)

    def _write(self, response: Response) -> None:
        payload = response.encoded()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = (
        1024  # alert storms open many connections at once; 5 would drop SYNs
    )
    fake_handler: Handler


class LoopbackServer:
    """Runs ``handler`` behind a real HTTP server on 127.0.0.1 in a background thread.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``port=0`` picks a free port.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (only valid once started)."""
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http(s)://127.0.0.1:PORT`` without a trailing slash."""
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{self._host}:{self.port}"

    def start(self) -> Self:
        """Bind and start serving; returns self so it can be chained."""
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), _RequestHandler)
        server.fake_handler = self._handler
        if self._ssl_context is not None:
            # Handshake lazily, in the per-connection thread, so a stalled client cannot
            # block accept() for everyone else.
            server.socket = self._ssl_context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-http-{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and close the socket; waits at most ``timeout`` seconds for the thread."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServedFake:
    """Lifecycle shared by the fakes: start/stop, a context manager, and the base URL.

    Subclasses set ``self._server`` (a :class:`LoopbackServer`) in their constructor.
    """

    _server: LoopbackServer

    def start(self) -> Self:
        """Start serving on an ephemeral loopback port."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` for a TLS fake)."""
        return self._server.base_url
