"""A fake Slack Socket Mode server: a loopback WebSocket server the fake Web API points to.

``apps.connections.open`` on :class:`~tests.fakes.slack_api.FakeSlack` (called with the
app-level token) answers with a one-use ``ws://127.0.0.1:…/link/?ticket=…`` URL of this
server once :meth:`FakeSocketMode.attach` has been called. The protocol follows Slack's
"Socket Mode implementation" guide:

* on connect the server sends ``{"type": "hello", "num_connections", "connection_info",
  "debug_info"}``;
* payloads arrive in envelopes ``{"envelope_id", "type": "events_api" | "slash_commands" |
  "interactive", "payload", "accepts_response_payload"}`` (Events API envelopes also carry
  ``retry_attempt`` and ``retry_reason``);
* the app acknowledges each with ``{"envelope_id", "payload"?}``; a payload is only allowed
  where ``accepts_response_payload`` is true;
* ``{"type": "disconnect", "reason": "warning" | "refresh_requested" | "link_disabled"}``
  asks the app to reconnect with a fresh URL; the old socket stays open until the new one
  has said hello (refresh) or a grace period ends;
* an envelope whose acknowledgement the server did not see is delivered again, with the
  same ``envelope_id`` and ``retry_attempt`` + 1, on the next connection.

It is built on aiohttp (what slack-bolt's async Socket Mode client uses, already a
dependency) and runs its own event loop in a thread, so tests drive it from any thread.
Anything the app sends that Slack would not accept (not JSON, no ``envelope_id``, an unknown
``envelope_id``, a payload where none is accepted) is recorded in :attr:`violations`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = "A0FIREBRK"
REDELIVERED_REASON = "timeout"


@dataclass
class Envelope:
    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    retry_attempt: int = 0
    retry_reason: str = ""

    def frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api":
            frame |= {"retry_attempt": self.retry_attempt, "retry_reason": self.retry_reason}
        return frame


@dataclass
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None
    connection: int
    at: float


@dataclass
class Connection:
    number: int
    ticket: str
    socket: web.WebSocketResponse
    opened_at: float = field(default_factory=time.time)
    closed: bool = False
    said_hello: bool = False


class FakeSocketMode:
    """The server. ``start()``/``stop()`` (or the ``fake_socket_mode`` fixture) run it."""

    def __init__(self, *, grace_seconds: float = 10.0) -> None:
        self.grace_seconds = grace_seconds
        self.connections: list[Connection] = []
        self.acks: list[Ack] = []
        self.violations: list[str] = []
        self.sent: list[dict[str, Any]] = []
        self._pending: dict[str, Envelope] = {}
        self._tickets: set[str] = set()
        self._lose_acks = 0
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeSocketMode:
        started = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._start_server())
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._stop_server())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-socket-mode", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("fake Socket Mode server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._loop = None

    async def _start_server(self) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._accept)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # aiohttp keeps the bound socket here
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    async def _stop_server(self) -> None:
        for connection in list(self.connections):
            if not connection.closed:
                await connection.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ----------------------------------------------------------------- the Web API side
    def attach(self, fake_slack: Any) -> None:
        """Make ``apps.connections.open`` on ``fake_slack`` hand out URLs of this server."""
        fake_slack.socket_mode = self

    def new_url(self) -> str:
        """A one-use URL, as ``apps.connections.open`` returns (thread-safe)."""
        ticket = secrets.token_hex(8)
        with self._changed:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"

    # ----------------------------------------------------------------- driving it (any thread)
    def send(self, type_: str, payload: dict[str, Any], *, accepts_response_payload: bool | None = None) -> str:
        """Deliver one envelope on the newest open connection; returns its ``envelope_id``."""
        if accepts_response_payload is None:
            accepts_response_payload = type_ == "slash_commands" or payload.get("type") in ("view_submission", "block_suggestion")
        envelope = Envelope(
            envelope_id=f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}",
            type=type_,
            payload=payload,
            accepts_response_payload=accepts_response_payload,
        )
        with self._changed:
            self._pending[envelope.envelope_id] = envelope
        self._call(self._deliver(envelope))
        return envelope.envelope_id

    def disconnect(self, reason: str) -> None:
        """Send ``disconnect`` on the newest open connection; it closes once replaced."""
        self._call(self._disconnect(reason))

    def lose_next_acks(self, count: int = 1) -> None:
        """The next ``count`` acknowledgements never reach "Slack" (lost on the way)."""
        with self._changed:
            self._lose_acks += count

    def wait_for_ack(self, envelope_id: str, *, count: int = 1, timeout: float = 10.0) -> list[Ack]:
        return self._wait(lambda: (found if len(found := [a for a in self.acks if a.envelope_id == envelope_id]) >= count else None), timeout, f"{count} ack(s) of {envelope_id}")

    def wait_for_connections(self, count: int, *, timeout: float = 10.0) -> list[Connection]:
        return self._wait(lambda: (self.connections if len([c for c in self.connections if c.said_hello]) >= count else None), timeout, f"{count} connections")

    def open_connections(self) -> list[Connection]:
        with self._changed:
            return [c for c in self.connections if not c.closed]

    def pending(self) -> list[str]:
        """Envelopes not acknowledged (as far as this server knows)."""
        with self._changed:
            return list(self._pending)

    # ----------------------------------------------------------------- internals
    def _call(self, coroutine: Any) -> Any:
        loop = self._loop
        if loop is None:
            raise RuntimeError("fake Socket Mode server is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(10)

    def _wait(self, check: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = check()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"fake Socket Mode: {what} not seen within {timeout} s")
                self._changed.wait(left)

    def _newest_open(self) -> Connection:
        for connection in reversed(self.connections):
            if not connection.closed and connection.said_hello:
                return connection
        raise RuntimeError("no open Socket Mode connection")

    async def _deliver(self, envelope: Envelope, connection: Connection | None = None) -> None:
        target = connection or self._newest_open()
        frame = envelope.frame()
        with self._changed:
            self.sent.append({"connection": target.number, **frame})
        await target.socket.send_str(json.dumps(frame))

    async def _disconnect(self, reason: str) -> None:
        connection = self._newest_open()
        await connection.socket.send_str(json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}))
        asyncio.get_running_loop().call_later(self.grace_seconds, lambda: asyncio.ensure_future(self._close(connection)))

    async def _close(self, connection: Connection) -> None:
        if not connection.closed:
            await connection.socket.close()

    async def _accept(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._changed:
            known = ticket in self._tickets
            self._tickets.discard(ticket)
        if not known:
            # A URL is good for one connection; Slack refuses a reused or made-up one.
            return web.Response(status=401, text="invalid or used ticket")
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        with self._changed:
            connection = Connection(number=len(self.connections) + 1, ticket=ticket, socket=socket)
            self.connections.append(connection)
            live = len([c for c in self.connections if not c.closed])
        hello = {
            "type": "hello",
            "num_connections": live,
            "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID},
        }
        await socket.send_str(json.dumps(hello))
        with self._changed:
            connection.said_hello = True
            redeliver = list(self._pending.values())
            self._changed.notify_all()
        # An envelope nobody acknowledged is delivered again on the fresh connection.
        for envelope in redeliver:
            envelope.retry_attempt += 1
            envelope.retry_reason = REDELIVERED_REASON
            await self._deliver(envelope, connection)
        # A refresh is complete once the replacement has said hello: older sockets close.
        for older in [c for c in self.connections if c is not connection and not c.closed]:
            await self._close(older)
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._receive(connection, message.data)
        finally:
            with self._changed:
                connection.closed = True
                self._changed.notify_all()
        return socket

    def _receive(self, connection: Connection, data: str) -> None:
        with self._changed:
            try:
                frame = json.loads(data)
            except ValueError:
                self.violations.append(f"not JSON: {data[:100]!r}")
                return
            envelope_id = frame.get("envelope_id") if isinstance(frame, dict) else None
            if not isinstance(envelope_id, str):
                self.violations.append(f"no envelope_id: {data[:100]!r}")
                return
            envelope = self._pending.get(envelope_id)
            already = any(a.envelope_id == envelope_id for a in self.acks)
            if envelope is None and not already:
                self.violations.append(f"unknown envelope_id {envelope_id}")
                return
            payload = frame.get("payload")
            if payload and envelope is not None and not envelope.accepts_response_payload:
                self.violations.append(f"payload in the ack of {envelope_id}, which accepts none")
            if self._lose_acks:
                self._lose_acks -= 1
                return
            self._pending.pop(envelope_id, None)
            self.acks.append(Ack(envelope_id=envelope_id, payload=payload, connection=connection.number, at=time.time()))
            self._changed.notify_all()
