"""Replicas on one PostgreSQL database: two ``firebreak web`` and two ``firebreak worker``
processes, real HTTP on 127.0.0.1, Slack (and PagerDuty where needed) the fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.processes import Server, Worker


@dataclass
class Cluster:
    webs: list[Server] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    log: Path | None = None

    def dead(self) -> list[str]:
        """Processes that exited (for failure messages; a replica must never die here)."""
        found = [f"web :{web.port}" for web in self.webs if web.process is None or web.process.poll() is not None]
        found += [f"worker {w.health_url}" for w in self.workers if w.process is None or w.process.poll() is not None]
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
        made.workers = [Worker(env, log=made.log) for _ in range(workers)]
        made.webs = [Server(env, command="web", log=made.log) for _ in range(webs)]
        # Started side by side: on a busy machine each takes seconds to boot.
        with ThreadPoolExecutor(max_workers=webs + workers) as pool:
            for future in [pool.submit(process.start, timeout=150) for process in [*made.workers, *made.webs]]:
                future.result()
        return made

    yield start
    for made in started:
        made.stop()
