"""ASGI app assembly: routes from each adapter, the body limit, and the background loops.

Which loops and routes run is chosen by process role (bot/roles.py): ``firebreak serve``
runs both roles in one process, ``firebreak web`` the web role here, ``firebreak worker``
the worker role's loops from bot/worker.py with :func:`loops_for`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from bot.container import Container
from bot.http.headers import HeaderCheck
from bot.http.health import health_routes
from bot.http.limits import BodySizeLimit
from bot.http.responses import json_error
from bot.http.security_headers import SecurityHeaders
from bot.roles import ALL_ROLES, Role
from bot.store.migrate import upgrade
from bot.supervision import Supervisor

log = logging.getLogger(__name__)

BackgroundTask = Callable[[asyncio.Event], Awaitable[None]]


def loops_for(container: Container, roles: frozenset[Role] | set[Role], *, run_worker: bool = True) -> list[BackgroundTask]:
    """The loops a process of these roles runs.

    web: Socket Mode (when configured). worker: the delivery worker and the ingester with, on
    PostgreSQL, the listener that wakes them (unless ``run_worker`` is false, for tests that
    drive them by hand), the escalation scheduler and the guided-steps ticker.
    """
    loops: list[BackgroundTask] = []
    if Role.WORKER in roles:
        if run_worker:
            loops += [container.worker.run, container.ingester.run]
            if container.listener is not None:
                loops.append(container.listener.run)
        loops += container.background
    if Role.WEB in roles:
        loops += container.web_background
    return loops


def create_app(
    container: Container,
    *,
    migrate: bool = True,
    background: list[BackgroundTask] | None = None,
    run_worker: bool = True,
    roles: frozenset[Role] = ALL_ROLES,
    supervisor: Supervisor | None = None,
) -> Starlette:
    """The HTTP app of ``serve`` (``roles`` = both) or ``web`` (``{Role.WEB}``).

    Its loops run under ``supervisor``: one that raises is logged and stops the server (see
    bot/supervision.py).
    """
    if Role.WEB not in roles:
        raise ValueError("the HTTP app serves the web role; run the worker role with bot.worker")
    tasks: list[BackgroundTask] = [*loops_for(container, roles, run_worker=run_worker), *(background or [])]
    supervision = supervisor or Supervisor()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if migrate:
            await asyncio.to_thread(upgrade, container.engine)
        stop = asyncio.Event()
        running = [asyncio.create_task(supervision.supervise(task, stop)) for task in tasks]
        log.info("firebreak started", extra={"local_mode": container.local_mode, "roles": sorted(roles)})
        try:
            yield
        finally:
            # SIGTERM: uvicorn stops accepting, finishes requests, then we stop the loops and
            # let in-flight deliveries finish (their rows stay leased and retry otherwise).
            stop.set()
            _done, pending = await asyncio.wait(running, timeout=10) if running else (set(), set())
            for task in pending:
                task.cancel()
            await asyncio.to_thread(container.inbox.close)
            log.info("firebreak stopped")

    return Starlette(
        routes=[*health_routes(container.engine, container.metrics, container.readiness_notes), *container.routes],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(HeaderCheck),
            Middleware(BodySizeLimit, max_bytes=container.settings.max_body_bytes),
        ],
        lifespan=lifespan,
        exception_handlers=_JSON_ERRORS,
    )


def create_health_app(container: Container) -> Starlette:
    """Only /healthz, /readyz and /metrics, for the separate health listener.

    It runs next to the main app in the same process (no lifespan of its own), so it reports
    on the same database and counters while a flood on the main port cannot reach it.
    """
    return Starlette(
        routes=health_routes(container.engine, container.metrics, container.readiness_notes),
        middleware=[Middleware(SecurityHeaders), Middleware(HeaderCheck), Middleware(BodySizeLimit, max_bytes=1024)],
        exception_handlers=_JSON_ERRORS,
    )


async def _not_found(_request: Request, _exc: Exception) -> Response:
    return json_error(404, "not found")


async def _method_not_allowed(_request: Request, _exc: Exception) -> Response:
    return json_error(405, "method not allowed")


_JSON_ERRORS: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {404: _not_found, 405: _method_not_allowed}
