"""Does a second worker help? A backlog drained by one, then by two ``firebreak worker``.

``firebreak web`` on PostgreSQL queues ``--requests`` webhooks with no worker running (every
group already has its incident: a warm-up of ``--warmup`` webhooks, 2 per group, applied first); then
``--workers`` workers start together and the clock runs from when all answer /readyz until
the inbox is empty. Each round runs every worker count, in the order given, so a busy
moment of the machine hits them alike. Prints the rate per round and the median per count,
and checks that every webhook's 10 alerts were stored (exit 1 if any is missing).

Every webhook is bench/ingest_bench.py's: 10 new alerts, 200 groups. Loopback only. On a
machine with few cores, web, workers and PostgreSQL share them: the figure says whether
workers get in each other's way, not how far they scale on a real deployment.

    python -m bench.workers_bench [--requests 2000] [--workers 1,2] [--rounds 2] [--warmup 400]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid

from sqlalchemy import Engine, create_engine, text

from bench.ingest_bench import ALERTS_PER_WEBHOOK, postgres_database, webhook
from bench.load import ALERTMANAGER_AUTH, closed_loop, firebreak_server, firebreak_worker
from bench.scratch_db import drop_postgres


def counts(engine: Engine) -> tuple[int, int]:
    """(webhooks queued, alerts stored)."""
    with engine.connect() as connection:
        queued = int(connection.execute(text("SELECT count(*) FROM inbox WHERE dead_at IS NULL")).scalar_one())
        alerts = int(connection.execute(text("SELECT count(*) FROM alerts")).scalar_one())
    return queued, alerts


def wait_empty(engine: Engine, timeout: float = 600.0) -> float:
    started = time.perf_counter()
    while counts(engine)[0]:
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"inbox not empty after {timeout:.0f} s")
        time.sleep(0.02)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=400, help="webhooks applied before the rounds (400: 2 per group)")
    args = parser.parse_args()
    worker_counts = [int(count) for count in args.workers.split(",")]
    created = postgres_database()
    if created is None:
        return 1
    name, url = created
    env = {"DATABASE_URL": url, "FIREBREAK_STORM_THRESHOLD": "0"}
    web = firebreak_server(env, command="web")
    engine = create_engine(url)
    rates: dict[int, list[float]] = {count: [] for count in worker_counts}
    missing = 0
    try:
        web.wait_ready()
        endpoint = web.url + "/webhooks/alertmanager"
        warm = uuid.uuid4().hex[:6]
        first = firebreak_worker(env)
        first.wait_ready()
        asyncio.run(closed_loop(endpoint, [webhook(i, warm) for i in range(args.warmup)], concurrency=8, headers=ALERTMANAGER_AUTH))
        wait_empty(engine)
        first.stop()
        for round_number in range(1, args.rounds + 1):
            for count in worker_counts:
                run = uuid.uuid4().hex[:6]
                asyncio.run(closed_loop(endpoint, [webhook(i, run) for i in range(args.requests)], concurrency=16, headers=ALERTMANAGER_AUTH))
                queued, alerts_before = counts(engine)
                workers = [firebreak_worker(env) for _ in range(count)]
                try:
                    for worker in workers:
                        worker.wait_ready()
                    seconds = wait_empty(engine)
                finally:
                    for worker in workers:
                        worker.stop()
                stored = counts(engine)[1] - alerts_before
                missing += queued * ALERTS_PER_WEBHOOK - stored
                rates[count].append(queued / seconds)
                print(f"  round {round_number}, {count} worker(s): {queued} webhooks in {seconds:.2f} s = {queued / seconds:.0f}/s; alerts stored {stored}", flush=True)
    finally:
        web.stop()
        engine.dispose()
        drop_postgres(name)
    load = os.getloadavg()[0]
    print(f"\n{args.requests} webhooks × {ALERTS_PER_WEBHOOK} alerts per round; {os.cpu_count()} CPUs, load average {load:.1f} at the end")
    for count in worker_counts:
        print(f"{count} worker(s): median {statistics.median(rates[count]):.0f} webhooks/s applied (rounds: {', '.join(f'{rate:.0f}' for rate in rates[count])})")
    if missing:
        print(f"MISSING: {missing} alerts not stored")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
