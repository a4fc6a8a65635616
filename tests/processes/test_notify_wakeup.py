"""On PostgreSQL the worker is woken by LISTEN/NOTIFY, not by its poll.

Each test sets both polls to ten minutes: anything the worker does within the tests'
deadlines (20 s) it was woken to do by a notification. PostgreSQL only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, func, select, text

from bot.ingest.inbox_writer import InboxWriter, Webhook
from bot.store.db import make_session_factory
from bot.store.models import IncidentRow, OutboxRow
from bot.store.notify import APPLICATION_NAME, INBOX_CHANNEL, conninfo
from tests.conftest import NO_PLAYBOOKS
from tests.fakes.alertmanager_payloads import firing_group
from tests.support.processes import Server, Worker, firebreak_env, run_firebreak
from tests.support.waiting import wait_until

TOKEN = "notify-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
URL = "/webhooks/alertmanager"
TEN_MINUTES = "600"


@pytest.fixture(autouse=True)
def postgres_only(db_backend: str) -> None:
    if db_backend != "postgres":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's (run with --db=postgres)")


@pytest.fixture
def env(db_url: str) -> dict[str, str]:
    return firebreak_env(
        db_url,
        ALERTMANAGER_TOKEN=TOKEN,
        FIREBREAK_PLAYBOOKS_DIR=str(NO_PLAYBOOKS),
        FIREBREAK_INBOX_POLL_SECONDS=TEN_MINUTES,
        FIREBREAK_OUTBOX_POLL_SECONDS=TEN_MINUTES,
    )


@pytest.fixture
def web_and_worker(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Server, Worker]]:
    web = Server(env, command="web", log=tmp_path / "web.log")
    worker = Worker(env, log=tmp_path / "worker.log")
    try:
        web.start()
        worker.start()
        # Both started and idle: the worker's first passes (at start, and on listening) are over.
        yield web, worker
    finally:
        worker.kill()
        web.kill()


def incidents(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(IncidentRow)).scalar_one())


def pending_outbox(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "pending")).scalar_one())


def listener_pids(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        query = text("SELECT pid FROM pg_stat_activity WHERE application_name = :name AND datname = current_database()")
        return [int(pid) for pid in connection.execute(query, {"name": APPLICATION_NAME}).scalars()]


def post(web: Server, name: str) -> None:
    answer = httpx.post(web.url + URL, json=firing_group(name, severity="critical"), headers=HEADERS, timeout=10)
    assert answer.status_code == 202, answer.text


def test_an_inbox_insert_notifies_on_commit(db_url: str, engine: Engine) -> None:
    async def listen() -> list[str]:
        async with await psycopg.AsyncConnection.connect(conninfo(engine.url), autocommit=True) as connection:
            await connection.execute(f'LISTEN "{INBOX_CHANNEL}"')
            writer = InboxWriter(make_session_factory(engine), max_rows=100)
            try:
                await writer.accept(Webhook("alertmanager", "g", "{}", datetime.now(UTC)))
            finally:
                writer.close()
            return [n.channel async for n in connection.notifies(timeout=10, stop_after=1)]

    assert asyncio.run(listen()) == [INBOX_CHANNEL]


def test_a_webhook_wakes_the_worker_long_before_its_poll(web_and_worker: tuple[Server, Worker], engine: Engine) -> None:
    web, _worker = web_and_worker
    post(web, "DiskFull")
    wait_until(lambda: incidents(engine) == 1, timeout=20, interval=0.2, what="the worker, woken by NOTIFY, to open the incident")


def test_a_message_queued_by_another_process_wakes_the_delivery_worker(web_and_worker: tuple[Server, Worker], env: dict[str, str], engine: Engine) -> None:
    declared = run_firebreak(["declare", "Checkout", "is", "down", "--sev", "P1", "--user", "alice"], env)
    assert declared.returncode == 0, declared.stderr
    assert pending_outbox(engine) > 0 or incidents(engine) == 1
    wait_until(lambda: pending_outbox(engine) == 0, timeout=20, interval=0.2, what="the worker, woken by NOTIFY, to deliver the announcement")


def test_the_listener_reconnects_after_its_connection_is_killed(web_and_worker: tuple[Server, Worker], engine: Engine) -> None:
    web, _worker = web_and_worker
    (before,) = wait_until(lambda: listener_pids(engine), timeout=20, interval=0.2, what="the worker's listening connection")  # type: ignore[misc]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before}).scalar_one()
    wait_until(lambda: listener_pids(engine) not in ([], [before]), timeout=20, interval=0.2, what="the listener to reconnect")
    post(web, "CPUHigh")
    wait_until(lambda: incidents(engine) == 1, timeout=20, interval=0.2, what="the reconnected listener to wake the worker")
