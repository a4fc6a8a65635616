"""Start-up limits for ``serve``: the open-file limit is raised where allowed, and the
connection cap and listen backlog always fit inside it."""

from __future__ import annotations

import resource
import socket
import subprocess
import sys

import pytest

from bot.http.server import MAX_BACKLOG, RESERVED_FILES, PortUnavailable, fit_connections, listen
from tests.support.ports import free_port
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


def test_a_port_is_taken_by_listening_so_a_second_start_is_refused_at_once() -> None:
    """Binding alone is not enough: with SO_REUSEADDR two processes starting together could
    both bind, and the second learnt of it only inside uvicorn, after its banner."""
    first = listen("127.0.0.1", 0, chosen_by="--port or PORT")
    try:
        port = first[0].getsockname()[1]
        with pytest.raises(PortUnavailable, match=f"cannot listen on 127.0.0.1:{port}: Address already in use"):
            listen("127.0.0.1", port, chosen_by="--port or PORT")
    finally:
        for sock in first:
            sock.close()


def test_a_name_with_several_addresses_listens_on_each() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        both = socket.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM)
    except OSError:
        pytest.skip("localhost does not resolve")
    sockets = listen("localhost", free_port(), chosen_by="--port or PORT")
    try:
        assert {sock.family for sock in sockets} == {family for family, *_ in both}
    finally:
        for sock in sockets:
            sock.close()
