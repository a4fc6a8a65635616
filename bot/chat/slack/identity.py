"""Who a Slack user is, as text the rest of Firebreak can store and compare.

Slack escapes mentions in slash-command text as ``<@U123|alice>`` (manifest
``should_escape: true``). We keep that form as the timeline actor: Slack renders it as a
mention, exports can show the name, and the id makes permission checks exact even when two
people share a display name.
"""

from __future__ import annotations

import re

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_BARE_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def actor_for(user_id: str, name: str | None = None) -> str:
    """The timeline actor for a Slack user: ``<@U123|alice>`` (or ``<@U123>`` without a name)."""
    return f"<@{user_id}|{name}>" if name else f"<@{user_id}>"


def user_id_of(text: str | None) -> str | None:
    """The Slack user id in a mention or actor string, or None for anything else (``@alice``)."""
    if not text:
        return None
    stripped = text.strip()
    match = _MENTION.fullmatch(stripped)
    if match:
        return match.group(1)
    return stripped if _BARE_ID.match(stripped) else None
