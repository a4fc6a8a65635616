"""``firebreak console``: type ``/incident …`` and read what the bot would post.

Like errbot's text backend: the same command handlers as Slack, a different transport.
What the bot "posts" is delivered through the outbox like in Slack mode and read back from
the transcript table, so messages caused by a running server (alerts) show up here too, as
they happen, above the prompt.
"""

from __future__ import annotations

import asyncio
import getpass
import io
import select as os_select
import threading
from collections.abc import Iterable
from typing import TextIO

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.chat.commands import CommandContext
from bot.chat.console.live import LiveOutput
from bot.chat.console.transcript import print_line
from bot.container import Container
from bot.domain.timeline import Source
from bot.store.db import SessionFactory
from bot.store.models import TranscriptRow
from bot.text_safety import clean

PROMPT = "firebreak> "
#: How often the console looks for lines another process (``serve``) delivered.
POLL_SECONDS = 0.5


class TranscriptTail:
    """Renders transcript rows written since it started, whoever delivered them."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions
        self._lock = threading.Lock()
        with self._sessions() as session:
            self._last_id = int(session.scalar(select(func.coalesce(func.max(TranscriptRow.id), 0))) or 0)

    def take(self) -> str:
        """The new rows as printable text (empty when there are none)."""
        with self._lock, self._sessions() as session:
            rows = list(session.scalars(select(TranscriptRow).where(TranscriptRow.id > self._last_id).order_by(TranscriptRow.id)))
            buffer = io.StringIO()
            for row in rows:
                print_line(buffer, row.channel, row.text)
                self._last_id = row.id
            return buffer.getvalue()


class ConsoleSession:
    def __init__(self, container: Container, *, out: TextIO, actor: str | None = None, terminal: bool = False) -> None:
        self.container = container
        self.out = out
        self.context = CommandContext(actor=actor or _whoami(), source=Source.CONSOLE)
        # With one incident open, it is the one a fresh console is talking about.
        open_now = container.service.recent(open_only=True, limit=2)
        if len(open_now) == 1:
            self.context.last_incident = open_now[0].number
        self.tail = TranscriptTail(container.sessions)
        self.live = LiveOutput(out, PROMPT, terminal=terminal)

    def execute(self, line: str) -> None:
        reply = self.container.commands.handle(line, self.context)
        if reply.incident is not None:
            self.context.last_incident = reply.incident
        self.live.write(clean(reply.text) + "\n")  # replies quote alert text: no escape sequences
        asyncio.run(self.container.worker.drain(timeout=10))
        self.flush()

    def flush(self) -> None:
        self.live.write(self.tail.take())

    def run_script(self, lines: Iterable[str], *, echo: bool = True) -> None:
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if echo:
                self.live.write(f"{PROMPT}{clean(line)}\n")  # a script is text from anywhere, like a reply
            self.execute(line)
        asyncio.run(self.container.worker.drain(timeout=30))
        self.flush()

    def run_interactive(self) -> None:
        self.live.write("Type /incident help, or Ctrl-D to leave. Alerts and posts from a running `firebreak serve` appear as they happen.\n")
        # What is already going on: an alert that arrived while the console was starting is
        # not in the tail, but it is open.
        self.live.write(self.container.commands.handle("/incident list", self.context).text + "\n")
        stop = threading.Event()
        poller = threading.Thread(target=self._poll, args=(stop,), name="console-tail", daemon=True)
        poller.start()
        try:
            while True:
                try:
                    line = self.live.read_line()
                except EOFError:
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
            self.out.flush()

    def _poll(self, stop: threading.Event) -> None:
        while not stop.wait(POLL_SECONDS):
            try:
                self.flush()
            except Exception:  # a locked database must not kill the prompt
                continue


def follow(sessions: SessionFactory, out: TextIO, stop: threading.Event, *, poll_seconds: float = POLL_SECONDS) -> None:
    """``firebreak console --follow``: print the transcript as it grows until ``stop`` is set."""
    tail = TranscriptTail(sessions)
    while True:
        try:
            text = tail.take()
        except OperationalError:  # the database is busy or restarting: look again next time
            text = ""
        if text:
            out.write(text)
            out.flush()
        if stop.wait(poll_seconds) or _reader_gone(out):
            return


def _reader_gone(out: TextIO) -> bool:
    """Whether nobody reads ``out`` any more (``--follow | head`` after head left). Like
    ``tail -f``, a follower must notice without waiting for something to write: asked with
    poll, a pipe whose reading end is closed reports an error at once."""
    try:
        descriptor = out.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return False
    if not hasattr(os_select, "poll"):  # not on every platform: the next write finds out instead
        return False
    poller = os_select.poll()
    poller.register(descriptor, 0)  # errors and hang-ups are always reported
    return any(events & (os_select.POLLERR | os_select.POLLHUP) for _fd, events in poller.poll(0))


def _whoami() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "console"
