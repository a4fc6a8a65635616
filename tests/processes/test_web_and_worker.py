"""``firebreak web`` and ``firebreak worker`` as real processes: who does what, and refusals.

The split needs PostgreSQL (SQLite has one writer and is owned by one process), so the
tests that run both processes are PostgreSQL-only; the refusals run on SQLite.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from bot.store.models import InboxRow, IncidentRow
from tests.conftest import NO_PLAYBOOKS
from tests.fakes.alertmanager_payloads import firing_group
from tests.support.crashing_loop import MESSAGE
from tests.support.ports import free_port
from tests.support.processes import ROOT, Server, Worker, firebreak_env, run_firebreak
from tests.support.waiting import wait_until

TOKEN = "split-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
URL = "/webhooks/alertmanager"


@pytest.fixture
def postgres_only(db_backend: str) -> None:
    if db_backend != "postgres":
        pytest.skip("web and worker apart need PostgreSQL (run with --db=postgres)")


@pytest.fixture
def env(db_url: str) -> dict[str, str]:
    return firebreak_env(db_url, ALERTMANAGER_TOKEN=TOKEN, FIREBREAK_PLAYBOOKS_DIR=str(NO_PLAYBOOKS), FIREBREAK_OUTBOX_POLL_SECONDS="0.2")


@pytest.fixture
def processes() -> Iterator[list[Server | Worker]]:
    started: list[Server | Worker] = []
    yield started
    for process in started:
        process.kill()


def incidents(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(IncidentRow.title).order_by(IncidentRow.id)).scalars())


def inbox_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(InboxRow)).scalar_one())


@pytest.mark.parametrize("command", ["web", "worker"])
def test_web_and_worker_refuse_sqlite_in_one_line(command: str, tmp_path: Path) -> None:
    done = run_firebreak([command], firebreak_env(f"sqlite:///{tmp_path / 'firebreak.db'}"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"firebreak {command}: DATABASE_URL is SQLite")
    assert "PostgreSQL" in lines[0] or "postgresql" in lines[0]
    assert "firebreak serve" in lines[0]
    assert not (tmp_path / "firebreak.db").exists()  # refused before touching anything


def test_procfile_runs_web_and_worker() -> None:
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert lines == {"web": "firebreak web --host 0.0.0.0 --port $PORT", "worker": "firebreak worker"}


def test_a_webhook_to_web_is_applied_by_the_worker(postgres_only: None, env: dict[str, str], engine: Engine, processes: list[Server | Worker], tmp_path: Path) -> None:
    web = Server(env, command="web", log=tmp_path / "web.log")
    processes.append(web.start())
    worker = Worker(env, log=tmp_path / "worker.log")
    processes.append(worker.start())
    answer = httpx.post(web.url + URL, json=firing_group("DiskFull", severity="critical"), headers=HEADERS, timeout=10)
    assert answer.status_code == 202, answer.text
    wait_until(lambda: incidents(engine), timeout=20, interval=0.2, what="the worker to open the incident")
    assert len(incidents(engine)) == 1 and "DiskFull" in incidents(engine)[0]
    wait_until(lambda: inbox_rows(engine) == 0, timeout=20, interval=0.2, what="the inbox to drain")
    # The worker serves health and metrics on its own listener, and nothing else.
    assert httpx.get(worker.health_url + "/metrics", timeout=5).status_code == 200
    assert httpx.post(worker.health_url + URL, json={}, headers=HEADERS, timeout=5).status_code == 404
    code, _out, _err = worker.terminate()
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
    code, _out, _err = web.terminate()
    assert code in (0, -15)  # uvicorn re-raises SIGTERM once it has shut down cleanly


def test_web_alone_queues_but_does_not_apply(postgres_only: None, env: dict[str, str], engine: Engine, processes: list[Server | Worker], tmp_path: Path) -> None:
    web = Server({**env, "FIREBREAK_INBOX_POLL_SECONDS": "0.1"}, command="web", log=tmp_path / "web.log")
    processes.append(web.start())
    for name in ("DiskFull", "CPUHigh", "MemoryLow"):
        answer = httpx.post(web.url + URL, json=firing_group(name, severity="critical"), headers=HEADERS, timeout=10)
        assert answer.status_code == 202, answer.text
    assert inbox_rows(engine) == 3  # answered only once queued
    # Web has no ingester: with a 0.1 s poll one would have applied them long before its
    # metrics are scraped; the counters it serves show nothing ingested.
    metrics = httpx.get(web.url + "/metrics", timeout=5).text
    assert "firebreak_ingested_total{" not in metrics
    assert inbox_rows(engine) == 3 and incidents(engine) == []
    # A worker started afterwards applies what web queued.
    processes.append(Worker(env, log=tmp_path / "worker.log").start())
    wait_until(lambda: len(incidents(engine)) == 3, timeout=20, interval=0.2, what="the worker to apply the queued webhooks")


def test_worker_alone_does_not_serve_the_webhook_port(postgres_only: None, env: dict[str, str], processes: list[Server | Worker], tmp_path: Path) -> None:
    port = free_port()
    worker = Worker({**env, "PORT": str(port)}, log=tmp_path / "worker.log")
    processes.append(worker.start())
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"http://127.0.0.1:{port}{URL}", json={}, headers=HEADERS, timeout=5)
    assert httpx.get(worker.health_url + "/healthz", timeout=5).status_code == 200


def _crashing(loop: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "tests" / "support" / "crashing_loop.py"), loop, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_exits_non_zero_when_a_loop_crashes(env: dict[str, str]) -> None:
    done = _crashing("ingester", ["serve", "--host", "127.0.0.1", "--port", str(free_port())], env)
    assert done.returncode == 1, done
    output = done.stdout + done.stderr
    assert "background loop crashed" in output and MESSAGE in output
    assert "bot.ingest.ingester.Ingester._crash" in output


def test_worker_exits_non_zero_when_a_loop_crashes(postgres_only: None, env: dict[str, str]) -> None:
    done = _crashing("delivery", ["worker"], {**env, "FIREBREAK_HEALTH_PORT": str(free_port())})
    assert done.returncode == 1, done
    output = done.stdout + done.stderr
    assert "background loop crashed" in output and MESSAGE in output
    assert "bot.delivery.worker.DeliveryWorker._crash" in output
