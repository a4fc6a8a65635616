"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.http.responses import json_error
from bot.metrics import Metrics
from bot.store.db import ping, write_problem
from bot.store.migrate import is_at_head


def health_routes(engine: Engine, metrics: Metrics, notes: Sequence[Callable[[], dict[str, Any]]] = ()) -> list[Route]:
    """``notes`` add to a ready answer what an operator must know but that does not make the
    process unready (it still accepts and stores alerts), such as a paused Slack delivery."""

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        def check() -> str | None:
            try:
                problem = write_problem(engine)  # first: a removed SQLite file fails the ping too
                if problem is not None:
                    return problem
                ping(engine)
            except Exception as error:  # any driver error means "not ready"
                return f"database unreachable: {type(error).__name__}"
            if not is_at_head(engine):
                return "database schema is not migrated (run: firebreak db upgrade)"
            return None

        def noted() -> dict[str, Any]:
            answer: dict[str, Any] = {"status": "ready"}
            for note in notes:
                answer.update(note())
            return answer

        problem = await run_in_threadpool(check)
        if problem:
            return json_error(503, problem)
        return JSONResponse(await run_in_threadpool(noted))

    async def metrics_endpoint(_request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
