"""Replicas on one PostgreSQL database: two ``firebreak web`` and two ``firebreak worker``
processes, real HTTP on 127.0.0.1, Slack (and PagerDuty where needed) the fakes."""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.processes import ROOT, Server, Worker


@functools.cache
def split_available() -> bool:
    """``firebreak web`` and ``firebreak worker`` exist (else the replicas run ``serve``)."""
    done = subprocess.run([sys.executable, "-m", "bot", "worker", "--help"], cwd=ROOT, capture_output=True, timeout=60)
    return done.returncode == 0


@dataclass
class Cluster:
    webs: list[Server] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    log: Path | None = None

    def dead(self) -> list[str]:
        """Processes that exited (for failure messages; a replica must never die here)."""
        found = [f"web :{web.port}" for web in self.webs if web.process is None or web.process.poll() is not None]
        found += [f"worker pid {w.process.pid if w.process else '?'}" for w in self.workers if not w.alive()]
        return found

    def log_tail(self, size: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-size:] if self.log and self.log.exists() else ""

    def stop(self) -> None:
        for worker in self.workers:
            worker.kill()
        for web in self.webs:
            web.kill()


@pytest.fixture
def postgres_only(db_backend: str) -> None:
    if db_backend != "postgres":
        pytest.skip("replicas share one database: PostgreSQL only (run with --db=postgres)")


@pytest.fixture
def cluster(postgres_only: None, tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """``cluster(env)`` starts 2 web + 2 worker processes sharing ``env``'s database."""
    started: list[Cluster] = []

    def start(env: Mapping[str, str], *, webs: int = 2, workers: int = 2) -> Cluster:
        made = Cluster(log=tmp_path / "replicas.log")
        started.append(made)
        # All started at once, then waited for: on a busy machine each takes seconds to boot.
        if split_available():
            made.workers = [Worker(env, log=made.log).start() for _ in range(workers)]
            made.webs = [Server(env, command="web", log=made.log).spawn() for _ in range(webs)]
        else:  # before the split: every replica is a whole ``serve``
            made.webs = [Server(env, log=made.log).spawn() for _ in range(max(webs, workers))]
        for web in made.webs:
            web.wait_ready(timeout=45)
        return made

    yield start
    for made in started:
        made.stop()
