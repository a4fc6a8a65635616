"""The console as a person uses it: alerts from a running server appear while they type.

Real processes: the console on a pseudo-terminal (readline and all), ``serve`` on loopback,
``console --follow`` on a pipe. Every wait is for a condition, bounded.
"""

from __future__ import annotations

import asyncio
import os
import pty
import queue
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bot.container import build_container
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from tests.conftest import make_settings
from tests.support.processes import ROOT, Server, firebreak_env, run_firebreak

TOKEN = "tour-secret"  # as in the README and docs/getting-started.md


class Terminal:
    """A child process on a pty; ``wait_for`` reads until a condition on all output holds."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args], stdin=slave, stdout=slave, stderr=slave, env={**env, "TERM": "xterm"}, cwd=cwd, close_fds=True
        )
        os.close(slave)
        self.output = ""

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait_for(self, condition: Callable[[str], bool], timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while not condition(self.output):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out; output so far:\n{self.output!r}"
            ready, _, _ = select.select([self.master], [], [], min(remaining, 0.5))
            if ready:
                try:
                    self.output += os.read(self.master, 65536).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    assert condition(self.output), f"process ended; output:\n{self.output!r}"
        return self.output

    def close(self) -> int:
        """Wait for the child to exit, reading what it still prints (a full pty would block it)."""
        try:
            deadline = time.monotonic() + 60
            while self.process.poll() is None:
                assert time.monotonic() < deadline, f"the console did not exit; output:\n{self.output!r}"
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if ready:
                    try:
                        self.output += os.read(self.master, 65536).decode(errors="replace")
                    except OSError:
                        pass
            code = self.process.wait()
        finally:
            if self.process.poll() is None:
                self.process.kill()
            os.close(self.master)
        return code


def declare_elsewhere(db_url: str, title: str) -> None:
    """What a running ``serve`` does for an alert: declare, deliver, write the transcript."""
    container = build_container(make_settings(db_url), transcript_stream=None)
    try:
        container.service.declare(title=title, severity=Severity.P1, actor="alertmanager", source=Source.ALERTMANAGER)
        asyncio.run(container.worker.drain(timeout=30))
    finally:
        container.close()


def test_posts_appear_above_the_prompt_and_the_typed_line_survives(db_url: str, tmp_path: Path) -> None:
    terminal = Terminal(["console", "--user", "alice"], firebreak_env(db_url), tmp_path)
    try:
        terminal.wait_for(lambda out: "firebreak> " in out)
        location = db_url.removeprefix("sqlite:///")
        if db_url.startswith("sqlite"):
            assert f"database {location}" in terminal.output
        terminal.type("/incident declare Typed while")
        terminal.wait_for(lambda out: "Typed while" in out)

        declare_elsewhere(db_url, "Checkout is failing")

        out = terminal.wait_for(lambda out: "🚨 INC-1 [P1] Checkout is failing" in out and out.rstrip().endswith("firebreak> /incident declare Typed while"))
        post = out.index("🚨 INC-1 [P1] Checkout is failing")
        assert "\r\x1b[2K[#incidents] 🚨 INC-1" in out  # the prompt line was cleared, then the post printed
        assert out.rindex("firebreak> /incident declare Typed while") > post  # and the line redrawn below it

        terminal.type(" typing P2\r")
        terminal.wait_for(lambda out: "INC-2 declared: Typed while typing (P2)" in out and out.endswith("firebreak> "))
        terminal.type("\x04")  # Ctrl-D at the prompt
        assert terminal.close() == 0
    finally:
        if terminal.process.poll() is None:
            terminal.process.kill()
    assert "Traceback" not in terminal.output
    assert '"level"' not in terminal.output and "[warning" not in terminal.output  # no log lines in the chat


def lines_of(process: subprocess.Popen[str], *, stream: str = "stdout") -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        source = getattr(process, stream)
        assert source is not None
        for line in source:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def read_until(lines: queue.Queue[str], needle: str, timeout: float = 60) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while not any(needle in line for line in seen):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{needle!r} not seen in {seen!r}"
        try:
            seen.append(lines.get(timeout=remaining))
        except queue.Empty:
            continue
    return seen


GETTING_STARTED = ROOT / "docs" / "getting-started.md"
EXAMPLE_ALERT = ROOT / "docs" / "examples" / "high-latency-alert.json"


def tour_commands() -> list[str]:
    """The commands of the tour's "Handle it" step, exactly as the page shows them."""
    text = GETTING_STARTED.read_text(encoding="utf-8")
    block = text[text.index("## 5. Handle it") :]
    block = block[block.index("```\n") + 4 :]
    return block[: block.index("```")].strip().splitlines()


