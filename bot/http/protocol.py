"""uvicorn's h11 protocol with the guards a public listener needs.

uvicorn keeps a fresh connection open for as long as the client likes: it has no limit on
how long the request headers may take, and it accepts connections until the process runs
out of file descriptors. A few hundred idle sockets (or one slow client per header byte)
then starve everything, ``/healthz`` included. This protocol adds:

* a cap on open connections: the one past it is closed as soon as it is accepted, which
  keeps descriptors free for the database and the health listener;
* a header timeout: a connection that has not sent a complete request head this many
  seconds after it opened (or after its previous response) is closed, however slowly it
  drips bytes;
* a body timeout: a request whose body is not complete this many seconds after its head
  is answered 408 and closed. The webhook endpoints read the whole body before they can
  check a signature, so without it anyone could hold every connection by sending a body
  a byte at a time (mod_reqtimeout's ``body=`` in Apache, for the same reason);
* a JSON answer for requests the HTTP parser refuses (malformed, or headers over the
  parser's limit: 431), like every other error Firebreak gives.

A reverse proxy in front (docs/operations.md) is still the first line; this is the second.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

#: Bytes of request line and headers the parser buffers before answering 431.
MAX_HEAD_BYTES = 16 * 1024


class _Connection(h11.Connection):
    """h11's connection, remembering why it refused a request (its status hint)."""

    refusal: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as error:
            self.refusal = error
            raise


class GuardedH11Protocol(H11Protocol):
    max_connections = 1000
    header_timeout = 10.0
    body_timeout = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _Connection(h11.SERVER, MAX_HEAD_BYTES)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._body_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's H11Protocol, which narrows asyncio's BaseTransport
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning("connection closed on arrival: %d connections are open, the maximum", self.max_connections)
            self.transport.close()
            return
        self._await_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()  # the next request on this keep-alive connection gets the same time
            # A pipelined request may already have its head in: its body's clock starts now,
            # not at the next bytes (which may never come).
            self._watch_body()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        self._watch_body(closing=True)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_body()

    def send_400_response(self, msg: str) -> None:
        hint = self.conn.refusal.error_status_hint if isinstance(self.conn, _Connection) and self.conn.refusal else 400
        status = 431 if hint == 431 else 400
        message = f"request line and headers larger than {MAX_HEAD_BYTES} bytes" if status == 431 else "malformed HTTP request"
        body = json.dumps({"error": message}).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close"), (b"content-length", str(len(body)).encode())]
        try:
            reason = b"Request Header Fields Too Large" if status == 431 else b"Bad Request"
            self.transport.write(self.conn.send(h11.Response(status_code=status, headers=headers, reason=reason)) or b"")
            self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
            self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError:
            pass  # the request was too broken for h11 to answer at all: just close
        self.transport.close()

    def _await_head(self) -> None:
        self._cancel_deadline()
        self._head_deadline = self.loop.call_later(self.header_timeout, self._head_overdue)

    def _cancel_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _watch_body(self, *, closing: bool = False) -> None:
        """The body's clock runs from the moment h11 has the head until the body is whole."""
        receiving = not closing and self.conn.their_state is h11.SEND_BODY
        if receiving and self._body_deadline is None:
            self._body_deadline = self.loop.call_later(self.body_timeout, self._body_overdue)
        elif not receiving and self._body_deadline is not None:
            self._body_deadline.cancel()
            self._body_deadline = None

    def _body_overdue(self) -> None:
        self._body_deadline = None
        if self.conn.their_state is not h11.SEND_BODY or self.transport.is_closing():
            return
        log.warning("request body not complete %.0f s after its head: answered 408 and closed", self.body_timeout)
        body = json.dumps({"error": f"request body not complete within {self.body_timeout:g} seconds"}).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close"), (b"content-length", str(len(body)).encode())]
        try:
            self.transport.write(self.conn.send(h11.Response(status_code=408, headers=headers, reason=b"Request Timeout")) or b"")
            self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
            self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError:
            pass  # the handler already answered: just close
        # The handler waiting for the rest of the body is told the client went away.
        self.transport.close()

    def _head_overdue(self) -> None:
        self._head_deadline = None
        # IDLE: h11 has not seen a whole request head since the connection (or the last
        # response) began. Once a request is in, its handler decides how long it takes.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(*, max_connections: int, header_timeout: float, body_timeout: float) -> type[GuardedH11Protocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` with these limits."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"max_connections": max_connections, "header_timeout": header_timeout, "body_timeout": body_timeout},
    )
