"""Which incident changes are said in chat, queued through the outbox.

One policy for every chat backend: Slack and the console receive the same operations.
Alerts joining or resolving only refresh the pinned summary (coalesced), so an alert storm
costs one summary update per burst rather than a post per alert.
"""

from __future__ import annotations

from typing import Any

from bot.delivery.outbox import enqueue
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind
from bot.service.changes import Change

CHAT = "chat"

OPEN_INCIDENT = "open_incident"
POST = "post"
REFRESH_SUMMARY = "refresh_summary"

#: Entries posted as a message in the incident's conversation.
POSTED_KINDS = frozenset(
    {
        EntryKind.STATUS_CHANGED,
        EntryKind.SEVERITY_CHANGED,
        EntryKind.ROLE_ASSIGNED,
        EntryKind.NOTE,
        EntryKind.ACTION_ADDED,
        EntryKind.ALERTS_ALL_RESOLVED,
        EntryKind.PLAYBOOK_ATTACHED,
        EntryKind.STEP_DONE,
        EntryKind.STEP_SKIPPED,
        EntryKind.STEP_DEADLINE,
        EntryKind.ESCALATED,
        EntryKind.REMINDER,
        EntryKind.PAGED,
        EntryKind.PAGERDUTY_EVENT,
        EntryKind.DELIVERY_FAILED,
    }
)

#: Entries after which the pinned summary no longer tells the truth.
SUMMARY_KINDS = frozenset(
    {
        EntryKind.STATUS_CHANGED,
        EntryKind.SEVERITY_CHANGED,
        EntryKind.ROLE_ASSIGNED,
        EntryKind.TITLE_CHANGED,
        EntryKind.ALERT_FIRING,
        EntryKind.ALERT_RESOLVED,
        EntryKind.ALERTS_ALL_RESOLVED,
        EntryKind.PLAYBOOK_ATTACHED,
        EntryKind.STEP_DONE,
        EntryKind.STEP_SKIPPED,
        EntryKind.ESCALATED,
    }
)


def ordering_key(number: int) -> str:
    """Everything said about one incident goes out in order (one conversation)."""
    return f"incident:{number}"


def _opens_now(change: Change) -> bool:
    """INFO incidents are timeline/log only; one is said in chat once it is raised above INFO."""
    if change.is_new:
        return True
    return any(
        recorded.entry.kind is EntryKind.SEVERITY_CHANGED and recorded.entry.data.get("from") == Severity.INFO.value
        for recorded in change.entries
    )


def notify_chat(change: Change) -> None:
    number = change.incident.number
    if change.incident.severity is Severity.INFO:
        return

    def say(operation: str, payload: dict[str, Any], key: str, coalesce_key: str | None = None) -> None:
        enqueue(
            change.session,
            target=CHAT,
            operation=operation,
            payload=payload,
            idempotency_key=key,
            now=change.now,
            incident_id=number,
            ordering_key=ordering_key(number),
            coalesce_key=coalesce_key,
        )

    if _opens_now(change):
        say(OPEN_INCIDENT, {"number": number}, f"chat:open:{number}")
    refresh_after: int | None = None
    for recorded in change.entries:
        entry = recorded.entry
        if entry.kind in POSTED_KINDS:
            payload = {
                "number": number,
                "entry_id": recorded.id,
                "kind": entry.kind.value,
                "text": entry.text,
                "actor": entry.actor,
                "source": entry.source.value,
                "data": entry.data,
            }
            say(POST, payload, f"chat:post:{recorded.id}")
        if entry.kind in SUMMARY_KINDS and not change.is_new:
            refresh_after = recorded.id
    if refresh_after is not None:
        say(REFRESH_SUMMARY, {"number": number}, f"chat:summary:{number}:{refresh_after}", coalesce_key=f"chat:summary:{number}")
