"""PostgreSQL goes away in the middle of ingest and comes back; Firebreak is not restarted.

What it proves, against a real ``firebreak serve`` and a private PostgreSQL cluster that is
stopped with ``pg_ctl stop -m immediate`` (connections drop as in a crash):
- while the database is away every webhook is answered 503 with ``Retry-After`` (so
  Alertmanager retries) and ``/readyz`` says 503; never a 500, never a hang;
- when it is back the same process recovers by itself (its pool re-connects);
- every webhook answered 2xx is stored exactly once, completely; a webhook answered 503 is
  stored either not at all or (commit landed, answer lost) completely, never in part; and
  re-sending the 503'd ones, as Alertmanager does, ends with each group stored once.

It brings its own PostgreSQL, so it runs in both suite modes (``--db=sqlite`` and
``--db=postgres``); it is skipped only when the PostgreSQL server binaries are missing.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from bot.store.db import make_engine
from bot.store.models import AlertRow, IncidentRow, TimelineRow
from tests.conftest import NO_PLAYBOOKS
from tests.fakes.alertmanager_payloads import alert, payload
from tests.faults.private_postgres import PrivatePostgres
from tests.faults.support import inbox_empty
from tests.support.processes import Server, firebreak_env
from tests.support.waiting import wait_until

TOKEN = "pg-restart-token"
ALERTS = 3


def webhook(index: int) -> dict[str, Any]:
    """A group of its own per webhook, so each 2xx is one whole incident to look for."""
    alerts = [alert({"alertname": "DiskFull", "severity": "high", "service": f"svc-{index}", "instance": f"db-{i}"}) for i in range(ALERTS)]
    return payload(alerts, group_by=("alertname", "service"))


class Ingest(threading.Thread):
    """Sends webhook after webhook, recording (index, status, Retry-After, phase)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.phase = "before"
        self.results: list[tuple[int, int | str, str | None, str]] = []
        self.halt = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        with httpx.Client(timeout=15, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            index = 0
            while not self.halt.is_set() and index < 2000:
                phase = self.phase
                try:
                    response = client.post(self.url + "/webhooks/alertmanager", json=webhook(index))
                    status: int | str = response.status_code
                    retry_after = response.headers.get("retry-after")
                except httpx.HTTPError as error:
                    status, retry_after = type(error).__name__, None
                with self._lock:
                    self.results.append((index, status, retry_after, phase))
                index += 1
                time.sleep(0.01)  # the stream's pace (a steady sender), not a wait for anything

    def count(self, status: int, phase: str | None = None) -> int:
        with self._lock:
            return sum(1 for _i, s, _r, p in self.results if s == status and (phase is None or p == phase))


def stored(engine: Engine) -> dict[str, dict[str, int]]:
    """service → {alerts, declared, alert_firing} counts for every stored incident."""
    with engine.connect() as connection:
        incidents = {row.id: row.labels.get("service") for row in connection.execute(select(IncidentRow.id, IncidentRow.labels))}
        alerts = Counter(dict(connection.execute(select(AlertRow.incident_id, func.count()).group_by(AlertRow.incident_id)).all()))
        kinds = connection.execute(select(TimelineRow.incident_id, TimelineRow.kind, func.count()).group_by(TimelineRow.incident_id, TimelineRow.kind))
        per_kind: dict[tuple[int, str], int] = {(i, k): int(c) for i, k, c in kinds}
    out: dict[str, dict[str, int]] = {}
    for number, service in incidents.items():
        assert service not in out, f"two incidents for {service}"
        out[str(service)] = {
            "alerts": int(alerts[number]),
            "declared": per_kind.get((number, "declared"), 0),
            "alert_firing": per_kind.get((number, "alert_firing"), 0),
        }
    return out


COMPLETE = {"alerts": ALERTS, "declared": 1, "alert_firing": ALERTS}


def ingested_count(server: Server, outcome: str) -> float:
    """How many queued webhooks the server's ingester applied with this outcome."""
    text = httpx.get(server.url + "/metrics", timeout=10).text
    found = re.search(r'firebreak_ingested_total\{outcome="' + re.escape(outcome) + r'",source="alertmanager"\} ([0-9.]+)', text)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def engine_for(private_postgres: PrivatePostgres) -> Iterator[Engine]:
    engine = make_engine(private_postgres.url, pool_size=2, max_overflow=0)
    yield engine
    engine.dispose()


@pytest.mark.private_postgres
def test_postgres_restart_during_ingest(private_postgres: PrivatePostgres, engine_for: Engine, servers: list[Server], tmp_path: Path) -> None:
    # The test checks every acknowledged group whole in its own incident after the outage; the
    # storm guard (on by default) would fold the later groups into a storm incident.
    env = firebreak_env(
        private_postgres.url, ALERTMANAGER_TOKEN=TOKEN, FIREBREAK_PLAYBOOKS_DIR=str(NO_PLAYBOOKS), FIREBREAK_STORM_THRESHOLD="0"
    )
    server = Server(env, log=tmp_path / "server.log")
    servers.append(server)
    ingest = Ingest(server.url)
    try:
        server.start()
        ingest.start()
        wait_until(lambda: ingest.count(202) >= 10, timeout=15, what="webhooks stored before the outage")

        ingest.phase = "down"
        private_postgres.stop("immediate")
        wait_until(lambda: ingest.count(503, "down") >= 5, timeout=15, what="503s while the database is away")
        ready = httpx.get(server.url + "/readyz", timeout=10)
        assert ready.status_code == 503 and "database" in ready.json()["error"]
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200  # alive, just not ready

        private_postgres.start()
        ingest.phase = "back"
        wait_until(lambda: httpx.get(server.url + "/readyz", timeout=10).status_code == 200, timeout=20, interval=0.2, what="ready again")
        wait_until(lambda: ingest.count(202, "back") >= 10, timeout=20, what="webhooks stored after the restart")
    finally:
        ingest.halt.set()
        ingest.join(timeout=20)
    assert server.process is not None and server.process.poll() is None, "Firebreak must survive on its own"

    statuses = Counter(status for _i, status, _r, _p in ingest.results)
    assert set(statuses) <= {202, 503}, f"only 202 or 503, never a 500 or a dropped connection: {statuses}"
    refused = [(i, retry_after) for i, status, retry_after, _p in ingest.results if status == 503]
    assert refused and all(retry_after and int(retry_after) > 0 for _i, retry_after in refused), refused
    acked = [i for i, status, _r, _p in ingest.results if status == 202]

    # The ingester got through the outage by itself: everything queued gets applied.
    wait_until(lambda: inbox_empty(engine_for), timeout=30, interval=0.2, what="the inbox applied after the restart")
    before = stored(engine_for)
    for index in acked:
        assert before.get(f"svc-{index}") == COMPLETE, (index, before.get(f"svc-{index}"))
    for index, _retry_after in refused:
        # Not stored, or (the commit landed but the answer was lost) stored whole.
        assert before.get(f"svc-{index}") in (None, COMPLETE), (index, before.get(f"svc-{index}"))
    assert set(before) <= {f"svc-{i}" for i, _s, _r, _p in ingest.results}

    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for index, _retry_after in refused:  # what Alertmanager does after a 503
            assert client.post(server.url + "/webhooks/alertmanager", json=webhook(index)).status_code == 202
        unchanged = ingested_count(server, "unchanged")
        for index in acked[:5]:  # and a re-sent 2xx changes nothing
            assert client.post(server.url + "/webhooks/alertmanager", json=webhook(index)).status_code == 202
    wait_until(lambda: inbox_empty(engine_for), timeout=30, interval=0.2, what="the re-sent webhooks applied")
    assert ingested_count(server, "unchanged") >= unchanged + 5

    after = stored(engine_for)
    assert after == {f"svc-{i}": COMPLETE for i, _s, _r, _p in ingest.results}
    print(f"\nPostgreSQL restart: {statuses[202]} × 202, {statuses[503]} × 503 (re-sent, each stored once); {len(after)} incidents")
