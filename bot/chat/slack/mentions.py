"""Escalation targets as real Slack mentions, the part that actually wakes someone up.

A label like ``@payments-oncall`` notifies nobody; Slack notifies ids: ``<@U123>`` for a
person, ``<!subteam^S123>`` for a user group, ``<#C123>`` for a channel. Targets given as
ids in a playbook or FIREBREAK_DEFAULT_ESCALATION become mentions; names stay readable text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")


def mention(kind: str, value: str) -> str | None:
    cleaned = value.strip().lstrip("@#")
    if kind == "slack_user" and _USER_ID.match(cleaned):
        return f"<@{cleaned}>"
    if kind == "slack_group" and _GROUP_ID.match(cleaned):
        return f"<!subteam^{cleaned}>"
    if kind == "slack_channel" and _CHANNEL_ID.match(cleaned):
        return f"<#{cleaned}>"
    return None


def mentions_for(details: Iterable[Mapping[str, Any]]) -> list[str]:
    found = (mention(str(detail.get("kind", "")), str(detail.get("value", ""))) for detail in details)
    return [item for item in found if item]
