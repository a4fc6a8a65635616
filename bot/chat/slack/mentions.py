"""Escalation targets as real Slack mentions, the part that actually wakes someone up.

A label like ``@payments-oncall`` notifies nobody; Slack notifies ids: ``<@U123>`` for a
person, ``<!subteam^S123>`` for a user group, ``<#C123>`` for a channel. Targets given as
ids in a playbook or FIREBREAK_DEFAULT_ESCALATION become mentions, and so do user-group
handles (``@oncall-primary``) once ``usergroups.list`` has named their ids (see usergroups.py);
anything else stays readable text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")


def is_group_id(value: str) -> bool:
    return bool(_GROUP_ID.match(value))


def mention(kind: str, value: str, groups: Mapping[str, str] | None = None) -> str | None:
    """The mention for one target; ``groups`` maps user-group handles to their ids."""
    cleaned = value.strip().lstrip("@#")
    if kind == "slack_user" and _USER_ID.match(cleaned):
        return f"<@{cleaned}>"
    if kind == "slack_group" and _GROUP_ID.match(cleaned):
        return f"<!subteam^{cleaned}>"
    if kind == "slack_group" and groups and cleaned in groups and _GROUP_ID.match(groups[cleaned]):
        return f"<!subteam^{groups[cleaned]}>"
    if kind == "slack_channel" and _CHANNEL_ID.match(cleaned):
        return f"<#{cleaned}>"
    return None


def mentions_for(details: Iterable[Mapping[str, Any]], groups: Mapping[str, str] | None = None) -> list[str]:
    found = (mention(str(detail.get("kind", "")), str(detail.get("value", "")), groups) for detail in details)
    return [item for item in found if item]
