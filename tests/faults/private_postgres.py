"""A private, throw-away PostgreSQL cluster that a test may stop and start at will.

The shared server at 127.0.0.1:5432 serves everyone's tests, so a fault test must never
restart it. This one lives in a temp dir, listens on a free loopback port (unix socket in
the temp dir too), trusts local connections, and is stopped and deleted at teardown.
PostgreSQL refuses to run as root, so as root every command runs as the ``postgres`` user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port

BIN = Path(os.environ.get("FIREBREAK_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PrivatePostgres:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.data = root / "data"
        self.port = port
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.root)

    def _checked(self, *args: str, timeout: float = 60) -> None:
        result = self._run(*args, timeout=timeout)
        if result.returncode != 0:
            log = (self.root / "postgres.log").read_text() if (self.root / "postgres.log").exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stdout}{result.stderr}{log[-2000:]}")

    def init(self) -> None:
        self._checked("initdb", "-D", str(self.data), "--auth=trust", "--username=postgres", "--no-sync", "--no-instructions", "--encoding=UTF8")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c max_connections=60"
        )
        self._checked("pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "immediate") -> None:
        """``immediate`` is a crash as far as clients are concerned: connections just drop."""
        self._checked("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status").returncode == 0


def binaries_missing() -> str | None:
    for name in ("initdb", "pg_ctl", "postgres"):
        if not (BIN / name).exists():
            return f"PostgreSQL server binaries not found in {BIN} (set FIREBREAK_TEST_PG_BIN): {name} is missing"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root needs runuser to start PostgreSQL as the postgres user"
    return None


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    problem = binaries_missing()
    if problem:
        pytest.skip(problem)
    root = Path(tempfile.mkdtemp(prefix="firebreak-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = PrivatePostgres(root, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        try:
            if cluster.data.exists() and cluster.running():
                cluster.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
