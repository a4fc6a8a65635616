"""The Jinja2 environment of the web view: autoescape everywhere, strict about typos.

Autoescape is on for every template whatever its name, so alert labels, notes and titles
reach the page as text; nothing here marks hostile text safe (only the SVG charts, built
from escaped parts in bot/webview/svg.py, are). Every text printed also loses its control
and bidi characters first (``shown``): a U+202E in a title would otherwise turn the rest of
the line around, so the page would read differently from what was sent.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from bot.export.timings import format_duration
from bot.text_safety import clean

TEMPLATES = Path(__file__).parent / "templates"


#: Bidi marks that ``clean`` keeps (they are harmless in Slack) but that still reorder a page.
_MARKS = re.compile("[\u061c\u200e\u200f]")


def shown(value: Any) -> Any:
    """A value as printed on a page: text without control or bidi characters (bot/text_safety.py),
    anything else (numbers, None, markup we built) unchanged. The JSON download keeps the raw text."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _MARKS.sub("", clean(value))
    return value


def web_link(url: Any) -> str | None:
    """``url`` when it is an http(s) address, else None: a ``javascript:`` link from an alert
    must not become something a person can click."""
    if not isinstance(url, str) or not url.lower().startswith(("https://", "http://")) or any(c.isspace() for c in url):
        return None
    return url


def make_environment(zone: ZoneInfo) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, finalize=shown
    )

    def when(moment: datetime | str | None) -> str:
        if moment is None or moment == "":
            return "—"
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")

    def iso(moment: datetime | None) -> str:
        return "" if moment is None else moment.isoformat()

    def duration(seconds: Any) -> str:
        return "—" if seconds is None else format_duration(float(seconds))

    environment.filters.update(when=when, iso=iso, duration=duration, web_link=web_link)
    environment.globals["zone"] = str(zone)
    return environment
