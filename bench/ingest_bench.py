"""Ingest benchmark: Alertmanager webhooks (10 alerts each) against a running server.

For each database (SQLite, and PostgreSQL when reachable) it starts ``firebreak serve`` and
the minimal reference endpoint (bench/reference_app.py), then measures both the same way:
  1. throughput: N webhooks as fast as answered, C in flight → requests/s, alerts/s;
  2. latency at a fixed 200 requests/s for D seconds → p50/p99.
Prints Firebreak's throughput as a ratio of the reference's. Firebreak answers 202 once a
webhook is queued in its inbox, so the run also waits until every queued webhook has been
applied to its incident and reports that time and the end-to-end rate. Loopback only.

    python -m bench.ingest_bench [--requests 2000] [--concurrency 32] [--rate 200] [--duration 10]
                                 [--databases both|sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.load import ALERTMANAGER_AUTH, LoadResult, closed_loop, firebreak_server, open_loop, reference_server
from bench.scratch_db import create_postgres, drop_postgres
from tests.fakes.alertmanager_payloads import alert, payload

ALERTS_PER_WEBHOOK = 10
GROUPS = 200


def webhook(index: int, run: str) -> dict[str, Any]:
    """Group ``index % GROUPS``; every webhook brings 10 alerts the group has not seen yet."""
    group = index % GROUPS
    alerts = [
        alert(
            {"alertname": f"BenchAlert{group}", "severity": "warning", "instance": f"host-{index}-{n}", "run": run},
            {"summary": f"bench alert {index}/{n}"},
        )
        for n in range(ALERTS_PER_WEBHOOK)
    ]
    body = payload(alerts, group_by=("alertname",))
    body["groupKey"] = f'{{}}:{{alertname="BenchAlert{group}",run="{run}"}}'
    return body


def postgres_database() -> tuple[str, str] | None:
    """A scratch PostgreSQL database (name, URL), or None when there is no PostgreSQL here."""
    try:
        return create_postgres("firebreak_bench")
    except Exception as error:  # no PostgreSQL here: SQLite numbers only
        print(f"PostgreSQL not reachable ({type(error).__name__}); skipping it")
        return None


def measure(url: str, args: argparse.Namespace, label: str, settle: Callable[[], float] = lambda: 0.0) -> tuple[LoadResult, LoadResult, float]:
    """Throughput then latency; every webhook brings alerts nobody has seen (10 each).

    ``settle`` waits until the server has applied everything it answered and returns how
    long that took after the last answer (Firebreak answers once a webhook is queued).
    Returns the end-to-end rate too: webhooks applied per second, load start to applied.
    """
    run = uuid.uuid4().hex[:6]
    bodies = [webhook(i, run) for i in range(args.requests)]
    asyncio.run(closed_loop(url, bodies[: min(100, len(bodies))], concurrency=8, headers=ALERTMANAGER_AUTH))  # warm-up
    settle()
    throughput = asyncio.run(closed_loop(url, bodies, concurrency=args.concurrency, headers=ALERTMANAGER_AUTH))
    applied_after = settle()
    end_to_end = throughput.requests / (throughput.elapsed + applied_after)
    latency_run = uuid.uuid4().hex[:6]
    latency = asyncio.run(open_loop(url, lambda i: webhook(i, latency_run), rate=args.rate, duration=args.duration, headers=ALERTMANAGER_AUTH))
    latency_applied_after = settle()
    print(f"  {label:<10} throughput: {throughput.summary()}; {throughput.rate * ALERTS_PER_WEBHOOK:.0f} alerts/s")
    print(f"  {label:<10} applied:    all {throughput.requests} applied {applied_after:.2f}s after the last answer = {end_to_end:.0f} webhooks/s end to end")
    print(f"  {label:<10} at {args.rate:.0f} req/s: {latency.summary()}")
    print(f"  {label:<10} at {args.rate:.0f} req/s: all applied {latency_applied_after:.2f}s after the last answer")
    return throughput, latency, end_to_end


def settle_inbox(database_url: str, timeout: float = 600.0) -> Callable[[], float]:
    """Seconds until Firebreak's inbox is empty (every accepted webhook applied)."""

    def settle() -> float:
        engine = create_engine(database_url)
        started = time.perf_counter()
        try:
            while time.perf_counter() - started < timeout:
                with engine.connect() as connection:
                    if not connection.execute(text("SELECT count(*) FROM inbox WHERE dead_at IS NULL")).scalar_one():
                        return time.perf_counter() - started
                time.sleep(0.05)
        finally:
            engine.dispose()
        raise TimeoutError(f"inbox not empty after {timeout:.0f} s")

    return settle


