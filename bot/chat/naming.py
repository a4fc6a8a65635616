"""Conversation names for incidents, within Slack's channel-name rules.

Slack names are lowercase, at most 80 characters, with no spaces or periods; the console
uses the same names so transcripts read like the Slack workspace would.
"""

from __future__ import annotations

import re
import unicodedata

MAX_CHANNEL_NAME = 80


def slugify(text: str, *, max_length: int = 60) -> str:
    normalised = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9_-]+", "-", normalised).strip("-_")
    slug = re.sub(r"-{2,}", "-", slug)
    return slug[:max_length].rstrip("-_")


def channel_name(number: int, title: str, *, suffix: str = "") -> str:
    prefix = f"inc-{number}"
    tail = f"-{suffix}" if suffix else ""
    room = MAX_CHANNEL_NAME - len(prefix) - len(tail) - 1
    slug = slugify(title, max_length=max(0, room))
    return f"{prefix}-{slug}{tail}" if slug else f"{prefix}{tail}"
