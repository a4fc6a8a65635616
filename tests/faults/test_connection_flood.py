"""A flood of idle connections against a real ``firebreak serve`` with a small file limit.

The process gets 256 descriptors (soft and hard, so it cannot raise them). Three hundred
loopback connections that never send a byte would, unguarded, use up every descriptor:
``accept()`` fails, the event loop logs that every second, and ``/healthz`` stops answering.
Guarded, the connection cap is lowered to fit the limit, connections past it are closed on
arrival, idle ones are closed after the header timeout, and the health port answers
throughout.
"""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.http.server import RESERVED_FILES, fit_connections
from tests.support.ports import free_port
from tests.support.processes import ROOT, firebreak_env
from tests.support.waiting import wait_until

FILE_LIMIT = 256
IDLE_CONNECTIONS = 300
HEADER_TIMEOUT = 3
BODY_TIMEOUT = 3


def limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True  # reset by the server


@pytest.fixture
def flooded_server(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str, Path, int]]:
    port, health_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    env = firebreak_env(
        db_url,
        FIREBREAK_HEALTH_PORT=str(health_port),
        FIREBREAK_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
        FIREBREAK_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT),
        PAGERDUTY_WEBHOOK_SECRET="flood-secret",
    )
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, preexec_fn=limit_files,
        )
    try:
        main, health = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{health_port}"
        wait_until(lambda: process.poll() is not None or answers(main + "/readyz"), timeout=60, what="server ready")
        assert process.poll() is None, log.read_text()[-3000:]
        yield main, health, log, port
    finally:
        process.kill()
        process.wait(timeout=10)


def test_idle_flood_slow_heads_and_huge_heads(flooded_server: tuple[str, str, Path, int]) -> None:
    """One server (starting one takes a while): the three attacks in turn."""
    main, health, log, port = flooded_server
    idle_flood_leaves_health_answering(main, health, log, port)
    slow_headers_are_cut_off(port)
    slow_body_is_answered_408_and_closed(port, "/webhooks/pagerduty")
    slow_body_is_answered_408_and_closed(port, "/signin", content_type="application/x-www-form-urlencoded")
    pipelined_head_without_its_body_is_answered_408(port)
    # Alertmanager's bearer token is checked from the head: refused before any body is read.
    assert slow_body_answer(port, "/webhooks/alertmanager").startswith(b"HTTP/1.1 401 Unauthorized")
    text = log.read_text()
    assert "webhook sender went away before its body was read" in text  # the handler was told
    assert "Exception in ASGI application" not in text and "failed unexpectedly" not in text, text[-3000:]
    oversized_request_head_gets_a_json_431(main)
    malformed_request_gets_a_json_400(port)


def idle_flood_leaves_health_answering(main: str, health: str, log: Path, port: int) -> None:
    cap, backlog = fit_connections(1000, FILE_LIMIT)
    assert cap + backlog == FILE_LIMIT - RESERVED_FILES and cap < IDLE_CONNECTIONS
    idle: list[socket.socket] = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.setblocking(False)
            idle.append(sock)

        # While the flood holds its connections, the health port answers.
        assert httpx.get(health + "/healthz", timeout=5).status_code == 200
        assert httpx.get(health + "/readyz", timeout=5).status_code == 200
        # Connections past the cap are closed on arrival: never more than the cap stay open.
        wait_until(lambda: sum(map(closed_by_server, idle)) >= IDLE_CONNECTIONS - cap, timeout=10, what="connections past the cap closed")
        # The idle ones are closed once the header timeout has passed; the main port answers again.
        wait_until(lambda: all(closed_by_server(sock) for sock in idle), timeout=HEADER_TIMEOUT + 20, what="idle connections closed")
        wait_until(lambda: answers(main + "/healthz"), timeout=10, what="main port answering again")
    finally:
        for sock in idle:
            sock.close()

    text = log.read_text()
    assert "out of system resource" not in text  # descriptors never ran out
    assert "FIREBREAK_MAX_CONNECTIONS lowered to fit the open-file limit" in text
    assert 1 <= text.count("connection closed on arrival") <= 2  # throttled: one line, not one per connection


def slow_headers_are_cut_off(port: int) -> None:
    """One byte of request head now and then does not keep a connection: the whole head must
    arrive within the header timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        sock.setblocking(False)

        def drip_then_check() -> bool:
            try:
                sock.sendall(b"X")
            except OSError:
                return True
            return closed_by_server(sock)

        wait_until(drip_then_check, timeout=HEADER_TIMEOUT + 20, interval=0.5, what="slow client cut off")


def slow_body_is_answered_408_and_closed(port: int, path: str, *, content_type: str = "application/json") -> None:
    """A whole head, then a body a byte at a time: the endpoint must read the body before it
    can check a signature, so the body has a deadline of its own (no credential needed)."""
    answer = slow_body_answer(port, path, content_type)
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 408 Request Timeout", answer[:300]
    assert json.loads(rest.partition(b"\r\n\r\n")[2]) == {"error": f"request body not complete within {BODY_TIMEOUT} seconds"}


def slow_body_answer(port: int, path: str, content_type: str = "application/json") -> bytes:
    """What the server says to a body sent a byte every half second, once it closes."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: 100000\r\n"
        "X-Slack-Request-Timestamp: 1\r\nX-Slack-Signature: v0=" + "0" * 64 + "\r\n\r\n"
    )
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head.encode())
        sock.setblocking(False)

        def read_what_came() -> bool:
            """Take what the server sent so far; True once it has closed."""
            nonlocal answer
            while True:
                try:
                    chunk = sock.recv(4096)
                except BlockingIOError:
                    return False
                except OSError:
                    return True
                if not chunk:
                    return True
                answer += chunk

        def drip_until_answered() -> bool:
            # Read before writing: a server that closes with our bytes unread resets the
            # connection, and a write after that fails before the answer has been read.
            if read_what_came():
                return True
            try:
                sock.sendall(b"{")
            except OSError:
                read_what_came()
                return True
            return False

        wait_until(drip_until_answered, timeout=BODY_TIMEOUT + 20, interval=0.5, what=f"slow body on {path} cut off")
    return answer


def pipelined_head_without_its_body_is_answered_408(port: int) -> None:
    """A whole request and, in the same packet, the head of a second one whose body never
    comes: the second body's clock starts when the first answer is done, not at bytes that
    never arrive."""
    second = "POST /webhooks/pagerduty HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=BODY_TIMEOUT + 20) as sock:
        sock.sendall(("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + second).encode())
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    assert b"HTTP/1.1 408 Request Timeout" in answer, answer[-400:]


def oversized_request_head_gets_a_json_431(main: str) -> None:
    response = httpx.get(main + "/healthz", headers={"X-Padding": "p" * 20_000}, timeout=5)
    assert response.status_code == 431
    assert "larger than" in response.json()["error"]


def malformed_request_gets_a_json_400(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Name: y\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request") and b"content-type: application/json" in head
    assert json.loads(body) == {"error": "malformed HTTP request"}
