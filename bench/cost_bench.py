"""What one webhook costs web and worker, in measures that do not move with machine load.

Wall-clock throughput on a shared machine says more about the neighbours than about the
code. This benchmark reports what a webhook *costs*:

1. ``web``: one ``firebreak web`` on PostgreSQL answers ``--requests`` webhooks (no worker
   running, so nothing else competes); CPU seconds the web process spent per 1,000 webhooks
   (``/proc/<pid>/stat`` user + system), beside the reference receiver's (which also stores
   the alerts).
2. ``worker``: webhooks queued by ``firebreak web``, ``--chunk`` at a time, are applied in
   this process by the worker's ingester (``apply_all``) after each chunk, counting SQL
   statements, transactions and CPU seconds (this process's ``time.process_time``, and every
   PostgreSQL process's from ``/proc`` while it applies: the web process is idle then) per
   webhook / per 1,000 webhooks.

Every webhook is bench/ingest_bench.py's: 10 new alerts, 200 groups (so the first 200
webhooks open incidents and the rest add alerts to them). Loopback only.

    python -m bench.cost_bench [--requests 1000] [--concurrency 32] [--parts web,worker] [--chunk 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text

from bench.ingest_bench import ALERTS_PER_WEBHOOK, postgres_database, webhook
from bench.load import ALERTMANAGER_AUTH, ALERTMANAGER_TOKEN, closed_loop, firebreak_server, reference_server
from bench.scratch_db import drop_postgres

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_cpu_seconds() -> float:
    """CPU seconds of every PostgreSQL process on this machine so far (0 where /proc does not
    show them): while only the worker talks to the database, what they spend is its."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
            if head.split("(", 1)[1] == "postgres":
                fields = tail.split()
                total += (int(fields[11]) + int(fields[12])) / TICKS
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return total


@dataclass
class WebCost:
    webhooks: int
    cpu_seconds: float
    reference_cpu_seconds: float
    rate: float
    reference_rate: float

    def line(self) -> str:
        per = 1000 / self.webhooks
        return (
            f"web: {self.cpu_seconds * per:.2f} CPU s per 1,000 webhooks answered (reference receiver: "
            f"{self.reference_cpu_seconds * per:.2f}); answered {self.rate:.0f}/s (reference {self.reference_rate:.0f}/s, same run)"
        )


def measure_web(database_url: str, reference_url: str, args: argparse.Namespace) -> WebCost:
    env = {"DATABASE_URL": database_url, "FIREBREAK_STORM_THRESHOLD": "0"}
    web = firebreak_server(env, command="web")
    reference = reference_server(reference_url)
    try:
        web.wait_ready()
        reference.wait_ready()
        warm = uuid.uuid4().hex[:6]
        bodies = [webhook(i, uuid.uuid4().hex[:6]) for i in range(args.requests)]
        results = []
        for process in (web, reference):
            url = process.url + "/webhooks/alertmanager"
            asyncio.run(closed_loop(url, [webhook(i, warm) for i in range(50)], concurrency=8, headers=ALERTMANAGER_AUTH))
            before = cpu_seconds(process.process.pid)
            result = asyncio.run(closed_loop(url, bodies, concurrency=args.concurrency, headers=ALERTMANAGER_AUTH))
            results.append((cpu_seconds(process.process.pid) - before, result.rate))
        return WebCost(args.requests, results[0][0], results[1][0], results[0][1], results[1][1])
    finally:
        web.stop()
        reference.stop()


class StatementCounter:
    """SQL statements and transactions on an engine (SQLAlchemy events)."""

    def __init__(self, engine: Engine) -> None:
        self.statements = 0
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *_args: Any) -> None:
        self.statements += 1

    def _commit(self, *_args: Any) -> None:
        self.commits += 1


@dataclass
class WorkerCost:
    webhooks: int
    statements: int
    commits: int
    cpu_seconds: float
    wall_seconds: float
    postgres_cpu_seconds: float

    def line(self) -> str:
        return (
            f"worker: {self.statements / self.webhooks:.1f} SQL statements and {self.commits / self.webhooks:.2f} commits per webhook; "
            f"{self.cpu_seconds * 1000 / self.webhooks:.2f} CPU s per 1,000 webhooks applied (this process only), "
            f"PostgreSQL {self.postgres_cpu_seconds * 1000 / self.webhooks:.2f} CPU s meanwhile; "
            f"{self.webhooks / self.wall_seconds:.0f} webhooks/s applied (wall clock, load-dependent)"
        )


@dataclass
class DeliveryCost:
    messages: int
    claims: int
    statements: int
    commits: int
    cpu_seconds: float

    def line(self) -> str:
        if not self.messages:
            return "delivery: nothing delivered"
        return (
            f"delivery (console): {self.messages} messages in {self.claims} claims ({self.messages / max(1, self.claims):.1f} per claim); "
            f"{self.statements / self.messages:.1f} SQL statements and {self.commits / self.messages:.2f} commits per message; "
            f"{self.cpu_seconds * 1000 / self.messages:.2f} CPU ms per message (this process only)"
        )


