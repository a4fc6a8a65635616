"""How timeline entry kinds are named to people, in documents and in chat."""

from __future__ import annotations

KIND_LABELS: dict[str, str] = {
    "declared": "declared",
    "status_changed": "status",
    "severity_changed": "severity",
    "title_changed": "title",
    "role_assigned": "role",
    "note": "note",
    "action_added": "follow-up",
    "alert_firing": "alert firing",
    "alert_resolved": "alert resolved",
    "alerts_all_resolved": "alerts resolved",
    "playbook_attached": "playbook",
    "step_done": "step done",
    "step_skipped": "step skipped",
    "step_deadline": "step deadline",
    "escalated": "escalation",
    "reminder": "reminder",
    "paged": "paged",
    "pagerduty_event": "PagerDuty",
    "message_flagged": "flagged message",
    "channel_opened": "channel",
    "delivery_failed": "delivery failed",
    "group_joined": "alert group joined",
    "split": "split",
    "merged": "merged",
}

ICONS: dict[str, str] = {
    "declared": "🚨",
    "status_changed": "🔄",
    "severity_changed": "📶",
    "title_changed": "✏️",
    "role_assigned": "🎖️",
    "note": "📝",
    "action_added": "✅",
    "alert_firing": "🔥",
    "alert_resolved": "💚",
    "alerts_all_resolved": "💚",
    "playbook_attached": "📖",
    "step_done": "☑️",
    "step_skipped": "⏭️",
    "step_deadline": "⌛",
    "escalated": "📣",
    "reminder": "⏰",
    "paged": "📟",
    "pagerduty_event": "📟",
    "message_flagged": "📌",
    "channel_opened": "💬",
    "delivery_failed": "❗",
    "group_joined": "🧩",
    "split": "✂️",
    "merged": "🔗",
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " "))
