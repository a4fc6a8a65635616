"""Making text we did not write safe for where it is shown: Slack, a terminal, a document.

Alert annotations, PagerDuty notes, webhook fields and people's notes are hostile until
made safe. This is the one place that decides what that means, so the Slack messages,
the console, ``incidents list``, ``/incident status`` and the exports cannot drift apart:

- everywhere: C0/C1 control characters (terminal escape sequences) are dropped, except
  newline and tab, and so are the bidi overrides and isolates (U+202A–U+202E,
  U+2066–U+2069) that make text read differently from what it is. Zero-width joiners
  (U+200C, U+200D) and the word joiner (U+2060) stay: scripts and emoji need them.
- in Slack: no ``<…>`` sequence survives, so text can never mention, link or ping; the
  ``@channel`` words get a word joiner. Person mentions are kept only where the caller
  says the text was written by a person in Slack, who could have mentioned anyone anyway.
- links: only from fields meant to hold one, only http(s), percent-encoded.

Pure functions, no I/O; the domain does not import this (it stores text as received, and
the JSON export keeps it raw).
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

#: Line breaks in all their spellings; each becomes "\n".
_NEWLINES = re.compile(r"\r\n|\r|\n|\u2028|\u2029|\x85")
#: C0 (but tab and newline), DEL, C1, and the bidi embeddings/overrides/isolates.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: Slack's broadcast words; a word joiner keeps them readable but inert.
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
WORD_JOINER = "\u2060"

#: ``<…>`` as Slack reads it: a mention, a special command or a link.
_MARKUP = re.compile(r"<([^<>\n]*)>")
#: What Slack would read as markup inside ``<…>``: a mention, a command, a URL.
_MARKUP_LIKE = re.compile(r"[@#!]|[A-Za-z][A-Za-z0-9+.-]*:")
#: A ``<`` that opens what Slack would read as markup.
_MARKUP_OPENING = re.compile(r"<(?=[@#!]|[A-Za-z][A-Za-z0-9+.-]*:)")
_URL_START = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*):(?=//)")
_PERSON = re.compile(r"@[UW][A-Z0-9]{2,}(?:\|[^<>|]*)?")
_CHANNEL = re.compile(r"#[CG][A-Z0-9]{2,}(?:\|[^<>|]*)?")
#: A Slack user id as the timeline stores people: ``<@U123|alice>``, ``<@U123>`` or ``U123``.
_PERSON_VALUE = re.compile(r"^(?:<@([UW][A-Z0-9]{2,})(?:\|([^<>|]*))?>|([UW][A-Z0-9]{2,}))$")


def unstorable(text: str) -> bool:
    """NUL or a lone surrogate: PostgreSQL cannot store either."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def storable(text: str) -> str:
    """``text`` with each NUL and lone surrogate replaced by U+FFFD: PostgreSQL stores
    neither, and a note or title must not fail (or be dropped) for one stray character."""
    if not unstorable(text):
        return text
    return "".join("\ufffd" if char == "\x00" or "\ud800" <= char <= "\udfff" else char for char in text)


def clean(value: object) -> str:
    """Any value as text with unified line breaks and no control or bidi characters."""
    text = "" if value is None else str(value)
    return _UNSAFE.sub("", _NEWLINES.sub("\n", text))


def one_line(value: object) -> str:
    """:func:`clean` on one line: breaks shown as ``⏎``, tabs as spaces."""
    text = clean(value).strip().replace("\t", " ")
    return re.sub(r" *\n *", " ⏎ ", text)


def defuse_broadcasts(text: str) -> str:
    """``@channel`` → ``@⁠channel``: looks the same, notifies nobody."""
    return _BROADCAST.sub(lambda m: "@" + WORD_JOINER + m.group(1), text)


def safe_url(value: object) -> str | None:
    """An http(s) URL, percent-encoded so it cannot end a Slack or Markdown link; else None.

    Only for fields meant to hold a link (``runbook_url``, ``generatorURL``, Grafana's
    dashboard/panel/silence URLs, ``externalURL``); a link is never taken from free text.
    """
    text = clean(value).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(text, safe="/:?#@!$&*+,;=%-._~")


