"""Making people's text safe to place inside a document we generate.

Notes, alert labels and flagged Slack messages are written by people (or by anyone who can
fire an alert). Pasted into a post-mortem or posted in Slack, they must read as text and
never as structure: no table broken by a pipe, no code fence swallowing the rest of the
page, no HTML, and no ``<!channel>`` that pings a whole workspace. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

#: Characters with inline meaning in CommonMark/GFM, escaped with a backslash everywhere.
_ALWAYS = set("\\`*[]|~")
#: Characters that only mean something where a line starts (headings, lists, quotes, rules).
_LINE_START = re.compile(r"^(\s*)([#+\-=]|\d+[.)])")
_NEWLINES = re.compile(r"\r\n|\r|\n|\u2028|\u2029|\x85")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Slack's broadcast words; a word joiner keeps them readable but inert.
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
WORD_JOINER = "\u2060"


def defuse_broadcasts(text: str) -> str:
    """``@channel`` → ``@⁠channel``: looks the same, notifies nobody."""
    return _BROADCAST.sub(lambda m: "@" + WORD_JOINER + m.group(1), text)


_TRANSLATE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", **{char: "\\" + char for char in _ALWAYS}})
#: An underscore between two letters (snake_case) can never open emphasis in CommonMark,
#: so only the others are escaped and identifiers stay readable in the raw markdown.
_LONE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")


def _escape_line(line: str, *, strip: bool = False) -> str:
    # Broadcasts first: escaping adds backslashes that would create word boundaries
    # (``@channel_`` → ``@channel\_``) the reader never sees.
    line = defuse_broadcasts(_CONTROL.sub("", line))
    if strip:
        line = line.lstrip()
    escaped = _LONE_UNDERSCORE.sub(r"\\_", line.translate(_TRANSLATE))
    match = _LINE_START.match(escaped)
    if match:
        marker = match.group(2)
        escaped = escaped[: match.start(2)] + marker[:-1] + "\\" + marker[-1] + escaped[match.end(2) :]
    return escaped


def md_inline(value: object) -> str:
    """One line of markdown-safe text, fit for a table cell or a list item.

    Line breaks become ``<br>`` (the one break GFM tables accept); everything else that
    markdown or HTML would interpret is escaped.
    """
    text = "" if value is None else str(value)
    lines = [_escape_line(line) for line in _NEWLINES.split(text.strip("\r\n\u2028\u2029\x85"))]
    return "<br>".join(lines)


def md_block(value: object) -> str:
    """A paragraph of markdown-safe text that keeps the author's line breaks.

    Each line is escaped as if it started a block (so ``# x`` or ``---`` stay text), and
    lines end in a backslash, CommonMark's hard break, instead of HTML.
    """
    text = "" if value is None else str(value)
    paragraphs: list[list[str]] = [[]]
    for raw in _NEWLINES.split(text.strip()):
        line = _escape_line(raw, strip=True).rstrip()
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join("\\\n".join(lines) for lines in paragraphs if lines)


def safe_url(value: object) -> str | None:
    """An http(s) URL with everything that could end a markdown link percent-encoded."""
    text = "" if value is None else str(value).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(text, safe="/:?#@!$&*+,;=%-._~")


def md_link(label: object, url: object) -> str:
    """``[label](url)`` when the URL is a safe http(s) link, else the escaped label alone."""
    target = safe_url(url)
    text = md_inline(label)
    return f"[{text}]({target})" if target else text


def slack_text(value: object) -> str:
    """Text for Slack ``mrkdwn`` on one line: entities escaped, mentions and fences inert.

    Slack reads ``<…>`` as links and mentions, so ``&``, ``<`` and ``>`` become entities
    (its documented escaping). Backticks become a look-alike so no code block can open
    across entries, and line breaks are shown as ``⏎`` so one entry stays one line.
    """
    text = _CONTROL.sub("", "" if value is None else str(value)).strip()
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("`", "\u02cb")
    text = _NEWLINES.sub(" ⏎ ", text)
    return defuse_broadcasts(text)


def plain_text(value: object) -> str:
    """Text for a terminal: only control characters removed and line breaks shown as ``⏎``."""
    text = _CONTROL.sub("", "" if value is None else str(value)).strip()
    return _NEWLINES.sub(" ⏎ ", text)
