"""The timeline vocabulary: every change to an incident becomes one of these entries.

The timeline is the record post-mortems are written from, so entry kinds are a closed
set that exports and metrics can rely on; ``data`` carries the kind-specific details.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Source(str, enum.Enum):
    """Where a change came from; also decides what must not be echoed back (PagerDuty)."""

    CONSOLE = "console"
    SLACK = "slack"
    ALERTMANAGER = "alertmanager"
    PAGERDUTY = "pagerduty"
    SCHEDULER = "scheduler"
    API = "api"
    SYSTEM = "system"


class EntryKind(str, enum.Enum):
    DECLARED = "declared"
    STATUS_CHANGED = "status_changed"
    SEVERITY_CHANGED = "severity_changed"
    TITLE_CHANGED = "title_changed"
    ROLE_ASSIGNED = "role_assigned"
    NOTE = "note"
    ACTION_ADDED = "action_added"
    ALERT_FIRING = "alert_firing"
    ALERT_RESOLVED = "alert_resolved"
    ALERTS_ALL_RESOLVED = "alerts_all_resolved"
    PLAYBOOK_ATTACHED = "playbook_attached"
    STEP_DONE = "step_done"
    STEP_SKIPPED = "step_skipped"
    STEP_DEADLINE = "step_deadline"
    ESCALATED = "escalated"
    REMINDER = "reminder"
    PAGED = "paged"
    PAGERDUTY_EVENT = "pagerduty_event"
    MESSAGE_FLAGGED = "message_flagged"
    CHANNEL_OPENED = "channel_opened"
    DELIVERY_FAILED = "delivery_failed"


@dataclass(frozen=True)
class TimelineEntry:
    """One immutable fact about an incident. ``at`` is always UTC."""

    kind: EntryKind
    at: datetime
    actor: str
    source: Source
    text: str
    data: dict[str, Any] = field(default_factory=dict)
