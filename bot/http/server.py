"""How ``firebreak serve`` runs uvicorn: file limit, connection cap, and the health listener.

Every open connection costs a file descriptor, and so does every database connection and
log file. Past the process's limit ``accept()`` fails, the event loop logs it once a
second per listener, and nothing new gets in, health checks included. So at start the soft
limit is raised to the hard limit where the system allows, the connection cap is lowered
to fit inside it with room to spare, and health can have a listener of its own that a
flood on the main port does not reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import resource
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import uvicorn
from starlette.types import ASGIApp

from bot.http.protocol import guarded_protocol
from bot.supervision import Supervisor

log = logging.getLogger(__name__)

#: Descriptors kept free for everything that is not a client connection: the database
#: pool, log and SQLite files, outbound HTTP clients, the health listener's connections.
RESERVED_FILES = 128
#: Connections the health listener keeps open at once (probes are few and short).
HEALTH_MAX_CONNECTIONS = 32
#: Listen backlog when descriptors are plentiful (uvicorn's default).
MAX_BACKLOG = 2048
#: Highest soft limit asked for when the hard limit is "unlimited".
_UNLIMITED_TARGET = 1 << 20


@dataclass(frozen=True)
class Limits:
    max_connections: int
    header_timeout: float
    keep_alive: int
    backlog: int = MAX_BACKLOG
    body_timeout: float = 30.0


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one if allowed; return the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as error:
            log.warning("could not raise the open-file limit", extra={"soft": soft, "hard": hard, "error": str(error)})
    return _UNLIMITED_TARGET if soft == resource.RLIM_INFINITY else soft


def fit_connections(requested: int, file_limit: int) -> tuple[int, int]:
    """(connection cap, listen backlog) that fit in ``file_limit`` with ``RESERVED_FILES`` spare.

    The event loop accepts up to ``backlog`` connections in one go before any of them is
    seen (and closed, past the cap), so a burst needs cap + backlog descriptors at once.
    """
    room = max(32, file_limit - RESERVED_FILES)
    backlog = min(MAX_BACKLOG, max(16, room // 4))
    fitted = min(requested, room - backlog)
    if fitted < requested:
        log.warning(
            "FIREBREAK_MAX_CONNECTIONS lowered to fit the open-file limit",
            extra={"requested": requested, "max_connections": fitted, "file_limit": file_limit},
        )
    return fitted, backlog


def server_config(app: ASGIApp, *, host: str, port: int, limits: Limits, lifespan: Literal["on", "off"] = "on") -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(
            max_connections=limits.max_connections, header_timeout=limits.header_timeout, body_timeout=limits.body_timeout
        ),
        # uvicorn answers 503 once connections or running requests reach this; the guarded
        # protocol already closes connections past the cap, so this bounds requests in flight.
        limit_concurrency=limits.max_connections + 1,
        timeout_keep_alive=limits.keep_alive,
        backlog=limits.backlog,
        timeout_graceful_shutdown=15,
        log_config=None,
        lifespan=lifespan,
        ws="none",
        # The client address is the connecting peer, never X-Forwarded-For: the web view
        # believes a sign-in proxy's user header only from the proxy's own address.
        proxy_headers=False,
    )


class PortUnavailable(Exception):
    """The address cannot be listened on (taken, or not this machine's): one line to say so."""


def listen(host: str, port: int, *, chosen_by: str) -> list[socket.socket]:
    """Sockets listening on ``host:port`` (every address the name has, as asyncio would),
    made before anything else starts.

    uvicorn binds only once the application has started, and a port already taken then
    ends the process with status 3 and a line in the log, after the start-up banner has
    told the user where to send requests. Listening first turns it into one clear line, which
    names the setting (``chosen_by``) that picks another port. ``listen()`` and not only
    ``bind()``: two processes may both bind a port with SO_REUSEADDR; only one may listen.
    """
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as error:
        raise PortUnavailable(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(addresses):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restarts reuse the port at once
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio does: IPv4 has its own socket
            sock.bind(address)
            sock.listen(MAX_BACKLOG)
    except OSError as error:
        for sock in sockets:
            sock.close()
        hint = f" (another process is listening there: stop it, or choose another port with {chosen_by})" if error.errno == errno.EADDRINUSE else ""
        raise PortUnavailable(f"cannot listen on {host}:{port}: {error.strerror or error}{hint}") from error
    return sockets


class _BoundServer(uvicorn.Server):
    """uvicorn on a socket bound beforehand (see :func:`listen`)."""

    def __init__(self, config: uvicorn.Config, bound: list[socket.socket]) -> None:
        super().__init__(config)
        self.bound = bound

    async def serve(self, sockets: Sequence[socket.socket] | None = None) -> None:
        await super().serve(sockets=list(sockets) if sockets else self.bound)


class _HealthServer(_BoundServer):
    """The health listener leaves SIGTERM to the main server, which stops it when done."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(main: uvicorn.Server, health: uvicorn.Server | None) -> None:
    if health is None:
        await main.serve()
        return
    health_task = asyncio.create_task(health.serve())
    try:
        await main.serve()
    finally:
        health.should_exit = True
        await health_task


def health_server(app: ASGIApp, bound: list[socket.socket], *, host: str, port: int, limits: Limits) -> uvicorn.Server:
    """The health listener alone (``firebreak worker``); SIGTERM is the caller's to handle."""
    health_limits = dataclasses.replace(limits, max_connections=HEALTH_MAX_CONNECTIONS, backlog=HEALTH_MAX_CONNECTIONS)
    return _HealthServer(server_config(app, host=host, port=port, limits=health_limits, lifespan="off"), bound)


def serve(
    app: ASGIApp,
    health_app: ASGIApp | None,
    *,
    host: str,
    port: int,
    bound: list[socket.socket],
    health: tuple[int, list[socket.socket]] | None,
    limits: Limits,
    supervisor: Supervisor | None = None,
) -> None:
    """Run the app on ``bound`` (and, with ``health``, the health app on its port and socket)
    until SIGTERM/SIGINT, or until one of ``supervisor``'s loops crashes (the caller then
    exits non-zero)."""
    file_limit = raise_open_file_limit()
    max_connections, backlog = fit_connections(limits.max_connections, file_limit)
    limits = dataclasses.replace(limits, max_connections=max_connections, backlog=backlog)
    health_port = health[0] if health else None
    log.info("connection limits", extra={"max_connections": max_connections, "backlog": backlog, "file_limit": file_limit, "health_port": health_port})
    main = _BoundServer(server_config(app, host=host, port=port, limits=limits), bound)
    if supervisor is not None:
        supervisor.on_failure = lambda: setattr(main, "should_exit", True)
    health_listener = None
    if health_app is not None and health is not None:
        health_listener = health_server(health_app, health[1], host=host, port=health[0], limits=limits)
    asyncio.run(_serve(main, health_listener))