def test_follow_prints_alerts_arriving_at_a_running_serve(db_url: str, tmp_path: Path) -> None:
    """The getting-started tour: serve with a token, follow, the example alert, the commands."""
    env = firebreak_env(db_url, ALERTMANAGER_TOKEN=TOKEN, FIREBREAK_PLAYBOOKS_DIR=str(ROOT / "playbooks"))
    # Resolving saves a post-mortem draft where the process runs: in tmp_path, not the checkout.
    with Server(env, cwd=tmp_path) as server:
        follower = subprocess.Popen(
            [sys.executable, "-m", "bot", "console", "--follow"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            lines, header = lines_of(follower), lines_of(follower, stream="stderr")
            # On a pipe the header is on stderr: stdout carries transcript lines only.
            start = read_until(header, "Following")
            assert any("warning: PagerDuty escalation policy PRIMARY_ONCALL cannot be paged" in line for line in start)
            answer = httpx.post(
                server.url + "/webhooks/alertmanager",
                content=EXAMPLE_ALERT.read_bytes(),
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
            assert answer.status_code == 202 and answer.json()["status"] == "accepted"
            seen = read_until(lines, "playbook high-latency attached")
            assert any(line.startswith("[#incidents] 🚨 INC-1 [P1] Checkout p99 latency above 2s") for line in seen)

            commands = tour_commands()
            assert commands[0] == "/incident ack INC-1" and commands[-1] == "/incident resolve"
            readme = (ROOT / "README.md").read_text(encoding="utf-8")
            assert "\n".join(commands) in readme  # the README's quick tour shows the same commands
            assert "--data @docs/examples/high-latency-alert.json" in readme and "Bearer tour-secret" in readme
            console = run_firebreak(["console", "--user", "alice"], env, stdin="\n".join(commands) + "\n", cwd=tmp_path)
            assert console.returncode == 0, console.stderr
            assert "⚠️" not in console.stdout, console.stdout  # every command of the tour works as shown
            assert "INC-1 is now resolved" in console.stdout
            assert "page to PagerDuty escalation policy PRIMARY_ONCALL failed after 1 attempt" in console.stdout
            followed = seen + read_until(lines, "INC-1 resolved")  # and the follower saw it too
            assert followed[0].startswith("[") and not any(line.startswith(("Firebreak", "warning:", "Following")) for line in followed)
        finally:
            follower.terminate()
            follower.wait(timeout=30)
        assert follower.returncode == 0
        assert not any("Traceback" in line for line in list(header.queue))


def test_version_declare_and_show(db_url: str) -> None:
    env = firebreak_env(db_url, FIREBREAK_PLAYBOOKS_DIR=str(ROOT / "playbooks"))
    version = run_firebreak(["--version"], env)
    assert version.returncode == 0 and version.stdout.startswith("firebreak 0.")
    declared = run_firebreak(["declare", "Disk full on db-1", "--sev", "P1", "--user", "ops-bot"], env)
    assert declared.returncode == 0, declared.stderr
    assert declared.stdout.strip() == "INC-1 declared: Disk full on db-1 (P1)"
    # Start-up warnings as lines, not JSON log records.
    assert declared.stderr.startswith("warning: PagerDuty escalation policy") and "{" not in declared.stderr, declared.stderr
    shown = run_firebreak(["incidents", "show", "INC-1"], env)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert out.startswith("INC-1 [P1] Disk full on db-1\n  status: triggered")
    assert "Playbook disk-full: 0/7 steps settled" in out and "  [ ] 1. Confirm usage and how fast it grows" in out
    assert "ops-bot (console): declared: Disk full on db-1 (P1)" in out


def test_a_fresh_console_talks_about_the_only_open_incident(db_url: str) -> None:
    env = firebreak_env(db_url)
    assert run_firebreak(["declare", "Queue backlog", "--sev", "P2"], env).returncode == 0
    noted = run_firebreak(["console", "--user", "alice"], env, stdin="/incident note drained by hand\n")
    assert noted.returncode == 0, noted.stderr
    assert "which incident" not in noted.stdout and "INC-1" in noted.stdout
    assert run_firebreak(["declare", "Second one", "--sev", "P2"], env).returncode == 0
    ambiguous = run_firebreak(["console", "--user", "alice"], env, stdin="/incident note which one?\n")
    assert "which incident? add INC-<n>" in ambiguous.stdout  # two open: the console does not guess
