"""Putting text we did not write (alert annotations, notes, titles) into Slack mrkdwn.

Slack asks apps to escape ``&``, ``<`` and ``>``; unescaped, an alert annotation holding
``<!channel>`` would ping a whole channel from our bot, and a stray ``<`` would swallow text
as a broken link. Person and channel mentions (``<@U123|alice>``, ``<#C123>``) are kept: they
are how Slack hands us who someone is, and responders expect them to render as names.
"""

from __future__ import annotations

import re

_KEPT_MENTION = re.compile(r"<(?:@[UW][A-Z0-9]+|#C[A-Z0-9]+)(?:\|[^<>]*)?>")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe(text: object) -> str:
    """Escape everything but person/channel mentions; ``<!here>`` and friends become inert."""
    value = "" if text is None else str(text)
    parts: list[str] = []
    position = 0
    for match in _KEPT_MENTION.finditer(value):
        parts.append(escape(value[position : match.start()]))
        parts.append(match.group(0))
        position = match.end()
    parts.append(escape(value[position:]))
    return "".join(parts)


def link(url: str, label: str) -> str:
    """``<url|label>`` that neither part can break out of."""
    clean_url = url.replace("<", "%3C").replace(">", "%3E").replace("|", "%7C").replace(" ", "%20")
    return f"<{clean_url}|{escape(label).replace('|', '¦')}>"
