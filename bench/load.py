"""Load generation and the numbers benchmarks print: loopback HTTP only, always bounded."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index]

    def summary(self) -> str:
        return (
            f"{self.requests} requests in {self.elapsed:.2f}s = {self.rate:.0f} req/s; "
            f"p50 {self.percentile(50) * 1000:.1f} ms, p99 {self.percentile(99) * 1000:.1f} ms; "
            f"statuses {dict(self.statuses)}; transport errors {self.errors}"
        )


async def _one(
    client: httpx.AsyncClient, url: str, body: Any, headers: Mapping[str, str], result: LoadResult, *, started: float | None = None
) -> None:
    started = time.perf_counter() if started is None else started
    try:
        response = await client.post(url, json=body, headers=dict(headers))
        result.statuses[response.status_code] += 1
    except httpx.HTTPError:
        result.errors += 1
    result.latencies.append(time.perf_counter() - started)


async def closed_loop(url: str, bodies: list[Any], *, concurrency: int, headers: Mapping[str, str] | None = None) -> LoadResult:
    """As fast as the server answers, ``concurrency`` requests in flight: throughput."""
    result = LoadResult()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker() -> None:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await _one(client, url, body, headers or {}, result)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.elapsed = time.perf_counter() - started
    return result


async def open_loop(
    url: str,
    make_body: Callable[[int], Any],
    *,
    rate: float,
    duration: float,
    headers: Mapping[str, str] | None = None,
    in_flight: int = 64,
) -> LoadResult:
    """Requests due on a fixed schedule whatever the answers: latency at a given load.

    Each latency counts from the moment its request was due, so a request that had to wait
    for one of the ``in_flight`` connections counts that wait too (no coordinated omission).
    The wait is ours, not httpcore's: its pool rescans every queued request on each answer,
    and with thousands queued behind a slow server the load generator itself stalls.
    """
    result = LoadResult()
    total = int(rate * duration)
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    slots = asyncio.Semaphore(in_flight)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def send(index: int, due: float) -> None:
            async with slots:
                await _one(client, url, make_body(index), headers or {}, result, started=due)

        started = time.perf_counter()
        tasks = []
        for index in range(total):
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(index, due)))
        await asyncio.gather(*tasks)
        result.elapsed = time.perf_counter() - started
    return result


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    The benchmarks keep their own copy of this and of :func:`poll_until` rather than importing
    tests/support (which they do not otherwise use): a benchmark reports a missed wait as a
    figure, where a test fails, and the one copy here serves every script in bench/.
    """
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll_until(check: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``check`` until it is truthy (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return bool(check())


class Process:
    """A server subprocess on loopback, ready when ``ready_path`` answers 200."""

    def __init__(self, args: list[str], env: Mapping[str, str], port: int, ready_path: str) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._ready = self.url + ready_path
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        # Logs go to a file, not a pipe: nobody reads a pipe during a run, and once its 64 KiB
        # buffer is full the server blocks in its first log call (a storm logs plenty).
        self.log = tempfile.NamedTemporaryFile(prefix="firebreak-bench-", suffix=".log", delete=False)
        self.process = subprocess.Popen(args, env=full_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log)

    def wait_ready(self, timeout: float = 60) -> None:
        if not poll_until(self._answers, timeout):
            raise TimeoutError(self._ready)

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"server exited: {self.log_tail()}")
        try:
            return httpx.get(self._ready, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    def log_tail(self, size: int = 4000) -> str:
        """The end of the server's log (stderr)."""
        text = Path(self.log.name).read_text(errors="replace")
        return text[-size:]

    def rss_mib(self) -> float:
        """Resident memory now (VmRSS) of the server process."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def peak_rss_mib(self) -> float:
        """Peak resident memory (VmHWM) of the server process so far."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.log.close()
        if not os.environ.get("FIREBREAK_BENCH_KEEP_LOGS"):
            Path(self.log.name).unlink(missing_ok=True)
        else:
            print(f"  server log kept: {self.log.name}")


#: The bench server's Alertmanager token (the webhook refuses requests without one).
ALERTMANAGER_TOKEN = "bench-alertmanager-token"
ALERTMANAGER_AUTH = {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"}


def _firebreak_env(env: Mapping[str, str]) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAGERDUTY_", "FIREBREAK_", "ALERTMANAGER_"))}
    return {**clean, "FIREBREAK_LOG_LEVEL": "WARNING", "ALERTMANAGER_TOKEN": ALERTMANAGER_TOKEN, **env}


def firebreak_server(env: Mapping[str, str], command: str = "serve") -> Process:
    """``firebreak serve`` (everything in one process) or ``firebreak web`` (``command="web"``)."""
    port = free_port()
    return Process([sys.executable, "-m", "bot", command, "--host", "127.0.0.1", "--port", str(port)], _firebreak_env(env), port, "/readyz")


def firebreak_worker(env: Mapping[str, str], *, nice: int = 0) -> Process:
    """``firebreak worker`` (ingester, delivery, scheduler), ready when its health port answers;
    ``nice`` > 0 runs it at a lower CPU priority (``nice -n``), as docs/operations.md advises
    when web and worker share a host."""
    port = free_port()
    prefix = ["nice", "-n", str(nice)] if nice else []
    return Process([*prefix, sys.executable, "-m", "bot", "worker"], {**_firebreak_env(env), "FIREBREAK_HEALTH_PORT": str(port)}, port, "/readyz")


def reference_server(database_url: str) -> Process:
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "bench.reference_app:app", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return Process(args, {"REFERENCE_DATABASE_URL": database_url}, port, "/webhooks/alertmanager")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
