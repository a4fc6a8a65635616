"""The console chat backend's delivery side: what Slack would show, as readable text.

Each delivered message becomes one transcript row, written in the same transaction that
marks the outbox row delivered, so a crash can neither lose nor repeat a line.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.chat import render
from bot.chat.naming import channel_name
from bot.chat.operations import archive_still_due
from bot.chat.render import POST_ICONS
from bot.delivery.message import DeliveryError, DeliveryResult, OutboxMessage
from bot.domain.clock import Clock, SystemClock
from bot.domain.errors import IncidentNotFound
from bot.domain.incident import Incident, format_number
from bot.domain.severity import Severity
from bot.store import alert_groups
from bot.store.db import SessionFactory
from bot.store.incidents import IncidentRepository
from bot.store.models import IncidentRow, TranscriptRow
from bot.text_safety import clean, one_line, person_name

ANNOUNCEMENTS = "#incidents"
#: The session a message's renderer reads with (``ConsoleDeliverer._render``).
_READING: ContextVar[Session | None] = ContextVar("firebreak_console_reading", default=None)


#: How much of an uploaded file the transcript shows.
UPLOAD_PREVIEW_LINES = 12
#: Slack's channel set-up operations (``bot.chat.operations``) as the console shows them.
SETUP_LINES = {
    "set_topic": "topic updated",
    "pin_summary": "summary pinned",
    "invite": "invited",
    "bookmark": "bookmark added",
    "announce": "announced in the incidents channel",
    "archive": "channel archived",
}

#: Below this severity there is no incident channel, only an announcement (design.md).
CHANNEL_SEVERITIES = frozenset({Severity.P0, Severity.P1, Severity.P2})


class ConsoleDeliverer:
    """Renders chat operations; ``stream=None`` stores without printing (the console tails)."""

    def __init__(
        self,
        sessions: SessionFactory,
        *,
        stream: TextIO | None = sys.stdout,
        clock: Clock | None = None,
        zone: ZoneInfo | None = None,
        announcements: str = ANNOUNCEMENTS,
        files_dir: Path | None = None,
    ) -> None:
        self._sessions = sessions
        #: Where uploaded files (post-mortem drafts) are saved, as Slack would keep them.
        self._files_dir = files_dir
        self._stream = stream
        self._clock = clock or SystemClock()
        self._zone = zone or ZoneInfo("UTC")
        self._announcements = announcements
        self._renderers: dict[str, Callable[[OutboxMessage], list[tuple[str, str]]]] = {
            "open_incident": self._open_incident,
            "post": self._post,
            "refresh_summary": self._refresh_summary,
            **{name: self._setup for name in SETUP_LINES},
            "archive": self._archive,
            "upload_file": self._upload_file,
            "post_ephemeral": self._post_ephemeral,
            "notice": self._notice,
        }

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        renderer = self._renderers.get(message.operation, self._generic)
        try:
            # Renderers read the incident: off the event loop, which answers webhooks and
            # must never wait for the database (SQLite hands out its writer one at a time).
            lines = await asyncio.to_thread(self._render, renderer, message)
        except IncidentNotFound as error:
            raise DeliveryError(str(error), retryable=False) from error
        now = self._clock.now()

        def record(session: Session) -> None:
            for index, (channel, text) in enumerate(lines):
                session.add(
                    TranscriptRow(at=now, channel=channel, text=text, outbox_id=message.id if index == 0 else None)
                )

        def show() -> None:
            if self._stream is not None:
                for channel, text in lines:
                    print_line(self._stream, channel, text)

        return DeliveryResult(record=record, after_commit=show)

    def _render(self, renderer: Callable[[OutboxMessage], list[tuple[str, str]]], message: OutboxMessage) -> list[tuple[str, str]]:
        """Run a renderer with one session for all it reads (the incident, its children, the
        transcript): a session each was a connection checkout and a rollback per read."""
        with self._sessions() as session:
            token = _READING.set(session)
            try:
                return renderer(message)
            finally:
                _READING.reset(token)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Session]:
        """The session of the message being rendered, else one of its own."""
        current = _READING.get()
        if current is not None:
            yield current
            return
        with self._sessions() as session:
            yield session

    # -- renderers: each returns (channel, text) lines ------------------------------

    def _channel_for(self, number: int) -> str:
        """The conversation of incident ``number`` (as ``_channel_of``), from the three fields
        it depends on: most messages are posts, and the whole incident is not needed."""
        with self._reading() as session:
            found = session.execute(select(IncidentRow.title, IncidentRow.severity).where(IncidentRow.id == number)).one_or_none()
        if found is None:
            raise IncidentNotFound(f"there is no incident {format_number(number)}")
        return self._conversation(number, found.title, Severity(found.severity))

    def _channel_of(self, incident: Incident) -> str:
        return self._conversation(incident.number, incident.title, incident.severity)

    def _conversation(self, number: int, title: str, severity: Severity) -> str:
        """The incident's channel, else the thread under its announcement, as in Slack.

        As in Slack, a channel once opened stays the incident's conversation: an incident
        lowered to P3 after it had a channel keeps posting there (the transcript says
        whether it had one, whichever process posted into it).
        """
        channel = "#" + channel_name(number, title)
        if severity in CHANNEL_SEVERITIES or self._had_channel(channel):
            return channel
        return f"{self._announcements} › {format_number(number)}"

    def _had_channel(self, channel: str) -> bool:
        with self._reading() as session:
            return session.scalar(select(TranscriptRow.id).where(TranscriptRow.channel == channel).limit(1)) is not None

    def _thread_of(self, incident: Incident) -> str:
        return f"{self._announcements} › {format_number(incident.number)}"

    def _open_incident(self, message: OutboxMessage) -> list[tuple[str, str]]:
        number = int(message.payload["number"])
        with self._reading() as session:
            incident = IncidentRepository.get(session, number)
            announcement = f"🚨 {incident.ref} [{incident.severity.value}] {one_line(incident.title)} (declared via {incident.source.value})"
            if incident.severity not in CHANNEL_SEVERITIES:
                return [(self._announcements, f"{announcement} — no channel for {incident.severity.value}; updates follow in this thread")]
            channel = "#" + channel_name(number, incident.title)
            if self._had_channel(channel):
                # Raised back to P0–P2 after it was lowered: as in Slack ("channel already open"),
                # the channel it had is still its conversation, announced once.
                return []
            children = alert_groups.children(session, number)
        text = render.summary(incident, now=self._clock.now(), zone=self._zone, children=children)
        return [(self._announcements, f"{announcement} → {channel}"), (channel, "📌 " + text)]

    def _post(self, message: OutboxMessage) -> list[tuple[str, str]]:
        payload = message.payload
        if payload.get("kind") == "timeline":  # pages of Slack mrkdwn, already escaped
            text = str(payload.get("text", "")).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
            return [(self._channel_for(int(payload["number"])), text)]
        icon = POST_ICONS.get(str(payload.get("kind")), "💬")
        said = render.entry_text(str(payload.get("kind")), payload.get("data"), payload.get("text"))
        text = f"{icon} {person_name(payload.get('actor'))}: {clean(said)}"
        pointer = self._pointer(payload)
        return [(self._channel_for(int(payload["number"])), text + (f" → {pointer}" if pointer else ""))]

    def _pointer(self, payload: dict[str, object]) -> str | None:
        """The other incident's conversation for a split or merge post, as Slack links it."""
        if payload.get("kind") not in ("split", "merged"):
            return None
        data = payload.get("data")
        other = data.get("into", data.get("from")) if isinstance(data, dict) else None
        if not isinstance(other, int) or isinstance(other, bool):
            return None
        try:
            return self._channel_for(other)
        except IncidentNotFound:
            return None

    def _refresh_summary(self, message: OutboxMessage) -> list[tuple[str, str]]:
        number = int(message.payload["number"])
        with self._reading() as session:
            incident = IncidentRepository.get(session, number)
            children = alert_groups.children(session, number)
        text = render.summary(incident, now=self._clock.now(), zone=self._zone, children=children)
        if incident.severity not in CHANNEL_SEVERITIES:  # the announcement is the summary, edited in place
            return [(self._announcements, f"✏️ (announcement of {incident.ref} updated)\n" + text)]
        return [(self._channel_of(incident), "📌 (pinned summary updated)\n" + text)]

    def _upload_file(self, message: OutboxMessage) -> list[tuple[str, str]]:
        """A file as Slack would show it: title, name and size, then its first lines."""
        payload = message.payload
        content = str(payload.get("content", ""))
        lines = content.splitlines()
        head = lines[:UPLOAD_PREVIEW_LINES]
        more = len(lines) - len(head)
        saved = self._save(str(payload.get("filename") or "upload.txt"), content)
        text = "\n".join(
            [
                f"📎 {payload.get('title')} — {payload.get('filename')} ({len(lines)} lines, {len(content.encode())} bytes)",
                *([f"saved as {saved}"] if saved else []),
                *([str(payload["initial_comment"])] if payload.get("initial_comment") else []),
                *(f"│ {line}" for line in head),
                *([f"│ … {more} more lines"] if more > 0 else []),
            ]
        )
        return [(self._channel_for(int(payload["number"])), text)]
    def _save(self, filename: str, content: str) -> Path | None:
        """Write the file (its bare name only: never a path a payload chose); None without a folder."""
        if self._files_dir is None:
            return None
        target = self._files_dir / (Path(filename).name or "upload.txt")
        try:
            target.write_text(content, encoding="utf-8")
        except OSError as error:
            raise DeliveryError(f"cannot save {target}: {error.strerror}", retryable=False) from error
        return target.absolute()

    def _setup(self, message: OutboxMessage) -> list[tuple[str, str]]:
        """Slack channel set-up steps (topic, pin, invite, bookmark, announce, archive)."""
        number = int(message.payload["number"])
        payload = {key: value for key, value in message.payload.items() if key != "number" and value not in ([], "", None)}
        detail = " ".join(f"{key}={value}" for key, value in payload.items())
        return [(self._channel_for(number), f"⚙️ {SETUP_LINES[message.operation]} {detail}".rstrip())]

    def _archive(self, message: OutboxMessage) -> list[tuple[str, str]]:
        """As Slack does: an incident that never had a channel has nothing to archive, and the
        line says what happened, not the message's bookkeeping."""
        number = int(message.payload["number"])
        with self._reading() as session:
            incident = IncidentRepository.get(session, number)
        if not archive_still_due(incident, message.payload):
            return []  # reopened since: the channel stays open
        channel = self._channel_of(incident)
        if channel == self._thread_of(incident):
            return []
        return [(channel, f"⚙️ {SETUP_LINES[message.operation]}")]

    def _post_ephemeral(self, message: OutboxMessage) -> list[tuple[str, str]]:
        payload = message.payload
        return [(str(payload.get("channel")), f"(only {payload.get('user')} sees this) {payload.get('text')}")]

    def _notice(self, message: OutboxMessage) -> list[tuple[str, str]]:
        return [(self._announcements, "ℹ️ " + str(message.payload.get("text", "")))]

    def _generic(self, message: OutboxMessage) -> list[tuple[str, str]]:
        number = message.payload.get("number")
        channel = self._channel_for(int(number)) if number else self._announcements
        text = str(message.payload.get("text") or f"{message.operation}: {message.payload}")
        return [(channel, text)]


def print_line(stream: TextIO, channel: str, text: str) -> None:
    """One transcript line on a terminal: whatever it holds, no escape sequence gets through."""
    channel, text = one_line(channel), clean(text)
    indent = "\n" + " " * (len(channel) + 3)
    stream.write(f"[{channel}] {text.replace(chr(10), indent)}\n")
    stream.flush()
