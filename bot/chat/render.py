"""Plain-text renderings shared by the console and by Slack's text fallbacks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.incident import Incident
from bot.domain.timeline import TimelineEntry

UTC = ZoneInfo("UTC")

#: One icon per kind of post, the same in Slack and in the console transcript.
POST_ICONS = {
    "status_changed": "🔄",
    "severity_changed": "📶",
    "role_assigned": "🎖️",
    "note": "📝",
    "action_added": "✅",
    "escalated": "📣",
    "reminder": "⏰",
    "alerts_all_resolved": "💚",
    "playbook_attached": "📋",
    "playbook_guide": "📋",
    "step_done": "☑️",
    "step_skipped": "⏭️",
    "step_deadline": "⌛",
    "paged": "📟",
    "pagerduty_event": "📟",
    "message_flagged": "📌",
    "delivery_failed": "❗",
}


def age(since: datetime, now: datetime) -> str:
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d{(seconds % 86400) // 3600}h"


def stamp(moment: datetime, zone: ZoneInfo = UTC) -> str:
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or "")


def summary(incident: Incident, *, now: datetime, zone: ZoneInfo = UTC) -> str:
    roles = ", ".join(f"{role.value}: {user}" for role, user in incident.roles.items()) or "no roles assigned"
    lines = [
        f"{incident.ref} [{incident.severity.value}] {incident.title}",
        f"  status: {incident.status.value} · open for {age(incident.created_at, now)} · {roles}",
    ]
    if incident.description:
        lines.append(f"  {incident.description}")
    if incident.playbook_id:
        lines.append(f"  playbook: {incident.playbook_id}")
    for name, url in incident.links.items():
        lines.append(f"  {name}: {url}")
    return "\n".join(lines)


def timeline_line(entry: TimelineEntry, zone: ZoneInfo = UTC) -> str:
    return f"{stamp(entry.at, zone)}  {entry.actor} ({entry.source.value}): {entry.text}"


def timeline(incident: Incident, entries: Sequence[TimelineEntry], zone: ZoneInfo = UTC) -> str:
    lines = [f"Timeline of {incident.ref} — {incident.title}"]
    lines.extend(f"  {timeline_line(entry, zone)}" for entry in entries)
    return "\n".join(lines)


def incident_table(incidents: Sequence[Incident], *, now: datetime) -> str:
    if not incidents:
        return "No incidents."
    header = f"{'NUMBER':<9} {'SEV':<4} {'STATUS':<13} {'AGE':<8} TITLE"
    rows = [
        f"{incident.ref:<9} {incident.severity.value:<4} {incident.status.value:<13} {age(incident.created_at, now):<8} {incident.title}"
        for incident in incidents
    ]
    return "\n".join([header, *rows])
