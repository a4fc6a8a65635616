"""Which incident changes are said in chat, queued through the outbox.

One policy for every chat backend: Slack and the console receive the same operations.
Alerts joining or resolving, and alert groups joining an incident (correlation, the storm
guard) or resolving in it, only refresh the pinned summary (coalesced), so an alert storm
costs one summary update per burst rather than a post per alert or group.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.delivery.outbox import enqueue
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, TimelineEntry
from bot.service.changes import Change, Subscriber

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
        EntryKind.SPLIT,
        EntryKind.MERGED,
    }
)
#: A group joining is never posted on its own: in a storm a channel would take hundreds. The
#: pinned summary lists and counts the groups; a join that raises the severity is posted as
#: that change, and a merge as its MERGED entry.

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
        EntryKind.GROUP_JOINED,
        EntryKind.SPLIT,
        EntryKind.MERGED,
    }
)

#: ``bot.chat.operations.ARCHIVE`` (that module builds on this one, so the name is repeated).
ARCHIVE = "archive"


#: Severities that get a channel of their own (P3 is announced only; INFO is never said).
CHANNEL_SEVERITIES = frozenset({Severity.P0, Severity.P1, Severity.P2})


def _raised_into_channel(data: dict[str, Any]) -> bool:
    """A severity change from one without a channel to one with (INFO's is ``_opens_now``'s)."""
    try:
        before, after = Severity(str(data.get("from"))), Severity(str(data.get("to")))
    except ValueError:
        return False
    return after in CHANNEL_SEVERITIES and before not in CHANNEL_SEVERITIES


def _posted(entry: TimelineEntry) -> bool:
    """A child's own "resolved" note only refreshes the summary: in a storm there are hundreds.
    An alert firing is posted only as the alerts' return after "all alerts resolved" was
    (``again``): the responders were told all was clear."""
    if entry.kind is EntryKind.ALERT_FIRING:
        return bool(entry.data.get("again"))
    return entry.kind in POSTED_KINDS and not entry.data.get("child_resolved")


def _refreshes(entry: TimelineEntry) -> bool:
    return entry.kind in SUMMARY_KINDS or bool(entry.data.get("child_resolved"))


#: Entries that arrive in bursts with the webhooks, and only change the summary's alert and
#: group counts: their refresh may wait to gather the next ones (``alert_summary_delay``).
ALERT_UPDATE_KINDS = frozenset({EntryKind.ALERT_FIRING, EntryKind.ALERT_RESOLVED, EntryKind.GROUP_JOINED})


def _alert_update(entry: TimelineEntry) -> bool:
    return entry.kind in ALERT_UPDATE_KINDS or bool(entry.data.get("child_resolved"))


def channel_salt() -> str:
    """Six random hex digits: the last name an incident's channel may take when people took
    the predictable ones (bot/chat/slack/setup.py, ``_ensure_channel``)."""
    return secrets.token_hex(3)


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


def post_recorded(
    session: Session, number: int, entry_id: int, entry: TimelineEntry, *, now: datetime, severity: Severity | None = None
) -> None:
    """Post one entry recorded outside the incident service (a delivery's own outcome).

    Pages delivered or given up are written by the delivery worker, not through a change,
    so no subscriber sees them; the responders must, in the incident's conversation.
    """
    enqueue(
        session,
        target=CHAT,
        operation=POST,
        payload=_post_payload(number, entry_id, entry),
        idempotency_key=f"chat:post:{entry_id}",
        now=now,
        incident_id=number,
        ordering_key=ordering_key(number),
        severity=severity,
    )


def _post_payload(number: int, entry_id: int, entry: TimelineEntry) -> dict[str, Any]:
    return {
        "number": number,
        "entry_id": entry_id,
        "kind": entry.kind.value,
        "text": entry.text,
        "actor": entry.actor,
        "source": entry.source.value,
        "data": entry.data,
    }


def chat_notifier(alert_summary_delay: timedelta = timedelta(0)) -> Subscriber:
    """The chat subscriber. ``alert_summary_delay``: how long a summary refresh caused only
    by alert updates waits (gathering the next webhooks' into the same edit): a busy alert
    group would otherwise cost an edit per webhook, far beyond what Slack lets a workspace
    update. A change a person or a rule makes refreshes at once, and pulls a waiting
    refresh forward with it."""

    def subscriber(change: Change) -> None:
        notify_chat(change, alert_summary_delay=alert_summary_delay)

    return subscriber


def notify_chat(change: Change, *, alert_summary_delay: timedelta = timedelta(0)) -> None:
    number = change.incident.number
    if change.incident.severity is Severity.INFO:
        return

    def say(
        operation: str, payload: dict[str, Any], key: str, coalesce_key: str | None = None, not_before: datetime | None = None
    ) -> None:
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
            not_before=not_before,
            severity=change.incident.severity,
        )

    opens = _opens_now(change)
    if opens:
        say(OPEN_INCIDENT, {"number": number, "name_salt": channel_salt()}, f"chat:open:{number}")
    refresh_after: int | None = None
    only_alerts = True
    merged_away: tuple[int, int] | None = None
    for recorded in change.entries:
        entry = recorded.entry
        if not opens and entry.kind is EntryKind.SEVERITY_CHANGED and _raised_into_channel(entry.data):
            # A P3 (announced with "no channel") raised to P0–P2 gets its channel now, in
            # every backend: its posts go there from here on, and people must be told where.
            say(OPEN_INCIDENT, {"number": number, "name_salt": channel_salt()}, f"chat:open:{number}:{recorded.id}")
        if _posted(entry):
            say(POST, _post_payload(number, recorded.id, entry), f"chat:post:{recorded.id}")
        if _refreshes(entry) and not change.is_new:
            refresh_after = recorded.id
            only_alerts = only_alerts and _alert_update(entry)
        if entry.kind is EntryKind.MERGED and entry.data.get("into") is not None:
            merged_away = (recorded.id, int(entry.data["into"]))
    if refresh_after is not None:
        delay = alert_summary_delay if only_alerts else timedelta(0)
        say(
            REFRESH_SUMMARY,
            {"number": number},
            f"chat:summary:{number}:{refresh_after}",
            coalesce_key=f"chat:summary:{number}",
            not_before=change.now + delay if delay else None,
        )
    resolved_at = change.incident.resolved_at
    if merged_away is not None and resolved_at is not None:
        # Merged away: after the pointer and everything else said above (same ordering key),
        # the channel is archived at once rather than after the usual quiet period.
        entry_id, into = merged_away
        payload = {"number": number, "resolved_at": resolved_at.isoformat(), "merged_into": into}
        say(ARCHIVE, payload, f"chat:archive:merged:{number}:{entry_id}")
