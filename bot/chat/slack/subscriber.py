"""Slack-only reactions to incident changes, queued in the change's own transaction.

The foundation already queues posts and summary refreshes for every chat backend. Slack
also keeps the channel topic current, invites people given a role and archives the channel a
while after resolve. (A P3 raised to P0–P2 gets its channel from the foundation, as in every
backend.)
"""

from __future__ import annotations

from datetime import timedelta

from bot.chat import operations as ops
from bot.chat.slack.identity import user_id_of
from bot.domain.timeline import EntryKind
from bot.service.changes import Change, Subscriber

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

