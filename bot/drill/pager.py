"""What stands in for PagerDuty and real people during a drill: it says what it would do.

The drill's container has no PagerDuty client at all (its settings are stripped of the
credentials, bot/drill/runner.py); this deliverer takes the ``pagerduty`` outbox rows the
escalation engine queues and turns each into a line "(drill) would page …" in the transcript
and in the report. Chat goes to the console backend, never to Slack.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TextIO

from bot.chat.console.transcript import print_line
from bot.delivery.message import DeliveryResult, OutboxMessage
from bot.domain.incident import format_number

DRILL_MARK = "(drill)"


@dataclass(frozen=True)
class WouldPage:
    incident: int
    level: int | None
    target: str

    def __str__(self) -> str:
        level = f" (level {self.level})" if self.level is not None else ""
        return f"{DRILL_MARK} would page {self.target} for {format_number(self.incident)}{level}"


class DrillPager:
    """The ``pagerduty`` deliverer of a drill: records, never sends."""

    def __init__(self, stream: TextIO | None, channel: str) -> None:
        self._stream = stream
        self._channel = channel
        self.pages: list[WouldPage] = []

    async def deliver(self, message: OutboxMessage) -> DeliveryResult:
        payload = message.payload
        number = int(payload.get("number") or 0)
        if message.operation == "page":
            if payload.get("escalation_policy_id"):
                target = f"PagerDuty escalation policy {payload['escalation_policy_id']}"
            else:
                target = f"PagerDuty user {payload.get('user_id')}"
            level = payload.get("level")
            page = WouldPage(number, int(level) if isinstance(level, int) else None, target)
            self.pages.append(page)
            self._say(str(page))
        else:
            self._say(
                f"{DRILL_MARK} would tell PagerDuty: {message.operation} {format_number(number) if number else ''}".rstrip()
            )
        return DeliveryResult()

    def _say(self, text: str) -> None:
        if self._stream is not None:
            print_line(self._stream, self._channel, text)


class DrillStream(io.TextIOBase):
    """A transcript stream that marks every line it passes on as a drill's."""

    def __init__(self, inner: TextIO | None) -> None:
        self._inner = inner
        self._at_line_start = True

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._inner is None:
            return len(text)
        out = []
        for piece in text.splitlines(keepends=True):
            if self._at_line_start and not piece.startswith(DRILL_MARK):
                out.append(f"{DRILL_MARK} ")
            out.append(piece)
            self._at_line_start = piece.endswith("\n")
        self._inner.write("".join(out))
        return len(text)

    def flush(self) -> None:
        if self._inner is not None:
            self._inner.flush()