class Web:
    """A ``firebreak web`` that queues webhooks (as in production) for the in-process worker."""

    def __init__(self, database_url: str, concurrency: int) -> None:
        self.process = firebreak_server({"DATABASE_URL": database_url, "FIREBREAK_STORM_THRESHOLD": "0"}, command="web")
        self.process.wait_ready()
        self.run = uuid.uuid4().hex[:6]
        self.sent = 0
        self.concurrency = concurrency

    def queue(self, count: int) -> int:
        bodies = [webhook(self.sent + i, self.run) for i in range(count)]
        self.sent += count
        result = asyncio.run(closed_loop(self.process.url + "/webhooks/alertmanager", bodies, concurrency=self.concurrency, headers=ALERTMANAGER_AUTH))
        return sum(number for status, number in result.statuses.items() if 200 <= status < 300)


def deliver_due(container: Any) -> tuple[int, int]:
    """Deliver what is due now, one claim at a time as the worker loop does; (messages, claims)."""
    messages = claims = 0
    while True:
        handled = asyncio.run(container.worker.run_once())
        if handled == 0:
            return messages, claims
        messages, claims = messages + handled, claims + 1


def measure_worker(database_url: str, args: argparse.Namespace) -> tuple[WorkerCost, DeliveryCost]:
    """Queue ``--chunk`` webhooks, apply them, again until ``--requests``: a chunk as large as
    the run is a backlog (several webhooks per group per transaction), a small one is what a
    worker keeping up sees (about one). After each chunk the delivery worker delivers what
    the chunk queued for chat (local mode: the console transcript), measured apart; summary
    edits are not held back (``FIREBREAK_SUMMARY_BATCH_SECONDS=0``) so each is due at once."""
    web = Web(database_url, args.concurrency)
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "FIREBREAK_STORM_THRESHOLD": "0",
            "ALERTMANAGER_TOKEN": ALERTMANAGER_TOKEN,
            "FIREBREAK_LOG_LEVEL": "WARNING",
            "FIREBREAK_SUMMARY_BATCH_SECONDS": "0",
        }
    )
    for name in [name for name in os.environ if name.startswith(("SLACK_", "PAGERDUTY_"))]:
        del os.environ[name]
    from bot.container import build_container
    from bot.roles import Role
    from bot.settings import load_settings

    queued = applied = 0
    cpu = wall = postgres = 0.0
    delivered = claims = delivery_statements = delivery_commits = 0
    delivery_cpu = 0.0
    with open(os.devnull, "w") as quiet:
        container = build_container(load_settings(), roles=frozenset({Role.WORKER}), transcript_stream=quiet)
        try:
            counter = StatementCounter(container.engine)
            while queued < args.requests:
                queued += web.queue(min(args.chunk, args.requests - queued))
                started_cpu, started, started_postgres = time.process_time(), time.perf_counter(), postgres_cpu_seconds()
                applied += container.ingester.apply_all(max_passes=100_000)
                cpu, wall = cpu + time.process_time() - started_cpu, wall + time.perf_counter() - started
                postgres += postgres_cpu_seconds() - started_postgres
                statements, commits, started_cpu = counter.statements, counter.commits, time.process_time()
                messages, claimed = deliver_due(container)
                delivery_cpu += time.process_time() - started_cpu
                delivered, claims = delivered + messages, claims + claimed
                delivery_statements += counter.statements - statements
                delivery_commits += counter.commits - commits
                counter.statements, counter.commits = statements, commits
            with container.engine.connect() as connection:
                alerts = int(connection.execute(text("SELECT count(*) FROM alerts")).scalar_one())
        finally:
            container.close()
            web.process.stop()
    if applied != queued or alerts != queued * ALERTS_PER_WEBHOOK:
        raise SystemExit(f"applied {applied} of {queued} queued webhooks, {alerts} alerts stored")
    return (
        WorkerCost(applied, counter.statements, counter.commits, cpu, wall, postgres),
        DeliveryCost(delivered, claims, delivery_statements, delivery_commits, delivery_cpu),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--parts", default="web,worker")
    parser.add_argument("--chunk", type=int, default=20, help="webhooks queued before the worker applies them (worker part)")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    created = [postgres_database() for _ in range(3)]
    try:
        if not all(created):
            raise SystemExit("the cost benchmark needs the PostgreSQL at 127.0.0.1:5432")
        urls = [entry[1] for entry in created if entry]
        print(f"{args.requests} webhooks × {ALERTS_PER_WEBHOOK} alerts, {args.concurrency} in flight; load average {os.getloadavg()[0]:.1f}")
        if "web" in parts:
            print(measure_web(urls[0], urls[1], args).line(), flush=True)
        if "worker" in parts:
            for cost in measure_worker(urls[2], args):
                print(cost.line(), flush=True)
    finally:
        for entry in created:
            if entry:
                drop_postgres(entry[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
