"""Small text helpers: slugs, sentence splitting and duration phrases in prose."""

from __future__ import annotations

import re
import unicodedata

from bot.domain.durations import MAX_DELAY_SECONDS, format_duration

_UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hr": 3600, "hour": 3600, "d": 86400, "day": 86400}
UNIT_PATTERN = r"(?:seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)"


def slugify(text: str, max_length: int = 60) -> str:
    """``"3. Database Connection Issues"`` -> ``"database-connection-issues"``.

    Accented letters keep their base letter (``"Dépôt"`` -> ``"depot"``), as channel names
    do, rather than splitting the word at every accent."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"^\s*\d+[.)]\s+", "", ascii_text).lower().replace("&", " and ").replace("+", " plus ")
    slug = re.sub(r"[^a-z0-9]+", "-", cleaned).strip("-")
    while len(slug) > max_length and "-" in slug:
        slug = slug.rsplit("-", 1)[0]
    return slug[:max_length].strip("-") or "playbook"


def anchor(title: str) -> str:
    """The fragment a markdown host gives a heading: ``Alert Name: "X"`` -> ``alert-name-x``."""
    lowered = re.sub(r"[^\w\s-]", "", title.strip().lower())
    return re.sub(r"\s", "-", lowered)


def clean_title(text: str) -> str:
    return re.sub(r"^\s*\d+[.)]\s+", "", text).strip()


def split_sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z*`\"(])", text.strip())
    return [part.strip() for part in parts if part.strip()]


def unit_seconds(unit: str) -> int:
    key = unit.lower().rstrip("s") if len(unit) > 1 else unit.lower()
    return _UNIT_SECONDS.get(key, _UNIT_SECONDS.get(unit.lower(), 60))


def window_start(text: str) -> int | None:
    """Seconds at which a window like ``(5-15 min)``, ``30+ min`` or ``after 1 hour`` starts."""
    match = re.search(r"(\d+)\s*(?:[-–]|to)\s*(\d+)\s*(" + UNIT_PATTERN + r")\b", text, re.IGNORECASE)
    if match:
        return int(match.group(1)) * unit_seconds(match.group(3))
    match = re.search(r"(\d+)\s*\+?\s*(" + UNIT_PATTERN + r")\b", text, re.IGNORECASE)
    if match:
        return int(match.group(1)) * unit_seconds(match.group(2))
    return None


def as_duration(seconds: int) -> str:
    """A delay or deadline read from prose, as a playbook duration: at most the 30 days a
    playbook may say (``within 99999 days`` would otherwise make a file lint refuses)."""
    return format_duration(min(seconds, MAX_DELAY_SECONDS))
