"""The SQLite file of a running ``firebreak serve`` is removed (or its whole folder is).

An open SQLite connection keeps writing to a removed file's inode, so without a check the
server answered every webhook 202 and ``/readyz`` 200 while storing into a file nobody can
ever open again: everything acknowledged vanished at the next restart. What it proves, on a
real process: once the file is gone a webhook gets 503 with ``Retry-After`` (the sender keeps
it) and never a 2xx, ``/readyz`` says 503 while ``/healthz`` stays 200, the process keeps
running, and the log says what happened.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.conftest import NO_PLAYBOOKS
from tests.fakes.alertmanager_payloads import alert, payload
from tests.support.processes import Server, firebreak_env

TOKEN = "sqlite-gone-token"


def webhook(index: int) -> dict[str, object]:
    return payload([alert({"alertname": "DiskFull", "severity": "high", "service": f"svc-{index}"})], group_by=("alertname", "service"))


@pytest.mark.parametrize("removed", ["file", "folder"])
def test_webhooks_refused_once_the_sqlite_file_is_removed(removed: str, servers: list[Server], tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    database = folder / "firebreak.db"
    env = firebreak_env(f"sqlite:///{database}", ALERTMANAGER_TOKEN=TOKEN, FIREBREAK_PLAYBOOKS_DIR=str(NO_PLAYBOOKS))
    server = Server(env, log=tmp_path / "server.log")
    servers.append(server)
    server.start()
    with httpx.Client(base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert client.post("/webhooks/alertmanager", json=webhook(0)).status_code == 202

        if removed == "folder":
            shutil.rmtree(folder)
        else:
            for path in folder.glob("firebreak.db*"):
                path.unlink()

        answers = [client.post("/webhooks/alertmanager", json=webhook(index)) for index in range(1, 6)]
        assert [answer.status_code for answer in answers] == [503] * 5, [(a.status_code, a.text) for a in answers]
        assert all(int(answer.headers["retry-after"]) > 0 for answer in answers)
        ready = client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert "was removed" in ready.json()["error"]
        assert client.get("/healthz").status_code == 200
    assert server.process is not None and server.process.poll() is None
    assert "database file gone" in (tmp_path / "server.log").read_text()
