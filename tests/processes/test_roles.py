"""Which loops, routes and tuning each process role gets, and the in-process supervisor."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from bot.container import Container, build_container
from bot.roles import ALL_ROLES, Role
from bot.supervision import Supervisor
from bot.web import create_app, loops_for
from bot.worker import run_worker
from tests.conftest import make_settings

WEB = frozenset({Role.WEB})
WORKER = frozenset({Role.WORKER})


async def _socket(stop: asyncio.Event) -> None:
    await stop.wait()


def test_loops_are_picked_by_role(container: Container) -> None:
    container.web_background.append(_socket)
    worker_loops = loops_for(container, WORKER)
    assert container.worker.run in worker_loops and container.ingester.run in worker_loops
    assert all(loop in worker_loops for loop in container.background)  # scheduler, guided ticker
    assert container.background and _socket not in worker_loops
    web_loops = loops_for(container, WEB)
    assert _socket in web_loops and not set(web_loops) & set(worker_loops)
    assert set(web_loops) == set(container.web_background)  # Socket Mode, the web view's warm-up
    assert set(loops_for(container, ALL_ROLES)) == {*worker_loops, *web_loops}


def test_the_listener_runs_with_the_worker_on_postgresql_only(container: Container, db_backend: str) -> None:
    if db_backend == "postgres":
        assert container.listener is not None and container.listener.run in loops_for(container, WORKER)
    else:
        assert container.listener is None
    assert all(getattr(loop, "__self__", None) is not container.listener for loop in loops_for(container, WEB))


def test_web_serves_the_webhooks_and_a_worker_app_is_refused(container: Container) -> None:
    with TestClient(create_app(container, migrate=False, roles=WEB)) as client:
        assert client.post("/webhooks/alertmanager", json={}).status_code in (400, 401, 403, 422)
    with pytest.raises(ValueError, match="worker"):
        create_app(container, roles=WORKER)


def test_only_serve_paces_its_ingester(db_url: str, engine: Engine) -> None:
    def built(roles: frozenset[Role]) -> Container:
        return build_container(make_settings(db_url), transcript_stream=io.StringIO(), engine=engine, roles=roles)

    assert built(ALL_ROLES).ingester.pressure is not None
    assert built(WORKER).ingester.pressure is None
    assert built(WEB).ingester.pressure is None


def test_a_crashing_loop_stops_the_others_and_reports(caplog: pytest.LogCaptureFixture) -> None:
    stopped: list[str] = []

    async def patient(stop: asyncio.Event) -> None:
        await stop.wait()
        stopped.append("patient")

    async def broken(_stop: asyncio.Event) -> None:
        raise RuntimeError("disk on fire")

    async def scenario() -> Supervisor:
        told: list[bool] = []
        supervisor = Supervisor(on_failure=lambda: told.append(True))
        stop = asyncio.Event()
        await asyncio.wait_for(asyncio.gather(supervisor.supervise(patient, stop), supervisor.supervise(broken, stop)), timeout=10)
        assert told == [True]
        return supervisor

    caplog.set_level(logging.CRITICAL, logger="bot.supervision")
    supervisor = asyncio.run(scenario())
    assert isinstance(supervisor.failure, RuntimeError) and stopped == ["patient"]
    assert supervisor.failed_loop is not None and supervisor.failed_loop.endswith("broken")
    assert any("disk on fire" in str(record.__dict__.get("error")) for record in caplog.records)


def test_the_worker_main_returns_1_on_a_crash_and_0_when_stopped() -> None:
    async def broken(_stop: asyncio.Event) -> None:
        raise RuntimeError("boom")

    async def patient(stop: asyncio.Event) -> None:
        await stop.wait()

    async def stopped_soon() -> int:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_soon(stop.set)
        return await run_worker([patient], stop=stop)

    assert asyncio.run(asyncio.wait_for(run_worker([patient, broken]), timeout=20)) == 1
    assert asyncio.run(asyncio.wait_for(stopped_soon(), timeout=20)) == 0