def report_stored(database_url: str, throughput: LoadResult, latency: LoadResult, args: argparse.Namespace) -> None:
    """Correctness: every alert answered 200 is stored; one incident per group and run."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            stored = int(connection.execute(text("SELECT count(*) FROM alerts")).scalar_one())
            incidents = int(connection.execute(text("SELECT count(*) FROM incidents")).scalar_one())
    finally:
        engine.dispose()
    accepted = (answered_2xx(throughput) + answered_2xx(latency)) * ALERTS_PER_WEBHOOK
    groups = min(args.requests, GROUPS) + min(int(args.rate * args.duration), GROUPS)
    print(f"  firebreak alerts stored: {stored} of {accepted} answered 2xx; lost: {accepted - stored}")
    print(f"  firebreak incidents: {incidents} (groups {groups})")


def answered_2xx(result: LoadResult) -> int:
    return sum(count for code, count in result.statuses.items() if 200 <= code < 300)


def bench_database(name: str, firebreak_url: str, reference_url: str, args: argparse.Namespace) -> None:
    print(f"== {name}")
    # Ingest throughput of one incident per group: the storm guard (bench/storm_bench.py
    # measures it) would fold most of these distinct groups into one storm incident.
    firebreak = firebreak_server({"DATABASE_URL": firebreak_url, "FIREBREAK_STORM_THRESHOLD": "0"})
    reference = reference_server(reference_url)
    try:
        firebreak.wait_ready()
        reference.wait_ready()
        fb_throughput, fb_latency, fb_end_to_end = measure(
            firebreak.url + "/webhooks/alertmanager", args, "firebreak", settle_inbox(firebreak_url)
        )
        ref_throughput, _, _ = measure(reference.url + "/webhooks/alertmanager", args, "reference")
        ratio = fb_throughput.rate / ref_throughput.rate if ref_throughput.rate else float("nan")
        ok = all(200 <= code < 300 for code in fb_throughput.statuses) and fb_throughput.errors == 0
        print(f"  ratio firebreak/reference throughput: {ratio:.2f} (target ≥ 0.5)")
        print(f"  ratio firebreak end to end (answered and applied)/reference: {fb_end_to_end / ref_throughput.rate:.2f}")
        print(f"  firebreak p99 at {args.rate:.0f} req/s: {fb_latency.percentile(99) * 1000:.1f} ms (target < 100 ms)")
        print(f"  all firebreak answers 2xx: {ok}; server peak RSS {firebreak.peak_rss_mib():.0f} MiB")
        report_stored(firebreak_url, fb_throughput, fb_latency, args)
    finally:
        firebreak.stop()
        reference.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--databases", choices=("both", "sqlite", "postgres"), default="both")
    parser.add_argument("--sqlite-only", action="store_const", const="sqlite", dest="databases")
    args = parser.parse_args(argv)
    if args.databases in ("both", "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            bench_database("SQLite", f"sqlite:///{Path(tmp) / 'fb.db'}", f"sqlite:///{Path(tmp) / 'ref.db'}", args)
    if args.databases == "sqlite":
        return
    created = [postgres_database(), postgres_database()]
    try:
        if all(created):
            bench_database("PostgreSQL", created[0][1], created[1][1], args)  # type: ignore[index]
    finally:
        for entry in created:
            if entry:
                drop_postgres(entry[0])


if __name__ == "__main__":
    main()
