"""PostgreSQL stops answering without closing anything (frozen with SIGSTOP: a hung host, a
partition without resets), under a running ``firebreak web``, then resumes.

Before, every webhook request waited for the database as long as it hung: senders hit their
own timeouts and the server's connections filled with requests nobody answered. What it
proves, on a real process and a private cluster: while frozen a webhook is answered 503
with ``Retry-After`` within the store timeout (and the next ones at once, not queued behind
the stuck one), ``/healthz`` stays 200; once the database resumes webhooks get 202 again
without a restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.ingest.inbox_writer import STORE_TIMEOUT_SECONDS
from tests.conftest import NO_PLAYBOOKS
from tests.fakes.alertmanager_payloads import alert, payload
from tests.faults.private_postgres import PrivatePostgres
from tests.support.processes import Server, firebreak_env
from tests.support.waiting import wait_until

TOKEN = "pg-frozen-token"


def webhook(index: int) -> dict[str, object]:
    return payload([alert({"alertname": "DiskFull", "severity": "high", "service": f"svc-{index}"})], group_by=("alertname", "service"))


def cluster_pids(cluster: PrivatePostgres) -> list[int]:
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False).stdout.split()
    return [postmaster, *map(int, children)]


@pytest.fixture
def freezer(private_postgres: PrivatePostgres) -> Iterator[list[int]]:
    """PIDs the test froze; always resumed at teardown, or the cluster could not stop."""
    frozen: list[int] = []
    yield frozen
    for pid in frozen:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


@pytest.mark.private_postgres
def test_webhooks_get_503_in_bounded_time_while_postgres_hangs(
    private_postgres: PrivatePostgres, freezer: list[int], servers: list[Server], tmp_path: Path
) -> None:
    env = firebreak_env(private_postgres.url, ALERTMANAGER_TOKEN=TOKEN, FIREBREAK_PLAYBOOKS_DIR=str(NO_PLAYBOOKS))
    server = Server(env, log=tmp_path / "web.log", command="web")
    servers.append(server)
    server.start()
    limit = STORE_TIMEOUT_SECONDS + 5
    with httpx.Client(base_url=server.url, timeout=limit + 20, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert client.post("/webhooks/alertmanager", json=webhook(0)).status_code == 202

        freezer.extend(cluster_pids(private_postgres))
        for pid in freezer:
            os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        first = client.post("/webhooks/alertmanager", json=webhook(1))
        waited = time.monotonic() - started
        assert first.status_code == 503 and int(first.headers["retry-after"]) > 0, first.text
        assert waited < limit, waited
        started = time.monotonic()
        second = client.post("/webhooks/alertmanager", json=webhook(2))
        assert second.status_code == 503 and time.monotonic() - started < 2, "refused at once while the writer is stuck"
        assert client.get("/healthz").status_code == 200

        for pid in freezer:
            os.kill(pid, signal.SIGCONT)
        freezer.clear()
        wait_until(lambda: client.post("/webhooks/alertmanager", json=webhook(3)).status_code == 202, timeout=30, interval=0.5, what="webhooks stored again")
    assert server.process is not None and server.process.poll() is None
