"""The ASGI app in-process: health, readiness, metrics, limits and error shapes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.container import Container, build_container
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.store.db import make_engine
from bot.web import create_app, create_health_app
from tests.conftest import make_settings


def test_health_ready_and_metrics(container: Container) -> None:
    container.service.declare(title="x", severity=Severity.P1, actor="a", source=Source.CONSOLE)
    with TestClient(create_app(container, run_worker=False)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 200
        metrics = client.get("/metrics").text
    assert 'firebreak_incidents{severity="P1",status="triggered"} 1.0' in metrics
    assert 'firebreak_outbox_depth{status="pending"}' in metrics
    assert 'firebreak_outbox_pending{severity="P1"}' in metrics


def test_metrics_of_queues_are_there_and_zero_while_nothing_waits(container: Container) -> None:
    """An alert or a dashboard on a queue must read 0 when idle, not "no data"."""
    with TestClient(create_app(container, run_worker=False)) as client:
        metrics = client.get("/metrics").text
    for level in Severity:
        assert f'firebreak_outbox_pending{{severity="{level.value}"}} 0.0' in metrics
    for status in ("pending", "in_flight", "failed"):
        assert f'firebreak_outbox_depth{{status="{status}"}} 0.0' in metrics
    for state in ("pending", "dead"):
        assert f'firebreak_inbox_depth{{state="{state}"}} 0.0' in metrics


def test_readyz_is_503_when_not_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    built = build_container(make_settings(url), transcript_stream=None)
    with TestClient(create_app(built, migrate=False, run_worker=False)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "not migrated" in response.json()["error"]


def test_readyz_is_503_when_database_unreachable(container: Container) -> None:
    unreachable = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    container.engine = unreachable
    with TestClient(create_app(container, migrate=False, run_worker=False)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "unreachable" in response.json()["error"]
    assert response.headers["retry-after"] == "5"


def test_oversized_bodies_get_413(container: Container) -> None:
    async def echo(request: Request) -> Response:
        return Response(str(len(await request.body())))

    app = create_app(container, run_worker=False)
    app.router.routes.append(Route("/echo", echo, methods=["POST"]))
    with TestClient(app) as client:
        assert client.post("/echo", content=b"x" * 1000).text == "1000"
        response = client.post("/healthz", content=b"x" * (container.settings.max_body_bytes + 1))
        assert response.status_code == 413
        assert "larger than" in response.json()["error"]

        def chunks():  # no Content-Length: counted as it streams
            for _ in range(1100):
                yield b"y" * 1024

        assert client.post("/echo", content=chunks()).status_code == 413


def test_unknown_paths_answer_json(container: Container) -> None:
    with TestClient(create_app(container, run_worker=False)) as client:
        response = client.get("/nope")
        assert response.status_code == 404 and response.json() == {"error": "not found"}
        assert client.post("/healthz").status_code == 405


def test_migrations_leave_one_head(engine) -> None:
    from bot.store.migrate import heads

    assert len(heads()) == 1
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == heads()[0]


def test_health_app_answers_health_only(container: Container) -> None:
    """The app on FIREBREAK_HEALTH_PORT: health, readiness and metrics; nothing else."""
    with TestClient(create_health_app(container)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ready"}
        assert "firebreak_inbox_capacity 100000.0" in client.get("/metrics").text
        refused = client.post("/webhooks/alertmanager", json={})
        assert refused.status_code == 404 and refused.json() == {"error": "not found"}
