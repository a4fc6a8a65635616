"""PostgreSQL turns read-only under a running ``firebreak web`` and back.

What a failover can do at 3 a.m.: the URL still names the old primary, now a standby, or
``default_transaction_read_only`` is switched on for maintenance. ``SELECT 1`` works as before,
so ``/readyz`` answered 200 while every webhook got 503: the router kept sending alerts to a
process that could store none of them. What it proves, on a real process and a private
cluster (``ALTER SYSTEM`` there, never on the shared server): while the database is read-only
webhooks get 503 and ``/readyz`` 503 naming the cause (``/healthz`` 200); once it is writable
again both are back without a restart.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import NO_PLAYBOOKS
from tests.fakes.alertmanager_payloads import alert, payload
from tests.faults.private_postgres import PrivatePostgres
from tests.support.processes import Server, firebreak_env
from tests.support.waiting import wait_until

TOKEN = "pg-read-only-token"


def webhook(index: int) -> dict[str, object]:
    return payload([alert({"alertname": "DiskFull", "severity": "high", "service": f"svc-{index}"})], group_by=("alertname", "service"))


def set_read_only(cluster: PrivatePostgres, on: bool) -> None:
    """For every session at once, as a failover to a standby would be (``ALTER SYSTEM`` + reload)."""
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres", autocommit=True) as connection:
        if on:
            connection.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        else:
            connection.execute("ALTER SYSTEM RESET default_transaction_read_only")
        connection.execute("SELECT pg_reload_conf()")


@pytest.mark.private_postgres
def test_readiness_says_so_while_postgres_is_read_only(private_postgres: PrivatePostgres, servers: list[Server], tmp_path: Path) -> None:
    env = firebreak_env(private_postgres.url, ALERTMANAGER_TOKEN=TOKEN, FIREBREAK_PLAYBOOKS_DIR=str(NO_PLAYBOOKS))
    server = Server(env, log=tmp_path / "web.log", command="web")
    servers.append(server)
    server.start()
    with httpx.Client(base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert client.post("/webhooks/alertmanager", json=webhook(0)).status_code == 202

        set_read_only(private_postgres, True)
        wait_until(lambda: client.post("/webhooks/alertmanager", json=webhook(1)).status_code == 503, timeout=10, interval=0.2, what="webhooks refused")
        ready = client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert "read-only" in ready.json()["error"]
        assert client.get("/healthz").status_code == 200

        set_read_only(private_postgres, False)
        wait_until(lambda: client.get("/readyz").status_code == 200, timeout=10, interval=0.2, what="ready again")
        assert client.post("/webhooks/alertmanager", json=webhook(2)).status_code == 202
    assert server.process is not None and server.process.poll() is None
