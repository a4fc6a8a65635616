"""Web and worker apart on PostgreSQL: pickup latency, and whether the tuning still pays.

1. Pickup latency: one webhook at a time (at random moments, so the poll's phase is
   random) to ``firebreak web``; the time from its 202 answer until ``firebreak worker`` has
   opened its incident. With LISTEN/NOTIFY (the default) and with polling only
   (``FIREBREAK_PG_NOTIFY=false``, default polls); and, for comparison, ``firebreak serve``
   alone (the ingester woken in-process, no hop between processes).
2. Tuning: bench/ingest_bench.py's measurement (throughput, then latency at a fixed rate,
   then time until applied) against web + worker, with the tuning as shipped (bot/tuning.py),
   with ``serve``'s knobs in both processes, and with none.

    python -m bench.split_bench [--pickups 40] [--requests 2000] [--concurrency 32] [--rate 200]
                                [--duration 10] [--parts pickup,tuning]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid

import httpx
from sqlalchemy import create_engine, text

from bench.ingest_bench import measure, postgres_database, settle_inbox
from bench.load import ALERTMANAGER_AUTH, ALERTMANAGER_TOKEN, Process, free_port
from bench.scratch_db import drop_postgres
from tests.fakes.alertmanager_payloads import firing_group


def web_and_worker(database_url: str, env: dict[str, str], mode: str = "shipped") -> tuple[Process, Process]:
    base = {
        "DATABASE_URL": database_url,
        "ALERTMANAGER_TOKEN": ALERTMANAGER_TOKEN,
        "FIREBREAK_LOG_LEVEL": "WARNING",
        "FIREBREAK_STORM_THRESHOLD": "0",
        **env,
    }
    web_port, health_port = free_port(), free_port()
    web = Process([sys.executable, "-m", "bench.tuned_main", mode, "web", "--host", "127.0.0.1", "--port", str(web_port)], base, web_port, "/readyz")
    web.wait_ready()
    worker = Process([sys.executable, "-m", "bench.tuned_main", mode, "worker"], {**base, "FIREBREAK_HEALTH_PORT": str(health_port)}, health_port, "/readyz")
    worker.wait_ready()
    return web, worker


def serve_alone(database_url: str) -> tuple[Process, None]:
    port = free_port()
    env = {"DATABASE_URL": database_url, "ALERTMANAGER_TOKEN": ALERTMANAGER_TOKEN, "FIREBREAK_LOG_LEVEL": "WARNING", "FIREBREAK_STORM_THRESHOLD": "0"}
    serve = Process([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)], env, port, "/readyz")
    serve.wait_ready()
    return serve, None


def pickups(database_url: str, env: dict[str, str] | None, count: int) -> list[float]:
    """``env`` None: ``firebreak serve`` alone (woken in-process), for comparison."""
    web, worker = serve_alone(database_url) if env is None else web_and_worker(database_url, env)
    engine = create_engine(database_url)
    latencies: list[float] = []
    run = uuid.uuid4().hex[:6]
    try:
        with engine.connect() as connection:
            connection.execute(text("COMMIT"))
            start = int(connection.execute(text("SELECT count(*) FROM incidents")).scalar_one())
        for index in range(count):
            time.sleep(random.uniform(0.0, 1.3))
            body = firing_group(f"Pickup{run}x{index}", severity="critical")
            answer = httpx.post(web.url + "/webhooks/alertmanager", json=body, headers=ALERTMANAGER_AUTH, timeout=10)
            answered = time.perf_counter()
            assert answer.status_code == 202, answer.text
            with engine.connect() as connection:
                while int(connection.execute(text("SELECT count(*) FROM incidents")).scalar_one()) < start + index + 1:
                    connection.execute(text("COMMIT"))
                    if time.perf_counter() - answered > 30:
                        raise TimeoutError("incident not opened within 30 s")
                    time.sleep(0.002)
            latencies.append(time.perf_counter() - answered)
    finally:
        engine.dispose()
        if worker is not None:
            worker.stop()
        web.stop()
    return latencies


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return f"p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms (n={len(ordered)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pickups", type=int, default=40)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--parts", default="pickup,tuning")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if "pickup" in parts:
        print("== pickup latency: webhook answered by web -> incident opened by worker")
        modes: tuple[tuple[str, dict[str, str] | None], ...] = (("NOTIFY", {}), ("polling", {"FIREBREAK_PG_NOTIFY": "false"}), ("serve", None))
        for label, env in modes:
            database = postgres_database()
            if database is None:
                return 1
            try:
                print(f"  {label:<8} {summary(pickups(database[1], env, args.pickups))}")
            finally:
                drop_postgres(database[0])
    if "tuning" in parts:
        print("== web + worker tuning (ingest_bench's measurement against web)")
        for mode in ("shipped", "serve", "none"):
            database = postgres_database()
            if database is None:
                return 1
            web, worker = web_and_worker(database[1], {}, mode)
            try:
                measure(web.url + "/webhooks/alertmanager", args, mode, settle_inbox(database[1]))
            finally:
                worker.stop()
                web.stop()
                drop_postgres(database[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
