"""``firebreak console``: type ``/incident …`` and read what the bot would post.

Like errbot's text backend: the same command handlers as Slack, a different transport.
What the bot "posts" is delivered through the outbox like in Slack mode and read back from
the transcript table, so messages caused by a running server (alerts) show up here too.
"""

from __future__ import annotations

import asyncio
import getpass
import threading
from collections.abc import Iterable
from typing import TextIO

from sqlalchemy import func, select

from bot.chat.commands import CommandContext
from bot.chat.console.transcript import print_line
from bot.container import Container
from bot.domain.timeline import Source
from bot.store.models import TranscriptRow
from bot.text_safety import clean

PROMPT = "firebreak> "


class TranscriptTail:
    """Prints transcript rows written since it started, whoever delivered them."""

    def __init__(self, container: Container, out: TextIO) -> None:
        self._sessions = container.sessions
        self._out = out
        self._lock = threading.Lock()
        with self._sessions() as session:
            self._last_id = int(session.scalar(select(func.coalesce(func.max(TranscriptRow.id), 0))) or 0)

    def flush(self) -> int:
        with self._lock, self._sessions() as session:
            rows = list(session.scalars(select(TranscriptRow).where(TranscriptRow.id > self._last_id).order_by(TranscriptRow.id)))
            for row in rows:
                print_line(self._out, row.channel, row.text)
                self._last_id = row.id
            return len(rows)


class ConsoleSession:
    def __init__(self, container: Container, *, out: TextIO, actor: str | None = None) -> None:
        self.container = container
        self.out = out
        self.context = CommandContext(actor=actor or _whoami(), source=Source.CONSOLE)
        self.tail = TranscriptTail(container, out)

    def execute(self, line: str) -> None:
        reply = self.container.commands.handle(line, self.context)
        if reply.incident is not None:
            self.context.last_incident = reply.incident
        self.out.write(clean(reply.text) + "\n")  # replies quote alert text: no escape sequences
        self.out.flush()
        asyncio.run(self.container.worker.drain(timeout=10))
        self.tail.flush()

    def run_script(self, lines: Iterable[str], *, echo: bool = True) -> None:
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if echo:
                self.out.write(f"{PROMPT}{line}\n")
            self.execute(line)
        asyncio.run(self.container.worker.drain(timeout=30))
        self.tail.flush()

    def run_interactive(self, stdin: TextIO) -> None:
        self.out.write("Firebreak console (local mode). Type /incident help, or Ctrl-D to leave.\n")
        stop = threading.Event()
        poller = threading.Thread(target=self._poll, args=(stop,), daemon=True)
        poller.start()
        try:
            while True:
                try:
                    line = input(PROMPT) if stdin.isatty() else stdin.readline()
                except EOFError:
                    break
                if not line and not stdin.isatty():
                    break
                if line.strip() in ("exit", "quit"):
                    break
                if line.strip():
                    self.execute(line)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            poller.join(timeout=2)
            self.out.write("\n")

    def _poll(self, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            try:
                self.tail.flush()
            except Exception:  # a locked database must not kill the prompt
                continue


def _whoami() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "console"
