"""Chat outbox operations beyond the foundation's three, with their payload shapes.

The foundation (``bot.service.chat_notifications``) queues ``open_incident`` {number},
``post`` {number, entry_id, kind, text, actor, source, data} and ``refresh_summary``
{number}. Slack's channel set-up is split into the operations below so each call is
retried and reported on its own: a bookmark that keeps failing never holds back the invite.
Every chat backend must accept all of them (the console renders them as transcript lines).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.delivery.outbox import enqueue
from bot.domain.incident import Incident, Status
from bot.domain.severity import Severity
from bot.service.chat_notifications import ARCHIVE as _MERGED_ARCHIVE
from bot.service.chat_notifications import CHAT, OPEN_INCIDENT

SET_TOPIC = "set_topic"
"""{number}: topic from the incident as it is at delivery time (coalesced)."""
PIN_SUMMARY = "pin_summary"
"""{number}: pin the summary message recorded on the incident."""
INVITE = "invite"
"""{number, user_ids: [str], emails: [str], oncall: bool}: invite people; ``oncall`` adds the on-call directory's people."""
BOOKMARK = "bookmark"
"""{number, title, url}: a channel bookmark (runbook, dashboard, alert source)."""
ANNOUNCE = "announce"
"""{number}: the announcement with a link to the channel in the incidents channel."""
ARCHIVE = _MERGED_ARCHIVE
"""{number, resolved_at, merged_into?}: archive the channel; skipped when the incident was reopened
since. Without ``merged_into`` it waits out the quiet period after resolve; a merged incident's
channel (``merged_into``: the incident it went into) is archived at once, after its pointer post."""
UPLOAD_FILE = "upload_file"
"""{number, filename, title, content}: a file (a post-mortem) in the incident's conversation."""
POST_EPHEMERAL = "post_ephemeral"
"""{channel, user, text, number?}: a message only ``user`` sees."""
NOTICE = "notice"
"""{text}: one line in the announcements channel about no incident (a sender's test message)."""

SETUP_OPERATIONS = (PIN_SUMMARY, SET_TOPIC, INVITE, BOOKMARK, ANNOUNCE)

CHANNEL_SETUP_LANE = frozenset({OPEN_INCIDENT, *SETUP_OPERATIONS, ARCHIVE})
"""Operations bound by Slack's workspace-wide limits on making and tidying channels
(conversations.create, setTopic, pins.add, bookmarks.add: Tier 2; one announcements channel).
The delivery worker gives them a bounded share of each claim so posts, summary updates and
pages into existing channels are never starved by a storm of channel set-ups."""


def enqueue_chat(
    session: Session,
    operation: str,
    payload: dict[str, Any],
    *,
    key: str,
    now: datetime,
    number: int | None = None,
    coalesce: bool = False,
    not_before: datetime | None = None,
    severity: Severity | None = None,
) -> bool:
    """Queue one chat operation. No ordering key: set-up steps must not wait on each other.

    ``severity``: the incident's, when the caller holds it (ranks the message; see ``enqueue``).
    """
    return enqueue(
        session,
        target=CHAT,
        operation=operation,
        payload=payload,
        idempotency_key=key,
        now=now,
        incident_id=number,
        coalesce_key=f"chat:{operation}:{number}" if coalesce else None,
        not_before=not_before,
        severity=severity,
    )


def archive_still_due(incident: Incident, payload: dict[str, Any]) -> bool:
    """Whether an archive queued at a resolve still applies: not if the incident was reopened
    since (its ``resolved_at`` is no longer the one the message was queued for). Every chat
    backend archives by this one rule."""
    resolved_at = incident.resolved_at.isoformat() if incident.resolved_at else None
    return incident.status is Status.RESOLVED and resolved_at == payload.get("resolved_at")
