"""Plain-text renderings shared by the console, ``incidents list`` and command replies.

Everything that came from outside (titles, descriptions, notes, names, links) goes through
``bot.text_safety``, so no terminal escape sequence or bidi override reaches a screen and
only http(s) links are shown. Slack escapes these texts again for mrkdwn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.domain import children_text
from bot.domain.children import Child, ranked
from bot.domain.incident import Incident, Status, format_number
from bot.domain.timeline import TimelineEntry
from bot.text_safety import clean, clip, one_line, person_name, safe_url

if TYPE_CHECKING:
    from bot.playbooks.guide import StepState

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
    "alert_firing": "🔥",
    "playbook_attached": "📋",
    "playbook_guide": "📋",
    "step_done": "☑️",
    "step_skipped": "⏭️",
    "step_deadline": "⌛",
    "paged": "📟",
    "pagerduty_event": "📟",
    "message_flagged": "📌",
    "delivery_failed": "❗",
    "group_joined": "🧩",
    "split": "✂️",
    "merged": "🔗",
}

#: Children listed by name under a summary; ``/incident children`` pages through all of them.
SUMMARY_CHILDREN = 10
#: The description as a summary shows it: as much as Slack's pinned summary can (one section
#: of 3,000 characters), so the console shows what Slack would, not a page-long line.
DESCRIPTION_SHOWN = 3000
DESCRIPTION_CUT = " … (cut: `/incident export` has the full text)"
CHILDREN_PER_PAGE = 40


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


def duration_text(incident: Incident, now: datetime) -> str:
    """``open for 5m`` while open; ``resolved after 5m`` once resolved (the clock stopped then)."""
    if incident.status is Status.RESOLVED and incident.resolved_at is not None:
        return f"resolved after {age(incident.created_at, incident.resolved_at)}"
    return f"open for {age(incident.created_at, now)}"


def summary(
    incident: Incident, *, now: datetime, zone: ZoneInfo = UTC, children: Sequence[Child] = (), merged_into: int | None = None
) -> str:
    roles = ", ".join(f"{role.value}: {person_name(user)}" for role, user in incident.roles.items()) or "no roles assigned"
    merged = f" (merged into {format_number(merged_into)})" if merged_into is not None else ""
    lines = [
        f"{incident.ref} [{incident.severity.value}] {one_line(incident.title)}",
        f"  status: {incident.status.value}{merged} · {duration_text(incident, now)} · {roles}",
    ]
    if incident.description:
        described = clip(clean(incident.description).strip(), DESCRIPTION_SHOWN, DESCRIPTION_CUT)
        lines.append("  " + described.replace("\n", "\n  "))
    if incident.playbook_id:
        lines.append(f"  playbook: {one_line(incident.playbook_id)}")
    for name, url in incident.links.items():
        lines.append(f"  {one_line(name)}: {safe_url(url) or '(not an http(s) link, not shown)'}")
    if children_text.shows_children(children):
        head, *rest = children_text.listing(children, shown=SUMMARY_CHILDREN)
        lines.append(f"  {one_line(head)}")
        lines.extend(f"    {one_line(line)}" for line in rest)
    return "\n".join(lines)


def children_list(incident: Incident, children: Sequence[Child], *, page: int = 1, per_page: int | None = CHILDREN_PER_PAGE) -> str:
    """``/incident children`` and ``firebreak incidents show``: every child, worst first,
    ``per_page`` at a time (None: all), with how each joined and its alert counts."""
    if not children:
        return f"{incident.ref} has no alert groups (it was not opened by an alert group)."
    order = children_text.listing(children, shown=len(children))
    head, lines = order[0], order[1:]
    ranked_children = ranked(children)
    described = [f"{line} · {children_text.how_joined(child.joined_by)}" for line, child in zip(lines, ranked_children, strict=True)]
    pages = 1 if per_page is None else max(1, -(-len(described) // per_page))
    page = min(max(1, page), pages)
    if per_page is not None:
        described = described[(page - 1) * per_page : page * per_page]
    text = [f"{incident.ref} — {one_line(head)}", *(f"  {one_line(line)}" for line in described)]
    if pages > 1:
        following = f"; next: /incident children {incident.ref} page {page + 1}" if page < pages else ""
        text.append(f"page {page} of {pages}{following}")
    return "\n".join(text)


def children_details(children: Sequence[Child], *, zone: ZoneInfo = UTC) -> list[str]:
    """Every child, worst first: its line, how and when it joined, when it resolved."""
    head, *lines = children_text.listing(children, shown=len(children))
    result = [one_line(head) + ":"]
    for line, child in zip(lines, ranked(children), strict=True):
        when = f"{children_text.how_joined(child.joined_by)} {stamp(child.joined_at, zone)}"
        if child.resolved_at is not None:
            when += f", resolved {stamp(child.resolved_at, zone)}"
        result.append(f"  {one_line(line)} · {when}")
    return result


def entry_text(kind: str, data: dict[str, object] | None, text: object) -> str:
    """What an entry says, as plain text to clean for the medium: the entry's own text, or for
    the kinds about children (group joined, split, merged) the wording built from its data."""
    worded = children_text.entry_wording(kind, data or {})
    return worded if worded is not None else str(text or "")


def timeline_line(entry: TimelineEntry, zone: ZoneInfo = UTC) -> str:
    said = entry_text(entry.kind.value, entry.data, entry.text)
    return f"{stamp(entry.at, zone)}  {person_name(entry.actor)} ({entry.source.value}): {one_line(said)}"


def timeline(incident: Incident, entries: Sequence[TimelineEntry], zone: ZoneInfo = UTC) -> str:
    lines = [f"Timeline of {incident.ref} — {one_line(incident.title)}"]
    lines.extend(f"  {timeline_line(entry, zone)}" for entry in entries)
    return "\n".join(lines)


def merged_note(number: int, merged: Mapping[int, int]) -> str:
    """`` (merged into INC-3)`` for an incident merged into another, else nothing."""
    return f" (merged into {format_number(merged[number])})" if number in merged else ""


def incident_table(incidents: Sequence[Incident], *, now: datetime, merged: Mapping[int, int] | None = None) -> str:
    """``merged``: incident number → the one it was merged into (shown after its title)."""
    if not incidents:
        return "No incidents."
    merged = merged or {}
    header = f"{'NUMBER':<9} {'SEV':<4} {'STATUS':<13} {'AGE':<8} TITLE"
    rows = [
        f"{incident.ref:<9} {incident.severity.value:<4} {incident.status.value:<13} {age(incident.created_at, now):<8} "
        f"{one_line(incident.title)}{merged_note(incident.number, merged)}"
        for incident in incidents
    ]
    return "\n".join([header, *rows])


_STEP_MARKS = {"pending": "[ ]", "done": "[x]", "skipped": "[-]"}


def incident_details(
    incident: Incident,
    *,
    steps: tuple[str, Sequence[StepState]] | None,
    entries: Sequence[TimelineEntry],
    hidden: int,
    now: datetime,
    zone: ZoneInfo = UTC,
    children: Sequence[Child] = (),
    merged_into: int | None = None,
) -> str:
    """``firebreak incidents show``: the summary, every alert group, every playbook step, the latest entries."""
    lines = [summary(incident, now=now, zone=zone, merged_into=merged_into), f"  declared: {stamp(incident.created_at, zone)}"]
    if children:
        lines.extend(children_details(children, zone=zone))
    if steps is None:
        lines.append("Playbook: none attached")
    else:
        playbook_id, states = steps
        settled = sum(1 for state in states if state.status != "pending")
        lines.append(f"Playbook {one_line(playbook_id)}: {settled}/{len(states)} steps settled")
        for state in states:  # step text comes from imported runbooks: shown like alert text
            who = f" ({state.status} by {person_name(state.actor)} at {stamp(state.at, zone)})" if state.actor and state.at else ""
            lines.append(f"  {_STEP_MARKS.get(state.status, '[?]')} {state.number}. {one_line(state.text)}{who}")
    more = f", {hidden} earlier not shown" if hidden else ""
    lines.append(f"Timeline (latest {len(entries)}{more}):")
    lines.extend(f"  {timeline_line(entry, zone)}" for entry in entries)
    return "\n".join(lines)
