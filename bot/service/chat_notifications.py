"""Which incident changes are said in chat, queued through the outbox.

One policy for every chat backend: Slack and the console receive the same operations.
Alerts joining or resolving only refresh the pinned summary (coalesced), so an alert storm
costs one summary update per burst rather than a post per alert.
"""

from __future__ import annotations

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
    session = change.session
    order = ordering_key(number)
    if change.incident.severity is Severity.INFO:
        return
    if _opens_now(change):
        enqueue(
            session,
            target=CHAT,
            operation=OPEN_INCIDENT,
            payload={"number": number},
            idempotency_key=f"chat:open:{number}",
            now=change.now,
            incident_id=number,
            ordering_key=order,
        )
    refresh_after: int | None = None
    for recorded in change.entries:
        entry = recorded.entry
        if entry.kind in POSTED_KINDS:
            enqueue(
                session,
                target=CHAT,
                operation=POST,
                payload={
                    "number": number,
                    "entry_id": recorded.id,
                    "kind": entry.kind.value,
                    "text": entry.text,
                    "actor": entry.actor,
                    "source": entry.source.value,
                    "data": entry.data,
                },
                idempotency_key=f"chat:post:{recorded.id}",
                now=change.now,
                incident_id=number,
                ordering_key=order,
            )
        if entry.kind in SUMMARY_KINDS and not change.is_new:
            refresh_after = recorded.id
    if refresh_after is not None:
        enqueue(
            session,
            target=CHAT,
            operation=REFRESH_SUMMARY,
            payload={"number": number},
            idempotency_key=f"chat:summary:{number}:{refresh_after}",
            now=change.now,
            incident_id=number,
            ordering_key=order,
            coalesce_key=f"chat:summary:{number}",
        )
