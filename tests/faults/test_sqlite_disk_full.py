"""The disk under a running ``firebreak serve``'s SQLite file fills up, then gets room again.

A full disk fails every write ("database or disk is full") while reads still work, so
``/readyz`` answered 200 while every webhook got 503. What it proves, on a real process with
its database on a tiny tmpfs (mounting one needs root; skipped otherwise): once webhooks are
refused ``/readyz`` says 503 and names the full disk (``/healthz`` 200, the process keeps
running, and every webhook answered 202 is stored); with room again both recover without a
restart. The readiness rule alone is also checked without root, on a faked ``statvfs``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import func, select

from bot.store.db import make_engine, write_problem
from bot.store.models import AlertRow
from bot.store.sqlite_file import MIN_FREE_BYTES
from tests.conftest import NO_PLAYBOOKS
from tests.fakes.alertmanager_payloads import alert, payload
from tests.faults.support import inbox_empty
from tests.support.processes import Server, firebreak_env
from tests.support.waiting import wait_until

TOKEN = "sqlite-full-token"


def webhook(index: int) -> dict[str, object]:
    # A long annotation so the small disk fills after a few dozen webhooks.
    labels = {"alertname": "DiskFull", "severity": "high", "service": f"svc-{index}"}
    return payload([alert(labels, {"description": "x" * 20_000})], group_by=("alertname", "service"))


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs, unmounted at teardown."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def test_readiness_says_so_while_the_sqlite_disk_is_full(tiny_disk: Path, servers: list[Server], tmp_path: Path) -> None:
    url = f"sqlite:///{tiny_disk / 'firebreak.db'}"
    env = firebreak_env(url, ALERTMANAGER_TOKEN=TOKEN, FIREBREAK_PLAYBOOKS_DIR=str(NO_PLAYBOOKS), FIREBREAK_STORM_THRESHOLD="0")
    server = Server(env, log=tmp_path / "server.log")
    servers.append(server)
    server.start()
    accepted = 0
    with httpx.Client(base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for index in range(400):
            status = client.post("/webhooks/alertmanager", json=webhook(index)).status_code
            if status == 503:
                break
            assert status == 202
            accepted += 1
        else:
            pytest.fail("the tiny disk never filled up")
        ready = client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert "full" in ready.json()["error"]
        assert client.get("/healthz").status_code == 200

        subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
        wait_until(lambda: client.get("/readyz").status_code == 200, timeout=10, interval=0.2, what="ready again")
        assert client.post("/webhooks/alertmanager", json=webhook(accepted)).status_code == 202
    assert server.process is not None and server.process.poll() is None
    engine = make_engine(url)
    try:
        wait_until(lambda: inbox_empty(engine), timeout=20, interval=0.2, what="the accepted webhooks applied")
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(AlertRow)).scalar_one() == accepted + 1
    finally:
        engine.dispose()


def test_a_full_disk_under_the_sqlite_file_is_a_write_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'firebreak.db'}")
    try:
        assert write_problem(engine) is None
        full = SimpleNamespace(f_bavail=10, f_frsize=4096)
        monkeypatch.setattr(os, "statvfs", lambda _path: full)
        assert 10 * 4096 < MIN_FREE_BYTES
        problem = write_problem(engine)
        assert problem is not None and "full" in problem
    finally:
        engine.dispose()
