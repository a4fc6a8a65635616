"""Making people's text safe to place inside a document we generate.

Notes, alert labels and flagged Slack messages are written by people (or by anyone who can
fire an alert). Pasted into a post-mortem or posted in Slack, they must read as text and
never as structure: no table broken by a pipe, no code fence swallowing the rest of the
page, no HTML, and no ``<!channel>`` that pings a whole workspace. Pure functions, no I/O.
"""

from __future__ import annotations

import re

from bot import text_safety
from bot.text_safety import WORD_JOINER, defuse_broadcasts, safe_url

#: Characters with inline meaning in CommonMark/GFM, escaped with a backslash everywhere.
_ALWAYS = set("\\`*[]|~")
#: Characters that only mean something where a line starts (headings, lists, quotes, rules).
_LINE_START = re.compile(r"^(\s*)([#+\-=]|\d+[.)])")
_NEWLINES = re.compile(r"\r\n|\r|\n|\u2028|\u2029|\x85")

__all__ = ["WORD_JOINER", "defuse_broadcasts", "md_block", "md_inline", "md_link", "plain_text", "safe_url", "slack_text"]

_TRANSLATE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", **{char: "\\" + char for char in _ALWAYS}})
#: An underscore between two letters (snake_case) can never open emphasis in CommonMark,
#: so only the others are escaped and identifiers stay readable in the raw markdown.
_LONE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
#: What GFM turns into a link by itself (its "extended autolinks"): ``scheme://``, ``www.``,
#: ``mailto:``/``xmpp:`` and a bare e-mail address. A word joiner after the colon, the
#: ``www`` or the ``@`` keeps each one text that reads the same: links in a post-mortem come
#: only from the fields meant for them (``md_link``), never from an alert's or a person's text.
#: Each kind on its own pass, so one cannot hide another (``www.https://``), and wherever it
#: stands: GFM links ``1http://…`` and ``_www.…`` too, so no word boundary is asked for.
_AUTOLINKS = (
    re.compile(r"(?i)www(?=\.)"),
    re.compile(r":(?=//)"),
    re.compile(r"(?i)(?:mailto|xmpp):"),
    re.compile(r"(?<=[\w.+-])@"),  # any address-like ``@`` (GFM's domain rule is looser than it looks)
)


def _escape_line(line: str, *, strip: bool = False) -> str:
    # Broadcasts first: escaping adds backslashes that would create word boundaries
    # (``@channel_`` → ``@channel\_``) the reader never sees.
    line = defuse_broadcasts(text_safety.clean(line))
    if strip:
        line = line.lstrip()
    for autolink in _AUTOLINKS:
        line = autolink.sub(lambda match: match.group(0) + WORD_JOINER, line)
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


def md_link(label: object, url: object) -> str:
    """``[label](url)`` when the URL is a safe http(s) link, else the escaped label alone."""
    target = safe_url(url)
    text = md_inline(label)
    return f"[{text}]({target})" if target else text


def slack_text(value: object) -> str:
    """Text for Slack ``mrkdwn`` on one line: nothing mentions, links or pings, no fence opens.

    Backticks become a look-alike so no code block can open across entries, and line
    breaks are shown as ``⏎`` so one entry stays one line.
    """
    return text_safety.slack_text(text_safety.one_line(value)).replace("`", "\u02cb")


def plain_text(value: object) -> str:
    """Text for a terminal: control and bidi characters removed, line breaks shown as ``⏎``."""
    return text_safety.one_line(value)
