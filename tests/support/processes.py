"""Running ``firebreak`` as a real process: free ports, readiness waits, clean stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Self

import httpx

from tests.support.ports import free_port
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def firebreak_env(db_url: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "PAGERDUTY_", "FIREBREAK_", "ALERTMANAGER_"))}
    env.update({"DATABASE_URL": db_url, "PYTHONPATH": str(ROOT), "FIREBREAK_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def run_firebreak(
    args: list[str], env: Mapping[str, str], *, stdin: str | None = None, timeout: float = 60, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """``cwd``: local mode saves the files it would upload (post-mortem drafts) there."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class _Process:
    """A ``firebreak`` subprocess that is ready once ``ready_url`` + /readyz answers 200.

    With ``log``, output goes to that file (appended) instead of pipes: a chatty process
    under load would otherwise block once a pipe nobody reads is full.
    """

    what = "process"

    def __init__(self, env: Mapping[str, str], *, log: Path | None = None, cwd: Path = ROOT) -> None:
        self.env = dict(env)
        self.process: subprocess.Popen[str] | None = None
        self.log = log
        self.cwd = cwd  # local mode saves the files it would upload (post-mortem drafts) there

    def argv(self) -> list[str]:
        raise NotImplementedError

    @property
    def ready_url(self) -> str:
        raise NotImplementedError

    def start(self, *, timeout: float = 30) -> Self:
        output: int | IO[str] = subprocess.PIPE
        if self.log is not None:
            output = self.log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", *self.argv()],
            env=self.env,
            cwd=self.cwd,
            stdout=output,
            stderr=subprocess.STDOUT if self.log is not None else subprocess.PIPE,
            text=True,
        )
        if not isinstance(output, int):
            output.close()  # the child has its own copy
        try:
            wait_until(self._ready, timeout=timeout, interval=0.1, what=f"{self.what} ready")
        except AssertionError:
            self.kill()
            raise
        return self

    def _ready(self) -> bool:
        """/readyz answers 200; a process that already exited fails the wait at once."""
        assert self.process is not None
        if self.process.poll() is not None:
            output = self.log.read_text()[-4000:] if self.log is not None else self.process.communicate()
            raise RuntimeError(f"{self.what} exited early: {output}")
        try:
            return httpx.get(self.ready_url + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def terminate(self, *, timeout: float = 20) -> tuple[int, str, str]:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.kill()


class Server(_Process):
    """``firebreak serve`` (or ``web``, with ``command``) in a subprocess on a free loopback port."""

    what = "server"

    def __init__(
        self, env: Mapping[str, str], *, port: int | None = None, log: Path | None = None, command: str = "serve", cwd: Path = ROOT
    ) -> None:
        super().__init__(env, log=log, cwd=cwd)
        self.command = command
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        return [self.command, "--host", "127.0.0.1", "--port", str(self.port)]

    @property
    def ready_url(self) -> str:
        return self.url


class Worker(_Process):
    """``firebreak worker`` in a subprocess, ready once its health listener answers /readyz.

    ``env`` gets ``FIREBREAK_HEALTH_PORT`` (a free port) unless it sets one.
    """

    what = "worker"

    def __init__(self, env: Mapping[str, str], *, log: Path | None = None) -> None:
        super().__init__(env, log=log)
        self.env.setdefault("FIREBREAK_HEALTH_PORT", str(free_port()))
        self.health_url = f"http://127.0.0.1:{self.env['FIREBREAK_HEALTH_PORT']}"

    def argv(self) -> list[str]:
        return ["worker"]

    @property
    def ready_url(self) -> str:
        return self.health_url
