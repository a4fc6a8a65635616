"""Start-up limits for ``serve``: the open-file limit is raised where allowed, and the
connection cap and listen backlog always fit inside it."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

from bot.http.server import MAX_BACKLOG, RESERVED_FILES, fit_connections
from tests.support.processes import ROOT, firebreak_env, run_firebreak

PROBE = "from bot.http.server import raise_open_file_limit; import resource; print(raise_open_file_limit(), *resource.getrlimit(resource.RLIMIT_NOFILE))"


def run_with_limit(soft: int, hard: int) -> list[int]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60, preexec_fn=limit, check=True)
    return [int(part) for part in result.stdout.split()]


def test_soft_file_limit_is_raised_to_the_hard_limit() -> None:
    assert run_with_limit(256, 1024) == [1024, 1024, 1024]


def test_file_limit_already_at_the_hard_limit_is_left_alone() -> None:
    assert run_with_limit(300, 300) == [300, 300, 300]


@pytest.mark.parametrize("file_limit", [64, 256, 1024, 4096, 65536, 1 << 20])
def test_connections_and_backlog_fit_inside_the_file_limit(file_limit: int) -> None:
    cap, backlog = fit_connections(1000, file_limit)
    assert cap >= 16 and 16 <= backlog <= MAX_BACKLOG
    if file_limit >= 256:
        assert cap + backlog + RESERVED_FILES <= file_limit
    if file_limit >= 4 * MAX_BACKLOG + RESERVED_FILES:
        assert (cap, backlog) == (1000, MAX_BACKLOG)  # plenty of descriptors: the setting stands


def test_health_port_must_differ_from_the_served_port(db_url: str) -> None:
    result = run_firebreak(["serve", "--port", "18099"], firebreak_env(db_url, FIREBREAK_HEALTH_PORT="18099"))
    assert result.returncode == 2
    assert "FIREBREAK_HEALTH_PORT must differ from the port served (18099)" in result.stderr
    assert "Traceback" not in result.stderr
