"""The timeline vocabulary: every change to an incident becomes one of these entries.

The timeline is the record post-mortems are written from, so entry kinds are a closed
set that exports and metrics can rely on; ``data`` carries the kind-specific details.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.source_time import SourceTime


class Source(enum.StrEnum):
    """Where a change came from; also decides what must not be echoed back (PagerDuty)."""

    CONSOLE = "console"
    SLACK = "slack"
    ALERTMANAGER = "alertmanager"
    PAGERDUTY = "pagerduty"
    SCHEDULER = "scheduler"
    API = "api"
    SYSTEM = "system"


class EntryKind(enum.StrEnum):
    """Kinds of timeline entry. ``data`` carries, by kind (a contract exports rely on):

    - DECLARED: title, severity, description
    - STATUS_CHANGED: from, to, reopened (bool, only on reopen), unacknowledged (bool, only when an
      acknowledgement lapsed back to triggered), pagerduty_incident_id (only when the change came
      from a PagerDuty event: the PagerDuty incident it happened on)
    - SEVERITY_CHANGED: from, to, reason
    - ROLE_ASSIGNED: role, user, previous
    - ALERT_FIRING / ALERT_RESOLVED: fingerprint, alertname, labels, annotations, starts_at, ends_at, generator_url,
      child (short id of the alert group it arrived in; absent on entries recorded before groups had ids)
    - ALERTS_ALL_RESOLVED: count, auto_resolved (bool): every alert of every child of the incident has resolved
    - NOTE: free text; Alertmanager's notes carry truncated_alerts, or auto_resolve_paused + hidden_alerts, or
      child + child_resolved (True: every alert of that child has cleared while the incident has others)
    - PLAYBOOK_ATTACHED: playbook_id, title, matched_by ("auto" | "manual")
    - STEP_DONE / STEP_SKIPPED / STEP_DEADLINE: playbook_id, phase, step (1-based number), text, action (deadline only)
    - ESCALATED: level (1-based), targets (list of str), reason, condition, manual (bool),
      target_details (list of {kind, value}; kind as in bot.domain.escalation.TargetKind)
    - REMINDER: quiet_seconds
    - PAGED: service ("pagerduty"), dedup_key or target
    - PAGERDUTY_EVENT: event_type, event_id, pagerduty_incident_id, occurred_at (when PagerDuty sent it),
      outcome (optional: first_seen, out_of_order, unmapped_priority, merged — then also into: the incident it was merged into)
    - MESSAGE_FLAGGED: channel, ts, author, text, permalink
    - CHANNEL_OPENED: channel_id, channel_name
    - DELIVERY_FAILED: outbox_id, target, operation
    - GROUP_JOINED: child (short id, int), dedup_key, labels, correlation (the label values it
      matched on), joined_by ("correlated" | "storm" | "merged"), severity, alerts (count)
    - SPLIT: child, dedup_key, into (incident number it became) on the parent;
      from (parent number), child on the new incident
    - MERGED: into (on the incident merged away) / from (on the one that took it in), children (list of child ids)
    """

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
    GROUP_JOINED = "group_joined"
    SPLIT = "split"
    MERGED = "merged"


@dataclass(frozen=True)
class TimelineEntry:
    """One immutable fact about an incident. Times are always UTC.

    ``at`` is when Firebreak recorded it (the order of the timeline). ``received_at`` is when
    Firebreak received what caused it (a webhook's arrival, before any queueing); the causal
    clock every figure is counted on. ``source_at`` is when it happened according to the
    sender (Alertmanager ``startsAt``/``endsAt``, PagerDuty ``occurred_at``, a Slack message
    ``ts``) when that time is sane, else the received time, with ``source_time`` saying which
    (see ``bot.domain.source_time``). The store fills the three in when it records the entry.
    """

    kind: EntryKind
    at: datetime
    actor: str
    source: Source
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    received_at: datetime | None = None
    source_at: datetime | None = None
    source_time: SourceTime | None = None

    @property
    def received(self) -> datetime:
        """When Firebreak received it (entries recorded before times were kept: ``at``)."""
        return self.received_at or self.at

    @property
    def happened(self) -> datetime:
        """The source time, or the received time when there is no sane one."""
        return self.source_at or self.received