def slack_escape(text: str) -> str:
    """Slack's own escaping of ``&``, ``<`` and ``>`` (no cleaning, no neutralising)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _readable(inner: str) -> str:
    """What a neutralised ``<…>`` shows instead: ``@name``, ``#name``, ``label (url)``."""
    target, _, label = inner.partition("|")
    if target[:1] in ("@", "#"):
        return target[0] + label.lstrip("@#") if label else target
    if target.startswith("!"):
        command = target[1:].split("^", 1)[0]
        if command in ("here", "channel", "everyone", "subteam"):
            return "@" + (label.lstrip("@") or command)
        return label or command
    return f"{label} ({target})" if label and label != target else target


def slack_text(value: object, *, people: bool = False) -> str:
    """Text for a Slack ``mrkdwn`` object that mentions, links and pings nothing.

    Slack's documented escaping (``&``, ``<``, ``>`` as entities) shows ``<!here>`` as
    the characters it is made of; ``@here`` written out gets a word joiner, and
    ``verbatim`` text objects keep URLs and names from becoming links. With
    ``people=True`` (text a person typed in Slack) their person and channel mentions stay.
    """
    text = clean(value)
    parts: list[str] = []
    position = 0
    if people:
        for match in _MARKUP.finditer(text):
            inner = match.group(1)
            if not (_PERSON.fullmatch(inner) or _CHANNEL.fullmatch(inner)):
                continue
            parts.append(slack_escape(defuse_broadcasts(text[position : match.start()])))
            target, _, label = inner.partition("|")
            parts.append(f"<{target}|{slack_escape(label)}>" if label else f"<{target}>")
            position = match.end()
    parts.append(slack_escape(defuse_broadcasts(text[position:])))
    return "".join(parts)


def names(value: object) -> str:
    """:func:`clean` text with Slack markup read out: ``<@U1|bob>`` → ``@bob``, ``<!here>``
    → ``@here``, ``<https://x|y>`` → ``y (https://x)``; other ``<…>`` text is left alone.

    Reading out markup nested in brackets (``<<@U1|b>>``) leaves new markup (``<@b>``): a
    ``<`` that would still open markup gets a word joiner, in one pass whatever the nesting.
    """
    read = _MARKUP.sub(
        lambda match: _readable(match.group(1)) if _MARKUP_LIKE.match(match.group(1)) else match.group(0), clean(value)
    )
    return _MARKUP_OPENING.sub("<" + WORD_JOINER, read)


def readable(value: object) -> str:
    """One line of plain text (a topic, a header, a bookmark title): ``<…>`` read as names.

    For places Slack shows verbatim (``plain_text`` objects, channel topics), so nothing is
    escaped as entities; ``<@U1|bob>`` becomes ``@bob``, and broadcasts and ``https://``
    get a word joiner so no client turns them into a ping or a link.
    """
    text = names(one_line(value))
    return _URL_START.sub("\\1:" + WORD_JOINER, defuse_broadcasts(text))


def person_id(value: object) -> str | None:
    """The Slack user id when ``value`` is exactly a stored person (``<@U1|bob>``, ``U1``)."""
    match = _PERSON_VALUE.match(clean(value).strip())
    if match is None:
        return None
    return match.group(1) or match.group(3)


def person_name(value: object) -> str:
    """A stored person as plain text: ``<@U1|bob>`` → ``@bob``; anything else cleaned."""
    text = one_line(value)
    match = _PERSON_VALUE.match(text)
    if match is None:
        return text
    if match.group(2):
        return "@" + match.group(2).lstrip("@")
    return "@" + (match.group(1) or match.group(3))


def slack_person(value: object) -> str:
    """A real mention when ``value`` is a stored Slack person, otherwise inert text."""
    user = person_id(value)
    return f"<@{user}>" if user else slack_text(one_line(value))


def slack_link(url: object, label: object) -> str:
    """``<url|label>`` for a safe http(s) URL that neither part can break out of; else the label."""
    target = safe_url(url)
    text = slack_text(one_line(label)).replace("|", "¦")
    if target is None:
        return text
    return f"<{target}|{text}>" if text else f"<{target}>"


def clip(text: str, limit: int, marker: str = "…") -> str:
    """At most ``limit`` characters, ending in ``marker`` when something was cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))] + marker
