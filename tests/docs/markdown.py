"""Just enough markdown reading for the docs tests: code blocks, headings, links.

Headings and links inside fenced code blocks are example text (a runbook shown as input),
not structure, so every reader here skips them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](target) and ![alt](target); the target ends at the first space or ')'.
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")


def pages() -> list[Path]:
    """README.md and every page under docs/ (examples included), in a stable order."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def user_pages() -> list[Path]:
    """The pages written for users: all of them but the development notes."""
    return [page for page in pages() if page != DOCS / "development.md"]


@dataclass(frozen=True)
class Block:
    """A fenced code block: where it starts (1-based line of the fence), its language and lines."""

    line: int
    lang: str
    lines: tuple[str, ...]


def split(text: str) -> tuple[list[tuple[int, str]], list[Block]]:
    """Prose lines (number, text) and fenced code blocks of a page."""
    prose: list[tuple[int, str]] = []
    blocks: list[Block] = []
    fence: str | None = None
    start, lang, body = 0, "", []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _FENCE.match(line)
        if fence is None:
            if match:
                fence, start, lang, body = match.group(2), number, match.group(3).strip(), []
            else:
                prose.append((number, line))
        elif match and match.group(2).startswith(fence[0] * len(fence)) and not match.group(3).strip():
            blocks.append(Block(start, lang, tuple(body)))
            fence = None
        else:
            body.append(line)
    return prose, blocks


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: markup dropped, lowercase, punctuation gone, spaces to '-'."""
    text = _INLINE_CODE.sub(lambda m: m.group(2), heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading keeps its text
    text = "".join(ch for ch in text.lower() if ch in "-_ " or unicodedata.category(ch)[0] in "LMN")
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor of a page, with GitHub's -1, -2 for repeated headings."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    prose, _ = split(text)
    for _, line in prose:
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every markdown link in the prose, inline code left out."""
    found = []
    prose, _ = split(text)
    for number, line in prose:
        for match in _LINK.finditer(_INLINE_CODE.sub("", line)):
            found.append((number, match.group(1)))
    return found
