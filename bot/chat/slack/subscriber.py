"""Slack-only reactions to incident changes, queued in the change's own transaction.

The foundation already queues posts and summary refreshes for every chat backend. Slack
also keeps the channel topic current, invites people given a role, opens a channel when a
P3 is raised to P0–P2, and archives the channel a while after resolve.
"""

from __future__ import annotations

from datetime import timedelta

from bot.chat import operations as ops
from bot.chat.slack.identity import user_id_of
from bot.chat.slack.setup import CHANNEL_SEVERITIES
from bot.delivery.outbox import enqueue
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind
from bot.service.changes import Change, Subscriber
from bot.service.chat_notifications import CHAT, OPEN_INCIDENT, channel_salt, ordering_key

TOPIC_KINDS = frozenset({EntryKind.STATUS_CHANGED, EntryKind.SEVERITY_CHANGED, EntryKind.ROLE_ASSIGNED, EntryKind.TITLE_CHANGED})


def make_slack_subscriber(*, archive_after_seconds: int) -> Subscriber:
    def notify_slack(change: Change) -> None:
        if change.is_new:
            return  # open_incident queues the whole set-up once the channel exists
        number = change.incident.number
        session, now = change.session, change.now
        severity = change.incident.severity
        topic_after: int | None = None
        # A merged incident's channel is archived at once, after its pointer (chat_notifications).
        merged_away = any(r.entry.kind is EntryKind.MERGED and r.entry.data.get("into") is not None for r in change.entries)
        for recorded in change.entries:
            entry, entry_id = recorded.entry, recorded.id
            if entry.kind in TOPIC_KINDS:
                topic_after = entry_id
            if entry.kind is EntryKind.ROLE_ASSIGNED:
                user_id = user_id_of(str(entry.data.get("user") or ""))
                if user_id:
                    payload = {"number": number, "user_ids": [user_id], "emails": [], "oncall": False}
                    ops.enqueue_chat(session, ops.INVITE, payload, key=f"chat:invite:{number}:{entry_id}", now=now, number=number, severity=severity)
            if entry.kind is EntryKind.SEVERITY_CHANGED and _raised_into_channel(entry.data):
                enqueue(
                    session,
                    target=CHAT,
                    operation=OPEN_INCIDENT,
                    payload={"number": number, "name_salt": channel_salt()},
                    idempotency_key=f"chat:open:{number}:{entry_id}",
                    now=now,
                    incident_id=number,
                    ordering_key=ordering_key(number),
                    severity=severity,
                )
            if entry.kind is EntryKind.STATUS_CHANGED and entry.data.get("to") == "resolved" and not merged_away:
                resolved_at = change.incident.resolved_at
                if resolved_at is not None:
                    ops.enqueue_chat(
                        session,
                        ops.ARCHIVE,
                        {"number": number, "resolved_at": resolved_at.isoformat()},
                        key=f"chat:archive:{number}:{entry_id}",
                        now=now,
                        number=number,
                        severity=severity,
                        not_before=resolved_at + timedelta(seconds=archive_after_seconds),
                    )
        if topic_after is not None and not merged_away:  # no topic for a channel being archived
            ops.enqueue_chat(session, ops.SET_TOPIC, {"number": number}, key=f"chat:topic:{number}:{topic_after}", now=now, number=number, coalesce=True, severity=severity)

    return notify_slack


def _raised_into_channel(data: dict[str, object]) -> bool:
    try:
        before, after = Severity(str(data.get("from"))), Severity(str(data.get("to")))
    except ValueError:
        return False
    return after in CHANNEL_SEVERITIES and before not in CHANNEL_SEVERITIES
