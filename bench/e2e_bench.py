"""End-to-end ingest benchmark: a webhook counts once it is answered 2xx AND applied.

Firebreak answers an Alertmanager webhook once it is queued in its inbox; a worker applies
it to its incident afterwards. This benchmark counts each webhook only when both happened
(its inbox row is gone and its 10 alerts are stored), and compares with the minimal
reference receiver (bench/reference_app.py, which stores before it answers) started in the
same run on the same kind of database. Modes:

- ``split``: one ``firebreak web`` and one ``firebreak worker`` on PostgreSQL;
- ``serve-postgres`` / ``serve-sqlite``: ``firebreak serve``, everything in one process.

Each run measures, per mode (median of ``--runs``, at least 3 for the published figures):
  1. end-to-end throughput: ``--requests`` webhooks, ``--concurrency`` in flight, from the
     first sent until every one is answered and applied; the reference likewise (it has
     applied what it answered) → ratio (goal ≥ 0.8);
  2. at a fixed ``--rate`` for ``--duration`` seconds: answer p50/p99 (goal p99 < 50 ms),
     and the inbox drain time: from the last answer until the inbox is empty.
Every webhook brings 10 alerts nobody has seen, in 200 groups (bench/ingest_bench.py's
``webhook``); the storm guard is off so each group is one incident. Loopback only.

Prints a table, then exits 1 if a goal is missed in a gated mode (``--gate``, default
``split``: the goals are the web + worker deployment's), or if anything was lost.

Web, worker, database and this client share the machine. As docs/operations.md advises for
web and worker on one host, the worker runs at a lower CPU priority (``--worker-nice``,
default 10): answering is what a sender waits for; the worker catches up when it can.

    python -m bench.e2e_bench [--modes split,serve-postgres,serve-sqlite] [--runs 3]
                              [--requests 2000] [--concurrency 32] [--rate 200] [--duration 10]
                              [--worker-nice 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from bench.cost_bench import cpu_seconds, postgres_cpu_seconds
from bench.ingest_bench import ALERTS_PER_WEBHOOK, answered_2xx, postgres_database, webhook
from bench.load import (
    ALERTMANAGER_AUTH,
    LoadResult,
    Process,
    closed_loop,
    firebreak_server,
    firebreak_worker,
    median,
    open_loop,
    reference_server,
)
from bench.scratch_db import drop_postgres

MODES = ("split", "serve-postgres", "serve-sqlite")
RATIO_GOAL = 0.8
P99_GOAL_MS = 50.0


@dataclass
class Run:
    """One run of one mode: Firebreak's figures and the reference's, measured back to back."""

    end_to_end: float  # webhooks/s answered and applied, closed loop
    reference: float  # reference webhooks/s (answered = stored), closed loop
    answered: float  # Firebreak webhooks/s answered (queued), closed loop
    drain_after_throughput: float
    p50_ms: float
    p99_ms: float
    drain_after_rate: float
    lost: int  # answered 2xx but not applied (alerts missing / 10), or dead in the inbox
    non_2xx: int
    #: CPU ms per webhook during the end-to-end throughput phase (load and drain), by process.
    cpu_ms: dict[str, float] = field(default_factory=dict)
    #: Webhooks still queued when the last one was answered (what the drain applies).
    queued_at_end: int = 0

    @property
    def ratio(self) -> float:
        return self.end_to_end / self.reference if self.reference else float("nan")


@dataclass
class ModeResult:
    mode: str
    runs: list[Run] = field(default_factory=list)

    def median(self, figure: Callable[[Run], float]) -> float:
        return median([figure(run) for run in self.runs])

    def goals_met(self) -> bool:
        return self.median(lambda r: r.ratio) >= RATIO_GOAL and self.median(lambda r: r.p99_ms) < P99_GOAL_MS

    def clean(self) -> bool:
        """Every webhook answered 2xx was applied (a non-2xx answer, or none in the client's
        30 s, is not a loss: Alertmanager sends it again; it is reported as non-2xx)."""
        return all(run.lost == 0 for run in self.runs)


class Firebreak:
    """What a mode starts: the HTTP process webhooks go to, and the database it applies them to."""

    def __init__(self, mode: str, database_url: str, *, worker_nice: int = 0) -> None:
        env = {"DATABASE_URL": database_url, "FIREBREAK_STORM_THRESHOLD": "0"}
        self.database_url = database_url
        self.processes: list[Process] = []
        if mode == "split":
            self.processes = [firebreak_server(env, command="web"), firebreak_worker(env, nice=worker_nice)]
        else:
            self.processes = [firebreak_server(env)]
        self.url = self.processes[0].url + "/webhooks/alertmanager"
        self.engine: Engine = create_engine(database_url)

    def wait_ready(self) -> None:
        for process in self.processes:
            process.wait_ready()

    def queued(self) -> int:
        """Webhooks queued and not dead: what the drain waits on (one cheap count, polled often,
        not the whole alerts table: that scan would cost the database more than the worker)."""
        with self.engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM inbox WHERE dead_at IS NULL")).scalar_one())

    def counts(self) -> tuple[int, int, int]:
        """(alerts stored, webhooks queued, webhooks dead in the inbox)."""
        with self.engine.connect() as connection:
            alerts = int(connection.execute(text("SELECT count(*) FROM alerts")).scalar_one())
            queued = int(connection.execute(text("SELECT count(*) FROM inbox WHERE dead_at IS NULL")).scalar_one())
            dead = int(connection.execute(text("SELECT count(*) FROM inbox WHERE dead_at IS NOT NULL")).scalar_one())
        return alerts, queued, dead

    def drained_after(self, timeout: float = 600.0) -> float:
        """Seconds from now until nothing is queued (every accepted webhook applied or dead)."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.queued() == 0:
                return time.perf_counter() - started
            time.sleep(0.02)
        raise TimeoutError(f"inbox not empty after {timeout:.0f} s")

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds so far of each Firebreak process, every PostgreSQL process, and this
        load generator (which also polls the inbox while it waits for the drain)."""
        names = ["web", "worker"] if len(self.processes) == 2 else ["serve"]
        spent = {name: cpu_seconds(process.process.pid) for name, process in zip(names, self.processes, strict=True)}
        own = os.times()
        return {**spent, "postgres": postgres_cpu_seconds(), "load": own.user + own.system}

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.engine.dispose()


@contextmanager
def databases(mode: str) -> Iterator[tuple[str, str]]:
    """(Firebreak's database, the reference's): same kind, created here, dropped after."""
    if mode == "serve-sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'fb.db'}", f"sqlite:///{Path(tmp) / 'ref.db'}"
        return
    created = [postgres_database(), postgres_database()]
    try:
        if not all(created):
            raise SystemExit(f"{mode} needs the PostgreSQL at 127.0.0.1:5432")
        yield created[0][1], created[1][1]  # type: ignore[index]
    finally:
        for entry in created:
            if entry:
                drop_postgres(entry[0])


def one_run(firebreak: Firebreak, reference: Process, args: argparse.Namespace) -> Run:
    run = uuid.uuid4().hex[:6]
    bodies = [webhook(i, run) for i in range(args.requests)]
    # Warm-up (also: the worker is up and has applied something before the clock starts).
    warm = uuid.uuid4().hex[:6]
    asyncio.run(closed_loop(firebreak.url, [webhook(i, warm) for i in range(args.warmup)], concurrency=8, headers=ALERTMANAGER_AUTH))
    firebreak.drained_after()
    stored_before, _, dead_before = firebreak.counts()

    cpu_before = firebreak.cpu_seconds()
    throughput = asyncio.run(closed_loop(firebreak.url, bodies, concurrency=args.concurrency, headers=ALERTMANAGER_AUTH))
    queued_at_end = firebreak.queued()
    drain_after_throughput = firebreak.drained_after()
    cpu_ms = {name: (spent - cpu_before[name]) * 1000 / args.requests for name, spent in firebreak.cpu_seconds().items()}
    end_to_end = answered_2xx(throughput) / (throughput.elapsed + drain_after_throughput)

    rate_run = uuid.uuid4().hex[:6]
    latency = asyncio.run(open_loop(firebreak.url, lambda i: webhook(i, rate_run), rate=args.rate, duration=args.duration, headers=ALERTMANAGER_AUTH))
    drain_after_rate = firebreak.drained_after()
    stored_after, _, dead_after = firebreak.counts()
    accepted = answered_2xx(throughput) + answered_2xx(latency)
    lost = accepted - (stored_after - stored_before) // ALERTS_PER_WEBHOOK + (dead_after - dead_before)

    ref_url = reference.url + "/webhooks/alertmanager"
    asyncio.run(closed_loop(ref_url, [webhook(i, warm) for i in range(args.warmup)], concurrency=8, headers=ALERTMANAGER_AUTH))
    ref_throughput = asyncio.run(closed_loop(ref_url, bodies, concurrency=args.concurrency, headers=ALERTMANAGER_AUTH))
    return Run(
        end_to_end=end_to_end,
        reference=answered_2xx(ref_throughput) / ref_throughput.elapsed,
        answered=throughput.rate,
        drain_after_throughput=drain_after_throughput,
        p50_ms=latency.percentile(50) * 1000,
        p99_ms=latency.percentile(99) * 1000,
        drain_after_rate=drain_after_rate,
        lost=lost,
        non_2xx=non_2xx(throughput) + non_2xx(latency),
        cpu_ms=cpu_ms,
        queued_at_end=queued_at_end,
    )


def non_2xx(result: LoadResult) -> int:
    return result.requests - answered_2xx(result)


def bench_mode(mode: str, args: argparse.Namespace) -> ModeResult:
    result = ModeResult(mode)
    with databases(mode) as (firebreak_url, reference_url):
        firebreak = Firebreak(mode, firebreak_url, worker_nice=args.worker_nice)
        reference = reference_server(reference_url)
        try:
            firebreak.wait_ready()
            reference.wait_ready()
            for index in range(args.runs):
                run = one_run(firebreak, reference, args)
                result.runs.append(run)
                print(
                    f"  {mode} run {index + 1}: end to end {run.end_to_end:.0f}/s vs reference {run.reference:.0f}/s = {run.ratio:.2f}; "
                    f"answered {run.answered:.0f}/s, {run.queued_at_end} queued then, drained {run.drain_after_throughput:.2f} s after; at {args.rate:.0f}/s "
                    f"p50 {run.p50_ms:.1f} ms p99 {run.p99_ms:.1f} ms, drained {run.drain_after_rate:.2f} s after; lost {run.lost}; "
                    f"CPU ms per webhook {', '.join(f'{name} {ms:.2f}' for name, ms in run.cpu_ms.items())}",
                    flush=True,
                )
        finally:
            firebreak.stop()
            reference.stop()
    return result


def table(results: list[ModeResult], args: argparse.Namespace, gated: set[str]) -> str:
    rate = f"{args.rate:.0f}/s"
    header = (
        f"| mode | end to end (answered and applied) | reference | **ratio** (goal ≥ {RATIO_GOAL}) | answered (queued) | "
        f"drain after throughput | p50 at {rate} | **p99 at {rate}** (goal < {P99_GOAL_MS:.0f} ms) | "
        f"drain after {rate} load | non-2xx | lost | goals |"
    )
    lines = [header, "|" + " --- |" * 12]
    for result in results:
        m = result.median
        goals = ("met" if result.goals_met() else "MISSED") if result.mode in gated else ("met" if result.goals_met() else "missed") + " (not gated)"
        lines.append(
            f"| {result.mode} | {m(lambda r: r.end_to_end):.0f} webhooks/s | {m(lambda r: r.reference):.0f}/s | {m(lambda r: r.ratio):.2f} | "
            f"{m(lambda r: r.answered):.0f}/s | {m(lambda r: r.drain_after_throughput):.2f} s | {m(lambda r: r.p50_ms):.1f} ms | "
            f"{m(lambda r: r.p99_ms):.1f} ms | {m(lambda r: r.drain_after_rate):.2f} s | "
            f"{sum(r.non_2xx for r in result.runs)} | {sum(r.lost for r in result.runs)} | {goals} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--gate", default="split", help="modes whose goals decide the exit status (comma-separated; empty: none)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=int, default=400, help="webhooks sent (and applied) before each run: 2 per group, past a new database's first minutes")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="split: the worker's nice value (web, worker, database and this client share the machine; "
        "docs/operations.md runs a worker sharing a host with web at Nice=10); 0 for none",
    )
    args = parser.parse_args(argv)
    modes = [mode for mode in args.modes.split(",") if mode]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
    gated = {mode for mode in args.gate.split(",") if mode}
    results = []
    for mode in modes:
        print(f"== {mode}", flush=True)
        results.append(bench_mode(mode, args))
    print()
    print(f"median of {args.runs} runs; {args.requests} webhooks × {ALERTS_PER_WEBHOOK} alerts, {args.concurrency} in flight; "
          f"{args.rate:.0f} webhooks/s for {args.duration:.0f} s; split's worker at nice {args.worker_nice}; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    print(table(results, args, gated))
    print(f"nothing lost (every webhook answered 2xx was applied): {all(result.clean() for result in results)}")
    missed = [result.mode for result in results if result.mode in gated and not result.goals_met()]
    if missed:
        print(f"goals missed: {', '.join(missed)}")
    return 1 if missed or not all(result.clean() for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
