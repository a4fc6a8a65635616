"""The timeline as chat pages within Slack's limits, shared by Slack and the console.

Slack caps a section block's text at 3,000 characters, a message at 50 blocks and a
message's text at 40,000 characters. A page is one section's worth of timeline lines;
:func:`group_pages` packs pages into messages. Long entries are cut (the export has them
in full), so one huge note cannot push the rest of the timeline out of a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from bot.domain.children_text import entry_wording
from bot.domain.incident import Incident
from bot.domain.timeline import TimelineEntry
from bot.export.escape import plain_text, slack_text
from bot.export.wording import ICONS, kind_label
from bot.text_safety import person_name

SECTION_TEXT_LIMIT = 3000
MESSAGE_TEXT_LIMIT = 40000
MESSAGE_BLOCK_LIMIT = 50
MESSAGE_BLOCK_TEXT_LIMIT = 11000
"""All block text of one message: Slack refuses larger ones (``msg_blocks_too_long``)."""
Markup = Literal["mrkdwn", "plain"]
#: Received: the order Firebreak received things in (how state changed). Source: by the
#: senders' own times, where they are sane (how it happened out there).
Order = Literal["received", "source"]

_PAGE_MARK_ROOM = 32  # "_(page 1234/1234)_" and a newline, with room to spare
_CUT = " … (cut: the export has the full text)"


def _other_time(entry: TimelineEntry, order: Order, tz: ZoneInfo) -> str:
    """The time the line is not ordered by, when it says something: `` (at source 18:11:00)``."""
    if entry.source_time is not None and entry.source_time.fell_back:
        return f" (source time unusable: {entry.source_time.value}; shown as received)"
    if abs((entry.happened - entry.received).total_seconds()) < 1:
        return ""
    if order == "source":
        return f" (received {entry.received.astimezone(tz):%Y-%m-%d %H:%M:%S})"
    return f" (at source {entry.happened.astimezone(tz):%Y-%m-%d %H:%M:%S})"


def _line(entry: TimelineEntry, moment: datetime, markup: Markup, other: str = "") -> str:
    """One entry; a stored Slack person (``<@U1|bob>``) shows as ``@bob``: readable, pings nobody."""
    icon = ICONS.get(entry.kind.value, "•")
    said = entry_wording(entry.kind.value, entry.data) or entry.text
    if markup == "mrkdwn":
        return (
            f"`{moment:%H:%M:%S}` {icon} *{slack_text(person_name(entry.actor))}* · {kind_label(entry.kind.value)}{other}"
            f" — {slack_text(said)}"
        )
    return f"{moment:%H:%M:%S}  {icon} {plain_text(person_name(entry.actor))} · {kind_label(entry.kind.value)}{other} — {plain_text(said)}"


def in_order(entries: Sequence[TimelineEntry], order: Order) -> list[TimelineEntry]:
    """Received order (as recorded, the causal order) or source order (by source time, stable)."""
    if order == "source":
        return sorted(entries, key=lambda entry: entry.happened)
    return list(entries)


def _day(moment: datetime, markup: Markup) -> str:
    label = f"{moment:%A %Y-%m-%d} ({moment.tzname()})"
    return f"*{label}*" if markup == "mrkdwn" else f"— {label} —"


def _fit(line: str, limit: int) -> str:
    return line if len(line) <= limit else line[: max(0, limit - len(_CUT))].rstrip() + _CUT


def timeline_pages(
    incident: Incident,
    entries: Sequence[TimelineEntry],
    *,
    zone: ZoneInfo | None = None,
    markup: Markup = "mrkdwn",
    max_chars: int = SECTION_TEXT_LIMIT,
    order: Order = "received",
) -> list[str]:
    """The timeline as pages of at most ``max_chars`` characters, oldest entry first.

    The first page starts with a heading; each page repeats the current day so it reads on
    its own; with more than one page each ends with ``(page i/n)``. Lines are in received
    order by received time, or (``order="source"``) by source time; a line whose other time
    differs shows it too.
    """
    tz = zone or ZoneInfo("UTC")
    entries = in_order(entries, order)
    title = slack_text(incident.title) if markup == "mrkdwn" else plain_text(incident.title)
    ordered = " · in source-time order" if order == "source" else ""
    heading = f"Timeline of {incident.ref} — {title} · {len(entries)} entries · times in {tz}{ordered}"
    heading = _fit(f"*{heading}*" if markup == "mrkdwn" else heading, max_chars - _PAGE_MARK_ROOM)
    budget = max_chars - _PAGE_MARK_ROOM
    pages: list[list[str]] = [[heading]]
    size = len(heading)
    day: str | None = None
    for entry in entries:
        moment = (entry.happened if order == "source" else entry.received).astimezone(tz)
        lines = []
        today = _day(moment, markup)
        if today != day:
            lines.append(today)
            day = today
        lines.append(_fit(_line(entry, moment, markup, _other_time(entry, order, tz)), budget - len(today) - 1))
        needed = sum(len(line) + 1 for line in lines)
        if size + needed > budget and len(pages[-1]) > 0 and size > 0:
            carried = [] if lines[0] == today else [today]
            pages.append(carried)
            size = sum(len(line) + 1 for line in carried)
        pages[-1].extend(lines)
        size += needed
    if not entries:
        pages[-1].append("(no entries)")
    texts = ["\n".join(page) for page in pages]
    if len(texts) > 1:
        mark = "_(page {}/{})_" if markup == "mrkdwn" else "(page {}/{})"
        texts = [f"{text}\n{mark.format(index, len(texts))}" for index, text in enumerate(texts, start=1)]
    return texts


def group_pages(
    pages: Sequence[str],
    *,
    max_blocks: int = MESSAGE_BLOCK_LIMIT,
    max_text: int = MESSAGE_TEXT_LIMIT,
    max_block_text: int = MESSAGE_BLOCK_TEXT_LIMIT,
) -> list[list[str]]:
    """Pack pages (one section block each) into messages under Slack's per-message limits.

    The message text is the pages joined by newlines (the notification fallback), so the
    joins count against ``max_text`` too.
    """
    messages: list[list[str]] = []
    size = 0
    for page in pages:
        fits = size + 1 + len(page) <= min(max_text, max_block_text)
        if messages and len(messages[-1]) < max_blocks and fits:
            messages[-1].append(page)
            size += 1 + len(page)
        else:
            messages.append([page])
            size = len(page)
    return messages
