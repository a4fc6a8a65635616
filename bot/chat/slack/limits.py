"""Slack's size limits, and cutting our text to fit them without losing any of it.

Slack refuses a section text over 3,000 characters or more than 50 blocks
(``invalid_blocks``), truncates or refuses message text over 40,000 characters
(``msg_too_long``), and refuses blocks that are too long in total (``msg_blocks_too_long``;
the total is not published: messages of about 13,000 characters of block text have been
refused, so we stay under 11,000). Text is split at line breaks into sections, sections
are packed into messages, and whatever must be cut says so and where the rest is.
"""

from __future__ import annotations

from typing import Any

SECTION_TEXT = 3000
FIELD_TEXT = 2000
HEADER_TEXT = 150
MESSAGE_TEXT = 40_000
MESSAGE_BLOCKS = 50
MESSAGE_BLOCK_TEXT = 11_000
"""Our budget for all text in one message's blocks (Slack's ``msg_blocks_too_long``)."""
TOPIC = 250
FALLBACK_TEXT = 3000
"""The top-level ``text`` of a message with blocks: only notifications show it."""


def mrkdwn(text: str) -> dict[str, Any]:
    """A ``mrkdwn`` text object that Slack does not auto-link or auto-mention (``verbatim``)."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text)}


def _cut_at(text: str, limit: int) -> int:
    """Where to cut ``text`` to at most ``limit`` characters: a line break, a space, and
    never inside an entity (``&amp;``) Slack escaping made."""
    if len(text) <= limit:
        return len(text)
    for mark in ("\n", " "):
        at = text.rfind(mark, limit // 2, limit)
        if at > 0:
            return at
    at = limit
    amp = text.rfind("&", max(0, limit - 5), limit)
    if amp >= 0 and ";" not in text[amp:limit]:
        at = amp
    return max(1, at)


def split_text(text: str, limit: int = SECTION_TEXT) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at line breaks where possible."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        at = _cut_at(rest, limit)
        pieces.append(rest[:at].rstrip("\n"))
        rest = rest[at:].lstrip("\n")
    if rest or not pieces:
        pieces.append(rest)
    return [piece for piece in pieces if piece] or [""]


def pack(pieces: list[str], *, budget: int = MESSAGE_BLOCK_TEXT, max_blocks: int = MESSAGE_BLOCKS) -> list[list[str]]:
    """Section texts packed into messages: each within ``budget`` characters and ``max_blocks``."""
    messages: list[list[str]] = []
    size = 0
    for piece in pieces:
        if messages and len(messages[-1]) < max_blocks and size + len(piece) <= budget:
            messages[-1].append(piece)
            size += len(piece)
        else:
            messages.append([piece])
            size = len(piece)
    return messages


def clip(text: str, limit: int, pointer: str) -> str:
    """``text`` cut to ``limit`` characters with ``pointer`` (where the rest is) at the end."""
    if len(text) <= limit:
        return text
    return text[: _cut_at(text, max(1, limit - len(pointer)))].rstrip() + pointer


def block_text_size(blocks: list[dict[str, Any]]) -> int:
    """All text a message's blocks carry, as Slack counts it towards ``msg_blocks_too_long``."""
    total = 0

    def walk(value: Any) -> None:
        nonlocal total
        if isinstance(value, dict):
            if isinstance(value.get("text"), str):
                total += len(value["text"])
            for key, item in value.items():
                if key != "text" or not isinstance(item, str):
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(blocks)
    return total
