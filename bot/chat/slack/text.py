"""Slack's names for the text-safety rules in ``bot.text_safety`` (the one place they live).

``escape`` neutralises everything (alert, PagerDuty and webhook text); ``safe`` keeps the
person and channel mentions of text a person typed in Slack; ``link`` makes a link only of
an http(s) URL.
"""

from __future__ import annotations

from bot.text_safety import slack_link, slack_text


def escape(text: object) -> str:
    """Text that mentions, links and pings nothing."""
    return slack_text(text)


def safe(text: object) -> str:
    """Text a person typed in Slack: their person/channel mentions stay, nothing else does."""
    return slack_text(text, people=True)


def link(url: str, label: str) -> str:
    """``<url|label>`` that neither part can break out of, or the label alone for a bad URL."""
    return slack_link(url, label)
